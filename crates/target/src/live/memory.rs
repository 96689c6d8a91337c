//! A live process's memory, read from outside: `process_vm_readv` (many ranges per system call),
//! falling back to `/proc/PID/mem` for what it refuses (pages the process maps without read
//! permission). Small reads go through a page cache, which the owner drops explicitly
//! ([`ProcessMemory::invalidate`]) whenever the process may have run.

use std::collections::HashMap;
use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, OnceLock};

use nix::errno::Errno;
use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

use crate::memory::{MemError, MemErrorKind, MemResult, Memory};

/// Granularity of the page cache.
const PAGE: u64 = 4096;
/// Reads larger than this bypass the cache.
const CACHED_READ_MAX: usize = 2 * PAGE as usize;
/// Batches of at least this many bytes are read by two threads.
const PARALLEL_READ_MIN: usize = 1 << 20;
/// Most iovecs the kernel takes in one call (`IOV_MAX`).
const IOV_MAX: usize = 1024;

/// The memory of a running process.
pub struct ProcessMemory {
    pid: i32,
    mem_file: OnceLock<Option<File>>,
    /// `/proc/PID/mem` opened for writing (a debugger's int3s), once.
    write_file: OnceLock<Result<File, Errno>>,
    cache: Mutex<HashMap<u64, Arc<[u8]>>>,
}

impl std::fmt::Debug for ProcessMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessMemory")
            .field("pid", &self.pid)
            .finish()
    }
}

/// The memory error for an errno from reading process `pid`.
pub(crate) fn mem_error(addr: u64, e: Errno) -> MemError {
    let kind = match e {
        Errno::ESRCH => MemErrorKind::ProcessGone,
        Errno::EPERM | Errno::EACCES => MemErrorKind::PermissionDenied,
        _ => MemErrorKind::Unmapped,
    };
    MemError { addr, kind }
}

impl ProcessMemory {
    /// The memory of process `pid`.
    pub fn new(pid: i32) -> ProcessMemory {
        ProcessMemory {
            pid,
            mem_file: OnceLock::new(),
            write_file: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Drops every cached page: call whenever the process may have run since they were read.
    pub fn invalidate(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Writes `bytes` at `addr` through `/proc/PID/mem`, which writes read-only (code) pages
    /// too, as a tracer may; drops the cached pages it touches.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> MemResult<()> {
        let f = self
            .write_file
            .get_or_init(|| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(format!("/proc/{}/mem", self.pid))
                    .map_err(|e| e.raw_os_error().map_or(Errno::EIO, Errno::from_raw))
            })
            .as_ref()
            .map_err(|&e| mem_error(addr, e))?;
        f.write_all_at(bytes, addr)
            .map_err(|e| mem_error(addr, e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)))?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let first = addr & !(PAGE - 1);
        let mut page = first;
        while page < addr.saturating_add(bytes.len() as u64) {
            cache.remove(&page);
            page += PAGE;
        }
        Ok(())
    }

    fn mem_file(&self) -> Option<&File> {
        self.mem_file
            .get_or_init(|| File::open(format!("/proc/{}/mem", self.pid)).ok())
            .as_ref()
    }

