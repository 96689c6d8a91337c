//! `goscope check` on the checkfix fixture: the exact violations planted in its source
//! (`// want RULE` comments), none on the satisfying twins, for every toolchain and for amd64
//! and arm64, stripped or not; the wants themselves agree with the compiler's own diagnostics; SARIF validates
//! against the SARIF 2.1.0 schema.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{goscope_run, p};
use goscope_xtask::{Fixture, Variant};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    goscope_xtask::repo_root().join("testdata/checkfix")
}

/// checkfix for linux/amd64 and linux/arm64 with every toolchain.
fn builds() -> &'static [Fixture] {
    static B: OnceLock<Vec<Fixture>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        for tc in goscope_xtask::toolchains().expect("toolchains") {
            for arch in ["amd64", "arm64"] {
                // Stripped builds too: functions and call targets come from the pclntab.
                for variant in [Variant::Default, Variant::Stripped] {
                    v.push(
                        goscope_xtask::build("checkfix", &tc, "linux", arch, variant, false)
                            .expect("building checkfix"),
                    );
                }
            }
        }
        v
    })
}

/// (function, module-relative file:line, rule)
type Finding = (String, String, String);

/// The violations the fixture's `// want` comments plant for a build by Go 1.`minor`. The
/// function is the enclosing func unless the comment says `fn=NAME`; a want followed by
/// `(go1.N+` holds from Go 1.N on.
fn wants(minor: u32) -> BTreeSet<Finding> {
    let mut out = BTreeSet::new();
    let dir = fixture_dir().join("hot");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "go"))
        .collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let mut func = String::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("func ") {
                let end = rest.find(['(', '[']).unwrap();
                func = format!("example.com/checkfix/hot.{}", &rest[..end]);
            }
            let Some((code, want)) = line.split_once("// want ") else {
                continue;
            };
            if code.trim().is_empty() || code.trim_start().starts_with("//") {
                continue;
            }
            if let Some(since) = want
                .split_once("(go1.")
                .and_then(|(_, v)| v.split_once('+'))
                .and_then(|(v, _)| v.parse::<u32>().ok())
                && minor < since
            {
                continue;
            }
            let mut words = want.split_whitespace().take_while(|w| !w.starts_with('('));
            let mut rules = Vec::new();
            let mut fname = func.clone();
            for w in words.by_ref() {
                match w.strip_prefix("fn=") {
                    Some(n) => fname = n.to_string(),
                    None => rules.push(w.to_string()),
                }
            }
            for r in rules {
                out.insert((fname.clone(), format!("hot/{name}:{}", i + 1), r));
            }
        }
    }
    assert!(out.len() >= 12, "too few wants: {out:?}");
    out
}

fn check_json(bin: &Path, extra: &[&str]) -> (Value, i32) {
    let policy = fixture_dir().join("goscope.toml");
    let mut args = vec!["check", "--policy", p(&policy), "--format", "json"];
    args.extend_from_slice(extra);
    args.push(p(bin));
    let out = goscope_run(&args, b"");
    common::assert_no_panic(&out, "check");
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).expect("json"), code)
}

