//! What goscope reads a Go program's state from: the [`Target`] interface (memory, threads with
//! registers, the executable, its load bias, why it is stopped) and the [`Memory`] trait,
//! implemented by the executable's own file bytes ([`FileMemory`]) and by ELF core dumps
//! ([`CoreFile`]) merged with the executable's file-backed memory the kernel did not dump.
//!
//! Core files are untrusted input: every count and offset is checked, a truncated core still
//! opens, and what is missing is reported as warnings and as failed reads.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod core;
pub mod coredump;
pub mod elfcore;
mod error;
pub mod fuzzing;
#[cfg(target_os = "linux")]
pub mod live;
mod memory;
mod target;
mod thread;

pub use crate::core::CoreFile;
pub use elfcore::{CoreLayout, MappedFile, ProcessInfo, Segment, SigInfo};
pub use error::CoreError;
pub use memory::{FileMemory, MemError, MemErrorKind, MemResult, Memory};
pub use target::{SignalOrigin, StopInfo, Target};
pub use thread::{Registers, TargetArch, Thread};

/// The name of a Linux signal number (`SIGSEGV`), as the Go runtime prints it.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGIO",
        30 => "SIGPWR",
        31 => "SIGSYS",
        _ => "signal",
    }
}
