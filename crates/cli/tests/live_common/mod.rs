//! Shared by the live-process tests: running the `testdata/live` fixture, asking it for its own
//! `runtime.Stack` dump (the oracle), and checking that it runs on, untouched, afterwards.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use goscope_xtask::Fixture;

use crate::core_common::{OFrame, OGoroutine, Oracle, parse_oracle, print_name};

/// A running `testdata/live` fixture; killed on drop.
pub struct Live {
    pub child: Child,
    pub pid: i32,
    pub dir: tempfile::TempDir,
    pub fixture: PathBuf,
    dumps: u32,
}

impl Live {
    /// Starts `fx` with `args` and waits until every goroutine is parked.
    pub fn start(fx: &Fixture, args: &[&str]) -> Live {
        Live::start_path(&fx.path, args)
    }

    /// Starts the fixture at `path`.
    pub fn start_path(path: &Path, args: &[&str]) -> Live {
        let dir = tempfile::tempdir().unwrap();
        // The program's own words (a crash's traceback) are kept for the failure messages.
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(path)
            .arg("-dir")
            .arg(dir.path())
            .args(args)
            // runtime.Stack prints at the default traceback level.
            .env("GOTRACEBACK", "single")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        let pid = child.id() as i32;
        let mut live = Live {
            child,
            pid,
            dir,
            fixture: path.to_path_buf(),
            dumps: 0,
        };
        let ready = live.dir.path().join("ready");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            if let Ok(Some(st)) = live.child.try_wait() {
                panic!("{} exited early: {st}", path.display());
            }
            assert!(
                Instant::now() < deadline,
                "{} never became ready",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        live
    }

    /// The fixture's own `runtime.Stack(buf, true)` dump, taken now.
    pub fn dump(&mut self) -> String {
        self.dumps += 1;
        let want = format!("dumped {}\n", self.dumps);
        signal(self.pid, "USR1");
        let file = self.dir.path().join("stacks");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = std::fs::read_to_string(&file)
                && s.ends_with(&want)
            {
                return s;
            }
            assert!(Instant::now() < deadline, "no stack dump from {}", self.pid);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The start of what the program wrote on its standard error (a crash's reason and the
    /// crashing goroutine), for a failure message.
    pub fn said(&self) -> String {
        let s = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default();
        if s.is_empty() {
            return String::new();
        }
        let head: Vec<&str> = s.lines().take(40).collect();
        format!("; its standard error begins with:\n{}", head.join("\n"))
    }

    /// `(progress, leaked)` as the fixture last wrote them.
    pub fn progress(&self) -> (u64, u64) {
        let s = std::fs::read_to_string(self.dir.path().join("progress")).unwrap_or_default();
        let w: Vec<&str> = s.split_whitespace().collect();
        let num = |k: &str| {
            w.iter()
                .position(|x| *x == k)
                .and_then(|i| w.get(i + 1)?.parse().ok())
                .unwrap_or(0)
        };
        (num("progress"), num("leaked"))
    }

    /// Panics unless the fixture is running normally: not stopped, not traced, its progress
    /// counter advancing, and its code identical to the executable's.
    pub fn assert_runs_untouched(&self, what: &str) {
        // A thread detached at the moment it stopped leaves its stop within a moment; one that
        // is still stopped a second later was left stopped.
        let settle = Instant::now() + Duration::from_secs(1);
        while Instant::now() < settle
            && (matches!(proc_state(self.pid).0, 'T' | 't')
                || tasks(self.pid).iter().any(|t| {
                    matches!(
                        proc_state_of(&format!("/proc/{}/task/{t}", self.pid)).0,
                        'T' | 't'
                    )
                }))
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (state, tracer) = proc_state(self.pid);
        assert!(
            !matches!(state, 'T' | 't' | 'Z' | 'X'),
            "{what}: process {} left in state {state}{}",
            self.pid,
            self.said()
        );
        assert_eq!(tracer, 0, "{what}: process {} still traced", self.pid);
        for task in tasks(self.pid) {
            let (s, t) = proc_state_of(&format!("/proc/{}/task/{task}", self.pid));
            assert!(
                !matches!(s, 'T' | 't'),
                "{what}: thread {task} left in state {s}"
            );
            assert_eq!(t, 0, "{what}: thread {task} still traced");
        }
        let before = self.progress().0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.progress().0 <= before + 2 {
            assert!(
                Instant::now() < deadline,
                "{what}: process {} makes no progress{}",
                self.pid,
                self.said()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_code_untouched(self.pid, &self.fixture, what);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `SIG{name}` to `pid`.
pub fn signal(pid: i32, name: &str) {
    let st = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -{name} {pid}");
}

fn proc_state_of(dir: &str) -> (char, i32) {
    let status = std::fs::read_to_string(format!("{dir}/status")).unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let state = field("State:").chars().next().unwrap_or('?');
    (state, field("TracerPid:").parse().unwrap_or(-1))
}

/// The state letter and tracer of process `pid`.
pub fn proc_state(pid: i32) -> (char, i32) {
    proc_state_of(&format!("/proc/{pid}"))
}

/// The thread ids of `pid`.
pub fn tasks(pid: i32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Panics unless the text of process `pid` equals the executable's `.text`.
pub fn assert_code_untouched(pid: i32, exe: &Path, what: &str) {
    let bin = goscope_binary::Binary::open(exe).unwrap();
    let text = bin.text_section().expect("a .text section");
    let file = bin.section_data(text);
    let auxv = std::fs::read(format!("/proc/{pid}/auxv")).unwrap();
    let entry = auxv
        .chunks_exact(16)
        .find(|p| u64::from_le_bytes(p[..8].try_into().unwrap()) == 9)
        .map(|p| u64::from_le_bytes(p[8..].try_into().unwrap()))
        .expect("AT_ENTRY");
    let bias = entry.wrapping_sub(bin.entry());
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut live = vec![0u8; file.len()];
    std::os::unix::fs::FileExt::read_exact_at(&mem, &mut live, text.addr.wrapping_add(bias))
        .unwrap();
    if let Some(i) = live.iter().zip(file).position(|(a, b)| a != b) {
        panic!(
            "{what}: the code of process {pid} differs from the executable at {:#x}",
            text.addr + i as u64
        );
    }
}

/// Whether the runtime shows a frame at the default traceback level (`showframe`): runtime
/// functions are hidden unless exported, wrappers are hidden.
pub fn shown_by_runtime(f: &serde_json::Value) -> bool {
    let name = f["function"].as_str().unwrap_or("");
    if f["wrapper"].as_bool().unwrap_or(false) {
        return false;
    }
    if name == "runtime.gopanic" {
        return true;
    }
    if !name.contains('.') {
        return false;
    }
    match name.strip_prefix("runtime.") {
        Some(rest) => rest.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
        None => true,
    }
}

/// The goroutines of the dump that parked on purpose (a `main.park…` frame).
pub fn parked(o: &Oracle) -> Vec<&OGoroutine> {
    o.goroutines
        .iter()
        .filter(|g| g.frames.iter().any(|f| f.func.starts_with("main.park")))
        .collect()
}

/// Compares goscope's JSON goroutines with the fixture's own dump: every parked goroutine with
/// the same id, state, frames (function, file, line, offset) and creator. Returns mismatches.
pub fn compare_parked(label: &str, ours: &serde_json::Value, dump: &str) -> Vec<String> {
    let oracle = parse_oracle(dump);
    let gs = ours["goroutines"].as_array().cloned().unwrap_or_default();
    let mut errors = Vec::new();
    let want = parked(&oracle);
    if want.len() < 10 {
        errors.push(format!(
            "{label}: only {} parked goroutines in the dump",
            want.len()
        ));
    }
    for og in want {
        let what = format!("{label} goroutine {}", og.id);
        let Some(g) = gs.iter().find(|g| g["id"].as_u64() == Some(og.id)) else {
            errors.push(format!("{what}: missing from goscope's list"));
            continue;
        };
        if g["state"].as_str() != Some(og.state.as_str()) {
            errors.push(format!(
                "{what}: state {}, the runtime printed {:?}",
                g["state"], og.state
            ));
        }
        let frames: Vec<OFrame> = g["frames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| shown_by_runtime(f))
                    .map(|f| {
                        let physical = !f["inlined"].as_bool().unwrap_or(false);
                        OFrame {
                            func: print_name(f["function"].as_str().unwrap_or("")),
                            file: f["file"].as_str().unwrap_or("").into(),
                            line: f["line"].as_i64().unwrap_or(0),
                            pc: None,
                            sp: None,
                            offset: if physical {
                                f["offset"]
                                    .as_str()
                                    .and_then(|s| u64::from_str_radix(&s[2..], 16).ok())
                            } else {
                                None
                            },
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let same = |a: &OFrame, b: &OFrame| {
            a.func == b.func
                && a.file == b.file
                && a.line == b.line
                && a.offset.unwrap_or(0) == b.offset.unwrap_or(0)
        };
        if frames.len() != og.frames.len()
            || !frames.iter().zip(&og.frames).all(|(a, b)| same(a, b))
        {
            errors.push(format!(
                "{what}: frames differ\n  runtime: {:?}\n  goscope: {:?}",
                og.frames
                    .iter()
                    .map(|f| format!("{} {}:{} +{:?}", f.func, f.file, f.line, f.offset))
                    .collect::<Vec<_>>(),
                frames
                    .iter()
                    .map(|f| format!("{} {}:{} +{:?}", f.func, f.file, f.line, f.offset))
                    .collect::<Vec<_>>()
            ));
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
            (o, c) => errors.push(format!("{what}: created by {o:?}, goscope {c:?}")),
        }
    }
    errors
}

/// DR7 of every thread of `pid`, read by attaching for a moment (`PTRACE_SEIZE`,
/// `PTRACE_INTERRUPT`, `PTRACE_PEEKUSER`, detach): 0 means no debug register is armed.
pub fn debug_control_registers(pid: i32) -> Vec<(i32, u64)> {
    use nix::sys::ptrace;
    use nix::sys::wait::{WaitPidFlag, waitpid};
    use nix::unistd::Pid;
    // offsetof(struct user, u_debugreg[7]) on x86-64.
    const DR7: usize = 848 + 7 * 8;
    let mut out = Vec::new();
    for tid in tasks(pid) {
        let t = Pid::from_raw(tid);
        if ptrace::seize(t, ptrace::Options::empty()).is_err() {
            continue;
        }
        let _ = ptrace::interrupt(t);
        // A signal that arrived meanwhile is passed on at detach.
        let owed = match waitpid(t, Some(WaitPidFlag::__WALL)) {
            Ok(nix::sys::wait::WaitStatus::Stopped(_, sig)) => Some(sig),
            _ => None,
        };
        let v = ptrace::read_user(t, DR7 as ptrace::AddressType).unwrap_or(-1);
        let _ = ptrace::detach(t, owed);
        out.push((tid, v as u64));
    }
    out
}

/// Runs goscope with `args` and extra environment `env`, stdin closed: (stdout lines parsed as
/// JSON, exit status, stderr).
pub fn goscope_json(args: &[&str], env: &[(&str, &str)]) -> (Vec<serde_json::Value>, i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running goscope");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (
        lines,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
