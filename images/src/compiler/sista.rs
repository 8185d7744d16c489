//! SistaV1 encoder (see EncoderForSistaV1 class comment / SqueakJS interpretOneSistaWithExtensions).
//!
//! 0-15 push rcvr var, 16-31 push lit var, 32-63 push lit, 64-75 push temp, 76-83 push
//! self/true/false/nil/0/1/thisContext/dup, 88-92 returns, 93/94 block returns, 96-127 special
//! sends, 128-175 literal sends, 176-199 short jumps, 200-215 pop-store, 216 pop;
//! 224/225 extA/extB prefixes; 226-245 two-byte forms; 248 callPrimitive, 249 pushFullClosure,
//! 251-253 remote temps.

use super::codegen::Ins;

fn ext_a(out: &mut Vec<u8>, a: usize) {
    if a == 0 {
        return;
    }
    if a > 255 {
        ext_a(out, a >> 8);
    }
    out.push(224);
    out.push((a & 255) as u8);
}

fn ext_b(out: &mut Vec<u8>, b: i64) {
    out.push(225);
    out.push(b as i8 as u8);
}

fn small(v: usize, max: usize, what: &str) -> Result<u8, String> {
    if v <= max {
        Ok(v as u8)
    } else {
        Err(format!("{} {} out of range for SistaV1", what, v))
    }
}

