//! Errors of the binary reader. Every variant names what was wrong and, where it helps, where.

use std::fmt;

/// What went wrong while reading a Go executable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read from disk.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that was opened.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an executable of a format goscope reads.
    #[error("not an ELF, Mach-O or PE executable ({0})")]
    UnknownFormat(String),
    /// The container (ELF, Mach-O, PE) is malformed.
    #[error("malformed {format} file: {detail}")]
    Container {
        /// ELF, Mach-O or PE.
        format: &'static str,
        /// What the parser found.
        detail: String,
    },
    /// A container goscope understands, but for a machine it does not.
    #[error("unsupported architecture {0} (goscope reads amd64, arm64, 386 and arm)")]
    UnsupportedArch(String),
    /// Big-endian targets are not supported.
    #[error("big-endian executables are not supported")]
    BigEndian,
    /// No Go pclntab could be found: most likely not a Go program.
    #[error("no Go pclntab found (is this a Go program?)")]
    NoPclntab,
    /// The pclntab was found but is malformed.
    #[error("malformed pclntab: {0}")]
    Pclntab(String),
    /// No build information was found.
    #[error("no Go build information found")]
    NoBuildInfo,
    /// The build information is malformed.
    #[error("malformed Go build information: {0}")]
    BuildInfo(String),
    /// moduledata was not found or did not validate.
    #[error("runtime.firstmoduledata not found: {0}")]
    NoModuledata(String),
    /// A virtual address is not backed by the file.
    #[error("address {0:#x} is not in the file")]
    Unmapped(Addr),
}

/// A virtual address, printed in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr(pub u64);

impl fmt::LowerHex for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
