//! Where a variable is at a pc: its `DW_AT_location` (one expression, or a location list —
//! DWARF 4 `.debug_loc`, DWARF 5 `.debug_loclists`) evaluated by gimli against the frame:
//! `DW_OP_call_frame_cfa` and `DW_OP_fbreg` (Go's frame base is the CFA) give stack slots,
//! `DW_OP_regN` a register (known only in the innermost frame of a stopped thread),
//! `DW_OP_addr` a package variable (relocated by the load bias), `DW_OP_piece` a value split
//! across several of these.

use std::sync::Arc;

use gimli::{EvaluationResult, Location, Reader as _, Value as GValue};
use goscope_target::{Memory, Registers, TargetArch};

use super::debuginfo::{DebugInfo, LocAttr, R, VarDie};

/// Most operations evaluated for one location expression: Go's are a handful.
const MAX_OPS: u32 = 10_000;
/// Largest value assembled from pieces.
const MAX_PIECES_BYTES: u64 = 1 << 20;

/// Where a value's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    /// In target memory at this address.
    Mem(u64),
    /// Copied out (registers, pieces, computed values): the bytes from this offset on.
    Bytes(Arc<[u8]>, usize),
    /// Nowhere: a constant or the result of an operation.
    None,
}

impl Place {
    /// The place `off` bytes further.
    pub fn offset(&self, off: u64) -> Place {
        match self {
            Place::Mem(a) => Place::Mem(a.wrapping_add(off)),
            Place::Bytes(b, o) => match usize::try_from(off) {
                Ok(off) => Place::Bytes(b.clone(), o.saturating_add(off)),
                Err(_) => Place::Bytes(b.clone(), usize::MAX),
            },
            Place::None => Place::None,
        }
    }

    /// Reads `buf.len()` bytes.
    pub fn read(&self, mem: &dyn Memory, buf: &mut [u8]) -> Result<(), String> {
        match self {
            Place::Mem(a) => mem.read(*a, buf).map_err(|e| e.to_string()),
            Place::Bytes(b, o) => {
                let src = o
                    .checked_add(buf.len())
                    .and_then(|end| b.get(*o..end))
                    .ok_or_else(|| "read out of bounds".to_string())?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Place::None => Err("value has no address".to_string()),
        }
    }

    /// A little-endian unsigned integer of `size` bytes (1 to 8).
    pub fn read_uint(&self, mem: &dyn Memory, size: u64) -> Result<u64, String> {
        let n = usize::try_from(size.clamp(1, 8)).unwrap_or(8);
        let mut b = [0u8; 8];
        self.read(mem, &mut b[..n])?;
        Ok(u64::from_le_bytes(b))
    }
}

/// The frame a location is evaluated in.
pub(crate) struct FrameRegs<'a> {
    pub pc: u64,
    pub sp: u64,
    pub cfa: u64,
    pub regs: Option<&'a Registers>,
    pub arch: TargetArch,
    pub bias: u64,
}

impl FrameRegs<'_> {
    /// The value of DWARF register `n`.
    fn register(&self, n: u16) -> Result<u64, String> {
        let name = match self.arch {
            TargetArch::Amd64 => match n {
                0 => "rax",
                1 => "rdx",
                2 => "rcx",
                3 => "rbx",
                4 => "rsi",
                5 => "rdi",
                6 => "rbp",
                7 => "rsp",
                8 => "r8",
                9 => "r9",
                10 => "r10",
                11 => "r11",
                12 => "r12",
                13 => "r13",
                14 => "r14",
                15 => "r15",
                16 => "rip",
                _ => "",
            },
            TargetArch::Arm64 => match n {
                31 => "sp",
                0..=30 => ARM64_X[usize::from(n)],
                _ => "",
            },
        };
        if matches!(name, "rsp" | "sp") {
            return Ok(self.sp);
        }
        if matches!(name, "rip") {
            return Ok(self.pc);
        }
        match (self.regs, name) {
            (_, "") => Err(format!(
                "register {n} is not a general-purpose register (goscope reads those only)"
            )),
            (None, _) => Err(format!(
                "the value is in register {name}, which is known only in the innermost frame of a \
                 stopped thread"
            )),
            (Some(r), _) => r.get(name).ok_or_else(|| format!("no register {name}")),
        }
    }
}

const ARM64_X: [&str; 31] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30",
];

/// Where `var` is at link-time pc `pc`; `size` is its type's size. An error is what Delve
/// would show as the value's `(unreadable …)` reason.
pub(crate) fn locate(
    di: &DebugInfo,
    var: &VarDie,
    pc: u64,
    size: u64,
    frame: &FrameRegs<'_>,
    mem: &dyn Memory,
) -> Result<Place, String> {
    let (expr, encoding) = location_expression(di, var, pc)?;
    evaluate(expr, encoding, size, frame, mem)
}

