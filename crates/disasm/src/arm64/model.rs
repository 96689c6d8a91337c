//! An arm64 instruction in the shape `go tool objdump`'s decoder (arm64asm) gives it: its
//! mnemonic after the architecture's preferred aliases, and arguments of its kinds.

use yaxpeax_arm::armv8::a64::{Instruction, Opcode, Operand, SIMDSizeCode, ShiftStyle, SizeCode};

/// Addressing mode of an immediate-offset memory operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Offset,
    Pre,
    Post,
}

/// An argument, as arm64asm models it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg {
    /// General register (`W`/`X`); 31 is the zero register.
    Gpr { w: bool, n: u8 },
    /// General register where 31 is the stack pointer.
    Sp { w: bool, n: u8 },
    /// Scalar SIMD/FP register: size letter B, H, S, D or Q.
    Fp { size: u8, n: u8 },
    /// `$n` as uint32.
    Imm(u32),
    /// `$n` as int64.
    Imm64(i64),
    /// `$(imm<<shift)`.
    ImmShift(u32, u8),
    /// PC-relative offset in bytes.
    PcRel(i64),
    /// `imm(Rn)` with an addressing mode.
    Mem { base: u8, mode: Mode, imm: i64 },
    /// `(Rn)(Rm)`: post-index by register.
    MemPostReg { base: u8, reg: u8 },
    /// `(Rn)(Rm<<s)`: register offset.
    MemExt {
        base: u8,
        index: (bool, u8),
        extend: &'static str,
        amount: u8,
        shift_must_be_zero: bool,
    },
    /// Shifted or extended register; `op` is "" when neither is shown.
    Shifted {
        reg: (bool, u8),
        op: &'static str,
        amount: u8,
    },
    /// Condition code, as encoded.
    Cond(u8),
    /// Floating-point immediate.
    FpImm(f64),
    /// FCMP's `#0.0`.
    FpZero,
    /// Vector register with arrangement (`V1.B16`), or a list of `cnt` of them.
    Arr { n: u8, arr: &'static str, cnt: u8 },
    /// Vector element (`V8.D[0]`), or a list of `cnt` registers' elements.
    ArrIdx {
        n: u8,
        elem: &'static str,
        idx: u8,
        cnt: u8,
    },
    /// A system register for MRS: its encoding.
    Sysreg(u32),
    /// A system register for MSR: its generic name.
    SysregName(String),
    /// Text printed in upper case as is.
    Raw(String),
}

/// An instruction in arm64asm's model.
#[derive(Debug, Clone)]
pub(super) struct Inst {
    pub op: &'static str,
    pub args: Vec<Arg>,
}

fn arrangement(v: SIMDSizeCode, e: SIMDSizeCode) -> Option<&'static str> {
    use SIMDSizeCode::*;
    Some(match (v, e) {
        (Q, B) => "B16",
        (D, B) => "B8",
        (Q, H) => "H8",
        (D, H) => "H4",
        (Q, S) => "S4",
        (D, S) => "S2",
        (Q, D) => "D2",
        (D, D) => "D1",
        (Q, Q) => "Q1",
        _ => return None,
    })
}

fn elem(e: SIMDSizeCode) -> &'static str {
    match e {
        SIMDSizeCode::B => "B",
        SIMDSizeCode::H => "H",
        SIMDSizeCode::S => "S",
        SIMDSizeCode::D => "D",
        SIMDSizeCode::Q => "Q",
    }
}

fn size_letter(s: SIMDSizeCode) -> u8 {
    elem(s).as_bytes()[0]
}

fn shift_name(s: ShiftStyle) -> &'static str {
    match s {
        ShiftStyle::LSL => "LSL",
        ShiftStyle::LSR => "LSR",
        ShiftStyle::ASR => "ASR",
        ShiftStyle::ROR => "ROR",
        ShiftStyle::UXTB => "UXTB",
        ShiftStyle::UXTH => "UXTH",
        ShiftStyle::UXTW => "UXTW",
        ShiftStyle::UXTX => "UXTX",
        ShiftStyle::SXTB => "SXTB",
        ShiftStyle::SXTH => "SXTH",
        ShiftStyle::SXTW => "SXTW",
        ShiftStyle::SXTX => "SXTX",
    }
}

