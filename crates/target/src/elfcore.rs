//! The ELF core file format, parsed without trusting it: the header, the program headers
//! (`PT_LOAD` memory, `PT_NOTE`), and the notes — threads and their registers (`NT_PRSTATUS`),
//! the process (`NT_PRPSINFO`), the killing signal (`NT_SIGINFO`), the auxiliary vector
//! (`NT_AUXV`) and the mapped files (`NT_FILE`). See `FORMATS.md` §6.
//!
//! Everything here is a pure function of the bytes, so it is fuzzed directly. A core cut short
//! still parses: whatever is missing becomes a warning, and memory beyond the end of the file
//! reads as missing.

use serde::Serialize;

use crate::error::CoreError;
use crate::thread::{Registers, TargetArch, Thread};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// `NT_PRSTATUS`: one per thread, the faulting thread first.
pub const NT_PRSTATUS: u32 = 1;
/// `NT_PRPSINFO`: the process.
pub const NT_PRPSINFO: u32 = 3;
/// `NT_AUXV`: the auxiliary vector.
pub const NT_AUXV: u32 = 6;
/// `NT_SIGINFO`: the `siginfo_t` of the signal that killed the process.
pub const NT_SIGINFO: u32 = 0x5349_4749;
/// `NT_FILE`: the file-backed mappings.
pub const NT_FILE: u32 = 0x4649_4c45;
/// `NT_ARM_TLS`: arm64 `TPIDR_EL0`.
pub const NT_ARM_TLS: u32 = 0x401;

/// `AT_PHDR`: address of the executable's program headers.
pub const AT_PHDR: u64 = 3;
/// `AT_ENTRY`: the executable's entry point, as loaded.
pub const AT_ENTRY: u64 = 9;
/// `AT_EXECFN`: address of the executable's file name.
pub const AT_EXECFN: u64 = 31;

/// Most threads or mappings goscope accepts from one core: far beyond any real process, and a
/// bound on what a hostile file can make it allocate.
const MAX_ITEMS: usize = 1 << 20;

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Segment {
    /// Start address.
    pub vaddr: u64,
    /// Size in memory.
    pub memsz: u64,
    /// Offset of the dumped bytes in the core file.
    pub offset: u64,
    /// Number of bytes the program header says were dumped.
    pub filesz: u64,
    /// Number of those bytes actually present (less than `filesz` in a truncated core).
    pub present: u64,
    /// Readable, writable, executable.
    pub flags: u32,
}

impl Segment {
    /// End address (exclusive).
    pub fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

/// One file-backed mapping from `NT_FILE`.
#[derive(Debug, Clone, Serialize)]
pub struct MappedFile {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Offset in the file, in bytes.
    pub offset: u64,
    /// The file's path when the process died.
    pub path: String,
}

/// The signal that killed the process (`NT_SIGINFO`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SigInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code`.
    pub code: i32,
    /// `si_addr` for faults; for signals sent by a process, the sender's pid and uid packed.
    pub addr: u64,
}

/// `NT_PRPSINFO`: who the process was.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: i32,
    /// Executable name, cut to 15 bytes by the kernel.
    pub fname: String,
    /// The start of the command line, cut to 80 bytes by the kernel.
    pub args: String,
}

/// Everything parsed from a core file's headers and notes.
#[derive(Debug, Clone, Serialize)]
pub struct CoreLayout {
    /// The machine.
    pub arch: TargetArch,
    /// `PT_LOAD` segments sorted by address.
    pub segments: Vec<Segment>,
    /// Threads in note order (the thread that received the fatal signal first).
    pub threads: Vec<Thread>,
    /// `NT_FILE` mappings.
    pub files: Vec<MappedFile>,
    /// `NT_AUXV` pairs, without the terminating `AT_NULL`.
    pub auxv: Vec<(u64, u64)>,
    /// `NT_SIGINFO`.
    pub siginfo: Option<SigInfo>,
    /// `NT_PRPSINFO`.
    pub process: Option<ProcessInfo>,
    /// What was damaged or missing.
    pub warnings: Vec<String>,
}

