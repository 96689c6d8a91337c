//! Kernel uprobes through `perf_event_open`, for watching a running Go program without
//! stopping it: where to probe ([`sites`]: function entries, inlined copies, RETs found by the
//! disassembler, and for atomics the instruction that runs exactly once with each), the probes
//! and their ring buffers ([`uprobes`]), and goroutine ids from the g register
//! ([`goroutines`]). Never uretprobes: they rewrite return addresses on the stack, which Go's
//! stack copying does not expect. [`perf`] is the one place of `perf_event_open` and `bpf`
//! system calls, also for the debugger's breakpoints filtered in the kernel.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

#[cfg(target_os = "linux")]
pub mod goroutines;
#[cfg(target_os = "linux")]
pub mod perf;
pub mod sites;
#[cfg(target_os = "linux")]
pub mod uprobes;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// No function matches the pattern.
    #[error(
        "no function matches {0:?} (goscope nm BINARY lists them; the pattern is a regular expression)"
    )]
    NoMatch(String),
    /// Not possible for this binary or machine.
    #[error("{0}")]
    Unsupported(String),
    /// The kernel has no uprobe PMU, or goscope may not use it.
    #[error("perf uprobes are not available: {0}")]
    Unavailable(String),
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}
