//! The decoders on arbitrary bytes and the listing on corrupted executables, through the same
//! entry points as the `disasm` and `objdump` fuzz targets: any panic fails the test.

use goscope_disasm::fuzzing;
use goscope_xtask::{Rng, Variant, build, toolchains};

#[test]
fn decoders_survive_random_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for len in [1usize, 2, 3, 5, 15, 16, 17, 64, 300] {
        for _ in 0..8 {
            let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            // Every starting offset of the first 64 (decode_all itself tries four).
            for start in (0..data.len().min(64)).step_by(4) {
                fuzzing::decode_all(&data[start..]);
            }
        }
    }
    // Prefix soup: the x86 prefix and VEX/EVEX paths.
    let soup: Vec<u8> = (0..512)
        .map(|i| {
            [
                0x66, 0xF0, 0xF2, 0xF3, 0x2E, 0x3E, 0x64, 0x48, 0x4F, 0xC4, 0xC5, 0x62, 0x0F,
            ][i % 13]
        })
        .collect();
    fuzzing::decode_all(&soup);
}

#[test]
fn listing_survives_corrupted_binaries() {
    let Ok(tcs) = toolchains() else {
        assert!(!goscope_xtask::required(), "no Go toolchain");
        return;
    };
    let mut rng = Rng(42);
    for tc in tcs {
        for (goarch, v) in [("amd64", Variant::Default), ("arm64", Variant::Stripped)] {
            let f = build("prog", &tc, "linux", goarch, v, false).expect("fixture");
            let orig = std::fs::read(&f.path).expect("read fixture");
            fuzzing::list_binary(&orig);
            for round in 0..12 {
                let mut m = orig.clone();
                if round % 3 == 0 {
                    let cut = (rng.next_u64() as usize) % m.len();
                    m.truncate(cut);
                } else {
                    for _ in 0..64 {
                        let i = (rng.next_u64() as usize) % m.len();
                        m[i] = rng.next_u64() as u8;
                    }
                }
                fuzzing::list_binary(&m);
            }
        }
    }
}

/// Inputs the fuzzer once crashed on (`fuzz/artifacts/*`), kept as regressions.
#[test]
fn past_fuzz_crashes_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("tests/data") {
        let p = e.expect("entry").path();
        if p.file_name()
            .is_some_and(|f| f.to_string_lossy().starts_with("fuzz-crash-"))
        {
            fuzzing::decode_all(&std::fs::read(&p).expect("read"));
            n += 1;
        }
    }
    assert!(n > 0);
}

/// A strided sweep of the whole 32-bit arm64 encoding space through every syntax: operand
/// shapes that compiler output never has (the first fuzz crash was a vector ORR with two
/// operands) must decode to text or `?`, never panic.
#[test]
fn arm64_encoding_space_sweep() {
    use goscope_binary::Arch;
    use goscope_disasm::{NoSymbols, Syntax};
    let dis = goscope_disasm::for_arch(Arch::Arm64).expect("arm64");
    let mut text = String::new();
    let mut w: u64 = 0;
    while w <= u64::from(u32::MAX) {
        let bytes = (w as u32).to_le_bytes();
        for syntax in [Syntax::Go, Syntax::Gnu] {
            text.clear();
            let info = dis.decode(&bytes, 0x1000, syntax, &NoSymbols, &mut text);
            assert_eq!(info.len, 4, "{w:#010x}");
        }
        w += 251;
    }
}

/// Function sizes come from the input (ELF symbol sizes, Mach-O gaps between symbols, the
/// function table): a huge one must not become a huge allocation. (A fuzzer found a Mach-O
/// whose symbol addresses were terabytes apart.)
#[test]
fn huge_function_sizes_are_not_allocations() {
    let tc = toolchains()
        .expect("a Go toolchain")
        .into_iter()
        .next()
        .expect("a Go toolchain");
    let f = build("prog", &tc, "linux", "amd64", Variant::Default, false).expect("fixture");
    let mut data = std::fs::read(&f.path).expect("read");
    let bin = goscope_binary::Binary::from_bytes(data.clone()).expect("open");
    let symtab = bin.section(".symtab").expect(".symtab").clone();
    drop(bin);
    // Every FUNC symbol's st_size (Elf64_Sym: info at 4, size at 16; 24 bytes each).
    let mut patched = 0;
    let start = symtab.file_offset as usize;
    for at in (start..start + symtab.file_size as usize).step_by(24) {
        if data[at + 4] & 0xf == 2 {
            data[at + 16..at + 24].copy_from_slice(&(u64::MAX / 3).to_le_bytes());
            patched += 1;
        }
    }
    assert!(patched > 100);
    fuzzing::list_binary(&data);
}
