//! Object primitives: indexing, instantiation, identity, copying, become,
//! enumeration.

use super::{
    PrimResult, ERR_BAD_ARGUMENT, ERR_BAD_INDEX, ERR_BAD_RECEIVER, ERR_INAPPROPRIATE, ERR_NO_MODIFICATION,
    FAIL,
};
use crate::interp::{Fault, Vm};
use gc::header::{class_index, IMMUTABLE_BIT, PINNED_BIT};
use gc::specials::so;
use gc::{format, Oop};

impl Vm {
    /// Named (fixed) fields of an object's class.
    pub(crate) fn fixed_fields(&self, o: Oop) -> usize {
        let f = self.heap.format(o);
        if !format::is_pointers(f) {
            return 0;
        }
        let class = self.heap.class_of(o);
        if class == self.nil() {
            return 0;
        }
        self.heap.class_format(class).map(|x| x.1).unwrap_or(0)
    }

    /// Indexable elements of an object (`basicSize`).
    pub(crate) fn indexable_size(&self, o: Oop) -> usize {
        if !o.is_object() {
            return 0;
        }
        let f = self.heap.format(o);
        match f {
            0 | 1 | 5 => 0,
            2..=4 => self.heap.num_slots(o).saturating_sub(self.fixed_fields(o)),
            _ => self.heap.num_elements(o),
        }
    }

