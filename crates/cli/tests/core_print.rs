//! `goscope core BIN CORE print EXPR` against its oracles, on `testdata/printfix` (a goroutine
//! holding locals and arguments of every kind, package variables of the same kinds, a second
//! goroutine blocked with its own):
//!
//! - Delve: on the system toolchain (the newest; Delve supports only its newest releases),
//!   every expression prints exactly what `dlv core BIN CORE` prints for `goroutine G frame F
//!   print EXPR` — scalars, strings, slices, arrays, structs, pointers, maps (Swiss tables),
//!   interfaces, channels, functions, fields, indexes, map lookups, dereferences,
//!   conversions, arithmetic and comparisons.
//! - The program itself: on every toolchain (Go 1.19's hash maps and DWARF 4 too), every
//!   `ORACLE` line the fixture printed before crashing — the value of an expression computed
//!   with `fmt`/`strconv` from the values themselves, in Delve's format — is what goscope
//!   prints; also on PIE builds (load bias).
//! - Stripped builds: registers and memory through conversions work (types from the runtime's
//!   type descriptors), variable names are a clear "no DWARF" error with exit status 2.

mod core_common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use core_common::*;
use goscope_xtask::{Fixture, Toolchain, Variant};
use serde_json::Value;

/// One `ORACLE FUNC\tEXPR\tQUOTED` line: what `print EXPR` shows in FUNC's frame.
#[derive(Debug, Clone)]
struct OracleLine {
    func: String,
    expr: String,
    text: String,
}

/// Go's `strconv.Unquote` for what `strconv.Quote` writes.
fn go_unquote(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a quoted string: {s}"));
    let mut out: Vec<u8> = Vec::new();
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let e = b[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' | b'"' | b'\'' => out.push(e),
            b'x' => {
                out.push(u8::from_str_radix(&inner[i..i + 2], 16).unwrap());
                i += 2;
            }
            b'u' | b'U' => {
                let n = if e == b'u' { 4 } else { 8 };
                let c = char::from_u32(u32::from_str_radix(&inner[i..i + n], 16).unwrap()).unwrap();
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            other => panic!("escape \\{} in {s}", other as char),
        }
    }
    String::from_utf8(out).unwrap()
}

fn oracle_lines(stderr: &str) -> Vec<OracleLine> {
    parse_oracle(stderr)
        .notes
        .iter()
        .filter_map(|n| {
            let mut parts = n.splitn(3, '\t');
            let (f, e, t) = (parts.next()?, parts.next()?, parts.next()?);
            Some(OracleLine {
                func: f.to_string(),
                expr: e.to_string(),
                text: go_unquote(t),
            })
        })
        .collect()
}

/// Where goscope has each function's frame: function → (goroutine, frame index).
fn goscope_frames(bin: &Path, core: &Path) -> HashMap<String, (u64, usize)> {
    let gs = core_json(bin, core, &["goroutines", "--all", "--stacks"]);
    let mut out = HashMap::new();
    for g in gs.as_array().unwrap() {
        let id = g["id"].as_u64().unwrap();
        for (i, f) in g["frames"].as_array().unwrap().iter().enumerate() {
            if let Some(name) = f["function"].as_str() {
                out.entry(name.to_string()).or_insert((id, i));
            }
        }
    }
    out
}

