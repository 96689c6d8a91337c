//! Writing ELF core files — what `goscope snapshot` leaves for later: the memory a core needs
//! (what the kernel's default `coredump_filter` would dump: private and anonymous memory, the
//! ELF header page of every mapped executable and library), one `NT_PRSTATUS` per thread,
//! `NT_PRPSINFO`, `NT_AUXV` and `NT_FILE`, in the layout the kernel writes, so that gdb,
//! `dlv core` and `goscope core` read it. Pages of zeros become holes in the file, as the
//! kernel leaves them.
//!
//! The file is written under a temporary name in the same directory, created with mode 0600
//! (a core holds whatever secrets the process had in memory), and renamed into place only when
//! complete: an error or an interruption removes it.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::elfcore::{NT_AUXV, NT_FILE, NT_PRPSINFO, NT_PRSTATUS};
use crate::memory::Memory;
use crate::thread::{TargetArch, Thread};

const PAGE: u64 = 4096;
/// Memory is copied in pieces of this size.
const CHUNK: usize = 1 << 20;

/// How much of a mapping goes into the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dump {
    /// All of it.
    All,
    /// Its first page (the ELF header of a mapped executable or library).
    FirstPage,
    /// None: listed with its size only.
    Nothing,
}

/// One mapping of the process.
#[derive(Debug, Clone, Serialize)]
pub struct CoreSegment {
    /// Start address (page aligned).
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// How much of it is dumped.
    pub dump: Dump,
}

/// A file mapping, for `NT_FILE`.
#[derive(Debug, Clone, Serialize)]
pub struct CoreFileMapping {
    /// Start address.
    pub start: u64,
    /// End address.
    pub end: u64,
    /// Offset in the file, in bytes.
    pub offset: u64,
    /// The file's path.
    pub path: String,
}

/// Who the process is, for `NT_PRPSINFO` and `NT_PRSTATUS`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CoreProcess {
    /// Process id.
    pub pid: i32,
    /// Parent.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session.
    pub sid: i32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// State letter (`S`, `R`, …).
    pub state: u8,
    /// Command name (15 bytes are kept).
    pub fname: String,
    /// Command line, arguments separated by spaces (79 bytes are kept).
    pub args: String,
}

/// Everything a core file holds besides memory.
#[derive(Debug, Clone)]
pub struct CoreSpec {
    /// The machine.
    pub arch: TargetArch,
    /// Threads with registers; the first is reported first.
    pub threads: Vec<Thread>,
    /// The process.
    pub process: CoreProcess,
    /// The raw auxiliary vector (`/proc/PID/auxv`).
    pub auxv: Vec<u8>,
    /// File mappings.
    pub files: Vec<CoreFileMapping>,
    /// Every mapping, sorted by address.
    pub segments: Vec<CoreSegment>,
}

/// What was written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CoreStats {
    /// Size of the file (holes included).
    pub file_size: u64,
    /// Bytes of memory written (zero pages excluded).
    pub memory_bytes: u64,
    /// `PT_LOAD` segments.
    pub segments: usize,
    /// Threads.
    pub threads: usize,
    /// Ranges that could not be read: written as zeros.
    pub unreadable: Vec<(u64, u64)>,
}

