//! Code generation shared by both bytecode sets: closure analysis, control-structure
//! inlining (Squeak `MessageNode` macros), IR emission and jump relaxation.

use super::ast::*;
use super::lexer::{CompileError, Pos};
use super::method::*;
use super::parser::{parse_doit, parse_method};
use super::{sista, v3};
use std::collections::HashMap;

/// Names and arity of the 32 special selectors (specialObjectsArray order; Sista 96-127, V3 176-207).
pub const SPECIAL_SELECTORS: [(&str, usize); 32] = [
    ("+", 1),
    ("-", 1),
    ("<", 1),
    (">", 1),
    ("<=", 1),
    (">=", 1),
    ("=", 1),
    ("~=", 1),
    ("*", 1),
    ("/", 1),
    ("\\\\", 1),
    ("@", 1),
    ("bitShift:", 1),
    ("//", 1),
    ("bitAnd:", 1),
    ("bitOr:", 1),
    ("at:", 1),
    ("at:put:", 2),
    ("size", 0),
    ("next", 0),
    ("nextPut:", 1),
    ("atEnd", 0),
    ("==", 1),
    ("class", 0),
    ("~~", 1),
    ("value", 0),
    ("value:", 1),
    ("do:", 1),
    ("new", 0),
    ("new:", 1),
    ("x", 0),
    ("y", 0),
];

/// Class-side information the compiler needs (no heap access).
#[derive(Debug, Clone, Default)]
pub struct ClassContext {
    pub class_name: String,
    pub class_side: bool,
    /// All instance variable names of the (meta)class, inherited first, in slot order.
    pub inst_vars: Vec<String>,
}

impl ClassContext {
    /// Methods of Context classes access their instance variables with the
    /// long bytecodes: the OpenSmalltalk VMs mediate access to the fields of
    /// a context that is still running only in those forms.
    pub fn is_context_class(&self) -> bool {
        !self.class_side
            && matches!(
                self.class_name.as_str(),
                "Context" | "MethodContext" | "BlockContext"
            )
    }
}

#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub bytecode_set: BytecodeSet,
    /// Squeak does not inline `timesRepeat:` (it is absent from MessageNode's MacroSelectors);
    /// Pharo's Opal does. Off by default.
    pub inline_times_repeat: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            bytecode_set: BytecodeSet::SistaV1,
            inline_times_repeat: false,
        }
    }
}

/// Compile method source for a class.
pub fn compile_method(
    src: &str,
    ctx: &ClassContext,
    opts: &CompileOptions,
) -> Result<CompiledMethodSpec, CompileError> {
    let node = parse_method(src)?;
    compile_node(&node, ctx, opts)
}

/// Compile a do-it (optional temps + statements) as method `DoIt` answering its last value.
pub fn compile_doit(
    src: &str,
    ctx: &ClassContext,
    opts: &CompileOptions,
) -> Result<CompiledMethodSpec, CompileError> {
    let node = parse_doit(src)?;
    compile_node(&node, ctx, opts)
}

/// Compile a parsed method.
pub fn compile_node(
    node: &MethodNode,
    ctx: &ClassContext,
    opts: &CompileOptions,
) -> Result<CompiledMethodSpec, CompileError> {
    let an = analyse(node, opts)?;
    let mut g = Gen {
        an: &an,
        ctx,
        opts,
        set: opts.bytecode_set,
        units: Vec::new(),
        scope: 0,
        depth: 0,
        max_depth: 0,
        v3_block_frame: 0,
        next_label: 0,
    };
    g.method(node)
}

// ---------------------------------------------------------------------------------------------
// Intermediate code

pub type Label = usize;

#[derive(Debug, Clone, PartialEq)]
pub enum Ins {
    PushRcvrVar(usize),
    /// Always the long form (see `ClassContext::is_context_class`).
    PushRcvrVarLong(usize),
    PushTemp(usize),
    PushLit(usize),
    PushLitVar(usize),
    PushSelf,
    PushTrue,
    PushFalse,
    PushNil,
    PushInt(i64),
    PushChar(u32),
    PushThisContext,
    Dup,
    Pop,
    StoreRcvrVar(usize, bool),
    StoreRcvrVarLong(usize, bool),
    StoreTemp(usize, bool),
    StoreLitVar(usize, bool),
    PushRemoteTemp(usize, usize),
    StoreRemoteTemp(usize, usize, bool),
    PushNewArray(usize, bool),
    Send(usize, usize),
    SendSpecial(usize),
    SendSuper(usize, usize),
    SendSuperDirected(usize, usize),
    ReturnTop,
    ReturnSelf,
    ReturnTrue,
    ReturnFalse,
    ReturnNil,
    BlockReturnTop,
    Jump(Label),
    JumpFalse(Label),
    JumpTrue(Label),
    Label(Label),
    CallPrimitive(u16),
    /// Literal index, copied values, and whether the closure needs its
    /// outer context (else the creation sets ignoreOuterContext).
    PushFullClosure(usize, usize, bool),
    /// V3 embedded block: numArgs, numCopied, label at the end of the block body.
    PushClosure(usize, usize, Label),
}

impl Ins {
    fn target(&self) -> Option<Label> {
        match self {
            Ins::Jump(l) | Ins::JumpFalse(l) | Ins::JumpTrue(l) | Ins::PushClosure(_, _, l) => Some(*l),
            _ => None,
        }
    }
}

fn encode(set: BytecodeSet, ins: &Ins, dist: i64, min: usize) -> Result<Vec<u8>, String> {
    match set {
        BytecodeSet::SistaV1 => sista::encode(ins, dist, min),
        BytecodeSet::V3PlusClosures => v3::encode(ins, dist, min),
    }
}

