//! The Go runtime as data: layouts of its structs per release, its globals, goroutines with
//! their states and stacks, Ms, panics and fatal errors, maps and values — read from any
//! [`goscope_target::Memory`] (a core dump joined with its executable), with or without DWARF.
//!
//! [`Process`] is the entry point.

#![forbid(unsafe_code)]

#[rustfmt::skip]
mod builtin;
mod cache;
pub mod codescan;
pub mod dwarf;
pub mod fuzzing;
pub mod globals;
pub mod goroutine;
pub mod layouts;
pub mod maps;
pub mod offsets;
pub mod panic;
pub mod process;
pub mod types;
pub mod unwind;
pub mod values;

pub use goroutine::{CreatedBy, Frame, Goroutine};
pub use layouts::{LayoutSource, Layouts};
pub use maps::MapContents;
pub use panic::{Crash, PanicInfo};
pub use process::{MInfo, Process, RuntimeError};
pub use values::{Typed, Value};

/// Serializes an address as `"0x4b93e8"` (JSON numbers lose precision above 2^53).
pub fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// [`hex`] for optional addresses.
pub fn hex_opt<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

impl Process<'_> {
    /// The newest monotonic timestamp the runtime left in memory: the core has no clock, so
    /// this stands in for "now" when computing how long goroutines have waited (a lower bound).
    /// Candidates: `sched.lastpoll`, the start of the last GC (`work.tstart`, the stamp GC puts
    /// on blocked goroutines) and every goroutine's `waitsince`.
    pub fn now_estimate(&self, goroutines: &[Goroutine<'_>]) -> i64 {
        let mut now = goroutines.iter().map(|g| g.wait_since).max().unwrap_or(0);
        if let (Some(w), Some(off)) = (
            globals::work(self.bin, Some(&self.layouts)),
            self.offsets().work_tstart,
        ) {
            now = now.max(
                self.memory()
                    .read_u64(w.addr.wrapping_add(self.bias).wrapping_add(off))
                    .unwrap_or(0) as i64,
            );
        }
        if let (Some(s), Some(off)) = (
            globals::sched(self.bin, Some(&self.layouts)),
            self.offsets().sched_lastpoll,
        ) {
            now = now.max(
                self.memory()
                    .read_u64(s.addr.wrapping_add(self.bias).wrapping_add(off))
                    .unwrap_or(0) as i64,
            );
        }
        now
    }

    /// Sets `wait_minutes` as the runtime's goroutine header computes it, against `now`.
    pub fn set_wait_minutes(&self, g: &mut Goroutine<'_>, now: i64) {
        use goroutine::{STATUS_SYSCALL, STATUS_WAITING};
        if (g.status_code == STATUS_WAITING || g.status_code == STATUS_SYSCALL) && g.wait_since != 0
        {
            g.wait_minutes = Some((now - g.wait_since).max(0) / 60_000_000_000);
            g.state = g.state();
        }
    }
}
