//! `sprocket run` on the real headless image: the acceptance lines of the
//! interpreter issue, for the 32-bit file, the independent 64-bit
//! conversion, and Sprocket's own conversion.

use std::path::{Path, PathBuf};
use std::process::Command;

const EXPECTED: &str = "Smalltalk image fired up!\nFixing the world\n3 + 4 = 7\n";

fn shared(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/images")).join(name)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sprocket-run-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sprocket(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sprocket"))
        .args(args)
        .output()
        .expect("run sprocket")
}

fn assert_runs(image: &Path) {
    let out = sprocket(&["run", image.to_str().unwrap(), "--timeout", "30"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        EXPECTED,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn headless_32_bit_prints_three_lines() {
    assert_runs(&shared("headless.image"));
}

#[test]
fn headless_64_bit_prints_three_lines() {
    assert_runs(&shared("headless64.image"));
}

#[test]
fn sprocket_converted_image_prints_three_lines() {
    let dir = scratch("converted");
    let out_path = dir.join("h64.image");
    let out = sprocket(&[
        "image",
        "convert",
        shared("headless.image").to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_runs(&out_path);
}

#[test]
fn traces_count_a_few_hundred_bytecodes() {
    let out = sprocket(&[
        "run",
        shared("headless.image").to_str().unwrap(),
        "--trace",
        "bytecodes",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let lines = String::from_utf8_lossy(&out.stderr).lines().count();
    // The issue says "about 280 bytecodes" at start-up.
    assert!((250..=330).contains(&lines), "{lines} bytecodes traced");
    let out = sprocket(&[
        "run",
        shared("headless.image").to_str().unwrap(),
        "--trace",
        "sends",
    ]);
    let sends = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(">> #"))
        .count();
    assert!((40..=60).contains(&sends), "{sends} sends traced");
}

/// A method whose bytecodes are broken stops the VM with a report, not a crash.
#[test]
fn a_fault_gives_a_report_with_the_smalltalk_stack() {
    let img = images::load_image(&shared("headless64.image")).unwrap();
    let heap = &img.heap;
    // Break every method whose source mentions 'fired': simplest is to break
    // all V3 bytecodes 112 (push self) in the start-up method's callees by
    // replacing the first bytecode of every method with 126 (unassigned).
    let methods: Vec<gc::Oop> = heap
        .objects()
        .filter(|&o| gc::format::is_compiled_method(heap.format(o)))
        .collect();
    let mut heap = img.heap;
    for m in methods {
        let h = gc::method::MethodHeader::from_oop(heap.slot(m, 0)).unwrap();
        let pc = h.initial_pc() + if h.has_primitive() { 3 } else { 0 };
        if pc < heap.byte_size(m) {
            heap.set_byte_at(m, pc, 126);
        }
    }
    let dir = scratch("fault");
    let path = dir.join("broken.image");
    images::save_image(&path, &heap, &img.header).unwrap();
    let out = sprocket(&["run", path.to_str().unwrap(), "--timeout", "10"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "stderr: {err}");
    assert!(err.contains("VM fault: unknown bytecode 126"), "{err}");
    assert!(err.contains("at bytecode 126"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_image_is_a_clear_error() {
    let out = sprocket(&["run", "/nonexistent/x.image"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("sprocket: ") && err.lines().count() == 1, "{err}");
}
