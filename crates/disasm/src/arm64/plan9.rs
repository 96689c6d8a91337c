//! Go (Plan 9) syntax for arm64, as `go tool objdump` prints it: loads and stores as MOVx with
//! the addressing mode in the mnemonic (`.P`, `.W`), `W` suffixes for 32-bit forms, F/V
//! prefixes for floating-point and vector instructions, operands reversed (destination last),
//! `R`/`F`/`V` register names, `imm(Rn)` memory, branch targets as `sym(SB)` or `n(PC)`.

use std::fmt::Write as _;

use super::goops::GO_ARM64_OPS;
use super::model::{Arg, Inst, Mode};
use crate::Symbolizer;

/// arm64asm's name for `name`, if it knows the mnemonic.
pub(super) fn known_op(name: &str) -> Option<&'static str> {
    GO_ARM64_OPS
        .binary_search(&name)
        .ok()
        .map(|i| GO_ARM64_OPS[i])
}

/// Mnemonics that get neither a `V` prefix nor a `W` suffix (arm64asm's `noSuffixOpSet`).
const NO_SUFFIX: &[&str] = &[
    "AESD",
    "AESE",
    "AESIMC",
    "AESMC",
    "CRC32B",
    "CRC32CB",
    "CRC32CH",
    "CRC32CW",
    "CRC32CX",
    "CRC32H",
    "CRC32W",
    "CRC32X",
    "LDARB",
    "LDARH",
    "LDAXRB",
    "LDAXRH",
    "LDTRH",
    "LDXRB",
    "LDXRH",
    "SHA1C",
    "SHA1H",
    "SHA1M",
    "SHA1P",
    "SHA1SU0",
    "SHA1SU1",
    "SHA256H",
    "SHA256H2",
    "SHA256SU0",
    "SHA256SU1",
];

/// arm64asm's condition names (both encodings of "always" print as AL).
fn cond_name(c: u8) -> &'static str {
    [
        "EQ", "NE", "CS", "CC", "MI", "PL", "VS", "VC", "HI", "LS", "GE", "LT", "GT", "LE", "AL",
        "AL",
    ][(c & 15) as usize]
}

fn gpr(n: u8) -> String {
    if n == 31 {
        "ZR".to_string()
    } else {
        format!("R{n}")
    }
}

fn base_reg(n: u8) -> String {
    if n == 31 {
        "(RSP)".to_string()
    } else {
        format!("(R{n})")
    }
}

fn is_w(a: &Arg) -> bool {
    matches!(a, Arg::Gpr { w: true, .. } | Arg::Sp { w: true, .. })
}

fn fp_size(a: &Arg) -> Option<u8> {
    match a {
        Arg::Fp { size, .. } => Some(*size),
        _ => None,
    }
}