/// The location expression of `var` at link-time pc `pc` (from its location list, if it has
/// one), with its unit's encoding.
fn location_expression(
    di: &DebugInfo,
    var: &VarDie,
    pc: u64,
) -> Result<(R, gimli::Encoding), String> {
    let unit = di
        .units
        .get(var.unit)
        .ok_or_else(|| "variable of an unknown unit".to_string())?;
    let expr: R = match &var.loc {
        LocAttr::Expr(e) => e.clone(),
        LocAttr::Missing => return Err("no location attribute (optimized away)".into()),
        LocAttr::List(off) => {
            let mut it = di
                .dwarf
                .locations(unit, *off)
                .map_err(|e| format!("bad location list: {e}"))?;
            let mut found = None;
            let mut n = 0usize;
            while let Some(entry) = it.next().map_err(|e| format!("bad location list: {e}"))? {
                n += 1;
                if n > 100_000 {
                    break;
                }
                if entry.range.begin <= pc && pc < entry.range.end {
                    found = Some(entry.data.0);
                    break;
                }
            }
            found.ok_or_else(|| {
                format!(
                    "could not find loclist entry at {:#x} for address {:#x}",
                    off.0, pc
                )
            })?
        }
    };
    Ok((expr, unit.encoding()))
}

/// Where a value is at one pc, independently of any stop: what a filter running elsewhere
/// (a BPF program in the kernel, at a breakpoint) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticPlace {
    /// In DWARF register `n` (for amd64: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp,
    /// 7 rsp, 8–15 r8–r15).
    Register(u16),
    /// In memory at this offset from the frame's canonical frame address.
    Frame(i64),
    /// In memory at this runtime address (a package variable).
    Address(u64),
}

/// A CFA no real frame has, so that an address computed from it is recognized as an offset.
const SYMBOLIC_CFA: u64 = 1 << 60;

/// [`StaticPlace`] of `var` at link-time pc `pc`, or why it has none: a location that needs a
/// register's or memory's value to be computed, or is split in pieces, depends on the stop.
pub(crate) fn locate_static(
    di: &DebugInfo,
    var: &VarDie,
    pc: u64,
    bias: u64,
) -> Result<StaticPlace, String> {
    let (expr, encoding) = location_expression(di, var, pc)?;
    let stop = |what: &str| Err(format!("depends on the stop (a {what}'s value)"));
    let (pieces, used) = run(
        expr,
        encoding,
        SYMBOLIC_CFA,
        bias,
        |_| stop("register"),
        |_, _| stop("memory word"),
    )?;
    match pieces.as_slice() {
        [p] if p.size_in_bits.is_none() => match (&p.location, used.cfa, used.relocated) {
            (Location::Register { register }, false, false) => {
                Ok(StaticPlace::Register(register.0))
            }
            (Location::Address { address }, true, false) => {
                let off = address.wrapping_sub(SYMBOLIC_CFA) as i64;
                if off.unsigned_abs() < 1 << 31 {
                    Ok(StaticPlace::Frame(off))
                } else {
                    Err("a frame offset out of range".into())
                }
            }
            (Location::Address { address }, false, true) => Ok(StaticPlace::Address(*address)),
            _ => Err("not a register, a frame slot or a package variable".into()),
        },
        _ => Err("a value in pieces".into()),
    }
}

/// What an expression asked for besides its own operations.
struct Used {
    /// The frame base or the CFA.
    cfa: bool,
    /// A relocated address (`DW_OP_addr`).
    relocated: bool,
}

/// Runs a location expression to its pieces: the frame base and the CFA are `cfa`, addresses
/// move by `bias`, registers and memory words come from `register_value` and `memory_word`.
fn run(
    expr: R,
    encoding: gimli::Encoding,
    cfa: u64,
    bias: u64,
    register_value: impl Fn(u16) -> Result<u64, String>,
    memory_word: impl Fn(u64, u8) -> Result<u64, String>,
) -> Result<(Vec<gimli::Piece<R>>, Used), String> {
    if expr.is_empty() {
        // An empty location: optimized away (Delve's words).
        return Err("empty OP stack".into());
    }
    let mut ev = gimli::Evaluation::new(expr, encoding);
    ev.set_max_iterations(MAX_OPS);
    let err = |e: gimli::Error| format!("bad location expression: {e}");
    let mut used = Used {
        cfa: false,
        relocated: false,
    };
    let mut state = ev.evaluate().map_err(err)?;
    loop {
        state = match state {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresFrameBase => {
                used.cfa = true;
                ev.resume_with_frame_base(cfa).map_err(err)?
            }
            EvaluationResult::RequiresCallFrameCfa => {
                used.cfa = true;
                ev.resume_with_call_frame_cfa(cfa).map_err(err)?
            }
            EvaluationResult::RequiresRegister { register, .. } => ev
                .resume_with_register(GValue::Generic(register_value(register.0)?))
                .map_err(err)?,
            EvaluationResult::RequiresMemory { address, size, .. } => ev
                .resume_with_memory(GValue::Generic(memory_word(address, size)?))
                .map_err(err)?,
            EvaluationResult::RequiresRelocatedAddress(a) => {
                used.relocated = true;
                ev.resume_with_relocated_address(a.wrapping_add(bias))
                    .map_err(err)?
            }
            other => return Err(format!("unsupported location operation ({other:?})")),
        };
    }
    Ok((ev.result(), used))
}

