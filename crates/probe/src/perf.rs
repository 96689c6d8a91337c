//! `perf_event_open(2)` for uprobes: the attribute block, opening one probe on one CPU, the
//! ring buffer its samples go to, and the records read back. The only module of this crate
//! with `unsafe` code: the system call, `ioctl`, `mmap` and the ring buffer's shared header.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering, fence};

/// `perf_event_attr` up to `PERF_ATTR_SIZE_VER7` (128 bytes, `sig_data`), the fields goscope
/// sets.
#[repr(C)]
#[derive(Default)]
struct Attr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved2: u16,
    aux_sample_size: u32,
    reserved3: u32,
    sig_data: u64,
}

const ATTR_SIZE: u32 = 128;
const _: () = assert!(std::mem::size_of::<Attr>() == ATTR_SIZE as usize);

// perf_event_attr.flags bits.
const FLAG_DISABLED: u64 = 1 << 0;
const FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
const FLAG_EXCLUDE_HV: u64 = 1 << 6;
const FLAG_WATERMARK: u64 = 1 << 14;
const FLAG_USE_CLOCKID: u64 = 1 << 25;
const FLAG_FREQ: u64 = 1 << 10;
const FLAG_EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
const FLAG_INHERIT: u64 = 1 << 1;
const FLAG_INHERIT_THREAD: u64 = 1 << 35;
const FLAG_REMOVE_ON_EXEC: u64 = 1 << 36;
const FLAG_SIGTRAP: u64 = 1 << 37;

/// `PERF_SAMPLE_*` bits of what each sample carries.
pub mod sample {
    /// The probed instruction's address.
    pub const IP: u64 = 1 << 0;
    /// Process and thread ids.
    pub const TID: u64 = 1 << 1;
    /// Time (`CLOCK_MONOTONIC`, nanoseconds).
    pub const TIME: u64 = 1 << 2;
    /// User registers chosen by the register mask.
    pub const REGS_USER: u64 = 1 << 12;
    /// A copy of the top of the user stack.
    pub const STACK_USER: u64 = 1 << 13;
    /// The call chain (user frames only, walked by frame pointers).
    pub const CALLCHAIN: u64 = 1 << 5;
}

/// x86-64 `PERF_REG_X86_*` indices (bit positions in the user register mask).
pub mod x86_reg {
    #![allow(missing_docs)]
    pub const AX: u32 = 0;
    pub const BX: u32 = 1;
    pub const CX: u32 = 2;
    pub const DX: u32 = 3;
    pub const SI: u32 = 4;
    pub const DI: u32 = 5;
    pub const BP: u32 = 6;
    pub const SP: u32 = 7;
    pub const IP: u32 = 8;
    pub const R8: u32 = 16;
    pub const R9: u32 = 17;
    pub const R10: u32 = 18;
    pub const R11: u32 = 19;
    pub const R12: u32 = 20;
    pub const R13: u32 = 21;
    pub const R14: u32 = 22;
    pub const R15: u32 = 23;
}

const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;
const IOC_SET_OUTPUT: libc::c_ulong = 0x2405;
const IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
const FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// What each probe's samples carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSpec {
    /// `PERF_SAMPLE_*` bits.
    pub sample_type: u64,
    /// User registers (bit positions of [`x86_reg`]).
    pub regs_mask: u64,
    /// Bytes of user stack copied per sample (0: none; a multiple of 8).
    pub stack_bytes: u32,
}

/// The uprobe PMU's type number, or why there is none.
pub fn uprobe_pmu_type() -> io::Result<u32> {
    let t = std::fs::read_to_string("/sys/bus/event_source/devices/uprobe/type")?;
    t.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad uprobe PMU type"))
}

/// Opens a uprobe on the instruction at `offset` of the file `path`, counting on `cpu` for
/// every process that maps the file, disabled until [`enable`]. Never a return probe.
pub fn open_uprobe(
    pmu: u32,
    path: &CString,
    offset: u64,
    cpu: i32,
    spec: SampleSpec,
) -> io::Result<OwnedFd> {
    let mut attr = Attr {
        kind: pmu,
        size: ATTR_SIZE,
        // config bit 0 (retprobe) stays clear: return probes break Go's stack copying.
        config: 0,
        sample_period: 1,
        sample_type: spec.sample_type,
        flags: FLAG_DISABLED
            | FLAG_EXCLUDE_KERNEL
            | FLAG_EXCLUDE_HV
            | FLAG_WATERMARK
            | FLAG_USE_CLOCKID,
        // Wake the reader when this many bytes wait (the reader also polls on a timer).
        wakeup_events: 64 * 1024,
        config1: path.as_ptr() as u64,
        config2: offset,
        sample_regs_user: spec.regs_mask,
        sample_stack_user: spec.stack_bytes,
        clockid: libc::CLOCK_MONOTONIC,
        ..Attr::default()
    };
    // `path` outlives the call: the kernel copies the string while opening.
    open_on_cpu(&mut attr, cpu)
}

