//! Disassembler for SistaV1 and V3PlusClosures bytecodes.

use super::codegen::SPECIAL_SELECTORS;
use super::method::{BytecodeSet, CompiledMethodSpec, Literal};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct DisasmLine {
    pub pc: usize,
    /// Bytes including any extension prefixes.
    pub len: usize,
    pub text: String,
    /// Jump target pc, or for V3 block creation the pc after the block body.
    pub target: Option<usize>,
}

impl fmt::Display for DisasmLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:4} <{}> {}", self.pc, self.len, self.text)
    }
}

/// Disassemble a method's bytecodes (nested Sista blocks are separate literals).
pub fn disassemble(spec: &CompiledMethodSpec) -> Result<Vec<DisasmLine>, String> {
    disassemble_bytes(&spec.bytecodes, spec.bytecode_set, &spec.literals)
}

/// Render a whole method (and its Sista blocks) as text.
pub fn listing(spec: &CompiledMethodSpec) -> String {
    let mut s = String::new();
    listing_into(spec, 0, &mut s);
    s
}

fn listing_into(spec: &CompiledMethodSpec, indent: usize, s: &mut String) {
    let pad = " ".repeat(indent);
    s.push_str(&format!(
        "{}{} {}: header {:#x} args {} temps {} large {} prim {}\n",
        pad,
        if spec.is_block { "block" } else { "method" },
        spec.selector,
        spec.header_word(),
        spec.num_args,
        spec.num_temps,
        spec.frame_size_large,
        spec.primitive
    ));
    for (i, l) in spec.literals.iter().enumerate() {
        s.push_str(&format!("{}  lit {}: {}\n", pad, i, l));
    }
    match disassemble(spec) {
        Ok(lines) => {
            for l in lines {
                s.push_str(&format!("{}  {}\n", pad, l));
            }
        }
        Err(e) => s.push_str(&format!("{}  <error: {}>\n", pad, e)),
    }
    for l in &spec.literals {
        if let Literal::CompiledBlock(b) = l {
            listing_into(b, indent + 4, s);
        }
    }
}

fn lit(lits: &[Literal], i: usize) -> String {
    match lits.get(i) {
        Some(l) => format!("{}", l),
        None => format!("<bad literal {}>", i),
    }
}

fn special(k: usize) -> &'static str {
    SPECIAL_SELECTORS.get(k).map(|s| s.0).unwrap_or("?")
}

pub fn disassemble_bytes(
    bytes: &[u8],
    set: BytecodeSet,
    lits: &[Literal],
) -> Result<Vec<DisasmLine>, String> {
    let mut out = Vec::new();
    let mut pc = 0;
    while pc < bytes.len() {
        let (len, text, target) = match set {
            BytecodeSet::SistaV1 => decode_sista(bytes, pc, lits)?,
            BytecodeSet::V3PlusClosures => decode_v3(bytes, pc, lits)?,
        };
        out.push(DisasmLine {
            pc,
            len,
            text,
            target,
        });
        pc += len;
    }
    Ok(out)
}

fn byte(bytes: &[u8], i: usize) -> Result<usize, String> {
    bytes
        .get(i)
        .map(|b| *b as usize)
        .ok_or_else(|| format!("truncated instruction at {}", i))
}

type Decoded = (usize, String, Option<usize>);

