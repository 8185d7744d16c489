//! The `sprocket` command line.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;

#[derive(Parser)]
#[command(
    name = "sprocket",
    version,
    about = "A Spur virtual machine for Squeak, Pharo and Cuis Smalltalk"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an image headless; its quit code is the exit code.
    Run {
        /// The image (default: the kernel image built into sprocket); `-` also means the default.
        image: Option<PathBuf>,
        /// Arguments for the image (getSystemAttribute 2, 3, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        #[command(flatten)]
        vm: cli::run::VmOptions,
    },
    /// Run the image's test suite (`test` on the image's command line).
    Test {
        /// The image (default, or `-`: the kernel image built into sprocket).
        image: Option<PathBuf>,
        /// Test classes to run (default: all).
        names: Vec<String>,
        #[command(flatten)]
        vm: cli::run::VmOptions,
    },
    /// Run the image's benchmarks (`bench [NAME]` on the image's command line).
    Bench {
        /// The image (default, or `-`: the kernel image built into sprocket).
        image: Option<PathBuf>,
        /// Which benchmark (the image decides; the kernel has loop, fib, sieve, all).
        name: Option<String>,
        #[command(flatten)]
        vm: cli::run::VmOptions,
    },
    /// Compile a Smalltalk expression into the image, run it and print its printString.
    Eval {
        /// The image.
        image: PathBuf,
        expression: String,
        #[command(flatten)]
        vm: cli::run::VmOptions,
    },
    /// Inspect, verify and convert image files.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Garbage-collector tools: replay a lemming dump, summarize a GC log.
    #[command(subcommand)]
    Gc(GcCommand),
}

#[derive(Subcommand)]
enum GcCommand {
    /// Re-run the collection saved in a lemming dump, verifying after each
    /// phase; names the first phase and object that broke an invariant.
    Replay { dump: PathBuf },
    /// p50/p90/p99/max pause per kind from a --gc-log file, and an SVG
    /// histogram and timeline.
    Report {
        log: PathBuf,
        /// Where to write the SVG (default: LOG.svg).
        #[arg(long)]
        svg: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Header fields, segments, object counts per class, special objects, bytecode set.
    Info {
        image: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Load the image and run the heap verifier: exit 0 when clean, 1 with findings.
    Verify { image: PathBuf },
    /// Compile Smalltalk source folders (Tonel, SOM) into a 64-bit Spur image.
    Build {
        /// Source folders, read recursively.
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
        /// Compile for the V3PlusClosures bytecode set instead of SistaV1.
        #[arg(long)]
        v3: bool,
    },
    /// Compile source files into an existing image and save the result.
    Filein {
        image: PathBuf,
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Convert an image (e.g. Spur 32-bit) and save it as a 64-bit Spur image.
    Convert {
        image: PathBuf,
        /// Where to write the 64-bit image.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    cli::install_panic_hook();
    let cli = Cli::parse();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli)))
        .unwrap_or_else(|_| Err(format!("internal error: {}", cli::last_panic())));
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("sprocket: {msg}");
            if msg.starts_with("internal error") {
                ExitCode::from(70)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Run { image, args, vm } => cli::run::run_image_or_default(image.as_deref(), args, &vm),
        Command::Test { image, names, vm } => {
            let mut args = vec!["test".to_string()];
            args.extend(names);
            cli::run::run_image_or_default(image.as_deref(), args, &vm)
        }
        Command::Bench { image, name, vm } => {
            let mut args = vec!["bench".to_string()];
            args.extend(name);
            cli::run::run_image_or_default(image.as_deref(), args, &vm)
        }
        Command::Eval {
            image,
            expression,
            vm,
        } => cli::build::eval(&image, &expression, &vm),
        Command::Image(ImageCommand::Build { sources, output, v3 }) => {
            cli::build::build(&sources, &output, v3)
        }
        Command::Image(ImageCommand::Filein {
            image,
            sources,
            output,
        }) => cli::build::filein(&image, &sources, &output),
        Command::Gc(GcCommand::Replay { dump }) => cli::gc_replay(&dump),
        Command::Gc(GcCommand::Report { log, svg }) => cli::gc_report(&log, svg),
        Command::Image(ImageCommand::Info { image, json }) => cli::image_info(&image, json),
        Command::Image(ImageCommand::Verify { image }) => cli::image_verify(&image),
        Command::Image(ImageCommand::Convert { image, output }) => cli::image_convert(&image, &output),
    }
}