/// Assemble IR into bytes, growing jump encodings until all distances fit.
pub fn assemble(set: BytecodeSet, code: &[Ins]) -> Result<Vec<u8>, String> {
    let mut sizes: Vec<usize> = Vec::with_capacity(code.len());
    for ins in code {
        sizes.push(match ins {
            Ins::Label(_) => 0,
            _ if ins.target().is_some() => encode(set, ins, 1, 0)?.len(),
            _ => encode(set, ins, 0, 0)?.len(),
        });
    }
    let mut labels: HashMap<Label, usize> = HashMap::new();
    let mut pcs = vec![0usize; code.len()];
    loop {
        let mut pc = 0;
        for (i, ins) in code.iter().enumerate() {
            pcs[i] = pc;
            if let Ins::Label(l) = ins {
                labels.insert(*l, pc);
            }
            pc += sizes[i];
        }
        let mut changed = false;
        for (i, ins) in code.iter().enumerate() {
            if let Some(l) = ins.target() {
                let to = *labels.get(&l).ok_or("undefined label")? as i64;
                let dist = to - (pcs[i] + sizes[i]) as i64;
                let n = encode(set, ins, dist, sizes[i])?.len();
                if n > sizes[i] {
                    sizes[i] = n;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut out = Vec::new();
    for (i, ins) in code.iter().enumerate() {
        let dist = match ins.target() {
            Some(l) => labels[&l] as i64 - (pcs[i] + sizes[i]) as i64,
            None => 0,
        };
        let bytes = encode(set, ins, dist, sizes[i])?;
        if bytes.len() != sizes[i] {
            return Err(format!("internal: size mismatch for {:?}", ins));
        }
        out.extend(bytes);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Inlined control structures

#[derive(Debug, Clone, Copy, PartialEq)]
enum Inline {
    IfTrue,
    IfFalse,
    IfTrueIfFalse,
    IfFalseIfTrue,
    And,
    Or,
    /// whileTrue:/whileFalse:/whileTrue/whileFalse: (loop while cond == .0), has body .1
    While(bool, bool),
    Repeat,
    ToDo,
    IfNil,
    IfNotNil,
    IfNilIfNotNil,
    IfNotNilIfNil,
    TimesRepeat,
}

fn block_with(e: &Expr, max_args: usize) -> bool {
    matches!(e, Expr::Block(b) if b.args.len() <= max_args)
}

fn block_exact(e: &Expr, n: usize) -> bool {
    matches!(e, Expr::Block(b) if b.args.len() == n)
}

/// Whether a full block with this body needs its outer context: it (or a
/// block inside it) returns from its home method with `^`, which finds
/// home through the outer contexts, or names `thisContext`, whose outer
/// context and home the code may ask for. Other blocks are created with
/// SistaV1's ignoreOuterContext flag, so creating one does not make a
/// Context for the frame (as Pharo's compiler does for such blocks).
fn needs_outer_context(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Return(..) => true,
        Stmt::Expr(e) => expr_needs_outer_context(e),
    })
}

fn expr_needs_outer_context(e: &Expr) -> bool {
    match e {
        Expr::ThisContext(_) => true,
        Expr::Assign { value, .. } => expr_needs_outer_context(value),
        Expr::Send { receiver, msg } => {
            expr_needs_outer_context(receiver) || msg.args.iter().any(expr_needs_outer_context)
        }
        Expr::Cascade { receiver, msgs } => {
            expr_needs_outer_context(receiver)
                || msgs.iter().any(|m| m.args.iter().any(expr_needs_outer_context))
        }
        Expr::Block(b) => needs_outer_context(&b.body),
        Expr::Brace(es, _) => es.iter().any(expr_needs_outer_context),
        Expr::Literal(..) | Expr::Var(_) | Expr::SelfRef(_) | Expr::Super(_) => false,
    }
}

fn stmts_assign(stmts: &[Stmt], name: &str) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Expr(e) | Stmt::Return(e, _) => expr_assigns(e, name),
    })
}

fn expr_assigns(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Assign { var, value } => var.name == name || expr_assigns(value, name),
        Expr::Send { receiver, msg } => {
            expr_assigns(receiver, name) || msg.args.iter().any(|a| expr_assigns(a, name))
        }
        Expr::Cascade { receiver, msgs } => {
            expr_assigns(receiver, name) || msgs.iter().any(|m| m.args.iter().any(|a| expr_assigns(a, name)))
        }
        Expr::Block(b) => stmts_assign(&b.body, name),
        Expr::Brace(es, _) => es.iter().any(|a| expr_assigns(a, name)),
        _ => false,
    }
}

/// Which Squeak macro applies, if the arguments are literal blocks of the right arity.
fn inline_kind(recv: &Expr, msg: &Message, opts: &CompileOptions) -> Option<Inline> {
    if matches!(recv, Expr::Super(_)) {
        return None;
    }
    let a = &msg.args;
    let k = match msg.selector.as_str() {
        "ifTrue:" if block_exact(&a[0], 0) => Inline::IfTrue,
        "ifFalse:" if block_exact(&a[0], 0) => Inline::IfFalse,
        "ifTrue:ifFalse:" if block_exact(&a[0], 0) && block_exact(&a[1], 0) => Inline::IfTrueIfFalse,
        "ifFalse:ifTrue:" if block_exact(&a[0], 0) && block_exact(&a[1], 0) => Inline::IfFalseIfTrue,
        "and:" if block_exact(&a[0], 0) => Inline::And,
        "or:" if block_exact(&a[0], 0) => Inline::Or,
        "whileTrue:" if block_exact(recv, 0) && block_exact(&a[0], 0) => Inline::While(true, true),
        "whileFalse:" if block_exact(recv, 0) && block_exact(&a[0], 0) => Inline::While(false, true),
        "whileTrue" if block_exact(recv, 0) => Inline::While(true, false),
        "whileFalse" if block_exact(recv, 0) => Inline::While(false, false),
        "repeat" if block_exact(recv, 0) => Inline::Repeat,
        "to:do:" | "to:by:do:" => {
            let body = a.last()?.as_block()?;
            if body.args.len() != 1 {
                return None;
            }
            if a.len() == 3 {
                match &a[1] {
                    Expr::Literal(l, _) if l.is_number() && l.sign() != 0 => {}
                    _ => return None,
                }
            }
            if let Expr::Var(v) = &a[0] {
                if stmts_assign(&body.body, &v.name) {
                    return None;
                }
            }
            Inline::ToDo
        }
        "ifNil:" if block_exact(&a[0], 0) => Inline::IfNil,
        "ifNotNil:" if block_with(&a[0], 1) => Inline::IfNotNil,
        "ifNil:ifNotNil:" if block_exact(&a[0], 0) && block_with(&a[1], 1) => Inline::IfNilIfNotNil,
        "ifNotNil:ifNil:" if block_with(&a[0], 1) && block_exact(&a[1], 0) => Inline::IfNotNilIfNil,
        "timesRepeat:" if opts.inline_times_repeat && block_exact(&a[0], 0) => Inline::TimesRepeat,
        _ => return None,
    };
    Some(k)
}

/// to:do: needs a hidden limit temp unless the limit is a literal number or a variable.
fn todo_needs_limit_temp(limit: &Expr) -> bool {
    !matches!(limit, Expr::Var(_) | Expr::SelfRef(_))
        && !matches!(limit, Expr::Literal(l, _) if l.is_number())
}

