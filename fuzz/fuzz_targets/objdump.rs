//! Open a binary and list its first functions with annotations and inline chains.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_disasm::fuzzing::list_binary(data));
