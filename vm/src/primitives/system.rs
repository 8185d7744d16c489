//! System primitives: quit, clocks, the timer, command-line attributes,
//! VM parameters, garbage collection requests, snapshot.

use super::{PrimResult, ERR_BAD_ARGUMENT, FAIL};
use crate::interp::{Fault, Vm};
use gc::specials::so;
use gc::Oop;
use platform::clock;

impl Vm {
    /// A new ByteString holding `s`.
    pub(crate) fn new_string(&mut self, s: &str) -> Result<Oop, Fault> {
        let class = self.heap.special(so::CLASS_BYTE_STRING);
        let o = self.instantiate(class, s.len())?;
        self.heap.bytes_mut(o).copy_from_slice(s.as_bytes());
        Ok(o)
    }

    pub(crate) fn prim_system(&mut self, index: usize, nargs: usize) -> Result<PrimResult, Fault> {
        match index {
            113 => {
                let code = if nargs >= 1 {
                    self.stack_value(0).as_small_int().unwrap_or(0)
                } else {
                    0
                };
                self.quit = Some(code as i32);
                self.prim_return(nargs, self.nil());
                Err(crate::interp::QUIT.into())
            }
            89 | 116 | 119 | 214 | 215 | 570 => {
                self.cache.flush();
                let r = self.stack_value(nargs);
                Ok(self.prim_return(nargs, r))
            }
            122 => {
                let r = self.stack_value(nargs);
                Ok(self.prim_return(nargs, r))
            }
            121 => {
                if nargs != 0 {
                    return Ok(FAIL);
                }
                let p = self.options.image_path.display().to_string();
                let s = self.new_string(&p)?;
                Ok(self.prim_return(0, s))
            }
            142 => {
                let p = self.options.vm_path.clone();
                let s = self.new_string(&p)?;
                Ok(self.prim_return(0, s))
            }
            125 => {
                // signalAtBytesLeft: the low-space semaphore (special object
                // 17) is signalled when old space comes this close to its limit.
                let Some(n) = self.stack_value(0).as_small_int().filter(|&n| n >= 0) else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                self.heap.set_low_space_bytes(n as usize);
                let r = self.stack_value(nargs);
                Ok(self.prim_return(nargs, r))
            }
            124 | 133 | 134 | 140 => {
                let r = self.stack_value(nargs);
                Ok(self.prim_return(nargs, r))
            }
            130 | 131 => {
                let kind = if index == 130 {
                    gc::GcKind::Full
                } else {
                    gc::GcKind::Scavenge
                };
                self.collect_garbage(Some(kind))?;
                let free = self.heap.stats().old_space_free_bytes as i64;
                Ok(self.prim_return(nargs, Oop::small_int(free)))
            }
            112 => {
                let free = self.heap.stats().old_space_free_bytes as i64;
                Ok(self.prim_return(nargs, Oop::small_int(free)))
            }
            172 => match self.heap.fetch_next_mourner() {
                Some(o) => Ok(self.prim_return(nargs, o)),
                None => Ok(FAIL),
            },
            180 => Ok(FAIL),
            135 => {
                let ms = (self.started.elapsed().as_millis() as i64) & 0x1fff_ffff;
                Ok(self.prim_return(0, Oop::small_int(ms)))
            }
            137 => {
                let s = (clock::utc_micros_since_1901() / 1_000_000) as i64;
                Ok(self.prim_return(0, Oop::small_int(s)))
            }
            136 | 242 => {
                let sema = self.stack_value(1);
                let Some(when) = self.integer_value(self.stack_value(0)) else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                let when_us = if index == 136 {
                    // Milliseconds on the millisecond clock.
                    let now_ms = (self.started.elapsed().as_millis() as i128) & 0x1fff_ffff;
                    clock::utc_micros_since_1901() as i128 + (when - now_ms) * 1000
                } else {
                    when
                };
                // As on the OpenSmalltalk VM, a wakeup time of 0 means none:
                // the image cancels the timer that way.
                if sema.is_object() && sema != self.nil() && !(index == 242 && when == 0) {
                    let sema_class = self.heap.special(so::CLASS_SEMAPHORE);
                    if self.heap.class_of(sema) != sema_class {
                        return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                    }
                    self.timer = Some((sema, when_us.max(0) as u64));
                } else {
                    self.timer = None;
                }
                let r = self.stack_value(2);
                Ok(self.prim_return(2, r))
            }
            240 | 245 => {
                let v = self.make_integer(clock::utc_micros_since_1901() as i128)?;
                Ok(self.prim_return(nargs, v))
            }
            241 | 246 => {
                let local = clock::utc_micros_since_1901() as i128
                    + clock::local_offset_seconds() as i128 * 1_000_000;
                let v = self.make_integer(local)?;
                Ok(self.prim_return(nargs, v))
            }
            243 => Ok(self.prim_return(nargs, self.nil())),
            244 => {
                let a = self.new_array(2)?;
                let now = self.make_integer(clock::utc_micros_since_1901() as i128)?;
                self.heap.set_slot(a, 0, now);
                self.heap
                    .set_slot(a, 1, Oop::small_int(clock::local_offset_seconds()));
                Ok(self.prim_return(nargs, a))
            }
            149 => {
                let Some(n) = self.stack_value(0).as_small_int() else {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                };
                let s = match n {
                    0 => Some(self.options.vm_path.clone()),
                    1 => Some(self.options.image_path.display().to_string()),
                    1001 => Some(std::env::consts::OS.to_string()),
                    1002 => Some(std::env::consts::OS.to_string()),
                    1003 => Some(std::env::consts::ARCH.to_string()),
                    1004 => Some(format!("Sprocket {}", env!("CARGO_PKG_VERSION"))),
                    1009 => Some(format!("Sprocket VM {}", env!("CARGO_PKG_VERSION"))),
                    n if n >= 2 => self.options.image_args.get(n as usize - 2).cloned(),
                    _ => None,
                };
                let v = match s {
                    Some(s) => self.new_string(&s)?,
                    None => self.nil(),
                };
                Ok(self.prim_return(1, v))
            }
            230 => {
                // relinquishProcessor: microseconds to sleep at most.
                let us = self.stack_value(0).as_small_int().unwrap_or(0).clamp(0, 100_000) as u64;
                let until_timer = self
                    .timer
                    .map(|(_, when)| when.saturating_sub(clock::utc_micros_since_1901()))
                    .unwrap_or(us);
                std::thread::sleep(std::time::Duration::from_micros(us.min(until_timer)));
                let r = self.stack_value(nargs);
                Ok(self.prim_return(nargs, r))
            }
            254 => self.prim_vm_parameter(nargs),
            97 => self.prim_snapshot(nargs),
            176 => Ok(self.prim_return(0, Oop::small_int(gc::header::MAX_IDENTITY_HASH as i64))),
            _ => Ok(FAIL),
        }
    }

