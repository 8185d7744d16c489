//! The loader against damaged images: mutated headers, truncated files,
//! flipped bytes and stray pointers in the object data of both real images.
//!
//! Whatever the bytes, `load_image_bytes` must return (never panic); when it
//! returns a heap, the verifier, `ImageInfo` and `image_bytes` must not
//! panic either, and a heap the verifier finds clean must save and load
//! back to the same bytes.
//!
//! The run is bounded (about 200 cases, a few seconds in a debug build) and
//! reproducible: the random generator has a fixed seed. For a longer hunt:
//! `SPROCKET_FUZZ_CASES=5000 SPROCKET_FUZZ_SEED=$RANDOM cargo test -p images --test fuzz_loader`.

use gc::verify::{verify, VerifyOptions};
use images::info::ImageInfo;
use images::{image_bytes, load_image_bytes};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::LazyLock;

const HEADLESS32: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images/headless.image");
const HEADLESS64: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/images/headless64.image"
);

static IMAGE32: LazyLock<Vec<u8>> = LazyLock::new(|| std::fs::read(HEADLESS32).unwrap());
static IMAGE64: LazyLock<Vec<u8>> = LazyLock::new(|| std::fs::read(HEADLESS64).unwrap());

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// A damaged copy of an image.
#[derive(Clone, Debug)]
enum Mutation {
    /// Bytes written over the header at these offsets.
    Header(Vec<(usize, Vec<u8>)>),
    /// The file cut to this length.
    Truncate(usize),
    /// Bytes of the object data xor-ed with these (non-zero) masks.
    Flip(Vec<(usize, u8)>),
    /// 8-byte-aligned words of the object data overwritten with the image's
    /// old base address plus an 8-byte-aligned offset: plausible pointers,
    /// usually into the middle of some object.
    StrayPointer(Vec<(usize, u64)>),
}

fn header_bytes(image: &[u8]) -> usize {
    u32_at(image, 4) as usize
}

fn old_base(image: &[u8]) -> u64 {
    if header_bytes(image) == 64 {
        u32_at(image, 12) as u64
    } else {
        u64_at(image, 16)
    }
}

fn apply(image: &[u8], m: &Mutation) -> Vec<u8> {
    let mut b = image.to_vec();
    let hs = header_bytes(image);
    match m {
        Mutation::Header(writes) => {
            for (off, bytes) in writes {
                for (i, v) in bytes.iter().enumerate() {
                    if off + i < hs {
                        b[off + i] = *v;
                    }
                }
            }
        }
        Mutation::Truncate(len) => b.truncate(*len),
        Mutation::Flip(flips) => {
            for &(off, mask) in flips {
                b[off] ^= mask;
            }
        }
        Mutation::StrayPointer(words) => {
            let ws = if hs == 64 { 4 } else { 8 };
            for &(off, v) in words {
                let off = off & !7;
                b[off..off + ws].copy_from_slice(&v.to_le_bytes()[..ws]);
            }
        }
    }
    b
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Loads `bytes` and, when that succeeds, verifies, describes and saves the
/// heap. A panic anywhere becomes an error naming the step and `what`.
fn exercise(what: &str, bytes: &[u8]) -> Result<(), String> {
    let step = Cell::new("load_image_bytes");
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let img = match load_image_bytes(bytes) {
            Err(e) => {
                let msg = e.to_string();
                if msg.is_empty() || msg.contains('\n') {
                    return Err(format!("{what}: the error is not one line: {msg:?}"));
                }
                return Ok(());
            }
            Ok(img) => img,
        };
        step.set("gc::verify");
        let findings = verify(&img.heap, VerifyOptions::default());
        step.set("ImageInfo::gather");
        let info = ImageInfo::gather(&img);
        step.set("ImageInfo::to_text");
        let _ = info.to_text();
        step.set("ImageInfo::to_json");
        let _ = info.to_json();
        step.set("image_bytes");
        let saved = image_bytes(&img.heap, &img.header);
        if findings.is_empty() {
            // A heap the verifier accepts must survive a save and a load.
            step.set("load_image_bytes (of the saved bytes)");
            let again = load_image_bytes(&saved).map_err(|e| {
                format!("{what}: verify found nothing, but the saved image does not load: {e}")
            })?;
            step.set("gc::verify (of the reloaded heap)");
            let f = verify(&again.heap, VerifyOptions::default());
            if let Some(first) = f.first() {
                return Err(format!(
                    "{what}: verify found nothing, but after a save and load: {first}"
                ));
            }
            step.set("image_bytes (of the reloaded heap)");
            if image_bytes(&again.heap, &again.header) != saved {
                return Err(format!("{what}: saving the reloaded heap gives different bytes"));
            }
        }
        Ok(())
    }));
    match outcome {
        Ok(r) => r,
        Err(p) => Err(format!(
            "{what}: panicked in {}: {}",
            step.get(),
            panic_message(&*p)
        )),
    }
}

