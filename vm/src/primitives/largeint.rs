//! The LargeIntegers plugin: arithmetic on the magnitudes of Integers of any
//! size, as Squeak's `Integer>>digitAdd:` and friends call it. Operands are
//! SmallIntegers or LargePositive/NegativeIntegers (little-endian bytes of
//! the magnitude).

use super::{PrimResult, FAIL};
use crate::interp::{Fault, Vm};
use gc::specials::so;
use gc::Oop;
use std::cmp::Ordering;

/// A magnitude as little-endian 32-bit limbs, without high zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mag(pub Vec<u32>);

impl Mag {
    pub fn from_bytes(b: &[u8]) -> Mag {
        let mut v: Vec<u32> = b
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        trim(&mut v);
        Mag(v)
    }

    pub fn from_u64(x: u64) -> Mag {
        let mut v = vec![x as u32, (x >> 32) as u32];
        trim(&mut v);
        Mag(v)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        while b.len() > 1 && *b.last().unwrap() == 0 {
            b.pop();
        }
        if b.is_empty() {
            b.push(0);
        }
        b
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn cmp_mag(&self, o: &Mag) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    pub fn add(&self, o: &Mag) -> Mag {
        let n = self.0.len().max(o.0.len());
        let mut r = Vec::with_capacity(n + 1);
        let mut carry = 0u64;
        for i in 0..n {
            let s = *self.0.get(i).unwrap_or(&0) as u64 + *o.0.get(i).unwrap_or(&0) as u64 + carry;
            r.push(s as u32);
            carry = s >> 32;
        }
        r.push(carry as u32);
        trim(&mut r);
        Mag(r)
    }

    /// `self - o` where `self >= o`.
    pub fn sub(&self, o: &Mag) -> Mag {
        let mut r = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut d = self.0[i] as i64 - *o.0.get(i).unwrap_or(&0) as i64 - borrow;
            borrow = if d < 0 {
                d += 1 << 32;
                1
            } else {
                0
            };
            r.push(d as u32);
        }
        trim(&mut r);
        Mag(r)
    }

    pub fn mul(&self, o: &Mag) -> Mag {
        if self.is_zero() || o.is_zero() {
            return Mag(Vec::new());
        }
        let mut r = vec![0u32; self.0.len() + o.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in o.0.iter().enumerate() {
                let t = r[i + j] as u64 + a as u64 * b as u64 + carry;
                r[i + j] = t as u32;
                carry = t >> 32;
            }
            r[i + o.0.len()] = carry as u32;
        }
        trim(&mut r);
        Mag(r)
    }

    fn shl_bits(&self, s: u32) -> Mag {
        let (limbs, bits) = ((s / 32) as usize, s % 32);
        let mut r = vec![0u32; limbs];
        let mut carry = 0u32;
        for &w in &self.0 {
            if bits == 0 {
                r.push(w);
            } else {
                r.push((w << bits) | carry);
                carry = w >> (32 - bits);
            }
        }
        if carry != 0 {
            r.push(carry);
        }
        trim(&mut r);
        Mag(r)
    }

