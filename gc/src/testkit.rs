//! Small but complete Spur heaps for tests and benchmarks: nil, false,
//! true, the free lists, the hidden roots with class table page 0, the
//! special objects array and a handful of classes (Array, Point, WeakArray,
//! Ephemeron, ByteArray, WordArray). Also a canonical walk of the object
//! graph, to compare a heap before and after a collection.

use crate::config::GcConfig;
use crate::header::{class_index as ci, format, WORD};
use crate::heap::{Heap, HeapConfig, Roots};
use crate::oop::Oop;
use std::collections::HashMap;

/// Class indices of the test classes.
pub mod classes {
    pub const CLASS: u32 = 33;
    pub const UNDEFINED: u32 = 40;
    pub const FALSE: u32 = 41;
    pub const TRUE: u32 = 42;
    pub const BYTE_ARRAY: u32 = 50;
    pub const ARRAY: u32 = 51;
    pub const POINT: u32 = 53;
    pub const WEAK_ARRAY: u32 = 54;
    pub const EPHEMERON: u32 = 55;
    pub const WORD_ARRAY: u32 = 56;
    /// Weak with one strong named field before the weak slots.
    pub const WEAK_FIXED: u32 = 57;
}
use classes::*;

/// Builds a test heap (all bootstrap objects in old space), then installs `gc`.
pub fn test_heap(gc: GcConfig) -> Heap {
    test_heap_sized(gc, 16 << 30, 64 << 20)
}

/// [`test_heap`] with a given reservation and new-space reservation.
pub fn test_heap_sized(gc: GcConfig, reserve_bytes: usize, new_space_bytes: usize) -> Heap {
    let mut h = Heap::new(HeapConfig {
        reserve_bytes,
        new_space_bytes,
    })
    .expect("reserve");
    let a = |h: &mut Heap, c, f, n, fill| h.allocate(c, f, n, fill).expect("alloc");
    let nil = a(&mut h, UNDEFINED, format::ZERO_SIZED, 0, Oop(0));
    let f = a(&mut h, FALSE, format::ZERO_SIZED, 0, Oop(0));
    let t = a(&mut h, TRUE, format::ZERO_SIZED, 0, Oop(0));
    let fl = a(&mut h, ci::WORD_SIZE_PUN, format::WORDS64, 64, Oop(0));
    let hidden = a(&mut h, ci::ARRAY_PUN, format::INDEXABLE, 4104, nil);
    let page0 = a(&mut h, ci::ARRAY_PUN, format::INDEXABLE, 1024, nil);
    h.set_slot(hidden, 0, page0);
    let so = a(&mut h, ARRAY, format::INDEXABLE, 60, nil);
    h.set_slot(so, 0, nil);
    h.set_slot(so, 1, f);
    h.set_slot(so, 2, t);
    h.set_roots(Roots {
        nil,
        false_obj: f,
        true_obj: t,
        free_lists: fl,
        hidden_roots: hidden,
        special_objects: so,
    });
    let specs: [(u32, u8, usize); 11] = [
        (CLASS, format::FIXED, 3),
        (UNDEFINED, format::ZERO_SIZED, 0),
        (FALSE, format::ZERO_SIZED, 0),
        (TRUE, format::ZERO_SIZED, 0),
        (BYTE_ARRAY, format::BYTES, 0),
        (ARRAY, format::INDEXABLE, 0),
        (POINT, format::FIXED, 2),
        (WEAK_ARRAY, format::WEAK, 0),
        (EPHEMERON, format::EPHEMERON, 3),
        (WORD_ARRAY, format::WORDS64, 0),
        (WEAK_FIXED, format::WEAK, 1),
    ];
    for (idx, spec, fixed) in specs {
        let c = a(&mut h, CLASS, format::FIXED, 3, nil);
        h.set_slot(c, 2, Oop::small_int(((spec as i64) << 16) | fixed as i64));
        let hd = h.header(c).with_hash(idx);
        h.set_header(c, hd);
        h.set_class_at_index(idx, c);
        if idx == ARRAY {
            h.set_slot(so, crate::specials::so::CLASS_ARRAY, c);
        }
    }
    h.set_gc_config(gc).expect("gc config");
    h
}

/// Allocation helpers for test object graphs.
pub trait TestAlloc {
    fn array(&mut self, n: usize) -> Oop;
    fn point(&mut self, x: Oop, y: Oop) -> Oop;
    fn weak_array(&mut self, n: usize) -> Oop;
    fn ephemeron(&mut self, key: Oop, value: Oop) -> Oop;
    fn byte_array(&mut self, bytes: &[u8]) -> Oop;
    fn word_array(&mut self, n: usize) -> Oop;
}