impl CoreLayout {
    /// The value of auxiliary vector entry `key`.
    pub fn auxv(&self, key: u64) -> Option<u64> {
        self.auxv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn cstr(d: &[u8]) -> String {
    let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
    String::from_utf8_lossy(&d[..end]).into_owned()
}

/// Parses the ELF header, program headers and notes of a 64-bit little-endian core file.
pub fn parse(data: &[u8]) -> Result<CoreLayout, CoreError> {
    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return Err(CoreError::NotElf);
    }
    if data.len() < 64 {
        return Err(CoreError::Truncated(format!(
            "the ELF header needs 64 bytes, the file has {}",
            data.len()
        )));
    }
    if data[4] != 2 || data[5] != 1 {
        return Err(CoreError::Unsupported(
            "only 64-bit little-endian core files are supported".into(),
        ));
    }
    let e_type = u16_at(data, 16).unwrap_or(0);
    if e_type != ET_CORE {
        return Err(CoreError::NotCore(e_type));
    }
    let arch = match u16_at(data, 18).unwrap_or(0) {
        EM_X86_64 => TargetArch::Amd64,
        EM_AARCH64 => TargetArch::Arm64,
        m => {
            return Err(CoreError::Unsupported(format!(
                "machine {m} (goscope reads amd64 and arm64 cores)"
            )));
        }
    };
    let phoff = u64_at(data, 32).unwrap_or(0);
    let phentsize = u16_at(data, 54).unwrap_or(0) as usize;
    let phnum = u16_at(data, 56).unwrap_or(0) as usize;
    if phentsize < 56 {
        return Err(CoreError::Malformed(format!(
            "program header entries are {phentsize} bytes, expected 56"
        )));
    }
    let mut warnings = Vec::new();
    let mut segments = Vec::new();
    let mut note_ranges = Vec::new();
    let file_len = data.len() as u64;
    for i in 0..phnum {
        let Some(off) = (i as u64)
            .checked_mul(phentsize as u64)
            .and_then(|o| o.checked_add(phoff))
            .and_then(|o| usize::try_from(o).ok())
        else {
            break;
        };
        let Some(ph) = data
            .get(off..off.saturating_add(56))
            .filter(|p| p.len() == 56)
        else {
            warnings.push(format!(
                "core file truncated: only {i} of {phnum} program headers are present"
            ));
            break;
        };
        let p_type = u32_at(ph, 0).unwrap_or(0);
        let flags = u32_at(ph, 4).unwrap_or(0);
        let offset = u64_at(ph, 8).unwrap_or(0);
        let vaddr = u64_at(ph, 16).unwrap_or(0);
        let filesz = u64_at(ph, 32).unwrap_or(0);
        let memsz = u64_at(ph, 40).unwrap_or(0);
        let present = file_len.saturating_sub(offset).min(filesz);
        match p_type {
            PT_LOAD => {
                if memsz == 0 {
                    continue;
                }
                segments.push(Segment {
                    vaddr,
                    memsz,
                    offset,
                    filesz: filesz.min(memsz),
                    present: present.min(memsz),
                    flags,
                });
            }
            PT_NOTE => note_ranges.push((offset, filesz, present)),
            _ => {}
        }
    }
    segments.sort_by_key(|s| s.vaddr);
    let missing: u64 = segments
        .iter()
        .fold(0u64, |n, s| n.saturating_add(s.filesz - s.present));
    if missing > 0 {
        let n = segments.iter().filter(|s| s.present < s.filesz).count();
        warnings.push(format!(
            "core file truncated: {missing} bytes of memory in {n} segments are missing \
             (the file is {file_len} bytes); reads there fail"
        ));
    }

    let mut layout = CoreLayout {
        arch,
        segments,
        threads: Vec::new(),
        files: Vec::new(),
        auxv: Vec::new(),
        siginfo: None,
        process: None,
        warnings,
    };
    if note_ranges.is_empty() {
        layout
            .warnings
            .push("core file has no notes: no threads, registers or mapped files".into());
    }
    for (offset, filesz, present) in note_ranges {
        if present < filesz {
            layout.warnings.push(format!(
                "core file truncated inside its notes: {} of {filesz} bytes present; \
                 threads after the cut are missing",
                present
            ));
        }
        let (Ok(start), Ok(len)) = (usize::try_from(offset), usize::try_from(present)) else {
            continue;
        };
        let Some(notes) = data.get(start..start.saturating_add(len)) else {
            continue;
        };
        parse_notes(notes, &mut layout);
    }
    if layout.threads.is_empty() {
        layout
            .warnings
            .push("core file has no thread (NT_PRSTATUS) notes".into());
    }
    Ok(layout)
}

/// Walks the notes of one `PT_NOTE` segment.
fn parse_notes(notes: &[u8], layout: &mut CoreLayout) {
    let mut pos = 0usize;
    let mut last_tls: Option<usize> = None;
    while pos + 12 <= notes.len() {
        let namesz = u32_at(notes, pos).unwrap_or(0) as usize;
        let descsz = u32_at(notes, pos + 4).unwrap_or(0) as usize;
        let ntype = u32_at(notes, pos + 8).unwrap_or(0);
        let name_start = pos + 12;
        let Some(desc_start) = name_start.checked_add(namesz.next_multiple_of(4)) else {
            break;
        };
        let Some(desc_end) = desc_start.checked_add(descsz) else {
            break;
        };
        let Some(desc) = notes.get(desc_start..desc_end) else {
            layout.warnings.push(format!(
                "core notes cut inside a note of type {ntype:#x}: it and any later notes are lost"
            ));
            break;
        };
        let name = notes
            .get(name_start..name_start + namesz)
            .map(|n| n.strip_suffix(&[0]).unwrap_or(n))
            .unwrap_or(&[]);
        if name == b"CORE" || name == b"LINUX" {
            match ntype {
                NT_PRSTATUS if name == b"CORE" => {
                    if layout.threads.len() >= MAX_ITEMS {
                        break;
                    }
                    match parse_prstatus(desc, layout.arch) {
                        Some(t) => {
                            layout.threads.push(t);
                            last_tls = None;
                        }
                        None => layout.warnings.push(format!(
                            "thread note {} is too short ({descsz} bytes); skipped",
                            layout.threads.len() + 1
                        )),
                    }
                }
                NT_PRPSINFO if name == b"CORE" => layout.process = parse_prpsinfo(desc),
                NT_SIGINFO if name == b"CORE" => {
                    if let (Some(signo), Some(code)) = (u32_at(desc, 0), u32_at(desc, 8)) {
                        layout.siginfo = Some(SigInfo {
                            signo: signo as i32,
                            code: code as i32,
                            addr: u64_at(desc, 16).unwrap_or(0),
                        });
                    }
                }
                NT_AUXV if name == b"CORE" => {
                    let mut i = 0;
                    while let (Some(k), Some(v)) = (u64_at(desc, i), u64_at(desc, i + 8)) {
                        if k == 0 || layout.auxv.len() >= 256 {
                            break;
                        }
                        layout.auxv.push((k, v));
                        i += 16;
                    }
                }
                NT_FILE if name == b"CORE" => match parse_nt_file(desc) {
                    Some(files) => layout.files = files,
                    None => layout
                        .warnings
                        .push("the mapped-files note (NT_FILE) is malformed; ignored".into()),
                },
                NT_ARM_TLS if layout.arch == TargetArch::Arm64 => {
                    if let (Some(t), Some(v)) = (layout.threads.last_mut(), u64_at(desc, 0))
                        && last_tls.is_none()
                    {
                        t.regs.tls = v;
                        last_tls = Some(layout.threads.len());
                    }
                }
                _ => {}
            }
        }
        pos = desc_start + descsz.next_multiple_of(4);
    }
}

/// `elf_prstatus`: `pr_cursig` at 12, `pr_pid` at 32, `pr_reg` at 112 (64-bit Linux).
fn parse_prstatus(desc: &[u8], arch: TargetArch) -> Option<Thread> {
    let signal = u16_at(desc, 12)?;
    let tid = u32_at(desc, 32)?;
    let n = arch.prstatus_regs();
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        values.push(u64_at(desc, 112 + 8 * i)?);
    }
    Some(Thread {
        tid,
        signal,
        regs: Registers::new(arch, values),
    })
}

