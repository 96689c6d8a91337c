//! The expression evaluator on hostile input, on stable Rust, through the fuzz entry points:
//! mutated expression texts (the `expr_parse` target), corrupted `printfix` cores evaluated in
//! every frame of the first goroutines (`core_runtime`), and `printfix` builds whose DWARF
//! (left uncompressed, so that corruptions reach the parsers) has flipped bytes
//! (`runtime_static`). The test fails on any panic; a hang would stall the run, which CI's time
//! limit turns into a failure.

mod core_common;

use std::sync::Arc;

use core_common::*;
use goscope_runtime::expr::{Expr, fuzz_parse};
use goscope_xtask::{Rng, Variant};

/// Expressions of every shape the grammar has.
const SEEDS: &[&str] = &[
    "a",
    "main.gOrder.Items[1].Name",
    "(*main.order)(0xc000123450).Next.Customer",
    "*(*[]int)(0xc000010000)",
    "small[\"beta\"] * 10 + -3 % 2 << 1 >> 1 &^ 7 | 8 ^ 9 & 10",
    "a > 100 && s == \"argument\" || !b",
    "len(main.gIntMap) != cap(main.gLongInts)",
    "x.(*main.point).Y",
    "m[1:]",
    "s[2:4][0]",
    "$rax + $pc - $sp",
    "[]byte(s)",
    "map[string]int(m)",
    "[4]int32(x)[3]",
    "'\\u00e9' == 0x1p-2",
    "`raw` + \"\\x41\\101\\n\"",
    "\"example.com/pkg\".Var",
    "interface {}(x)",
    "chan int(c)",
    "1.5e-3i",
];

#[test]
fn mutated_expressions_never_panic() {
    let mut rng = Rng(0x5eed_00fe_4b20);
    let alphabet = b"()[]{}.,:*&^!|<>=+-/%\"'`$ \t\n\\0123456789abcxyzmap chan interface";
    let mut n = 0;
    for seed in SEEDS {
        let base = seed.as_bytes();
        fuzz_parse(base);
        assert!(Expr::parse(seed).is_ok(), "seed {seed:?} does not parse");
        for _ in 0..2000 {
            let mut m = base.to_vec();
            for _ in 0..1 + rng.below(6) {
                match rng.below(5) {
                    0 if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m[i] = alphabet[rng.below(alphabet.len())];
                    }
                    1 => {
                        let i = rng.below(m.len() + 1);
                        m.insert(i, alphabet[rng.below(alphabet.len())]);
                    }
                    2 if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m.remove(i);
                    }
                    3 if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m[i] ^= 1 << rng.below(8);
                    }
                    _ => {
                        let cut = rng.below(m.len() + 1);
                        m.truncate(cut);
                    }
                }
            }
            fuzz_parse(&m);
            n += 1;
        }
    }
    // Deep and long inputs are refused, not recursed into.
    for s in [
        "(".repeat(100_000),
        "-".repeat(100_000) + "1",
        "*".repeat(100_000) + "p",
        "a".to_string() + &"[0]".repeat(50_000),
        "a".to_string() + &".b".repeat(50_000),
        "[]".repeat(50_000) + "int(x)",
        "1+".repeat(50_000) + "1",
        "\"".to_string() + &"\\".repeat(9_999),
    ] {
        fuzz_parse(s.as_bytes());
        assert!(Expr::parse(&s).is_err(), "{} bytes parsed", s.len());
    }
    eprintln!("{n} mutated expressions");
}

#[test]
fn corrupted_printfix_cores_never_panic() {
    if !cores_possible() {
        return;
    }
    for tc in toolchains() {
        let fx = fixture("printfix", &tc, Variant::Default, false);
        let run = crash(&fx, &[]);
        let core = std::fs::read(&run.core).unwrap();
        let bin = Arc::new(goscope_binary::Binary::open(&fx.path).unwrap());
        // The intact core first: every local of every frame evaluates.
        goscope_runtime::fuzzing::core_with_binary(bin.clone(), core.clone());
        let mut rng = Rng(0xc0de_00f5_eed0 ^ u64::from(tc.minor));
        for _ in 0..40 {
            let mut m = core.clone();
            // Words of memory set to extreme values: pointers, lengths, map headers.
            for _ in 0..256 {
                let at = rng.below(m.len().saturating_sub(8)) & !7;
                let v = [u64::MAX, 0, 1 << 40, 0x7fff_ffff_ffff, 8, 1 << 20][rng.below(6)];
                m[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            for _ in 0..64 {
                let at = rng.below(m.len());
                m[at] ^= 1 << rng.below(8);
            }
            goscope_runtime::fuzzing::core_with_binary(bin.clone(), m);
        }
    }
}

#[test]
fn corrupted_dwarf_never_panics() {
    for tc in toolchains() {
        let fx = goscope_xtask::build_with(
            "printfix",
            &tc,
            "linux",
            "amd64",
            Variant::Default,
            false,
            &["-ldflags=-compressdwarf=false"],
        )
        .unwrap_or_else(|e| panic!("building printfix: {e:#}"));
        let data = std::fs::read(&fx.path).unwrap();
        let bin = goscope_binary::Binary::from_bytes(data.clone()).unwrap();
        let ranges: Vec<(usize, usize)> = bin
            .sections()
            .iter()
            .filter(|s| s.name.starts_with(".debug_") && s.file_size > 0)
            .map(|s| (s.file_offset as usize, s.file_size as usize))
            .collect();
        assert!(
            ranges.iter().any(|&(_, n)| n > 1000),
            "{}: no uncompressed DWARF",
            fx.label()
        );
        goscope_runtime::fuzzing::binary_static(&data);
        let mut rng = Rng(0xd3a7_f00d ^ u64::from(tc.minor));
        for round in 0..60 {
            let mut m = data.clone();
            for _ in 0..1 + rng.below(200) {
                let (off, len) = ranges[rng.below(ranges.len())];
                let at = off + rng.below(len);
                match round % 3 {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => m[at] = 0xff,
                    _ => m[at] = rng.below(256) as u8,
                }
            }
            goscope_runtime::fuzzing::binary_static(&m);
        }
    }
}
