//! V3PlusClosures encoder (Squeak EncoderForV3PlusClosures; SqueakJS interpretOne).
//!
//! 0-15 push rcvr var, 16-31 push temp, 32-63 push lit, 64-95 push lit var, 96-111 pop-store,
//! 112-119 push self/true/false/nil/-1/0/1/2, 120-125 returns, 128-134 extended push/store/send,
//! 135 pop, 136 dup, 137 thisContext, 138 push new array, 139 callPrimitive, 140-142 remote
//! temps, 143 push closure, 144-175 jumps, 176-207 special sends, 208-255 literal sends.

use super::codegen::Ins;

fn err<T>(what: &str, v: usize) -> Result<T, String> {
    Err(format!("{} {} out of range for V3PlusClosures", what, v))
}

pub fn encode(ins: &Ins, dist: i64, min: usize) -> Result<Vec<u8>, String> {
    let mut o = Vec::with_capacity(3);
    match *ins {
        Ins::PushRcvrVar(i) if i < 16 => o.push(i as u8),
        Ins::PushRcvrVar(i) | Ins::PushRcvrVarLong(i) if i < 64 => o.extend([128, i as u8]),
        Ins::PushRcvrVar(i) if i < 256 => o.extend([132, 64, i as u8]),
        Ins::PushTemp(i) if i < 16 => o.push(16 + i as u8),
        Ins::PushTemp(i) if i < 64 => o.extend([128, 64 | i as u8]),
        Ins::PushLit(i) if i < 32 => o.push(32 + i as u8),
        Ins::PushLit(i) if i < 64 => o.extend([128, 128 | i as u8]),
        Ins::PushLit(i) if i < 256 => o.extend([132, 96, i as u8]),
        Ins::PushLitVar(i) if i < 32 => o.push(64 + i as u8),
        Ins::PushLitVar(i) if i < 64 => o.extend([128, 192 | i as u8]),
        Ins::PushLitVar(i) if i < 256 => o.extend([132, 128, i as u8]),
        Ins::PushRcvrVar(i) | Ins::PushRcvrVarLong(i) => return err("instance variable", i),
        Ins::PushTemp(i) => return err("temp", i),
        Ins::PushLit(i) | Ins::PushLitVar(i) => return err("literal", i),
        Ins::PushSelf => o.push(112),
        Ins::PushTrue => o.push(113),
        Ins::PushFalse => o.push(114),
        Ins::PushNil => o.push(115),
        Ins::PushInt(v) if (-1..=2).contains(&v) => o.push((117 + v) as u8),
        Ins::PushInt(v) => return Err(format!("integer {} not pushable", v)),
        Ins::PushChar(_) => return Err("V3 has no push character bytecode".into()),
        Ins::ReturnSelf => o.push(120),
        Ins::ReturnTrue => o.push(121),
        Ins::ReturnFalse => o.push(122),
        Ins::ReturnNil => o.push(123),
        Ins::ReturnTop => o.push(124),
        Ins::BlockReturnTop => o.push(125),
        Ins::StoreRcvrVar(i, true) if i < 8 => o.push(96 + i as u8),
        Ins::StoreTemp(i, true) if i < 8 => o.push(104 + i as u8),
        Ins::StoreRcvrVar(i, pop) | Ins::StoreRcvrVarLong(i, pop) if i < 64 => {
            o.extend([if pop { 130 } else { 129 }, i as u8])
        }
        Ins::StoreRcvrVar(i, pop) if i < 256 => o.extend([132, if pop { 192 } else { 160 }, i as u8]),
        Ins::StoreTemp(i, pop) if i < 64 => o.extend([if pop { 130 } else { 129 }, 64 | i as u8]),
        Ins::StoreLitVar(i, pop) if i < 64 => o.extend([if pop { 130 } else { 129 }, 192 | i as u8]),
        Ins::StoreLitVar(i, pop) if i < 256 => {
            o.extend([132, 224, i as u8]);
            if pop {
                o.push(135);
            }
        }
        Ins::StoreRcvrVar(i, _) | Ins::StoreRcvrVarLong(i, _) => return err("instance variable", i),
        Ins::StoreTemp(i, _) => return err("temp", i),
        Ins::StoreLitVar(i, _) => return err("literal", i),
        Ins::Send(i, n) if i < 16 && n < 3 => o.push(208 + 16 * n as u8 + i as u8),
        Ins::Send(i, n) if i < 32 && n < 8 => o.extend([131, ((n << 5) | i) as u8]),
        Ins::Send(i, n) if i < 64 && n < 4 => o.extend([134, ((n << 6) | i) as u8]),
        Ins::Send(i, n) if i < 256 && n < 32 => o.extend([132, n as u8, i as u8]),
        Ins::SendSuper(i, n) if i < 32 && n < 8 => o.extend([133, ((n << 5) | i) as u8]),
        Ins::SendSuper(i, n) if i < 256 && n < 32 => o.extend([132, 32 | n as u8, i as u8]),
        Ins::Send(i, _) | Ins::SendSuper(i, _) => return err("selector literal", i),
        Ins::SendSuperDirected(..) => return Err("directed super send needs SistaV1".into()),
        Ins::SendSpecial(k) if k < 32 => o.push(176 + k as u8),
        Ins::SendSpecial(k) => return err("special selector", k),
        Ins::Pop => o.push(135),
        Ins::Dup => o.push(136),
        Ins::PushThisContext => o.push(137),
        Ins::PushNewArray(n, pop) if n < 128 => o.extend([138, n as u8 | ((pop as u8) << 7)]),
        Ins::PushNewArray(n, _) => return err("array size", n),
        Ins::CallPrimitive(p) => o.extend([139, (p & 255) as u8, (p >> 8) as u8]),
        Ins::PushRemoteTemp(i, v) | Ins::StoreRemoteTemp(i, v, _) if i > 255 || v > 255 => {
            return err("remote temp", i.max(v))
        }
        Ins::PushRemoteTemp(i, v) => o.extend([140, i as u8, v as u8]),
        Ins::StoreRemoteTemp(i, v, pop) => o.extend([if pop { 142 } else { 141 }, i as u8, v as u8]),
        Ins::PushClosure(nargs, ncopied, _) => {
            if nargs > 15 || ncopied > 15 || !(0..=65535).contains(&dist) {
                return Err("block too large or too many arguments/copied values".into());
            }
            o.extend([
                143,
                ((ncopied << 4) | nargs) as u8,
                (dist >> 8) as u8,
                (dist & 255) as u8,
            ]);
        }
        Ins::Jump(_) => {
            if min <= 1 && (1..=8).contains(&dist) {
                o.push(143 + dist as u8);
            } else if (-1024..=1023).contains(&dist) {
                o.extend([(160 + (dist >> 8) + 4) as u8, (dist & 255) as u8]);
            } else {
                return Err("jump too far for V3 (max 1023)".into());
            }
        }
        Ins::JumpFalse(_) if min <= 1 && (1..=8).contains(&dist) => o.push(151 + dist as u8),
        Ins::JumpTrue(_) | Ins::JumpFalse(_) => {
            if !(0..=1023).contains(&dist) {
                return Err("conditional jump too far for V3 (max 1023)".into());
            }
            let base = if matches!(ins, Ins::JumpTrue(_)) { 168 } else { 172 };
            o.extend([(base + (dist >> 8)) as u8, (dist & 255) as u8]);
        }
        Ins::PushFullClosure(..) => return Err("full blocks need SistaV1".into()),
        Ins::Label(_) => {}
    }
    Ok(o)
}
