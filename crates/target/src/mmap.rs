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
        // Readers jump around a core (goroutine to goroutine): no read-ahead, no fault-around.
        let _ = map.advise(memmap2::Advice::Random);
        Ok(Bytes::Mapped(map))
    }

    /// Drops the pages read so far from this process's memory; they are read from the file
    /// again if touched. Keeps the resident size of a walk over a large core bounded.
    pub(crate) fn release(&self) {
        if let Bytes::Mapped(m) = self {
            // SAFETY: DONTNEED on a private, read-only, never-written file mapping only drops
            // page-table entries: the next access faults the identical bytes back in from the
            // file, so every outstanding `&[u8]` into the map keeps seeing the same contents.
            let _ = unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
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
