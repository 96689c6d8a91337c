//! A pclntab on its own: header, function table, records, pc-value tables, names, files.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_binary::fuzzing::pclntab(data));