fn config(cases: u32) -> Config {
    let cases = std::env::var("SPROCKET_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map(|n| n.div_ceil(8))
        .unwrap_or(cases);
    let seed = std::env::var("SPROCKET_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_5bac_e001);
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 512,
        ..Config::default()
    }
}

fn header_mutation(hs: usize) -> impl Strategy<Value = Mutation> {
    // Mostly keep the format word so the rest of the header gets exercised.
    let offset = prop_oneof![1 => 0..hs, 3 => 4..hs];
    prop::collection::vec((offset, prop::collection::vec(any::<u8>(), 1..=8)), 1..=4)
        .prop_map(Mutation::Header)
}

fn truncation(len: usize) -> impl Strategy<Value = Mutation> {
    (0..len).prop_map(Mutation::Truncate)
}

fn flips(hs: usize, len: usize) -> impl Strategy<Value = Mutation> {
    prop::collection::vec((hs..len, 1..=255u8), 1..=8).prop_map(Mutation::Flip)
}

fn stray_pointers(hs: usize, len: usize, base: u64) -> impl Strategy<Value = Mutation> {
    let data = (len - hs) as u64;
    prop::collection::vec(
        (hs..len - 8, (0..data / 8).prop_map(move |w| base + 8 * w)),
        1..=3,
    )
    .prop_map(Mutation::StrayPointer)
}

fn run(image: &[u8], name: &str, m: &Mutation) -> Result<(), TestCaseError> {
    let bytes = apply(image, m);
    exercise(&format!("{name} with {m:?}"), &bytes).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(config(25))]

    #[test]
    fn mutated_header_32(m in header_mutation(64)) {
        run(&IMAGE32, "headless.image", &m)?;
    }

    #[test]
    fn mutated_header_64(m in header_mutation(128)) {
        run(&IMAGE64, "headless64.image", &m)?;
    }

    #[test]
    fn truncated_32(m in truncation(IMAGE32.len())) {
        run(&IMAGE32, "headless.image", &m)?;
    }

    #[test]
    fn truncated_64(m in truncation(IMAGE64.len())) {
        run(&IMAGE64, "headless64.image", &m)?;
    }

    #[test]
    fn flipped_bytes_32(m in flips(64, IMAGE32.len())) {
        run(&IMAGE32, "headless.image", &m)?;
    }

    #[test]
    fn flipped_bytes_64(m in flips(128, IMAGE64.len())) {
        run(&IMAGE64, "headless64.image", &m)?;
    }

    #[test]
    fn stray_pointers_32(m in stray_pointers(64, IMAGE32.len(), old_base(&IMAGE32))) {
        run(&IMAGE32, "headless.image", &m)?;
    }

    #[test]
    fn stray_pointers_64(m in stray_pointers(128, IMAGE64.len(), old_base(&IMAGE64))) {
        run(&IMAGE64, "headless64.image", &m)?;
    }
}

// ---------------------------------------------------------------------------
// Deterministic cases
// ---------------------------------------------------------------------------

fn load_err(bytes: &[u8]) -> String {
    match catch_unwind(|| load_image_bytes(bytes)) {
        Ok(Ok(_)) => panic!("{} bytes loaded", bytes.len()),
        Ok(Err(e)) => e.to_string(),
        Err(p) => panic!("load_image_bytes panicked: {}", panic_message(&*p)),
    }
}

#[test]
fn empty_and_tiny_files_are_not_images() {
    for len in [0, 1, 4, 7] {
        let e = load_err(&IMAGE64[..len]);
        assert!(e.starts_with("not a Smalltalk image"), "{len} bytes: {e}");
    }
}