/// `elf_prpsinfo` (64-bit): `pr_pid` at 24, `pr_fname[16]` at 40, `pr_psargs[80]` at 56.
fn parse_prpsinfo(desc: &[u8]) -> Option<ProcessInfo> {
    Some(ProcessInfo {
        pid: u32_at(desc, 24)? as i32,
        fname: cstr(desc.get(40..56)?),
        args: cstr(desc.get(56..136.min(desc.len()))?),
    })
}

/// `NT_FILE`: `count`, `page_size`, `count` × `{start, end, pgoff}`, then `count` paths.
fn parse_nt_file(desc: &[u8]) -> Option<Vec<MappedFile>> {
    let count = usize::try_from(u64_at(desc, 0)?).ok()?;
    let page = u64_at(desc, 8)?;
    // Each entry needs 24 bytes plus a NUL: refuse counts the note cannot hold.
    if count > MAX_ITEMS || count.checked_mul(25)? > desc.len() {
        return None;
    }
    let mut names = desc.get(16 + 24 * count..)?.split(|&b| b == 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let e = 16 + 24 * i;
        out.push(MappedFile {
            start: u64_at(desc, e)?,
            end: u64_at(desc, e + 8)?,
            offset: u64_at(desc, e + 16)?.checked_mul(page)?,
            path: String::from_utf8_lossy(names.next()?).into_owned(),
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_cores_with_clear_errors() {
        assert!(matches!(parse(b""), Err(CoreError::NotElf)));
        assert!(matches!(
            parse(b"\x7fELF\x02\x01"),
            Err(CoreError::Truncated(_))
        ));
        let mut exe = vec![0u8; 64];
        exe[..4].copy_from_slice(b"\x7fELF");
        exe[4] = 2;
        exe[5] = 1;
        exe[16] = 2; // ET_EXEC
        assert!(matches!(parse(&exe), Err(CoreError::NotCore(2))));
    }

    #[test]
    fn nt_file_refuses_counts_it_cannot_hold() {
        let mut d = vec![0u8; 16];
        d[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse_nt_file(&d).is_none());
        // One entry: [0x1000, 0x2000) at page 3 of "/bin/x".
        let mut d = Vec::new();
        for v in [1u64, 0x1000, 0x1000, 0x2000, 3] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(b"/bin/x\0");
        let f = parse_nt_file(&d).unwrap();
        assert_eq!(f[0].offset, 0x3000);
        assert_eq!(f[0].path, "/bin/x");
    }
}
