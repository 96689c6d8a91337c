//! Go syntax for the instructions outside x86asm's legacy table: those with a VEX, EVEX or XOP
//! prefix, and 3DNow!.
//!
//! Go 1.27's x86asm decodes VEX and EVEX instructions from tables generated from Intel's XED
//! (its `avx.go`) and prints them as the rest: operands reversed, vector registers by width
//! (`X3`, `Y3`, `Z3`), an EVEX opmask as the operand before the destination (`K1`), and the
//! EVEX modifiers as mnemonic suffixes (`.BCST`, `.Z`, `.SAE`, `.RN_SAE` ...). goscope formats
//! iced's decoding the same way, so where Go decodes the instruction the text is Go's; where
//! Go prints `?` (BMI2's `RORX`, `ANDN`, `SHLX` ... are not in its tables) the same rules give
//! the Go assembler's spelling (`RORXL $0x1b, DI, R12`).

use iced_x86::{Instruction, Mnemonic, OpKind, Register, RoundingControl};

use super::plan9::{hex_signed, reg_name};
use super::{is_legacy_prefix, mnemonic_name};
use crate::Symbolizer;

/// The vector, mask and general registers by Go's names.
fn reg(r: Register, out: &mut String) {
    let (letter, n) = if r.is_xmm() {
        ('X', r.number())
    } else if r.is_ymm() {
        ('Y', r.number())
    } else if r.is_zmm() {
        ('Z', r.number())
    } else if r.is_k() {
        ('K', r.number())
    } else {
        out.push_str(reg_name(r));
        return;
    };
    out.push(letter);
    // Register numbers are below 32: at most two digits.
    if n >= 10 {
        out.push(char::from(b'0' + (n / 10) as u8));
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// The BMI1/BMI2 instructions on general registers, which the Go assembler spells with an
/// operand-size suffix (`ANDNQ`, `RORXL`); x86asm 1.27 has none of them in its tables.
fn gpr_sized(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Andn
            | Mnemonic::Bextr
            | Mnemonic::Blsi
            | Mnemonic::Blsmsk
            | Mnemonic::Blsr
            | Mnemonic::Bzhi
            | Mnemonic::Mulx
            | Mnemonic::Pdep
            | Mnemonic::Pext
            | Mnemonic::Rorx
            | Mnemonic::Sarx
            | Mnemonic::Shlx
            | Mnemonic::Shrx
    )
}

/// Where the VEX/EVEX/XOP prefix starts (after any legacy prefixes, which x86asm does not
/// accept there but the processor reads), and the vector-length field it encodes.
fn vector_length(code: &[u8]) -> (usize, u8) {
    let at = code.iter().position(|&b| !is_legacy_prefix(b)).unwrap_or(0);
    let byte = |i: usize| code.get(at + i).copied().unwrap_or(0);
    let l = match byte(0) {
        0xC5 => (byte(1) >> 2) & 1,
        0xC4 | 0x8F => (byte(2) >> 2) & 1,
        0x62 => (byte(3) >> 5) & 3,
        _ => 0,
    };
    (at, l)
}

/// Whether the memory operand is encoded with a SIB byte (x86asm records a scale then, and
/// never names a symbol for it).
fn has_sib(code: &[u8], at: usize) -> bool {
    let prefix_len = match code.get(at) {
        Some(0xC5) => 2,
        Some(0xC4 | 0x8F) => 3,
        Some(0x62) => 4,
        // 3DNow!: 0F 0F modrm.
        _ => 2,
    };
    let opcode_len = 1;
    match code.get(at + prefix_len + opcode_len) {
        Some(&modrm) => modrm >> 6 != 3 && modrm & 7 == 4,
        None => false,
    }
}

/// Formats `ins` (decoded from `code` at `pc`) in Go syntax into `out`.
pub(super) fn format(
    ins: &Instruction,
    code: &[u8],
    bitness: u32,
    pc: u64,
    syms: &dyn Symbolizer,
    out: &mut String,
) {
    let m = ins.mnemonic();
    let (at, vl) = vector_length(code);
    // Legacy prefixes before a VEX prefix make the instruction undefined (#UD) except for
    // segment and address-size overrides; say they are there, as binutils does.
    let prefixes = &code[..at];
    if prefixes.contains(&0xF3) {
        out.push_str("REP; ");
    } else if prefixes.contains(&0xF2) {
        out.push_str("REPNE; ");
    }
    if prefixes.contains(&0xF0) {
        out.push_str("LOCK ");
    }
    out.push_str(mnemonic_name(m));
    let n = ins.op_count();
    let gpr64 = (0..n).any(|i| ins.op_kind(i) == OpKind::Register && ins.op_register(i).is_gpr64());
    let evex = ins.encoding() == iced_x86::EncodingKind::EVEX;
    match m {
        _ if gpr_sized(m) => {
            let wide = ins.op_kind(0) == OpKind::Register && ins.op0_register().is_gpr64();
            out.push(if wide { 'Q' } else { 'L' });
        }
        // x86asm names the source width of the conversions that narrow (VCVTPD2DQX/Y), and
        // VFPCLASS's, from the vector-length field — for EVEX only on the three named here.
        Mnemonic::Vfpclasspd
        | Mnemonic::Vfpclassps
        | Mnemonic::Vcvttpd2dq
        | Mnemonic::Vcvttpd2udq
        | Mnemonic::Vcvttpd2qq
        | Mnemonic::Vcvttpd2uqq
        | Mnemonic::Vcvtpd2dq
        | Mnemonic::Vcvtpd2udq
        | Mnemonic::Vcvtpd2qq
        | Mnemonic::Vcvtpd2uqq
        | Mnemonic::Vcvtpd2ps
            if !evex
                || matches!(
                    m,
                    Mnemonic::Vfpclasspd | Mnemonic::Vfpclassps | Mnemonic::Vcvtpd2dq
                ) =>
        {
            match vl {
                0 => out.push('X'),
                1 => out.push('Y'),
                2 => out.push('Z'),
                _ => {}
            }
        }
        // Conversions to and from a general register: Q for 64 bits, and L for a 32-bit source
        // of VCVTSI2SD/SS (whose memory form says nothing else about the width).
        Mnemonic::Vcvtsi2sd | Mnemonic::Vcvtsi2ss => {
            let mem8 =
                ins.memory_size().size() == 8 && (0..n).any(|i| ins.op_kind(i) == OpKind::Memory);
            out.push(if gpr64 || mem8 { 'Q' } else { 'L' });
        }
        Mnemonic::Vcvttsd2si | Mnemonic::Vcvttss2si | Mnemonic::Vcvtsd2si | Mnemonic::Vcvtss2si
            if gpr64 =>
        {
            out.push('Q');
        }
        _ => {}
    }
    if evex {
        if ins.is_broadcast() {
            out.push_str(".BCST");
        }
        match ins.rounding_control() {
            RoundingControl::RoundToNearest => out.push_str(".RN_SAE"),
            RoundingControl::RoundDown => out.push_str(".RD_SAE"),
            RoundingControl::RoundUp => out.push_str(".RU_SAE"),
            RoundingControl::RoundTowardZero => out.push_str(".RZ_SAE"),
            RoundingControl::None if ins.suppress_all_exceptions() => out.push_str(".SAE"),
            RoundingControl::None => {}
        }
        if ins.zeroing_masking() {
            out.push_str(".Z");
        }
    }
    // Destination last; an opmask goes with the destination, just before it.
    for k in 0..n {
        out.push_str(if k == 0 { " " } else { ", " });
        let i = n - 1 - k;
        if i == 0 && ins.has_op_mask() {
            reg(ins.op_mask(), out);
            out.push_str(", ");
        }
        operand(ins, code, at, i, bitness, pc, syms, out);
    }
}

#[allow(clippy::too_many_arguments)]
fn operand(
    ins: &Instruction,
    code: &[u8],
    at: usize,
    i: u32,
    bitness: u32,
    pc: u64,
    syms: &dyn Symbolizer,
    out: &mut String,
) {
    match ins.op_kind(i) {
        OpKind::Register => reg(ins.op_register(i), out),
        OpKind::Memory => memory(ins, code, at, bitness, pc, syms, out),
        OpKind::Immediate8 | OpKind::Immediate8_2nd => {
            let v = if ins.op_kind(i) == OpKind::Immediate8 {
                ins.immediate8()
            } else {
                ins.immediate8_2nd()
            };
            out.push('$');
            crate::push_hex(out, u64::from(v));
        }
        _ => {
            out.push('$');
            crate::push_hex(out, ins.immediate(i));
        }
    }
}

/// A memory operand: `sym+off(SB)` for a symbol's address, else `seg:disp(base)(index*scale)`
/// with the displacement signed (x86asm 1.27 sign-extends it on this path).
fn memory(
    ins: &Instruction,
    code: &[u8],
    at: usize,
    bitness: u32,
    pc: u64,
    syms: &dyn Symbolizer,
    out: &mut String,
) {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let seg = match ins.segment_prefix() {
        // In 64-bit mode only FS and GS override anything.
        Register::FS | Register::GS => ins.segment_prefix(),
        r if bitness != 64 => r,
        _ => Register::None,
    };
    if base == Register::RIP || base == Register::EIP {
        // The address is the next instruction's plus the displacement. (x86asm 1.27 drops the
        // RIP base on this path and prints the bare displacement, which is no address at all.)
        let target = ins.memory_displacement64();
        if seg == Register::None
            && let Some((name, start)) = syms.lookup(target)
        {
            super::plan9::push_symbol(out, name, target.wrapping_sub(start) as i64);
            return;
        }
        let disp = target.wrapping_sub(pc.wrapping_add(ins.len() as u64)) as u32;
        if seg != Register::None {
            out.push_str(reg_name(seg));
            out.push(':');
        }
        crate::push_hex(out, u64::from(disp));
        out.push_str("(IP)");
        return;
    }
    let disp = if ins.memory_displ_size() == 0 {
        0
    } else {
        i64::from(ins.memory_displacement64() as u32 as i32)
    };
    if seg == Register::None
        && disp != 0
        && base == Register::None
        && index == Register::None
        && !has_sib(code, at)
        && let Some((name, start)) = syms.lookup(disp as u64)
    {
        super::plan9::push_symbol(out, name, (disp as u64).wrapping_sub(start) as i64);
        return;
    }
    if seg != Register::None {
        out.push_str(reg_name(seg));
        out.push(':');
    }
    if disp != 0 {
        hex_signed(out, disp);
    } else {
        out.push('0');
    }
    if base != Register::None {
        out.push('(');
        reg(base, out);
        out.push(')');
    }
    if index != Register::None {
        out.push('(');
        reg(index, out);
        out.push('*');
        out.push(char::from(b'0' + ins.memory_index_scale() as u8));
        out.push(')');
    }
}
