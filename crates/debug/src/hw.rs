//! x86-64 debug registers: DR0–DR3 hold addresses, DR7 says which are enabled and for what
//! (execute, write, read/write) and how wide, DR6 says which fired. Each thread has its own;
//! ptrace reaches them at `offsetof(struct user, u_debugreg)`. They stay armed after the tracer
//! detaches or dies (goscope clears them when it leaves): code breakpoints are therefore perf
//! events where the kernel allows ([`crate::kernel`]), and these are for watchpoints and older
//! kernels.

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::unistd::Pid;

/// `offsetof(struct user, u_debugreg)` on x86-64.
const DEBUGREG_OFFSET: usize = 848;

/// What a debug register watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HwKind {
    /// Executing the instruction at the address (a breakpoint).
    Execute,
    /// Writes.
    Write,
    /// Reads or writes.
    ReadWrite,
}

/// One armed debug register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwSlot {
    /// The address.
    pub addr: u64,
    /// What fires it.
    pub kind: HwKind,
    /// Bytes watched: 1, 2, 4 or 8 (1 for execute).
    pub len: u8,
}

/// Why a slot cannot be armed.
pub fn check(addr: u64, kind: HwKind, len: u8) -> Result<(), String> {
    if kind == HwKind::Execute {
        return Ok(());
    }
    if !matches!(len, 1 | 2 | 4 | 8) {
        return Err(format!(
            "a hardware watchpoint watches 1, 2, 4 or 8 bytes, not {len}"
        ));
    }
    if addr % u64::from(len) != 0 {
        return Err(format!(
            "a {len}-byte hardware watchpoint needs an address aligned to {len} ({addr:#x} is not)"
        ));
    }
    Ok(())
}

/// DR7 for `slots`: local enable bits, R/W and LEN fields.
pub fn dr7(slots: &[Option<HwSlot>; 4]) -> u64 {
    let mut v = 0u64;
    for (i, s) in slots.iter().enumerate() {
        let Some(s) = s else { continue };
        let rw: u64 = match s.kind {
            HwKind::Execute => 0b00,
            HwKind::Write => 0b01,
            HwKind::ReadWrite => 0b11,
        };
        let len: u64 = match (s.kind, s.len) {
            (HwKind::Execute, _) | (_, 1) => 0b00,
            (_, 2) => 0b01,
            (_, 8) => 0b10,
            _ => 0b11,
        };
        v |= 1 << (2 * i);
        v |= rw << (16 + 4 * i);
        v |= len << (18 + 4 * i);
    }
    v
}

fn poke(tid: i32, reg: usize, value: u64) -> Result<(), Errno> {
    let offset = DEBUGREG_OFFSET + 8 * reg;
    ptrace::write_user(
        Pid::from_raw(tid),
        offset as ptrace::AddressType,
        value as nix::libc::c_long,
    )
}

fn peek(tid: i32, reg: usize) -> Result<u64, Errno> {
    let offset = DEBUGREG_OFFSET + 8 * reg;
    ptrace::read_user(Pid::from_raw(tid), offset as ptrace::AddressType).map(|v| v as u64)
}

/// Arms `slots` on stopped thread `tid` (disabling everything first, so that the kernel never
/// sees a half-changed set). Only the addresses of armed slots are written: the first write
/// of an address makes the kernel reserve one of the thread's four breakpoint slots for
/// ptrace, disabled or not, for as long as the thread is traced — slots goscope never arms
/// stay free for perf-event breakpoints.
pub fn apply(tid: i32, slots: &[Option<HwSlot>; 4]) -> Result<(), Errno> {
    poke(tid, 7, 0)?;
    for (i, s) in slots.iter().enumerate() {
        if let Some(s) = s {
            poke(tid, i, s.addr)?;
        }
    }
    let v = dr7(slots);
    if v != 0 {
        poke(tid, 7, v)?;
    }
    Ok(())
}

/// Disarms every debug register of stopped thread `tid` (and forgets their addresses,
/// writing only those that were set: see [`apply`]).
pub fn clear(tid: i32) -> Result<(), Errno> {
    poke(tid, 7, 0)?;
    for i in 0..4 {
        if peek(tid, i)? != 0 {
            poke(tid, i, 0)?;
        }
    }
    Ok(())
}

/// Which slots fired (DR6 bits 0–3) and whether a single step did (bit 14), at the last debug
/// exception (the kernel rewrites ptrace's view of DR6 at each).
pub fn status(tid: i32) -> Result<(u8, bool), Errno> {
    let v = peek(tid, 6)?;
    Ok(((v & 0xf) as u8, v & (1 << 14) != 0))
}

/// DR7 of thread `tid` (for checks that nothing is left armed).
pub fn read_dr7(tid: i32) -> Result<u64, Errno> {
    peek(tid, 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dr7_encodes_enable_kind_and_length() {
        let mut s = [None; 4];
        s[0] = Some(HwSlot {
            addr: 0x1000,
            kind: HwKind::Execute,
            len: 1,
        });
        assert_eq!(dr7(&s), 0b1);
        s[1] = Some(HwSlot {
            addr: 0x2000,
            kind: HwKind::Write,
            len: 8,
        });
        // L1, RW1 = 01 (bits 20-21), LEN1 = 10 (bits 22-23).
        assert_eq!(dr7(&s), 0b1 | 0b100 | (0b01 << 20) | (0b10 << 22));
        s[3] = Some(HwSlot {
            addr: 0x3000,
            kind: HwKind::ReadWrite,
            len: 4,
        });
        assert_eq!(dr7(&s) >> 28, 0b1111);
        assert!(check(0x1001, HwKind::Write, 2).is_err());
        assert!(check(0x1000, HwKind::Write, 3).is_err());
        assert!(check(0x1008, HwKind::Write, 8).is_ok());
    }
}
