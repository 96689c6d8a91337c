//! The Go runtime as data: layouts of its structs per release, its globals, goroutines with
//! their states and stacks, Ms, panics and fatal errors, maps and values — read from any
//! [`goscope_target::Target`] (a core dump joined with its executable, a live process), with or
//! without DWARF.
//!
//! [`Runtime`] (per binary, built once) and [`Snapshot`] (per stop of a target) are the entry
//! points.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

#[rustfmt::skip]
mod builtin;
pub mod analysis;
mod cache;
#[cfg(target_os = "linux")]
pub mod capture;
pub mod census;
pub mod codescan;
pub mod dwarf;
pub mod expr;
pub mod fuzzing;
pub mod globals;
pub mod goroutine;
pub mod layouts;
pub mod maps;
pub mod offsets;
pub mod panic;
pub mod reader;
pub mod runtime;
pub mod snapshot;
pub mod types;
pub mod unwind;
pub mod values;

pub use goroutine::{CreatedBy, Frame, Goroutine};
pub use layouts::{LayoutSource, Layouts};
pub use maps::MapContents;
pub use panic::{Crash, PanicInfo};
pub use reader::Reader;
pub use runtime::{Runtime, RuntimeError};
pub use snapshot::{MInfo, Snapshot};
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
