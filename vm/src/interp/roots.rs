//! The references the VM holds outside the heap, for the garbage collector.
//!
//! A moving collector must find and update every object reference in the
//! VM's registers and on its stack. The frame layout (see `frame.rs`) tells
//! which stack words are references: the receiver or closure and the
//! arguments, a base frame's caller context, the method, the context (when
//! not 0), the receiver, and the temporaries and operand stack. The caller's
//! saved ip and fp and the flags word are raw integers.

use super::frame::*;
use super::Vm;
use gc::Oop;

impl Vm {
    /// Calls `f` on every object reference held by the VM outside the heap;
    /// `f` may replace them (a moving GC does). The method cache is flushed,
    /// since its keys may have moved.
    pub fn visit_roots(&mut self, f: &mut dyn FnMut(&mut Oop)) {
        let visit_word = |stack: &mut [u64], i: usize, f: &mut dyn FnMut(&mut Oop)| {
            let mut o = Oop(stack[i]);
            f(&mut o);
            stack[i] = o.0;
        };
        f(&mut self.method);
        if let Some((sema, _)) = self.timer.as_mut() {
            f(sema);
        }
        let (mut fp, mut sp) = (self.fp, self.sp);
        while fp < STACK_WORDS {
            let nargs = self.frame_num_args(fp);
            for i in fp + 2..=fp + 2 + nargs {
                visit_word(&mut self.stack, i, f);
            }
            let base = self.is_base_frame(fp);
            if base {
                visit_word(&mut self.stack, fp + 1, f);
            }
            visit_word(&mut self.stack, fp - 1, f);
            if self.stack[fp - 2] != 0 {
                visit_word(&mut self.stack, fp - 2, f);
            }
            visit_word(&mut self.stack, fp - 4, f);
            // Temporaries and operand stack: fp-5 down to sp.
            let mut i = sp;
            while i < fp - 4 {
                visit_word(&mut self.stack, i, f);
                i += 1;
            }
            if base {
                break;
            }
            sp = fp + 2 + nargs + 1;
            fp = self.fslot(fp, CALLER_FP) as usize;
        }
        self.cache.flush();
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
            vm.step_v3().unwrap();
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
}
