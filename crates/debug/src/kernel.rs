//! Breakpoints whose condition the kernel evaluates: a hardware execute breakpoint opened as a
//! perf event (`PERF_TYPE_BREAKPOINT`) on a thread, with `sigtrap` (a hit that passes sends the
//! thread a SIGTRAP with `si_code` `TRAP_PERF`, a ptrace stop for goscope), `inherit` and
//! `inherit_thread` (the threads it creates later get it; forked processes do not),
//! `remove_on_exec`, and a BPF program as its filter ([`crate::bpf`]). Since Linux 6.10 a
//! filter that returns 0 also suppresses the signal: a false condition costs the debug
//! exception and the program, no context switch to goscope.
//!
//! The events belong to goscope's file descriptors: when goscope closes them — on leaving, or
//! when it dies, even by SIGKILL — the kernel removes them from every thread.

use std::os::fd::OwnedFd;

use goscope_probe::perf;

use crate::bpf::Insn;

/// `si_code` of the SIGTRAP a `sigtrap` perf event sends.
pub const TRAP_PERF: i32 = 6;

/// Whether this kernel suppresses the signal of a filtered-out hit (Linux 6.10 and later),
/// and goscope is not told otherwise (`GOSCOPE_KERNEL_CONDITIONS=0`).
pub fn supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        if std::env::var_os("GOSCOPE_KERNEL_CONDITIONS").is_some_and(|v| v == "0") {
            return false;
        }
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut parts = release
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (6, 10)
    })
}

/// A loaded BPF filter.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
}

/// Loads `insns`; an error carries the verifier's log.
pub fn load(insns: &[Insn]) -> Result<Program, String> {
    let code: Vec<u8> = insns.iter().flat_map(Insn::bytes).collect();
    perf::load_perf_event_program(&code)
        .map(|fd| Program { fd })
        .map_err(|e| format!("loading the BPF filter: {e}"))
}

/// A hardware breakpoint as a perf event on one thread (and the threads it creates).
#[derive(Debug)]
pub struct Breakpoint {
    _fd: OwnedFd,
}

/// Opens an execute breakpoint at `addr` on thread `tid`, filtered by `prog`, its signal
/// carrying `cookie` (`si_perf_data`), and enables it.
pub fn open(
    tid: i32,
    addr: u64,
    prog: &Program,
    cookie: u64,
) -> Result<Breakpoint, nix::errno::Errno> {
    let errno = |e: std::io::Error| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
    let fd = perf::open_breakpoint_with_sigtrap(tid, addr, cookie).map_err(errno)?;
    // The filter before the event is enabled: no hit goes unfiltered.
    perf::set_bpf(&fd, &prog.fd).map_err(errno)?;
    perf::enable(&fd).map_err(errno)?;
    Ok(Breakpoint { _fd: fd })
}
