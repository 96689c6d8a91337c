//! `goscope opt` on the checkfix fixture, with every toolchain, for amd64 and arm64, from the
//! JSON optimization log and from -m=2 text: every escape, inlining and bounds decision of the
//! module is tied to instructions or says why it has none; the real-bug shapes are tied to the
//! exact runtime calls (and, for the two calls on one line, to the inlined one only).

mod common;

use std::path::PathBuf;

use common::p;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    goscope_xtask::repo_root().join("testdata/checkfix")
}

fn line_of(needle: &str) -> u64 {
    let src = std::fs::read_to_string(fixture_dir().join("hot/hot.go")).unwrap();
    src.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle}")) as u64
        + 1
}

fn opt(go: &std::path::Path, goarch: &str, extra: &[&str]) -> Value {
    let mut c = common::goscope();
    c.args(["opt", "--json", "--go", p(go), "-C", p(&fixture_dir())])
        .args(extra)
        .env("GOARCH", goarch)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off");
    let out = common::run(c, b"");
    common::assert_no_panic(&out, "opt");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn texts(d: &Value) -> Vec<String> {
    d["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn opt_ties_every_decision_or_says_why() {
    let tcs = goscope_xtask::toolchains().unwrap();
    for tc in &tcs {
        for arch in ["amd64", "arm64"] {
            for mode in [&[][..], &["--m2"][..]] {
                let label = format!(
                    "{} {arch} {}",
                    tc.version,
                    if mode.is_empty() { "json" } else { "m2" }
                );
                let r = opt(&tc.go, arch, mode);
                let ds = r["decisions"].as_array().unwrap();
                let in_module: Vec<&Value> = ds
                    .iter()
                    .filter(|d| d["file"].as_str().unwrap().contains("/testdata/checkfix/"))
                    .collect();
                assert!(
                    in_module.len() >= 20,
                    "{label}: {} decisions",
                    in_module.len()
                );
                for d in &in_module {
                    let kind = d["kind"].as_str().unwrap();
                    let tied = d["count"].as_u64().unwrap() > 0;
                    let why = d["reason"].as_str().unwrap_or("");
                    assert!(
                        tied || why.len() > 20,
                        "{label}: {kind} at {}:{} has neither instructions nor a reason: {d}",
                        d["file"],
                        d["line"]
                    );
                    assert!(!tied || why.is_empty(), "{label}: {d}");
                    // Every escape in the fixture is a real allocation: tied, never explained away.
                    if kind == "escape" && d["file"].as_str().unwrap().ends_with("hot/hot.go") {
                        assert!(tied, "{label}: escape not tied: {d}");
                        assert!(
                            texts(d).iter().any(|t| t.contains("runtime.")),
                            "{label}: {d}"
                        );
                    }
                    if kind == "leak" {
                        assert!(!tied && why.contains("parameter"), "{label}: {d}");
                    }
                }
                let at = |line: u64, kind: &str| -> Vec<&Value> {
                    in_module
                        .iter()
                        .copied()
                        .filter(|d| {
                            d["file"].as_str().unwrap().ends_with("hot/hot.go")
                                && d["line"] == line
                                && d["kind"] == kind
                        })
                        .collect()
                };
                let tied_to = |line: u64, kind: &str, callees: &[&str]| {
                    let v = at(line, kind);
                    assert!(
                        !v.is_empty(),
                        "{label}: no {kind} decision at hot.go:{line}"
                    );
                    assert!(
                        v.iter().any(|d| texts(d)
                            .iter()
                            .any(|t| callees.iter().any(|c| t.contains(c)))),
                        "{label}: {kind} at hot.go:{line} not tied to {callees:?}: {v:#?}"
                    );
                };
                // An interface conversion that allocates; a closure that escapes; append.
                // Go 1.27's compiler may call a size-class allocator
                // (`mallocgcSmallNoScanSC<n>`, `mallocgcSmallScanNoHeaderSC<n>`;
                // cmd/compile/internal/ssagen) where earlier releases call `newobject`.
                let newobject: &[&str] = if tc.minor >= 27 {
                    &["runtime.newobject", "runtime.mallocgcSmall"]
                } else {
                    &["runtime.newobject"]
                };
                tied_to(line_of("sink = v // want"), "escape", &["runtime.convT64"]);
                tied_to(line_of("n := 0              // want"), "escape", newobject);
                tied_to(line_of("return func() int { // want"), "escape", newobject);
                // (Go 1.19 does not log append's growth as an escape.)
                let append = line_of("return append(s, n)");
                if !at(append, "escape").is_empty() {
                    tied_to(append, "escape", &["runtime.growslice"]);
                }
                // The bounds check that stays, and none in the range loop.
                let bce = line_of("sum += s[i] // want");
                let v = at(bce, "bounds_check");
                assert!(!v.is_empty(), "{label}: no bounds decision at {bce}");
                assert!(
                    v.iter()
                        .all(|d| texts(d).iter().any(|t| t.contains("runtime.panic"))),
                    "{label}: {v:#?}"
                );
                let range_line = line_of("for i := range s") + 1;
                assert!(at(range_line, "bounds_check").is_empty(), "{label}");
                // Inlining: small is inlinable and its instructions sit in TwoCalls; big is not
                // (go:noinline) and its decision is tied to its own body.
                let small = at(line_of("func small("), "can_inline");
                assert_eq!(small.len(), 1, "{label}: {small:#?}");
                assert!(
                    small[0]["instructions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["function"] == "example.com/checkfix/hot.TwoCalls"
                            && i["inline"].as_array().is_some_and(|c| c
                                .iter()
                                .any(|f| f == "example.com/checkfix/hot.small"))),
                    "{label}: {:#?}",
                    small[0]
                );
                let big = at(line_of("func big("), "cannot_inline");
                assert_eq!(big.len(), 1, "{label}");
                assert!(
                    big[0]["message"].as_str().unwrap().contains("noinline"),
                    "{label}"
                );
                assert!(
                    big[0]["instructions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|i| i["function"] == "example.com/checkfix/hot.big"),
                    "{label}: {:#?}",
                    big[0]
                );
                if mode.is_empty() && tc.minor >= 20 {
                    // A closure too costly for either of its two call sites: both calls stay
                    // (indirect) CALLs in ClosureTwice, and each cannotInlineCall is tied to
                    // its own line's CALL only.
                    let mut sites = Vec::new();
                    for needle in ["first := mix(a)", "second := mix(b)"] {
                        let line = line_of(needle);
                        let v = at(line, "call_not_inlined");
                        assert!(!v.is_empty(), "{label}: no call_not_inlined at {line}");
                        for d in &v {
                            assert_eq!(
                                d["function"], "example.com/checkfix/hot.ClosureTwice.func1",
                                "{label}: {d:#}"
                            );
                            let insns = d["instructions"].as_array().unwrap();
                            assert_eq!(insns.len(), 1, "{label}: one CALL per site: {d:#}");
                            let i = &insns[0];
                            assert!(
                                i["function"] == "example.com/checkfix/hot.ClosureTwice"
                                    && i["text"].as_str().unwrap().starts_with("CALL "),
                                "{label}: {i:#}"
                            );
                            sites.push(i["address"].clone());
                        }
                    }
                    sites.dedup();
                    assert!(sites.len() >= 2, "{label}: both sites tied to one CALL");
                }
                if !mode.is_empty() {
                    // Two calls on one line: only small's inlining is reported, and tied to
                    // small's instructions.
                    let two = at(line_of("return small(a) + big(b)"), "inlined_call");
                    assert_eq!(two.len(), 1, "{label}: {two:#?}");
                    assert_eq!(two[0]["message"], "small");
                    assert!(
                        two[0]["count"].as_u64().unwrap() > 0,
                        "{label}: {:#?}",
                        two[0]
                    );
                }
            }
        }
    }
}

#[test]
fn opt_reads_saved_logs_and_filters() {
    let tc = &goscope_xtask::toolchains().unwrap()[0];
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let log = dir.path().join("log");
    let out = tc
        .command()
        .current_dir(fixture_dir())
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(format!(
            "-gcflags=example.com/checkfix/...=-json=0,file://{}",
            log.display()
        ))
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success());
    let o = common::goscope_run(
        &[
            "opt",
            "--log",
            p(&log),
            "--binary",
            p(&bin),
            "-C",
            p(&fixture_dir()),
            "--kind",
            "bounds",
            "--json",
        ],
        b"",
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ds = r["decisions"].as_array().unwrap();
    assert!(!ds.is_empty() && ds.iter().all(|d| d["kind"] == "bounds_check"));
    let o = common::goscope_run(
        &[
            "opt",
            "--log",
            p(&log),
            "--binary",
            p(&bin),
            "-C",
            p(&fixture_dir()),
            "--function",
            "IndexSum$",
            "--format",
            "sarif",
        ],
        b"",
    );
    let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: Value = serde_json::from_slice(
        &std::fs::read(
            goscope_xtask::repo_root().join("crates/check/tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema::draft4::new(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&sarif).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert!(
            r["message"]["text"].as_str().unwrap().contains("IndexSum"),
            "{r}"
        );
    }
    // A broken log is an input error.
    std::fs::write(
        log.join("main/main.json"),
        "{\"package\":\"main\"}\n{broken",
    )
    .unwrap();
    let o = common::goscope_run(&["opt", "--log", p(&log), "--binary", p(&bin)], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("main.json"));
}

/// One record of the compiler's own `-json=0` log: (code, message, positions outermost
/// first — the diagnostic's range, then the `inlineLoc` entries right after it).
type LogRecord = (String, String, Vec<(u64, u64)>);

/// The compiler's own optimization log of hot.go for `tc` and `goarch`.
fn compiler_log(tc: &goscope_xtask::Toolchain, goarch: &str) -> Vec<LogRecord> {
    let dir = tempfile::tempdir().unwrap();
    let out = tc
        .command()
        .current_dir(fixture_dir())
        .env("GOARCH", goarch)
        .args([
            "build",
            "-o",
            "/dev/null",
            &format!(
                "-gcflags=example.com/checkfix/hot=-json=0,file://{}",
                dir.path().display()
            ),
            ".",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut records = Vec::new();
    for pkg in std::fs::read_dir(dir.path()).unwrap() {
        let log = pkg.unwrap().path().join("hot.json");
        let Ok(text) = std::fs::read_to_string(&log) else {
            continue;
        };
        for l in text.lines().skip(1) {
            let v: Value = serde_json::from_str(l).unwrap();
            let start = &v["range"]["start"];
            let mut chain = vec![(
                start["line"].as_u64().unwrap(),
                start["character"].as_u64().unwrap(),
            )];
            for r in v["relatedInformation"].as_array().into_iter().flatten() {
                if r["message"] != "inlineLoc" {
                    break;
                }
                let s = &r["location"]["range"]["start"];
                chain.push((
                    s["line"].as_u64().unwrap(),
                    s["character"].as_u64().unwrap(),
                ));
            }
            records.push((
                v["code"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap_or("").to_string(),
                chain,
            ));
        }
    }
    assert!(!records.is_empty(), "no log for hot.go");
    records
}

/// A decision's positions outermost first, as goscope reports them (innermost position, then
/// the call sites innermost first).
fn chain_of(d: &Value) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = d["inlined_at"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["line"].as_u64().unwrap(), s["column"].as_u64().unwrap()))
        .collect();
    v.reverse();
    v.push((d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()));
    v
}

#[test]
fn opt_follows_the_compilers_positions_one_finding_per_decision() {
    let two = line_of("// opt: two escapes on one line");
    let pick = line_of("// opt: bounds check inside inlined code");
    for tc in &goscope_xtask::toolchains().unwrap() {
        for arch in ["amd64", "arm64"] {
            let label = format!("{} {arch}", tc.version);
            let log = compiler_log(tc, arch);
            let r = opt(&tc.go, arch, &[]);
            let hot: Vec<&Value> = r["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["file"].as_str().unwrap().ends_with("checkfix/hot/hot.go"))
                .collect();
            // Every escape the compiler logged (twice each: with its expression, and bare) is
            // one decision of goscope's, at the compiler's innermost position with its call
            // sites in order.
            let mut want: Vec<Vec<(u64, u64)>> = log
                .iter()
                .filter(|(code, _, _)| code == "escape")
                .map(|(_, _, chain)| chain.clone())
                .collect();
            want.sort();
            want.dedup();
            let mut got: Vec<Vec<(u64, u64)>> = hot
                .iter()
                .filter(|d| d["kind"] == "escape")
                .map(|d| chain_of(d))
                .collect();
            got.sort();
            assert_eq!(got, want, "{label}: escapes");
            // Two escapes on one line, at two columns, each tied to its own allocator.
            let mut cols: Vec<u64> = log
                .iter()
                .filter(|(code, _, chain)| code == "escape" && chain[0].0 == two)
                .map(|(_, _, chain)| chain[0].1)
                .collect();
            cols.sort();
            cols.dedup();
            assert_eq!(
                cols.len(),
                2,
                "{label}: the compiler logs two escapes at hot.go:{two}"
            );
            // (Go 1.27 may allocate the Item through a size-class runtime.mallocgc….)
            let item: &[&str] = &["runtime.newobject", "runtime.mallocgc"];
            for (col, own, other) in [
                (cols[0], item, "concatstring"),
                (cols[1], &["runtime.concatstring"][..], "newobject"),
            ] {
                let d = hot
                    .iter()
                    .find(|d| d["kind"] == "escape" && d["line"] == two && d["column"] == col)
                    .unwrap_or_else(|| panic!("{label}: no escape at hot.go:{two}:{col}"));
                let t = texts(d);
                assert!(
                    !t.is_empty() && t.iter().all(|x| own.iter().any(|o| x.contains(o))),
                    "{label}: {d}"
                );
                assert!(!t.iter().any(|x| x.contains(other)), "{label}: {d}");
            }
            // The bounds checks of pick's copies inlined into PickTwice: at pick's line, with
            // the call site the compiler gives, tied to PickTwice's code inlined from pick.
            let inlined: Vec<&LogRecord> = log
                .iter()
                .filter(|(code, _, chain)| {
                    code == "isInBounds" && chain.len() == 2 && chain[1].0 == pick
                })
                .collect();
            assert_eq!(inlined.len(), 2, "{label}: {log:?}");
            for (_, _, chain) in inlined {
                let d = hot
                    .iter()
                    .find(|d| d["kind"] == "bounds_check" && chain_of(d) == *chain)
                    .unwrap_or_else(|| panic!("{label}: no bounds check with positions {chain:?}"));
                assert!(d["count"].as_u64().unwrap() > 0, "{label}: {d}");
                for i in d["instructions"].as_array().unwrap() {
                    assert_eq!(
                        i["function"], "example.com/checkfix/hot.PickTwice",
                        "{label}: {d}"
                    );
                    let chain: Vec<&str> = i["inline"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap())
                        .collect();
                    assert_eq!(
                        chain.first(),
                        Some(&"example.com/checkfix/hot.pick"),
                        "{label}: {d}"
                    );
                }
            }
        }
    }
}