/// A yaxpeax operand as an arm64asm argument (`None`: a kind Go's decoder does not print).
fn arg(op: &Operand) -> Option<Arg> {
    Some(match *op {
        Operand::Register(sz, n) => Arg::Gpr {
            w: sz == SizeCode::W,
            n: n as u8,
        },
        Operand::RegisterOrSP(sz, n) => Arg::Sp {
            w: sz == SizeCode::W,
            n: n as u8,
        },
        Operand::SIMDRegister(sz, n) => Arg::Fp {
            size: size_letter(sz),
            n: n as u8,
        },
        Operand::SIMDRegisterElements(v, n, e) => Arg::Arr {
            n: n as u8,
            arr: arrangement(v, e)?,
            cnt: 0,
        },
        Operand::SIMDRegisterElementsLane(_, n, e, lane) => Arg::ArrIdx {
            n: n as u8,
            elem: elem(e),
            idx: lane,
            cnt: 0,
        },
        Operand::SIMDRegisterGroup(v, n, e, cnt) => Arg::Arr {
            n: n as u8,
            arr: arrangement(v, e)?,
            cnt,
        },
        Operand::SIMDRegisterGroupLane(n, e, cnt, lane) => Arg::ArrIdx {
            n: n as u8,
            elem: elem(e),
            idx: lane,
            cnt,
        },
        Operand::ConditionCode(c) => Arg::Cond(c),
        Operand::PCOffset(off) => Arg::PcRel(off),
        Operand::Immediate(v) => Arg::Imm(v),
        Operand::Imm64(v) => Arg::Imm64(v as i64),
        Operand::Imm16(v) => Arg::Imm(u32::from(v)),
        Operand::ImmediateDouble(f) => Arg::FpImm(f),
        Operand::ImmShift(v, s) => Arg::ImmShift(u32::from(v), s),
        Operand::RegShift(style, amount, sz, n) => {
            let show = amount != 0 || !matches!(style, ShiftStyle::LSL);
            Arg::Shifted {
                reg: (sz == SizeCode::W, n as u8),
                op: if show { shift_name(style) } else { "" },
                amount,
            }
        }
        Operand::RegRegOffset(n, m, sz, style, amount) => Arg::MemExt {
            base: n as u8,
            index: (sz == SizeCode::W, m as u8),
            extend: shift_name(style),
            amount,
            shift_must_be_zero: false,
        },
        Operand::RegPreIndex(n, imm, wb) => Arg::Mem {
            base: n as u8,
            mode: if wb { Mode::Pre } else { Mode::Offset },
            imm: i64::from(imm),
        },
        Operand::RegPostIndex(n, imm) => Arg::Mem {
            base: n as u8,
            mode: Mode::Post,
            imm: i64::from(imm),
        },
        Operand::RegPostIndexReg(n, m) => Arg::MemPostReg {
            base: n as u8,
            reg: m as u8,
        },
        Operand::SystemReg(v) => Arg::Sysreg(u32::from(v)),
        _ => return None,
    })
}

fn gpr(a: &Arg) -> Option<(bool, u8)> {
    match *a {
        Arg::Gpr { w, n } | Arg::Sp { w, n } => Some((w, n)),
        Arg::Shifted { reg, op: "", .. } => Some(reg),
        _ => None,
    }
}

fn is_zr(a: &Arg) -> bool {
    matches!(a, Arg::Gpr { n: 31, .. })
        || matches!(
            a,
            Arg::Shifted {
                reg: (_, 31),
                op: "",
                ..
            }
        )
}

fn invert(c: u8) -> u8 {
    c ^ 1
}

/// ARM's `BFXPreferred`: whether a bitfield move reads better as an extract.
fn bfx_preferred(sf: bool, unsigned: bool, imms: u32, immr: u32) -> bool {
    if imms < immr {
        return false;
    }
    if imms == if sf { 63 } else { 31 } {
        return false;
    }
    if immr == 0 {
        if !sf && (imms == 7 || imms == 15) {
            return false;
        }
        if sf && !unsigned && (imms == 7 || imms == 15 || imms == 31) {
            return false;
        }
    }
    true
}

/// ARM's `MoveWidePreferred` for a logical immediate.
pub(super) fn move_wide_preferred(sf: bool, n: u32, imms: u32, immr: u32) -> bool {
    let width = if sf { 64 } else { 32 };
    if sf && n != 1 {
        return false;
    }
    if !(sf || n == 0 && imms & 0x20 == 0) {
        return false;
    }
    if imms < 16 {
        return (immr.wrapping_neg() % 16) <= 15 - imms;
    }
    if imms >= width - 15 {
        return (immr % 16) <= imms - (width - 15);
    }
    false
}

