//! The JSON outputs against their checked-in schemas (schemas/*.schema.json, generated from the
//! system Go's plain builds by schemas/generate.sh): here every toolchain's builds, stripped and
//! PIE too, so a field that appears, vanishes or changes type fails the test until the schema
//! (the documented contract) says so.

mod core_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use core_common::{cores_possible, crash, fixture, toolchains};
use goscope_xtask::Variant;
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(format!("{name}.schema.json"));
    let s: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    jsonschema::draft7::new(&s).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(args: &[&str], stdin: &[u8], dir: Option<&Path>) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_goscope"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(stdin);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "goscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Validates one document (or, with `lines`, every line) of `args`' output against `name`.
fn check(name: &str, args: &[&str], lines: bool) {
    check_in(name, args, lines, b"", None)
}

fn check_in(name: &str, args: &[&str], lines: bool, stdin: &[u8], dir: Option<&Path>) {
    let v = schema(name);
    let out = run(args, stdin, dir);
    let docs: Vec<Value> = if lines {
        out.lines()
            .take(2000)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    } else {
        vec![serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}"))]
    };
    assert!(!docs.is_empty(), "{args:?}: no output");
    for d in &docs {
        let errors: Vec<String> = v
            .iter_errors(d)
            .map(|e| format!("{e} at {}", e.instance_path))
            .take(5)
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: {args:?}:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn binary_commands_match_their_schemas() {
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped, Variant::Pie] {
            let fx = fixture("proffix", &tc, variant, false);
            let bin = fx.path.to_str().unwrap();
            check("info", &["info", "--json", bin], false);
            check("nm", &["nm", "--json", bin], true);
            check(
                "objdump",
                &["objdump", "--json", "--annotate", "-s", "main\\.", bin],
                true,
            );
            let pcs = run(&["nm", "-n", bin], b"", None)
                .lines()
                .filter(|l| l.contains(" T main."))
                .filter_map(|l| l.split_whitespace().next())
                .map(|a| format!("0x{a}\n"))
                .collect::<String>();
            check_in(
                "addr2line",
                &["addr2line", "--json", bin],
                true,
                pcs.as_bytes(),
                None,
            );
        }
        // diff between this toolchain's build and the first toolchain's, plain and stripped.
        let first = toolchains().remove(0);
        for variant in [Variant::Default, Variant::Stripped] {
            let old = fixture("tracefix", &first, variant, false);
            let new = fixture("tracefix", &tc, variant, false);
            check(
                "diff",
                &[
                    "diff",
                    "--json",
                    old.path.to_str().unwrap(),
                    new.path.to_str().unwrap(),
                ],
                false,
            );
        }
        // opt, with this toolchain, on the checkfix module.
        let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
            .args(["opt", "--json", "--go"])
            .arg(&tc.go)
            .arg("-C")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/checkfix"))
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "opt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let v = schema("opt");
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .take(5)
            .collect();
        assert!(
            errors.is_empty(),
            "opt {}: {}",
            tc.version,
            errors.join("\n")
        );
        // check, on its fixture module.
        let cf = fixture("checkfix", &tc, Variant::Default, false);
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/checkfix");
        check_in(
            "check",
            &["check", "--format", "json", cf.path.to_str().unwrap()],
            false,
            b"",
            Some(&dir),
        );
    }
}

#[test]
fn core_commands_match_their_schemas() {
    if !cores_possible() {
        return;
    }
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped] {
            let fx = fixture("crash", &tc, variant, false);
            let bin = fx.path.to_str().unwrap();
            for scenario in ["customerr", "maps"] {
                let run = crash(&fx, &[scenario]);
                let core = run.core.to_str().unwrap();
                fn c<'a>(bin: &'a str, core: &'a str, sub: &[&'a str]) -> Vec<&'a str> {
                    let mut a = vec!["core", "--json", bin, core];
                    a.extend_from_slice(sub);
                    a
                }
                let c = |sub: &[&'static str]| c(bin, core, sub);
                check("core", &c(&[]), false);
                check("core-goroutines", &c(&["goroutines"]), false);
                check("core-goroutines", &c(&["goroutines", "--stacks"]), false);
                check(
                    "core-goroutines-group",
                    &c(&["goroutines", "--group"]),
                    false,
                );
                check("core-goroutine", &c(&["goroutine", "1"]), false);
                check("core-threads", &c(&["threads"]), false);
                check("core-regs", &c(&["regs"]), false);
                check(
                    "core-disassemble",
                    &c(&["disassemble", "--annotate"]),
                    false,
                );
                if scenario == "maps" && variant == Variant::Default {
                    check("core-map", &c(&["map", "main.bigMap"]), false);
                    check("core-print", &c(&["print", "main.bigMap"]), false);
                    check("core-print", &c(&["print", "len(main.bigMap)"]), false);
                }
            }
        }
    }
}

