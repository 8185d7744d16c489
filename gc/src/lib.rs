//! The Spur object format and memory manager.
//!
//! The heap is real Spur memory: objects live in mapped memory laid out as in
//! an image file, and an object reference ([`Oop`]) is an address or an
//! immediate. [`header`] is the single source of truth for the object layout;
//! [`memory`] is the only module that touches raw addresses.

pub mod collect;
pub mod config;
pub mod dump;
pub mod forwarding;
pub mod freelist;
pub mod fullgc;
pub mod header;
pub mod heap;
pub mod log;
pub mod memory;
pub mod method;
pub mod newspace;
pub mod oop;
pub mod replay;
pub mod scavenge;
pub mod specials;
pub mod testkit;
pub mod verify;

pub use config::{GcConfig, GcFault, GcKind, GcOutcome, GcRecord, GcStats};
pub use header::{class_index, format, Header};
pub use heap::{AllocError, Heap, HeapConfig, Roots, Segment};
pub use newspace::NewSpace;
pub use oop::Oop;
pub use scavenge::RootVisitor;
pub use verify::{verify, Finding, VerifyOptions};
