//! Errors of the target readers.

/// What was wrong with a core file or target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Not an ELF file at all.
    #[error("not an ELF file (a core dump starts with \\x7fELF)")]
    NotElf,
    /// An ELF file, but not a core dump.
    #[error(
        "an ELF file of type {0}, not a core dump (ET_CORE = 4); pass the core as the second argument"
    )]
    NotCore(u16),
    /// A core goscope cannot read.
    #[error("unsupported core file: {0}")]
    Unsupported(String),
    /// Cut short before anything usable.
    #[error("core file truncated: {0}")]
    Truncated(String),
    /// Inconsistent headers.
    #[error("malformed core file: {0}")]
    Malformed(String),
}
