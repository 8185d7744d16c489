//! Smalltalk-80 scanner (Squeak/Pharo dialect). Positions count chars, lines and columns are 1-based.

use super::method::{BigInt, Literal};
use std::fmt;

/// A compile error at a source position (the caller attaches the file name / line offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl CompileError {
    pub fn new(pos: Pos, message: impl Into<String>) -> CompileError {
        CompileError {
            line: pos.line,
            column: pos.col,
            message: message.into(),
        }
    }

    /// Shift the line (and the column when on the first line) by a source fragment's origin.
    pub fn offset_by(mut self, first_line: usize, first_col: usize) -> CompileError {
        if self.line == 1 {
            self.column += first_col.saturating_sub(1);
        }
        self.line += first_line.saturating_sub(1);
        self
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for CompileError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    /// Char index into the source.
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Keyword(String),
    Binary(String),
    /// Unsigned number literal (sign handled by the parser), except `16r-1F`.
    Number(Literal),
    Char(u32),
    Str(String),
    Symbol(String),
    LitArrayStart,
    ByteArrayStart,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Assign,
    Caret,
    Period,
    Semicolon,
    Colon,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// Char index just past the token.
    pub end: usize,
}

pub const BINARY_CHARS: &str = "-+*/\\<>=~@%|&?,!";

pub fn is_binary_char(c: char) -> bool {
    BINARY_CHARS.contains(c)
}

pub struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
    line: usize,
    col: usize,
}

/// Scan a whole source into tokens (ending with Eof).
pub fn tokenize(src: &str) -> Result<Vec<Token>, CompileError> {
    let chars: Vec<char> = src.chars().collect();
    tokenize_chars(&chars)
}