/// One argument in Go syntax (arm64asm's `plan9Arg`).
fn arg(inst: &Inst, pc: u64, syms: &dyn Symbolizer, a: &Arg) -> String {
    match a {
        Arg::Imm(v) => format!("${v}"),
        Arg::Imm64(v) => format!("${v}"),
        Arg::ImmShift(v, 0) => format!("${v}"),
        Arg::ImmShift(v, s) => format!("$({v}<<{s})"),
        Arg::PcRel(off) => {
            let addr = pc.wrapping_add(*off as u64);
            match syms.lookup(addr) {
                Some((name, base)) if base == addr => format!("{name}(SB)"),
                _ => format!("{}(PC)", off / 4),
            }
        }
        Arg::Gpr { n, .. } => gpr(*n),
        Arg::Fp { n, .. } => {
            let op = inst.op;
            if op.starts_with('F') || op.ends_with("CVTF") || op == "LDP" || op == "STP" {
                format!("F{n}")
            } else {
                format!("V{n}")
            }
        }
        Arg::Sp { n, .. } => {
            if *n == 31 {
                "RSP".to_string()
            } else {
                format!("R{n}")
            }
        }
        Arg::Shifted { reg, op, amount } => {
            let r = gpr(reg.1);
            match *op {
                "" => r,
                "LSL" => format!("{r}<<{amount}"),
                "LSR" => format!("{r}>>{amount}"),
                "ASR" => format!("{r}->{amount}"),
                "ROR" => format!("{r}@>{amount}"),
                ext => {
                    if *amount != 0 {
                        format!("{r}.{ext}<<{amount}")
                    } else {
                        format!("{r}.{ext}")
                    }
                }
            }
        }
        Arg::Mem { base, mode: _, imm } => {
            if *imm != 0 {
                format!("{imm}{}", base_reg(*base))
            } else {
                base_reg(*base)
            }
        }
        Arg::MemPostReg { base, reg } => format!("{}(R{reg})", base_reg(*base)),
        Arg::MemExt {
            base,
            index,
            extend,
            amount,
            shift_must_be_zero,
        } => {
            let idx = gpr(index.1);
            let index = if *extend == "LSL" {
                if *amount != 0 && !shift_must_be_zero {
                    format!("({idx}<<{amount})")
                } else if *shift_must_be_zero && *amount == 1 {
                    format!("({idx}<<0)")
                } else {
                    format!("({idx})")
                }
            } else if *amount != 0 && !shift_must_be_zero {
                format!("({idx}.{extend}<<{amount})")
            } else {
                format!("({idx}.{extend})")
            };
            format!("{}{index}", base_reg(*base))
        }
        Arg::Cond(c) => match cond_name(*c) {
            "CS" => "HS".to_string(),
            "CC" => "LO".to_string(),
            n => n.to_string(),
        },
        Arg::FpImm(v) => {
            let s = format!("${v:.6}");
            s.trim_end_matches('0').to_string()
        }
        Arg::FpZero => "$(0.0)".to_string(),
        Arg::Arr { n, arr, cnt } => {
            if *cnt == 0 {
                format!("V{n}.{arr}")
            } else {
                let mut s = String::from("[");
                for i in 0..*cnt {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    let _ = write!(s, "V{}.{arr}", (n + i) & 31);
                }
                s.push(']');
                s
            }
        }
        Arg::ArrIdx { n, elem, idx, cnt } => {
            let mut s = String::new();
            if *cnt > 1 {
                s.push('[');
                for i in 0..*cnt {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    let _ = write!(s, "V{}.{elem}", (n + i) & 31);
                }
                s.push(']');
            } else {
                let _ = write!(s, "V{n}.{elem}");
            }
            let _ = write!(s, "[{idx}]");
            s
        }
        Arg::Sysreg(v) => format!("${v}"),
        Arg::SysregName(s) => s.clone(),
        Arg::Raw(s) => s.to_ascii_uppercase(),
    }
}

