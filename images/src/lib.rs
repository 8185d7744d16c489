//! Spur image files: reading (64-bit, and 32-bit converted on load),
//! writing 64-bit snapshots atomically, and describing what is inside.

pub mod builder;
pub mod compiler;
pub mod convert32;
pub mod error;
pub mod header;
pub mod info;
pub mod load;
pub mod segments;
pub mod write;

pub use error::{ImageError, Result};
pub use header::ImageHeader;
pub use load::{load_image, load_image_bytes, LoadStats, LoadedImage};
pub use write::{image_bytes, save_image};