/// `goscope core BIN CORE print --goroutine G --frame F -- EXPR`: (status, stdout, stderr).
fn gs_print(
    bin: &Path,
    core: &Path,
    at: Option<(u64, usize)>,
    expr: &str,
) -> (i32, String, String) {
    let mut args = vec![
        "core".to_string(),
        bin.display().to_string(),
        core.display().to_string(),
        "print".to_string(),
    ];
    if let Some((g, f)) = at {
        args.extend([
            "--goroutine".into(),
            g.to_string(),
            "--frame".into(),
            f.to_string(),
        ]);
    }
    args.push("--".into());
    args.push(expr.into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    goscope(&refs)
}

fn printfix(tc: &Toolchain, variant: Variant) -> (Fixture, goscope_xtask::CrashRun) {
    let fx = fixture("printfix", tc, variant, false);
    let run = crash(&fx, &[]);
    (fx, run)
}

/// Every oracle line, printed by goscope in the frame the fixture named.
fn check_oracles(tc: &Toolchain, variant: Variant) -> usize {
    let (fx, run) = printfix(tc, variant);
    let lines = oracle_lines(&run.stderr);
    assert!(
        lines.len() > 100,
        "{}: only {} ORACLE lines",
        fx.label(),
        lines.len()
    );
    let frames = goscope_frames(&fx.path, &run.core);
    let mut errors = Vec::new();
    let mut n = 0;
    for l in lines.iter().filter(|l| l.func != "ADDR") {
        let at = *frames
            .get(&l.func)
            .unwrap_or_else(|| panic!("{}: no frame of {}", fx.label(), l.func));
        let (code, out, err) = gs_print(&fx.path, &run.core, Some(at), &l.expr);
        n += 1;
        let got = out.strip_suffix('\n').unwrap_or(&out);
        if code != 0 || got != l.text {
            errors.push(format!(
                "{} {:?}:\n  program: {:?}\n  goscope: {:?} (status {code}) {}",
                l.func,
                l.expr,
                l.text,
                got,
                err.trim()
            ));
        }
    }
    assert!(
        errors.is_empty(),
        "{}: {} of {n} expressions differ from what the program printed:\n{}",
        fx.label(),
        errors.len(),
        errors.join("\n")
    );
    n
}

#[test]
fn values_equal_the_programs_own_every_toolchain() {
    if !cores_possible() {
        return;
    }
    for tc in toolchains() {
        let n = check_oracles(&tc, Variant::Default);
        eprintln!(
            "{}: {n} expressions as the program printed them",
            tc.version
        );
    }
}

#[test]
fn values_equal_the_programs_own_pie() {
    if !cores_possible() {
        return;
    }
    for tc in toolchains() {
        check_oracles(&tc, Variant::Pie);
    }
}

/// Expressions Delve cannot evaluate in this fixture, and why (checked: Delve must still fail
/// on them, so that the list stays true).
const DELVE_FAILS: &[(&str, &str)] = &[
    // Interfaces whose two words the compiler keeps in separate stack slots: Delve reads the
    // type descriptor through the variable's piece memory and fails.
    ("anyInt", "(unreadable error loading module data"),
    ("anyStruct", "(unreadable error loading module data"),
    ("anyPtr", "(unreadable error loading module data"),
    ("anyStr", "(unreadable error loading module data"),
    // Delve has no identifier for the current goroutine's id.
    ("goroutine", "could not find symbol value for goroutine"),
];

/// Expressions Delve fails on from a Go release on (minor version, expression, Delve's answer).
/// The test fails when Delve starts answering them; `main.gShape` is still checked against the
/// fixture's own `ORACLE` line by `values_equal_the_programs_own_every_toolchain`.
const DELVE_FAILS_SINCE: &[(u32, &str, &str)] = &[
    // Delve 1.27.2 cannot find the dynamic type of an interface global in Go 1.27 binaries (Go
    // 1.27 changed moduledata and dropped its typelinks); locals' interfaces still resolve.
    (
        27,
        "main.gShape",
        "(unreadable could not resolve interface type",
    ),
    (
        27,
        "main.gShape.W",
        "(unreadable could not resolve interface type",
    ),
];

/// Whole values, compared with Delve only (multi-line, addresses included).
const WHOLE_VALUES: &[&str] = &[
    "o",
    "items",
    "nested",
    "small",
    "big",
    "ch",
    "arr",
    "escaped",
    "&a",
    "&o",
    "p",
    "nilp",
    "nilp.X",
    "err",
    "fn",
    "add",
    "main.gOrder",
    "main.gMap",
    "main.gSmallMap",
    "main.gIntMap",
    "main.gBigMap",
    "main.gStructMap",
    "main.gOuter",
    "main.gItems",
    "main.gItems[1:]",
    "main.gInts[2:4]",
    "main.gLongInts",
    "main.gLong",
    "main.gBytes",
    "main.gArr",
    "main.gChan",
    "main.gNilChan",
    "main.gComplex",
    "main.gPtr",
    "*main.gPtr",
    "main.gAny",
    "main.gAnyStr",
    "main.gAnyStruct",
    "main.gAnyPtr",
    "main.gNilAny",
    "main.gErr",
    "main.gCodeErr",
    "main.gShape",
    "main.gFunc",
    "main.gAdd",
    "main.gNilFunc",
    "main.gUintptr",
    "main.gCelsius",
    "main.gDay",
    "main.gEmpty",
    "main.gNow",
    "main.gTime",
    "main.gZeroTime",
    "when",
    "(*main.point)(main.gPtr)",
    "*(*main.order)(main.gOrder)",
    "main.gOrder.Items[0]",
    "main.gOrder.Next",
    "main.gOuter.In",
    "main.gOuter.In.C",
    "main.gIntMap[700]",
    "main.gBigMap[\"key7\"] + 1",
    "len(main.gIntMap)",
    "cap(main.gLongInts)",
    "main.gInt8 * 3",
    "main.gFloat64 * 2",
    "main.gUint32 > 3000000000",
    "main.gStr != \"\"",
    "uint16(main.gInt)",
    "int64(main.gFloat32 * 10)",
    "string(bs)",
    "[]byte(s)",
    "[]byte(main.gLong)",
    "string(main.gBytes)",
    "main.gOrder.Items[0:1]",
    "main.gLongInts[60:]",
    "main.gLong[60:]",
    "main.gLong[1]",
    "&main.gOrder.Next",
    "**(&main.gOrder)",
    "main.gStructMap[7]",
    "main.gAnyStruct.(main.point)",
    "main.gAnyPtr.(*main.point)",
    "main.gAnyPtr.X",
    "main.gErr.(*errors.errorString)",
    "main.gShape.W",
    "main.gAny.(string)",
    "unsafe.Pointer(main.gPtr)",
    "uintptr(main.gPtr)",
    "*(*int)(uintptr(main.gPtr))",
    "1 << 3 + 2",
    "7 / 2",
    "7.0 / 2",
    "-7 % 3",
    "^5",
    "\"ab\" + \"cd\"",
    "\"abc\" < \"abd\"",
    "3 == 3.0",
    "main.gComplex * 2",
    "main.gNilSlice == nil",
    "main.gNilMap == nil",
    "main.gNilFunc == nil",
    "main.gNilChan == nil",
    "main.gNilAny == nil",
    "main.gErr == nil",
    "main.gCodeErr != nil",
    "nil",
    "main.gArr[1:3]",
    "cap(main.gArr)",
    "main.gUint64 + 1",
    "main.gUint8 + 100",
    "int8(200)",
    "float64(main.gUint64)",
    "main.gPoint == main.gPoint",
    "main.gArr == main.gArr",
    "main.gInt8 < main.gInt16",
    "main.gMap[\"nokey\"]",
    "main.gItems[5]",
];

/// Whole values in main.holder's frame.
const HOLDER_VALUES: &[&str] = &["id", "name", "pt", "counts", "wait", "v"];

/// A dlv session over BIN CORE running `commands` with extra dlv `flags`, stdout and stderr
/// in order.
fn dlv_session_with(dlv: &Path, bin: &Path, core: &Path, commands: &str, flags: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init");
    std::fs::write(&init, format!("{commands}\nexit\n")).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(dlv)
        .arg("core")
        .arg(bin)
        .arg(core)
        .arg("--init")
        .arg(&init)
        .arg("--allow-non-terminal-interactive=true")
        .args(flags)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running dlv");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Delve's frame index of `func` in goroutine `g` (its numbering differs from goscope's for a
/// goroutine that died in a signal handler: Delve also lists the handler's frames).
fn dlv_frame(dlv: &Path, bin: &Path, core: &Path, g: u64, func: &str, flags: &[&str]) -> usize {
    let out = strip_ansi(&dlv_session_with(
        dlv,
        bin,
        core,
        &format!("goroutine {g} stack 100"),
        flags,
    ));
    for l in out.lines() {
        let t = l.trim_start();
        let mut parts = t.split_whitespace();
        if let (Some(n), Some(_pc), Some("in"), Some(f)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
            && f == func
            && let Ok(n) = n.parse()
        {
            return n;
        }
    }
    panic!("dlv lists no frame of {func} in goroutine {g}:\n{out}");
}

const MARK: &str = "=====GOSCOPE-MARK=====";

/// What dlv prints for each expression, in the frame.
fn dlv_prints(
    dlv: &Path,
    bin: &Path,
    core: &Path,
    g: u64,
    frame: usize,
    exprs: &[String],
    flags: &[&str],
) -> Vec<String> {
    let mut cmds = format!("goroutine {g}\n");
    for e in exprs {
        cmds.push_str(&format!("frame {frame} print {e}\nprint \"{MARK}\"\n"));
    }
    let out = dlv_session_with(dlv, bin, core, &cmds, flags);
    // Drop the banner and Delve's warning about unsupported releases and the goroutine switch; then one chunk per expression.
    let out = out
        .lines()
        .filter(|l| !l.starts_with("WARNING: undefined behavior"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let body = out
        .split_once('\n')
        .map(|(_, r)| r)
        .and_then(|r| r.split_once('\n').map(|(_, r)| r))
        .unwrap_or("");
    let chunks: Vec<String> = body
        .split(&format!("\"{MARK}\"\n"))
        .map(|c| c.strip_suffix('\n').unwrap_or(c).to_string())
        .collect();
    assert!(
        chunks.len() > exprs.len(),
        "dlv output does not have one answer per expression:\n{out}"
    );
    chunks.into_iter().take(exprs.len()).collect()
}

/// A Delve error line (`init:12: could not find symbol value for x`) without its position.
fn dlv_error(s: &str) -> Option<&str> {
    let first = s.lines().next()?;
    let at = first.find("init:")?;
    if first[..at].contains(' ') {
        return None;
    }
    let (_, msg) = first[at + "init:".len()..].split_once(": ")?;
    Some(msg)
}

/// Compares every expression with dlv on `tc`'s build; `flags` for dlv.
fn dlv_compare(tc: &Toolchain, variant: Variant, flags: &[&str]) {
    if !cores_possible() {
        return;
    }
    let Some(dlv) = dlv() else {
        assert!(
            !goscope_xtask::required(),
            "dlv not found: go install github.com/go-delve/delve/cmd/dlv@latest"
        );
        eprintln!("skipping: no dlv");
        return;
    };
    let (fx, run) = printfix(tc, variant);
    let lines = oracle_lines(&run.stderr);
    let frames = goscope_frames(&fx.path, &run.core);
    let mut errors = Vec::new();
    let mut compared = 0;
    for (func, whole) in [
        ("main.inspect", WHOLE_VALUES),
        ("main.holder", HOLDER_VALUES),
    ] {
        let (g, gframe) = frames[func];
        let dframe = dlv_frame(&dlv, &fx.path, &run.core, g, func, flags);
        let mut exprs: Vec<String> = lines
            .iter()
            .filter(|l| l.func == func)
            .map(|l| l.expr.clone())
            .collect();
        exprs.extend(whole.iter().map(|s| s.to_string()));
        let theirs = dlv_prints(&dlv, &fx.path, &run.core, g, dframe, &exprs, flags);
        for (e, d) in exprs.iter().zip(&theirs) {
            let (code, out, err) = gs_print(&fx.path, &run.core, Some((g, gframe)), e);
            let ours = out.strip_suffix('\n').unwrap_or(&out);
            let fails_since = DELVE_FAILS_SINCE
                .iter()
                .find(|(minor, x, _)| x == e && tc.minor >= *minor)
                .map(|(_, x, why)| (*x, *why));
            if let Some((_, why)) = DELVE_FAILS
                .iter()
                .copied()
                .find(|(x, _)| x == e)
                .or(fails_since)
            {
                let d = dlv_error(d).unwrap_or(d);
                if !d.starts_with(why) {
                    errors.push(format!(
                        "{func} {e:?}: listed as failing in Delve ({why}), but dlv printed {d:?}"
                    ));
                }
                continue;
            }
            compared += 1;
            match dlv_error(d) {
                // Both refuse it.
                Some(_) if code != 0 => {}
                Some(msg) => errors.push(format!(
                    "{func} {e:?}: dlv fails ({msg}), goscope printed {ours:?}"
                )),
                None if code != 0 => errors.push(format!(
                    "{func} {e:?}: dlv printed {d:?}, goscope failed: {}",
                    err.trim()
                )),
                None if ours != d => errors.push(format!(
                    "{func} {e:?}:\n  dlv:     {d:?}\n  goscope: {ours:?}"
                )),
                None => {}
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{}: {} of {compared} expressions differ from dlv:\n{}",
        fx.label(),
        errors.len(),
        errors.join("\n")
    );
    eprintln!(
        "{}: {compared} expressions print as dlv prints them",
        fx.label()
    );
}

#[test]
fn dlv_agrees() {
    // Delve supports only its newest Go releases: the newest toolchain here.
    if let Some(tc) = toolchains().into_iter().max_by_key(|t| t.minor) {
        dlv_compare(&tc, Variant::Default, &[]);
    }
}

#[test]
fn dlv_agrees_pie() {
    if let Some(tc) = toolchains().into_iter().max_by_key(|t| t.minor) {
        dlv_compare(&tc, Variant::Pie, &[]);
    }
}

#[test]
fn dlv_agrees_on_go_1_19_too() {
    // Delve refuses Go 1.19 (below its minimum, 1.25) unless told not to check, and then
    // warns of undefined behavior; on this fixture it reads it right — hash maps included.
    if let Some(tc) = toolchains().into_iter().find(|t| t.minor == 19) {
        dlv_compare(&tc, Variant::Default, &["--check-go-version=false"]);
    }
}

#[test]
fn default_frame_is_the_failing_goroutines_user_frame() {
    if !cores_possible() {
        return;
    }
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let (fx, run) = printfix(&tc, Variant::Default);
    // The innermost user frame of the goroutine that panicked is main.crash's.
    let (code, out, err) = gs_print(&fx.path, &run.core, None, "main.gInt");
    assert_eq!((code, out.trim()), (0, "-42"), "{err}");
    let (code, out, _) = gs_print(&fx.path, &run.core, None, "goroutine");
    assert_eq!((code, out.trim()), (0, "1"));
    // JSON carries the value's parts and the text.
    let (code, out, err) = goscope(&[
        "core",
        "--json",
        fx.path.to_str().unwrap(),
        run.core.to_str().unwrap(),
        "print",
        "main.gPoint",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["value"]["type"], "main.point");
    assert_eq!(j["value"]["text"], "main.point {X: 3, Y: -4}");
    assert_eq!(j["value"]["children"][1]["name"], "Y");
    assert_eq!(j["value"]["children"][1]["value"], "-4");
    assert_eq!(j["function"], "main.crash");
}

#[test]
fn bad_expressions_are_one_line_and_status_2() {
    if !cores_possible() {
        return;
    }
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let (fx, run) = printfix(&tc, Variant::Default);
    let frames = goscope_frames(&fx.path, &run.core);
    let at = Some(frames["main.inspect"]);
    for (expr, want) in [
        ("a +", "parse error"),
        ("(a", "parse error"),
        (
            "nosuchvariable",
            "could not find symbol value for nosuchvariable",
        ),
        ("main.nosuch", "could not find symbol value for main.nosuch"),
        ("a.b", "has no member b"),
        ("s + 1", "can not convert 1 constant to string"),
        ("a[1]", "does not support indexing"),
        ("*a", "can not be dereferenced"),
        ("small[1]", "can not convert"),
        ("small[\"nokey\"]", "key not found"),
        ("items[99]", "index out of bounds"),
        ("*nilp", "nil pointer dereference"),
        ("a / 0", "division by zero"),
        ("main.crash(1)", "not supported"),
        ("$rax", "innermost frame"),
    ] {
        let (code, out, err) = gs_print(&fx.path, &run.core, at, expr);
        assert_eq!(
            code, 2,
            "{expr:?}: status {code}, stdout {out:?}, stderr {err:?}"
        );
        assert!(out.is_empty(), "{expr:?}: stdout {out:?}");
        assert_eq!(err.lines().count(), 1, "{expr:?}: {err:?}");
        assert!(
            err.contains(want),
            "{expr:?}: {err:?} does not say {want:?}"
        );
    }
}

fn hex_of(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The `ADDR` oracle lines: where the fixture's globals are.
fn addresses(stderr: &str) -> HashMap<String, String> {
    oracle_lines(stderr)
        .into_iter()
        .filter(|l| l.func == "ADDR")
        .map(|l| (l.expr, l.text))
        .collect()
}

#[test]
fn stripped_registers_and_memory_work_names_do_not() {
    if !cores_possible() {
        return;
    }
    for tc in toolchains() {
        let (fx, run) = printfix(&tc, Variant::Stripped);
        let addr = addresses(&run.stderr);
        let (bin, core) = (fx.path.as_path(), run.core.as_path());
        let label = fx.label();
        // Memory through conversions, types from the runtime's type descriptors.
        for (expr, want) in [
            (format!("*(*int)({})", addr["main.gInt"]), "-42".to_string()),
            (
                format!("*(*main.point)({})", addr["main.gPtr"]),
                "main.point {X: 7, Y: 8}".to_string(),
            ),
            (
                format!("(*main.point)({}).Y", addr["main.gPtr"]),
                "8".to_string(),
            ),
            (
                format!("(*main.order)({}).Customer", addr["main.gOrder"]),
                "\"ACME Corp\"".to_string(),
            ),
            (
                format!("(*main.order)({}).Items[1].Name", addr["main.gOrder"]),
                "\"pear\"".to_string(),
            ),
            (
                format!("*(*string)({})", addr["main.gStr"]),
                "\"hello, world\"".to_string(),
            ),
            ("goroutine".to_string(), "1".to_string()),
            ("1 + 2*3".to_string(), "7".to_string()),
        ] {
            let (code, out, err) = gs_print(bin, core, None, &expr);
            assert_eq!(
                (code, out.trim_end()),
                (0, want.as_str()),
                "{label} {expr:?}: {err}"
            );
        }
        // Registers: every frame has $pc, $sp, $cfa and $g from the unwinder; the frame the
        // fatal signal interrupted also has the general registers the signal saved (compared
        // with dlv in `registers_a_signal_saved_agree_with_dlv`), consistent with the
        // unwinder's pc and sp.
        for r in ["rax", "rbx", "rdi", "r14"] {
            let (code, _, err) = gs_print(bin, core, Some((1, 0)), &format!("${r}"));
            assert_eq!(code, 0, "{label} ${r}: {err}");
        }
        for (a, b) in [("$rsp", "$sp"), ("$rip", "$pc")] {
            let x = gs_print(bin, core, Some((1, 0)), a);
            let y = gs_print(bin, core, Some((1, 0)), b);
            assert_eq!((x.0, &x.1), (0, &y.1), "{label} {a} and {b}");
        }
        let (code, _, err) = gs_print(bin, core, Some((1, 1)), "$rax");
        assert_eq!(code, 2, "{label} $rax in frame 1");
        assert!(
            err.contains("innermost frame of a stopped thread"),
            "{label}: {err}"
        );
        let g = core_json(bin, core, &["goroutine", "1"]);
        for (i, f) in g["frames"].as_array().unwrap().iter().enumerate() {
            if f["inlined"].as_bool() == Some(true) {
                continue;
            }
            let hex = |k: &str| hex_of(&f[k]);
            for (r, want) in [
                ("pc", hex("pc")),
                ("sp", hex("sp")),
                ("cfa", hex("fp")),
                ("g", hex_of(&g["addr"])),
            ] {
                let (code, out, err) = gs_print(bin, core, Some((1, i)), &format!("${r}"));
                assert_eq!(code, 0, "{label} frame {i} ${r}: {err}");
                assert_eq!(
                    out.trim().parse::<u64>().unwrap(),
                    want,
                    "{label} frame {i} ${r}"
                );
            }
        }
        // Names need DWARF.
        for expr in ["a", "main.gInt", "o.Customer"] {
            let (code, out, err) = gs_print(bin, core, None, expr);
            assert_eq!(code, 2, "{label} {expr:?}: {out}");
            assert!(err.contains("DWARF"), "{label} {expr:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{label} {expr:?}: {err}");
        }
    }
}

#[test]
fn a_condition_is_cheap_to_evaluate_again() {
    if !cores_possible() {
        return;
    }
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    let (fx, run) = printfix(&tc, Variant::Default);
    let bin = std::sync::Arc::new(goscope_binary::Binary::open(&fx.path).unwrap());
    let mut core = goscope_target::CoreFile::open(&run.core).unwrap();
    core.attach_binary(bin.clone());
    let rt = goscope_runtime::Runtime::new(&bin).unwrap();
    let snap = goscope_runtime::Snapshot::new(&rt, &core);
    let frames = goscope_frames(&fx.path, &run.core);
    let (gid, fi) = frames["main.inspect"];
    let gs = snap.goroutines(false).unwrap();
    let mut g = gs.list.into_iter().find(|g| g.id == gid).unwrap();
    snap.fill_stack(&mut g);
    let frame =
        goscope_runtime::expr::FrameInfo::from_frames(&g.frames, fi, None, Some(g.id), g.addr)
            .unwrap();
    let ctx = goscope_runtime::expr::EvalContext {
        rt: &rt,
        mem: &core,
        bias: snap.bias,
        frame,
    };
    let e = goscope_runtime::expr::Expr::parse(
        "a > 100 && s == \"argument\" && small[\"beta\"] == 2 && goroutine == 1",
    )
    .unwrap();
    // The first evaluation reads and indexes the DWARF; the others reuse it.
    let t0 = std::time::Instant::now();
    assert_eq!(ctx.eval_condition(&e), Ok(true));
    let first = t0.elapsed();
    let n = 2000;
    let t1 = std::time::Instant::now();
    for _ in 0..n {
        assert_eq!(ctx.eval_condition(&e), Ok(true));
    }
    let each = t1.elapsed() / n;
    eprintln!("condition: first evaluation {first:?}, then {each:?} each");
    for x in [
        "a > 100",
        "s == \"argument\"",
        "small[\"beta\"] == 2",
        "goroutine == 1",
        "main.gInt == -42",
        "1 == 1",
    ] {
        let e = goscope_runtime::expr::Expr::parse(x).unwrap();
        let t1 = std::time::Instant::now();
        for _ in 0..n {
            let _ = ctx.eval_condition(&e);
        }
        eprintln!("  {x}: {:?}", t1.elapsed() / n);
    }
    // Measured about 7 µs on a quiet machine; the bound leaves room for a busy one.
    assert!(
        each < std::time::Duration::from_micros(500),
        "a condition costs {each:?} per evaluation"
    );
}

#[test]
fn without_dwarf_package_variables_come_from_the_symbol_table() {
    if !cores_possible() {
        return;
    }
    let Some(tc) = toolchains().into_iter().next() else {
        return;
    };
    // -w drops DWARF and keeps the symbol table.
    let fx = goscope_xtask::build_with(
        "printfix",
        &tc,
        "linux",
        "amd64",
        Variant::Default,
        false,
        &["-ldflags=-w"],
    )
    .unwrap_or_else(|e| panic!("building printfix -ldflags=-w: {e:#}"));
    let run = crash(&fx, &[]);
    let (code, out, err) = gs_print(&fx.path, &run.core, None, "main.gInt");
    assert_eq!(code, 0, "{err}");
    // -42 as the untyped 8-byte word it is, with a note saying so.
    assert_eq!(out.trim(), (-42i64 as u64).to_string());
    assert!(
        err.contains("no DWARF") && err.contains("symbol table"),
        "{err}"
    );
    let (code, out, err) = gs_print(&fx.path, &run.core, None, "int64(main.gInt) + 2");
    assert_eq!((code, out.trim()), (0, "-40"), "{err}");
    let (code, _, err) = gs_print(&fx.path, &run.core, None, "a");
    assert_eq!(code, 2);
    assert!(err.contains("no DWARF"), "{err}");
}

#[test]
fn registers_a_signal_saved_agree_with_dlv() {
    if !cores_possible() {
        return;
    }
    let Some(dlv) = dlv() else {
        assert!(!goscope_xtask::required(), "dlv not found");
        return;
    };
    let Some(tc) = toolchains().into_iter().max_by_key(|t| t.minor) else {
        return;
    };
    let (fx, run) = printfix(&tc, Variant::Default);
    // The crashing goroutine's innermost frame is where the fatal signal interrupted it;
    // Delve lists the signal handler's frames first, then that frame after
    // runtime.sigtrampgo.
    let stack = strip_ansi(&dlv_session_with(
        &dlv,
        &fx.path,
        &run.core,
        "goroutine 1 stack 100",
        &[],
    ));
    let after_handler = stack
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            let n: usize = p.next()?.parse().ok()?;
            let _pc = p.next()?;
            (p.next()? == "in").then_some(())?;
            Some((n, p.next()?.to_string()))
        })
        .skip_while(|(_, f)| f != "runtime.sigtrampgo")
        .nth(1)
        .map(|(n, _)| n)
        .unwrap_or_else(|| panic!("no frame after the signal handler in dlv's stack:\n{stack}"));
    let regs = [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15",
    ];
    let exprs: Vec<String> = regs.iter().map(|r| r.to_uppercase()).collect();
    let theirs = dlv_prints(&dlv, &fx.path, &run.core, 1, after_handler, &exprs, &[]);
    for (r, d) in regs.iter().zip(&theirs) {
        let (code, out, err) = gs_print(&fx.path, &run.core, Some((1, 0)), &format!("${r}"));
        assert_eq!(code, 0, "${r}: {err}");
        assert_eq!(out.trim(), d.trim(), "${r}: goscope {out:?}, dlv {d:?}");
    }
}
