//! What to copy from a live process so that goroutines can be analysed after it resumes: the
//! executable's writable data (the runtime's globals), every M and its g0 and signal stacks,
//! the goroutine list, every `g`, the used part of every goroutine stack, and what the
//! goroutines with labels or a panic point to. Copied in bulk (a few `process_vm_readv` calls
//! for thousands of ranges), so that a process with 10,000 goroutines is paused for a few
//! milliseconds.
//!
//! To keep the pause short the copy is taken twice: first while the program runs
//! ([`Runtime::capture`] with no threads), then, paused, [`Runtime::capture_paused`] reads again
//! everything that can have changed — the writable data, the Ms and their system stacks, every
//! `g` — and the stacks of the goroutines whose `g` changed, or that run. A goroutine whose `g`
//! is byte for byte the same has not run in between, so its stack is as copied before (other
//! goroutines may write a value into a parked goroutine's stack, a channel send, but never its
//! frames). The pause then costs a read of every `g`, not of every stack.
//!
//! Without pausing (`--nonblocking`), the copy races with the program: [`Runtime::recheck`]
//! reads every `g` again, copies again the goroutines that changed meanwhile, and reports those
//! that keep changing.

use std::collections::HashMap;
use std::time::Instant;

use goscope_target::live::{CopyBuilder, CopyStats};
use goscope_target::{Memory, Thread};
use serde::Serialize;

use crate::goroutine::{STATUS_DEAD, STATUS_RUNNING, STATUS_SYSCALL};
use crate::runtime::{Runtime, RuntimeError};
use crate::snapshot::Snapshot;

/// Most bytes copied of one goroutine stack (a stack can grow to 1 GB; real ones are KBs).
const MAX_STACK_COPY: u64 = 64 << 20;
/// `g`s closer than this are copied in one read: they are allocated side by side (448 bytes
/// apart in Go 1.26), and one read of a few neighbours costs less than one read each.
const G_GAP: u64 = 512;
/// While paused, stacks closer than this are copied in one read: one `process_vm_readv` range
/// costs about as much as copying 3 kB, and small stacks are allocated side by side. While the
/// process runs, each stack is read alone: memory matters more than time there.
const STACK_GAP: u64 = 2048;
/// What is copied of a system stack whose used part is unknown.
const SYSTEM_STACK_WINDOW: u64 = 64 << 10;

/// What a capture copied, and what it could not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureReport {
    /// Goroutines in `allgs` (dead ones included).
    pub goroutines: usize,
    /// Ranges and bytes copied.
    pub copied: CopyStats,
    /// Goroutines (`g` addresses) whose `g` changed between two reads and kept changing: their
    /// state and stack may be inconsistent (only without pausing).
    #[serde(skip)]
    pub torn: Vec<u64>,
    /// Goroutines whose stacks were copied again: changed since the first copy (while paused),
    /// or while being read (without pausing).
    pub reread: usize,
    /// A fingerprint of every `g` as first copied, to tell which changed by the pause.
    #[serde(skip)]
    g_prints: Prints,
    /// Problems met.
    pub warnings: Vec<String>,
    /// Where the time went: `(phase, microseconds since the capture started)`.
    pub phases_us: Vec<(&'static str, u64)>,
}

impl CaptureReport {
    fn phase(&mut self, name: &'static str, start: Instant) {
        self.phases_us
            .push((name, start.elapsed().as_micros() as u64));
    }
}

/// The fields of a `g` that say what to copy and whether it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GBrief {
    status: u32,
    goid: u64,
    lo: u64,
    hi: u64,
    sched_sp: u64,
    sched_pc: u64,
    syscall_sp: u64,
    labels: u64,
    panic: u64,
}