/// Evaluates a location expression.
pub(crate) fn evaluate(
    expr: R,
    encoding: gimli::Encoding,
    size: u64,
    frame: &FrameRegs<'_>,
    mem: &dyn Memory,
) -> Result<Place, String> {
    let (pieces, _) = run(
        expr,
        encoding,
        frame.cfa,
        frame.bias,
        |r| frame.register(r),
        |address, size| {
            let n = usize::from(size.clamp(1, 8));
            let mut b = [0u8; 8];
            mem.read(address, &mut b[..n]).map_err(|e| e.to_string())?;
            Ok(u64::from_le_bytes(b))
        },
    )?;
    if pieces.is_empty() {
        return Err("empty OP stack".into());
    }
    if let [p] = pieces.as_slice()
        && p.size_in_bits.is_none()
    {
        return match &p.location {
            Location::Address { address } => Ok(Place::Mem(*address)),
            Location::Register { register } => {
                let v = frame.register(register.0)?;
                Ok(bytes_of(&v.to_le_bytes(), size))
            }
            Location::Value { value } => Ok(bytes_of(&value_bytes(*value), size)),
            Location::Bytes { value } => Ok(bytes_of(
                &value.to_slice().map_err(|e| e.to_string())?,
                size,
            )),
            Location::Empty => Err("empty OP stack".into()),
            Location::ImplicitPointer { .. } => Err("implicit pointer location".into()),
        };
    }
    // Pieces: contiguous memory is an address (so that `&x` and watchpoints work); anything
    // else is assembled, optimized-away pieces read as zeros as Delve reads them.
    let mut contiguous: Option<(u64, u64)> = None;
    let mut all_memory = true;
    let mut total = 0u64;
    for p in &pieces {
        let n = p.size_in_bits.unwrap_or(64) / 8;
        total = total.saturating_add(n);
        match (&p.location, contiguous) {
            (Location::Address { address }, None) if all_memory => {
                contiguous = Some((*address, address.wrapping_add(n)))
            }
            (Location::Address { address }, Some((start, end))) if *address == end => {
                contiguous = Some((start, end.wrapping_add(n)))
            }
            _ => all_memory = false,
        }
    }
    if total > MAX_PIECES_BYTES {
        return Err(format!("location pieces of {total} bytes"));
    }
    if all_memory && let Some((start, _)) = contiguous {
        return Ok(Place::Mem(start));
    }
    let mut out: Vec<u8> = Vec::with_capacity(total as usize);
    for p in &pieces {
        let n = (p.size_in_bits.unwrap_or(64) / 8) as usize;
        let mut chunk = vec![0u8; n];
        match &p.location {
            Location::Address { address } => {
                mem.read(*address, &mut chunk).map_err(|e| e.to_string())?
            }
            Location::Register { register } => {
                let v = frame.register(register.0)?.to_le_bytes();
                let k = n.min(8);
                chunk[..k].copy_from_slice(&v[..k]);
            }
            Location::Value { value } => {
                let v = value_bytes(*value);
                let k = n.min(v.len());
                chunk[..k].copy_from_slice(&v[..k]);
            }
            Location::Bytes { value } => {
                let v = value.to_slice().map_err(|e| e.to_string())?;
                let k = n.min(v.len());
                chunk[..k].copy_from_slice(&v[..k]);
            }
            Location::Empty => {}
            Location::ImplicitPointer { .. } => return Err("implicit pointer location".into()),
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Place::Bytes(Arc::from(out), 0))
}

fn value_bytes(v: GValue) -> Vec<u8> {
    match v {
        GValue::Generic(x) | GValue::U64(x) => x.to_le_bytes().to_vec(),
        GValue::I64(x) => x.to_le_bytes().to_vec(),
        GValue::I8(x) => x.to_le_bytes().to_vec(),
        GValue::U8(x) => x.to_le_bytes().to_vec(),
        GValue::I16(x) => x.to_le_bytes().to_vec(),
        GValue::U16(x) => x.to_le_bytes().to_vec(),
        GValue::I32(x) => x.to_le_bytes().to_vec(),
        GValue::U32(x) => x.to_le_bytes().to_vec(),
        GValue::F32(x) => x.to_le_bytes().to_vec(),
        GValue::F64(x) => x.to_le_bytes().to_vec(),
    }
}

/// `b` padded or cut to `size` bytes.
fn bytes_of(b: &[u8], size: u64) -> Place {
    let n = usize::try_from(size.min(MAX_PIECES_BYTES))
        .unwrap_or(8)
        .max(b.len());
    let mut v = vec![0u8; n];
    v[..b.len()].copy_from_slice(b);
    Place::Bytes(Arc::from(v), 0)
}
