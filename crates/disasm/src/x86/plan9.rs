//! Go (Plan 9) syntax for x86, as `go tool objdump` prints it: operands reversed (destination
//! last), size suffixes on the mnemonics that take one (`MOVQ`, `ADDL`), registers without
//! size (`AX` for al/ax/eax/rax), memory as `disp(base)(index*scale)`, symbols as `sym+off(SB)`,
//! branch targets as `sym(SB)` when they start a symbol and as addresses otherwise.

use std::fmt::Write as _;

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::{Prefixes, mnemonic_name};
use crate::Symbolizer;

/// x86asm's name for the instruction (before any size suffix).
pub(super) fn op_name(ins: &Instruction) -> &'static str {
    let m = ins.mnemonic();
    let string_op = (0..ins.op_count()).any(|i| {
        matches!(
            ins.op_kind(i),
            OpKind::MemorySegSI
                | OpKind::MemorySegESI
                | OpKind::MemorySegRSI
                | OpKind::MemorySegDI
                | OpKind::MemorySegEDI
                | OpKind::MemorySegRDI
                | OpKind::MemoryESDI
                | OpKind::MemoryESEDI
                | OpKind::MemoryESRDI
        )
    });
    match m {
        Mnemonic::Movsd if !string_op => "MOVSD_XMM",
        Mnemonic::Cmpsd if !string_op => "CMPSD_XMM",
        Mnemonic::Int1 => "ICEBP",
        Mnemonic::Int3 => "INT",
        Mnemonic::Wait => "FWAIT",
        Mnemonic::Retf => "LRET",
        Mnemonic::Call if matches!(ins.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32) => {
            "LCALL"
        }
        Mnemonic::Jmp if matches!(ins.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32) => {
            "LJMP"
        }
        _ => mnemonic_name(m),
    }
}

/// Whether the mnemonic can take a size suffix under any of its names: a table, so the string
/// comparisons of [`takes_suffix`] run only for those.
fn suffix_mnemonic(m: Mnemonic) -> bool {
    use std::sync::OnceLock;
    static TABLE: OnceLock<Vec<bool>> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        Mnemonic::values()
            .map(|m| takes_suffix(mnemonic_name(m)))
            .collect()
    });
    t.get(m as usize).copied().unwrap_or(false)
}

/// The mnemonics that take a size suffix in Go syntax (x86asm's `plan9Suffix`).
fn takes_suffix(name: &str) -> bool {
    matches!(
        name,
        "ADC"
            | "ADD"
            | "AND"
            | "BSF"
            | "BSR"
            | "BT"
            | "BTC"
            | "BTR"
            | "BTS"
            | "CMP"
            | "CMPXCHG"
            | "CVTSI2SD"
            | "CVTSI2SS"
            | "CVTSD2SI"
            | "CVTSS2SI"
            | "CVTTSD2SI"
            | "CVTTSS2SI"
            | "DEC"
            | "DIV"
            | "FLDENV"
            | "FRSTOR"
            | "IDIV"
            | "IMUL"
            | "IN"
            | "INC"
            | "LEA"
            | "MOV"
            | "MOVNTI"
            | "MUL"
            | "NEG"
            | "NOP"
            | "NOT"
            | "OR"
            | "OUT"
            | "POP"
            | "POPA"
            | "POPCNT"
            | "PUSH"
            | "PUSHA"
            | "RCL"
            | "RCR"
            | "ROL"
            | "ROR"
            | "SAR"
            | "SBB"
            | "SHL"
            | "SHLD"
            | "SHR"
            | "SHRD"
            | "SUB"
            | "TEST"
            | "XADD"
            | "XCHG"
            | "XOR"
    )
}

