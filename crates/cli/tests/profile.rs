//! `goscope profile` against `go tool pprof` on the same profiles: testdata/proffix burns CPU
//! in functions inlined and not under its own runtime/pprof CPU profile (1000 Hz), and pprof's
//! `-top`, `-noinlines`, `-disasm`, `-list` and `-diff_base` views are the oracle. Flame graphs
//! are parsed as XML and rendered by headless Chromium.

mod core_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use core_common::toolchains;
use goscope_xtask::{Fixture, Toolchain, Variant};
use serde_json::Value;

/// A proffix build and the profile it wrote of itself.
struct Profiled {
    tc: Toolchain,
    fx: Fixture,
    profile: PathBuf,
    /// A second run's profile (the `diff` tests' NEW).
    second: PathBuf,
}

/// Every toolchain's proffix, plain, stripped and PIE (loaded at a random address: the
/// mapping's bias is undone), each run twice (built and run once per test
/// binary).
fn profiled() -> &'static [Profiled] {
    static ALL: OnceLock<Vec<Profiled>> = OnceLock::new();
    ALL.get_or_init(|| {
        let dir = goscope_xtask::target_dir().join("profile-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let mut out = Vec::new();
        for tc in toolchains() {
            for variant in [Variant::Default, Variant::Stripped, Variant::Pie] {
                let fx = core_common::fixture("proffix", &tc, variant, false);
                let mut files = Vec::new();
                for run in ["a", "b"] {
                    let tag = fx.label().replace([' ', '/'], "-");
                    let p = dir.join(format!("{tag}.{run}.pb.gz"));
                    let st = Command::new(&fx.path)
                        .arg(&p)
                        .arg("1500")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .unwrap();
                    assert!(st.success(), "{} failed", fx.label());
                    files.push(p);
                }
                let second = files.pop().unwrap();
                let profile = files.pop().unwrap();
                out.push(Profiled {
                    tc: tc.clone(),
                    fx,
                    profile,
                    second,
                });
            }
        }
        out
    })
}

