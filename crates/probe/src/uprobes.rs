//! A set of uprobes on one executable file, on every CPU, all of one CPU's samples in one ring
//! buffer. The probes count for every process that maps the file; samples are filtered by
//! process id. Closing the descriptors removes the probes: the kernel cleans up even if goscope
//! is killed.

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::Path;

use crate::ProbeError;
use crate::perf::{self, Ring};
pub use crate::perf::{SampleSpec, sample, x86_reg};

/// Environment variable that makes goscope behave as if the kernel had no perf uprobes (to
/// test the ptrace fallback).
pub const DISABLE_ENV: &str = "GOSCOPE_NO_UPROBES";

/// One sample: a probe was hit.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// Runtime address of the probed instruction.
    pub ip: u64,
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// `CLOCK_MONOTONIC` nanoseconds.
    pub time_ns: u64,
    /// The user registers of the mask, in ascending bit order.
    pub regs: &'a [u64],
    /// The copied top of the user stack (from the stack pointer up).
    pub stack: &'a [u8],
    /// User return addresses of the call chain, innermost first (the first is the pc).
    pub callchain: &'a [u64],
}

/// Probes and their ring buffers.
pub struct ProbeSet {
    spec: SampleSpec,
    rings: Vec<Ring>,
    /// Every probe descriptor (those redirected into the rings included).
    fds: Vec<OwnedFd>,
    /// The file offset each of `fds` probes.
    fd_offsets: Vec<u64>,
    /// Probes placed (per address, not per CPU).
    placed: usize,
    lost: u64,
    regs_buf: Vec<u64>,
}

/// CPU-time samplers on every CPU (`cpu-clock`: it needs no hardware PMU).
pub fn cpu_samplers(hz: u64, spec: SampleSpec, ring_pages: usize) -> Result<ProbeSet, ProbeError> {
    let mut set = ProbeSet::empty(spec);
    for cpu in perf::online_cpus() {
        let fd = perf::open_cpu_clock(cpu, hz, spec).map_err(|e| {
            ProbeError::Unavailable(format!(
                "the kernel refused a cpu-clock sampler ({e}); sampling every CPU needs root or CAP_PERFMON"
            ))
        })?;
        let ring = Ring::map(fd, ring_pages).map_err(|e| ProbeError::Io {
            what: "mapping a perf ring buffer".into(),
            source: e,
        })?;
        set.rings.push(ring);
        set.placed += 1;
    }
    Ok(set)
}

/// Why one probe could not be placed.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The file offset asked for.
    pub offset: u64,
    /// The kernel's answer.
    pub reason: String,
}

