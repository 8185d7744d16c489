//! The interpreter: a StackInterpreter-style bytecode VM over the Spur heap.

/// A [`Fault`] from a format string: `Err(fault!("bad {x}"))`.
macro_rules! fault {
    ($($t:tt)*) => {
        $crate::interp::Fault::from(format!($($t)*))
    };
}

mod code;
pub mod contexts;
pub mod frame;
pub mod processes;
mod regs;
pub mod roots;
pub mod send;
pub mod sista;
pub mod stack;
pub mod v3;

use frame::*;
use gc::method::{BytecodeSet, MethodHeader};
use gc::specials::{context, so};
use gc::{Heap, Oop};
use images::ImageHeader;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

/// Why the interpreter stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The image asked to quit with this exit code.
    Quit(i32),
    /// The time limit passed.
    Timeout,
    /// No process can run and nothing can wake one.
    Deadlock,
}

/// A fault inside the VM: reported with where it happened.
#[derive(Debug, Clone)]
pub struct VmError {
    pub message: String,
    /// Where: the bytecode or primitive and the method.
    pub location: String,
    /// The Smalltalk stack of the active process, innermost first.
    pub stack: Vec<String>,
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "VM fault: {}", self.message)?;
        writeln!(f, "  at {}", self.location)?;
        for line in &self.stack {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

/// What to trace to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trace {
    #[default]
    None,
    Sends,
    Bytecodes,
}

/// Settings for a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Arguments the image sees after the image name (getSystemAttribute 2, 3, ...).
    pub image_args: Vec<String>,
    /// Path of the image file (attribute 1, and where snapshots go).
    pub image_path: PathBuf,
    /// The VM's own path (attribute 0).
    pub vm_path: String,
    pub trace: Trace,
    /// Stop after this many seconds.
    pub timeout_secs: Option<f64>,
    /// The garbage collector's settings (eden size, checking modes, log).
    pub gc: gc::GcConfig,
}

/// Counters for benchmarks and traces.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub spills: u64,
}

/// The virtual machine: heap, stack, registers and caches.
pub struct Vm {
    pub heap: Heap,
    /// The header the image was loaded with; snapshots reuse its settings.
    pub image_header: ImageHeader,
    pub options: RunOptions,
    pub(crate) stack: Stack,
    /// Frame pointer of the active frame.
    pub(crate) fp: usize,
    /// Stack pointer: index of the top of stack (grows down).
    pub(crate) sp: usize,
    /// Byte offset of the next bytecode from the start of the method's body.
    pub(crate) ip: usize,
    pub(crate) method: Oop,
    pub(crate) bytecode_set: BytecodeSet,
    pub(crate) cache: send::MethodCache,
    /// The copy of the active method the bytecode loops fetch from (see
    /// code.rs), for `bytecode_set`.
    pub(crate) code: code::Code,
    /// The method `code` was taken for; `Oop(0)` when it must be looked up
    /// again (objects may have moved, or the ip was past the copy).
    pub(crate) code_for: Oop,
    /// Set by a loop that stopped at an ip past the active method's copy
    /// (see `Vm::past_copy`); the caller runs that bytecode with
    /// `step_past_copy`.
    pub(crate) past_copy: bool,
    /// `regs` takes the whole method's copy, not one capped at
    /// `MAX_FAST_FETCH` (one bytecode at a time, see `step_past_copy`).
    pub(crate) long_fetch: bool,
    /// The bytecode loops' event budget (see `tick!` in regs.rs): in
    /// memory, as it is touched only at sends, returns and backward jumps,
    /// which leaves the loops one more register. Each loop sets it on
    /// entry, so a loop must not run another inside it (`Vm::step` from an
    /// arm would leave it 0).
    pub(crate) budget: u32,
    pub counters: Counters,
    pub(crate) quit: Option<i32>,
    pub(crate) started: Instant,
    /// Semaphore to signal at a time (µs, Smalltalk epoch), from primitive 242/136.
    pub(crate) timer: Option<(Oop, u64)>,
    /// External semaphore indices signalled from outside the interpreter.
    pub(crate) pending_signals: Vec<usize>,
    /// Open files for the FilePlugin, indexed by handle id.
    pub(crate) files: crate::primitives::files::FileTable,
}

/// Not a fault: the image quit (the code is in `Vm::quit`) and the
/// interpreter loop must stop at once.
pub const QUIT: &str = "quit";

/// An error inside a primitive or bytecode that is a VM fault (not a
/// primitive failure the image can handle). Boxed, so that the
/// `Result<(), Fault>` every bytecode returns fits in a register.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::box_collection)] // one pointer wide on purpose (see above)
pub struct Fault(Box<String>);

