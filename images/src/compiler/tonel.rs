//! Tonel (Pharo file-per-class) reader: optional class comment, `Class { ... }` /
//! `Extension { ... }` / `Trait { ... }` STON header, then methods
//! `[{ metadata }] Foo [class] >> pattern [ body ]`.

use super::lexer::{CompileError, Pos};
use super::parser::parse_pattern;
use super::{ClassDef, ClassShape, MethodSource};

#[derive(Debug, Clone, PartialEq)]
enum Ston {
    Str(String),
    Sym(String),
    Other(String),
    List(Vec<Ston>),
    Map(Vec<(String, Ston)>),
}

impl Ston {
    fn text(&self) -> Option<String> {
        match self {
            Ston::Str(s) | Ston::Sym(s) | Ston::Other(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn names(&self) -> Vec<String> {
        match self {
            Ston::List(v) => v.iter().filter_map(|x| x.text()).collect(),
            // Older Tonel sometimes writes a space-separated string.
            Ston::Str(s) => s.split_whitespace().map(String::from).collect(),
            _ => Vec::new(),
        }
    }
}

struct Cur<'a> {
    c: &'a [char],
    i: usize,
    line_starts: Vec<usize>,
}

pub fn parse_tonel_class(src: &str) -> Result<ClassDef, CompileError> {
    let chars: Vec<char> = src.chars().collect();
    let mut line_starts = vec![0];
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '\n' {
            line_starts.push(i + 1);
        }
    }
    let mut cur = Cur {
        c: &chars,
        i: 0,
        line_starts,
    };
    cur.file()
}

impl<'a> Cur<'a> {
    fn pos_at(&self, i: usize) -> Pos {
        let line = match self.line_starts.binary_search(&i) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        Pos {
            line: line + 1,
            col: i - self.line_starts[line] + 1,
            offset: i,
        }
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, CompileError> {
        Err(CompileError::new(self.pos_at(self.i), msg))
    }
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn skip_ws(&mut self) -> Result<(), CompileError> {
        while let Some(ch) = self.peek() {
            if ch.is_whitespace() {
                self.i += 1;
            } else if ch == '"' {
                self.quoted('"')?;
            } else {
                break;
            }
        }
        Ok(())
    }
    /// Read a `q`-quoted run with doubled-quote escapes; cursor on the opening quote.
    fn quoted(&mut self, q: char) -> Result<String, CompileError> {
        let start = self.i;
        self.i += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    self.i = start;
                    return self.err("unterminated string or comment");
                }
                Some(ch) if ch == q => {
                    self.i += 1;
                    if self.peek() == Some(q) {
                        self.i += 1;
                        s.push(q);
                    } else {
                        return Ok(s);
                    }
                }
                Some(ch) => {
                    s.push(ch);
                    self.i += 1;
                }
            }
        }
    }
    fn word(&mut self) -> String {
        let mut s = String::new();
        while let Some(ch) = self.peek() {
            if ch.is_alphanumeric() || ch == '_' || ch == ':' || ch == '.' || ch == '-' {
                s.push(ch);
                self.i += 1;
            } else {
                break;
            }
        }
        s
    }
    fn expect(&mut self, ch: char) -> Result<(), CompileError> {
        self.skip_ws()?;
        if self.peek() == Some(ch) {
            self.i += 1;
            Ok(())
        } else {
            self.err(format!("'{}' expected", ch))
        }
    }

    fn ston(&mut self) -> Result<Ston, CompileError> {
        self.skip_ws()?;
        match self.peek() {
            Some('\'') => Ok(Ston::Str(self.quoted('\'')?)),
            Some('#') => {
                self.i += 1;
                if self.peek() == Some('\'') {
                    Ok(Ston::Sym(self.quoted('\'')?))
                } else {
                    let w = self.word();
                    if w.is_empty() {
                        return self.err("symbol expected");
                    }
                    Ok(Ston::Sym(w))
                }
            }
            Some('[') => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    self.skip_ws()?;
                    if self.peek() == Some(']') {
                        self.i += 1;
                        return Ok(Ston::List(v));
                    }
                    v.push(self.ston()?);
                    self.skip_ws()?;
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(']') => {}
                        _ => return self.err("',' or ']' expected"),
                    }
                }
            }
            Some('{') => self.map(),
            Some(ch) if ch.is_alphanumeric() || ch == '-' => Ok(Ston::Other(self.word())),
            _ => self.err("STON value expected"),
        }
    }

    fn map(&mut self) -> Result<Ston, CompileError> {
        self.expect('{')?;
        let mut v = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some('}') {
                self.i += 1;
                return Ok(Ston::Map(v));
            }
            let key = match self.ston()? {
                Ston::Str(s) | Ston::Sym(s) | Ston::Other(s) => s,
                _ => return self.err("map key expected"),
            };
            // `#classInstVars: [...]` scans the colon into the symbol.
            let key = match key.strip_suffix(':') {
                Some(k) => k.to_string(),
                None => {
                    self.expect(':')?;
                    key
                }
            };
            let val = self.ston()?;
            v.push((key, val));
            self.skip_ws()?;
            match self.peek() {
                Some(',') => self.i += 1,
                Some('}') => {}
                _ => return self.err("',' or '}' expected"),
            }
        }
    }

    fn file(&mut self) -> Result<ClassDef, CompileError> {
        let mut def = ClassDef::default();
        while self.peek().is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
        if self.peek() == Some('"') {
            def.class_comment = Some(self.quoted('"')?);
        }
        self.skip_ws()?;
        let kind = self.word();
        match kind.as_str() {
            "Class" => {}
            "Extension" => def.is_extension = true,
            "Trait" => def.is_trait = true,
            _ => return self.err("Class, Extension or Trait expected"),
        }
        let Ston::Map(entries) = self.map()? else {
            return self.err("class definition map expected");
        };
        for (k, v) in entries {
            match k.as_str() {
                "name" => def.name = v.text().unwrap_or_default(),
                "superclass" => def.superclass = v.text().filter(|s| s != "nil"),
                "instVars" => def.inst_vars = v.names(),
                "classVars" => def.class_vars = v.names(),
                "classInstVars" => def.class_inst_vars = v.names(),
                "pools" => def.pools = v.names(),
                "category" => def.category = v.text(),
                "package" if def.category.is_none() => def.category = v.text(),
                "type" => def.shape = shape_of(&v.text().unwrap_or_default()),
                _ => {}
            }
        }
        if def.name.is_empty() {
            return self.err("class definition without #name");
        }
        loop {
            self.skip_ws()?;
            if self.peek().is_none() {
                return Ok(def);
            }
            let mut category = None;
            if self.peek() == Some('{') {
                if let Ston::Map(m) = self.map()? {
                    for (k, v) in m {
                        if k == "category" {
                            category = v.text();
                        }
                    }
                }
                self.skip_ws()?;
            }
            let m = self.method(&def.name, category)?;
            def.methods.push(m);
        }
    }

    fn method(&mut self, class: &str, category: Option<String>) -> Result<MethodSource, CompileError> {
        let head_start = self.i;
        // Header: `Foo [class] >> pattern` up to the body's `[`.
        while let Some(ch) = self.peek() {
            if ch == '[' {
                break;
            }
            self.i += 1;
        }
        if self.peek() != Some('[') {
            self.i = head_start;
            return self.err("method definition expected");
        }
        let header: String = self.c[head_start..self.i].iter().collect();
        let Some(sep) = header.find(">>") else {
            self.i = head_start;
            return self.err(">> expected in method definition");
        };
        let mut owner = header[..sep].split_whitespace();
        let owner_name = owner.next().unwrap_or("");
        let class_side = match owner.next() {
            None => false,
            Some("class") | Some("classSide") => true,
            Some(_) => {
                self.i = head_start;
                return self.err("'Foo >>' or 'Foo class >>' expected");
            }
        };
        if owner_name != class && !owner_name.is_empty() && owner_name != class.trim() {
            self.i = head_start;
            return self.err(format!("method for {} in file of {}", owner_name, class));
        }
        let pat_off = header[..sep + 2].chars().count();
        let pat_start = head_start + pat_off;
        let pattern: String = self.c[pat_start..self.i].iter().collect();
        let (selector, _) = parse_pattern(&pattern).map_err(|e| {
            let p = self.pos_at(pat_start);
            e.offset_by(p.line, p.col)
        })?;
        let open = self.i;
        self.i += 1;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                None => {
                    self.i = open;
                    return self.err("unclosed method body");
                }
                Some('\'') => {
                    self.quoted('\'')?;
                }
                Some('"') => {
                    self.quoted('"')?;
                }
                Some('$') => self.i += 2,
                Some('[') => {
                    depth += 1;
                    self.i += 1;
                }
                Some(']') => {
                    depth -= 1;
                    self.i += 1;
                }
                Some(_) => self.i += 1,
            }
        }
        let close = self.i - 1;
        // Start the source at the pattern's line start so columns stay file columns.
        let first = self.pos_at(pat_start);
        let mut source: String = " ".repeat(first.col - 1);
        source.extend(self.c[pat_start..open].iter());
        source.push(' ');
        source.extend(self.c[open + 1..close.min(self.c.len())].iter());
        Ok(MethodSource {
            selector,
            source,
            line: first.line,
            class_side,
            category,
            is_som_primitive: false,
        })
    }
}