/// `perf_event_open(attr, pid = -1, cpu, group = -1, CLOEXEC)`: an event for every task on
/// `cpu`.
fn open_on_cpu(attr: &mut Attr, cpu: i32) -> io::Result<OwnedFd> {
    open_event(attr, -1, cpu)
}

/// Opens a hardware execute breakpoint at `addr` on thread `tid`, disabled until [`enable`],
/// that sends the thread a SIGTRAP (`si_code` `TRAP_PERF`, `si_perf_data` = `cookie`) at
/// every hit its filter ([`set_bpf`]) passes. Threads `tid` creates later inherit it (forked
/// processes do not); an `execve` removes it; closing the descriptor removes it from every
/// thread.
pub fn open_breakpoint_with_sigtrap(tid: i32, addr: u64, cookie: u64) -> io::Result<OwnedFd> {
    let mut attr = Attr {
        kind: 5, // PERF_TYPE_BREAKPOINT
        size: ATTR_SIZE,
        sample_period: 1,
        flags: FLAG_DISABLED
            | FLAG_INHERIT
            | FLAG_INHERIT_THREAD
            | FLAG_EXCLUDE_KERNEL
            | FLAG_EXCLUDE_HV
            | FLAG_REMOVE_ON_EXEC
            | FLAG_SIGTRAP,
        bp_type: 4, // HW_BREAKPOINT_X
        config1: addr,
        // An execute breakpoint's length is sizeof(long).
        config2: 8,
        sig_data: cookie,
        ..Attr::default()
    };
    open_event(&mut attr, tid, -1)
}

/// `perf_event_open(attr, pid, cpu, group = -1, CLOEXEC)`.
fn open_event(attr: &mut Attr, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid perf_event_attr of the size it declares, and whatever it points
    // to (a uprobe's path) is alive for the call; the other arguments are plain integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *mut Attr,
            pid as libc::pid_t,
            cpu as libc::c_int,
            -1 as libc::c_int,
            FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the system call returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Opens a `cpu-clock` sampler on `cpu` for every task, `hz` samples per second of CPU time,
/// disabled until [`enable`]; user call chains only.
pub fn open_cpu_clock(cpu: i32, hz: u64, spec: SampleSpec) -> io::Result<OwnedFd> {
    let mut attr = Attr {
        kind: 1, // PERF_TYPE_SOFTWARE
        size: ATTR_SIZE,
        config: 0, // PERF_COUNT_SW_CPU_CLOCK
        sample_period: hz,
        sample_type: spec.sample_type,
        flags: FLAG_DISABLED
            | FLAG_FREQ
            | FLAG_EXCLUDE_HV
            | FLAG_EXCLUDE_CALLCHAIN_KERNEL
            | FLAG_WATERMARK
            | FLAG_USE_CLOCKID,
        wakeup_events: 64 * 1024,
        sample_regs_user: spec.regs_mask,
        sample_stack_user: spec.stack_bytes,
        clockid: libc::CLOCK_MONOTONIC,
        sample_max_stack: 127,
        ..Attr::default()
    };
    open_on_cpu(&mut attr, cpu)
}

fn ioctl(fd: &OwnedFd, request: libc::c_ulong, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the perf ioctls used here take an integer argument (a flag or a descriptor).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Starts counting and sampling.
pub fn enable(fd: &OwnedFd) -> io::Result<()> {
    ioctl(fd, IOC_ENABLE, 0)
}

/// Stops counting and sampling.
pub fn disable(fd: &OwnedFd) -> io::Result<()> {
    ioctl(fd, IOC_DISABLE, 0)
}

/// Makes BPF program `prog` (a `BPF_PROG_TYPE_PERF_EVENT` one, [`load_perf_event_program`])
/// the filter of event `fd`: a hit it returns 0 for is not counted as a sample (nor signalled).
pub fn set_bpf(fd: &OwnedFd, prog: &OwnedFd) -> io::Result<()> {
    ioctl(fd, IOC_SET_BPF, prog.as_raw_fd() as libc::c_ulong)
}

/// Loads `code` (`struct bpf_insn`s, 8 bytes each) as a `BPF_PROG_TYPE_PERF_EVENT` program;
/// an error carries the verifier's log.
pub fn load_perf_event_program(code: &[u8]) -> Result<OwnedFd, String> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
    /// `union bpf_attr`'s part for `BPF_PROG_LOAD`, up to the log buffer.
    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
    }
    let insn_cnt = u32::try_from(code.len() / 8).map_err(|_| "program too long".to_string())?;
    // The helpers a filter calls (bpf_probe_read_user) are offered to GPL programs only.
    let license = b"GPL\0";
    let mut log = vec![0u8; 16 * 1024];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_PERF_EVENT,
        insn_cnt,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
    };
    // SAFETY: `attr` is the leading part of a `union bpf_attr` of the size passed (the kernel
    // zero-fills the rest); the buffers it points to — `code` (`insn_cnt` instructions),
    // `license`, `log` (of `log_size` bytes, the only one the kernel writes) — are alive and
    // unmoved for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &mut attr as *mut ProgLoad,
            std::mem::size_of::<ProgLoad>() as libc::c_uint,
        )
    };
    if fd < 0 {
        let err = io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let text = String::from_utf8_lossy(&log[..end]);
        return Err(format!("{err}: {}", text.trim()));
    }
    // SAFETY: the system call returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends `fd`'s samples to `target`'s ring buffer (both on the same CPU).