fn decode_sista(bytes: &[u8], start: usize, lits: &[Literal]) -> Result<Decoded, String> {
    let mut pc = start;
    let mut ext_a: usize = 0;
    let mut ext_b: i64 = 0;
    let mut nb = 0; // number of extB prefixes, to interpret unsigned uses
    loop {
        match byte(bytes, pc)? {
            224 => {
                ext_a = (ext_a << 8) + byte(bytes, pc + 1)?;
                pc += 2;
            }
            225 => {
                let b = byte(bytes, pc + 1)? as u8 as i8 as i64;
                ext_b = if nb == 0 { b } else { (ext_b << 8) + (b & 255) };
                nb += 1;
                pc += 2;
            }
            _ => break,
        }
    }
    let b = byte(bytes, pc)?;
    let len1 = |n: usize| pc + n - start;
    let (len, text, target): Decoded = match b {
        0..=15 => (len1(1), format!("pushRcvr: {}", b), None),
        16..=31 => (len1(1), format!("pushLitVar: {}", lit(lits, b - 16)), None),
        32..=63 => (len1(1), format!("pushConstant: {}", lit(lits, b - 32)), None),
        64..=71 => (len1(1), format!("pushTemp: {}", b - 64), None),
        72..=75 => (len1(1), format!("pushTemp: {}", b - 72 + 8), None),
        76 => (len1(1), "self".into(), None),
        77 => (len1(1), "pushConstant: true".into(), None),
        78 => (len1(1), "pushConstant: false".into(), None),
        79 => (len1(1), "pushConstant: nil".into(), None),
        80 => (len1(1), "pushConstant: 0".into(), None),
        81 => (len1(1), "pushConstant: 1".into(), None),
        82 => (len1(1), "pushThisContext".into(), None),
        83 => (len1(1), "dup".into(), None),
        88 => (len1(1), "returnSelf".into(), None),
        89 => (len1(1), "returnTrue".into(), None),
        90 => (len1(1), "returnFalse".into(), None),
        91 => (len1(1), "returnNil".into(), None),
        92 => (len1(1), "returnTop".into(), None),
        93 => (len1(1), "blockReturnNil".into(), None),
        94 => (len1(1), "blockReturnTop".into(), None),
        95 => (len1(1), "nop".into(), None),
        96..=127 => (len1(1), format!("send: {}", special(b - 96)), None),
        128..=175 => {
            let n = (b - 128) / 16;
            (len1(1), format!("send: {} ({} args)", lit(lits, b & 15), n), None)
        }
        176..=183 => {
            let t = pc + 1 + b - 175;
            (len1(1), format!("jumpTo: {}", t), Some(t))
        }
        184..=191 => {
            let t = pc + 1 + b - 183;
            (len1(1), format!("jumpTrue: {}", t), Some(t))
        }
        192..=199 => {
            let t = pc + 1 + b - 191;
            (len1(1), format!("jumpFalse: {}", t), Some(t))
        }
        200..=207 => (len1(1), format!("popIntoRcvr: {}", b - 200), None),
        208..=215 => (len1(1), format!("popIntoTemp: {}", b - 208), None),
        216 => (len1(1), "pop".into(), None),
        217 => (len1(1), "trap".into(), None),
        226..=245 => {
            let x = byte(bytes, pc + 1)?;
            let ia = x + (ext_a << 8);
            let s = match b {
                226 => format!("pushRcvr: {}", ia),
                227 => format!("pushLitVar: {}", lit(lits, ia)),
                228 => format!("pushConstant: {}", lit(lits, ia)),
                229 => format!("pushTemp: {}", x),
                231 => {
                    if x >= 128 {
                        format!("pop {} into (Array new: {})", x & 127, x & 127)
                    } else {
                        format!("push: (Array new: {})", x)
                    }
                }
                232 => format!("pushConstant: {}", x as i64 + (ext_b << 8)),
                233 => format!("pushConstant: ${}", x as i64 + (ext_b << 8)),
                234 => format!(
                    "send: {} ({} args)",
                    lit(lits, (x >> 3) + (ext_a << 5)),
                    (x & 7) + ((ext_b as usize) << 3)
                ),
                235 => {
                    let sel = lit(lits, (x >> 3) + (ext_a << 5));
                    if ext_b >= 64 {
                        format!(
                            "directedSuperSend: {} ({} args)",
                            sel,
                            (x & 7) + (((ext_b & 63) as usize) << 3)
                        )
                    } else {
                        format!("superSend: {} ({} args)", sel, (x & 7) + ((ext_b as usize) << 3))
                    }
                }
                237..=239 => {
                    let d = x as i64 + (ext_b << 8);
                    let t = pc as i64 + 2 + d;
                    if t < 0 {
                        return Err(format!("jump before start at {}", start));
                    }
                    let name = ["jumpTo:", "jumpTrue:", "jumpFalse:"][b - 237];
                    return Ok((len1(2), format!("{} {}", name, t), Some(t as usize)));
                }
                240 => format!("popIntoRcvr: {}", ia),
                241 => format!("popIntoLitVar: {}", lit(lits, ia)),
                242 => format!("popIntoTemp: {}", x),
                243 => format!("storeIntoRcvr: {}", ia),
                244 => format!("storeIntoLitVar: {}", lit(lits, ia)),
                245 => format!("storeIntoTemp: {}", x),
                _ => return Err(format!("unassigned bytecode {} at {}", b, pc)),
            };
            (len1(2), s, None)
        }
        248 => {
            let p = byte(bytes, pc + 1)? + (byte(bytes, pc + 2)? & 31) * 256;
            (len1(3), format!("callPrimitive: {}", p), None)
        }
        249 => {
            let i = byte(bytes, pc + 1)? + (ext_a << 8);
            let f = byte(bytes, pc + 2)?;
            (
                len1(3),
                format!(
                    "pushFullClosure: {} numCopied: {}{}",
                    lit(lits, i),
                    f & 63,
                    if f & 64 != 0 { " ignoreOuterContext" } else { "" }
                ),
                None,
            )
        }
        251..=253 => {
            let i = byte(bytes, pc + 1)?;
            let v = byte(bytes, pc + 2)?;
            let name = ["pushTemp:", "storeIntoTemp:", "popIntoTemp:"][b - 251];
            (len1(3), format!("{} {} inVectorAt: {}", name, i, v), None)
        }
        _ => return Err(format!("unassigned bytecode {} at {}", b, pc)),
    };
    Ok((len, text, target))
}

