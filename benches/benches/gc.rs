//! GC benchmarks: scavenge throughput, and full GC / compaction of 100 MB
//! heaps (1 GB and 4 GB with SPROCKET_BENCH_BIG=1).
//!
//! Run: `nice cargo bench -p benches --bench gc`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gc::config::GcConfig;
use gc::testkit::{test_heap, test_heap_sized, visit_vec, TestAlloc};
use gc::{Heap, Oop};
use std::time::{Duration, Instant};

/// Fills eden with short-lived points and arrays, 1 in `keep_every` kept
/// alive through a root array, then scavenges.
fn scavenge(c: &mut Criterion) {
    let mut g = c.benchmark_group("scavenge");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for keep_every in [100usize, 10] {
        let eden = 8 << 20;
        g.throughput(Throughput::Bytes(eden as u64));
        g.bench_function(format!("8MiB eden, {}% survive", 100 / keep_every), |b| {
            let mut h = test_heap(GcConfig {
                eden_bytes: eden,
                survivor_bytes: 4 << 20,
                full_gc_growth_bytes: 0,
                ..GcConfig::default()
            });
            let keep = h.array(20_000); // old (large), remembered
            let mut roots = vec![keep];
            // Only the scavenge is timed; filling eden is not.
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut i = 0usize;
                    let mut countdown = 0usize;
                    while h.gc_requested().is_none() {
                        let p = h.point(Oop::small_int(i as i64), Oop::small_int(1));
                        let a = h.array(4);
                        h.set_slot_unchecked(a, 0, p);
                        if countdown == 0 {
                            countdown = keep_every;
                            let k = roots[0];
                            h.set_slot(k, (i / keep_every) % 20_000, a);
                        }
                        i += 1;
                        countdown -= 1;
                    }
                    let t = Instant::now();
                    h.scavenge(&mut visit_vec(&mut roots)).unwrap();
                    total += t.elapsed();
                }
                total
            });
        });
    }
    g.finish();
}

/// A heap of about `bytes` in old space: chains of 1000-slot arrays of
/// points with a 16-byte garbage object after each live point (a third of
/// the bytes, half of the objects are garbage).
fn build_old_heap(bytes: usize) -> (Heap, Vec<Oop>) {
    let mut h = test_heap_sized(
        GcConfig {
            eden_bytes: 0,
            ..GcConfig::default()
        },
        (bytes * 3).max(1 << 30) + (1 << 30),
        64 << 20,
    );
    let per_array = 16 + 1000 * 8 + 1000 * (24 + 16);
    let arrays = bytes / per_array;
    let top = h.array(arrays.max(1));
    for i in 0..arrays {
        let a = h.array(1000);
        h.set_slot(top, i, a);
        for k in 0..1000 {
            let p = h.point(Oop::small_int(k as i64), Oop::small_int(i as i64));
            h.set_slot(a, k, p);
            h.array(1); // garbage, 16 bytes
        }
    }
    (h, vec![top])
}

fn full_gc(c: &mut Criterion) {
    let mut sizes = vec![("100MB", 100usize << 20)];
    if std::env::var("SPROCKET_BENCH_BIG").is_ok() {
        sizes.push(("1GB", 1 << 30));
        sizes.push(("4GB", 4 << 30));
    }
    let mut g = c.benchmark_group("full_gc");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (name, bytes) in sizes {
        let (template, roots) = build_old_heap(bytes);
        g.throughput(Throughput::Bytes(template.old_used_bytes() as u64));
        g.bench_function(format!("{name} heap, half the objects garbage"), |b| {
            b.iter_batched(
                || {
                    let (h, delta) = template.clone_relocated().unwrap();
                    let r: Vec<Oop> = roots.iter().map(|&o| h.relocated(o, &template, delta)).collect();
                    (h, r)
                },
                |(mut h, mut r)| {
                    h.full_gc(&mut visit_vec(&mut r)).unwrap();
                    h
                },
                BatchSize::PerIteration,
            );
        });
        // An already compacted heap: marking plus a planning walk that moves nothing.
        let (mut compacted, mut croots) = {
            let (h, delta) = template.clone_relocated().unwrap();
            let r: Vec<Oop> = roots.iter().map(|&o| h.relocated(o, &template, delta)).collect();
            (h, r)
        };
        compacted.full_gc(&mut visit_vec(&mut croots)).unwrap();
        g.bench_function(format!("{name} heap, compacted"), |b| {
            b.iter(|| compacted.full_gc(&mut visit_vec(&mut croots)).unwrap());
        });
    }
    g.finish();
}

criterion_group!(benches, scavenge, full_gc);
criterion_main!(benches);
