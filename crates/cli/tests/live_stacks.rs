//! `goscope stacks PID` against the fixture's own `runtime.Stack(buf, true)`: every parked
//! goroutine with the same id, state, frames and creator — for every toolchain, plain,
//! stripped, PIE and cgo — paused and without pausing; and afterwards the fixture runs on with
//! its code untouched.

mod core_common;
mod live_common;

use core_common::{goscope, toolchains};
use goscope_xtask::{Fixture, Variant};
use live_common::{Live, compare_parked};
use serde_json::Value;

fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped, Variant::Pie] {
            out.push(core_common::fixture("live", &tc, variant, false));
        }
        if goscope_xtask::have_cc() {
            for variant in [Variant::Default, Variant::Stripped] {
                out.push(core_common::fixture("live", &tc, variant, true));
            }
        } else if goscope_xtask::required() {
            panic!("no C compiler: cgo fixtures cannot be built");
        }
    }
    out
}

fn stacks_json(pid: i32, extra: &[&str]) -> Value {
    let pid = pid.to_string();
    let mut args = vec!["stacks", "--json"];
    args.extend_from_slice(extra);
    args.push(&pid);
    let (code, out, err) = goscope(&args);
    assert_eq!(code, 0, "goscope {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{out}"))
}

#[test]
fn stacks_agree_with_the_programs_own_dump() {
    let mut errors = Vec::new();
    for fx in fixtures() {
        let label = fx.label();
        let mut live = Live::start(&fx, &[]);
        let dump = live.dump();
        let paused = stacks_json(live.pid, &[]);
        errors.extend(compare_parked(&format!("{label} paused"), &paused, &dump));
        eprintln!(
            "{label}: {} goroutines, paused {} us",
            paused["total_goroutines"], paused["paused_us"]
        );
        assert_eq!(paused["pid"].as_i64(), Some(i64::from(live.pid)));
        let us = paused["paused_us"].as_u64().unwrap_or(0);
        assert!(us > 0, "{label}: paused_us {us}");
        assert!(
            paused["threads"].as_u64().unwrap_or(0) >= 2,
            "{label}: threads {}",
            paused["threads"]
        );
        live.assert_runs_untouched(&format!("{label} after stacks"));
        let nonblocking = stacks_json(live.pid, &["--nonblocking"]);
        errors.extend(compare_parked(
            &format!("{label} --nonblocking"),
            &nonblocking,
            &dump,
        ));
        assert_eq!(nonblocking["paused_us"].as_u64(), Some(0));
        live.assert_runs_untouched(&format!("{label} after stacks --nonblocking"));
        // Labels are read from the heap: the fixture's pprof.Do label.
        let labeled = paused["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["labels"]["fixture"] == "labeled");
        if !labeled {
            errors.push(format!(
                "{label}: the pprof label of main.parkLabeled is missing"
            ));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn text_output_is_the_runtimes_traceback_format() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Stripped, false);
    let mut live = Live::start(&fx, &[]);
    let dump = live.dump();
    let pid = live.pid.to_string();
    let (code, out, err) = goscope(&["stacks", &pid]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("process {pid} paused")), "{err}");
    // Every goroutine header the program printed for its parked goroutines is in goscope's
    // text, with the same state. (The others — main writing its progress file, work, the
    // leak loop — are between sleeps, system calls and runs: their state at the program's
    // dump need not be their state a moment later.)
    let mut parked = 0;
    for block in dump.split("\n\n") {
        let Some(header) = block.lines().next().filter(|l| l.starts_with("goroutine ")) else {
            continue;
        };
        if !block.contains("main.park") {
            continue;
        }
        parked += 1;
        assert!(out.contains(header), "missing header {header:?}");
    }
    assert!(parked >= 10, "the fixture's parked goroutines: {dump}");
    let (code, out, _) = goscope(&["stacks", "--group", "--filter", "func=main.park", &pid]);
    assert_eq!(code, 0);
    assert!(out.contains("goroutine [chan receive]") || out.contains("goroutines [chan receive]"));
    live.assert_runs_untouched("after text stacks");
}

#[test]
fn stacks_read_a_process_whose_executable_was_deleted_or_replaced() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Stripped, false);
    for replace in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("server");
        std::fs::copy(&fx.path, &exe).unwrap();
        let mut live = Live::start_path(&exe, &[]);
        std::fs::remove_file(&exe).unwrap();
        if replace {
            // Another program under the same name (the next deploy).
            std::fs::copy("/bin/true", &exe).unwrap();
        }
        let dump = live.dump();
        let got = stacks_json(live.pid, &[]);
        let errors = compare_parked(&format!("replaced={replace}"), &got, &dump);
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        assert!(
            got["binary"].as_str().unwrap_or("").contains("deleted"),
            "the path the process runs is reported as deleted: {}",
            got["binary"]
        );
        // The code check reads the file the process runs (through /proc/PID/exe).
        live.fixture = std::path::PathBuf::from(format!("/proc/{}/exe", live.pid));
        live.assert_runs_untouched("after stacks of a deleted executable");
    }
}