fn le(b: &[u8], off: u64, n: usize) -> u64 {
    let o = off as usize;
    let mut w = [0u8; 8];
    if let Some(s) = b.get(o..o + n) {
        w[..n].copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

/// A fingerprint of a `g`'s bytes: the sum of its 8-byte words each multiplied by its own odd
/// constant — independent multiplications, fast enough for 100,000 `g`s while the process is
/// paused. A change of one word always changes it (odd factors are invertible modulo 2^64);
/// a collision of several changes only costs a stale stack for one goroutine that moved, which
/// the unwinder then reports.
fn fingerprint(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = b.len() as u64;
    let mut k = K;
    let mut words = b.chunks_exact(8);
    for w in words.by_ref() {
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = h.wrapping_add(x.wrapping_mul(k));
        k = k.wrapping_add(2);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h.wrapping_add(u64::from_le_bytes(tail).wrapping_mul(k))
}

/// Hashes `g` addresses (already well spread) with one multiplication instead of SipHash.
#[derive(Default, Clone, Copy)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ (x >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// `g` address → fingerprint.
type Prints = HashMap<u64, u64, std::hash::BuildHasherDefault<AddrHasher>>;

/// What the `g`s said: stacks to copy, goroutines whose labels and panics to follow.
#[derive(Default)]
struct GScan {
    stacks: Vec<(u64, u64)>,
    /// Every `g`'s address and fingerprint.
    prints: Vec<(u64, u64)>,
    special: Vec<u64>,
    reread: usize,
}

impl<'b> Runtime<'b> {
    fn brief(&self, b: &[u8]) -> GBrief {
        let o = &self.off;
        GBrief {
            status: le(b, o.g_atomicstatus, 4) as u32 & !0x1000,
            goid: le(b, o.g_goid, 8),
            lo: le(b, o.g_stack_lo, 8),
            hi: le(b, o.g_stack_hi, 8),
            sched_sp: le(b, o.g_sched_sp, 8),
            sched_pc: le(b, o.g_sched_pc, 8),
            syscall_sp: le(b, o.g_syscallsp, 8),
            labels: o.g_labels.map_or(0, |x| le(b, x, 8)),
            panic: le(b, o.g_panic, 8),
        }
    }

    /// The part of a goroutine's stack the unwinder reads: from its innermost saved stack
    /// pointer to the top. A running goroutine's whole stack (its thread may be anywhere in it).
    fn stack_range(&self, g: &GBrief) -> Option<(u64, u64)> {
        if g.status == STATUS_DEAD || g.lo >= g.hi || g.hi - g.lo > 1 << 30 {
            return None;
        }
        let sp = match g.status {
            STATUS_RUNNING => g.lo,
            STATUS_SYSCALL if g.syscall_sp != 0 => g.syscall_sp,
            _ => g.sched_sp,
        };
        if sp < g.lo || sp > g.hi {
            return None;
        }
        let start = sp.max(g.hi.saturating_sub(MAX_STACK_COPY));
        Some((start, g.hi - start))
    }

    /// Copies the writable data and reads the goroutine list through `copy`; returns a
    /// snapshot over it and the `g` addresses.
    fn capture_globals<'s, 'm: 's>(
        &'s self,
        copy: &'s CopyBuilder<'m>,
        bias: u64,
        threads: &'s [Thread],
        report: &mut CaptureReport,
    ) -> Result<(Snapshot<'s, 'b>, Vec<u64>), RuntimeError> {
        let mut wanted: Vec<(u64, u64)> = self
            .bin
            .segments()
            .filter(|s| s.writable)
            .map(|s| (s.addr.wrapping_add(bias), s.mem_size))
            .collect();
        for (a, e) in copy.prefetch(&mut wanted, 0) {
            report
                .warnings
                .push(format!("writable data at {a:#x} unreadable: {e}"));
        }
        let snap = Snapshot::with_memory(self, copy, bias, threads);
        report.warnings.extend(snap.warnings.iter().cloned());
        let (addrs, w) = snap.goroutine_addrs()?;
        report.warnings.extend(w);
        report.goroutines = addrs.len();
        Ok((snap, addrs))
    }

    /// Reads every `g` of `addrs` (and the g0 and gsignal of every M, kept), deciding for each
    /// whether its stack must be copied (`copy_stack(address, fingerprint, brief)`).
    fn scan_gs(
        &self,
        copy: &CopyBuilder<'_>,
        snap: &Snapshot<'_, '_>,
        addrs: &[u64],
        keep: bool,
        copy_stack: impl Fn(u64, u64, &GBrief) -> bool + Sync,
    ) -> GScan {
        let gsize = self.off.g_read_size;
        let mut wanted: Vec<(u64, u64)> = addrs.iter().map(|&a| (a, gsize)).collect();
        let mut system: Vec<(u64, u64)> = snap
            .ms()
            .iter()
            .flat_map(|m| [(m.g0, gsize), (m.gsignal, gsize)])
            .filter(|&(a, _)| a != 0)
            .collect();
        if !keep {
            copy.prefetch(&mut system, G_GAP);
        } else {
            wanted.append(&mut system);
        }
        let (briefs, _) = copy.prefetch_map(&mut wanted, G_GAP, keep, |a, bytes| {
            let b = bytes?;
            let g = self.brief(b);
            let print = fingerprint(b);
            Some((a, g, print, copy_stack(a, print, &g)))
        });
        let mut scan = GScan::default();
        scan.prints.reserve(briefs.len());
        for (a, g, print, stack) in briefs.into_iter().flatten() {
            scan.prints.push((a, print));
            if stack {
                scan.reread += 1;
                scan.stacks.extend(self.stack_range(&g));
            }
            if g.labels != 0 || g.panic != 0 {
                scan.special.push(a);
            }
        }
        scan
    }

    /// Copies the stacks `scan` asks for and the system stacks of every M, then what goroutines
    /// with labels or panics point to (read through).
    fn capture_stacks(
        &self,
        copy: &CopyBuilder<'_>,
        snap: &Snapshot<'_, '_>,
        threads: &[Thread],
        mut scan: GScan,
        gap: u64,
        report: &mut CaptureReport,
    ) {
        scan.stacks.extend(self.system_stacks(snap, threads));
        for (a, e) in copy.prefetch(&mut scan.stacks, gap) {
            report
                .warnings
                .push(format!("stack memory at {a:#x} unreadable: {e}"));
        }
        for a in scan.special {
            if let Ok(g) = snap.goroutine(a) {
                let _ = snap.panics(&g);
            }
        }
        report.copied = copy.stats();
    }

    /// Copies into `copy` (which reads through to the live process) everything the goroutine
    /// analysis reads. `threads` are the paused threads with registers (none when the process
    /// runs on).
    pub fn capture(
        &self,
        copy: &CopyBuilder<'_>,
        bias: u64,
        threads: &[Thread],
    ) -> Result<CaptureReport, RuntimeError> {
        self.capture_keeping(copy, bias, threads, true)
    }

    /// [`Runtime::capture`] while the process runs, before [`Runtime::capture_paused`]: the
    /// `g`s are not kept (the paused copy reads them all again), only their fingerprints.
    pub fn capture_before_pause(
        &self,
        copy: &CopyBuilder<'_>,
        bias: u64,
    ) -> Result<CaptureReport, RuntimeError> {
        self.capture_keeping(copy, bias, &[], false)
    }

    fn capture_keeping(
        &self,
        copy: &CopyBuilder<'_>,
        bias: u64,
        threads: &[Thread],
        keep_gs: bool,
    ) -> Result<CaptureReport, RuntimeError> {
        let mut report = CaptureReport::default();
        let (snap, addrs) = self.capture_globals(copy, bias, threads, &mut report)?;
        let mut scan = self.scan_gs(copy, &snap, &addrs, keep_gs, |_, _, _| true);
        let prints: Prints = std::mem::take(&mut scan.prints).into_iter().collect();
        self.capture_stacks(copy, &snap, threads, scan, 0, &mut report);
        report.reread = 0;
        report.g_prints = prints;
        Ok(report)
    }

    /// With the process paused, after [`Runtime::capture`] copied it into `before` while it
    /// ran: copies into `copy` everything that can have changed since — the writable data, the
    /// Ms with their g0 and signal stacks, every `g`, the stacks of the goroutines whose `g`
    /// changed or that run, what goroutines with labels or panics point to. `copy` laid over
    /// `before` ([`CopyBuilder::finish_over`]) is then the process as it is paused.
    pub fn capture_paused(
        &self,
        copy: &CopyBuilder<'_>,
        before: &CaptureReport,
        bias: u64,
        threads: &[Thread],
    ) -> Result<CaptureReport, RuntimeError> {
        let mut report = CaptureReport::default();
        let start = Instant::now();
        let (snap, addrs) = self.capture_globals(copy, bias, threads, &mut report)?;
        report.phase("globals", start);
        let scan = self.scan_gs(copy, &snap, &addrs, true, |a, print, g| {
            g.status == STATUS_RUNNING || before.g_prints.get(&a) != Some(&print)
        });
        report.phase("goroutines", start);
        report.reread = scan.reread;
        self.capture_stacks(copy, &snap, threads, scan, STACK_GAP, &mut report);
        report.phase("stacks", start);
        Ok(report)
    }

    /// How much buffer [`Runtime::capture_paused`] will fill, given what [`Runtime::capture`]
    /// found while the process ran: reserve it ([`CopyBuilder::reserve`]) before pausing.
    pub fn paused_copy_size(&self, before: &CaptureReport) -> usize {
        let data: u64 = self
            .bin
            .segments()
            .filter(|s| s.writable)
            .map(|s| s.mem_size)
            .sum();
        let gs = (before.goroutines as u64 + 256) * (self.off.g_read_size + 64);
        usize::try_from(data + gs + (4 << 20)).unwrap_or(usize::MAX)
    }

    /// The used part of every M's g0 and signal stacks: from the thread's stack pointer when it
    /// is on them, else the whole stack when small, else its top.
    fn system_stacks(&self, snap: &Snapshot<'_, '_>, threads: &[Thread]) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for m in snap.ms() {
            let thread_sp = threads
                .iter()
                .find(|t| u64::from(t.tid) == m.tid)
                .map(|t| t.regs.sp());
            for g in [m.g0, m.gsignal] {
                let b = snap.stack_bounds(g);
                if b.lo >= b.hi {
                    continue;
                }
                let start = match thread_sp {
                    Some(sp) if b.contains(sp) => sp.min(b.hi),
                    _ if b.hi - b.lo <= 1 << 20 => b.lo,
                    _ => b.hi.saturating_sub(SYSTEM_STACK_WINDOW),
                };
                out.push((start, b.hi - start));
            }
        }
        out
    }

    /// For a copy taken while the process ran: reads every `g` again from `live`; goroutines
    /// whose status, stack bounds or saved context changed since they were copied are copied
    /// again (their `g` and stack), up to `rounds` times; those still changing are listed in
    /// `report.torn`.
    pub fn recheck(
        &self,
        copy: &CopyBuilder<'_>,
        live: &dyn Memory,
        bias: u64,
        report: &mut CaptureReport,
        rounds: usize,
    ) -> Result<(), RuntimeError> {
        let snap_addrs = {
            let snap = Snapshot::with_memory(self, copy, bias, &[]);
            snap.goroutine_addrs()?.0
        };
        let gsize = self.off.g_read_size as usize;
        let mut suspects: Vec<u64> = snap_addrs;
        let mut changed_once = std::collections::HashSet::new();
        for round in 0..=rounds {
            // Fresh reads of every suspect g, in bulk.
            let mut fresh = vec![0u8; gsize * suspects.len()];
            let mut reqs: Vec<(u64, &mut [u8])> = suspects
                .iter()
                .copied()
                .zip(fresh.chunks_mut(gsize))
                .collect();
            let results = live.read_many(&mut reqs);
            drop(reqs);
            let mut changed = Vec::new();
            let mut copied = vec![0u8; gsize];
            for (i, (&a, r)) in suspects.iter().zip(results).enumerate() {
                if r.is_err() || copy.read(a, &mut copied).is_err() {
                    continue;
                }
                let now = self.brief(&fresh[i * gsize..(i + 1) * gsize]);
                if now != self.brief(&copied) {
                    changed.push((a, now, i));
                }
            }
            if changed.is_empty() || round == rounds {
                report.torn = changed.iter().map(|c| c.0).collect();
                break;
            }
            // Copy those again: forget the old bytes, keep the fresh g, re-read the stack.
            let mut stacks = Vec::new();
            for &(a, now, i) in &changed {
                changed_once.insert(a);
                copy.forget(a, gsize as u64);
                if let Some((s, n)) = self.stack_range(&now) {
                    copy.forget(s, n);
                    stacks.push((s, n));
                }
                copy.insert(a, &fresh[i * gsize..(i + 1) * gsize]);
            }
            copy.prefetch(&mut stacks, 0);
            suspects = changed.iter().map(|c| c.0).collect();
        }
        report.reread = changed_once.len();
        report.copied = copy.stats();
        Ok(())
    }
}
