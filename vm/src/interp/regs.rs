//! The interpreter registers in locals, and the hot operations on them.
//! The `unsafe` blocks are the bytecode fetch (see [`Vm::r_peek`]) and
//! `opaque`'s empty `asm!` block; the stack is reached through
//! `StackWords`, whose unmasked indexing `stack.rs` justifies.
//!
//! The bytecode loops (`run_v3`, `run_sista`) copy ip, sp, fp and the
//! method out of the [`Vm`] into a [`Regs`] value on entry, so that the
//! compiler keeps them in machine registers instead of loading and storing
//! struct fields on every bytecode. Before anything out of line that reads
//! or changes them (a send that misses the method cache, a primitive, a
//! context access, an allocation) the loop writes them back with
//! [`Vm::sync`], and reads them again afterwards with [`Vm::regs`].
//!
//! Invariant: inside a bytecode loop `Regs` is the truth and the `Vm`'s
//! fields are stale between sync points; everywhere else the `Vm`'s fields
//! are the truth. `Vm::bytecode_set` is kept current in both, because the
//! loops leave when it changes.
//!
//! The fast paths here cover what dominates real programs:
//! - pushes and stores;
//! - SmallInteger arithmetic and comparisons (`+`, `-` and comparisons on
//!   the tagged words), and `==` (a comparison followed by a conditional
//!   jump does not push its Boolean);
//! - `at:`, `at:put:` and `size` on Arrays and byte objects when the method
//!   cache says the method is the primitive; the at-cache (`AtEntry`)
//!   remembers that, and the size, for recent receivers;
//! - sends that hit the method cache: a plain activation (the entry
//!   carries the header fields it needs, `FrameShape`), a quick method
//!   (self, a constant or an instance variable, answered without a frame),
//!   a quick setter, a FullBlockClosure's `value...` (its frame built in
//!   the loop), another closure's (straight to its activation), or a
//!   primitive called directly;
//! - returns to a caller frame.
//!
//! Bytecode fetch: the loops fetch from a copy of the active method's
//! bytes padded with sentinels (code.rs), through `Regs::code`, with no
//! check per fetch: a malformed method that runs off its end reads a
//! sentinel, whose arm leaves the loop. Only ips that do not come from the
//! straight-line advance are compared with the copy's length (entering a
//! loop, returns, jumps, activations). Only a collection or a become moves
//! or replaces objects or decommits memory; both run only out of line,
//! through `with_heap_and_roots`, which flushes the cache and the copies
//! (after a scavenge, those that name young objects) and forgets
//! `code_for`, and the loops call `regs` after every
//! out-of-line call. Debug builds check on every fetch that it reads a copy
//! or a sentinel.
//!
//! Sends: the arms that send leave the dispatch with the selector and
//! argument count, so each loop has one copy of the send path (inlined,
//! it is large; a copy per sending bytecode doubled the loop's code and its
//! register spills).
//!
//! Dispatch: the loops match on the bytecode with single-value patterns
//! (`0 | 1 | ... | 15`), not ranges, and list every value (no `_` arm).
//! rustc turns ranges into comparisons tested before the jump table, and a
//! jump table that does not cover all 256 values needs a range check;
//! this way each bytecode costs one indirect jump and nothing before it.
//! With the tail-duplication limits raised in `.cargo/config.toml`, LLVM
//! copies the fetch and that jump into the end of every arm (threaded
//! dispatch: the branch predictor sees one jump per arm instead of one
//! shared by all). It does so only while the dispatch block has no branch
//! (hence the copies, not a checked fetch) and is not its own successor
//! (hence no empty arm: see SistaV1's nop).
//!
//! Register allocation: the loops are one large function, and LLVM's
//! allocation of it moves with almost any change to it. A change that
//! removes instructions from one path can add a spill or a copy to the
//! dispatch (executed for every bytecode) and lose more than it saved.
//! Judge a change to the loops by the instructions per `benchFib:` call
//! and per bytecode of `loop:` (cachegrind, deterministic) and by AWFY
//! runs alternated with the previous build, not by one timing. Measured
//! and given up (each made the counts or the times worse): a 512-way jump
//! table, stack positions as addresses instead of indices, the send path
//! out of line, one header read per send for both the class and the
//! receiver's slot count, basicNew inline in the send path, an inner loop
//! of the hottest bytecodes (to weigh them more in allocation), a single
//! comparison for both stack checks at checkpoints, and a committed read
//! guard past the heap's last object so that the fetch compares the ip
//! with a constant (fewer instructions per call, yet fib 15% slower and
//! AWFY unchanged). A fetch checked against the method's length, which
//! this module had before the copies, does not thread: with the check as
//! a branch LLVM keeps one dispatch; as a conditional move of the address
//! to a sentinel it threads, but the check's extra live values spill and
//! AWFY gained nothing.
//! Threaded, the copies ran AWFY up to 18% faster than that checked fetch
//! (five of eleven benchmarks within noise) and `benchFib:` 18% faster
//! (README, "Performance").
//!
//! Absolute jump tables (a static relocation model) gained nothing while
//! every bytecode went through one shared dispatch jump; with threaded
//! dispatch they save three of each arm's seven dispatch instructions, and
//! `.cargo/rustc-wrapper.sh` builds `sprocket` with them on x86-64 Linux.
//!
//! Also measured and given up, each within noise on average and up to 19%
//! worse on single benchmarks: sends, returns and jumps with their own
//! dispatch jumps (they share one because their checkpoints end in
//! conditional branches, which LLVM does not duplicate into; an experiment
//! without the checkpoints threaded them all and gained nothing), a
//! two-way method cache probed in the loops (it ends a conflict that cost
//! Havlak 1.6 million misses, 3% of its time; the out-of-line miss path
//! now probes a victim entry instead, see `MethodCache`), `r_full_block`
//! inline, `#[cold]` on the slow paths the loops call, profile-guided
//! builds, and directed super sends activated from the SistaV1 loop (1% of
//! Havlak's instructions saved, Richards 4-5% slower through the loop's
//! register allocation, even with the arm reduced to one call; tried again
//! after the dispatch-ip change, Havlak's instructions rose 1.3%: most of
//! its 2.3 million super sends are `super new` and call a primitive, which
//! a plain activation does not cover). Also a path of its own for a loop's
//! backward jump (extB then 237, 49 instructions down to 25; Queens 8%
//! slower), and a 256-entry at-cache per selector (Havlak's misses fell
//! only from 5.1 to 4.7 million: most are receivers seen for the first
//! time).
//!
//! Given up later: a bit in `FrameShape` for methods whose bytecodes can
//! touch receiver variables (the others skip `rcvr_slots_flag`), with
//! `copy_args` unrolled for one argument and the checkpoint testing sp and
//! fp at once (0.3-2.9% fewer instructions on eight benchmarks, 0.3-0.8%
//! more on three, Queens 15% slower in every alternated run), and a call
//! site for `basicNew` of its own beside the block activation's (Queens
//! 11% slower at the same instruction count; `r_fast_primitive` puts both
//! behind one call).
//!
//! Every function is aligned to 64 bytes (`.cargo/config.toml`): the
//! loops' speed depended on their start address modulo 64, which moved
//! with the size of unrelated code (Queens by 10-15%). Where the `Vm`'s
//! fields and the VM's allocations fall still moves single benchmarks by
//! up to 7% (a build that only added a field to `MethodCache` shifted the
//! loops' field offsets by 8 bytes and nothing else), so a change is
//! judged by instruction counts (callgrind) and by all eleven benchmarks.
//!
//! The dispatch's ip: LLVM addressed the arms' operands as "the old ip plus
//! one", which kept both the old and the new ip live across every
//! dispatch. At that pressure (the VM, the stack base, the copy's base,
//! ip, sp, fp and the bytecode twice) any change to an arm could send the
//! frame pointer to memory, with a load before every temporary and
//! receiver access (an at-cache for `at:` did, and Richards ran 6%
//! slower). The dispatch fetch (`r_fetch_opcode`) passes the new ip
//! through `opaque`, which hides that it is the old one plus one.

