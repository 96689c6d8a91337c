//! `goscope snapshot PID -o FILE` and the frozen-process equivalence: on a process stopped with
//! SIGSTOP, `goscope stacks` equals `goscope core` on a snapshot of it, goroutine by goroutine
//! and frame by frame (pc and sp included); gdb lists every thread of the process; `dlv core`
//! counts the same goroutines; the file has mode 0600; the process was left as found (stopped),
//! and runs on untouched after SIGCONT.

mod core_common;
mod live_common;

use std::os::unix::fs::PermissionsExt;

use core_common::{dlv, dlv_run, gdb, goscope, have_gdb, toolchains};
use goscope_xtask::Variant;
use live_common::{Live, proc_state, signal, tasks};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let (code, out, err) = goscope(args);
    assert_eq!(code, 0, "goscope {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{out}"))
}

/// `(function, file, line, pc, sp)` of every frame.
fn frames(g: &Value) -> Vec<(String, String, i64, String, String)> {
    g["frames"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["function"].as_str().unwrap_or("").to_string(),
                        f["file"].as_str().unwrap_or("").to_string(),
                        f["line"].as_i64().unwrap_or(0),
                        f["pc"].as_str().unwrap_or("").to_string(),
                        f["sp"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn snapshot_of_a_frozen_process_equals_its_stacks_and_reads_in_gdb_and_dlv() {
    let gdb_ok = have_gdb();
    let dlv = dlv();
    if dlv.is_none() {
        assert!(
            !goscope_xtask::required(),
            "dlv is required (.ci/run installs it)"
        );
        eprintln!("note: no dlv: snapshot goroutine counts not checked against dlv core");
    }
    let mut errors = Vec::new();
    let all = toolchains();
    let newest = all.iter().max_by_key(|t| t.minor).cloned();
    for tc in all {
        for (variant, cgo) in [
            (Variant::Default, false),
            (Variant::Stripped, false),
            (Variant::Default, true),
        ] {
            if cgo && !goscope_xtask::have_cc() {
                continue;
            }
            let fx = core_common::fixture("live", &tc, variant, cgo);
            let label = fx.label();
            let live = Live::start(&fx, &[]);
            let pid = live.pid.to_string();
            signal(live.pid, "STOP");
            while proc_state(live.pid).0 != 'T' {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let stacks = json(&["stacks", "--json", &pid]);
            let core = live.dir.path().join("snap.core");
            let core_s = core.to_str().unwrap();
            let done = json(&["snapshot", "--json", &pid, "-o", core_s]);
            assert_eq!(
                proc_state(live.pid).0,
                'T',
                "{label}: a stopped process must stay stopped"
            );
            let mode = std::fs::metadata(&core).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{label}: core mode {mode:o}");
            assert!(done["paused_us"].as_u64().unwrap_or(0) > 0);
            let from_core = json(&["core", "--json", fx.path.to_str().unwrap(), core_s]);
            let ours: std::collections::BTreeMap<u64, &Value> = stacks["goroutines"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|g| Some((g["id"].as_u64()?, g)))
                .collect();
            let theirs: std::collections::BTreeMap<u64, &Value> = from_core["goroutines"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|g| Some((g["id"].as_u64()?, g)))
                .collect();
            if ours.keys().collect::<Vec<_>>() != theirs.keys().collect::<Vec<_>>() {
                errors.push(format!(
                    "{label}: goroutines differ: stacks {:?}, core {:?}",
                    ours.keys().collect::<Vec<_>>(),
                    theirs.keys().collect::<Vec<_>>()
                ));
            }
            for (id, g) in &ours {
                let Some(c) = theirs.get(id) else { continue };
                if g["state"] != c["state"] || frames(g) != frames(c) {
                    errors.push(format!(
                        "{label} goroutine {id}: stacks [{}] {:?}\n  core [{}] {:?}",
                        g["state"],
                        frames(g),
                        c["state"],
                        frames(c)
                    ));
                }
            }
            assert!(ours.len() >= 15, "{label}: {} goroutines", ours.len());
            if gdb_ok {
                let out = gdb(&fx.path, &core, &["info threads"]).unwrap_or_default();
                // `info threads` rows: `* 1    LWP 7077 …`, `  2    LWP 7079 …`.
                let listed = out
                    .lines()
                    .filter(|l| {
                        let t = l.trim_start_matches(['*', ' ']);
                        t.starts_with(|c: char| c.is_ascii_digit()) && t.contains(" LWP ")
                    })
                    .count();
                let want = tasks(live.pid).len();
                if listed != want {
                    errors.push(format!(
                        "{label}: gdb lists {listed} threads, the process has {want}:\n{out}"
                    ));
                }
            }
            // Delve supports the newest Go releases only: the system toolchain's builds.
            if let Some(dlv) = &dlv
                && variant == Variant::Default
                && Some(&tc) == newest.as_ref()
            {
                let out = dlv_run(dlv, &fx.path, &core, "goroutines");
                let mut theirs: Vec<u64> = out
                    .lines()
                    .filter_map(|l| {
                        let t = l
                            .trim_start_matches(['*', ' '])
                            .strip_prefix("Goroutine ")?;
                        t.split(' ').next()?.parse().ok()
                    })
                    .collect();
                theirs.sort_unstable();
                // Delve also lists an extra M's goroutine waiting for a cgo callback, which the
                // runtime counts as dead (goscope lists it with --all).
                let all = json(&[
                    "core",
                    "--json",
                    fx.path.to_str().unwrap(),
                    core_s,
                    "goroutines",
                    "--all",
                ]);
                let mut want: Vec<u64> = all
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|g| g["status"] != "dead")
                    .filter_map(|g| g["id"].as_u64())
                    .collect();
                want.sort_unstable();
                if theirs != want || theirs.len() < ours.len() {
                    errors.push(format!(
                        "{label}: dlv core lists goroutines {theirs:?}, goscope {want:?} \
                         ({} without those waiting for a cgo callback)",
                        ours.len()
                    ));
                }
            }
            signal(live.pid, "CONT");
            live.assert_runs_untouched(&format!("{label} after snapshot"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn snapshot_refuses_an_unwritable_path_before_pausing_and_leaves_no_file() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Default, false);
    let live = Live::start(&fx, &[]);
    let pid = live.pid.to_string();
    let dir = live.dir.path().join("no/such/dir/core");
    let (code, _, err) = goscope(&["snapshot", &pid, "-o", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot create"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(live.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("goscope"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    live.assert_runs_untouched("after a refused snapshot");
}
