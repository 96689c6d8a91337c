//! Go-aware disassembly.
//!
//! One [`Disassembler`] trait over the instruction sets goscope reads: amd64 and 386 through
//! `iced-x86`, arm64 through `yaxpeax-arm` (chosen by measurement; see `ARCHITECTURE.md`); no
//! 32-bit ARM (an error says so). Each renders three syntaxes:
//!
//! - [`Syntax::Go`]: the Plan 9 syntax of the newest `go tool objdump` (Go 1.27), produced by
//!   goscope's own formatters over the decoded operands, text for text identical to the Go
//!   tool's wherever it decodes an instruction right; where it prints `?` (x86 BMI2, arm64 LSE
//!   atomics) or takes a wrong length, goscope prints the instruction, one line for all of its
//!   bytes, as the Go assembler writes it;
//! - [`Syntax::Intel`] and [`Syntax::Gnu`]: the decoders' own formatters, with branch and call
//!   targets named.
//!
//! Every decoded instruction also carries facts ([`InsnInfo`]) that the [`annotate`] module turns
//! into Go-runtime annotations (allocation, map and channel operations, LOCK-prefixed and atomic
//! instructions, write barriers, stack checks, panics), and [`listing`] builds whole-function
//! listings over a [`goscope_binary::Binary`], in parallel and in order.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod annotate;
mod arm64;
pub mod classes;
pub mod fuzzing;
pub mod listing;
pub mod reach;
mod x86;

use goscope_binary::Arch;

/// The assembly syntax of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// Go's (Plan 9) syntax, as `go tool objdump` prints it.
    Go,
    /// Intel syntax.
    Intel,
    /// GNU (AT&T on x86) syntax, as binutils `objdump -d` prints it.
    Gnu,
    /// No text where it can be skipped: instruction boundaries and facts as for [`Syntax::Go`],
    /// for whole-binary analyses (`check`, `diff`) that never show the text. arm64 still
    /// writes Go text, which its atomic-loop annotations read.
    None,
}

/// Names the symbol containing an address: `(name, start address)`.
pub trait Symbolizer: Sync {
    /// The symbol whose range contains `addr`, and its start.
    fn lookup(&self, addr: u64) -> Option<(&str, u64)>;
}

/// A symbolizer that knows no symbols.
pub struct NoSymbols;

impl Symbolizer for NoSymbols {
    fn lookup(&self, _addr: u64) -> Option<(&str, u64)> {
        None
    }
}

/// How an instruction changes the flow of control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Falls through to the next instruction.
    #[default]
    Sequential,
    /// A direct call ([`InsnInfo::target`] is the callee).
    Call,
    /// A call through a register or memory.
    IndirectCall,
    /// An unconditional direct jump.
    Jump,
    /// A conditional direct branch.
    CondJump,
    /// A jump through a register or memory.
    IndirectJump,
    /// A return.
    Return,
}

/// What one decoded instruction is, beyond its text: the facts annotations are built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsnInfo {
    /// Length in bytes (at least 1; 4 on arm64).
    pub len: usize,
    /// Whether the Go-compatible decoder recognised it (`?` otherwise).
    pub known: bool,
    /// Control flow.
    pub flow: Flow,
    /// Direct branch or call target.
    pub target: Option<u64>,
    /// The atomic operation this instruction performs, if any: `"LOCK XADD"`,
    /// `"XCHG (implicit LOCK)"`, `"LDADDAL (atomic add)"`, `"LDAXR (load-exclusive)"`.
    pub atomic: Option<Box<str>>,
    /// An absolute address the instruction reads, writes or takes (RIP-relative or absolute
    /// memory operands; the arm64 ADRP page is reported through [`InsnInfo::adrp`]).
    pub mem_addr: Option<u64>,
    /// The displacement of a memory operand based on the goroutine register (R14 on amd64,
    /// R28 on arm64), e.g. 16 for `g.stackguard0`.
    pub g_offset: Option<i64>,
    /// A compiler nil check: a load from a pointer whose value is discarded
    /// (`TESTB AL, 0(AX)` on amd64, `MOVD (R0), ZR` on arm64).
    pub nil_check: bool,
    /// arm64 register arithmetic annotations follow (ADRP pages and offsets from them).
    pub reg: Option<RegRef>,
}