#[test]
fn profile_commands_match_their_schemas() {
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped, Variant::Pie] {
            let fx = fixture("proffix", &tc, variant, false);
            let dir = tempfile::tempdir().unwrap();
            let (a, b) = (dir.path().join("a.pb.gz"), dir.path().join("b.pb.gz"));
            for p in [&a, &b] {
                let st = Command::new(&fx.path)
                    .arg(p)
                    .arg("300")
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                assert!(st.success());
            }
            let bin = fx.path.to_str().unwrap();
            let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
            let svg = dir.path().join("f.svg");
            check("profile-top", &["profile", bin, a, "top", "--json"], false);
            check(
                "profile-top",
                &["profile", bin, a, "top", "--inlined", "--cum", "--json"],
                false,
            );
            check(
                "profile-list",
                &["profile", bin, a, "list", "main\\.", "--json"],
                false,
            );
            check(
                "profile-disasm",
                &["profile", bin, a, "disasm", "main\\.(hotB|mix)$", "--json"],
                false,
            );
            check(
                "profile-flamegraph",
                &[
                    "profile",
                    bin,
                    a,
                    "flamegraph",
                    "-o",
                    svg.to_str().unwrap(),
                    "--json",
                ],
                false,
            );
            check(
                "profile-diff",
                &[
                    "profile",
                    bin,
                    a,
                    "diff",
                    b,
                    "--disasm",
                    "main\\.hotA$",
                    "--json",
                ],
                false,
            );
        }
    }
}

/// Runs `args` (a command that starts its own program, or one given a pid) and validates each
/// output line (`lines`) or the whole output against `name`.
fn check_live(name: &str, args: &[String], lines: bool) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    check(name, &a, lines);
}

#[test]
fn live_commands_match_their_schemas() {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    if !root {
        assert!(!goscope_xtask::required(), "CI runs the live tests as root");
        return;
    }
    for tc in toolchains() {
        for variant in [Variant::Default, Variant::Stripped] {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path().to_str().unwrap().to_string();
            let live = fixture("live", &tc, variant, false);
            let mut child = Command::new(&live.path)
                .args(["-dir", &d])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !dir.path().join("ready").exists() {
                assert!(std::time::Instant::now() < deadline, "live never ready");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let pid = child.id().to_string();
            check("stacks", &["stacks", "--json", &pid], false);
            check("stacks", &["stacks", "--json", "--group", &pid], false);
            let snap = format!("{d}/core");
            check(
                "snapshot",
                &["snapshot", "--json", &pid, "-o", &snap],
                false,
            );
            // top runs until stopped: two samples, then killed.
            let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
                .args(["top", "--json", "--interval", "200ms", &pid])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(700));
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(out.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let out = out.wait_with_output().unwrap();
            let v = schema("top");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.lines().count() >= 2, "top: {text}");
            for l in text.lines() {
                let doc: Value = serde_json::from_str(l).unwrap();
                assert!(v.is_valid(&doc), "top: {l}");
            }
            let _ = child.kill();
            let _ = child.wait();

            let tracefix = fixture("tracefix", &tc, variant, false);
            let t = tracefix.path.to_str().unwrap().to_string();
            let report = format!("{d}/report.json");
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
            let regex = if variant == Variant::Default {
                "main\\.(settle|twice)$"
            } else {
                "main\\.settle$"
            };
            check_live(
                "trace",
                &s(&[
                    "trace",
                    "--json",
                    "--returns",
                    regex,
                    "--",
                    &t,
                    "calls",
                    &report,
                ]),
                true,
            );
            check_live(
                "locks",
                &s(&[
                    "locks", "--json", "--only", "^main\\.", "--", &t, "atomics", &report,
                ]),
                false,
            );
            let rec = format!("{d}/r.pb.gz");
            check_live(
                "record",
                &s(&[
                    "record",
                    "--json",
                    "--duration",
                    "1s",
                    "-o",
                    &rec,
                    "--",
                    &t,
                    "work",
                    "100",
                ]),
                false,
            );
            let debugfix = fixture("debugfix", &tc, variant, false);
            let b = debugfix.path.to_str().unwrap().to_string();
            check_live(
                "debug",
                &s(&[
                    "debug",
                    "exec",
                    &b,
                    "--json",
                    "-c",
                    "break main.tick",
                    "-c",
                    "continue",
                    "-c",
                    "stack",
                    "-c",
                    "regs",
                    "-c",
                    "disassemble",
                    "-c",
                    "goroutines",
                    "-c",
                    "clearall",
                    "-c",
                    "exit",
                    "--",
                    "-dir",
                    &d,
                    "-n",
                    "3",
                    "calls",
                ]),
                true,
            );
        }
    }
}
