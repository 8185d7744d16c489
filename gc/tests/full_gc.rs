//! Marking, the planning compactor, segments, become and pinning.

use gc::config::GcConfig;
use gc::heap::MIN_GROWTH_SEGMENT;
use gc::testkit::{canonical_walk, test_heap, visit_vec, TestAlloc};
use gc::{verify, Heap, Oop, VerifyOptions};
use std::collections::HashMap;

fn old_only(saved_first_fields: usize) -> GcConfig {
    GcConfig {
        eden_bytes: 0,
        saved_first_fields,
        verify_each_gc: true,
        ..GcConfig::default()
    }
}

fn strict_clean(h: &Heap) {
    let f = verify(
        h,
        VerifyOptions {
            allow_forwarders: false,
            ..VerifyOptions::default()
        },
    );
    assert!(f.is_empty(), "findings: {:#?}", &f[..f.len().min(10)]);
}

/// Addresses of the reachable objects keyed by canonical number.
fn addresses(h: &Heap, roots: &[Oop]) -> Vec<usize> {
    let mut seen: HashMap<Oop, usize> = HashMap::new();
    let mut order = vec![];
    let mut queue: Vec<Oop> = roots
        .iter()
        .map(|&r| h.follow(r))
        .filter(|r| r.is_object())
        .collect();
    let mut i = 0;
    for &r in &queue {
        if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(r) {
            e.insert(order.len());
            order.push(r);
        }
    }
    queue.clear();
    while i < order.len() {
        let o = order[i];
        i += 1;
        if gc::header::format::is_pointers(h.format(o)) {
            for k in 0..h.num_slots(o) {
                let v = h.follow(h.slot(o, k));
                if v.is_object() && !seen.contains_key(&v) {
                    seen.insert(v, order.len());
                    order.push(v);
                }
            }
        }
    }
    order.iter().map(|o| o.addr()).collect()
}

#[test]
fn full_gc_compacts_and_keeps_the_graph() {
    let mut h = test_heap(old_only(1 << 20));
    let root = h.array(50);
    for i in 0..50 {
        let _garbage = h.array(7);
        let p = h.point(Oop::small_int(i), Oop::small_int(-i));
        h.set_slot(root, i as usize, p);
    }
    let mut roots = vec![root];
    let before = canonical_walk(&h, &roots);
    let used = h.old_used_bytes();
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    assert_eq!(h.old_used_bytes(), used - 50 * (8 + 7 * 8));
    assert_eq!(h.stats().full_gcs, 1);
    strict_clean(&h);
    // Unreachable memory is reclaimed: a second GC finds nothing to move.
    let used2 = h.old_used_bytes();
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(h.old_used_bytes(), used2);
    assert_eq!(canonical_walk(&h, &roots), before);
}

/// The 2019 OpenSmalltalk bug: with a saved-first-fields space that holds
/// exactly the objects the first pass moves, the first pass compacts
/// everything; the next pass must do nothing (and never move anything upward).
#[test]
fn multi_pass_compaction_never_moves_objects_upward() {
    for (cap, live) in [(8, 8), (8, 16), (4, 13), (1, 5), (8, 3)] {
        let mut h = test_heap(old_only(cap));
        let root = h.array(live);
        for _ in 0..10 {
            h.array(3); // garbage before the live objects
        }
        for i in 0..live {
            let p = h.point(Oop::small_int(i as i64), Oop::small_int(0));
            h.set_slot(root, i, p);
            if i % 3 == 0 {
                h.byte_array(b"garbage");
            }
        }
        let mut roots = vec![root];
        let before = canonical_walk(&h, &roots);
        let addrs = addresses(&h, &roots);
        h.full_gc(&mut visit_vec(&mut roots)).unwrap();
        let after = addresses(&h, &roots);
        for (k, (a, b)) in addrs.iter().zip(&after).enumerate() {
            assert!(b <= a, "cap {cap}: object {k} moved upward from {a:#x} to {b:#x}");
        }
        assert_eq!(canonical_walk(&h, &roots), before);
        assert_eq!(
            h.stats().compaction_passes,
            live.div_ceil(cap) as u64,
            "cap {cap} live {live}"
        );
        strict_clean(&h);
        // Compacted: the next full GC moves nothing.
        h.full_gc(&mut visit_vec(&mut roots)).unwrap();
        assert_eq!(addresses(&h, &roots), after);
        strict_clean(&h);
    }
}

