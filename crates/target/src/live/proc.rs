//! What `/proc/PID` says about a process: its state, threads, auxiliary vector, mappings, and —
//! when the kernel refuses goscope — why, in terms of the setting or capability to change.

use super::LiveError;

/// A process's scheduling state (`/proc/PID/stat`, third field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// Running or runnable (`R`).
    Running,
    /// Sleeping (`S`, `D`, `I`).
    Sleeping,
    /// Stopped by a signal (`T`).
    Stopped,
    /// Stopped by a tracer (`t`).
    Traced,
    /// Exited, not reaped (`Z`).
    Zombie,
    /// Dead (`X`).
    Dead,
    /// Anything else.
    Other(char),
}

/// Maps an I/O error about process `pid` to a [`LiveError`].
pub(crate) fn io_error(pid: i32, e: std::io::Error, what: &str) -> LiveError {
    match e.kind() {
        std::io::ErrorKind::NotFound => LiveError::NoSuchProcess(pid),
        std::io::ErrorKind::PermissionDenied => LiveError::Permission {
            pid,
            what: "reading /proc",
            hint: permission_hint(pid),
        },
        _ if e.raw_os_error() == Some(libc_esrch()) => LiveError::Gone(pid),
        _ => LiveError::Io {
            pid,
            what: what.to_string(),
            source: e,
        },
    }
}

fn libc_esrch() -> i32 {
    nix::errno::Errno::ESRCH as i32
}

/// The state of process (or thread) `pid`.
pub(crate) fn state(pid: i32) -> Result<ProcState, LiveError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| io_error(pid, e, "reading /proc/PID/stat"))?;
    // `pid (comm) S …`: comm may contain spaces and parentheses; the state follows the last ')'.
    let c = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
        .unwrap_or('?');
    Ok(match c {
        'R' => ProcState::Running,
        'S' | 'D' | 'I' | 'W' | 'P' => ProcState::Sleeping,
        'T' => ProcState::Stopped,
        't' => ProcState::Traced,
        'Z' => ProcState::Zombie,
        'X' | 'x' => ProcState::Dead,
        other => ProcState::Other(other),
    })
}

/// The command name (`/proc/PID/comm`), or `?`.
pub(crate) fn command(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The auxiliary vector (`/proc/PID/auxv`): 64-bit `(key, value)` pairs up to `AT_NULL`.
pub(crate) fn auxv(pid: i32) -> Result<Vec<(u64, u64)>, LiveError> {
    let b = std::fs::read(format!("/proc/{pid}/auxv"))
        .map_err(|e| io_error(pid, e, "reading /proc/PID/auxv"))?;
    let mut out = Vec::new();
    for pair in b.chunks_exact(16) {
        let k = u64::from_le_bytes(pair[..8].try_into().unwrap_or([0; 8]));
        let v = u64::from_le_bytes(pair[8..].try_into().unwrap_or([0; 8]));
        if k == 0 {
            break;
        }
        out.push((k, v));
    }
    Ok(out)
}

/// The thread ids of process `pid`, sorted.
pub(crate) fn tasks(pid: i32) -> Result<Vec<i32>, LiveError> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| io_error(pid, e, "listing /proc/PID/task"))?;
    let mut v: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// `r`, `w`, `x` permissions.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// Shared (`s`) rather than private (`p`).
    pub shared: bool,
    /// Offset in the file.
    pub offset: u64,
    /// Device and inode: 0 for anonymous memory.
    pub inode: u64,
    /// The path, `[heap]`, `[stack]`, `[vdso]`…, or empty.
    pub path: String,
}

impl Mapping {
    /// Backed by a file (not anonymous, not a kernel pseudo-mapping).
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.starts_with('/')
    }
}

/// Parses `/proc/PID/maps`.
pub fn read_maps(pid: i32) -> Result<Vec<Mapping>, LiveError> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| io_error(pid, e, "reading /proc/PID/maps"))?;
    Ok(text.lines().filter_map(parse_map_line).collect())
}

