//! The references the VM holds outside the heap, for the garbage collector.
//!
//! A moving collector must find and update every object reference in the
//! VM's registers and on its stack. The frame layout (see `frame.rs`) tells
//! which stack words are references: the receiver or closure and the
//! arguments, a base frame's caller context, the method, the context (when
//! not 0), the receiver, and the temporaries and operand stack. The caller's
//! saved ip and fp and the flags word are raw integers.

use super::frame::*;
use super::{Fault, Vm};
use gc::Oop;

/// Calls `f` on every reference slot of the frames on `stack`, from the
/// active frame (`fp`, `sp`) down to the base frame.
pub(crate) fn visit_frames(stack: &mut [u64], fp: usize, sp: usize, f: &mut dyn FnMut(&mut Oop)) {
    let mut visit_word = |stack: &mut [u64], i: usize| {
        let mut o = Oop(stack[i]);
        f(&mut o);
        stack[i] = o.0;
    };
    let (mut fp, mut sp) = (fp, sp);
    while fp < STACK_WORDS {
        let nargs = (stack[fp - 3] & 0xff) as usize;
        for i in fp + 2..=fp + 2 + nargs {
            visit_word(stack, i);
        }
        let base = stack[fp] == BASE_FRAME;
        if base {
            visit_word(stack, fp + 1);
        }
        visit_word(stack, fp - 1);
        if stack[fp - 2] != 0 {
            visit_word(stack, fp - 2);
        }
        visit_word(stack, fp - 4);
        // Temporaries and operand stack: fp-5 down to sp.
        for i in sp..fp - 4 {
            visit_word(stack, i);
        }
        if base {
            break;
        }
        sp = fp + 2 + nargs + 1;
        fp = checked_caller(fp, stack[fp]);
    }
}

/// The caller's fp saved in frame `fp`. Callers lie above their callees;
/// a chain that does not rise was overwritten by a malformed method (it
/// would send a walk round in a cycle), and stops the VM with a report.
#[inline]
pub(crate) fn checked_caller(fp: usize, saved: u64) -> usize {
    let caller = saved as usize;
    if caller <= fp || caller > STACK_WORDS {
        panic!("corrupt frame chain: frame {fp} names {caller} as its caller");
    }
    caller
}

/// What a visit of the roots may move.
#[derive(Clone, Copy)]
enum Moves {
    /// Any object, or objects' sizes (a full GC, a become, any visitor).
    Any,
    /// Young objects only (a scavenge).
    Young,
}

