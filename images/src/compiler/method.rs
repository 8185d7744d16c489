//! Heap-independent description of a compiled method / block and its literals.

use std::fmt;

/// Which bytecode set a method is encoded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytecodeSet {
    /// Pharo / Squeak 6 SistaV1 with FullBlockClosures (alternate set: header sign flag set).
    SistaV1,
    /// Squeak 4/5 V3 bytecodes plus the closure bytecodes (138-143).
    V3PlusClosures,
}

/// Minimal arbitrary-precision integer: sign + little-endian base-2^32 magnitude.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BigInt {
    pub negative: bool,
    /// Little-endian 32-bit limbs, no trailing zero limbs (zero = empty).
    pub magnitude: Vec<u32>,
}

impl BigInt {
    pub fn zero() -> BigInt {
        BigInt::default()
    }

    pub fn from_u64(v: u64) -> BigInt {
        let mut b = BigInt {
            negative: false,
            magnitude: vec![v as u32, (v >> 32) as u32],
        };
        b.trim();
        b
    }

    pub fn from_i64(v: i64) -> BigInt {
        let mut b = BigInt::from_u64(v.unsigned_abs());
        b.negative = v < 0 && !b.is_zero();
        b
    }

    fn trim(&mut self) {
        while self.magnitude.last() == Some(&0) {
            self.magnitude.pop();
        }
        if self.magnitude.is_empty() {
            self.negative = false;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.magnitude.is_empty()
    }

    /// self = self * m + a (magnitude only).
    pub fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = a as u64;
        for limb in self.magnitude.iter_mut() {
            let v = (*limb as u64) * (m as u64) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.magnitude.push(carry as u32);
        }
        self.trim();
    }

    pub fn negated(mut self) -> BigInt {
        if !self.is_zero() {
            self.negative = !self.negative;
        }
        self
    }

    /// base^exp as a BigInt.
    pub fn pow_small(base: u32, exp: u32) -> BigInt {
        let mut r = BigInt::from_u64(1);
        for _ in 0..exp {
            r.mul_add_small(base, 0);
        }
        r
    }

    pub fn mul(&self, other: &BigInt) -> BigInt {
        let mut out = vec![0u32; self.magnitude.len() + other.magnitude.len()];
        for (i, &a) in self.magnitude.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.magnitude.iter().enumerate() {
                let v = out[i + j] as u64 + (a as u64) * (b as u64) + carry;
                out[i + j] = v as u32;
                carry = v >> 32;
            }
            let mut k = i + other.magnitude.len();
            while carry != 0 {
                let v = out[k] as u64 + carry;
                out[k] = v as u32;
                carry = v >> 32;
                k += 1;
            }
        }
        let mut r = BigInt {
            negative: self.negative != other.negative,
            magnitude: out,
        };
        r.trim();
        r
    }

    pub fn to_u128(&self) -> Option<u128> {
        if self.magnitude.len() > 4 {
            return None;
        }
        let mut v = 0u128;
        for (i, &l) in self.magnitude.iter().enumerate() {
            v |= (l as u128) << (32 * i);
        }
        Some(v)
    }

    pub fn from_u128(v: u128, negative: bool) -> BigInt {
        let mut b = BigInt {
            negative,
            magnitude: (0..4).map(|i| (v >> (32 * i)) as u32).collect(),
        };
        b.trim();
        b
    }

    pub fn to_i64(&self) -> Option<i64> {
        let m = self.to_u128()?;
        if self.negative {
            if m <= (i64::MAX as u128) + 1 {
                Some((m as i128).wrapping_neg() as i64)
            } else {
                None
            }
        } else if m <= i64::MAX as u128 {
            Some(m as i64)
        } else {
            None
        }
    }

    /// Magnitude as little-endian bytes (the LargePositive/NegativeInteger body), no trailing zeros.
    pub fn magnitude_le_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.magnitude.iter().flat_map(|l| l.to_le_bytes()).collect();
        while out.last() == Some(&0) {
            out.pop();
        }
        out
    }

    pub fn to_f64(&self) -> f64 {
        let mut v = 0.0f64;
        for &l in self.magnitude.iter().rev() {
            v = v * 4294967296.0 + l as f64;
        }
        if self.negative {
            -v
        } else {
            v
        }
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return write!(f, "0");
        }
        // Repeated division by 10^9.
        let mut mag = self.magnitude.clone();
        let mut chunks = Vec::new();
        while !mag.is_empty() {
            let mut rem = 0u64;
            for limb in mag.iter_mut().rev() {
                let cur = (rem << 32) | *limb as u64;
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            while mag.last() == Some(&0) {
                mag.pop();
            }
            chunks.push(rem as u32);
        }
        if self.negative {
            write!(f, "-")?;
        }
        write!(f, "{}", chunks.last().unwrap_or(&0))?;
        for c in chunks.iter().rev().skip(1) {
            write!(f, "{:09}", c)?;
        }
        Ok(())
    }
}

