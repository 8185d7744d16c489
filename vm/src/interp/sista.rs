//! The SistaV1 bytecode set (Pharo, and our image builder's default).

use super::{Fault, Vm};
use gc::specials::{association, closure, so};
use gc::Oop;

impl Vm {
    #[inline(always)]
    pub(crate) fn step_sista(&mut self) -> Result<(), Fault> {
        let mut ext_a: i64 = 0;
        let mut ext_b: i64 = 0;
        loop {
            let b = self.fetch_byte();
            match b {
                0..=15 => {
                    let v = self.receiver_var(b as usize)?;
                    self.push(v);
                }
                16..=31 => {
                    let a = self.literal(b as usize & 15);
                    let v = self.heap.slot(a, association::VALUE);
                    self.push(v);
                }
                32..=63 => {
                    let v = self.literal(b as usize & 31);
                    self.push(v);
                }
                64..=75 => {
                    let v = self.temp(b as usize & 15);
                    self.push(v);
                }
                76 => {
                    let r = self.receiver();
                    self.push(r);
                }
                77 => self.push(self.heap.true_obj()),
                78 => self.push(self.heap.false_obj()),
                79 => self.push(self.nil()),
                80 => self.push(Oop::small_int(0)),
                81 => self.push(Oop::small_int(1)),
                82 => {
                    if ext_b == 0 {
                        let c = self.frame_context(self.fp)?;
                        self.push(c);
                    } else {
                        return Err(fault!("push thisProcess-style 82 with extB {ext_b} unsupported"));
                    }
                }
                83 => {
                    let v = self.top();
                    self.push(v);
                }
                84..=87 => return self.unknown_bytecode(b),
                88 => {
                    let r = self.receiver();
                    self.method_return(r)?;
                }
                89 => self.method_return(self.heap.true_obj())?,
                90 => self.method_return(self.heap.false_obj())?,
                91 => self.method_return(self.nil())?,
                92 => {
                    let v = self.pop();
                    self.method_return(v)?;
                }
                93 => self.return_value(self.nil())?,
                94 => {
                    let v = self.pop();
                    self.return_value(v)?;
                }
                95 => {} // nop
                96..=127 => self.special_send((b - 96) as usize)?,
                128..=143 => {
                    let sel = self.literal(b as usize & 15);
                    self.send(sel, 0)?;
                }
                144..=159 => {
                    let sel = self.literal(b as usize & 15);
                    self.send(sel, 1)?;
                }
                160..=175 => {
                    let sel = self.literal(b as usize & 15);
                    self.send(sel, 2)?;
                }
                176..=183 => self.ip += (b as usize & 7) + 1,
                184..=191 => self.jump_if(true, (b as usize & 7) + 1)?,
                192..=199 => self.jump_if(false, (b as usize & 7) + 1)?,
                200..=207 => {
                    let v = self.pop();
                    self.store_receiver_var(b as usize & 7, v)?;
                }
                208..=215 => {
                    let v = self.pop();
                    self.set_temp(b as usize & 7, v);
                }
                216 => {
                    self.pop();
                }
                217 => return Err("unconditional trap (bytecode 217)".into()),
                218..=223 => return self.unknown_bytecode(b),
                224 => {
                    let d = self.fetch_byte() as i64;
                    ext_a = (ext_a << 8) + d;
                    continue;
                }
                225 => {
                    let d = self.fetch_byte() as i64;
                    ext_b = if ext_b == 0 && d > 127 {
                        d - 256
                    } else {
                        (ext_b << 8) + d
                    };
                    continue;
                }
                226 => {
                    let i = self.fetch_byte() as usize + ((ext_a as usize) << 8);
                    let v = self.receiver_var(i)?;
                    self.push(v);
                }
                227 => {
                    let i = self.fetch_byte() as usize + ((ext_a as usize) << 8);
                    let a = self.literal(i);
                    let v = self.heap.slot(a, association::VALUE);
                    self.push(v);
                }
                228 => {
                    let i = self.fetch_byte() as usize + ((ext_a as usize) << 8);
                    let v = self.literal(i);
                    self.push(v);
                }
                229 => {
                    let i = self.fetch_byte() as usize;
                    let v = self.temp(i);
                    self.push(v);
                }
                230 => return self.unknown_bytecode(b),
                231 => {
                    let d = self.fetch_byte();
                    self.push_new_array(d)?;
                }
                232 => {
                    let d = self.fetch_byte() as i64;
                    self.push(Oop::small_int((ext_b << 8) + d));
                }
                233 => {
                    let d = self.fetch_byte() as u32;
                    self.push(Oop::character(((ext_b as u32) << 8) + d));
                }
                234 => {
                    let d = self.fetch_byte() as usize;
                    let sel = self.literal((d >> 3) + ((ext_a as usize) << 5));
                    let nargs = (d & 7) + ((ext_b as usize) << 3);
                    self.send(sel, nargs)?;
                }
                235 => {
                    let d = self.fetch_byte() as usize;
                    let directed = ext_b >= 64;
                    let eb = if directed { ext_b - 64 } else { ext_b } as usize;
                    let sel = self.literal((d >> 3) + ((ext_a as usize) << 5));
                    let nargs = (d & 7) + (eb << 3);
                    if directed {
                        // Directed super send: the method's class (pushed as
                        // the value of its binding) is on top of the stack.
                        let cls = self.pop();
                        if !self.heap.is_class(cls) {
                            return Err(fault!("directed super send with {cls:?} instead of a class"));
                        }
                        let sup = self.heap.slot(cls, gc::specials::class::SUPERCLASS);
                        self.send_to_class(sel, nargs, sup)?;
                    } else {
                        self.send_super(sel, nargs)?;
                    }
                }
                236 => return self.unknown_bytecode(b),
                237 => {
                    let d = self.fetch_byte() as i64;
                    let off = d + (ext_b << 8);
                    self.ip = (self.ip as i64 + off) as usize;
                    if off < 0 {
                        self.check_for_interrupts()?;
                    }
                }
                238 => {
                    let d = self.fetch_byte() as usize;
                    self.jump_if(true, d + ((ext_b as usize) << 8))?;
                }
                239 => {
                    let d = self.fetch_byte() as usize;
                    self.jump_if(false, d + ((ext_b as usize) << 8))?;
                }
                240 | 243 => {
                    let i = self.fetch_byte() as usize + ((ext_a as usize) << 8);
                    let v = if b == 240 { self.pop() } else { self.top() };
                    self.store_receiver_var(i, v)?;
                }
                241 | 244 => {
                    let i = self.fetch_byte() as usize + ((ext_a as usize) << 8);
                    let v = if b == 241 { self.pop() } else { self.top() };
                    let a = self.literal(i);
                    self.store_checked(a, association::VALUE, v)?;
                }
                242 | 245 => {
                    let i = self.fetch_byte() as usize;
                    let v = if b == 242 { self.pop() } else { self.top() };
                    self.set_temp(i, v);
                }
                246 | 247 => return self.unknown_bytecode(b),
                248 => {
                    // callPrimitive: the primitive already ran (and failed).
                    self.ip += 2;
                }
                249 => {
                    // pushFullClosure: literal index, flags (copied count, outer context, receiver on stack)
                    let lit = self.fetch_byte() as usize + ((ext_a as usize) << 8);
                    let flags = self.fetch_byte();
                    let ncopied = (flags & 63) as usize;
                    let ignore_outer = flags & 64 != 0;
                    let rcvr_on_stack = flags & 128 != 0;
                    let cb = self.literal(lit);
                    let cls = self.heap.special(so::CLASS_FULL_BLOCK_CLOSURE);
                    let cl = self.instantiate(cls, ncopied)?;
                    let outer = if ignore_outer {
                        self.nil()
                    } else {
                        self.frame_context(self.fp)?
                    };
                    let nargs = self.method_header(cb).num_args();
                    self.heap.set_slot(cl, closure::OUTER_CONTEXT, outer);
                    self.heap.set_slot(cl, closure::START_PC_OR_METHOD, cb);
                    self.heap
                        .set_slot(cl, closure::NUM_ARGS, Oop::small_int(nargs as i64));
                    for i in 0..ncopied {
                        let v = self.stack_value(ncopied - 1 - i);
                        self.heap.set_slot(cl, closure::FULL_FIRST_COPIED_VALUE + i, v);
                    }
                    self.pop_n(ncopied);
                    let rcvr = if rcvr_on_stack {
                        self.pop()
                    } else {
                        self.receiver()
                    };
                    self.heap.set_slot(cl, closure::FULL_RECEIVER, rcvr);
                    self.push(cl);
                }
                250 => {
                    // Old-style closure: numCopied/numArgs byte, then size with extensions.
                    let d = self.fetch_byte() as usize;
                    let size = self.fetch_byte() as usize + ((ext_b as usize) << 8);
                    let ncopied = (d >> 3) & 7 | (((ext_a as usize) / 16) << 3);
                    let nargs = (d & 7) | ((ext_a as usize % 16) << 3);
                    self.push_block_closure(ncopied, nargs, size)?;
                }
                251 => {
                    let i = self.fetch_byte() as usize;
                    let t = self.fetch_byte() as usize;
                    let vec = self.temp(t);
                    let v = self.heap.slot(vec, i);
                    self.push(v);
                }
                252 | 253 => {
                    let i = self.fetch_byte() as usize;
                    let t = self.fetch_byte() as usize;
                    let v = if b == 253 { self.pop() } else { self.top() };
                    let vec = self.temp(t);
                    self.heap.set_slot(vec, i, v);
                }
                254 | 255 => return self.unknown_bytecode(b),
            }
            return Ok(());
        }
    }
}
