//! Recursive-descent parser for Smalltalk method and do-it syntax.

use super::ast::*;
use super::lexer::{tokenize, CompileError, Pos, Tok, Token};
use super::method::{Literal, Pragma};

/// Parse a full method definition (pattern, pragmas, temps, statements).
pub fn parse_method(src: &str) -> Result<MethodNode, CompileError> {
    let mut p = Parser::new(tokenize(src)?);
    let m = p.method()?;
    p.expect_eof()?;
    Ok(m)
}

/// Parse a do-it: optional temporaries then statements; it answers its last expression.
pub fn parse_doit(src: &str) -> Result<MethodNode, CompileError> {
    let mut p = Parser::new(tokenize(src)?);
    let pos = p.peek().pos;
    let temps = if p.is_bar() { p.temps()? } else { Vec::new() };
    let body = p.statements()?;
    p.expect_eof()?;
    Ok(MethodNode {
        selector: "DoIt".into(),
        args: Vec::new(),
        temps,
        pragmas: Vec::new(),
        primitive: None,
        prim_error_temp: None,
        body,
        pos,
        is_doit: true,
    })
}

/// Parse just a method pattern, answering (selector, args).
pub fn parse_pattern(src: &str) -> Result<(String, Vec<Ident>), CompileError> {
    let mut p = Parser::new(tokenize(src)?);
    let r = p.pattern()?;
    p.expect_eof()?;
    Ok(r)
}

pub struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 100;

fn is_pseudo(name: &str) -> bool {
    matches!(name, "self" | "super" | "thisContext" | "nil" | "true" | "false")
}

impl Parser {
    pub fn new(toks: Vec<Token>) -> Parser {
        Parser { toks, i: 0, depth: 0 }
    }

