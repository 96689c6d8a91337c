//! `goscope trace` and `goscope locks` against what testdata/tracefix says about itself: the
//! calls and atomics each of its goroutines made (counted by the program, goroutine ids from
//! its own runtime.Stack), the arguments it passed, and `go tool objdump`'s listing of the
//! instructions reported as atomics.

mod core_common;
mod live_common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use core_common::toolchains;
use goscope_xtask::{Fixture, Variant};
use serde_json::Value;

use live_common::goscope_json as goscope;

/// One test at a time: perf uprobes apply to every process running a file, and each test's
/// count must not pay for another's probes.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn uprobes_possible() -> bool {
    let ok = std::path::Path::new("/sys/bus/event_source/devices/uprobe/type").exists()
        && std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        });
    assert!(
        ok || !goscope_xtask::required(),
        "CI requires perf uprobes (root, a kernel with uprobe events)"
    );
    ok
}

/// The tracefix fixtures of the newest toolchain (and the system one), amd64.
fn fixtures(variant: Variant) -> Vec<Fixture> {
    toolchains()
        .into_iter()
        .map(|tc| core_common::fixture("tracefix", &tc, variant, false))
        .collect()
}

/// What the program reported: per goroutine id, its record.
fn report(path: &std::path::Path) -> HashMap<u64, Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|w| (w["goroutine"].as_u64().unwrap(), w.clone()))
        .collect()
}

fn within(got: u64, want: u64, pct: f64) -> bool {
    (got as f64 - want as f64).abs() <= want as f64 * pct / 100.0
}

fn parse_int(s: &str) -> i64 {
    match s.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// Traces settle (not inlined) and twice (inlined) in a run of `fx calls`, checking counts,
/// goroutines and arguments against the program's report. Returns the summary.
fn check_calls(fx: &Fixture, env: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let rep = dir.path().join("report.json");
    let (lines, code, err) = goscope(
        &[
            "trace",
            "--json",
            "--returns",
            r"main\.(settle|twice)$",
            "--",
            fx.path.to_str().unwrap(),
            "calls",
            rep.to_str().unwrap(),
        ],
        env,
    );
    let label = fx.label();
    assert_eq!(code, 0, "{label}: {err}");
    let own = report(&rep);
    let stripped = fx.variant == Variant::Stripped;
    let mut settle: HashMap<u64, u64> = HashMap::new();
    let mut twice: HashMap<u64, u64> = HashMap::new();
    let mut nsum: HashMap<u64, i64> = HashMap::new();
    let mut results = 0;
    for l in &lines {
        let Some(g) = l["goroutine"].as_u64() else {
            continue;
        };
        match (l["event"].as_str(), l["function"].as_str()) {
            (Some("call"), Some("main.settle")) => {
                *settle.entry(g).or_default() += 1;
                let w = own.get(&g).unwrap_or_else(|| {
                    panic!("{label}: a call in goroutine {g}, not one of the program's: {l}")
                });
                let want_label = w["label"].as_str().unwrap();
                let (n, len_ok) = if stripped {
                    // Raw ABI registers: n in RAX, the string as (RBX pointer, RCX length).
                    let a = &l["args"];
                    (
                        parse_int(a["rax"].as_str().unwrap()),
                        parse_int(a["rcx"].as_str().unwrap()) == want_label.len() as i64,
                    )
                } else {
                    let a = &l["args"];
                    (
                        parse_int(a["n"].as_str().unwrap()),
                        a["label"].as_str() == Some(&format!("\"{want_label}\"")),
                    )
                };
                assert!(
                    len_ok,
                    "{label}: label argument of {l} (goroutine's label {want_label:?})"
                );
                *nsum.entry(g).or_default() += n;
            }
            (Some("call"), Some("main.twice")) => {
                assert!(l["inlined_into"].is_object(), "{label}: {l}");
                *twice.entry(g).or_default() += 1;
            }
            (Some("return"), Some("main.settle")) => {
                results += 1;
                if !stripped {
                    // settle(n, label) = 3n + len(label)
                    assert!(l["results"]["~r0"].is_string(), "{label}: {l}");
                }
            }
            _ => {}
        }
    }
    for (g, w) in &own {
        let want = w["settle_calls"].as_u64().unwrap();
        let got = settle.get(g).copied().unwrap_or(0);
        assert!(
            within(got, want, 1.0),
            "{label}: goroutine {g}: {got} settle calls traced, the program made {want}"
        );
        let want = w["twice_calls"].as_u64().unwrap();
        let got = twice.get(g).copied().unwrap_or(0);
        assert!(
            within(got, want, 1.0),
            "{label}: goroutine {g}: {got} inlined twice calls traced, the program made {want}"
        );
        if settle.get(g).copied() == w["settle_calls"].as_u64() {
            assert_eq!(
                nsum.get(g).copied().unwrap_or(0),
                w["settle_n_sum"].as_i64().unwrap(),
                "{label}: goroutine {g}: the sum of n passed"
            );
        }
    }
    assert!(results > 0, "{label}: no return traced");
    lines.last().cloned().unwrap()
}

#[test]
fn traced_calls_equal_the_programs_own_count_goroutines_and_arguments() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    for variant in [Variant::Default, Variant::Stripped] {
        for fx in fixtures(variant) {
            let summary = check_calls(&fx, &[]);
            assert_eq!(summary["event"], "summary");
            assert_eq!(summary["mechanism"], "uprobe");
            assert_eq!(summary["lost"], 0, "{}", fx.label());
        }
    }
}

