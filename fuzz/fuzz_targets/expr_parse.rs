//! The expression parser (`goscope core … print`, the debugger's `print`, `cond`, `watch`) on
//! arbitrary text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_runtime::expr::fuzz_parse(data));
