//! The kernel image built from `images/kernel`: its test suite, eval,
//! snapshot and resume, benchmarks, and the Are-We-Fast-Yet harness.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sprocket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sprocket"))
        .args(args)
        .output()
        .expect("run sprocket")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sprocket-kernel-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn kernel_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../images/kernel"))
}

/// Builds the kernel into `dir/kernel.image` with the CLI.
fn build_kernel(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = dir.join("kernel.image");
    let kernel = kernel_dir();
    let mut args = vec!["image", "build", kernel.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", out.to_str().unwrap()]);
    let r = sprocket(&args);
    assert_eq!(
        r.status.code(),
        Some(0),
        "build: {}{}",
        text(&r.stdout),
        text(&r.stderr)
    );
    out
}

fn check_suite(out: &Output) {
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.trim().parse::<usize>().ok()?,
                f.trim_end_matches(" failed").parse::<usize>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}\n{}", text(&out.stderr)));
    assert_eq!(failed, 0, "{stdout}");
    assert!(passed >= 400, "only {passed} tests passed:\n{stdout}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn kernel_test_suite_passes_on_the_built_in_image() {
    check_suite(&sprocket(&["test", "--timeout", "300"]));
}

/// The whole suite with the heap verified around every collection and a
/// collection forced every few allocations.
#[test]
fn kernel_test_suite_passes_under_gc_stress_and_verification() {
    check_suite(&sprocket(&[
        "test",
        "--gc-verify",
        "--gc-stress",
        "50",
        "--timeout",
        "600",
    ]));
}

#[test]
fn kernel_test_suite_passes_with_the_v3_bytecode_set() {
    let dir = scratch("v3");
    let image = build_kernel(&dir, &["--v3"]);
    check_suite(&sprocket(&["test", image.to_str().unwrap(), "--timeout", "300"]));
}

#[test]
fn kernel_builds_verifies_and_reproduces() {
    let dir = scratch("build");
    let a = build_kernel(&dir, &[]);
    let bytes = std::fs::read(&a).unwrap();
    let r = sprocket(&["image", "verify", a.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
    let b = build_kernel(&dir, &[]);
    assert_eq!(
        bytes,
        std::fs::read(&b).unwrap(),
        "the same sources give the same image"
    );
    let r = sprocket(&["image", "info", a.to_str().unwrap()]);
    assert!(
        text(&r.stdout).contains("format            68533"),
        "{}",
        text(&r.stdout)
    );
}

#[test]
fn run_without_an_image_runs_the_built_in_kernel() {
    let r = sprocket(&["run"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(
        text(&r.stdout).contains("Sprocket Smalltalk kernel"),
        "{}",
        text(&r.stdout)
    );
}

#[test]
fn eval_prints_the_print_string() {
    let dir = scratch("eval");
    let image = build_kernel(&dir, &[]);
    for (expr, want) in [
        ("3 + 4", "7"),
        ("100 factorial printString size", "158"),
        (
            "(2 raisedTo: 100) printString",
            "'1267650600228229401496703205376'",
        ),
        ("#(3 1 2) asSortedCollection asArray", "#(1 2 3)"),
        ("[:x | x * 2] value: 21", "42"),
        ("[1/0] on: ZeroDivide do: [:e | #caught]", "#caught"),
    ] {
        let r = sprocket(&["eval", image.to_str().unwrap(), expr]);
        assert_eq!(text(&r.stdout).trim_end(), want, "{expr}: {}", text(&r.stderr));
        assert_eq!(r.status.code(), Some(0));
    }
    // A syntax error names the position and exits non-zero.
    let r = sprocket(&["eval", image.to_str().unwrap(), "3 +"]);
    assert_ne!(r.status.code(), Some(0));
    assert!(text(&r.stderr).starts_with("sprocket: "), "{}", text(&r.stderr));
}

/// A method longer than the reach of the fast fetch (`MAX_FAST_FETCH`,
/// 32 KB of a method's bytes) runs its tail one bytecode at a time, loop
/// and jumps included, to the right answer.
#[test]
fn a_method_longer_than_the_fast_fetch_runs_to_its_end() {
    let dir = scratch("long-method");
    let image = build_kernel(&dir, &[]);
    // About 4 bytes of bytecode per statement: 36 KB.
    let mut expr = String::from("| x | x := 0. ");
    for _ in 0..9000 {
        expr.push_str("x := x + 1. ");
    }
    expr.push_str("1 to: 10 do: [:i | x := x + i]. x");
    let r = sprocket(&["eval", image.to_str().unwrap(), &expr]);
    assert_eq!(text(&r.stdout).trim_end(), "9055", "{}", text(&r.stderr));
    assert_eq!(r.status.code(), Some(0));
}

/// Run, snapshot, quit; start the saved image: it resumes after the
/// snapshot primitive (which answers true there) and continues.
#[test]
fn snapshot_and_resume() {
    let dir = scratch("snapshot");
    let image = build_kernel(&dir, &[]);
    let expr = "Smalltalk snapshot ifTrue: ['resumed'] ifFalse: ['saved']";
    let r = sprocket(&["eval", image.to_str().unwrap(), expr]);
    assert_eq!(text(&r.stdout).trim_end(), "'saved'", "{}", text(&r.stderr));
    let r = sprocket(&["image", "verify", image.to_str().unwrap()]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "saved image verifies: {}",
        text(&r.stdout)
    );
    let r = sprocket(&["run", image.to_str().unwrap()]);
    assert_eq!(text(&r.stdout).trim_end(), "'resumed'", "{}", text(&r.stderr));
    assert_eq!(r.status.code(), Some(0));
    // No temporary file is left beside the image.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["kernel.image".to_string()]);
}

/// Recursion far deeper than the VM stack: overflow spills the oldest
/// frames into contexts; returns, non-local returns, exceptions and ensure:
/// blocks then run through those contexts (also with collections forced).
#[test]
fn deep_recursion_through_spilled_frames() {
    let dir = scratch("deep");
    let image = build_kernel(&dir, &[]);
    for (expr, want) in [
        ("| f | f := nil. f := [:n | n = 0 ifTrue: [0] ifFalse: [1 + (f value: n - 1)]]. f value: 100000", "100000"),
        ("| b | b := nil. b := [:n | n = 0 ifTrue: [^#deep]. b value: n - 1]. b value: 100000", "#deep"),
        (
            "| g | g := nil. g := [:n | n = 0 ifTrue: [1/0] ifFalse: [g value: n - 1]]. \
             [g value: 50000] on: ZeroDivide do: [:e | e return: #caught]",
            "#caught",
        ),
        (
            "| g c | c := 0. g := nil. g := [:n | n = 0 ifTrue: [0] ifFalse: [[g value: n - 1] ensure: [c := c + 1]]]. \
             g value: 30000. c",
            "30000",
        ),
    ] {
        for extra in [&[][..], &["--gc-stress", "200", "--gc-verify"][..]] {
            let mut args = vec!["eval", image.to_str().unwrap(), expr, "--timeout", "300"];
            args.extend_from_slice(extra);
            let r = sprocket(&args);
            assert_eq!(text(&r.stdout).trim_end(), want, "{expr} {extra:?}: {}", text(&r.stderr));
        }
    }
}

/// become: of objects of different sizes leaves forwarders: sends,
/// primitives, `==` and `class` see through them, and a full GC removes them.
#[test]
fn become_through_forwarders() {
    let dir = scratch("become");
    let image = build_kernel(&dir, &[]);
    for (expr, want) in [
        (
            "| a b | a := 'abc' copy. b := Array with: 1 with: 2. a become: b. {a. b. a class. b class. a size}",
            "#(#(1 2) 'abc' Array ByteString 2)",
        ),
        (
            "| a b h | a := 'x' copy. b := 'y' copy. h := Array with: a. a becomeForward: b. \
             {(h at: 1) == b. (h at: 1) class. (h at: 1) size. (h at: 1) = 'y'}",
            "#(true ByteString 1 true)",
        ),
        (
            "| a b h | a := 'abc' copy. b := OrderedCollection new. h := Array with: a with: a. \
             a becomeForward: b. (h at: 1) add: 3. Smalltalk garbageCollect. \
             {h at: 1. (h at: 2) size. (h at: 1) == (h at: 2)}",
            "an Array(an OrderedCollection(3) 1 true)",
        ),
    ] {
        for extra in [&[][..], &["--gc-verify", "--gc-stress", "100"][..]] {
            let mut args = vec!["eval", image.to_str().unwrap(), expr];
            args.extend_from_slice(extra);
            let r = sprocket(&args);
            assert_eq!(text(&r.stdout).trim_end(), want, "{expr} {extra:?}: {}", text(&r.stderr));
        }
    }
}

#[test]
fn bench_reports_bytecodes_and_sends_per_second() {
    let r = sprocket(&["bench", "-", "loop"]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", text(&r.stderr));
    assert!(out.contains("bytecodes/sec"), "{out}");
}

/// Are-We-Fast-Yet: with AWFY_DIR pointing at benchmarks/Smalltalk of a
/// checkout, build the kernel plus the unchanged .som files and run every
/// benchmark once; the harness verifies each result.
#[test]
fn are_we_fast_yet_benchmarks_run() {
    let Ok(awfy) = std::env::var("AWFY_DIR") else {
        eprintln!(
            "skipped: set AWFY_DIR to are-we-fast-yet's benchmarks/Smalltalk to run the AWFY benchmarks"
        );
        return;
    };
    let dir = scratch("awfy");
    let out = dir.join("awfy.image");
    let kernel = kernel_dir();
    let r = sprocket(&[
        "image",
        "build",
        kernel.to_str().unwrap(),
        &awfy,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let image = out;
    for (name, inner) in [
        ("Richards", "1"),
        ("DeltaBlue", "1"),
        ("Json", "1"),
        ("Havlak", "1"),
        ("CD", "10"),
        ("Bounce", "1"),
        ("List", "1"),
        ("Mandelbrot", "1"),
        ("NBody", "1"),
        ("Permute", "1"),
        ("Queens", "1"),
        ("Sieve", "1"),
        ("Storage", "1"),
        ("Towers", "1"),
    ] {
        let r = sprocket(&[
            "run",
            image.to_str().unwrap(),
            "Harness",
            name,
            "1",
            inner,
            "--timeout",
            "300",
        ]);
        let out = text(&r.stdout);
        assert_eq!(r.status.code(), Some(0), "{name}: {out}{}", text(&r.stderr));
        assert!(out.contains(&format!("{name}: iterations=1")), "{name}: {out}");
    }
}

/// The same kernel image on the OpenSmalltalk VM gives the same summary
/// line. OSVM_VMS lists the VM launchers (e.g. the `bin/spur64` of a
/// StackInterpreter and a Cog build), separated by ':'; unset, it is skipped.
#[test]
fn kernel_test_suite_gives_the_same_summary_on_the_opensmalltalk_vm() {
    let Ok(vms) = std::env::var("OSVM_VMS") else {
        eprintln!("skipped: set OSVM_VMS to OpenSmalltalk VM launchers (':'-separated) to compare");
        return;
    };
    let dir = scratch("osvm");
    let image = build_kernel(&dir, &[]);
    let ours = sprocket(&["test", image.to_str().unwrap(), "--timeout", "300"]);
    let summary = |o: &Output| text(&o.stdout).lines().last().unwrap_or_default().to_string();
    check_suite(&ours);
    for vm in vms.split(':').filter(|s| !s.is_empty()) {
        let theirs = Command::new(vm)
            .args([
                "-vm-display-null",
                "-vm-sound-null",
                image.to_str().unwrap(),
                "test",
            ])
            .output()
            .expect("run the OpenSmalltalk VM");
        assert_eq!(summary(&theirs), summary(&ours), "{vm}: {}", text(&theirs.stderr));
        assert_eq!(theirs.status.code(), ours.status.code(), "{vm}");
    }
}
