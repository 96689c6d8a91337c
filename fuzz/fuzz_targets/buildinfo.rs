//! The module-information text of Go build info (`go version -m`'s lines).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_binary::fuzzing::buildinfo_text(data));