pub fn redirect(fd: &OwnedFd, target: &OwnedFd) -> io::Result<()> {
    ioctl(fd, IOC_SET_OUTPUT, target.as_raw_fd() as libc::c_ulong)
}

/// Raises the soft limit of open files to the hard limit (one descriptor per probe and CPU).
pub fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit structure.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

/// The ring buffer of one CPU: a header page shared with the kernel and `2^n` data pages.
pub struct Ring {
    fd: OwnedFd,
    base: *mut u8,
    len: usize,
    data_size: usize,
}

// SAFETY: the mapping is owned by the Ring and only read through &mut self methods; the kernel
// writes it concurrently, which the head/tail protocol accounts for.
unsafe impl Send for Ring {}

const HEAD_OFFSET: usize = 1024;
const TAIL_OFFSET: usize = 1032;

impl Ring {
    /// Maps the ring buffer of `fd` with `pages` data pages (a power of two).
    pub fn map(fd: OwnedFd, pages: usize) -> io::Result<Ring> {
        let page = page_size();
        let data_size = pages * page;
        let len = data_size + page;
        // SAFETY: a fresh shared mapping of a perf event descriptor, of the size perf expects
        // (1 + 2^n pages); the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Ring {
            fd,
            base: base.cast(),
            len,
            data_size,
        })
    }

    /// The descriptor whose buffer this is (others are redirected to it).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    fn head_tail(&self) -> (&AtomicU64, &AtomicU64) {
        // SAFETY: both fields lie in the mapped header page, 8-byte aligned, and are only
        // accessed atomically.
        unsafe {
            (
                &*(self.base.add(HEAD_OFFSET) as *const AtomicU64),
                &*(self.base.add(TAIL_OFFSET) as *const AtomicU64),
            )
        }
    }

    /// Copies out every complete record waiting in the buffer and releases their space:
    /// `visit(kind, body)` for each.
    pub fn drain(&mut self, mut visit: impl FnMut(u32, &[u8])) {
        let (head_a, tail_a) = self.head_tail();
        let head = head_a.load(Ordering::Acquire);
        fence(Ordering::Acquire);
        let mut tail = tail_a.load(Ordering::Relaxed);
        let page = self.len - self.data_size;
        let mut rec: Vec<u8> = Vec::with_capacity(256);
        while tail + 8 <= head {
            let mut hdr = [0u8; 8];
            self.copy_out(page, tail, &mut hdr);
            let kind = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let size = u16::from_ne_bytes([hdr[6], hdr[7]]) as u64;
            if size < 8 || tail + size > head {
                break;
            }
            rec.resize(size as usize - 8, 0);
            self.copy_out(page, tail + 8, &mut rec);
            visit(kind, &rec);
            tail += size;
        }
        fence(Ordering::Release);
        tail_a.store(tail, Ordering::Release);
    }

    fn copy_out(&self, page: usize, pos: u64, out: &mut [u8]) {
        let start = (pos & (self.data_size as u64 - 1)) as usize;
        let first = out.len().min(self.data_size - start);
        let (a, b) = out.split_at_mut(first);
        // SAFETY: `start + first <= data_size` and `b.len() <= start` (a record is never
        // larger than the buffer): both copies stay inside the mapped data area, which the
        // kernel does not write between head and tail.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.add(page + start), a.as_mut_ptr(), a.len());
            std::ptr::copy_nonoverlapping(self.base.add(page), b.as_mut_ptr(), b.len().min(start));
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this Ring made, once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// The system's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Waits until one of `fds` has data or `timeout_ms` passes.
pub fn poll(fds: &[&OwnedFd], timeout_ms: i32) {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of pollfd of the length passed.
    unsafe {
        libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms);
    }
}

/// The CPUs that are online (`/sys/devices/system/cpu/online`, e.g. `0-3,5`).
pub fn online_cpus() -> Vec<i32> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        let mut it = part.splitn(2, '-');
        let a = it.next().and_then(|x| x.parse::<i32>().ok());
        let b = it.next().and_then(|x| x.parse::<i32>().ok());
        match (a, b) {
            (Some(a), Some(b)) if b >= a && b - a < 4096 => out.extend(a..=b),
            (Some(a), None) => out.push(a),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// `PERF_RECORD_SAMPLE`.
pub const RECORD_SAMPLE: u32 = 9;
/// `PERF_RECORD_LOST`: `{id, lost}`.
pub const RECORD_LOST: u32 = 2;
