//! Parse tree for Smalltalk methods and do-its.

use super::lexer::Pos;
use super::method::{Literal, Pragma};

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub selector: String,
    pub args: Vec<Expr>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal, Pos),
    Var(Ident),
    SelfRef(Pos),
    Super(Pos),
    ThisContext(Pos),
    Assign {
        var: Ident,
        value: Box<Expr>,
    },
    Send {
        receiver: Box<Expr>,
        msg: Message,
    },
    /// `receiver m1; m2; m3` — every message goes to `receiver`.
    Cascade {
        receiver: Box<Expr>,
        msgs: Vec<Message>,
    },
    Block(Box<Block>),
    Brace(Vec<Expr>, Pos),
}

impl Expr {
    pub fn pos(&self) -> Pos {
        match self {
            Expr::Literal(_, p)
            | Expr::SelfRef(p)
            | Expr::Super(p)
            | Expr::ThisContext(p)
            | Expr::Brace(_, p) => *p,
            Expr::Var(i) => i.pos,
            Expr::Assign { var, .. } => var.pos,
            Expr::Send { receiver, .. } | Expr::Cascade { receiver, .. } => receiver.pos(),
            Expr::Block(b) => b.pos,
        }
    }

    pub fn as_block(&self) -> Option<&Block> {
        match self {
            Expr::Block(b) => Some(b),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Expr(Expr),
    Return(Expr, Pos),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub args: Vec<Ident>,
    pub temps: Vec<Ident>,
    pub body: Vec<Stmt>,
    /// Position of `[` (its offset identifies the block during compilation).
    pub pos: Pos,
}

/// `<primitive: ...>` information.
#[derive(Debug, Clone, PartialEq)]
pub enum PrimitiveSpec {
    Numbered(u16),
    Named { module: Option<String>, name: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MethodNode {
    pub selector: String,
    pub args: Vec<Ident>,
    pub temps: Vec<Ident>,
    pub pragmas: Vec<Pragma>,
    pub primitive: Option<PrimitiveSpec>,
    /// Temp named by `<primitive: ... error: ec>`.
    pub prim_error_temp: Option<Ident>,
    pub body: Vec<Stmt>,
    pub pos: Pos,
    /// Do-its answer the value of their last expression.
    pub is_doit: bool,
}