    fn shr_bits(&self, s: u32) -> Mag {
        let (limbs, bits) = ((s / 32) as usize, s % 32);
        if limbs >= self.0.len() {
            return Mag(Vec::new());
        }
        let src = &self.0[limbs..];
        let mut r = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> bits;
            let hi = if bits == 0 {
                0
            } else {
                src.get(i + 1).map(|&w| w << (32 - bits)).unwrap_or(0)
            };
            r.push(lo | hi);
        }
        trim(&mut r);
        Mag(r)
    }

    /// Quotient and remainder (Knuth's algorithm D on 32-bit limbs).
    pub fn divmod(&self, d: &Mag) -> Option<(Mag, Mag)> {
        if d.is_zero() {
            return None;
        }
        if self.cmp_mag(d) == Ordering::Less {
            return Some((Mag(Vec::new()), self.clone()));
        }
        if d.0.len() == 1 {
            let dv = d.0[0] as u64;
            let mut q = vec![0u32; self.0.len()];
            let mut rem = 0u64;
            for i in (0..self.0.len()).rev() {
                let cur = (rem << 32) | self.0[i] as u64;
                q[i] = (cur / dv) as u32;
                rem = cur % dv;
            }
            trim(&mut q);
            return Some((Mag(q), Mag::from_u64(rem)));
        }
        let s = d.0.last().unwrap().leading_zeros();
        let (u, v) = (self.shl_bits(s), d.shl_bits(s));
        let (n, m) = (v.0.len(), u.0.len() - v.0.len());
        let mut un = u.0.clone();
        un.push(0);
        let vn = &v.0;
        let mut q = vec![0u32; m + 1];
        let b = 1u64 << 32;
        for j in (0..=m).rev() {
            let num = ((un[j + n] as u64) << 32) | un[j + n - 1] as u64;
            let mut qhat = num / vn[n - 1] as u64;
            let mut rhat = num % vn[n - 1] as u64;
            while qhat >= b || qhat * vn[n - 2] as u64 > ((rhat << 32) | un[j + n - 2] as u64) {
                qhat -= 1;
                rhat += vn[n - 1] as u64;
                if rhat >= b {
                    break;
                }
            }
            let mut borrow = 0i64;
            let mut carry = 0u64;
            for i in 0..n {
                let p = qhat * vn[i] as u64 + carry;
                carry = p >> 32;
                let t = un[i + j] as i64 - borrow - (p & 0xffff_ffff) as i64;
                un[i + j] = t as u32;
                borrow = if t < 0 { 1 } else { 0 };
            }
            let t = un[j + n] as i64 - borrow - carry as i64;
            un[j + n] = t as u32;
            if t < 0 {
                qhat -= 1;
                let mut c = 0u64;
                for i in 0..n {
                    let s2 = un[i + j] as u64 + vn[i] as u64 + c;
                    un[i + j] = s2 as u32;
                    c = s2 >> 32;
                }
                un[j + n] = un[j + n].wrapping_add(c as u32);
            }
            q[j] = qhat as u32;
        }
        trim(&mut q);
        let mut r = un[..n].to_vec();
        trim(&mut r);
        Some((Mag(q), Mag(r).shr_bits(s)))
    }

    pub fn bit_op(&self, o: &Mag, op: fn(u32, u32) -> u32) -> Mag {
        let n = self.0.len().max(o.0.len());
        let mut r: Vec<u32> = (0..n)
            .map(|i| op(*self.0.get(i).unwrap_or(&0), *o.0.get(i).unwrap_or(&0)))
            .collect();
        trim(&mut r);
        Mag(r)
    }
}

fn trim(v: &mut Vec<u32>) {
    while v.last() == Some(&0) {
        v.pop();
    }
}

impl Vm {
    /// Sign and magnitude of an Integer.
    fn signed_mag(&self, o: Oop) -> Option<(bool, Mag)> {
        if let Some(v) = o.as_small_int() {
            return Some((v < 0, Mag::from_u64(v.unsigned_abs())));
        }
        if !o.is_object() {
            return None;
        }
        let c = self.heap.class_of(o);
        let neg = c == self.heap.special(so::CLASS_LARGE_NEGATIVE_INTEGER);
        if !neg && c != self.heap.special(so::CLASS_LARGE_POSITIVE_INTEGER) {
            return None;
        }
        Some((neg, Mag::from_bytes(self.heap.bytes(o))))
    }

    /// A normalized Integer: a SmallInteger when it fits.
    fn make_signed(&mut self, neg: bool, m: &Mag) -> Result<Oop, Fault> {
        if m.0.len() <= 2 {
            let v =
                m.0.first().copied().unwrap_or(0) as u64 | (m.0.get(1).copied().unwrap_or(0) as u64) << 32;
            let s = if neg { -(v as i128) } else { v as i128 };
            if s >= gc::oop::SMALL_INTEGER_MIN as i128 && s <= gc::oop::SMALL_INTEGER_MAX as i128 {
                return Ok(Oop::small_int(s as i64));
            }
        }
        let bytes = m.to_bytes();
        let class = self.heap.special(if neg {
            so::CLASS_LARGE_NEGATIVE_INTEGER
        } else {
            so::CLASS_LARGE_POSITIVE_INTEGER
        });
        let o = self.instantiate(class, bytes.len())?;
        self.heap.bytes_mut(o).copy_from_slice(&bytes);
        Ok(o)
    }