fn note(out: &mut Vec<u8>, name: &str, kind: u32, desc: &[u8]) {
    let namesz = name.len() as u32 + 1;
    out.extend_from_slice(&namesz.to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out.extend_from_slice(desc);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn put(buf: &mut [u8], off: usize, v: &[u8]) {
    buf[off..off + v.len()].copy_from_slice(v);
}

/// `elf_prstatus` of one thread: `pr_cursig` at 12, `pr_pid` at 32, `pr_ppid`, `pr_pgrp`,
/// `pr_sid`, then `pr_reg` at 112 and `pr_fpvalid` after it.
fn prstatus(t: &Thread, p: &CoreProcess) -> Vec<u8> {
    let regs: Vec<u64> = t.regs.iter().map(|(_, v)| v).collect();
    let mut d = vec![0u8; 112 + 8 * regs.len() + 8];
    put(&mut d, 12, &t.signal.to_le_bytes());
    put(&mut d, 32, &(t.tid as i32).to_le_bytes());
    put(&mut d, 36, &p.ppid.to_le_bytes());
    put(&mut d, 40, &p.pgrp.to_le_bytes());
    put(&mut d, 44, &p.sid.to_le_bytes());
    for (i, r) in regs.iter().enumerate() {
        put(&mut d, 112 + 8 * i, &r.to_le_bytes());
    }
    d
}

/// `elf_prpsinfo` (64-bit): state at 0, `pr_sname` at 1, uid/gid at 16/20, pid at 24,
/// `pr_fname[16]` at 40, `pr_psargs[80]` at 56.
fn prpsinfo(p: &CoreProcess) -> Vec<u8> {
    let mut d = vec![0u8; 136];
    let state = match p.state {
        b'R' => 0u8,
        b'S' => 1,
        b'D' => 2,
        b'T' | b't' => 3,
        b'Z' => 4,
        _ => 1,
    };
    d[0] = state;
    d[1] = if p.state == 0 { b'S' } else { p.state };
    put(&mut d, 16, &p.uid.to_le_bytes());
    put(&mut d, 20, &p.gid.to_le_bytes());
    put(&mut d, 24, &p.pid.to_le_bytes());
    put(&mut d, 28, &p.ppid.to_le_bytes());
    put(&mut d, 32, &p.pgrp.to_le_bytes());
    put(&mut d, 36, &p.sid.to_le_bytes());
    let fname = p.fname.as_bytes();
    let n = fname.len().min(15);
    put(&mut d, 40, &fname[..n]);
    let args = p.args.as_bytes();
    let n = args.len().min(79);
    put(&mut d, 56, &args[..n]);
    d
}

/// `NT_FILE`: count, page size, `{start, end, offset in pages}` each, then the paths.
fn nt_file(files: &[CoreFileMapping]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&(files.len() as u64).to_le_bytes());
    d.extend_from_slice(&PAGE.to_le_bytes());
    for f in files {
        for v in [f.start, f.end, f.offset / PAGE] {
            d.extend_from_slice(&v.to_le_bytes());
        }
    }
    for f in files {
        d.extend_from_slice(f.path.as_bytes());
        d.push(0);
    }
    d
}

impl CoreSegment {
    fn dumped(&self) -> u64 {
        match self.dump {
            Dump::All => self.end - self.start,
            Dump::FirstPage => PAGE.min(self.end - self.start),
            Dump::Nothing => 0,
        }
    }
}

/// Which pages of `[addr, addr + pages × 4096)` hold data; `None` when unknown (then every
/// page is read). A live process answers from `/proc/PID/pagemap`: pages never touched read as
/// zeros and need not be read at all.
pub type Resident<'a> = &'a mut dyn FnMut(u64, usize) -> Option<Vec<bool>>;

/// Writes the core described by `spec`, its memory read from `mem`, to `out`. `keep_going` is
/// asked between pieces of memory; when it says no, writing stops with an error.
pub fn write_core(
    spec: &CoreSpec,
    mem: &dyn Memory,
    resident: Resident<'_>,
    out: &mut File,
    keep_going: &mut dyn FnMut() -> std::io::Result<()>,
) -> std::io::Result<CoreStats> {
    let mut notes = Vec::new();
    for (i, t) in spec.threads.iter().enumerate() {
        note(&mut notes, "CORE", NT_PRSTATUS, &prstatus(t, &spec.process));
        if i == 0 {
            note(&mut notes, "CORE", NT_PRPSINFO, &prpsinfo(&spec.process));
            note(&mut notes, "CORE", NT_AUXV, &spec.auxv);
            note(&mut notes, "CORE", NT_FILE, &nt_file(&spec.files));
        }
    }
    let phnum = 1 + spec.segments.len();
    // More than 65534 program headers: e_phnum says PN_XNUM and section header 0 the count.
    let xnum = phnum >= 0xffff;
    let phoff = 64u64;
    let shoff = phoff + 56 * phnum as u64;
    let notes_off = shoff + if xnum { 64 } else { 0 };
    let mut data_off = (notes_off + notes.len() as u64).next_multiple_of(PAGE);

    let mut head = vec![0u8; 64];
    head[..4].copy_from_slice(b"\x7fELF");
    head[4] = 2; // ELFCLASS64
    head[5] = 1; // little-endian
    head[6] = 1; // EV_CURRENT
    put(&mut head, 16, &4u16.to_le_bytes()); // ET_CORE
    let machine: u16 = match spec.arch {
        TargetArch::Amd64 => 62,
        TargetArch::Arm64 => 183,
    };
    put(&mut head, 18, &machine.to_le_bytes());
    put(&mut head, 20, &1u32.to_le_bytes());
    put(&mut head, 32, &phoff.to_le_bytes());
    put(&mut head, 40, &(if xnum { shoff } else { 0 }).to_le_bytes());
    put(&mut head, 52, &64u16.to_le_bytes()); // e_ehsize
    put(&mut head, 54, &56u16.to_le_bytes()); // e_phentsize
    put(
        &mut head,
        56,
        &(if xnum { 0xffff } else { phnum as u16 }).to_le_bytes(),
    );
    put(&mut head, 58, &64u16.to_le_bytes()); // e_shentsize
    put(&mut head, 60, &(if xnum { 1u16 } else { 0 }).to_le_bytes()); // e_shnum

    let mut phdrs = Vec::with_capacity(56 * phnum);
    let mut ph =
        |kind: u32, flags: u32, off: u64, vaddr: u64, filesz: u64, memsz: u64, align: u64| {
            let mut p = [0u8; 56];
            put(&mut p, 0, &kind.to_le_bytes());
            put(&mut p, 4, &flags.to_le_bytes());
            put(&mut p, 8, &off.to_le_bytes());
            put(&mut p, 16, &vaddr.to_le_bytes());
            put(&mut p, 32, &filesz.to_le_bytes());
            put(&mut p, 40, &memsz.to_le_bytes());
            put(&mut p, 48, &align.to_le_bytes());
            phdrs.extend_from_slice(&p);
        };
    ph(4, 0, notes_off, 0, notes.len() as u64, 0, 4); // PT_NOTE
    let mut offsets = Vec::with_capacity(spec.segments.len());
    for s in &spec.segments {
        let flags = u32::from(s.read) * 4 + u32::from(s.write) * 2 + u32::from(s.exec);
        let filesz = s.dumped();
        ph(1, flags, data_off, s.start, filesz, s.end - s.start, PAGE); // PT_LOAD
        offsets.push(data_off);
        data_off += filesz;
    }
    out.write_all(&head)?;
    out.write_all(&phdrs)?;
    if xnum {
        let mut sh = [0u8; 64];
        put(&mut sh, 44, &(phnum as u32).to_le_bytes()); // sh_info
        out.write_all(&sh)?;
    }
    out.write_all(&notes)?;

    let mut stats = CoreStats {
        file_size: data_off,
        segments: spec.segments.len(),
        threads: spec.threads.len(),
        ..CoreStats::default()
    };
    let mut buf = vec![0u8; CHUNK];
    for (s, &off) in spec.segments.iter().zip(&offsets) {
        let len = s.dumped();
        let mut done = 0u64;
        while done < len {
            keep_going()?;
            let n = (len - done).min(CHUNK as u64) as usize;
            let pages = n.div_ceil(PAGE as usize);
            let present = resident(s.start + done, pages).unwrap_or_else(|| vec![true; pages]);
            // Runs of resident pages, each read at once; the rest are holes.
            let mut p = 0usize;
            while p < pages {
                if !present[p] {
                    p += 1;
                    continue;
                }
                let run_end = (p..pages).find(|&q| !present[q]).unwrap_or(pages);
                let lo = p * PAGE as usize;
                let hi = (run_end * PAGE as usize).min(n);
                let addr = s.start + done + lo as u64;
                let b = &mut buf[lo..hi];
                if mem.read(addr, b).is_err() {
                    // Page by page: keep what is readable.
                    for (i, page) in b.chunks_mut(PAGE as usize).enumerate() {
                        let a = addr + (i as u64) * PAGE;
                        if mem.read(a, page).is_err() {
                            page.fill(0);
                            match stats.unreadable.last_mut() {
                                Some((_, e)) if *e == a => *e = a + page.len() as u64,
                                _ => stats.unreadable.push((a, a + page.len() as u64)),
                            }
                        }
                    }
                }
                // Zero pages stay holes; runs of data are written at once.
                let mut i = lo;
                while i < hi {
                    let page_end = (i + PAGE as usize).min(hi);
                    if is_zero(&buf[i..page_end]) {
                        i = page_end;
                        continue;
                    }
                    let mut j = page_end;
                    while j < hi {
                        let next = (j + PAGE as usize).min(hi);
                        if is_zero(&buf[j..next]) {
                            break;
                        }
                        j = next;
                    }
                    out.seek(SeekFrom::Start(off + done + i as u64))?;
                    out.write_all(&buf[i..j])?;
                    stats.memory_bytes += (j - i) as u64;
                    i = j;
                }
                p = run_end;
            }
            done += n as u64;
        }
    }
    out.set_len(data_off)?;
    Ok(stats)
}

/// Whether `b` is all zeros (vectorizable: no early exit inside 64-byte blocks).
fn is_zero(b: &[u8]) -> bool {
    let mut blocks = b.chunks_exact(64);
    blocks.all(|c| c.iter().fold(0u8, |a, &x| a | x) == 0)
        && blocks.remainder().iter().all(|&x| x == 0)
}

/// A core file being written: a temporary file next to `path`, created with mode 0600, renamed
/// to `path` by [`PendingCore::commit`] and removed if dropped before.
#[derive(Debug)]
pub struct PendingCore {
    tmp: PathBuf,
    path: PathBuf,
    file: File,
}

impl PendingCore {
    /// Creates the temporary file now (before the process is paused: a path that cannot be
    /// written fails at once).
    pub fn create(path: &Path) -> std::io::Result<PendingCore> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| std::io::Error::other("the output path names no file"))?;
        if path.is_dir() {
            return Err(std::io::Error::other("the output path is a directory"));
        }
        let tmp = dir.join(format!(
            ".{}.goscope-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        Ok(PendingCore {
            tmp,
            path: path.to_path_buf(),
            file,
        })
    }

    /// The open file.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Flushes the file to disk and gives it its final name.
    pub fn commit(mut self) -> std::io::Result<PathBuf> {
        self.file.sync_all()?;
        std::fs::rename(&self.tmp, &self.path)?;
        self.tmp = PathBuf::new();
        Ok(self.path.clone())
    }
}

