//! The analysis every view of goroutines shares — `goscope core`, `stacks`, `top` and the
//! debugger: reading every goroutine in parallel batches, their wait times, which frames are the
//! runtime's crash handling and which is the user's, how goroutines are grouped and filtered.

use goscope_target::MemError;
use rayon::prelude::*;

use crate::goroutine::{Frame, Goroutine, STATUS_SYSCALL, STATUS_WAITING};
use crate::runtime::RuntimeError;
use crate::snapshot::Snapshot;

/// Goroutines per parallel batch: bounds memory when streaming 100,000+ stacks.
pub const BATCH: usize = 8192;

/// Every goroutine's header, and what could not be read.
#[derive(Debug, Default)]
pub struct Goroutines<'b> {
    /// In `allgs` order; dead ones removed unless asked for.
    pub list: Vec<Goroutine<'b>>,
    /// Unreadable entries and missing parts of the list.
    pub warnings: Vec<String>,
}

impl<'r, 'b> Snapshot<'r, 'b> {
    /// Every goroutine's header (no stacks), in `allgs` order, dead ones removed unless `all`,
    /// with wait times. Read in parallel batches; only one batch of results is held at a time
    /// besides the list.
    pub fn goroutines(&self, all: bool) -> Result<Goroutines<'b>, RuntimeError> {
        let (addrs, w) = self.goroutine_addrs()?;
        let mut out = Goroutines {
            list: Vec::with_capacity(addrs.len()),
            warnings: w.into_iter().collect(),
        };
        let mut bad = 0usize;
        let mut first_bad: Option<(u64, MemError)> = None;
        for chunk in addrs.chunks(BATCH) {
            let results: Vec<(u64, Result<Goroutine<'b>, MemError>)> =
                chunk.par_iter().map(|&a| (a, self.goroutine(a))).collect();
            self.mem.release();
            for (a, r) in results {
                match r {
                    Ok(g) => {
                        if all || !g.is_dead() {
                            out.list.push(g);
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        first_bad.get_or_insert((a, e));
                        out.list.push(Goroutine::unreadable(a, e.to_string()));
                    }
                }
            }
        }
        if let Some((a, e)) = first_bad {
            out.warnings.push(format!(
                "{bad} goroutines could not be read (first: g at {a:#x}: {e}); they are listed as \
                 unreadable, the rest in full"
            ));
        }
        let now = self.now_estimate(&out.list);
        for g in &mut out.list {
            self.set_wait_minutes(g, now);
        }
        Ok(out)
    }

    /// Fills in the stacks of `gs`, in parallel.
    pub fn fill_stacks(&self, gs: &mut [Goroutine<'b>]) {
        gs.par_iter_mut().for_each(|g| self.fill_stack(g));
        self.mem.release();
    }

    /// "Now" in the runtime's monotonic nanoseconds (`nanotime`): the target's clock when it has
    /// one (a live process: `CLOCK_MONOTONIC` when it was read), else the newest timestamp the
    /// runtime left in memory — `sched.lastpoll`, the start of the last GC (`work.tstart`, the
    /// stamp GC puts on blocked goroutines) and every goroutine's `waitsince` — a lower bound.
    pub fn now_estimate(&self, goroutines: &[Goroutine<'_>]) -> i64 {
        if let Some(t) = self.clock {
            return t;
        }
        let mut now = goroutines.iter().map(|g| g.wait_since).max().unwrap_or(0);
        let (sched, work) = self.rt.sched_and_work();
        for (global, off) in [
            (work, self.rt.off.work_tstart),
            (sched, self.rt.off.sched_lastpoll),
        ] {
            if let (Some(g), Some(off)) = (global, off) {
                let addr = g.addr.wrapping_add(self.bias).wrapping_add(off);
                now = now.max(self.mem.read_u64(addr).unwrap_or(0) as i64);
            }
        }
        now
    }

    /// Sets `wait_minutes` as the runtime's goroutine header computes it, against `now`.
    pub fn set_wait_minutes(&self, g: &mut Goroutine<'_>, now: i64) {
        if (g.status_code == STATUS_WAITING || g.status_code == STATUS_SYSCALL) && g.wait_since != 0
        {
            g.wait_minutes = Some((now - g.wait_since).max(0) / 60_000_000_000);
            g.state = g.state();
        }
    }
}

/// How many innermost frames are the runtime's own crash handling: those above the first
/// `gopanic`, `throw`, `fatal` or `sigpanic`, when all of them are runtime frames.
pub fn crash_machinery(frames: &[Frame<'_>]) -> usize {
    let Some(i) = frames.iter().position(|f| {
        matches!(
            &*f.function,
            "runtime.gopanic" | "runtime.throw" | "runtime.fatal" | "runtime.sigpanic"
        )
    }) else {
        return 0;
    };
    if frames[..i]
        .iter()
        .all(|f| f.function.starts_with("runtime."))
    {
        i
    } else {
        0
    }
}

/// Whether `function` belongs to the runtime or its internal packages.
pub fn is_runtime_function(function: &str) -> bool {
    function.starts_with("runtime.")
        || function.starts_with("internal/")
        || function.starts_with("runtime/internal/")
}

/// The index of the innermost frame not in the runtime: where user code is.
pub fn user_frame(frames: &[Frame<'_>]) -> Option<usize> {
    frames
        .iter()
        .position(|f| !is_runtime_function(&f.function))
}

/// The frame a listing marks by default: the innermost user frame, else the first frame above
/// the runtime's crash handling.
pub fn default_frame(frames: &[Frame<'_>]) -> usize {
    user_frame(frames).unwrap_or_else(|| crash_machinery(frames))
}

impl Frame<'_> {
    /// The runtime address of the instruction this frame is at: the call instruction for a
    /// return address (any byte of it: `pc - 1`), the pc itself for a fault, a signal, or a
    /// function's entry. Listings mark the instruction containing it.
    pub fn instruction_pc(&self) -> u64 {
        if self.trap || self.offset == Some(0) {
            self.pc
        } else {
            self.pc.saturating_sub(1)
        }
    }
}

/// What makes goroutines "the same" in grouped views: state and every frame's function, file and
/// line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// The bracketed state without the wait time (`chan receive`).
    pub state: String,
    /// `(function, file, line)` of every frame, innermost first.
    pub frames: Vec<(String, String, i32)>,
}

impl Goroutine<'_> {
    /// The grouping key of this goroutine (its stack must be filled in). Wait times are left
    /// out so that goroutines blocked at one place group together however long they waited.
    pub fn group_key(&self) -> GroupKey {
        GroupKey {
            state: self.state_without_wait(),
            frames: self
                .frames
                .iter()
                .map(|f| (f.function.to_string(), f.file.to_string(), f.line))
                .collect(),
        }
    }
}

/// Which goroutines a view shows: `state=TEXT`, `func=TEXT`, or TEXT matching either.
#[derive(Debug, Clone)]
pub enum GoroutineFilter {
    /// The status or wait reason equals the text (case-insensitive).
    State(String),
    /// A frame's function contains the text.
    Func(String),
    /// Either.
    Either(String),
}

impl GoroutineFilter {
    /// Parses `state=TEXT`, `func=TEXT` or `TEXT`.
    pub fn parse(s: &str) -> GoroutineFilter {
        if let Some(v) = s.strip_prefix("state=") {
            GoroutineFilter::State(v.to_lowercase())
        } else if let Some(v) = s.strip_prefix("func=") {
            GoroutineFilter::Func(v.to_string())
        } else {
            GoroutineFilter::Either(s.to_string())
        }
    }

    fn state_matches(g: &Goroutine<'_>, v: &str) -> bool {
        g.status.eq_ignore_ascii_case(v)
            || g.wait_reason
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(v))
    }

    fn func_matches(g: &Goroutine<'_>, v: &str) -> bool {
        g.frames.iter().any(|f| f.function.contains(v))
    }

    /// Whether the filter needs stacks (function names) to decide.
    pub fn needs_frames(&self) -> bool {
        !matches!(self, GoroutineFilter::State(_))
    }

    /// Whether `g` (with its stack filled in when [`GoroutineFilter::needs_frames`]) passes.
    pub fn matches(&self, g: &Goroutine<'_>) -> bool {
        match self {
            GoroutineFilter::State(v) => Self::state_matches(g, v),
            GoroutineFilter::Func(v) => Self::func_matches(g, v),
            GoroutineFilter::Either(v) => Self::state_matches(g, v) || Self::func_matches(g, v),
        }
    }
}
