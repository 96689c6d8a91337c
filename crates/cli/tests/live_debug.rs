//! `goscope debug` driven by scripted sessions on `testdata/debugfix` and `testdata/live`,
//! against Delve and the programs' own accounts: function breakpoints stop where dlv stops;
//! FILE:LINE stops in every inlined copy the compiler reports; a write watchpoint stops after the
//! writing instruction, at the writing line, in the writing goroutine, with old and new values;
//! `si` follows the listing; forks are followed; bad input is an error the session survives;
//! and a session ended by SIGINT or SIGTERM leaves the program running, its code and debug
//! registers clean.

mod core_common;
mod live_common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use core_common::{dlv, toolchains};
use goscope_xtask::{Fixture, Variant};
use serde_json::Value;

/// Runs `goscope debug` with `args`; returns the JSON lines it printed and its exit status.
fn debug(args: &[&str]) -> (Vec<Value>, i32, String) {
    let mut all = vec!["debug"];
    all.extend_from_slice(args);
    live_common::goscope_json(&all, &[])
}

fn stops(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l["event"] == "stop").collect()
}

/// The line of `testdata/debugfix/main.go` holding `marker`.
fn line_of(marker: &str) -> i64 {
    let src = std::fs::read_to_string(goscope_xtask::repo_root().join("testdata/debugfix/main.go"))
        .unwrap();
    src.lines()
        .position(|l| l.contains(marker))
        .map(|i| i as i64 + 1)
        .unwrap_or_else(|| panic!("no {marker:?} in debugfix"))
}