impl Vm {
    /// Calls `f` with the heap and a visitor over every object reference
    /// the VM holds outside it (registers and frames); the two borrow
    /// different parts of the VM, so `f` may use both. What `f` may move
    /// is `moves`: the method cache, the copies of methods (code.rs) and
    /// the loops' `code_for` are then forgotten, all of them or (after a
    /// scavenge) the parts that name young objects.
    fn with_heap_and_roots<R>(
        &mut self,
        moves: Moves,
        f: impl FnOnce(&mut gc::Heap, gc::RootVisitor<'_>) -> R,
    ) -> R {
        let Vm {
            heap,
            stack,
            fp,
            sp,
            method,
            timer,
            ..
        } = self;
        let (fp, sp) = (*fp, *sp);
        let mut roots = |g: &mut dyn FnMut(&mut Oop)| {
            g(method);
            if let Some((sema, _)) = timer.as_mut() {
                g(sema);
            }
            visit_frames(stack.words_mut(), fp, sp, g);
        };
        let r = f(heap, &mut roots);
        match moves {
            Moves::Any => {
                self.cache.flush();
                // A become may also have changed a receiver's size.
                self.forget_receiver_slots();
            }
            Moves::Young => {
                // A scavenge moves only young objects, leaving sizes and
                // every old object in place, and its survivors keep no
                // address in the range they left: entries that name none of
                // that range stay true.
                let heap = &self.heap;
                self.cache.flush_where(|o| heap.is_young(Oop(o)));
            }
        }
        // `regs` takes the active method's copy again.
        self.code_for = Oop(0);
        r
    }

    /// Clears every frame's recorded receiver slot count
    /// (`RCVR_SLOTS_SHIFT`): a become may have changed a receiver's size,
    /// or an object become immutable.
    pub(crate) fn forget_receiver_slots(&mut self) {
        let mut fp = self.fp;
        while fp < STACK_WORDS {
            let flags = self.fslot(fp, FLAGS);
            self.set_fslot(fp, FLAGS, flags & !RCVR_SLOTS_MASK);
            if self.is_base_frame(fp) {
                break;
            }
            fp = checked_caller(fp, self.fslot(fp, CALLER_FP));
        }
    }

    /// Calls `f` on every object reference held by the VM outside the heap;
    /// `f` may replace them (a moving GC does).
    pub fn visit_roots(&mut self, f: &mut dyn FnMut(&mut Oop)) {
        self.with_heap_and_roots(Moves::Any, |_, roots| roots(f));
    }

    /// After a become: every reference the VM holds outside the heap goes
    /// straight to the object a forwarder stands for.
    pub(crate) fn follow_roots(&mut self) {
        self.with_heap_and_roots(Moves::Any, |heap, roots| {
            roots(&mut |o: &mut Oop| {
                if heap.is_forwarded(*o) {
                    *o = heap.follow(*o);
                }
            })
        });
    }

    /// Follows forwarders among the receiver and arguments of a send on the
    /// stack; true when any was forwarded (the caller retries).
    pub(crate) fn follow_send_operands(&mut self, nargs: usize) -> bool {
        let mut changed = false;
        for i in 0..=nargs {
            let v = self.stack_value(i);
            if self.heap.is_forwarded(v) {
                let t = self.heap.follow(v);
                self.set_stack_value(i, t);
                changed = true;
            }
        }
        changed
    }

    /// Runs a collection of `kind` now (at a safe point: no Rust code holds
    /// object references across it), then does what the outcome asks.
    pub(crate) fn collect_garbage(&mut self, kind: Option<gc::GcKind>) -> Result<(), Fault> {
        let moves = match kind.or_else(|| self.heap.gc_requested()) {
            Some(gc::GcKind::Scavenge) => Moves::Young,
            _ => Moves::Any,
        };
        let outcome = self.with_heap_and_roots(moves, |heap, roots| match kind {
            Some(k) => heap.collect(k, roots).map(Some),
            None => heap.collect_requested(roots),
        });
        match outcome {
            Ok(Some(o)) if o.signal_finalization => {
                let sema = self.heap.special(gc::specials::so::THE_FINALIZATION_SEMAPHORE);
                self.signal(sema)
            }
            Ok(_) => Ok(()),
            Err(fault) => Err(fault!("garbage collector: {fault}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::interp::{RunOptions, Vm};
    use gc::Oop;
    use std::collections::HashSet;

    /// Every reference the visitor reports is an object or immediate the
    /// heap knows, and it reports the active method and receiver.
    #[test]
    fn visits_registers_and_frame_slots() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images/headless.image");
        let img = images::load_image(std::path::Path::new(path)).unwrap();
        let mut vm = Vm::new(img.heap, img.header, RunOptions::default()).unwrap();
        // Run a little so that there are several frames.
        for _ in 0..40 {
            vm.step().unwrap();
        }
        let starts: HashSet<Oop> = vm.heap.objects().collect();
        let (method, receiver) = (vm.method, vm.receiver());
        let mut seen = Vec::new();
        vm.visit_roots(&mut |o| seen.push(*o));
        assert!(seen.contains(&method));
        assert!(seen.contains(&receiver));
        for o in &seen {
            assert!(o.is_immediate() || starts.contains(o), "{o:?} is not an object");
        }
        // Replacing references is seen by the VM.
        let nil = vm.heap.nil();
        vm.visit_roots(&mut |o| {
            if *o == receiver && receiver != nil {
                *o = nil;
            }
        });
        if receiver != nil {
            assert_eq!(vm.receiver(), nil);
        }
    }

    /// A become that replaces the running method by one of another size
    /// leaves nothing that the bytecode fetch trusts stale: the copies of
    /// methods are dropped, and the loops take a copy of the new method.
    #[test]
    fn become_of_a_running_method_renews_its_copy() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let m = vm.method;
        let len = vm.heap.code_len(m);
        let other = vm
            .heap
            .objects()
            .find(|&o| gc::format::is_compiled_method(vm.heap.format(o)) && vm.heap.code_len(o) != len)
            .expect("a method of another size");
        let old = vm.memo_code(m);
        assert_eq!(old.len, vm.fetch_len(m));
        vm.heap.become_objects(&[m], &[other], false, true).unwrap();
        vm.follow_roots();
        assert_eq!(vm.frame_method(vm.fp), other);
        assert_eq!(vm.cache.copies.memo(m), None, "copies dropped");
        let mut r = vm.regs();
        assert_eq!(vm.code.len, vm.fetch_len(other));
        assert!(vm.cache.copies.holds(other, vm.code));
        // The fetch reads the new method's bytes (from the copy itself, as
        // the active ip may lie past the new method's end).
        r.code = vm.code.ptr;
        let fetched: Vec<u8> = (0..vm.code.len)
            .map(|ip| {
                r.ip = ip;
                vm.r_peek(&r)
            })
            .collect();
        assert_eq!(&vm.heap.body(other)[..vm.code.len], &fetched[..]);
    }

    /// A scavenge forgets the cache entries and copies that name young
    /// objects, which it moves, and keeps those of old ones, which it does
    /// not; a full GC forgets them all.
    #[test]
    fn a_scavenge_keeps_what_names_only_old_objects() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let old = vm.method;
        assert!(!vm.heap.is_young(old));
        let young = vm.shallow_copy(old).unwrap();
        assert!(vm.heap.is_young(young));
        let sel = vm.special_selector(0).0;
        let class = vm.heap.class_of(old);
        let (old_code, young_code) = (vm.memo_code(old), vm.memo_code(young));
        assert!(vm.cache.copies.holds(old, old_code) && vm.cache.copies.holds(young, young_code));
        vm.cache.put(class, sel, old);
        vm.cache.put(vm.heap.nil(), sel, young);
        vm.collect_garbage(Some(gc::GcKind::Scavenge)).unwrap();
        assert_eq!(vm.cache.get(class, sel), Some(old));
        assert_eq!(vm.cache.copies.memo(old), Some(old_code));
        assert!(vm.cache.copies.holds(old, old_code));
        assert_eq!(vm.cache.get(vm.heap.nil(), sel), None, "names a young method");
        assert_eq!(vm.cache.copies.memo(young), None);
        assert!(!vm.cache.copies.holds(young, young_code));
        vm.collect_garbage(Some(gc::GcKind::Full)).unwrap();
        assert_eq!(vm.cache.get(class, sel), None);
        assert_eq!(vm.cache.copies.memo(old), None);
    }

    /// The copies' memo hands block activations the header's fields
    /// (`Code::shape`), and an empty entry answers for no object: not even
    /// for address 0, which a closure's method field might hold in a
    /// malformed image.
    #[test]
    fn the_copies_memo_carries_the_header_fields_and_answers_only_its_methods() {
        let mut vm = crate::interp::kernel_vm_after(200);
        assert_eq!(vm.cache.copies.memo(Oop(0)), None);
        let m = vm.method;
        let code = vm.memo_code(m);
        let h = vm.method_header(m);
        assert_eq!(code.shape.num_temps(), h.num_temps());
        assert_eq!(code.shape.initial_pc(), h.initial_pc());
        assert_eq!(code.shape.bytecode_set(), h.bytecode_set());
        vm.cache.flush();
        assert_eq!(vm.cache.copies.memo(Oop(0)), None);
        assert_eq!(vm.cache.copies.memo(m), None);
    }

    /// A frame whose saved caller fp a malformed method overwrote with its
    /// own fp would send a walk over the frames round forever: the walk
    /// stops with a report instead.
    #[test]
    fn a_frame_chain_that_does_not_rise_is_reported() {
        let mut vm = crate::interp::kernel_vm_after(200);
        let fp = vm.fp;
        assert!(!vm.is_base_frame(fp), "the active frame has a caller frame");
        vm.set_fslot(fp, crate::interp::frame::CALLER_FP, fp as u64);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            vm.visit_roots(&mut |_| {});
        }));
        let panic = outcome.expect_err("the walk cannot finish");
        let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("corrupt frame chain"), "{msg}");
    }
}
