//! x86 (amd64 and 386) through `iced-x86`.
//!
//! Decoding is iced's. Go syntax is goscope's own formatter ([`plan9`]), which also reproduces
//! where `go tool objdump`'s decoder (x86asm) stops: it knows a fixed list of mnemonics
//! ([`goops`]), no EVEX and only a handful of VEX instructions, and it reads an unknown VEX
//! instruction as its VEX prefix followed by a legacy opcode. Printing the same `?` lines and
//! the same lengths keeps every later instruction boundary identical to the Go tool's.

mod goops;
mod plan9;

use std::cell::RefCell;
use std::fmt::Write as _;

use goscope_binary::Arch;
use iced_x86::{
    Decoder, DecoderOptions, EncodingKind, FlowControl, Formatter, GasFormatter, Instruction,
    IntelFormatter, Mnemonic, OpKind, Register,
};

use crate::{Disassembler, Flow, InsnInfo, Symbolizer, Syntax};

/// The x86 disassembler for one mode (64 or 32 bits).
pub(crate) struct X86 {
    bitness: u32,
}

impl X86 {
    pub(crate) fn new(bitness: u32) -> X86 {
        X86 { bitness }
    }

    /// Decodes one instruction; also returns the size of its displacement as encoded.
    fn decode_one(&self, code: &[u8], pc: u64) -> (Instruction, usize) {
        let mut d = Decoder::with_ip(self.bitness, code, pc, DecoderOptions::NO_INVALID_CHECK);
        let ins = d.decode();
        let disp = d.get_constant_offsets(&ins).displacement_size();
        (ins, disp)
    }
}

/// The uppercase name of an iced mnemonic, as x86asm spells it where the two agree.
fn mnemonic_name(m: Mnemonic) -> &'static str {
    use std::sync::OnceLock;
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        Mnemonic::values()
            .map(|m| format!("{m:?}").to_ascii_uppercase())
            .collect()
    });
    names.get(m as usize).map_or("?", String::as_str)
}

/// Whether x86asm knows `name`.
fn go_knows(name: &str) -> bool {
    goops::GO_X86_OPS.binary_search(&name).is_ok()
}

/// Whether x86asm knows the mnemonic under some name (`Int3` is its `INT`, `Movsd` its
/// `MOVSD` or `MOVSD_XMM`, ...); a table, as this runs for every instruction.
fn go_knows_mnemonic(m: Mnemonic) -> bool {
    use std::sync::OnceLock;
    static KNOWN: OnceLock<Vec<bool>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        Mnemonic::values()
            .map(|m| {
                go_knows(mnemonic_name(m))
                    || matches!(
                        m,
                        Mnemonic::Int1 | Mnemonic::Int3 | Mnemonic::Wait | Mnemonic::Retf
                    )
            })
            .collect()
    });
    known.get(m as usize).copied().unwrap_or(false)
}

/// The VEX instructions x86asm decodes.
const GO_VEX_OPS: &[Mnemonic] = &[
    Mnemonic::Vmovdqa,
    Mnemonic::Vmovdqu,
    Mnemonic::Vmovntdq,
    Mnemonic::Vmovntdqa,
    Mnemonic::Vzeroupper,
];

/// Whether `go tool objdump` decodes `ins` as iced does.
fn go_decodes(ins: &Instruction) -> bool {
    if ins.is_invalid() {
        return false;
    }
    match ins.encoding() {
        EncodingKind::Legacy => go_knows_mnemonic(ins.mnemonic()),
        EncodingKind::VEX => GO_VEX_OPS.contains(&ins.mnemonic()),
        _ => false,
    }
}

/// Legacy prefixes and REX at the start of an instruction, as x86asm reads them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prefixes {
    /// Operand size in bits (x86asm's `DataSize`).
    pub data_size: u32,
    /// The prefix x86asm prints before the mnemonic: the last one that is not a repeat,
    /// operand/address size, or a segment an operand uses.
    pub shown: Option<&'static str>,
    /// The segment override memory operands show (x86asm's choice, which in 64-bit mode
    /// ignores CS, DS, ES and SS); string instructions default to DS without one.
    pub seg: Option<Register>,
    /// After a VEX prefix x86asm prints no prefix at all (its prefix loop stops at VEX).
    pub none_shown: bool,
    /// Size in bytes of the encoded displacement (x86asm sign-extends only an 8-bit one).
    pub disp_size: usize,
}

