//! The bytes of an opened executable: a read-only memory map, or an owned buffer.
//!
//! This is the only module of the crate with `unsafe`: mapping a file.

use std::fs::File;
use std::ops::Deref;

/// Bytes of an input file, borrowed by every parser.
pub enum Bytes {
    /// A read-only private memory map of a file.
    Mapped(memmap2::Mmap),
    /// Bytes already in memory (tests, fuzzing, embedded samples).
    Owned(Vec<u8>),
}

impl Bytes {
    /// Maps `file` read-only.
    pub fn map(file: &File) -> std::io::Result<Bytes> {
        let len = file.metadata()?.len();
        if len == 0 {
            // Mapping an empty file fails on some systems; there is nothing to map anyway.
            return Ok(Bytes::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only and private. The remaining hazard of file maps is another
        // process truncating or rewriting the file while it is mapped; goscope reads executables
        // and core files that are not being written, every parser bounds-checks what it reads, and
        // a concurrent truncation could at worst raise SIGBUS, which is the same contract every
        // mmap-based reader (ripgrep, gimli users, the Go toolchain's own readers) accepts.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(Bytes::Mapped(map))
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}
