//! `sprocket run`: load an image and run it.

use clap::Args;
use std::path::Path;
use std::process::ExitCode;
use vm::{RunOptions, StopReason, Trace, Vm};

/// Options every command that runs an image accepts.
#[derive(Args, Debug, Clone, Default)]
pub struct VmOptions {
    /// Run with the interpreter only (the JIT is not built yet, so this is the default).
    #[arg(long)]
    pub interpreter: bool,
    /// Trace sends or bytecodes to stderr.
    #[arg(long, value_parser = parse_trace)]
    pub trace: Option<Trace>,
    /// Stop after this many seconds (exit code 124).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Eden size in bytes (k/m/g suffixes allowed); 0 turns new space off.
    #[arg(long, value_parser = parse_size)]
    pub eden: Option<usize>,
    /// Verify the heap before and after every garbage collection; a finding stops the VM.
    #[arg(long)]
    pub gc_verify: bool,
    /// Force a scavenge every N allocations and a full GC every N scavenges.
    #[arg(long, value_name = "N")]
    pub gc_stress: Option<u32>,
    /// Run each full GC first on a clone of the heap; on a finding, write a
    /// dump (for `sprocket gc replay`) in the current directory and stop.
    #[arg(long)]
    pub gc_lemming: bool,
    /// Append one JSON record per collection to FILE (see `sprocket gc report`).
    #[arg(long, value_name = "FILE")]
    pub gc_log: Option<std::path::PathBuf>,
    /// Largest old space the image may allocate (k/m/g suffixes); past it
    /// allocations fail as primitive failures and the low-space semaphore
    /// has been signalled before.
    #[arg(long, value_parser = parse_size)]
    pub max_old_space: Option<usize>,
    /// Objects one compaction pass can move (the compactor's saved-first-fields
    /// space); small values force multi-pass compaction, for testing.
    #[arg(long, value_name = "N")]
    pub gc_compactor_entries: Option<usize>,
}

impl VmOptions {
    /// The collector's configuration these options describe.
    pub fn gc_config(&self) -> gc::GcConfig {
        let mut c = gc::GcConfig::default();
        if let Some(e) = self.eden {
            c.eden_bytes = e;
        }
        c.verify_each_gc = self.gc_verify;
        c.stress = self.gc_stress;
        c.lemming = self.gc_lemming;
        c.gc_log = self.gc_log.clone();
        if let Some(m) = self.max_old_space {
            c.max_old_space_bytes = m;
        }
        if let Some(n) = self.gc_compactor_entries {
            c.saved_first_fields = n.max(1);
        }
        c
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t.as_str(), 1),
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("'{s}' is not a size (e.g. 4m)"))
}

fn parse_trace(s: &str) -> Result<Trace, String> {
    match s {
        "sends" => Ok(Trace::Sends),
        "bytecodes" => Ok(Trace::Bytecodes),
        _ => Err(format!("unknown trace kind '{s}' (sends, bytecodes)")),
    }
}

/// Runs `image`, or the built-in kernel image when there is none.
pub fn run_image_or_default(
    image: Option<&Path>,
    args: Vec<String>,
    opts: &VmOptions,
) -> Result<ExitCode, String> {
    match image.filter(|p| p.as_os_str() != "-") {
        Some(p) => run_image(p, args, opts),
        None => {
            let bytes = vm::default_image::bytes()?;
            let img = images::load_image_bytes(bytes).map_err(|e| format!("the built-in image: {e}"))?;
            run_loaded(img, Path::new(vm::default_image::NAME), args, opts)
        }
    }
}

/// Loads `image` and runs it with `args`; the image's quit code is the exit code.
pub fn run_image(image: &Path, args: Vec<String>, opts: &VmOptions) -> Result<ExitCode, String> {
    let img = images::load_image(image).map_err(|e| e.to_string())?;
    run_loaded(img, image, args, opts)
}

/// Runs a loaded image; snapshots go to `image`.
pub fn run_loaded(
    img: images::LoadedImage,
    image: &Path,
    args: Vec<String>,
    opts: &VmOptions,
) -> Result<ExitCode, String> {
    let options = RunOptions {
        image_args: args,
        image_path: image.to_path_buf(),
        vm_path: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        trace: opts.trace.unwrap_or_default(),
        timeout_secs: opts.timeout,
        gc: {
            // Eden: --eden, else the size the image was saved with, else the default.
            let mut c = opts.gc_config();
            if opts.eden.is_none() && img.header.eden_bytes > 0 {
                c.eden_bytes = img.header.eden_bytes as usize;
            }
            c
        },
    };
    let mut vm = Vm::new(img.heap, img.header, options).map_err(|e| e.to_string())?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| vm.run()))
        .unwrap_or_else(|_| Err(vm.fault_report(format!("internal error: {}", super::last_panic()))));
    match outcome {
        Ok(StopReason::Quit(code)) => Ok(ExitCode::from((code & 0xff) as u8)),
        Ok(StopReason::Timeout) => {
            eprintln!("sprocket: timed out after {} s", opts.timeout.unwrap_or(0.0));
            Ok(ExitCode::from(124))
        }
        Ok(StopReason::Deadlock) => {
            eprintln!("sprocket: no process can run (deadlock); stopping");
            Ok(ExitCode::from(3))
        }
        Err(fault) => {
            eprint!("sprocket: {fault}");
            Ok(ExitCode::from(70))
        }
    }
}