fn goscope(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_goscope"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running goscope");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn goscope_ok(args: &[&str]) -> Value {
    let (out, err, code) = goscope(args);
    assert_eq!(code, 0, "goscope {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("goscope {args:?}: not JSON: {e}\n{out}"))
}

/// `go tool pprof ARGS BIN PROFILE` of the fixture's toolchain.
fn pprof(p: &Profiled, args: &[&str], bin: &Path, profile: &Path) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.push(bin.to_str().unwrap());
    all.push(profile.to_str().unwrap());
    let out =
        p.tc.command()
            .arg("tool")
            .arg("pprof")
            .args(&all)
            .stdin(Stdio::null())
            .output()
            .unwrap();
    assert!(
        out.status.success(),
        "go tool pprof {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pprof value printed with `-unit=ms` (`517ms`, `0`, `.`), in ms.
fn ms(s: &str) -> f64 {
    match s {
        "." | "0" => 0.0,
        s => s
            .strip_suffix("ms")
            .unwrap_or_else(|| panic!("not a ms value: {s:?}"))
            .parse()
            .unwrap(),
    }
}

/// pprof's `-top` table: function → (flat, cum) in ms.
fn pprof_top(text: &str) -> HashMap<String, (f64, f64)> {
    let mut out = HashMap::new();
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() < 6 || !w[1].ends_with('%') || !w[4].ends_with('%') {
            continue;
        }
        let Ok(flat) = std::panic::catch_unwind(|| ms(w[0])) else {
            continue;
        };
        let name = w[5..].join(" ");
        let name = name
            .strip_suffix(" (inline)")
            .or_else(|| name.strip_suffix(" (partial-inline)"))
            .unwrap_or(&name)
            .to_string();
        out.insert(name, (flat, ms(w[3])));
    }
    out
}

fn goscope_top(p: &Profiled, inlined: bool) -> HashMap<String, (f64, f64)> {
    let bin = p.fx.path.to_str().unwrap();
    let prof = p.profile.to_str().unwrap();
    let mut args = vec!["profile", bin, prof, "top", "-n", "0", "--json"];
    if inlined {
        args.push("--inlined");
    }
    table(&goscope_ok(&args), "flat_ms", "cum_ms")
}

/// `{"functions":[…]}` of goscope's JSON as function → (`flat`, `cum`) fields.
fn table(v: &Value, flat: &str, cum: &str) -> HashMap<String, (f64, f64)> {
    v["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap().to_string(),
                (f[flat].as_f64().unwrap(), f[cum].as_f64().unwrap()),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.001
}

fn assert_same_table(
    got: &HashMap<String, (f64, f64)>,
    want: &HashMap<String, (f64, f64)>,
    what: &str,
) {
    assert!(!want.is_empty(), "{what}: pprof printed no functions");
    for (f, (flat, cum)) in want {
        let g = got
            .get(f)
            .unwrap_or_else(|| panic!("{what}: goscope has no {f} (pprof: {flat} {cum})"));
        assert!(
            close(g.0, *flat) && close(g.1, *cum),
            "{what}: {f}: goscope flat {} cum {}, pprof {flat} {cum}",
            g.0,
            g.1
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: function counts differ");
}

#[test]
fn top_equals_pprof_top_per_function_inlined_split_or_not() {
    for p in profiled() {
        let what = p.fx.label();
        let bin = &p.fx.path;
        let want = pprof_top(&pprof(
            p,
            &["-top", "-unit=ms", "-nodecount=100000", "-nodefraction=0"],
            bin,
            &p.profile,
        ));
        assert!(want.contains_key("main.mix"), "{what}: mix not inlined?");
        assert_same_table(&goscope_top(p, true), &want, &format!("{what} --inlined"));
        let want = pprof_top(&pprof(
            p,
            &[
                "-top",
                "-noinlines",
                "-unit=ms",
                "-nodecount=100000",
                "-nodefraction=0",
            ],
            bin,
            &p.profile,
        ));
        assert_same_table(&goscope_top(p, false), &want, &format!("{what} -noinlines"));
    }
}

/// pprof's `-disasm` listing: address → (flat, cum) in ms.
fn pprof_disasm(text: &str) -> HashMap<u64, (f64, f64)> {
    let mut out = HashMap::new();
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() >= 4
            && let Some(a) = w[2].strip_suffix(':')
            && let Ok(a) = u64::from_str_radix(a, 16)
        {
            out.insert(a, (ms(w[0]), ms(w[1])));
        }
    }
    out
}

#[test]
fn disasm_equals_pprof_disasm_and_lists_inlined_functions() {
    for p in profiled() {
        let what = p.fx.label();
        let bin = p.fx.path.to_str().unwrap();
        let prof = p.profile.to_str().unwrap();
        if p.fx.variant == Variant::Default {
            // pprof needs the symbol table to find functions: unstripped builds only.
            for f in ["hotA", "hotB", "spread"] {
                let want = pprof_disasm(&pprof(
                    p,
                    &["-disasm", &format!("main\\.{f}"), "-unit=ms"],
                    &p.fx.path,
                    &p.profile,
                ));
                assert!(!want.is_empty(), "{what}: pprof lists no {f}");
                let v = goscope_ok(&[
                    "profile",
                    bin,
                    prof,
                    "disasm",
                    &format!("main\\.{f}$"),
                    "--json",
                ]);
                let fns = v["functions"].as_array().unwrap();
                assert_eq!(fns.len(), 1, "{what}: {f}: {v}");
                let insns = fns[0]["instructions"].as_array().unwrap();
                // pprof leaves out a function's last instruction; goscope lists it.
                assert!(insns.len() >= want.len(), "{what}: {f}: instruction counts");
                let listed: Vec<u64> = insns
                    .iter()
                    .map(|i| i["address"].as_u64().unwrap())
                    .collect();
                for a in want.keys() {
                    assert!(listed.contains(a), "{what}: {f}: goscope has no {a:#x}");
                }
                for i in insns {
                    let a = i["address"].as_u64().unwrap();
                    let (flat, cum) = want.get(&a).copied().unwrap_or((0.0, 0.0));
                    assert!(
                        close(i["flat_ms"].as_f64().unwrap(), flat)
                            && close(i["cum_ms"].as_f64().unwrap(), cum),
                        "{what}: {f} {a:#x}: goscope {i}, pprof {flat} {cum}"
                    );
                }
            }
            // --skid: each instruction gets what the one after it had.
            let plain = goscope_ok(&["profile", bin, prof, "disasm", "main\\.hotA$", "--json"]);
            let skid = goscope_ok(&[
                "profile",
                bin,
                prof,
                "disasm",
                "main\\.hotA$",
                "--skid",
                "--json",
            ]);
            let flats = |v: &Value| -> Vec<f64> {
                v["functions"][0]["instructions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["flat_ms"].as_f64().unwrap())
                    .collect()
            };
            let (plain, skid) = (flats(&plain), flats(&skid));
            assert_eq!(plain.len(), skid.len());
            for (k, got) in skid.iter().enumerate() {
                let want = plain.get(k + 1).copied().unwrap_or(0.0);
                assert!(close(*got, want), "{what}: --skid row {k}: {got} vs {want}");
            }
            // An inlined function: pprof finds nothing to list.
            let out =
                p.tc.command()
                    .args(["tool", "pprof", "-disasm", "main\\.mix"])
                    .arg(&p.fx.path)
                    .arg(&p.profile)
                    .output()
                    .unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(
                pprof_disasm(&String::from_utf8_lossy(&out.stdout)).is_empty()
                    && said.contains("no matches"),
                "{what}: pprof lists mix now: {said}"
            );
        }
        // goscope lists mix in each function it was inlined into, with its flat value split
        // exactly among its instructions.
        let top = goscope_top(p, true);
        let v = goscope_ok(&["profile", bin, prof, "disasm", "main\\.mix$", "--json"]);
        let fns = v["functions"].as_array().unwrap();
        let hosts: Vec<&str> = fns.iter().map(|f| f["into"].as_str().unwrap()).collect();
        assert!(
            hosts.contains(&"main.hotB") && hosts.contains(&"main.spread"),
            "{what}: mix listed in {hosts:?}"
        );
        let sum: f64 = fns
            .iter()
            .flat_map(|f| f["instructions"].as_array().unwrap())
            .map(|i| i["flat_ms"].as_f64().unwrap())
            .sum();
        assert!(
            close(sum, top["main.mix"].0),
            "{what}: mix's instructions add up to {sum} ms, its flat is {}",
            top["main.mix"].0
        );
        for f in fns {
            assert_eq!(f["inlined"], true);
            for i in f["instructions"].as_array().unwrap() {
                let chain = i["inline"].as_array().unwrap();
                assert!(
                    chain
                        .iter()
                        .any(|c| c.as_str().unwrap().starts_with("main.mix ")),
                    "{what}: {i} is not mix's"
                );
            }
        }
    }
}

#[test]
fn list_equals_pprof_list_per_line() {
    for p in profiled() {
        if p.fx.variant != Variant::Default {
            continue;
        }
        let what = p.fx.label();
        let text = pprof(
            p,
            &["-list", "main\\.hotB", "-unit=ms"],
            &p.fx.path,
            &p.profile,
        );
        let mut want = HashMap::new();
        for l in text.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() >= 3
                && let Some(n) = w[2].split(':').next()
                && w[2].contains(':')
                && let Ok(n) = n.parse::<i64>()
                && (w[0] != "." || w[1] != ".")
            {
                want.insert(n, (ms(w[0]), ms(w[1])));
            }
        }
        assert!(
            !want.is_empty(),
            "{what}: pprof -list printed nothing: {text}"
        );
        let v = goscope_ok(&[
            "profile",
            p.fx.path.to_str().unwrap(),
            p.profile.to_str().unwrap(),
            "list",
            "main\\.hotB$",
            "--json",
        ]);
        let f = &v["functions"][0];
        let got: HashMap<i64, (f64, f64)> = f["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["cum_ms"].as_f64().unwrap() != 0.0)
            .map(|l| {
                (
                    l["line"].as_i64().unwrap(),
                    (
                        l["flat_ms"].as_f64().unwrap(),
                        l["cum_ms"].as_f64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(
            got.len(),
            want.len(),
            "{what}: lines {got:?} vs pprof {want:?}"
        );
        for (n, (flat, cum)) in &want {
            let g = got[n];
            assert!(
                close(g.0, *flat) && close(g.1, *cum),
                "{what}: line {n}: {g:?} vs {flat} {cum}"
            );
        }
        // The call line of mix names it.
        let call = f["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| {
                l["source"]
                    .as_str()
                    .is_some_and(|s| s.contains("mix(uint64(i) + s)"))
            })
            .expect("hotB's call of mix");
        assert_eq!(call["inlined"][0]["function"], "main.mix", "{call}");
    }
}

#[test]
fn diff_equals_pprof_diff_base() {
    for p in profiled() {
        let what = p.fx.label();
        let want = pprof_top(&pprof(
            p,
            &[
                "-top",
                "-noinlines",
                "-unit=ms",
                "-nodecount=100000",
                "-nodefraction=0",
                &format!("-diff_base={}", p.profile.display()),
            ],
            &p.fx.path,
            &p.second,
        ));
        let v = goscope_ok(&[
            "profile",
            p.fx.path.to_str().unwrap(),
            p.profile.to_str().unwrap(),
            "diff",
            p.second.to_str().unwrap(),
            "-n",
            "0",
            "--json",
        ]);
        let got = table(&v, "delta_flat_ms", "delta_cum_ms");
        for (f, (flat, cum)) in &want {
            let g = got
                .get(f)
                .unwrap_or_else(|| panic!("{what}: no {f} in diff"));
            assert!(
                close(g.0, *flat) && close(g.1, *cum),
                "{what}: {f}: goscope Δ {g:?}, pprof -diff_base {flat} {cum}"
            );
        }
    }
}

#[test]
fn flame_graph_parses_renders_and_names_every_function_of_one_percent() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .copied();
    for p in profiled() {
        let what = p.fx.label();
        let dir = goscope_xtask::target_dir().join("profile-tests");
        let svg = dir.join(format!("{}.svg", what.replace([' ', '/'], "-")));
        let _ = std::fs::remove_file(&svg);
        let (_, err, code) = goscope(&[
            "profile",
            p.fx.path.to_str().unwrap(),
            p.profile.to_str().unwrap(),
            "flamegraph",
            "-o",
            svg.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{what}: {err}");
        let text = std::fs::read_to_string(&svg).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{what}: the SVG is not XML: {e}"));
        let titles: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        let want = pprof_top(&pprof(
            p,
            &["-top", "-unit=ms", "-nodecount=100000", "-nodefraction=0"],
            &p.fx.path,
            &p.profile,
        ));
        let total: f64 = want.values().map(|v| v.0).sum();
        for (f, (_, cum)) in &want {
            if *cum * 100.0 >= total {
                assert!(
                    titles.iter().any(|t| t.starts_with(&format!("{f} "))),
                    "{what}: the flame graph does not name {f}"
                );
            }
        }
        assert!(
            titles.iter().any(|t| t.starts_with("main.mix (inlined)")),
            "{what}: inlined frames are not marked"
        );
        // Rendered by a browser, once.
        if p.fx.variant == Variant::Default && p.tc.minor == toolchains()[0].minor {
            let Some(chromium) = chromium else {
                assert!(
                    !goscope_xtask::required(),
                    "CI requires chromium (apt-get install chromium) to render the flame graph"
                );
                eprintln!("note: no chromium: the flame graph is not rendered");
                continue;
            };
            let png = goscope_xtask::target_dir().join("profile-flamegraph.png");
            let _ = std::fs::remove_file(&png);
            let profile_dir = tempfile::tempdir().unwrap();
            let st = Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--window-size=1200,420",
                ])
                .arg(format!("--user-data-dir={}", profile_dir.path().display()))
                .arg(format!("--screenshot={}", png.display()))
                .arg(format!("file://{}", svg.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "chromium failed to render {}", svg.display());
            let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
            assert!(bytes.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
            // Width and height from the IHDR chunk; a blank page compresses to almost nothing.
            let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            assert_eq!(w, 1200, "screenshot width");
            assert!(
                bytes.len() > 8_000,
                "the screenshot is blank ({} bytes)",
                bytes.len()
            );
            eprintln!("flame graph screenshot: {}", png.display());
        }
    }
}

#[test]
fn bad_profiles_get_one_clear_line_and_exit_2() {
    let Some(p) = profiled().first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(&p.profile).unwrap();
    let mut raw = Vec::new();
    {
        use std::io::Read;
        flate2::read::GzDecoder::new(&good[..])
            .read_to_end(&mut raw)
            .unwrap();
    }
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("truncated", good[..good.len() / 2].to_vec(), "cut short"),
        // Cut at a message boundary the rest may still decode: then a reference dangles.
        (
            "truncated-raw",
            raw[..raw.len() * 2 / 3].to_vec(),
            "not a pprof profile|corrupt|no samples",
        ),
        (
            "garbage",
            b"this is not a profile at all\n".repeat(20),
            "not a pprof profile",
        ),
        // A profile.proto holding only its string table.
        (
            "no-samples",
            vec![0x32, 0x00, 0x32, 0x03, b'c', b'p', b'u'],
            "no samples",
        ),
    ];
    // A sample naming a location the profile does not have: field 2 (sample) holding
    // location_id 999 and one value.
    let mut bad_ref = raw.clone();
    bad_ref.extend_from_slice(&[0x12, 0x05, 0x08, 0xe7, 0x07, 0x10, 0x01]);
    cases.push(("dangling-location", bad_ref, "corrupt"));
    for (name, bytes, says) in &cases {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        let (out, err, code) = goscope(&[
            "profile",
            p.fx.path.to_str().unwrap(),
            f.to_str().unwrap(),
            "top",
        ]);
        assert_eq!(code, 2, "{name}: exit {code}, stdout {out}, stderr {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(says.split('|').any(|s| err.contains(s)), "{name}: {err}");
        assert!(out.is_empty(), "{name}: {out}");
    }
    // A profile of another build: the tracefix program read with proffix's profile.
    let other = core_common::fixture("tracefix", &p.tc, Variant::Default, false);
    let (_, err, code) = goscope(&[
        "profile",
        other.path.to_str().unwrap(),
        p.profile.to_str().unwrap(),
        "top",
    ]);
    assert_eq!(code, 2, "another build: {err}");
    assert!(
        err.contains("not taken from this build") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (_, err, code) = goscope(&[
        "profile",
        other.path.to_str().unwrap(),
        p.profile.to_str().unwrap(),
        "--force",
        "top",
    ]);
    assert_eq!(code, 0, "--force: {err}");
    assert!(err.contains("warning"), "--force warns: {err}");
    // A function that has no samples, and a bad expression.
    let (_, err, code) = goscope(&[
        "profile",
        p.fx.path.to_str().unwrap(),
        p.profile.to_str().unwrap(),
        "disasm",
        "^nosuchfunction$",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no function matching"), "{err}");
    let (_, err, code) = goscope(&[
        "profile",
        p.fx.path.to_str().unwrap(),
        p.profile.to_str().unwrap(),
        "list",
        "(",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid regular expression"), "{err}");
}

#[test]
fn a_profile_of_the_go_compiler_reads_as_pprof_reads_it() {
    // Real-world input: the toolchain's own compiler (a large binary with generics, wrappers
    // and deep inlining) profiling itself with -cpuprofile while it compiles generated code.
    let mut src = String::from("package main\n\nfunc main() {}\n");
    for i in 0..1500 {
        src.push_str(&format!(
            "func f{i}(a []int, m map[string]int, s string) int {{\n\tt := 0\n\tfor j, v := range a {{\n\
             \t\tswitch {{\n\t\tcase v%3 == {}:\n\t\t\tt += v * j\n\t\tcase len(s) > {}:\n\
             \t\t\tm[s[:1]] += v\n\t\tdefault:\n\t\t\tt -= v >> 1\n\t\t}}\n\t}}\n\
             \tg := func(x int) int {{ return x*{i} + t }}\n\treturn g(len(m)) + t\n}}\n",
            i % 3,
            i % 7
        ));
    }
    for tc in toolchains() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gen.go");
        std::fs::write(&file, &src).unwrap();
        let prof = dir.path().join("compile.prof");
        let tooldir = String::from_utf8(
            tc.command()
                .args(["env", "GOTOOLDIR"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let compile = PathBuf::from(tooldir.trim()).join("compile");
        let st = tc
            .command()
            .args(["tool", "compile", "-p", "main", "-o"])
            .arg(dir.path().join("gen.o"))
            .arg("-cpuprofile")
            .arg(&prof)
            .arg(&file)
            .status()
            .unwrap();
        assert!(st.success(), "{}: go tool compile failed", tc.version);
        let p = Profiled {
            tc: tc.clone(),
            fx: core_common::fixture("proffix", &tc, Variant::Default, false),
            profile: prof.clone(),
            second: prof.clone(),
        };
        let want = pprof_top(&pprof(
            &p,
            &["-top", "-unit=ms", "-nodecount=100000", "-nodefraction=0"],
            &compile,
            &prof,
        ));
        let v = goscope_ok(&[
            "profile",
            compile.to_str().unwrap(),
            prof.to_str().unwrap(),
            "top",
            "--inlined",
            "-n",
            "0",
            "--json",
        ]);
        let got = table(&v, "flat_ms", "cum_ms");
        assert!(
            want.len() > 100,
            "{}: a small profile: {}",
            tc.version,
            want.len()
        );
        assert_same_table(&got, &want, &format!("{} compiling", tc.version));
    }
}
