//! The SistaV1 bytecode set (Pharo, and our image builder's default).

use super::regs::{bytecode_loop_macros, CondJump, SPECIAL_CLASS, SPECIAL_IDENTICAL};
use super::{Fault, Vm};
use gc::method::BytecodeSet;
use gc::specials::{association, closure, so};
use gc::Oop;

impl Vm {
    /// Runs up to `budget` SistaV1 bytecodes with the registers in locals
    /// (see `regs.rs`). Returns the budget left when the active method
    /// changes to the other bytecode set; the caller continues there.
    ///
    /// Extension prefixes (224 extA, 225 extB) are rare, so the main dispatch
    /// runs the extensible bytecodes with both extensions zero, and the
    /// prefix arm dispatches once more, with the extensions it read, over
    /// those bytecodes only (`sista_extended!`). Keeping extA and extB out
    /// of the main loop saves resetting them on every bytecode.
    // Or-patterns of single values on purpose: see the dispatch note in regs.rs.
    #[allow(clippy::manual_range_patterns)]
    pub(crate) fn run_sista<const STEP: bool>(&mut self, budget: u32) -> Result<u32, Fault> {
        let mut r = self.regs();
        self.budget = budget;
        bytecode_loop_macros!($ self r BytecodeSet::SistaV1, sista_cond_jump);
        // The unconditional jump (237), with `$eb` as extB.
        macro_rules! long_jump {
            ($eb:expr) => {{
                let d = self.r_fetch(&mut r) as i64;
                let off = d.wrapping_add(($eb).wrapping_shl(8));
                r.ip = r.ip.wrapping_add(off as usize);
                self.r_jumped(&mut r);
                if off < 0 {
                    tick!();
                }
            }};
        }
        // The bytecodes that take extensions, with `$ea`/`$eb` as extA and
        // extB, followed by the caller's other arms.
        macro_rules! sista_extended {
            ($x:expr, $ea:expr, $eb:expr, { $($arms:tt)* }) => {{
                #[allow(unused_variables)]
                let (ext_a, ext_b): (i64, i64) = ($ea, $eb);
                let b: u8 = $x;
                match b {
                    82 => {
                        if ext_b != 0 {
                            self.sync(&r);
                            return Err(fault!("push thisProcess-style 82 with extB {ext_b} unsupported"));
                        }
                        slow!(self.frame_context(self.fp).map(|c| self.push(c)));
                    }
                    226 => {
                        let i = self.r_fetch(&mut r) as usize + ((ext_a as usize) << 8);
                        match self.r_receiver_var(&r, i) {
                            Some(v) => self.r_push(&mut r, v),
                            None => slow!(self.receiver_var(i).map(|v| self.push(v))),
                        }
                    }
                    227 => {
                        let i = self.r_fetch(&mut r) as usize + ((ext_a as usize) << 8);
                        let a = self.r_literal(&r, i);
                        let v = self.heap.slot(a, association::VALUE);
                        self.r_push(&mut r, v);
                    }
                    228 => {
                        let i = self.r_fetch(&mut r) as usize + ((ext_a as usize) << 8);
                        let v = self.r_literal(&r, i);
                        self.r_push(&mut r, v);
                    }
                    232 => {
                        let d = self.r_fetch(&mut r) as i64;
                        self.r_push(&mut r, Oop::small_int((ext_b << 8) + d));
                    }
                    233 => {
                        let d = self.r_fetch(&mut r) as u32;
                        self.r_push(&mut r, Oop::character(((ext_b as u32) << 8) + d));
                    }
                    234 => {
                        let d = self.r_fetch(&mut r) as usize;
                        let sel = self.r_literal(&r, (d >> 3) + ((ext_a as usize) << 5));
                        // r_send checks that the count is at most 255.
                        let nargs = (d & 7).wrapping_add((ext_b as usize) << 3);
                        send!(sel, nargs)
                    }
                    235 => {
                        let d = self.r_fetch(&mut r) as usize;
                        slow!(self.super_send_sista(d, ext_a, ext_b));
                    }
                    237 => long_jump!(ext_b),
                    238 | 239 => {
                        let d = self.r_fetch(&mut r) as i64;
                        let off = d.wrapping_add(ext_b.wrapping_shl(8));
                        self.r_jump_if(&mut r, b == 238, off as usize)?;
                        if off < 0 {
                            // A backward jump is a checkpoint (see stack.rs).
                            tick!();
                        }
                    }
                    240 | 243 => {
                        let i = self.r_fetch(&mut r) as usize + ((ext_a as usize) << 8);
                        let v = self.r_store_value(&mut r, b == 240);
                        if !self.r_store_receiver_var(&r, i, v) {
                            slow!(self.store_receiver_var(i, v));
                        }
                    }
                    241 | 244 => {
                        let i = self.r_fetch(&mut r) as usize + ((ext_a as usize) << 8);
                        let v = self.r_store_value(&mut r, b == 241);
                        let a = self.r_literal(&r, i);
                        slow!(self.store_checked(a, association::VALUE, v));
                    }
                    249 => {
                        let lit = self.r_fetch(&mut r) as usize + ((ext_a as usize) << 8);
                        let flags = self.r_fetch(&mut r);
                        slow!(self.push_full_closure(lit, flags));
                    }
                    250 => {
                        // Old-style closure: numCopied/numArgs byte, then size with extensions.
                        let d = self.r_fetch(&mut r) as usize;
                        let size = self.r_fetch(&mut r) as usize + ((ext_b as usize) << 8);
                        let ncopied = (d >> 3) & 7 | (((ext_a as usize) / 16) << 3);
                        let nargs = (d & 7) | ((ext_a as usize % 16) << 3);
                        slow!(self.push_block_closure(ncopied, nargs, size));
                    }
                    $($arms)*
                }
            }};
        }
        'bytecodes: loop {
            if STEP && !self.take_step() {
                break;
            }
            let b = self.r_fetch_opcode(&mut r);
            // The arms that send leave this block with the selector and
            // argument count (`send!`), so that the loop has one copy of the
            // send path; every other arm continues with the next bytecode.
            let (sel, nargs) = 'send: {
                macro_rules! send {
                    ($s:expr, $n:expr) => {
                        break 'send ($s, $n)
                    };
                }
                // Single values, not ranges: a match on single values compiles
                // to one jump table, ranges to comparisons first (see regs.rs).
                sista_extended!(b, 0, 0, {
                    0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 => {
                        match self.r_receiver_var(&r, b as usize) {
                            Some(v) => self.r_push(&mut r, v),
                            None => slow!(self.receiver_var(b as usize).map(|v| self.push(v))),
                        }
                    }
                    16 | 17 | 18 | 19 | 20 | 21 | 22 | 23 | 24 | 25 | 26 | 27 | 28 | 29 | 30 | 31 => {
                        let a = self.r_literal(&r, b as usize & 15);
                        let v = self.heap.slot(a, association::VALUE);
                        self.r_push(&mut r, v);
                    }
                    32 | 33 | 34 | 35 | 36 | 37 | 38 | 39 | 40 | 41 | 42 | 43 | 44 | 45 | 46 | 47 | 48
                    | 49 | 50 | 51 | 52 | 53 | 54 | 55 | 56 | 57 | 58 | 59 | 60 | 61 | 62 | 63 => {
                        let v = self.r_literal(&r, b as usize & 31);
                        self.r_push(&mut r, v);
                    }
                    64 | 65 | 66 | 67 | 68 | 69 | 70 | 71 | 72 | 73 | 74 | 75 => {
                        let v = self.r_temp(&r, b as usize & 15);
                        self.r_push(&mut r, v);
                    }
                    76 => {
                        let v = self.r_receiver(&r);
                        self.r_push(&mut r, v);
                    }
                    77 => self.r_push(&mut r, self.heap.true_obj()),
                    78 => self.r_push(&mut r, self.heap.false_obj()),
                    79 => self.r_push(&mut r, self.heap.nil()),
                    80 => self.r_push(&mut r, Oop::small_int(0)),
                    81 => self.r_push(&mut r, Oop::small_int(1)),
                    83 => {
                        let v = self.r_at(&r, 0);
                        self.r_push(&mut r, v);
                    }
                    88 => {
                        let v = self.r_receiver(&r);
                        method_return!(v)
                    }
                    89 | 90 | 91 => {
                        let v = match b {
                            89 => self.heap.true_obj(),
                            90 => self.heap.false_obj(),
                            _ => self.heap.nil(),
                        };
                        method_return!(v)
                    }
                    92 => {
                        let v = self.r_pop(&mut r);
                        method_return!(v)
                    }
                    93 => {
                        block_return!(self.heap.nil())
                    }
                    94 => {
                        let v = self.r_pop(&mut r);
                        block_return!(v)
                    }
                    // nop. Not an empty arm: that would make the dispatch
                    // block its own successor, and LLVM does not copy a
                    // one-block loop into its predecessors (regs.rs,
                    // "Dispatch"). `black_box` keeps the arm a block of its
                    // own. (A checkpoint there instead cost `benchFib:` 8%,
                    // through register allocation.)
                    95 => std::hint::black_box(()),
                    // The commonest special selectors get an arm each, so that the
                    // inline paths are specialized for them (no second dispatch on k).
                    96 => special!(0),
                    97 => special!(1),
                    98 => special!(2),
                    99 => special!(3),
                    100 => special!(4),
                    101 => special!(5),
                    102 => special!(6),
                    103 => special!(7),
                    112 => special!(16),
                    113 => special!(17),
                    114 => special!(18),
                    118 => special!(22),
                    104 | 105 | 106 | 107 | 108 | 109 | 110 | 111 | 115 | 116 | 117 | 119 | 120 | 121
                    | 122 | 123 | 124 | 125 | 126 | 127 => special!((b - 96) as usize),
                    128 | 129 | 130 | 131 | 132 | 133 | 134 | 135 | 136 | 137 | 138 | 139 | 140 | 141
                    | 142 | 143 | 144 | 145 | 146 | 147 | 148 | 149 | 150 | 151 | 152 | 153 | 154 | 155
                    | 156 | 157 | 158 | 159 | 160 | 161 | 162 | 163 | 164 | 165 | 166 | 167 | 168 | 169
                    | 170 | 171 | 172 | 173 | 174 | 175 => {
                        let sel = self.r_literal(&r, b as usize & 15);
                        send!(sel, (b as usize - 128) >> 4)
                    }
                    176 | 177 | 178 | 179 | 180 | 181 | 182 | 183 => r.ip += (b as usize & 7) + 1,
                    184 | 185 | 186 | 187 | 188 | 189 | 190 | 191 => {
                        self.r_jump_if(&mut r, true, (b as usize & 7) + 1)?
                    }
                    192 | 193 | 194 | 195 | 196 | 197 | 198 | 199 => {
                        self.r_jump_if(&mut r, false, (b as usize & 7) + 1)?
                    }
                    200 | 201 | 202 | 203 | 204 | 205 | 206 | 207 => {
                        let v = self.r_pop(&mut r);
                        if !self.r_store_receiver_var(&r, b as usize & 7, v) {
                            slow!(self.store_receiver_var(b as usize & 7, v));
                        }
                    }
                    208 | 209 | 210 | 211 | 212 | 213 | 214 | 215 => {
                        let v = self.r_pop(&mut r);
                        self.r_set_temp(&r, b as usize & 7, v);
                    }
                    216 => r.sp = r.sp.wrapping_add(1),
                    217 => {
                        self.sync(&r);
                        return Err("unconditional trap (bytecode 217)".into());
                    }
                    224 | 225 => {
                        // Extension prefixes, then the bytecode they extend.
                        let (ext_a, ext_b, x) = self.r_extensions(&mut r, b);
                        if x == 237 && ext_a == 0 {
                            // A loop's backward jump (extB negative), the
                            // commonest extended bytecode: no second dispatch.
                            long_jump!(ext_b);
                            continue 'bytecodes;
                        }
                        sista_extended!(x, ext_a, ext_b, {
                            // Extensions on a bytecode that takes none are
                            // ignored: step back and run it plainly.
                            _ => r.ip -= 1,
                        });
                    }
                    229 => {
                        let i = self.r_fetch(&mut r) as usize;
                        let v = self.r_temp(&r, i);
                        self.r_push(&mut r, v);
                    }
                    231 => {
                        let d = self.r_fetch(&mut r);
                        slow!(self.push_new_array(d));
                    }
                    242 | 245 => {
                        let i = self.r_fetch(&mut r) as usize;
                        let v = self.r_store_value(&mut r, b == 242);
                        self.r_set_temp(&r, i, v);
                    }
                    248 => {
                        // callPrimitive: the primitive already ran (and failed).
                        r.ip += 2;
                    }
                    251 => self.r_push_remote_temp(&mut r)?,
                    252 | 253 => self.r_store_remote_temp(&mut r, b == 253)?,
                    // The sentinel of this set's method copies (code.rs): its
                    // arm stops at the end of a copy.
                    236 => {
                        self.past_copy(r, b)?;
                        return Ok(self.budget);
                    }
                    // Every value is listed, with no `_` arm, so the jump
                    // table covers all 256 and needs no range check.
                    84 | 85 | 86 | 87 | 218 | 219 | 220 | 221 | 222 | 223 | 230 | 246 | 247 | 254
                    | 255 => {
                        self.sync(&r);
                        return self.unknown_bytecode(b).map(|()| self.budget);
                    }
                });
                continue 'bytecodes;
            };
            self.r_send::<STEP>(&mut r, sel, nargs)?;
            check_set!();
            tick!();
        }
        self.sync(&r);
        Ok(0)
    }

    /// Reads extension prefixes from `first` (224 or 225) on; answers extA,
    /// extB and the bytecode after them (fetched).
    #[inline(always)]
    fn r_extensions(&self, r: &mut super::regs::Regs, first: u8) -> (i64, i64, u8) {
        let (mut ext_a, mut ext_b) = (0i64, 0i64);
        let mut x = first;
        while x == 224 || x == 225 {
            let d = self.r_fetch(r) as i64;
            if x == 224 {
                ext_a = ext_a.wrapping_shl(8).wrapping_add(d);
            } else if ext_b == 0 && d > 127 {
                ext_b = d - 256;
            } else {
                ext_b = ext_b.wrapping_shl(8).wrapping_add(d);
            }
            x = self.r_fetch(r);
        }
        (ext_a, ext_b, x)
    }

    /// Bytecode 235: a super send, or with extB >= 64 a directed super send
    /// whose lookup class is on top of the stack.
    fn super_send_sista(&mut self, d: usize, ext_a: i64, ext_b: i64) -> Result<(), Fault> {
        let directed = ext_b >= 64;
        let eb = if directed { ext_b - 64 } else { ext_b } as usize;
        let sel = self.literal((d >> 3) + ((ext_a as usize) << 5));
        let nargs = (d & 7) + (eb << 3);
        if directed {
            // The method's class is on top (pushed as its binding's value).
            self.directed_super_send(sel, nargs)
        } else {
            self.send_super(sel, nargs)
        }
    }

    /// Bytecode 249, pushFullClosure: the CompiledBlock is literal `lit`;
    /// `flags` holds the copied-value count, whether to leave the outer
    /// context nil, and whether the receiver is on the stack.
    fn push_full_closure(&mut self, lit: usize, flags: u8) -> Result<(), Fault> {
        let ncopied = (flags & 63) as usize;
        let ignore_outer = flags & 64 != 0;
        let rcvr_on_stack = flags & 128 != 0;
        let cb = self.literal(lit);
        let cls = self.heap.special(so::CLASS_FULL_BLOCK_CLOSURE);
        // Straight into eden once the class is known to be one (the memo
        // `basic_new` keeps), else the general path.
        let young = if self.checked_class(cls) {
            self.instance_spec(cls, true)
                .and_then(|(ci, spec, fixed)| self.heap.instantiate_young(ci, spec, fixed, ncopied))
        } else {
            None
        };
        let cl = match young {
            Some(cl) => cl,
            None => self.instantiate(cls, ncopied)?,
        };
        let outer = if ignore_outer {
            self.nil()
        } else {
            self.frame_context(self.fp)?
        };
        let nargs = Oop::small_int(self.method_header(cb).num_args() as i64);
        let rcvr = if rcvr_on_stack {
            self.stack_value(ncopied)
        } else {
            self.receiver()
        };
        // The fields in slot order (outer context, block, argument count,
        // receiver, copied values: the first copied value is deepest on
        // the stack), stored with one range check.
        const _: () = assert!(
            closure::OUTER_CONTEXT == 0
                && closure::START_PC_OR_METHOD == 1
                && closure::NUM_ARGS == 2
                && closure::FULL_RECEIVER == 3
                && closure::FULL_FIRST_COPIED_VALUE == 4
        );
        let fixed = [outer, cb, nargs, rcvr];
        let (stack, sp) = (&self.stack, self.sp);
        self.heap.init_slots(cl, 0, 4 + ncopied, |i| {
            if i < 4 {
                fixed[i]
            } else {
                Oop(stack[sp + ncopied + 3 - i])
            }
        });
        self.pop_n(ncopied + rcvr_on_stack as usize);
        self.push(cl);
        Ok(())
    }
}

/// A SistaV1 conditional jump without extensions: short (184–199) or
/// long (238 jumpTrue, 239 jumpFalse, offset in the next byte).
#[inline(always)]
fn sista_cond_jump(b: u8) -> Option<CondJump> {
    match b {
        184..=199 => Some(CondJump {
            when: b < 192,
            offset: (b as usize & 7) + 1,
            long: false,
        }),
        238 | 239 => Some(CondJump {
            when: b == 238,
            offset: 0,
            long: true,
        }),
        _ => None,
    }
}
