//! Smalltalk compiler front end and bytecode generator (heap independent).
//!
//! Pipeline: source -> `parser` (AST) -> `codegen` (scope analysis + IR) -> `sista` / `v3`
//! encoders -> `CompiledMethodSpec`. Class files are read by `tonel` and `som` into `ClassDef`.

pub mod ast;
pub mod codegen;
pub mod disasm;
pub mod lexer;
pub mod method;
pub mod parser;
pub mod sista;
pub mod som;
pub mod tonel;
pub mod v3;

#[cfg(test)]
mod corpus_tests;

pub use codegen::{compile_doit, compile_method, compile_node, ClassContext, CompileOptions};
pub use disasm::{disassemble, DisasmLine};
pub use lexer::{CompileError, Pos};
pub use method::{BigInt, BytecodeSet, CompiledMethodSpec, Literal, Pragma};
pub use parser::{parse_doit, parse_method, parse_pattern};

/// Object layout of a class, as declared by Tonel `#type` or implied by SOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassShape {
    #[default]
    Pointers,
    Variable,
    Bytes,
    DoubleBytes,
    Words,
    DoubleWords,
    Weak,
    Ephemeron,
    Immediate,
    CompiledMethod,
}

/// Source of one method taken from a class file; compile it with `compile_method`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSource {
    pub selector: String,
    /// Full method source: pattern, newline/space, body.
    pub source: String,
    /// 1-based line in the class file where `source` starts (add `line - 1` to error lines).
    pub line: usize,
    pub class_side: bool,
    pub category: Option<String>,
    /// SOM `= primitive` methods have no body; the VM must supply them.
    pub is_som_primitive: bool,
}

/// A class definition read from a Tonel or SOM file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassDef {
    pub name: String,
    pub superclass: Option<String>,
    pub inst_vars: Vec<String>,
    pub class_vars: Vec<String>,
    pub class_inst_vars: Vec<String>,
    pub pools: Vec<String>,
    pub shape: ClassShape,
    pub category: Option<String>,
    pub methods: Vec<MethodSource>,
    pub class_comment: Option<String>,
    /// Tonel `Extension { #name : #Foo }`: adds methods to an existing class.
    pub is_extension: bool,
    /// Tonel `Trait { ... }` definition.
    pub is_trait: bool,
}
