//! Goroutine ids from the g register of a sample (R14 in ABIInternal code), read from the
//! target's memory in one batch per drain of the ring buffers. A g is believed only if the
//! sample's stack pointer lies on its stack: in assembly (ABI0) code R14 may hold anything.

use std::collections::HashMap;

use goscope_runtime::Runtime;
use goscope_target::Memory;

/// What a g register value turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GInfo {
    /// `g.goid` (0 for the system goroutines g0 and gsignal).
    pub goid: u64,
    /// `g.stack.lo`, `g.stack.hi`.
    pub stack: (u64, u64),
}

/// Resolves g addresses to goroutine ids, in batches.
pub struct GoroutineIds {
    goid_off: u64,
    lo_off: u64,
    hi_off: u64,
    span: usize,
    cache: HashMap<u64, Option<GInfo>>,
}

impl GoroutineIds {
    /// For the program whose runtime is `rt`.
    pub fn new(rt: &Runtime<'_>) -> GoroutineIds {
        let o = rt.offsets();
        let span = (o.g_goid.max(o.g_stack_hi) + 8).min(4096) as usize;
        GoroutineIds {
            goid_off: o.g_goid,
            lo_off: o.g_stack_lo,
            hi_off: o.g_stack_hi,
            span,
            cache: HashMap::new(),
        }
    }

    /// Forgets what was read: goroutines end and their g is reused.
    pub fn forget(&mut self) {
        self.cache.clear();
    }

    /// Reads every g of `gs` not yet known, in one batch.
    pub fn load(&mut self, mem: &dyn Memory, gs: impl IntoIterator<Item = u64>) {
        let mut want: Vec<u64> = gs
            .into_iter()
            .filter(|g| *g != 0 && !self.cache.contains_key(g))
            .collect();
        want.sort_unstable();
        want.dedup();
        if want.is_empty() {
            return;
        }
        let mut bufs: Vec<Vec<u8>> = want.iter().map(|_| vec![0u8; self.span]).collect();
        let mut reqs: Vec<(u64, &mut [u8])> = want
            .iter()
            .zip(bufs.iter_mut())
            .map(|(&g, b)| (g, b.as_mut_slice()))
            .collect();
        let results = mem.read_many(&mut reqs);
        for ((g, buf), r) in want.iter().zip(&bufs).zip(results) {
            let le = |o: u64| {
                buf.get(o as usize..o as usize + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
            };
            let info = match (r, le(self.goid_off), le(self.lo_off), le(self.hi_off)) {
                (Ok(()), Some(goid), Some(lo), Some(hi)) if lo < hi => Some(GInfo {
                    goid,
                    stack: (lo, hi),
                }),
                _ => None,
            };
            self.cache.insert(*g, info);
        }
    }

    /// The goroutine id of `g` if `sp` is on its stack (after [`GoroutineIds::load`]).
    pub fn id(&self, g: u64, sp: u64) -> Option<u64> {
        let info = self.cache.get(&g).copied().flatten()?;
        (info.stack.0 <= sp && sp < info.stack.1).then_some(info.goid)
    }
}
