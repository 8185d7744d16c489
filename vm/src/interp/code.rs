//! Copies of methods' bytes, which the bytecode loops fetch from without a
//! bounds check.
//!
//! Each copy holds a method's body (header word, literals, bytecodes,
//! trailer: the bytes `ip` counts from) up to its fetch length, followed by
//! [`PAD`] bytes of its bytecode set's *sentinel*, a bytecode that set
//! leaves unassigned ([`sentinel`]). The fetch is then a plain load: a
//! well-formed method returns or jumps before its end, and a malformed one
//! that runs off the end reads the sentinel, whose arm leaves the loop
//! ([`Vm::past_copy`]). A bytecode reads at most 3 operand bytes, and
//! extension prefixes stop at the sentinel, so no fetch between two
//! dispatches goes past the padding.
//!
//! The loops keep the fetch inside `[0, len + PAD)` of a copy this way:
//! - every ip that does not come from the straight-line advance (entering a
//!   loop, a return, a jump, an activation's initial pc) is compared with
//!   the copy's length, and one past it fetches from [`sentinels`] instead,
//!   a pointer placed so that the ip reads a sentinel;
//! - a loop runs a copy only for its own bytecode set: whoever installs a
//!   copy sets `Vm::bytecode_set` from [`Code::set`], and the loops leave
//!   when that is not theirs (a method's set comes from its header, which
//!   the image can rewrite).
//!
//! Copies live until [`CodeCopies::flush`], which runs with the method
//! cache's flush (whenever old objects may move; a scavenge drops the
//! copies of young methods only) and when the heap reports a byte
//! write into a CompiledMethod (`Heap::code_writes`, checked by
//! `Vm::regs`). Both happen only out of line, and the loops take their
//! registers from `Vm::regs` after anything out of line, so a loop never
//! holds a pointer into a dropped copy.

use super::send::FrameShape;
use gc::method::BytecodeSet;
use gc::Oop;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Sentinel bytes after each copy.
pub(crate) const PAD: usize = 16;

/// Sentinel bytes of each set, for ips past a copy (see [`sentinels`]).
static SISTA_PAD: [u8; PAD] = [SISTA_SENTINEL; PAD];
static V3_PAD: [u8; PAD] = [V3_SENTINEL; PAD];

/// SistaV1 leaves 236 unassigned.
pub(crate) const SISTA_SENTINEL: u8 = 236;
/// V3PlusClosures leaves 126 and 127 unassigned.
pub(crate) const V3_SENTINEL: u8 = 126;

/// The sentinel bytecode of `set`.
pub(crate) fn sentinel(set: BytecodeSet) -> u8 {
    match set {
        BytecodeSet::SistaV1 => SISTA_SENTINEL,
        BytecodeSet::V3PlusClosures => V3_SENTINEL,
    }
}

/// A fetch base for an ip at or past a copy's end: `base + ip` is the
/// first of `set`'s static sentinel bytes, so the fetch reads a sentinel.
/// The pointer is formed with wrapping arithmetic and only dereferenced at
/// `ip`, where it is back inside the static.
#[cold]
pub(crate) fn sentinels(set: BytecodeSet, ip: usize) -> *const u8 {
    let pad = match set {
        BytecodeSet::SistaV1 => &SISTA_PAD,
        BytecodeSet::V3PlusClosures => &V3_PAD,
    };
    pad.as_ptr().wrapping_sub(ip)
}

/// A method's copy as the loops use it: `ptr[0..len]` are the method's
/// bytes, `ptr[len..len + PAD]` sentinels of `set`; `shape` holds the
/// header fields an activation needs, so that a block activation from the
/// memo reads no header (a header write flushes the copies, as it does the
/// method cache, whose entries carry the same fields).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Code {
    pub ptr: *const u8,
    pub len: usize,
    pub set: BytecodeSet,
    pub shape: FrameShape,
}

impl Code {
    /// The fetch base for running from `ip`: the copy, or sentinels when
    /// `ip` is past it.
    #[inline(always)]
    pub fn base_for(self, ip: usize) -> *const u8 {
        if ip < self.len {
            self.ptr
        } else {
            sentinels(self.set, ip)
        }
    }
}

