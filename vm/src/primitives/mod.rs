//! Primitives: numbered ones dispatch through [`Vm::call_primitive`], named
//! ones (primitive 117) through the module registry in [`named`]. A
//! primitive either succeeds (it has popped the receiver and arguments and
//! pushed its result, or activated something) or fails with an error code,
//! leaving the stack untouched so the method's Smalltalk code runs.

pub mod arith;
pub mod control;
pub mod files;
pub mod largeint;
pub mod misc;
pub mod named;
pub mod objects;
pub mod system;

use crate::interp::{Fault, Vm};
use gc::specials::so;
use gc::Oop;

/// Outcome of a primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimResult {
    Success,
    /// Failed with a PrimErrTable code (1 generic, 2 bad receiver, ...).
    Fail(u8),
}

pub const ERR_GENERIC: u8 = 1;
pub const ERR_BAD_RECEIVER: u8 = 2;
pub const ERR_BAD_ARGUMENT: u8 = 3;
pub const ERR_BAD_INDEX: u8 = 4;
pub const ERR_BAD_NUM_ARGS: u8 = 5;
pub const ERR_INAPPROPRIATE: u8 = 6;
pub const ERR_UNSUPPORTED: u8 = 7;
pub const ERR_NO_MODIFICATION: u8 = 8;
pub const ERR_NO_MEMORY: u8 = 9;
pub const ERR_NOT_FOUND: u8 = 11;

pub const FAIL: PrimResult = PrimResult::Fail(ERR_GENERIC);

/// How a failed allocation's fault message starts.
pub const OUT_OF_MEMORY: &str = "out of memory";

impl Vm {
    /// What quick primitive `index` (256-519) answers for `rcvr`: self,
    /// true, false, nil, -1..2, or instance variable `index - 264`. None
    /// (the primitive fails and the method runs) for an instance variable
    /// the receiver does not have, or one of a Context, whose fields may be
    /// in its frame.
    #[inline]
    pub(crate) fn quick_primitive_value(&self, rcvr: Oop, index: usize) -> Option<Oop> {
        Some(match index {
            256 => rcvr,
            257 => self.heap.true_obj(),
            258 => self.heap.false_obj(),
            259 => self.heap.nil(),
            260..=263 => Oop::small_int(index as i64 - 261),
            264..=519 => {
                let i = index - 264;
                if !rcvr.is_object() {
                    return None;
                }
                let f = self.heap.format(rcvr);
                if f > gc::format::EPHEMERON
                    || f == gc::format::FIXED_INDEXABLE
                    || i >= self.heap.num_slots(rcvr)
                {
                    return None;
                }
                self.heap.slot(rcvr, i)
            }
            _ => return None,
        })
    }

    /// Pops the receiver and `nargs` arguments and pushes `v`.
    #[inline]
    pub(crate) fn prim_return(&mut self, nargs: usize, v: Oop) -> PrimResult {
        self.pop_n(nargs + 1);
        self.push(v);
        PrimResult::Success
    }

    /// The error-code object the image sees for a failure code.
    pub(crate) fn error_code_object(&self, code: u8) -> Oop {
        let table = self.heap.special(so::PRIM_ERR_TABLE);
        if table.is_object()
            && table != self.nil()
            && (code as usize) <= self.heap.num_slots(table)
            && code >= 1
        {
            self.heap.slot(table, code as usize - 1)
        } else {
            Oop::small_int(code as i64)
        }
    }

    /// Runs primitive `index` of method `m`; on failure answers the error
    /// code object for the method's error temp.
    pub(crate) fn call_primitive(&mut self, index: usize, m: Oop, nargs: usize) -> Result<FailOr, Fault> {
        let sp = self.sp;
        let r = match self.dispatch_primitive(index, m, nargs) {
            // Memory ran out before the primitive changed anything: the
            // image sees an ordinary primitive failure it can handle.
            Err(e) if e.starts_with(OUT_OF_MEMORY) && self.sp == sp => PrimResult::Fail(ERR_NO_MEMORY),
            other => other?,
        };
        match r {
            PrimResult::Success => {
                self.signal_low_space_if_due()?;
                Ok(FailOr::Success)
            }
            PrimResult::Fail(code) => {
                debug_assert_eq!(self.sp, sp, "primitive {index} failed after changing the stack");
                Ok(FailOr::Fail(self.error_code_object(code)))
            }
        }
    }

    /// After a primitive succeeded: when an allocation came close to the
    /// old-space limit, signal the low-space semaphore now, not at the next
    /// safe point.
    #[inline]
    pub(crate) fn signal_low_space_if_due(&mut self) -> Result<(), Fault> {
        if self.heap.take_low_space_signal() {
            let sema = self.heap.special(so::THE_LOW_SPACE_SEMAPHORE);
            self.signal(sema)?;
        }
        Ok(())
    }

    fn dispatch_primitive(&mut self, index: usize, m: Oop, nargs: usize) -> Result<PrimResult, Fault> {
        match index {
            1..=17 | 20..=37 => {
                if nargs != 1 {
                    return Ok(PrimResult::Fail(ERR_BAD_NUM_ARGS));
                }
                self.prim_integer(index)
            }
            40..=59 | 541..=559 => self.prim_float(index, nargs),
            60..=64
            | 68..=75
            | 77..=79
            | 105
            | 110
            | 111
            | 115
            | 128
            | 129
            | 138
            | 139
            | 143
            | 144
            | 145
            | 148
            | 158..=161
            | 163..=166
            | 168..=171
            | 173..=178
            | 181..=184
            | 248..=249 => self.prim_object(index, nargs),
            76
            | 83
            | 84
            | 85..=88
            | 100
            | 167
            | 188
            | 189
            | 195..=199
            | 200..=212
            | 221
            | 222
            | 185..=187 => self.prim_control(index, m, nargs),
            113
            | 172
            | 116
            | 119
            | 121
            | 124
            | 125
            | 130..=137
            | 140
            | 142
            | 149
            | 180
            | 214
            | 215
            | 230
            | 240..=247
            | 254
            | 97
            | 89
            | 122
            | 112
            | 570..=575 => self.prim_system(index, nargs),
            117 => self.prim_named(m, nargs),
            256..=519 => {
                let rcvr = self.stack_value(nargs);
                match self.quick_primitive_value(rcvr, index) {
                    Some(v) => Ok(self.prim_return(nargs, v)),
                    None => Ok(FAIL),
                }
            }
            _ => Ok(FAIL),
        }
    }
}

/// A primitive's outcome as the send machinery needs it.
pub enum FailOr {
    Success,
    /// Failed: the error code object for the method's error temp.
    Fail(Oop),
}

impl From<FailOr> for crate::interp::send::PrimOutcome {
    fn from(f: FailOr) -> Self {
        match f {
            FailOr::Success => crate::interp::send::PrimOutcome::Success,
            FailOr::Fail(o) => crate::interp::send::PrimOutcome::Fail(o),
        }
    }
}