    /// Reads indexable element `i` (0-based). `as_char` answers Characters
    /// for byte and word strings.
    pub(crate) fn element_at(&mut self, o: Oop, i: usize, as_char: bool) -> Result<Option<Oop>, Fault> {
        let f = self.heap.format(o);
        Ok(Some(match f {
            2..=4 => {
                let fixed = self.fixed_fields(o);
                self.heap.slot(o, fixed + i)
            }
            9 => {
                let v = self.heap.u64_at(o.addr() + 8 + 8 * i);
                self.make_integer(v as i128)?
            }
            10..=11 => {
                let v = u32::from_le_bytes(self.heap.bytes(o)[4 * i..4 * i + 4].try_into().expect("4"));
                if as_char {
                    Oop::character(v)
                } else {
                    Oop::small_int(v as i64)
                }
            }
            12..=15 => {
                let b = self.heap.bytes(o);
                Oop::small_int(u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as i64)
            }
            16..=31 => {
                let v = self.heap.byte_at(o, i);
                if as_char {
                    Oop::character(v as u32)
                } else {
                    Oop::small_int(v as i64)
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Writes indexable element `i` (0-based); `None` when the value does not
    /// fit. With `chars` (primitive 64, stringAt:put:) the value must be a
    /// Character and the object bytes, 16- or 32-bit words; otherwise
    /// (at:put:, instVarAt:put:, constant fill) a non-pointer object takes
    /// only integers, as on the OpenSmalltalk VMs.
    pub(crate) fn element_at_put(&mut self, o: Oop, i: usize, v: Oop, chars: bool) -> Option<()> {
        let f = self.heap.format(o);
        let value = |vm: &Vm| -> Option<i128> {
            if chars {
                v.is_character().then(|| v.character_value() as i128)
            } else {
                vm.integer_value(v)
            }
        };
        match f {
            2..=4 if !chars => {
                let fixed = self.fixed_fields(o);
                self.heap.set_slot(o, fixed + i, v);
            }
            9 if !chars => {
                let x = value(self)?;
                if !(0..=u64::MAX as i128).contains(&x) {
                    return None;
                }
                self.heap.set_u64_at(o.addr() + 8 + 8 * i, x as u64);
            }
            10..=11 => {
                let x = value(self)?;
                if !(0..=u32::MAX as i128).contains(&x) {
                    return None;
                }
                self.heap.bytes_mut(o)[4 * i..4 * i + 4].copy_from_slice(&(x as u32).to_le_bytes());
            }
            12..=15 => {
                let x = value(self)?;
                if !(0..=0xffff).contains(&x) {
                    return None;
                }
                self.heap.bytes_mut(o)[2 * i..2 * i + 2].copy_from_slice(&(x as u16).to_le_bytes());
            }
            16..=31 => {
                let x = value(self)?;
                if !(0..=255).contains(&x) {
                    return None;
                }
                self.heap.set_byte_at(o, i, x as u8);
            }
            _ => return None,
        }
        Some(())
    }

    pub(crate) fn prim_object(&mut self, index: usize, nargs: usize) -> Result<PrimResult, Fault> {
        let rcvr = self.stack_value(nargs);
        let arg = |vm: &Vm, k: usize| vm.stack_value(nargs - 1 - k);
        match index {
            60 | 63 => {
                if nargs != 1 {
                    return Ok(FAIL);
                }
                let i = arg(self, 0);
                let (Some(i), true) = (i.as_small_int(), rcvr.is_object()) else {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                };
                if self.is_context(rcvr) {
                    return Ok(FAIL);
                }
                if i < 1 || i as usize > self.indexable_size(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                }
                let as_char = index == 63;
                match self.element_at(rcvr, i as usize - 1, as_char)? {
                    Some(v) => Ok(self.prim_return(1, v)),
                    None => Ok(PrimResult::Fail(ERR_BAD_RECEIVER)),
                }
            }
            61 | 64 => {
                if nargs != 2 {
                    return Ok(FAIL);
                }
                let i = arg(self, 0);
                let v = arg(self, 1);
                let (Some(i), true) = (i.as_small_int(), rcvr.is_object()) else {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                };
                if self.heap.header(rcvr).is_immutable() {
                    return Ok(PrimResult::Fail(ERR_NO_MODIFICATION));
                }
                if self.is_context(rcvr) {
                    return Ok(FAIL);
                }
                if i < 1 || i as usize > self.indexable_size(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                }
                if index == 64 && !v.is_character() {
                    return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                }
                match self.element_at_put(rcvr, i as usize - 1, v, index == 64) {
                    Some(()) => Ok(self.prim_return(2, v)),
                    None => Ok(PrimResult::Fail(ERR_BAD_ARGUMENT)),
                }
            }
            62 => {
                if !rcvr.is_object() || self.is_context(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let n = self.indexable_size(rcvr);
                Ok(self.prim_return(0, Oop::small_int(n as i64)))
            }
            68 | 69 => {
                // objectAt: on CompiledMethods: 1 is the header, then literals.
                let i = arg(self, 0).as_small_int().unwrap_or(0);
                if !rcvr.is_object() || !format::is_compiled_method(self.heap.format(rcvr)) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let lits = self.method_header(rcvr).num_literals() as i64;
                if i < 1 || i > lits + 1 {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                }
                if index == 68 {
                    let v = self.heap.slot(rcvr, i as usize - 1);
                    Ok(self.prim_return(1, v))
                } else {
                    let v = arg(self, 1);
                    if i == 1 && !v.is_small_integer() {
                        return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                    }
                    self.heap.set_slot(rcvr, i as usize - 1, v);
                    self.cache.flush();
                    Ok(self.prim_return(2, v))
                }
            }
            70 | 71 => {
                let size = (index == 71).then(|| arg(self, 0));
                match self.basic_new(rcvr, size) {
                    Ok(o) => Ok(self.prim_return(nargs, o)),
                    Err(code) => Ok(PrimResult::Fail(code)),
                }
            }
            73 | 74 | 173 | 174 => {
                let i = arg(self, 0).as_small_int().unwrap_or(0);
                if !rcvr.is_object() {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let f = self.heap.format(rcvr);
                let fixed = self.fixed_fields(rcvr);
                let total = if format::is_pointers(f) {
                    self.heap.num_slots(rcvr)
                } else {
                    fixed + self.indexable_size(rcvr)
                };
                if i < 1 || i as usize > total {
                    return Ok(PrimResult::Fail(ERR_BAD_INDEX));
                }
                let k = i as usize - 1;
                if index == 73 || index == 173 {
                    let v = if self.is_context(rcvr) {
                        self.ctx_read(rcvr, k)?
                    } else if format::is_pointers(f) {
                        self.heap.slot(rcvr, k)
                    } else {
                        match self.element_at(rcvr, k, false)? {
                            Some(v) => v,
                            None => return Ok(FAIL),
                        }
                    };
                    Ok(self.prim_return(1, v))
                } else {
                    let v = arg(self, 1);
                    if self.heap.header(rcvr).is_immutable() {
                        return Ok(PrimResult::Fail(ERR_NO_MODIFICATION));
                    }
                    if self.is_context(rcvr) {
                        self.ctx_write(rcvr, k, v)?;
                    } else if format::is_pointers(f) {
                        self.heap.set_slot(rcvr, k, v);
                    } else if self.element_at_put(rcvr, k, v, false).is_none() {
                        return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                    }
                    Ok(self.prim_return(2, v))
                }
            }
            75 | 171 | 175 => {
                let v = if rcvr.is_object() {
                    Oop::small_int(self.heap.identity_hash(rcvr) as i64)
                } else if index == 171 || rcvr.is_character() {
                    if rcvr.is_character() {
                        Oop::small_int(rcvr.character_value() as i64)
                    } else if rcvr.is_small_integer() {
                        rcvr
                    } else {
                        Oop::small_int((rcvr.0 >> 3) as i64 & gc::oop::SMALL_INTEGER_MAX)
                    }
                } else {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                };
                Ok(self.prim_return(nargs, v))
            }
            77 | 177 => {
                if !self.heap.is_class(rcvr) {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let ci = self.heap.header(rcvr).hash();
                let all: Vec<Oop> = self
                    .heap
                    .objects()
                    .filter(|&o| self.heap.header(o).class_index() == ci)
                    .collect();
                if index == 77 {
                    match all.first() {
                        Some(&o) => Ok(self.prim_return(0, o)),
                        None => Ok(FAIL),
                    }
                } else {
                    let a = self.new_array(all.len())?;
                    for (k, o) in all.iter().enumerate() {
                        self.heap.set_slot(a, k, *o);
                    }
                    Ok(self.prim_return(0, a))
                }
            }
            78 | 139 => {
                if !rcvr.is_object() {
                    return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
                }
                let ci = self.heap.header(rcvr).class_index();
                let next = self.heap.objects().skip_while(|&o| o != rcvr).skip(1).find(|&o| {
                    let h = self.heap.header(o);
                    h.class_index() >= class_index::FIRST_REAL_CLASS
                        && (index == 139 || h.class_index() == ci)
                });
                match next {
                    Some(o) => Ok(self.prim_return(0, o)),
                    None if index == 139 => Ok(self.prim_return(0, Oop::small_int(0))),
                    None => Ok(FAIL),
                }
            }
            138 => {
                let first = self
                    .heap
                    .objects()
                    .find(|&o| self.heap.header(o).class_index() >= class_index::FIRST_REAL_CLASS);
                match first {
                    Some(o) => Ok(self.prim_return(0, o)),
                    None => Ok(FAIL),
                }
            }
            178 => {
                let all: Vec<Oop> = self
                    .heap
                    .objects()
                    .filter(|&o| self.heap.header(o).class_index() >= class_index::FIRST_REAL_CLASS)
                    .collect();
                let a = self.new_array(all.len())?;
                for (k, o) in all.iter().enumerate() {
                    self.heap.set_slot(a, k, *o);
                }
                Ok(self.prim_return(0, a))
            }
            105 => self.prim_replace(rcvr, nargs),
            110 => {
                let other = arg(self, 0);
                let r = self.boolean(rcvr == other || self.heap.follow(rcvr) == self.heap.follow(other));
                Ok(self.prim_return(1, r))
            }
            169 => {
                let other = arg(self, 0);
                let r = self.boolean(rcvr != other && self.heap.follow(rcvr) != self.heap.follow(other));
                Ok(self.prim_return(1, r))
            }
            111 => {
                let c = self.heap.class_of(if nargs == 1 { arg(self, 0) } else { rcvr });
                Ok(self.prim_return(nargs, c))
            }
            129 => {
                let s = self.heap.special_objects();
                Ok(self.prim_return(0, s))
            }
            145 => {
                let v = arg(self, 0);
                if !rcvr.is_object() {
                    return Ok(FAIL);
                }
                let n = self.indexable_size(rcvr);
                for k in 0..n {
                    if self.element_at_put(rcvr, k, v, false).is_none() {
                        return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
                    }
                }
                Ok(self.prim_return(1, rcvr))
            }
            148 | 168 => {
                if !rcvr.is_object() {
                    return Ok(self.prim_return(0, rcvr));
                }
                if self.is_context(rcvr) {
                    let _ = self.ctx_read(rcvr, 0)?;
                }
                let rcvr = self.stack_value(nargs);
                let copy = self.shallow_copy(rcvr)?;
                Ok(self.prim_return(nargs, copy))
            }
            159 => {
                let Some(v) = rcvr.as_small_int() else {
                    return Ok(FAIL);
                };
                let r = ((v as u64 & 0x0fff_ffff).wrapping_mul(1_664_525)) & 0x0fff_ffff;
                Ok(self.prim_return(0, Oop::small_int(r as i64)))
            }
            160 => {
                let cls = arg(self, 0);
                if !rcvr.is_object() || !self.heap.is_class(cls) {
                    return Ok(FAIL);
                }
                let ci = self.heap.identity_hash(cls);
                let h = self.heap.header(rcvr).with_class_index(ci);
                self.heap.set_header(rcvr, h);
                self.cache.flush();
                Ok(self.prim_return(1, rcvr))
            }
            115 => {
                let other = arg(self, 0);
                if !rcvr.is_object() || !other.is_object() {
                    return Ok(FAIL);
                }
                let ci = self.heap.header(other).class_index();
                let h = self.heap.header(rcvr).with_class_index(ci);
                self.heap.set_header(rcvr, h);
                // The at-cache knows receivers by what their class does.
                self.cache.forget_at();
                Ok(self.prim_return(1, rcvr))
            }
            163 => {
                let r = rcvr.is_immediate() || self.heap.header(rcvr).is_immutable();
                let b = self.boolean(r);
                Ok(self.prim_return(0, b))
            }
            164 => {
                let flag = arg(self, 0);
                if rcvr.is_immediate() {
                    return Ok(FAIL);
                }
                let old = self.heap.header(rcvr).is_immutable();
                let on = flag == self.heap.true_obj();
                let h = self.heap.header(rcvr).with_flag(IMMUTABLE_BIT, on);
                self.heap.set_header(rcvr, h);
                // The at-cache holds `at:put:` entries for mutable objects.
                self.cache.forget_at();
                if on && !old {
                    // Frames may write their receivers' slots without
                    // reading the header (see `RCVR_SLOTS_SHIFT`).
                    self.forget_receiver_slots();
                }
                let b = self.boolean(old);
                Ok(self.prim_return(1, b))
            }
            183 => {
                let r = rcvr.is_object() && self.heap.header(rcvr).is_pinned();
                let b = self.boolean(r);
                Ok(self.prim_return(0, b))
            }
            184 => {
                if !rcvr.is_object() {
                    return Ok(FAIL);
                }
                let old = self.heap.header(rcvr).is_pinned();
                let on = arg(self, 0) == self.heap.true_obj();
                let h = self.heap.header(rcvr).with_flag(PINNED_BIT, on);
                self.heap.set_header(rcvr, h);
                let b = self.boolean(old);
                Ok(self.prim_return(1, b))
            }
            170 => {
                let Some(v) = rcvr
                    .as_small_int()
                    .or_else(|| arg(self, 0).as_small_int().filter(|_| nargs == 1))
                else {
                    return Ok(FAIL);
                };
                if !(0..=0x3fff_ffff).contains(&v) {
                    return Ok(FAIL);
                }
                Ok(self.prim_return(nargs, Oop::character(v as u32)))
            }
            176 => Ok(self.prim_return(0, Oop::small_int(gc::header::MAX_IDENTITY_HASH as i64))),
            181 | 182 => {
                if !rcvr.is_object() {
                    return Ok(FAIL);
                }
                let n = self.heap.total_bytes(rcvr);
                Ok(self.prim_return(nargs, Oop::small_int(n as i64)))
            }
            143 | 144 | 165 | 166 | 158 | 161 => Ok(FAIL),
            128 | 72 | 248 | 249 => self.prim_become(index, nargs),
            _ => Ok(PrimResult::Fail(ERR_INAPPROPRIATE)),
        }
    }

    /// A copy of `o` with the same class and contents and a new identity.
    pub(crate) fn shallow_copy(&mut self, o: Oop) -> Result<Oop, Fault> {
        let h = self.heap.header(o);
        let n = self.heap.num_slots(o);
        let copy = self
            .heap
            .allocate(h.class_index(), h.format(), n, Oop(0))
            .map_err(|e| fault!("out of memory: {e:?}"))?;
        let len = n * 8;
        self.heap.copy_bytes(o, 0, copy, 0, len);
        Ok(copy)
    }

    /// replaceFrom:to:with:startingAt: for objects of compatible formats.
    fn prim_replace(&mut self, rcvr: Oop, nargs: usize) -> Result<PrimResult, Fault> {
        if nargs != 4 {
            return Ok(FAIL);
        }
        let (start, stop, src, src_start) = (
            self.stack_value(3),
            self.stack_value(2),
            self.stack_value(1),
            self.stack_value(0),
        );
        let (Some(start), Some(stop), Some(src_start)) = (
            start.as_small_int(),
            stop.as_small_int(),
            src_start.as_small_int(),
        ) else {
            return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
        };
        if !rcvr.is_object() || !src.is_object() {
            return Ok(PrimResult::Fail(ERR_BAD_RECEIVER));
        }
        if self.heap.header(rcvr).is_immutable() {
            return Ok(PrimResult::Fail(ERR_NO_MODIFICATION));
        }
        let count = stop - start + 1;
        if count < 0 {
            return Ok(PrimResult::Fail(ERR_BAD_INDEX));
        }
        let count = count as usize;
        if count == 0 {
            return Ok(self.prim_return(4, rcvr));
        }
        let (rs, ss) = (self.indexable_size(rcvr), self.indexable_size(src));
        if start < 1
            || src_start < 1
            || start as usize + count - 1 > rs
            || src_start as usize + count - 1 > ss
        {
            return Ok(PrimResult::Fail(ERR_BAD_INDEX));
        }
        let (rf, sf) = (self.heap.format(rcvr), self.heap.format(src));
        let (r0, s0) = (start as usize - 1, src_start as usize - 1);
        if format::is_pointers(rf) && format::is_pointers(sf) {
            let (rfix, sfix) = (self.fixed_fields(rcvr), self.fixed_fields(src));
            let vals: Vec<Oop> = (0..count).map(|k| self.heap.slot(src, sfix + s0 + k)).collect();
            for (k, v) in vals.into_iter().enumerate() {
                self.heap.set_slot(rcvr, rfix + r0 + k, v);
            }
        } else if !format::is_pointers(rf) && !format::is_pointers(sf) {
            let (re, se) = (format::element_bytes(rf), format::element_bytes(sf));
            if re != se || format::is_compiled_method(rf) != format::is_compiled_method(sf) && re != 1 {
                return Ok(PrimResult::Fail(ERR_INAPPROPRIATE));
            }
            self.heap.copy_bytes(src, s0 * se, rcvr, r0 * re, count * re);
        } else {
            return Ok(PrimResult::Fail(ERR_INAPPROPRIATE));
        }
        Ok(self.prim_return(4, rcvr))
    }

    /// become: (two-way) and becomeForward: (one-way) over arrays of
    /// objects, with gc's forwarders: objects of the same size swap contents,
    /// others leave forwarders that sends, primitive failures and `==`
    /// follow and the next full GC removes. The VM's own references (frames,
    /// registers) are followed at once.
    fn prim_become(&mut self, index: usize, nargs: usize) -> Result<PrimResult, Fault> {
        let (a, b) = (self.stack_value(nargs), self.stack_value(nargs - 1));
        let arr_class = self.heap.special(so::CLASS_ARRAY);
        if !a.is_object()
            || !b.is_object()
            || self.heap.class_of(a) != arr_class
            || self.heap.class_of(b) != arr_class
        {
            return Ok(PrimResult::Fail(ERR_BAD_ARGUMENT));
        }
        let n = self.heap.num_slots(a);
        if n != self.heap.num_slots(b) {
            return Ok(PrimResult::Fail(ERR_BAD_INDEX));
        }
        let two_way = index == 128;
        // Squeak's become: and becomeForward: keep the identity hash with the
        // identity (the reference); 248 does not, 249 says.
        let copy_hash = match index {
            72 | 128 => true,
            249 => nargs == 3 && self.stack_value(0) == self.heap.true_obj(),
            _ => false,
        };
        let xs: Vec<Oop> = (0..n).map(|k| self.heap.slot(a, k)).collect();
        let ys: Vec<Oop> = (0..n).map(|k| self.heap.slot(b, k)).collect();
        match self.heap.become_objects(&xs, &ys, two_way, copy_hash) {
            Ok(()) => {}
            Err(gc::forwarding::BecomeError::OutOfMemory) => {
                return Ok(PrimResult::Fail(super::ERR_NO_MEMORY))
            }
            Err(gc::forwarding::BecomeError::LengthMismatch) => return Ok(PrimResult::Fail(ERR_BAD_INDEX)),
            Err(_) => return Ok(PrimResult::Fail(ERR_INAPPROPRIATE)),
        }
        self.follow_roots();
        let rcvr = self.stack_value(nargs);
        Ok(self.prim_return(nargs, rcvr))
    }

    /// Whether `o` is a class (`Heap::is_class`), from the method cache's
    /// memo of classes checked before, noting it there when it is.
    #[inline(always)]
    pub(crate) fn checked_class(&mut self, o: Oop) -> bool {
        if self.cache.known_class(o) {
            return true;
        }
        let class = self.heap.is_class(o);
        if class {
            self.cache.note_class(o);
        }
        class
    }

    /// The class index, instance specification and fixed field count of
    /// an instance of `class`, a class `Heap::is_class` accepted: None when
    /// the class's format has no instances or `indexed` does not match it.
    #[inline(always)]
    pub(crate) fn instance_spec(&self, class: Oop, indexed: bool) -> Option<(u32, u8, usize)> {
        let (spec, fixed) = self.heap.class_format(class)?;
        let indexable = matches!(spec, 2..=4 | 9..=23);
        if indexed != indexable || spec >= 24 {
            return None;
        }
        // A class's identity hash is its class index (`is_class`).
        Some((self.heap.header(class).hash(), spec, fixed))
    }

    /// Primitives 70 (`basicNew`, `size` None) and 71 (`basicNew:`): a new
    /// instance of the class `rcvr`; Err holds the failure code. Also
    /// called by `execute_cached` ahead of the primitive table.
    pub(crate) fn basic_new(&mut self, rcvr: Oop, size: Option<Oop>) -> Result<Oop, u8> {
        let n = match size.map(|s| s.as_small_int()) {
            None => 0,
            Some(Some(n)) if n >= 0 => n as usize,
            Some(_) => return Err(ERR_BAD_ARGUMENT),
        };
        if !self.checked_class(rcvr) {
            return Err(ERR_BAD_RECEIVER);
        }
        let Some((ci, spec, fixed)) = self.instance_spec(rcvr, size.is_some()) else {
            return Err(ERR_BAD_RECEIVER);
        };
        if let Some(o) = self.heap.instantiate_young(ci, spec, fixed, n) {
            return Ok(o);
        }
        self.heap
            .instantiate_as(ci, spec, fixed, n)
            .map_err(|_| super::ERR_NO_MEMORY)
    }
}