/// The legacy prefix bytes x86asm reads before an opcode: operand and address size, LOCK,
/// REP/REPN, and the six segment overrides.
fn is_legacy_prefix(b: u8) -> bool {
    matches!(
        b,
        0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65
    )
}

fn scan_prefixes(code: &[u8], bitness: u32, uses_segment: bool, branch: bool) -> Prefixes {
    let mut data_size = if bitness == 64 { 32 } else { bitness };
    let n = code
        .iter()
        .position(|&b| !is_legacy_prefix(b))
        .unwrap_or(code.len());
    let prefixes = &code[..n];
    // The segment override in effect (x86asm's segIndex): the last FS or GS, or outside 64-bit
    // mode the last of any segment prefix. In 64-bit mode CS, DS, ES and SS do nothing.
    let seg_at = prefixes.iter().rposition(|&b| match b {
        0x64 | 0x65 => true,
        0x26 | 0x2E | 0x36 | 0x3E => bitness != 64,
        _ => false,
    });
    let seg = seg_at.and_then(|k| match prefixes[k] {
        0x26 => Some(Register::ES),
        0x2E => Some(Register::CS),
        0x36 => Some(Register::SS),
        0x3E => Some(Register::DS),
        0x64 => Some(Register::FS),
        0x65 => Some(Register::GS),
        _ => None,
    });
    // x86asm prints the last prefix that is not implied by the instruction text (the override
    // an operand shows, a repeat, a mandatory prefix) before the mnemonic: a superseded or
    // meaningless segment prefix, LOCK, or a branch hint (PN, PT) on a conditional branch.
    let mut shown = None;
    for (k, &b) in prefixes.iter().enumerate() {
        if uses_segment && seg_at == Some(k) {
            continue;
        }
        match b {
            0x66 | 0x67 => shown = None,
            0xF2 | 0xF3 => {}
            0xF0 => shown = Some("LOCK"),
            0x2E => shown = Some(if branch { "PN" } else { "CS" }),
            0x3E => shown = Some(if branch { "PT" } else { "DS" }),
            0x36 => shown = Some("SS"),
            0x26 => shown = Some("ES"),
            0x64 => shown = Some("FS"),
            _ => shown = Some("GS"),
        }
    }
    if prefixes.contains(&0x66) {
        data_size = if bitness == 16 { 32 } else { 16 };
    }
    if bitness == 64
        && let Some(&b) = code.get(n)
        && (0x40..=0x4F).contains(&b)
        && b & 8 != 0
    {
        data_size = 64;
    }
    Prefixes {
        data_size,
        shown,
        seg,
        none_shown: false,
        disp_size: 0,
    }
}

/// x86asm has no `F6 /1` and `F7 /1` (iced reads them as TEST, as some manuals allow).
fn test_alias(code: &[u8], bitness: u32) -> bool {
    let mut i = 0;
    while let Some(&b) = code.get(i) {
        if is_legacy_prefix(b) || (bitness == 64 && (0x40..=0x4F).contains(&b)) {
            i += 1;
            continue;
        }
        break;
    }
    matches!(code.get(i), Some(0xF6 | 0xF7)) && code.get(i + 1).is_some_and(|m| (m >> 3) & 7 == 1)
}

/// Whether a REX byte is followed by another prefix: x86asm reads one REX right before the
/// opcode and takes anything else for the opcode, which then fails to decode.
fn rex_misplaced(code: &[u8], bitness: u32) -> bool {
    if bitness != 64 {
        return false;
    }
    let Some(i) = code.iter().position(|&b| !is_legacy_prefix(b)) else {
        return false;
    };
    let is_rex = |b: Option<&u8>| b.is_some_and(|b| (0x40..=0x4F).contains(b));
    is_rex(code.get(i))
        && code
            .get(i + 1)
            .is_some_and(|b| (0x40..=0x4F).contains(b) || is_legacy_prefix(*b))
}