fn bits(w: u32, lo: u32, n: u32) -> u32 {
    (w >> lo) & ((1 << n) - 1)
}

/// The arm64asm model of `inst` (raw encoding `word`), or `None` when arm64asm would print
/// `?`.
pub(super) fn convert(inst: &Instruction, word: u32) -> Option<Inst> {
    use Opcode::*;
    let mut args: Vec<Arg> = Vec::with_capacity(4);
    for op in inst.operands.iter() {
        if matches!(op, Operand::Nothing) {
            break;
        }
        match arg(op) {
            Some(a) => args.push(a),
            None => match (inst.opcode, op) {
                // Handled per opcode below.
                (SYS(_) | HINT | MSR | PRFM | PRFUM | DMB(_) | DSB(_) | ISB, _) => {}
                _ => return None,
            },
        }
    }
    let sf = word >> 31 == 1;
    let op: &'static str = match inst.opcode {
        Invalid | UDF => return None,
        MOVZ | MOVN => {
            let imm16 = bits(word, 5, 16);
            let hw = bits(word, 21, 2);
            let movn = inst.opcode == MOVN;
            let alias = !(imm16 == 0 && hw != 0 || movn && !sf && imm16 == 0xffff);
            if alias {
                let mut v = u64::from(imm16) << (hw * 16);
                if movn {
                    v = !v;
                }
                let val = if sf { v as i64 } else { i64::from(v as u32) };
                set(&mut args, 1, Arg::Imm64(val));
                "MOV"
            } else if movn {
                "MOVN"
            } else {
                "MOVZ"
            }
        }
        MOVK => "MOVK",
        ADD | SUB => {
            // MOV to or from SP.
            if inst.opcode == ADD
                && matches!(args.get(2), Some(Arg::Imm(0)))
                && bits(word, 22, 2) == 0
                && (matches!(*at(&args, 0), Arg::Sp { n: 31, .. })
                    || matches!(*at(&args, 1), Arg::Sp { n: 31, .. }))
            {
                args.truncate(2);
                "MOV"
            } else if inst.opcode == SUB
                && is_zr(at(&args, 1))
                && bits(word, 24, 5) == 0b01011
                && bits(word, 21, 1) == 0
            {
                remove_at(&mut args, 1);
                "NEG"
            } else {
                fix_addsub_imm(&mut args, word);
                if inst.opcode == ADD { "ADD" } else { "SUB" }
            }
        }
        ADDS | SUBS => {
            fix_addsub_imm(&mut args, word);
            if is_zr(at(&args, 0)) {
                remove_at(&mut args, 0);
                if inst.opcode == ADDS { "CMN" } else { "CMP" }
            } else if inst.opcode == SUBS
                && is_zr(at(&args, 1))
                && bits(word, 24, 5) == 0b01011
                && bits(word, 21, 1) == 0
            {
                remove_at(&mut args, 1);
                "NEGS"
            } else if inst.opcode == ADDS {
                "ADDS"
            } else {
                "SUBS"
            }
        }
        ADC => "ADC",
        ADCS => "ADCS",
        SBC | SBCS => {
            if is_zr(at(&args, 1)) {
                remove_at(&mut args, 1);
                if inst.opcode == SBC { "NGC" } else { "NGCS" }
            } else if inst.opcode == SBC {
                "SBC"
            } else {
                "SBCS"
            }
        }
        AND | ORR | EOR | ANDS => {
            let logical_imm = bits(word, 23, 6) == 0b100100;
            if logical_imm {
                let n = bits(word, 22, 1);
                let immr = bits(word, 16, 6);
                let imms = bits(word, 10, 6);
                if let Some(Arg::Imm(v)) = args.get(2) {
                    args[2] = Arg::Imm64(i64::from(*v));
                }
                if !sf && let Some(Arg::Imm64(v)) = args.get(2) {
                    args[2] = Arg::Imm64(i64::from(*v as u32));
                }
                match inst.opcode {
                    ORR if matches!(*at(&args, 1), Arg::Gpr { n: 31, .. })
                        && !move_wide_preferred(sf, n, imms, immr) =>
                    {
                        remove_at(&mut args, 1);
                        "MOV"
                    }
                    ANDS if is_zr(at(&args, 0)) => {
                        remove_at(&mut args, 0);
                        "TST"
                    }
                    AND => "AND",
                    ORR => "ORR",
                    EOR => "EOR",
                    _ => "ANDS",
                }
            } else {
                match inst.opcode {
                    ORR if is_zr(at(&args, 1))
                        && matches!(*at(&args, 2), Arg::Shifted { op: "", .. }) =>
                    {
                        remove_at(&mut args, 1);
                        "MOV"
                    }
                    ORR if is_vector(&args) => {
                        if *at(&args, 1) == *at(&args, 2) {
                            remove_at(&mut args, 2);
                            "MOV"
                        } else {
                            "ORR"
                        }
                    }
                    ANDS if is_zr(at(&args, 0)) => {
                        remove_at(&mut args, 0);
                        "TST"
                    }
                    AND => "AND",
                    ORR => "ORR",
                    EOR => "EOR",
                    _ => "ANDS",
                }
            }
        }
        ORN => {
            if is_zr(at(&args, 1)) && !is_vector(&args) {
                remove_at(&mut args, 1);
                "MVN"
            } else {
                "ORN"
            }
        }
        EON => "EON",
        BIC => "BIC",
        BICS => "BICS",
        UBFM | SBFM | BFM => return bitfield(inst.opcode, args, word),
        EXTR => {
            if gpr(at(&args, 1)) == gpr(at(&args, 2)) {
                remove_at(&mut args, 2);
                "ROR"
            } else {
                "EXTR"
            }
        }
        ADR => "ADR",
        ADRP => "ADRP",
        CSEL => "CSEL",
        CSINC | CSINV | CSNEG => {
            let cond = match *at(&args, 3) {
                Arg::Cond(c) => c,
                _ => return None,
            };
            let rn = gpr(at(&args, 1));
            let rm = gpr(at(&args, 2));
            let al = cond >> 1 == 7;
            if inst.opcode != CSNEG && rn == rm && rn.is_some_and(|r| r.1 == 31) && !al {
                args.truncate(1);
                args.push(Arg::Cond(invert(cond)));
                if inst.opcode == CSINC {
                    "CSET"
                } else {
                    "CSETM"
                }
            } else if rn == rm && !al && rn.is_some_and(|r| r.1 != 31) {
                args.truncate(2);
                args.push(Arg::Cond(invert(cond)));
                match inst.opcode {
                    CSINC => "CINC",
                    CSINV => "CINV",
                    _ => "CNEG",
                }
            } else {
                match inst.opcode {
                    CSINC => "CSINC",
                    CSINV => "CSINV",
                    _ => "CSNEG",
                }
            }
        }
        CCMN => "CCMN",
        CCMP => "CCMP",
        RBIT => "RBIT",
        REV16 => "REV16",
        REV32 => "REV32",
        REV => "REV",
        CLZ => "CLZ",
        CLS => "CLS",
        MADD | MSUB | SMADDL | SMSUBL | UMADDL | UMSUBL => {
            if is_zr(at(&args, 3)) {
                args.truncate(3);
                match inst.opcode {
                    MADD => "MUL",
                    MSUB => "MNEG",
                    SMADDL => "SMULL",
                    SMSUBL => "SMNEGL",
                    UMADDL => "UMULL",
                    _ => "UMNEGL",
                }
            } else {
                match inst.opcode {
                    MADD => "MADD",
                    MSUB => "MSUB",
                    SMADDL => "SMADDL",
                    SMSUBL => "SMSUBL",
                    UMADDL => "UMADDL",
                    _ => "UMSUBL",
                }
            }
        }
        SMULH => "SMULH",
        UMULH => "UMULH",
        UDIV => "UDIV",
        SDIV => "SDIV",
        LSLV => "LSL",
        LSRV => "LSR",
        ASRV => "ASR",
        RORV => "ROR",
        CRC32B => "CRC32B",
        CRC32H => "CRC32H",
        CRC32W => "CRC32W",
        CRC32X => "CRC32X",
        CRC32CB => "CRC32CB",
        CRC32CH => "CRC32CH",
        CRC32CW => "CRC32CW",
        CRC32CX => "CRC32CX",
        B => "B",
        Bcc(c) => {
            args.insert(0, Arg::Cond(c));
            "B"
        }
        BL => "BL",
        BR => "BR",
        BLR => "BLR",
        RET => "RET",
        CBZ => "CBZ",
        CBNZ => "CBNZ",
        TBZ => "TBZ",
        TBNZ => "TBNZ",
        SVC => "SVC",
        HVC => "HVC",
        SMC => "SMC",
        BRK => "BRK",
        HLT => "HLT",
        ERET => "ERET",
        DRPS => "DRPS",
        DCPS1 => "DCPS1",
        DCPS2 => "DCPS2",
        DCPS3 => "DCPS3",
        CLREX => {
            args.clear();
            args.push(Arg::Imm(bits(word, 8, 4)));
            "CLREX"
        }
        HINT => {
            let imm = bits(word, 5, 7);
            args.clear();
            match imm {
                0 => "NOP",
                1 => "YIELD",
                2 => "WFE",
                3 => "WFI",
                4 => "SEV",
                5 => "SEVL",
                _ => {
                    args.push(Arg::Imm(imm));
                    "HINT"
                }
            }
        }
        DMB(o) | DSB(o) => {
            args.clear();
            args.push(Arg::Imm(u32::from(o)));
            if matches!(inst.opcode, DMB(_)) {
                "DMB"
            } else {
                "DSB"
            }
        }
        ISB => {
            args.clear();
            args.push(Arg::Imm(bits(word, 8, 4)));
            "ISB"
        }
        MRS => "MRS",
        MSR => {
            // Only the register form (the PSTATE-immediate form prints as ?).
            if bits(word, 20, 1) == 0 {
                return None;
            }
            let rt = bits(word, 0, 5) as u8;
            args.clear();
            args.push(Arg::SysregName(format!(
                "S{}_{}_C{}_C{}_{}",
                2 + bits(word, 19, 1),
                bits(word, 16, 3),
                bits(word, 12, 4),
                bits(word, 8, 4),
                bits(word, 5, 3)
            )));
            args.push(Arg::Gpr { w: false, n: rt });
            "MSR"
        }
        SYS(_) => return sys(word),
        PRFM | PRFUM => {
            let prfop = bits(word, 0, 5);
            let name = prefetch_name(prfop);
            let mem = args
                .iter()
                .find(|a| matches!(a, Arg::Mem { .. } | Arg::MemExt { .. } | Arg::PcRel(_)))
                .cloned()?;
            args.clear();
            args.push(match name {
                Some(n) => Arg::Raw(n.to_string()),
                None => Arg::Raw(format!("#{prfop}")),
            });
            args.push(mem);
            if inst.opcode == PRFM { "PRFM" } else { "PRFUM" }
        }
        LDR | LDRB | LDRH | LDRSB | LDRSH | LDRSW | STR | STRB | STRH | LDUR | LDURB | LDURH
        | LDURSB | LDURSH | LDURSW | STUR | STURB | STURH | LDTR | LDTRB | LDTRH | LDTRSB
        | LDTRSH | LDTRSW | STTR | STTRB | STTRH => {
            fix_mem_ext(&mut args, inst.opcode, word);
            match inst.opcode {
                LDR => "LDR",
                LDRB => "LDRB",
                LDRH => "LDRH",
                LDRSB => "LDRSB",
                LDRSH => "LDRSH",
                LDRSW => "LDRSW",
                STR => "STR",
                STRB => "STRB",
                STRH => "STRH",
                LDUR => "LDUR",
                LDURB => "LDURB",
                LDURH => "LDURH",
                LDURSB => "LDURSB",
                LDURSH => "LDURSH",
                LDURSW => "LDURSW",
                STUR => "STUR",
                STURB => "STURB",
                STURH => "STURH",
                LDTR => "LDTR",
                LDTRB => "LDTRB",
                LDTRH => "LDTRH",
                LDTRSB => "LDTRSB",
                LDTRSH => "LDTRSH",
                LDTRSW => "LDTRSW",
                STTR => "STTR",
                STTRB => "STTRB",
                _ => "STTRH",
            }
        }
        LDP => "LDP",
        STP => "STP",
        LDPSW => "LDPSW",
        LDNP => "LDNP",
        STNP => "STNP",
        LDAR => "LDAR",
        LDARB => "LDARB",
        LDARH => "LDARH",
        LDAXR => "LDAXR",
        LDAXRB => "LDAXRB",
        LDAXRH => "LDAXRH",
        LDXR => "LDXR",
        LDXRB => "LDXRB",
        LDXRH => "LDXRH",
        LDAXP => "LDAXP",
        LDXP => "LDXP",
        STLR => "STLR",
        STLRB => "STLRB",
        STLRH => "STLRH",
        STLXR => "STLXR",
        STLXRB => "STLXRB",
        STLXRH => "STLXRH",
        STXR => "STXR",
        STXRB => "STXRB",
        STXRH => "STXRH",
        STLXP => "STLXP",
        STXP => "STXP",
        // Floating point.
        FMOV => "FMOV",
        FADD => "FADD",
        FSUB => "FSUB",
        FMUL => "FMUL",
        FNMUL => "FNMUL",
        FDIV => "FDIV",
        FMAX => "FMAX",
        FMIN => "FMIN",
        FMAXNM => "FMAXNM",
        FMINNM => "FMINNM",
        FABS => "FABS",
        FNEG => "FNEG",
        FSQRT => "FSQRT",
        FRINTN => "FRINTN",
        FRINTP => "FRINTP",
        FRINTM => "FRINTM",
        FRINTZ => "FRINTZ",
        FRINTA => "FRINTA",
        FRINTX => "FRINTX",
        FRINTI => "FRINTI",
        FCVT => "FCVT",
        FCMP | FCMPE => {
            if let Some(Arg::FpImm(_)) = args.get(1) {
                set(&mut args, 1, Arg::FpZero);
            }
            if inst.opcode == FCMP { "FCMP" } else { "FCMPE" }
        }
        FCCMP => "FCCMP",
        FCCMPE => "FCCMPE",
        FCSEL => "FCSEL",
        FMADD => "FMADD",
        FMSUB => "FMSUB",
        FNMADD => "FNMADD",
        FNMSUB => "FNMSUB",
        FCVTZS => "FCVTZS",
        FCVTZU => "FCVTZU",
        SCVTF => "SCVTF",
        UCVTF => "UCVTF",
        FCVTNS => "FCVTNS",
        FCVTNU => "FCVTNU",
        FCVTPS => "FCVTPS",
        FCVTPU => "FCVTPU",
        FCVTMS => "FCVTMS",
        FCVTMU => "FCVTMU",
        FCVTAS => "FCVTAS",
        FCVTAU => "FCVTAU",
        // SIMD.
        INS => "MOV",
        UMOV => {
            // MOV is the preferred form for 32- and 64-bit elements.
            "UMOV"
        }
        SMOV => "SMOV",
        // DUP (element) into a scalar register is always printed as its alias MOV (scalar).
        DUP if matches!(args.first(), Some(Arg::Fp { .. })) => "MOV",
        DUP => "DUP",
        LD1 => "LD1",
        LD2 => "LD2",
        LD3 => "LD3",
        LD4 => "LD4",
        ST1 => "ST1",
        ST2 => "ST2",
        ST3 => "ST3",
        ST4 => "ST4",
        LD1R => "LD1R",
        LD2R => "LD2R",
        LD3R => "LD3R",
        LD4R => "LD4R",
        USHLL | SSHLL | USHLL2 | SSHLL2 if matches!(args.get(2), Some(Arg::Imm(0))) => {
            args.truncate(2);
            match inst.opcode {
                USHLL => "UXTL",
                SSHLL => "SXTL",
                USHLL2 => "UXTL2",
                _ => "SXTL2",
            }
        }
        other => return simd_name(other).map(|op| Inst { op, args }),
    };
    Some(Inst { op, args })
}