impl Drop for PendingCore {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elfcore;
    use crate::thread::Registers;

    struct Pattern;
    impl Memory for Pattern {
        fn read(&self, addr: u64, buf: &mut [u8]) -> crate::MemResult<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                // Every other page is zeros: those become holes.
                let a = addr + i as u64;
                *b = if (a / PAGE) % 2 == 0 {
                    (a % 251) as u8 | 1
                } else {
                    0
                };
            }
            Ok(())
        }
    }

    #[test]
    fn a_written_core_parses_back() {
        let regs: Vec<u64> = (0..27).collect();
        let spec = CoreSpec {
            arch: TargetArch::Amd64,
            threads: vec![
                Thread {
                    tid: 100,
                    signal: 0,
                    regs: Registers::new(TargetArch::Amd64, regs.clone()),
                },
                Thread {
                    tid: 101,
                    signal: 0,
                    regs: Registers::new(TargetArch::Amd64, regs.iter().map(|r| r + 1).collect()),
                },
            ],
            process: CoreProcess {
                pid: 100,
                fname: "server".into(),
                args: "server -flag".into(),
                ..CoreProcess::default()
            },
            auxv: [9u64, 0x401000, 0, 0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            files: vec![CoreFileMapping {
                start: 0x400000,
                end: 0x402000,
                offset: 0,
                path: "/srv/server".into(),
            }],
            segments: vec![
                CoreSegment {
                    start: 0x400000,
                    end: 0x402000,
                    read: true,
                    write: false,
                    exec: true,
                    dump: Dump::FirstPage,
                },
                CoreSegment {
                    start: 0xc000000000,
                    end: 0xc000004000,
                    read: true,
                    write: true,
                    exec: false,
                    dump: Dump::All,
                },
            ],
        };
        let dir = std::env::temp_dir().join(format!("goscope-core-test-{}", std::process::id()));
        let mut f = File::create(&dir).unwrap();
        let mut all_resident = |_: u64, n: usize| Some(vec![true; n]);
        let stats = write_core(&spec, &Pattern, &mut all_resident, &mut f, &mut || Ok(())).unwrap();
        drop(f);
        let bytes = std::fs::read(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(stats.memory_bytes, 3 * PAGE, "zero pages are holes");
        let layout = elfcore::parse(&bytes).unwrap();
        assert!(layout.warnings.is_empty(), "{:?}", layout.warnings);
        assert_eq!(layout.threads.len(), 2);
        assert_eq!(layout.threads[1].tid, 101);
        assert_eq!(layout.threads[1].regs.pc(), 17);
        assert_eq!(layout.threads[0].regs.get("fs_base"), Some(21));
        assert_eq!(layout.auxv(9), Some(0x401000));
        assert_eq!(layout.files[0].path, "/srv/server");
        let p = layout.process.unwrap();
        assert_eq!((p.pid, p.fname.as_str()), (100, "server"));
        assert_eq!(layout.segments.len(), 2);
        let heap = layout.segments[1];
        assert_eq!((heap.vaddr, heap.filesz), (0xc000000000, 0x4000));
        let at = |a: u64| bytes[(heap.offset + a - heap.vaddr) as usize];
        let mut want = [0u8; 1];
        Pattern.read(0xc000000010, &mut want).unwrap();
        assert_eq!(at(0xc000000010), want[0]);
        assert_eq!(at(0xc000001010), 0);
        assert_eq!(layout.segments[0].filesz, PAGE);
    }
}
