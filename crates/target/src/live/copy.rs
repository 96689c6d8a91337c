//! A copy of what goscope read from a live process: every range read while it was paused (or,
//! without pausing, while it ran), so that the analysis can run after the process has resumed.
//!
//! [`CopyBuilder`] reads through to the live memory and keeps what it read; ranges can also be
//! copied in bulk ([`CopyBuilder::prefetch`], a few system calls for thousands of ranges).
//! [`ProcessCopy`] is the finished copy: a [`Target`] whose reads outside the copied ranges come
//! from the executable's file for read-only segments (code, read-only data, the pclntab — the
//! same bytes in the process) and fail as [`MemErrorKind::NotCopied`] elsewhere.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use goscope_binary::Binary;

use crate::memory::{MemError, MemErrorKind, MemResult, Memory};
use crate::target::{StopInfo, Target};
use crate::thread::{TargetArch, Thread};

/// Copied ranges keyed by start address; they never overlap.
type Ranges = BTreeMap<u64, Box<[u8]>>;

/// The range holding `addr`, as `(start, bytes)`.
fn find(ranges: &Ranges, addr: u64) -> Option<(u64, &[u8])> {
    let (&start, bytes) = ranges.range(..=addr).next_back()?;
    (addr - start < bytes.len() as u64).then_some((start, &bytes[..]))
}

/// Serves `buf` from `ranges`; `Err(first missing address)` if some byte is not there.
fn read_from(ranges: &Ranges, addr: u64, buf: &mut [u8]) -> Result<(), u64> {
    let mut done = 0usize;
    while done < buf.len() {
        let a = addr.wrapping_add(done as u64);
        let (start, bytes) = find(ranges, a).ok_or(a)?;
        let off = (a - start) as usize;
        let n = (bytes.len() - off).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&bytes[off..off + n]);
        done += n;
    }
    Ok(())
}

/// Inserts `[addr, addr+len)`, cut to the parts not already copied.
fn insert(ranges: &mut Ranges, addr: u64, bytes: &[u8]) {
    let end = addr.saturating_add(bytes.len() as u64);
    let mut a = addr;
    while a < end {
        if let Some((start, have)) = find(ranges, a) {
            a = start + have.len() as u64;
            continue;
        }
        // Up to the next copied range.
        let next = ranges.range(a..end).next().map_or(end, |(&s, _)| s);
        let lo = (a - addr) as usize;
        let hi = (next - addr) as usize;
        ranges.insert(a, bytes[lo..hi].into());
        a = next;
    }
}

/// How much was copied.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CopyStats {
    /// Ranges copied.
    pub ranges: usize,
    /// Bytes copied.
    pub bytes: u64,
}

/// Reads through to a live process's memory and keeps what it read.
pub struct CopyBuilder<'m> {
    live: &'m dyn Memory,
    ranges: Mutex<Ranges>,
}

impl<'m> CopyBuilder<'m> {
    /// A copy of `live`, empty so far.
    pub fn new(live: &'m dyn Memory) -> CopyBuilder<'m> {
        CopyBuilder {
            live,
            ranges: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ranges> {
        self.ranges.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies every range of `wanted` (`(address, length)`) not copied yet, in a few batched
    /// reads. Overlapping and touching ranges are merged first. Returns the ranges that could
    /// not be read.
    pub fn prefetch(&self, wanted: &mut Vec<(u64, u64)>) -> Vec<(u64, MemError)> {
        wanted.retain(|&(_, len)| len > 0);
        wanted.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(wanted.len());
        for &(a, len) in wanted.iter() {
            let end = a.saturating_add(len);
            match merged.last_mut() {
                Some((s, e)) if a <= *e => *e = (*e).max(end),
                _ => merged.push((a, end)),
            }
        }
        let mut bufs: Vec<Vec<u8>> = merged
            .iter()
            .map(|&(s, e)| vec![0u8; (e - s) as usize])
            .collect();
        let mut reqs: Vec<(u64, &mut [u8])> = merged
            .iter()
            .zip(bufs.iter_mut())
            .map(|(&(s, _), b)| (s, b.as_mut_slice()))
            .collect();
        let results = self.live.read_many(&mut reqs);
        drop(reqs);
        let mut failed = Vec::new();
        let mut ranges = self.lock();
        for ((&(s, _), buf), r) in merged.iter().zip(bufs).zip(results) {
            match r {
                Ok(()) => insert(&mut ranges, s, &buf),
                Err(e) => failed.push((s, e)),
            }
        }
        failed
    }

    /// Keeps `bytes` as the contents at `addr` (bytes already copied there win).
    pub fn insert(&self, addr: u64, bytes: &[u8]) {
        insert(&mut self.lock(), addr, bytes);
    }

    /// Drops what was copied of `[addr, addr+len)`, so that it can be copied again.
    pub fn forget(&self, addr: u64, len: u64) {
        let end = addr.saturating_add(len);
        let mut ranges = self.lock();
        let first = ranges.range(..=addr).next_back().map_or(addr, |(&s, _)| s);
        let hit: Vec<u64> = ranges.range(first..end).map(|(&s, _)| s).collect();
        for s in hit {
            let Some(bytes) = ranges.remove(&s) else {
                continue;
            };
            let e = s + bytes.len() as u64;
            if e <= addr {
                ranges.insert(s, bytes);
                continue;
            }
            if s < addr {
                ranges.insert(s, bytes[..(addr - s) as usize].into());
            }
            if e > end {
                ranges.insert(end, bytes[(end - s) as usize..].into());
            }
        }
    }

    /// What was copied so far.
    pub fn stats(&self) -> CopyStats {
        let r = self.lock();
        CopyStats {
            ranges: r.len(),
            bytes: r.values().map(|b| b.len() as u64).sum(),
        }
    }

    /// The finished copy, with the executable (its read-only segments stand in for memory not
    /// copied), threads and stop information.
    pub fn finish(self, parts: CopyParts) -> ProcessCopy {
        ProcessCopy {
            ranges: self.ranges.into_inner().unwrap_or_else(|e| e.into_inner()),
            parts,
        }
    }
}

impl Memory for CopyBuilder<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        if read_from(&self.lock(), addr, buf).is_ok() {
            return Ok(());
        }
        self.live.read(addr, buf)?;
        insert(&mut self.lock(), addr, buf);
        Ok(())
    }

    fn ptr_size(&self) -> u8 {
        self.live.ptr_size()
    }
}

/// What a copy knows besides memory.
#[derive(Debug, Clone)]
pub struct CopyParts {
    /// The executable, whose read-only segments stand in for memory that was not copied.
    pub binary: Option<Arc<Binary>>,
    /// Its load bias.
    pub bias: u64,
    /// The machine.
    pub arch: TargetArch,
    /// Threads with registers (none when the process was not paused).
    pub threads: Vec<Thread>,
    /// The executable's path as the process saw it.
    pub executable: Option<PathBuf>,
    /// The process and when it was read.
    pub stop: StopInfo,
    /// Problems met while copying.
    pub warnings: Vec<String>,
}

/// A copy of a live process's memory, taken while it was paused or read as it ran.
pub struct ProcessCopy {
    ranges: Ranges,
    parts: CopyParts,
}

impl std::fmt::Debug for ProcessCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCopy")
            .field("ranges", &self.ranges.len())
            .field("threads", &self.parts.threads.len())
            .finish()
    }
}