impl Fault {
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl From<String> for Fault {
    fn from(s: String) -> Fault {
        Fault(Box::new(s))
    }
}

impl From<&str> for Fault {
    fn from(s: &str) -> Fault {
        Fault(Box::new(s.to_string()))
    }
}

impl PartialEq<&str> for Fault {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl std::ops::Deref for Fault {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Vm {
    /// Prepares a VM on a loaded heap: the active process's context becomes
    /// the first frame.
    pub fn new(heap: Heap, image_header: ImageHeader, options: RunOptions) -> Result<Vm, VmError> {
        let mut vm = Vm {
            heap,
            image_header,
            options,
            stack: Stack::new(),
            fp: STACK_WORDS,
            sp: STACK_WORDS,
            ip: 0,
            method: Oop(0),
            bytecode_set: BytecodeSet::V3PlusClosures,
            cache: send::MethodCache::new(),
            code: code::NO_CODE,
            code_for: Oop(0),
            past_copy: false,
            long_fetch: false,
            budget: 0,
            counters: Counters::default(),
            quit: None,
            started: Instant::now(),
            timer: None,
            pending_signals: Vec::new(),
            files: Default::default(),
        };
        let config = vm.options.gc.clone();
        vm.heap
            .set_gc_config(config)
            .map_err(|e| vm.fault_error(format!("cannot set up new space: {e}")))?;
        let proc = vm.active_process();
        let ctx = vm.heap.slot(proc, gc::specials::process::SUSPENDED_CONTEXT);
        if !ctx.is_object() || ctx == vm.heap.nil() {
            return Err(vm.fault_error("the active process has no suspended context"));
        }
        vm.heap
            .set_slot(proc, gc::specials::process::SUSPENDED_CONTEXT, vm.heap.nil());
        vm.load_context(ctx).map_err(|e| vm.fault_error(e))?;
        Ok(vm)
    }

    // ----- stack access ----------------------------------------------------

    #[inline(always)]
    pub(crate) fn push(&mut self, v: Oop) {
        self.sp -= 1;
        self.stack[self.sp] = v.0;
    }

    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Oop {
        let v = Oop(self.stack[self.sp]);
        self.sp += 1;
        v
    }

    #[inline]
    pub(crate) fn pop_n(&mut self, n: usize) {
        self.sp += n;
    }

    #[inline(always)]
    pub(crate) fn top(&self) -> Oop {
        Oop(self.stack[self.sp])
    }

    /// The value `i` below the top (0 is the top).
    #[inline(always)]
    pub(crate) fn stack_value(&self, i: usize) -> Oop {
        Oop(self.stack[self.sp + i])
    }

    #[inline]
    pub(crate) fn set_stack_value(&mut self, i: usize, v: Oop) {
        self.stack[self.sp + i] = v.0;
    }

    #[inline]
    pub(crate) fn fslot(&self, fp: usize, off: isize) -> u64 {
        self.stack[(fp as isize + off) as usize]
    }

    #[inline]
    pub(crate) fn set_fslot(&mut self, fp: usize, off: isize, v: u64) {
        self.stack[(fp as isize + off) as usize] = v;
    }

    #[inline(always)]
    pub(crate) fn frame_num_args(&self, fp: usize) -> usize {
        (self.fslot(fp, FLAGS) & 0xff) as usize
    }

    #[inline]
    pub(crate) fn frame_is_block(&self, fp: usize) -> bool {
        self.fslot(fp, FLAGS) & FLAG_BLOCK != 0
    }

    #[inline]
    pub(crate) fn frame_method(&self, fp: usize) -> Oop {
        Oop(self.fslot(fp, METHOD))
    }

    #[inline]
    pub(crate) fn frame_receiver(&self, fp: usize) -> Oop {
        Oop(self.fslot(fp, RECEIVER))
    }

    /// Index of temporary `i` of the frame (arguments first).
    #[inline(always)]
    pub(crate) fn temp_index(&self, fp: usize, i: usize) -> usize {
        temp_slot(fp, i)
    }

    #[inline(always)]
    pub(crate) fn receiver(&self) -> Oop {
        Oop(self.stack[self.fp - 4])
    }

    #[inline]
    pub(crate) fn is_base_frame(&self, fp: usize) -> bool {
        self.fslot(fp, CALLER_FP) == BASE_FRAME
    }

    // ----- method access ---------------------------------------------------

    #[inline(always)]
    pub(crate) fn literal(&self, i: usize) -> Oop {
        self.heap.slot(self.method, 1 + i)
    }

