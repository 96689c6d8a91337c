//! Live control of a Go program on Linux amd64: the tracer (launch, attach, threads, forks,
//! execs, all-stop), hardware and software breakpoints, hardware watchpoints, instruction
//! stepping, and a session that speaks Delve's command words over goscope's runtime model.
//!
//! The program is a guest: hardware breakpoints are preferred (as perf events of goscope's,
//! which the kernel drops if goscope dies), int3 is used only when the four debug registers are
//! taken, and every way out —
//! `detach`, `exit`, SIGINT/SIGTERM/SIGHUP, a panic — removes every int3, clears every debug
//! register and resumes every thread with the signals it is owed.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

#[cfg(target_os = "linux")]
pub mod bpf;
#[cfg(target_os = "linux")]
pub mod command;
#[cfg(target_os = "linux")]
pub mod hw;
#[cfg(target_os = "linux")]
pub mod kernel;
#[cfg(target_os = "linux")]
pub mod locate;
#[cfg(target_os = "linux")]
pub mod reply;
#[cfg(target_os = "linux")]
pub mod session;
#[cfg(target_os = "linux")]
pub mod tracer;
