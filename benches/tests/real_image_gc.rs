//! The memory manager on the real test images (32-bit converted on load and
//! 64-bit): enable new space, allocate, scavenge, full GC, verify, and save.

use gc::config::GcConfig;
use gc::testkit::{canonical_walk, visit_vec};
use gc::{verify, Oop, VerifyOptions};
use std::path::Path;

#[test]
fn full_gc_and_scavenge_on_the_real_images() {
    for name in ["headless64.image", "headless.image"] {
        let path = Path::new("/work/shared/images").join(name);
        if !path.exists() {
            eprintln!("skipping: {} not found", path.display());
            continue;
        }
        let mut img = images::load_image(&path).unwrap();
        let h = &mut img.heap;
        h.set_gc_config(GcConfig {
            eden_bytes: 1 << 20,
            verify_each_gc: true,
            lemming: true,
            dump_dir: Some(std::env::temp_dir()),
            ..GcConfig::default()
        })
        .unwrap();
        let special = h.special_objects();
        let before = canonical_walk(h, &[special]);
        let array_class = h.special(gc::specials::so::CLASS_ARRAY);
        let mut roots = vec![];
        for i in 0..1000 {
            let a = h.instantiate(array_class, 3).unwrap();
            h.set_slot(a, 0, Oop::small_int(i));
            if let Some(&prev) = roots.last() {
                h.set_slot(a, 1, prev);
            }
            roots.push(a);
            roots.truncate(50);
        }
        h.scavenge(&mut visit_vec(&mut roots)).unwrap();
        h.full_gc(&mut visit_vec(&mut roots)).unwrap();
        let after = canonical_walk(h, &[h.special_objects()]);
        assert_eq!(after.len(), before.len(), "{name}");
        let diff = after.iter().zip(&before).position(|(a, b)| a != b);
        assert_eq!(diff, None, "{name}: first differing object");
        let f = verify(
            h,
            VerifyOptions {
                allow_forwarders: false,
                ..VerifyOptions::default()
            },
        );
        assert!(f.is_empty(), "{name}: {:?}", &f[..f.len().min(5)]);
        // A compacted heap saves and loads back clean.
        let out = std::env::temp_dir().join(format!("sprocket-gc-{}-{name}", std::process::id()));
        images::save_image(&out, &img.heap, &img.header).unwrap();
        let again = images::load_image(&out).unwrap();
        assert!(verify(&again.heap, VerifyOptions::default()).is_empty());
        std::fs::remove_file(&out).unwrap();
    }
}
