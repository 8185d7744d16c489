//! What each `sprocket` command does, kept apart from argument parsing.

pub mod run;

use gc::verify::{verify, VerifyOptions};
use images::info::ImageInfo;
use images::{load_image, save_image};
use std::path::Path;
use std::process::ExitCode;

/// Turns a panic into one line and exit code 70 (internal software error),
/// so a VM bug is reported, never shown as a Rust backtrace dump.
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
        eprintln!("sprocket: internal error: {msg}{loc}");
        std::process::exit(70);
    }));
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