#[test]
fn header_only_files_are_truncated() {
    for (image, hs) in [(&*IMAGE32, 64), (&*IMAGE64, 128)] {
        let e = load_err(&image[..hs]);
        assert!(e.starts_with("truncated image"), "{e}");
        // And shorter than the header.
        let e = load_err(&image[..hs - 1]);
        assert!(e.starts_with("truncated image"), "{e}");
    }
}

#[test]
fn v3_format_6505_is_named() {
    let mut b = IMAGE32.clone();
    b[..4].copy_from_slice(&6505u32.to_le_bytes());
    let e = load_err(&b);
    assert!(e.contains("V3 image format 6505 is not supported yet"), "{e}");
}

#[test]
fn big_endian_images_are_named() {
    for (image, format) in [(&*IMAGE32, 6521u32), (&*IMAGE64, 68021)] {
        let mut b = image.clone();
        b[..4].copy_from_slice(&format.to_be_bytes());
        let e = load_err(&b);
        assert!(e.contains("big-endian"), "{e}");
        assert!(e.contains(&format.to_string()), "{e}");
    }
}

#[test]
fn unknown_format_numbers_are_not_images() {
    let mut b = IMAGE64.clone();
    b[..4].copy_from_slice(b"\x7fELF");
    assert!(load_err(&b).starts_with("not a Smalltalk image"));
}

/// The format with the multiple-bytecode-sets bit (68533 / 7033) has the
/// same layout: it loads, and the bit is kept when saving.
#[test]
fn sista_format_numbers_load_and_are_kept() {
    let mut b = IMAGE64.clone();
    b[..4].copy_from_slice(&68533u32.to_le_bytes());
    let img = load_image_bytes(&b).unwrap();
    assert!(verify(&img.heap, VerifyOptions::default()).is_empty());
    assert_eq!(image_bytes(&img.heap, &img.header), b);

    let mut b = IMAGE32.clone();
    b[..4].copy_from_slice(&(6521u32 | 512).to_le_bytes());
    let img = load_image_bytes(&b).unwrap();
    assert_eq!(img.header.format, 68533);
    let saved = image_bytes(&img.heap, &img.header);
    assert_eq!(u32_at(&saved, 0), 68533);
    // Apart from the format word, the same bytes as the plain conversion.
    assert_eq!(saved[4..], IMAGE64[4..]);
}

#[test]
fn a_file_with_bytes_after_the_last_segment_is_refused() {
    let mut b = IMAGE64.clone();
    b.extend_from_slice(&[0u8; 16]);
    // The header's data size still covers only the segment: the extra bytes
    // are ignored, and the image loads.
    exercise("headless64.image with 16 bytes appended", &b).unwrap();
    // When the data size says they are object data, they must be refused.
    let ds = u64_at(&b, 8) + 16;
    b[8..16].copy_from_slice(&ds.to_le_bytes());
    let e = load_err(&b);
    assert!(e.starts_with("corrupt image"), "{e}");
}

// --- Damage to the first objects, which the loader finds by position ---

/// File offset of the header word of the `n`th object of a real image.
fn nth_object(image: &[u8], n: usize) -> usize {
    let hs = header_bytes(image);
    let ws = if hs == 64 { 4 } else { 8 };
    let mut at = hs;
    let mut i = 0;
    loop {
        let mut w = u64_at(image, at);
        let mut hdr = at;
        let mut slots = (w >> 56) as usize;
        if slots == 255 {
            slots = (w & if ws == 4 {
                0xffff_ffff
            } else {
                0x00ff_ffff_ffff_ffff
            }) as usize;
            hdr += 8;
            w = u64_at(image, hdr);
            assert_eq!(w >> 56, 255);
        }
        if i == n {
            return hdr;
        }
        let body = if ws == 4 {
            (slots.max(2) * 4 + 7) & !7
        } else {
            slots.max(1) * 8
        };
        at = hdr + 8 + body;
        i += 1;
    }
}

/// Sets the class index (low 22 bits of the header word) of object `n`.
fn with_class_index(image: &[u8], n: usize, ci: u32) -> Vec<u8> {
    let mut b = image.to_vec();
    let at = nth_object(image, n);
    let w = (u64_at(&b, at) & !0x3f_ffff) | ci as u64;
    b[at..at + 8].copy_from_slice(&w.to_le_bytes());
    b
}

