//! Live processes on Linux: finding out what a process is, pausing all its threads for a moment
//! ([`Frozen`]), reading its memory from outside ([`ProcessMemory`]), and keeping a copy of what
//! was read while it was paused ([`ProcessCopy`]).
//!
//! A live program is a guest: nothing here writes to it, every pause ends with every thread
//! detached and running (on `Drop` too, so on early returns and panics), and a pause can be cut
//! short by SIGINT, SIGTERM or SIGHUP ([`signals`]). If goscope itself is killed, the kernel
//! detaches its tracees, which then run on.

mod copy;
mod memory;
mod proc;
mod ptrace;
pub mod signals;

use std::path::PathBuf;

pub use copy::{CopyBuilder, CopyParts, CopyStats, ProcessCopy};
pub use memory::ProcessMemory;
pub use proc::{Mapping, ProcState, read_maps};
pub use ptrace::Frozen;

/// Why a live process could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// No such process.
    #[error("no process {0} (is the PID right? `pgrep -l NAME` lists candidates)")]
    NoSuchProcess(i32),
    /// The process has exited but was not reaped.
    #[error(
        "process {0} is a zombie: it has exited and has no goroutines to show (its parent has not reaped it)"
    )]
    Zombie(i32),
    /// The process exited while goscope was reading it.
    #[error("process {0} exited while goscope was reading it")]
    Gone(i32),
    /// The kernel refused access.
    #[error("{what} of process {pid} is not permitted: {hint}")]
    Permission {
        /// The process.
        pid: i32,
        /// What was refused (`tracing`, `reading the memory`).
        what: &'static str,
        /// Which setting or capability is missing and how to get it.
        hint: String,
    },
    /// goscope was interrupted (SIGINT, SIGTERM, SIGHUP) while the process was paused; the
    /// process was resumed.
    #[error("interrupted by {0}; process resumed")]
    Interrupted(&'static str),
    /// Another system call failed.
    #[error("{what} (process {pid}): {source}")]
    Io {
        /// The process.
        pid: i32,
        /// What goscope was doing.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A running process, found by its PID.
#[derive(Debug)]
pub struct LiveProcess {
    pid: i32,
    exe_link: PathBuf,
    command: String,
    auxv: Vec<(u64, u64)>,
    memory: ProcessMemory,
    pagemap: std::sync::OnceLock<Option<std::fs::File>>,
}

impl LiveProcess {
    /// Finds process `pid`: it must exist, not be a zombie, and its executable must be
    /// readable.
    pub fn open(pid: i32) -> Result<LiveProcess, LiveError> {
        if pid <= 0 {
            return Err(LiveError::NoSuchProcess(pid));
        }
        let state = proc::state(pid)?;
        if state == ProcState::Zombie || state == ProcState::Dead {
            return Err(LiveError::Zombie(pid));
        }
        let exe_link = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map_err(|e| proc::io_error(pid, e, "reading its executable's path (/proc/PID/exe)"))?;
        let command = proc::command(pid);
        let auxv = proc::auxv(pid)?;
        Ok(LiveProcess {
            pid,
            exe_link,
            command,
            auxv,
            memory: ProcessMemory::new(pid),
            pagemap: std::sync::OnceLock::new(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The executable's path as the kernel names it (ends in ` (deleted)` when the file was
    /// removed or replaced since the process started).
    pub fn exe_link(&self) -> &std::path::Path {
        &self.exe_link
    }

    /// A path that opens the very file the process runs, even when it was deleted or replaced:
    /// `/proc/PID/exe`.
    pub fn exe_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/exe", self.pid))
    }

    /// The command name (`comm`).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The value of auxiliary vector entry `key` (`AT_ENTRY` = 9).
    pub fn auxv(&self, key: u64) -> Option<u64> {
        self.auxv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// The raw auxiliary vector, `(key, value)` pairs.
    pub fn auxv_pairs(&self) -> &[(u64, u64)] {
        &self.auxv
    }

    /// The load bias of an executable whose ELF entry point is `entry`: `AT_ENTRY − entry`.
    pub fn bias(&self, entry: u64) -> u64 {
        self.auxv(crate::elfcore::AT_ENTRY)
            .map_or(0, |e| e.wrapping_sub(entry))
    }

    /// The process's memory, read without stopping it.
    pub fn memory(&self) -> &ProcessMemory {
        &self.memory
    }

    /// The scheduling state now.
    pub fn state(&self) -> Result<ProcState, LiveError> {
        proc::state(self.pid)
    }

    /// Thread ids now (`/proc/PID/task`).
    pub fn thread_ids(&self) -> Result<Vec<i32>, LiveError> {
        proc::tasks(self.pid)
    }

    /// Stops every thread (`PTRACE_SEIZE` + `PTRACE_INTERRUPT`, rescanning for threads created
    /// meanwhile) and reads their registers. The process runs again when the [`Frozen`] is
    /// resumed or dropped.
    pub fn freeze(&self) -> Result<Frozen, LiveError> {
        ptrace::freeze(self.pid, nix::sys::ptrace::Options::empty())
    }

    /// [`LiveProcess::freeze`] with ptrace options set on every thread (a debugger's
    /// `PTRACE_O_TRACECLONE`, …).
    pub fn freeze_with(&self, options: nix::sys::ptrace::Options) -> Result<Frozen, LiveError> {
        ptrace::freeze(self.pid, options)
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock the Go runtime's `nanotime` reads.
pub fn monotonic_ns() -> i64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
        .unwrap_or(0)
}

impl LiveProcess {
    /// What a core file of the process holds besides memory, read while it is paused: its
    /// mappings (and how much of each to dump, as the kernel's default `coredump_filter`
    /// would), the paused threads' registers, who it is, its auxiliary vector.
    pub fn core_spec(&self, frozen: &Frozen) -> Result<crate::coredump::CoreSpec, LiveError> {
        use crate::coredump::{CoreFileMapping, CoreProcess, CoreSegment, CoreSpec, Dump};
        let pid = self.pid;
        let maps = read_maps(pid)?;
        let mut segments = Vec::new();
        let mut files = Vec::new();
        for m in &maps {
            if m.path == "[vsyscall]" {
                continue;
            }
            let dump = if !m.read || m.path.starts_with("[vvar") {
                Dump::Nothing
            } else if m.is_file() {
                files.push(CoreFileMapping {
                    start: m.start,
                    end: m.end,
                    offset: m.offset,
                    path: m.path.clone(),
                });
                if m.shared {
                    Dump::Nothing
                } else if m.write {
                    Dump::All
                } else if m.offset == 0 && self.is_elf_header(m.start) {
                    Dump::FirstPage
                } else {
                    Dump::Nothing
                }
            } else {
                Dump::All
            };
            segments.push(CoreSegment {
                start: m.start,
                end: m.end,
                read: m.read,
                write: m.write,
                exec: m.exec,
                dump,
            });
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let num = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
        let ids = |name: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.split_whitespace().next()?.parse().ok())
                })
                .unwrap_or(0)
        };
        let args = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
            })
            .unwrap_or_default();
        let process = CoreProcess {
            pid,
            ppid: num(1),
            pgrp: num(2),
            sid: num(3),
            uid: ids("Uid:"),
            gid: ids("Gid:"),
            state: fields
                .first()
                .and_then(|s| s.bytes().next())
                .unwrap_or(b'S'),
            fname: self.command.clone(),
            args,
        };
        let auxv = std::fs::read(format!("/proc/{pid}/auxv"))
            .map_err(|e| proc::io_error(pid, e, "reading /proc/PID/auxv"))?;
        let arch = frozen
            .threads()
            .first()
            .map_or(crate::TargetArch::Amd64, |t| t.regs.arch());
        Ok(CoreSpec {
            arch,
            threads: frozen.threads().to_vec(),
            process,
            auxv,
            files,
            segments,
        })
    }

    /// Which of the `pages` pages from `addr` are resident or swapped (`/proc/PID/pagemap`
    /// bits 63 and 62): the others were never touched and read as zeros.
    pub fn resident_pages(&self, addr: u64, pages: usize) -> Option<Vec<bool>> {
        use std::os::unix::fs::FileExt;
        let f = self
            .pagemap
            .get_or_init(|| std::fs::File::open(format!("/proc/{}/pagemap", self.pid)).ok())
            .as_ref()?;
        let mut raw = vec![0u8; pages * 8];
        f.read_exact_at(&mut raw, (addr / 4096) * 8).ok()?;
        Some(
            raw.chunks_exact(8)
                .map(|e| {
                    let v = u64::from_le_bytes(e.try_into().unwrap_or([0; 8]));
                    v & (3 << 62) != 0
                })
                .collect(),
        )
    }

    fn is_elf_header(&self, addr: u64) -> bool {
        let mut b = [0u8; 4];
        crate::Memory::read(&self.memory, addr, &mut b).is_ok() && &b == b"\x7fELF"
    }
}