/// A literal in a method's literal frame (or inside a literal array).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Nil,
    True,
    False,
    /// Any integer fitting an i64; the heap decides SmallInteger vs LargeInteger.
    Integer(i64),
    /// Integers beyond i64.
    LargeInteger(BigInt),
    Float(f64),
    /// ScaledDecimal: value = numerator / denominator, printed with `scale` digits.
    /// Reduced when both fit in u128.
    ScaledDecimal {
        numerator: BigInt,
        denominator: BigInt,
        scale: u32,
    },
    Char(u32),
    String(String),
    Symbol(String),
    Array(Vec<Literal>),
    ByteArray(Vec<u8>),
    /// Association for a global / class variable / pool variable, resolved by name on the heap.
    Binding(String),
    /// The binding of the method's class (last literal of a method; also used by Sista super sends).
    MethodClassBinding,
    /// Placeholder for the AdditionalMethodState that holds selector + pragmas (penultimate literal).
    AdditionalMethodState,
    /// A SistaV1 CompiledBlock (full block) literal.
    CompiledBlock(Box<CompiledMethodSpec>),
    /// Last literal of a CompiledBlock: its enclosing CompiledMethod/CompiledBlock.
    OuterCode,
}

impl Literal {
    /// Identity used for literal-frame deduplication (floats by bits, no blocks).
    pub fn same_as(&self, other: &Literal) -> bool {
        match (self, other) {
            (Literal::Float(a), Literal::Float(b)) => a.to_bits() == b.to_bits(),
            (Literal::Array(a), Literal::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Literal::CompiledBlock(_), _) | (_, Literal::CompiledBlock(_)) => false,
            (a, b) => a == b,
        }
    }

    /// Integer literal from a BigInt, choosing the small form when possible.
    pub fn from_bigint(b: BigInt) -> Literal {
        match b.to_i64() {
            Some(v) => Literal::Integer(v),
            None => Literal::LargeInteger(b),
        }
    }

    /// Negate a numeric literal (for `-3`, `-1.5`, `-1.5s2`); None if not numeric.
    pub fn negated(&self) -> Option<Literal> {
        Some(match self {
            Literal::Integer(v) => match v.checked_neg() {
                Some(n) => Literal::Integer(n),
                None => Literal::LargeInteger(BigInt::from_i64(*v).negated()),
            },
            Literal::LargeInteger(b) => Literal::from_bigint(b.clone().negated()),
            Literal::Float(f) => Literal::Float(-f),
            Literal::ScaledDecimal {
                numerator,
                denominator,
                scale,
            } => Literal::ScaledDecimal {
                numerator: numerator.clone().negated(),
                denominator: denominator.clone(),
                scale: *scale,
            },
            _ => return None,
        })
    }

    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Literal::Integer(_)
                | Literal::LargeInteger(_)
                | Literal::Float(_)
                | Literal::ScaledDecimal { .. }
        )
    }

    /// Sign of a numeric literal (for to:by:do: direction); 0 for zero or non-numbers.
    pub fn sign(&self) -> i32 {
        match self {
            Literal::Integer(v) => v.signum() as i32,
            Literal::LargeInteger(b) => {
                if b.negative {
                    -1
                } else {
                    1
                }
            }
            Literal::Float(f) => {
                if *f > 0.0 {
                    1
                } else if *f < 0.0 {
                    -1
                } else {
                    0
                }
            }
            Literal::ScaledDecimal { numerator, .. } => {
                if numerator.is_zero() {
                    0
                } else if numerator.negative {
                    -1
                } else {
                    1
                }
            }
            _ => 0,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Nil => write!(f, "nil"),
            Literal::True => write!(f, "true"),
            Literal::False => write!(f, "false"),
            Literal::Integer(v) => write!(f, "{}", v),
            Literal::LargeInteger(b) => write!(f, "{}", b),
            Literal::Float(v) => write!(f, "{:?}", v),
            Literal::ScaledDecimal {
                numerator,
                denominator,
                scale,
            } => write!(f, "({}/{})s{}", numerator, denominator, scale),
            Literal::Char(c) => match char::from_u32(*c) {
                Some(ch) => write!(f, "${}", ch),
                None => write!(f, "(Character value: {})", c),
            },
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Symbol(s) => write!(f, "#{}", s),
            Literal::Array(a) => {
                write!(f, "#(")?;
                for (i, e) in a.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{}", e)?;
                }
                write!(f, ")")
            }
            Literal::ByteArray(b) => write!(f, "#{:?}", b),
            Literal::Binding(n) => write!(f, "{{{}}}", n),
            Literal::MethodClassBinding => write!(f, "<class binding>"),
            Literal::AdditionalMethodState => write!(f, "<additional method state>"),
            Literal::CompiledBlock(b) => write!(f, "<compiled block {} args>", b.num_args),
            Literal::OuterCode => write!(f, "<outer code>"),
        }
    }
}

