//! `goscope core` against the Go runtime itself: each fixture crashes under
//! `GOTRACEBACK=crash`, printing every goroutine's state and stack (with pc and sp of every
//! frame) before dumping core. goscope must find the same goroutines, states, creators, frames,
//! and the same panic or fatal error message — for both toolchains, and for the stripped twins
//! (no symbols, no DWARF: built-in layouts and code-reference discovery).

mod core_common;

use core_common::*;
use goscope_xtask::Variant;
use serde_json::Value;

/// A scenario-specific check: (label, summary JSON, oracle, fixture, core) → mismatches.
type Extra =
    dyn Fn(&str, &Value, &Oracle, &goscope_xtask::Fixture, &std::path::Path) -> Vec<String>;

/// Crashes `program args` built with every toolchain (default and stripped), analyses each core
/// and compares with what the runtime printed; `extra` adds scenario-specific checks.
fn scenario(program: &str, args: &[&str], cgo: bool, extra: &Extra) {
    scenario_in(
        program,
        args,
        cgo,
        &[Variant::Default, Variant::Stripped],
        false,
        extra,
    );
}

/// [`scenario`] for chosen variants, optionally with the system toolchain only.
fn scenario_in(
    program: &str,
    args: &[&str],
    cgo: bool,
    variants: &[Variant],
    system_go_only: bool,
    extra: &Extra,
) {
    if !cores_possible() {
        return;
    }
    if cgo && !goscope_xtask::have_cc() {
        assert!(
            !goscope_xtask::required(),
            "no C compiler for the cgo fixtures"
        );
        return;
    }
    // arm64 cores come from qemu-user: not for cgo (no cross C compiler), PIE (dynamically
    // linked, no arm64 loader here), the largest cores, or out-of-memory (qemu-user does not
    // apply a guest's RLIMIT_AS).
    let arches: Vec<&str> = if cgo
        || args == ["many"]
        || args == ["waitlong"]
        || args == ["oom"]
        || variants.contains(&Variant::Pie)
    {
        vec!["amd64"]
    } else {
        crash_arches()
    };
    let mut errors = Vec::new();
    for tc in toolchains() {
        if system_go_only && tc.go != std::path::Path::new("go") {
            continue;
        }
        for (goarch, &variant) in arches
            .iter()
            .flat_map(|a| variants.iter().map(move |v| (*a, v)))
        {
            let fx = fixture_for(program, &tc, goarch, variant, cgo);
            let run = crash(&fx, args);
            let label = format!("{} {args:?}", fx.label());
            let oracle = parse_oracle(&run.stderr);
            assert!(
                !oracle.goroutines.is_empty(),
                "{label}: the runtime printed no goroutines:\n{}",
                run.stderr
            );
            let summary = core_json(&fx.path, &run.core, &[]);
            errors.extend(compare_with_oracle(&label, &summary, &oracle));
            // The message the runtime printed first.
            let kind = summary["panic"]["kind"].as_str().unwrap_or("");
            let msg = summary["panic"]["message"].as_str().unwrap_or("");
            let got = if kind == "fatal error" {
                format!("fatal error: {msg}")
            } else {
                msg.to_string()
            };
            let want = oracle_message(&oracle);
            if got != want {
                errors.push(format!(
                    "{label}: message {:?}, runtime printed {:?}",
                    cut(&got, 300),
                    cut(&want, 300)
                ));
            }
            if let Some(sig) = oracle.head.iter().find(|l| l.starts_with("[signal ")) {
                if summary["fault"].as_str() != Some(sig) {
                    errors.push(format!(
                        "{label}: fault {}, runtime printed {sig}",
                        summary["fault"]
                    ));
                }
            }
            if variant == Variant::Stripped {
                // Stripped: nothing may come from symbols or DWARF.
                let src = &summary["layouts"]["kind"];
                if src != "builtin" {
                    errors.push(format!("{label}: layouts from {src}, expected builtin"));
                }
            }
            errors.extend(extra(&label, &summary, &oracle, &fx, &run.core));
        }
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

fn none(
    _: &str,
    _: &Value,
    _: &Oracle,
    _: &goscope_xtask::Fixture,
    _: &std::path::Path,
) -> Vec<String> {
    Vec::new()
}

/// The goroutine the runtime printed first is the one goscope says failed.
fn failing_is_first(
    label: &str,
    s: &Value,
    o: &Oracle,
    _: &goscope_xtask::Fixture,
    _: &std::path::Path,
) -> Vec<String> {
    let first = o.goroutines.first().map(|g| g.id);
    let failing = s["panic"]["goroutine"].as_u64();
    if double_failure(o) {
        // Either of the two goroutines that threw.
        let running: Vec<u64> = o
            .goroutines
            .iter()
            .filter(|g| g.state == "running")
            .map(|g| g.id)
            .collect();
        if failing.is_some_and(|f| running.contains(&f)) {
            return Vec::new();
        }
    }
    if failing != first {
        vec![format!(
            "{label}: failing goroutine {}, runtime printed {first:?} first",
            s["panic"]["goroutine"]
        )]
    } else {
        Vec::new()
    }
}

/// The labels each goroutine printed for itself (`ORACLE labels goroutine N k=v …`).
fn labels_match(
    label: &str,
    s: &Value,
    o: &Oracle,
    _: &goscope_xtask::Fixture,
    _: &std::path::Path,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut n = 0;
    for note in &o.notes {
        let Some(rest) = note.strip_prefix("labels goroutine ") else {
            continue;
        };
        let (id, kvs) = rest.split_once(' ').unwrap();
        let id: u64 = id.parse().unwrap();
        let g = s["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == id);
        let got: Vec<String> = g
            .and_then(|g| g["labels"].as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let mut want: Vec<String> = kvs.split(' ').map(str::to_string).collect();
        want.sort();
        if got != want {
            errors.push(format!(
                "{label}: goroutine {id} labels {got:?}, pprof said {want:?}"
            ));
        }
        n += 1;
    }
    if n == 0 {
        errors.push(format!("{label}: the fixture printed no labels"));
    }
    errors
}

#[test]
fn nil_map_write() {
    scenario("crash", &["nilmap"], false, &|label, s, o, fx, core| {
        let mut e = failing_is_first(label, s, o, fx, core);
        e.extend(labels_match(label, s, o, fx, core));
        e
    });
}

#[test]
fn position_independent_executable() {
    // PIE: everything is shifted by the load bias (AT_ENTRY minus the file's entry point).
    scenario_in(
        "crash",
        &["nilmap"],
        false,
        &[Variant::Pie],
        false,
        &failing_is_first,
    );
    scenario_in(
        "crash",
        &["customerr"],
        false,
        &[Variant::Pie],
        false,
        &failing_is_first,
    );
}

#[test]
fn wait_time_in_minutes() {
    // One goroutine parked for over a minute (the runtime prints "1 minutes"); the core is
    // produced once (it takes a minute) and cached.
    scenario_in(
        "crash",
        &["waitlong"],
        false,
        &[Variant::Default],
        true,
        &|label, s, o, fx, core| {
            let mut errors = failing_is_first(label, s, o, fx, core);
            if !o.goroutines.iter().any(|g| g.state.contains("1 minutes")) {
                errors.push(format!(
                    "{label}: the runtime printed no goroutine waiting a minute"
                ));
            }
            // The goroutines goscope says waited a minute or more are those the runtime said did.
            let mut ours: Vec<u64> = s["goroutines"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["wait_minutes"].as_i64().is_some_and(|m| m >= 1))
                .filter_map(|g| g["id"].as_u64())
                .collect();
            let mut theirs: Vec<u64> = o
                .goroutines
                .iter()
                .filter(|g| g.state.contains(" minutes"))
                .map(|g| g.id)
                .collect();
            ours.sort_unstable();
            theirs.sort_unstable();
            if ours != theirs {
                errors.push(format!(
                    "{label}: waited ≥1 minute: goscope {ours:?}, runtime {theirs:?}"
                ));
            }
            errors
        },
    );
}

#[test]
fn nil_pointer_dereference() {
    scenario("crash", &["nilderef"], false, &failing_is_first);
}

#[test]
fn index_out_of_range() {
    scenario("crash", &["index"], false, &failing_is_first);
}

#[test]
fn custom_error_and_panics_in_flight() {
    // Goroutines blocked inside deferred calls of panics still in progress: their values were
    // never printed by the runtime; the fixture printed them (ORACLE lines) before panicking.
    scenario("crash", &["customerr"], false, &|label, s, o, fx, core| {
        let mut errors = failing_is_first(label, s, o, fx, core);
        let mut checked = 0;
        for note in &o.notes {
            let Some(rest) = note.strip_prefix("goroutine ") else {
                continue;
            };
            let (id, rest) = rest.split_once(" panicking ").unwrap();
            let (what, text) = rest.split_once(": ").unwrap();
            let id = id.to_string();
            let g = core_json(&fx.path, core, &["goroutine", &id]);
            let panics = g["panics"].as_array().cloned().unwrap_or_default();
            let Some(p) = panics.last() else {
                errors.push(format!("{label}: goroutine {id} has no panic"));
                continue;
            };
            // Errors print as Error(); other values as %v.
            let is_error = matches!(
                what,
                "wrapped" | "errorString" | "bounds" | "divide" | "assert"
            );
            let got = if is_error { &p["message"] } else { &p["text"] };
            if got.as_str() != Some(text) {
                errors.push(format!(
                    "{label}: goroutine {id} ({what}) panic {got}, expected {text:?}"
                ));
            }
            checked += 1;
        }
        if checked != 8 {
            errors.push(format!(
                "{label}: {checked} in-flight panics checked, expected 8"
            ));
        }
        errors
    });
}

#[test]
fn named_integer_panic_value() {
    scenario("crash", &["customint"], false, &failing_is_first);
}

#[test]
fn struct_panic_value() {
    scenario("crash", &["structval"], false, &failing_is_first);
}

#[test]
fn panic_in_deferred_call_during_panic() {
    scenario("crash", &["deferpanic"], false, &failing_is_first);
}

#[test]
fn concurrent_map_writes_throw() {
    scenario("crash", &["mapwrites"], false, &|label, s, o, fx, core| {
        let mut errors = failing_is_first(label, s, o, fx, core);
        // The map header is readable and says which implementation it is.
        let addr = o
            .notes
            .iter()
            .find_map(|n| n.strip_prefix("map "))
            .and_then(|n| n.split(' ').next())
            .unwrap()
            .to_string();
        let m = core_json(&fx.path, core, &["map", &addr]);
        let want = if fx.toolchain.minor >= 24 {
            "swiss"
        } else {
            "hashmap"
        };
        if m["header"]["implementation"] != want {
            errors.push(format!("{label}: map header {}", m["header"]));
        }
        errors
    });
}

#[test]
fn goroutine_blocked_in_syscall() {
    scenario("crash", &["syscall"], false, &|label, s, o, fx, core| {
        let mut errors = failing_is_first(label, s, o, fx, core);
        let sys = s["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["status"] == "syscall");
        match sys {
            Some(g) if g["thread"].as_u64().is_some() => {}
            other => errors.push(format!(
                "{label}: no syscall goroutine with a thread: {other:?}"
            )),
        }
        errors
    });
}

#[test]
fn all_goroutines_asleep_throw() {
    scenario("crash", &["deadlock"], false, &none);
}

#[test]
fn stack_overflow_throw() {
    scenario("crash", &["overflow"], false, &failing_is_first);
}

#[test]
fn out_of_memory_throw() {
    scenario("crash", &["oom"], false, &failing_is_first);
}

#[test]
fn signal_sent_to_the_process() {
    scenario("crash", &["sigabrt"], false, &none);
}

#[test]
fn maps_in_memory() {
    scenario("crash", &["maps"], false, &|label, _s, o, fx, core| {
        let mut errors = Vec::new();
        let mut n = 0;
        for note in &o.notes {
            let Some(rest) = note.strip_prefix("map ") else {
                continue;
            };
            let mut it = rest.splitn(3, ' ');
            let (addr, ty, want) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
            // With the type named, and guessed from the binary's map types.
            for args in [vec!["map", addr, "--type", ty], vec!["map", addr]] {
                let (code, out, err) = goscope(
                    &[
                        &["core", fx.path.to_str().unwrap(), core.to_str().unwrap()][..],
                        &args[..],
                    ]
                    .concat(),
                );
                let got = out.lines().nth(2).unwrap_or("");
                if code != 0 || got != want {
                    errors.push(format!(
                        "{label}: {args:?}: got {:?} (exit {code}, {}), fmt printed {:?}",
                        cut(got, 200),
                        cut(&err, 200),
                        cut(want, 200)
                    ));
                }
            }
            n += 1;
        }
        if n != 3 {
            errors.push(format!("{label}: {n} maps checked, expected 3"));
        }
        errors
    });
}

#[test]
fn cgo_call_in_flight() {
    scenario("crashcgo", &["blocked"], true, &|label, s, o, fx, core| {
        let mut errors = failing_is_first(label, s, o, fx, core);
        // The goroutine in C: its cgo frames are marked.
        let g =
            s["goroutines"].as_array().unwrap().iter().find(|g| {
                g["status"] == "syscall" && g["frames"][0]["function"] == "runtime.cgocall"
            });
        match g {
            Some(g) if g["frames"][0]["cgo"] == true => {}
            other => errors.push(format!("{label}: no goroutine marked in cgo: {other:?}")),
        }
        errors
    });
}

#[test]
fn fault_in_c_code() {
    scenario("crashcgo", &["segv"], true, &none);
}

#[test]
fn hundred_thousand_goroutines() {
    // Produced once and cached like every core (about 320 MB each).
    scenario("crash", &["many"], false, &|label, s, o, fx, core| {
        let mut errors = failing_is_first(label, s, o, fx, core);
        let n = s["goroutines"].as_array().map_or(0, Vec::len);
        if n < 100_000 {
            errors.push(format!("{label}: only {n} goroutines"));
        }
        errors
    });
}
