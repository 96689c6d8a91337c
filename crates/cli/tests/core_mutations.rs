//! The core readers on corrupted cores, on stable Rust: byte flips and overwrites of a real
//! core's headers, notes and memory go through the same entry points as the `core_notes` and
//! `core_runtime` fuzz targets. The test fails on any panic.

mod core_common;

use std::sync::Arc;

use core_common::*;
use goscope_xtask::{Rng, Variant};

#[test]
fn corrupted_cores_never_panic() {
    if !cores_possible() {
        return;
    }
    for tc in toolchains() {
        let fx = fixture("crash", &tc, Variant::Default, false);
        let run = crash(&fx, &["customerr"]);
        let core = std::fs::read(&run.core).unwrap();
        let bin = Arc::new(goscope_binary::Binary::open(&fx.path).unwrap());
        // Where the interesting bytes are: headers and notes first, then memory.
        let notes_end = 64 * 1024.min(core.len());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(tc.minor));
        for round in 0..40 {
            let mut m = core.clone();
            let flips = 1 + rng.below(64);
            for _ in 0..flips {
                let at = if round % 2 == 0 {
                    rng.below(notes_end)
                } else {
                    rng.below(m.len())
                };
                match rng.below(3) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => m[at] = 0xff,
                    _ => m[at] = 0,
                }
            }
            // Also whole words set to extreme values inside the memory (pointers, lengths).
            for _ in 0..16 {
                let at = rng.below(m.len().saturating_sub(8)) & !7;
                let v = [u64::MAX, 0, 1 << 40, 0x7fff_ffff_ffff][rng.below(4)];
                m[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            goscope_target::fuzzing::core(&m[..notes_end.min(m.len())]);
            goscope_runtime::fuzzing::core_with_binary(bin.clone(), m);
        }
    }
}
