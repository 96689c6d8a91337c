//! Shared by the core tests: building crash fixtures, producing their cores, parsing what the Go
//! runtime printed under `GOTRACEBACK=crash` (the oracle), and comparing goscope's JSON with it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use goscope_xtask::{CrashRun, Fixture, Toolchain, Variant};
use serde_json::Value;

/// Runs goscope with `args`; returns (exit code, stdout, stderr).
pub fn goscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(args)
        .output()
        .expect("running goscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `goscope core --json BIN CORE [sub…]`, parsed.
pub fn core_json(bin: &Path, core: &Path, sub: &[&str]) -> Value {
    let mut args = vec![
        "core",
        "--json",
        bin.to_str().unwrap(),
        core.to_str().unwrap(),
    ];
    args.extend_from_slice(sub);
    let (code, out, err) = goscope(&args);
    assert_eq!(code, 0, "goscope {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{out}"))
}

/// The toolchains, or none (with a note) when there is no Go and it is not required.
pub fn toolchains() -> Vec<Toolchain> {
    match goscope_xtask::toolchains() {
        Ok(t) => t,
        Err(e) => {
            if goscope_xtask::required() {
                panic!("{e}");
            }
            eprintln!("skipping: {e}");
            Vec::new()
        }
    }
}

/// Whether cores can be produced; with `GOSCOPE_REQUIRE_TOOLCHAINS` a machine that cannot is a
/// failure.
pub fn cores_possible() -> bool {
    match goscope_xtask::core_dump_problem() {
        None => true,
        Some(p) => {
            if goscope_xtask::required() {
                panic!("{p}");
            }
            eprintln!("skipping core tests: {p}");
            false
        }
    }
}

/// Builds `program` for linux/amd64.
pub fn fixture(program: &str, tc: &Toolchain, variant: Variant, cgo: bool) -> Fixture {
    fixture_for(program, tc, "amd64", variant, cgo)
}

/// Builds `program` for linux/`goarch`.
pub fn fixture_for(
    program: &str,
    tc: &Toolchain,
    goarch: &str,
    variant: Variant,
    cgo: bool,
) -> Fixture {
    goscope_xtask::build(program, tc, "linux", goarch, variant, cgo)
        .unwrap_or_else(|e| panic!("building {program} for {goarch}: {e:#}"))
}

/// The architectures whose cores this machine can produce: amd64 natively, arm64 under
/// qemu-user (`apt-get install qemu-user-static`; required when CI requires toolchains).
pub fn crash_arches() -> Vec<&'static str> {
    let mut v = vec!["amd64"];
    if goscope_xtask::can_crash("arm64") {
        v.push("arm64");
    } else if goscope_xtask::required() {
        panic!("cannot produce linux/arm64 cores: install qemu-user-static");
    } else {
        eprintln!("note: no qemu-user: arm64 cores not tested");
    }
    v
}

/// The core and stderr of `fx` run with `args`.
pub fn crash(fx: &Fixture, args: &[&str]) -> CrashRun {
    goscope_xtask::crash_core(fx, args).unwrap_or_else(|e| panic!("{}: {e:#}", fx.label()))
}

/// The crash fixture of the first toolchain (linux/amd64, unstripped), crashed with `args`; `None`
/// (skip) when this machine cannot produce cores or has no toolchain — a failure instead when
/// CI requires them.
pub fn first_crash(args: &[&str]) -> Option<(Fixture, CrashRun)> {
    if !cores_possible() {
        return None;
    }
    let tc = toolchains().into_iter().next()?;
    let fx = fixture("crash", &tc, Variant::Default, false);
    let run = crash(&fx, args);
    Some((fx, run))
}

/// One frame the runtime printed.
#[derive(Debug, Clone, PartialEq)]
pub struct OFrame {
    /// Function as printed (`panic`, `main.F[...]`).
    pub func: String,
    pub file: String,
    pub line: i64,
    /// pc and sp of physical frames (printed at GOTRACEBACK=crash).
    pub pc: Option<u64>,
    pub sp: Option<u64>,
    /// `+0x…`: the pc's offset in its function (physical frames).
    pub offset: Option<u64>,
}