const MEMO: usize = 256;

/// The copies, by method address, with a direct-mapped memo in front for
/// the loops' returns and block activations.
pub(crate) struct CodeCopies {
    /// By method address, with the set and wholeness in the low bits.
    copies: HashMap<u64, Box<[u8]>, BuildHasherDefault<AddressHasher>>,
    /// Recent lookups: (method, its copy).
    memo: Box<[(u64, Code); MEMO]>,
    /// `Heap::code_writes` when the copies were taken.
    pub writes: u64,
}

pub(crate) const NO_CODE: Code = Code {
    ptr: std::ptr::null(),
    len: 0,
    set: BytecodeSet::SistaV1,
    shape: FrameShape::EMPTY,
};

/// The key of an empty memo entry: not an object's address (those are
/// 8-aligned), so that no lookup of an object finds `NO_CODE`.
const NO_KEY: u64 = 1;

impl CodeCopies {
    pub fn new() -> CodeCopies {
        CodeCopies {
            copies: HashMap::default(),
            memo: Box::new([(NO_KEY, NO_CODE); MEMO]),
            writes: 0,
        }
    }

    #[inline(always)]
    fn memo_index(method: Oop) -> usize {
        (method.0 >> 4) as usize & (MEMO - 1)
    }

    /// The memo's copy of `method`, if it has one.
    #[inline(always)]
    pub fn memo(&self, method: Oop) -> Option<Code> {
        let (m, code) = self.memo[Self::memo_index(method)];
        (m == method.0).then_some(code)
    }

    /// The copy of `method` for `set`, made from `bytes` (its first `len`
    /// body bytes, as `Heap::code_len` validated them) when there is none
    /// yet. A method has a copy per set it was run as (its header may be
    /// rewritten), so that no copy is dropped before a flush; `whole` asks
    /// for the one of the whole method, which is not memoized (see
    /// `Vm::step_past_copy`).
    pub fn get_or_copy(
        &mut self,
        method: Oop,
        set: BytecodeSet,
        shape: FrameShape,
        whole: bool,
        bytes: impl FnOnce() -> Vec<u8>,
    ) -> Code {
        let key = Self::key(method, set, whole);
        let copy = self.copies.entry(key).or_insert_with(|| {
            let mut b = bytes();
            b.extend_from_slice(&[sentinel(set); PAD]);
            b.into_boxed_slice()
        });
        let code = Code {
            ptr: copy.as_ptr(),
            len: copy.len() - PAD,
            set,
            shape,
        };
        if !whole {
            self.memo[Self::memo_index(method)] = (method.0, code);
        }
        code
    }

    /// Method addresses are 8-aligned: the low bits tell the copies apart.
    fn key(method: Oop, set: BytecodeSet, whole: bool) -> u64 {
        method.0 | (set == BytecodeSet::V3PlusClosures) as u64 | (whole as u64) << 1
    }

    /// Whether `ptr` is the start of `method`'s copy (debug checks).
    pub fn holds(&self, method: Oop, code: Code) -> bool {
        [false, true].iter().any(|&whole| {
            let key = Self::key(method, code.set, whole);
            self.copies
                .get(&key)
                .is_some_and(|c| c.as_ptr() == code.ptr && c.len() == code.len + PAD)
        })
    }

    /// Drops every copy: objects moved, or a method's bytes changed.
    pub fn flush(&mut self) {
        self.copies.clear();
        self.memo.iter_mut().for_each(|e| *e = (NO_KEY, NO_CODE));
    }

    /// Drops the copies of the methods at addresses `moved` names.
    pub fn flush_where(&mut self, moved: impl Fn(u64) -> bool) {
        self.copies.retain(|&key, _| !moved(key & !7));
        for e in self.memo.iter_mut() {
            if moved(e.0) {
                *e = (NO_KEY, NO_CODE);
            }
        }
    }
}

/// Hashes a method address with one multiplication: the keys are
/// addresses chosen by the VM, not input an attacker picks.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