    pub fn peek(&self) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[self.i.min(last)]
    }
    fn peek2(&self) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[(self.i + 1).min(last)]
    }
    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, CompileError> {
        Err(CompileError::new(self.peek().pos, msg))
    }
    fn describe(&self) -> String {
        match &self.peek().tok {
            Tok::Eof => "end of input".into(),
            t => format!("{:?}", t),
        }
    }
    pub fn expect_eof(&self) -> Result<(), CompileError> {
        if self.peek().tok == Tok::Eof {
            Ok(())
        } else {
            self.err(format!("unexpected {}", self.describe()))
        }
    }
    fn is_bar(&self) -> bool {
        matches!(&self.peek().tok, Tok::Binary(s) if s == "|" || s == "||")
    }
    fn is_binary(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Binary(b) if b == s)
    }
    fn enter(&mut self) -> Result<(), CompileError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("expression nested too deeply");
        }
        Ok(())
    }

    fn ident(&mut self, what: &str) -> Result<Ident, CompileError> {
        match &self.peek().tok {
            Tok::Ident(n) => {
                let id = Ident {
                    name: n.clone(),
                    pos: self.peek().pos,
                };
                self.advance();
                Ok(id)
            }
            _ => self.err(format!("{} expected", what)),
        }
    }

    fn decl_ident(&mut self, what: &str) -> Result<Ident, CompileError> {
        let id = self.ident(what)?;
        if is_pseudo(&id.name) {
            return Err(CompileError::new(
                id.pos,
                format!("cannot use {} as a variable name", id.name),
            ));
        }
        Ok(id)
    }

    pub fn pattern(&mut self) -> Result<(String, Vec<Ident>), CompileError> {
        match self.peek().tok.clone() {
            Tok::Ident(n) => {
                self.advance();
                Ok((n, Vec::new()))
            }
            Tok::Binary(op) => {
                self.advance();
                let a = self.decl_ident("argument name")?;
                Ok((op, vec![a]))
            }
            Tok::Keyword(_) => {
                let mut sel = String::new();
                let mut args = Vec::new();
                while let Tok::Keyword(k) = self.peek().tok.clone() {
                    self.advance();
                    sel.push_str(&k);
                    args.push(self.decl_ident("argument name")?);
                }
                Ok((sel, args))
            }
            _ => self.err("message pattern expected"),
        }
    }

    /// `| a b |` (also `||` for no temps).
    fn temps(&mut self) -> Result<Vec<Ident>, CompileError> {
        if self.is_binary("||") {
            self.advance();
            return Ok(Vec::new());
        }
        self.advance(); // |
        let mut v = Vec::new();
        loop {
            match &self.peek().tok {
                Tok::Ident(_) => v.push(self.decl_ident("temporary")?),
                Tok::Binary(s) if s == "|" => {
                    self.advance();
                    return Ok(v);
                }
                _ => return self.err("temporary name or | expected"),
            }
        }
    }

    fn method(&mut self) -> Result<MethodNode, CompileError> {
        let pos = self.peek().pos;
        let (selector, args) = self.pattern()?;
        let mut m = MethodNode {
            selector,
            args,
            temps: Vec::new(),
            pragmas: Vec::new(),
            primitive: None,
            prim_error_temp: None,
            body: Vec::new(),
            pos,
            is_doit: false,
        };
        let mut seen_temps = false;
        loop {
            if self.is_binary("<") {
                self.pragma(&mut m)?;
            } else if self.is_bar() && !seen_temps {
                seen_temps = true;
                let t = self.temps()?;
                m.temps.extend(t);
            } else {
                break;
            }
        }
        m.body = self.statements()?;
        Ok(m)
    }

    fn pragma_arg(&mut self) -> Result<Literal, CompileError> {
        match self.peek().tok.clone() {
            Tok::Ident(n) => {
                self.advance();
                Ok(match n.as_str() {
                    "true" => Literal::True,
                    "false" => Literal::False,
                    "nil" => Literal::Nil,
                    _ => Literal::Symbol(n),
                })
            }
            _ => self.literal(),
        }
    }

    fn pragma(&mut self, m: &mut MethodNode) -> Result<(), CompileError> {
        let start = self.advance().pos; // <
        let mut sel = String::new();
        let mut args = Vec::new();
        let mut arg_pos = Vec::new();
        match self.peek().tok.clone() {
            Tok::Ident(n) => {
                self.advance();
                sel = n;
            }
            Tok::Keyword(_) => {
                while let Tok::Keyword(k) = self.peek().tok.clone() {
                    self.advance();
                    sel.push_str(&k);
                    arg_pos.push(self.peek().pos);
                    args.push(self.pragma_arg()?);
                }
            }
            Tok::Binary(op) if op != ">" => {
                self.advance();
                sel = op;
                arg_pos.push(self.peek().pos);
                args.push(self.pragma_arg()?);
            }
            _ => return self.err("pragma selector expected"),
        }
        if !self.is_binary(">") {
            return self.err("> expected to close pragma");
        }
        self.advance();
        let bad = |p: Pos, msg: &str| Err(CompileError::new(p, msg));
        if sel.starts_with("primitive:") {
            if m.primitive.is_some() {
                return bad(start, "duplicate primitive");
            }
            let prim = match (&args[0], sel.as_str()) {
                (Literal::Integer(n), "primitive:" | "primitive:error:") => {
                    if *n < 1 || *n > 8191 {
                        return bad(arg_pos[0], "primitive number out of range");
                    }
                    PrimitiveSpec::Numbered(*n as u16)
                }
                (Literal::String(name), "primitive:" | "primitive:error:") => PrimitiveSpec::Named {
                    module: None,
                    name: name.clone(),
                },
                (Literal::String(name), "primitive:module:" | "primitive:module:error:") => match &args[1] {
                    Literal::String(module) => PrimitiveSpec::Named {
                        module: Some(module.clone()),
                        name: name.clone(),
                    },
                    _ => return bad(arg_pos[1], "module name string expected"),
                },
                _ => return bad(arg_pos[0], "invalid primitive pragma"),
            };
            if sel.ends_with("error:") {
                match args.last() {
                    Some(Literal::Symbol(ec)) if !ec.contains(':') => {
                        let id = Ident {
                            name: ec.clone(),
                            pos: *arg_pos.last().unwrap_or(&start),
                        };
                        m.prim_error_temp = Some(id);
                    }
                    _ => {
                        return bad(
                            *arg_pos.last().unwrap_or(&start),
                            "error code variable name expected",
                        )
                    }
                }
            }
            m.primitive = Some(prim);
        }
        m.pragmas.push(Pragma { selector: sel, args });
        Ok(())
    }

    /// Statements up to (not including) `]`, `)`, `}` or end of input.
    pub fn statements(&mut self) -> Result<Vec<Stmt>, CompileError> {
        let mut out = Vec::new();
        loop {
            while self.peek().tok == Tok::Period {
                self.advance();
            }
            match self.peek().tok {
                Tok::Eof | Tok::RBracket | Tok::RParen | Tok::RBrace => return Ok(out),
                _ => {}
            }
            if self.peek().tok == Tok::Caret {
                let pos = self.advance().pos;
                let e = self.expression()?;
                out.push(Stmt::Return(e, pos));
                while self.peek().tok == Tok::Period {
                    self.advance();
                }
                match self.peek().tok {
                    Tok::Eof | Tok::RBracket | Tok::RParen | Tok::RBrace => return Ok(out),
                    _ => return self.err("statement after return (end of block expected)"),
                }
            }
            let e = self.expression()?;
            out.push(Stmt::Expr(e));
            match self.peek().tok {
                Tok::Period => {}
                Tok::Eof | Tok::RBracket | Tok::RParen | Tok::RBrace => return Ok(out),
                _ => return self.err(format!("period or end expected, found {}", self.describe())),
            }
        }
    }

    pub fn expression(&mut self) -> Result<Expr, CompileError> {
        self.enter()?;
        let r = self.expression_inner();
        self.depth -= 1;
        r
    }

    fn expression_inner(&mut self) -> Result<Expr, CompileError> {
        if let (Tok::Ident(n), Tok::Assign) = (&self.peek().tok, &self.peek2().tok) {
            let var = Ident {
                name: n.clone(),
                pos: self.peek().pos,
            };
            if is_pseudo(&var.name) {
                return self.err(format!("cannot store into {}", var.name));
            }
            self.advance();
            self.advance();
            let value = self.expression()?;
            return Ok(Expr::Assign {
                var,
                value: Box::new(value),
            });
        }
        let e = self.keyword_expr()?;
        if self.peek().tok != Tok::Semicolon {
            return Ok(e);
        }
        let (receiver, first) = match e {
            Expr::Send { receiver, msg } => (receiver, msg),
            _ => return self.err("cascade must follow a message send"),
        };
        if matches!(*receiver, Expr::Super(_)) {
            return self.err("cannot cascade to super");
        }
        let mut msgs = vec![first];
        while self.peek().tok == Tok::Semicolon {
            self.advance();
            msgs.push(self.cascade_message()?);
        }
        Ok(Expr::Cascade { receiver, msgs })
    }

    /// One message of a cascade part (unary, binary or keyword).
    fn cascade_message(&mut self) -> Result<Message, CompileError> {
        let pos = self.peek().pos;
        match self.peek().tok.clone() {
            Tok::Ident(n) => {
                self.advance();
                Ok(Message {
                    selector: n,
                    args: Vec::new(),
                    pos,
                })
            }
            Tok::Binary(op) => {
                self.advance();
                let arg = self.unary_expr()?;
                Ok(Message {
                    selector: op,
                    args: vec![arg],
                    pos,
                })
            }
            Tok::Keyword(_) => self.keyword_message(),
            _ => self.err("cascaded message expected"),
        }
    }

    fn keyword_message(&mut self) -> Result<Message, CompileError> {
        let pos = self.peek().pos;
        let mut sel = String::new();
        let mut args = Vec::new();
        while let Tok::Keyword(k) = self.peek().tok.clone() {
            self.advance();
            sel.push_str(&k);
            args.push(self.binary_expr()?);
        }
        Ok(Message {
            selector: sel,
            args,
            pos,
        })
    }

    fn keyword_expr(&mut self) -> Result<Expr, CompileError> {
        let r = self.binary_expr()?;
        if let Tok::Keyword(_) = self.peek().tok {
            let msg = self.keyword_message()?;
            return Ok(Expr::Send {
                receiver: Box::new(r),
                msg,
            });
        }
        Ok(r)
    }

    fn binary_expr(&mut self) -> Result<Expr, CompileError> {
        let mut r = self.unary_expr()?;
        while let Tok::Binary(op) = self.peek().tok.clone() {
            let pos = self.advance().pos;
            let arg = self.unary_expr()?;
            r = Expr::Send {
                receiver: Box::new(r),
                msg: Message {
                    selector: op,
                    args: vec![arg],
                    pos,
                },
            };
        }
        Ok(r)
    }

    fn unary_expr(&mut self) -> Result<Expr, CompileError> {
        let mut r = self.primary()?;
        while let Tok::Ident(n) = self.peek().tok.clone() {
            let pos = self.advance().pos;
            r = Expr::Send {
                receiver: Box::new(r),
                msg: Message {
                    selector: n,
                    args: Vec::new(),
                    pos,
                },
            };
        }
        Ok(r)
    }

    fn primary(&mut self) -> Result<Expr, CompileError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Ident(n) => {
                self.advance();
                Ok(match n.as_str() {
                    "self" => Expr::SelfRef(t.pos),
                    "super" => Expr::Super(t.pos),
                    "thisContext" => Expr::ThisContext(t.pos),
                    "nil" => Expr::Literal(Literal::Nil, t.pos),
                    "true" => Expr::Literal(Literal::True, t.pos),
                    "false" => Expr::Literal(Literal::False, t.pos),
                    _ => Expr::Var(Ident { name: n, pos: t.pos }),
                })
            }
            Tok::LParen => {
                self.advance();
                let e = self.expression()?;
                if self.peek().tok != Tok::RParen {
                    return self.err(format!(") expected, found {}", self.describe()));
                }
                self.advance();
                Ok(e)
            }
            Tok::LBracket => self.block(),
            Tok::LBrace => {
                self.advance();
                self.enter()?;
                let stmts = self.statements();
                self.depth -= 1;
                let mut elems = Vec::new();
                for s in stmts? {
                    match s {
                        Stmt::Expr(e) => elems.push(e),
                        Stmt::Return(_, p) => {
                            return Err(CompileError::new(p, "return not allowed in brace array"))
                        }
                    }
                }
                if self.peek().tok != Tok::RBrace {
                    return self.err("} expected");
                }
                self.advance();
                Ok(Expr::Brace(elems, t.pos))
            }
            Tok::Binary(ref op) if op == "-" => {
                // Negative literal: `-` immediately followed by a number.
                let next = self.peek2().clone();
                if let Tok::Number(lit) = &next.tok {
                    if next.pos.offset == t.end {
                        self.advance();
                        self.advance();
                        return match lit.negated() {
                            Some(l) => Ok(Expr::Literal(l, t.pos)),
                            None => Err(CompileError::new(t.pos, "cannot negate literal")),
                        };
                    }
                }
                self.err("expression expected")
            }
            Tok::Eof => self.err("expression expected, found end of input"),
            _ => {
                let lit = self.literal()?;
                Ok(Expr::Literal(lit, t.pos))
            }
        }
    }

    fn block(&mut self) -> Result<Expr, CompileError> {
        self.enter()?;
        let pos = self.advance().pos; // [
        let mut args = Vec::new();
        let mut temps = Vec::new();
        if self.peek().tok == Tok::Colon {
            while self.peek().tok == Tok::Colon {
                self.advance();
                args.push(self.decl_ident("block argument name")?);
            }
            if self.is_binary("||") {
                // `[:x || t | ...]`: end of args immediately followed by temps.
                self.advance();
                loop {
                    match &self.peek().tok {
                        Tok::Ident(_) => temps.push(self.decl_ident("temporary")?),
                        Tok::Binary(s) if s == "|" => {
                            self.advance();
                            break;
                        }
                        _ => return self.err("temporary name or | expected"),
                    }
                }
            } else if self.is_binary("|") {
                self.advance();
            } else if self.peek().tok != Tok::RBracket {
                return self.err("| expected after block arguments");
            }
        }
        if self.is_bar() {
            temps.extend(self.temps()?);
        }
        let body = self.statements()?;
        if self.peek().tok != Tok::RBracket {
            return self.err(format!("] expected, found {}", self.describe()));
        }
        self.advance();
        self.depth -= 1;
        Ok(Expr::Block(Box::new(Block {
            args,
            temps,
            body,
            pos,
        })))
    }

    /// A literal constant token (numbers, strings, symbols, chars, literal/byte arrays).
    pub fn literal(&mut self) -> Result<Literal, CompileError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Number(l) => {
                self.advance();
                Ok(l)
            }
            Tok::Str(s) => {
                self.advance();
                Ok(Literal::String(s))
            }
            Tok::Symbol(s) => {
                self.advance();
                Ok(Literal::Symbol(s))
            }
            Tok::Char(c) => {
                self.advance();
                Ok(Literal::Char(c))
            }
            Tok::LitArrayStart => {
                self.advance();
                self.literal_array_body()
            }
            Tok::ByteArrayStart => {
                self.advance();
                self.byte_array_body()
            }
            Tok::Binary(ref op) if op == "-" => {
                let next = self.peek2().clone();
                if let Tok::Number(lit) = &next.tok {
                    if next.pos.offset == t.end {
                        self.advance();
                        self.advance();
                        return lit
                            .negated()
                            .ok_or_else(|| CompileError::new(t.pos, "cannot negate literal"));
                    }
                }
                self.err("literal expected")
            }
            _ => self.err(format!("literal expected, found {}", self.describe())),
        }
    }

    fn byte_array_body(&mut self) -> Result<Literal, CompileError> {
        let mut bytes = Vec::new();
        loop {
            match self.peek().tok.clone() {
                Tok::RBracket => {
                    self.advance();
                    return Ok(Literal::ByteArray(bytes));
                }
                Tok::Number(Literal::Integer(v)) if (0..=255).contains(&v) => {
                    self.advance();
                    bytes.push(v as u8);
                }
                _ => return self.err("byte value (0-255) or ] expected"),
            }
        }
    }

    fn literal_array_body(&mut self) -> Result<Literal, CompileError> {
        self.enter()?;
        let mut elems = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::RParen => {
                    self.advance();
                    self.depth -= 1;
                    return Ok(Literal::Array(elems));
                }
                Tok::LParen | Tok::LitArrayStart => {
                    self.advance();
                    elems.push(self.literal_array_body()?);
                }
                Tok::LBracket | Tok::ByteArrayStart => {
                    self.advance();
                    elems.push(self.byte_array_body()?);
                }
                Tok::Ident(n) => {
                    self.advance();
                    elems.push(match n.as_str() {
                        "true" => Literal::True,
                        "false" => Literal::False,
                        "nil" => Literal::Nil,
                        _ => Literal::Symbol(n),
                    });
                }
                Tok::Keyword(k) => {
                    // Adjacent keywords form one symbol: `foo:bar:` (and `foo:bar`).
                    self.advance();
                    let mut s = k;
                    let mut end = t.end;
                    loop {
                        let n = self.peek().clone();
                        if n.pos.offset != end {
                            break;
                        }
                        match n.tok {
                            Tok::Keyword(k2) => s.push_str(&k2),
                            Tok::Ident(i2) => s.push_str(&i2),
                            _ => break,
                        }
                        end = n.end;
                        self.advance();
                    }
                    elems.push(Literal::Symbol(s));
                }
                Tok::Binary(ref op) => {
                    let next = self.peek2().clone();
                    if op == "-" && matches!(next.tok, Tok::Number(_)) && next.pos.offset == t.end {
                        elems.push(self.literal()?);
                    } else {
                        self.advance();
                        elems.push(Literal::Symbol(op.clone()));
                    }
                }
                Tok::Caret | Tok::Semicolon | Tok::Period | Tok::Colon | Tok::Assign => {
                    // Squeak reads these as symbols inside literal arrays.
                    self.advance();
                    let s = match t.tok {
                        Tok::Caret => "^",
                        Tok::Semicolon => ";",
                        Tok::Period => ".",
                        Tok::Colon => ":",
                        _ => ":=",
                    };
                    elems.push(Literal::Symbol(s.into()));
                }
                Tok::Eof => return self.err(") expected to close literal array"),
                _ => elems.push(self.literal()?),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_basics() {
        let m = parse_method("at: i put: v <primitive: 61 error: ec> | a b | a := i. ^ super at: i put: v")
            .unwrap();
        assert_eq!(m.selector, "at:put:");
        assert_eq!(m.args.len(), 2);
        assert_eq!(m.temps.len(), 2);
        assert_eq!(m.primitive, Some(PrimitiveSpec::Numbered(61)));
        assert_eq!(m.prim_error_temp.as_ref().unwrap().name, "ec");
        assert_eq!(m.body.len(), 2);
    }

    #[test]
    fn named_primitive_and_pragmas() {
        let m = parse_method("foo <primitive: 'prim' module: 'Mod'> <bar: 1 baz: #(a b)> ^1").unwrap();
        assert_eq!(
            m.primitive,
            Some(PrimitiveSpec::Named {
                module: Some("Mod".into()),
                name: "prim".into()
            })
        );
        assert_eq!(m.pragmas.len(), 2);
        assert_eq!(m.pragmas[1].selector, "bar:baz:");
    }

    #[test]
    fn literal_arrays() {
        let m = parse_method("foo ^ #(1 $a #foo foo: (nested) true nil #(x) #[1 2] foo:bar: - -3 + 16r1F)")
            .unwrap();
        let Stmt::Return(Expr::Literal(Literal::Array(a), _), _) = &m.body[0] else {
            panic!()
        };
        assert_eq!(a.len(), 14);
        assert_eq!(a[3], Literal::Symbol("foo:".into()));
        assert_eq!(a[4], Literal::Array(vec![Literal::Symbol("nested".into())]));
        assert_eq!(a[5], Literal::True);
        assert_eq!(a[8], Literal::ByteArray(vec![1, 2]));
        assert_eq!(a[9], Literal::Symbol("foo:bar:".into()));
        assert_eq!(a[10], Literal::Symbol("-".into()));
        assert_eq!(a[11], Literal::Integer(-3));
        assert_eq!(a[12], Literal::Symbol("+".into()));
        assert_eq!(a[13], Literal::Integer(31));
    }

    #[test]
    fn negative_literals_and_binary_minus() {
        let m = parse_method("foo ^ 3-4").unwrap();
        let Stmt::Return(Expr::Send { msg, .. }, _) = &m.body[0] else {
            panic!()
        };
        assert_eq!(msg.selector, "-");
        let m = parse_method("foo ^ 3 - -4").unwrap();
        let Stmt::Return(Expr::Send { msg, .. }, _) = &m.body[0] else {
            panic!()
        };
        assert_eq!(
            msg.args[0],
            Expr::Literal(Literal::Integer(-4), msg.args[0].pos())
        );
        let m = parse_method("foo ^ -16r1F").unwrap();
        assert!(matches!(
            &m.body[0],
            Stmt::Return(Expr::Literal(Literal::Integer(-31), _), _)
        ));
    }

    #[test]
    fn cascade_and_blocks() {
        let m = parse_method("foo Transcript show: 'a'; cr; show: 1 + 2. ^ [:x :y | | t | t := x. t + y]")
            .unwrap();
        let Stmt::Expr(Expr::Cascade { msgs, .. }) = &m.body[0] else {
            panic!()
        };
        assert_eq!(msgs.len(), 3);
        let Stmt::Return(Expr::Block(b), _) = &m.body[1] else {
            panic!()
        };
        assert_eq!((b.args.len(), b.temps.len(), b.body.len()), (2, 1, 2));
        let m = parse_method("foo ^ [:x || t | t]").unwrap();
        let Stmt::Return(Expr::Block(b), _) = &m.body[0] else {
            panic!()
        };
        assert_eq!((b.args.len(), b.temps.len()), (1, 1));
    }

    #[test]
    fn doit() {
        let m = parse_doit("| a | a := 3 + 4. a * 2").unwrap();
        assert!(m.is_doit);
        assert_eq!(m.temps.len(), 1);
        assert_eq!(m.body.len(), 2);
        assert!(parse_doit("").unwrap().body.is_empty());
    }

    #[test]
    fn errors_have_positions() {
        let cases: &[(&str, usize, usize)] = &[
            ("foo\n  ^ (1 + 2", 2, 11),
            ("foo\n  x := .", 2, 8),
            ("foo\n\t^ 1. 2", 2, 7),
            ("foo: 1", 1, 6),
            ("foo [:x x]", 1, 9),
            ("foo ^ #(1 2", 1, 12),
            ("foo ^ 'abc", 1, 7),
            ("foo\n\n   self := 3", 3, 4),
            ("foo <primitive: 'x' module: 3>", 1, 29),
            ("foo ^ #[1 256]", 1, 11),
            ("foo ^ 37r1", 1, 7),
            ("foo\n  ^ a foo; bar baz", 2, 16),
        ];
        for (src, line, col) in cases {
            let e = parse_method(src).expect_err(src);
            assert_eq!((e.line, e.column), (*line, *col), "{}: {}", src, e.message);
        }
    }
}