/// One goroutine the runtime printed.
#[derive(Debug, Clone, Default)]
pub struct OGoroutine {
    pub id: u64,
    /// The bracketed state.
    pub state: String,
    pub frames: Vec<OFrame>,
    /// Frames elided in the middle (`...N frames elided...`, Go 1.21+): the printed frames are
    /// the first and last 50. `Some(0)` for Go ≤1.20's `...additional frames elided...` (the
    /// first 100 printed).
    pub elided: Option<u64>,
    /// `created by F [in goroutine N]` and its file:line.
    pub created_by: Option<(String, Option<u64>, String, i64)>,
    /// `goroutine running on other thread; stack unavailable`.
    pub unavailable: bool,
    /// `gp=0x…` (Go 1.23+ at GOTRACEBACK=crash).
    pub gp: Option<u64>,
    /// `m=N` (`Some(None)` for `m=nil`).
    pub m: Option<Option<i64>>,
}

/// Everything the runtime printed.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Lines before the first stack section (panic, fatal error, signal lines).
    pub head: Vec<String>,
    /// The `runtime stack:` section.
    pub runtime_stack: Vec<OFrame>,
    pub goroutines: Vec<OGoroutine>,
    /// `ORACLE …` lines the fixture printed.
    pub notes: Vec<String>,
}

fn hexnum(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// The function name of a traceback line `name(args)`.
fn func_of(line: &str) -> String {
    let line = line.trim_end();
    if !line.ends_with(')') {
        return line.to_string();
    }
    let mut depth = 0i32;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return line[..i].to_string();
                }
            }
            _ => {}
        }
    }
    line.to_string()
}

/// `\t/path/file.go:123 +0x1f fp=… sp=… pc=…`.
fn parse_loc(line: &str) -> (String, i64, Option<u64>, Option<u64>) {
    let (file, line, pc, sp, _) = parse_loc_offset(line);
    (file, line, pc, sp)
}

/// [`parse_loc`] and the `+0x…` offset.
fn parse_loc_offset(line: &str) -> (String, i64, Option<u64>, Option<u64>, Option<u64>) {
    let t = line.trim_start_matches('\t');
    let mut parts = t.split(' ');
    let fl = parts.next().unwrap_or("");
    let (file, ln) = fl.rsplit_once(':').unwrap_or((fl, "0"));
    let mut pc = None;
    let mut sp = None;
    let mut offset = None;
    for p in parts {
        if let Some(v) = p.strip_prefix('+') {
            offset = hexnum(v);
        } else if let Some(v) = p.strip_prefix("pc=") {
            pc = hexnum(v);
        } else if let Some(v) = p.strip_prefix("sp=") {
            sp = hexnum(v);
        }
    }
    (file.to_string(), ln.parse().unwrap_or(-1), pc, sp, offset)
}

/// Parses a `GOTRACEBACK=crash` traceback.
pub fn parse_oracle(stderr: &str) -> Oracle {
    let mut o = Oracle::default();
    let lines: Vec<&str> = stderr.lines().collect();
    let mut i = 0;
    let mut in_sections = false;
    while i < lines.len() {
        let l = lines[i];
        if let Some(n) = l.strip_prefix("ORACLE ") {
            o.notes.push(n.to_string());
            i += 1;
            continue;
        }
        if l == "runtime stack:" {
            in_sections = true;
            i += 1;
            let (frames, _, next) = parse_frames(&lines, i);
            o.runtime_stack = frames;
            i = next;
            continue;
        }
        if let Some(rest) = l.strip_prefix("goroutine ")
            && l.ends_with("]:")
        {
            in_sections = true;
            let id: u64 = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            let state = l[l.find(" [").unwrap() + 2..l.len() - 2].to_string();
            i += 1;
            let mut g = OGoroutine {
                id,
                state,
                ..Default::default()
            };
            for word in l.split(' ') {
                if let Some(v) = word.strip_prefix("gp=") {
                    g.gp = hexnum(v);
                } else if let Some(v) = word.strip_prefix("m=") {
                    g.m = Some(v.parse().ok());
                }
            }
            if lines
                .get(i)
                .is_some_and(|x| x.contains("stack unavailable"))
            {
                g.unavailable = true;
                i += 1;
            }
            let (frames, elided, next) = parse_frames(&lines, i);
            g.frames = frames;
            g.elided = elided;
            i = next;
            if let Some(c) = lines.get(i).and_then(|x| x.strip_prefix("created by ")) {
                let (f, parent) = match c.split_once(" in goroutine ") {
                    Some((f, p)) => (f.to_string(), p.parse().ok()),
                    None => (c.to_string(), None),
                };
                let (file, line, _, _) = parse_loc(lines.get(i + 1).unwrap_or(&""));
                g.created_by = Some((f, parent, file, line));
                i += 2;
            }
            o.goroutines.push(g);
            continue;
        }
        if !in_sections {
            o.head.push(l.to_string());
        }
        i += 1;
    }
    o
}