/// Go's name for a register (`plan9Reg`).
pub(super) fn reg_name(r: Register) -> &'static str {
    use Register::*;
    match r {
        AL => "AL",
        CL => "CL",
        DL => "DL",
        BL => "BL",
        AX | EAX | RAX => "AX",
        CX | ECX | RCX => "CX",
        DX | EDX | RDX => "DX",
        BX | EBX | RBX => "BX",
        AH => "AH",
        CH => "CH",
        DH => "DH",
        BH => "BH",
        SPL | SP | ESP | RSP => "SP",
        BPL | BP | EBP | RBP => "BP",
        SIL | SI | ESI | RSI => "SI",
        DIL | DI | EDI | RDI => "DI",
        R8L | R8W | R8D | R8 => "R8",
        R9L | R9W | R9D | R9 => "R9",
        R10L | R10W | R10D | R10 => "R10",
        R11L | R11W | R11D | R11 => "R11",
        R12L | R12W | R12D | R12 => "R12",
        R13L | R13W | R13D | R13 => "R13",
        R14L | R14W | R14D | R14 => "R14",
        R15L | R15W | R15D | R15 => "R15",
        EIP | RIP => "IP",
        ES => "ES",
        CS => "CS",
        SS => "SS",
        DS => "DS",
        FS => "FS",
        GS => "GS",
        ST0 => "F0",
        ST1 => "F1",
        ST2 => "F2",
        ST3 => "F3",
        ST4 => "F4",
        ST5 => "F5",
        ST6 => "F6",
        ST7 => "F7",
        MM0 => "M0",
        MM1 => "M1",
        MM2 => "M2",
        MM3 => "M3",
        MM4 => "M4",
        MM5 => "M5",
        MM6 => "M6",
        MM7 => "M7",
        CR0 => "CR0",
        CR2 => "CR2",
        CR3 => "CR3",
        CR4 => "CR4",
        CR8 => "CR8",
        DR0 => "DR0",
        DR1 => "DR1",
        DR2 => "DR2",
        DR3 => "DR3",
        DR6 => "DR6",
        DR7 => "DR7",
        _ => {
            if r.is_xmm() || r.is_ymm() {
                const X: [&str; 16] = [
                    "X0", "X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8", "X9", "X10", "X11",
                    "X12", "X13", "X14", "X15",
                ];
                X.get(r.number()).copied().unwrap_or("?")
            } else {
                "?"
            }
        }
    }
}

fn is_64bit_gpr(r: Register) -> bool {
    r.is_gpr64()
}

/// Formats `ins` in Go syntax into `out`.
pub(super) fn format(
    ins: &Instruction,
    p: Prefixes,
    bitness: u32,
    pc: u64,
    syms: &dyn Symbolizer,
    out: &mut String,
) {
    let name = op_name(ins);
    let n = ins.op_count();
    let mem_bytes = if (0..n).any(|i| !is_non_memory(ins.op_kind(i))) {
        go_mem_bytes(ins)
    } else {
        0
    };
    if ins.has_rep_prefix() {
        out.push_str("REP; ");
    } else if ins.has_repne_prefix() {
        out.push_str("REPNE; ");
    }
    if let Some(p) = p.shown {
        out.push_str(p);
        out.push(' ');
    }
    out.push_str(name);
    let asm_suffix = p.asm_suffix && matches!(ins.mnemonic(), Mnemonic::Adcx | Mnemonic::Adox);
    if asm_suffix || (suffix_mnemonic(ins.mnemonic()) && takes_suffix(name)) {
        let mut size = p.data_size;
        if mem_bytes != 0 {
            size = mem_bytes as u32 * 8;
        } else if n == 1 && ins.op0_kind() == OpKind::Register && is_64bit_gpr(ins.op0_register()) {
            size = 64;
        }
        match size {
            8 => out.push('B'),
            16 => out.push('W'),
            32 => out.push('L'),
            64 => out.push('Q'),
            _ => {}
        }
    }
    match ins.mnemonic() {
        Mnemonic::Int3 => out.push_str(" $0x3"),
        // x86asm prints RDRAND without its operand, and FXCH without the implied F0.
        Mnemonic::Rdrand => {}
        Mnemonic::Fxch if n == 2 => {
            out.push(' ');
            operand(ins, p, 1, bitness, pc, syms, out);
        }
        // x86asm lists SHA256RNDS2's implicit third operand, XMM0 (iced leaves it out).
        Mnemonic::Sha256rnds2 => {
            out.push_str(" X0");
            for k in 0..n {
                out.push_str(", ");
                operand(ins, p, n - 1 - k, bitness, pc, syms, out);
            }
        }
        Mnemonic::Xlatb => {
            out.push(' ');
            out.push_str(reg_name(p.seg.unwrap_or(Register::DS)));
            out.push_str(":0(BX)");
        }
        _ => {
            // Go syntax reverses the operands (destination last), except that comparisons
            // read left to right (golang.org/issue/60920).
            let cmp = name == "CMP" && n >= 2;
            for k in 0..n {
                out.push_str(if k == 0 { " " } else { ", " });
                let i = if cmp { k } else { n - 1 - k };
                operand(ins, p, i, bitness, pc, syms, out);
            }
        }
    }
}

