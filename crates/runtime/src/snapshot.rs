//! [`Snapshot`]: the Go runtime's state at one stop of one target — a core file, a live process
//! paused for a moment, or a copy taken of it. Cheap to make again and to drop: everything fixed
//! per binary lives in the [`Runtime`] it borrows.

use goscope_target::{Memory, Target, Thread};
use serde::Serialize;

use crate::globals::{FoundBy, Global};
use crate::offsets::Offsets;
use crate::reader::Reader;
use crate::runtime::Runtime;
use crate::types::Types;

pub use crate::runtime::{RuntimeError, Special};

/// One M (OS thread of the Go scheduler).
#[derive(Debug, Clone, Serialize)]
pub struct MInfo {
    /// Address of the `m`.
    #[serde(serialize_with = "crate::hex")]
    pub addr: u64,
    /// `m.id`.
    pub id: i64,
    /// The kernel thread id (`m.procid`).
    pub tid: u64,
    /// `m.g0`: the scheduler stack.
    #[serde(serialize_with = "crate::hex")]
    pub g0: u64,
    /// `m.gsignal`: the signal handler stack.
    #[serde(serialize_with = "crate::hex")]
    pub gsignal: u64,
    /// `m.curg`: the goroutine it runs, 0 if none.
    #[serde(serialize_with = "crate::hex")]
    pub curg: u64,
    /// `m.lockedg`: the goroutine locked to it, 0 if none.
    #[serde(serialize_with = "crate::hex")]
    pub lockedg: u64,
    /// `m.throwing` (fatal error in progress), 0 if none.
    pub throwing: i32,
    /// `m.dying` (panic or throw printing), 0 if none.
    pub dying: i32,
    /// Whether it is running C code (`m.incgo`).
    pub incgo: bool,
    /// `m.vdsoSP`, `m.vdsoPC`: where Go code called into the vDSO, if it is there.
    #[serde(skip)]
    pub vdso: (u64, u64),
}

/// Bounds of a goroutine stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct StackBounds {
    /// `stack.lo`.
    pub lo: u64,
    /// `stack.hi`.
    pub hi: u64,
}

impl StackBounds {
    /// Whether `sp` is inside.
    pub fn contains(&self, sp: u64) -> bool {
        self.lo < self.hi && sp >= self.lo && sp <= self.hi
    }
}

/// The runtime's state at one stop of one target.
pub struct Snapshot<'r, 'b> {
    /// What is fixed per binary.
    pub rt: &'r Runtime<'b>,
    pub(crate) mem: &'r dyn Memory,
    /// PIE load bias: runtime address minus link-time address.
    pub bias: u64,
    pub(crate) threads: &'r [Thread],
    pub(crate) allgs: Option<Global>,
    pub(crate) allm: Option<Global>,
    pub(crate) allp: Option<Global>,
    pub(crate) ms: Vec<MInfo>,
    /// The target's monotonic clock at the stop, in the runtime's `nanotime` units, if it has one.
    pub(crate) clock: Option<i64>,
    /// Problems found while reading this stop, for the user (the runtime's own are in
    /// [`Runtime::warnings`]).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Snapshot<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("runtime", self.rt)
            .field("ms", &self.ms.len())
            .finish()
    }
}

/// Most goroutines read: far beyond real programs (which reach millions), and a bound on what
/// a corrupt `allgs` header can make goscope do.
const MAX_GOROUTINES: u64 = 1 << 24;

/// Most Ms followed along `m.alllink`: a corrupt list must not loop.
const MAX_MS: usize = 100_000;

impl<'r, 'b> Snapshot<'r, 'b> {
    /// Reads the runtime's state from `target`: where its globals are (checked against its
    /// memory) and its Ms.
    pub fn new(rt: &'r Runtime<'b>, target: &'r dyn Target) -> Snapshot<'r, 'b> {
        let mut s = Snapshot::with_memory(rt, target, target.bias(), target.threads());
        s.clock = target.stop().monotonic_ns;
        s
    }

    /// [`Snapshot::new`] from parts: memory, load bias and threads.
    pub fn with_memory(
        rt: &'r Runtime<'b>,
        mem: &'r dyn Memory,
        bias: u64,
        threads: &'r [Thread],
    ) -> Snapshot<'r, 'b> {
        let mut s = Snapshot {
            rt,
            mem,
            bias,
            threads,
            allgs: None,
            allm: None,
            allp: None,
            ms: Vec::new(),
            clock: None,
            warnings: Vec::new(),
        };
        s.find_globals();
        s.ms = s.read_ms();
        s
    }