// ---------------------------------------------------------------------------------------------
// Closure analysis (pass 1)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VarKind {
    Arg,
    Temp,
}

#[derive(Debug, Clone, Default)]
struct Access {
    seq: usize,
    scope: usize,
    loops: Vec<usize>,
}

#[derive(Debug, Clone)]
struct VarInfo {
    scope: usize,
    kind: VarKind,
    remote: bool,
    captured: bool,
    writes: Vec<Access>,
    captures: Vec<Access>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FreeRef {
    Var(usize),
    Vector(usize),
}

#[derive(Debug, Clone, Default)]
struct ScopeInfo {
    args: Vec<usize>,
    temps: Vec<usize>,
    creation: Access,
    // Filled after the walk:
    copied: Vec<FreeRef>,
    vector: Vec<usize>,
    locals: Vec<usize>,
    vec_slot: Option<usize>,
    slots: HashMap<usize, usize>,
    num_temps: usize,
}

#[derive(Debug, Default)]
struct Analysis {
    vars: Vec<VarInfo>,
    scopes: Vec<ScopeInfo>,
    block_scope: HashMap<usize, usize>,
    refs: HashMap<usize, usize>,
    decls: HashMap<usize, usize>,
    hidden: HashMap<(usize, u8), usize>,
}

const HIDDEN_LIMIT: u8 = 0;
const HIDDEN_COUNTER: u8 = 1;

struct Analyzer<'a> {
    an: Analysis,
    frames: Vec<Vec<(String, usize)>>,
    scope_stack: Vec<usize>,
    loop_stack: Vec<(usize, usize)>,
    next_loop: usize,
    seq: usize,
    free_uses: Vec<(usize, usize)>,
    opts: &'a CompileOptions,
}

fn analyse(node: &MethodNode, opts: &CompileOptions) -> Result<Analysis, CompileError> {
    let mut a = Analyzer {
        an: Analysis::default(),
        frames: vec![Vec::new()],
        scope_stack: vec![0],
        loop_stack: Vec::new(),
        next_loop: 0,
        seq: 0,
        free_uses: Vec::new(),
        opts,
    };
    a.an.scopes.push(ScopeInfo::default());
    for arg in &node.args {
        a.declare(arg, VarKind::Arg, true)?;
    }
    for t in &node.temps {
        a.declare(t, VarKind::Temp, false)?;
    }
    let ec = match &node.prim_error_temp {
        Some(ec) => Some(a.declare(ec, VarKind::Temp, false)?),
        None => None,
    };
    a.stmts(&node.body)?;
    // The primitive error temp must be the last slot: the VM puts the error code in the
    // top frame slot and the following long store copies it into the temp.
    if let Some(v) = ec {
        let temps = &mut a.an.scopes[0].temps;
        temps.retain(|x| *x != v);
        temps.push(v);
    }
    a.finish(node)
}

impl<'a> Analyzer<'a> {
    fn cur(&self) -> usize {
        *self.scope_stack.last().unwrap_or(&0)
    }

    fn loops_here(&self) -> Vec<usize> {
        let cur = self.cur();
        self.loop_stack
            .iter()
            .filter(|(_, s)| *s == cur)
            .map(|(l, _)| *l)
            .collect()
    }

    fn access_here(&mut self) -> Access {
        self.seq += 1;
        Access {
            seq: self.seq,
            scope: self.cur(),
            loops: self.loops_here(),
        }
    }

    fn declare(&mut self, id: &Ident, kind: VarKind, real_arg: bool) -> Result<usize, CompileError> {
        let dup = self
            .frames
            .last()
            .is_some_and(|f| f.iter().any(|(n, _)| *n == id.name));
        if dup {
            return Err(CompileError::new(
                id.pos,
                format!("name {} already defined", id.name),
            ));
        }
        let v = self.declare_hidden(kind, real_arg);
        if let Some(f) = self.frames.last_mut() {
            f.push((id.name.clone(), v));
        }
        self.an.decls.insert(id.pos.offset, v);
        Ok(v)
    }

    /// A variable owned by the current real scope (hidden ones have no source name).
    fn declare_hidden(&mut self, kind: VarKind, real_arg: bool) -> usize {
        let scope = self.cur();
        let v = self.an.vars.len();
        self.an.vars.push(VarInfo {
            scope,
            kind,
            remote: false,
            captured: false,
            writes: Vec::new(),
            captures: Vec::new(),
        });
        if real_arg {
            self.an.scopes[scope].args.push(v);
        } else {
            self.an.scopes[scope].temps.push(v);
        }
        v
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        for f in self.frames.iter().rev() {
            if let Some((_, v)) = f.iter().rev().find(|(n, _)| n == name) {
                return Some(*v);
            }
        }
        None
    }

    fn touch(&mut self, v: usize, write: bool) {
        let acc = self.access_here();
        let vs = self.an.vars[v].scope;
        if write {
            self.an.vars[v].writes.push(acc.clone());
        }
        if vs != acc.scope {
            self.an.vars[v].captured = true;
            if let Some(idx) = self.scope_stack.iter().position(|s| *s == vs) {
                if let Some(&inner) = self.scope_stack.get(idx + 1) {
                    let c = self.an.scopes[inner].creation.clone();
                    self.an.vars[v].captures.push(c);
                }
                for &s in &self.scope_stack[idx + 1..] {
                    self.free_uses.push((s, v));
                }
            }
        }
    }

    fn var_ref(&mut self, id: &Ident, write: bool) -> Result<(), CompileError> {
        if let Some(v) = self.lookup(&id.name) {
            if write && self.an.vars[v].kind == VarKind::Arg {
                return Err(CompileError::new(
                    id.pos,
                    format!("cannot store into argument {}", id.name),
                ));
            }
            self.an.refs.insert(id.pos.offset, v);
            self.touch(v, write);
        }
        Ok(())
    }

    fn stmts(&mut self, stmts: &[Stmt]) -> Result<(), CompileError> {
        for s in stmts {
            match s {
                Stmt::Expr(e) | Stmt::Return(e, _) => self.expr(e)?,
            }
        }
        Ok(())
    }

