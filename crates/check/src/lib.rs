//! Machine-level assertions about Go binaries, for CI.
//!
//! - [`policy`]: `goscope.toml`, the rules and which functions they apply to;
//!   [`directives`]: the same intents as `//goscope:` comments in the source.
//! - [`check`]: evaluates a policy on the linked binary — calls to the allocator, LOCKs and
//!   atomics, bounds-check panics, write barriers, defers, interface conversions, inlining,
//!   frame and code size — from its instructions (goscope-disasm), not from compiler text.
//! - [`opt`]: the compiler's optimization log (`-json=0` or `-m=2`), each decision tied to the
//!   instructions it produced.
//! - [`diff`]: per-function machine-level changes between two builds.
//! - [`sarif`]: SARIF 2.1.0 for code-scanning services.
//!
//! Every result is a serde-serializable value; rendering is the CLI's job.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod check;
pub mod diff;
pub mod directives;
pub mod facts;
#[doc(hidden)]
pub mod fuzzing;
pub mod opt;
pub mod pattern;
pub mod policy;
pub mod sarif;

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy is invalid.
    #[error("policy: {0}")]
    Policy(String),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The binary cannot be disassembled.
    #[error(transparent)]
    Disasm(#[from] goscope_disasm::Error),
    /// An optimization log is malformed.
    #[error("optimization log {file}: {msg}")]
    OptLog {
        /// The log file.
        file: String,
        /// What is wrong.
        msg: String,
    },
}