impl ProbeSet {
    /// Opens probes at `offsets` of the executable `path` on every online CPU, disabled.
    /// Offsets the kernel refuses are returned (with its reason), not fatal; it is an error
    /// only when perf uprobes are unavailable or none can be placed.
    pub fn open(
        path: &Path,
        offsets: &[u64],
        spec: SampleSpec,
        ring_pages: usize,
    ) -> Result<(ProbeSet, Vec<Refused>), ProbeError> {
        if std::env::var_os(DISABLE_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
            return Err(ProbeError::Unavailable(format!("{DISABLE_ENV} is set")));
        }
        let pmu = perf::uprobe_pmu_type().map_err(|e| {
            ProbeError::Unavailable(format!(
                "no uprobe PMU in /sys/bus/event_source/devices ({e}); the kernel needs CONFIG_UPROBE_EVENTS"
            ))
        })?;
        use std::os::unix::ffi::OsStrExt;
        let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            ProbeError::Unsupported(format!("{}: a path with a NUL byte", path.display()))
        })?;
        let cpus = perf::online_cpus();
        let limit = perf::raise_open_file_limit();
        let need = (offsets.len() * cpus.len()) as u64 + 64;
        if need > limit {
            return Err(ProbeError::Unsupported(format!(
                "{} probes on {} CPUs need {need} open files; the limit is {limit} (raise it with ulimit -n)",
                offsets.len(),
                cpus.len()
            )));
        }
        let mut set = ProbeSet::empty(spec);
        let mut refused = Vec::new();
        let mut ring_of_cpu: Vec<Option<usize>> = vec![None; cpus.len()];
        for &off in offsets {
            let mut ok = true;
            for (ci, &cpu) in cpus.iter().enumerate() {
                let fd = match perf::open_uprobe(pmu, &cpath, off, cpu, spec) {
                    Ok(fd) => fd,
                    Err(e) => {
                        if set.placed == 0 && refused.is_empty() {
                            if let Some(code) = e.raw_os_error()
                                && (code == libc::EACCES || code == libc::EPERM)
                            {
                                return Err(ProbeError::Unavailable(format!(
                                    "the kernel refused ({e}): uprobes need root or CAP_PERFMON"
                                )));
                            }
                            if e.raw_os_error() == Some(libc::ENOENT) && ci == 0 {
                                return Err(ProbeError::Unavailable(format!(
                                    "the uprobe PMU refused the event ({e})"
                                )));
                            }
                        }
                        refused.push(Refused {
                            offset: off,
                            reason: e.to_string(),
                        });
                        ok = false;
                        break;
                    }
                };
                match ring_of_cpu[ci] {
                    None => {
                        let ring = Ring::map(fd, ring_pages).map_err(|e| ProbeError::Io {
                            what: "mapping a perf ring buffer".into(),
                            source: e,
                        })?;
                        ring_of_cpu[ci] = Some(set.rings.len());
                        set.rings.push(ring);
                    }
                    Some(r) => {
                        perf::redirect(&fd, set.rings[r].fd()).map_err(|e| ProbeError::Io {
                            what: "sharing a perf ring buffer".into(),
                            source: e,
                        })?;
                        set.fds.push(fd);
                        set.fd_offsets.push(off);
                    }
                }
            }
            if ok {
                set.placed += 1;
            }
        }
        if set.placed == 0 {
            let why = refused
                .first()
                .map_or_else(String::new, |r| format!(": {}", r.reason));
            return Err(ProbeError::Unavailable(format!(
                "the kernel accepted none of {} probes{why}",
                offsets.len()
            )));
        }
        Ok((set, refused))
    }

    fn empty(spec: SampleSpec) -> ProbeSet {
        ProbeSet {
            spec,
            rings: Vec::new(),
            fds: Vec::new(),
            fd_offsets: Vec::new(),
            placed: 0,
            lost: 0,
            regs_buf: Vec::new(),
        }
    }

    /// Probes placed.
    pub fn placed(&self) -> usize {
        self.placed
    }

    fn all_fds(&self) -> impl Iterator<Item = &OwnedFd> {
        self.rings.iter().map(Ring::fd).chain(self.fds.iter())
    }

    /// Starts every probe.
    pub fn enable(&self) -> Result<(), ProbeError> {
        for fd in self.all_fds() {
            perf::enable(fd).map_err(|e| ProbeError::Io {
                what: "enabling a uprobe".into(),
                source: e,
            })?;
        }
        Ok(())
    }

    /// Stops every probe (samples already taken stay readable).
    pub fn disable(&self) {
        for fd in self.all_fds() {
            let _ = perf::disable(fd);
        }
    }

    /// Samples lost because a ring buffer was full.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Waits up to `timeout_ms` for samples, then shows each waiting sample of process `pid`
    /// to `visit`.
    pub fn read(&mut self, pid: u32, timeout_ms: i32, mut visit: impl FnMut(&Sample<'_>)) {
        let fds: Vec<&OwnedFd> = self.rings.iter().map(Ring::fd).collect();
        perf::poll(&fds, timeout_ms);
        let spec = self.spec;
        let nregs = spec.regs_mask.count_ones() as usize;
        let mut lost = 0u64;
        let regs_buf = &mut self.regs_buf;
        for ring in &mut self.rings {
            ring.drain(|kind, body| {
                if kind == perf::RECORD_LOST {
                    lost += read_u64(body, 8).unwrap_or(0);
                    return;
                }
                if kind != perf::RECORD_SAMPLE {
                    return;
                }
                if let Some(s) = parse_sample(body, spec, nregs, regs_buf)
                    && s.pid == pid
                {
                    visit(&s);
                }
            });
        }
        self.lost += lost;
    }
}

impl ProbeSet {
    /// Removes every probe, the hottest first (`heat` of a file offset: how often it was hit),
    /// telling `progress(done, total)` along the way. Each removal waits for an RCU grace
    /// period in the kernel (tens of milliseconds, serialized): a thousand probes take a
    /// minute, during which the remaining ones still trap. The hottest go first so that the
    /// program regains its speed at once.
    pub fn remove(mut self, heat: impl Fn(u64) -> u64, mut progress: impl FnMut(usize, usize)) {
        self.disable();
        let mut fds: Vec<(u64, OwnedFd)> = std::mem::take(&mut self.fd_offsets)
            .into_iter()
            .zip(std::mem::take(&mut self.fds))
            .collect();
        fds.sort_by_key(|(off, _)| std::cmp::Reverse(heat(*off)));
        let total = fds.len() + self.rings.len();
        for (i, (_, fd)) in fds.into_iter().enumerate() {
            drop(fd);
            progress(i + 1, total);
        }
        let n = total - self.rings.len();
        for (i, ring) in std::mem::take(&mut self.rings).into_iter().enumerate() {
            drop(ring);
            progress(n + i + 1, total);
        }
    }
}

