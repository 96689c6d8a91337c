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
use rayon::prelude::*;

use crate::memory::{MemError, MemErrorKind, MemResult, Memory};
use crate::target::{StopInfo, Target};
use crate::thread::{TargetArch, Thread};

/// Where one copied range's bytes are: a slice of one of the store's buffers.
#[derive(Debug, Clone, Copy)]
struct Slot {
    buffer: usize,
    offset: usize,
    len: usize,
}

/// Copied ranges keyed by start address (they never overlap), their bytes kept in a few large
/// buffers: a bulk copy of thousands of ranges is one buffer, filled in place.
#[derive(Default)]
struct Store {
    buffers: Vec<Box<[u8]>>,
    ranges: BTreeMap<u64, Slot>,
    /// A buffer allocated and touched in advance (see [`CopyBuilder::reserve`]), and how much
    /// of it is used.
    spare: Option<(usize, usize)>,
}

impl Store {
    fn bytes(&self, slot: Slot) -> &[u8] {
        &self.buffers[slot.buffer][slot.offset..slot.offset + slot.len]
    }

    /// The range holding `addr`, as `(start, bytes)`.
    fn find(&self, addr: u64) -> Option<(u64, &[u8])> {
        let (&start, &slot) = self.ranges.range(..=addr).next_back()?;
        (addr - start < slot.len as u64).then(|| (start, self.bytes(slot)))
    }

    /// Serves `buf`; `Err(first missing address)` if some byte is not there.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), u64> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let (start, bytes) = self.find(a).ok_or(a)?;
            let off = (a - start) as usize;
            let n = (bytes.len() - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[off..off + n]);
            done += n;
        }
        Ok(())
    }

    /// Records `[addr, addr+slot.len)` as held by `slot`, cut to the parts not already copied.
    fn insert_slot(&mut self, addr: u64, slot: Slot) {
        let end = addr.saturating_add(slot.len as u64);
        let mut a = addr;
        while a < end {
            if let Some((start, have)) = self.find(a) {
                a = start + have.len() as u64;
                continue;
            }
            let next = self.ranges.range(a..end).next().map_or(end, |(&s, _)| s);
            let skip = (a - addr) as usize;
            self.ranges.insert(
                a,
                Slot {
                    buffer: slot.buffer,
                    offset: slot.offset + skip,
                    len: (next - a) as usize,
                },
            );
            a = next;
        }
    }

    /// Keeps a copy of `bytes` as the contents at `addr` (bytes already copied there win).
    fn insert(&mut self, addr: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.buffers.push(bytes.into());
        let slot = Slot {
            buffer: self.buffers.len() - 1,
            offset: 0,
            len: bytes.len(),
        };
        self.insert_slot(addr, slot);
    }

    /// Drops what was copied of `[addr, addr+len)`.
    fn forget(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len);
        let first = self
            .ranges
            .range(..=addr)
            .next_back()
            .map_or(addr, |(&s, _)| s);
        let hit: Vec<u64> = self.ranges.range(first..end).map(|(&s, _)| s).collect();
        for s in hit {
            let Some(slot) = self.ranges.remove(&s) else {
                continue;
            };
            let e = s + slot.len as u64;
            if e <= addr {
                self.ranges.insert(s, slot);
                continue;
            }
            if s < addr {
                let len = (addr - s) as usize;
                self.ranges.insert(s, Slot { len, ..slot });
            }
            if e > end {
                let cut = (end - s) as usize;
                self.ranges.insert(
                    end,
                    Slot {
                        buffer: slot.buffer,
                        offset: slot.offset + cut,
                        len: slot.len - cut,
                    },
                );
            }
        }
    }

    fn stats(&self) -> CopyStats {
        CopyStats {
            ranges: self.ranges.len(),
            bytes: self.ranges.values().map(|s| s.len as u64).sum(),
        }
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
    store: Mutex<Store>,
}

