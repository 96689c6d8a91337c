//! Core files: the ELF header, program headers, notes (threads, registers, NT_FILE, AUXV,
//! siginfo), and memory reads over the parsed segments.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| goscope_target::fuzzing::core(data));