/// Whether an operand of this kind is not in memory (register, immediate or branch target).
pub(super) fn is_non_memory(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Register
            | OpKind::NearBranch16
            | OpKind::NearBranch32
            | OpKind::NearBranch64
            | OpKind::FarBranch16
            | OpKind::FarBranch32
            | OpKind::Immediate8
            | OpKind::Immediate8_2nd
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

pub(super) fn hex_signed(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    crate::push_hex(out, v.unsigned_abs());
}

/// One operand in Go syntax.
fn operand(
    ins: &Instruction,
    p: Prefixes,
    i: u32,
    bitness: u32,
    pc: u64,
    syms: &dyn Symbolizer,
    s: &mut String,
) {
    match ins.op_kind(i) {
        OpKind::Register => s.push_str(reg_name(ins.op_register(i))),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
            let addr = ins.near_branch_target();
            match syms.lookup(addr) {
                Some((name, base)) if base == addr => {
                    s.push_str(name);
                    s.push_str("(SB)");
                }
                _ => crate::push_hex(s, addr),
            }
        }
        OpKind::FarBranch16 | OpKind::FarBranch32 => {
            let _ = write!(s, "$0x{:x}, $0x{:x}", ins.far_branch_selector(), {
                if ins.op_kind(i) == OpKind::FarBranch16 {
                    u64::from(ins.far_branch16())
                } else {
                    u64::from(ins.far_branch32())
                }
            });
        }
        kind @ (OpKind::Immediate8
        | OpKind::Immediate8_2nd
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64) => {
            let raw = ins.immediate(i);
            let value: i64 = match kind {
                OpKind::Immediate8 | OpKind::Immediate8_2nd => i64::from(raw as u8),
                OpKind::Immediate16 => {
                    if matches!(
                        ins.mnemonic(),
                        Mnemonic::Enter | Mnemonic::Ret | Mnemonic::Retf
                    ) {
                        i64::from(raw as u16)
                    } else {
                        i64::from(raw as u16 as i16)
                    }
                }
                OpKind::Immediate32 => i64::from(raw as u32 as i32),
                OpKind::Immediate8to16 => i64::from(raw as u16 as i16),
                OpKind::Immediate8to32 => i64::from(raw as u32 as i32),
                _ => raw as i64,
            };
            let name = op_name(ins);
            // x86asm names a 32-bit MOV/PUSH immediate after the symbol containing it
            // (golang.org/issue/72942).
            if (name == "MOV" || name == "PUSH")
                && p.data_size == 32
                && let Some((sym, base)) = syms.lookup(value as u64)
            {
                let v = value as u64;
                if v != base {
                    let _ = write!(s, "${sym}+{}(SB)", v.wrapping_sub(base) as i64);
                } else {
                    let _ = write!(s, "${sym}(SB)");
                }
                return;
            }
            s.push('$');
            if bitness == 32 {
                crate::push_hex(s, u64::from(value as u32));
            } else if i64::from(value as i32) == value {
                hex_signed(s, value);
            } else {
                crate::push_hex(s, value as u64);
            }
        }
        OpKind::Memory => {
            memory(ins, p, pc, syms, s);
        }
        OpKind::MemorySegSI
        | OpKind::MemorySegESI
        | OpKind::MemorySegRSI
        | OpKind::MemorySegDI
        | OpKind::MemorySegEDI
        | OpKind::MemorySegRDI
        | OpKind::MemoryESDI
        | OpKind::MemoryESEDI
        | OpKind::MemoryESRDI => {
            // x86asm's default segment: the override in effect, else DS (ES:DI is fixed).
            let default_seg = p.seg.unwrap_or(Register::DS);
            let (seg, base) = match ins.op_kind(i) {
                OpKind::MemorySegSI | OpKind::MemorySegESI | OpKind::MemorySegRSI => {
                    (default_seg, "SI")
                }
                OpKind::MemorySegDI | OpKind::MemorySegEDI | OpKind::MemorySegRDI => {
                    (default_seg, "DI")
                }
                _ => (Register::ES, "DI"),
            };
            let _ = write!(s, "{}:0({base})", reg_name(seg));
        }
    }
}