    #[inline]
    pub(crate) fn method_header(&self, m: Oop) -> MethodHeader {
        MethodHeader::from_oop(self.heap.slot(m, 0)).unwrap_or(MethodHeader(0))
    }

    // ----- well-known objects ----------------------------------------------

    #[inline]
    pub(crate) fn nil(&self) -> Oop {
        self.heap.nil()
    }

    #[inline]
    pub(crate) fn boolean(&self, b: bool) -> Oop {
        self.heap.boolean(b)
    }

    pub(crate) fn scheduler(&self) -> Oop {
        let assoc = self.heap.special(so::SCHEDULER_ASSOCIATION);
        self.heap.slot(assoc, gc::specials::association::VALUE)
    }

    pub(crate) fn active_process(&self) -> Oop {
        self.heap
            .slot(self.scheduler(), gc::specials::scheduler::ACTIVE_PROCESS)
    }

    // ----- running ---------------------------------------------------------

    /// Runs until the image quits, the timeout passes, or a fault.
    pub fn run(&mut self) -> Result<StopReason, VmError> {
        let deadline = self
            .options
            .timeout_secs
            .map(|s| self.started + std::time::Duration::from_secs_f64(s));
        loop {
            if let Some(code) = self.quit {
                return Ok(StopReason::Quit(code));
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Ok(StopReason::Timeout);
                }
            }
            // Counted in sends, returns and backward jumps (see run_sista).
            let slice = if self.options.gc.stress.is_some() {
                10
            } else {
                2_000
            };
            let r = self
                .poll_events()
                .and_then(|()| self.collect_if_requested())
                .and_then(|()| self.run_slice(slice));
            match r {
                Ok(()) => {}
                Err(e) if e == QUIT => {}
                Err(e) if e == processes::DEADLOCK => return Ok(StopReason::Deadlock),
                Err(e) => return Err(self.fault_error(e)),
            }
        }
    }

    /// The safe point: a collection the allocator asked for runs here.
    #[inline]
    fn collect_if_requested(&mut self) -> Result<(), Fault> {
        if self.heap.gc_requested().is_some() {
            self.collect_garbage(None)?;
        }
        self.signal_low_space_if_due()
    }