/// Sets the format (bits 24..29 of the header word) of object `n`.
fn with_format(image: &[u8], n: usize, f: u8) -> Vec<u8> {
    let mut b = image.to_vec();
    let at = nth_object(image, n);
    let w = (u64_at(&b, at) & !(0x1f << 24)) | ((f as u64) << 24);
    b[at..at + 8].copy_from_slice(&w.to_le_bytes());
    b
}

/// Damage to the first objects (found by position) or to the first
/// class-table page that the loader refuses or that loads and is merely
/// reported by the verifier.
#[test]
fn damaged_first_objects() {
    for (n, f) in [(0, 16), (3, 2), (3, 24), (4, 0), (5, 0)] {
        exercise(
            &format!("headless64.image with object {n} of format {f}"),
            &with_format(&IMAGE64, n, f),
        )
        .unwrap();
    }
    for (n, ci) in [(0, 0), (0, 8), (3, 0), (3, 8), (3, 16), (4, 0), (5, 0)] {
        exercise(
            &format!("headless64.image with object {n} of class index {ci}"),
            &with_class_index(&IMAGE64, n, ci),
        )
        .unwrap();
    }
    for (n, f) in [
        (0, 16),
        (1, 24),
        (3, 2),
        (3, 24),
        (4, 0),
        (4, 24),
        (5, 0),
        (5, 9),
        (5, 16),
        (5, 24),
    ] {
        exercise(
            &format!("headless.image with object {n} of format {f}"),
            &with_format(&IMAGE32, n, f),
        )
        .unwrap();
    }
    for (n, ci) in [
        (0, 0),
        (0, 8),
        (0, 19),
        (1, 19),
        (2, 19),
        (3, 0),
        (3, 8),
        (3, 16),
        (5, 0),
        (5, 8),
    ] {
        exercise(
            &format!("headless.image with object {n} of class index {ci}"),
            &with_class_index(&IMAGE32, n, ci),
        )
        .unwrap();
    }
}

#[test]
fn zero_slot_objects_with_a_method_format() {
    for n in [0, 1] {
        exercise(
            &format!("headless64.image with object {n} of format 24"),
            &with_format(&IMAGE64, n, 24),
        )
        .unwrap();
    }
}

#[test]
fn hidden_roots_of_a_32_bit_file_made_a_free_chunk_or_forwarder() {
    for ci in [0, 8] {
        exercise(
            &format!("headless.image with object 4 of class index {ci}"),
            &with_class_index(&IMAGE32, 4, ci),
        )
        .unwrap();
    }
}

#[test]
fn hidden_roots_or_class_table_page_that_are_not_pointer_objects() {
    let mut failures = Vec::new();
    for n in [4, 5] {
        for f in [9, 16, 24] {
            let what = format!("headless64.image with object {n} of format {f}");
            failures.extend(exercise(&what, &with_format(&IMAGE64, n, f)).err());
        }
        let what = format!("headless64.image with object {n} of class index 8");
        failures.extend(exercise(&what, &with_class_index(&IMAGE64, n, 8)).err());
    }
    for f in [9, 16] {
        let what = format!("headless.image with object 4 of format {f}");
        failures.extend(exercise(&what, &with_format(&IMAGE32, 4, f)).err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn pointer_objects_of_class_index_19_in_a_32_bit_file() {
    let soa = u32_at(&IMAGE32, 16) as usize - u32_at(&IMAGE32, 12) as usize + 64;
    let soa_index = (0..).find(|&n| nth_object(&IMAGE32, n) == soa).unwrap();
    let mut failures = Vec::new();
    for n in [4, soa_index] {
        let what = format!("headless.image with object {n} of class index 19");
        failures.extend(exercise(&what, &with_class_index(&IMAGE32, n, 19)).err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Found by `stray_pointers_64`: the header of object 106 (a Symbol)
/// overwritten with a 0-slot header, so the words after it parse as other
/// objects; the verifier reports class-table entries that are not classes.
#[test]
fn a_class_table_entry_into_misparsed_objects() {
    let m = Mutation::StrayPointer(vec![(57446, 268615672)]);
    exercise(&format!("headless64.image with {m:?}"), &apply(&IMAGE64, &m)).unwrap();
}
