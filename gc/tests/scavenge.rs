//! New space, the store check and the scavenger.

use gc::config::GcConfig;
use gc::header::format;
use gc::testkit::{canonical_walk, classes, test_heap, visit_vec, TestAlloc};
use gc::{verify, GcKind, Heap, Oop, VerifyOptions};

fn cfg() -> GcConfig {
    GcConfig {
        eden_bytes: 256 << 10,
        verify_each_gc: true,
        ..GcConfig::default()
    }
}

fn clean(h: &Heap) {
    let f = verify(h, VerifyOptions::default());
    assert!(f.is_empty(), "findings: {:#?}", &f[..f.len().min(10)]);
}

#[test]
fn small_objects_go_to_eden_large_to_old_space() {
    let mut h = test_heap(cfg());
    let a = h.array(10);
    assert!(h.is_young(a));
    let big = h.array(10_000);
    assert!(!h.is_young(big));
    assert!(h.gc_requested().is_none());
    clean(&h);
}

#[test]
fn store_check_remembers_old_objects() {
    let mut h = test_heap(cfg());
    let old = h.array(10_000);
    let young = h.array(3);
    assert!(!h.header(old).is_remembered());
    h.set_slot(old, 5, Oop::small_int(3));
    assert!(!h.header(old).is_remembered());
    h.set_slot(old, 5, young);
    assert!(h.header(old).is_remembered());
    assert_eq!(h.remembered_set(), &[old]);
    h.set_slot(old, 6, young);
    assert_eq!(h.remembered_set().len(), 1);
    clean(&h);
}

/// `allocate` has an inline path for small objects in eden and a general
/// one (taken for every object under stress collections): both must build
/// the same objects, and both count them.
#[test]
fn the_eden_fast_path_builds_what_the_general_path_builds() {
    let stressed = GcConfig {
        stress: Some(1_000_000),
        ..cfg()
    };
    let mut fast = test_heap(cfg());
    let mut general = test_heap(stressed);
    // (format, slots, filled with nil or with zeros); the heaps sit at
    // different addresses, so objects are compared relative to their nil.
    for (class, fmt, n, nil_fill) in [
        (classes::ARRAY, format::INDEXABLE, 0, true),
        (classes::POINT, format::FIXED, 2, true),
        (classes::ARRAY, format::INDEXABLE, 254, true),
        (classes::ARRAY, format::INDEXABLE, 255, true),
        (classes::BYTE_ARRAY, format::BYTES + 3, 2, false),
        (classes::WORD_ARRAY, format::WORDS64, 1, false),
    ] {
        let before = (fast.stats().allocations, general.stats().allocations);
        let fill = |h: &Heap| if nil_fill { h.nil() } else { Oop(0) };
        let (fa, fb) = (fill(&fast), fill(&general));
        let a = fast.allocate(class, fmt, n, fa).expect("allocates");
        let b = general.allocate(class, fmt, n, fb).expect("allocates");
        assert_eq!(fast.is_young(a), general.is_young(b), "{fmt} {n}");
        assert_eq!(fast.header(a), general.header(b), "{fmt} {n}");
        assert_eq!(fast.num_slots(a), n);
        for i in 0..n {
            assert_eq!(fast.slot(a, i), fa, "{fmt} {n} {i}");
            assert_eq!(general.slot(b, i), fb, "{fmt} {n} {i}");
        }
        assert_eq!(fast.stats().allocations, before.0 + 1);
        assert_eq!(general.stats().allocations, before.1 + 1);
    }
    assert!(fast.remembered_set().is_empty());
    clean(&fast);
    clean(&general);
}

#[test]
fn init_slots_stores_in_order_and_remembers_an_old_object_once() {
    let mut h = test_heap(cfg());
    let young = h.array(3);
    let fresh = h.array(4);
    h.init_slots(fresh, 1, 3, |i| Oop::small_int(i as i64 + 1));
    assert_eq!(h.slot(fresh, 0), h.nil());
    assert_eq!(h.slot(fresh, 1), Oop::small_int(1));
    assert_eq!(h.slot(fresh, 3), Oop::small_int(3));
    assert!(
        h.remembered_set().is_empty(),
        "a young object needs no store check"
    );
    let old = h.array(10_000);
    h.init_slots(old, 0, 2, |_| Oop::small_int(7));
    assert!(!h.header(old).is_remembered());
    h.init_slots(old, 4, 3, |i| if i == 1 { young } else { Oop::small_int(0) });
    assert_eq!(h.slot(old, 5), young);
    assert_eq!(h.remembered_set(), &[old]);
    clean(&h);
}

#[test]
fn eden_full_allocates_in_old_space_and_requests_a_scavenge() {
    let mut h = test_heap(cfg());
    let mut n = 0;
    while h.gc_requested().is_none() {
        h.array(20);
        n += 1;
        assert!(n < 100_000);
    }
    assert_eq!(h.gc_requested(), Some(GcKind::Scavenge));
    let o = h.array(20);
    assert!(
        !h.is_young(o),
        "allocation never collects: it falls back to old space"
    );
    let mut roots = vec![];
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    assert!(h.gc_requested().is_none());
}

