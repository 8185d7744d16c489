//! Converting a Spur 32-bit image into the 64-bit in-memory format.
//!
//! Every object keeps its class index, identity hash and flags; what changes
//! is the width of things:
//! - SmallIntegers are re-tagged (`v << 3 | 1`), Characters likewise (`c << 3 | 2`);
//! - a boxed Float whose exponent fits becomes a SmallFloat64 immediate, the
//!   others become one-slot 64-bit boxed floats;
//! - raw data is repacked into 8-byte slots with the format's odd-size bits;
//! - a CompiledMethod's literal frame widens, so contexts' pcs and closures'
//!   start pcs (which count bytes from the method's start) move by
//!   `4 * (numLiterals + 1)`;
//! - forwarders and free chunks are dropped (references to a forwarder go to
//!   its target); the free lists and the remembered set become empty 64-bit
//!   word objects.

use crate::error::{ImageError, Result};
use crate::header::{ImageHeader, FLAG_FLOATS_PLATFORM_ORDER};
use crate::load::{install_roots, LoadStats};
use crate::segments;
use gc::header::{
    class_index, format, object_bytes, Header, GREY_BIT, MARKED_BIT, OVERFLOW_SLOTS, REMEMBERED_BIT,
};
use gc::specials::{closure, context, so};
use gc::{Heap, Oop};
use std::collections::HashMap;

/// 32-bit class-index pun for hidden 32-bit word objects.
const THIRTY_TWO_BIT_PUN: u32 = 18;
/// Slots of the 64-bit free lists object.
const FREE_LISTS_SLOTS: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Obj32 {
    /// Address of the header when saved.
    old: u32,
    header: Header,
    num_slots: usize,
    /// Offset of the first slot in the data.
    body: usize,
}

/// What an old reference becomes.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// An object kept at this index of `objs`.
    Object(usize),
    /// A value that replaces the object (a SmallFloat64).
    Immediate(Oop),
}

struct Converter<'a> {
    data: &'a [u8],
    objs: Vec<Obj32>,
    by_addr: HashMap<u32, usize>,
    header: &'a ImageHeader,
}

impl Converter<'_> {
    fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.data[off..off + 4].try_into().expect("4 bytes"))
    }

    fn slot(&self, o: &Obj32, i: usize) -> u32 {
        self.u32_at(o.body + 4 * i)
    }

    fn obj_at(&self, addr: u32) -> Option<&Obj32> {
        self.by_addr.get(&addr).map(|&i| &self.objs[i])
    }

    fn walk(&mut self) -> Result<usize> {
        let segs = segments::split(self.data, self.header.first_segment_size, self.header.old_base, 4)?;
        for s in &segs {
            let end = s.offset + s.size - segments::BRIDGE_BYTES;
            let mut at = s.offset;
            while at < end {
                if end - at < 8 {
                    return Err(ImageError::Corrupt(format!(
                        "stray bytes at the end of a segment at offset {at}"
                    )));
                }
                let mut w = u64::from_le_bytes(self.data[at..at + 8].try_into().expect("8 bytes"));
                let mut hdr_at = at;
                let mut n = (w >> 56) as usize;
                if n == OVERFLOW_SLOTS {
                    // 32-bit overflow word: the count in the low word, 0xFF in the top byte.
                    n = (w & 0xffff_ffff) as usize;
                    hdr_at = at + 8;
                    if hdr_at + 8 > end {
                        return Err(ImageError::Corrupt(format!(
                            "overflow header at offset {at} runs past its segment"
                        )));
                    }
                    w = u64::from_le_bytes(self.data[hdr_at..hdr_at + 8].try_into().expect("8 bytes"));
                    if (w >> 56) as usize != OVERFLOW_SLOTS {
                        return Err(ImageError::Corrupt(format!(
                            "overflow word at offset {at} without an overflow header"
                        )));
                    }
                }
                let body_bytes = (n.max(2) * 4 + 7) & !7;
                let next = hdr_at
                    .checked_add(8 + body_bytes)
                    .filter(|&e| e <= end)
                    .ok_or_else(|| {
                        ImageError::Corrupt(format!(
                            "object at offset {hdr_at} with {n} slots runs past its segment"
                        ))
                    })?;
                let old = s.old_start + (hdr_at - s.offset) as u64;
                let old =
                    u32::try_from(old).map_err(|_| ImageError::Corrupt("32-bit address overflow".into()))?;
                self.by_addr.insert(old, self.objs.len());
                self.objs.push(Obj32 {
                    old,
                    header: Header(w),
                    num_slots: n,
                    body: hdr_at + 8,
                });
                at = next;
            }
        }
        Ok(segs.len())
    }

    /// Class-table entry `ci` of the 32-bit heap (old address), if any.
    fn class_at(&self, ci: u32) -> Option<u32> {
        let hidden = self.objs.get(4)?;
        let page_no = (ci / class_index::PAGE_SIZE) as usize;
        if page_no >= hidden.num_slots {
            return None;
        }
        let page = self.obj_at(self.slot(hidden, page_no))?;
        let e = (ci % class_index::PAGE_SIZE) as usize;
        (e < page.num_slots).then(|| self.slot(page, e))
    }

    fn special(&self, i: usize) -> Option<u32> {
        let soa = self.obj_at(self.header.special_objects as u32)?;
        (i < soa.num_slots).then(|| self.slot(soa, i))
    }

    fn float_bits(&self, o: &Obj32) -> u64 {
        let a = self.slot(o, 0) as u64;
        let b = self.slot(o, 1) as u64;
        if self.header.flags & FLAG_FLOATS_PLATFORM_ORDER != 0 {
            a | (b << 32)
        } else {
            b | (a << 32)
        }
    }

    fn method_literals(&self, method_old: u32) -> Option<usize> {
        let m = self.obj_at(method_old)?;
        if !format::is_compiled_method(m.header.format()) {
            return None;
        }
        let h = self.slot(m, 0);
        (h & 1 == 1).then_some(((h as i32 >> 1) & 0x7fff) as usize)
    }
}