fn decode_v3(bytes: &[u8], pc: usize, lits: &[Literal]) -> Result<Decoded, String> {
    let b = byte(bytes, pc)?;
    let one = |s: String| Ok((1, s, None));
    match b {
        0..=15 => one(format!("pushRcvr: {}", b)),
        16..=31 => one(format!("pushTemp: {}", b - 16)),
        32..=63 => one(format!("pushConstant: {}", lit(lits, b - 32))),
        64..=95 => one(format!("pushLitVar: {}", lit(lits, b - 64))),
        96..=103 => one(format!("popIntoRcvr: {}", b - 96)),
        104..=111 => one(format!("popIntoTemp: {}", b - 104)),
        112 => one("self".into()),
        113..=115 => one(format!("pushConstant: {}", ["true", "false", "nil"][b - 113])),
        116..=119 => one(format!("pushConstant: {}", b as i64 - 117)),
        120..=123 => one(["returnSelf", "returnTrue", "returnFalse", "returnNil"][b - 120].into()),
        124 => one("returnTop".into()),
        125 => one("blockReturnTop".into()),
        128..=130 => {
            let x = byte(bytes, pc + 1)?;
            let i = x & 63;
            let what = match x >> 6 {
                0 => format!("Rcvr: {}", i),
                1 => format!("Temp: {}", i),
                2 if b == 128 => format!("Constant: {}", lit(lits, i)),
                3 => format!("LitVar: {}", lit(lits, i)),
                _ => return Err(format!("illegal store at {}", pc)),
            };
            let op = ["push", "storeInto", "popInto"][b - 128];
            Ok((2, format!("{}{}", op, what), None))
        }
        131 | 133 => {
            let x = byte(bytes, pc + 1)?;
            let kind = if b == 131 { "send:" } else { "superSend:" };
            Ok((
                2,
                format!("{} {} ({} args)", kind, lit(lits, x & 31), x >> 5),
                None,
            ))
        }
        132 => {
            let x = byte(bytes, pc + 1)?;
            let y = byte(bytes, pc + 2)?;
            let s = match x >> 5 {
                0 => format!("send: {} ({} args)", lit(lits, y), x & 31),
                1 => format!("superSend: {} ({} args)", lit(lits, y), x & 31),
                2 => format!("pushRcvr: {}", y),
                3 => format!("pushConstant: {}", lit(lits, y)),
                4 => format!("pushLitVar: {}", lit(lits, y)),
                5 => format!("storeIntoRcvr: {}", y),
                6 => format!("popIntoRcvr: {}", y),
                _ => format!("storeIntoLitVar: {}", lit(lits, y)),
            };
            Ok((3, s, None))
        }
        134 => {
            let x = byte(bytes, pc + 1)?;
            Ok((2, format!("send: {} ({} args)", lit(lits, x & 63), x >> 6), None))
        }
        135 => one("pop".into()),
        136 => one("dup".into()),
        137 => one("pushThisContext".into()),
        138 => {
            let x = byte(bytes, pc + 1)?;
            let s = if x >= 128 {
                format!("pop {} into (Array new: {})", x & 127, x & 127)
            } else {
                format!("push: (Array new: {})", x)
            };
            Ok((2, s, None))
        }
        139 => {
            let p = byte(bytes, pc + 1)? + byte(bytes, pc + 2)? * 256;
            Ok((3, format!("callPrimitive: {}", p), None))
        }
        140..=142 => {
            let i = byte(bytes, pc + 1)?;
            let v = byte(bytes, pc + 2)?;
            let name = ["pushTemp:", "storeIntoTemp:", "popIntoTemp:"][b - 140];
            Ok((3, format!("{} {} inVectorAt: {}", name, i, v), None))
        }
        143 => {
            let x = byte(bytes, pc + 1)?;
            let size = byte(bytes, pc + 2)? * 256 + byte(bytes, pc + 3)?;
            let end = pc + 4 + size;
            Ok((
                4,
                format!(
                    "closureNumCopied: {} numArgs: {} bytes {} to {}",
                    x >> 4,
                    x & 15,
                    pc + 4,
                    end - 1
                ),
                Some(end),
            ))
        }
        144..=151 => {
            let t = pc + 1 + b - 143;
            Ok((1, format!("jumpTo: {}", t), Some(t)))
        }
        152..=159 => {
            let t = pc + 1 + b - 151;
            Ok((1, format!("jumpFalse: {}", t), Some(t)))
        }
        160..=175 => {
            let x = byte(bytes, pc + 1)? as i64;
            let d = if b < 168 {
                (b as i64 - 164) * 256 + x
            } else {
                ((b & 3) as i64) * 256 + x
            };
            let t = pc as i64 + 2 + d;
            if t < 0 {
                return Err(format!("jump before start at {}", pc));
            }
            let name = match b {
                160..=167 => "jumpTo:",
                168..=171 => "jumpTrue:",
                _ => "jumpFalse:",
            };
            Ok((2, format!("{} {}", name, t), Some(t as usize)))
        }
        176..=207 => one(format!("send: {}", special(b - 176))),
        208..=255 => one(format!("send: {} ({} args)", lit(lits, b & 15), (b - 208) / 16)),
        _ => Err(format!("unused bytecode {} at {}", b, pc)),
    }
}