fn shape_of(t: &str) -> ClassShape {
    let t = t.to_ascii_lowercase();
    let t = t.trim_end_matches("layout");
    match t {
        "variable" => ClassShape::Variable,
        "bytes" | "byte" => ClassShape::Bytes,
        "words" | "word" => ClassShape::Words,
        "doublebytes" | "doublebyte" => ClassShape::DoubleBytes,
        "doublewords" | "doubleword" => ClassShape::DoubleWords,
        "weak" => ClassShape::Weak,
        "ephemeron" => ClassShape::Ephemeron,
        "immediate" => ClassShape::Immediate,
        "compiledmethod" => ClassShape::CompiledMethod,
        _ => ClassShape::Pointers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#""
A ""comment"" with brackets ] [
"
Class {
	#name : #Foo,
	#superclass : #Object,
	#instVars : [ 'a', 'b' ],
	#classVars : [ 'Count' ],
	#classInstVars: [ 'cache' ],
	#type : #variable,
	#category : #'Sprocket-Tests'
}

{ #category : #accessing }
Foo >> a [
	"returns a ] bracket"
	^ a ifNil: [ $] ] ifNotNil: [:x | ']' , x printString, $[ asString ]
]

{ #category : 'arith' }
Foo >> + other [ ^ a + other ]

Foo class >> new: n withAll: x [
	| t |
	t := self new: n.
	^ t
]
"#;

    #[test]
    fn parses_sample() {
        let c = parse_tonel_class(SAMPLE).unwrap();
        assert_eq!(c.name, "Foo");
        assert_eq!(
            c.class_comment.as_deref(),
            Some("\nA \"comment\" with brackets ] [\n")
        );
        assert_eq!(c.superclass.as_deref(), Some("Object"));
        assert_eq!(c.inst_vars, vec!["a", "b"]);
        assert_eq!(c.class_vars, vec!["Count"]);
        assert_eq!(c.class_inst_vars, vec!["cache"]);
        assert_eq!(c.shape, ClassShape::Variable);
        assert_eq!(c.category.as_deref(), Some("Sprocket-Tests"));
        let sels: Vec<_> = c.methods.iter().map(|m| m.selector.as_str()).collect();
        assert_eq!(sels, vec!["a", "+", "new:withAll:"]);
        assert_eq!(c.methods[0].category.as_deref(), Some("accessing"));
        assert!(c.methods[2].class_side);
        assert_eq!(c.methods[2].line, 23);
        for m in &c.methods {
            super::super::parse_method(&m.source).unwrap();
        }
        // Positions inside the body are file positions relative to `line`.
        let src = "Class { #name : #Bar }\n\nBar >> foo [\n\t^ (1 + \n]\n";
        let c = parse_tonel_class(src).unwrap();
        let e = super::super::parse_method(&c.methods[0].source).unwrap_err();
        assert_eq!(e.line + c.methods[0].line - 1, 5);
    }

    #[test]
    fn extension_and_errors() {
        let c = parse_tonel_class("Extension { #name : #Object }\nObject >> isFoo [ ^ false ]\n").unwrap();
        assert!(c.is_extension);
        assert_eq!(c.methods.len(), 1);
        let e = parse_tonel_class("Class { #name : #A }\nA >> foo [ ^ 'x ]\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_tonel_class("Class { #name : #A,\n #superclass #B }").unwrap_err();
        assert_eq!((e.line, e.column), (2, 14));
    }
}
