//! arm64 through `yaxpeax-arm`.
//!
//! yaxpeax gives the instruction in its architectural form (ORR, SUBS, UBFM ...) with typed
//! operands. [`model`] turns that into the model of `golang.org/x/arch/arm64/arm64asm` (the
//! decoder behind `go tool objdump`): the same alias choices (MOV, CMP, LSL, CSET ...) and the
//! same argument kinds; [`plan9`] then prints it as Go does. Instructions arm64asm does not know
//! print as `?`, as in the Go tool, except the LSE atomics (`LDADDALD`, `CASALW`, `SWPALD` ...):
//! they are what a reader looking for arm64's LOCK wants to see, so they print as the Go
//! assembler writes them ([`lse_go`]). Facts are decoded for every instruction, so annotations
//! name the atomics either way.

mod goops;
mod model;
mod plan9;

use goscope_binary::Arch;
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand};

use crate::{Disassembler, Flow, InsnInfo, Symbolizer, Syntax};

/// The arm64 disassembler.
pub(crate) struct Arm64;

fn decode_word(word: u32) -> Option<Instruction> {
    let bytes = word.to_le_bytes();
    let mut r = U8Reader::new(&bytes);
    let mut inst = Instruction::default();
    InstDecoder::default().decode_into(&mut inst, &mut r).ok()?;
    Some(inst)
}

impl Disassembler for Arm64 {
    fn arch(&self) -> Arch {
        Arch::Arm64
    }

    fn prints_words(&self) -> bool {
        true
    }

    fn as_dyn(&self) -> &dyn Disassembler {
        self
    }

    fn decode(
        &self,
        code: &[u8],
        pc: u64,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
    ) -> InsnInfo {
        let Some(b) = code.get(..4) else {
            out.push('?');
            return InsnInfo {
                len: 4,
                ..InsnInfo::default()
            };
        };
        let word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let inst = decode_word(word);
        let mut info = match &inst {
            Some(i) => facts(i, word, pc),
            None => InsnInfo {
                len: 4,
                ..InsnInfo::default()
            },
        };
        match syntax {
            Syntax::Go | Syntax::None => {
                let valid_inst = inst.as_ref().filter(|i| valid(i, word));
                if let Some(i) = valid_inst
                    && lse_go(i.opcode, word, out)
                {
                    info.known = true;
                    return info;
                }
                let m = valid_inst.and_then(|i| model::convert(i, word));
                match m {
                    Some(m) => {
                        plan9::format(&m, pc, syms, out);
                        info.known = true;
                    }
                    None => {
                        out.push('?');
                        info.known = false;
                    }
                }
            }
            Syntax::Intel | Syntax::Gnu => match &inst {
                Some(i) if i.opcode != Opcode::Invalid => {
                    gnu(i, word, pc, syms, out);
                    info.known = true;
                }
                _ => {
                    use std::fmt::Write as _;
                    let _ = write!(out, ".inst\t{word:#010x}");
                    info.known = false;
                }
            },
        }
        info
    }
}

/// Whether the encoding is allocated. yaxpeax accepts some unallocated encodings (a 32-bit
/// shift of 32 or more, reserved size fields, bits that must be zero); disarm64, generated
/// from the binutils tables, is the stricter check. Exclusive loads and stores with a
/// non-canonical `Rt2`/`Rs` field are CONSTRAINED UNPREDICTABLE, which Go's decoder (like
/// binutils' disassembler) still reads, so they bypass it.
fn valid(inst: &Instruction, word: u32) -> bool {
    use Opcode::*;
    if matches!(
        inst.opcode,
        LDAXR
            | LDAXRB
            | LDAXRH
            | LDXR
            | LDXRB
            | LDXRH
            | STLXR
            | STLXRB
            | STLXRH
            | STXR
            | STXRB
            | STXRH
            | LDAR
            | LDARB
            | LDARH
            | STLR
            | STLRB
            | STLRH
            | LDAXP
            | LDXP
            | STLXP
            | STXP
    ) {
        return true;
    }
    disarm64::decoder::decode(word).is_some() && allocated(inst, word)
}

fn field(w: u32, lo: u32, n: u32) -> u32 {
    (w >> lo) & ((1 << n) - 1)
}

