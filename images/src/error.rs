//! Errors from reading and writing image files: one clear line each.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum ImageError {
    /// The file could not be read or written.
    Io { path: PathBuf, err: io::Error },
    /// The bytes do not start with a known image format number.
    NotAnImage(String),
    /// A known format that Sprocket does not read (yet).
    Unsupported(String),
    /// The file ends before the header says it should.
    Truncated(String),
    /// Header fields or object memory that cannot be right.
    Corrupt(String),
    /// The heap could not be created.
    Memory(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Io { path, err } => write!(f, "{}: {}", path.display(), err),
            ImageError::NotAnImage(s) => write!(f, "not a Smalltalk image: {s}"),
            ImageError::Unsupported(s) => write!(f, "{s}"),
            ImageError::Truncated(s) => write!(f, "truncated image: {s}"),
            ImageError::Corrupt(s) => write!(f, "corrupt image: {s}"),
            ImageError::Memory(s) => write!(f, "cannot create the heap: {s}"),
        }
    }
}

impl std::error::Error for ImageError {}

pub type Result<T> = std::result::Result<T, ImageError>;