    fn expr(&mut self, e: &Expr) -> Result<(), CompileError> {
        match e {
            Expr::Var(id) => self.var_ref(id, false),
            Expr::Assign { var, value } => {
                self.expr(value)?;
                self.var_ref(var, true)
            }
            Expr::Send { receiver, msg } => self.send(receiver, msg),
            Expr::Cascade { receiver, msgs } => {
                self.expr(receiver)?;
                for m in msgs {
                    for a in &m.args {
                        self.expr(a)?;
                    }
                }
                Ok(())
            }
            Expr::Block(b) => self.real_block(b),
            Expr::Brace(es, _) => {
                for x in es {
                    self.expr(x)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn real_block(&mut self, b: &Block) -> Result<(), CompileError> {
        let creation = self.access_here();
        let id = self.an.scopes.len();
        self.an.scopes.push(ScopeInfo {
            creation,
            ..Default::default()
        });
        self.an.block_scope.insert(b.pos.offset, id);
        self.scope_stack.push(id);
        self.frames.push(Vec::new());
        for a in &b.args {
            self.declare(a, VarKind::Arg, true)?;
        }
        for t in &b.temps {
            self.declare(t, VarKind::Temp, false)?;
        }
        self.stmts(&b.body)?;
        self.frames.pop();
        self.scope_stack.pop();
        Ok(())
    }

    /// Declare an inlined block's args/temps (hoisted into the current real scope) and walk it.
    fn inline_block(&mut self, e: &Expr, arg_written: bool) -> Result<(), CompileError> {
        let Some(b) = e.as_block() else {
            return self.expr(e);
        };
        self.frames.push(Vec::new());
        for a in &b.args {
            let v = self.declare(a, VarKind::Arg, false)?;
            if arg_written {
                self.touch(v, true);
            }
        }
        for t in &b.temps {
            self.declare(t, VarKind::Temp, false)?;
        }
        self.stmts(&b.body)?;
        self.frames.pop();
        Ok(())
    }

    fn push_loop(&mut self) {
        self.next_loop += 1;
        let cur = self.cur();
        self.loop_stack.push((self.next_loop, cur));
    }

    fn send(&mut self, recv: &Expr, msg: &Message) -> Result<(), CompileError> {
        let Some(kind) = inline_kind(recv, msg, self.opts) else {
            self.expr(recv)?;
            for a in &msg.args {
                self.expr(a)?;
            }
            return Ok(());
        };
        match kind {
            Inline::While(_, _) | Inline::Repeat => {
                self.push_loop();
                self.inline_block(recv, false)?;
                for a in &msg.args {
                    self.inline_block(a, false)?;
                }
                self.loop_stack.pop();
            }
            Inline::ToDo => {
                self.expr(recv)?;
                self.expr(&msg.args[0])?;
                let body = msg.args.last().and_then(|a| a.as_block());
                let Some(body) = body else { return Ok(()) };
                if todo_needs_limit_temp(&msg.args[0]) {
                    let v = self.declare_hidden(VarKind::Temp, false);
                    self.an.hidden.insert((body.pos.offset, HIDDEN_LIMIT), v);
                }
                self.frames.push(Vec::new());
                let var = self.declare(&body.args[0], VarKind::Arg, false)?;
                self.touch(var, true); // initialisation, before the loop
                self.push_loop();
                for t in &body.temps {
                    self.declare(t, VarKind::Temp, false)?;
                }
                self.stmts(&body.body)?;
                self.touch(var, true); // increment, inside the loop
                self.loop_stack.pop();
                self.frames.pop();
            }
            Inline::TimesRepeat => {
                self.expr(recv)?;
                if let Some(b) = msg.args[0].as_block() {
                    let lim = self.declare_hidden(VarKind::Temp, false);
                    let ctr = self.declare_hidden(VarKind::Temp, false);
                    self.an.hidden.insert((b.pos.offset, HIDDEN_LIMIT), lim);
                    self.an.hidden.insert((b.pos.offset, HIDDEN_COUNTER), ctr);
                }
                self.push_loop();
                self.inline_block(&msg.args[0], false)?;
                self.loop_stack.pop();
            }
            Inline::IfNotNil | Inline::IfNilIfNotNil | Inline::IfNotNilIfNil => {
                self.expr(recv)?;
                for a in &msg.args {
                    self.inline_block(a, true)?;
                }
            }
            _ => {
                self.expr(recv)?;
                for a in &msg.args {
                    self.inline_block(a, false)?;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, node: &MethodNode) -> Result<Analysis, CompileError> {
        for v in self.an.vars.iter_mut() {
            if !v.captured {
                continue;
            }
            let home = v.scope;
            v.remote = v.writes.iter().any(|w| {
                w.scope != home
                    || v.captures
                        .iter()
                        .any(|c| w.seq > c.seq || w.loops.iter().any(|l| c.loops.contains(l)))
            });
        }
        for &(s, v) in &self.free_uses {
            let f = if self.an.vars[v].remote {
                FreeRef::Vector(self.an.vars[v].scope)
            } else {
                FreeRef::Var(v)
            };
            let copied = &mut self.an.scopes[s].copied;
            if !copied.contains(&f) {
                copied.push(f);
            }
        }
        let vars = &self.an.vars;
        for sc in self.an.scopes.iter_mut() {
            let mut slot = sc.args.len() + sc.copied.len();
            for &a in sc.args.iter() {
                let i = sc.slots.len();
                sc.slots.insert(a, i);
            }
            sc.vector = sc.temps.iter().copied().filter(|&t| vars[t].remote).collect();
            if !sc.vector.is_empty() {
                sc.vec_slot = Some(slot);
                slot += 1;
            }
            sc.locals = sc.temps.iter().copied().filter(|&t| !vars[t].remote).collect();
            for &t in &sc.locals {
                sc.slots.insert(t, slot);
                slot += 1;
            }
            sc.num_temps = slot;
        }
        if let Some(ec) = &node.prim_error_temp {
            let v = self.an.decls.get(&ec.pos.offset).copied();
            if let Some(v) = v {
                if self.an.vars[v].remote {
                    return Err(CompileError::new(
                        ec.pos,
                        "primitive error temp cannot be captured and written",
                    ));
                }
            }
        }
        Ok(self.an)
    }
}

// ---------------------------------------------------------------------------------------------
// Emission (pass 2)

struct Unit {
    code: Vec<Ins>,
    literals: Vec<Literal>,
}

struct Gen<'a> {
    an: &'a Analysis,
    ctx: &'a ClassContext,
    opts: &'a CompileOptions,
    set: BytecodeSet,
    units: Vec<Unit>,
    scope: usize,
    depth: i32,
    max_depth: i32,
    /// V3: largest temps+stack need of any embedded block.
    v3_block_frame: usize,
    next_label: usize,
}

enum Loc {
    Temp(usize),
    Remote(usize, usize),
    InstVar(usize),
    Global(String),
}

type R<T> = Result<T, CompileError>;

fn special_index(sel: &str, nargs: usize) -> Option<usize> {
    SPECIAL_SELECTORS
        .iter()
        .position(|(s, n)| *s == sel && *n == nargs)
}

impl<'a> Gen<'a> {
    fn unit(&mut self) -> &mut Unit {
        self.units.last_mut().expect("unit")
    }

    fn op(&mut self, ins: Ins, delta: i32) {
        self.unit().code.push(ins);
        self.depth += delta;
        if self.depth > self.max_depth {
            self.max_depth = self.depth;
        }
    }

    fn label(&mut self) -> Label {
        self.next_label += 1;
        self.next_label
    }

    fn place(&mut self, l: Label) {
        self.unit().code.push(Ins::Label(l));
    }

    fn lit(&mut self, l: Literal) -> usize {
        let u = self.unit();
        if let Some(i) = u.literals.iter().position(|x| x.same_as(&l)) {
            return i;
        }
        u.literals.push(l);
        u.literals.len() - 1
    }

    fn scope_info(&self) -> &'a ScopeInfo {
        &self.an.scopes[self.scope]
    }

    /// Slot of a captured/own reference as seen from the current scope.
    fn free_slot(&self, f: FreeRef) -> usize {
        let sc = self.scope_info();
        match f {
            FreeRef::Vector(s) if s == self.scope => sc.vec_slot.unwrap_or(0),
            FreeRef::Var(v) if self.an.vars[v].scope == self.scope => sc.slots.get(&v).copied().unwrap_or(0),
            _ => sc.args.len() + sc.copied.iter().position(|x| *x == f).unwrap_or(0),
        }
    }

    fn var_loc(&self, v: usize) -> Loc {
        let info = &self.an.vars[v];
        if info.remote {
            let home = &self.an.scopes[info.scope];
            let idx = home.vector.iter().position(|x| *x == v).unwrap_or(0);
            Loc::Remote(idx, self.free_slot(FreeRef::Vector(info.scope)))
        } else {
            Loc::Temp(self.free_slot(FreeRef::Var(v)))
        }
    }

    fn locate(&self, id: &Ident) -> Loc {
        if let Some(&v) = self.an.refs.get(&id.pos.offset) {
            return self.var_loc(v);
        }
        if let Some(i) = self.ctx.inst_vars.iter().position(|n| *n == id.name) {
            return Loc::InstVar(i);
        }
        Loc::Global(id.name.clone())
    }

    fn push_loc(&mut self, loc: Loc) {
        match loc {
            Loc::Temp(i) => self.op(Ins::PushTemp(i), 1),
            Loc::Remote(i, v) => self.op(Ins::PushRemoteTemp(i, v), 1),
            Loc::InstVar(i) if self.ctx.is_context_class() => self.op(Ins::PushRcvrVarLong(i), 1),
            Loc::InstVar(i) => self.op(Ins::PushRcvrVar(i), 1),
            Loc::Global(n) => {
                let l = self.lit(Literal::Binding(n));
                self.op(Ins::PushLitVar(l), 1)
            }
        }
    }

    fn store_loc(&mut self, loc: Loc, pop: bool) {
        let d = if pop { -1 } else { 0 };
        match loc {
            Loc::Temp(i) => self.op(Ins::StoreTemp(i, pop), d),
            Loc::Remote(i, v) => self.op(Ins::StoreRemoteTemp(i, v, pop), d),
            Loc::InstVar(i) if self.ctx.is_context_class() => self.op(Ins::StoreRcvrVarLong(i, pop), d),
            Loc::InstVar(i) => self.op(Ins::StoreRcvrVar(i, pop), d),
            Loc::Global(n) => {
                let l = self.lit(Literal::Binding(n));
                self.op(Ins::StoreLitVar(l, pop), d)
            }
        }
    }

    fn push_literal(&mut self, l: &Literal) {
        let sista = self.set == BytecodeSet::SistaV1;
        match l {
            Literal::Nil => self.op(Ins::PushNil, 1),
            Literal::True => self.op(Ins::PushTrue, 1),
            Literal::False => self.op(Ins::PushFalse, 1),
            Literal::Integer(v) if (!sista && (-1..=2).contains(v)) => self.op(Ins::PushInt(*v), 1),
            Literal::Integer(v) if sista && (-32768..=32767).contains(v) => self.op(Ins::PushInt(*v), 1),
            Literal::Char(c) if sista && *c <= 0x7FFF => self.op(Ins::PushChar(*c), 1),
            _ => {
                let i = self.lit(l.clone());
                self.op(Ins::PushLit(i), 1)
            }
        }
    }

    fn err<T>(&self, pos: Pos, msg: impl Into<String>) -> R<T> {
        Err(CompileError::new(pos, msg))
    }

    // --- method / blocks -----------------------------------------------------------------

    fn method(&mut self, node: &MethodNode) -> R<CompiledMethodSpec> {
        if node.args.len() > 15 {
            return self.err(node.pos, "too many arguments");
        }
        self.units.push(Unit {
            code: Vec::new(),
            literals: Vec::new(),
        });
        let mut primitive = 0u16;
        match &node.primitive {
            Some(PrimitiveSpec::Numbered(n)) => primitive = *n,
            Some(PrimitiveSpec::Named { module, name }) => {
                primitive = 117;
                let spec = Literal::Array(vec![
                    module.clone().map(Literal::Symbol).unwrap_or(Literal::Nil),
                    Literal::Symbol(name.clone()),
                    Literal::Integer(0),
                    Literal::Integer(0),
                ]);
                self.unit().literals.push(spec);
            }
            None => {}
        }
        if primitive != 0 {
            self.op(Ins::CallPrimitive(primitive), 0);
            if let Some(ec) = &node.prim_error_temp {
                if let Some(&v) = self.an.decls.get(&ec.pos.offset) {
                    let loc = self.var_loc(v);
                    self.store_loc(loc, false);
                }
            }
        }
        self.init_temp_vector();
        self.method_body(node)?;
        let sc = self.scope_info();
        if sc.num_temps > 63 {
            return self.err(node.pos, "too many temporaries");
        }
        let unit = self.units.pop().expect("unit");
        let bytecodes = assemble(self.set, &unit.code).map_err(|m| CompileError::new(node.pos, m))?;
        let mut literals = unit.literals;
        literals.push(if node.pragmas.is_empty() {
            Literal::Symbol(node.selector.clone())
        } else {
            Literal::AdditionalMethodState
        });
        literals.push(Literal::MethodClassBinding);
        let frame = (sc.num_temps + self.max_depth.max(0) as usize).max(self.v3_block_frame);
        if frame > LARGE_FRAME_SIZE {
            return self.err(node.pos, "stack including temps is too deep");
        }
        Ok(CompiledMethodSpec {
            num_args: node.args.len(),
            num_temps: sc.num_temps,
            frame_size_large: frame > SMALL_FRAME_SIZE || primitive == 84,
            primitive,
            literals,
            bytecodes,
            bytecode_set: self.set,
            selector: node.selector.clone(),
            class_name: self.ctx.class_name.clone(),
            class_side: self.ctx.class_side,
            pragmas: node.pragmas.clone(),
            is_block: false,
        })
    }

    fn init_temp_vector(&mut self) {
        let sc = self.scope_info();
        if let Some(slot) = sc.vec_slot {
            self.op(Ins::PushNewArray(sc.vector.len(), false), 1);
            self.op(Ins::StoreTemp(slot, true), -1);
        }
    }

    fn method_body(&mut self, node: &MethodNode) -> R<()> {
        let n = node.body.len();
        for (i, s) in node.body.iter().enumerate() {
            match s {
                Stmt::Return(e, _) => return self.emit_return(e),
                Stmt::Expr(e) if node.is_doit && i + 1 == n => {
                    self.expr(e, true)?;
                    self.op(Ins::ReturnTop, -1);
                    return Ok(());
                }
                Stmt::Expr(e) => self.expr(e, false)?,
            }
        }
        if node.is_doit {
            self.op(Ins::ReturnNil, 0);
        } else {
            self.op(Ins::ReturnSelf, 0);
        }
        Ok(())
    }

    fn emit_return(&mut self, e: &Expr) -> R<()> {
        match e {
            Expr::SelfRef(_) => self.op(Ins::ReturnSelf, 0),
            Expr::Literal(Literal::True, _) => self.op(Ins::ReturnTrue, 0),
            Expr::Literal(Literal::False, _) => self.op(Ins::ReturnFalse, 0),
            Expr::Literal(Literal::Nil, _) => self.op(Ins::ReturnNil, 0),
            _ => {
                self.expr(e, true)?;
                self.op(Ins::ReturnTop, -1);
            }
        }
        Ok(())
    }

    /// Block body statements; the block answers its last expression (nil if empty).
    fn block_body(&mut self, b: &Block) -> R<()> {
        let n = b.body.len();
        if n == 0 {
            self.op(Ins::PushNil, 1);
            self.op(Ins::BlockReturnTop, -1);
            return Ok(());
        }
        for (i, s) in b.body.iter().enumerate() {
            match s {
                Stmt::Return(e, _) => return self.emit_return(e),
                Stmt::Expr(e) if i + 1 == n => {
                    self.expr(e, true)?;
                    self.op(Ins::BlockReturnTop, -1);
                }
                Stmt::Expr(e) => self.expr(e, false)?,
            }
        }
        Ok(())
    }

    fn push_copied(&mut self, copied: &[FreeRef]) {
        for &f in copied {
            let slot = self.free_slot(f);
            self.op(Ins::PushTemp(slot), 1);
        }
    }

    fn closure(&mut self, b: &Block) -> R<()> {
        let Some(&id) = self.an.block_scope.get(&b.pos.offset) else {
            return self.err(b.pos, "internal: unanalysed block");
        };
        let bs = &self.an.scopes[id];
        if b.args.len() > 15 || bs.copied.len() > 15 && self.set == BytecodeSet::V3PlusClosures {
            return self.err(b.pos, "too many block arguments or copied values");
        }
        if bs.copied.len() > 63 {
            return self.err(b.pos, "too many copied values");
        }
        let ncopied = bs.copied.len();
        self.push_copied(&bs.copied);
        let saved = (self.scope, self.depth, self.max_depth);
        match self.set {
            BytecodeSet::V3PlusClosures => {
                let end = self.label();
                self.op(Ins::PushClosure(b.args.len(), ncopied, end), 0);
                self.scope = id;
                self.depth = 0;
                self.max_depth = 0;
                if bs.vec_slot.is_some() {
                    self.op(Ins::PushNewArray(bs.vector.len(), false), 1);
                }
                for _ in &bs.locals {
                    self.op(Ins::PushNil, 1);
                }
                self.block_body(b)?;
                let need = b.args.len() + ncopied + self.max_depth.max(0) as usize;
                self.v3_block_frame = self.v3_block_frame.max(need);
                self.place(end);
                (self.scope, self.depth, self.max_depth) = saved;
                self.depth += 1 - ncopied as i32;
            }
            BytecodeSet::SistaV1 => {
                self.units.push(Unit {
                    code: Vec::new(),
                    literals: Vec::new(),
                });
                self.scope = id;
                self.depth = 0;
                self.max_depth = 0;
                self.init_temp_vector();
                self.block_body(b)?;
                let unit = self.units.pop().expect("unit");
                let bytecodes = assemble(self.set, &unit.code).map_err(|m| CompileError::new(b.pos, m))?;
                let mut literals = unit.literals;
                literals.push(Literal::OuterCode);
                let frame = bs.num_temps + self.max_depth.max(0) as usize;
                if frame > LARGE_FRAME_SIZE || bs.num_temps > 63 {
                    return self.err(b.pos, "block stack including temps is too deep");
                }
                let spec = CompiledMethodSpec {
                    num_args: b.args.len(),
                    num_temps: bs.num_temps,
                    frame_size_large: frame > SMALL_FRAME_SIZE,
                    primitive: 0,
                    literals,
                    bytecodes,
                    bytecode_set: self.set,
                    selector: String::new(),
                    class_name: self.ctx.class_name.clone(),
                    class_side: self.ctx.class_side,
                    pragmas: Vec::new(),
                    is_block: true,
                };
                (self.scope, self.depth, self.max_depth) = saved;
                let u = self.unit();
                u.literals.push(Literal::CompiledBlock(Box::new(spec)));
                let li = u.literals.len() - 1;
                let outer = needs_outer_context(&b.body);
                self.op(Ins::PushFullClosure(li, ncopied, outer), 1 - ncopied as i32);
            }
        }
        Ok(())
    }

    // --- expressions ---------------------------------------------------------------------

    fn expr(&mut self, e: &Expr, value: bool) -> R<()> {
        match e {
            Expr::Literal(l, _) => {
                if value {
                    self.push_literal(l);
                }
            }
            Expr::Var(id) => {
                if value {
                    let loc = self.locate(id);
                    self.push_loc(loc);
                }
            }
            Expr::SelfRef(_) | Expr::Super(_) => {
                if value {
                    self.op(Ins::PushSelf, 1)
                }
            }
            Expr::ThisContext(_) => {
                if value {
                    self.op(Ins::PushThisContext, 1)
                }
            }
            Expr::Assign { var, value: v } => {
                self.expr(v, true)?;
                let loc = self.locate(var);
                self.store_loc(loc, !value);
            }
            Expr::Send { receiver, msg } => self.send(receiver, msg, value)?,
            Expr::Cascade { receiver, msgs } => {
                self.expr(receiver, true)?;
                let n = msgs.len();
                for (i, m) in msgs.iter().enumerate() {
                    let last = i + 1 == n;
                    if !last {
                        self.op(Ins::Dup, 1);
                    }
                    self.plain_send(m, false)?;
                    if !last || !value {
                        self.op(Ins::Pop, -1);
                    }
                }
            }
            Expr::Block(b) => {
                if value {
                    self.closure(b)?;
                }
            }
            Expr::Brace(es, pos) => {
                if es.len() > 127 {
                    return self.err(*pos, "too many elements in brace array (max 127)");
                }
                for x in es {
                    self.expr(x, true)?;
                }
                self.op(Ins::PushNewArray(es.len(), true), 1 - es.len() as i32);
                if !value {
                    self.op(Ins::Pop, -1);
                }
            }
        }
        Ok(())
    }

    /// Arguments and send bytecode for a receiver already on the stack.
    fn plain_send(&mut self, m: &Message, to_super: bool) -> R<()> {
        for a in &m.args {
            self.expr(a, true)?;
        }
        let n = m.args.len();
        let d = -(n as i32);
        if to_super {
            let sel = self.lit(Literal::Symbol(m.selector.clone()));
            match self.set {
                BytecodeSet::V3PlusClosures => self.op(Ins::SendSuper(sel, n), d),
                BytecodeSet::SistaV1 => {
                    let cls = self.lit(Literal::MethodClassBinding);
                    self.op(Ins::PushLitVar(cls), 1);
                    self.op(Ins::SendSuperDirected(sel, n), d - 1);
                }
            }
            return Ok(());
        }
        // `~~` shares slot 24 with the pre-Spur `blockCopy:`; only Sista images are sure to have it.
        match special_index(&m.selector, n) {
            Some(24) if self.set == BytecodeSet::V3PlusClosures => {
                let sel = self.lit(Literal::Symbol(m.selector.clone()));
                self.op(Ins::Send(sel, n), d);
            }
            Some(k) => self.op(Ins::SendSpecial(k), d),
            None => {
                let sel = self.lit(Literal::Symbol(m.selector.clone()));
                self.op(Ins::Send(sel, n), d);
            }
        }
        Ok(())
    }

    fn send(&mut self, recv: &Expr, msg: &Message, value: bool) -> R<()> {
        if let Some(k) = inline_kind(recv, msg, self.opts) {
            return self.inline(k, recv, msg, value);
        }
        let to_super = matches!(recv, Expr::Super(_));
        self.expr(recv, true)?;
        self.plain_send(msg, to_super)?;
        if !value {
            self.op(Ins::Pop, -1);
        }
        Ok(())
    }

    /// Statements of an inlined block; `value` leaves exactly one value on the stack.
    fn inline_body(&mut self, e: &Expr, value: bool) -> R<()> {
        let Some(b) = e.as_block() else {
            return self.expr(e, value);
        };
        let n = b.body.len();
        if n == 0 {
            if value {
                self.op(Ins::PushNil, 1);
            }
            return Ok(());
        }
        for (i, s) in b.body.iter().enumerate() {
            let last = i + 1 == n;
            match s {
                Stmt::Return(e, _) => {
                    self.emit_return(e)?;
                    if value {
                        self.depth += 1; // unreachable, but keeps both arms balanced
                    }
                }
                Stmt::Expr(e) => self.expr(e, value && last)?,
            }
        }
        Ok(())
    }

    fn ends_with_return(e: &Expr) -> bool {
        matches!(e.as_block().and_then(|b| b.body.last()), Some(Stmt::Return(..)))
    }

    fn inline_arg_store(&mut self, e: &Expr) {
        // ifNotNil: [:x | ...] — bind x to the receiver value on the stack (kept).
        if let Some(b) = e.as_block() {
            if let Some(a) = b.args.first() {
                if let Some(&v) = self.an.decls.get(&a.pos.offset) {
                    let loc = self.var_loc(v);
                    self.store_loc(loc, false);
                }
            }
        }
    }

    fn inline(&mut self, k: Inline, recv: &Expr, msg: &Message, value: bool) -> R<()> {
        let a = &msg.args;
        match k {
            Inline::IfTrue | Inline::IfFalse | Inline::IfTrueIfFalse | Inline::IfFalseIfTrue => {
                let (then_b, else_b) = match k {
                    Inline::IfTrue => (Some(&a[0]), None),
                    Inline::IfFalse => (None, Some(&a[0])),
                    Inline::IfTrueIfFalse => (Some(&a[0]), Some(&a[1])),
                    _ => (Some(&a[1]), Some(&a[0])),
                };
                self.expr(recv, true)?;
                self.if_then_else(then_b, else_b, value)?;
            }
            Inline::And | Inline::Or => {
                self.expr(recv, true)?;
                let l1 = self.label();
                if value {
                    let l2 = self.label();
                    self.op(Ins::JumpFalse(l1), -1);
                    if k == Inline::And {
                        self.inline_body(&a[0], true)?;
                        self.op(Ins::Jump(l2), 0);
                        self.place(l1);
                        self.depth -= 1;
                        self.op(Ins::PushFalse, 1);
                    } else {
                        self.op(Ins::PushTrue, 1);
                        self.op(Ins::Jump(l2), 0);
                        self.place(l1);
                        self.depth -= 1;
                        self.inline_body(&a[0], true)?;
                    }
                    self.place(l2);
                } else {
                    let j = if k == Inline::And {
                        Ins::JumpFalse(l1)
                    } else {
                        Ins::JumpTrue(l1)
                    };
                    self.op(j, -1);
                    self.inline_body(&a[0], false)?;
                    self.place(l1);
                }
            }
            Inline::While(on_true, has_body) => {
                let top = self.label();
                let end = self.label();
                self.place(top);
                self.inline_body(recv, true)?;
                let j = if on_true {
                    Ins::JumpFalse(end)
                } else {
                    Ins::JumpTrue(end)
                };
                self.op(j, -1);
                if has_body {
                    self.inline_body(&a[0], false)?;
                }
                self.op(Ins::Jump(top), 0);
                self.place(end);
                if value {
                    self.op(Ins::PushNil, 1);
                }
            }
            Inline::Repeat => {
                let top = self.label();
                self.place(top);
                self.inline_body(recv, false)?;
                self.op(Ins::Jump(top), 0);
                if value {
                    self.op(Ins::PushNil, 1);
                }
            }
            Inline::ToDo => self.emit_to_do(recv, msg, value)?,
            Inline::TimesRepeat => self.times_repeat(recv, &a[0], value)?,
            Inline::IfNil | Inline::IfNotNil | Inline::IfNilIfNotNil | Inline::IfNotNilIfNil => {
                let (nil_b, notnil_b) = match k {
                    Inline::IfNil => (Some(&a[0]), None),
                    Inline::IfNotNil => (None, Some(&a[0])),
                    Inline::IfNilIfNotNil => (Some(&a[0]), Some(&a[1])),
                    _ => (Some(&a[1]), Some(&a[0])),
                };
                self.expr(recv, true)?;
                if let Some(nn) = notnil_b {
                    self.inline_arg_store(nn);
                }
                let eq = special_index("==", 1).unwrap_or(22);
                match (nil_b, notnil_b) {
                    (Some(nb), None) | (None, Some(nb)) => {
                        let is_nil_branch = notnil_b.is_none();
                        let end = self.label();
                        if value {
                            self.op(Ins::Dup, 1);
                        }
                        self.op(Ins::PushNil, 1);
                        self.op(Ins::SendSpecial(eq), -1);
                        let j = if is_nil_branch {
                            Ins::JumpFalse(end)
                        } else {
                            Ins::JumpTrue(end)
                        };
                        self.op(j, -1);
                        if value {
                            self.op(Ins::Pop, -1);
                        }
                        self.inline_body(nb, value)?;
                        self.place(end);
                    }
                    _ => {
                        self.op(Ins::PushNil, 1);
                        self.op(Ins::SendSpecial(eq), -1);
                        self.if_then_else(nil_b, notnil_b, value)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Condition already on the stack.
    fn if_then_else(&mut self, then_b: Option<&Expr>, else_b: Option<&Expr>, value: bool) -> R<()> {
        let else_l = self.label();
        let end = self.label();
        match (then_b, else_b, value) {
            (Some(t), None, false) => {
                self.op(Ins::JumpFalse(end), -1);
                self.inline_body(t, false)?;
                self.place(end);
            }
            (None, Some(e), false) => {
                self.op(Ins::JumpTrue(end), -1);
                self.inline_body(e, false)?;
                self.place(end);
            }
            _ => {
                self.op(Ins::JumpFalse(else_l), -1);
                let returns = then_b.is_some_and(Self::ends_with_return);
                match then_b {
                    Some(t) => self.inline_body(t, value)?,
                    None if value => self.op(Ins::PushNil, 1),
                    None => {}
                }
                if !returns {
                    self.op(Ins::Jump(end), 0);
                }
                self.place(else_l);
                if value {
                    self.depth -= 1;
                }
                match else_b {
                    Some(e) => self.inline_body(e, value)?,
                    None if value => self.op(Ins::PushNil, 1),
                    None => {}
                }
                self.place(end);
            }
        }
        Ok(())
    }

    fn emit_to_do(&mut self, recv: &Expr, msg: &Message, value: bool) -> R<()> {
        let a = &msg.args;
        let Some(body) = a.last().and_then(|x| x.as_block()) else {
            return self.err(msg.pos, "internal: to:do: without block");
        };
        let limit = &a[0];
        let (step, up) = if a.len() == 3 {
            match &a[1] {
                Expr::Literal(l, _) => (l.clone(), l.sign() > 0),
                _ => return self.err(msg.pos, "internal: non-literal step"),
            }
        } else {
            (Literal::Integer(1), true)
        };
        let Some(&var) = self.an.decls.get(&body.args[0].pos.offset) else {
            return self.err(body.pos, "internal: loop variable");
        };
        let limit_tmp = self.an.hidden.get(&(body.pos.offset, HIDDEN_LIMIT)).copied();
        if let Some(t) = limit_tmp {
            self.expr(limit, true)?;
            let loc = self.var_loc(t);
            self.store_loc(loc, true);
        }
        self.expr(recv, true)?;
        let loc = self.var_loc(var);
        self.store_loc(loc, !value);
        let top = self.label();
        let end = self.label();
        self.place(top);
        let loc = self.var_loc(var);
        self.push_loc(loc);
        match limit_tmp {
            Some(t) => {
                let loc = self.var_loc(t);
                self.push_loc(loc);
            }
            None => self.expr(limit, true)?,
        }
        let cmp = special_index(if up { "<=" } else { ">=" }, 1).unwrap_or(4);
        self.op(Ins::SendSpecial(cmp), -1);
        self.op(Ins::JumpFalse(end), -1);
        self.inline_body(&a[a.len() - 1], false)?;
        let loc = self.var_loc(var);
        self.push_loc(loc);
        self.push_literal(&step);
        self.op(Ins::SendSpecial(0), -1);
        let loc = self.var_loc(var);
        self.store_loc(loc, true);
        self.op(Ins::Jump(top), 0);
        self.place(end);
        Ok(())
    }

    fn times_repeat(&mut self, recv: &Expr, blk: &Expr, value: bool) -> R<()> {
        let Some(b) = blk.as_block() else {
            return self.expr(blk, value);
        };
        let (Some(&lim), Some(&ctr)) = (
            self.an.hidden.get(&(b.pos.offset, HIDDEN_LIMIT)),
            self.an.hidden.get(&(b.pos.offset, HIDDEN_COUNTER)),
        ) else {
            return self.err(b.pos, "internal: timesRepeat temps");
        };
        self.expr(recv, true)?;
        let l = self.var_loc(lim);
        self.store_loc(l, !value);
        self.push_literal(&Literal::Integer(1));
        let c = self.var_loc(ctr);
        self.store_loc(c, true);
        let top = self.label();
        let end = self.label();
        self.place(top);
        let c = self.var_loc(ctr);
        self.push_loc(c);
        let l = self.var_loc(lim);
        self.push_loc(l);
        self.op(Ins::SendSpecial(4), -1);
        self.op(Ins::JumpFalse(end), -1);
        self.inline_body(blk, false)?;
        let c = self.var_loc(ctr);
        self.push_loc(c);
        self.push_literal(&Literal::Integer(1));
        self.op(Ins::SendSpecial(0), -1);
        let c = self.var_loc(ctr);
        self.store_loc(c, true);
        self.op(Ins::Jump(top), 0);
        self.place(end);
        Ok(())
    }
}
