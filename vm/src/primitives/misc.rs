//! MiscPrimitivePlugin: string comparison, hashing and searching, as the
//! OpenSmalltalk VM provides them to Squeak's String methods.

use super::{PrimResult, FAIL};
use crate::interp::{Fault, Vm};
use gc::{format, Oop};

/// Squeak's `String class>>stringHash:initialHash:`: add each byte, then
/// multiply by 1664525 modulo 2^28.
pub fn string_hash(bytes: &[u8], initial: i64) -> i64 {
    let mut hash = (initial as u64) & 0x0fff_ffff;
    for &b in bytes {
        hash = ((hash + b as u64) * 1_664_525) & 0x0fff_ffff;
    }
    hash as i64
}

impl Vm {
    fn byte_string(&self, o: Oop) -> Option<&[u8]> {
        (o.is_object()
            && format::is_bytes(self.heap.format(o))
            && !format::is_compiled_method(self.heap.format(o)))
        .then(|| self.heap.bytes(o))
    }

    pub(crate) fn misc_primitive(&mut self, name: &str, nargs: usize) -> Result<PrimResult, Fault> {
        let arg = |vm: &Vm, k: usize| vm.stack_value(nargs - 1 - k);
        match (name, nargs) {
            ("primitiveCompareString", 3) => {
                // compare: string1 with: string2 collated: order → 1 (<), 2 (=), 3 (>)
                let (a, b, order) = (arg(self, 0), arg(self, 1), arg(self, 2));
                let (Some(x), Some(y), Some(ord)) =
                    (self.byte_string(a), self.byte_string(b), self.byte_string(order))
                else {
                    return Ok(FAIL);
                };
                if ord.len() < 256 {
                    return Ok(FAIL);
                }
                let (x, y, ord) = (x.to_vec(), y.to_vec(), ord.to_vec());
                let mut r = 2;
                for i in 0..x.len().min(y.len()) {
                    let (c1, c2) = (ord[x[i] as usize], ord[y[i] as usize]);
                    if c1 != c2 {
                        r = if c1 < c2 { 1 } else { 3 };
                        break;
                    }
                }
                if r == 2 && x.len() != y.len() {
                    r = if x.len() < y.len() { 1 } else { 3 };
                }
                Ok(self.prim_return(3, Oop::small_int(r)))
            }
            ("primitiveStringHash", 2) => {
                let (s, init) = (arg(self, 0), arg(self, 1));
                let (Some(b), Some(init)) = (self.byte_string(s), init.as_small_int()) else {
                    return Ok(FAIL);
                };
                let h = string_hash(b, init);
                Ok(self.prim_return(2, Oop::small_int(h)))
            }
            ("primitiveIndexOfAsciiInString", 3) => {
                // indexOfAscii: anInteger inString: aString startingAt: start
                let (c, s, start) = (
                    arg(self, 0).as_small_int(),
                    arg(self, 1),
                    arg(self, 2).as_small_int(),
                );
                let (Some(c), Some(b), Some(start)) = (c, self.byte_string(s), start) else {
                    return Ok(FAIL);
                };
                if start < 1 {
                    return Ok(FAIL);
                }
                let i = b
                    .iter()
                    .enumerate()
                    .skip(start as usize - 1)
                    .find(|(_, &x)| x as i64 == c)
                    .map(|(i, _)| i as i64 + 1)
                    .unwrap_or(0);
                Ok(self.prim_return(3, Oop::small_int(i)))
            }
            ("primitiveFindFirstInString", 3) => {
                // findFirstInString: aString inSet: inclusionMap startingAt: start
                let (s, map, start) = (arg(self, 0), arg(self, 1), arg(self, 2).as_small_int());
                let (Some(b), Some(m), Some(start)) = (self.byte_string(s), self.byte_string(map), start)
                else {
                    return Ok(FAIL);
                };
                if m.len() != 256 || start < 1 {
                    return Ok(FAIL);
                }
                let i = b
                    .iter()
                    .enumerate()
                    .skip(start as usize - 1)
                    .find(|(_, &x)| m[x as usize] != 0)
                    .map(|(i, _)| i as i64 + 1)
                    .unwrap_or(0);
                Ok(self.prim_return(3, Oop::small_int(i)))
            }
            ("primitiveFindSubstring", 4) => {
                // findSubstring: key in: body startingAt: start matchTable: map
                let (k, body, start, map) = (
                    arg(self, 0),
                    arg(self, 1),
                    arg(self, 2).as_small_int(),
                    arg(self, 3),
                );
                let (Some(key), Some(body), Some(start), Some(m)) = (
                    self.byte_string(k),
                    self.byte_string(body),
                    start,
                    self.byte_string(map),
                ) else {
                    return Ok(FAIL);
                };
                if m.len() < 256 || start < 1 {
                    return Ok(FAIL);
                }
                let mut found = 0i64;
                if !key.is_empty() && key.len() <= body.len() {
                    for i in (start as usize - 1)..=(body.len() - key.len()) {
                        if key
                            .iter()
                            .zip(&body[i..])
                            .all(|(&a, &b)| m[a as usize] == m[b as usize])
                        {
                            found = i as i64 + 1;
                            break;
                        }
                    }
                }
                Ok(self.prim_return(4, Oop::small_int(found)))
            }
            ("primitiveTranslateStringWithTable", 4) => {
                // translate: aString from: start to: stop table: table
                let (s, start, stop, table) = (
                    arg(self, 0),
                    arg(self, 1).as_small_int(),
                    arg(self, 2).as_small_int(),
                    arg(self, 3),
                );
                let (Some(start), Some(stop), Some(t)) = (start, stop, self.byte_string(table)) else {
                    return Ok(FAIL);
                };
                let Some(len) = self.byte_string(s).map(|b| b.len()) else {
                    return Ok(FAIL);
                };
                if t.len() < 256 || start < 1 || stop as usize > len || self.heap.header(s).is_immutable() {
                    return Ok(FAIL);
                }
                let t = t.to_vec();
                for i in (start as usize - 1)..(stop.max(0) as usize) {
                    let c = self.heap.byte_at(s, i);
                    self.heap.set_byte_at(s, i, t[c as usize]);
                }
                let r = self.stack_value(nargs);
                Ok(self.prim_return(4, r))
            }
            _ => Ok(FAIL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::string_hash;

    #[test]
    fn hash_matches_the_smalltalk_definition() {
        // hash := initial bitAnd: 16rFFFFFFF; each byte: (hash + byte) hashMultiply.
        let mut expect: i64 = 1234 & 0x0fff_ffff;
        for b in b"hello" {
            expect = ((expect + *b as i64) * 1_664_525) & 0x0fff_ffff;
        }
        assert_eq!(string_hash(b"hello", 1234), expect);
        assert_eq!(string_hash(b"", 0x1_0000_0005), 5);
    }
}
