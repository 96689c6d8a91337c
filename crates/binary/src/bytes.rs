//! The bytes of an input file: a read-only memory map, or an owned buffer. The workspace's one
//! memory-map wrapper: executables here, core files in `goscope-target`.
//!
//! This is the only module of the crate with `unsafe`: mapping a file.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::Deref;

/// Bytes of an input file, borrowed by every parser.
pub enum Bytes {
    /// A read-only private memory map of a file.
    Mapped(memmap2::Mmap),
    /// Bytes already in memory (tests, fuzzing, embedded samples).
    Owned(Vec<u8>),
}

/// How the bytes of a mapped file will be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The kernel's default read-ahead (executables: tables are scanned in order).
    Normal,
    /// No read-ahead, no fault-around: readers jump around (core files, goroutine to goroutine).
    Random,
}

impl Bytes {
    /// Maps `file` read-only.
    pub fn map(file: &File) -> std::io::Result<Bytes> {
        Bytes::map_for(file, Access::Normal)
    }

    /// Maps `file` read-only, advising the kernel how it will be read.
    pub fn map_for(file: &File, access: Access) -> std::io::Result<Bytes> {
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
        if access == Access::Random {
            let _ = map.advise(memmap2::Advice::Random);
        }
        Ok(Bytes::Mapped(map))
    }

    /// Drops the pages read so far from this process's memory; they are read from the file
    /// again if touched. Keeps the resident size of a walk over a large core bounded.
    pub fn release(&self) {
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
