//! The garbage collector's tools through the command line: the lemming
//! catching the planted 2019 compaction bug, replaying its dump, pause logs
//! and reports, and the seed workload of repeated snapshots under
//! verification.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sprocket-gctools-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs sprocket in `cwd`, with SPROCKET_GC_FAULT set or removed.
fn sprocket_in(cwd: &Path, fault: bool, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sprocket"));
    c.current_dir(cwd).args(args);
    if fault {
        c.env("SPROCKET_GC_FAULT", "compact-upward");
    } else {
        c.env_remove("SPROCKET_GC_FAULT");
    }
    c.output().expect("run sprocket")
}

fn kernel_image(dir: &Path) -> PathBuf {
    let out = dir.join("kernel.image");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../images/kernel");
    let r = sprocket_in(dir, false, &["image", "build", src, "-o", out.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    out
}

fn dumps(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dump"))
        .collect()
}

/// Old-space garbage and survivors, then a full GC whose compaction takes
/// one pass per object (one saved-first-fields entry), so the last pass
/// has compacted everything and the next one must do nothing.
const WORKLOAD: &str = "| keep | keep := OrderedCollection new. \
    1 to: 50 do: [:i | Array new: 10. keep add: (Array new: 3)]. \
    Smalltalk garbageCollect. keep size";

fn run_workload(dir: &Path, image: &Path, fault: bool) -> Output {
    sprocket_in(
        dir,
        fault,
        &[
            "eval",
            image.to_str().unwrap(),
            WORKLOAD,
            "--gc-lemming",
            "--gc-compactor-entries",
            "1",
            "--eden",
            "0",
        ],
    )
}

#[test]
fn lemming_catches_the_planted_fault_and_replay_names_the_pass() {
    let dir = scratch("lemming");
    let image = kernel_image(&dir);
    let pristine = std::fs::read(&image).unwrap();

    // Without the planted fault the same collections are clean.
    let r = run_workload(&dir, &image, false);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert_eq!(text(&r.stdout).trim(), "50");
    assert!(dumps(&dir).is_empty());

    // With it, the first full GC that triggers it stops the VM with a dump.
    std::fs::write(&image, &pristine).unwrap();
    let r = run_workload(&dir, &image, true);
    let err = text(&r.stderr);
    assert_ne!(r.status.code(), Some(0), "{err}");
    assert!(
        err.contains("compact pass") && err.contains("planned to move upward"),
        "{err}"
    );
    let found = dumps(&dir);
    assert_eq!(found.len(), 1, "one dump in the current directory: {err}");
    let dump = found[0].to_str().unwrap();
    assert!(
        err.contains(found[0].file_name().unwrap().to_str().unwrap()),
        "{err}"
    );

    // Replaying it with the fault names the pass and the first bad object.
    let r = sprocket_in(&dir, true, &["gc", "replay", dump]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(1), "{out}{}", text(&r.stderr));
    let fail = out
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(fail.contains("compact pass") && fail.contains("plan"), "{fail}");
    assert!(out.contains("first corrupted object: 0x"), "{out}");

    // Without the fault the same GC replays clean: the dump is faithful.
    let r = sprocket_in(&dir, false, &["gc", "replay", dump]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
    assert!(text(&r.stdout).contains("replay clean"));
}

#[test]
fn gc_log_and_report() {
    let dir = scratch("log");
    let log = dir.join("gc.log");
    let r = sprocket_in(
        &dir,
        false,
        &[
            "test",
            "--gc-log",
            log.to_str().unwrap(),
            "--gc-stress",
            "200",
            "--timeout",
            "300",
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}{}", text(&r.stdout), text(&r.stderr));
    let records = std::fs::read_to_string(&log).unwrap();
    assert!(records.lines().count() > 10, "a record per collection");
    assert!(records.lines().any(|l| l.contains("\"kind\":\"scavenge\"")));
    assert!(records.lines().any(|l| l.contains("\"kind\":\"full\"")));
    let r = sprocket_in(&dir, false, &["gc", "report", log.to_str().unwrap()]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", text(&r.stderr));
    for word in ["p50", "p90", "p99", "max", "scavenge", "full"] {
        assert!(out.contains(word), "report mentions {word}:\n{out}");
    }
    let svg = std::fs::read_to_string(log.with_extension("svg")).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..svg.len().min(80)]
    );
}

/// The seed workload: build a large structure and save the image, again
/// and again, under --gc-verify; then the saved image verifies and resumes.
/// SPROCKET_SEED_ITERATIONS=400 runs the long version.
#[test]
fn seed_workload_saves_repeatedly_under_verification() {
    let n: usize = std::env::var("SPROCKET_SEED_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = scratch("seed");
    let image = kernel_image(&dir);
    let expr = format!(
        "| count | count := 0. 1 to: {n} do: [:i | | d | \
         d := Dictionary new. 1 to: 2000 do: [:k | d at: k put: (Array new: k \\\\ 7 withAll: i)]. \
         count := count + d size. Smalltalk snapshot]. count"
    );
    let r = sprocket_in(
        &dir,
        false,
        &[
            "eval",
            image.to_str().unwrap(),
            &expr,
            "--gc-verify",
            "--eden",
            "1m",
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert_eq!(text(&r.stdout).trim(), (2000 * n).to_string());
    let r = sprocket_in(&dir, false, &["image", "verify", image.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stdout));
    // The last save resumes in the last iteration and finishes the loop.
    let r = sprocket_in(&dir, false, &["run", image.to_str().unwrap(), "--gc-verify"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert_eq!(text(&r.stdout).trim(), (2000 * n).to_string());
}

/// An old-space limit: the low-space semaphore is signalled before memory
/// runs out, and an allocation past the limit fails its primitive, which
/// the image handles — the VM goes on.
#[test]
fn low_space_is_signalled_and_running_out_is_a_primitive_failure() {
    let dir = scratch("lowspace");
    let image = kernel_image(&dir);
    let expr = "| s keep result | s := Semaphore new. keep := OrderedCollection new. \
        Smalltalk lowSpaceSemaphore: s. Smalltalk primSignalAtBytesLeft: 48000000. \
        result := [1 to: 100 do: [:i | keep add: (Array new: 1000000)]. #noFailure] \
            on: Error do: [:e | #failed]. \
        keep := nil. Smalltalk garbageCollect. \
        {result. s excessSignals > 0. (Array new: 10) size}";
    let r = sprocket_in(
        &dir,
        false,
        &[
            "eval",
            image.to_str().unwrap(),
            expr,
            "--eden",
            "0",
            "--max-old-space",
            "96m",
            "--gc-verify",
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}{}", text(&r.stdout), text(&r.stderr));
    assert_eq!(
        text(&r.stdout).trim(),
        "#(#failed true 10)",
        "{}",
        text(&r.stderr)
    );
}