    /// Reads `buf.len()` bytes at `addr` without the cache.
    fn read_uncached(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let remote = [RemoteIoVec {
            base: addr as usize,
            len: buf.len(),
        }];
        let want = buf.len();
        let first = match process_vm_readv(
            Pid::from_raw(self.pid),
            &mut [IoSliceMut::new(buf)],
            &remote,
        ) {
            Ok(n) if n == want => return Ok(()),
            Ok(_) => None,
            Err(e) => Some(e),
        };
        if first == Some(Errno::ESRCH) {
            return Err(mem_error(addr, Errno::ESRCH));
        }
        // /proc/PID/mem reads what process_vm_readv refuses (PROT_NONE pages, guard pages the
        // runtime reads anyway are still refused: those are truly unmapped).
        if let Some(f) = self.mem_file() {
            match f.read_exact_at(buf, addr) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let errno = e.raw_os_error().map_or(Errno::EFAULT, Errno::from_raw);
                    return Err(mem_error(addr, first.unwrap_or(errno)));
                }
            }
        }
        Err(mem_error(addr, first.unwrap_or(Errno::EFAULT)))
    }

    fn read_cached(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let page = a & !(PAGE - 1);
            let off = (a - page) as usize;
            let n = (PAGE as usize - off).min(buf.len() - done);
            let cached = self
                .cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&page)
                .cloned();
            let bytes = match cached {
                Some(b) => b,
                None => {
                    let mut p = vec![0u8; PAGE as usize];
                    if self.read_uncached(page, &mut p).is_err() {
                        // The page is partly unreadable: read just what was asked.
                        return self.read_uncached(a, &mut buf[done..]);
                    }
                    let p: Arc<[u8]> = p.into();
                    self.cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(page, p.clone());
                    p
                }
            };
            buf[done..done + n].copy_from_slice(&bytes[off..off + n]);
            done += n;
        }
        Ok(())
    }
}

impl Memory for ProcessMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        if buf.len() <= CACHED_READ_MAX {
            self.read_cached(addr, buf)
        } else {
            self.read_uncached(addr, buf)
        }
    }

    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> Vec<MemResult<()>> {
        // Large batches are read by two threads at once: copying is most of the cost, and the
        // process being read is usually paused, its cores idle.
        let total: usize = requests.iter().map(|(_, b)| b.len()).sum();
        if total >= PARALLEL_READ_MIN && requests.len() >= 2 {
            let mut half = 0usize;
            let mid = requests
                .iter()
                .position(|(_, b)| {
                    half += b.len();
                    half >= total / 2
                })
                .map_or(requests.len() / 2, |i| (i + 1).min(requests.len() - 1));
            let (a, b) = requests.split_at_mut(mid);
            let (mut ra, rb) = rayon::join(|| self.read_batches(a), || self.read_batches(b));
            ra.extend(rb);
            return ra;
        }
        self.read_batches(requests)
    }
}

impl ProcessMemory {
    /// [`Memory::read_many`] on one thread, `IOV_MAX` ranges per system call.
    fn read_batches(&self, requests: &mut [(u64, &mut [u8])]) -> Vec<MemResult<()>> {
        let mut results: Vec<MemResult<()>> = Vec::with_capacity(requests.len());
        let mut start = 0;
        while start < requests.len() {
            let end = (start + IOV_MAX).min(requests.len());
            let remote: Vec<RemoteIoVec> = requests[start..end]
                .iter()
                .map(|(a, b)| RemoteIoVec {
                    base: *a as usize,
                    len: b.len(),
                })
                .collect();
            let total: usize = remote.iter().map(|r| r.len).sum();
            let mut local: Vec<IoSliceMut<'_>> = requests[start..end]
                .iter_mut()
                .map(|(_, b)| IoSliceMut::new(b))
                .collect();
            let got = process_vm_readv(Pid::from_raw(self.pid), &mut local, &remote);
            drop(local);
            let got = match got {
                Ok(n) => n,
                Err(Errno::ESRCH) => {
                    results.extend(
                        requests[start..]
                            .iter()
                            .map(|(a, _)| Err(mem_error(*a, Errno::ESRCH))),
                    );
                    return results;
                }
                Err(_) => 0,
            };
            if got == total {
                results.extend((start..end).map(|_| Ok(())));
                start = end;
                continue;
            }
            // The transfer stopped inside some request: those before it are complete; read
            // that one alone (with the fallback) and go on after it.
            let mut acc = 0usize;
            let mut i = start;
            while i < end && acc + requests[i].1.len() <= got {
                acc += requests[i].1.len();
                results.push(Ok(()));
                i += 1;
            }
            if i < end {
                let (a, b) = &mut requests[i];
                results.push(self.read_uncached(*a, b));
                i += 1;
            }
            start = i;
        }
        results
    }
}