    /// vmParameterAt: (and the full array with no argument), with the
    /// OpenSmalltalk VM's indices where Sprocket has a value.
    fn prim_vm_parameter(&mut self, nargs: usize) -> Result<PrimResult, Fault> {
        const COUNT: usize = 75;
        let stats = self.heap.stats();
        let value = |vm: &Vm, i: usize| -> Oop {
            if let Some(v) = stats.vm_parameter(i) {
                return Oop::small_int(v);
            }
            match i {
                40 => Oop::small_int(8),
                41 => Oop::small_int(68021),
                42 => Oop::small_int(vm.image_header.num_stack_pages as i64),
                44 | 45 => Oop::small_int(vm.image_header.eden_bytes as i64),
                7..=11 | 19..=23 | 34..=38 | 46..=48 | 56..=60 | 62..=70 => Oop::small_int(0),
                _ => vm.nil(),
            }
        };
        match nargs {
            0 => {
                let a = self.new_array(COUNT)?;
                for i in 1..=COUNT {
                    let v = value(self, i);
                    self.heap.set_slot(a, i - 1, v);
                }
                Ok(self.prim_return(0, a))
            }
            1 => {
                let Some(i) = self.stack_value(0).as_small_int() else {
                    return Ok(FAIL);
                };
                if i < 1 || i as usize > COUNT {
                    return Ok(FAIL);
                }
                let v = value(self, i as usize);
                Ok(self.prim_return(1, v))
            }
            2 => {
                // Setting parameters: accept and answer the old value.
                let Some(i) = self.stack_value(1).as_small_int() else {
                    return Ok(FAIL);
                };
                if i < 1 || i as usize > COUNT {
                    return Ok(FAIL);
                }
                let v = value(self, i as usize);
                Ok(self.prim_return(2, v))
            }
            _ => Ok(FAIL),
        }
    }

    /// Primitive 97: save the running image. Every frame becomes a context,
    /// the active process's suspended context is the one that will resume;
    /// in the running image the primitive answers false, in the resumed
    /// image true.
    fn prim_snapshot(&mut self, nargs: usize) -> Result<PrimResult, Fault> {
        let path = self.options.image_path.clone();
        if path.as_os_str().is_empty() {
            return Ok(FAIL);
        }
        // The resumed image must see `true` as the primitive's answer.
        let saved: Vec<Oop> = (0..=nargs).rev().map(|i| self.stack_value(i)).collect();
        self.pop_n(nargs + 1);
        self.push(self.heap.true_obj());
        let active = self.spill_all()?;
        let proc = self.active_process();
        self.heap
            .set_slot(proc, gc::specials::process::SUSPENDED_CONTEXT, active);
        // The file holds old space only: a full GC empties new space (and
        // leaves no forwarders). `active` may move; read it back after.
        self.collect_garbage(Some(gc::GcKind::Full))?;
        let proc = self.active_process();
        let active = self.heap.slot(proc, gc::specials::process::SUSPENDED_CONTEXT);
        self.image_header.last_hash = self.heap.last_hash;
        let result = images::save_image(&path, &self.heap, &self.image_header);
        let nil = self.nil();
        self.heap
            .set_slot(proc, gc::specials::process::SUSPENDED_CONTEXT, nil);
        self.load_context(active)?;
        match result {
            Ok(()) => {
                self.pop();
                self.push(self.heap.false_obj());
                Ok(PrimResult::Success)
            }
            Err(e) => {
                // The image keeps running and sees the primitive fail.
                eprintln!("sprocket: snapshot failed: {e}");
                self.pop();
                for v in saved {
                    self.push(v);
                }
                Ok(FAIL)
            }
        }
    }
}
