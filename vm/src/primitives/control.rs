//! Control primitives: perform, closures, processes and semaphores,
//! contexts, and the exception/unwind marker primitives.

use super::{PrimResult, ERR_BAD_ARGUMENT, ERR_BAD_INDEX, ERR_BAD_NUM_ARGS, ERR_BAD_RECEIVER, FAIL};
use crate::interp::{Fault, Vm};
use gc::specials::{closure, context, process, so};
use gc::{format, Oop};

impl Vm {
    pub(crate) fn prim_control(&mut self, index: usize, m: Oop, nargs: usize) -> Result<PrimResult, Fault> {
        let rcvr = self.stack_value(nargs);
        match index {
            83 => {
                // perform: sel with: args...
                if nargs == 0 {
                    return Ok(PrimResult::Fail(ERR_BAD_NUM_ARGS));
                }
                let sel = self.stack_value(nargs - 1);
                let n = nargs - 1;
                if self.selector_num_args(sel) != Some(n) {
                    return Ok(PrimResult::Fail(ERR_BAD_NUM_ARGS));
                }
                // Remove the selector from the stack: shift the arguments down.
                for i in (0..n).rev() {
                    let v = self.stack_value(i);
                    self.set_stack_value(i + 1, v);
                }
                self.pop_n(1);
                self.send(sel, n)?;
                Ok(PrimResult::Success)
            }
            84 | 100 => {
                // perform:withArguments: [inSuperclass:]
                let (sel, args) = if index == 84 {
                    (self.stack_value(1), self.stack_value(0))
                } else {
                    (self.stack_value(2), self.stack_value(1))
                };
                let arr = self.heap.special(so::CLASS_ARRAY);
                if !args.is_object() || self.heap.class_of(args) != arr {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                let lookup_class = if index == 100 {
                    Some(self.stack_value(0))
                } else {
                    None
                };
                let n = self.heap.num_slots(args);
                // As primitive 83: the selector must take that many arguments
                // (the frame's flags word holds at most 255).
                if n > 255 || self.selector_num_args(sel) != Some(n) {
                    return Ok(PrimResult::Fail(ERR_BAD_NUM_ARGS));
                }
                self.pop_n(nargs);
                for i in 0..n {
                    let v = self.heap.slot(args, i);
                    self.push(v);
                }
                match lookup_class {
                    Some(c) => self.send_to_class(sel, n, c)?,
                    None => self.send(sel, n)?,
                }
                Ok(PrimResult::Success)
            }
            85 => {
                self.pop_n(nargs);
                self.signal(rcvr)?;
                Ok(PrimResult::Success)
            }
            86 => {
                if !rcvr.is_object() || self.heap.num_slots(rcvr) < 3 {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                self.wait(rcvr)?;
                Ok(PrimResult::Success)
            }
            87 => {
                if !rcvr.is_object() || self.heap.num_slots(rcvr) < 4 {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let ctx = self.heap.slot(rcvr, process::SUSPENDED_CONTEXT);
                if !self.is_context(ctx) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                self.resume(rcvr)?;
                Ok(PrimResult::Success)
            }
            88 => {
                let active = self.active_process();
                if rcvr == active {
                    self.pop_n(nargs + 1);
                    self.push(self.nil());
                    self.suspend_active()?;
                } else {
                    let list = self.heap.slot(rcvr, process::MY_LIST);
                    if list == self.nil() || !list.is_object() {
                        return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                    }
                    self.remove_link(list, rcvr);
                    self.pop_n(nargs + 1);
                    self.push(list);
                }
                Ok(PrimResult::Success)
            }
            167 => {
                self.pop_n(nargs);
                self.yield_active()?;
                Ok(PrimResult::Success)
            }
            185..=187 => Ok(FAIL),
            188 | 189 => {
                // executeMethod: / withArgs:executeMethod:
                let (args, meth) = if index == 188 {
                    (self.stack_value(1), self.stack_value(0))
                } else {
                    (self.nil(), self.stack_value(0))
                };
                if !meth.is_object() || !format::is_compiled_method(self.heap.format(meth)) {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                if index == 188 {
                    let n = self.heap.num_slots(args);
                    if self.method_header(meth).num_args() != n {
                        return Ok(PrimResult::Fail(ERR_BAD_NUM_ARGS));
                    }
                    self.pop_n(2);
                    for i in 0..n {
                        let v = self.heap.slot(args, i);
                        self.push(v);
                    }
                    self.execute_method(meth, n)?;
                } else {
                    let n = nargs - 1;
                    self.pop_n(1);
                    self.execute_method(meth, n)?;
                }
                Ok(PrimResult::Success)
            }
            195 => self.prim_find_next_unwind(nargs),
            196 => self.prim_terminate_to(nargs),
            197 => self.prim_find_handler(nargs),
            198 | 199 => {
                // Markers: never succeed, so the method body runs.
                let _ = m;
                Ok(FAIL)
            }
            200 => Ok(FAIL),
            201..=206 | 221 | 222 => self.prim_closure_value(rcvr, nargs, index == 206, 3),
            207..=209 => self.prim_closure_value(rcvr, nargs, index == 208, 4),
            76 => {
                // storeStackp:
                let n = self.stack_value(0).as_small_int();
                if !self.is_context(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let Some(n) = n.filter(|&n| n >= 0) else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                let room = self.heap.num_slots(rcvr) - context::TEMP_FRAME_START;
                if n as usize > room {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                self.make_all_single_then(|vm| {
                    let rcvr = vm.stack_value(1);
                    let old = vm
                        .heap
                        .slot(rcvr, context::STACK_POINTER)
                        .as_small_int()
                        .unwrap_or(0);
                    let nil = vm.nil();
                    for i in old.max(0)..n {
                        vm.heap
                            .set_slot(rcvr, context::TEMP_FRAME_START + i as usize, nil);
                    }
                    vm.heap.set_slot(rcvr, context::STACK_POINTER, Oop::small_int(n));
                })?;
                let rcvr = self.stack_value(1);
                Ok(self.prim_return(1, rcvr))
            }
            210 | 211 => {
                if !self.is_context(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let Some(i) = self.stack_value(nargs - 1).as_small_int() else {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                };
                let sp = self
                    .ctx_read(rcvr, context::STACK_POINTER)?
                    .as_small_int()
                    .unwrap_or(0);
                let rcvr = self.stack_value(nargs);
                if i < 1 || i > sp.max(0) {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                }
                let k = context::TEMP_FRAME_START + i as usize - 1;
                if index == 210 {
                    let v = self.ctx_read(rcvr, k)?;
                    Ok(self.prim_return(1, v))
                } else {
                    let v = self.stack_value(0);
                    self.ctx_write(rcvr, k, v)?;
                    let v = self.stack_value(0);
                    Ok(self.prim_return(2, v))
                }
            }
            212 => {
                if !self.is_context(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let sp = self
                    .ctx_read(rcvr, context::STACK_POINTER)?
                    .as_small_int()
                    .unwrap_or(0);
                Ok(self.prim_return(0, Oop::small_int(sp.max(0))))
            }
            _ => Ok(FAIL),
        }
    }

    /// Why `rcvr` cannot be activated as a closure with `nargs` arguments
    /// (None: it can): not a closure of at least `min_slots` fields, or
    /// another argument count.
    #[inline]
    pub(crate) fn closure_value_failure(&self, rcvr: Oop, nargs: usize, min_slots: usize) -> Option<u8> {
        if !rcvr.is_object() || self.heap.num_slots(rcvr) < min_slots {
            return Some(ERR_BAD_RECEIVER);
        }
        let want = self.heap.slot(rcvr, closure::NUM_ARGS).as_small_int();
        (want != Some(nargs as i64)).then_some(ERR_BAD_NUM_ARGS)
    }

    /// The closure fields of the primitives that activate a closure with
    /// its arguments on the stack (`value`, `value:`... and their
    /// no-context-switch forms): None for any other primitive.
    pub(crate) fn closure_value_min_slots(primitive: u32) -> Option<usize> {
        match primitive {
            201..=205 | 221 | 222 => Some(3),
            207 | 209 => Some(4),
            _ => None,
        }
    }

    /// `value...` of a closure (`min_slots` tells BlockClosure from
    /// FullBlockClosure); `with_array` takes the arguments from an Array.
    fn prim_closure_value(
        &mut self,
        rcvr: Oop,
        nargs: usize,
        with_array: bool,
        min_slots: usize,
    ) -> Result<PrimResult, Fault> {
        if !with_array {
            if let Some(code) = self.closure_value_failure(rcvr, nargs, min_slots) {
                return Ok(PrimResult::Fail(code));
            }
            self.activate_closure(rcvr, nargs)?;
            return Ok(PrimResult::Success);
        }
        if !rcvr.is_object() || self.heap.num_slots(rcvr) < min_slots {
            return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
        }
        let want = self
            .heap
            .slot(rcvr, closure::NUM_ARGS)
            .as_small_int()
            .unwrap_or(-1);
        let args = self.stack_value(0);
        let arr = self.heap.special(so::CLASS_ARRAY);
        if !args.is_object() || self.heap.class_of(args) != arr {
            return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
        }
        let n = self.heap.num_slots(args);
        if n as i64 != want {
            return Ok(PrimResult::Fail(ERR_BAD_NUM_ARGS));
        }
        self.pop_n(1);
        for i in 0..n {
            let v = self.heap.slot(args, i);
            self.push(v);
        }
        self.activate_closure(rcvr, n)?;
        Ok(PrimResult::Success)
    }

    /// The number of arguments a selector takes, from its spelling.
    pub(crate) fn selector_num_args(&self, sel: Oop) -> Option<usize> {
        let s = self.heap.string_of(sel)?;
        let b = s.as_bytes();
        if b.is_empty() {
            return None;
        }
        if b[0].is_ascii_alphabetic() || b[0] == b'_' {
            Some(b.iter().filter(|&&c| c == b':').count())
        } else {
            Some(1)
        }
    }

    /// Spills all frames, runs `f` on the single contexts, and reloads the active one.
    fn make_all_single_then(&mut self, f: impl FnOnce(&mut Vm)) -> Result<(), Fault> {
        let active = self.make_all_single()?;
        self.load_context(active)?;
        f(self);
        Ok(())
    }

    /// Walks the sender chain from `start` (exclusive of `stop`).
    fn find_context(&mut self, start: Oop, stop: Oop, pred: impl Fn(&Vm, Oop) -> bool) -> Result<Oop, Fault> {
        let nil = self.nil();
        let mut c = start;
        let mut n = 0;
        while c != nil && c != stop && self.is_context(c) && n < 10_000_000 {
            if pred(self, c) {
                return Ok(c);
            }
            c = self.heap.slot(c, context::SENDER);
            n += 1;
        }
        Ok(nil)
    }

    /// 195: `ctx findNextUnwindContextUpTo: aContext`: the first
    /// ensure:/ifCurtailed: context after the receiver, before the argument.
    fn prim_find_next_unwind(&mut self, nargs: usize) -> Result<PrimResult, Fault> {
        let (rcvr, stop) = (self.stack_value(nargs), self.stack_value(0));
        if !self.is_context(rcvr) {
            return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
        }
        let active = self.spill_all()?;
        let start = self.heap.slot(rcvr, context::SENDER);
        let found = self.find_context(start, stop, |vm, c| {
            vm.is_unwind_marked(vm.heap.slot(c, context::METHOD))
        })?;
        self.load_context(active)?;
        Ok(self.prim_return(nargs, found))
    }

    /// 197: `ctx findNextHandlerContextStarting`: the first on:do: context
    /// from the receiver (included) towards the bottom.
    fn prim_find_handler(&mut self, nargs: usize) -> Result<PrimResult, Fault> {
        let rcvr = self.stack_value(nargs);
        if !self.is_context(rcvr) {
            return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
        }
        let active = self.spill_all()?;
        let nil = self.nil();
        let found = self.find_context(rcvr, nil, |vm, c| {
            vm.is_handler_marked(vm.heap.slot(c, context::METHOD))
        })?;
        self.load_context(active)?;
        Ok(self.prim_return(nargs, found))
    }

    /// 196: `ctx terminateTo: previousContext`: the contexts between die and
    /// the receiver's sender becomes the argument.
    fn prim_terminate_to(&mut self, nargs: usize) -> Result<PrimResult, Fault> {
        let (rcvr, target) = (self.stack_value(nargs), self.stack_value(0));
        let nil = self.nil();
        if !self.is_context(rcvr) || (target != nil && !self.is_context(target)) {
            return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
        }
        let active = self.spill_all()?;
        // Kill the contexts between only when the target is on the chain.
        let mut c = self.heap.slot(rcvr, context::SENDER);
        let mut on_chain = false;
        let mut n = 0;
        while c != nil && self.is_context(c) && n < 10_000_000 {
            if c == target {
                on_chain = true;
                break;
            }
            c = self.heap.slot(c, context::SENDER);
            n += 1;
        }
        if on_chain {
            let mut c = self.heap.slot(rcvr, context::SENDER);
            while c != target {
                let next = self.heap.slot(c, context::SENDER);
                self.heap.set_slot(c, context::SENDER, nil);
                self.heap.set_slot(c, context::PC, nil);
                c = next;
            }
        }
        self.heap.set_slot(rcvr, context::SENDER, target);
        self.load_context(active)?;
        Ok(self.prim_return(nargs, rcvr))
    }
}
