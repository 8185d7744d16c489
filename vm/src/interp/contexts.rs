//! When frames become Context objects, and back.
//!
//! - [`Vm::frame_context`] gives a frame a Context married to it.
//! - [`Vm::spill_all`] writes every frame of the active process into its
//!   Context (making one where needed) and empties the stack: afterwards the
//!   contexts are the truth. It runs before a process switch, a snapshot,
//!   and any access to a married context's sender, pc or stack.
//! - [`Vm::spill_oldest_frames`] handles a stack overflow: the older half of
//!   the frames become contexts and the newer half stays on the stack.
//! - [`Vm::load_context`] makes a Context the active frame again (a base
//!   frame whose caller is the context's sender).

use super::frame::*;
use super::{Fault, Vm};
use gc::specials::{closure, context, so};
use gc::Oop;

impl Vm {
    /// The Context of frame `fp`, created (married to the frame) if needed.
    pub(crate) fn frame_context(&mut self, fp: usize) -> Result<Oop, Fault> {
        let existing = self.fslot(fp, CONTEXT);
        if existing != 0 {
            return Ok(Oop(existing));
        }
        let method = self.frame_method(fp);
        let large = self.method_header(method).large_frame();
        let slots = context::TEMP_FRAME_START
            + if large {
                context::LARGE_FRAME_SLOTS
            } else {
                context::SMALL_FRAME_SLOTS
            };
        let class = self.heap.special(so::CLASS_METHOD_CONTEXT);
        let ctx = self.instantiate_fixed(class, slots)?;
        let closure_or_nil = if self.frame_is_block(fp) {
            Oop(self.fslot(fp, 2 + self.frame_num_args(fp) as isize))
        } else {
            self.nil()
        };
        self.heap
            .set_slot(ctx, context::SENDER, Oop::small_int(fp as i64));
        self.heap.set_slot(ctx, context::PC, Oop::small_int(0));
        self.heap.set_slot(ctx, context::STACK_POINTER, Oop::small_int(0));
        self.heap.set_slot(ctx, context::METHOD, method);
        self.heap.set_slot(ctx, context::CLOSURE_OR_NIL, closure_or_nil);
        self.heap
            .set_slot(ctx, context::RECEIVER, self.frame_receiver(fp));
        self.set_fslot(fp, CONTEXT, ctx.0);
        Ok(ctx)
    }

    /// Allocates a pointer object of `class` with exactly `slots` nil slots
    /// (contexts are variable-sized: their size is the frame size).
    pub(crate) fn instantiate_fixed(&mut self, class: Oop, slots: usize) -> Result<Oop, Fault> {
        let ci = self.heap.identity_hash(class);
        let fmt = self
            .heap
            .class_format(class)
            .map(|f| f.0)
            .unwrap_or(gc::format::FIXED_INDEXABLE);
        let nil = self.nil();
        self.heap
            .allocate(ci, fmt, slots, nil)
            .map_err(|e| fault!("out of memory allocating a context: {e:?}"))
    }

    /// True when `ctx` is married to a live frame.
    #[inline]
    pub(crate) fn is_married(&self, ctx: Oop) -> bool {
        self.heap.slot(ctx, context::SENDER).is_small_integer()
    }

    /// Writes every frame into its Context and empties the stack. Returns
    /// the active Context (the top frame's). The registers are left
    /// pointing at nothing: call [`Vm::load_context`] to continue.
    pub(crate) fn spill_all(&mut self) -> Result<Oop, Fault> {
        self.counters.spills += 1;
        let frames = self.frames();
        let bottom_caller = Oop(self.fslot(frames[frames.len() - 1].0, CALLER_IP));
        let ctxs = self.write_frames_to_contexts(&frames, bottom_caller)?;
        self.sp = STACK_WORDS;
        self.fp = STACK_WORDS;
        Ok(ctxs[0])
    }

    /// The frames of the active process, innermost first, with the ip and
    /// sp each was at (a caller's sp ends below its callee's receiver).
    fn frames(&self) -> Vec<(usize, usize, usize)> {
        let mut frames = Vec::new();
        let (mut fp, mut ip, mut sp) = (self.fp, self.ip, self.sp);
        loop {
            frames.push((fp, ip, sp));
            if self.is_base_frame(fp) {
                break;
            }
            let nargs = self.frame_num_args(fp);
            ip = self.fslot(fp, CALLER_IP) as usize;
            sp = fp + 2 + nargs + 1;
            fp = super::roots::checked_caller(fp, self.fslot(fp, CALLER_FP));
        }
        frames
    }

