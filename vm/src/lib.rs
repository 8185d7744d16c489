//! The Sprocket virtual machine: interpreter, primitives, processes.
//!
//! Reading order for a newcomer: [`interp::frame`] (how activations sit on
//! the stack), [`interp::Vm::run`] (the bytecode loop), [`interp::send`]
//! (lookup and activation), [`interp::contexts`] (when frames become Context
//! objects), then [`primitives`].

pub mod default_image;
#[macro_use]
pub mod interp;
pub mod primitives;

pub use interp::{RunOptions, StopReason, Trace, Vm, VmError};
