//! Arithmetic primitives: SmallInteger, 64-bit LargeIntegers, Floats.

use super::{PrimResult, ERR_BAD_ARGUMENT, ERR_BAD_RECEIVER};
use crate::interp::{Fault, Vm};
use gc::specials::so;
use gc::{format, Oop};

/// Smalltalk's `//`: the quotient rounded towards negative infinity.
pub fn floor_div(x: i64, y: i64) -> i64 {
    let q = x / y;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    }
}

/// Smalltalk's `\\`: the remainder with the sign of the divisor.
pub fn floor_mod(x: i64, y: i64) -> i64 {
    let r = x % y;
    if r != 0 && ((r < 0) != (y < 0)) {
        r + y
    } else {
        r
    }
}

/// `bitShift:` on SmallIntegers, when the result is a SmallInteger.
pub fn bit_shift(x: i64, y: i64) -> Option<Oop> {
    if y >= 0 {
        if y >= 63 {
            return (x == 0).then(|| Oop::small_int(0));
        }
        let r = x.checked_shl(y as u32)?;
        (r >> y == x).then_some(())?;
        Oop::try_small_int(r)
    } else {
        let s = (-y).min(63) as u32;
        Some(Oop::small_int(x >> s))
    }
}

/// `x * 2^e` without overflowing or underflowing in between: scale in
/// steps that each stay representable (like C's `ldexp`).
pub fn ldexp(mut x: f64, e: i64) -> f64 {
    let mut e = e.clamp(-4000, 4000);
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

impl Vm {
    /// An integer value of a SmallInteger or a Large(Positive|Negative)Integer
    /// that fits in 64 bits.
    pub(crate) fn integer_value(&self, o: Oop) -> Option<i128> {
        if o.is_small_integer() {
            return Some(o.small_int_value() as i128);
        }
        if !o.is_object() {
            return None;
        }
        let class = self.heap.class_of(o);
        let neg = class == self.heap.special(so::CLASS_LARGE_NEGATIVE_INTEGER);
        if !neg && class != self.heap.special(so::CLASS_LARGE_POSITIVE_INTEGER) {
            return None;
        }
        let b = self.heap.bytes(o);
        if b.len() > 16 {
            return None;
        }
        let mut v: u128 = 0;
        for (i, &x) in b.iter().enumerate() {
            v |= (x as u128) << (8 * i);
        }
        if v > i128::MAX as u128 {
            return None;
        }
        Some(if neg { -(v as i128) } else { v as i128 })
    }

    /// A SmallInteger or LargeInteger for `v`.
    pub(crate) fn make_integer(&mut self, v: i128) -> Result<Oop, Fault> {
        if v >= gc::oop::SMALL_INTEGER_MIN as i128 && v <= gc::oop::SMALL_INTEGER_MAX as i128 {
            return Ok(Oop::small_int(v as i64));
        }
        let class = self.heap.special(if v < 0 {
            so::CLASS_LARGE_NEGATIVE_INTEGER
        } else {
            so::CLASS_LARGE_POSITIVE_INTEGER
        });
        let mag = v.unsigned_abs();
        let mut bytes = mag.to_le_bytes().to_vec();
        while bytes.len() > 1 && *bytes.last().unwrap() == 0 {
            bytes.pop();
        }
        let o = self.instantiate(class, bytes.len())?;
        self.heap.bytes_mut(o).copy_from_slice(&bytes);
        Ok(o)
    }

    /// The double a SmallFloat64 or boxed Float holds.
    pub(crate) fn float_value(&self, o: Oop) -> Option<f64> {
        if o.is_small_float() {
            return Some(o.small_float_value());
        }
        if o.is_object() && self.heap.format(o) == format::WORDS32 && self.heap.num_slots(o) == 1 {
            let class = self.heap.class_of(o);
            if class == self.heap.special(so::CLASS_FLOAT) || self.heap.class_index_of(o) == 34 {
                return Some(f64::from_bits(self.heap.u64_at(o.addr() + 8)));
            }
        }
        None
    }

    /// A SmallFloat64 when it fits, else a boxed Float.
    pub(crate) fn make_float(&mut self, f: f64) -> Result<Oop, Fault> {
        if let Some(o) = Oop::try_small_float(f) {
            return Ok(o);
        }
        let class = self.heap.special(so::CLASS_FLOAT);
        let o = self.instantiate(class, 2)?;
        self.heap.bytes_mut(o).copy_from_slice(&f.to_bits().to_le_bytes());
        Ok(o)
    }

    /// Primitives 1–17 and 21–37: integer arithmetic. 1–17 take
    /// SmallIntegers; 21–37 also 64-bit LargeIntegers.
    pub(crate) fn prim_integer(&mut self, index: usize) -> Result<PrimResult, Fault> {
        let large = index >= 20;
        let op = if large { index - 20 } else { index };
        let (a, b) = (self.stack_value(1), self.stack_value(0));
        let (x, y) = if large {
            match (self.integer_value(a), self.integer_value(b)) {
                (Some(x), Some(y)) if x.unsigned_abs() < 1 << 64 && y.unsigned_abs() < 1 << 64 => (x, y),
                (None, _) => return Ok(PrimResult::Fail(ERR_BAD_RECEIVER)),
                _ => return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT)),
            }
        } else {
            match (a.as_small_int(), b.as_small_int()) {
                (Some(x), Some(y)) => (x as i128, y as i128),
                (None, _) => return Ok(PrimResult::Fail(ERR_BAD_RECEIVER)),
                _ => return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT)),
            }
        };
        let fits = |v: i128| {
            if large {
                v.unsigned_abs() < 1 << 64
            } else {
                v >= gc::oop::SMALL_INTEGER_MIN as i128 && v <= gc::oop::SMALL_INTEGER_MAX as i128
            }
        };
        let r: Option<Oop> = match op {
            1 => Some(x + y)
                .filter(|&v| fits(v))
                .map(|v| self.make_integer(v))
                .transpose()?,
            2 => Some(x - y)
                .filter(|&v| fits(v))
                .map(|v| self.make_integer(v))
                .transpose()?,
            3 => Some(self.boolean(x < y)),
            4 => Some(self.boolean(x > y)),
            5 => Some(self.boolean(x <= y)),
            6 => Some(self.boolean(x >= y)),
            7 => Some(self.boolean(x == y)),
            8 => Some(self.boolean(x != y)),
            9 => x
                .checked_mul(y)
                .filter(|&v| fits(v))
                .map(|v| self.make_integer(v))
                .transpose()?,
            10 => (y != 0 && x % y == 0)
                .then(|| x / y)
                .filter(|&v| fits(v))
                .map(|v| self.make_integer(v))
                .transpose()?,
            11 => (y != 0)
                .then(|| {
                    let r = x % y;
                    if r != 0 && ((r < 0) != (y < 0)) {
                        r + y
                    } else {
                        r
                    }
                })
                .map(|v| self.make_integer(v))
                .transpose()?,
            12 => (y != 0)
                .then(|| {
                    let q = x / y;
                    if x % y != 0 && ((x < 0) != (y < 0)) {
                        q - 1
                    } else {
                        q
                    }
                })
                .filter(|&v| fits(v))
                .map(|v| self.make_integer(v))
                .transpose()?,
            13 => (y != 0)
                .then(|| x / y)
                .filter(|&v| fits(v))
                .map(|v| self.make_integer(v))
                .transpose()?,
            14 => Some(self.make_integer(x & y)?),
            15 => Some(self.make_integer(x | y)?),
            16 => Some(self.make_integer(x ^ y)?),
            17 => {
                if y >= 0 {
                    if y < 120 {
                        let v = x << y;
                        if v >> y == x && fits(v) {
                            Some(self.make_integer(v)?)
                        } else {
                            None
                        }
                    } else if x == 0 {
                        Some(Oop::small_int(0))
                    } else {
                        None
                    }
                } else {
                    Some(self.make_integer(x >> (-y).min(127))?)
                }
            }
            // 20: rem: (quo's remainder).
            0 if large => (y != 0)
                .then(|| x % y)
                .map(|v| self.make_integer(v))
                .transpose()?,
            _ => None,
        };
        Ok(match r {
            Some(v) => self.prim_return(1, v),
            None => PrimResult::Fail(ERR_BAD_ARGUMENT),
        })
    }

    /// Primitives 40–59 (boxed floats) and 540–559 (SmallFloat64).
    pub(crate) fn prim_float(&mut self, index: usize, nargs: usize) -> Result<PrimResult, Fault> {
        let op = if index >= 540 { index - 500 } else { index };
        if op == 40 {
            // asFloat of a SmallInteger receiver.
            return match self.stack_value(0).as_small_int() {
                Some(v) => {
                    let f = self.make_float(v as f64)?;
                    Ok(self.prim_return(0, f))
                }
                None => Ok(PrimResult::Fail(ERR_BAD_RECEIVER)),
            };
        }
        let Some(x) = self.float_value(self.stack_value(nargs)) else {
            return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
        };
        if nargs == 1 {
            let a = self.stack_value(0);
            let y = match self.float_value(a) {
                Some(y) => y,
                None => match a.as_small_int() {
                    Some(i) => i as f64,
                    None => return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT)),
                },
            };
            let r = match op {
                41 => self.make_float(x + y)?,
                42 => self.make_float(x - y)?,
                43 => self.boolean(x < y),
                44 => self.boolean(x > y),
                45 => self.boolean(x <= y),
                46 => self.boolean(x >= y),
                47 => self.boolean(x == y),
                48 => self.boolean(x != y),
                49 => self.make_float(x * y)?,
                50 => {
                    if y == 0.0 {
                        return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                    }
                    self.make_float(x / y)?
                }
                54 => {
                    if a.as_small_int().is_none() {
                        return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                    }
                    self.make_float(ldexp(x, y as i64))?
                }
                _ => return Ok(PrimResult::Fail(ERR_BAD_RECEIVER)),
            };
            return Ok(self.prim_return(1, r));
        }
        let r = match op {
            51 => {
                let t = x.trunc();
                if !t.is_finite() || t.abs() >= 2f64.powi(62) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                self.make_integer(t as i128)?
            }
            52 => self.make_float(x.fract())?,
            53 => {
                if x == 0.0 || !x.is_finite() {
                    Oop::small_int(0)
                } else {
                    let bits = x.to_bits();
                    let e = ((bits >> 52) & 0x7ff) as i64;
                    Oop::small_int(if e == 0 {
                        (x * 2f64.powi(64)).log2().floor() as i64 - 64
                    } else {
                        e - 1023
                    })
                }
            }
            55 => {
                if x < 0.0 {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                self.make_float(x.sqrt())?
            }
            56 => self.make_float(x.sin())?,
            57 => self.make_float(x.atan())?,
            58 => self.make_float(x.ln())?,
            59 => self.make_float(x.exp())?,
            _ => return Ok(PrimResult::Fail(ERR_BAD_RECEIVER)),
        };
        Ok(self.prim_return(0, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floored_division() {
        assert_eq!(floor_div(7, 2), 3);
        assert_eq!(floor_div(-7, 2), -4);
        assert_eq!(floor_div(7, -2), -4);
        assert_eq!(floor_mod(-7, 2), 1);
        assert_eq!(floor_mod(7, -2), -1);
        assert_eq!(floor_mod(6, -2), 0);
    }

    #[test]
    fn ldexp_does_not_overflow_in_between() {
        assert_eq!(ldexp(4.9e-300, 1047), 4.9e-300 * 2f64.powi(1000) * 2f64.powi(47));
        assert!(ldexp(4.9e-300, 1047).is_finite());
        assert_eq!(ldexp(2f64.powi(1023), -1074), 2f64.powi(-51));
        assert_eq!(ldexp(1.0, -1074), f64::from_bits(1));
        assert_eq!(ldexp(3.0, 2), 12.0);
        assert!(ldexp(1.0, 5000).is_infinite());
    }

    #[test]
    fn shifts() {
        assert_eq!(bit_shift(1, 3), Some(Oop::small_int(8)));
        assert_eq!(bit_shift(-8, -2), Some(Oop::small_int(-2)));
        assert_eq!(bit_shift(1, 60), None, "overflows SmallInteger");
        assert_eq!(bit_shift(5, -100), Some(Oop::small_int(0)));
    }
}