use super::code::{Code, PAD};
use super::frame::*;
use super::send::{Hit, AT_BYTE, AT_CHAR, AT_SEND, AT_SIZE, AT_SLOT, QUICK_SETTER};
use super::stack::{in_frames, StackWords, MAX_FAST_FETCH};
use super::{Fault, Trace, Vm};
use gc::format;
use gc::specials::closure;
use gc::specials::so;
use gc::Oop;

/// Special selector `==`, and `class`: answered without a send.
pub(crate) const SPECIAL_IDENTICAL: usize = 22;
pub(crate) const SPECIAL_CLASS: usize = 23;

/// Defines a bytecode loop's local macros over its VM (`$vm`, i.e. `self`,
/// whose `budget` the loop counts down) and registers (`$r`), for the loop's bytecode set
/// `$set` and conditional-jump decoder `$jump` (see [`CondJump`]). `$d` must be `$`
/// (nested macro definitions need it). Both loops expand it, so the two
/// bytecode sets share one definition of these steps.
///
/// - `slow!(e)`: runs an out-of-line operation on the synced VM, then takes
///   the registers back; leaves the loop if the bytecode set changed.
/// - `check_set!()`: after a send or return, leaves the loop if the new
///   method uses the other set.
/// - `special!(k)`: special selector `k`, inline when it can be, else a send.
/// - `tick!()`: counts a send, return or backward jump against the budget
///   (the points where the Cog VMs check for events) unless single-stepping,
///   which counts every bytecode.
// rustfmt re-indents the nested `$d` definitions on every run.
#[rustfmt::skip]
macro_rules! bytecode_loop_macros {
    ($d:tt $vm:ident $r:ident $set:path, $jump:path) => {
        macro_rules! slow {
            ($d e:expr) => {{
                $vm.sync(&$r);
                $d e?;
                $r = $vm.regs();
                if $vm.bytecode_set != $set {
                    return Ok($vm.budget);
                }
            }};
        }
        macro_rules! check_set {
            () => {
                if $vm.bytecode_set != $set {
                    $vm.sync(&$r);
                    return Ok($vm.budget);
                }
            };
        }
        macro_rules! special {
            ($d k:expr) => {{
                let k: usize = $d k;
                if $vm.r_special_inline(&mut $r, k, $jump) {
                    // answered inline
                } else if k == SPECIAL_IDENTICAL || k == SPECIAL_CLASS {
                    slow!($vm.identical_or_class(k == SPECIAL_CLASS));
                } else {
                    let (sel, nargs) = $vm.special_selector(k);
                    send!(sel, nargs)
                }
            }};
        }
        macro_rules! method_return {
            ($d v:expr) => {{
                let v = $d v;
                $vm.r_method_return(&mut $r, v)?;
                check_set!();
                tick!();
            }};
        }
        macro_rules! block_return {
            ($d v:expr) => {{
                let v = $d v;
                $vm.r_return(&mut $r, v)?;
                check_set!();
                tick!();
            }};
        }
        macro_rules! tick {
            () => {
                $vm.r_check_stack(&$r);
                if !STEP {
                    $vm.budget -= 1;
                    if $vm.budget == 0 {
                        $vm.sync(&$r);
                        return Ok(0);
                    }
                }
            };
        }
    };
}
pub(crate) use bytecode_loop_macros;

/// A conditional jump bytecode, as a loop's decoder sees it: a comparison
/// followed by one answers its Boolean by jumping or not.
#[derive(Clone, Copy)]
pub(crate) struct CondJump {
    /// Jumps when the Boolean is this.
    pub when: bool,
    /// The offset; for a long jump, its high part: the offset is
    /// `offset * 256` plus the byte after the bytecode.
    pub offset: usize,
    pub long: bool,
}

/// ip, sp, fp and the active method, as the bytecode loops hold them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Regs {
    pub ip: usize,
    pub sp: usize,
    pub fp: usize,
    /// The stack's words (see `stack.rs` for what keeps the loops'
    /// unmasked indices inside it).
    pub words: StackWords,
    /// The fetch base: the active method's copy, or sentinels once the ip
    /// is past it (see code.rs). The copy's length is `Vm::code`'s, in
    /// memory: only jumps and the sentinel's arm read it.
    pub code: *const u8,
}

impl Regs {
    /// Stack word `i`.
    #[inline(always)]
    pub fn w(&self, i: usize) -> u64 {
        self.words.get(i)
    }

    #[inline(always)]
    pub fn set(&self, i: usize, v: u64) {
        self.words.set(i, v)
    }

    /// Pushes copies of the `nargs` arguments on top of the stack (sp is
    /// still the caller's) below `sp`, first argument first: a new frame's
    /// first temporaries (see frame.rs). Answers the new sp.
    #[inline(always)]
    pub fn copy_args(&self, mut sp: usize, nargs: usize) -> usize {
        for k in (0..nargs).rev() {
            sp = down(sp, 1);
            self.set(sp, self.w(up(self.sp, k)));
        }
        sp
    }

    /// The active method: its frame's method slot. Not a register, as
    /// literals are its only frequent use; the fetch reads the copy.
    #[inline(always)]
    pub fn method(&self) -> Oop {
        Oop(self.w(down(self.fp, 1)))
    }

    /// The stack index of the active frame's temporary `i`.
    #[inline(always)]
    pub fn temp_index(&self, i: usize) -> usize {
        temp_slot(self.fp, i)
    }
}