/// The unallocated encodings neither yaxpeax nor disarm64 reject, and the ones arm64asm has no
/// instruction for (half-precision arithmetic, HVC, IC), found by the decoder-coverage test.
fn allocated(inst: &Instruction, w: u32) -> bool {
    use Opcode::*;
    let sf = w >> 31 == 1;
    // Logical and add/sub (shifted register): a 32-bit shift of 32 or more; ROR for add/sub.
    if field(w, 24, 5) == 0b01010 || (field(w, 24, 5) == 0b01011 && field(w, 21, 1) == 0) {
        if !sf && field(w, 15, 1) == 1 {
            return false;
        }
        if field(w, 24, 5) == 0b01011 && field(w, 22, 2) == 3 {
            return false;
        }
    }
    // Logical immediate: N=1 in 32-bit, and bitmasks that do not decode.
    if field(w, 23, 6) == 0b100100 {
        let n = field(w, 22, 1);
        let imms = field(w, 10, 6);
        if !sf && n == 1 {
            return false;
        }
        let combined = (n << 6) | (!imms & 0x3f);
        if combined == 0 {
            return false;
        }
        let len = 31 - combined.leading_zeros();
        let levels = (1u32 << len) - 1;
        if len < 1 || imms & levels == levels {
            return false;
        }
    }
    // Move wide: 32-bit with hw >= 2, and opc 01.
    if field(w, 23, 6) == 0b100101 && ((!sf && field(w, 22, 1) == 1) || field(w, 29, 2) == 1) {
        return false;
    }
    // Floating point with ftype 11 (half precision): arm64asm has none of it.
    if matches!(field(w, 24, 5), 0b11110 | 0b11111) && field(w, 30, 1) == 0 && field(w, 22, 2) == 3
    {
        return false;
    }
    // Load/store register offset: the extend option must be 010, 011, 110 or 111.
    if field(w, 27, 3) == 0b111
        && field(w, 24, 2) == 0
        && field(w, 21, 1) == 1
        && field(w, 10, 2) == 0b10
        && field(w, 14, 1) == 0
    {
        return false;
    }
    // Vector floating point on half-precision elements.
    let fp_op = format!("{:?}", inst.opcode).starts_with('F');
    if fp_op
        && inst.operands.iter().any(|o| {
            matches!(
                o,
                Operand::SIMDRegisterElements(_, _, yaxpeax_arm::armv8::a64::SIMDSizeCode::H)
            ) || matches!(
                o,
                Operand::SIMDRegister(yaxpeax_arm::armv8::a64::SIMDSizeCode::H, _)
            ) && inst.opcode != FCVT
        })
    {
        return false;
    }
    !matches!(inst.opcode, HVC)
}