thread_local! {
    static INTEL: RefCell<IntelFormatter> = RefCell::new({
        let mut f = IntelFormatter::new();
        f.options_mut().set_hex_prefix("0x");
        f.options_mut().set_hex_suffix("");
        f.options_mut().set_uppercase_hex(false);
        f.options_mut().set_space_after_operand_separator(true);
        f.options_mut().set_branch_leading_zeros(false);
        f.options_mut().set_rip_relative_addresses(true);
        f
    });
    static GAS: RefCell<GasFormatter> = RefCell::new({
        let mut f = GasFormatter::new();
        f.options_mut().set_uppercase_hex(false);
        f.options_mut().set_branch_leading_zeros(false);
        f.options_mut().set_rip_relative_addresses(true);
        f.options_mut().set_first_operand_char_index(7);
        f.options_mut().set_show_branch_size(false);
        f
    });
}

impl Disassembler for X86 {
    fn arch(&self) -> Arch {
        if self.bitness == 64 {
            Arch::Amd64
        } else {
            Arch::I386
        }
    }

    fn prints_words(&self) -> bool {
        false
    }

    fn decode(
        &self,
        code: &[u8],
        pc: u64,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
    ) -> InsnInfo {
        let (ins, disp_size) = self.decode_one(code, pc);
        self.finish(ins, disp_size, code, pc, syntax, syms, out, true)
    }

    fn as_dyn(&self) -> &dyn Disassembler {
        self
    }

    fn stream<'a>(&'a self, code: &'a [u8], pc: u64) -> Box<dyn crate::Stream + 'a> {
        Box::new(X86Stream {
            x86: self,
            decoder: Decoder::with_ip(self.bitness, code, pc, DecoderOptions::NO_INVALID_CHECK),
            code,
            pc,
        })
    }
}

/// One iced decoder over a whole function, repositioned per instruction.
struct X86Stream<'a> {
    x86: &'a X86,
    decoder: Decoder<'a>,
    code: &'a [u8],
    pc: u64,
}

impl crate::Stream for X86Stream<'_> {
    fn decode_at(
        &mut self,
        offset: usize,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
        facts: bool,
    ) -> InsnInfo {
        let code = self.code.get(offset..).unwrap_or(&[]);
        let pc = self.pc.wrapping_add(offset as u64);
        if self.decoder.set_position(offset).is_err() || code.is_empty() {
            out.push('?');
            return unknown(1);
        }
        self.decoder.set_ip(pc);
        let ins = self.decoder.decode();
        // Only memory operands have a displacement; skip the lookup for the rest.
        let disp = if (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory) {
            self.decoder.get_constant_offsets(&ins).displacement_size()
        } else {
            0
        };
        self.x86
            .finish(ins, disp, code, pc, syntax, syms, out, facts)
    }
}

