//! The mutator's old-space limit and the low-space signal.

use gc::{format, AllocError, GcConfig, Heap, HeapConfig, Oop};

fn heap(max: usize, margin: usize) -> Heap {
    let mut h = Heap::new(HeapConfig {
        reserve_bytes: 1 << 30,
        new_space_bytes: 1 << 20,
    })
    .unwrap();
    h.set_gc_config(GcConfig {
        eden_bytes: 0,
        max_old_space_bytes: max,
        low_space_bytes: margin,
        ..GcConfig::default()
    })
    .unwrap();
    h
}

#[test]
fn allocation_fails_past_the_limit_and_low_space_fires_once() {
    let mut h = heap(64 << 20, 24 << 20);
    let slots = (1 << 20) / 8; // 1 MiB objects
    let mut fired_at = None;
    let mut allocated = 0;
    let err = loop {
        match h.allocate(40, format::WORDS64, slots, Oop(0)) {
            Ok(_) => allocated += 1,
            Err(e) => break e,
        }
        if h.take_low_space_signal() {
            assert!(fired_at.is_none(), "the signal fires once");
            fired_at = Some(allocated);
        }
        assert!(allocated < 1000, "the limit must stop allocation");
    };
    assert_eq!(err, AllocError::OutOfMemory);
    let fired = fired_at.expect("low space signalled before memory ran out");
    assert!(fired < allocated, "signalled at {fired} of {allocated} objects");
    assert!(
        (40..=64).contains(&allocated),
        "{allocated} MiB allocated under a 64 MiB limit"
    );
    assert!(h.gc_requested().is_some(), "running out asks for a full GC");
    // Re-arming with a new margin lets it fire again at the next allocation near the limit.
    h.set_low_space_bytes(63 << 20);
    let _ = h.allocate(40, format::WORDS64, 1, Oop(0));
    assert!(h.take_low_space_signal());
}

#[test]
fn no_limit_by_default() {
    let mut h = heap(0, 0);
    for _ in 0..80 {
        h.allocate(40, format::WORDS64, (1 << 20) / 8, Oop(0)).unwrap();
    }
    assert!(!h.take_low_space_signal());
}