/// What an arm64 instruction does with an address register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegRef {
    /// `ADRP Xd, page`: the register and the page address.
    Adrp(u8, u64),
    /// A memory operand or `ADD` immediate on a base register: register and offset.
    BaseOffset(u8, i64),
}

/// A disassembler for one instruction set.
pub trait Disassembler: Send + Sync {
    /// The instruction set.
    fn arch(&self) -> Arch;

    /// Decodes the instruction at the start of `code`, whose address is `pc`, writes its text in
    /// `syntax` to `out` (appending), and returns its facts. Never fails: bytes that do not
    /// decode give `?` and a length of 1 (x86) or 4 (arm64), as `go tool objdump` steps.
    fn decode(
        &self,
        code: &[u8],
        pc: u64,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
    ) -> InsnInfo;

    /// Whether `go tool objdump` prints this architecture's instruction bytes as 32-bit words
    /// (arm64) rather than as a byte string (x86).
    fn prints_words(&self) -> bool;

    /// A decoder over one stretch of code starting at `pc`, for decoding it front to back
    /// (decoders that keep state between instructions are faster this way).
    fn stream<'a>(&'a self, code: &'a [u8], pc: u64) -> Box<dyn Stream + 'a> {
        Box::new(PerInsn {
            dis: self.as_dyn(),
            code,
            pc,
        })
    }

    /// `self` as a trait object (for [`Disassembler::stream`]'s default).
    fn as_dyn(&self) -> &dyn Disassembler;
}

/// Decodes instructions of one stretch of code by offset; see [`Disassembler::stream`].
pub trait Stream {
    /// Decodes the instruction at `offset` from the start of the stretch, as
    /// [`Disassembler::decode`] does. Without `facts`, only [`InsnInfo::len`] and
    /// [`InsnInfo::known`] are filled in (a listing without annotations needs no more).
    fn decode_at(
        &mut self,
        offset: usize,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
        facts: bool,
    ) -> InsnInfo;
}

/// The default [`Stream`]: one [`Disassembler::decode`] call per instruction.
struct PerInsn<'a> {
    dis: &'a dyn Disassembler,
    code: &'a [u8],
    pc: u64,
}

impl Stream for PerInsn<'_> {
    fn decode_at(
        &mut self,
        offset: usize,
        syntax: Syntax,
        syms: &dyn Symbolizer,
        out: &mut String,
        _facts: bool,
    ) -> InsnInfo {
        let code = self.code.get(offset..).unwrap_or(&[]);
        self.dis
            .decode(code, self.pc.wrapping_add(offset as u64), syntax, syms, out)
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No disassembler for the instruction set (32-bit ARM: no decoder goscope has matches
    /// `go tool objdump`'s exactly, and a listing that may misname instructions is worse than
    /// none).
    #[error(
        "disassembly of {} binaries is not supported: goscope disassembles amd64, arm64 and 386",
        .0.goarch()
    )]
    UnsupportedArch(Arch),
    /// The binary has no text section to disassemble.
    #[error("the binary has no text section")]
    NoText,
}

/// The disassembler for `arch`.
pub fn for_arch(arch: Arch) -> Result<Box<dyn Disassembler>, Error> {
    match arch {
        Arch::Amd64 => Ok(Box::new(x86::X86::new(64))),
        Arch::I386 => Ok(Box::new(x86::X86::new(32))),
        Arch::Arm64 => Ok(Box::new(arm64::Arm64)),
        other => Err(Error::UnsupportedArch(other)),
    }
}

/// Appends `v` as `0x…` lower-case hex (the hot path of every syntax; `write!` is slower).
pub(crate) fn push_hex(out: &mut String, v: u64) {
    out.push_str("0x");
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        out.push(char::from(
            b"0123456789abcdef"[((v >> (i * 4)) & 15) as usize],
        ));
    }
}