impl<'m> CopyBuilder<'m> {
    /// A copy of `live`, empty so far.
    pub fn new(live: &'m dyn Memory) -> CopyBuilder<'m> {
        CopyBuilder {
            live,
            store: Mutex::new(Store::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies every range of `wanted` (`(address, length)`) in a few batched reads into one
    /// buffer. Ranges less than `gap` bytes apart are read as one, gap included: neighbours
    /// (goroutines allocated one after the other) then take one read, which costs less than
    /// two. Returns the ranges that could not be read.
    pub fn prefetch(&self, wanted: &mut Vec<(u64, u64)>, gap: u64) -> Vec<(u64, MemError)> {
        self.prefetch_map(wanted, gap, true, |_, _| ()).1
    }

    /// [`CopyBuilder::prefetch`], then `each(address, bytes)` for every wanted range (`None`
    /// if unreadable), in parallel; the results come back in address order. With `keep` false
    /// the bytes are only shown to `each`, not kept. `each` must not read through this builder.
    pub fn prefetch_map<T: Send>(
        &self,
        wanted: &mut Vec<(u64, u64)>,
        gap: u64,
        keep: bool,
        each: impl Fn(u64, Option<&[u8]>) -> T + Sync,
    ) -> (Vec<T>, Vec<(u64, MemError)>) {
        wanted.retain(|&(_, len)| len > 0);
        wanted.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(wanted.len());
        for &(a, len) in wanted.iter() {
            let end = a.saturating_add(len);
            match merged.last_mut() {
                Some((_, e)) if a <= e.saturating_add(gap) => *e = (*e).max(end),
                _ => merged.push((a, end)),
            }
        }
        let total: u64 = merged.iter().map(|(s, e)| e - s).sum();
        let not_copied = |s: u64| {
            (
                s,
                MemError {
                    addr: s,
                    kind: MemErrorKind::NotCopied,
                },
            )
        };
        let Ok(total) = usize::try_from(total) else {
            let failed = merged.iter().map(|&(s, _)| not_copied(s)).collect();
            return (Vec::new(), failed);
        };
        let mut store = self.lock();
        let mut scratch = Vec::new();
        let (id, base) = match store.spare {
            _ if !keep => (usize::MAX, 0),
            Some((id, used)) if store.buffers[id].len() - used >= total => {
                store.spare = Some((id, used + total));
                (id, used)
            }
            _ => {
                store.buffers.push(vec![0u8; total].into_boxed_slice());
                (store.buffers.len() - 1, 0)
            }
        };
        let buffer: &mut [u8] = if keep {
            &mut store.buffers[id][base..base + total]
        } else {
            scratch.resize(total, 0);
            &mut scratch
        };
        let results = {
            let mut reqs: Vec<(u64, &mut [u8])> = Vec::with_capacity(merged.len());
            let mut rest: &mut [u8] = buffer;
            for &(s, e) in &merged {
                let (head, tail) = rest.split_at_mut((e - s) as usize);
                reqs.push((s, head));
                rest = tail;
            }
            self.live.read_many(&mut reqs)
        };
        // Every wanted range in its merged range: where its bytes are, for `each`.
        let bytes: &[u8] = if keep {
            &store.buffers[id][base..base + total]
        } else {
            &scratch
        };
        let mut places: Vec<(u64, Option<(usize, usize)>)> = Vec::with_capacity(wanted.len());
        let mut offset = 0usize;
        let mut w = 0usize;
        for (&(s, e), r) in merged.iter().zip(&results) {
            while let Some(&(a, len)) = wanted.get(w) {
                if a >= e {
                    break;
                }
                let lo = offset + (a - s) as usize;
                let hi = lo + (len.min(e - a)) as usize;
                places.push((a, r.is_ok().then_some((lo, hi))));
                w += 1;
            }
            offset += (e - s) as usize;
        }
        let mapped: Vec<T> = places
            .par_iter()
            .with_min_len(1024)
            .map(|&(a, at)| each(a, at.map(|(lo, hi)| &bytes[lo..hi])))
            .collect();
        let mut failed = Vec::new();
        let mut offset = base;
        for (&(s, e), r) in merged.iter().zip(results) {
            let len = (e - s) as usize;
            match r {
                Ok(()) if keep => store.insert_slot(
                    s,
                    Slot {
                        buffer: id,
                        offset,
                        len,
                    },
                ),
                Ok(()) => {}
                Err(err) => failed.push((s, err)),
            }
            offset += len;
        }
        (mapped, failed)
    }

    /// Keeps `bytes` as the contents at `addr` (bytes already copied there win).
    pub fn insert(&self, addr: u64, bytes: &[u8]) {
        self.lock().insert(addr, bytes);
    }

    /// Allocates (and touches) `bytes` of buffer now, for the bulk copies to come: a page
    /// fault costs microseconds, which must not be spent while the process is paused.
    pub fn reserve(&self, bytes: usize) {
        let mut buffer = vec![0u8; bytes].into_boxed_slice();
        for i in (0..buffer.len()).step_by(4096) {
            buffer[i] = 1;
        }
        let mut store = self.lock();
        store.buffers.push(buffer);
        store.spare = Some((store.buffers.len() - 1, 0));
    }

    /// The bytes at `addr`, if they were copied (no read-through).
    pub fn copied(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.lock().read(addr, buf).is_ok()
    }

    /// Drops what was copied of `[addr, addr+len)`, so that it can be copied again.
    pub fn forget(&self, addr: u64, len: u64) {
        self.lock().forget(addr, len);
    }

    /// What was copied so far.
    pub fn stats(&self) -> CopyStats {
        self.lock().stats()
    }

    /// The finished copy, with the executable (its read-only segments stand in for memory not
    /// copied), threads and stop information.
    pub fn finish(self, parts: CopyParts) -> ProcessCopy {
        ProcessCopy {
            store: self.store.into_inner().unwrap_or_else(|e| e.into_inner()),
            base: None,
            parts,
        }
    }

    /// The finished copy, laid over `base`, an earlier copy: what this one lacks is read from
    /// `base`. The caller vouches that `base` holds nothing that changed in between (a copy
    /// taken while the process ran, of which everything that may have changed was copied
    /// again here).
    pub fn finish_over(self, base: CopyBuilder<'_>, parts: CopyParts) -> ProcessCopy {
        ProcessCopy {
            store: self.store.into_inner().unwrap_or_else(|e| e.into_inner()),
            base: Some(base.store.into_inner().unwrap_or_else(|e| e.into_inner())),
            parts,
        }
    }
}

impl Memory for CopyBuilder<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        if self.lock().read(addr, buf).is_ok() {
            return Ok(());
        }
        self.live.read(addr, buf)?;
        self.lock().insert(addr, buf);
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
    store: Store,
    base: Option<Store>,
    parts: CopyParts,
}

impl std::fmt::Debug for ProcessCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCopy")
            .field("ranges", &self.store.ranges.len())
            .field("threads", &self.parts.threads.len())
            .finish()
    }
}

impl ProcessCopy {
    /// What was copied (while paused, and before, if the copy was taken in two steps).
    pub fn stats(&self) -> CopyStats {
        let mut st = self.store.stats();
        if let Some(b) = &self.base {
            let b = b.stats();
            st.ranges += b.ranges;
            st.bytes += b.bytes;
        }
        st
    }