/// A pragma such as `<foo: 1 bar: #baz>` (primitive pragmas included, as Pharo records them).
#[derive(Debug, Clone, PartialEq)]
pub struct Pragma {
    pub selector: String,
    pub args: Vec<Literal>,
}

/// Squeak's CompiledMethod frame sizes: a context has room for 16 (small) or 56 (large) slots.
pub const SMALL_FRAME_SIZE: usize = 16;
pub const LARGE_FRAME_SIZE: usize = 56;

/// Abstract compiled method or (SistaV1) compiled block.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledMethodSpec {
    pub num_args: usize,
    /// Temporaries including arguments (header numTemps).
    pub num_temps: usize,
    pub frame_size_large: bool,
    /// 0 = none. Named primitives use 117 with literal 0 = #(module name 0 0).
    pub primitive: u16,
    /// Full literal frame, including the trailing selector/AMS + class binding (methods)
    /// or OuterCode (blocks).
    pub literals: Vec<Literal>,
    pub bytecodes: Vec<u8>,
    pub bytecode_set: BytecodeSet,
    pub selector: String,
    pub class_name: String,
    pub class_side: bool,
    pub pragmas: Vec<Pragma>,
    /// True for a SistaV1 CompiledBlock.
    pub is_block: bool,
}

impl CompiledMethodSpec {
    /// Spur CompiledMethod header as the SmallInteger value stored in slot 0, for 64-bit images.
    ///
    /// Layout (VMMaker `CompiledMethod`/`StackInterpreter` and SqueakJS `vm.object.spur.js`):
    /// bits 0-14 numLiterals, bit 15 unused here (Sista "optimized" flag), bit 16 hasPrimitive,
    /// bit 17 large frame, bits 18-23 numTemps (incl. args), bits 24-27 numArgs.
    /// The alternate bytecode set (SistaV1) is flagged by the sign: Squeak adds
    /// `SmallInteger minVal` (`CompiledMethod headerFlagForEncoder:`), so the value is negative.
    pub fn header_word(&self) -> i64 {
        self.header_word_for(8)
    }

    /// Header for a given word size in bytes (4 -> SmallInteger minVal = -2^30, 8 -> -2^60).
    pub fn header_word_for(&self, word_size: usize) -> i64 {
        let mut h: i64 = (self.literals.len() as i64) & 0x7FFF;
        if self.primitive != 0 {
            h |= 1 << 16;
        }
        if self.frame_size_large {
            h |= 1 << 17;
        }
        h |= ((self.num_temps as i64) & 0x3F) << 18;
        h |= ((self.num_args as i64) & 0x0F) << 24;
        if self.bytecode_set == BytecodeSet::SistaV1 {
            h += if word_size == 4 {
                -(1i64 << 30)
            } else {
                -(1i64 << 60)
            };
        }
        h
    }

    /// Number of literals (header field).
    pub fn num_literals(&self) -> usize {
        self.literals.len()
    }
}
