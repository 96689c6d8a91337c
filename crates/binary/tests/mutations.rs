//! The readers on corrupted executables: truncations, byte flips, and targeted corruptions of
//! the pclntab header and function table, built from real fixtures. Every mutant goes through
//! the same entry point as the `open` fuzz target; the test fails on any panic. (A hang would
//! stall the test run, which CI's time limit turns into a failure.)

use goscope_binary::{Binary, fuzzing};
use goscope_xtask::{Rng, Variant, build, toolchains};

fn fixtures() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for tc in toolchains().expect("a Go toolchain") {
        for (goos, goarch, v) in [
            ("linux", "amd64", Variant::Default),
            ("darwin", "arm64", Variant::Stripped),
            ("windows", "amd64", Variant::Default),
            ("linux", "386", Variant::Pie),
        ] {
            if !goscope_xtask::supported(goos, goarch, v) {
                continue;
            }
            let f = build("prog", &tc, goos, goarch, v, false).expect("fixture");
            out.push(std::fs::read(&f.path).expect("read fixture"));
        }
    }
    out
}

/// File offset and size of the pclntab, found by the reader on the intact file.
fn pclntab_range(data: &[u8]) -> (usize, usize) {
    let bin = Binary::from_bytes(data.to_vec()).expect("intact fixture opens");
    let loc = *bin.pclntab().location();
    (loc.offset, loc.size)
}

#[test]
fn truncated_files_never_panic() {
    for data in fixtures() {
        let (pcln, _) = pclntab_range(&data);
        let mut cuts: Vec<usize> = (0..64).map(|i| data.len() * i / 64).collect();
        // Cuts around the headers and inside the pclntab header and function table.
        cuts.extend([0, 1, 3, 4, 15, 16, 52, 63, 64, 65, 200, 4096]);
        cuts.extend((0..48).map(|i| pcln + i * 3));
        cuts.extend((1..32).map(|i| pcln + i * 997));
        for cut in cuts {
            fuzzing::open_and_walk(&data[..cut.min(data.len())]);
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for data in fixtures() {
        let (pcln, size) = pclntab_range(&data);
        for round in 0..400 {
            let mut m = data.clone();
            let flips = 1 + rng.below(16);
            for _ in 0..flips {
                // Half the flips land in the pclntab, a quarter in the first 4 KiB (headers),
                // the rest anywhere.
                let at = match round % 4 {
                    0 | 1 => pcln + rng.below(size),
                    2 => rng.below(4096.min(m.len())),
                    _ => rng.below(m.len()),
                };
                if let Some(b) = m.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            fuzzing::open_and_walk(&m);
        }
    }
}

#[test]
fn corrupted_pclntab_headers_and_tables_never_panic() {
    for data in fixtures() {
        let (pcln, size) = pclntab_range(&data);
        let ptr = data[pcln + 7] as usize;
        let mut mutants = Vec::new();
        // Every header word set to huge, zero, and just past the end.
        for word in 0..8 {
            for v in [u64::MAX, 0, size as u64, size as u64 + 1, 0x7fff_ffff] {
                let mut m = data.clone();
                let at = pcln + 8 + word * ptr;
                m[at..at + ptr].copy_from_slice(&v.to_le_bytes()[..ptr]);
                mutants.push(m);
            }
        }
        // Bad magic, quantum, pointer size.
        for (off, v) in [(0, 0u8), (3, 0), (6, 3), (7, 2), (4, 1)] {
            let mut m = data.clone();
            m[pcln + off] = v;
            mutants.push(m);
        }
        // Runs of 0xffffffff words through the middle of the table: function table entries,
        // `_func` fields and pc-table offsets that point past the end.
        for k in 0..16 {
            let mut m = data.clone();
            for j in 0..64 {
                let at = pcln + size / 2 + (k * 64 + j) * 4;
                if at + 4 <= m.len() {
                    m[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
                }
            }
            mutants.push(m);
        }
        for m in mutants {
            fuzzing::open_and_walk(&m);
            fuzzing::pclntab(&m[pcln..(pcln + size).min(m.len())]);
        }
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(42);
    for len in [0usize, 1, 4, 16, 64, 100, 4096, 65536] {
        for magic in [&b"\x7fELF\x02\x01\x01"[..], b"MZ", b"\xcf\xfa\xed\xfe", b""] {
            let mut m: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let n = magic.len().min(m.len());
            m[..n].copy_from_slice(&magic[..n]);
            fuzzing::open_and_walk(&m);
            fuzzing::pclntab(&m);
            fuzzing::buildinfo_text(&m);
        }
    }
}