impl X86 {
    /// Renders a decoded instruction (the shared tail of [`X86::decode`] and the stream).
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        ins: Instruction,
        disp_size: usize,
        code: &[u8],
        pc: u64,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
        want_facts: bool,
    ) -> InsnInfo {
        let facts = |ins: &Instruction, code: &[u8], bitness: u32, known: bool| {
            if want_facts {
                compute_facts(ins, code, bitness, known)
            } else {
                InsnInfo {
                    len: ins.len(),
                    known,
                    ..InsnInfo::default()
                }
            }
        };
        if syntax != Syntax::Go && syntax != Syntax::None {
            // The symbol names need the facts (targets, memory addresses) whatever the caller asked.
            let facts = compute_facts;
            if ins.is_invalid() {
                out.push_str("(bad)");
                return unknown(1);
            }
            let mut s = String::new();
            match syntax {
                Syntax::Intel => INTEL.with(|f| f.borrow_mut().format(&ins, &mut s)),
                _ => GAS.with(|f| f.borrow_mut().format(&ins, &mut s)),
            }
            out.push_str(&s);
            let info = facts(&ins, code, self.bitness, true);
            if let Some(t) = info.target.or(info.mem_addr)
                && let Some((name, base)) = syms.lookup(t)
            {
                let _ = if t == base {
                    write!(out, " <{name}>")
                } else {
                    write!(out, " <{name}+{:#x}>", t - base)
                };
            }
            return info;
        }
        // x86asm accepts a VEX prefix only as the first byte.
        let vex_first = ins.encoding() != EncodingKind::VEX || matches!(code[0], 0xC4 | 0xC5);
        if go_decodes(&ins)
            && vex_first
            && !rex_misplaced(code, self.bitness)
            && !test_alias(code, self.bitness)
        {
            // A segment override is used by a memory operand that can take one: not by a
            // string instruction's fixed ES:DI destination (`64 6d` is "FS INSD DX, ES:0(DI)").
            let uses_segment = (0..ins.op_count()).any(|i| {
                let k = ins.op_kind(i);
                !plan9::is_non_memory(k)
                    && !matches!(
                        k,
                        OpKind::MemoryESDI | OpKind::MemoryESEDI | OpKind::MemoryESRDI
                    )
            }) || ins.mnemonic() == Mnemonic::Xlatb;
            let branch = matches!(ins.flow_control(), FlowControl::ConditionalBranch)
                || matches!(
                    ins.mnemonic(),
                    Mnemonic::Loop
                        | Mnemonic::Loope
                        | Mnemonic::Loopne
                        | Mnemonic::Jcxz
                        | Mnemonic::Jecxz
                        | Mnemonic::Jrcxz
                );
            if syntax != Syntax::None {
                let mut p = scan_prefixes(code, self.bitness, uses_segment, branch);
                p.disp_size = disp_size;
                plan9::format(&ins, p, self.bitness, pc, syms, out);
            }
            return facts(&ins, code, self.bitness, true);
        }
        // x86asm reads a VEX prefix it has no instruction for as a prefix of the legacy
        // opcode after it (so C5 FD D7 is "XLATB" with two prefix bytes).
        if let Some(vex_len) = vex_prefix_len(code, self.bitness) {
            // The VEX pp field stands for a 66/F3/F2 prefix in x86asm's table conditions.
            // (Only in its conditions: it does not change the operand size.)
            let pp = code[vex_len - 1] & 3;
            let mut buf = [0u8; 16];
            let rest_all = &code[vex_len..];
            // Only opcodes of the 0F maps test for mandatory prefixes.
            let (rest, implied): (&[u8], usize) = if pp != 0 && rest_all.first() == Some(&0x0F) {
                buf[0] = [0, 0x66, 0xF3, 0xF2][pp as usize];
                let n = rest_all.len().min(15);
                buf[1..=n].copy_from_slice(&rest_all[..n]);
                (&buf[..=n], 1)
            } else {
                (rest_all, 0)
            };
            let (mut legacy, disp_size) =
                self.decode_one(rest, pc.wrapping_add(vex_len as u64 - implied as u64));
            // Legacy prefixes may follow the VEX prefix; a REX may not.
            let opcode_at = rest_all
                .iter()
                .position(|&b| !is_legacy_prefix(b))
                .unwrap_or(0);
            let first = rest_all.get(opcode_at).copied().unwrap_or(0);
            let rex = self.bitness == 64 && (0x40..=0x4F).contains(&first);
            if !rex
                && !legacy.is_invalid()
                && legacy.encoding() == EncodingKind::Legacy
                && go_knows(plan9::op_name(&legacy))
            {
                legacy.set_len(legacy.len() - implied);
                let mut full = legacy;
                full.set_len(legacy.len() + vex_len);
                full.set_ip(pc);
                full.set_next_ip(pc.wrapping_add(full.len() as u64));
                let mut p = scan_prefixes(rest_all, self.bitness, true, false);
                p.disp_size = disp_size;
                p.shown = None;
                p.none_shown = true;
                plan9::format(&full, p, self.bitness, pc, syms, out);
                let mut info = facts(&legacy, rest, self.bitness, true);
                info.len = full.len();
                return info;
            }
        }
        out.push('?');
        unknown(1)
    }
}

/// The length of a VEX prefix x86asm would accept at the start of `code`.
fn vex_prefix_len(code: &[u8], bitness: u32) -> Option<usize> {
    let first = *code.first()?;
    let second = *code.get(1)?;
    let ok_mode = bitness == 64 || second & 0xC0 == 0xC0;
    match first {
        0xC5 if ok_mode && code.len() > 2 => Some(2),
        0xC4 if ok_mode && code.len() > 3 => Some(3),
        _ => None,
    }
}