pub fn tokenize_chars(chars: &[char]) -> Result<Vec<Token>, CompileError> {
    let mut lx = Lexer {
        chars,
        i: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        let t = lx.next_token()?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
            offset: self.i,
        }
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' || (c == '\r' && self.peek() != Some('\n')) {
            self.line += 1;
            self.col = 1;
        } else if c != '\r' {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) -> Result<(), CompileError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('"') => {
                    let start = self.pos();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(CompileError::new(start, "unterminated comment")),
                            Some('"') => {
                                if self.peek() == Some('"') {
                                    self.bump();
                                } else {
                                    break;
                                }
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, CompileError> {
        self.skip_blanks()?;
        let pos = self.pos();
        let tok = match self.peek() {
            None => Tok::Eof,
            Some(c) => self.scan(c, pos)?,
        };
        Ok(Token {
            tok,
            pos,
            end: self.i,
        })
    }

    fn scan(&mut self, c: char, pos: Pos) -> Result<Tok, CompileError> {
        if c.is_alphabetic() || (c == '_' && self.peek_at(1).is_some_and(is_ident_char)) {
            let name = self.ident();
            if self.peek() == Some(':') && self.peek_at(1) != Some('=') {
                self.bump();
                return Ok(Tok::Keyword(name + ":"));
            }
            return Ok(Tok::Ident(name));
        }
        if c.is_ascii_digit() {
            return self.number(pos);
        }
        self.bump();
        Ok(match c {
            '_' => Tok::Assign,
            ':' => {
                if self.peek() == Some('=') {
                    self.bump();
                    Tok::Assign
                } else {
                    Tok::Colon
                }
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '^' => Tok::Caret,
            '.' => Tok::Period,
            ';' => Tok::Semicolon,
            '$' => match self.bump() {
                Some(ch) => Tok::Char(ch as u32),
                None => return Err(CompileError::new(pos, "character expected after $")),
            },
            '\'' => Tok::Str(self.string_body(pos)?),
            '#' => self.hash(pos)?,
            c if is_binary_char(c) => {
                let mut s = String::from(c);
                while let Some(n) = self.peek() {
                    // `3+-4`: a minus directly before a digit starts a negative literal.
                    if !is_binary_char(n) || (n == '-' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
                    {
                        break;
                    }
                    s.push(n);
                    self.bump();
                }
                Tok::Binary(s)
            }
            other => {
                return Err(CompileError::new(
                    pos,
                    format!("unexpected character {:?}", other),
                ))
            }
        })
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if is_ident_char(c) {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }

    fn string_body(&mut self, start: Pos) -> Result<String, CompileError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(CompileError::new(start, "unterminated string")),
                Some('\'') => {
                    if self.peek() == Some('\'') {
                        self.bump();
                        s.push('\'');
                    } else {
                        return Ok(s);
                    }
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn hash(&mut self, pos: Pos) -> Result<Tok, CompileError> {
        while self.peek() == Some('#') {
            self.bump();
        }
        match self.peek() {
            Some('(') => {
                self.bump();
                Ok(Tok::LitArrayStart)
            }
            Some('[') => {
                self.bump();
                Ok(Tok::ByteArrayStart)
            }
            Some('\'') => {
                self.bump();
                Ok(Tok::Symbol(self.string_body(pos)?))
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    if is_ident_char(c) || c == ':' {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Ok(Tok::Symbol(s))
            }
            Some(c) if is_binary_char(c) => {
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    if is_binary_char(c) {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Ok(Tok::Symbol(s))
            }
            _ => Err(CompileError::new(pos, "invalid literal after #")),
        }
    }

    fn digits(&mut self, radix: u32, out: &mut Vec<u32>) {
        while let Some(c) = self.peek() {
            match digit_value(c, radix) {
                Some(d) => {
                    out.push(d);
                    self.bump();
                }
                None => break,
            }
        }
    }

    /// Number syntax: [radix r][-]digits[.digits][e|d|q[-]digits][s[digits]].
    fn number(&mut self, pos: Pos) -> Result<Tok, CompileError> {
        let mut int_digits = Vec::new();
        self.digits(10, &mut int_digits);
        let mut radix = 10u32;
        let mut negative = false;
        if self.peek() == Some('r') {
            let r = digits_to_big(&int_digits, 10).to_u128().unwrap_or(0);
            if !(2..=36).contains(&r) {
                return Err(CompileError::new(pos, "radix must be between 2 and 36"));
            }
            radix = r as u32;
            self.bump();
            if self.peek() == Some('-') {
                negative = true;
                self.bump();
            }
            int_digits.clear();
            self.digits(radix, &mut int_digits);
            if int_digits.is_empty() {
                return Err(CompileError::new(pos, "digits expected after radix"));
            }
        }
        let mut frac_digits = Vec::new();
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| digit_value(c, radix).is_some()) {
            self.bump();
            self.digits(radix, &mut frac_digits);
        }
        let mut exponent: Option<i64> = None;
        if let Some(e) = self.peek() {
            if (e == 'e' || e == 'd' || e == 'q') && digit_value(e, radix).is_none() {
                let neg = self.peek_at(1) == Some('-');
                let first = if neg { 2 } else { 1 };
                if self.peek_at(first).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                    if neg {
                        self.bump();
                    }
                    let mut ed = Vec::new();
                    self.digits(10, &mut ed);
                    let mut v: i64 = 0;
                    for d in ed {
                        v = v.saturating_mul(10).saturating_add(d as i64);
                    }
                    if v > 100_000 {
                        return Err(CompileError::new(pos, "exponent too large"));
                    }
                    exponent = Some(if neg { -v } else { v });
                }
            }
        }
        // Scaled decimal: `1.5s2`, `3s`; not when followed by a letter (`3sqrt`).
        if self.peek() == Some('s')
            && exponent.is_none()
            && !self.peek_at(1).is_some_and(|c| c.is_alphabetic() || c == '_')
        {
            self.bump();
            let mut sd = Vec::new();
            self.digits(10, &mut sd);
            let scale = if sd.is_empty() {
                frac_digits.len() as u32
            } else {
                let v = digits_to_big(&sd, 10).to_u128().unwrap_or(u128::MAX);
                if v > 10_000 {
                    return Err(CompileError::new(pos, "scale too large"));
                }
                v as u32
            };
            let mut all = int_digits.clone();
            all.extend(&frac_digits);
            let num = digits_to_big(&all, radix);
            let den = BigInt::pow_small(radix, frac_digits.len() as u32);
            let (num, den) = reduce(num, den);
            let num = if negative { num.negated() } else { num };
            return Ok(Tok::Number(Literal::ScaledDecimal {
                numerator: num,
                denominator: den,
                scale,
            }));
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) && radix == 10 {
            // e.g. `12abc` is legal Smalltalk (12 then unary abc); nothing to do.
        }
        let lit = if frac_digits.is_empty() && exponent.unwrap_or(0) >= 0 {
            let mut v = digits_to_big(&int_digits, radix);
            if let Some(e) = exponent {
                v = v.mul(&BigInt::pow_small(radix, e as u32));
            }
            Literal::from_bigint(if negative { v.negated() } else { v })
        } else {
            let f = if radix == 10 {
                let mut s = String::new();
                for d in &int_digits {
                    s.push(char::from_digit(*d, 10).unwrap_or('0'));
                }
                s.push('.');
                if frac_digits.is_empty() {
                    s.push('0');
                }
                for d in &frac_digits {
                    s.push(char::from_digit(*d, 10).unwrap_or('0'));
                }
                if let Some(e) = exponent {
                    s.push_str(&format!("e{}", e));
                }
                s.parse::<f64>().unwrap_or(f64::NAN)
            } else {
                let mut all = int_digits.clone();
                all.extend(&frac_digits);
                let m = digits_to_big(&all, radix).to_f64();
                let e = exponent.unwrap_or(0) - frac_digits.len() as i64;
                m * (radix as f64).powi(e.clamp(-2000, 2000) as i32)
            };
            Literal::Float(if negative { -f } else { f })
        };
        Ok(Tok::Number(lit))
    }
}

pub fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn digit_value(c: char, radix: u32) -> Option<u32> {
    let d = if c.is_ascii_digit() {
        c as u32 - '0' as u32
    } else if c.is_ascii_uppercase() {
        c as u32 - 'A' as u32 + 10
    } else if c.is_ascii_lowercase() && radix > 10 {
        // Pharo accepts lowercase digits; only when they are valid in this radix.
        c as u32 - 'a' as u32 + 10
    } else {
        return None;
    };
    if d < radix {
        Some(d)
    } else {
        None
    }
}

fn digits_to_big(digits: &[u32], radix: u32) -> BigInt {
    let mut b = BigInt::zero();
    for &d in digits {
        b.mul_add_small(radix, d);
    }
    b
}

/// Reduce a fraction when both parts fit in u128 (enough for any practical literal).
pub fn reduce(num: BigInt, den: BigInt) -> (BigInt, BigInt) {
    match (num.to_u128(), den.to_u128()) {
        (Some(n), Some(d)) if d != 0 => {
            let (mut a, mut b) = (n, d);
            while b != 0 {
                let t = a % b;
                a = b;
                b = t;
            }
            let g = a.max(1);
            (
                BigInt::from_u128(n / g, num.negative),
                BigInt::from_u128(d / g, false),
            )
        }
        _ => (num, den),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Tok {
        tokenize(src).unwrap()[0].tok.clone()
    }

    #[test]
    fn numbers() {
        assert_eq!(one("42"), Tok::Number(Literal::Integer(42)));
        assert_eq!(one("16r1F"), Tok::Number(Literal::Integer(31)));
        assert_eq!(one("16r-1F"), Tok::Number(Literal::Integer(-31)));
        assert_eq!(one("2r1010"), Tok::Number(Literal::Integer(10)));
        assert_eq!(one("1e10"), Tok::Number(Literal::Integer(10_000_000_000)));
        assert_eq!(one("1.5"), Tok::Number(Literal::Float(1.5)));
        assert_eq!(one("1.5e-3"), Tok::Number(Literal::Float(1.5e-3)));
        assert_eq!(one("2r1.1"), Tok::Number(Literal::Float(1.5)));
        assert_eq!(one("16rff"), Tok::Number(Literal::Integer(255)));
        match one("1.5s2") {
            Tok::Number(Literal::ScaledDecimal {
                numerator,
                denominator,
                scale,
            }) => {
                assert_eq!(
                    (numerator.to_i64(), denominator.to_i64(), scale),
                    (Some(3), Some(2), 2)
                );
            }
            t => panic!("{:?}", t),
        }
        match one("3s") {
            Tok::Number(Literal::ScaledDecimal { scale, .. }) => assert_eq!(scale, 0),
            t => panic!("{:?}", t),
        }
        match one("123456789012345678901234567890") {
            Tok::Number(Literal::LargeInteger(b)) => {
                assert_eq!(b.to_string(), "123456789012345678901234567890")
            }
            t => panic!("{:?}", t),
        }
        // `3 sqrt` written without space stays an integer then identifier.
        let t = tokenize("3sqrt").unwrap();
        assert_eq!(t[0].tok, Tok::Number(Literal::Integer(3)));
        assert_eq!(t[1].tok, Tok::Ident("sqrt".into()));
    }

    #[test]
    fn misc_tokens() {
        let t: Vec<Tok> = tokenize("a := #foo:bar: , #+ $' 'it''s' #'x y' 3+-4 x: #(")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(
            t,
            vec![
                Tok::Ident("a".into()),
                Tok::Assign,
                Tok::Symbol("foo:bar:".into()),
                Tok::Binary(",".into()),
                Tok::Symbol("+".into()),
                Tok::Char('\'' as u32),
                Tok::Str("it's".into()),
                Tok::Symbol("x y".into()),
                Tok::Number(Literal::Integer(3)),
                Tok::Binary("+".into()),
                Tok::Binary("-".into()),
                Tok::Number(Literal::Integer(4)),
                Tok::Keyword("x:".into()),
                Tok::LitArrayStart,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn positions() {
        let t = tokenize("a\n  \"c\" b").unwrap();
        assert_eq!((t[1].pos.line, t[1].pos.col), (2, 7));
        let e = tokenize("x\n 'abc").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
    }
}
