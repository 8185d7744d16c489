//! The lemming, dumps, replay, and the planted compactor fault
//! (SPROCKET_GC_FAULT=compact-upward). One test function: the environment
//! variable is process-wide and read when a heap is created.

use gc::config::GcConfig;
use gc::replay::replay;
use gc::testkit::{canonical_walk, test_heap, visit_vec, TestAlloc};
use gc::{Heap, Oop};
use std::path::{Path, PathBuf};

const CAP: usize = 6;

fn config(dir: Option<&Path>) -> GcConfig {
    GcConfig {
        eden_bytes: 0,
        saved_first_fields: CAP,
        verify_each_gc: true,
        lemming: true,
        dump_dir: dir.map(Path::to_path_buf),
        ..GcConfig::default()
    }
}

/// A heap whose coming full GCs are: (1) one partial pass, (2) one pass
/// that moves exactly CAP objects and so compacts everything, which makes
/// the compactor try a second pass.
fn scenario(h: &mut Heap) -> Vec<Oop> {
    let root = h.array(CAP);
    h.array(2); // garbage
    for i in 0..3 {
        let p = h.point(Oop::small_int(i), Oop::small_int(i));
        h.set_slot(root, i as usize, p);
    }
    vec![root]
}

fn second_round(h: &mut Heap, roots: &[Oop]) {
    h.array(5); // garbage
    for i in 0..CAP {
        let p = h.point(Oop::small_int(100 + i as i64), Oop::small_int(-(i as i64)));
        h.set_slot(roots[0], i, p);
    }
}

fn dumps_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    v.sort();
    v
}

#[test]
fn lemming_catches_the_planted_fault_and_replay_names_the_pass() {
    let dir = std::env::temp_dir().join(format!("sprocket-lemming-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // --- With the fault planted.
    std::env::set_var("SPROCKET_GC_FAULT", "compact-upward");
    let mut h = test_heap(config(Some(&dir)));
    let mut roots = scenario(&mut h);
    let before = canonical_walk(&h, &roots);
    // First full GC: a single partial pass, the fault is not triggered.
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert!(dumps_in(&dir).is_empty());
    assert_eq!(canonical_walk(&h, &roots), before);
    second_round(&mut h, &roots);
    let before2 = canonical_walk(&h, &roots);
    let heap_before = h.objects().count();
    // Second full GC: the first pass compacts everything; the faulty second pass
    // would move objects upward. The lemming catches it on the clone.
    let fault = h.full_gc(&mut visit_vec(&mut roots)).unwrap_err();
    assert!(fault.phase.contains("compact pass 2: plan"), "{fault}");
    assert!(fault.findings[0].what.contains("upward"), "{fault}");
    let dump = fault.dump.clone().expect("dump written");
    assert_eq!(dumps_in(&dir), vec![dump.clone()]);
    let name = dump.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("sprocket-gc-{}-", std::process::id())),
        "{name}"
    );
    // The real heap was not touched.
    assert_eq!(canonical_walk(&h, &roots), before2);
    assert_eq!(h.objects().count(), heap_before);

    // Replay with the same variable: same phase, same first object.
    let report = replay(&dump).unwrap();
    assert_eq!(
        report.failed_phase(),
        Some("full gc: compact pass 2: plan"),
        "{report}"
    );
    assert_eq!(report.first_object(), Some(fault.findings[0].addr), "{report}");
    assert!(
        report.phases_passed.iter().any(|p| p == "compact pass 1: move"),
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("first corrupted object"), "{text}");

    // verify_each_gc alone also checks compaction plans (cheap), so it stops
    // the faulty pass before it moves anything.
    let mut h = test_heap(GcConfig {
        lemming: false,
        ..config(Some(&dir))
    });
    let mut roots = scenario(&mut h);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    second_round(&mut h, &roots);
    let fault = h.full_gc(&mut visit_vec(&mut roots)).unwrap_err();
    assert_eq!(fault.phase, "full gc: compact pass 2: plan");
    assert!(fault.dump.is_none());
    // With no checks at all the bug silently corrupts the object graph
    // (the heap still parses: only the values are wrong) -- which is why
    // the lemming exists.
    let mut h = test_heap(GcConfig {
        lemming: false,
        verify_each_gc: false,
        ..config(Some(&dir))
    });
    let mut roots = scenario(&mut h);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    second_round(&mut h, &roots);
    let before = canonical_walk(&h, &roots);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_ne!(canonical_walk(&h, &roots), before);

    // --- Without the variable the fault code is inert: the dump replays
    // clean and the same scenario collects with zero findings.
    std::env::remove_var("SPROCKET_GC_FAULT");
    let report = replay(&dump).unwrap();
    assert!(report.is_clean(), "{report}");
    assert!(report.phases_passed.iter().any(|p| p == "sweep"));
    let mut h = test_heap(config(Some(&dir)));
    let mut roots = scenario(&mut h);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    second_round(&mut h, &roots);
    let before = canonical_walk(&h, &roots);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    assert_eq!(dumps_in(&dir).len(), 1, "no new dump");

    // Dumps default to the current directory.
    std::env::set_var("SPROCKET_GC_FAULT", "compact-upward");
    std::env::set_current_dir(&dir).unwrap();
    let mut h = test_heap(config(None));
    let mut roots = scenario(&mut h);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    second_round(&mut h, &roots);
    let fault = h.full_gc(&mut visit_vec(&mut roots)).unwrap_err();
    assert_eq!(fault.dump.as_ref().unwrap().parent(), Some(Path::new(".")));
    assert_eq!(dumps_in(&dir).len(), 2);
    std::env::remove_var("SPROCKET_GC_FAULT");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dump_round_trip_with_young_objects() {
    let mut h = test_heap(GcConfig {
        eden_bytes: 1 << 20,
        ..GcConfig::default()
    });
    let old = h.array(10_000);
    let y = h.point(Oop::small_int(4), Oop::small_int(5));
    h.set_slot(old, 0, y);
    let mut roots = vec![old, y];
    let before = canonical_walk(&h, &roots);
    let path = std::env::temp_dir().join(format!("sprocket-roundtrip-{}.dump", std::process::id()));
    h.write_dump(&path, &roots).unwrap();
    let loaded = Heap::load_dump(&path).unwrap();
    assert_eq!(canonical_walk(&loaded.heap, &loaded.vm_roots), before);
    assert!(gc::verify(&loaded.heap, Default::default()).is_empty());
    let (mut clone, delta) = h.clone_relocated().unwrap();
    let mut croots: Vec<Oop> = roots.iter().map(|&r| clone.relocated(r, &h, delta)).collect();
    assert_eq!(canonical_walk(&clone, &croots), before);
    clone.full_gc(&mut visit_vec(&mut croots)).unwrap();
    assert_eq!(canonical_walk(&clone, &croots), before);
    h.full_gc(&mut visit_vec(&mut roots)).unwrap();
    assert_eq!(canonical_walk(&h, &roots), before);
    std::fs::remove_file(&path).unwrap();
}
