//! The rough edges a new user hit (issue 15, item 4), one test each: errors that say each thing
//! once, objdump saying that nothing matched, the -trimpath source hint, truncated binaries
//! and cores, a file named like a subcommand, the signal on one thread only, goroutine order,
//! "created by … in goroutine N", numbered frames, and addr2line's JSON agreeing with its text.

mod core_common;

use std::process::Command;

use core_common::{first_crash, goscope};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sample/sample");

fn occurrences(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn errors_say_each_thing_once() {
    let (code, _, err) = goscope(&["info", "/nonexistent/server"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(occurrences(&err, "No such file or directory"), 1, "{err}");
    assert!(err.contains("/nonexistent/server"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = goscope(&["info", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(occurrences(&err, "directory"), 1, "{err}");

    let (code, _, err) = goscope(&["check", "--policy", "/nonexistent.toml", SAMPLE]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(occurrences(&err, "No such file or directory"), 1, "{err}");
}

#[test]
fn objdump_says_when_nothing_matches_and_refuses_a_reversed_range() {
    let (code, out, err) = goscope(&["objdump", "-s", "^no\\.such\\.function$", SAMPLE]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "stdout stays as go tool objdump's: {out}");
    assert!(err.contains("no function matches"), "{err}");

    let (code, out, err) = goscope(&["objdump", SAMPLE, "0x500000", "0x400000"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("before it starts"), "{err}");
}

#[test]
fn objdump_source_on_a_trimpath_build_points_to_source_root() {
    // The sample is built with -trimpath: its files are module paths, not on this disk.
    let (code, out, err) = goscope(&["objdump", "-S", "-s", "main\\.count$", SAMPLE]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("TEXT main.count(SB)"), "{out}");
    assert!(err.contains("--source-root"), "{err}");
    assert!(err.contains("-trimpath"), "{err}");
    // With the root, the source is found and no hint is given.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sample");
    let (code, out, err) = goscope(&[
        "objdump",
        "-S",
        "--source-root",
        root,
        "-s",
        "main\\.count$",
        SAMPLE,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("func count("), "{out}");
    // (The standard library's files are not under that root: a hint may name one of them.)
    assert!(!err.contains("main.go"), "{err}");
}

#[test]
fn a_truncated_binary_is_said_to_be_truncated() {
    let data = std::fs::read(SAMPLE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut");
    let mut said = 0;
    for pct in [10, 30, 50, 70, 90, 99] {
        std::fs::write(&p, &data[..data.len() * pct / 100]).unwrap();
        let (code, _, err) = goscope(&["info", p.to_str().unwrap()]);
        assert_eq!(code, 2, "cut at {pct}%: {err}");
        assert_eq!(err.lines().count(), 1, "cut at {pct}%: {err}");
        if err.contains("truncated") {
            said += 1;
        }
    }
    assert!(said >= 4, "only {said} of 6 cuts were called truncated");
}

#[test]
fn core_commands_on_a_crash() {
    let Some((fx, run)) = first_crash(&["many", "40"]) else {
        return;
    };
    let bin = fx.path.to_str().unwrap();
    let core = run.core.to_str().unwrap();

    // A core of no readable goroutine: cut right after its notes.
    let data = std::fs::read(&run.core).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("core");
    std::fs::write(&cut, &data[..data.len() / 50]).unwrap();
    let (code, out, err) = goscope(&["core", bin, cut.to_str().unwrap()]);
    assert!(
        code == 2 && !out.contains("0 goroutines:"),
        "exit {code}: {out}\n{err}"
    );

    // The signal on the thread that received it only.
    let (code, out, err) = goscope(&["core", bin, core, "threads"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(occurrences(&out, "signal="), 1, "{out}");

    // Lists by id; groups' ids sorted, the failing goroutine's group first.
    let summary = core_common::core_json(&fx.path, &run.core, &[]);
    let failing = summary["panic"]["goroutine"].as_u64().unwrap();
    let (code, out, err) = goscope(&["core", bin, core, "goroutines"]);
    assert_eq!(code, 0, "{err}");
    let ids: Vec<u64> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(ids.len() > 40, "{out}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "not by id: {ids:?}");
    let (_, out, _) = goscope(&["core", "--json", bin, core, "goroutines", "--group"]);
    let groups: serde_json::Value = serde_json::from_str(&out).unwrap();
    let groups = groups.as_array().unwrap();
    for g in groups {
        let ids: Vec<u64> = g["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "group ids: {ids:?}");
    }
    assert!(
        groups[0]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_u64() == Some(failing)),
        "the failing goroutine {failing}'s group is not first"
    );

    // `goroutine N`: "created by … in goroutine M", as the runtime prints it, and numbered
    // frames. The runtime's own traceback is the oracle for the creator line.
    let other = ids
        .iter()
        .copied()
        .find(|&i| i != 1 && i != failing)
        .unwrap();
    let (code, out, err) = goscope(&["core", bin, core, "goroutine", &other.to_string()]);
    assert_eq!(code, 0, "{err}");
    let oracle = &run.stderr;
    let header = format!("goroutine {other} ");
    if let Some(block) = oracle.split("\n\n").find(|b| b.starts_with(&header))
        && let Some(created) = block.lines().find(|l| l.starts_with("created by "))
    {
        assert!(out.contains(created), "no {created:?} in:\n{out}");
    }
    assert!(out.contains("in goroutine "), "{out}");
    assert!(out.contains("\n#0 ") && out.contains("\n#1 "), "{out}");

    // A binary named like a subcommand.
    let named = dir.path().join("threads");
    std::fs::copy(&fx.path, &named).unwrap();
    std::fs::copy(&run.core, dir.path().join("core")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(["core", "threads", "core"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("goroutines:"));
}

#[test]
fn addr2line_json_says_what_the_text_says() {
    // An instruction of sync/atomic inlined into main.count; go tool addr2line is the oracle.
    let sym = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(["objdump", "--json", "-s", "main\\.count$", SAMPLE])
        .output()
        .unwrap();
    let pc = String::from_utf8_lossy(&sym.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["inline"].as_array().is_some_and(|c| c.len() > 1))
        .and_then(|v| {
            let a = v["address"].as_str()?.trim_start_matches("0x").to_string();
            u64::from_str_radix(&a, 16).ok()
        })
        .expect("an inlined instruction in main.count");
    let Some(tc) = core_common::toolchains().into_iter().next() else {
        return;
    };
    let text = String::from_utf8(
        tc.tool(
            "addr2line",
            &[SAMPLE],
            Some(format!("{pc:#x}\n").as_bytes()),
        )
        .unwrap(),
    )
    .unwrap();
    let mut lines = text.lines();
    let (function, position) = (lines.next().unwrap(), lines.next().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(["addr2line", "--json", SAMPLE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{pc:#x}\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["function"], function, "{v}");
    assert_eq!(
        format!("{}:{}", v["file"].as_str().unwrap(), v["line"]),
        position,
        "{v}"
    );
}

#[test]
fn completions_for_three_shells_and_a_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = goscope(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for sub in ["objdump", "core", "profile", "debug"] {
            assert!(out.contains(sub), "{shell}: no {sub} in the completions");
        }
        // Each shell checks its script's syntax where it is installed (bash always is).
        let check: &[&str] = match shell {
            "bash" => &["bash", "-n"],
            "zsh" => &["zsh", "-n"],
            _ => &["fish", "--no-execute"],
        };
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goscope.completion");
        std::fs::write(&f, &out).unwrap();
        match Command::new(check[0]).args(&check[1..]).arg(&f).output() {
            Ok(o) => assert!(
                o.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(_) => assert!(shell != "bash", "bash is needed to check the bash script"),
        }
    }
    let (code, out, err) = goscope(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(".ie") || out.contains(".TH goscope"),
        "{}",
        &out[..200.min(out.len())]
    );
    assert!(out.contains("profile") && out.contains("objdump"));
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = goscope(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("goscope-objdump.1").exists());
}

#[test]
fn core_map_by_name_by_address_and_by_the_variables_address() {
    let Some((fx, run)) = first_crash(&["maps"]) else {
        return;
    };
    let bin = fx.path.to_str().unwrap();
    let core = run.core.to_str().unwrap();
    // The program printed each map's address and contents (fmt sorts keys): the oracle.
    let oracle = run
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("ORACLE map ")
                .filter(|r| r.contains(" map[string]int "))
        })
        .expect("bigMap's oracle line")
        .to_string();
    let mut it = oracle.splitn(3, ' ');
    let (hdr, _, want) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());

    // By the variable's name: the type from DWARF, nothing guessed.
    let (code, out, err) = goscope(&["core", bin, core, "map", "main.bigMap"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("guessed"), "{out}");
    assert!(out.contains("type map[string]int"), "{out}");
    assert_eq!(out.lines().nth(2), Some(want), "{out}");

    // By the header's address without --type: the type is said to be guessed.
    let (code, out, err) = goscope(&["core", bin, core, "map", hdr]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines().nth(1).is_some_and(|l| l.contains("guessed")),
        "{out}"
    );

    // By the variable's address (go tool nm's): refused, pointing at the header.
    let tc = core_common::toolchains().into_iter().next().unwrap();
    let nm = String::from_utf8(tc.tool("nm", &[bin], None).unwrap()).unwrap();
    let var = nm
        .lines()
        .find(|l| l.ends_with(" main.bigMap"))
        .and_then(|l| l.split_whitespace().next())
        .expect("main.bigMap in go tool nm");
    let (code, out, err) = goscope(&["core", bin, core, "map", &format!("0x{var}")]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("holds a pointer to a map") && err.contains(&format!("try map {hdr}")),
        "{err}"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let args = ["objdump", "--annotate", "-s", "main\\.count$", SAMPLE];
    // Not a terminal here: no colour by default.
    let (_, plain, _) = goscope(&args);
    assert!(!plain.contains('\x1b'), "colour on a pipe");
    let (_, coloured, _) = goscope(&[&args[..], &["--color", "always"]].concat());
    assert!(
        coloured.contains("\x1b[36m// alloc") || coloured.contains("\x1b[36m// map"),
        "{coloured}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(args)
        .args(["--color", "never"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

#[test]
fn core_disassemble_uses_objdumps_columns_and_annotations() {
    let Some((fx, run)) = first_crash(&["customerr"]) else {
        return;
    };
    let bin = fx.path.to_str().unwrap();
    let (code, out, err) = goscope(&[
        "core",
        bin,
        run.core.to_str().unwrap(),
        "disassemble",
        "--annotate",
        "--context",
        "30",
    ]);
    assert_eq!(code, 0, "{err}");
    let function = out
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("TEXT "))
        .and_then(|l| l.split("(SB)").next())
        .expect("a TEXT line")
        .to_string();
    let (code, listing, err) = goscope(&[
        "objdump",
        "--annotate",
        "-s",
        &format!("^{}$", regex_escape(&function)),
        bin,
    ]);
    assert_eq!(code, 0, "{err}");
    // objdump: address → instruction text with its annotations.
    let want: std::collections::HashMap<String, String> = listing
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l
                .split('\t')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect();
            (f.len() >= 4 && f[1].starts_with("0x")).then(|| (f[1].to_string(), f[3].to_string()))
        })
        .collect();
    let mut compared = 0;
    for l in out.lines().skip(2) {
        let cells: Vec<&str> = l
            .trim_start_matches("=>")
            .split("  ")
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .collect();
        assert!(cells.len() >= 4, "{l}");
        let text = cells[3..].join("  ");
        assert_eq!(
            want.get(cells[1]).map(String::as_str),
            Some(text.as_str()),
            "{l}"
        );
        compared += 1;
    }
    assert!(compared > 20, "{out}");
    assert!(out.contains("// "), "no annotation in the window: {out}");
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}