thread_local! {
    /// The toolchain the current pass of [`for_each_toolchain`] builds with.
    static TOOLCHAIN: std::cell::RefCell<Option<goscope_xtask::Toolchain>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `body` once per toolchain of the matrix (the oldest, 1.19, is no less a target).
fn for_each_toolchain(body: impl Fn()) {
    for tc in toolchains() {
        eprintln!("toolchain {}", tc.version);
        TOOLCHAIN.with(|c| *c.borrow_mut() = Some(tc));
        body();
    }
}

/// `debugfix` built by the current pass's toolchain (the newest outside a pass).
fn fixture(variant: Variant) -> Option<Fixture> {
    let tc = TOOLCHAIN
        .with(|c| c.borrow().clone())
        .or_else(|| toolchains().into_iter().max_by_key(|t| t.minor))?;
    Some(core_common::fixture("debugfix", &tc, variant, false))
}

/// The Go minor version of the current pass's toolchain.
fn tc_minor() -> u32 {
    toolchain().map_or(0, |t| t.minor)
}

/// The toolchain of the current pass.
fn toolchain() -> Option<goscope_xtask::Toolchain> {
    TOOLCHAIN
        .with(|c| c.borrow().clone())
        .or_else(|| toolchains().into_iter().max_by_key(|t| t.minor))
}

/// `(pc, line)` where dlv stops for `break FUNC` then `continue` on `bin calls`.
fn dlv_stop(dlv: &Path, bin: &Path, func: &str) -> Option<(u64, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init");
    std::fs::write(&init, format!("break {func}\ncontinue\nexit\n")).unwrap();
    let out = Command::new(dlv)
        .arg("exec")
        .arg(bin)
        .arg("--init")
        .arg(&init)
        .arg("--allow-non-terminal-interactive=true")
        // Delve 1.27 refuses Go 1.19 by default; it reads it well (see core_print).
        .arg("--check-go-version=false")
        .args(["--", "-dir"])
        .arg(dir.path())
        .arg("calls")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `> [Breakpoint 1] main.tick() ./main.go:42 (hits goroutine(1):1 total:1) (PC: 0x4a1b20)`
    let l = text.lines().find(|l| l.starts_with("> "))?;
    let pc = u64::from_str_radix(l.split("(PC: 0x").nth(1)?.trim_end_matches(')'), 16).ok()?;
    let line = l
        .split_whitespace()
        .find(|w| w.contains(".go:"))?
        .rsplit(':')
        .next()?
        .parse()
        .ok()?;
    Some((pc, line))
}

#[test]
fn function_breakpoints_stop_where_dlv_stops() {
    for_each_toolchain(|| {
        let Some(fx) = fixture(Variant::Default) else {
            return;
        };
        let stripped = fixture(Variant::Stripped).unwrap();
        let Some(dlv) = dlv() else {
            assert!(!goscope_xtask::required(), "dlv is required");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        for func in [
            "main.tick",
            "main.first",
            "main.third",
            "main.write",
            "main.main",
        ] {
            let want = dlv_stop(&dlv, &fx.path, func).unwrap_or_else(|| panic!("dlv on {func}"));
            for bin in [&fx.path, &stripped.path] {
                let (lines, code, err) = debug(&[
                    "exec",
                    bin.to_str().unwrap(),
                    "--json",
                    "-c",
                    &format!("break {func}"),
                    "-c",
                    "continue",
                    "-c",
                    "exit",
                    "--",
                    "-dir",
                    d,
                    "calls",
                ]);
                assert_eq!(code, 0, "{err}");
                let s = stops(&lines);
                let s = s
                    .first()
                    .unwrap_or_else(|| panic!("{func}: no stop: {lines:?}"));
                assert_eq!(s["reason"], "breakpoint");
                assert_eq!(
                    (s["pc"].as_u64().unwrap(), s["line"].as_i64().unwrap()),
                    want,
                    "{func} in {}: goscope stops at {:#x}, dlv at {:#x}",
                    bin.display(),
                    s["pc"].as_u64().unwrap_or(0),
                    want.0
                );
            }
        }
    });
}

#[test]
fn file_line_breakpoints_stop_in_every_inlined_copy() {
    for_each_toolchain(|| {
        for variant in [Variant::Default, Variant::Stripped] {
            let Some(fx) = fixture(variant) else {
                return;
            };
            let dir = tempfile::tempdir().unwrap();
            let line = line_of("return a*2 + b");
            let mut args = vec![
                "exec".to_string(),
                fx.path.display().to_string(),
                "--json".into(),
                "-c".into(),
                format!("break main.go:{line}"),
            ];
            // Enough continues to pass every copy and reach the end.
            for _ in 0..6 {
                args.extend(["-c".to_string(), "continue".to_string()]);
            }
            args.extend([
                "--".into(),
                "-dir".into(),
                dir.path().display().to_string(),
                "calls".into(),
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (lines, code, err) = debug(&args);
            assert_eq!(code, 0, "{err}");
            let set = lines
                .iter()
                .find(|l| l["result"]["kind"] == "breakpoint")
                .expect("breakpoint set");
            let copies = set["result"]["locations"].as_array().unwrap().len();
            // Delve, on the same build (with its DWARF line table), stops at the same addresses:
            // one per inlined copy of the line that has code.
            if variant == Variant::Default
                && let Some(dlv) = dlv()
            {
                let init = dir.path().join("dlv-init");
                std::fs::write(&init, format!("break main.go:{line}\nexit\n")).unwrap();
                let out = Command::new(&dlv)
                    .arg("exec")
                    .arg(&fx.path)
                    .arg("--init")
                    .arg(&init)
                    .arg("--allow-non-terminal-interactive=true")
                    // Delve 1.27 refuses Go 1.19 by default; it reads it well (see core_print).
                    .arg("--check-go-version=false")
                    .args(["--", "calls"])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let l = text
                    .lines()
                    .find(|l| l.starts_with("Breakpoint 1 set at "))
                    .unwrap_or_else(|| panic!("dlv: {text}"));
                let mut theirs: Vec<u64> = l["Breakpoint 1 set at ".len()..]
                    .split(' ')
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap())
                    .collect();
                theirs.sort_unstable();
                let mut ours: Vec<u64> = set["result"]["locations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["addr"].as_u64().unwrap())
                    .collect();
                ours.sort_unstable();
                assert_eq!(ours, theirs, "goscope's locations, dlv's");
            }
            let hits: Vec<&Value> = stops(&lines)
                .into_iter()
                .filter(|s| s["reason"] == "breakpoint")
                .collect();
            assert_eq!(hits.len(), copies, "{lines:#?}");
            let mut callers: Vec<String> = hits
                .iter()
                .map(|s| {
                    let chain = s["inline"].as_array().unwrap();
                    assert_eq!(chain[0]["function"], "main.add");
                    assert_eq!(chain[0]["line"].as_i64(), Some(line));
                    chain.last().unwrap()["function"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            callers.sort();
            callers.dedup();
            // Go 1.26 keeps add's line in all three callers; 1.19 folded two copies away.
            if tc_minor() >= 21 {
                assert_eq!(callers, ["main.first", "main.second", "main.third"]);
                assert_eq!(copies, 4, "add is inlined four times");
            }
            assert_eq!(stops(&lines).last().unwrap()["reason"], "exited");
        }
    });
}

/// A child process killed when the test ends, passed or failed.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A session whose commands the test writes one by one.
struct Interactive {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Interactive {
    fn attach(pid: i32) -> Interactive {
        let mut child = Command::new(env!("CARGO_BIN_EXE_goscope"))
            .args(["debug", "attach", &pid.to_string(), "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str(&l)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        let mut s = Interactive {
            child,
            stdin,
            lines: rx,
        };
        let first = s.next();
        assert_eq!(first["event"], "started", "{first}");
        s
    }

    fn next(&mut self) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("goscope debug answered")
    }

    fn send(&mut self, cmd: &str) -> Value {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        self.next()
    }
}

#[test]
fn a_write_watchpoint_stops_after_the_write_in_the_writing_goroutine() {
    for_each_toolchain(|| {
        for variant in [Variant::Default, Variant::Stripped] {
            let Some(fx) = fixture(variant) else {
                return;
            };
            let dir = tempfile::tempdir().unwrap();
            let mut prog = Killed(
                Command::new(&fx.path)
                    .args(["-dir", dir.path().to_str().unwrap(), "watch"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let file = |n: &str| dir.path().join(n);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !file("writer").exists() {
                assert!(Instant::now() < deadline);
                std::thread::sleep(Duration::from_millis(5));
            }
            let addr = std::fs::read_to_string(file("addr"))
                .unwrap()
                .trim()
                .to_string();
            let writer: u64 = std::fs::read_to_string(file("writer"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let mut s = Interactive::attach(prog.0.id() as i32);
            let set = s.send(&format!("watch -w {addr} 8"));
            assert_eq!(set["result"]["kind"], "breakpoint", "{set}");
            std::fs::write(file("go"), "").unwrap();
            let line = line_of("state.value = v");
            for (old, new) in [(0u64, 1u64), (1, 2)] {
                let stop = s.send("continue");
                assert_eq!(stop["reason"], "watchpoint", "{stop}");
                assert_eq!(stop["function"], "main.setValue");
                assert_eq!(stop["line"].as_i64(), Some(line), "{stop}");
                assert_eq!(stop["goroutine"].as_u64(), Some(writer), "{stop}");
                assert_eq!(
                    (stop["old"].as_u64(), stop["new"].as_u64()),
                    (Some(old), Some(new))
                );
                // The trap comes after the writing instruction: pc is the next one.
                let insn = stop["instruction"][0].as_u64().unwrap();
                assert!(insn < stop["pc"].as_u64().unwrap());
            }
            let end = s.send("detach");
            assert_eq!(end["result"]["program"], "detached", "{end}");
            let st = prog.0.wait().unwrap();
            assert!(st.success());
            assert_eq!(std::fs::read_to_string(file("result")).unwrap(), "done 3\n");
        }
    });
}

#[test]
fn bad_input_is_an_error_and_the_session_goes_on() {
    for_each_toolchain(|| {
        let Some(fx) = fixture(Variant::Default) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (lines, code, err) = debug(&[
            "exec",
            fx.path.to_str().unwrap(),
            "--json",
            "-c",
            "break main.nosuchfunction",
            "-c",
            "break main.go:99999",
            "-c",
            "break nosuchfile.go:3",
            "-c",
            "watch -w 0x10 8",
            "-c",
            "watch -w 0x1001 8",
            "-c",
            "bogus",
            "-c",
            "frame 999",
            "-c",
            "break main.tick",
            "-c",
            "continue",
            "-c",
            "print 1 +",
            "-c",
            "print nosuchvariable",
            "-c",
            "cond 99 i == 1",
            "-c",
            "cond 1 i ==",
            "-c",
            "x notanaddress",
            "-c",
            "exit",
            "--",
            "-dir",
            dir.path().to_str().unwrap(),
            "calls",
        ]);
        assert_eq!(code, 2, "a script with failed commands exits 2: {err}");
        let errors: Vec<&Value> = lines.iter().filter(|l| l.get("error").is_some()).collect();
        assert_eq!(errors.len(), 12, "{lines:#?}");
        for e in &errors {
            let msg = e["error"].as_str().unwrap();
            assert!(!msg.is_empty() && !msg.contains("panicked"), "{msg}");
        }
        assert!(errors[0]["error"].as_str().unwrap().contains("no function"));
        let s = stops(&lines);
        assert_eq!(s[0]["function"], "main.tick", "the session went on");
    });
}

#[test]
fn five_hardware_watchpoints_are_refused_with_the_count() {
    let Some(fx) = fixture(Variant::Default) else {
        return;
    };
    let bin = goscope_binary::Binary::open(&fx.path).unwrap();
    let state = bin.symbol_addr("main.state").expect("main.state");
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "exec".to_string(),
        fx.path.display().to_string(),
        "--json".into(),
    ];
    for i in 0..5 {
        args.extend(["-c".into(), format!("watch -w {:#x} 8", state + 8 * i)]);
    }
    args.extend(["-c".into(), "exit".into(), "--".into(), "calls".into()]);
    let _ = dir;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (lines, _, _) = debug(&args);
    let set: Vec<&Value> = lines
        .iter()
        .filter(|l| l["result"]["kind"] == "breakpoint")
        .collect();
    assert_eq!(set.len(), 4);
    assert_eq!(set[3]["result"]["debug_registers_used"], 4);
    let refused = lines.iter().find(|l| l.get("error").is_some()).unwrap();
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("debug register"),
        "{refused}"
    );
}

#[test]
fn follow_fork_stops_in_the_forked_and_execd_child() {
    for_each_toolchain(|| {
        let Some(fx) = fixture(Variant::Default) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (lines, code, err) = debug(&[
            "exec",
            fx.path.to_str().unwrap(),
            "--json",
            "--follow-fork",
            "-c",
            "break main.childWork",
            "-c",
            "continue",
            "-c",
            "processes",
            "-c",
            "continue",
            "-c",
            "continue",
            "--",
            "-dir",
            dir.path().to_str().unwrap(),
            "fork",
        ]);
        assert_eq!(code, 0, "{err}");
        let s = stops(&lines);
        let parent = lines[0]["pid"].as_i64().unwrap();
        let hit = s.first().unwrap();
        assert_eq!(hit["reason"], "breakpoint", "{lines:#?}");
        assert_eq!(hit["function"], "main.childWork");
        assert_ne!(
            hit["pid"].as_i64(),
            Some(parent),
            "the stop is in the child"
        );
        let procs = lines
            .iter()
            .find(|l| l["result"]["kind"] == "processes")
            .unwrap();
        assert!(procs["result"]["list"].as_array().unwrap().len() >= 2);
        // The child ran on to the end and told its parent.
        // childWork returns len(os.Args) * 7: the child has four arguments.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("child")).unwrap(),
            "28\n",
            "the child ran on and wrote its result"
        );
    });
}

#[test]
fn a_session_ended_by_a_signal_leaves_the_program_running_and_clean() {
    let Some(tc) = toolchains().into_iter().max_by_key(|t| t.minor) else {
        return;
    };
    for sig in ["INT", "TERM"] {
        let fx = core_common::fixture("live", &tc, Variant::Default, false);
        let live = live_common::Live::start(&fx, &[]);
        let bin = goscope_binary::Binary::open(&fx.path).unwrap();
        let progress = bin.symbol_addr("main.progress").expect("main.progress");
        let mut s = Interactive::attach(live.pid);
        // A hardware breakpoint filtered in the kernel (hit every 10 ms, never passing),
        // int3s (five inlined copies), and a watchpoint.
        let b = s.send("break main.writeFile");
        assert_eq!(b["result"]["locations"][0]["how"], "hardware", "{b}");
        let c = s.send("cond 1 goroutine == 999999");
        if kernel_filters() {
            assert_eq!(
                c["result"]["locations"][0]["how"], "hardware, filtered in the kernel",
                "{c}"
            );
        }
        let b = s.send("break main.go:61");
        assert!(
            b["result"]["locations"].as_array().unwrap().len() >= 4,
            "{b}"
        );
        assert_eq!(b["result"]["locations"][0]["how"], "int3", "{b}");
        let w = s.send(&format!("watch -w {progress:#x} 8"));
        assert_eq!(w["result"]["what"], "watchpoint", "{w}");
        let stop = s.send("continue");
        assert_eq!(stop["event"], "stop", "{stop}");
        assert!(
            matches!(stop["reason"].as_str(), Some("breakpoint" | "watchpoint")),
            "{stop}"
        );
        // The program is stopped, goscope waits for the next command: the signal.
        live_common::signal(s.child.id() as i32, sig);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(st) = s.child.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "goscope did not end on SIG{sig}");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            !status.success(),
            "SIG{sig} ends goscope with a failure status"
        );
        live.assert_runs_untouched(&format!("after SIG{sig} mid-session"));
        for (tid, dr7) in live_common::debug_control_registers(live.pid) {
            assert_eq!(dr7, 0, "thread {tid} still has debug registers armed");
        }
    }
}

#[test]
fn a_session_killed_by_sigkill_leaves_the_program_running() {
    // goscope's code breakpoints are perf events on its own descriptors (Linux 6.10+), which
    // the kernel removes when it dies; a debug register set through ptrace would stay armed
    // and the next hit would kill the program with SIGTRAP. The threads that trapped wait in
    // interrupt stops, from which a dying tracer releases them with no signal.
    if !kernel_filters() {
        return;
    }
    let Some(tc) = toolchains().into_iter().max_by_key(|t| t.minor) else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Default, false);
    let live = live_common::Live::start(&fx, &[]);
    let mut s = Interactive::attach(live.pid);
    // Hit every 10 ms: were it left armed, the program would die within moments.
    let b = s.send("break main.writeFile");
    assert_eq!(b["result"]["locations"][0]["how"], "hardware", "{b}");
    let b = s.send("break main.work");
    assert_eq!(b["result"]["kind"], "breakpoint", "{b}");
    let c = s.send("cond 2 goroutine == 999999");
    assert_eq!(
        c["result"]["locations"][0]["how"], "hardware, filtered in the kernel",
        "{c}"
    );
    let stop = s.send("continue");
    assert_eq!(stop["reason"], "breakpoint", "{stop}");
    let step = s.send("si");
    assert_eq!(step["reason"], "step", "{step}");
    live_common::signal(s.child.id() as i32, "KILL");
    let _ = s.child.wait();
    live.assert_runs_untouched("after goscope was killed by SIGKILL at a stop");
    for (tid, dr7) in live_common::debug_control_registers(live.pid) {
        assert_eq!(dr7, 0, "thread {tid} still has debug registers armed");
    }
    // Still alive after many more calls of main.writeFile.
    std::thread::sleep(Duration::from_millis(300));
    live.assert_runs_untouched("300 ms after goscope was killed");
}

#[test]
fn step_instruction_follows_the_listing_and_its_branches() {
    for_each_toolchain(|| {
        let Some(fx) = fixture(Variant::Default) else {
            return;
        };
        let tc = toolchain().unwrap();
        // The Go tool's listing and symbols: address → (length, text).
        let text = String::from_utf8(
            tc.tool("objdump", &[fx.path.to_str().unwrap()], None)
                .unwrap(),
        )
        .unwrap();
        let mut insns: std::collections::HashMap<u64, (u64, String)> = Default::default();
        for l in text.lines() {
            let f: Vec<&str> = l
                .split('\t')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect();
            if f.len() >= 4
                && let Some(a) = f[1].strip_prefix("0x")
                && let Ok(a) = u64::from_str_radix(a, 16)
            {
                insns.insert(a, ((f[2].len() / 2) as u64, f[3].to_string()));
            }
        }
        let nm =
            String::from_utf8(tc.tool("nm", &[fx.path.to_str().unwrap()], None).unwrap()).unwrap();
        let syms: std::collections::HashMap<String, u64> = nm
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Some((
                    w.get(2)?.to_string(),
                    u64::from_str_radix(w.first()?, 16).ok()?,
                ))
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "exec".to_string(),
            fx.path.display().to_string(),
            "--json".into(),
            "-c".into(),
            "break main.main".into(),
            "-c".into(),
            "continue".into(),
        ];
        for _ in 0..60 {
            args.extend(["-c".into(), "si".into()]);
        }
        args.extend([
            "--".into(),
            "-dir".into(),
            dir.path().display().to_string(),
            "calls".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (lines, code, err) = debug(&args);
        assert_eq!(code, 0, "{err}");
        let pcs: Vec<u64> = stops(&lines)
            .iter()
            .filter_map(|s| s["pc"].as_u64())
            .collect();
        assert!(pcs.len() > 50, "{lines:?}");
        let mut returns: Vec<u64> = Vec::new();
        for w in pcs.windows(2) {
            let (pc, next) = (w[0], w[1]);
            let (len, text) = insns.get(&pc).cloned().unwrap_or_else(|| {
                panic!("{pc:#x} is not an instruction of go tool objdump's listing")
            });
            let target = text.split_whitespace().nth(1).and_then(|t| {
                if let Some(h) = t.strip_prefix("0x") {
                    u64::from_str_radix(h, 16).ok()
                } else {
                    syms.get(t.trim_end_matches("(SB)")).copied()
                }
            });
            let ok = if text.starts_with("CALL") {
                returns.push(pc + len);
                Some(next) == target || next == pc + len
            } else if text.starts_with("RET") {
                returns.pop() == Some(next) || insns.contains_key(&next)
            } else if text.starts_with('J') {
                next == pc + len || Some(next) == target
            } else {
                next == pc + len
            };
            assert!(ok, "si from {pc:#x} ({text}) went to {next:#x}");
        }
    });
}

/// Whether this kernel runs goscope's breakpoint filters: Linux 6.10 or later, with the
/// breakpoint PMU and the bpf system call built in.
fn kernel_filters() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut v = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (6, 10)
        && Path::new("/sys/bus/event_source/devices/breakpoint/type").exists()
        && Path::new("/proc/sys/kernel/unprivileged_bpf_disabled").exists()
}

#[test]
fn a_conditional_breakpoint_stops_exactly_when_its_condition_holds() {
    for_each_toolchain(|| {
        // Conditions goscope evaluates at each hit (`%` has no kernel filter), conditions the
        // kernel filters (exactly: only the four hits reach goscope), and ones the kernel
        // filters in part (the left side of `&&`: i = 7…757 reach goscope) — on a register
        // (i, $rax), a package variable (calls), a stack slot (wide's tenth argument) and the
        // goroutine. At tick's entry `calls` is i; at wide's it is i + 1.
        struct Case {
            variant: Variant,
            func: &'static str,
            cond: &'static str,
            print: &'static [&'static str],
            /// Hits that reach goscope up to the fourth stop when the kernel filters.
            filtered: Option<u64>,
        }
        let case = |variant, func, cond, print, filtered| Case {
            variant,
            func,
            cond,
            print,
            filtered,
        };
        let d = Variant::Default;
        let cases = [
            case(d, "main.tick", "i % 250 == 7", &["i", "calls"], None),
            case(
                d,
                "main.tick",
                "i == 7 || i == 257 || (i >= 507 && i <= 757 && !(i > 507 && i < 757))",
                &["i", "calls"],
                Some(4),
            ),
            case(
                d,
                "main.tick",
                "i >= 7 && i < 758 && i % 250 == 7",
                &["i", "calls"],
                Some(751),
            ),
            case(
                d,
                "main.tick",
                "calls >= 7 && calls <= 757 && calls % 250 == 7",
                &["i", "calls"],
                Some(751),
            ),
            case(
                d,
                "main.tick",
                "goroutine == 1 && (i == 7 || i == 257 || i == 507 || i == 757)",
                &["i", "calls"],
                Some(4),
            ),
            case(
                d,
                "main.wide",
                "j == 7 || j == 257 || j == 507 || j == 757",
                &["j", "calls"],
                Some(4),
            ),
            // A stripped build has only registers: i is in RAX at tick's entry.
            case(
                Variant::Stripped,
                "main.tick",
                "$rax % 250 == 7",
                &["$rax"],
                None,
            ),
            case(
                Variant::Stripped,
                "main.tick",
                "$rax == 7 || $rax == 257 || $rax == 507 || $rax == 757",
                &["$rax"],
                Some(4),
            ),
        ];
        for Case {
            variant,
            func,
            cond,
            print,
            filtered,
        } in cases
        {
            let Some(fx) = fixture(variant) else {
                return;
            };
            let dir = tempfile::tempdir().unwrap();
            let mut args = vec![
                "exec".to_string(),
                fx.path.display().to_string(),
                "--json".into(),
                "-c".into(),
                format!("break {func}"),
                "-c".into(),
                format!("cond 1 {cond}"),
            ];
            for n in 0..5 {
                if n == 4 {
                    // Stopped at the fourth hit, i = 757.
                    args.extend(["-c".into(), "breakpoints".into()]);
                }
                args.extend(["-c".into(), "continue".into()]);
                for p in print {
                    args.extend(["-c".into(), format!("p {p}")]);
                }
            }
            args.extend([
                "--".into(),
                "-dir".into(),
                dir.path().display().to_string(),
                "calls".into(),
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (lines, code, err) = debug(&args);
            assert_eq!(code, 0, "{err}\n{lines:#?}");
            // How many of the 758 hits up to the fourth stop reached goscope: all of them, or
            // only those the kernel's filter passed — the four stops for an exact filter,
            // i = 7…757 for the filter of the left side.
            let listed = lines
                .iter()
                .find(|l| l["result"]["kind"] == "breakpoints")
                .unwrap_or_else(|| panic!("{lines:#?}"));
            let evaluated = listed["result"]["list"][0]["evaluated"].as_u64().unwrap();
            let want = match filtered {
                Some(n) if kernel_filters() => n,
                _ => 758,
            };
            assert_eq!(evaluated, want, "{cond}: hits goscope evaluated");
            let set = lines
                .iter()
                .find(|l| {
                    l["command"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("cond "))
                })
                .unwrap_or_else(|| panic!("{lines:#?}"));
            let how = set["result"]["locations"][0]["how"].as_str().unwrap();
            assert_eq!(
                how,
                if filtered.is_some() && kernel_filters() {
                    "hardware, filtered in the kernel"
                } else {
                    "hardware"
                },
                "{cond}"
            );
            let hits: Vec<&Value> = stops(&lines)
                .into_iter()
                .filter(|s| s["reason"] == "breakpoint")
                .collect();
            assert_eq!(
                hits.len(),
                4,
                "{cond}: i = 7, 257, 507, 757 of 1000 calls: {lines:#?}"
            );
            let values: Vec<String> = lines
                .iter()
                .filter(|l| l["result"]["kind"] == "value")
                .map(|l| l["result"]["value"].as_str().unwrap().to_string())
                .collect();
            // The value, then the fixture's own count of calls so far.
            let want: Vec<String> = [7u64, 257, 507, 757]
                .iter()
                .flat_map(|&i| {
                    let calls = if func == "main.wide" { i + 1 } else { i };
                    [i, calls].into_iter().take(print.len())
                })
                .map(|v| v.to_string())
                .collect();
            assert_eq!(values, want, "{cond}: {lines:#?}");
            // The program made all its calls: stopping cost it none.
            assert!(
                std::fs::read_to_string(dir.path().join("result"))
                    .unwrap()
                    .starts_with("done 1000 "),
            );
            assert_eq!(stops(&lines).last().unwrap()["reason"], "exited");
        }
    });
}

#[test]
fn print_at_a_breakpoint_equals_what_dlv_prints_there() {
    for_each_toolchain(|| {
        let Some(fx) = fixture(Variant::Default) else {
            return;
        };
        let Some(dlv) = dlv() else {
            assert!(!goscope_xtask::required(), "dlv is required");
            return;
        };
        let exprs = [
            "i",
            "calls",
            "sum",
            "state",
            "state.pad",
            "state.value + 3",
            "&state.value",
            "*main.n",
            "i == 500 && calls > 10",
            "*dir",
        ];
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let (ours, theirs) = prints_in_both(
            &dlv,
            &fx.path,
            &["-dir", d, "calls"],
            &["break main.tick", "cond 1 i == 500", "continue"],
            "",
            &[],
            &exprs,
        );
        for ((e, o), t) in exprs.iter().zip(&ours).zip(&theirs) {
            assert_eq!(o, t, "print {e}: goscope {o:?}, dlv {t:?}");
        }
    });
}

/// `exprs` printed at the same stop by dlv and by goscope: both run `stop` (Delve's words)
/// first; dlv prints each with `dlv_prefix` (e.g. `frame 1 `), goscope after running `select`
/// (e.g. `frame 1`). Returns (goscope's texts, dlv's texts); an error is `error: MESSAGE`.
fn prints_in_both(
    dlv: &Path,
    exe: &Path,
    program_args: &[&str],
    stop: &[&str],
    dlv_prefix: &str,
    select: &[&str],
    exprs: &[&str],
) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("dlv-init");
    let mut script: String = stop.iter().map(|c| format!("{c}\n")).collect();
    for (k, e) in exprs.iter().enumerate() {
        script.push_str(&format!("print \"MARK{k}\"\n{dlv_prefix}print {e}\n"));
    }
    script.push_str("print \"MARKEND\"\nexit\n");
    std::fs::write(&init, script).unwrap();
    let out = Command::new(dlv)
        .arg("exec")
        .arg(exe)
        .arg("--init")
        .arg(&init)
        .arg("--allow-non-terminal-interactive=true")
        // Delve 1.27 refuses Go 1.19 by default; it reads it well (see core_print).
        .arg("--check-go-version=false")
        .arg("--")
        .args(program_args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // dlv reports an evaluation error as "INIT-FILE:LINE: message".
    let init_prefix = regex::Regex::new(r"^\S*dlv-init:\d+: ").unwrap();
    let mut theirs = Vec::new();
    for k in 0..exprs.len() {
        let mark = format!("\"MARK{k}\"\n");
        let start = text.find(&mark).unwrap_or_else(|| panic!("dlv: {text}")) + mark.len();
        let next = if k + 1 < exprs.len() {
            format!("\"MARK{}\"", k + 1)
        } else {
            "\"MARKEND\"".to_string()
        };
        let end = start + text[start..].find(&next).unwrap();
        let out = text[start..end].trim_end();
        theirs.push(match init_prefix.find(out) {
            Some(m) => format!("error: {}", &out[m.end()..]),
            None => out.to_string(),
        });
    }
    let mut args = vec![exe.display().to_string(), "--json".into()];
    let prints: Vec<String> = exprs.iter().map(|e| format!("print {e}")).collect();
    for c in stop
        .iter()
        .chain(select)
        .map(|c| c.to_string())
        .chain(prints)
    {
        args.extend(["-c".into(), c]);
    }
    args.extend(["-c".into(), "exit".into(), "--".into()]);
    args.extend(program_args.iter().map(|a| a.to_string()));
    let mut all = vec!["exec"];
    all.extend(args.iter().map(String::as_str));
    let (lines, _, err) = debug(&all);
    let ours: Vec<String> = lines
        .iter()
        .filter(|l| {
            l["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("print "))
        })
        .map(|l| match l["result"]["value"].as_str() {
            Some(v) => v.to_string(),
            None => format!("error: {}", l["error"].as_str().unwrap_or("?")),
        })
        .collect();
    assert_eq!(ours.len(), exprs.len(), "{err}\n{lines:#?}");
    (ours, theirs)
}

/// `s` with heap and stack addresses (which differ between two runs of a program) masked.
fn mask_addresses(s: &str) -> String {
    let re = regex::Regex::new(r"0x[0-9a-f]{6,}").unwrap();
    re.replace_all(s, "0xADDR").into_owned()
}

#[test]
fn print_of_every_kind_of_value_equals_dlv_at_the_same_breakpoint() {
    for_each_toolchain(|| {
        let Some(tc) = toolchain() else {
            return;
        };
        let Some(dlv) = dlv() else {
            assert!(!goscope_xtask::required(), "dlv is required");
            return;
        };
        // testdata/printfix: main.inspect holds locals and arguments of every kind, live
        // across its call to main.crash, where both debuggers stop; frame 1 is inspect.
        let fx = core_common::fixture("printfix", &tc, Variant::Default, false);
        let exprs = [
            "a",
            "s",
            "f",
            "p",
            "*p",
            "o",
            "b",
            "str",
            "longStr",
            "bs",
            "items",
            "arr",
            "nested",
            "nilp",
            "small",
            "len(big)",
            "anyInt",
            "anyStruct",
            "anyPtr",
            "anyStr",
            "err",
            "nilErr",
            "ch",
            "nilCh",
            "o.Items[1].Name",
            "len(items)",
            "small[\"b\"]",
            "p.X + p.Y",
            "i8",
            "u16",
            "u64",
            "f32",
            "c",
        ];
        let (ours, theirs) = prints_in_both(
            &dlv,
            &fx.path,
            &[],
            &["break main.crash", "continue"],
            "frame 1 ",
            &["frame 1"],
            &exprs,
        );
        let ours: Vec<String> = ours.iter().map(|o| mask_addresses(o)).collect();
        let theirs: Vec<String> = theirs.iter().map(|t| mask_addresses(t)).collect();
        let mut errors = Vec::new();
        let mut compared = 0;
        for ((e, o), t) in exprs.iter().zip(&ours).zip(&theirs) {
            // Delve's own failures (e.g. interfaces in a live Go 1.26 program: "error loading
            // module data") are not a verdict on goscope.
            if t.starts_with("(unreadable ") && !o.starts_with("error") {
                continue;
            }
            compared += 1;
            if o != t {
                errors.push(format!(
                    "{} print {e}:\n  goscope {o:?}\n  dlv     {t:?}",
                    tc.version
                ));
            }
        }
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        assert!(
            compared >= exprs.len() - 6,
            "{}: dlv could print only {compared} of {} expressions",
            tc.version,
            exprs.len()
        );
    });
}
