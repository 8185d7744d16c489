//! The VM stack's memory, and the bytecode loops' unchecked access to it.
//!
//! Frames live in words `0..STACK_WORDS` (see `frame.rs`). Outside the
//! bytecode loops the stack is indexed modulo `STACK_WORDS`, so no index
//! can leave it.
//!
//! The loops index it without the modulo, through [`StackWords`]: masking
//! every access, or reaching the words through the `Vm` (which reloads the
//! array's address before each access, as the compiler cannot tell that a
//! store into the stack leaves it unchanged), cost 12–15% on
//! Are-We-Fast-Yet. What keeps those accesses inside the allocation is a
//! slack of `STACK_SLACK` zeroed words below and above the frames, and
//! this invariant:
//!
//! - At every *checkpoint* the loop's sp and fp lie in `0..=STACK_WORDS`,
//!   or the VM stops with a fault ([`Vm::r_check_stack`]). Checkpoints are
//!   `Vm::regs` (entering a loop, and after everything out of line), every
//!   send, return and backward jump, conditional or not, whatever its
//!   extensions (the loops' `tick!`), and every step past the method's
//!   copy (`step_past_copy`, through `regs`). A return also checks the
//!   caller's fp before using it, and takes the caller's copy, with its
//!   length, by the method in the caller's frame: whatever a malformed
//!   method wrote there, the fetch stays in that copy or its sentinels.
//! - Between checkpoints the ip only moves forward, and at most
//!   [`MAX_FAST_FETCH`] bytes are fetched without a checkpoint: the copies
//!   the loops fetch from hold `min(code size, MAX_FAST_FETCH)` bytes, and
//!   the sentinel after them leaves the loop (code.rs).
//! - A bytecode that is not a checkpoint moves sp by at most
//!   [`MAX_DRIFT_PER_BYTE`] words per byte it occupies (at:put: pops three
//!   and pushes one) and touches words at most [`MAX_REACH`] from sp or fp
//!   (a temporary or argument index is a byte; `r_send` checks that a
//!   send's argument count is at most 255, since special selectors take
//!   theirs from an array the image may change; a frame is at most
//!   `FRAME_WORDS` + 255 + 64 words, as it copies its arguments below its
//!   header, and the loops' activations check that it fits anyway).
//!
//! So between checkpoints every access lies within
//! `MAX_FAST_FETCH * MAX_DRIFT_PER_BYTE + MAX_REACH` words of `0..STACK_WORDS`,
//! which the slack covers (checked at compile time below). A malformed
//! method can therefore read and write wrong stack words, as with the
//! modulo, but never memory outside the stack.

use std::ptr::NonNull;

/// Words of stack the VM reserves for frames. Frames that do not fit spill
/// the stack into contexts.
pub const STACK_WORDS: usize = 256 * 1024;

/// Bytes of a method the bytecode loops fetch without a checkpoint.
pub const MAX_FAST_FETCH: usize = 32 * 1024;
/// The most a non-checkpoint bytecode moves sp, per byte of bytecode.
pub const MAX_DRIFT_PER_BYTE: usize = 2;
/// The farthest from sp or fp a bytecode reaches.
pub const MAX_REACH: usize = 1024;
/// Zeroed words below and above the frames (see the module docs).
pub const STACK_SLACK: usize = 128 * 1024;

const _: () = assert!(STACK_WORDS.is_power_of_two());
const _: () = assert!(MAX_FAST_FETCH * MAX_DRIFT_PER_BYTE + MAX_REACH <= STACK_SLACK);
const _: () = assert!(super::frame::FRAME_HEADROOM + 256 <= MAX_REACH);
const _: () = assert!(super::frame::FRAME_WORDS + 255 + 64 <= MAX_REACH);

const ALLOCATED: usize = STACK_SLACK + STACK_WORDS + STACK_SLACK;

/// The VM stack. It owns its words (frames and slack), allocated once and
/// never moved, so a [`StackWords`] taken from it stays valid while it
/// lives.
pub struct Stack {
    /// Word 0 of the frames, `STACK_SLACK` words into the allocation.
    words: NonNull<u64>,
}