/// GNU (binutils) syntax: yaxpeax's text with binutils' spellings for what differs, branch
/// targets as absolute addresses with their symbols.
fn gnu(inst: &Instruction, word: u32, pc: u64, syms: &dyn Symbolizer, out: &mut String) {
    // Where binutils chooses differently from yaxpeax: ORR #imm stays ORR when MOVZ/MOVN
    // could encode the value; UDF only for the UDF encoding; SYS aliases by name.
    if inst.opcode == Opcode::ORR
        && field(word, 23, 6) == 0b100100
        && field(word, 5, 5) == 31
        && model::move_wide_preferred(
            word >> 31 == 1,
            field(word, 22, 1),
            field(word, 10, 6),
            field(word, 16, 6),
        )
    {
        let ops: Vec<String> = inst
            .operands
            .iter()
            .take_while(|o| !matches!(o, Operand::Nothing))
            .map(|o| o.to_string())
            .collect();
        let _ = std::fmt::Write::write_fmt(out, format_args!("orr\t{}", ops.join(", ")));
        return;
    }
    if inst.opcode == Opcode::UDF && word >> 16 != 0 {
        let _ = std::fmt::Write::write_fmt(out, format_args!(".inst\t{word:#010x}"));
        return;
    }
    if let Opcode::SYS(_) = inst.opcode
        && let Some(m) = model::convert(inst, word)
        && let Some(model::Arg::Raw(text)) = m.args.first()
    {
        out.push_str(&m.op.to_ascii_lowercase());
        out.push('\t');
        out.push_str(&text.to_ascii_lowercase().replace(", r", ", x"));
        return;
    }
    let text = inst.to_string();
    let (mnemonic, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let mnemonic = match mnemonic {
        "b.hs" => "b.cs",
        "b.lo" => "b.cc",
        m => m,
    };
    out.push_str(mnemonic);
    if rest.is_empty() {
        return;
    }
    out.push('\t');
    // yaxpeax writes pc-relative targets as `$+0x10`; binutils writes the address.
    let mut target = None;
    for op in inst.operands.iter() {
        if let Operand::PCOffset(off) = op {
            let t = if inst.opcode == Opcode::ADRP {
                (pc & !0xfff).wrapping_add(*off as u64)
            } else {
                pc.wrapping_add(*off as u64)
            };
            target = Some(t);
        }
    }
    match (target, rest.find('$')) {
        (Some(t), Some(i)) => {
            out.push_str(&rest[..i]);
            crate::push_hex(out, t);
            let tail = &rest[i..];
            let end = tail.find([',', ' ']).unwrap_or(tail.len());
            out.push_str(&tail[end..]);
            if let Some((name, base)) = syms.lookup(t) {
                use std::fmt::Write as _;
                let _ = if t == base {
                    write!(out, " <{name}>")
                } else {
                    write!(out, " <{name}+{:#x}>", t - base)
                };
            }
        }
        _ => out.push_str(rest),
    }
}

/// The name of an LSE atomic operation, from yaxpeax's opcode.
fn lse_atomic(op: Opcode) -> Option<(&'static str, &'static str, u8)> {
    use Opcode::*;
    Some(match op {
        LDADD(o) | LDADDB(o) | LDADDH(o) => ("LDADD", "atomic add", o),
        LDCLR(o) | LDCLRB(o) | LDCLRH(o) => ("LDCLR", "atomic and-not", o),
        LDEOR(o) | LDEORB(o) | LDEORH(o) => ("LDEOR", "atomic xor", o),
        LDSET(o) | LDSETB(o) | LDSETH(o) => ("LDSET", "atomic or", o),
        LDSMAX(o) | LDSMAXB(o) | LDSMAXH(o) => ("LDSMAX", "atomic signed max", o),
        LDSMIN(o) | LDSMINB(o) | LDSMINH(o) => ("LDSMIN", "atomic signed min", o),
        LDUMAX(o) | LDUMAXB(o) | LDUMAXH(o) => ("LDUMAX", "atomic unsigned max", o),
        LDUMIN(o) | LDUMINB(o) | LDUMINH(o) => ("LDUMIN", "atomic unsigned min", o),
        SWP(o) | SWPB(o) | SWPH(o) => ("SWP", "atomic swap", o),
        CAS(o) | CASB(o) | CASH(o) | CASP(o) => ("CAS", "atomic compare-and-swap", o),
        _ => return None,
    })
}

/// An LSE atomic in the Go assembler's syntax: arm64asm has none of them (`go tool objdump`
/// prints `?`), so the spelling is the assembler's (cmd/internal/obj/arm64): the operation,
/// the ordering (`A`, `L`, `AL`), the size (`B`, `H`, `W`, `D`), then `Rs, (Rn), Rt`
/// (`LDADDALD R1, (R2), R3`; CASP takes register pairs). LDSET is the assembler's LDOR; the
/// operations it has no name for (LDSMAX, LDUMIN ...) are spelled the same way. The store
/// aliases (STADD is LDADD into ZR) keep the LD name, as the assembler writes them. Returns
/// whether `op` was one.
fn lse_go(op: Opcode, word: u32, out: &mut String) -> bool {
    let Some((name, _, order)) = lse_atomic(op) else {
        return false;
    };
    let name = if name == "LDSET" { "LDOR" } else { name };
    let pair = matches!(op, Opcode::CASP(_));
    out.push_str(name);
    if pair {
        out.push('P');
    }
    out.push_str(match order {
        0 => "",
        1 => "L",
        2 => "A",
        _ => "AL",
    });
    let size = if pair {
        // CASP's sz bit (30): a pair of words or of doublewords.
        if field(word, 30, 1) == 1 { 'D' } else { 'W' }
    } else {
        ['B', 'H', 'W', 'D'][field(word, 30, 2) as usize]
    };
    out.push(size);
    let (rs, rn, rt) = (field(word, 16, 5), field(word, 5, 5), field(word, 0, 5));
    let reg = |out: &mut String, n: u32| {
        use std::fmt::Write as _;
        let _ = if n >= 31 {
            write!(out, "ZR")
        } else {
            write!(out, "R{n}")
        };
    };
    // CASP's operands are register pairs, `(R0, R1)`.
    let operand = |out: &mut String, n: u32| {
        if pair {
            out.push('(');
            reg(out, n);
            out.push_str(", ");
            reg(out, n + 1);
            out.push(')');
        } else {
            reg(out, n);
        }
    };
    out.push(' ');
    operand(out, rs);
    out.push_str(", (");
    if rn == 31 {
        out.push_str("RSP");
    } else {
        reg(out, rn);
    }
    out.push_str("), ");
    operand(out, rt);
    true
}

/// The facts annotations need about `inst`.
fn facts(inst: &Instruction, word: u32, pc: u64) -> InsnInfo {
    use Opcode::*;
    let mut info = InsnInfo {
        len: 4,
        known: true,
        ..InsnInfo::default()
    };
    let pcrel = inst.operands.iter().find_map(|o| match o {
        Operand::PCOffset(off) => Some(pc.wrapping_add(*off as u64)),
        _ => None,
    });
    match inst.opcode {
        B => {
            info.flow = Flow::Jump;
            info.target = pcrel;
        }
        BL => {
            info.flow = Flow::Call;
            info.target = pcrel;
        }
        Bcc(_) | CBZ | CBNZ | TBZ | TBNZ => {
            info.flow = Flow::CondJump;
            info.target = pcrel;
        }
        BR => info.flow = Flow::IndirectJump,
        BLR => info.flow = Flow::IndirectCall,
        RET => info.flow = Flow::Return,
        ADRP => {
            if let (Operand::Register(_, rd), Operand::PCOffset(off)) =
                (inst.operands[0], inst.operands[1])
            {
                info.reg = Some(crate::RegRef::Adrp(
                    rd as u8,
                    (pc & !0xfff).wrapping_add(off as u64),
                ));
            }
        }
        LDR | LDRB | LDRH | LDRSB | LDRSH | LDRSW => {
            if let Operand::PCOffset(_) = inst.operands[1] {
                info.mem_addr = pcrel;
            }
        }
        _ => {}
    }
    let suffix = |o: u8| match o {
        0 => "",
        1 => "L",
        2 => "A",
        _ => "AL",
    };
    if let Some((name, what, o)) = lse_atomic(inst.opcode) {
        let size = match (word >> 30) & 3 {
            0 => "B",
            1 => "H",
            _ => "",
        };
        info.atomic = Some(format!("{name}{}{size} ({what})", suffix(o)).into());
    } else {
        let exclusive = match inst.opcode {
            LDAXR | LDAXRB | LDAXRH | LDXR | LDXRB | LDXRH | LDAXP | LDXP => {
                Some("load-exclusive: start of an atomic read-modify-write loop")
            }
            STLXR | STLXRB | STLXRH | STXR | STXRB | STXRH | STLXP | STXP => {
                Some("store-exclusive: end of an atomic read-modify-write loop")
            }
            LDAR | LDARB | LDARH | LDAPR | LDAPRB | LDAPRH => Some("atomic load-acquire"),
            STLR | STLRB | STLRH => Some("atomic store-release"),
            _ => None,
        };
        if let Some(what) = exclusive {
            info.atomic = Some(format!("{:?} ({what})", inst.opcode).into());
        }
    }
    // Memory operands and immediate adds on a base register: the goroutine register (R28)
    // and ADRP pairs.
    for op in inst.operands.iter() {
        if let Operand::RegPreIndex(n, imm, false) = *op {
            info.reg = Some(crate::RegRef::BaseOffset(n as u8, i64::from(imm)));
            if n == 28 {
                info.g_offset = Some(i64::from(imm));
            }
        }
    }
    if matches!(inst.opcode, ADD)
        && let (Operand::RegisterOrSP(_, _), Operand::RegisterOrSP(_, n), Operand::Immediate(imm)) =
            (inst.operands[0], inst.operands[1], inst.operands[2])
    {
        info.reg = Some(crate::RegRef::BaseOffset(n as u8, i64::from(imm)));
    }
    // The nil check: a load into the zero register.
    if matches!(
        inst.opcode,
        LDR | LDRB | LDRH | LDRSB | LDRSH | LDRSW | LDUR | LDURB
    ) && matches!(inst.operands[0], Operand::Register(_, 31))
    {
        info.nil_check = true;
    }
    info
}

#[cfg(test)]
mod tests {
    use crate::{Disassembler, NoSymbols, Syntax};

    fn go(word: u32) -> String {
        let mut out = String::new();
        super::Arm64.decode(
            &word.to_le_bytes(),
            0x1000,
            Syntax::Go,
            &NoSymbols,
            &mut out,
        );
        out
    }

    #[test]
    fn lse_atomics_read_as_the_go_assembler_writes_them() {
        // The encodings of cmd/asm's testdata/arm64.s for these lines (`go tool objdump`
        // prints `?` for every one).
        assert_eq!(go(0xf8e500c7), "LDADDALD R5, (R6), R7");
        assert_eq!(go(0xf8e503e7), "LDADDALD R5, (RSP), R7");
        assert_eq!(go(0x382500c7), "LDADDB R5, (R6), R7");
        assert_eq!(go(0x78a513e7), "LDCLRAH R5, (RSP), R7");
        assert_eq!(go(0xf8e530c7), "LDORALD R5, (R6), R7");
        assert_eq!(go(0xf8e580c7), "SWPALD R5, (R6), R7");
        assert_eq!(go(0x382580c7), "SWPB R5, (R6), R7");
        assert_eq!(go(0xc8e5fcc7), "CASALD R5, (R6), R7");
        assert_eq!(go(0x88e5fcc7), "CASALW R5, (R6), R7");
        assert_eq!(go(0x08bf7ca3), "CASB ZR, (R5), R3");
        assert_eq!(go(0x483e7fe8), "CASPD (R30, ZR), (RSP), (R8, R9)");
        assert_eq!(go(0x382500df), "LDADDB R5, (R6), ZR");
    }
}