/// Operand `i`, or a placeholder no alias rule matches. The rules read operands by position, as
/// arm64asm does for the encodings it knows; arbitrary bytes can decode to an opcode with fewer
/// operands than a rule expects (a fuzzer found a two-operand vector ORR), and that must print
/// something, never panic.
fn at(args: &[Arg], i: usize) -> &Arg {
    static MISSING: Arg = Arg::Raw(String::new());
    args.get(i).unwrap_or(&MISSING)
}

/// Sets operand `i` if there is one.
fn set(args: &mut [Arg], i: usize, a: Arg) {
    if let Some(slot) = args.get_mut(i) {
        *slot = a;
    }
}

/// Removes operand `i` if there is one.
fn remove_at(args: &mut Vec<Arg>, i: usize) {
    if i < args.len() {
        args.remove(i);
    }
}

fn is_vector(args: &[Arg]) -> bool {
    matches!(args.first(), Some(Arg::Arr { .. }))
}

/// Immediate ADD/SUB: the 12-bit immediate with its optional `LSL #12`.
fn fix_addsub_imm(args: &mut [Arg], word: u32) {
    if bits(word, 24, 5) == 0b10001
        && let Some(Arg::Imm(v)) = args.get(2)
    {
        let imm12 = bits(word, 10, 12);
        let sh = bits(word, 22, 1);
        args[2] = if sh == 1 {
            Arg::ImmShift(imm12, 12)
        } else {
            Arg::ImmShift(*v, 0)
        };
    }
    // Extended-register form: the extension shows unless it is the default for SP.
    if bits(word, 24, 5) == 0b01011 && bits(word, 21, 1) == 1 {
        let option = bits(word, 13, 3);
        let imm3 = bits(word, 10, 3) as u8;
        let rd = bits(word, 0, 5);
        let rn = bits(word, 5, 5);
        let s = bits(word, 29, 1);
        let rm_w = option & 3 != 3;
        let rm = bits(word, 16, 5) as u8;
        let sp_default =
            (rd == 31 && s == 0 || rn == 31) && option == if word >> 31 == 1 { 3 } else { 2 };
        let ext = [
            "UXTB", "UXTH", "UXTW", "UXTX", "SXTB", "SXTH", "SXTW", "SXTX",
        ][option as usize];
        let (op, amount) = if sp_default {
            if imm3 == 0 { ("", 0) } else { ("LSL", imm3) }
        } else {
            (ext, imm3)
        };
        if let Some(last) = args.last_mut() {
            *last = Arg::Shifted {
                reg: (rm_w, rm),
                op,
                amount,
            };
        }
    }
}

