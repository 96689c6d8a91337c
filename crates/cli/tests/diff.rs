//! `goscope diff` between two builds of checkfix that differ in three known ways (hot/diff_v1.go
//! vs hot/diff_v2.go, `-tags=v2`): DiffAlloc starts allocating, square stops being inlined into
//! DiffInline (and so gains a body of its own), DiffAtomic gains an atomic. The diff must
//! report exactly those changes, on every toolchain, for amd64 and arm64; `go tool objdump`
//! confirms each change in the instructions.

mod common;

use std::collections::BTreeSet;

use common::{goscope_run, p};
use goscope_xtask::{Fixture, Variant};
use serde_json::Value;

const HOT: &str = "example.com/checkfix/hot.";

fn pairs() -> Vec<(Fixture, Fixture)> {
    let mut v = Vec::new();
    for tc in goscope_xtask::toolchains().expect("toolchains") {
        for arch in ["amd64", "arm64"] {
            let old = goscope_xtask::build("checkfix", &tc, "linux", arch, Variant::Default, false)
                .expect("old build");
            let new = goscope_xtask::build_with(
                "checkfix",
                &tc,
                "linux",
                arch,
                Variant::Default,
                false,
                &["-tags=v2"],
            )
            .expect("new build");
            v.push((old, new));
        }
    }
    v
}

fn n(c: &Value, field: &str) -> (u64, u64) {
    (
        c[field]["old"].as_u64().unwrap(),
        c[field]["new"].as_u64().unwrap(),
    )
}

#[test]
fn diff_reports_exactly_the_known_changes() {
    for (old, new) in pairs() {
        let label = new.label();
        let out = goscope_run(&["diff", "--json", p(&old.path), p(&new.path)], b"");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let changes = r["changes"].as_array().unwrap();
        let got: BTreeSet<(String, String)> = changes
            .iter()
            .map(|c| {
                (
                    c["kind"].as_str().unwrap().to_string(),
                    c["function"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String)> = [
            ("changed", "DiffAlloc"),
            ("changed", "DiffInline"),
            ("changed", "DiffAtomic"),
            ("added", "square"),
        ]
        .iter()
        .map(|(k, f)| (k.to_string(), format!("{HOT}{f}")))
        .collect();
        assert_eq!(got, want, "{label}");
        let get = |f: &str| {
            changes
                .iter()
                .find(|c| c["function"] == format!("{HOT}{f}"))
                .unwrap()
        };
        let alloc = get("DiffAlloc");
        assert_eq!(n(alloc, "allocs"), (0, 1), "{label}: {alloc}");
        assert_eq!(n(alloc, "atomics"), (0, 0), "{label}");
        let inl = get("DiffInline");
        assert_eq!(
            inl["inlined_lost"],
            serde_json::json!([format!("{HOT}square")]),
            "{label}: {inl}"
        );
        assert_eq!(n(inl, "allocs"), (0, 0), "{label}");
        let atomic = get("DiffAtomic");
        let (a_old, a_new) = n(atomic, "atomics");
        assert!(a_old == 0 && a_new >= 1, "{label}: {atomic}");
        assert_eq!(n(atomic, "allocs"), (0, 0), "{label}");
        // Sorted by impact: the allocation and the atomic (weighted most) come first.
        let order: Vec<&str> = changes
            .iter()
            .map(|c| c["function"].as_str().unwrap())
            .collect();
        assert!(
            order[..2].contains(&format!("{HOT}DiffAlloc").as_str()),
            "{order:?}"
        );
        assert!(
            order[..2].contains(&format!("{HOT}DiffAtomic").as_str()),
            "{order:?}"
        );

        // The Go tool sees the same changes in the instructions.
        if old.goarch == "amd64" {
            let tc = &old.toolchain;
            let dump = |bin: &Fixture, f: &str| {
                String::from_utf8(
                    tc.tool(
                        "objdump",
                        &["-s", &format!("hot\\.{f}$"), p(&bin.path)],
                        None,
                    )
                    .unwrap(),
                )
                .unwrap()
            };
            assert!(!dump(&old, "DiffAlloc").contains("runtime.convT"));
            assert!(dump(&new, "DiffAlloc").contains("CALL runtime.convT64(SB)"));
            assert!(
                !dump(&old, "DiffInline").contains("CALL"),
                "{}",
                dump(&old, "DiffInline")
            );
            assert!(dump(&new, "DiffInline").contains("hot.square(SB)"));
            assert!(!dump(&old, "DiffAtomic").contains("LOCK"));
            assert!(dump(&new, "DiffAtomic").contains("LOCK XADDQ"));
        }
    }
}

#[test]
fn diff_thresholds_exit_1_only_when_crossed() {
    let (old, new) = pairs().remove(0);
    let run = |extra: &[&str]| {
        let mut args = vec!["diff"];
        args.extend_from_slice(extra);
        args.push(p(&old.path));
        args.push(p(&new.path));
        goscope_run(&args, b"")
    };
    for (flags, code, needle) in [
        (
            &["--fail-on", "alloc"][..],
            1,
            "DiffAlloc: allocation calls 0 → 1",
        ),
        (&["--fail-on", "lock"][..], 1, "DiffAtomic: atomics 0 → "),
        (
            &["--fail-on", "inline"][..],
            1,
            "DiffInline: no longer inlines example.com/checkfix/hot.square",
        ),
        (&["--fail-on", "added"][..], 1, "hot.square: added"),
        (&["--fail-on", "bounds"][..], 0, "3 changed, 1 added"),
        (&["--max-frame-growth", "4096"][..], 0, "3 changed"),
        (&["--max-size-growth", "50"][..], 1, "DiffAlloc: size"),
    ] {
        let out = run(flags);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{flags:?}: {text}");
        assert!(text.contains(needle), "{flags:?}: {text}");
    }
    // A build against itself: nothing changed.
    let out = goscope_run(
        &[
            "diff",
            "--fail-on",
            "alloc,lock,bounds,inline,added",
            p(&old.path),
            p(&old.path),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("0 changed, 0 added, 0 removed, 0 renamed")
    );
    // Different architectures: a usage error.
    let arm = pairs()
        .into_iter()
        .find(|(o, _)| o.goarch == "arm64")
        .unwrap()
        .0;
    let out = goscope_run(&["diff", p(&old.path), p(&arm.path)], b"");
    assert_eq!(out.status.code(), Some(2));
}