/// New layout of one kept object.
#[derive(Clone, Copy, Debug)]
struct Plan {
    format: u8,
    num_slots: usize,
    class_index: u32,
}

/// Converts the 32-bit object data and loads it into `heap`.
pub(crate) fn load_32(data: &[u8], header: &ImageHeader, mut heap: Heap) -> Result<(Heap, LoadStats)> {
    let mut c = Converter {
        data,
        objs: Vec::new(),
        by_addr: HashMap::new(),
        header,
    };
    let nsegs = c.walk()?;
    if c.objs.len() < 5 {
        return Err(ImageError::Corrupt(format!(
            "only {} objects in the image",
            c.objs.len()
        )));
    }
    let mut stats = LoadStats {
        file_word_size: 4,
        objects_in_file: c.objs.len(),
        segments: nsegs,
        ..LoadStats::default()
    };

    // Which class indices name Float, MethodContext and BlockClosure.
    let special_class = |i: usize| c.special(i).filter(|&a| a & 3 == 0 && c.obj_at(a).is_some());
    let float_class = special_class(so::CLASS_FLOAT);
    let context_class = special_class(so::CLASS_METHOD_CONTEXT);
    let closure_class = special_class(so::CLASS_BLOCK_CLOSURE);
    let class_of = |o: &Obj32| c.class_at(o.header.class_index());

    for (i, o) in c.objs.iter().take(5).enumerate() {
        let ci = o.header.class_index();
        if ci == class_index::FREE || ci == class_index::FORWARDER {
            return Err(ImageError::Corrupt(format!(
                "object {i} of the image is a free chunk or a forwarder"
            )));
        }
    }
    if !format::is_pointers(c.objs[4].header.format()) {
        return Err(ImageError::Corrupt(
            "the hidden roots object is not a pointer object".into(),
        ));
    }

    // Decide each object's fate and new shape.
    let mut targets: HashMap<u32, Target> = HashMap::new();
    let mut plans: Vec<Option<Plan>> = vec![None; c.objs.len()];
    let mut forwarders: Vec<(u32, u32)> = Vec::new();
    for (i, o) in c.objs.iter().enumerate() {
        let h = o.header;
        let f = h.format();
        let ci = h.class_index();
        if ci == class_index::FREE {
            stats.free_chunks_dropped += 1;
            continue;
        }
        if ci == class_index::FORWARDER {
            if o.num_slots == 0 {
                return Err(ImageError::Corrupt(format!(
                    "forwarder at {:#x} has no target",
                    o.old
                )));
            }
            forwarders.push((o.old, c.slot(o, 0)));
            stats.forwarders_dropped += 1;
            continue;
        }
        let plan = if i == 3 {
            Plan {
                format: format::WORDS64,
                num_slots: FREE_LISTS_SLOTS,
                class_index: class_index::WORD_SIZE_PUN,
            }
        } else if ci == THIRTY_TWO_BIT_PUN && !format::is_pointers(f) {
            // The remembered set keeps its size in bytes.
            Plan {
                format: format::WORDS64,
                num_slots: o.num_slots.div_ceil(2),
                class_index: class_index::WORD_SIZE_PUN,
            }
        } else if format::is_pointers(f) {
            Plan {
                format: f,
                num_slots: o.num_slots,
                class_index: ci,
            }
        } else if f == format::WORDS64 {
            Plan {
                format: f,
                num_slots: o.num_slots / 2,
                class_index: ci,
            }
        } else if format::is_compiled_method(f) {
            let hdr = c.slot(o, 0);
            if hdr & 1 == 0 {
                return Err(ImageError::Corrupt(format!(
                    "method at {:#x} has a non-integer header",
                    o.old
                )));
            }
            let lits = ((hdr as i32 >> 1) & 0x7fff) as usize;
            let total = (o.num_slots * 4)
                .checked_sub(f as usize - 24)
                .and_then(|t| t.checked_sub((1 + lits) * 4))
                .ok_or_else(|| {
                    ImageError::Corrupt(format!("method at {:#x} is shorter than its literals", o.old))
                })?;
            let bytes = (1 + lits) * 8 + total;
            Plan {
                format: format::with_length(format::COMPILED_METHOD, bytes),
                num_slots: bytes.div_ceil(8),
                class_index: ci,
            }
        } else if format::is_bits(f) {
            let bytes = (o.num_slots * 4)
                .checked_sub(format::unused_bytes(f))
                .ok_or_else(|| {
                    ImageError::Corrupt(format!("object at {:#x} has a bad odd-size format {f}", o.old))
                })?;
            let is_float = f == format::WORDS32
                && o.num_slots == 2
                && float_class.is_some()
                && class_of(o) == float_class;
            if is_float {
                let bits = c.float_bits(o);
                if let Some(imm) = Oop::try_small_float(f64::from_bits(bits)) {
                    targets.insert(o.old, Target::Immediate(imm));
                    stats.floats_made_immediate += 1;
                    continue;
                }
            }
            let base = match f {
                10..=11 => format::WORDS32,
                12..=15 => format::SHORTS,
                _ => format::BYTES,
            };
            let elements = bytes / format::element_bytes(base);
            Plan {
                format: format::with_length(base, elements),
                num_slots: format::slots_for(base, elements),
                class_index: ci,
            }
        } else {
            return Err(ImageError::Corrupt(format!(
                "object at {:#x} has invalid format {f}",
                o.old
            )));
        };
        plans[i] = Some(plan);
        targets.insert(o.old, Target::Object(i));
    }
    // Forwarders: refer to the final target (chains followed, cycles refused).
    for &(from, mut to) in &forwarders {
        let mut hops = 0;
        let t = loop {
            if let Some(t) = targets.get(&to) {
                break *t;
            }
            match forwarders.iter().find(|f| f.0 == to) {
                Some(&(_, next)) if hops < 64 => {
                    to = next;
                    hops += 1;
                }
                _ => {
                    return Err(ImageError::Corrupt(format!(
                        "forwarder at {from:#x} leads to no object"
                    )))
                }
            }
        };
        targets.insert(from, t);
    }

    // Lay out the kept objects at their new addresses.
    let base = heap.old_space_start() as u64;
    let mut new_addr: Vec<u64> = vec![0; c.objs.len()];
    let mut at = 0usize;
    for (i, p) in plans.iter().enumerate() {
        if let Some(p) = p {
            let hb = gc::header::header_bytes(p.num_slots);
            new_addr[i] = base + (at + hb - 8) as u64;
            at += object_bytes(p.num_slots);
        }
    }
    let mut out = vec![0u8; at];
    let convert = |v: u32| -> Result<Oop> {
        match v & 3 {
            1 | 3 => Ok(Oop::small_int((v as i32 >> 1) as i64)),
            2 => Ok(Oop::character(v >> 2)),
            _ => match targets.get(&v) {
                Some(Target::Object(j)) => Ok(Oop(new_addr[*j])),
                Some(Target::Immediate(imm)) => Ok(*imm),
                None => Err(ImageError::Corrupt(format!("reference {v:#x} is not an object"))),
            },
        }
    };
    for (i, p) in plans.iter().enumerate() {
        let Some(p) = p else { continue };
        let o = &c.objs[i];
        let hdr_off = (new_addr[i] - base) as usize;
        if p.num_slots >= OVERFLOW_SLOTS {
            out[hdr_off - 8..hdr_off].copy_from_slice(&((p.num_slots as u64) | (0xff << 56)).to_le_bytes());
        }
        let h = Header(o.header.0 & !(GREY_BIT | MARKED_BIT | REMEMBERED_BIT))
            .with_class_index(p.class_index)
            .with_format(p.format)
            .with_num_slots_field(p.num_slots.min(OVERFLOW_SLOTS));
        out[hdr_off..hdr_off + 8].copy_from_slice(&h.0.to_le_bytes());
        let body = hdr_off + 8;
        let put = |out: &mut Vec<u8>, slot: usize, v: Oop| {
            out[body + slot * 8..body + slot * 8 + 8].copy_from_slice(&v.0.to_le_bytes());
        };
        let f = o.header.format();
        if p.class_index == class_index::WORD_SIZE_PUN
            && (i == 3 || o.header.class_index() == THIRTY_TWO_BIT_PUN)
        {
            // The free lists and the remembered set start empty.
        } else if format::is_pointers(f) {
            for s in 0..o.num_slots {
                let v = convert(c.slot(o, s))?;
                put(&mut out, s, v);
            }
            let cls = class_of(o);
            let pc_slot = if cls.is_some() && cls == context_class {
                Some((context::PC, c.slot(o, context::METHOD)))
            } else if cls.is_some() && cls == closure_class && o.num_slots > closure::START_PC_OR_METHOD {
                let outer = c.slot(o, closure::OUTER_CONTEXT);
                let method = c
                    .obj_at(outer)
                    .filter(|ctx| ctx.num_slots > context::METHOD)
                    .map(|ctx| c.slot(ctx, context::METHOD));
                method.map(|m| (closure::START_PC_OR_METHOD, m))
            } else {
                None
            };
            if let Some((slot, method)) = pc_slot {
                let pc = c.slot(o, slot);
                if pc & 1 == 1 {
                    if let Some(lits) = c.method_literals(method) {
                        let moved = (pc as i32 >> 1) as i64 + 4 * (lits as i64 + 1);
                        put(&mut out, slot, Oop::small_int(moved));
                    }
                }
            }
        } else if format::is_compiled_method(f) {
            let hdr = c.slot(o, 0);
            put(&mut out, 0, Oop::small_int((hdr as i32 >> 1) as i64));
            let lits = ((hdr as i32 >> 1) & 0x7fff) as usize;
            for s in 1..=lits {
                let v = convert(c.slot(o, s))?;
                put(&mut out, s, v);
            }
            let src = o.body + (1 + lits) * 4;
            let len = o.num_slots * 4 - (f as usize - 24) - (1 + lits) * 4;
            let dst = body + (1 + lits) * 8;
            out[dst..dst + len].copy_from_slice(&data[src..src + len]);
        } else if f == format::WORDS32
            && o.num_slots == 2
            && float_class.is_some()
            && class_of(o) == float_class
        {
            let bits = c.float_bits(o);
            out[body..body + 8].copy_from_slice(&bits.to_le_bytes());
        } else {
            let len = (o.num_slots * 4 - format::unused_bytes(f)).min(p.num_slots * 8);
            out[body..body + len].copy_from_slice(&data[o.body..o.body + len]);
        }
    }

    // SmallFloat64 immediates need a class at index 4.
    let hidden = new_addr[4];
    let nil = new_addr[0];
    if let Some(Target::Object(fc)) = float_class.and_then(|f| targets.get(&f).copied()) {
        let hidden_off = (hidden - base) as usize + 8;
        let page0 = u64::from_le_bytes(out[hidden_off..hidden_off + 8].try_into().expect("8"));
        if page0 != nil && page0 >= base && ((page0 - base) as usize) + 8 * 6 <= out.len() {
            let e4 = (page0 - base) as usize + 8 + 4 * 8;
            if u64::from_le_bytes(out[e4..e4 + 8].try_into().expect("8")) == nil {
                out[e4..e4 + 8].copy_from_slice(&new_addr[fc].to_le_bytes());
            }
        }
    }

    heap.add_segment_from_bytes(&out, false)
        .map_err(|e| ImageError::Memory(e.to_string()))?;
    let special = match convert(header.special_objects as u32)? {
        o if o.is_object() => o,
        _ => {
            return Err(ImageError::Corrupt(
                "special objects array is not an object".into(),
            ))
        }
    };
    install_roots(&mut heap, special)?;
    heap.last_hash = header.last_hash;
    Ok((heap, stats))
}