/// Register-offset loads and stores: whether the shift is shown, and the byte forms' rule.
fn fix_mem_ext(args: &mut [Arg], op: Opcode, word: u32) {
    for a in args.iter_mut() {
        if let Arg::MemExt {
            extend,
            amount,
            shift_must_be_zero,
            index,
            ..
        } = a
        {
            let option = bits(word, 13, 3);
            let s = bits(word, 12, 1);
            let size = bits(word, 30, 2);
            let v = bits(word, 26, 1);
            let opc = bits(word, 22, 2);
            let scale = if v == 1 && opc & 2 != 0 { 4 } else { size };
            let byte = matches!(op, Opcode::LDRB | Opcode::STRB | Opcode::LDRSB) && v == 0;
            *extend = [
                "UXTB", "UXTH", "UXTW", "LSL", "SXTB", "SXTH", "SXTW", "SXTX",
            ][option as usize];
            *index = (option & 1 == 0, index.1);
            *shift_must_be_zero = byte;
            *amount = if byte {
                s as u8
            } else if s == 1 {
                scale as u8
            } else {
                0
            };
        }
    }
}

/// UBFM, SBFM and BFM with their aliases.
fn bitfield(op: Opcode, mut args: Vec<Arg>, word: u32) -> Option<Inst> {
    let sf = word >> 31 == 1;
    let size: u32 = if sf { 64 } else { 32 };
    let immr = bits(word, 16, 6);
    let imms = bits(word, 10, 6);
    args.truncate(2);
    let rn = args.get(1).cloned()?;
    let name = match op {
        Opcode::SBFM => {
            if imms == size - 1 {
                args.push(Arg::Imm(immr));
                "ASR"
            } else if imms < immr {
                args.push(Arg::Imm((size - immr) % size));
                args.push(Arg::Imm(imms + 1));
                "SBFIZ"
            } else if bfx_preferred(sf, false, imms, immr) {
                args.push(Arg::Imm(immr));
                args.push(Arg::Imm(imms - immr + 1));
                "SBFX"
            } else if immr == 0 && imms == 7 {
                set(&mut args, 1, w_reg(&rn));
                "SXTB"
            } else if immr == 0 && imms == 15 {
                set(&mut args, 1, w_reg(&rn));
                "SXTH"
            } else if immr == 0 && imms == 31 && sf {
                set(&mut args, 1, w_reg(&rn));
                "SXTW"
            } else {
                args.push(Arg::Imm(immr));
                args.push(Arg::Imm(imms));
                "SBFM"
            }
        }
        Opcode::UBFM => {
            if imms != size - 1 && imms + 1 == immr {
                args.push(Arg::Imm(size - 1 - imms));
                "LSL"
            } else if imms == size - 1 {
                args.push(Arg::Imm(immr));
                "LSR"
            } else if imms < immr {
                args.push(Arg::Imm((size - immr) % size));
                args.push(Arg::Imm(imms + 1));
                "UBFIZ"
            } else if bfx_preferred(sf, true, imms, immr) {
                args.push(Arg::Imm(immr));
                args.push(Arg::Imm(imms - immr + 1));
                "UBFX"
            } else if immr == 0 && imms == 7 && !sf {
                "UXTB"
            } else if immr == 0 && imms == 15 && !sf {
                "UXTH"
            } else {
                args.push(Arg::Imm(immr));
                args.push(Arg::Imm(imms));
                "UBFM"
            }
        }
        _ => {
            if imms < immr {
                args.push(Arg::Imm((size - immr) % size));
                args.push(Arg::Imm(imms + 1));
                "BFI"
            } else {
                args.push(Arg::Imm(immr));
                args.push(Arg::Imm(imms - immr + 1));
                "BFXIL"
            }
        }
    };
    Some(Inst { op: name, args })
}