#[test]
fn pinned_objects_never_move_and_compaction_flows_around_them() {
    let mut h = test_heap(old_only(3));
    let root = h.array(40);
    let mut pinned = vec![];
    for i in 0..40 {
        h.array(5);
        let p = h.point(Oop::small_int(i), Oop::small_int(i));
        h.set_slot(root, i as usize, p);
        if i % 7 == 3 {
            let q = h.pin(p).unwrap();
            assert_eq!(q, p, "old objects are pinned in place");
            pinned.push(p);
        }
    }
    let mut roots = vec![root];
    let before = canonical_walk(&h, &roots);
    let addrs = addresses(&h, &roots);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    let after = addresses(&h, &roots);
    for (a, b) in addrs.iter().zip(&after) {
        assert!(b <= a);
    }
    for (i, p) in pinned.iter().enumerate() {
        assert_eq!(h.slot(roots[0], 3 + 7 * i), *p, "pinned object moved");
        assert!(h.header(*p).is_pinned());
    }
    strict_clean(&h);
    // The holes left around pinned objects are reused by allocation.
    assert!(h.free_lists().total_bytes() > 0);
    let free_before = h.free_lists().total_bytes();
    let x = h.array(1);
    assert!(h.free_lists().total_bytes() < free_before);
    h.set_slot(roots[0], 0, x);
    strict_clean(&h);
}

#[test]
fn young_pinned_objects_move_to_old_space_once() {
    let mut h = test_heap(GcConfig {
        eden_bytes: 1 << 20,
        verify_each_gc: true,
        ..GcConfig::default()
    });
    let a = h.array(2);
    let p = h.point(Oop::small_int(1), Oop::small_int(2));
    h.set_slot(a, 0, p);
    let q = h.pin(p).unwrap();
    assert!(!h.is_young(q) && h.header(q).is_pinned());
    assert_eq!(h.follow(h.slot(a, 0)), q, "the young copy forwards");
    let mut roots = vec![a];
    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(h.slot(roots[0], 0), q, "the scavenge resolved the forwarder");
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(h.slot(roots[0], 0), q);
    strict_clean(&h);
}

#[test]
fn empty_trailing_segments_are_released() {
    let mut h = test_heap(old_only(1 << 20));
    let keep = h.array(4);
    let mut junk = vec![];
    for _ in 0..6 {
        junk.push(h.word_array(MIN_GROWTH_SEGMENT / 16));
    }
    assert!(h.segments().len() >= 3);
    let mut roots = vec![keep, junk[0]];
    let before = canonical_walk(&h, &roots);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    assert!(h.segments().len() <= 2, "{} segments", h.segments().len());
    strict_clean(&h);
}

#[test]
fn objects_move_across_segments_into_free_space() {
    let mut h = test_heap(old_only(1 << 20));
    let root = h.array(200);
    let filler = h.word_array(MIN_GROWTH_SEGMENT / 8 - 2000);
    for i in 0..200 {
        let p = h.array(300); // overflow headers
        h.set_slot(p, 0, Oop::small_int(i));
        h.set_slot(root, i as usize, p);
    }
    assert!(h.segments().len() >= 2);
    let mut roots = vec![root];
    let before = canonical_walk(&h, &roots);
    let _ = filler;
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    strict_clean(&h);
}

#[test]
fn weak_and_ephemeron_semantics_in_a_full_gc() {
    let mut h = test_heap(GcConfig {
        eden_bytes: 1 << 20,
        verify_each_gc: true,
        ..GcConfig::default()
    });
    let w = h.weak_array(2);
    let live = h.point(Oop::small_int(1), Oop::small_int(1));
    let dead = h.point(Oop::small_int(2), Oop::small_int(2));
    h.set_slot(w, 0, live);
    h.set_slot(w, 1, dead);
    let key = h.point(Oop::small_int(3), Oop::small_int(3));
    let e = h.ephemeron(key, Oop::small_int(9));
    let mut roots = vec![w, live, e];
    // Tenure everything, then run the full GC on old objects.
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    // The tenuring scavenge already fired the ephemeron and nilled the slot.
    assert_eq!(h.slot(roots[0], 1), h.nil());
    assert_eq!(h.fetch_next_mourner(), Some(roots[2]));
    // Now in old space: a fresh weak reference and ephemeron.
    let dead2 = h.array(10_000);
    let w2 = roots[0];
    h.set_slot(w2, 1, dead2);
    let key2 = h.array(10_001);
    let e2 = h.ephemeron(key2, Oop::small_int(1));
    let e2 = h.pin(e2).unwrap(); // old space
    roots.push(e2);
    let out = h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(h.slot(roots[0], 1), h.nil());
    assert_eq!(h.slot(roots[0], 0), roots[1]);
    assert_eq!(out.mourners_queued, 1);
    assert_eq!(h.fetch_next_mourner(), Some(roots[3]));
    strict_clean(&h);
}

