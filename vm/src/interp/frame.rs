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
//!            | codeLen << 32 (the method's `Heap::code_len`, see regs.rs)
//!   fp-4     receiver (for a block, its outer context's receiver)
//!   fp-5     first temporary after the arguments
//!   ...      then the operand stack, down to sp
//! ```
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

/// Where the flags word keeps the method's `Heap::code_len`, which the
/// bytecode loops check the ip against on every fetch (see `regs.rs`). A
/// collection or become can replace a frame's method, so
/// `with_heap_and_roots` takes these again afterwards.
pub const CODE_LEN_SHIFT: u32 = 32;

/// The method's `code_len` from a frame's flags word.
#[inline(always)]
pub fn flags_code_len(flags: u64) -> usize {
    (flags >> CODE_LEN_SHIFT) as usize
}

/// The flags bits that come from the frame's method: its bytecode set and
/// its `code_len`.
#[inline]
pub fn method_flags(h: gc::method::MethodHeader, code_len: usize) -> u64 {
    set_flag(h) | (code_len as u64) << CODE_LEN_SHIFT
}

/// The flags word's bytecode-set bit for a method header.
#[inline]
pub fn set_flag(h: gc::method::MethodHeader) -> u64 {
    if h.bytecode_set() == gc::method::BytecodeSet::SistaV1 {
        FLAG_SISTA
    } else {
        0
    }
}

/// Words of stack the VM reserves. Frames that do not fit spill the stack
/// into contexts.
pub const STACK_WORDS: usize = 256 * 1024;
/// Headroom an activation needs: bookkeeping plus the largest frame.
pub const FRAME_HEADROOM: usize = FRAME_WORDS + 64 + 16;

/// The VM stack: a fixed power-of-two array of words indexed modulo its
/// size, so indexing needs no bounds check. Frames stay inside it by
/// construction (`FRAME_HEADROOM` is checked before every activation);
/// debug builds assert every index.
pub struct Stack(Box<[u64; STACK_WORDS]>);

const _: () = assert!(STACK_WORDS.is_power_of_two());

impl Stack {
    pub fn new() -> Stack {
        let words: Box<[u64]> = vec![0; STACK_WORDS].into_boxed_slice();
        Stack(words.try_into().expect("STACK_WORDS words"))
    }

    /// All the words, for walks over frames and block moves.
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.0[..]
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
        &self.0[i & (STACK_WORDS - 1)]
    }
}

impl std::ops::IndexMut<usize> for Stack {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut u64 {
        debug_assert!(i < STACK_WORDS, "stack index {i} out of range");
        &mut self.0[i & (STACK_WORDS - 1)]
    }
}
