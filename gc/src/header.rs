//! The 64-bit Spur object header and object formats.
//!
//! ```text
//!  63..56   55     54   53..32   31    30     29     28..24  23    22   21..0
//! numSlots marked  -   idHash   grey pinned remembered format immutable - classIndex
//! ```
//! An object with 255 or more slots has `numSlots == 255` in its header and
//! the real count in the word before it (an overflow header whose top byte is
//! also 255). Every object occupies at least one slot (room for a forwarding
//! pointer) and a whole number of 8-byte words.

use std::fmt;

pub const CLASS_INDEX_MASK: u64 = (1 << 22) - 1;
pub const IMMUTABLE_BIT: u64 = 1 << 23;
pub const FORMAT_SHIFT: u32 = 24;
pub const FORMAT_MASK: u64 = 0x1f;
pub const REMEMBERED_BIT: u64 = 1 << 29;
pub const PINNED_BIT: u64 = 1 << 30;
pub const GREY_BIT: u64 = 1 << 31;
pub const HASH_SHIFT: u32 = 32;
pub const HASH_MASK: u64 = (1 << 22) - 1;
pub const MARKED_BIT: u64 = 1 << 55;
pub const NUM_SLOTS_SHIFT: u32 = 56;
/// `numSlots` value that means "see the overflow word".
pub const OVERFLOW_SLOTS: usize = 255;
/// Largest identity hash (22 bits).
pub const MAX_IDENTITY_HASH: u32 = HASH_MASK as u32;
/// Bytes per header and per slot in 64-bit Spur.
pub const WORD: usize = 8;

/// Object formats: what the slots of an object hold.
pub mod format {
    /// No fields (e.g. nil, true).
    pub const ZERO_SIZED: u8 = 0;
    /// Named pointer fields only.
    pub const FIXED: u8 = 1;
    /// Indexable pointer fields only (Array).
    pub const INDEXABLE: u8 = 2;
    /// Named and indexable pointer fields (MethodContext, MethodDictionary).
    pub const FIXED_INDEXABLE: u8 = 3;
    /// Named strong fields and weak indexable fields (WeakArray).
    pub const WEAK: u8 = 4;
    /// Named fields whose first is the key of an ephemeron.
    pub const EPHEMERON: u8 = 5;
    /// Reserved (forwarders keep their original format; class index 8 marks them).
    pub const UNUSED_6: u8 = 6;
    /// Immediate classes (SmallInteger, Character...).
    pub const IMMEDIATE: u8 = 7;
    /// 64-bit indexable words.
    pub const WORDS64: u8 = 9;
    /// 32-bit indexable words (10 + odd count of 32-bit padding units).
    pub const WORDS32: u8 = 10;
    /// 16-bit indexable (12 + odd count).
    pub const SHORTS: u8 = 12;
    /// Byte indexable (16 + odd count).
    pub const BYTES: u8 = 16;
    /// Compiled methods (24 + odd count): pointer literals, then bytes.
    pub const COMPILED_METHOD: u8 = 24;

    /// True when every slot of the object is a reference (formats 0–5).
    #[inline]
    pub const fn is_pointers(f: u8) -> bool {
        f <= EPHEMERON
    }

    /// True for raw data formats (9–23).
    #[inline]
    pub const fn is_bits(f: u8) -> bool {
        f >= WORDS64 && f < COMPILED_METHOD
    }

    #[inline]
    pub const fn is_bytes(f: u8) -> bool {
        f >= BYTES
    }

    #[inline]
    pub const fn is_compiled_method(f: u8) -> bool {
        f >= COMPILED_METHOD
    }

    /// True when a format number can appear on an object in a heap.
    pub const fn is_valid_instance_format(f: u8) -> bool {
        matches!(f, 0..=5 | 9..=31)
    }

    /// Bytes of padding at the end of the last slot, from the format's low bits.
    pub const fn unused_bytes(f: u8) -> usize {
        match f {
            WORDS32..=11 => (f - WORDS32) as usize * 4,
            SHORTS..=15 => (f - SHORTS) as usize * 2,
            BYTES..=23 => (f - BYTES) as usize,
            COMPILED_METHOD..=31 => (f - COMPILED_METHOD) as usize,
            _ => 0,
        }
    }

