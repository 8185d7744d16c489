//! CompiledMethod headers and layout.
//!
//! A CompiledMethod (format 24–31) is a pointer part — the header
//! SmallInteger then the literals — followed by bytecodes and a trailer.
//! Header bits (of the SmallInteger's value):
//!
//! ```text
//! sign: alternate bytecode set (SistaV1)   27..24 numArgs   23..18 numTemps
//! 17: large frame   16: has primitive   14..0 numLiterals
//! ```
//! With a primitive, the first bytecode is callPrimitive (139 in
//! V3PlusClosures, 248 in SistaV1) with the index in the next two bytes.

use crate::header::WORD;
use crate::oop::Oop;

/// Which bytecode set a method uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BytecodeSet {
    V3PlusClosures,
    SistaV1,
}

impl BytecodeSet {
    pub fn name(self) -> &'static str {
        match self {
            BytecodeSet::V3PlusClosures => "V3PlusClosures",
            BytecodeSet::SistaV1 => "SistaV1",
        }
    }

    /// The callPrimitive bytecode of this set.
    pub fn call_primitive_bytecode(self) -> u8 {
        match self {
            BytecodeSet::V3PlusClosures => 139,
            BytecodeSet::SistaV1 => 248,
        }
    }
}

/// A decoded method header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MethodHeader(pub i64);

impl MethodHeader {
    pub fn from_oop(o: Oop) -> Option<MethodHeader> {
        o.as_small_int().map(MethodHeader)
    }

    pub fn num_literals(self) -> usize {
        (self.0 & 0x7fff) as usize
    }
    pub fn has_primitive(self) -> bool {
        self.0 & (1 << 16) != 0
    }
    pub fn large_frame(self) -> bool {
        self.0 & (1 << 17) != 0
    }
    pub fn num_temps(self) -> usize {
        ((self.0 >> 18) & 0x3f) as usize
    }
    pub fn num_args(self) -> usize {
        ((self.0 >> 24) & 0xf) as usize
    }
    pub fn bytecode_set(self) -> BytecodeSet {
        if self.0 < 0 {
            BytecodeSet::SistaV1
        } else {
            BytecodeSet::V3PlusClosures
        }
    }

    /// Builds a header value from its fields.
    pub fn encode(
        num_args: usize,
        num_temps: usize,
        num_literals: usize,
        has_primitive: bool,
        large_frame: bool,
        set: BytecodeSet,
    ) -> MethodHeader {
        let mut v = (num_literals as i64 & 0x7fff)
            | ((has_primitive as i64) << 16)
            | ((large_frame as i64) << 17)
            | ((num_temps as i64 & 0x3f) << 18)
            | ((num_args as i64 & 0xf) << 24);
        if set == BytecodeSet::SistaV1 {
            // The sign bit of a SmallInteger (61-bit) value.
            v |= -1i64 << 60;
        }
        MethodHeader(v)
    }

    /// Byte offset of the first bytecode from the start of the method's body
    /// (the header slot counts as a literal-sized word).
    pub fn initial_pc(self) -> usize {
        (self.num_literals() + 1) * WORD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        for set in [BytecodeSet::V3PlusClosures, BytecodeSet::SistaV1] {
            let h = MethodHeader::encode(3, 7, 12, true, true, set);
            assert_eq!(h.num_args(), 3);
            assert_eq!(h.num_temps(), 7);
            assert_eq!(h.num_literals(), 12);
            assert!(h.has_primitive() && h.large_frame());
            assert_eq!(h.bytecode_set(), set);
            assert_eq!(h.initial_pc(), 13 * 8);
            assert!(Oop::fits_small_integer(h.0));
        }
    }
}
