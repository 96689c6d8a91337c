//! [`Target`]: what every source of a Go program's state offers — memory, threads with their
//! registers, the executable and where it is loaded, and why the program is stopped. A core file
//! and a live process (or a copy taken of one while it was paused) implement it; the runtime
//! model is written once against it.

use std::path::PathBuf;

use serde::Serialize;

use crate::elfcore::SigInfo;
use crate::memory::Memory;
use crate::thread::{TargetArch, Thread};

/// Why and how the target is stopped.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StopInfo {
    /// The process id, when known.
    pub pid: Option<i32>,
    /// The signal that ended the process (a core's `NT_SIGINFO`); `None` for a live process
    /// paused by goscope.
    pub signal: Option<SigInfo>,
    /// The target is a running process (now paused, or read without stopping it).
    pub live: bool,
    /// `CLOCK_MONOTONIC` when the target was read, in nanoseconds: the clock of the Go
    /// runtime's `nanotime`, so goroutines' wait times are exact. `None` for a core (it has no
    /// clock).
    pub monotonic_ns: Option<i64>,
}

/// A Go program's state: memory, threads and registers, the executable and its load bias.
pub trait Target: Memory {
    /// The machine.
    fn arch(&self) -> TargetArch;

    /// The OS threads with their registers. Empty when registers could not be had (a live
    /// process read without stopping it).
    fn threads(&self) -> &[Thread];

    /// The path of the executable as the process saw it, if the target can tell.
    fn executable(&self) -> Option<PathBuf>;

    /// The executable's load bias: runtime address minus link-time address (0 unless PIE).
    fn bias(&self) -> u64;

    /// Why it is stopped.
    fn stop(&self) -> StopInfo;

    /// Everything damaged or inconsistent about the target, for the user.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Who sent a signal, from its `siginfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalOrigin {
    /// The kernel: a fault (`si_code` > 0).
    Kernel,
    /// The process itself (`raise`, the runtime's `dieFromSignal`).
    Raised,
    /// Another process (`kill`).
    Sent,
}

impl SigInfo {
    /// Who sent the signal, given the process's own id: for signals sent by a process, the
    /// sender's pid is in the low half of `si_addr`'s slot.
    pub fn origin(&self, pid: Option<i32>) -> SignalOrigin {
        let sender = (self.addr & 0xffff_ffff) as i32;
        if self.code > 0 {
            SignalOrigin::Kernel
        } else if Some(sender) == pid {
            SignalOrigin::Raised
        } else {
            SignalOrigin::Sent
        }
    }
}
