//! `sprocket image build`, `image filein` and `eval`: compiling Smalltalk
//! source with the image builder.

use super::run::{run_loaded, VmOptions};
use gc::method::BytecodeSet;
use images::builder::{build_image, file_in, BuildOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub fn build(sources: &[PathBuf], output: &Path, v3: bool) -> Result<ExitCode, String> {
    let t = Instant::now();
    let opts = BuildOptions {
        bytecode_set: if v3 {
            BytecodeSet::V3PlusClosures
        } else {
            BytecodeSet::SistaV1
        },
    };
    let dirs: Vec<&Path> = sources.iter().map(|p| p.as_path()).collect();
    let built = build_image(&dirs, &opts).map_err(|e| e.to_string())?;
    images::save_image(output, &built.heap, &built.header).map_err(|e| e.to_string())?;
    let r = &built.report;
    println!(
        "{}: {} classes, {} methods, {} symbols ({}) in {:.2} s",
        output.display(),
        r.classes,
        r.methods,
        r.symbols,
        opts.bytecode_set.name(),
        t.elapsed().as_secs_f64()
    );
    if !r.undeclared.is_empty() {
        eprintln!("undeclared: {}", r.undeclared.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn filein(image: &Path, sources: &[PathBuf], output: &Path) -> Result<ExitCode, String> {
    let mut img = images::load_image(image).map_err(|e| e.to_string())?;
    let opts = BuildOptions {
        bytecode_set: dominant_set(&img),
    };
    let files: Vec<&Path> = sources.iter().map(|p| p.as_path()).collect();
    let report = file_in(&mut img.heap, &files, &opts).map_err(|e| e.to_string())?;
    images::save_image(output, &img.heap, &img.header).map_err(|e| e.to_string())?;
    println!(
        "{}: {} classes created, {} methods installed",
        output.display(),
        report.classes_created.len(),
        report.methods_installed.len()
    );
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The bytecode set most of an image's methods use (new code follows it).
fn dominant_set(img: &images::LoadedImage) -> BytecodeSet {
    let info = images::info::ImageInfo::gather(img);
    if info.methods_sista > info.methods_v3 {
        BytecodeSet::SistaV1
    } else {
        BytecodeSet::V3PlusClosures
    }
}

/// Compiles `expression` as `UndefinedObject>>DoIt` into the image and runs
/// the image with `eval` on its command line (the kernel's protocol: it
/// answers `nil DoIt printString` on a line).
pub fn eval(image: &Path, expression: &str, vm: &VmOptions) -> Result<ExitCode, String> {
    let mut img = images::load_image(image).map_err(|e| e.to_string())?;
    let opts = BuildOptions {
        bytecode_set: dominant_set(&img),
    };
    let dir = std::env::temp_dir().join(format!("sprocket-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("DoIt.extension.st");
    let body = expression.replace(']', " ]").replace(" ]", "]");
    let source = format!(
        "Extension {{ #name : #UndefinedObject }}\n\nUndefinedObject >> DoIt [\n\t^ [ {body} ] value\n]\n"
    );
    std::fs::write(&file, source).map_err(|e| e.to_string())?;
    let result = file_in(&mut img.heap, &[file.as_path()], &opts);
    let _ = std::fs::remove_dir_all(&dir);
    result.map_err(|e| match e.to_string().split_once(": ") {
        Some((_, msg)) => format!("eval: {msg}"),
        None => e.to_string(),
    })?;
    run_loaded(img, image, vec!["eval".into()], vm)
}