    /// Writes `frames` (innermost first, consecutive callers) into their
    /// contexts; the outermost one's sender is `bottom_caller`. Answers the
    /// contexts in the same order. The frames stay on the stack.
    fn write_frames_to_contexts(
        &mut self,
        frames: &[(usize, usize, usize)],
        bottom_caller: Oop,
    ) -> Result<Vec<Oop>, Fault> {
        // Give every frame a context first, so senders can be filled in.
        let mut ctxs = Vec::with_capacity(frames.len());
        for &(fp, _, _) in frames {
            ctxs.push(self.frame_context(fp)?);
        }
        let nil = self.nil();
        for (k, &(fp, ip, sp)) in frames.iter().enumerate() {
            let ctx = ctxs[k];
            let sender = ctxs.get(k + 1).copied().unwrap_or(bottom_caller);
            let items = frame_items(fp, sp);
            let room = self.heap.num_slots(ctx) - context::TEMP_FRAME_START;
            if items > room {
                return Err(fault!(
                    "frame of {} holds {items} values, its context only {room}",
                    self.method_name(self.frame_method(fp))
                ));
            }
            self.heap.set_slot(ctx, context::SENDER, sender);
            self.heap
                .set_slot(ctx, context::PC, Oop::small_int(ip as i64 + 1));
            self.heap
                .set_slot(ctx, context::STACK_POINTER, Oop::small_int(items as i64));
            for i in 0..items {
                let v = Oop(self.stack[self.temp_index(fp, i)]);
                self.heap.set_slot(ctx, context::TEMP_FRAME_START + i, v);
            }
            for i in items..room {
                self.heap.set_slot(ctx, context::TEMP_FRAME_START + i, nil);
            }
        }
        Ok(ctxs)
    }

    /// Stack overflow: the older half of the frames become contexts and the
    /// newer ones slide to the bottom of the stack, the oldest of them now a
    /// base frame whose caller is the newest spilled context. Frame pointers
    /// in the moved frames and in their married contexts are adjusted.
    pub(crate) fn spill_oldest_frames(&mut self) -> Result<(), Fault> {
        let frames = self.frames();
        let keep = frames.iter().take_while(|f| f.0 < STACK_WORDS / 2).count();
        if keep == 0 || keep >= frames.len() {
            return self.spill_and_reload();
        }
        self.counters.spills += 1;
        let bottom_caller = Oop(self.fslot(frames[frames.len() - 1].0, CALLER_IP));
        let spilled = self.write_frames_to_contexts(&frames[keep..], bottom_caller)?;
        // The oldest kept frame becomes a base frame.
        let base_fp = frames[keep - 1].0;
        self.set_fslot(base_fp, CALLER_IP, spilled[0].0);
        self.set_fslot(base_fp, CALLER_FP, BASE_FRAME);
        // Slide the kept frames (sp up to the base frame's receiver) to the end.
        let top = base_fp + 2 + self.frame_num_args(base_fp);
        let delta = STACK_WORDS - 1 - top;
        let sp = self.sp;
        self.stack.words_mut().copy_within(sp..=top, sp + delta);
        for &(fp, _, _) in &frames[..keep] {
            let moved = fp + delta;
            if moved != base_fp + delta {
                let caller = self.fslot(moved, CALLER_FP);
                self.set_fslot(moved, CALLER_FP, caller + delta as u64);
            }
            let ctx = self.fslot(moved, CONTEXT);
            if ctx != 0 {
                self.heap
                    .set_slot(Oop(ctx), context::SENDER, Oop::small_int(moved as i64));
            }
        }
        self.sp += delta;
        self.fp += delta;
        Ok(())
    }

    /// Spills every frame and resumes the active context as a base frame,
    /// so that every Context is up to date and none is married but the
    /// active one.
    pub(crate) fn spill_and_reload(&mut self) -> Result<(), Fault> {
        let active = self.spill_all()?;
        self.load_context(active)
    }

    /// Reads field `i` of a Context, mediating married contexts: their
    /// frames are spilled first, and the active context's sender, pc and
    /// stack pointer come from its frame.
    pub(crate) fn ctx_read(&mut self, ctx: Oop, i: usize) -> Result<Oop, Fault> {
        // method, closureOrNil and receiver never change while married.
        let stale = !(context::METHOD..context::TEMP_FRAME_START).contains(&i);
        if stale && self.is_married(ctx) {
            self.spill_and_reload()?;
            if self.is_married(ctx) {
                // Only the active context is married after a reload.
                let fp = self.fp;
                return Ok(match i {
                    context::SENDER => Oop(self.fslot(fp, CALLER_IP)),
                    context::PC => Oop::small_int(self.ip as i64 + 1),
                    context::STACK_POINTER => Oop::small_int(frame_items(fp, self.sp) as i64),
                    _ if i >= context::TEMP_FRAME_START => {
                        let k = i - context::TEMP_FRAME_START;
                        let items = frame_items(fp, self.sp);
                        if k < items {
                            Oop(self.stack[self.temp_index(fp, k)])
                        } else {
                            self.nil()
                        }
                    }
                    _ => self.heap.slot(ctx, i),
                });
            }
        }
        Ok(self.heap.slot(ctx, i))
    }

