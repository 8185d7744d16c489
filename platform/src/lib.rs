//! The bottom of Sprocket's dependency graph: everything that talks to the
//! operating system lives here, so that the crates above can stay safe Rust.
//!
//! - [`memory`]: reserve a large range of address space, commit pages on demand.
//! - [`clock`]: monotonic and wall-clock microsecond clocks.
//! - [`files`]: atomic file replacement (write beside, fsync, rename).

pub mod clock;
pub mod files;
pub mod memory;

pub use memory::{page_size, Reservation};