impl TestAlloc for Heap {
    fn array(&mut self, n: usize) -> Oop {
        let nil = self.nil();
        self.allocate(ARRAY, format::INDEXABLE, n, nil).expect("alloc")
    }
    fn point(&mut self, x: Oop, y: Oop) -> Oop {
        let nil = self.nil();
        let p = self.allocate(POINT, format::FIXED, 2, nil).expect("alloc");
        self.set_slot_unchecked(p, 0, x);
        self.set_slot_unchecked(p, 1, y);
        p
    }
    fn weak_array(&mut self, n: usize) -> Oop {
        let nil = self.nil();
        self.allocate(WEAK_ARRAY, format::WEAK, n, nil).expect("alloc")
    }
    fn ephemeron(&mut self, key: Oop, value: Oop) -> Oop {
        let nil = self.nil();
        let e = self
            .allocate(EPHEMERON, format::EPHEMERON, 3, nil)
            .expect("alloc");
        self.set_slot_unchecked(e, 0, key);
        self.set_slot_unchecked(e, 1, value);
        e
    }
    fn byte_array(&mut self, bytes: &[u8]) -> Oop {
        let slots = format::slots_for(format::BYTES, bytes.len());
        let o = self
            .allocate(
                BYTE_ARRAY,
                format::with_length(format::BYTES, bytes.len()),
                slots,
                Oop(0),
            )
            .expect("alloc");
        self.bytes_mut(o).copy_from_slice(bytes);
        o
    }
    fn word_array(&mut self, n: usize) -> Oop {
        self.allocate(WORD_ARRAY, format::WORDS64, n, Oop(0))
            .expect("alloc")
    }
}

/// A value in a canonical walk: an immediate, or the visit number of an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Canon {
    Imm(u64),
    Obj(usize),
}

/// One object of a canonical walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonObject {
    pub class_index: u32,
    pub format: u8,
    pub hash: u32,
    pub pinned: bool,
    pub slots: Vec<Canon>,
    pub raw: Vec<u8>,
}

/// The object graph reachable from `roots` (following forwarders), numbered
/// in breadth-first order: equal walks mean equal graphs, whatever the
/// addresses.
pub fn canonical_walk(h: &Heap, roots: &[Oop]) -> Vec<CanonObject> {
    let mut ids: HashMap<Oop, usize> = HashMap::new();
    let mut order: Vec<Oop> = Vec::new();
    let mut out = Vec::new();
    let visit = |o: Oop, ids: &mut HashMap<Oop, usize>, order: &mut Vec<Oop>| -> Canon {
        let o = h.follow(o);
        if !o.is_object() {
            return Canon::Imm(o.0);
        }
        let n = ids.len();
        let id = *ids.entry(o).or_insert_with(|| {
            order.push(o);
            n
        });
        Canon::Obj(id)
    };
    for &r in roots {
        visit(r, &mut ids, &mut order);
    }
    let mut i = 0;
    while i < order.len() {
        let o = order[i];
        i += 1;
        let hd = h.header(o);
        let f = hd.format();
        let n = h.num_slots(o);
        let mut slots = Vec::new();
        let mut raw = Vec::new();
        if format::is_pointers(f) || hd.is_forwarder() {
            for k in 0..n {
                slots.push(visit(h.slot(o, k), &mut ids, &mut order));
            }
        } else if format::is_compiled_method(f) {
            let lits = h.reference_slots(o);
            slots.push(Canon::Imm(h.slot(o, 0).0));
            for k in lits.clone() {
                slots.push(visit(h.slot(o, k), &mut ids, &mut order));
            }
            let skip = (lits.end.max(1)) * WORD;
            raw.extend_from_slice(&h.bytes(o)[skip.min(h.byte_size(o))..]);
        } else {
            raw.extend_from_slice(h.bytes(o));
        }
        out.push(CanonObject {
            class_index: hd.class_index(),
            format: f,
            hash: hd.hash(),
            pinned: hd.is_pinned(),
            slots,
            raw,
        });
    }
    out
}

/// A root visitor over a vector of root slots.
pub fn visit_vec(roots: &mut [Oop]) -> impl FnMut(&mut dyn FnMut(&mut Oop)) + '_ {
    move |f: &mut dyn FnMut(&mut Oop)| roots.iter_mut().for_each(f)
}

/// Bytes per word, re-exported for tests.
pub const W: usize = WORD;
