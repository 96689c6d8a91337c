//! The runtime facts read from an executable alone: DWARF struct layouts (gimli), the code
//! references to the runtime's globals (iced-x86, arm64 ADRP pairs), the wait-reason scan.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_runtime::fuzzing::binary_static(data));