    /// The memory being read.
    pub fn memory(&self) -> &'r dyn Memory {
        self.mem
    }

    /// A [`Reader`] of this stop's memory.
    pub fn reader(&self) -> Reader<'r, 'b> {
        Reader::new(self.rt, self.mem, self.bias)
    }

    /// Type descriptor reader.
    pub fn types(&self) -> Types<'_> {
        Types::new(
            self.mem,
            &self.rt.off,
            self.rt.types_base.wrapping_add(self.bias),
            self.rt.minor,
        )
    }

    /// The resolved field offsets.
    pub fn offsets(&self) -> &'r Offsets {
        &self.rt.off
    }

    /// The OS threads.
    pub fn threads(&self) -> &'r [Thread] {
        self.threads
    }

    /// Every M, from `runtime.allm`.
    pub fn ms(&self) -> &[MInfo] {
        &self.ms
    }

    /// How the globals were found: `(name, runtime address, method)`.
    pub fn globals(&self) -> Vec<(&'static str, u64, FoundBy)> {
        let mut v = Vec::new();
        for (n, g) in [
            ("runtime.allgs", self.allgs),
            ("runtime.allm", self.allm),
            ("runtime.allp", self.allp),
        ] {
            if let Some(g) = g {
                v.push((n, g.addr.wrapping_add(self.bias), g.found_by));
            }
        }
        v
    }

    /// Reads a pointer-sized word; 0 if unreadable.
    pub(crate) fn word(&self, addr: u64) -> u64 {
        self.mem.read_u64(addr).unwrap_or(0)
    }

    fn looks_like_m(&self, m: u64) -> bool {
        if m == 0 || m % 8 != 0 {
            return false;
        }
        let g0 = self.word(m.wrapping_add(self.rt.off.m_g0));
        g0 != 0 && self.word(g0.wrapping_add(self.rt.off.g_m)) == m
    }

    fn find_globals(&mut self) {
        let cands = self.rt.global_candidates();
        let bias = self.bias;
        // allgs: a slice whose first element is a g with a plausible goid and a stack.
        self.allgs = cands.allgs.iter().copied().find(|c| {
            let a = c.addr.wrapping_add(bias);
            let (ptr, len, cap) = (
                self.word(a),
                self.word(a.wrapping_add(8)),
                self.word(a.wrapping_add(16)),
            );
            if c.found_by != FoundBy::Code {
                return true;
            }
            ptr != 0 && len <= cap && len > 0 && {
                let g = self.word(ptr);
                let (lo, hi) = (
                    self.word(g.wrapping_add(self.rt.off.g_stack_lo)),
                    self.word(g.wrapping_add(self.rt.off.g_stack_hi)),
                );
                g != 0 && lo < hi && hi - lo <= 1 << 30
            }
        });
        self.allm = cands.allm.iter().copied().find(|c| {
            c.found_by != FoundBy::Code || self.looks_like_m(self.word(c.addr.wrapping_add(bias)))
        });
        self.allp = cands.allp.iter().copied().find(|c| {
            if c.found_by != FoundBy::Code {
                return true;
            }
            let a = c.addr.wrapping_add(bias);
            let (ptr, len) = (self.word(a), self.word(a.wrapping_add(8)));
            let Some(pid) = self.rt.off.p_id else {
                return false;
            };
            len > 0
                && len <= 1 << 16
                && (0..len.min(4)).all(|i| {
                    let p = self.word(ptr.wrapping_add(8 * i));
                    p != 0 && self.mem.read_u32(p.wrapping_add(pid)).ok() == Some(i as u32)
                })
        });
        if self.allgs.is_none() {
            self.warnings.push(
                "runtime.allgs not found (no symbols, no DWARF, and runtime.allgadd's code did \
                 not name it): goroutines cannot be listed"
                    .into(),
            );
        }
        if self.allm.is_none() {
            self.warnings
                .push("runtime.allm not found: threads are not tied to Ms".into());
        }
    }

    fn read_ms(&self) -> Vec<MInfo> {
        let Some(head) = self.allm else {
            return Vec::new();
        };
        let o = &self.rt.off;
        let mut out = Vec::new();
        let mut m = self.word(head.addr.wrapping_add(self.bias));
        let mut seen = std::collections::HashSet::new();
        while m != 0 && out.len() < MAX_MS && seen.insert(m) {
            let i32_at = |off: Option<u64>| {
                off.and_then(|o| self.mem.read_u32(m.wrapping_add(o)).ok())
                    .map_or(0, |v| v as i32)
            };
            out.push(MInfo {
                addr: m,
                id: self.word(m.wrapping_add(o.m_id)) as i64,
                tid: self.word(m.wrapping_add(o.m_procid)),
                g0: self.word(m.wrapping_add(o.m_g0)),
                gsignal: self.word(m.wrapping_add(o.m_gsignal)),
                curg: self.word(m.wrapping_add(o.m_curg)),
                lockedg: self.word(m.wrapping_add(o.m_lockedg)),
                throwing: i32_at(o.m_throwing),
                dying: i32_at(o.m_dying),
                incgo: o
                    .m_incgo
                    .and_then(|x| self.mem.read_u8(m.wrapping_add(x)).ok())
                    .unwrap_or(0)
                    != 0,
                vdso: (
                    o.m_vdso_sp.map_or(0, |x| self.word(m.wrapping_add(x))),
                    o.m_vdso_pc.map_or(0, |x| self.word(m.wrapping_add(x))),
                ),
            });
            m = self.word(m.wrapping_add(o.m_alllink));
        }
        out
    }

    /// The M at address `m`.
    pub fn m_at(&self, m: u64) -> Option<&MInfo> {
        self.ms.iter().find(|x| x.addr == m)
    }

    /// The M running on thread `tid`.
    pub fn m_of_thread(&self, tid: u32) -> Option<&MInfo> {
        self.ms.iter().find(|x| x.tid == u64::from(tid))
    }

    /// The thread with id `tid`.
    pub fn thread(&self, tid: u64) -> Option<&'r Thread> {
        self.threads.iter().find(|t| u64::from(t.tid) == tid)
    }

    /// The stack bounds of the g at `g`.
    pub fn stack_bounds(&self, g: u64) -> StackBounds {
        if g == 0 {
            return StackBounds::default();
        }
        StackBounds {
            lo: self.word(g.wrapping_add(self.rt.off.g_stack_lo)),
            hi: self.word(g.wrapping_add(self.rt.off.g_stack_hi)),
        }
    }

    /// Addresses of every g in `runtime.allgs` (g0 and gsignal stacks are not there), and a
    /// warning if part of the list is unreadable.
    pub fn goroutine_addrs(&self) -> Result<(Vec<u64>, Option<String>), RuntimeError> {
        let g = self
            .allgs
            .ok_or_else(|| RuntimeError::NoGoroutines("not found in the binary".into()))?;
        let a = g.addr.wrapping_add(self.bias);
        let err = |e: goscope_target::MemError| RuntimeError::NoGoroutines(e.to_string());
        let ptr = self.mem.read_u64(a).map_err(err)?;
        let len = self.mem.read_u64(a.wrapping_add(8)).map_err(err)?;
        let cap = self.mem.read_u64(a.wrapping_add(16)).map_err(err)?;
        if len > cap || len > MAX_GOROUTINES {
            return Err(RuntimeError::NoGoroutines(format!(
                "implausible slice header (len {len}, cap {cap})"
            )));
        }
        let mut out = Vec::with_capacity(len.min(1 << 20) as usize);
        let mut missing = 0u64;
        const CHUNK: u64 = 4096;
        let mut i = 0;
        while i < len {
            let n = CHUNK.min(len - i);
            match self.mem.read_vec(ptr.wrapping_add(i * 8), (n * 8) as usize) {
                Ok(b) => out.extend(
                    b.chunks_exact(8)
                        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
                ),
                Err(_) => {
                    // Partly present (a truncated core): read entry by entry; wholly absent:
                    // count it missing at once.
                    let first = self.mem.read_u64(ptr.wrapping_add(i * 8)).is_ok();
                    let last = self.mem.read_u64(ptr + (i + n - 1) * 8).is_ok();
                    if first || last {
                        for j in i..i + n {
                            match self.mem.read_u64(ptr.wrapping_add(j * 8)) {
                                Ok(g) => out.push(g),
                                Err(_) => missing += 1,
                            }
                        }
                    } else {
                        missing += n;
                    }
                }
            }
            i += n;
        }
        let warning = (missing > 0).then(|| {
            format!(
                "{missing} of {len} entries of the goroutine list (runtime.allgs) are not in \
                 the core; those goroutines are missing"
            )
        });
        Ok((out, warning))
    }

    /// The link-time address for runtime address `pc`.
    pub fn unbias(&self, pc: u64) -> u64 {
        pc.wrapping_sub(self.bias)
    }
}