    /// Size of one indexable element in bytes for a raw format (8 for pointers).
    pub const fn element_bytes(f: u8) -> usize {
        match f {
            WORDS32..=11 => 4,
            SHORTS..=15 => 2,
            BYTES..=31 => 1,
            _ => 8,
        }
    }

    /// The instance format for a raw class's base format and element count:
    /// adds the odd-size bits so the element count can be recovered.
    pub const fn with_length(base: u8, elements: usize) -> u8 {
        match base {
            WORDS32 => WORDS32 + ((2 - elements % 2) % 2) as u8,
            SHORTS => SHORTS + ((4 - elements % 4) % 4) as u8,
            BYTES => BYTES + ((8 - elements % 8) % 8) as u8,
            COMPILED_METHOD => COMPILED_METHOD + ((8 - elements % 8) % 8) as u8,
            _ => base,
        }
    }

    /// Slots needed for `elements` elements of a raw base format.
    pub const fn slots_for(base: u8, elements: usize) -> usize {
        let per = 8 / element_bytes(base);
        elements.div_ceil(per)
    }
}

/// Class indices with a fixed meaning in every Spur heap.
pub mod class_index {
    /// Free chunks.
    pub const FREE: u32 = 0;
    pub const SMALL_INTEGER: u32 = 1;
    pub const CHARACTER: u32 = 2;
    /// Segment bridges (a pun: nothing instantiates it).
    pub const BRIDGE: u32 = 3;
    pub const SMALL_FLOAT: u32 = 4;
    /// Forwarders left by become: slot 0 is the new object.
    pub const FORWARDER: u32 = 8;
    /// Hidden arrays that the VM uses (class table pages, remembered set...).
    pub const ARRAY_PUN: u32 = 16;
    /// Hidden 64-bit word objects (the free lists object).
    pub const WORD_SIZE_PUN: u32 = 19;
    /// Class-table entries below this are reserved puns.
    pub const FIRST_REAL_CLASS: u32 = 32;
    /// Entries per class-table page.
    pub const PAGE_SIZE: u32 = 1024;
    /// Number of class-table pages in the hidden roots object.
    pub const NUM_PAGES: usize = 4096;
}

/// The 64-bit header word of an object.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct Header(pub u64);

impl Header {
    /// A header with the given fields and no flags.
    pub const fn new(class_index: u32, format: u8, num_slots_field: usize, hash: u32) -> Header {
        Header(
            (class_index as u64 & CLASS_INDEX_MASK)
                | ((format as u64 & FORMAT_MASK) << FORMAT_SHIFT)
                | ((hash as u64 & HASH_MASK) << HASH_SHIFT)
                | ((num_slots_field as u64 & 0xff) << NUM_SLOTS_SHIFT),
        )
    }

    #[inline]
    pub const fn class_index(self) -> u32 {
        (self.0 & CLASS_INDEX_MASK) as u32
    }

    #[inline]
    pub const fn with_class_index(self, ci: u32) -> Header {
        Header((self.0 & !CLASS_INDEX_MASK) | (ci as u64 & CLASS_INDEX_MASK))
    }

    #[inline]
    pub const fn format(self) -> u8 {
        ((self.0 >> FORMAT_SHIFT) & FORMAT_MASK) as u8
    }

    #[inline]
    pub const fn with_format(self, f: u8) -> Header {
        Header((self.0 & !(FORMAT_MASK << FORMAT_SHIFT)) | ((f as u64 & FORMAT_MASK) << FORMAT_SHIFT))
    }

    #[inline]
    pub const fn hash(self) -> u32 {
        ((self.0 >> HASH_SHIFT) & HASH_MASK) as u32
    }

    #[inline]
    pub const fn with_hash(self, h: u32) -> Header {
        Header((self.0 & !(HASH_MASK << HASH_SHIFT)) | ((h as u64 & HASH_MASK) << HASH_SHIFT))
    }

    /// The 8-bit slot-count field (255 means the count is in the overflow word).
    #[inline]
    pub const fn num_slots_field(self) -> usize {
        (self.0 >> NUM_SLOTS_SHIFT) as usize
    }

    #[inline]
    pub const fn with_num_slots_field(self, n: usize) -> Header {
        Header((self.0 & !(0xff << NUM_SLOTS_SHIFT)) | ((n as u64 & 0xff) << NUM_SLOTS_SHIFT))
    }

