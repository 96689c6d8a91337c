//! What to copy from a live process so that goroutines can be analysed after it resumes: the
//! executable's writable data (the runtime's globals), every M and its g0 and signal stacks,
//! the goroutine list, every `g`, the used part of every goroutine stack, and what the
//! goroutines with labels or a panic point to. Copied in bulk (a few `process_vm_readv` calls
//! for thousands of ranges), so that a process with 10,000 goroutines is paused for a few
//! milliseconds.
//!
//! Without pausing (`--nonblocking`), the same copy races with the program: [`Runtime::recheck`]
//! reads every `g` again, copies again the goroutines that changed meanwhile, and reports those
//! that keep changing.

use goscope_target::live::{CopyBuilder, CopyStats};
use goscope_target::{Memory, Thread};
use serde::Serialize;

use crate::goroutine::{STATUS_DEAD, STATUS_RUNNING, STATUS_SYSCALL};
use crate::runtime::{Runtime, RuntimeError};
use crate::snapshot::Snapshot;

/// Most bytes copied of one goroutine stack (a stack can grow to 1 GB; real ones are KBs).
const MAX_STACK_COPY: u64 = 64 << 20;
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
    /// Goroutines that changed while being read and were copied again (only without pausing).
    pub reread: usize,
    /// Problems met.
    pub warnings: Vec<String>,
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

impl Runtime<'_> {
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

    /// Copies into `copy` (which reads through to the live process) everything the goroutine
    /// analysis reads. `threads` are the paused threads with registers (none when the process
    /// runs on).
    pub fn capture(
        &self,
        copy: &CopyBuilder<'_>,
        bias: u64,
        threads: &[Thread],
    ) -> Result<CaptureReport, RuntimeError> {
        let mut report = CaptureReport::default();
        // 1. The executable's writable data: allgs, allm, sched and the other globals.
        let mut wanted: Vec<(u64, u64)> = self
            .bin
            .segments()
            .filter(|s| s.writable)
            .map(|s| (s.addr.wrapping_add(bias), s.mem_size))
            .collect();
        for (a, e) in copy.prefetch(&mut wanted) {
            report
                .warnings
                .push(format!("writable data at {a:#x} unreadable: {e}"));
        }
        // 2. Globals checked, Ms read (each read is kept).
        let snap = Snapshot::with_memory(self, copy, bias, threads);
        report.warnings.extend(snap.warnings.iter().cloned());
        let (addrs, w) = snap.goroutine_addrs()?;
        report.warnings.extend(w);
        report.goroutines = addrs.len();
        // 3. Every g, and the g0 and gsignal of every M.
        let gsize = self.off.g_read_size;
        let mut wanted: Vec<(u64, u64)> = addrs.iter().map(|&a| (a, gsize)).collect();
        for m in snap.ms() {
            wanted.extend([(m.g0, gsize), (m.gsignal, gsize)]);
        }
        wanted.retain(|&(a, _)| a != 0);
        copy.prefetch(&mut wanted);
        // 4. The stacks.
        let mut stacks = Vec::with_capacity(addrs.len());
        let mut gbuf = vec![0u8; gsize as usize];
        let mut special = Vec::new();
        for &a in &addrs {
            if copy.read(a, &mut gbuf).is_err() {
                continue;
            }
            let g = self.brief(&gbuf);
            stacks.extend(self.stack_range(&g));
            if g.labels != 0 || g.panic != 0 {
                special.push(a);
            }
        }
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
                stacks.push((start, b.hi - start));
            }
        }
        for (a, e) in copy.prefetch(&mut stacks) {
            report
                .warnings
                .push(format!("stack memory at {a:#x} unreadable: {e}"));
        }
        // 5. What goroutines with labels or panics point to (heap), read through.
        for a in special {
            if let Ok(g) = snap.goroutine(a) {
                let _ = snap.panics(&g);
            }
        }
        report.copied = copy.stats();
        Ok(report)
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
            copy.prefetch(&mut stacks);
            suspects = changed.iter().map(|c| c.0).collect();
        }
        report.reread = changed_once.len();
        report.copied = copy.stats();
        Ok(())
    }
}