fn parse_map_line(line: &str) -> Option<Mapping> {
    let mut it = line.splitn(6, ' ');
    let range = it.next()?;
    let perms = it.next()?.as_bytes();
    let offset = u64::from_str_radix(it.next()?, 16).ok()?;
    let _dev = it.next()?;
    let inode = it.next()?.parse().ok()?;
    let path = it.next().unwrap_or("").trim_start().to_string();
    let (s, e) = range.split_once('-')?;
    Some(Mapping {
        start: u64::from_str_radix(s, 16).ok()?,
        end: u64::from_str_radix(e, 16).ok()?,
        read: perms.first() == Some(&b'r'),
        write: perms.get(1) == Some(&b'w'),
        exec: perms.get(2) == Some(&b'x'),
        shared: perms.get(3) == Some(&b's'),
        offset,
        inode,
        path,
    })
}

fn status_field(pid: i32, name: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// Why the kernel refuses goscope access to process `pid`, and what would change that.
pub(crate) fn permission_hint(pid: i32) -> String {
    let me = status_field(std::process::id() as i32, "Uid")
        .and_then(|u| u.split_whitespace().nth(1)?.parse::<u32>().ok());
    let caps = status_field(std::process::id() as i32, "CapEff")
        .and_then(|c| u64::from_str_radix(&c, 16).ok())
        .unwrap_or(0);
    const CAP_SYS_PTRACE: u64 = 1 << 19;
    let has_ptrace_cap = caps & CAP_SYS_PTRACE != 0;
    if let Some(tracer) = status_field(pid, "TracerPid").and_then(|t| t.parse::<i32>().ok())
        && tracer != 0
    {
        return format!(
            "it is already traced by process {tracer} ({}); detach that debugger first",
            command(tracer)
        );
    }
    let owner =
        status_field(pid, "Uid").and_then(|u| u.split_whitespace().nth(1)?.parse::<u32>().ok());
    if let (Some(me), Some(owner)) = (me, owner)
        && me != owner
        && !has_ptrace_cap
    {
        return format!(
            "it belongs to uid {owner} and goscope runs as uid {me} without CAP_SYS_PTRACE; run \
             goscope as that user or as root (sudo)"
        );
    }
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match scope {
        Some(1) if !has_ptrace_cap => "kernel.yama.ptrace_scope is 1 (only a parent may trace its \
             children): run goscope as root, grant it the capability (sudo setcap \
             cap_sys_ptrace+ep $(which goscope)), or allow it for now (sudo sysctl \
             kernel.yama.ptrace_scope=0)"
            .into(),
        Some(2) if !has_ptrace_cap => "kernel.yama.ptrace_scope is 2 (only CAP_SYS_PTRACE may \
             trace): run goscope as root or grant it the capability (sudo setcap \
             cap_sys_ptrace+ep $(which goscope))"
            .into(),
        Some(3) => "kernel.yama.ptrace_scope is 3 (no process may be traced until reboot)".into(),
        _ => {
            if has_ptrace_cap {
                "the process is not dumpable or a security module forbids it (in a container: \
                 run with --cap-add=SYS_PTRACE and a seccomp profile that allows ptrace and \
                 process_vm_readv)"
                    .into()
            } else {
                "goscope lacks CAP_SYS_PTRACE (in a container: --cap-add=SYS_PTRACE; otherwise \
                 run as root or as the process's user)"
                    .into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_parse() {
        let m = parse_map_line(
            "7f1c2a000000-7f1c2a021000 r-xp 00002000 08:01 1234567    /usr/lib/x86_64-linux-gnu/libc.so.6",
        )
        .unwrap();
        assert_eq!(
            (m.start, m.end, m.offset),
            (0x7f1c2a000000, 0x7f1c2a021000, 0x2000)
        );
        assert!(m.read && !m.write && m.exec && !m.shared && m.is_file());
        assert_eq!(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        let anon = parse_map_line("c000000000-c000400000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(!anon.is_file() && anon.write);
        let stack = parse_map_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0      [stack]").unwrap();
        assert_eq!(stack.path, "[stack]");
        assert!(parse_map_line("garbage").is_none());
        assert!(parse_map_line("zz-10 rw-p 0 00:00 0").is_none());
    }
}