fn unknown(len: usize) -> InsnInfo {
    InsnInfo {
        len,
        known: false,
        ..InsnInfo::default()
    }
}

/// The register iced numbers as the goroutine register on amd64.
fn is_g_reg(r: Register, bitness: u32) -> bool {
    bitness == 64 && r == Register::R14
}

/// The facts annotations need about `ins`.
fn compute_facts(ins: &Instruction, code: &[u8], bitness: u32, known: bool) -> InsnInfo {
    let mut info = InsnInfo {
        len: ins.len(),
        known,
        ..InsnInfo::default()
    };
    info.flow = match ins.flow_control() {
        FlowControl::Call => Flow::Call,
        FlowControl::IndirectCall => Flow::IndirectCall,
        FlowControl::UnconditionalBranch => Flow::Jump,
        FlowControl::ConditionalBranch => Flow::CondJump,
        FlowControl::IndirectBranch => Flow::IndirectJump,
        FlowControl::Return => Flow::Return,
        _ => Flow::Sequential,
    };
    if matches!(info.flow, Flow::Call | Flow::Jump | Flow::CondJump)
        && matches!(
            ins.op0_kind(),
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
        )
    {
        info.target = Some(ins.near_branch_target());
    }
    let mut has_mem = false;
    for i in 0..ins.op_count() {
        if ins.op_kind(i) == OpKind::Memory {
            has_mem = true;
            if ins.is_ip_rel_memory_operand() {
                info.mem_addr = Some(ins.ip_rel_memory_address());
            } else if ins.memory_base() == Register::None
                && ins.memory_index() == Register::None
                && ins.segment_prefix() == Register::None
            {
                info.mem_addr = Some(ins.memory_displacement64());
            }
            if is_g_reg(ins.memory_base(), bitness) && ins.memory_index() == Register::None {
                info.g_offset = Some(ins.memory_displacement64() as i64);
            }
        }
    }
    let m = ins.mnemonic();
    if ins.has_lock_prefix() {
        info.atomic = Some(format!("LOCK {}", mnemonic_name(m)).into());
    } else if m == Mnemonic::Xchg && has_mem {
        info.atomic = Some("XCHG (implicitly LOCKed)".into());
    }
    // The compiler's nil check: TESTB AL, 0(reg) (or the 32-bit CMP/TEST forms of older
    // releases) reads memory only to fault.
    if m == Mnemonic::Test
        && ins.op_count() == 2
        && ins.op0_kind() == OpKind::Memory
        && ins.op1_kind() == OpKind::Register
        && ins.memory_displacement64() == 0
        && ins.memory_index() == Register::None
        && ins.memory_base() != Register::None
        && code.first() != Some(&0xF0)
    {
        info.nil_check = true;
    }
    info
}

#[cfg(test)]
mod tests {
    use crate::{Disassembler, NoSymbols, Syntax};

    fn go(code: &[u8]) -> String {
        let mut out = String::new();
        super::X86::new(64).decode(code, 0x1000, Syntax::Go, &NoSymbols, &mut out);
        out
    }

    #[test]
    fn a_segment_prefix_a_string_destination_cannot_use_is_shown() {
        // go tool objdump's text for these bytes (seen in a windows/amd64 build's padding).
        assert_eq!(go(&[0x64, 0x6d]), "FS INSD DX, ES:0(DI)");
        assert_eq!(go(&[0x64, 0xaa]), "FS STOSB AL, ES:0(DI)");
        assert_eq!(go(&[0x64, 0xae]), "FS SCASB ES:0(DI), AL");
        assert_eq!(go(&[0x26, 0xaa]), "ES STOSB AL, ES:0(DI)");
        // A source operand takes the override.
        assert_eq!(go(&[0x64, 0xa4]), "MOVSB FS:0(SI), ES:0(DI)");
        assert_eq!(go(&[0x64, 0xac]), "LODSB FS:0(SI), AL");
    }
}
