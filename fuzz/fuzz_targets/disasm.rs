//! Every decoder (amd64, 386, arm64) in every syntax over arbitrary bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_disasm::fuzzing::decode_all(data));
