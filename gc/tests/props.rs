//! Property tests: random object graphs and random sequences of allocate /
//! store / drop / pin / scavenge / full GC. After every collection the graph
//! reachable from the roots is unchanged (canonical walk), the verifier is
//! clean, and after a full GC every object left in the heap is reachable.

use gc::config::GcConfig;
use gc::header::format;
use gc::testkit::{canonical_walk, test_heap, visit_vec, TestAlloc};
use gc::{verify, Heap, Oop, VerifyOptions};
use proptest::prelude::*;
use std::collections::HashSet;

#[derive(Clone, Debug)]
enum Op {
    Array(usize),
    BigArray,
    Point,
    Bytes(usize),
    Store { obj: usize, slot: usize, val: usize },
    StoreInt { obj: usize, slot: usize, v: i64 },
    Drop(usize),
    Pin(usize),
    Scavenge,
    FullGc,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..12).prop_map(Op::Array),
        1 => Just(Op::BigArray),
        4 => Just(Op::Point),
        2 => (0usize..40).prop_map(Op::Bytes),
        10 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(obj, slot, val)| Op::Store { obj, slot, val }),
        2 => (any::<usize>(), any::<usize>(), -1000i64..1000).prop_map(|(obj, slot, v)| Op::StoreInt { obj, slot, v }),
        3 => any::<usize>().prop_map(Op::Drop),
        1 => any::<usize>().prop_map(Op::Pin),
        2 => Just(Op::Scavenge),
        1 => Just(Op::FullGc),
    ]
}

fn pointer_slots(h: &Heap, o: Oop) -> usize {
    if format::is_pointers(h.format(o)) {
        h.num_slots(o)
    } else {
        0
    }
}

fn check_gc(h: &mut Heap, roots: &mut [Oop], full: bool) -> Result<(), TestCaseError> {
    let before = canonical_walk(h, roots);
    let r = if full {
        h.full_gc(&mut visit_vec(roots))
    } else {
        h.scavenge(&mut visit_vec(roots))
    };
    prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    prop_assert_eq!(canonical_walk(h, roots), before);
    let f = verify(
        h,
        VerifyOptions {
            allow_forwarders: !full,
            ..VerifyOptions::default()
        },
    );
    prop_assert!(f.is_empty(), "{:?}", &f[..f.len().min(5)]);
    if full {
        // Everything left is reachable from the roots or the heap's roots.
        let r = *h.roots();
        let mut all_roots = roots.to_vec();
        all_roots.extend([
            r.nil,
            r.false_obj,
            r.true_obj,
            r.free_lists,
            r.hidden_roots,
            r.special_objects,
        ]);
        let mut seen: HashSet<Oop> = HashSet::new();
        let mut stack: Vec<Oop> = all_roots.into_iter().filter(|o| o.is_object()).collect();
        while let Some(o) = stack.pop() {
            if !seen.insert(o) {
                continue;
            }
            for k in h.reference_slots(o) {
                let v = h.slot(o, k);
                if v.is_object() && !seen.contains(&v) {
                    stack.push(v);
                }
            }
        }
        let in_heap = h.objects().filter(|&o| !h.header(o).is_free()).count();
        prop_assert_eq!(in_heap, seen.len(), "unreachable objects survived a full GC");
        prop_assert_eq!(h.young_used_bytes(), 0);
    }
    Ok(())
}

fn run(ops: Vec<Op>, saved_first_fields: usize) -> Result<(), TestCaseError> {
    let mut h = test_heap(GcConfig {
        eden_bytes: 32 << 10,
        survivor_bytes: 4 << 10,
        saved_first_fields,
        verify_each_gc: true,
        ..GcConfig::default()
    });
    let mut roots: Vec<Oop> = vec![h.array(4)];
    for op in ops {
        match op {
            Op::Array(n) => roots.push(h.array(n)),
            Op::BigArray => roots.push(h.array(9000)),
            Op::Point => {
                let p = h.point(Oop::small_int(roots.len() as i64), Oop::small_int(0));
                roots.push(p)
            }
            Op::Bytes(n) => roots.push(h.byte_array(&vec![n as u8; n])),
            Op::Store { obj, slot, val } => {
                let o = roots[obj % roots.len()];
                let n = pointer_slots(&h, o);
                if n > 0 {
                    let v = roots[val % roots.len()];
                    h.set_slot(o, slot % n, v);
                }
            }
            Op::StoreInt { obj, slot, v } => {
                let o = roots[obj % roots.len()];
                let n = pointer_slots(&h, o);
                if n > 0 {
                    h.set_slot(o, slot % n, Oop::small_int(v));
                }
            }
            Op::Drop(i) => {
                if roots.len() > 1 {
                    roots.swap_remove(i % roots.len());
                }
            }
            Op::Pin(i) => {
                let k = i % roots.len();
                let q = h.pin(roots[k]).unwrap();
                roots[k] = q;
            }
            Op::Scavenge => check_gc(&mut h, &mut roots, false)?,
            Op::FullGc => check_gc(&mut h, &mut roots, true)?,
        }
        if let Some(k) = h.gc_requested() {
            check_gc(&mut h, &mut roots, k == gc::GcKind::Full)?;
        }
    }
    check_gc(&mut h, &mut roots, true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_keep_the_graph(ops in prop::collection::vec(op(), 1..250), cap in 1usize..24) {
        run(ops, cap)?;
    }
}

#[test]
fn long_random_programs_behind_env_var() {
    let Ok(n) = std::env::var("SPROCKET_GC_PROPTEST_CASES") else {
        return;
    };
    let cases: u32 = n.parse().unwrap_or(1000);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(prop::collection::vec(op(), 1..2000), 1usize..64),
            |(ops, cap)| run(ops, cap),
        )
        .unwrap();
}
