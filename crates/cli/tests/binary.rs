//! Differential tests of `goscope info`, `nm` and `addr2line` against the Go toolchain's own
//! tools, over the whole fixture matrix: every toolchain × linux/amd64, linux/arm64, linux/386,
//! darwin/arm64, windows/amd64 × default, stripped, PIE, trimpath, plus cgo builds.

mod common;

use std::collections::BTreeSet;

use common::*;
use goscope_binary::Binary;
use goscope_xtask::{Fixture, Rng, Variant};

const NM_FLAG_SETS: &[&[&str]] = &[
    &[],
    &["-n"],
    &["-size", "-sort=size"],
    &["-sort", "none"],
    &["-sort=address", "-size"],
    &["-type"],
];

/// How many text symbols `go tool nm` (the fixture's own toolchain) lists: 0 when it fails
/// ("no symbols") or the symbol table has no functions. `-ldflags=-s` removes the symbol table
/// on most targets but not on darwin with Go 1.19, so the oracle decides, not the build flags.
fn go_nm_text_symbols(f: &Fixture) -> usize {
    match f.toolchain.tool("nm", &[p(&f.path)], None) {
        Ok(out) => String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| matches!(l.split_whitespace().nth(1), Some("T" | "t")))
            .count(),
        Err(_) => 0,
    }
}

