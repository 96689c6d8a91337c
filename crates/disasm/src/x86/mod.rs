//! x86 (amd64 and 386) through `iced-x86`.
//!
//! Decoding is iced's. Go syntax is goscope's own formatter: [`plan9`] for the legacy opcode
//! table of `go tool objdump`'s decoder (x86asm, as vendored in Go 1.27: the mnemonics of
//! [`goops`], with its quirks of prefixes, sizes and displacements), [`vex`] for VEX, EVEX and
//! the rest. Where x86asm cannot decode an instruction it prints `?` for one byte and carries
//! on inside the instruction, reading its remaining bytes as other instructions; goscope
//! prints the instruction the processor runs instead, one line for all of its bytes, in the
//! Go assembler's spelling. (So does it where x86asm 1.27 takes the wrong length: it reads a
//! ModRM byte after VZEROUPPER, which has none.)

mod goops;
mod plan9;
mod vex;

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
    /// Spell the mnemonic as the Go assembler does where x86asm has no name for it: with an
    /// operand-size suffix (`ADCXQ`).
    pub asm_suffix: bool,
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
        asm_suffix: false,
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
        if ins.is_invalid() {
            out.push('?');
            return unknown(1);
        }
        if ins.encoding() != EncodingKind::Legacy {
            // VEX, EVEX, XOP and 3DNow!: Go 1.27 decodes most VEX and EVEX instructions, and
            // prints them as `vex` does; the rest it cannot, and they read the same way.
            if syntax != Syntax::None {
                vex::format(&ins, code, self.bitness, pc, syms, out);
            }
            return facts(&ins, code, self.bitness, true);
        }
        let go_decodes = go_knows_mnemonic(ins.mnemonic())
            && !rex_misplaced(code, self.bitness)
            && !test_alias(code, self.bitness);
        if syntax == Syntax::None {
            return facts(&ins, code, self.bitness, true);
        }
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
        let mut p = scan_prefixes(code, self.bitness, uses_segment, branch);
        p.disp_size = disp_size;
        if !go_decodes {
            // Go prints `?` for the first byte and decodes the rest as another instruction;
            // goscope prints the instruction the processor runs, as the Go assembler spells it.
            // (Its operand size is its own: a REX before another prefix is ignored.)
            p.asm_suffix = true;
            // The segment in effect is the processor's (a REX before the prefixes, which x86asm
            // stops at, does not hide them).
            p.seg = match ins.segment_prefix() {
                Register::FS | Register::GS => Some(ins.segment_prefix()),
                r if self.bitness != 64 && r != Register::None => Some(r),
                _ => p.seg,
            };
            if let Some(size) = (0..ins.op_count())
                .filter(|&i| ins.op_kind(i) == OpKind::Register)
                .map(|i| ins.op_register(i))
                .find(|r| r.is_gpr())
                .map(|r| r.size() as u32 * 8)
            {
                p.data_size = size;
            }
        }
        plan9::format(&ins, p, self.bitness, pc, syms, out);
        facts(&ins, code, self.bitness, true)
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

    fn go_len(code: &[u8]) -> (String, usize) {
        let mut out = String::new();
        let info = super::X86::new(64).decode(code, 0x1000, Syntax::Go, &NoSymbols, &mut out);
        (out, info.len)
    }

    #[test]
    fn instructions_go_1_27_decodes_read_as_it_prints_them() {
        // go1.27.3 tool objdump's text for these bytes (crypto/sha1, crypto/sha256,
        // internal/bytealg and internal/runtime/gc/scan of a Go 1.27 build).
        for (code, text) in [
            (&[0xc5, 0xfd, 0xd7, 0xc0][..], "VPMOVMSKB Y0, AX"),
            (&[0x0f, 0x38, 0xc8, 0xf2], "SHA1NEXTE X2, X6"),
            (&[0x0f, 0x3a, 0xcc, 0xc5, 0x00], "SHA1RNDS4 $0x0, X5, X0"),
            (&[0x0f, 0x38, 0xcb, 0xd1], "SHA256RNDS2 X0, X1, X2"),
            (
                &[0xc4, 0x43, 0x0d, 0x0f, 0xf6, 0x04],
                "VPALIGNR $0x4, Y14, Y14, Y14",
            ),
            (
                &[0x62, 0xf2, 0x6d, 0xc9, 0x75, 0xeb],
                "VPERMI2B.Z Z3, Z2, K1, Z5",
            ),
        ] {
            assert_eq!(go_len(code), (text.to_string(), code.len()), "{code:02x?}");
        }
    }

    #[test]
    fn instructions_go_cannot_decode_are_one_line_in_go_assembler_syntax() {
        // binutils: `rorx $0x1b,%edi,%r12d`, `andn %edi,%ecx,%ebp`, `adcx %rbx,%r13`, each one
        // instruction; go tool objdump prints `?` for their first byte and goes on inside them.
        assert_eq!(
            go_len(&[0xc4, 0x63, 0x7b, 0xf0, 0xe7, 0x1b]),
            ("RORXL $0x1b, DI, R12".to_string(), 6)
        );
        assert_eq!(
            go_len(&[0xc4, 0xe2, 0x70, 0xf2, 0xef]),
            ("ANDNL DI, CX, BP".to_string(), 5)
        );
        assert_eq!(
            go_len(&[0x66, 0x4c, 0x0f, 0x38, 0xf6, 0xeb]),
            ("ADCXQ BX, R13".to_string(), 6)
        );
        // x86asm 1.27 reads a ModRM byte after VZEROUPPER (4 bytes); it has none (binutils: 3).
        assert_eq!(
            go_len(&[0xc5, 0xf8, 0x77, 0xe9, 0x60, 0xfe, 0xff, 0xff]),
            ("VZEROUPPER".to_string(), 3)
        );
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