    /// Writes field `i` of a Context. A married context is divorced first
    /// (every frame spilled); the active context is then reloaded from its
    /// possibly changed fields.
    pub(crate) fn ctx_write(&mut self, ctx: Oop, i: usize, v: Oop) -> Result<(), Fault> {
        if self.is_married(ctx) {
            let active = self.spill_all()?;
            self.heap.set_slot(ctx, i, v);
            return self.resume_context(active);
        }
        self.heap.set_slot(ctx, i, v);
        Ok(())
    }

    /// Spills every frame so that all contexts are single; returns the active one.
    pub(crate) fn make_all_single(&mut self) -> Result<Oop, Fault> {
        self.spill_all()
    }

    /// Continues execution in `ctx`, or fails like Smalltalk when it cannot
    /// be resumed (dead context).
    pub(crate) fn resume_context(&mut self, ctx: Oop) -> Result<(), Fault> {
        self.load_context(ctx)
    }

    pub(crate) fn is_context(&self, o: Oop) -> bool {
        // Context's format (pointers, indexable, with instance variables)
        // rules most objects out before the class-table lookup.
        o.is_object()
            && self.heap.format(o) == gc::format::FIXED_INDEXABLE
            && self.heap.class_index_of(o) != 0
            && self.heap.class_of(o) == self.heap.special(so::CLASS_METHOD_CONTEXT)
    }

    /// Marks frame `fp`'s context (if any) as returned from.
    #[inline]
    pub(crate) fn widow_frame_context(&mut self, fp: usize) {
        let c = Oop(self.fslot(fp, CONTEXT));
        // Only the context married to this frame: a malformed method can
        // overwrite the frame's words with anything.
        if c.0 != 0 && self.is_context(c) && self.heap.slot(c, context::SENDER) == Oop::small_int(fp as i64) {
            let nil = self.nil();
            self.heap.set_slot(c, context::SENDER, nil);
            self.heap.set_slot(c, context::PC, nil);
        }
    }

    /// Loads `ctx` as the only frame on the stack, married to it.
    pub(crate) fn load_context(&mut self, ctx: Oop) -> Result<(), Fault> {
        self.load_context_inner(ctx, true)
    }

    fn load_context_inner(&mut self, ctx: Oop, marry: bool) -> Result<(), Fault> {
        let h = &self.heap;
        if !self.is_context(ctx) {
            return Err(fault!("cannot resume {ctx:?}: not a context"));
        }
        let sender = h.slot(ctx, context::SENDER);
        if sender.is_small_integer() {
            return Err("cannot load a context that is married to a frame".into());
        }
        let pc = h
            .slot(ctx, context::PC)
            .as_small_int()
            .ok_or_else(|| "cannot resume a dead context (its pc is nil)".to_string())?;
        let method = h.slot(ctx, context::METHOD);
        if !method.is_object() || !gc::format::is_compiled_method(h.format(method)) {
            return Err(fault!("context {ctx:?} has no method"));
        }
        let closure_or_nil = h.slot(ctx, context::CLOSURE_OR_NIL);
        let receiver = h.slot(ctx, context::RECEIVER);
        let stackp = h
            .slot(ctx, context::STACK_POINTER)
            .as_small_int()
            .unwrap_or(0)
            .max(0) as usize;
        let room = h.num_slots(ctx) - context::TEMP_FRAME_START;
        if stackp > room {
            return Err(fault!("context stack pointer {stackp} beyond its {room} slots"));
        }
        let is_block = closure_or_nil != self.nil();
        let nargs = if is_block {
            h.slot(closure_or_nil, closure::NUM_ARGS)
                .as_small_int()
                .unwrap_or(0) as usize
        } else {
            self.method_header(method).num_args()
        };
        if nargs > stackp {
            return Err(fault!(
                "context holds {stackp} values, fewer than its {nargs} arguments"
            ));
        }
        self.sp = STACK_WORDS;
        self.push(if is_block { closure_or_nil } else { receiver });
        for i in 0..nargs {
            let v = self.heap.slot(ctx, context::TEMP_FRAME_START + i);
            self.push(v);
        }
        self.push(sender);
        self.push(Oop(BASE_FRAME));
        let fp = self.sp;
        self.push(method);
        self.push(Oop(if marry { ctx.0 } else { 0 }));
        let set = set_flag(self.method_header(method));
        self.push(Oop(nargs as u64 | if is_block { FLAG_BLOCK } else { 0 } | set));
        self.push(receiver);
        // Every value, the arguments again included (see frame.rs).
        for i in 0..stackp {
            let v = self.heap.slot(ctx, context::TEMP_FRAME_START + i);
            self.push(v);
        }
        if marry {
            self.heap
                .set_slot(ctx, context::SENDER, Oop::small_int(fp as i64));
        }
        self.fp = fp;
        self.set_method(method);
        self.ip = (pc - 1).max(0) as usize;
        Ok(())
    }

    /// Makes `m` the executing method (and its bytecode set the decoder).
    #[inline]
    pub(crate) fn set_method(&mut self, m: Oop) {
        self.method = m;
        self.bytecode_set = self.method_header(m).bytecode_set();
    }
}
