//! Building a 64-bit Spur image from Smalltalk sources, and filing sources
//! into an existing heap.
//!
//! [`build_image`] reads Tonel (`*.class.st`, `*.extension.st`) and SOM
//! (`*.som`) files, compiles every method, and lays out a complete heap:
//! nil, false, true, the free lists, the hidden roots and class-table pages
//! first (the VM finds them by position), then classes, symbols, methods,
//! globals, the special objects array and a start-up process that runs
//! `SmalltalkImage>>#start`. [`file_in`] compiles sources against a heap
//! that is already loaded (a built image or a real Squeak one).
//!
//! Nothing is hard-coded about the kernel beyond the class names the VM
//! needs; the class hierarchy, shapes and instance variables all come from
//! the sources. The layout the kernel can rely on (class fields by name,
//! dictionaries hashed by identity hash, the sorted symbol table, method
//! trailers, start-up state) is the contract in
//! `/work/notes/builder-contract.md`; in short:
//!
//! - class objects are filled by instance-variable name (`superclass`,
//!   `methodDict`, `format`, `instanceVariables`, `subclasses`, `name`,
//!   `classPool`, `sharedPools`, `environment`, `category`, `thisClass`);
//! - the globals are Associations in an instance of `SystemDictionary`
//!   (else `Dictionary`) whose first two fields are `tally` and `array`,
//!   the array a power of two in size, an Association for key `k` at
//!   `k identityHash \\ size` with linear probing; class pools likewise;
//! - `Smalltalk` is a `SmalltalkImage` (ivar `globals` = the dictionary);
//! - `Symbol`'s class variable `SymbolTable`, if declared, is an Array of
//!   every symbol sorted by bytes;
//! - a method's last literal is its class binding, the one before it its
//!   selector; methods end with a 4-byte zero trailer, blocks with none.
//!
//! Everything is deterministic: the same sources give the same bytes.

mod build;
mod filein;
mod objects;
mod sources;

use gc::method::BytecodeSet;
use std::fmt;
use std::io;
use std::path::PathBuf;

pub use build::build_image;
pub use filein::file_in;

/// How to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    pub bytecode_set: BytecodeSet,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            bytecode_set: BytecodeSet::SistaV1,
        }
    }
}

/// A heap built from sources, with the header to save it with
/// ([`crate::save_image`]).
#[derive(Debug)]
pub struct BuiltImage {
    pub heap: gc::Heap,
    pub header: crate::ImageHeader,
    pub report: BuildReport,
}

/// What a build made, and what it noticed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Classes defined (metaclasses not counted).
    pub classes: usize,
    /// Methods compiled and installed (blocks not counted).
    pub methods: usize,
    pub symbols: usize,
    /// Global names that methods use but nothing defines; each got a
    /// `#Name -> nil` Association in the globals.
    pub undeclared: Vec<String>,
    /// SOM `= primitive` methods, skipped (they have no Smalltalk body).
    pub skipped_primitives: Vec<String>,
    /// Methods defined twice for the same class (the later one wins).
    pub redefined: Vec<String>,
}

/// What [`file_in`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileInReport {
    pub classes_created: Vec<String>,
    /// Methods installed as `Class>>selector` / `Class class>>selector`.
    pub methods_installed: Vec<String>,
    pub symbols_created: usize,
    pub undeclared: Vec<String>,
    pub skipped_primitives: Vec<String>,
    /// Things done in a way the image may not expect (e.g. a new global put
    /// into a dictionary that does not hash by identity).
    pub warnings: Vec<String>,
}

/// Why a build or file-in failed.
#[derive(Debug)]
pub enum BuildError {
    /// A syntax or compile error, at a position in a source file.
    Source {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A problem with one class file as a whole (e.g. a missing superclass).
    File { file: PathBuf, message: String },
    /// A source file or folder could not be read.
    Io { path: PathBuf, err: io::Error },
    /// The sources lack something an image needs, or the heap is unusable.
    Kernel(String),
    /// The heap could not grow.
    Memory(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Source {
                file,
                line,
                column,
                message,
            } => write!(f, "{}:{line}:{column}: {message}", file.display()),
            BuildError::File { file, message } => write!(f, "{}: {message}", file.display()),
            BuildError::Io { path, err } => write!(f, "{}: {err}", path.display()),
            BuildError::Kernel(m) => write!(f, "{m}"),
            BuildError::Memory(m) => write!(f, "out of memory: {m}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<gc::AllocError> for BuildError {
    fn from(e: gc::AllocError) -> Self {
        BuildError::Memory(format!("{e:?}"))
    }
}

pub(crate) type Result<T> = std::result::Result<T, BuildError>;

fn compiler_set(set: BytecodeSet) -> crate::compiler::BytecodeSet {
    match set {
        BytecodeSet::SistaV1 => crate::compiler::BytecodeSet::SistaV1,
        BytecodeSet::V3PlusClosures => crate::compiler::BytecodeSet::V3PlusClosures,
    }
}
