//! A core file as target memory: the dumped segments, and for what the kernel did not dump
//! (clean text, read-only data, pclntab) the executable's own file bytes at the load bias.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use goscope_binary::Binary;
use goscope_binary::bytes::{Access, Bytes};

use crate::elfcore::{self, AT_ENTRY, AT_EXECFN, CoreLayout, Segment};
use crate::error::CoreError;
use crate::memory::{MemError, MemErrorKind, MemResult, Memory};
use crate::target::{StopInfo, Target};
use crate::thread::{TargetArch, Thread};

/// An opened core dump, optionally joined with the executable that produced it.
pub struct CoreFile {
    bytes: Bytes,
    layout: CoreLayout,
    bin: Option<Arc<Binary>>,
    bias: u64,
    warnings: Vec<String>,
}

impl std::fmt::Debug for CoreFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreFile")
            .field("arch", &self.layout.arch)
            .field("threads", &self.layout.threads.len())
            .field("segments", &self.layout.segments.len())
            .finish()
    }
}

impl CoreFile {
    /// Memory-maps and parses the core at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<CoreFile, CoreError> {
        let path = path.as_ref();
        let io = |source| CoreError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.is_dir() {
            return Err(io(std::io::Error::other("is a directory")));
        }
        CoreFile::from_bytes_inner(Bytes::map_for(&file, Access::Random).map_err(io)?)
    }

    /// Parses a core already in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<CoreFile, CoreError> {
        CoreFile::from_bytes_inner(Bytes::Owned(data))
    }

    fn from_bytes_inner(bytes: Bytes) -> Result<CoreFile, CoreError> {
        let layout = elfcore::parse(&bytes)?;
        Ok(CoreFile {
            bytes,
            layout,
            bin: None,
            bias: 0,
            warnings: Vec::new(),
        })
    }

    /// Joins the executable: memory the core lacks is read from it, shifted by the load bias
    /// (`AT_ENTRY` minus the file's entry point). Checks that the two belong together.
    pub fn attach_binary(&mut self, bin: Arc<Binary>) {
        self.bias = self
            .layout
            .auxv(AT_ENTRY)
            .map_or(0, |e| e.wrapping_sub(bin.entry()));
        if let Some(problem) = self.mismatch(&bin) {
            self.warnings.push(problem);
        }
        self.bin = Some(bin);
    }

    /// Why `bin` is not the executable of this core, if the core can tell: the kernel dumps the
    /// first page of every ELF mapping, so the executable's ELF header is in the core.
    fn mismatch(&self, bin: &Binary) -> Option<String> {
        let exe = self.exe_mapping()?;
        let seg = self.segment(exe.start)?;
        let off = exe.start - seg.vaddr;
        let n = seg.present.saturating_sub(off).min(4096) as usize;
        if n < 64 {
            return None;
        }
        let start = usize::try_from(seg.offset.checked_add(off)?).ok()?;
        let dumped = self.bytes.get(start..start.checked_add(n)?)?;
        let file = bin.data().get(..n)?;
        if dumped != file {
            return Some(format!(
                "the executable does not match the core: its first {n} bytes differ from the \
                 ELF header the core holds for {}; goroutines and stacks will be wrong",
                exe.path
            ));
        }
        None
    }

    /// The `NT_FILE` mapping of the executable: the one holding `AT_ENTRY`, then its first page.
    fn exe_mapping(&self) -> Option<&elfcore::MappedFile> {
        let entry = self.layout.auxv(AT_ENTRY)?;
        let path = &self
            .layout
            .files
            .iter()
            .find(|f| f.start <= entry && entry < f.end)?
            .path;
        self.layout
            .files
            .iter()
            .filter(|f| &f.path == path)
            .min_by_key(|f| (f.offset, f.start))
    }

    /// The path of the executable as the process saw it: the file mapped at the entry point
    /// (`NT_FILE`), else the `AT_EXECFN` string.
    pub fn exe_path(&self) -> Option<PathBuf> {
        if let Some(m) = self.exe_mapping() {
            return Some(PathBuf::from(&m.path));
        }
        let addr = self.layout.auxv(AT_EXECFN)?;
        let mut name = Vec::new();
        for i in 0..4096u64 {
            let b = self.read_u8(addr + i).ok()?;
            if b == 0 {
                break;
            }
            name.push(b);
        }
        (!name.is_empty()).then(|| PathBuf::from(String::from_utf8_lossy(&name).into_owned()))
    }

    /// Headers, threads, mappings and signal.
    pub fn layout(&self) -> &CoreLayout {
        &self.layout
    }

    /// The executable, once attached.
    pub fn binary(&self) -> Option<&Arc<Binary>> {
        self.bin.as_ref()
    }

    /// The load bias of the executable (0 unless PIE).
    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// Everything damaged or inconsistent, for the user.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.layout.warnings.clone();
        w.extend(self.warnings.iter().cloned());
        w
    }

    fn segment(&self, addr: u64) -> Option<&Segment> {
        let segs = &self.layout.segments;
        let i = segs.partition_point(|s| s.vaddr <= addr);
        let s = segs.get(i.checked_sub(1)?)?;
        (addr < s.end()).then_some(s)
    }

    /// Bytes available at `addr` from one backing store, and how many.
    fn chunk(&self, addr: u64, want: usize) -> MemResult<&[u8]> {
        let missing = MemError {
            addr,
            kind: MemErrorKind::Missing,
        };
        let from_binary = |limit: u64| -> Option<&[u8]> {
            let bin = self.bin.as_ref()?;
            let rest = bin.read_va_rest(addr.wrapping_sub(self.bias))?;
            let n = (rest.len() as u64).min(limit).min(want as u64) as usize;
            (n > 0).then(|| &rest[..n])
        };
        match self.segment(addr) {
            Some(s) => {
                let off = addr - s.vaddr;
                if off < s.present {
                    let n = (s.present - off).min(want as u64) as usize;
                    let start = usize::try_from(s.offset.checked_add(off).ok_or(missing)?)
                        .map_err(|_| missing)?;
                    return self
                        .bytes
                        .get(start..start.checked_add(n).ok_or(missing)?)
                        .ok_or(missing);
                }
                if off < s.filesz {
                    // Dumped, but cut off by truncation.
                    return Err(missing);
                }
                // Not dumped: file-backed, clean.
                from_binary(s.end().saturating_sub(addr)).ok_or(missing)
            }
            None => from_binary(u64::MAX).ok_or(MemError {
                addr,
                kind: MemErrorKind::Unmapped,
            }),
        }
    }
}

impl Memory for CoreFile {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.checked_add(done as u64).ok_or(MemError {
                addr,
                kind: MemErrorKind::Unmapped,
            })?;
            let c = self.chunk(a, buf.len() - done)?;
            buf[done..done + c.len()].copy_from_slice(c);
            done += c.len();
        }
        Ok(())
    }

    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let c = self.chunk(addr, len).ok()?;
        (c.len() == len).then_some(c)
    }

    fn ptr_size(&self) -> u8 {
        8
    }

    fn release(&self) {
        self.bytes.release();
    }
}

impl Target for CoreFile {
    fn arch(&self) -> TargetArch {
        self.layout.arch
    }

    fn threads(&self) -> &[Thread] {
        &self.layout.threads
    }

    fn executable(&self) -> Option<PathBuf> {
        self.exe_path()
    }

    fn bias(&self) -> u64 {
        self.bias
    }

    fn stop(&self) -> StopInfo {
        StopInfo {
            pid: self.layout.process.as_ref().map(|p| p.pid),
            signal: self.layout.siginfo,
            live: false,
            monotonic_ns: None,
        }
    }

    fn warnings(&self) -> Vec<String> {
        CoreFile::warnings(self)
    }
}
