//! A live program is a guest: goscope killed by SIGINT or SIGTERM at random moments during
//! `stacks`, `snapshot` and `top` always leaves it running, untraced and unpatched, and leaves no
//! half-written core; and bad input — a non-Go process, a PID that does not exist, a zombie, a
//! process goscope may not trace, a process that exits midway — gets one line saying so and
//! exit status 2.

mod core_common;
mod live_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use core_common::{goscope, toolchains};
use goscope_xtask::{Rng, Variant};
use live_common::{Live, proc_state, signal};

/// Runs goscope with `args` and sends `sig` after `delay`; returns (exit code, stderr).
fn interrupted(args: &[&str], sig: &str, delay: Duration) -> (i32, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    signal(child.id() as i32, sig);
    let out = child.wait_with_output().unwrap();
    // Once the process is resumed and nothing is left to undo, goscope lets the signal end it
    // as it ends any program: the shell's 128 + signal.
    use std::os::unix::process::ExitStatusExt;
    let code = out
        .status
        .code()
        .or_else(|| out.status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn killed_at_random_moments_the_target_runs_on() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Default, false);
    // Enough goroutines that each command takes a while (a pause of tens of milliseconds).
    let live = Live::start(&fx, &["-n", "30000"]);
    let pid = live.pid.to_string();
    let core = live.dir.path().join("snap.core");
    let core_s = core.to_str().unwrap().to_string();
    let mut rng = Rng(0x5eed_0009);
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..24 {
        let sig = if round % 2 == 0 { "INT" } else { "TERM" };
        let (cmd, args): (&str, Vec<&str>) = match round % 3 {
            0 => ("stacks", vec!["stacks", &pid]),
            1 => ("snapshot", vec!["snapshot", &pid, "-o", &core_s]),
            _ => ("top", vec!["top", "--json", "--interval", "100ms", &pid]),
        };
        let delay = Duration::from_millis(rng.range(0, 400));
        let (code, err) = interrupted(&args, sig, delay);
        let what = format!("{cmd} killed by SIG{sig} after {delay:?}");
        assert!(
            matches!(code, 0 | 130 | 143),
            "{what}: exit status {code}: {err}"
        );
        if code != 0 {
            assert!(
                err.lines().count() <= 2 && !err.contains("panicked"),
                "{what}: {err}"
            );
        }
        *outcomes.entry((cmd, code)).or_insert(0) += 1;
        live.assert_runs_untouched(&what);
        // A core is either complete or absent; never a temporary file left behind.
        let temps: Vec<_> = std::fs::read_dir(live.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .filter(|e| e.file_name().to_string_lossy().contains("goscope"))
            .collect();
        assert!(temps.is_empty(), "{what}: left {temps:?}");
        if core.exists() {
            let (code, _, err) = goscope(&["core", "--json", &core_s, "goroutines"]);
            assert_eq!(code, 0, "{what}: the core left behind does not read: {err}");
            std::fs::remove_file(&core).unwrap();
        }
    }
    eprintln!("outcomes (command, exit status): {outcomes:?}");
    // The signals must have landed mid-command at least sometimes.
    assert!(
        outcomes
            .iter()
            .any(|((c, code), _)| *c != "top" && *code != 0),
        "no stacks or snapshot was interrupted: {outcomes:?}"
    );
}

fn expect_one_line_error(args: &[&str], want: &str) {
    let (code, out, err) = goscope(args);
    assert_eq!(code, 2, "{args:?}: {out}{err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: {err:?} lacks {want:?}");
}

#[test]
fn bad_processes_get_one_line_and_status_2() {
    // A PID that does not exist.
    let mut missing = 4_000_000;
    while std::path::Path::new(&format!("/proc/{missing}")).exists() {
        missing += 1;
    }
    let missing = missing.to_string();
    for cmd in ["stacks", "top"] {
        expect_one_line_error(&[cmd, &missing], "no process");
    }
    expect_one_line_error(&["snapshot", &missing, "-o", "/tmp/x.core"], "no process");
    // A process that is not a Go program.
    let mut sleep = Command::new("sleep").arg("60").spawn().unwrap();
    let sp = sleep.id().to_string();
    expect_one_line_error(&["stacks", &sp], "Go");
    expect_one_line_error(&["top", &sp], "Go");
    // A zombie: `true` exits, and its parent (exec'd into sleep) never reaps it.
    let mut parent = Command::new("sh")
        .args(["-c", "true & exec sleep 60"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let zombie = loop {
        let kids = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", parent.id()))
            .unwrap_or_default();
        if let Some(z) = kids.split_whitespace().next()
            && proc_state(z.parse().unwrap()).0 == 'Z'
        {
            break z.to_string();
        }
        assert!(Instant::now() < deadline, "no zombie appeared");
        std::thread::sleep(Duration::from_millis(10));
    };
    expect_one_line_error(&["stacks", &zombie], "zombie");
    let _ = sleep.kill();
    let _ = parent.kill();
    let _ = sleep.wait();
    let _ = parent.wait();
}

#[test]
fn a_process_goscope_may_not_trace_gets_the_setting_to_change() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !is_root || !setpriv {
        assert!(!goscope_xtask::required(), "needs root and setpriv");
        eprintln!("skipping: needs root and setpriv to run goscope as another user");
        return;
    }
    let fx = core_common::fixture("live", &tc, Variant::Default, false);
    let live = Live::start(&fx, &[]);
    // goscope as an unprivileged user (its copy must be readable by that user).
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("goscope");
    std::fs::copy(env!("CARGO_BIN_EXE_goscope"), &exe).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [
        vec!["stacks".to_string(), live.pid.to_string()],
        vec!["top".to_string(), live.pid.to_string()],
    ] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("not permitted"), "{err}");
        assert!(
            err.contains("root") || err.contains("CAP_SYS_PTRACE"),
            "the error says what to change: {err}"
        );
    }
    live.assert_runs_untouched("after refused access");
}

#[test]
fn a_process_that_exits_midway_gets_one_line() {
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let fx = core_common::fixture("live", &tc, Variant::Default, false);
    let mut exited = 0;
    for (i, delay) in [20u64, 60, 120, 250].into_iter().enumerate() {
        let mut live = Live::start(&fx, &["-n", "60000"]);
        let pid = live.pid.to_string();
        let cmd: Vec<&str> = match i % 2 {
            0 => vec!["stacks", &pid],
            _ => vec!["top", "--interval", "50ms", &pid],
        };
        let child = Command::new(env!("CARGO_BIN_EXE_goscope"))
            .args(&cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = live.child.kill();
        let _ = live.child.wait();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        if code == 0 {
            continue;
        }
        assert_eq!(code, 2, "{cmd:?} after {delay} ms: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd:?}: {err}");
        assert!(
            err.contains("exited") || err.contains("no process"),
            "{cmd:?}: {err}"
        );
        exited += 1;
    }
    assert!(exited > 0, "no run saw the process exit");
}