/// Encode one instruction. `dist` is the jump distance (from the end of this instruction);
/// `min` forces at least that many bytes (used by jump relaxation).
pub fn encode(ins: &Ins, dist: i64, min: usize) -> Result<Vec<u8>, String> {
    let mut o = Vec::with_capacity(4);
    match *ins {
        Ins::PushRcvrVar(i) if i < 16 => o.push(i as u8),
        Ins::PushRcvrVar(i) | Ins::PushRcvrVarLong(i) => {
            ext_a(&mut o, i >> 8);
            o.extend([226, (i & 255) as u8]);
        }
        Ins::PushLitVar(i) if i < 16 => o.push(16 + i as u8),
        Ins::PushLitVar(i) => {
            ext_a(&mut o, i >> 8);
            o.extend([227, (i & 255) as u8]);
        }
        Ins::PushLit(i) if i < 32 => o.push(32 + i as u8),
        Ins::PushLit(i) => {
            ext_a(&mut o, i >> 8);
            o.extend([228, (i & 255) as u8]);
        }
        Ins::PushTemp(i) if i < 8 => o.push(64 + i as u8),
        Ins::PushTemp(i) if i < 12 => o.push(72 + (i - 8) as u8),
        Ins::PushTemp(i) => o.extend([229, small(i, 63, "temp")?]),
        Ins::PushSelf => o.push(76),
        Ins::PushTrue => o.push(77),
        Ins::PushFalse => o.push(78),
        Ins::PushNil => o.push(79),
        Ins::PushInt(0) => o.push(80),
        Ins::PushInt(1) => o.push(81),
        Ins::PushInt(v) if (0..=255).contains(&v) => o.extend([232, v as u8]),
        Ins::PushInt(v) if (-32768..=32767).contains(&v) => {
            ext_b(&mut o, v >> 8);
            o.extend([232, (v & 255) as u8]);
        }
        Ins::PushInt(v) => return Err(format!("integer {} not pushable", v)),
        Ins::PushChar(c) if c <= 255 => o.extend([233, c as u8]),
        Ins::PushChar(c) if c <= 0x7FFF => {
            ext_b(&mut o, (c >> 8) as i64);
            o.extend([233, (c & 255) as u8]);
        }
        Ins::PushChar(c) => return Err(format!("character {} not pushable", c)),
        Ins::PushThisContext => o.push(82),
        Ins::Dup => o.push(83),
        Ins::ReturnSelf => o.push(88),
        Ins::ReturnTrue => o.push(89),
        Ins::ReturnFalse => o.push(90),
        Ins::ReturnNil => o.push(91),
        Ins::ReturnTop => o.push(92),
        Ins::BlockReturnTop => o.push(94),
        Ins::SendSpecial(k) => o.push(96 + small(k, 31, "special selector")?),
        Ins::Send(i, n) if i < 16 && n < 3 => o.push(128 + 16 * n as u8 + i as u8),
        Ins::Send(i, n) => {
            ext_a(&mut o, i >> 5);
            if n >> 3 > 0 {
                ext_b(&mut o, (n >> 3) as i64);
            }
            o.extend([234, (((i & 31) << 3) | (n & 7)) as u8]);
        }
        Ins::SendSuper(i, n) => {
            ext_a(&mut o, i >> 5);
            if n >> 3 > 0 {
                ext_b(&mut o, small(n >> 3, 63, "argument count")? as i64);
            }
            o.extend([235, (((i & 31) << 3) | (n & 7)) as u8]);
        }
        Ins::SendSuperDirected(i, n) => {
            ext_a(&mut o, i >> 5);
            ext_b(&mut o, 64 + small(n >> 3, 63, "argument count")? as i64);
            o.extend([235, (((i & 31) << 3) | (n & 7)) as u8]);
        }
        Ins::Jump(_) => {
            if min <= 1 && (1..=8).contains(&dist) {
                o.push(175 + dist as u8);
            } else if min <= 2 && (0..=255).contains(&dist) {
                o.extend([237, dist as u8]);
            } else if (-32768..=32767).contains(&dist) {
                ext_b(&mut o, dist >> 8);
                o.extend([237, (dist & 255) as u8]);
            } else {
                return Err("jump too far".into());
            }
        }
        Ins::JumpTrue(_) | Ins::JumpFalse(_) => {
            let (short, long) = if matches!(ins, Ins::JumpTrue(_)) {
                (183u8, 238u8)
            } else {
                (191u8, 239u8)
            };
            if min <= 1 && (1..=8).contains(&dist) {
                o.push(short + dist as u8);
            } else if min <= 2 && (0..=255).contains(&dist) {
                o.extend([long, dist as u8]);
            } else if (0..=32767).contains(&dist) {
                ext_b(&mut o, dist >> 8);
                o.extend([long, (dist & 255) as u8]);
            } else {
                return Err("conditional jump out of range".into());
            }
        }
        Ins::StoreRcvrVar(i, true) if i < 8 => o.push(200 + i as u8),
        Ins::StoreTemp(i, true) if i < 8 => o.push(208 + i as u8),
        Ins::StoreRcvrVar(i, pop) | Ins::StoreRcvrVarLong(i, pop) => {
            ext_a(&mut o, i >> 8);
            o.extend([if pop { 240 } else { 243 }, (i & 255) as u8]);
        }
        Ins::StoreLitVar(i, pop) => {
            ext_a(&mut o, i >> 8);
            o.extend([if pop { 241 } else { 244 }, (i & 255) as u8]);
        }
        Ins::StoreTemp(i, pop) => o.extend([if pop { 242 } else { 245 }, small(i, 63, "temp")?]),
        Ins::Pop => o.push(216),
        Ins::PushNewArray(n, pop) => o.extend([231, small(n, 127, "array size")? | ((pop as u8) << 7)]),
        Ins::CallPrimitive(p) => {
            if p >= 8192 {
                return Err("primitive index too large".into());
            }
            o.extend([248, (p & 255) as u8, (p >> 8) as u8]);
        }
        Ins::PushFullClosure(lit, n, outer) => {
            ext_a(&mut o, lit >> 8);
            let ignore_outer = if outer { 0 } else { 64 };
            o.extend([
                249,
                (lit & 255) as u8,
                small(n, 63, "copied values")? | ignore_outer,
            ]);
        }
        Ins::PushRemoteTemp(i, v) => {
            o.extend([251, small(i, 255, "remote temp")?, small(v, 127, "temp vector")?])
        }
        Ins::StoreRemoteTemp(i, v, pop) => o.extend([
            if pop { 253 } else { 252 },
            small(i, 255, "remote temp")?,
            small(v, 127, "temp vector")?,
        ]),
        Ins::Label(_) => {}
        Ins::PushClosure(..) => return Err("embedded closures are not used with SistaV1".into()),
    }
    Ok(o)
}