fn w_reg(a: &Arg) -> Arg {
    match *a {
        Arg::Gpr { n, .. } => Arg::Gpr { w: true, n },
        ref other => other.clone(),
    }
}

/// SYS and its DC/IC/AT/TLBI aliases.
fn sys(word: u32) -> Option<Inst> {
    let op1 = bits(word, 16, 3);
    let crn = bits(word, 12, 4);
    let crm = bits(word, 8, 4);
    let op2 = bits(word, 5, 3);
    let rt = bits(word, 0, 5) as u8;
    let (op, name) = match (crn, op1, crm, op2) {
        (7, 3, 4, 1) => ("DC", "ZVA"),
        (7, 0, 6, 1) => ("DC", "IVAC"),
        (7, 0, 6, 2) => ("DC", "ISW"),
        (7, 3, 10, 1) => ("DC", "CVAC"),
        (7, 0, 10, 2) => ("DC", "CSW"),
        (7, 3, 11, 1) => ("DC", "CVAU"),
        (7, 3, 14, 1) => ("DC", "CIVAC"),
        (7, 0, 14, 2) => ("DC", "CISW"),
        _ => return None,
    };
    let mut text = name.to_string();
    if rt != 31 {
        text.push_str(&format!(", R{rt}"));
    }
    Some(Inst {
        op,
        args: vec![Arg::Raw(text)],
    })
}