#[test]
fn nm_is_byte_identical_to_go_tool_nm_on_unstripped_fixtures() {
    let mut checked = 0;
    for f in all_fixtures()
        .into_iter()
        .filter(|f| go_nm_text_symbols(f) > 0)
    {
        for flags in NM_FLAG_SETS {
            let mut args: Vec<&str> = flags.to_vec();
            args.push(p(&f.path));
            let want = f.toolchain.tool("nm", &args, None).expect("go tool nm");
            let mut ga = vec!["nm"];
            ga.extend(&args);
            let got = goscope_run(&ga, b"");
            assert_no_panic(&got, &f.label());
            assert!(
                got.status.success(),
                "goscope nm {args:?} failed on {}",
                f.label()
            );
            if got.stdout != want {
                let w = String::from_utf8_lossy(&want);
                let g = String::from_utf8_lossy(&got.stdout);
                let first = w
                    .lines()
                    .zip(g.lines())
                    .enumerate()
                    .find(|(_, (a, b))| a != b)
                    .map(|(i, (a, b))| format!("line {}: go {a:?} goscope {b:?}", i + 1));
                panic!(
                    "goscope nm {flags:?} differs from go tool nm on {} ({} vs {} lines); first difference: {}",
                    f.label(),
                    w.lines().count(),
                    g.lines().count(),
                    first.unwrap_or_else(|| "in length".into())
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6 * 20, "only {checked} nm comparisons ran");
}

/// The text symbols `go tool nm` lists for a binary, within Go's text (runtime.text to
/// runtime.etext; the C code of a cgo binary has no pclntab entries): (address, name). For
/// binaries older than Go 1.20/1.21 two things their pclntab cannot restore are normalized
/// away: the `.abi0` suffix the linker adds to a lone assembly function that Go code declares,
/// and the type arguments of generic instantiations (those pclntabs store `F[...]`).
fn go_text_symbols(
    lines: &str,
    lo: u64,
    hi: u64,
    exact_abi0: bool,
    minor: u32,
) -> BTreeSet<(u64, String)> {
    lines
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let code = it.next()?;
            let name = it.next()?;
            // Where the pclntab cannot tell which functions the linker renamed `.abi0` (see
            // nm.rs), compare without the suffix.
            let name = if !exact_abi0 {
                name.trim_end_matches(".abi0")
            } else {
                name
            };
            let name = if minor < 21 {
                goscope_binary::print_name(name).into_owned()
            } else {
                name.to_string()
            };
            ((code == "T" || code == "t") && addr >= lo && addr <= hi).then_some((addr, name))
        })
        .collect()
}

#[test]
fn stripped_fixtures_recover_the_text_symbols_of_their_unstripped_twin() {
    let mut checked = 0;
    for f in all_fixtures()
        .into_iter()
        .filter(|f| f.variant == Variant::Stripped && go_nm_text_symbols(f) == 0)
    {
        let twin = twin(f);
        let tb = Binary::open(&twin.path).expect("open twin");
        let md = tb.moduledata().expect("twin moduledata");
        let want_out = twin
            .toolchain
            .tool("nm", &["-n", p(&twin.path)], None)
            .expect("go tool nm on the twin");
        let minor = f.toolchain.minor;
        // The `.abi0` suffixes are recovered exactly for Go 1.20+ on linux without cgo. Before
        // 1.20 the assembler did not record Go declarations; and `//go:cgo_unsafe_args`
        // functions (darwin's libc wrappers, cgo's `_Cfunc_` stubs) are compiled for ABI0
        // without a trace in the pclntab.
        let exact_abi0 = minor >= 20 && f.goos == "linux" && !f.cgo;
        let mut want = go_text_symbols(
            &String::from_utf8_lossy(&want_out),
            md.text,
            md.etext,
            exact_abi0,
            minor,
        );
        // cgo's C-callable stubs for `//export`ed functions are C code (the pclntab holds only
        // Go code), yet the external linker may place them inside Go's text.
        if f.cgo {
            want.retain(|(_, name)| name != "goAdd");
        }
        let got = goscope_run(&["nm", "-n", p(&f.path)], b"");
        assert_no_panic(&got, &f.label());
        assert!(got.status.success(), "goscope nm failed on {}", f.label());
        let stderr = String::from_utf8_lossy(&got.stderr);
        assert!(
            stderr.contains("recovered from the pclntab"),
            "no recovery notice on {}: {stderr}",
            f.label()
        );
        let got = go_text_symbols(
            &String::from_utf8_lossy(&got.stdout),
            md.text,
            md.etext,
            exact_abi0,
            minor,
        );
        let missing: Vec<_> = want.difference(&got).take(8).collect();
        let extra: Vec<_> = got.difference(&want).take(8).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: recovered text symbols differ from the twin's: missing {missing:?}, extra {extra:?}",
            f.label()
        );
        assert!(
            want.len() > 1000,
            "{}: too few symbols to be meaningful",
            f.label()
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} stripped fixtures checked");
}

/// Addresses to look up in `bin`: random text addresses, every function entry, the last byte of
/// every function's range, and addresses outside the text.
fn addresses(bin: &Binary, seed: u64) -> Vec<u64> {
    let tab = bin.pclntab();
    let lo = tab.entry(0);
    let hi = tab.end_pc();
    let mut rng = Rng(seed | 1);
    let mut out: Vec<u64> = (0..10_000).map(|_| rng.range(lo, hi)).collect();
    for i in 0..tab.len() {
        out.push(tab.entry(i));
        out.push(tab.entry(i + 1) - 1);
    }
    out.extend([
        0,
        1,
        lo - 1,
        hi,
        hi + 1,
        hi + 0x1000,
        u64::MAX,
        u64::MAX - 1,
    ]);
    out
}

fn addr_input(addrs: &[u64]) -> Vec<u8> {
    let mut s = String::new();
    for (i, a) in addrs.iter().enumerate() {
        // Both spellings the protocol accepts.
        if i % 2 == 0 {
            s.push_str(&format!("{a:#x}\n"));
        } else {
            s.push_str(&format!("{a:x}\n"));
        }
    }
    // Lines go tool addr2line treats specially: unparsable (pc 0) and file:line requests.
    s.push_str("zzz\n0X10\n\nmain.go:10\n");
    s.into_bytes()
}

#[test]
fn addr2line_is_byte_identical_to_go_tool_addr2line() {
    let mut checked = 0;
    for f in all_fixtures() {
        let bin = Binary::open(&f.path).expect("open fixture");
        let input = addr_input(&addresses(&bin, checked + 7));
        // For two kinds of stripped binary the unstripped twin (same code at the same
        // addresses) is the oracle: go tool addr2line needs the pclntab symbols on PE, and on
        // an externally linked (cgo) ELF it takes the start of `.text` (where the C code
        // starts) for `runtime.text` once the symbol table is gone, so every answer is off by
        // the size of the C code; goscope takes runtime.text from moduledata.
        let oracle = if f.variant == Variant::Stripped && (f.goos == "windows" || f.cgo) {
            twin(f)
        } else {
            f
        };
        let mut want = oracle
            .toolchain
            .tool("addr2line", &[p(&oracle.path)], Some(&input))
            .expect("go tool addr2line");
        // Go 1.19's addr2line looks for the pclntab only in `.gopclntab`, so on its own PIE
        // builds (`.data.rel.ro.gopclntab`) it answers `?` for every address; the newest
        // toolchain's addr2line reads those binaries and is the oracle there.
        if f.variant == Variant::Pie && f.goos == "linux" && oracle.toolchain.minor < 20 {
            let known = String::from_utf8_lossy(&want)
                .lines()
                .filter(|l| !l.starts_with('?'))
                .count();
            assert!(
                known < 10,
                "Go 1.19 addr2line now reads PIE binaries; drop this fallback"
            );
            let newest = goscope_xtask::toolchains()
                .expect("toolchains")
                .into_iter()
                .max_by_key(|t| t.minor)
                .expect("a toolchain");
            want = newest
                .tool("addr2line", &[p(&oracle.path)], Some(&input))
                .expect("go tool addr2line");
        }
        let got = goscope_run(&["addr2line", p(&f.path)], &input);
        assert_no_panic(&got, &f.label());
        assert!(
            got.status.success(),
            "goscope addr2line failed on {}",
            f.label()
        );
        if got.stdout != want {
            let w = String::from_utf8_lossy(&want);
            let g = String::from_utf8_lossy(&got.stdout);
            let inputs: Vec<&str> = std::str::from_utf8(&input).unwrap_or("").lines().collect();
            let first = w
                .lines()
                .zip(g.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| {
                    format!(
                        "address {:?}: go {a:?} goscope {b:?}",
                        inputs.get(i / 2).copied().unwrap_or("?")
                    )
                });
            panic!(
                "goscope addr2line differs from go tool addr2line on {}: {}",
                f.label(),
                first.unwrap_or_else(|| "in length".into())
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures checked");
}

#[test]
fn info_contains_every_line_of_go_version_m() {
    let toolchains = goscope_xtask::toolchains().expect("toolchains");
    let mut checked = 0;
    for f in all_fixtures() {
        let got = goscope_run(&["info", p(&f.path)], b"");
        assert_no_panic(&got, &f.label());
        assert!(got.status.success(), "goscope info failed on {}", f.label());
        let got = String::from_utf8_lossy(&got.stdout).into_owned();
        // Every toolchain's `go version -m` that can read the binary is an oracle (newer ones
        // read older binaries; Go 1.19 cannot read 1.26's).
        let mut oracles = 0;
        for tc in &toolchains {
            let out = tc
                .command()
                .args(["version", "-m", p(&f.path)])
                .output()
                .expect("go version -m");
            if !out.status.success() || out.stdout.is_empty() {
                continue;
            }
            oracles += 1;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                assert!(
                    got.lines().any(|l| l == line),
                    "{}: goscope info lacks the line {line:?} of {} go version -m:\n{got}",
                    f.label(),
                    tc.version
                );
            }
        }
        assert!(oracles > 0, "{}: no go version -m could read it", f.label());
        checked += 1;
    }
    assert!(checked >= 30);
}

#[test]
fn info_json_reports_format_target_and_tables() {
    for f in prog_matrix() {
        let out = goscope_run(&["info", "--json", p(&f.path)], b"");
        assert!(out.status.success(), "{}", f.label());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        assert_eq!(v["goarch"], f.goarch.as_str(), "{}", f.label());
        assert_eq!(v["goos"], f.goos.as_str(), "{}", f.label());
        assert_eq!(
            v["go_version"],
            f.toolchain.version.as_str(),
            "{}",
            f.label()
        );
        assert_eq!(
            v["stripped"],
            go_nm_text_symbols(f) == 0,
            "{}: stripped? (go tool nm is the oracle)",
            f.label()
        );
        let want_pcln = if f.toolchain.minor >= 20 {
            "go1.20"
        } else {
            "go1.18"
        };
        assert_eq!(v["pclntab"]["format"], want_pcln, "{}", f.label());
        assert!(v["pclntab"]["functions"].as_u64().unwrap_or(0) > 1000);
        assert!(
            v["moduledata"].is_object(),
            "{}: moduledata not found",
            f.label()
        );
    }
}

/// One call site the fixture recorded with runtime.CallersFrames.
#[derive(serde::Deserialize, Debug)]
struct Site {
    tag: String,
    pc: u64,
    frames: Option<Vec<SiteFrame>>,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct SiteFrame {
    function: String,
    file: String,
    line: i64,
}

/// The call sites the fixture recorded, with their pcs moved to the binary's link-time
/// addresses (a PIE runs at a random offset; the fixture reports main.main's run-time entry).
fn runtime_sites(f: &Fixture) -> Vec<Site> {
    let out = std::process::Command::new(&f.path)
        .arg("callers")
        .output()
        .expect("running the fixture");
    assert!(out.status.success(), "{} callers failed", f.label());
    let mut sites: Vec<Site> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture JSON"))
        .collect();
    let main = sites.remove(0);
    assert_eq!(main.tag, "main.main");
    let bin = Binary::open(&f.path).expect("open fixture");
    let linked = bin
        .pclntab()
        .funcs()
        .find(|fu| fu.name() == "main.main")
        .expect("main.main in the pclntab")
        .entry();
    for s in &mut sites {
        s.pc = s.pc.wrapping_sub(main.pc).wrapping_add(linked);
    }
    sites
}

#[test]
fn inline_chains_match_the_go_runtimes_callers_frames() {
    let mut checked = 0;
    let mut tags = BTreeSet::new();
    for f in prog_matrix().iter().filter(|f| f.runnable()) {
        let sites = runtime_sites(f);
        assert!(
            sites.len() >= 10,
            "{}: only {} sites",
            f.label(),
            sites.len()
        );
        // The runtime reports return addresses; the call instruction is the byte before.
        let input: String = sites.iter().map(|s| format!("{:#x}\n", s.pc - 1)).collect();
        let out = goscope_run(&["addr2line", "--json", p(&f.path)], input.as_bytes());
        assert!(out.status.success(), "{}", f.label());
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("goscope JSON"))
            .collect();
        assert_eq!(lines.len(), sites.len());
        for (site, got) in sites.iter().zip(&lines) {
            // The runtime hides compiler-generated wrappers (golang.org/issue/... elideWrapper).
            let got: Vec<SiteFrame> = got["frames"]
                .as_array()
                .expect("frames")
                .iter()
                .filter(|fr| !fr["wrapper"].as_bool().unwrap_or(false))
                .map(|fr| SiteFrame {
                    // The runtime prints generic instantiations as `F[...]` (Go 1.21+).
                    function: if f.toolchain.minor >= 21 {
                        goscope_binary::print_name(fr["function"].as_str().unwrap_or(""))
                            .into_owned()
                    } else {
                        fr["function"].as_str().unwrap_or("").to_string()
                    },
                    file: fr["file"].as_str().unwrap_or("").to_string(),
                    line: fr["line"].as_i64().unwrap_or(0),
                })
                .collect();
            assert_eq!(
                got.as_slice(),
                site.frames.as_deref().unwrap_or_default(),
                "{}: inline chain at {:#x} (site {})",
                f.label(),
                site.pc - 1,
                site.tag
            );
            if site.frames.as_deref().unwrap_or_default().len() > 1 {
                tags.insert(site.tag.clone());
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} sites checked");
    // The sites that must have been inlined somewhere in the matrix.
    for t in ["leaf", "generic-sum", "closure-inlined", "embedded"] {
        assert!(
            tags.contains(t),
            "no inlined chain was seen at site {t}; saw {tags:?}"
        );
    }
}

#[test]
fn addr2line_inlines_prints_every_frame_innermost_first() {
    let f = prog_matrix()
        .iter()
        .find(|f| f.runnable() && f.goarch == "amd64" && f.variant == Variant::Default)
        .expect("a runnable amd64 fixture");
    let site = runtime_sites(f)
        .into_iter()
        .find(|s| s.tag == "leaf" && s.frames.as_ref().is_some_and(|fr| fr.len() >= 3))
        .expect("a three-deep inlined leaf site");
    let out = goscope_run(
        &["addr2line", "--inlines", p(&f.path)],
        format!("{:#x}\n", site.pc - 1).as_bytes(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let want: String = site
        .frames
        .unwrap_or_default()
        .iter()
        .map(|fr| format!("{}\n{}:{}\n", fr.function, fr.file, fr.line))
        .collect();
    assert_eq!(text, want);
}

#[test]
fn symbolize_names_functions_when_stripped_and_data_from_the_symbol_table() {
    for f in prog_matrix()
        .iter()
        .filter(|f| f.goos == "linux" && f.goarch == "amd64" && f.variant != Variant::Pie)
    {
        let bin = Binary::open(&f.path).expect("open");
        let twin = Binary::open(&twin(f).path).expect("open twin");
        // Every function entry and a pc inside it name the function, stripped or not.
        let tab = bin.pclntab();
        for i in (0..tab.len()).step_by(97) {
            let e = tab.entry(i);
            let name = tab.func(i).expect("func").name();
            assert_eq!(bin.symbolize(e), Some((name, e)), "{}", f.label());
            assert_eq!(bin.symbolize(e + 1).map(|s| s.1), Some(e));
        }
        // Data: runtime.firstmoduledata is a data symbol in every unstripped build; `go tool
        // nm` gives its address.
        let nm = twin_nm(twin_path(f));
        let md = nm
            .lines()
            .find(|l| l.ends_with(" runtime.firstmoduledata"))
            .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
            .expect("go tool nm lists runtime.firstmoduledata");
        assert_eq!(
            twin.symbolize(md + 8),
            Some(("runtime.firstmoduledata", md))
        );
    }
}

fn twin_path(f: &Fixture) -> &std::path::Path {
    &twin(f).path
}

fn twin_nm(path: &std::path::Path) -> String {
    let tc = &prog_matrix()
        .iter()
        .find(|f| f.path == path)
        .expect("fixture")
        .toolchain;
    String::from_utf8_lossy(&tc.tool("nm", &[p(path)], None).expect("go tool nm")).into_owned()
}