/// Formats `inst` in Go syntax (arm64asm's `GoSyntax`).
pub(super) fn format(inst: &Inst, pc: u64, syms: &dyn Symbolizer, out: &mut String) {
    let a = &inst.args;
    let mut args: Vec<String> = a.iter().map(|x| arg(inst, pc, syms, x)).collect();
    let mut op: String = inst.op.to_string();
    let base_op = inst.op;

    if matches!(
        base_op,
        "LDR" | "LDRB" | "LDRH" | "LDRSB" | "LDRSH" | "LDRSW"
    ) && let Some(Arg::PcRel(off)) = a.get(1)
        && matches!(a[0], Arg::Gpr { .. })
    {
        let addr = pc.wrapping_add(*off as u64);
        if let Some((name, base)) = syms.lookup(addr)
            && base == addr
        {
            args[1] = format!("${name}(SB)");
        }
    }

    // The addressing mode of every memory argument moves into the mnemonic (Go 1.27's
    // arm64asm reads all arguments, so LD1R and the other structure loads get `.P` too).
    let mut suffix = "";
    for x in a {
        match x {
            Arg::Mem {
                mode: Mode::Pre, ..
            } => suffix = ".W",
            Arg::Mem {
                mode: Mode::Post, ..
            }
            | Arg::MemPostReg { .. } => suffix = ".P",
            _ => {}
        }
    }

    let fp_name = |size: u8| match size {
        b'B' => "FMOVB",
        b'H' => "FMOVH",
        b'S' => "FMOVS",
        b'D' => "FMOVD",
        _ => "FMOVQ",
    };

    match base_op {
        "BL" => {
            out.push_str("CALL ");
            out.push_str(&args[0]);
            return;
        }
        "BLR" => {
            if let Some(Arg::Gpr { n, .. }) = a.first() {
                let _ = write!(out, "CALL (R{n})");
            }
            return;
        }
        "RET" => {
            if matches!(a.first(), Some(Arg::Gpr { n: 30, .. })) {
                out.push_str("RET");
                return;
            }
        }
        "B" => {
            if let Some(Arg::Cond(c)) = a.first() {
                let _ = write!(out, "B{} {}", cond_name(*c), args[1]);
            } else {
                out.push_str("JMP ");
                out.push_str(&args[0]);
            }
            return;
        }
        "BR" => {
            if let Some(Arg::Gpr { n, .. }) = a.first() {
                let _ = write!(out, "JMP (R{n})");
            }
            return;
        }
        "MOV" => {
            match a.first() {
                Some(Arg::Gpr { w, .. } | Arg::Sp { w, .. }) => {
                    op = if *w { "MOVW" } else { "MOVD" }.to_string();
                }
                Some(Arg::Arr { .. } | Arg::ArrIdx { .. }) => op = "VMOV".to_string(),
                _ => {}
            }
            if matches!(a.get(1), Some(Arg::ArrIdx { .. })) {
                op = "VMOV".to_string();
            }
        }
        "LDR" | "LDUR" => match a.first() {
            Some(x) if is_w(x) => op = format!("MOVWU{suffix}"),
            Some(Arg::Fp { size, n }) => {
                op = format!("{}{suffix}", fp_name(*size));
                args[0] = format!("F{n}");
            }
            _ => op = format!("MOVD{suffix}"),
        },
        "LDRB" => op = format!("MOVBU{suffix}"),
        "LDRH" => op = format!("MOVHU{suffix}"),
        "LDRSW" => op = format!("MOVW{suffix}"),
        "LDRSB" => {
            if let Some(x @ Arg::Gpr { .. }) = a.first() {
                op = if is_w(x) {
                    format!("MOVBW{suffix}")
                } else {
                    format!("MOVB{suffix}")
                };
            }
        }
        "LDRSH" => {
            if let Some(x @ Arg::Gpr { .. }) = a.first() {
                op = if is_w(x) {
                    format!("MOVHW{suffix}")
                } else {
                    format!("MOVH{suffix}")
                };
            }
        }
        "STR" | "STUR" => {
            match a.first() {
                Some(x) if is_w(x) => op = format!("MOVW{suffix}"),
                Some(Arg::Fp { size, n }) => {
                    op = format!("{}{suffix}", fp_name(*size));
                    args[0] = format!("F{n}");
                }
                _ => op = format!("MOVD{suffix}"),
            }
            args.swap(0, 1);
        }
        "STRB" | "STURB" => {
            op = format!("MOVB{suffix}");
            args.swap(0, 1);
        }
        "STRH" | "STURH" => {
            op = format!("MOVH{suffix}");
            args.swap(0, 1);
        }
        "TBNZ" | "TBZ" => {
            args.rotate_right(1);
        }
        "MADD" | "MSUB" | "SMADDL" | "SMSUBL" | "UMADDL" | "UMSUBL" => {
            if a.first().is_some_and(is_w) {
                op.push('W');
            }
            args.swap(2, 3);
        }
        "STLR" => {
            if a.first().is_some_and(is_w) {
                op.push('W');
            }
            args.swap(0, 1);
        }
        "STLRB" | "STLRH" => args.swap(0, 1),
        "STLXR" | "STXR" => {
            if a.get(1).is_some_and(is_w) {
                op.push('W');
            }
            args.swap(1, 2);
        }
        "STLXRB" | "STLXRH" | "STXRB" | "STXRH" => args.swap(1, 2),
        "BFI" | "BFXIL" | "SBFIZ" | "SBFX" | "UBFIZ" | "UBFX" => {
            if a.first().is_some_and(is_w) {
                op.push('W');
            }
            // (d, n, lsb, width) → (d, width, n, lsb)
            let (n, lsb, width) = (args[1].clone(), args[2].clone(), args[3].clone());
            args[1] = width;
            args[2] = n;
            args[3] = lsb;
        }
        "LDAXP" | "LDXP" => {
            if a.first().is_some_and(is_w) {
                op.push('W');
            }
            let _ = write!(out, "{op} {}, ({}, {})", args[2], args[0], args[1]);
            return;
        }
        "STP" | "LDP" => {
            let pair = format!("({}, {})", args[0], args[1]);
            let mem = args[2].clone();
            match a.first() {
                Some(x) if is_w(x) => op.push('W'),
                Some(Arg::Fp { size: b'S', .. }) => op = format!("F{op}S"),
                Some(Arg::Fp { size: b'D', .. }) => op = format!("F{op}D"),
                Some(Arg::Fp { size: b'Q', .. }) => op = format!("F{op}Q"),
                _ => {}
            }
            op.push_str(suffix);
            if base_op == "STP" {
                let _ = write!(out, "{op} {pair}, {mem}");
            } else {
                let _ = write!(out, "{op} {mem}, {pair}");
            }
            return;
        }
        "STLXP" | "STXP" => {
            if a.get(1).is_some_and(is_w) {
                op.push('W');
            }
            let _ = write!(
                out,
                "{op} ({}, {}), {}, {}",
                args[1], args[2], args[3], args[0]
            );
            return;
        }
        "FCCMP" | "FCCMPE" | "FCMP" | "FCMPE" | "FADD" | "FSUB" | "FMUL" | "FNMUL" | "FDIV"
        | "FMAX" | "FMIN" | "FMAXNM" | "FMINNM" | "FCSEL" | "FMADD" | "FMSUB" | "FNMADD"
        | "FNMSUB" => {
            if matches!(base_op, "FCCMP" | "FCCMPE") {
                args.swap(0, 1);
            }
            if matches!(base_op, "FCCMP" | "FCCMPE" | "FCMP" | "FCMPE")
                && matches!(a.get(1), Some(Arg::Imm(_) | Arg::FpZero))
            {
                args[1] = "$(0.0)".to_string();
            }
            if op.ends_with("MADD") || op.ends_with("MSUB") {
                args.swap(2, 3);
            }
            match a.first().and_then(fp_size) {
                Some(b'S') => op.push('S'),
                Some(b'D') => op.push('D'),
                _ => {}
            }
        }
        "FCVT" => {
            for i in [1, 0] {
                match a.get(i).and_then(fp_size) {
                    Some(b'H') => op.push('H'),
                    Some(b'S') => op.push('S'),
                    Some(b'D') => op.push('D'),
                    _ => {}
                }
            }
        }
        "FABS" | "FNEG" | "FSQRT" | "FRINTN" | "FRINTP" | "FRINTM" | "FRINTZ" | "FRINTA"
        | "FRINTX" | "FRINTI" => match a.get(1).and_then(fp_size) {
            Some(b'S') => op.push('S'),
            Some(b'D') => op.push('D'),
            _ => {}
        },
        "FCVTZS" | "FCVTZU" | "SCVTF" | "UCVTF" => {
            if !matches!(a.get(2), Some(Arg::Imm(_))) {
                for i in [1, 0] {
                    match a.get(i) {
                        Some(Arg::Fp { size: b'S', .. }) => op.push('S'),
                        Some(Arg::Fp { size: b'D', .. }) => op.push('D'),
                        Some(x) if is_w(x) => op.push('W'),
                        _ => {}
                    }
                }
            }
        }
        "FMOV" => {
            for i in [0, 1] {
                match a.get(i).and_then(fp_size) {
                    Some(b'S') => {
                        op.push('S');
                        break;
                    }
                    Some(b'D') => {
                        op.push('D');
                        break;
                    }
                    _ => {}
                }
            }
        }
        "CBNZ" | "CBZ" => {
            if a.first().is_some_and(is_w) {
                op.push('W');
            }
            args.swap(0, 1);
        }
        "ADR" | "ADRP" => {
            if let Some(Arg::PcRel(off)) = a.get(1) {
                args[1] = format!("{off}(PC)");
            }
        }
        "MSR" => {}
        "ST1" => {
            op = format!("V{op}{suffix}");
            args.swap(0, 1);
        }
        "LD1" => op = format!("V{op}{suffix}"),
        "UMOV" => op = "VMOV".to_string(),
        "NOP" => op = "NOOP".to_string(),
        _ => {
            if !NO_SUFFIX.contains(&base_op) {
                let mut fp = false;
                match a.first() {
                    Some(Arg::Arr { .. }) => op = format!("V{op}"),
                    Some(Arg::Fp { .. }) => fp = true,
                    _ => {}
                }
                if fp && !op.starts_with('F') {
                    op = format!("V{op}");
                }
                if a.first().is_some_and(is_w) {
                    op.push('W');
                }
            }
            op.push_str(suffix);
        }
    }

    // Conditional instructions: move the condition first.
    if matches!(a.get(3), Some(Arg::Cond(_))) && args.len() >= 4 {
        if matches!(
            a.get(2),
            Some(Arg::Gpr { .. } | Arg::Fp { .. } | Arg::Shifted { .. })
        ) {
            args.swap(1, 2);
        } else {
            args.swap(0, 2);
        }
    }
    args.reverse();
    out.push_str(&op);
    if !args.is_empty() {
        out.push(' ');
        out.push_str(&args.join(", "));
    }
}