#[test]
fn without_perf_uprobes_the_ptrace_fallback_traces_and_reports_its_cost() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    let fx = fixtures(Variant::Default).remove(0);
    let summary = check_calls(&fx, &[("GOSCOPE_NO_UPROBES", "1")]);
    assert_eq!(summary["mechanism"], "ptrace");
    assert!(summary["ptrace_stop_ns_per_event"].as_u64().unwrap() > 0);
}

#[test]
fn locks_ranks_the_programs_atomics_with_their_counts_per_goroutine() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    for fx in fixtures(Variant::Default) {
        let label = fx.label();
        let dir = tempfile::tempdir().unwrap();
        let rep = dir.path().join("report.json");
        let (lines, code, err) = goscope(
            &[
                "locks",
                "--json",
                "--only",
                r"^main\.",
                "--",
                fx.path.to_str().unwrap(),
                "atomics",
                rep.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(code, 0, "{label}: {err}");
        let own = report(&rep);
        let out = &lines[0];
        let sites = out["sites"].as_array().unwrap();
        // Oracle: go tool objdump's listing of the program.
        let objdump = Command::new("go")
            .args(["tool", "objdump", "-s", r"^main\."])
            .arg(&fx.path)
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&objdump.stdout);
        let insn_at = |pc: u64| -> String {
            let a = format!("{pc:#x}");
            listing
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(a.as_str()))
                .unwrap_or_else(|| panic!("{label}: no instruction at {a} in go tool objdump"))
                .to_string()
        };
        for s in sites {
            let line = insn_at(s["pc"].as_u64().unwrap());
            assert!(
                line.contains("LOCK") || line.contains("XCHG"),
                "{label}: reported site is not an atomic instruction: {line}"
            );
            assert_ne!(s["function"], "main.lockless", "{label}");
        }
        // The three known sites first: the add (count = adds), the CAS (at least cas: a
        // failed CAS runs again), the store (XCHG: exactly cas).
        let top: Vec<&str> = sites[..3]
            .iter()
            .map(|s| s["function"].as_str().unwrap())
            .collect();
        assert!(
            top.contains(&"main.adder") && top.contains(&"main.casser"),
            "{label}: {top:?}"
        );
        let adder = sites
            .iter()
            .find(|s| s["function"] == "main.adder")
            .unwrap();
        assert!(
            adder["inline"][0]["function"]
                .as_str()
                .is_some_and(|f| f.starts_with("sync/atomic.")),
            "{label}: {adder}"
        );
        let store = sites
            .iter()
            .filter(|s| s["function"] == "main.casser")
            .find(|s| insn_at(s["pc"].as_u64().unwrap()).contains("XCHG"))
            .unwrap_or_else(|| panic!("{label}: no XCHG site in casser: {sites:?}"));
        // Per goroutine within 10%: a goroutine id is read from its g when a batch of samples
        // is handled, and a CI run once saw 5.7% of one goroutine's stores counted for another
        // (a g reused between the samples and the read is the suspect). The totals stay
        // within 5%.
        let (mut adds_all, mut made_adds, mut stores_all, mut made_cas) = (0, 0, 0, 0);
        for (g, w) in &own {
            let key = g.to_string();
            let adds = adder["goroutines"][&key].as_u64().unwrap_or(0);
            assert!(
                within(adds, w["adds"].as_u64().unwrap(), 10.0),
                "{label}: goroutine {g}: {adds} adds counted, {} made",
                w["adds"]
            );
            let stores = store["goroutines"][&key].as_u64().unwrap_or(0);
            assert!(
                within(stores, w["cas"].as_u64().unwrap(), 10.0),
                "{label}: goroutine {g}: {stores} stores counted, {} made",
                w["cas"]
            );
            adds_all += adds;
            made_adds += w["adds"].as_u64().unwrap();
            stores_all += stores;
            made_cas += w["cas"].as_u64().unwrap();
        }
        assert!(
            within(adds_all, made_adds, 5.0),
            "{label}: {adds_all} adds counted, {made_adds} made"
        );
        assert!(
            within(stores_all, made_cas, 5.0),
            "{label}: {stores_all} stores counted, {made_cas} made"
        );
    }
}

