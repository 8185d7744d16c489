//! Object references. In 64-bit Spur an object reference is either the
//! address of an object's header (low three bits zero) or an immediate whose
//! low three bits are its tag:
//!
//! | tag | immediate | value bits |
//! |-----|-----------|------------|
//! | 1   | SmallInteger | 61-bit two's complement, `v << 3 | 1` |
//! | 2   | Character | code point, `c << 3 | 2` |
//! | 4   | SmallFloat64 | rotated IEEE double with an 8-bit exponent |
//!
//! The tag is also the immediate's class index in the class table.

use std::fmt;

/// A tagged object reference: an address or an immediate.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Oop(pub u64);

pub const TAG_BITS: u32 = 3;
pub const TAG_MASK: u64 = 7;
pub const SMALL_INTEGER_TAG: u64 = 1;
pub const CHARACTER_TAG: u64 = 2;
pub const SMALL_FLOAT_TAG: u64 = 4;

/// Largest SmallInteger value: 2^60 - 1.
pub const SMALL_INTEGER_MAX: i64 = (1 << 60) - 1;
/// Smallest SmallInteger value: -2^60.
pub const SMALL_INTEGER_MIN: i64 = -(1 << 60);

/// The bias between an IEEE double's 11-bit exponent and SmallFloat64's 8-bit one.
pub const SMALL_FLOAT_EXPONENT_OFFSET: u64 = 896;
const MANTISSA_BITS: u32 = 52;

impl Oop {
    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// True for SmallInteger, Character and SmallFloat64 references.
    #[inline]
    pub const fn is_immediate(self) -> bool {
        self.0 & TAG_MASK != 0
    }

    /// True when this is the address of an object (not an immediate).
    #[inline]
    pub const fn is_object(self) -> bool {
        self.0 & TAG_MASK == 0
    }

    /// The tag bits (0 for objects).
    #[inline]
    pub const fn tag(self) -> u64 {
        self.0 & TAG_MASK
    }

    /// The object's address.
    #[inline]
    pub const fn addr(self) -> usize {
        self.0 as usize
    }

    #[inline]
    pub const fn from_addr(addr: usize) -> Oop {
        Oop(addr as u64)
    }

    #[inline]
    pub const fn is_small_integer(self) -> bool {
        self.0 & TAG_MASK == SMALL_INTEGER_TAG
    }

    #[inline]
    pub const fn is_character(self) -> bool {
        self.0 & TAG_MASK == CHARACTER_TAG
    }

    #[inline]
    pub const fn is_small_float(self) -> bool {
        self.0 & TAG_MASK == SMALL_FLOAT_TAG
    }

    /// True when `v` fits in a SmallInteger.
    #[inline]
    pub const fn fits_small_integer(v: i64) -> bool {
        v >= SMALL_INTEGER_MIN && v <= SMALL_INTEGER_MAX
    }

    /// A SmallInteger; `v` must be in range (checked in debug builds).
    #[inline]
    pub const fn small_int(v: i64) -> Oop {
        debug_assert!(Self::fits_small_integer(v));
        Oop(((v as u64) << TAG_BITS) | SMALL_INTEGER_TAG)
    }

    /// A SmallInteger when `v` is in range.
    #[inline]
    pub fn try_small_int(v: i64) -> Option<Oop> {
        Self::fits_small_integer(v).then(|| Oop::small_int(v))
    }

    /// The value of a SmallInteger (arithmetic shift keeps the sign).
    #[inline]
    pub const fn small_int_value(self) -> i64 {
        (self.0 as i64) >> TAG_BITS
    }

    /// The value if this is a SmallInteger.
    #[inline]
    pub fn as_small_int(self) -> Option<i64> {
        self.is_small_integer().then(|| self.small_int_value())
    }

    /// A Character immediate for a code point (up to 30 bits in Spur).
    #[inline]
    pub const fn character(code: u32) -> Oop {
        Oop(((code as u64) << TAG_BITS) | CHARACTER_TAG)
    }

    /// The code point of a Character immediate.
    #[inline]
    pub const fn character_value(self) -> u32 {
        (self.0 >> TAG_BITS) as u32
    }

