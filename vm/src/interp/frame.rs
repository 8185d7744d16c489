//! Frame layout on the VM stack.
//!
//! The stack is an array of words that grows downwards, as a machine stack
//! does, so machine-code frames can later share it. An activation of a
//! method or block with `n` arguments looks like this (indices relative to
//! the frame pointer `fp`):
//!
//! ```text
//!   fp+2+n   receiver (method) or closure (block), pushed by the caller
//!   fp+2+n-1 first argument
//!   ...
//!   fp+2     last argument
//!   fp+1     caller's saved ip; in a base frame, the caller Context (or nil)
//!   fp       caller's fp; BASE_FRAME in a base frame
//!   fp-1     method (CompiledMethod; a block's home method in V3)
//!   fp-2     Context married to this frame, or 0 when there is none yet
//!   fp-3     flags: numArgs | isBlock << 8 | discardResult << 9 | sista << 10
//!            | receiverSlots << 16 (see `RCVR_SLOTS_SHIFT`)
//!   fp-4     receiver (for a block, its outer context's receiver)
//!   fp-5     temporary 0: the first argument, copied
//!   ...      the other arguments (copied), then the other temporaries
//!   fp-4-t   the last of the method's t temporaries
//!   ...      then the operand stack, down to sp
//! ```
//!
//! The activation copies the arguments below the header, so temporary `i`
//! is always at `fp-5-i`: one load, where reading arguments in place needs
//! a comparison with the argument count first. The caller's copies above
//! the frame stay (the return pops them) but nothing reads them after the
//! activation.
//!
//! A *base frame* is the first frame of a run of frames loaded from a
//! Context: its caller is a Context object rather than a frame.
//!
//! Contexts and frames: a Context is created for a frame only when needed
//! (`thisContext`, a closure's outer context, a process switch, a stack
//! overflow). While the frame lives, the Context is *married* to it: its
//! sender slot holds the frame pointer as a SmallInteger and its other
//! fields are stale except method, closureOrNil and receiver. Reading or
//! writing the others first spills every frame into its Context (see
//! `contexts.rs`); a stack overflow spills only the older half of the
//! frames. A frame that returns marks its Context dead (sender and pc nil),
//! which is what Squeak expects of a returned-from context.

/// Marker in the saved-fp slot of a base frame.
pub const BASE_FRAME: u64 = u64::MAX;

pub const CALLER_IP: isize = 1;
pub const CALLER_FP: isize = 0;
pub const METHOD: isize = -1;
pub const CONTEXT: isize = -2;
pub const FLAGS: isize = -3;
pub const RECEIVER: isize = -4;
pub const FIRST_TEMP: isize = -5;
/// Words of frame bookkeeping below the arguments (caller ip .. receiver).
pub const FRAME_WORDS: usize = 6;

pub const FLAG_BLOCK: u64 = 1 << 8;
/// Set while the frame waits for an answer it must drop (a store into an
/// immutable object became an `attemptToAssign:withIndex:` send).
pub const FLAG_DISCARD_RESULT: u64 = 1 << 9;
/// The frame's method uses the SistaV1 bytecode set (saves decoding the
/// method header on every return).
pub const FLAG_SISTA: u64 = 1 << 10;

/// Bits 16..24 of the flags word: how many of the receiver's slots the
/// bytecode loops may read without looking at its header (see
/// `Vm::r_receiver_var`) and write (`Vm::r_store_receiver_var`). Its
/// slot-count field when the receiver is a mutable pointer object other
/// than a Context or a forwarder, else 0. Frames built out of line leave it
/// 0, which only makes reads and writes take the checked path;
/// `with_heap_and_roots` clears it in every frame after anything but a
/// scavenge, since a become can change the receiver's size, and so does
/// primitive 164 when it makes an object immutable.
pub const RCVR_SLOTS_SHIFT: u32 = 16;
pub const RCVR_SLOTS_MASK: u64 = 0xff << RCVR_SLOTS_SHIFT;

/// The flags word's bytecode-set bit for a bytecode set.
#[inline(always)]
pub fn set_flag_for(set: gc::method::BytecodeSet) -> u64 {
    if set == gc::method::BytecodeSet::SistaV1 {
        FLAG_SISTA
    } else {
        0
    }
}

/// The flags word's bytecode-set bit for a method header.
#[inline]
pub fn set_flag(h: gc::method::MethodHeader) -> u64 {
    set_flag_for(h.bytecode_set())
}

/// The bytecode set named by a frame's flags word.
#[inline(always)]
pub fn flags_set(flags: u64) -> gc::method::BytecodeSet {
    if flags & FLAG_SISTA != 0 {
        gc::method::BytecodeSet::SistaV1
    } else {
        gc::method::BytecodeSet::V3PlusClosures
    }
}

pub use super::stack::{Stack, STACK_WORDS};

/// The stack index of temporary `i` (arguments first) of the frame at `fp`.
#[inline(always)]
pub fn temp_slot(fp: usize, i: usize) -> usize {
    // Wrapping: the bytecode loops' fp may lie in the stack's slack (see
    // stack.rs).
    fp.wrapping_add_signed(FIRST_TEMP).wrapping_sub(i)
}

/// The number of values (temporaries, then the operand stack) of the frame
/// at `fp` whose stack pointer is `sp`: a Context's stack pointer.
#[inline]
pub fn frame_items(fp: usize, sp: usize) -> usize {
    (fp - 4) - sp
}

/// Headroom an activation needs: bookkeeping plus the largest frame (up
/// to 64 temporaries, arguments included; an activation with more
/// arguments than that asks for more, see `Vm::ensure_stack_room`).
pub const FRAME_HEADROOM: usize = FRAME_WORDS + 64 + 16;