#[test]
fn become_one_way_two_way_and_full_gc_removes_forwarders() {
    let mut h = test_heap(GcConfig {
        eden_bytes: 1 << 20,
        verify_each_gc: true,
        ..GcConfig::default()
    });
    let holder = h.array(6);
    let a = h.point(Oop::small_int(1), Oop::small_int(1));
    let b = h.point(Oop::small_int(2), Oop::small_int(2));
    let c = h.array(3);
    let d = h.array(9);
    let x = h.point(Oop::small_int(5), Oop::small_int(5));
    let y = h.point(Oop::small_int(6), Oop::small_int(6));
    for (i, o) in [a, b, c, d, x, y].into_iter().enumerate() {
        h.set_slot(holder, i, o);
    }
    let ha = h.identity_hash(a);
    let hb = h.identity_hash(b);
    // Two-way, same size: contents swap in place; hashes stay with the references.
    h.become_objects(&[a], &[b], true, true).unwrap();
    assert_eq!(h.slot(a, 0), Oop::small_int(2));
    assert_eq!(h.slot(b, 0), Oop::small_int(1));
    assert_eq!(h.identity_hash(a), ha);
    assert_eq!(h.identity_hash(b), hb);
    // Two-way, different sizes: forwarders to copies.
    h.set_slot(c, 0, Oop::small_int(33));
    h.set_slot(d, 0, Oop::small_int(99));
    h.become_objects(&[c], &[d], true, false).unwrap();
    assert!(h.is_forwarded(c) && h.is_forwarded(d));
    assert_eq!(h.num_slots(h.follow(c)), 9);
    assert_eq!(h.slot(h.follow(c), 0), Oop::small_int(99));
    assert_eq!(h.num_slots(h.follow(d)), 3);
    // One-way with hash copy.
    let hx = h.identity_hash(x);
    h.become_objects(&[x], &[y], false, true).unwrap();
    assert_eq!(h.follow(x), y);
    assert_eq!(h.identity_hash(y), hx);
    let mut roots = vec![holder];
    let before = canonical_walk(&h, &roots);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    let holder = roots[0];
    for i in 0..6 {
        assert!(!h.is_forwarded(h.slot(holder, i)), "slot {i} still a forwarder");
    }
    assert_eq!(h.slot(holder, 4), h.slot(holder, 5));
    strict_clean(&h);
}

#[test]
fn gc_log_and_report() {
    let dir = std::env::temp_dir().join(format!("sprocket-gclog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("gc.jsonl");
    let _ = std::fs::remove_file(&log);
    let mut h = test_heap(GcConfig {
        eden_bytes: 64 << 10,
        gc_log: Some(log.clone()),
        ..GcConfig::default()
    });
    let mut roots = vec![h.array(10)];
    for _ in 0..5 {
        for i in 0..200 {
            let p = h.point(Oop::small_int(i), Oop::small_int(i));
            let r = roots[0];
            h.set_slot(r, (i % 10) as usize, p);
        }
        h.scavenge(&mut visit_vec(&mut roots)).unwrap();
    }
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    let s = gc::log::report(&log).unwrap();
    assert_eq!(s.records.len(), 6);
    assert_eq!(s.bad_lines, 0);
    assert_eq!(s.per_kind[&gc::GcKind::Scavenge].count, 5);
    assert_eq!(s.per_kind[&gc::GcKind::Full].count, 1);
    let full = s.records.last().unwrap();
    assert!(full.phases.iter().any(|(n, _)| n == "mark"));
    assert!(full.bytes_after <= full.bytes_before);
    let svg = dir.join("gc.svg");
    gc::log::write_svg(&s, &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    assert!(format!("{s}").contains("scavenge"));
    let st = h.stats();
    assert_eq!((st.scavenges, st.full_gcs), (5, 1));
    assert_eq!(st.eden_bytes, 64 << 10);
    std::fs::remove_dir_all(&dir).unwrap();
}