/// A memory operand: `sym+off(SB)` when it names a symbol, else `seg:disp(base)(index*scale)`.
fn memory(ins: &Instruction, p: Prefixes, pc: u64, syms: &dyn Symbolizer, s: &mut String) {
    let disp_size = p.disp_size;
    let seg = p.seg.unwrap_or(Register::None);
    let base = ins.memory_base();
    let index = ins.memory_index();
    let scale = ins.memory_index_scale();
    // x86asm sign-extends an 8-bit displacement but keeps a 32-bit one as an unsigned number
    // (so -8 prints as 0xfffffff8), RIP-relative ones included.
    let raw = ins.memory_displacement64();
    let rip = base == Register::RIP || base == Register::EIP;
    let value = if rip {
        raw.wrapping_sub(pc.wrapping_add(ins.len() as u64))
    } else {
        raw
    };
    let disp: i64 = match disp_size {
        0 => 0,
        1 => i64::from(value as u8 as i8),
        // A 64-bit absolute address (MOV AL, moffs64) is kept whole.
        _ if base == Register::None
            && index == Register::None
            && format!("{:?}", ins.code()).contains("moffs") =>
        {
            value as i64
        }
        _ => i64::from(value as u32),
    };
    if seg == Register::None && disp != 0 && index == Register::None {
        let target = match base {
            Register::RIP | Register::EIP => Some(
                (disp as u64)
                    .wrapping_add(pc)
                    .wrapping_add(ins.len() as u64),
            ),
            Register::None => Some(disp as u64),
            _ => None,
        };
        if let Some(t) = target
            && let Some((name, start)) = syms.lookup(t)
        {
            push_symbol(s, name, t.wrapping_sub(start) as i64);
            return;
        }
    }
    if seg != Register::None {
        s.push_str(reg_name(seg));
        s.push(':');
    }
    if disp != 0 {
        hex_signed(s, disp);
    } else {
        s.push('0');
    }
    if base != Register::None {
        s.push('(');
        s.push_str(reg_name(base));
        s.push(')');
    }
    if index != Register::None && scale != 0 {
        s.push('(');
        s.push_str(reg_name(index));
        s.push('*');
        s.push(char::from(b'0' + scale as u8));
        s.push(')');
    }
}

/// The memory operand size x86asm records for the size suffix: only the plain sizes of its
/// `memBytes` table; FPU environments, 80-bit and far-pointer operands record none.
fn go_mem_bytes(ins: &Instruction) -> usize {
    match ins.memory_size().size() {
        n @ (1 | 2 | 4 | 8 | 16 | 32) => n,
        _ => 0,
    }
}

/// `name+off(SB)` (no `+0`), Go's spelling of an address inside a symbol.
pub(super) fn push_symbol(out: &mut String, name: &str, off: i64) {
    out.push_str(name);
    if off != 0 {
        let _ = write!(out, "{off:+}");
    }
    out.push_str("(SB)");
}