    #[inline]
    pub const fn flag(self, bit: u64) -> bool {
        self.0 & bit != 0
    }

    #[inline]
    pub const fn with_flag(self, bit: u64, on: bool) -> Header {
        if on {
            Header(self.0 | bit)
        } else {
            Header(self.0 & !bit)
        }
    }

    pub const fn is_immutable(self) -> bool {
        self.flag(IMMUTABLE_BIT)
    }
    pub const fn is_remembered(self) -> bool {
        self.flag(REMEMBERED_BIT)
    }
    pub const fn is_pinned(self) -> bool {
        self.flag(PINNED_BIT)
    }
    pub const fn is_grey(self) -> bool {
        self.flag(GREY_BIT)
    }
    pub const fn is_marked(self) -> bool {
        self.flag(MARKED_BIT)
    }
    pub const fn is_free(self) -> bool {
        self.class_index() == class_index::FREE
    }
    pub const fn is_forwarder(self) -> bool {
        self.class_index() == class_index::FORWARDER
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Header({:#018x}: class {} fmt {} slots {} hash {:#x}{}{}{}{}{})",
            self.0,
            self.class_index(),
            self.format(),
            self.num_slots_field(),
            self.hash(),
            if self.is_immutable() { " immutable" } else { "" },
            if self.is_remembered() { " remembered" } else { "" },
            if self.is_pinned() { " pinned" } else { "" },
            if self.is_grey() { " grey" } else { "" },
            if self.is_marked() { " marked" } else { "" },
        )
    }
}

/// Bytes an object with `num_slots` slots occupies, headers included.
#[inline]
pub const fn object_bytes(num_slots: usize) -> usize {
    let overflow = if num_slots >= OVERFLOW_SLOTS { WORD } else { 0 };
    let body = if num_slots == 0 { 1 } else { num_slots };
    overflow + WORD + body * WORD
}

/// Bytes of header before the object's body: 8, or 16 with an overflow word.
#[inline]
pub const fn header_bytes(num_slots: usize) -> usize {
    if num_slots >= OVERFLOW_SLOTS {
        2 * WORD
    } else {
        WORD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_header_decodes_as_the_readme_says() {
        let h = Header(0x0080_0000_4900_0003);
        assert_eq!(h.class_index(), class_index::BRIDGE);
        assert_eq!(h.format(), format::WORDS64);
        assert!(h.is_pinned() && h.is_marked());
        assert!(!h.is_grey() && !h.is_remembered() && !h.is_immutable());
        assert_eq!(h.num_slots_field(), 0);
    }

    #[test]
    fn fields_round_trip() {
        let h = Header::new(1234, 3, 17, 0x2a_bcde)
            .with_flag(PINNED_BIT, true)
            .with_flag(IMMUTABLE_BIT, true);
        assert_eq!(h.class_index(), 1234);
        assert_eq!(h.format(), 3);
        assert_eq!(h.num_slots_field(), 17);
        assert_eq!(h.hash(), 0x2a_bcde);
        assert!(h.is_pinned() && h.is_immutable() && !h.is_marked());
        assert_eq!(h.with_hash(7).hash(), 7);
        assert_eq!(h.with_format(9).format(), 9);
        assert_eq!(h.with_class_index(99).class_index(), 99);
        assert_eq!(h.with_num_slots_field(255).num_slots_field(), 255);
    }

    #[test]
    fn sizes() {
        assert_eq!(object_bytes(0), 16);
        assert_eq!(object_bytes(1), 16);
        assert_eq!(object_bytes(2), 24);
        assert_eq!(object_bytes(254), 8 + 254 * 8);
        assert_eq!(object_bytes(255), 16 + 255 * 8);
    }

    #[test]
    fn odd_size_bits() {
        assert_eq!(format::with_length(format::BYTES, 5), 19);
        assert_eq!(format::unused_bytes(19), 3);
        assert_eq!(format::with_length(format::BYTES, 8), 16);
        assert_eq!(format::with_length(format::WORDS32, 3), 11);
        assert_eq!(format::with_length(format::SHORTS, 1), 15);
        assert_eq!(format::slots_for(format::BYTES, 9), 2);
        assert_eq!(format::slots_for(format::WORDS32, 3), 2);
        assert_eq!(format::slots_for(format::WORDS64, 3), 3);
    }
}
