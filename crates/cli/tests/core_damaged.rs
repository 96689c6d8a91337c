//! Damaged cores: the same core cut at many points (inside the ELF header, the program headers,
//! the notes, and the memory) never crashes goscope: it either reports what it could read with
//! a warning that says the core is truncated, or fails with a one-line error and exit code 2.

mod core_common;

use core_common::*;
use goscope_xtask::Variant;

/// Offsets of the program headers and notes of an ELF64 core, for choosing cut points.
fn layout(core: &[u8]) -> (usize, usize, usize, usize) {
    let u64_at = |o: usize| u64::from_le_bytes(core[o..o + 8].try_into().unwrap()) as usize;
    let u16_at = |o: usize| u16::from_le_bytes(core[o..o + 2].try_into().unwrap()) as usize;
    let phoff = u64_at(32);
    let phnum = u16_at(56);
    let mut notes = (0, 0);
    for i in 0..phnum {
        let ph = phoff + 56 * i;
        if u32::from_le_bytes(core[ph..ph + 4].try_into().unwrap()) == 4 {
            notes = (u64_at(ph + 8), u64_at(ph + 32));
        }
    }
    (phoff, phoff + 56 * phnum, notes.0, notes.0 + notes.1)
}

#[test]
fn truncated_cores_never_crash_goscope() {
    if !cores_possible() {
        return;
    }
    let mut errors = Vec::new();
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped] {
            let fx = fixture("crash", &tc, variant, false);
            let run = crash(&fx, &["customerr"]);
            let full = std::fs::read(&run.core).unwrap();
            let (ph_start, ph_end, notes_start, notes_end) = layout(&full);
            let mut cuts = vec![
                0,
                3,
                16,
                63,
                64,
                ph_start + 20,
                (ph_start + ph_end) / 2,
                ph_end,
            ];
            for k in 1..8 {
                cuts.push(notes_start + (notes_end - notes_start) * k / 8);
            }
            for pct in [1, 5, 10, 20, 35, 50, 65, 80, 90, 95, 99] {
                cuts.push(notes_end + (full.len() - notes_end) * pct / 100);
            }
            cuts.push(full.len() - 1);
            let dir = tempfile::tempdir().unwrap();
            let cut_path = dir.path().join("core");
            for &at in &cuts {
                std::fs::write(&cut_path, &full[..at.min(full.len())]).unwrap();
                for sub in [&[][..], &["goroutines", "--stacks"][..], &["--json"][..]] {
                    let mut args = vec![
                        "core",
                        fx.path.to_str().unwrap(),
                        cut_path.to_str().unwrap(),
                    ];
                    args.extend_from_slice(sub);
                    let (code, out, err) = goscope(&args);
                    let what = format!("{} cut at {at} of {} {sub:?}", fx.label(), full.len());
                    match code {
                        0 => {
                            // A partial result must say the core is damaged.
                            if !err.contains("truncated") && !err.contains("not in the core") {
                                errors.push(format!(
                                    "{what}: exit 0 without a warning: {}",
                                    cut(&err, 200)
                                ));
                            }
                            if sub == ["--json"]
                                && serde_json::from_str::<serde_json::Value>(&out).is_err()
                            {
                                errors.push(format!("{what}: invalid JSON"));
                            }
                        }
                        2 => {
                            // One clear line naming the problem.
                            let lines: Vec<&str> =
                                err.lines().filter(|l| !l.contains("warning")).collect();
                            if lines.len() != 1 || !lines[0].starts_with("goscope: ") {
                                errors.push(format!("{what}: unclear error: {}", cut(&err, 300)));
                            }
                        }
                        c => errors.push(format!("{what}: exit {c} (crash?): {}", cut(&err, 300))),
                    }
                }
            }
        }
    }
    errors.truncate(30);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn core_missing_memory_lists_the_rest() {
    // Cutting inside the memory loses some goroutines' data: the others are still listed.
    let Some((fx, run)) = first_crash(&["many"]) else {
        return;
    };
    let full = std::fs::metadata(&run.core).unwrap().len() as usize;
    let data = std::fs::read(&run.core).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("core");
    // At 85% the goroutine list survives but some goroutines' records do not.
    std::fs::write(&p, &data[..full * 85 / 100]).unwrap();
    drop(data);
    let (code, out, err) = goscope(&[
        "core",
        fx.path.to_str().unwrap(),
        p.to_str().unwrap(),
        "goroutines",
    ]);
    assert_eq!(code, 0, "{}", cut(&err, 500));
    assert!(
        err.contains("truncated"),
        "no truncation warning: {}",
        cut(&err, 500)
    );
    assert!(
        err.contains("could not be read"),
        "no warning about lost goroutines: {}",
        cut(&err, 500)
    );
    let listed = out.lines().count();
    let unreadable = out.lines().filter(|l| l.contains("[unreadable]")).count();
    assert!(
        listed >= 100_000,
        "every goroutine must be listed, {listed} were"
    );
    assert!(
        unreadable > 0 && unreadable < listed / 2,
        "{unreadable} of {listed} unreadable"
    );
}

#[test]
fn wrong_binary_is_detected() {
    if !cores_possible() {
        return;
    }
    let tcs = toolchains();
    if tcs.len() < 2 {
        return;
    }
    let a = fixture("crash", &tcs[0], Variant::Default, false);
    let b = fixture("crash", &tcs[1], Variant::Default, false);
    let run = crash(&a, &["nilmap"]);
    for sub in [&[][..], &["goroutines", "--stacks"][..]] {
        let mut args = vec!["core", b.path.to_str().unwrap(), run.core.to_str().unwrap()];
        args.extend_from_slice(sub);
        let (code, _, err) = goscope(&args);
        assert!(
            code == 0 || code == 2,
            "{sub:?}: exit {code}: {}",
            cut(&err, 300)
        );
        assert!(
            err.contains("does not match the core"),
            "{sub:?}: no mismatch warning: {}",
            cut(&err, 300)
        );
    }
}
