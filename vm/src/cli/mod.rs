//! What each `sprocket` command does, kept apart from argument parsing.

pub mod build;
pub mod run;

use gc::verify::{verify, VerifyOptions};
use images::info::ImageInfo;
use images::{load_image, save_image};
use std::path::Path;
use std::process::ExitCode;

/// Panics inside Sprocket are bugs: the hook records what and where, and
/// the command that was running reports it as one line (plus, for a running
/// image, the Smalltalk stack) with exit code 70 — never a Rust backtrace dump.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{msg}{loc}"));
    }));
}

static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// What the last panic said, for reports.
pub fn last_panic() -> String {
    LAST_PANIC
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_else(|| "unknown".into())
}

pub fn image_info(path: &Path, json: bool) -> Result<ExitCode, String> {
    let img = load_image(path).map_err(|e| e.to_string())?;
    let info = ImageInfo::gather(&img);
    if json {
        println!("{}", info.to_json());
    } else {
        print!("{}", info.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn image_verify(path: &Path) -> Result<ExitCode, String> {
    let img = load_image(path).map_err(|e| e.to_string())?;
    let findings = verify(&img.heap, VerifyOptions::default());
    let objects = img.heap.objects().count();
    if findings.is_empty() {
        println!("{}: clean ({objects} objects verified)", path.display());
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &findings {
            println!("{f}");
        }
        println!(
            "{}: {} findings in {objects} objects",
            path.display(),
            findings.len()
        );
        Ok(ExitCode::from(1))
    }
}

pub fn image_convert(input: &Path, output: &Path) -> Result<ExitCode, String> {
    let img = load_image(input).map_err(|e| e.to_string())?;
    save_image(output, &img.heap, &img.header).map_err(|e| e.to_string())?;
    println!(
        "{} -> {} ({}, {} objects)",
        input.display(),
        output.display(),
        images::header::format_name(img.header.format),
        img.heap.objects().count()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn gc_replay(dump: &Path) -> Result<ExitCode, String> {
    let report = gc::replay::replay(dump).map_err(|e| format!("{}: {e}", dump.display()))?;
    print!("{report}");
    Ok(if report.failed_phase().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn gc_report(log: &Path, svg: Option<std::path::PathBuf>) -> Result<ExitCode, String> {
    let summary = gc::log::report(log).map_err(|e| format!("{}: {e}", log.display()))?;
    print!("{summary}");
    let svg = svg.unwrap_or_else(|| log.with_extension("svg"));
    gc::log::write_svg(&summary, &svg).map_err(|e| format!("{}: {e}", svg.display()))?;
    println!("wrote {}", svg.display());
    Ok(ExitCode::SUCCESS)
}