/// `x`, through an empty `asm!` block: LLVM no longer knows how it was
/// computed (see `r_fetch_opcode`). Costs no instruction.
#[inline(always)]
fn opaque(mut x: usize) -> usize {
    // SAFETY: the block is empty (a comment naming `x`'s register): it
    // reads and writes no memory and leaves every register as it was.
    unsafe {
        std::arch::asm!("/* {0} */", inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    x
}

/// Pointer formats other than Context's (indexable with instance
/// variables): the objects whose instance variables the loops read and
/// write directly. A forwarder's format is not among them.
#[inline(always)]
fn plain_pointers(f: u8) -> bool {
    const PLAIN: u32 = 1 << format::ZERO_SIZED
        | 1 << format::FIXED
        | 1 << format::INDEXABLE
        | 1 << format::WEAK
        | 1 << format::EPHEMERON;
    (PLAIN >> (f & 31)) & 1 != 0
}

/// Stack index arithmetic in the loops wraps: between checkpoints a
/// malformed method may move sp below word 0, into the slack (see
/// `stack.rs`), and debug builds must behave as release builds there.
#[inline(always)]
fn up(i: usize, n: usize) -> usize {
    i.wrapping_add(n)
}

#[inline(always)]
fn down(i: usize, n: usize) -> usize {
    i.wrapping_sub(n)
}

/// A malformed method moved sp or fp out of the stack: the VM stops with a
/// fault report (the panic becomes one, see `cli`).
#[cold]
#[inline(never)]
fn stack_out_of_range(method: Oop, ip: usize, sp: usize, fp: usize) -> ! {
    panic!(
        "stack pointer out of range (sp {}, fp {}, method {method:?}, ip {ip}): a malformed method pushed or popped too far",
        sp as isize, fp as isize
    )
}

impl Vm {
    /// The registers, for a bytecode loop to work on.
    #[inline(always)]
    pub(crate) fn regs(&mut self) -> Regs {
        if self.method != self.code_for
            || self.code.set != self.bytecode_set
            || self.heap.code_writes() != self.cache.copies.writes
        {
            self.take_code();
        }
        let r = Regs {
            ip: self.ip,
            sp: self.sp,
            fp: self.fp,
            words: self.stack.words(),
            code: self.code.base_for(self.ip),
        };
        self.r_check_stack(&r);
        r
    }

    /// Takes the active method's copy for `bytecode_set` into `code`,
    /// first dropping every copy if a method's bytes were written.
    #[cold]
    #[inline(never)]
    fn take_code(&mut self) {
        let writes = self.heap.code_writes();
        if writes != self.cache.copies.writes {
            self.cache.flush();
            self.cache.copies.writes = writes;
        }
        self.code = self.code_of(self.method, self.bytecode_set, self.long_fetch);
        // The whole-method copy of `long_fetch` is for one step only.
        self.code_for = if self.long_fetch { Oop(0) } else { self.method };
    }

    /// The copy of `method` to run as `set` (see code.rs): its first
    /// `fetch_len` bytes, or all of them when `whole` (only the active
    /// method's, for one step: see `step_past_copy`; a whole copy in the
    /// method cache would let the loops fetch past `MAX_FAST_FETCH`).
    pub(crate) fn code_of(&mut self, method: Oop, set: gc::method::BytecodeSet, whole: bool) -> Code {
        match self.cache.copies.memo(method) {
            Some(code) if code.set == set && !whole => return code,
            _ => {}
        }
        let len = if whole {
            self.heap.code_len(method)
        } else {
            self.fetch_len(method)
        };
        let shape = super::send::FrameShape::of(self.method_header(method));
        let heap = &self.heap;
        self.cache
            .copies
            .get_or_copy(method, set, shape, whole, || heap.body(method)[..len].to_vec())
    }

    /// The bytes of `method` the loops fetch without a check: its code
    /// size (`Heap::code_len`), at most `MAX_FAST_FETCH` (see `stack.rs`).
    #[inline]
    pub(crate) fn fetch_len(&self, method: Oop) -> usize {
        self.heap.code_len(method).min(MAX_FAST_FETCH)
    }

    /// The copy of a method a return or block activation goes to, from
    /// the copies' memo when it has it; its set comes from its header.
    #[inline(always)]
    pub(crate) fn memo_code(&mut self, method: Oop) -> Code {
        match self.cache.copies.memo(method) {
            Some(code) => code,
            None => self.memo_code_miss(method),
        }
    }

    #[inline(never)]
    fn memo_code_miss(&mut self, method: Oop) -> Code {
        let set = self.method_header(method).bytecode_set();
        self.code_of(method, set, false)
    }

    /// Single-stepping: counts one bytecode against the budget; false when
    /// it is spent.
    #[inline(always)]
    pub(crate) fn take_step(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    /// A checkpoint (see `stack.rs`): sp and fp must be in the frames'
    /// words, or the loops' unmasked stack accesses could leave the stack.
    #[inline(always)]
    pub(crate) fn r_check_stack(&self, r: &Regs) {
        if !(in_frames(r.sp) && in_frames(r.fp)) {
            stack_out_of_range(self.method, r.ip, r.sp, r.fp);
        }
    }

    /// Writes a bytecode loop's registers back into the VM.
    #[inline(always)]
    pub(crate) fn sync(&mut self, r: &Regs) {
        self.ip = r.ip;
        self.sp = r.sp;
        self.fp = r.fp;
        let method = r.method();
        self.method = method;
        // Below the copy's length the fetch base is the copy, which the
        // loops install together with `bytecode_set` and `code.len`
        // (code.rs); past it, `regs` looks the copy up again.
        if r.ip < self.code.len {
            self.code.ptr = r.code;
            self.code.set = self.bytecode_set;
            self.code_for = method;
        } else {
            self.code_for = Oop(0);
        }
    }

    #[inline(always)]
    pub(crate) fn r_fetch(&self, r: &mut Regs) -> u8 {
        let b = self.r_peek(r);
        r.ip += 1;
        b
    }

    /// The next bytecode, for a loop's dispatch. The ip advances through
    /// `opaque`, so that LLVM cannot address the arms' operands as the old
    /// ip plus one and keep both ips live across the dispatch (see the
    /// module's notes on the dispatch's ip).
    #[inline(always)]
    pub(crate) fn r_fetch_opcode(&self, r: &mut Regs) -> u8 {
        let b = self.r_peek(r);
        r.ip = opaque(r.ip + 1);
        b
    }

    /// The next byte, without consuming it.
    #[inline(always)]
    pub(crate) fn r_peek(&self, r: &Regs) -> u8 {
        debug_assert!(self.fetch_in_bounds(r), "fetch outside the copy (ip {})", r.ip);
        // SAFETY: `r.code + r.ip` lies in the active method's copy or its
        // sentinel padding, or in a static run of sentinels (code.rs): the
        // copy stays alive until a flush, which runs only out of line, and
        // the loops take `r.code` from `regs` after anything out of line;
        // every ip not reached by the straight-line advance is compared
        // with the copy's length, and the advance stops at a sentinel.
        unsafe { *r.code.add(r.ip) }
    }

    /// What `r_peek` relies on, checked in debug builds.
    fn fetch_in_bounds(&self, r: &Regs) -> bool {
        let at = r.code.wrapping_add(r.ip);
        let set = self.bytecode_set;
        let pad = super::code::sentinels(set, 0);
        let in_pad = (pad..pad.wrapping_add(PAD)).contains(&at);
        let code = Code {
            ptr: r.code,
            len: self.code.len,
            set,
            shape: super::send::FrameShape::EMPTY,
        };
        // The frame's method, or the one `sync` last saw, as a malformed
        // method can overwrite its frame's method slot.
        in_pad
            || (r.ip < code.len + PAD
                && (self.cache.copies.holds(r.method(), code) || self.cache.copies.holds(self.method, code)))
    }

    /// After a jump: an ip past the copy fetches a sentinel.
    #[inline(always)]
    pub(crate) fn r_jumped(&self, r: &mut Regs) {
        if r.ip >= self.code.len {
            r.code = super::code::sentinels(self.bytecode_set, r.ip);
        }
    }

    /// The sentinel bytecode (code.rs): at an ip inside the copy it is the
    /// method's own unassigned bytecode; past it the loop stops, and
    /// `step_past_copy` runs that ip from the whole method or reports
    /// running off its end.
    #[cold]
    #[inline(never)]
    /// Takes the registers by value: a reference would keep them in memory
    /// throughout the loop.
    pub(crate) fn past_copy(&mut self, mut r: Regs, b: u8) -> Result<(), Fault> {
        if r.ip - 1 < self.code.len {
            self.sync(&r);
            return self.unknown_bytecode(b);
        }
        r.ip -= 1;
        self.sync(&r);
        self.past_copy = true;
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn r_push(&mut self, r: &mut Regs, v: Oop) {
        // Wrapping: a malformed method may push below word 0, into the
        // slack, until the next checkpoint (see stack.rs).
        r.sp = r.sp.wrapping_sub(1);
        r.set(r.sp, v.0);
    }

    #[inline(always)]
    pub(crate) fn r_pop(&self, r: &mut Regs) -> Oop {
        let v = Oop(r.w(r.sp));
        r.sp = up(r.sp, 1);
        v
    }

    /// The top of stack, popped when `pop` (the store-and-pop bytecodes)
    /// or left in place (the store bytecodes).
    #[inline(always)]
    pub(crate) fn r_store_value(&self, r: &mut Regs, pop: bool) -> Oop {
        if pop {
            self.r_pop(r)
        } else {
            self.r_at(r, 0)
        }
    }

    /// pushRemoteTemp: the operands (index in the vector, temp holding the
    /// vector) follow the bytecode, in both sets.
    #[inline(always)]
    pub(crate) fn r_push_remote_temp(&mut self, r: &mut Regs) -> Result<(), Fault> {
        let i = self.r_fetch(r) as usize;
        let t = self.r_fetch(r) as usize;
        let vec = self.r_slot_holder(r, self.r_temp(r, t), i)?;
        let v = self.heap.slot(vec, i);
        self.r_push(r, v);
        Ok(())
    }

    /// storeRemoteTemp (`pop`: storeAndPop), operands as for
    /// `r_push_remote_temp`.
    #[inline(always)]
    pub(crate) fn r_store_remote_temp(&mut self, r: &mut Regs, pop: bool) -> Result<(), Fault> {
        let i = self.r_fetch(r) as usize;
        let t = self.r_fetch(r) as usize;
        let v = self.r_store_value(r, pop);
        let vec = self.r_slot_holder(r, self.r_temp(r, t), i)?;
        self.heap.set_slot(vec, i, v);
        Ok(())
    }

    /// The value `i` below the top (0 is the top).
    #[inline(always)]
    pub(crate) fn r_at(&self, r: &Regs, i: usize) -> Oop {
        Oop(r.w(up(r.sp, i)))
    }

    #[inline(always)]
    pub(crate) fn r_temp(&self, r: &Regs, i: usize) -> Oop {
        Oop(r.w(r.temp_index(i)))
    }

    #[inline(always)]
    pub(crate) fn r_set_temp(&mut self, r: &Regs, i: usize, v: Oop) {
        let idx = r.temp_index(i);
        r.set(idx, v.0);
    }

    #[inline(always)]
    pub(crate) fn r_receiver(&self, r: &Regs) -> Oop {
        Oop(r.w(down(r.fp, 4)))
    }

    #[inline(always)]
    pub(crate) fn r_literal(&self, r: &Regs, i: usize) -> Oop {
        self.heap.slot(r.method(), 1 + i)
    }

    /// The flags bits that record how many of `rcvr`'s slots
    /// `r_receiver_var` may read and `r_store_receiver_var` may write
    /// directly (see `RCVR_SLOTS_SHIFT`).
    #[inline(always)]
    fn rcvr_slots_flag(&self, rcvr: Oop) -> u64 {
        if !rcvr.is_object() {
            return 0;
        }
        let h = self.heap.header(rcvr);
        if plain_pointers(h.format()) && !h.is_immutable() {
            (h.num_slots_field() as u64) << RCVR_SLOTS_SHIFT
        } else {
            0
        }
    }

    /// `slot_holder` for a remote temp vector, with its common case (a
    /// pointer object that is not a forwarder, the index within the
    /// header's count) inline. Syncs the registers before a fault.
    #[inline(always)]
    fn r_slot_holder(&mut self, r: &Regs, obj: Oop, i: usize) -> Result<Oop, Fault> {
        if obj.is_object() {
            let h = self.heap.header(obj);
            if h.format() <= format::EPHEMERON && i < h.num_slots_field() {
                return Ok(obj);
            }
        }
        let held = self.slot_holder(obj, i);
        if held.is_err() {
            self.sync(r);
        }
        held
    }

    /// Instance variable `i` of the receiver. None leaves it to
    /// `receiver_var`: a receiver with Context's format (indexable with
    /// instance variables; a married Context's fields live in its frame), a
    /// forwarder, a non-pointer object or an index past the header's count.
    #[inline(always)]
    pub(crate) fn r_receiver_var(&self, r: &Regs, i: usize) -> Option<Oop> {
        let rcvr = self.r_receiver(r);
        // The slot count the activation recorded (RCVR_SLOTS_SHIFT): no
        // header read. A malformed method may have forged the flags word;
        // the slot read below is still checked against committed memory.
        let known = (r.w(down(r.fp, 3)) >> RCVR_SLOTS_SHIFT) as u8 as usize;
        if i < known {
            return Some(self.heap.slot(rcvr, i));
        }
        if !rcvr.is_object() {
            return None;
        }
        // Pointer objects other than Contexts; a forwarder's format is
        // above EPHEMERON too.
        let h = self.heap.header(rcvr);
        if !plain_pointers(h.format()) || i >= h.num_slots_field() {
            return None;
        }
        Some(self.heap.slot(rcvr, i))
    }

    /// Stores into instance variable `i` of a mutable receiver without
    /// Context's format; false leaves the store to `store_receiver_var`.
    #[inline(always)]
    pub(crate) fn r_store_receiver_var(&mut self, r: &Regs, i: usize, v: Oop) -> bool {
        let rcvr = self.r_receiver(r);
        // As in `r_receiver_var`: the count the activation recorded for a
        // mutable receiver, then the header.
        let known = (r.w(down(r.fp, 3)) >> RCVR_SLOTS_SHIFT) as u8 as usize;
        if i < known {
            self.heap.set_slot(rcvr, i, v);
            return true;
        }
        if !rcvr.is_object() {
            return false;
        }
        let h = self.heap.header(rcvr);
        // Within the slots the header counts (an object with an overflow
        // count, or a malformed index, takes the checked path).
        if h.is_immutable() || !plain_pointers(h.format()) || i >= h.num_slots_field() {
            return false;
        }
        self.heap.set_slot(rcvr, i, v);
        true
    }

    /// SmallInteger arithmetic for special selector `k` (0..16) on `x` and
    /// `y`; None when the answer is not a SmallInteger or needs a send.
    #[inline(always)]
    fn small_int_arith(&self, k: usize, x: Oop, y: Oop) -> Option<Oop> {
        // + and - on the tagged words: (x<<3|1) + (y<<3|1) - 1 is
        // (x+y)<<3|1, and the machine's overflow is SmallInteger overflow.
        let (tx, ty) = (x.0 as i64, y.0 as i64);
        match k {
            0 => match tx.overflowing_add(ty - 1) {
                (v, false) => Some(Oop(v as u64)),
                _ => None,
            },
            1 => match tx.overflowing_sub(ty) {
                (v, false) => Some(Oop((v | 1) as u64)),
                _ => None,
            },
            _ => self.small_int_special_rare(k, x.small_int_value(), y.small_int_value()),
        }
    }

    /// Special selector `k` without a send where possible: SmallInteger
    /// arithmetic and comparisons, `==`, and `at:`, `at:put:` and `size`
    /// (see `r_indexed`). A comparison
    /// followed by a conditional jump (decoded by `jump` for the loop's
    /// bytecode set, see [`CondJump`]) takes the Boolean without
    /// pushing it. False: nothing was done, the loop sends.
    #[inline(always)]
    pub(crate) fn r_special_inline(
        &mut self,
        r: &mut Regs,
        k: usize,
        jump: fn(u8) -> Option<CondJump>,
    ) -> bool {
        let (x, y) = (self.r_at(r, 1), self.r_at(r, 0));
        // Both SmallIntegers: the only tag with its low bit set.
        let ints = x.0 & y.0 & 1 != 0;
        let compared = if k < 16 && ints {
            // Tagged SmallIntegers order as their values do.
            small_int_compare(k, x.0 as i64, y.0 as i64)
        } else if k == SPECIAL_IDENTICAL {
            self.identical(x, y)
        } else {
            None
        };
        if let Some(c) = compared {
            r.sp = up(r.sp, 2);
            match jump(self.r_peek(r)) {
                Some(j) => {
                    r.ip += 1;
                    let off = if j.long {
                        j.offset * 256 + self.r_fetch(r) as usize
                    } else {
                        j.offset
                    };
                    if c == j.when {
                        r.ip += off;
                        self.r_jumped(r);
                    }
                }
                None => self.r_push(r, self.boolean(c)),
            }
            return true;
        }
        if k < 16 && ints {
            if let Some(v) = self.small_int_arith(k, x, y) {
                r.sp = up(r.sp, 1);
                r.set(r.sp, v.0);
                return true;
            }
        }
        (16..=18).contains(&k) && self.r_indexed(r, k)
    }

    /// `x == y` when neither is a forwarder (None: one may be, and
    /// `identical_or_class` follows them).
    #[inline(always)]
    fn identical(&self, x: Oop, y: Oop) -> Option<bool> {
        if x == y {
            Some(true)
        } else if self.heap.is_forwarded(x) || self.heap.is_forwarded(y) {
            None
        } else {
            Some(false)
        }
    }

    /// The selector and argument count of special selector `k`.
    #[inline(always)]
    pub(crate) fn special_selector(&self, k: usize) -> (Oop, usize) {
        let specials = self.heap.special(so::SPECIAL_SELECTORS);
        let sel = self.heap.slot(specials, k * 2);
        let nargs = self.heap.slot(specials, k * 2 + 1).as_small_int().unwrap_or(0) as usize;
        (sel, nargs)
    }

    /// `at:`, `at:put:` and `size` (special selectors 16, 17, 18) on an
    /// Array or a byte object (String, Symbol, ByteArray) with an index in
    /// range, done here when the method a send would run is the matching
    /// primitive (60, 61, 62, or 63 and 64 for Characters in byte objects).
    /// The at-cache (`AtEntry`) says so for recent receivers; for others,
    /// `indexed_kind` looks. False leaves it to the send.
    #[inline(always)]
    pub(crate) fn r_indexed(&mut self, r: &mut Regs, k: usize) -> bool {
        let nargs = match k {
            16 => 1,
            17 => 2,
            _ => 0,
        };
        let rcvr = Oop(r.w(up(r.sp, nargs)));
        let e = self.cache.at_entry(rcvr, k);
        let (kind, size) = if e.rcvr == rcvr.0 {
            (e.kind, e.size)
        } else {
            self.indexed_kind(rcvr, k)
        };
        if kind == AT_SEND {
            return false;
        }
        let v = if k == 18 {
            Oop::small_int(size as i64)
        } else {
            let index = Oop(r.w(up(r.sp, nargs - 1)));
            let i = index.small_int_value();
            if !index.is_small_integer() || i < 1 || i as u64 > size {
                return false;
            }
            let i = i as usize - 1;
            if k == 16 {
                match kind {
                    AT_SLOT => self.heap.slot(rcvr, i),
                    AT_BYTE => Oop::small_int(self.heap.byte_at(rcvr, i) as i64),
                    _ => Oop::character(self.heap.byte_at(rcvr, i) as u32),
                }
            } else {
                let v = Oop(r.w(r.sp));
                match kind {
                    AT_SLOT => self.heap.set_slot(rcvr, i, v),
                    AT_BYTE if v.is_small_integer() && (0..256).contains(&v.small_int_value()) => {
                        self.heap.set_byte_at(rcvr, i, v.small_int_value() as u8)
                    }
                    AT_CHAR if v.is_character() && v.character_value() < 256 => {
                        self.heap.set_byte_at(rcvr, i, v.character_value() as u8)
                    }
                    _ => return false,
                }
                v
            }
        };
        r.sp = up(r.sp, nargs);
        r.set(r.sp, v.0);
        true
    }

    /// What special selector `k` (16, 17 or 18) does on `rcvr` and its
    /// indexable size, noted in the at-cache (see `AtEntry`) when `rcvr`
    /// is an object. `AT_SEND` leaves it to the send: `rcvr` is not an
    /// Array or a byte object, the method a send would run is not the
    /// matching primitive (a method cache hit says which it is, and the
    /// at-cache's class memo remembers it), or `at:put:` meets an
    /// immutable object.
    #[inline(never)]
    fn indexed_kind(&mut self, rcvr: Oop, k: usize) -> (u8, u64) {
        if !rcvr.is_object() {
            return (AT_SEND, 0);
        }
        let (kind, size) = self.indexed_kind_of_object(rcvr, k).unwrap_or((AT_SEND, 0));
        self.cache.note_at(rcvr, k, kind, size);
        (kind, size)
    }

    fn indexed_kind_of_object(&mut self, rcvr: Oop, k: usize) -> Option<(u8, u64)> {
        let h = self.heap.header(rcvr);
        let f = h.format();
        let bytes = (format::BYTES..format::COMPILED_METHOD).contains(&f);
        if f != format::INDEXABLE && !bytes {
            return None;
        }
        let ci = h.class_index();
        let kind = match self.cache.at_class(ci, k) {
            Some(kind) => kind,
            None => {
                let (selector, _) = self.special_selector(k);
                let prim = self.cache.probe(ci as u64 + 1, selector)?.primitive;
                let kind = match (k, bytes, prim) {
                    (18, _, 62) => AT_SIZE,
                    (16, false, 60) | (17, false, 61) => AT_SLOT,
                    (16, true, 60) | (17, true, 61) => AT_BYTE,
                    (16, true, 63) | (17, true, 64) => AT_CHAR,
                    _ => AT_SEND,
                };
                self.cache.note_at_class(ci, k, kind);
                kind
            }
        };
        if kind == AT_SEND || (k == 17 && h.is_immutable()) {
            return None;
        }
        let slots = if h.num_slots_field() != gc::header::OVERFLOW_SLOTS {
            h.num_slots_field()
        } else {
            self.heap.num_slots(rcvr)
        };
        // A byte format's low three bits count the unused bytes of its
        // last word (`Heap::byte_size`, from the header already read).
        let size = if bytes {
            (slots * 8).saturating_sub((f - format::BYTES) as usize)
        } else {
            slots
        };
        Some((kind, size as u64))
    }

    /// A send from a bytecode loop. A cache hit on a method without a
    /// primitive is activated here; everything else goes through `send`.
    #[inline(always)]
    /// `STEP` is the loop's: when not single-stepping, nothing is traced.
    pub(crate) fn r_send<const STEP: bool>(
        &mut self,
        r: &mut Regs,
        selector: Oop,
        nargs: usize,
    ) -> Result<(), Fault> {
        if nargs > 255 {
            // Special selectors' counts come from an array the image may
            // change; the loops' stack accesses rely on this bound (see
            // stack.rs).
            self.sync(r);
            return Err(fault!("a send of {selector:?} with {} arguments", nargs as isize));
        }
        let rcvr = Oop(r.w(up(r.sp, nargs)));
        let key = self.heap.class_index_of(rcvr) as u64 + 1;
        if let Some(hit) = self.cache.probe(key, selector) {
            if !STEP || self.options.trace == Trace::None {
                if hit.primitive == 0 && r.sp >= FRAME_HEADROOM + 64 + nargs {
                    self.r_activate(r, hit, nargs, rcvr);
                    return Ok(());
                }
                if (264..=519).contains(&hit.primitive) {
                    // An instance variable getter, the commonest quick method.
                    if let Some(v) = self.r_quick_getter(rcvr, hit.primitive as usize - 264) {
                        r.sp = up(r.sp, nargs);
                        r.set(r.sp, v.0);
                        return Ok(());
                    }
                } else if (256..=263).contains(&hit.primitive) {
                    // As `quick_primitive_value`: self, true, false, nil,
                    // -1, 0, 1, 2.
                    let v = match hit.primitive {
                        256 => rcvr,
                        257 => self.heap.true_obj(),
                        258 => self.heap.false_obj(),
                        259 => self.heap.nil(),
                        p => Oop::small_int(p as i64 - 261),
                    };
                    r.sp = up(r.sp, nargs);
                    r.set(r.sp, v.0);
                    return Ok(());
                }
                if hit.primitive as usize >= QUICK_SETTER && nargs == 1 {
                    let i = hit.primitive as usize - QUICK_SETTER;
                    if self.quick_set(rcvr, i, Oop(r.w(r.sp))) {
                        r.sp = up(r.sp, 1);
                        return Ok(());
                    }
                }
                if matches!(hit.primitive, 70 | 71 | 207 | 209) {
                    if let Some(done) = self.r_fast_primitive(*r, rcvr, nargs, hit.primitive) {
                        *r = done;
                        return Ok(());
                    }
                }
                self.sync(r);
                // value, value:... of a closure: straight to its activation.
                let closure_slots = Vm::closure_value_min_slots(hit.primitive);
                match closure_slots {
                    Some(n) if self.closure_value_failure(rcvr, nargs, n).is_none() => {
                        self.activate_closure(rcvr, nargs)?
                    }
                    _ => self.execute_cached(hit.method, hit.primitive as usize, nargs)?,
                }
                *r = self.regs();
                return Ok(());
            }
        }
        self.sync(r);
        self.send(selector, nargs)?;
        *r = self.regs();
        Ok(())
    }

    /// The primitives the send path runs without syncing the registers,
    /// behind one call (so that the loops' code around it does not change
    /// with them): `basicNew`/`basicNew:` and a FullBlockClosure's
    /// `value...`. Answers the registers after the primitive, or None for
    /// the general path.
    #[inline(never)]
    fn r_fast_primitive(&mut self, r: Regs, rcvr: Oop, nargs: usize, prim: u32) -> Option<Regs> {
        // Two tail calls: no registers to save here.
        if prim >= 207 {
            self.r_full_block(r, rcvr, nargs)
        } else {
            self.r_basic_new(r, rcvr, nargs, prim)
        }
    }

    /// `basicNew` and `basicNew:` (the primitives 70 and 71) of a class
    /// `basic_new` has seen before, when the instance fits in eden: the
    /// checks `basic_new` makes, without syncing the registers. None leaves
    /// the send to `execute_cached` (which also signals low space, and
    /// only old-space allocation can bring that about).
    #[inline(never)]
    fn r_basic_new(&mut self, r: Regs, class: Oop, nargs: usize, prim: u32) -> Option<Regs> {
        let n = match (prim, nargs) {
            (70, 0) => 0,
            (71, 1) => usize::try_from(Oop(r.w(r.sp)).as_small_int()?).ok()?,
            _ => return None,
        };
        if !self.cache.known_class(class) {
            return None;
        }
        let (ci, spec, fixed) = self.instance_spec(class, prim == 71)?;
        let o = self.heap.instantiate_young(ci, spec, fixed, n)?;
        let sp = up(r.sp, nargs);
        r.set(sp, o.0);
        Some(Regs { sp, ..r })
    }

    /// A quick setter: stores `v` in instance variable `i` of `rcvr`
    /// unless the store needs the general path (an immutable receiver gets
    /// `attemptToAssign:withIndex:`, a Context's fields may be in its frame).
    #[inline(never)]
    fn quick_set(&mut self, rcvr: Oop, i: usize, v: Oop) -> bool {
        if !rcvr.is_object() {
            return false;
        }
        let h = self.heap.header(rcvr);
        let f = h.format();
        if h.is_immutable()
            || f > format::EPHEMERON
            || f == format::FIXED_INDEXABLE
            || i >= self.heap.num_slots(rcvr)
        {
            return false;
        }
        self.heap.set_slot(rcvr, i, v);
        true
    }

    /// Quick primitive 264 + `i` (answer instance variable `i`) inline, as
    /// `quick_primitive_value` answers it; None leaves it to the general
    /// path.
    #[inline(always)]
    fn r_quick_getter(&self, rcvr: Oop, i: usize) -> Option<Oop> {
        if !rcvr.is_object() {
            return None;
        }
        let h = self.heap.header(rcvr);
        let f = h.format();
        // Pointer formats other than Context's, and within the fixed slots
        // (a getter's index is below 256, so the overflow count is moot).
        if f > format::EPHEMERON || f == format::FIXED_INDEXABLE || i >= h.num_slots_field() {
            return None;
        }
        Some(self.heap.slot(rcvr, i))
    }

    /// `value...` of a FullBlockClosure (the primitives 207 and 209), with
    /// the closure and `nargs` arguments on the stack: activates its
    /// CompiledBlock as `activate_closure` would, without syncing the
    /// registers. None leaves the send to the general path (another
    /// argument count, an odd closure, a stack about to spill).
    #[inline(never)]
    fn r_full_block(&mut self, r: Regs, cl: Oop, nargs: usize) -> Option<Regs> {
        // Room for the frame, the copied arguments and up to 64 copied
        // values (checked below).
        if !cl.is_object() || r.sp < FRAME_HEADROOM + 128 + nargs {
            return None;
        }
        // The closure's fields come with one range check (`slot_words`), not
        // one per read. An overflow count (255) fails the bound on copied
        // values.
        let n = self.heap.header(cl).num_slots_field();
        let ncopied = n.checked_sub(closure::FULL_FIRST_COPIED_VALUE)?;
        if ncopied > 64 {
            return None;
        }
        let fields = self.heap.slot_words(cl, n);
        let code = Oop(fields[closure::START_PC_OR_METHOD]);
        if !code.is_object() || fields[closure::NUM_ARGS] != Oop::small_int(nargs as i64).0 {
            return None;
        }
        // The CompiledBlock's copy, with its header's fields (`Code::shape`):
        // from the memo, no header read.
        let Some(copy) = self.cache.copies.memo(code) else {
            // Fills the memo; the second attempt finds the copy there.
            self.block_code_miss(code)?;
            return self
                .cache
                .copies
                .memo(code)
                .and_then(|_| self.r_full_block(r, cl, nargs));
        };
        let shape = copy.shape;
        let rcvr = Oop(fields[closure::FULL_RECEIVER]);
        let fp = down(r.sp, 2);
        r.set(up(fp, 1), r.ip as u64);
        r.set(fp, r.fp as u64);
        r.set(down(fp, 1), code.0);
        r.set(down(fp, 2), 0);
        r.set(down(fp, 4), rcvr.0);
        // One argument (`value:`, `do:`'s blocks) without the loop's setup.
        let mut sp = if nargs == 1 {
            r.set(down(fp, 5), r.w(r.sp));
            down(fp, 5)
        } else {
            r.copy_args(down(fp, 4), nargs)
        };
        for &v in &fields[closure::FULL_FIRST_COPIED_VALUE..] {
            sp = down(sp, 1);
            r.set(sp, v);
        }
        let slots_flag = self.rcvr_slots_flag(rcvr);
        r.set(
            down(fp, 3),
            nargs as u64 | FLAG_BLOCK | set_flag_for(copy.set) | slots_flag,
        );
        let nil = self.nil().0;
        for _ in (nargs + ncopied)..shape.num_temps() {
            sp = down(sp, 1);
            r.set(sp, nil);
        }
        let ip = shape.initial_pc();
        self.code.len = copy.len;
        self.bytecode_set = copy.set;
        // A new value, not `r` with its fields set: LLVM then writes each
        // field once into the result, instead of storing into `r` and
        // copying it with wider loads that wait for those stores.
        Some(Regs {
            ip,
            sp,
            fp,
            words: r.words,
            code: copy.base_for(ip),
        })
    }

    /// Puts the copy of a block the memo does not hold into the memo for
    /// `r_full_block`: None when `code` is not a CompiledMethod or
    /// CompiledBlock.
    #[cold]
    #[inline(never)]
    fn block_code_miss(&mut self, code: Oop) -> Option<()> {
        if !format::is_compiled_method(self.heap.format(code)) {
            return None;
        }
        self.memo_code_miss(code);
        Some(())
    }

    /// Pushes a frame for `m`, whose receiver and arguments are on the
    /// stack (the layout is `frame.rs`'s; `activate_method` is the general
    /// version, with primitive failure codes).
    #[inline(always)]
    fn r_activate(&mut self, r: &mut Regs, hit: Hit, nargs: usize, rcvr: Oop) {
        // The header fields come with the cache entry (`FrameShape`).
        let shape = hit.shape;
        let fp = down(r.sp, 2);
        r.set(up(fp, 1), r.ip as u64);
        r.set(fp, r.fp as u64);
        r.set(down(fp, 1), hit.method.0);
        r.set(down(fp, 2), 0);
        let set = shape.bytecode_set();
        r.set(
            down(fp, 3),
            nargs as u64 | set_flag_for(set) | self.rcvr_slots_flag(rcvr),
        );
        r.set(down(fp, 4), rcvr.0);
        let mut sp = r.copy_args(down(fp, 4), nargs);
        let nil = self.nil().0;
        for _ in nargs..shape.num_temps() {
            sp = down(sp, 1);
            r.set(sp, nil);
        }
        r.fp = fp;
        r.sp = sp;
        r.ip = shape.initial_pc();
        r.code = hit.code;
        self.code.len = hit.code_len as usize;
        self.bytecode_set = set;
    }

    /// Returns `value` from the active frame to its caller: here when the
    /// caller is a frame and no Context is married to the returning frame,
    /// else through `return_value`.
    #[inline(always)]
    pub(crate) fn r_return(&mut self, r: &mut Regs, value: Oop) -> Result<(), Fault> {
        let fp = r.fp;
        let caller_fp = r.w(fp);
        // A caller fp outside the frames (a malformed method overwrote it)
        // takes the general path, which indexes the stack modulo its size.
        if r.w(down(fp, 2)) == 0 && in_frames(caller_fp as usize) {
            let caller_fp = caller_fp as usize;
            let caller_flags = r.w(down(caller_fp, 3));
            if caller_flags & FLAG_DISCARD_RESULT == 0 {
                let nargs = (r.w(down(fp, 3)) & 0xff) as usize;
                r.ip = r.w(up(fp, 1)) as usize;
                r.sp = up(fp, 2 + nargs);
                r.set(r.sp, value.0);
                r.fp = caller_fp;
                // Not the caller's flags word: a malformed method may have
                // overwritten it (see stack.rs); the copy comes with its
                // length and set.
                let copy = self.memo_code(r.method());
                r.code = copy.base_for(r.ip);
                self.code.len = copy.len;
                self.bytecode_set = copy.set;
                return Ok(());
            }
        }
        self.sync(r);
        self.return_value(value)?;
        *r = self.regs();
        Ok(())
    }

    /// `^ value`: from a method, a return to its caller; from a block, a
    /// non-local return.
    #[inline(always)]
    pub(crate) fn r_method_return(&mut self, r: &mut Regs, value: Oop) -> Result<(), Fault> {
        if r.w(down(r.fp, 3)) & FLAG_BLOCK == 0 {
            return self.r_return(r, value);
        }
        self.sync(r);
        self.non_local_return(value)?;
        *r = self.regs();
        Ok(())
    }

    /// Pops the top and jumps `off` bytes when it is `cond`; a non-Boolean
    /// is sent `mustBeBoolean`.
    #[inline(always)]
    pub(crate) fn r_jump_if(&mut self, r: &mut Regs, cond: bool, off: usize) -> Result<(), Fault> {
        let v = self.r_pop(r);
        if v == self.boolean(cond) {
            r.ip = r.ip.wrapping_add(off);
            self.r_jumped(r);
        } else if v != self.boolean(!cond) {
            r.sp = down(r.sp, 1);
            self.sync(r);
            self.must_be_boolean()?;
            *r = self.regs();
        }
        Ok(())
    }
}

/// The Boolean answer of SmallInteger comparison special selectors
/// (`<` `>` `<=` `>=` `=` `~=`, special selector indices 2..7).
#[inline(always)]
pub(crate) fn small_int_compare(k: usize, x: i64, y: i64) -> Option<bool> {
    match k {
        2 => Some(x < y),
        3 => Some(x > y),
        4 => Some(x <= y),
        5 => Some(x >= y),
        6 => Some(x == y),
        7 => Some(x != y),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use gc::Oop;

    /// Overwrites the running method's bytes from its ip on with `code`
    /// repeated, and runs the loop: the rewritten bytes run (the heap
    /// reports the write and the copies are taken again), and the fault
    /// the loop stops with is answered.
    fn run_rewritten(code: &[u8]) -> String {
        let mut vm = crate::interp::kernel_vm_after(200);
        assert_eq!(vm.bytecode_set, gc::method::BytecodeSet::SistaV1);
        let m = vm.method;
        let len = vm.heap.code_len(m);
        assert!(len < super::MAX_FAST_FETCH);
        for (k, ip) in (vm.ip..len).enumerate() {
            vm.heap.set_byte_at(m, ip, code[k % code.len()]);
        }
        let err = vm.run_slice(100_000).expect_err("the loop stops with a fault");
        err.message().to_string()
    }

    /// A method with no return runs off its end: the loop stops at the
    /// sentinel after the copy with a report, instead of fetching what
    /// follows the method.
    #[test]
    fn a_method_that_runs_off_its_end_is_reported() {
        // push nil, pop (SistaV1)
        let msg = run_rewritten(&[79, 216]);
        assert!(msg.contains("ran past the end"), "{msg}");
    }

    /// The sentinel's value inside a method is that set's unassigned
    /// bytecode, reported as such.
    #[test]
    fn the_sentinel_inside_a_method_is_an_unknown_bytecode() {
        let msg = run_rewritten(&[crate::interp::code::sentinel(gc::method::BytecodeSet::SistaV1)]);
        assert_eq!(msg, "unknown bytecode 236");
    }

    /// The fetch reads the method's bytes from its copy, and past the copy
    /// (a malformed method running off its end, or a jump out of it)
    /// reads its set's sentinel, not whatever follows.
    #[test]
    fn fetch_inside_and_past_the_copy() {
        let mut vm = crate::interp::kernel_vm_after(0);
        let mut r = vm.regs();
        let len = vm.fetch_len(r.method());
        assert_eq!(vm.code.len, len);
        for ip in [r.ip, len - 1] {
            r.ip = ip;
            assert_eq!(vm.r_peek(&r), vm.heap.byte_at(r.method(), ip), "ip {ip}");
        }
        let sentinel = crate::interp::code::sentinel(vm.bytecode_set);
        // The straight-line advance reads the padding after the copy.
        for ip in len..len + crate::interp::code::PAD {
            r.ip = ip;
            assert_eq!(vm.r_peek(&r), sentinel, "ip {ip}");
        }
        // A jump far past it reads the static sentinels.
        r.ip = len + 1000;
        vm.r_jumped(&mut r);
        assert_eq!(vm.r_peek(&r), sentinel);
        // So does a loop entered there.
        vm.ip = len + 1000;
        vm.code_for = gc::Oop(0);
        let r = vm.regs();
        assert_eq!(vm.r_peek(&r), sentinel);
        let mut r = r;
        r.ip = vm.ip;
        let before = r.ip;
        let b = vm.r_fetch(&mut r);
        assert_eq!((b, r.ip), (sentinel, before + 1));
    }

    /// Quick primitives answer constants and instance variables, but not
    /// the fields of a Context married to a frame (they live in the frame).
    #[test]
    fn quick_primitives_leave_married_contexts_alone() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let rcvr = vm.receiver();
        assert_eq!(vm.quick_primitive_value(rcvr, 256), Some(rcvr));
        assert_eq!(vm.quick_primitive_value(rcvr, 259), Some(vm.heap.nil()));
        assert_eq!(
            vm.quick_primitive_value(Oop::small_int(5), 262),
            Some(Oop::small_int(1))
        );
        assert_eq!(vm.quick_primitive_value(Oop::small_int(5), 264), None);
        let ctx = vm.frame_context(vm.fp).unwrap();
        assert!(vm.is_married(ctx));
        assert_eq!(
            vm.quick_primitive_value(ctx, 264),
            None,
            "sender of a married context"
        );
        let array = vm.new_array(2).unwrap();
        assert_eq!(vm.quick_primitive_value(array, 264), Some(vm.heap.nil()));
        assert_eq!(vm.quick_primitive_value(array, 266), None, "past the last field");
    }

    /// Rewrites the active method from the ip on as `body` followed by a
    /// backward jump to it, then runs: a malformed method that pushes or
    /// pops forever must stop at a checkpoint with a report (see
    /// stack.rs), not write outside the stack.
    fn run_endless(body: &[u8]) -> String {
        // body, then extB -1 and jump: back over the jump's 4 bytes and body.
        let back = (256 - 4 - body.len()) as u8;
        let code: Vec<u8> = body.iter().copied().chain([225, 255, 237, back]).collect();
        run_code(&code)
    }

    /// Writes `code` into the active method at the ip and runs until the
    /// loop panics; answers the panic message.
    fn run_code(code: &[u8]) -> String {
        let mut vm = crate::interp::kernel_vm_after(200);
        // On to a SistaV1 method with room for the code after the ip.
        for _ in 0..100_000 {
            let room = vm.heap.code_len(vm.method).saturating_sub(vm.ip);
            if vm.bytecode_set == gc::method::BytecodeSet::SistaV1 && room >= code.len() {
                break;
            }
            vm.step().unwrap();
        }
        let (m, ip) = (vm.method, vm.ip);
        assert!(
            vm.heap.code_len(m) >= ip + code.len(),
            "the method is long enough"
        );
        vm.heap.bytes_mut(m)[ip..ip + code.len()].copy_from_slice(code);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vm.run_sista::<false>(u32::MAX)));
        let panic = outcome.expect_err("the loop cannot end normally");
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn endless_pushes_stop_at_a_checkpoint() {
        let msg = run_endless(&[79]); // pushNil
        assert!(msg.contains("stack pointer out of range"), "{msg}");
    }

    /// A conditional jump whose extension wraps its offset negative is a
    /// backward jump, and so a checkpoint.
    #[test]
    fn wrapped_conditional_jumps_are_checkpoints() {
        // pushNil, pushTrue, extB 0x01ff_ffff_ffff_ffff (shifted: -256),
        // jumpTrue 236 - 256 = -20: back to the pushNil, forever.
        let mut code = vec![79, 77, 225, 1];
        code.extend([225, 255].repeat(7));
        code.extend([238, 236]);
        assert_eq!(code.len(), 20);
        let msg = run_code(&code);
        assert!(msg.contains("stack pointer out of range"), "{msg}");
    }

    #[test]
    fn endless_pops_stop_at_a_checkpoint() {
        let msg = run_endless(&[216]); // pop
        assert!(msg.contains("stack pointer out of range"), "{msg}");
    }

    /// Random SistaV1 code that pushes, pops, stores, jumps, returns and
    /// computes (no sends of literal selectors, which could do anything):
    /// whatever it does, the loop never indexes outside the stack's
    /// allocation (debug builds assert every unmasked index, see stack.rs).
    /// Faults and panics of other kinds are expected: the code is garbage.
    #[test]
    fn random_code_stays_inside_the_stack() {
        const ALPHABET: &[u8] = &[
            0, 1, 2, 15, 64, 65, 66, 70, 75, 76, 77, 78, 79, 80, 81, 83, 88, 89, 90, 91, 92, 93, 94, 96, 97,
            98, 99, 100, 101, 102, 103, 118, 176, 180, 183, 184, 188, 192, 199, 200, 201, 207, 208, 209, 215,
            216, 216, 216, 224, 225, 225, 229, 232, 237, 238, 239, 242, 245,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..400 {
            let mut vm = crate::interp::kernel_vm_after(200);
            let (m, ip) = (vm.method, vm.ip);
            let end = vm.heap.code_len(m);
            for b in &mut vm.heap.bytes_mut(m)[ip..end] {
                let r = next();
                // Mostly the alphabet; now and then any byte as an operand.
                *b = if r % 4 == 0 {
                    (r >> 8) as u8
                } else {
                    ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                };
            }
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vm.run_sista::<false>(5_000)));
            if let Err(panic) = outcome {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                assert!(!msg.contains("unmasked stack index"), "case {case}: {msg}");
            }
        }
    }

    /// Sums and differences of tagged words overflow exactly where
    /// SmallIntegers end, and comparisons of tagged words order as the
    /// values do.
    #[test]
    fn tagged_small_integer_arithmetic_at_the_edges() {
        use gc::oop::{SMALL_INTEGER_MAX as MAX, SMALL_INTEGER_MIN as MIN};
        let vm = crate::interp::kernel_vm_after(0);
        let i = Oop::small_int;
        let add = |x, y| vm.small_int_arith(0, i(x), i(y)).map(|o| o.small_int_value());
        let sub = |x, y| vm.small_int_arith(1, i(x), i(y)).map(|o| o.small_int_value());
        assert_eq!(add(3, 4), Some(7));
        assert_eq!(add(-3, -4), Some(-7));
        assert_eq!(add(MAX - 1, 1), Some(MAX));
        assert_eq!(add(MAX, 1), None);
        assert_eq!(add(MIN, -1), None);
        assert_eq!(add(MIN, MAX), Some(-1));
        assert_eq!(sub(3, 4), Some(-1));
        assert_eq!(sub(MIN + 1, 1), Some(MIN));
        assert_eq!(sub(MIN, 1), None);
        assert_eq!(sub(MAX, -1), None);
        assert_eq!(sub(0, MIN), None);
        assert_eq!(sub(-1, MIN), Some(MAX));
        for (x, y) in [(3, 4), (-3, 4), (MIN, MAX), (MAX, MAX), (-1, 0)] {
            let (tx, ty) = (i(x).0 as i64, i(y).0 as i64);
            for k in 2..=7 {
                assert_eq!(
                    super::small_int_compare(k, tx, ty),
                    super::small_int_compare(k, x, y),
                    "{k} {x} {y}"
                );
            }
        }
    }

    /// The header fields cache entries carry for activations match every
    /// method's header.
    #[test]
    fn frame_shapes_match_method_headers() {
        let vm = crate::interp::kernel_vm_after(0);
        let methods: Vec<Oop> = vm
            .heap
            .objects()
            .filter(|&o| gc::format::is_compiled_method(vm.heap.format(o)))
            .collect();
        assert!(methods.len() > 500, "the kernel has methods");
        for m in methods {
            let h = vm.method_header(m);
            let shape = crate::interp::send::FrameShape::of(h);
            assert_eq!(shape.num_temps(), h.num_temps(), "{m:?}");
            assert_eq!(shape.initial_pc(), h.initial_pc(), "{m:?}");
            assert_eq!(shape.bytecode_set(), h.bytecode_set(), "{m:?}");
        }
    }
}