impl Drop for ProbeSet {
    fn drop(&mut self) {
        // Disabling stops new samples at once; closing the descriptors (after this) removes
        // the probes.
        self.disable();
    }
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn parse_sample<'a>(
    body: &'a [u8],
    spec: SampleSpec,
    nregs: usize,
    regs: &'a mut Vec<u64>,
) -> Option<Sample<'a>> {
    let mut at = 0usize;
    let mut s = Sample {
        ip: 0,
        pid: 0,
        tid: 0,
        time_ns: 0,
        regs: &[],
        stack: &[],
        callchain: &[],
    };
    if spec.sample_type & sample::IP != 0 {
        s.ip = read_u64(body, at)?;
        at += 8;
    }
    if spec.sample_type & sample::TID != 0 {
        let v = read_u64(body, at)?;
        s.pid = v as u32;
        s.tid = (v >> 32) as u32;
        at += 8;
    }
    if spec.sample_type & sample::TIME != 0 {
        s.time_ns = read_u64(body, at)?;
        at += 8;
    }
    regs.clear();
    let mut chain_len = 0usize;
    if spec.sample_type & sample::CALLCHAIN != 0 {
        let nr = read_u64(body, at)? as usize;
        at += 8;
        if nr > 4096 {
            return None;
        }
        // Context markers (PERF_CONTEXT_USER and the like) are the top 4095 values.
        let mut user = false;
        for _ in 0..nr {
            let ip = read_u64(body, at)?;
            at += 8;
            if ip >= (-4095i64) as u64 {
                user = ip == (-512i64) as u64;
                continue;
            }
            if user {
                regs.push(ip);
                chain_len += 1;
            }
        }
    }
    if spec.sample_type & sample::REGS_USER != 0 {
        let abi = read_u64(body, at)?;
        at += 8;
        if abi != 0 {
            for _ in 0..nregs {
                regs.push(read_u64(body, at)?);
                at += 8;
            }
        }
    }
    let mut stack: &[u8] = &[];
    if spec.sample_type & sample::STACK_USER != 0 {
        let size = read_u64(body, at)? as usize;
        at += 8;
        if size != 0 {
            let data = body.get(at..at.checked_add(size)?)?;
            at += size;
            let dyn_size = read_u64(body, at)? as usize;
            stack = &data[..dyn_size.min(size)];
        }
    }
    s.stack = stack;
    let (chain, rest) = regs.split_at(chain_len);
    s.callchain = chain;
    s.regs = rest;
    Some(s)
}

/// The value of register `reg` (an [`x86_reg`] index) in a sample taken with `mask`.
pub fn reg(sample: &Sample<'_>, mask: u64, reg: u32) -> Option<u64> {
    if mask & (1 << reg) == 0 {
        return None;
    }
    let i = (mask & ((1u64 << reg) - 1)).count_ones() as usize;
    sample.regs.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_read_field_by_field_and_a_short_one_is_refused() {
        let spec = SampleSpec {
            sample_type: sample::IP | sample::TID | sample::TIME | sample::REGS_USER,
            regs_mask: (1 << x86_reg::SP) | (1 << x86_reg::R14),
            stack_bytes: 0,
        };
        let mut body = Vec::new();
        for v in [0x401000u64, (7u64 << 32) | 5, 99, 2, 0x7000, 0xc000] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        let mut regs = Vec::new();
        let s = parse_sample(&body, spec, 2, &mut regs).unwrap();
        assert_eq!((s.ip, s.pid, s.tid, s.time_ns), (0x401000, 5, 7, 99));
        assert_eq!(reg(&s, spec.regs_mask, x86_reg::SP), Some(0x7000));
        assert_eq!(reg(&s, spec.regs_mask, x86_reg::R14), Some(0xc000));
        assert_eq!(reg(&s, spec.regs_mask, x86_reg::AX), None);
        let mut regs = Vec::new();
        assert!(parse_sample(&body[..40], spec, 2, &mut regs).is_none());
    }
}
