//! The whole open path: container, pclntab location, moduledata, then every reader.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_binary::fuzzing::open_and_walk(data));
