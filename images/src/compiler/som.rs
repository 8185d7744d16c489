//! SOM class files (as in are-we-fast-yet benchmarks/Smalltalk/*.som):
//! `Name = Super ( | fields | method = ( body ) ... ---- | classFields | classMethod = ( ... ) )`.
//!
//! Method sources are rebuilt as Smalltalk (`pattern` + body, positions preserved), like AWFY's
//! SomLoader does. Class-side fields become class variables, again following SomLoader.

use super::lexer::{tokenize_chars, CompileError, Tok, Token};
use super::{ClassDef, ClassShape, MethodSource};

pub fn parse_som_class(src: &str) -> Result<ClassDef, CompileError> {
    let chars: Vec<char> = src.chars().collect();
    let toks = tokenize_chars(&chars)?;
    let mut p = Som {
        chars: &chars,
        toks,
        i: 0,
    };
    p.class()
}

struct Som<'a> {
    chars: &'a [char],
    toks: Vec<Token>,
    i: usize,
}

fn is_separator(t: &Tok) -> bool {
    matches!(t, Tok::Binary(s) if s.len() >= 4 && s.chars().all(|c| c == '-'))
}

impl<'a> Som<'a> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn err<T>(&self, msg: &str) -> Result<T, CompileError> {
        Err(CompileError::new(self.peek().pos, msg))
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<Token, CompileError> {
        if self.peek().tok == t {
            Ok(self.advance())
        } else {
            self.err(&format!("{} expected", what))
        }
    }
    fn ident(&mut self, what: &str) -> Result<String, CompileError> {
        match self.peek().tok.clone() {
            Tok::Ident(n) => {
                self.advance();
                Ok(n)
            }
            _ => self.err(&format!("{} expected", what)),
        }
    }
    fn is_binary(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Binary(b) if b == s)
    }

    fn class(&mut self) -> Result<ClassDef, CompileError> {
        let name = self.ident("class name")?;
        if !self.is_binary("=") {
            return self.err("= expected after class name");
        }
        self.advance();
        let mut superclass = Some("Object".to_string());
        if let Tok::Ident(s) = self.peek().tok.clone() {
            self.advance();
            superclass = if s == "nil" { None } else { Some(s) };
        }
        self.expect(Tok::LParen, "(")?;
        let mut def = ClassDef {
            name,
            superclass,
            shape: ClassShape::Pointers,
            ..Default::default()
        };
        def.inst_vars = self.fields()?;
        let mut class_side = false;
        loop {
            let t = self.peek().tok.clone();
            if t == Tok::RParen {
                self.advance();
                break;
            }
            if t == Tok::Eof {
                return self.err(") expected at end of class");
            }
            if is_separator(&t) {
                if class_side {
                    return self.err("duplicate class-side separator");
                }
                self.advance();
                class_side = true;
                def.class_vars = self.fields()?;
                continue;
            }
            let m = self.method(class_side)?;
            def.methods.push(m);
        }
        if self.peek().tok != Tok::Eof {
            return self.err("end of file expected after class");
        }
        Ok(def)
    }

    fn fields(&mut self) -> Result<Vec<String>, CompileError> {
        let mut v = Vec::new();
        if self.is_binary("||") {
            self.advance();
            return Ok(v);
        }
        if !self.is_binary("|") {
            return Ok(v);
        }
        self.advance();
        loop {
            match self.peek().tok.clone() {
                Tok::Ident(n) => {
                    self.advance();
                    v.push(n);
                }
                Tok::Binary(s) if s == "|" => {
                    self.advance();
                    return Ok(v);
                }
                _ => return self.err("field name or | expected"),
            }
        }
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from.min(self.chars.len())..to.min(self.chars.len())]
            .iter()
            .collect()
    }

    fn method(&mut self, class_side: bool) -> Result<MethodSource, CompileError> {
        let start = self.peek().clone();
        let mut selector = String::new();
        match start.tok.clone() {
            Tok::Ident(n) => {
                self.advance();
                selector = n;
            }
            Tok::Binary(op) => {
                self.advance();
                self.ident("argument name")?;
                selector = op;
            }
            Tok::Keyword(_) => {
                while let Tok::Keyword(k) = self.peek().tok.clone() {
                    self.advance();
                    selector.push_str(&k);
                    self.ident("argument name")?;
                }
            }
            _ => return self.err("method pattern expected"),
        }
        if !self.is_binary("=") {
            return self.err("= expected after method pattern");
        }
        let eq = self.advance();
        if matches!(&self.peek().tok, Tok::Ident(p) if p == "primitive") {
            self.advance();
            return Ok(MethodSource {
                selector,
                source: self.text(start.pos.offset, eq.pos.offset).trim_end().to_string(),
                line: start.pos.line,
                class_side,
                category: None,
                is_som_primitive: true,
            });
        }
        let open = self.expect(Tok::LParen, "( or primitive")?;
        let mut depth = 1;
        let close = loop {
            let t = self.advance();
            match t.tok {
                Tok::LParen | Tok::LitArrayStart => depth += 1,
                Tok::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        break t;
                    }
                }
                Tok::Eof => return Err(CompileError::new(open.pos, "unclosed method body")),
                _ => {}
            }
        };
        // Keep every char position: blank out `= (` instead of removing it.
        let head: String = self.chars[start.pos.offset..open.end]
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let at = start.pos.offset + k;
                if at == eq.pos.offset || at == open.pos.offset {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        let mut source = head;
        source.push_str(&self.text(open.end, close.pos.offset));
        Ok(MethodSource {
            selector,
            source,
            line: start.pos.line,
            class_side,
            category: None,
            is_som_primitive: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compile_method, BytecodeSet, ClassContext, CompileOptions};
    use super::*;

    const SAMPLE: &str = "\"header\"\nFoo = Bar (\n  | a b |\n  init = ( a := 1. b := #(1 2) )\n  + other = ( ^ a + other )\n  at: i put: v = (\n    | t |\n    t := [:x | x * 2] value: i.\n    ^ t\n  )\n  prim = primitive\n  ----\n  | count |\n  new = ( ^ super new init )\n)\n";

    #[test]
    fn parses_sample() {
        let c = parse_som_class(SAMPLE).unwrap();
        assert_eq!(c.name, "Foo");
        assert_eq!(c.superclass.as_deref(), Some("Bar"));
        assert_eq!(c.inst_vars, vec!["a", "b"]);
        assert_eq!(c.class_vars, vec!["count"]);
        let sels: Vec<_> = c.methods.iter().map(|m| m.selector.as_str()).collect();
        assert_eq!(sels, vec!["init", "+", "at:put:", "prim", "new"]);
        assert!(c.methods[3].is_som_primitive);
        assert!(c.methods[4].class_side);
        assert_eq!(c.methods[2].line, 6);
        let ctx = ClassContext {
            class_name: "Foo".into(),
            class_side: false,
            inst_vars: c.inst_vars.clone(),
        };
        for set in [BytecodeSet::SistaV1, BytecodeSet::V3PlusClosures] {
            let opts = CompileOptions {
                bytecode_set: set,
                ..Default::default()
            };
            for m in c.methods.iter().filter(|m| !m.is_som_primitive) {
                compile_method(&m.source, &ctx, &opts).unwrap();
            }
        }
    }

    #[test]
    fn error_lines_map_to_file() {
        let src = "Foo = (\n  ok = ( ^ 1 )\n  bad = (\n    ^ 1 +\n  )\n)\n";
        let c = parse_som_class(src).unwrap();
        let m = &c.methods[1];
        let e = super::super::parse_method(&m.source).unwrap_err();
        // Error is on file line 5 (the closing paren of the method), method starts at line 3.
        assert_eq!(e.line + m.line - 1, 5);
    }

    /// Parses (and compiles with both bytecode sets) every .som file under $AWFY_DIR.
    #[test]
    fn awfy_corpus() {
        let Ok(dir) = std::env::var("AWFY_DIR") else {
            eprintln!("AWFY_DIR not set; skipping are-we-fast-yet SOM corpus test");
            return;
        };
        let mut files = Vec::new();
        collect(std::path::Path::new(&dir), &mut files);
        assert!(!files.is_empty(), "no .som files under {}", dir);
        let mut methods = 0;
        for f in &files {
            let src = std::fs::read_to_string(f).unwrap();
            let c = parse_som_class(&src).unwrap_or_else(|e| panic!("{}:{}", f.display(), e));
            for m in &c.methods {
                if m.is_som_primitive {
                    continue;
                }
                for set in [BytecodeSet::SistaV1, BytecodeSet::V3PlusClosures] {
                    let ctx = ClassContext {
                        class_name: c.name.clone(),
                        class_side: m.class_side,
                        inst_vars: if m.class_side { vec![] } else { c.inst_vars.clone() },
                    };
                    let opts = CompileOptions {
                        bytecode_set: set,
                        ..Default::default()
                    };
                    let spec = compile_method(&m.source, &ctx, &opts)
                        .unwrap_or_else(|e| panic!("{}:{}: {}", f.display(), e.line + m.line - 1, e.message));
                    super::super::disasm::disassemble(&spec).unwrap();
                }
                methods += 1;
            }
        }
        eprintln!("AWFY: {} files, {} methods compiled", files.len(), methods);
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    collect(&p, out);
                } else if p.extension().is_some_and(|x| x == "som") {
                    out.push(p);
                }
            }
        }
    }
}
