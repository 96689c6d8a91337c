//! The bytes of a core file: a read-only memory map, or an owned buffer.
//!
//! This is the only module of the crate with `unsafe`: mapping a file.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::Deref;

/// Bytes of an input file.
pub(crate) enum Bytes {
    /// A read-only private memory map.
    Mapped(memmap2::Mmap),
    /// Bytes already in memory (tests, fuzzing).
    Owned(Vec<u8>),
}

impl Bytes {
    /// Maps `file` read-only.
    pub(crate) fn map(file: &File) -> std::io::Result<Bytes> {
        if file.metadata()?.len() == 0 {
            return Ok(Bytes::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only and private. The remaining hazard of file maps is another
        // process truncating or rewriting the file while it is mapped; core files are written once
        // by the kernel and then only read, every parser here bounds-checks what it reads, and a
        // concurrent truncation could at worst raise SIGBUS, the contract every mmap-based reader
        // accepts.
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
