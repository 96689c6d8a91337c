//! goscope check/opt text inputs: goscope.toml policies, //goscope: directives in Go source,
//! the compiler's JSON optimization logs and -m=2 text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_check::fuzzing::text_inputs(data));