#[test]
fn bad_input_is_a_clear_error_with_status_2() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    let fx = fixtures(Variant::Default).remove(0);
    let (_, code, err) = goscope(
        &[
            "trace",
            r"main\.nosuchfunction$",
            "--",
            fx.path.to_str().unwrap(),
            "calls",
            "/dev/null",
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no function matches"), "{err}");
    let (_, code, err) = goscope(&["trace", "-p", "999999999", "main"], &[]);
    assert_eq!(code, 2, "{err}");
    let (_, code, err) = goscope(&["locks"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("-p PID"), "{err}");
    let (_, code, err) = goscope(&["trace", "(", "-p", "1"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn killing_goscope_mid_trace_leaves_the_program_running_with_clean_code() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    let fx = fixtures(Variant::Default).remove(0);
    // A copy of its own: perf uprobes apply to every process running the file, and the other
    // tests trace this fixture.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("tracefix");
    std::fs::copy(&fx.path, &exe).unwrap();
    let mut prog = Command::new(&exe)
        .args(["forever", "-"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = prog.id() as i32;
    for sig in ["KILL", "INT"] {
        let mut tracer = Command::new(env!("CARGO_BIN_EXE_goscope"))
            .args(["trace", "--quiet", "-p", &pid.to_string(), r"main\.settle$"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        live_common::signal(tracer.id() as i32, sig);
        let out = tracer.wait().unwrap();
        if sig == "INT" {
            assert_eq!(out.code(), Some(0), "Ctrl-C ends a trace with its summary");
        }
        std::thread::sleep(Duration::from_millis(100));
        let (state, _) = live_common::proc_state(pid);
        assert!(matches!(state, 'S' | 'R'), "after SIG{sig}: state {state}");
        live_common::assert_code_untouched(pid, &exe, &format!("after SIG{sig}"));
    }
    let _ = prog.kill();
    let _ = prog.wait();
}

#[test]
fn a_process_goscope_may_not_trace_is_refused_with_status_2() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    let fx = fixtures(Variant::Default).remove(0);
    let mut prog = Command::new(&fx.path)
        .args(["forever", "-"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // goscope as nobody, against root's process.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_goscope"))
        .args(["trace", "-p", &prog.id().to_string(), r"main\.settle$"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = prog.kill();
    let _ = prog.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("permission") || err.contains("root") || err.contains("may not"),
        "the error says what is missing: {err}"
    );
}

/// `go tool pprof -top -noinlines`'s flat share (percent) of each function in `profile` (each with
/// what was inlined into it).
fn pprof_flat_shares(bin: &std::path::Path, profile: &std::path::Path) -> HashMap<String, f64> {
    let out = Command::new("go")
        .args(["tool", "pprof", "-top", "-noinlines", "-nodecount=50"])
        .arg(bin)
        .arg(profile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go tool pprof cannot read {}: {}",
        profile.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || !f[1].ends_with('%') {
                return None;
            }
            Some((f[5].to_string(), f[1].trim_end_matches('%').parse().ok()?))
        })
        .collect()
}

#[test]
fn a_recorded_profile_reads_in_pprof_with_the_shares_of_the_programs_own_profile() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    // testdata/proffix: hot functions inlined and not, under its own runtime/pprof profile.
    for tc in toolchains() {
        let fx = core_common::fixture("proffix", &tc, Variant::Default, false);
        let label = fx.label();
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("own.pprof");
        let rec = dir.path().join("rec.pb.gz");
        let (_, code, err) = goscope(
            &[
                "record",
                "--hz",
                "999",
                "-o",
                rec.to_str().unwrap(),
                "--",
                fx.path.to_str().unwrap(),
                own.to_str().unwrap(),
                "3000",
            ],
            &[],
        );
        assert_eq!(code, 0, "{label}: {err}");
        let ours = pprof_flat_shares(&fx.path, &rec);
        let theirs = pprof_flat_shares(&fx.path, &own);
        // The hot functions, each with what was inlined into it.
        for f in ["main.hotA", "main.hotB", "main.spread"] {
            let (o, t) = (ours.get(f).copied().unwrap_or(0.0), theirs[f]);
            assert!(
                (o - t).abs() <= t * 0.10,
                "{label}: {f} has {o}% of goscope's samples, {t}% of runtime/pprof's"
            );
        }
        // goscope profile reads the recording as pprof does: every function's flat value.
        let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
            .args(["profile"])
            .arg(&fx.path)
            .arg(&rec)
            .args(["top", "--inlined", "-n", "0", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{label}: profile top: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let flat_ms: HashMap<String, f64> = v["functions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["function"].as_str().unwrap().to_string(),
                    f["flat_ms"].as_f64().unwrap(),
                )
            })
            .collect();
        let out = Command::new("go")
            .args([
                "tool",
                "pprof",
                "-top",
                "-unit=ms",
                "-nodecount=100000",
                "-nodefraction=0",
            ])
            .arg(&fx.path)
            .arg(&rec)
            .output()
            .unwrap();
        let mut compared = 0;
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() >= 6 && w[1].ends_with('%') && w[4].ends_with('%') {
                let name = w[5..]
                    .join(" ")
                    .replace(" (inline)", "")
                    .replace(" (partial-inline)", "");
                let want: f64 = match w[0] {
                    "0" => 0.0,
                    v => v.trim_end_matches("ms").parse().unwrap(),
                };
                let got = flat_ms.get(&name).copied().unwrap_or(-1.0);
                assert!(
                    (got - want).abs() < 0.01,
                    "{label}: {name}: goscope {got} ms, pprof {want}"
                );
                compared += 1;
            }
        }
        assert!(
            compared >= 2 && compared == flat_ms.len(),
            "{label}: {compared} vs {}",
            flat_ms.len()
        );
    }
}

#[test]
fn locks_over_every_atomic_of_the_program_ranks_the_known_sites_first() {
    let _one = serial();
    if !uprobes_possible() {
        return;
    }
    // Every site (~700, most in the runtime): the kernel then takes a couple of minutes to
    // remove the probes, so one toolchain only.
    let fx = fixtures(Variant::Default).remove(0);
    let dir = tempfile::tempdir().unwrap();
    let rep = dir.path().join("report.json");
    let (lines, code, err) = goscope(
        &[
            "locks",
            "--json",
            "--",
            fx.path.to_str().unwrap(),
            "atomics",
            rep.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let out = &lines[0];
    assert!(out["sites_counted"].as_u64().unwrap() > 100, "{out}");
    let sites = out["sites"].as_array().unwrap();
    let top: Vec<&str> = sites[..3]
        .iter()
        .map(|s| s["function"].as_str().unwrap())
        .collect();
    assert!(
        top.iter()
            .all(|f| *f == "main.adder" || *f == "main.casser"),
        "the fixture's own atomics rank first: {top:?}"
    );
    let own = report(&rep);
    let adds: u64 = own.values().map(|w| w["adds"].as_u64().unwrap()).sum();
    assert!(
        within(sites[0]["count"].as_u64().unwrap(), adds, 5.0),
        "{}",
        sites[0]
    );
    assert!(
        sites.iter().all(|s| s["function"] != "main.lockless"),
        "a function without atomics"
    );
}
