//! The V3PlusClosures bytecode set (Squeak up to 5.x).

use super::regs::{bytecode_loop_macros, CondJump, SPECIAL_CLASS, SPECIAL_IDENTICAL};
use super::{Fault, Vm};
use gc::method::BytecodeSet;
use gc::specials::{association, closure, so};
use gc::Oop;

impl Vm {
    /// Runs up to `budget` V3PlusClosures bytecodes with the registers in
    /// locals (see `regs.rs`). Returns the budget left when the active
    /// method changes to the other bytecode set.
    // Or-patterns of single values on purpose: see the dispatch note in regs.rs.
    #[allow(clippy::manual_range_patterns)]
    pub(crate) fn run_v3<const STEP: bool>(&mut self, budget: u32) -> Result<u32, Fault> {
        let mut r = self.regs();
        self.budget = budget;
        bytecode_loop_macros!($ self r BytecodeSet::V3PlusClosures, v3_cond_jump);
        'bytecodes: loop {
            if STEP && !self.take_step() {
                break;
            }
            let b = self.r_fetch_opcode(&mut r);
            // One copy of the send path: see run_sista.
            let (sel, nargs) = 'send: {
                macro_rules! send {
                    ($s:expr, $n:expr) => {
                        break 'send ($s, $n)
                    };
                }
                // Single values, not ranges: see run_sista.
                match b {
                    0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 => {
                        match self.r_receiver_var(&r, b as usize) {
                            Some(v) => self.r_push(&mut r, v),
                            None => slow!(self.receiver_var(b as usize).map(|v| self.push(v))),
                        }
                    }
                    16 | 17 | 18 | 19 | 20 | 21 | 22 | 23 | 24 | 25 | 26 | 27 | 28 | 29 | 30 | 31 => {
                        let v = self.r_temp(&r, b as usize & 15);
                        self.r_push(&mut r, v);
                    }
                    32 | 33 | 34 | 35 | 36 | 37 | 38 | 39 | 40 | 41 | 42 | 43 | 44 | 45 | 46 | 47 | 48
                    | 49 | 50 | 51 | 52 | 53 | 54 | 55 | 56 | 57 | 58 | 59 | 60 | 61 | 62 | 63 => {
                        let v = self.r_literal(&r, b as usize & 31);
                        self.r_push(&mut r, v);
                    }
                    64 | 65 | 66 | 67 | 68 | 69 | 70 | 71 | 72 | 73 | 74 | 75 | 76 | 77 | 78 | 79 | 80
                    | 81 | 82 | 83 | 84 | 85 | 86 | 87 | 88 | 89 | 90 | 91 | 92 | 93 | 94 | 95 => {
                        let a = self.r_literal(&r, b as usize & 31);
                        let v = self.heap.slot(a, association::VALUE);
                        self.r_push(&mut r, v);
                    }
                    96 | 97 | 98 | 99 | 100 | 101 | 102 | 103 => {
                        let v = self.r_pop(&mut r);
                        if !self.r_store_receiver_var(&r, b as usize & 7, v) {
                            slow!(self.store_receiver_var(b as usize & 7, v));
                        }
                    }
                    104 | 105 | 106 | 107 | 108 | 109 | 110 | 111 => {
                        let v = self.r_pop(&mut r);
                        self.r_set_temp(&r, b as usize & 7, v);
                    }
                    112 => {
                        let v = self.r_receiver(&r);
                        self.r_push(&mut r, v);
                    }
                    113 => self.r_push(&mut r, self.heap.true_obj()),
                    114 => self.r_push(&mut r, self.heap.false_obj()),
                    115 => self.r_push(&mut r, self.heap.nil()),
                    116 | 117 | 118 | 119 => self.r_push(&mut r, Oop::small_int(b as i64 - 117)),
                    120 | 121 | 122 | 123 => {
                        let v = match b {
                            120 => self.r_receiver(&r),
                            121 => self.heap.true_obj(),
                            122 => self.heap.false_obj(),
                            _ => self.heap.nil(),
                        };
                        method_return!(v)
                    }
                    124 => {
                        let v = self.r_pop(&mut r);
                        method_return!(v)
                    }
                    125 => {
                        let v = self.r_pop(&mut r);
                        block_return!(v)
                    }
                    128 => {
                        let d = self.r_fetch(&mut r);
                        let i = (d & 63) as usize;
                        let v = match d >> 6 {
                            0 => match self.r_receiver_var(&r, i) {
                                Some(v) => v,
                                None => {
                                    slow!(self.receiver_var(i).map(|v| self.push(v)));
                                    continue 'bytecodes;
                                }
                            },
                            1 => self.r_temp(&r, i),
                            2 => self.r_literal(&r, i),
                            _ => {
                                let a = self.r_literal(&r, i);
                                self.heap.slot(a, association::VALUE)
                            }
                        };
                        self.r_push(&mut r, v);
                    }
                    129 | 130 => {
                        let d = self.r_fetch(&mut r);
                        let i = (d & 63) as usize;
                        let v = self.r_store_value(&mut r, b == 130);
                        match d >> 6 {
                            0 => {
                                if !self.r_store_receiver_var(&r, i, v) {
                                    slow!(self.store_receiver_var(i, v));
                                }
                            }
                            1 => self.r_set_temp(&r, i, v),
                            2 => {
                                self.sync(&r);
                                return Err("store into a literal constant".into());
                            }
                            _ => {
                                let a = self.r_literal(&r, i);
                                slow!(self.store_checked(a, association::VALUE, v));
                            }
                        }
                    }
                    131 => {
                        let d = self.r_fetch(&mut r);
                        let sel = self.r_literal(&r, (d & 31) as usize);
                        send!(sel, (d >> 5) as usize)
                    }
                    132 => {
                        let d1 = self.r_fetch(&mut r);
                        let d2 = self.r_fetch(&mut r);
                        if d1 >> 5 == 0 {
                            let sel = self.r_literal(&r, d2 as usize);
                            send!(sel, (d1 & 31) as usize)
                        } else {
                            slow!(self.double_extended_v3(d1, d2 as usize));
                        }
                    }
                    133 => {
                        let d = self.r_fetch(&mut r);
                        let sel = self.r_literal(&r, (d & 31) as usize);
                        slow!(self.send_super(sel, (d >> 5) as usize));
                    }
                    134 => {
                        let d = self.r_fetch(&mut r);
                        let sel = self.r_literal(&r, (d & 63) as usize);
                        send!(sel, (d >> 6) as usize)
                    }
                    135 => r.sp = r.sp.wrapping_add(1),
                    136 => {
                        let v = self.r_at(&r, 0);
                        self.r_push(&mut r, v);
                    }
                    137 => slow!(self.frame_context(self.fp).map(|c| self.push(c))),
                    138 => {
                        let d = self.r_fetch(&mut r);
                        slow!(self.push_new_array(d));
                    }
                    139 => {
                        // callPrimitive: the primitive already ran (and failed).
                        r.ip += 2;
                    }
                    140 => self.r_push_remote_temp(&mut r)?,
                    141 | 142 => self.r_store_remote_temp(&mut r, b == 142)?,
                    143 => {
                        let d = self.r_fetch(&mut r);
                        let hi = self.r_fetch(&mut r) as usize;
                        let lo = self.r_fetch(&mut r) as usize;
                        let size = (hi << 8) | lo;
                        slow!(self.push_block_closure((d >> 4) as usize, (d & 15) as usize, size));
                    }
                    144 | 145 | 146 | 147 | 148 | 149 | 150 | 151 => r.ip += (b as usize & 7) + 1,
                    152 | 153 | 154 | 155 | 156 | 157 | 158 | 159 => {
                        self.r_jump_if(&mut r, false, (b as usize & 7) + 1)?
                    }
                    160 | 161 | 162 | 163 | 164 | 165 | 166 | 167 => {
                        let d = self.r_fetch(&mut r) as isize;
                        let off = ((b as isize & 7) - 4) * 256 + d;
                        r.ip = (r.ip as isize + off) as usize;
                        self.r_jumped(&mut r);
                        if off < 0 {
                            tick!();
                        }
                    }
                    168 | 169 | 170 | 171 | 172 | 173 | 174 | 175 => {
                        let d = self.r_fetch(&mut r) as usize;
                        self.r_jump_if(&mut r, b < 172, (b as usize & 3) * 256 + d)?;
                    }
                    // The commonest special selectors get an arm each, so that the
                    // inline paths are specialized for them (no second dispatch on k).
                    176 => special!(0),
                    177 => special!(1),
                    178 => special!(2),
                    179 => special!(3),
                    180 => special!(4),
                    181 => special!(5),
                    182 => special!(6),
                    183 => special!(7),
                    192 => special!(16),
                    193 => special!(17),
                    194 => special!(18),
                    198 => special!(22),
                    184 | 185 | 186 | 187 | 188 | 189 | 190 | 191 | 195 | 196 | 197 | 199 | 200 | 201
                    | 202 | 203 | 204 | 205 | 206 | 207 => special!((b - 176) as usize),
                    208 | 209 | 210 | 211 | 212 | 213 | 214 | 215 | 216 | 217 | 218 | 219 | 220 | 221
                    | 222 | 223 | 224 | 225 | 226 | 227 | 228 | 229 | 230 | 231 | 232 | 233 | 234 | 235
                    | 236 | 237 | 238 | 239 | 240 | 241 | 242 | 243 | 244 | 245 | 246 | 247 | 248 | 249
                    | 250 | 251 | 252 | 253 | 254 | 255 => {
                        let sel = self.r_literal(&r, (b & 15) as usize);
                        send!(sel, ((b - 208) >> 4) as usize)
                    }
                    // The sentinel of this set's method copies (code.rs): its
                    // arm stops at the end of a copy.
                    126 => {
                        self.past_copy(r, b)?;
                        return Ok(self.budget);
                    }
                    // Every value is listed (see regs.rs): 126 and 127 are unassigned.
                    127 => {
                        self.sync(&r);
                        return self.unknown_bytecode(b).map(|()| self.budget);
                    }
                }
                continue 'bytecodes;
            };
            self.r_send::<STEP>(&mut r, sel, nargs)?;
            check_set!();
            tick!();
        }
        self.sync(&r);
        Ok(0)
    }

    /// Bytecode 132 other than a plain send: super send, and pushes and
    /// stores with a full byte of index.
    fn double_extended_v3(&mut self, d1: u8, d2: usize) -> Result<(), Fault> {
        match d1 >> 5 {
            1 => {
                let sel = self.literal(d2);
                self.send_super(sel, (d1 & 31) as usize)
            }
            2 => {
                let v = self.receiver_var(d2)?;
                self.push(v);
                Ok(())
            }
            3 => {
                let v = self.literal(d2);
                self.push(v);
                Ok(())
            }
            4 => {
                let a = self.literal(d2);
                let v = self.heap.slot(a, association::VALUE);
                self.push(v);
                Ok(())
            }
            5 => {
                let v = self.top();
                self.store_receiver_var(d2, v)
            }
            6 => {
                let v = self.pop();
                self.store_receiver_var(d2, v)
            }
            7 => {
                let a = self.literal(d2);
                let v = self.top();
                self.store_checked(a, association::VALUE, v)
            }
            _ => {
                let sel = self.literal(d2);
                self.send(sel, (d1 & 31) as usize)
            }
        }
    }

    /// Pushes a BlockClosure for the block whose bytecodes start at the
    /// current ip (`size` bytes, skipped here), capturing `ncopied` values
    /// from the stack and the active frame's context.
    pub(crate) fn push_block_closure(
        &mut self,
        ncopied: usize,
        nargs: usize,
        size: usize,
    ) -> Result<(), Fault> {
        let ctx = self.frame_context(self.fp)?;
        let cls = self.heap.special(so::CLASS_BLOCK_CLOSURE);
        let cl = self.instantiate(cls, ncopied)?;
        self.heap.set_slot(cl, closure::OUTER_CONTEXT, ctx);
        self.heap.set_slot(
            cl,
            closure::START_PC_OR_METHOD,
            Oop::small_int(self.ip as i64 + 1),
        );
        self.heap
            .set_slot(cl, closure::NUM_ARGS, Oop::small_int(nargs as i64));
        for i in 0..ncopied {
            let v = self.stack_value(ncopied - 1 - i);
            self.heap.set_slot(cl, closure::FIRST_COPIED_VALUE + i, v);
        }
        self.pop_n(ncopied);
        self.push(cl);
        self.ip += size;
        Ok(())
    }

    /// pushNewArray: `d & 127` elements, popped from the stack when the high
    /// bit is set (a brace array), else nil.
    pub(crate) fn push_new_array(&mut self, d: u8) -> Result<(), Fault> {
        let n = (d & 127) as usize;
        let a = self.new_array(n)?;
        if d & 128 != 0 {
            for i in 0..n {
                let v = self.stack_value(n - 1 - i);
                self.heap.set_slot(a, i, v);
            }
            self.pop_n(n);
        }
        self.push(a);
        Ok(())
    }

    /// Bytecodes 126, 127: not assigned in this set.
    pub(crate) fn unknown_bytecode(&mut self, b: u8) -> Result<(), Fault> {
        Err(fault!("unknown bytecode {b}"))
    }

    /// Receiver instance variable `i`; a married Context is read through its frame.
    pub(crate) fn receiver_var(&mut self, i: usize) -> Result<Oop, Fault> {
        let r = self.heap.follow(self.receiver());
        if i < gc::specials::context::METHOD && self.is_context(r) && self.is_married(r) {
            return self.ctx_read(r, i);
        }
        let r = self.slot_holder(r, i)?;
        Ok(self.heap.slot(r, i))
    }

    pub(crate) fn store_receiver_var(&mut self, i: usize, v: Oop) -> Result<(), Fault> {
        let r = self.heap.follow(self.receiver());
        if self.heap.header(r).is_immutable() {
            return self.attempt_to_assign(r, i, v);
        }
        if self.is_context(r) && self.is_married(r) {
            return self.ctx_write(r, i, v);
        }
        let r = self.slot_holder(r, i)?;
        self.heap.set_slot(r, i, v);
        Ok(())
    }

    /// The object whose slot `i` a bytecode reads or writes: `obj` past
    /// any become forwarder. A malformed method's index past the last slot
    /// (which, written, would overwrite the next object's header) or a
    /// non-pointer object faults instead.
    #[inline]
    pub(crate) fn slot_holder(&self, obj: Oop, i: usize) -> Result<Oop, Fault> {
        let obj = self.heap.follow(obj);
        if !obj.is_object()
            || !gc::format::is_pointers(self.heap.format(obj))
            || i >= self.heap.num_slots(obj)
        {
            return Err(fault!("no slot {i} in {obj:?}"));
        }
        Ok(obj)
    }

    /// A store into an object's slot by a bytecode: immutable objects get
    /// `attemptToAssign:withIndex:` instead.
    #[inline]
    pub(crate) fn store_checked(&mut self, obj: Oop, i: usize, v: Oop) -> Result<(), Fault> {
        let obj = self.slot_holder(obj, i)?;
        if self.heap.header(obj).is_immutable() {
            return self.attempt_to_assign(obj, i, v);
        }
        self.heap.set_slot(obj, i, v);
        Ok(())
    }

    /// `obj attemptToAssign: v withIndex: i+1` in place of a store into an
    /// immutable object. The store bytecode has no result of its own, so the
    /// frame is marked to drop the send's answer when it returns.
    fn attempt_to_assign(&mut self, obj: Oop, i: usize, v: Oop) -> Result<(), Fault> {
        let sel = self.heap.special(so::SELECTOR_ATTEMPT_TO_ASSIGN);
        self.push(obj);
        self.push(v);
        self.push(Oop::small_int(i as i64 + 1));
        let fp = self.fp;
        let flags = self.fslot(fp, super::frame::FLAGS);
        self.set_fslot(fp, super::frame::FLAGS, flags | super::frame::FLAG_DISCARD_RESULT);
        self.send(sel, 2)
    }

    /// The less common SmallInteger special selectors (* / \\ bitShift: // bitAnd: bitOr:).
    #[inline(never)]
    pub(crate) fn small_int_special_rare(&self, k: usize, x: i64, y: i64) -> Option<Oop> {
        match k {
            8 => x.checked_mul(y).and_then(Oop::try_small_int),
            9 => (y != 0 && x % y == 0).then(|| Oop::small_int(x / y)),
            10 => (y != 0).then(|| Oop::small_int(crate::primitives::arith::floor_mod(x, y))),
            12 => crate::primitives::arith::bit_shift(x, y),
            13 => (y != 0)
                .then(|| Oop::try_small_int(crate::primitives::arith::floor_div(x, y)))
                .flatten(),
            14 => Some(Oop::small_int(x & y)),
            15 => Some(Oop::small_int(x | y)),
            _ => None,
        }
    }

    /// `==` when an operand may be a forwarder (compared after following
    /// them), or `class` (`class` true): the two special selectors the loops
    /// answer without a send that `r_special_inline` leaves to them.
    #[inline(never)]
    pub(crate) fn identical_or_class(&mut self, class: bool) -> Result<(), Fault> {
        if class {
            let a = self.pop();
            let c = self.heap.class_of(a);
            self.push(c);
        } else {
            let b = self.pop();
            let a = self.pop();
            let same = a == b || self.heap.follow(a) == self.heap.follow(b);
            self.push(self.boolean(same));
        }
        Ok(())
    }
}

/// A V3 conditional jump: short jumpFalse (152–159) or long (168–171
/// jumpTrue, 172–175 jumpFalse, high offset bits in the bytecode).
#[inline(always)]
fn v3_cond_jump(b: u8) -> Option<CondJump> {
    match b {
        152..=159 => Some(CondJump {
            when: false,
            offset: (b as usize & 7) + 1,
            long: false,
        }),
        168..=175 => Some(CondJump {
            when: b < 172,
            offset: b as usize & 3,
            long: true,
        }),
        _ => None,
    }
}
