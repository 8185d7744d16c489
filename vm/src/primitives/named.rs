//! Named primitives (`<primitive: 'name' module: 'Module'>`, primitive 117).
//! The method's first literal is `#(module name 0 0)`. An unknown module or
//! function fails the primitive, so the image's fallback code runs.

use super::{PrimResult, FAIL};
use crate::interp::{Fault, Vm};
use gc::{format, Oop};

impl Vm {
    pub(crate) fn prim_named(&mut self, m: Oop, nargs: usize) -> Result<PrimResult, Fault> {
        let desc = self.heap.slot(m, 1);
        if !desc.is_object() || !format::is_pointers(self.heap.format(desc)) || self.heap.num_slots(desc) < 2
        {
            return Ok(FAIL);
        }
        let module = self.heap.string_of(self.heap.slot(desc, 0)).unwrap_or_default();
        let name = self.heap.string_of(self.heap.slot(desc, 1)).unwrap_or_default();
        match module.as_str() {
            "FilePlugin" => self.file_primitive(&name, nargs),
            "ConsolePlugin" => self.console_primitive(&name, nargs),
            "MiscPrimitivePlugin" => self.misc_primitive(&name, nargs),
            "LargeIntegers" => self.large_int_primitive(&name, nargs),
            "" => Ok(FAIL),
            _ => Ok(FAIL),
        }
    }

    /// SqueakJS's ConsolePlugin: `primitiveLog: message level: level` writes
    /// the message as a line to stdout, or stderr for 'warn' and 'error'.
    fn console_primitive(&mut self, name: &str, nargs: usize) -> Result<PrimResult, Fault> {
        if name != "primitiveLog:level:" || nargs != 2 {
            return Ok(FAIL);
        }
        let (msg, level) = (self.stack_value(1), self.stack_value(0));
        let Some(text) = self.heap.string_of(msg) else {
            return Ok(FAIL);
        };
        let level = self.heap.string_of(level).unwrap_or_default();
        if level == "warn" || level == "error" {
            eprintln!("{text}");
        } else {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
        let r = self.stack_value(nargs);
        Ok(self.prim_return(nargs, r))
    }
}
