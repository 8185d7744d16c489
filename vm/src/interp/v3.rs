//! The V3PlusClosures bytecode set (Squeak up to 5.x).

use super::{Fault, Vm};
use gc::specials::{association, closure, so};
use gc::Oop;

/// Special selector bytecodes 176..207 that the VM answers without a send
/// when the operands are SmallIntegers.
impl Vm {
    #[inline(always)]
    pub(crate) fn step_v3(&mut self) -> Result<(), Fault> {
        let b = self.fetch_byte();
        match b {
            0..=15 => {
                let v = self.receiver_var(b as usize & 15)?;
                self.push(v);
            }
            16..=31 => {
                let v = self.temp(b as usize & 15);
                self.push(v);
            }
            32..=63 => {
                let v = self.literal(b as usize & 31);
                self.push(v);
            }
            64..=95 => {
                let assoc = self.literal(b as usize & 31);
                let v = self.heap.slot(assoc, association::VALUE);
                self.push(v);
            }
            96..=103 => {
                let v = self.pop();
                self.store_receiver_var(b as usize & 7, v)?;
            }
            104..=111 => {
                let v = self.pop();
                self.set_temp(b as usize & 7, v);
            }
            112 => {
                let r = self.receiver();
                self.push(r);
            }
            113 => self.push(self.heap.true_obj()),
            114 => self.push(self.heap.false_obj()),
            115 => self.push(self.nil()),
            116..=119 => self.push(Oop::small_int(b as i64 - 117)),
            120 => {
                let r = self.receiver();
                self.method_return(r)?;
            }
            121 => self.method_return(self.heap.true_obj())?,
            122 => self.method_return(self.heap.false_obj())?,
            123 => self.method_return(self.nil())?,
            124 => {
                let v = self.pop();
                self.method_return(v)?;
            }
            125 => {
                let v = self.pop();
                self.return_value(v)?;
            }
            128 => {
                let d = self.fetch_byte();
                let i = (d & 63) as usize;
                let v = match d >> 6 {
                    0 => self.receiver_var(i)?,
                    1 => self.temp(i),
                    2 => self.literal(i),
                    _ => {
                        let a = self.literal(i);
                        self.heap.slot(a, association::VALUE)
                    }
                };
                self.push(v);
            }
            129 | 130 => {
                let d = self.fetch_byte();
                let i = (d & 63) as usize;
                let v = if b == 130 { self.pop() } else { self.top() };
                match d >> 6 {
                    0 => self.store_receiver_var(i, v)?,
                    1 => self.set_temp(i, v),
                    2 => return Err("store into a literal constant".into()),
                    _ => {
                        let a = self.literal(i);
                        self.store_checked(a, association::VALUE, v)?;
                    }
                }
            }
            131 => {
                let d = self.fetch_byte();
                let sel = self.literal((d & 31) as usize);
                self.send(sel, (d >> 5) as usize)?;
            }
            132 => {
                let d1 = self.fetch_byte();
                let d2 = self.fetch_byte() as usize;
                match d1 >> 5 {
                    0 => {
                        let sel = self.literal(d2);
                        self.send(sel, (d1 & 31) as usize)?;
                    }
                    1 => {
                        let sel = self.literal(d2);
                        self.send_super(sel, (d1 & 31) as usize)?;
                    }
                    2 => {
                        let v = self.receiver_var(d2)?;
                        self.push(v);
                    }
                    3 => {
                        let v = self.literal(d2);
                        self.push(v);
                    }
                    4 => {
                        let a = self.literal(d2);
                        let v = self.heap.slot(a, association::VALUE);
                        self.push(v);
                    }
                    5 => {
                        let v = self.top();
                        self.store_receiver_var(d2, v)?;
                    }
                    6 => {
                        let v = self.pop();
                        self.store_receiver_var(d2, v)?;
                    }
                    _ => {
                        let a = self.literal(d2);
                        let v = self.top();
                        self.store_checked(a, association::VALUE, v)?;
                    }
                }
            }
            133 => {
                let d = self.fetch_byte();
                let sel = self.literal((d & 31) as usize);
                self.send_super(sel, (d >> 5) as usize)?;
            }
            134 => {
                let d = self.fetch_byte();
                let sel = self.literal((d & 63) as usize);
                self.send(sel, (d >> 6) as usize)?;
            }
            135 => {
                self.pop();
            }
            136 => {
                let v = self.top();
                self.push(v);
            }
            137 => {
                let c = self.frame_context(self.fp)?;
                self.push(c);
            }
            138 => {
                let d = self.fetch_byte();
                self.push_new_array(d)?;
            }
            139 => {
                // callPrimitive: the primitive already ran (and failed).
                self.ip += 2;
            }
            140 => {
                let i = self.fetch_byte() as usize;
                let t = self.fetch_byte() as usize;
                let vec = self.temp(t);
                let v = self.heap.slot(vec, i);
                self.push(v);
            }
            141 | 142 => {
                let i = self.fetch_byte() as usize;
                let t = self.fetch_byte() as usize;
                let v = if b == 142 { self.pop() } else { self.top() };
                let vec = self.temp(t);
                self.heap.set_slot(vec, i, v);
            }
            143 => {
                let d = self.fetch_byte();
                let hi = self.fetch_byte() as usize;
                let lo = self.fetch_byte() as usize;
                let size = (hi << 8) | lo;
                let ncopied = (d >> 4) as usize;
                let nargs = (d & 15) as usize;
                self.push_block_closure(ncopied, nargs, size)?;
            }
            144..=151 => self.ip += (b as usize & 7) + 1,
            152..=159 => self.jump_if(false, (b as usize & 7) + 1)?,
            160..=167 => {
                let d = self.fetch_byte() as isize;
                let off = ((b as isize & 7) - 4) * 256 + d;
                self.ip = (self.ip as isize + off) as usize;
                if off < 0 {
                    self.check_for_interrupts()?;
                }
            }
            168..=171 => {
                let d = self.fetch_byte() as usize;
                self.jump_if(true, (b as usize & 3) * 256 + d)?;
            }
            172..=175 => {
                let d = self.fetch_byte() as usize;
                self.jump_if(false, (b as usize & 3) * 256 + d)?;
            }
            176..=207 => self.special_send((b - 176) as usize)?,
            208..=255 => {
                let sel = self.literal((b & 15) as usize);
                self.send(sel, ((b - 208) >> 4) as usize)?;
            }
            _ => return self.unknown_bytecode(b),
        }
        Ok(())
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

    /// A `^` in a method returns to its sender; in a block, from its home.
    pub(crate) fn method_return(&mut self, v: Oop) -> Result<(), Fault> {
        if self.frame_is_block(self.fp) {
            self.non_local_return(v)
        } else {
            self.return_value(v)
        }
    }

    #[inline(always)]
    pub(crate) fn jump_if(&mut self, cond: bool, off: usize) -> Result<(), Fault> {
        let v = self.pop();
        if v == self.boolean(cond) {
            self.ip += off;
        } else if v != self.boolean(!cond) {
            self.push(v);
            self.must_be_boolean()?;
        }
        Ok(())
    }

    /// Receiver instance variable `i`; a married Context is read through its frame.
    pub(crate) fn receiver_var(&mut self, i: usize) -> Result<Oop, Fault> {
        let r = self.receiver();
        if i < gc::specials::context::METHOD && self.is_context(r) && self.is_married(r) {
            return self.ctx_read(r, i);
        }
        Ok(self.heap.slot(r, i))
    }

    pub(crate) fn store_receiver_var(&mut self, i: usize, v: Oop) -> Result<(), Fault> {
        let r = self.receiver();
        if self.heap.header(r).is_immutable() {
            return self.attempt_to_assign(r, i, v);
        }
        if self.is_context(r) && self.is_married(r) {
            return self.ctx_write(r, i, v);
        }
        self.heap.set_slot(r, i, v);
        Ok(())
    }

    /// A store into an object's slot by a bytecode: immutable objects get
    /// `attemptToAssign:withIndex:` instead.
    #[inline]
    pub(crate) fn store_checked(&mut self, obj: Oop, i: usize, v: Oop) -> Result<(), Fault> {
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

    /// Special selector sends: arithmetic and comparisons on SmallIntegers
    /// are answered inline; `==` and `class` never send.
    #[inline(always)]
    pub(crate) fn special_send(&mut self, k: usize) -> Result<(), Fault> {
        if k < 16 {
            let a = self.stack_value(1);
            let b = self.stack_value(0);
            if a.is_small_integer() && b.is_small_integer() {
                let (x, y) = (a.small_int_value(), b.small_int_value());
                let r = match k {
                    0 => Oop::try_small_int(x + y),
                    1 => Oop::try_small_int(x - y),
                    2 => Some(self.boolean(x < y)),
                    3 => Some(self.boolean(x > y)),
                    4 => Some(self.boolean(x <= y)),
                    5 => Some(self.boolean(x >= y)),
                    6 => Some(self.boolean(x == y)),
                    7 => Some(self.boolean(x != y)),
                    _ => self.small_int_special_rare(k, x, y),
                };
                if let Some(r) = r {
                    self.pop_n(2);
                    self.push(r);
                    return Ok(());
                }
            }
        }
        self.special_send_slow(k)
    }

    /// The less common SmallInteger special selectors (* / \\ bitShift: // bitAnd: bitOr:).
    #[inline(never)]
    fn small_int_special_rare(&self, k: usize, x: i64, y: i64) -> Option<Oop> {
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

    /// `==`, `class`, and real sends of the special selectors.
    #[inline(never)]
    fn special_send_slow(&mut self, k: usize) -> Result<(), Fault> {
        if k == 22 {
            let b = self.pop();
            let a = self.pop();
            let same = a == b || self.heap.follow(a) == self.heap.follow(b);
            self.push(self.boolean(same));
            return Ok(());
        } else if k == 23 {
            let a = self.pop();
            let c = self.heap.class_of(a);
            self.push(c);
            return Ok(());
        }
        let specials = self.heap.special(so::SPECIAL_SELECTORS);
        let sel = self.heap.slot(specials, k * 2);
        let nargs = self.heap.slot(specials, k * 2 + 1).as_small_int().unwrap_or(0) as usize;
        self.send(sel, nargs)
    }
}