impl ProcessCopy {
    /// What was copied.
    pub fn stats(&self) -> CopyStats {
        CopyStats {
            ranges: self.ranges.len(),
            bytes: self.ranges.values().map(|b| b.len() as u64).sum(),
        }
    }

    /// The file bytes at runtime address `addr` when they lie in a read-only segment of the
    /// executable (the same bytes in the process).
    fn file_bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let bin = self.parts.binary.as_ref()?;
        let link = addr.wrapping_sub(self.parts.bias);
        let seg = bin
            .segments()
            .find(|s| link >= s.addr && link - s.addr < s.mem_size)?;
        if seg.writable {
            return None;
        }
        bin.read_va(link, len)
    }
}

impl Memory for ProcessCopy {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        match read_from(&self.ranges, addr, buf) {
            Ok(()) => Ok(()),
            Err(missing) => {
                if let Some(b) = self.file_bytes(addr, buf.len()) {
                    buf.copy_from_slice(b);
                    return Ok(());
                }
                Err(MemError {
                    addr: missing,
                    kind: MemErrorKind::NotCopied,
                })
            }
        }
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        if let Some((start, bytes)) = find(&self.ranges, addr) {
            let off = (addr - start) as usize;
            return bytes.get(off..off.checked_add(len)?);
        }
        self.file_bytes(addr, len)
    }
}

impl Target for ProcessCopy {
    fn arch(&self) -> TargetArch {
        self.parts.arch
    }

    fn threads(&self) -> &[Thread] {
        &self.parts.threads
    }

    fn executable(&self) -> Option<PathBuf> {
        self.parts.executable.clone()
    }

    fn bias(&self) -> u64 {
        self.parts.bias
    }

    fn stop(&self) -> StopInfo {
        self.parts.stop.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.parts.warnings.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_keeps_ranges_disjoint_and_reads_span_them() {
        let mut r = Ranges::new();
        insert(&mut r, 100, &[1; 10]);
        insert(&mut r, 105, &[2; 10]);
        insert(&mut r, 90, &[3; 40]);
        let mut buf = [0u8; 40];
        read_from(&r, 90, &mut buf).unwrap();
        assert_eq!(&buf[..10], &[3; 10]);
        assert_eq!(&buf[10..20], &[1; 10]);
        assert_eq!(&buf[20..25], &[2; 5]);
        assert_eq!(&buf[25..], &[3; 15]);
        assert_eq!(read_from(&r, 129, &mut [0u8; 2]), Err(130));
    }

    struct Zeros;
    impl Memory for Zeros {
        fn read(&self, _: u64, buf: &mut [u8]) -> MemResult<()> {
            buf.fill(9);
            Ok(())
        }
    }

    #[test]
    fn forget_cuts_ranges_at_both_ends() {
        let b = CopyBuilder::new(&Zeros);
        b.insert(100, &[1; 100]);
        b.forget(120, 10);
        let r = b.lock();
        let mut buf = [0u8; 20];
        read_from(&r, 100, &mut buf).unwrap();
        assert_eq!(read_from(&r, 125, &mut [0u8; 1]), Err(125));
        assert!(read_from(&r, 130, &mut [0u8; 70]).is_ok());
        assert_eq!(read_from(&r, 119, &mut [0u8; 2]), Err(120));
    }
}