    pub(crate) fn large_int_primitive(&mut self, name: &str, nargs: usize) -> Result<PrimResult, Fault> {
        let Some((rneg, r)) = self.signed_mag(self.stack_value(nargs)) else {
            return Ok(FAIL);
        };
        let arg = |vm: &Vm, k: usize| vm.stack_value(nargs - 1 - k);
        let result = match (name, nargs) {
            ("primDigitAdd:", 1) => {
                let Some((_, a)) = self.signed_mag(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                self.make_signed(rneg, &r.add(&a))?
            }
            ("primDigitSubtract:", 1) => {
                let Some((_, a)) = self.signed_mag(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                if r.cmp_mag(&a) == Ordering::Less {
                    self.make_signed(!rneg, &a.sub(&r))?
                } else {
                    self.make_signed(rneg, &r.sub(&a))?
                }
            }
            ("primDigitMultiply:negative:", 2) => {
                let Some((_, a)) = self.signed_mag(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                let neg = arg(self, 1) == self.heap.true_obj();
                self.make_signed(neg, &r.mul(&a))?
            }
            ("primDigitDiv:negative:", 2) => {
                let Some((_, a)) = self.signed_mag(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                let neg = arg(self, 1) == self.heap.true_obj();
                let Some((q, rem)) = r.divmod(&a) else {
                    return Ok(FAIL);
                };
                let qo = self.make_signed(neg, &q)?;
                let ro = self.make_signed(rneg, &rem)?;
                let pair = self.new_array(2)?;
                self.heap.set_slot(pair, 0, qo);
                self.heap.set_slot(pair, 1, ro);
                pair
            }
            ("primDigitCompare:", 1) => {
                let Some((_, a)) = self.signed_mag(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                Oop::small_int(match r.cmp_mag(&a) {
                    Ordering::Less => -1,
                    Ordering::Equal => 0,
                    Ordering::Greater => 1,
                })
            }
            ("primDigitBitAnd:", 1) | ("primDigitBitOr:", 1) | ("primDigitBitXor:", 1) => {
                let Some((aneg, a)) = self.signed_mag(arg(self, 0)) else {
                    return Ok(FAIL);
                };
                if rneg || aneg {
                    return Ok(FAIL);
                }
                let op: fn(u32, u32) -> u32 = match name {
                    "primDigitBitAnd:" => |x, y| x & y,
                    "primDigitBitOr:" => |x, y| x | y,
                    _ => |x, y| x ^ y,
                };
                self.make_signed(false, &r.bit_op(&a, op))?
            }
            ("primDigitBitShiftMagnitude:", 1) => {
                let Some(s) = arg(self, 0).as_small_int() else {
                    return Ok(FAIL);
                };
                if s.unsigned_abs() > 1 << 24 {
                    return Ok(FAIL);
                }
                let m = if s >= 0 {
                    r.shl_bits(s as u32)
                } else {
                    r.shr_bits((-s) as u32)
                };
                self.make_signed(rneg, &m)?
            }
            ("primNormalizePositive", 0) => self.make_signed(false, &r)?,
            ("primNormalizeNegative", 0) => self.make_signed(true, &r)?,
            _ => return Ok(FAIL),
        };
        Ok(self.prim_return(nargs, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(x: u128) -> Mag {
        Mag::from_bytes(&x.to_le_bytes())
    }

    #[test]
    fn arithmetic_against_u128() {
        // Fixed edge cases, then pseudo-random ones (xorshift, fixed seed).
        let mut cases = vec![
            (0u128, 1u128),
            (12345, 678),
            (u64::MAX as u128, 3),
            (1 << 100, (1 << 40) + 7),
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let a = ((next() as u128) << 64 | next() as u128) >> (next() % 128);
            let b = ((next() as u128) << 64 | next() as u128) >> (next() % 128);
            cases.push((a, b));
        }
        for (a, b) in cases {
            if let Some(s) = a.checked_add(b) {
                assert_eq!(m(a).add(&m(b)), m(s));
            }
            if a >= b {
                assert_eq!(m(a).sub(&m(b)), m(a - b));
            }
            if let Some(p) = a.checked_mul(b) {
                assert_eq!(m(a).mul(&m(b)), m(p));
            }
            if b != 0 {
                let (q, r) = m(a).divmod(&m(b)).unwrap();
                assert_eq!((q, r), (m(a / b), m(a % b)), "{a} / {b}");
            }
            assert_eq!(m(a).cmp_mag(&m(b)), a.cmp(&b));
        }
    }

    #[test]
    fn factorial_of_30_divides_back() {
        let mut f = Mag::from_u64(1);
        for i in 1..=30u64 {
            f = f.mul(&Mag::from_u64(i));
        }
        for i in (1..=30u64).rev() {
            let (q, r) = f.divmod(&Mag::from_u64(i)).unwrap();
            assert!(r.is_zero());
            f = q;
        }
        assert_eq!(f, Mag::from_u64(1));
        // A multi-limb divisor.
        let a = m(265252859812191058636308480000000);
        let b = m(87178291200);
        let (q, r) = a.divmod(&b).unwrap();
        assert_eq!(q.mul(&b).add(&r), a);
    }
}
