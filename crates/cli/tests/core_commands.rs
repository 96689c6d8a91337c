//! The `goscope core` subcommands against gdb reading the same core: the threads (`info
//! threads`), the registers of the thread that received the fatal signal (`info registers`),
//! and memory (`x/…xb`) both dumped in the core and supplied by the executable (text the kernel
//! did not dump). And the binary found through the core when it is not given.

mod core_common;

use core_common::*;
use goscope_xtask::Variant;
use serde_json::Value;

#[test]
fn threads_registers_and_memory_match_gdb() {
    if !cores_possible() || !have_gdb() {
        return;
    }
    let mut errors = Vec::new();
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped] {
            let fx = fixture("crash", &tc, variant, false);
            let run = crash(&fx, &["nilmap"]);
            let label = fx.label();
            let (bin, core) = (&fx.path, &run.core);
            // Threads: the same LWPs.
            let out = gdb(bin, core, &["info threads"]).unwrap();
            let mut theirs: Vec<u64> = out
                .split("LWP ")
                .skip(1)
                .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .collect();
            let threads = core_json(bin, core, &["threads"]);
            let mut ours: Vec<u64> = threads
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| t["tid"].as_u64())
                .collect();
            theirs.sort_unstable();
            theirs.dedup();
            ours.sort_unstable();
            if theirs != ours || ours.is_empty() {
                errors.push(format!("{label}: threads gdb {theirs:?}, goscope {ours:?}"));
            }
            // Registers of the first thread (gdb's thread 1).
            let out = gdb(bin, core, &["info registers"]).unwrap();
            let regs = core_json(bin, core, &["regs"]);
            let mut compared = 0;
            for line in out.lines() {
                let mut it = line.split_whitespace();
                let (Some(name), Some(val)) = (it.next(), it.next()) else {
                    continue;
                };
                let Some(ours) = regs["registers"][name].as_str() else {
                    continue;
                };
                let want = u64::from_str_radix(val.trim_start_matches("0x"), 16).ok();
                let got = u64::from_str_radix(ours.trim_start_matches("0x"), 16).ok();
                if want != got {
                    errors.push(format!(
                        "{label}: register {name} gdb {val}, goscope {ours}"
                    ));
                }
                compared += 1;
            }
            if compared < 17 {
                errors.push(format!("{label}: only {compared} registers compared"));
            }
            // Memory: the failing goroutine's g (dumped heap) and the start of the text (not
            // dumped; read from the executable).
            let summary = core_json(bin, core, &[]);
            let g1 = summary["goroutines"][0]["addr"]
                .as_str()
                .unwrap()
                .to_string();
            let text = format!("{:#x}", 0x401000);
            for addr in [g1.as_str(), text.as_str()] {
                let out = gdb(bin, core, &[&format!("x/32xb {addr}")]).unwrap();
                let theirs: Vec<u8> = out
                    .lines()
                    .flat_map(|l| l.split(':').nth(1).unwrap_or("").split_whitespace())
                    .filter_map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).ok())
                    .collect();
                let x: Value = core_json(bin, core, &["x", addr, "32"]);
                let ours: Vec<u8> = x["bytes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|b| b.as_u64().map(|b| b as u8))
                    .collect();
                if theirs.len() != 32 || theirs != ours {
                    errors.push(format!(
                        "{label}: x {addr}: gdb {theirs:02x?}, goscope {ours:02x?}"
                    ));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn binary_found_through_the_core() {
    let Some((fx, run)) = first_crash(&["index"]) else {
        return;
    };
    let (code, with_bin, err) = goscope(&[
        "core",
        "--json",
        fx.path.to_str().unwrap(),
        run.core.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, without, err) = goscope(&["core", "--json", run.core.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let a: Value = serde_json::from_str(&with_bin).unwrap();
    let b: Value = serde_json::from_str(&without).unwrap();
    assert_eq!(
        b["binary"].as_str(),
        fx.path.to_str(),
        "the core names the executable"
    );
    assert_eq!(a["goroutines"], b["goroutines"]);
    assert_eq!(a["panic"], b["panic"]);
}

#[test]
fn usage_errors_say_what_to_do() {
    let Some((fx, run)) = first_crash(&["index"]) else {
        return;
    };
    let (bin, core) = (fx.path.to_str().unwrap(), run.core.to_str().unwrap());
    // Swapped arguments.
    let (code, _, err) = goscope(&["core", core, bin]);
    assert_eq!(code, 2);
    assert!(err.contains("BIN CORE"), "{err}");
    // An unknown goroutine, thread, address.
    for args in [
        vec!["core", bin, core, "goroutine", "999999"],
        vec!["core", bin, core, "regs", "--thread", "1"],
        vec!["core", bin, core, "x", "0x10", "8"],
        vec!["core", bin, core, "x", "nonsense"],
    ] {
        let (code, out, err) = goscope(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("goscope: "), "{args:?}: {err}");
    }
}

#[test]
fn filter_and_group_agree_with_the_runtime() {
    let Some((fx, run)) = first_crash(&["many"]) else {
        return;
    };
    let oracle = parse_oracle(&run.stderr);
    let (bin, core) = (&fx.path, &run.core);
    // --filter by state: exactly the goroutines the runtime printed in that state.
    let filtered = core_json(bin, core, &["goroutines", "--filter", "chan receive"]);
    let mut ours: Vec<u64> = filtered
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["id"].as_u64())
        .collect();
    let mut theirs: Vec<u64> = oracle
        .goroutines
        .iter()
        .filter(|g| g.state == "chan receive")
        .map(|g| g.id)
        .collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours.len(), theirs.len());
    assert!(
        ours == theirs,
        "--filter 'chan receive' differs from the runtime's list"
    );
    // --filter by function.
    let by_func = core_json(bin, core, &["goroutines", "--filter", "func=main.inner"]);
    let want = oracle
        .goroutines
        .iter()
        .filter(|g| g.frames.iter().any(|f| f.func.contains("main.inner")))
        .count();
    assert_eq!(by_func.as_array().unwrap().len(), want);
    // --group: the runtime's goroutines grouped by state and printed stack give the same
    // group sizes.
    let groups = core_json(bin, core, &["goroutines", "--group"]);
    let mut ours: Vec<u64> = groups
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["count"].as_u64())
        .collect();
    let mut by_stack: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for g in &oracle.goroutines {
        let key: Vec<String> = g
            .frames
            .iter()
            .map(|f| format!("{} {}:{}", f.func, f.file, f.line))
            .collect();
        // The failing goroutine's stack differs from goscope's by the crash frames; it is
        // alone in its group either way.
        *by_stack
            .entry(format!("{} {}", g.state, key.join("|")))
            .or_default() += 1;
    }
    let mut theirs: Vec<u64> = by_stack.into_values().collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "group sizes differ from the runtime's stacks");
    assert_eq!(ours.iter().sum::<u64>(), oracle.goroutines.len() as u64);
}

#[test]
fn disassemble_marks_the_faulting_instruction() {
    if !cores_possible() {
        return;
    }
    let mut errors = Vec::new();
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped] {
            let fx = fixture("crash", &tc, variant, false);
            let run = crash(&fx, &["nilderef"]);
            let label = fx.label();
            // The runtime printed the faulting pc: [signal SIGSEGV: … pc=0x…].
            let pc = run
                .stderr
                .lines()
                .find(|l| l.starts_with("[signal "))
                .and_then(|l| l.rsplit("pc=").next())
                .map(|p| p.trim_end_matches(']').to_string())
                .unwrap();
            let d = core_json(&fx.path, &run.core, &["disassemble"]);
            let insns = d["instructions"].as_array().unwrap();
            let cur: Vec<&Value> = insns.iter().filter(|i| i["current"] == true).collect();
            if cur.len() != 1 || cur[0]["address"].as_str() != Some(&pc) {
                errors.push(format!("{label}: marked {cur:?}, the fault was at {pc}"));
            }
            if d["function"] != "main.main" {
                errors.push(format!("{label}: function {}", d["function"]));
            }
            // The instruction text is go tool objdump's (the current toolchain's: Go 1.19's
            // printed some operands in another order; goscope follows the current one).
            let system = toolchains()
                .into_iter()
                .find(|t| t.go == std::path::Path::new("go"));
            if let (Variant::Default, Some(system)) = (variant, system) {
                let out = system
                    .tool(
                        "objdump",
                        &["-s", "^main\\.main$", fx.path.to_str().unwrap()],
                        None,
                    )
                    .unwrap();
                let theirs: std::collections::HashMap<String, String> =
                    String::from_utf8_lossy(&out)
                        .lines()
                        .filter_map(|l| {
                            let f: Vec<&str> = l.split('\t').filter(|x| !x.is_empty()).collect();
                            (f.len() >= 4 && f[1].starts_with("0x"))
                                .then(|| (f[1].to_string(), f[3].trim().to_string()))
                        })
                        .collect();
                for i in insns {
                    let a = i["address"].as_str().unwrap();
                    if theirs.get(a).map(String::as_str) != i["text"].as_str() {
                        errors.push(format!(
                            "{label}: {a}: {} vs objdump {:?}",
                            i["text"],
                            theirs.get(a)
                        ));
                    }
                }
            }
        }
    }
    errors.truncate(20);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