#[test]
fn scavenge_keeps_reachable_frees_the_rest_and_tenures_by_age() {
    let mut h = test_heap(cfg());
    let keep = h.array(3);
    let p = h.point(Oop::small_int(1), Oop::small_int(2));
    h.set_slot(keep, 0, p);
    let b = h.byte_array(b"hello");
    h.set_slot(keep, 1, b);
    for _ in 0..100 {
        h.array(5); // garbage
    }
    let mut roots = vec![keep];
    let before = canonical_walk(&h, &roots);
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    let keep2 = roots[0];
    assert_ne!(keep2, keep, "moved to the survivor space");
    assert!(h.is_young(keep2));
    assert_eq!(canonical_walk(&h, &roots), before);
    assert_eq!(h.young_used_bytes(), 32 + 24 + 16);
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    assert!(!h.is_young(roots[0]), "second survival tenures");
    assert_eq!(canonical_walk(&h, &roots), before);
    assert_eq!(h.young_used_bytes(), 0);
    assert_eq!(h.stats().scavenges, 2);
    clean(&h);
}

#[test]
fn remembered_old_objects_keep_young_ones_alive() {
    let mut h = test_heap(cfg());
    let old = h.array(10_000);
    assert!(!h.is_young(old));
    let y = h.point(Oop::small_int(7), Oop::small_int(8));
    h.set_slot(old, 0, y);
    let mut roots = vec![old];
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    let y2 = h.slot(old, 0);
    assert!(h.is_young(y2));
    assert_eq!(h.slot(y2, 0), Oop::small_int(7));
    assert!(h.header(old).is_remembered());
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    let y3 = h.slot(old, 0);
    assert!(!h.is_young(y3));
    assert!(!h.header(old).is_remembered(), "no young refs left: forgotten");
    assert!(h.remembered_set().is_empty());
    clean(&h);
}

#[test]
fn survivor_overflow_tenures() {
    let mut h = test_heap(GcConfig {
        eden_bytes: 64 << 10,
        survivor_bytes: 4 << 10,
        verify_each_gc: true,
        ..GcConfig::default()
    });
    let list = h.array(500);
    let mut roots = vec![list];
    for i in 0..500 {
        let p = h.point(Oop::small_int(i), Oop::small_int(i));
        let l = roots[0];
        h.set_slot(l, i as usize, p);
    }
    let before = canonical_walk(&h, &roots);
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    assert!(h.stats().last_tenured_objects > 0);
    clean(&h);
}

#[test]
fn weak_slots_to_dead_young_objects_become_nil() {
    let mut h = test_heap(cfg());
    let w = h.weak_array(3);
    let live = h.point(Oop::small_int(1), Oop::small_int(1));
    let dead = h.point(Oop::small_int(2), Oop::small_int(2));
    h.set_slot(w, 0, live);
    h.set_slot(w, 1, dead);
    h.set_slot(w, 2, Oop::small_int(5));
    let mut roots = vec![w, live];
    let out = h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    let w = roots[0];
    assert_eq!(h.slot(w, 0), roots[1]);
    assert_eq!(h.slot(w, 1), h.nil());
    assert_eq!(h.slot(w, 2), Oop::small_int(5));
    assert!(out.signal_finalization);
    assert_eq!(out.weak_slots_nilled, 1);
    clean(&h);
}

#[test]
fn ephemerons_fire_when_only_they_hold_the_key() {
    let mut h = test_heap(cfg());
    let k1 = h.point(Oop::small_int(1), Oop::small_int(1));
    let k2 = h.point(Oop::small_int(2), Oop::small_int(2));
    let v = h.array(1);
    let e1 = h.ephemeron(k1, v);
    let e2 = h.ephemeron(k2, v);
    // k1 is also reachable from a root; k2 only through its ephemeron.
    let mut roots = vec![e1, e2, k1];
    let out = h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(out.mourners_queued, 1);
    assert!(out.signal_finalization);
    let m = h.fetch_next_mourner().unwrap();
    assert_eq!(m, roots[1], "the ephemeron of the unreachable key");
    assert_eq!(h.format(m), format::FIXED, "fired: it will not fire again");
    assert_eq!(
        h.slot(h.slot(m, 0), 0),
        Oop::small_int(2),
        "key kept for finalization"
    );
    assert!(h.fetch_next_mourner().is_none());
    assert_eq!(h.format(roots[0]), format::EPHEMERON);
    clean(&h);
}

#[test]
fn stress_requests_scavenges_and_full_gcs() {
    let mut h = test_heap(GcConfig {
        stress: Some(10),
        ..cfg()
    });
    let mut roots = vec![h.array(2)];
    let mut kinds = vec![];
    for i in 0..300 {
        let p = h.point(Oop::small_int(i), Oop::small_int(i));
        let r = roots[0];
        h.set_slot(r, (i % 2) as usize, p);
        if let Some(k) = h.gc_requested() {
            kinds.push(k);
            h.collect(k, &mut visit_vec(&mut roots)).unwrap();
        }
    }
    assert!(kinds.iter().filter(|&&k| k == GcKind::Scavenge).count() >= 20);
    assert!(kinds.contains(&GcKind::Full));
    clean(&h);
}