    /// Runs up to `n` bytecodes. Quitting ends the slice with [`QUIT`].
    fn run_slice(&mut self, mut n: u32) -> Result<(), Fault> {
        if self.options.trace != Trace::None {
            for _ in 0..n {
                if self.options.trace == Trace::Bytecodes {
                    let b = self.heap.byte_at(self.method, self.ip);
                    eprintln!(
                        "{:6} {:3} sp={} {}",
                        self.ip,
                        b,
                        self.sp,
                        self.method_name(self.method)
                    );
                }
                self.step()?;
            }
            return Ok(());
        }
        while n > 0 {
            n = match self.bytecode_set {
                BytecodeSet::V3PlusClosures => self.run_v3::<false>(n)?,
                BytecodeSet::SistaV1 => self.run_sista::<false>(n)?,
            };
            if self.past_copy {
                self.step_past_copy()?;
                n = n.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// One bytecode of whichever set the active method uses.
    pub(crate) fn step(&mut self) -> Result<(), Fault> {
        match self.bytecode_set {
            BytecodeSet::V3PlusClosures => self.run_v3::<true>(1)?,
            BytecodeSet::SistaV1 => self.run_sista::<true>(1)?,
        };
        if self.past_copy {
            self.step_past_copy()?;
        }
        Ok(())
    }

    /// Runs the bytecode at an ip past the active method's copy: the copies
    /// stop at `MAX_FAST_FETCH` bytes, so a longer method runs its tail one
    /// bytecode at a time from a whole copy (a checkpoint before each, as
    /// stack.rs needs). An ip past the method's end is a fault.
    #[cold]
    fn step_past_copy(&mut self) -> Result<(), Fault> {
        self.past_copy = false;
        if self.ip >= self.heap.code_len(self.method) {
            return Err(fault!(
                "the bytecode fetch ran past the end of {} (ip {})",
                self.method_name(self.method),
                self.ip
            ));
        }
        self.long_fetch = true;
        let stepped = match self.bytecode_set {
            BytecodeSet::V3PlusClosures => self.run_v3::<true>(1),
            BytecodeSet::SistaV1 => self.run_sista::<true>(1),
        };
        self.long_fetch = false;
        self.code_for = Oop(0);
        // A whole copy reaches every byte of the method, so no sentinel
        // past it is reached in this one step.
        self.past_copy = false;
        stepped.map(|_| ())
    }

    /// A fault report for an error found outside the interpreter loop (a
    /// panic caught by the command line): where the VM was and its stack.
    pub fn fault_report(&self, message: impl fmt::Display) -> VmError {
        self.fault_error(message)
    }

    /// A fault report with the current location and Smalltalk stack.
    pub(crate) fn fault_error(&self, message: impl fmt::Display) -> VmError {
        VmError {
            message: message.to_string(),
            location: self.describe_location(),
            stack: self.stack_trace(40),
        }
    }

    pub(crate) fn method_name(&self, m: Oop) -> String {
        if !m.is_object() || !gc::format::is_compiled_method(self.heap.format(m)) {
            return format!("{m:?}");
        }
        let h = self.method_header(m);
        let n = h.num_literals();
        if n == 0 {
            return "a CompiledMethod".into();
        }
        let class_binding = self.heap.slot(m, n);
        let selector = if n >= 2 {
            self.heap.slot(m, n - 1)
        } else {
            self.nil()
        };
        let class_name = if class_binding.is_object() && self.heap.num_slots(class_binding) >= 2 {
            let c = self.heap.slot(class_binding, 1);
            self.heap.class_name(c).unwrap_or_else(|| "?".into())
        } else {
            "?".into()
        };
        // The penultimate literal is the selector, or an AdditionalMethodState
        // (method, selector, pragmas...) for methods with pragmas.
        let selector = if selector.is_object()
            && gc::format::is_pointers(self.heap.format(selector))
            && self.heap.num_slots(selector) >= 2
        {
            self.heap.slot(selector, 1)
        } else {
            selector
        };
        let sel = self
            .heap
            .string_of(selector)
            .unwrap_or_else(|| "(block or unnamed)".into());
        format!("{class_name}>>{sel}")
    }

    fn describe_location(&self) -> String {
        if !self.method.is_object() {
            return "no active method".into();
        }
        let pc = self.ip.saturating_sub(1);
        let bc = if pc < self.heap.byte_size(self.method) {
            self.heap.byte_at(self.method, pc)
        } else {
            0
        };
        format!(
            "bytecode {bc} at pc {} in {}",
            pc + 1,
            self.method_name(self.method)
        )
    }

    /// Describes the active process's frames and contexts, innermost first.
    pub fn stack_trace(&self, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut fp = self.fp;
        let mut ip = self.ip;
        while fp < STACK_WORDS && out.len() < max {
            let m = self.frame_method(fp);
            let block = if self.frame_is_block(fp) { "[] in " } else { "" };
            out.push(format!("{block}{} (pc {})", self.method_name(m), ip + 1));
            if self.is_base_frame(fp) {
                let mut ctx = Oop(self.fslot(fp, CALLER_IP));
                while ctx.is_object() && ctx != self.nil() && out.len() < max {
                    let m = self.heap.slot(ctx, context::METHOD);
                    let pc = self.heap.slot(ctx, context::PC);
                    let block = if self.heap.slot(ctx, context::CLOSURE_OR_NIL) != self.nil() {
                        "[] in "
                    } else {
                        ""
                    };
                    out.push(format!("{block}{} (pc {pc:?}) [context]", self.method_name(m)));
                    let s = self.heap.slot(ctx, context::SENDER);
                    if s.is_small_integer() {
                        break;
                    }
                    ctx = s;
                }
                break;
            }
            ip = self.fslot(fp, CALLER_IP) as usize;
            let caller = self.fslot(fp, CALLER_FP) as usize;
            if caller <= fp {
                out.push("(corrupt frame chain)".into());
                break;
            }
            fp = caller;
        }
        out
    }

    pub(crate) fn trace_send(&self, selector: Oop, receiver: Oop) {
        let sel = self.heap.string_of(selector).unwrap_or_default();
        let depth = (STACK_WORDS - self.sp) / 8;
        let class = self.heap.class_of(receiver);
        eprintln!(
            "{:width$}{} >> #{sel}",
            "",
            self.heap.class_name(class).unwrap_or_else(|| "?".into()),
            width = depth.min(60)
        );
    }
}

/// A VM on the built-in kernel image after `steps` bytecodes, for unit tests.
#[cfg(test)]
pub(crate) fn kernel_vm_after(steps: usize) -> Vm {
    let bytes = crate::default_image::bytes().expect("built-in kernel");
    let img = images::load_image_bytes(bytes).unwrap();
    let mut vm = Vm::new(img.heap, img.header, RunOptions::default()).unwrap();
    for _ in 0..steps {
        vm.step().unwrap();
    }
    vm
}