    /// True when `f` can be a SmallFloat64: zero, or an exponent that fits 8 bits
    /// after removing the offset.
    pub fn fits_small_float(f: f64) -> bool {
        let bits = f.to_bits();
        let exp = (bits >> MANTISSA_BITS) & 0x7ff;
        (bits & !(1 << 63)) == 0
            || (exp > SMALL_FLOAT_EXPONENT_OFFSET && exp <= SMALL_FLOAT_EXPONENT_OFFSET + 255)
    }

    /// A SmallFloat64 for `f`, or `None` when its exponent does not fit
    /// (then it must be a boxed float).
    pub fn try_small_float(f: f64) -> Option<Oop> {
        if !Self::fits_small_float(f) {
            return None;
        }
        // Rotate the sign bit to the bottom so the exponent sits just above it.
        let mut rot = f.to_bits().rotate_left(1);
        if rot > 1 {
            rot -= SMALL_FLOAT_EXPONENT_OFFSET << (MANTISSA_BITS + 1);
        }
        Some(Oop((rot << TAG_BITS) | SMALL_FLOAT_TAG))
    }

    /// The double a SmallFloat64 encodes.
    pub fn small_float_value(self) -> f64 {
        let mut rot = self.0 >> TAG_BITS;
        if rot > 1 {
            rot += SMALL_FLOAT_EXPONENT_OFFSET << (MANTISSA_BITS + 1);
        }
        f64::from_bits(rot.rotate_right(1))
    }
}

impl fmt::Debug for Oop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag() {
            0 => write!(f, "@{:#x}", self.0),
            SMALL_INTEGER_TAG => write!(f, "{}", self.small_int_value()),
            CHARACTER_TAG => write!(f, "${}", self.character_value()),
            SMALL_FLOAT_TAG => write!(f, "{}f", self.small_float_value()),
            _ => write!(f, "bad-tag:{:#x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_integer_edges() {
        for v in [0, 1, -1, SMALL_INTEGER_MAX, SMALL_INTEGER_MIN, 42, -42] {
            let o = Oop::small_int(v);
            assert!(o.is_small_integer() && o.is_immediate());
            assert_eq!(o.small_int_value(), v);
        }
        assert_eq!(Oop::small_int(3).bits(), 3 << 3 | 1);
        assert!(Oop::try_small_int(SMALL_INTEGER_MAX + 1).is_none());
        assert!(Oop::try_small_int(SMALL_INTEGER_MIN - 1).is_none());
    }

    #[test]
    fn characters() {
        let c = Oop::character('a' as u32);
        assert_eq!(c.bits(), (97 << 3) | 2);
        assert!(c.is_character());
        assert_eq!(c.character_value(), 97);
    }

    #[test]
    fn small_float_known_values() {
        for f in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            3.25,
            1e38,
            -1e-38,
            f64::MIN_POSITIVE * 1e270,
        ] {
            if let Some(o) = Oop::try_small_float(f) {
                assert!(o.is_small_float());
                assert_eq!(o.small_float_value().to_bits(), f.to_bits(), "{f}");
            }
        }
        assert!(Oop::try_small_float(1.0).is_some());
        assert!(Oop::try_small_float(1e300).is_none(), "exponent too large");
        assert!(Oop::try_small_float(1e-300).is_none(), "exponent too small");
        assert!(Oop::try_small_float(f64::NAN).is_none());
        assert!(Oop::try_small_float(f64::INFINITY).is_none());
        // 1.0: exponent 1023 -> 127, mantissa 0, sign 0: (127 << 53) << 3 | 4.
        assert_eq!(Oop::try_small_float(1.0).unwrap().bits(), (127u64 << 53 << 3) | 4);
        // -0.0 keeps its sign.
        assert_eq!(
            Oop::try_small_float(-0.0).unwrap().small_float_value().to_bits(),
            (-0.0f64).to_bits()
        );
    }

    proptest! {
        #[test]
        fn small_float_round_trips(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            match Oop::try_small_float(f) {
                Some(o) => prop_assert_eq!(o.small_float_value().to_bits(), bits),
                None => prop_assert!(!Oop::fits_small_float(f)),
            }
        }

        #[test]
        fn small_int_round_trips(v in SMALL_INTEGER_MIN..=SMALL_INTEGER_MAX) {
            prop_assert_eq!(Oop::small_int(v).small_int_value(), v);
        }
    }
}