fn prefetch_name(op: u32) -> Option<&'static str> {
    let kind = match op >> 3 {
        0 => "PLD",
        1 => "PLI",
        2 => "PST",
        _ => return None,
    };
    let target = match (op >> 1) & 3 {
        0 => "L1",
        1 => "L2",
        2 => "L3",
        _ => return None,
    };
    let policy = if op & 1 == 0 { "KEEP" } else { "STRM" };
    Some(match (kind, target, policy) {
        ("PLD", "L1", "KEEP") => "PLDL1KEEP",
        ("PLD", "L1", _) => "PLDL1STRM",
        ("PLD", "L2", "KEEP") => "PLDL2KEEP",
        ("PLD", "L2", _) => "PLDL2STRM",
        ("PLD", "L3", "KEEP") => "PLDL3KEEP",
        ("PLD", "L3", _) => "PLDL3STRM",
        ("PLI", "L1", "KEEP") => "PLIL1KEEP",
        ("PLI", "L1", _) => "PLIL1STRM",
        ("PLI", "L2", "KEEP") => "PLIL2KEEP",
        ("PLI", "L2", _) => "PLIL2STRM",
        ("PLI", "L3", "KEEP") => "PLIL3KEEP",
        ("PLI", "L3", _) => "PLIL3STRM",
        ("PST", "L1", "KEEP") => "PSTL1KEEP",
        ("PST", "L1", _) => "PSTL1STRM",
        ("PST", "L2", "KEEP") => "PSTL2KEEP",
        ("PST", "L2", _) => "PSTL2STRM",
        ("PST", "L3", "KEEP") => "PSTL3KEEP",
        _ => "PSTL3STRM",
    })
}

/// SIMD mnemonics arm64asm knows under yaxpeax's name.
fn simd_name(op: Opcode) -> Option<&'static str> {
    let name = format!("{op:?}");
    super::plan9::known_op(&name)
}