fn parse_frames(lines: &[&str], mut i: usize) -> (Vec<OFrame>, Option<u64>, usize) {
    let mut frames = Vec::new();
    let mut elided = None;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() || l.starts_with("created by ") || l.starts_with("goroutine ") {
            break;
        }
        if l.starts_with("...") {
            elided = Some(
                l.trim_start_matches("...")
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            );
            i += 1;
            continue;
        }
        if l.starts_with('\t') {
            i += 1;
            continue;
        }
        let func = func_of(l);
        let (file, line, pc, sp, offset) = parse_loc_offset(lines.get(i + 1).unwrap_or(&""));
        frames.push(OFrame {
            func,
            file,
            line,
            pc,
            sp,
            offset,
        });
        i += 2;
    }
    (frames, elided, i)
}

fn hexval(v: &Value) -> Option<u64> {
    v.as_str().and_then(hexnum)
}

/// goscope's frames of a JSON goroutine as the runtime prints them.
pub fn gs_frames(frames: &Value) -> Vec<OFrame> {
    frames
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let physical = !f["inlined"].as_bool().unwrap_or(false);
                    OFrame {
                        func: print_name(f["function"].as_str().unwrap_or("")),
                        file: f["file"].as_str().unwrap_or("").to_string(),
                        line: f["line"].as_i64().unwrap_or(0),
                        pc: if physical { hexval(&f["pc"]) } else { None },
                        sp: if physical { hexval(&f["sp"]) } else { None },
                        offset: if physical { hexval(&f["offset"]) } else { None },
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The runtime's `printFuncName`.
pub fn print_name(name: &str) -> String {
    goscope_runtime::goroutine::print_name(name)
}

/// Compares printed frames with goscope's. `suffix`: the runtime printed from a point inside
/// goscope's stack (the crashing goroutine: goscope also shows the crash handling that ran
/// after printing), so the printed frames must end goscope's and the extra ones be runtime's.
pub fn compare_frames(
    what: &str,
    oracle: &[OFrame],
    elided: Option<u64>,
    ours: &[OFrame],
    suffix: bool,
    errors: &mut Vec<String>,
) {
    let ours: &[OFrame] = if suffix && ours.len() >= oracle.len() && elided.is_none() {
        let extra = ours.len() - oracle.len();
        for f in &ours[..extra] {
            if !(f.func.starts_with("runtime.") || f.func.starts_with("internal/")) {
                errors.push(format!(
                    "{what}: extra frame {} above the printed stack",
                    f.func
                ));
            }
        }
        &ours[extra..]
    } else {
        ours
    };
    let same = |a: &OFrame, b: &OFrame| {
        a.func == b.func
            && a.file == b.file
            && a.line == b.line
            && (a.pc.is_none() || b.pc.is_none() || a.pc == b.pc)
            && (a.sp.is_none() || b.sp.is_none() || a.sp == b.sp)
    };
    let mismatch = |i: usize, a: &OFrame, b: Option<&OFrame>, errors: &mut Vec<String>| {
        errors.push(format!(
            "{what}: frame {i}: runtime printed {} {}:{} pc={:x?} sp={:x?}, goscope has {:?}",
            a.func, a.file, a.line, a.pc, a.sp, b
        ));
    };
    match elided {
        Some(0) => {
            // Go ≤1.20: the first 100 frames.
            for (i, a) in oracle.iter().enumerate() {
                match ours.get(i) {
                    Some(b) if same(a, b) => {}
                    b => return mismatch(i, a, b, errors),
                }
            }
        }
        Some(n) => {
            // Go 1.21+: first 50, n elided, last 50.
            let head = oracle.len().min(50);
            let total = oracle.len() + n as usize;
            if ours.len() < total {
                errors.push(format!(
                    "{what}: {} frames, the runtime counted {total}",
                    ours.len()
                ));
                return;
            }
            let off = ours.len() - total;
            for (i, a) in oracle.iter().enumerate() {
                let j = if i < head {
                    off + i
                } else {
                    off + i + n as usize
                };
                match ours.get(j) {
                    Some(b) if same(a, b) => {}
                    b => return mismatch(i, a, b, errors),
                }
            }
        }
        None => {
            if oracle.len() != ours.len() {
                errors.push(format!(
                    "{what}: runtime printed {} frames, goscope has {}:\n  runtime: {:?}\n  goscope: {:?}",
                    oracle.len(),
                    ours.len(),
                    oracle.iter().map(|f| &f.func).collect::<Vec<_>>(),
                    ours.iter().map(|f| &f.func).collect::<Vec<_>>()
                ));
                return;
            }
            for (i, (a, b)) in oracle.iter().zip(ours).enumerate() {
                if !same(a, b) {
                    return mismatch(i, a, Some(b), errors);
                }
            }
        }
    }
}

/// Compares goscope's summary JSON with the oracle: the same goroutines, states, creators and
/// frames (function, file, line, pc, sp) for every goroutine, and the same runtime stack.
/// Returns the mismatches.
pub fn compare_with_oracle(label: &str, summary: &Value, oracle: &Oracle) -> Vec<String> {
    let mut errors = Vec::new();
    let gs = summary["goroutines"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let failing = summary["panic"]["goroutine"].as_u64();
    let by_id: std::collections::HashMap<u64, &Value> = gs
        .iter()
        .filter_map(|g| Some((g["id"].as_u64()?, g)))
        .collect();
    // `goroutine 0` sections are Ms' g0 stacks printed while relaying a signal, not goroutines;
    // a goroutine printed twice threw twice (two goroutines failing at once).
    let mut oracle_ids: Vec<u64> = oracle
        .goroutines
        .iter()
        .map(|g| g.id)
        .filter(|&i| i != 0)
        .collect();
    oracle_ids.dedup();
    let mut ours: Vec<u64> = by_id.keys().copied().collect();
    ours.sort_unstable();
    oracle_ids.sort_unstable();
    oracle_ids.dedup();
    if oracle_ids != ours {
        errors.push(format!(
            "{label}: goroutine ids differ:\n  runtime {oracle_ids:?}\n  goscope {ours:?}"
        ));
    }
    oracle_ids.sort_unstable();
    oracle_ids.dedup();
    for og in &oracle.goroutines {
        let Some(g) = by_id.get(&og.id) else {
            continue;
        };
        let what = format!("{label} goroutine {}", og.id);
        let state = g["state"].as_str().unwrap_or("");
        // A goroutine printed as running on another thread kept running while the process
        // died (two goroutines failing at once): its state and stack in the core are later
        // than the runtime's print.
        let still_running =
            og.state == "running" && Some(og.id) != failing && double_failure(oracle);
        if still_running {
            continue;
        }
        if state != og.state {
            errors.push(format!(
                "{what}: state {state:?}, runtime printed {:?}",
                og.state
            ));
        }
        if let Some(gp) = og.gp
            && hexval(&g["addr"]) != Some(gp)
        {
            errors.push(format!(
                "{what}: g at {}, runtime printed gp={gp:#x}",
                g["addr"]
            ));
        }
        if let Some(m) = og.m
            && g["m"].as_i64() != m
        {
            errors.push(format!("{what}: m {}, runtime printed m={m:?}", g["m"]));
        }
        let running = og.state.starts_with("running");
        if !og.unavailable {
            compare_frames(
                &what,
                &og.frames,
                og.elided,
                &gs_frames(&g["frames"]),
                running || Some(og.id) == failing,
                &mut errors,
            );
        }
        match (&og.created_by, g.get("created_by")) {
            (Some((f, parent, file, line)), Some(c)) if !c.is_null() => {
                let cf = print_name(c["function"].as_str().unwrap_or(""));
                if &cf != f
                    || c["file"].as_str() != Some(file)
                    || c["line"].as_i64() != Some(*line)
                    || c["goroutine"].as_u64() != *parent
                {
                    errors.push(format!(
                        "{what}: created by {f} in {parent:?} at {file}:{line}, goscope {c}"
                    ));
                }
            }
            (None, None) => {}
            (None, Some(c)) if c.is_null() => {}
            (o, c) => errors.push(format!("{what}: created by {o:?}, goscope {c:?}")),
        }
    }
    if !oracle.runtime_stack.is_empty() {
        compare_frames(
            &format!("{label} runtime stack"),
            &oracle.runtime_stack,
            None,
            &gs_frames(&summary["runtime_stack"]),
            true,
            &mut errors,
        );
    }
    errors
}

/// `s` cut to `n` characters, for messages.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// The panic/fatal lines the runtime printed first (before any stack), joined by newlines,
/// without the signal description lines.
pub fn oracle_message(o: &Oracle) -> String {
    let lines: Vec<&str> = o
        .head
        .iter()
        .map(String::as_str)
        .filter(|l| !l.is_empty() && !l.starts_with("runtime: ") && !l.starts_with("[signal"))
        .collect();
    // Two goroutines throwing at once print the same message twice.
    let mut out: Vec<&str> = Vec::new();
    for l in lines {
        if out.last() != Some(&l) {
            out.push(l);
        }
    }
    out.join("\n")
}

/// Whether two goroutines failed at once (the runtime printed the fatal message twice).
pub fn double_failure(o: &Oracle) -> bool {
    let mut seen = std::collections::HashSet::new();
    o.head
        .iter()
        .any(|l| l.starts_with("fatal error") && !seen.insert(l))
}

/// `gdb -batch` over BIN and CORE with `cmds`; stdout.
pub fn gdb(bin: &std::path::Path, core: &std::path::Path, cmds: &[&str]) -> Option<String> {
    let mut c = Command::new("gdb");
    c.arg("-batch").arg("-nx");
    for x in cmds {
        c.arg("-ex").arg(x);
    }
    let out = c.arg(bin).arg(core).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether gdb runs (required under `GOSCOPE_REQUIRE_TOOLCHAINS`).
pub fn have_gdb() -> bool {
    let ok = Command::new("gdb")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !goscope_xtask::required(),
            "gdb is required (apt-get install gdb)"
        );
        eprintln!("skipping: no gdb");
    }
    ok
}

/// `dlv` on PATH or in `$(go env GOPATH)/bin`.
pub fn dlv() -> Option<PathBuf> {
    if Command::new("dlv")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(PathBuf::from("dlv"));
    }
    let gopath = Command::new("go").args(["env", "GOPATH"]).output().ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&gopath.stdout).trim()).join("bin/dlv");
    p.exists().then_some(p)
}

/// Runs `dlv core BIN CORE` with `commands`; returns stdout.
pub fn dlv_run(dlv: &Path, bin: &Path, core: &Path, commands: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init");
    std::fs::write(&init, format!("{commands}\nexit\n")).unwrap();
    let out = Command::new(dlv)
        .args(["core"])
        .arg(bin)
        .arg(core)
        .arg("--init")
        .arg(&init)
        .arg("--allow-non-terminal-interactive=true")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running dlv");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
