//! The Go runtime as data.

#![forbid(unsafe_code)]

#[rustfmt::skip]
mod builtin;
pub mod codescan;
pub mod dwarf;
pub mod globals;
pub mod layouts;