    /// Serves `buf` from the copy, then the base copy, byte range by byte range.
    fn layered_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), u64> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let (start, bytes) = self
                .store
                .find(a)
                .or_else(|| self.base.as_ref()?.find(a))
                .ok_or(a)?;
            let off = (a - start) as usize;
            let n = (bytes.len() - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[off..off + n]);
            done += n;
        }
        Ok(())
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
        match self.layered_read(addr, buf) {
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
        for store in std::iter::once(&self.store).chain(self.base.as_ref()) {
            if let Some((start, bytes)) = store.find(addr) {
                let off = (addr - start) as usize;
                return bytes.get(off..off.checked_add(len)?);
            }
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
        let mut r = Store::default();
        r.insert(100, &[1; 10]);
        r.insert(105, &[2; 10]);
        r.insert(90, &[3; 40]);
        let mut buf = [0u8; 40];
        r.read(90, &mut buf).unwrap();
        assert_eq!(&buf[..10], &[3; 10]);
        assert_eq!(&buf[10..20], &[1; 10]);
        assert_eq!(&buf[20..25], &[2; 5]);
        assert_eq!(&buf[25..], &[3; 15]);
        assert_eq!(r.read(129, &mut [0u8; 2]), Err(130));
    }

    struct Pattern;
    impl Memory for Pattern {
        fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (addr as usize + i) as u8;
            }
            Ok(())
        }
    }

    #[test]
    fn forget_cuts_ranges_at_both_ends() {
        let b = CopyBuilder::new(&Pattern);
        b.insert(100, &[1; 100]);
        b.forget(120, 10);
        let r = b.lock();
        r.read(100, &mut [0u8; 20]).unwrap();
        assert_eq!(r.read(125, &mut [0u8; 1]), Err(125));
        assert!(r.read(130, &mut [0u8; 70]).is_ok());
        assert_eq!(r.read(119, &mut [0u8; 2]), Err(120));
    }

    #[test]
    fn prefetch_merges_neighbours_and_serves_every_byte() {
        let b = CopyBuilder::new(&Pattern);
        let failed = b.prefetch(&mut vec![(1000, 10), (1020, 5), (5000, 3), (1005, 2)], 16);
        assert!(failed.is_empty());
        assert_eq!(b.stats().ranges, 2);
        let r = b.lock();
        let mut buf = [0u8; 25];
        r.read(1000, &mut buf).unwrap();
        assert!(buf.iter().enumerate().all(|(i, &x)| x == (1000 + i) as u8));
        assert_eq!(r.read(5003, &mut [0u8; 1]), Err(5003));
    }

    #[test]
    fn prefetch_map_shows_each_wanted_range() {
        let b = CopyBuilder::new(&Pattern);
        let (seen, _) = b.prefetch_map(
            &mut vec![(2000, 4), (1000, 10), (1004, 10)],
            0,
            false,
            |a, bytes| (a, bytes.map(<[u8]>::to_vec)),
        );
        assert_eq!(b.stats().ranges, 0);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].0, 1004);
        let want: Vec<u8> = (1004..1014).map(|x| x as u8).collect();
        assert_eq!(seen[1].1.as_deref(), Some(&want[..]));
    }
}