fn findings(report: &Value) -> BTreeSet<Finding> {
    report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let loc = &v["module_location"];
            (
                v["function"].as_str().unwrap().to_string(),
                format!("{}:{}", loc["file"].as_str().unwrap_or("?"), loc["line"]),
                v["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn check_reports_exactly_the_planted_violations() {
    let mut failures = Vec::new();
    for f in builds() {
        let want = wants(f.toolchain.minor);
        let (report, code) = check_json(&f.path, &[]);
        let got = findings(&report);
        if got != want {
            let missing: Vec<_> = want.difference(&got).collect();
            let extra: Vec<_> = got.difference(&want).collect();
            failures.push(format!(
                "{}: missing {missing:#?}\nunexpected (false positives) {extra:#?}",
                f.label()
            ));
        }
        assert_eq!(code, 1, "{}: violations must exit 1", f.label());
        // Every violation carries what a reviewer needs.
        for v in report["violations"].as_array().unwrap() {
            assert!(v["address"].as_str().unwrap().starts_with("0x"));
            assert!(v["file"].as_str().unwrap().ends_with(".go"), "{v}");
            let rule = v["rule"].as_str().unwrap();
            if !matches!(rule, "max_frame_size" | "max_size") {
                assert!(v["instruction"].is_string(), "{v}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The text of `hot/FILE:LINE` in the fixture.
fn source_line(loc: &str) -> String {
    let (file, line) = loc.rsplit_once(':').unwrap();
    let src = std::fs::read_to_string(fixture_dir().join(file)).unwrap();
    let n: usize = line.parse().unwrap();
    src.lines().nth(n - 1).unwrap_or_default().to_string()
}

/// The line of hot.go holding `needle`.
fn hot_line(needle: &str) -> usize {
    let src = std::fs::read_to_string(fixture_dir().join("hot/hot.go")).unwrap();
    src.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in hot.go"))
        + 1
}

#[test]
fn satisfying_twins_alone_pass() {
    // A policy that selects only the satisfying twins, every rule on: no violation, exit 0.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("goscope.toml");
    std::fs::write(
        &policy,
        r#"
[module]
directives = false
[[check]]
functions = ["example.com/checkfix/hot.BoxPointer", "example.com/checkfix/hot.LocalClosure", "example.com/checkfix/hot.AllocCopy", "example.com/checkfix/hot.scaleOne"]
no_alloc = true
[[check]]
functions = ["*.IfaceConcrete", "*.LockLocalLoop", "*.WBStoreInt", "*.RTSliceLookup", "*.SizeSmall", "*.FrameSmall", "*.PlainUnlock", "*.RangeSum"]
no_interface_conversion = true
no_write_barrier = true
no_runtime_calls = ["map", "chan", "alloc"]
max_frame_size = 1024
max_size = 512
no_defer = true
[[check]]
functions = ["*.IfaceConcrete", "*.LockLocalLoop", "*.WBStoreInt", "*.SizeSmall", "*.RangeSum", "*.LockAllowed"]
no_lock = true
no_bounds_check = true
lock_allow = ["example.com/checkfix/stats"]
[[check]]
functions = ["example.com/checkfix/hot.small"]
must_inline = true
"#,
    )
    .unwrap();
    for f in builds() {
        let out = goscope_run(
            &[
                "check",
                "--policy",
                p(&policy),
                "--module",
                p(&fixture_dir()),
                p(&f.path),
            ],
            b"",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {stdout}{}",
            f.label(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("0 violations"), "{stdout}");
    }
}

#[test]
fn text_output_names_function_line_rule_and_instruction() {
    let f = &builds()[0];
    let policy = fixture_dir().join("goscope.toml");
    let out = goscope_run(&["check", "--policy", p(&policy), p(&f.path)], b"");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("no_lock:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with("hot/hot.go:"), "{line}");
    assert!(
        line.contains("example.com/checkfix/hot.LockHotLoop"),
        "{line}"
    );
    assert!(
        text.contains("must_inline: example.com/checkfix/hot.big"),
        "{text}"
    );
    assert!(
        text.contains("in example.com/checkfix/hot.TwoCalls"),
        "{text}"
    );
    assert!(
        text.contains("from //goscope:nobce at hot/hot.go:"),
        "{text}"
    );
}

#[test]
fn wants_agree_with_the_compiler() {
    // The planted wants are checked against the compiler's own diagnostics (-m and the
    // bounds-check debug output): allocation lines escape, bounds-check lines keep an
    // IsInBounds, the range loop's does not, and of the two calls on one line only small is
    // inlined.
    for tc in goscope_xtask::toolchains().unwrap() {
        let want = wants(tc.minor);
        let out = tc
            .command()
            .current_dir(fixture_dir())
            .args([
                "build",
                "-o",
                "/dev/null",
                "-gcflags=example.com/checkfix/hot=-m -d=ssa/check_bce/debug=1",
                ".",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let diag = String::from_utf8_lossy(&out.stderr).into_owned();
        let return_line = format!(":{}", hot_line("return out // want"));
        let at = |line: &str| -> Vec<&str> {
            diag.lines()
                .filter(|l| l.starts_with(&format!("hot/{line}:")))
                .collect()
        };
        for (func, loc, rule) in &want {
            let msgs = at(loc.strip_prefix("hot/").unwrap());
            let joined = msgs.join("\n");
            match rule.as_str() {
                "no_bounds_check" => assert!(
                    joined.contains("Found IsInBounds"),
                    "{} {loc}: {joined}",
                    tc.version
                ),
                // The compiler reports no escape where Go 1.26+ moves an append-built
                // slice to the heap (its runtime call is checked against go tool objdump
                // in check_follows_inlined_code_and_derived_allocators).
                "no_alloc"
                    if !func.ends_with("AllocAppend")
                        && !loc.ends_with(&return_line)
                        && !source_line(loc).contains("append(") =>
                {
                    assert!(
                        joined.contains("escapes to heap") || joined.contains("moved to heap"),
                        "{} {loc}: {joined}",
                        tc.version
                    )
                }
                "must_inline" => {
                    assert!(
                        joined.contains("inlining call to small"),
                        "{} {loc}: {joined}",
                        tc.version
                    );
                    assert!(
                        !joined.contains("inlining call to big"),
                        "{} {loc}: {joined}",
                        tc.version
                    );
                }
                _ => {}
            }
        }
        // The satisfying twins: the range loop's index is proven, the local closure and the
        // boxed pointer do not allocate.
        let src = std::fs::read_to_string(fixture_dir().join("hot/hot.go")).unwrap();
        let line_of = |needle: &str| src.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let range_body = src
            .lines()
            .enumerate()
            .skip_while(|(_, l)| !l.starts_with("func RangeSum"))
            .take_while(|(_, l)| *l != "}")
            .map(|(i, _)| i + 1)
            .collect::<Vec<_>>();
        for l in range_body {
            let msgs = at(&format!("hot.go:{l}")).join("\n");
            assert!(
                !msgs.contains("IsInBounds"),
                "{} RangeSum line {l}: {msgs}",
                tc.version
            );
        }
        let local = line_of("add := func(y int)");
        let msgs = at(&format!("hot.go:{local}")).join("\n");
        assert!(!msgs.contains("escapes to heap"), "{}: {msgs}", tc.version);
    }
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema_path =
        goscope_xtask::repo_root().join("crates/check/tests/data/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");
    let policy = fixture_dir().join("goscope.toml");
    for f in builds() {
        let out = goscope_run(
            &[
                "check",
                "--policy",
                p(&policy),
                "--format",
                "sarif",
                p(&f.path),
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(1), "{}", f.label());
        let sarif: Value = serde_json::from_slice(&out.stdout).expect("sarif json");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.label());
        let run = &sarif["runs"][0];
        let rules: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert!(
                    r["help"]["text"].as_str().is_some_and(|t| t.len() > 40),
                    "{r}"
                );
                r["id"].as_str().unwrap()
            })
            .collect();
        assert_eq!(rules.len(), 10);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), findings_count(&f.path), "{}", f.label());
        for r in results {
            let idx = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(r["ruleId"].as_str().unwrap(), rules[idx]);
            let loc = &r["locations"][0]["physicalLocation"];
            assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%", "{r}");
            let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
            assert!(uri.starts_with("hot/") && !uri.starts_with('/'), "{uri}");
            assert!(loc["region"]["startLine"].as_u64().unwrap() > 0);
        }
        let root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            root.starts_with("file:///") && root.ends_with("/checkfix/"),
            "{root}"
        );
    }
}

fn findings_count(bin: &Path) -> usize {
    check_json(bin, &[]).0["violations"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn explain_lists_every_rule_and_directive() {
    let out = goscope_run(&["check", "--explain"], b"");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for rule in [
        "no_alloc",
        "no_lock",
        "no_bounds_check",
        "no_write_barrier",
        "no_runtime_calls",
        "must_inline",
        "max_frame_size",
        "max_size",
        "no_defer",
        "no_interface_conversion",
        "lock_allow",
        "//goscope:noalloc",
        "//goscope:inline",
        "//goscope:nobce",
        "//goscope:nolock",
        "regex",
        "packages",
    ] {
        assert!(
            text.contains(rule),
            "--explain does not mention {rule}:\n{text}"
        );
    }
}

#[test]
fn bad_policies_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = &builds()[0];
    for (text, want) in [
        (
            "[[check]]\nfunctions=[\"x\"]\nno_alocs = true\n",
            "no_alocs",
        ),
        ("[[check]]\nno_alloc = true\n", "select functions"),
        ("this is not toml", "policy"),
    ] {
        let policy = dir.path().join("bad.toml");
        std::fs::write(&policy, text).unwrap();
        let out = goscope_run(&["check", "--policy", p(&policy), p(&f.path)], b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
    // Not a Go binary: exit 2, one line.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"\x7fELF junk").unwrap();
    let policy = fixture_dir().join("goscope.toml");
    let out = goscope_run(&["check", "--policy", p(&policy), p(&junk)], b"");
    assert_eq!(out.status.code(), Some(2));
    common::assert_no_panic(&out, "junk");
}

/// The `CALL`s of `function` to a callee starting with `callee_prefix`, as the fixture's own
/// `go tool objdump` lists them: (address, file:line).
fn oracle_calls(f: &Fixture, function: &str, callee_prefix: &str) -> Vec<(u64, String)> {
    // go tool objdump needs a symbol table: a stripped build is read through its unstripped
    // twin (same toolchain and target; -s -w leaves the text where it was).
    let f = if f.variant == Variant::Stripped {
        builds()
            .iter()
            .find(|g| {
                g.variant == Variant::Default
                    && g.goarch == f.goarch
                    && g.toolchain.version == f.toolchain.version
            })
            .expect("the unstripped twin")
    } else {
        f
    };
    let listing = f
        .toolchain
        .tool(
            "objdump",
            &["-s", &format!("^{}$", regex_quote(function)), p(&f.path)],
            None,
        )
        .expect("go tool objdump");
    String::from_utf8_lossy(&listing)
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l
                .split('\t')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let insn = cols.get(3)?;
            let target = insn.strip_prefix("CALL ")?;
            target.starts_with(callee_prefix).then(|| {
                let addr = u64::from_str_radix(cols[1].trim_start_matches("0x"), 16).unwrap();
                (addr, cols[0].to_string())
            })
        })
        .collect()
}

fn regex_quote(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc = "\\.+*?()|[]{}^$".contains(c);
            esc.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn address(v: &Value) -> u64 {
    u64::from_str_radix(v["address"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn check_follows_inlined_code_and_derived_allocators() {
    let append_one = "example.com/checkfix/hot.appendOne";
    let host = "example.com/checkfix/hot.AppendTwice";
    let return_line = hot_line("return out // want");
    let dir = tempfile::tempdir().unwrap();
    let glob_policy = dir.path().join("glob.toml");
    std::fs::write(
        &glob_policy,
        "[module]\ndirectives = false\n[[check]]\nfunctions = [\"*.appendOne\"]\nno_alloc = true\n",
    )
    .unwrap();
    let opt_out = dir.path().join("own-bodies.toml");
    std::fs::write(
        &opt_out,
        "[module]\ndirectives = false\n[[check]]\nfunctions = [\"*.appendOne\"]\nno_alloc = true\ninlined = false\n",
    )
    .unwrap();
    for f in builds() {
        let label = f.label();
        // appendOne exists only inlined: its violations are the growslice calls go tool
        // objdump shows in AppendTwice (one per inlined copy), each naming the body and the
        // call site.
        let want: BTreeSet<u64> = oracle_calls(f, host, "runtime.growslice")
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(want.len(), 2, "{label}: two inlined appends in AppendTwice");
        for policy in [fixture_dir().join("goscope.toml"), glob_policy.clone()] {
            let out = goscope_run(
                &[
                    "check",
                    "--policy",
                    p(&policy),
                    "--module",
                    p(&fixture_dir()),
                    "--format",
                    "json",
                    p(&f.path),
                ],
                b"",
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            let got: Vec<&Value> = report["violations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["function"] == append_one)
                .collect();
            let got_addrs: BTreeSet<u64> = got.iter().map(|v| address(v)).collect();
            assert_eq!(got_addrs, want, "{label} {}: {got:#?}", policy.display());
            for v in &got {
                assert_eq!(v["in_function"], host, "{label}: {v}");
                assert_eq!(v["rule"], "no_alloc", "{label}: {v}");
                let msg = v["message"].as_str().unwrap();
                assert!(
                    msg.contains(&format!("in {host}, inlined from {append_one} at hot.go:")),
                    "{label}: {msg}"
                );
                let chain = v["inline"].as_array().unwrap();
                assert_eq!(
                    chain.first().unwrap()["function"],
                    append_one,
                    "{label}: {v}"
                );
                assert_eq!(chain.last().unwrap()["function"], host, "{label}: {v}");
            }
        }
        // `inlined = false`: only the functions' own bodies, and appendOne has none.
        let out = goscope_run(&["check", "--policy", p(&opt_out), p(&f.path)], b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{label}: {stderr}");
        assert!(
            stderr.contains("selects no function of the binary"),
            "{label}: {stderr}"
        );

        // Go 1.26+ moves the append-built slice to the heap at the return through a runtime
        // helper the name table does not know: check and --annotate know it from the binary.
        let moves = oracle_calls(
            f,
            "example.com/checkfix/hot.BuildSlice",
            "runtime.moveSlice",
        );
        if f.toolchain.minor >= 26 {
            assert_eq!(moves.len(), 1, "{label}: {moves:?}");
            let (addr, line) = &moves[0];
            assert_eq!(line, &format!("hot.go:{return_line}"), "{label}");
            let (report, _) = check_json(&f.path, &[]);
            let hit = report["violations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| address(v) == *addr)
                .unwrap_or_else(|| panic!("{label}: no violation at {addr:#x}"));
            assert_eq!(hit["rule"], "no_alloc", "{label}: {hit}");
            let listing = goscope_run(
                &["objdump", "--annotate", "-s", "BuildSlice$", p(&f.path)],
                b"",
            );
            let text = String::from_utf8_lossy(&listing.stdout);
            let row = text
                .lines()
                .find(|l| l.contains(&format!("{addr:#x}")))
                .unwrap_or_else(|| panic!("{label}: {text}"));
            assert!(
                row.contains("// alloc: runtime.moveSlice"),
                "{label}: {row}"
            );
        } else {
            assert!(moves.is_empty(), "{label}: {moves:?}");
        }
    }
}

#[test]
fn diff_counts_the_allocations_check_sees() {
    // diff's allocation counts come from the same facts as check: between the Go 1.19 and the
    // Go 1.26+ builds, BuildSlice gains the helper that moves its result to the heap. The
    // counts are go tool objdump's CALLs to growslice and moveSlice* in each build.
    let amd64 = |minor: u32| {
        builds().iter().find(|f| {
            f.goarch == "amd64" && f.variant == Variant::Default && f.toolchain.minor == minor
        })
    };
    let (Some(old), Some(new)) = (amd64(19), amd64(26)) else {
        panic!("the matrix needs Go 1.19 and Go 1.26");
    };
    let f = "example.com/checkfix/hot.BuildSlice";
    let allocs = |fx: &Fixture| {
        oracle_calls(fx, f, "runtime.growslice").len()
            + oracle_calls(fx, f, "runtime.moveSlice").len()
    };
    let (want_old, want_new) = (allocs(old), allocs(new));
    assert!(want_new > want_old, "{want_old} -> {want_new}");
    let out = goscope_run(&["diff", "--json", p(&old.path), p(&new.path)], b"");
    let report: Value = serde_json::from_slice(&out.stdout).expect("diff --json");
    let change = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["function"] == f)
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(change["allocs"]["old"], want_old as u64, "{change}");
    assert_eq!(change["allocs"]["new"], want_new as u64, "{change}");
}
