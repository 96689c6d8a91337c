//! One memory abstraction for every target: the executable's static data, a core dump, a live
//! process. Readers of runtime structures are written once against [`Memory`].

use std::fmt;

use goscope_binary::Binary;

/// Why bytes could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemErrorKind {
    /// No mapping of the target covers the address.
    Unmapped,
    /// The address was mapped, but its bytes are not in the dump (truncated core, or a mapping
    /// the kernel did not dump and no file on disk supplies).
    Missing,
    /// The bytes were not copied while the live process was paused (the copy holds only what
    /// the analysis needed then).
    NotCopied,
    /// The live process has exited.
    ProcessGone,
    /// The operating system refused the read (ptrace access mode).
    PermissionDenied,
}

/// A failed read: which bytes, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct MemError {
    /// First byte that could not be read.
    pub addr: u64,
    /// What was wrong.
    pub kind: MemErrorKind,
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            MemErrorKind::Unmapped => write!(f, "address {:#x} is not mapped", self.addr),
            MemErrorKind::Missing => write!(
                f,
                "memory at {:#x} is not in the core (truncated or not dumped)",
                self.addr
            ),
            MemErrorKind::NotCopied => write!(
                f,
                "memory at {:#x} was not copied while the process was paused",
                self.addr
            ),
            MemErrorKind::ProcessGone => {
                write!(f, "the process exited (reading {:#x})", self.addr)
            }
            MemErrorKind::PermissionDenied => write!(
                f,
                "permission denied reading the process's memory at {:#x}",
                self.addr
            ),
        }
    }
}

/// Result of a memory read.
pub type MemResult<T> = Result<T, MemError>;

/// Readable target memory. Implementations must be cheap to call: readers walk hundreds of
/// thousands of goroutines through it.
pub trait Memory: Send + Sync {
    /// Fills `buf` with the bytes at `addr`; fails if any of them is unavailable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()>;

    /// The bytes at `addr..addr+len` without copying, when they are contiguous in one backing
    /// store. `None` does not mean unreadable: fall back to [`Memory::read`].
    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let _ = (addr, len);
        None
    }

    /// Pointer size of the target in bytes.
    fn ptr_size(&self) -> u8 {
        8
    }

    /// Reads many ranges at once; one result per request, in order. Live processes read them in
    /// a few system calls instead of one per range.
    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> Vec<MemResult<()>> {
        requests
            .iter_mut()
            .map(|(addr, buf)| self.read(*addr, buf))
            .collect()
    }

    /// A hint that what was read so far is not needed again soon: implementations may drop
    /// cached or mapped pages (a walk over 100,000 goroutines touches most of a core).
    fn release(&self) {}

    /// A little-endian `u8`.
    fn read_u8(&self, addr: u64) -> MemResult<u8> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// A little-endian `u16`.
    fn read_u16(&self, addr: u64) -> MemResult<u16> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// A little-endian `u32`.
    fn read_u32(&self, addr: u64) -> MemResult<u32> {
        if let Some(s) = self.slice(addr, 4)
            && let Ok(a) = <[u8; 4]>::try_from(s)
        {
            return Ok(u32::from_le_bytes(a));
        }
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A little-endian `u64`.
    fn read_u64(&self, addr: u64) -> MemResult<u64> {
        if let Some(s) = self.slice(addr, 8)
            && let Ok(a) = <[u8; 8]>::try_from(s)
        {
            return Ok(u64::from_le_bytes(a));
        }
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A pointer-sized word.
    fn read_ptr(&self, addr: u64) -> MemResult<u64> {
        if self.ptr_size() == 4 {
            self.read_u32(addr).map(u64::from)
        } else {
            self.read_u64(addr)
        }
    }

    /// `len` bytes, copied. `len` must already be bounded by the caller.
    fn read_vec(&self, addr: u64, len: usize) -> MemResult<Vec<u8>> {
        if let Some(s) = self.slice(addr, len) {
            return Ok(s.to_vec());
        }
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    /// A Go string header (`{ptr, len}`) at `addr`, decoded lossily; strings longer than `max`
    /// bytes are cut to `max`.
    fn read_go_string(&self, addr: u64, max: usize) -> MemResult<String> {
        let ps = u64::from(self.ptr_size());
        let ptr = self.read_ptr(addr)?;
        let len = self.read_ptr(addr + ps)?;
        self.read_string_at(ptr, len, max)
    }

    /// The `len` bytes at `ptr` as a string (lossy UTF-8), cut to `max` bytes.
    fn read_string_at(&self, ptr: u64, len: u64, max: usize) -> MemResult<String> {
        let n = usize::try_from(len).unwrap_or(usize::MAX).min(max);
        if n == 0 {
            return Ok(String::new());
        }
        let v = self.read_vec(ptr, n)?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }
}

/// The executable's own file-backed memory: text, read-only data and initialized data as the
/// file holds them, shifted by `bias` (the PIE load address).
pub struct FileMemory<'a> {
    bin: &'a Binary,
    bias: u64,
}

impl<'a> FileMemory<'a> {
    /// Memory of `bin` loaded at `bias` (0 for position-dependent executables).
    pub fn new(bin: &'a Binary, bias: u64) -> FileMemory<'a> {
        FileMemory { bin, bias }
    }
}

impl Memory for FileMemory<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        let s = self.slice(addr, buf.len()).ok_or(MemError {
            addr,
            kind: if self.bin.is_mapped(addr.wrapping_sub(self.bias)) {
                MemErrorKind::Missing
            } else {
                MemErrorKind::Unmapped
            },
        })?;
        buf.copy_from_slice(s);
        Ok(())
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.bin.read_va(addr.wrapping_sub(self.bias), len)
    }

    fn ptr_size(&self) -> u8 {
        self.bin.ptr_size()
    }
}
