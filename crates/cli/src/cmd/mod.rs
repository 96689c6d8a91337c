//! One module per command: flags, a call into the libraries, rendering.

pub mod addr2line;
pub mod check;
pub mod completions;
pub mod core;
pub mod debug;
pub mod diff;
pub mod goroutines;
pub mod info;
pub mod live;
pub mod locks;
pub mod nm;
pub mod objdump;
pub mod opt;
pub mod profile;
pub mod record;
pub mod snapshot;
pub mod stacks;
pub mod top;
pub mod trace;
pub mod watch;