// SAFETY: the Stack owns its words exclusively (like a Box), so it may move
// to another thread with the Vm that owns it.
unsafe impl Send for Stack {}

impl Stack {
    pub fn new() -> Stack {
        // Zeroed allocation: the slack is never written by a well-formed
        // method, so its pages are never touched.
        let all: Box<[u64]> = vec![0; ALLOCATED].into_boxed_slice();
        let start = Box::into_raw(all) as *mut u64;
        // SAFETY: STACK_SLACK < ALLOCATED, so the result is inside the
        // allocation just made.
        let words = unsafe { start.add(STACK_SLACK) };
        Stack {
            words: NonNull::new(words).expect("Box::into_raw is never null"),
        }
    }

    /// The frames' words, for walks over frames and block moves.
    pub fn words_mut(&mut self) -> &mut [u64] {
        // SAFETY: words 0..STACK_WORDS from `words` lie inside the live
        // allocation; the slice borrows `self` mutably, so nothing reaches
        // them through the Stack while it lives.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_ptr(), STACK_WORDS) }
    }

    /// The words' address, for a bytecode loop's registers.
    #[inline(always)]
    pub(crate) fn words(&self) -> StackWords {
        StackWords(self.words.as_ptr())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: undoes `new`: `words` is STACK_SLACK words into a boxed
        // slice of ALLOCATED words, which is dropped only here.
        unsafe {
            let start = self.words.as_ptr().sub(STACK_SLACK);
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                start, ALLOCATED,
            )));
        }
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}

impl std::ops::Index<usize> for Stack {
    type Output = u64;
    #[inline(always)]
    fn index(&self, i: usize) -> &u64 {
        debug_assert!(i < STACK_WORDS, "stack index {i} out of range");
        // SAFETY: the masked index is inside the frames' words.
        unsafe { &*self.words.as_ptr().add(i & (STACK_WORDS - 1)) }
    }
}

impl std::ops::IndexMut<usize> for Stack {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut u64 {
        debug_assert!(i < STACK_WORDS, "stack index {i} out of range");
        // SAFETY: the masked index is inside the frames' words, and
        // `&mut self` makes the reference unique.
        unsafe { &mut *self.words.as_ptr().add(i & (STACK_WORDS - 1)) }
    }
}

/// The address of a [`Stack`]'s word 0, as a bytecode loop holds it.
///
/// Invariants: a `StackWords` is used only while the `Vm` whose stack it
/// came from is alive (only `Vm::regs` makes one, and only the bytecode
/// loops, which borrow that `Vm`, keep it); and it is indexed only as the
/// module docs describe, so that every index (as a signed offset) lies in
/// `-STACK_SLACK..STACK_WORDS + STACK_SLACK`. Accesses go through the raw
/// pointer, never a reference held across another, so they coexist with
/// the `Vm`'s own indexing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StackWords(*mut u64);

impl StackWords {
    #[inline(always)]
    fn in_allocation(i: usize) -> bool {
        (i as isize) >= -(STACK_SLACK as isize) && (i as isize) < (STACK_WORDS + STACK_SLACK) as isize
    }

    #[inline(always)]
    pub fn get(self, i: usize) -> u64 {
        debug_assert!(
            Self::in_allocation(i),
            "unmasked stack index {} outside the stack",
            i as isize
        );
        // SAFETY: the stack is alive and the index inside its allocation
        // (type invariant, see the module docs); wrapping_add of a negative
        // offset as usize lands below word 0, inside the slack.
        unsafe { self.0.wrapping_add(i).read() }
    }

    #[inline(always)]
    pub fn set(self, i: usize, v: u64) {
        debug_assert!(
            Self::in_allocation(i),
            "unmasked stack index {} outside the stack",
            i as isize
        );
        // SAFETY: as for `get`.
        unsafe { self.0.wrapping_add(i).write(v) }
    }
}

/// Whether a loop's sp or fp is where a checkpoint requires it.
#[inline(always)]
pub(crate) fn in_frames(i: usize) -> bool {
    i <= STACK_WORDS
}
