//! `goscope objdump` against the real tools: `go tool objdump` (the default output, `-s`,
//! address ranges, `-S`), binutils `objdump -d` (GNU syntax), the unstripped twin of a stripped
//! fixture, and the annotation fixture's marked source lines.
//!
//! Fixtures are built by goscope-xtask. Without the toolchains the tests skip, unless
//! GOSCOPE_REQUIRE_TOOLCHAINS=1 (set by CI), which makes a missing tool a failure.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use goscope_xtask::{Fixture, Toolchain, Variant};

mod oracle;

const GOSCOPE: &str = env!("CARGO_BIN_EXE_goscope");

fn goscope(args: &[&str]) -> String {
    let out = Command::new(GOSCOPE)
        .args(args)
        .output()
        .expect("run goscope");
    assert!(
        out.status.success(),
        "goscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 listing")
}

/// The toolchains, or `None` (skip) when there are none and they are not required.
fn toolchains() -> Option<Vec<Toolchain>> {
    match goscope_xtask::toolchains() {
        Ok(t) => Some(t),
        Err(e) if !goscope_xtask::required() => {
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("{e:#}"),
    }
}

/// The newest toolchain (Go 1.27 or later): its `go tool objdump` is the oracle for every
/// fixture. `None` (skip) without it, unless the toolchains are required.
fn oracle(_tcs: &[Toolchain]) -> Option<Toolchain> {
    oracle::newest_go()
}

fn go_objdump(tc: &Toolchain, args: &[&str]) -> String {
    go_tool_output(tc, "objdump", args)
}

fn go_tool_output(tc: &Toolchain, tool: &str, args: &[&str]) -> String {
    let out = tc
        .tool(tool, args, None)
        .unwrap_or_else(|e| panic!("go tool {tool}: {e:#}"));
    String::from_utf8(out).expect("utf-8 output")
}

fn build(program: &str, tc: &Toolchain, goarch: &str, variant: Variant) -> Fixture {
    goscope_xtask::build(program, tc, "linux", goarch, variant, false)
        .unwrap_or_else(|e| panic!("building {program} for {goarch}: {e:#}"))
}

/// One instruction row of a listing: `file:line` (or empty with -S), address, bytes, text.
#[derive(Debug, PartialEq, Eq)]
struct Row<'a> {
    pos: &'a str,
    addr: &'a str,
    bytes: &'a str,
    text: &'a str,
}

fn row(line: &str) -> Option<Row<'_>> {
    if !line.starts_with("  ") {
        return None;
    }
    let cells: Vec<&str> = line.split('\t').filter(|c| !c.is_empty()).collect();
    match cells.as_slice() {
        [pos, addr, bytes, text, ..] if addr.starts_with("0x") => Some(Row {
            pos: pos.trim(),
            addr,
            bytes,
            text: text.trim_end(),
        }),
        _ => None,
    }
}

/// Known differences between goscope and `go tool objdump`: `arch<TAB>bytes<TAB>go
/// text<TAB>goscope text<TAB>reason`.
fn known_differences() -> HashSet<(String, String, String, String)> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/objdump-known-differences.tsv");
    let text = std::fs::read_to_string(&path).expect("known-differences file");
    let mut set = HashSet::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert!(
            f.len() == 5 && !f[4].trim().is_empty(),
            "{}: malformed line {line:?} (5 tab-separated fields, the last the reason)",
            path.display()
        );
        set.insert((f[0].into(), f[1].into(), f[2].into(), f[3].into()));
    }
    set
}

/// Compares two listings: every instruction's address and file:line agree, and each line
/// is identical or of a kind `oracle::explain` checks against binutils; the rest must be known
/// differences. Returns (identical lines, lines).
fn compare(label: &str, arch: &str, go: &str, ours: &str) -> (usize, usize) {
    let known = known_differences();
    let f = oracle::explain(label, arch, go, ours);
    let unknown: Vec<String> = f
        .unexplained
        .iter()
        .filter(|(_, bytes, g, o, _)| {
            !known.contains(&(arch.to_string(), bytes.clone(), g.clone(), o.clone()))
        })
        .map(|(addr, bytes, g, o, b)| {
            format!("{arch}\t{bytes}\t{g}\t{o}\t(at {addr:#x}; binutils: {b})")
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "{label}: {} differences not in tests/data/objdump-known-differences.tsv:\n{}",
        unknown.len(),
        unknown
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    (f.identical, f.lines)
}

/// The matrix's fixtures of `arches` and `variants`, on every OS (linux, darwin, windows).
fn matrix_fixtures(arches: &[&str], variants: &[Variant]) -> Option<Vec<Fixture>> {
    toolchains()?;
    let all = goscope_xtask::matrix("prog").expect("fixture matrix");
    Some(
        all.into_iter()
            .filter(|f| arches.contains(&f.goarch.as_str()))
            .filter(|f| variants.contains(&f.variant))
            .collect(),
    )
}

#[test]
fn whole_binary_matches_go_tool_objdump() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    let Some(fixtures) = matrix_fixtures(
        &["amd64", "arm64", "386"],
        &[Variant::Default, Variant::Pie, Variant::Trimpath],
    ) else {
        return;
    };
    let mut minors = HashSet::new();
    let mut arches = HashSet::new();
    for f in &fixtures {
        let path = f.path.to_str().unwrap();
        let theirs = go_objdump(&go, &[path]);
        let ours = goscope(&["objdump", path]);
        let (same, total) = compare(&f.label(), &f.goarch, &theirs, &ours);
        let ratio = same as f64 / total as f64;
        eprintln!(
            "{}: {same}/{total} lines identical ({:.4}%)",
            f.label(),
            ratio * 100.0
        );
        // Go 1.27 misreads some of the runtime's AVX assembly (see oracle/mod.rs), a few
        // hundred lines of a small program; each is checked above.
        assert!(
            ratio >= 0.995,
            "{}: only {:.4}% of lines identical",
            f.label(),
            ratio * 100.0
        );
        minors.insert(f.toolchain.minor);
        arches.insert(f.goarch.clone());
    }
    assert!(
        arches.contains("amd64") && arches.contains("arm64"),
        "no amd64/arm64 fixtures"
    );
    assert!(
        ["linux", "darwin", "windows"]
            .iter()
            .all(|os| fixtures.iter().any(|f| f.goos == *os)),
        "every OS of the matrix is compared"
    );
    if goscope_xtask::required() {
        assert!(
            minors.contains(&19) && minors.len() >= 2,
            "need Go 1.19 and a current Go"
        );
    }
}

#[test]
fn symbol_filter_and_address_range_match_go_tool_objdump() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    for arch in ["amd64", "arm64"] {
        let f = build("prog", &go, arch, Variant::Default);
        let path = f.path.to_str().unwrap();
        for re in [
            "main\\.",
            "^runtime\\.mallocgc$",
            "sort\\.|strings\\.Builder",
            "nomatch_at_all",
        ] {
            let theirs = go_objdump(&go, &["-s", re, path]);
            let ours = goscope(&["objdump", "-s", re, path]);
            compare(&format!("{} -s {re}", f.label()), arch, &theirs, &ours);
        }
        // A range that starts and ends inside functions: whole functions from their start,
        // the last clipped at the end.
        let listing = goscope(&["objdump", "-s", "^main\\.main$", path]);
        let addrs: Vec<&str> = listing.lines().filter_map(row).map(|r| r.addr).collect();
        assert!(addrs.len() > 10, "main.main is too short to test ranges");
        let (start, end) = (addrs[3], addrs[addrs.len() / 2]);
        let theirs = go_objdump(&go, &[path, start, end]);
        let ours = goscope(&["objdump", path, start, end]);
        compare(
            &format!("{} {start} {end}", f.label()),
            arch,
            &theirs,
            &ours,
        );
        let theirs = go_objdump(&go, &["-s", "main\\.", path, start, "0xffffffffff"]);
        let ours = goscope(&["objdump", "-s", "main\\.", path, start, "0xffffffffff"]);
        compare(
            &format!("{} -s main. {start}", f.label()),
            arch,
            &theirs,
            &ours,
        );
    }
}

#[test]
fn source_lines_match_go_tool_objdump_s() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    for arch in ["amd64", "arm64"] {
        let f = build("prog", &go, arch, Variant::Default);
        let path = f.path.to_str().unwrap();
        for re in ["^main\\.", "^fmt\\.Fprintln$"] {
            let theirs = go_objdump(&go, &["-S", "-s", re, path]);
            let ours = goscope(&["objdump", "-S", "-s", re, path]);
            // Source lines identical; instructions identical or named where Go cannot (the
            // LSE atomics of sync.Mutex on arm64), checked against binutils.
            compare(&format!("{} -S -s {re}", f.label()), arch, &theirs, &ours);
            assert!(ours.lines().any(|l| l.contains("func main()")) || re != "^main\\.");
        }
    }
}

#[test]
fn source_root_finds_trimmed_paths() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    let f = build("prog", &go, "amd64", Variant::Trimpath);
    let path = f.path.to_str().unwrap();
    let root = goscope_xtask::repo_root().join("testdata/prog");
    let without = goscope(&["objdump", "-S", "-s", "^main\\.main$", path]);
    assert!(
        !without.contains("func main()"),
        "trimmed paths should not resolve by themselves"
    );
    let with = goscope(&[
        "objdump",
        "-S",
        "--source-root",
        root.to_str().unwrap(),
        "-s",
        "^main\\.main$",
        path,
    ]);
    assert!(
        with.contains("func main()"),
        "--source-root did not find main.go:\n{with}"
    );
}

#[test]
fn decoder_coverage_matches_go_tool_objdump() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    for tc in &tcs {
        for arch in ["amd64", "arm64"] {
            let f = build("asmcover", tc, arch, Variant::Default);
            let path = f.path.to_str().unwrap();
            let theirs = go_objdump(&go, &["-s", "^main\\.cover", path]);
            let ours = goscope(&["objdump", "-s", "^main\\.cover", path]);
            let (same, total) = compare(&f.label(), arch, &theirs, &ours);
            let min = if arch == "amd64" { 600 } else { 2300 };
            assert!(
                total > min,
                "{}: only {total} lines: is cover() still there?",
                f.label()
            );
            eprintln!("{}: {same}/{total} identical", f.label());
        }
    }
}

/// binutils' objdump for `arch`, or `None` (skip) when absent and not required.
fn binutils_objdump(arch: &str) -> Option<&'static str> {
    let candidates: &[&'static str] = match arch {
        "amd64" => &["objdump", "x86_64-linux-gnu-objdump"],
        _ => &["aarch64-linux-gnu-objdump"],
    };
    for c in candidates {
        let ok = Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(c);
        }
    }
    assert!(
        !goscope_xtask::required(),
        "binutils objdump for {arch} is missing (apt-get install binutils binutils-aarch64-linux-gnu)"
    );
    eprintln!("skipping: no binutils objdump for {arch}");
    None
}

#[test]
fn gnu_syntax_matches_binutils_objdump() {
    let Some(tcs) = toolchains() else { return };
    for tc in &tcs {
        for arch in ["amd64", "arm64"] {
            let Some(objdump) = binutils_objdump(arch) else {
                continue;
            };
            let f = build("prog", tc, arch, Variant::Default);
            let path = f.path.to_str().unwrap();
            let out = Command::new(objdump)
                .args(["-d", "-z", "--no-show-raw-insn", path])
                .output()
                .expect("run binutils objdump");
            assert!(out.status.success());
            let theirs = String::from_utf8_lossy(&out.stdout);
            let mut bfd: HashMap<u64, String> = HashMap::new();
            for line in theirs.lines() {
                let Some((addr, rest)) = line.trim_start().split_once(":\t") else {
                    continue;
                };
                let Ok(a) = u64::from_str_radix(addr, 16) else {
                    continue;
                };
                let m = rest.split_whitespace().next().unwrap_or("").to_string();
                bfd.insert(a, m);
            }
            let ours = goscope(&["objdump", "--syntax", "gnu", path]);
            let (mut total, mut same, mut diffs) = (0usize, 0usize, Vec::new());
            for r in ours.lines().filter_map(row) {
                let a = u64::from_str_radix(r.addr.trim_start_matches("0x"), 16).unwrap();
                let m = r.text.split([' ', '\t']).next().unwrap_or("");
                total += 1;
                // Instruction boundaries: binutils decodes an instruction at every address
                // goscope does.
                let theirs = bfd.get(&a).unwrap_or_else(|| {
                    panic!("{}: binutils has no instruction at {a:#x}", f.label())
                });
                if theirs == m {
                    same += 1;
                } else {
                    diffs.push(format!("{a:#x} binutils {theirs} goscope {m}"));
                }
            }
            let ratio = same as f64 / total as f64;
            eprintln!(
                "{} GNU mnemonics: {same}/{total}; first differences: {:?}",
                f.label(),
                &diffs[..diffs.len().min(5)]
            );
            assert!(
                ratio >= 0.999,
                "{}: mnemonics agree on only {:.3}%: {:?}",
                f.label(),
                ratio * 100.0,
                &diffs[..diffs.len().min(20)]
            );
        }
    }
}

/// Names as the pclntab can give them: without the `.abi0` suffix the symbol table gives
/// assembly functions (the pclntab does not record it for functions without a Go-ABI twin), and
/// with brackets as `[...]` (Go 1.19's pclntab elides array lengths and type arguments).
fn norm(s: &str) -> String {
    let s = s.replace(".abi0", "");
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '[' => {
                if depth == 0 {
                    out.push_str("[...]");
                }
                depth += 1;
            }
            ']' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    out
}

/// A function as the twin comparison sees it: its TEXT line and per instruction the source
/// position and either the call target or the mnemonic with the length.
type FuncShape = (String, Vec<(String, String)>);

/// Lines expected to carry annotation classes, and functions that must carry none of some.
type Expectations = (Vec<(u32, Vec<String>)>, Vec<(u32, String, Vec<String>)>);

#[test]
fn stripped_twin_lists_what_unstripped_lists() {
    let Some(_) = toolchains() else { return };
    let all = goscope_xtask::matrix("prog").expect("fixture matrix");
    let mut checked = 0;
    for s in all.iter().filter(|f| f.variant == Variant::Stripped) {
        if s.goos != "linux" || !matches!(s.goarch.as_str(), "amd64" | "arm64" | "386") {
            continue;
        }
        let u = goscope_xtask::twin(&all, s).expect("unstripped twin");
        let stripped = goscope(&["objdump", s.path.to_str().unwrap()]);
        let unstripped = goscope(&["objdump", u.path.to_str().unwrap()]);
        // The two builds differ in layout (no symbol table), so compare function by function:
        // the same functions in the same order, the same instructions (mnemonic, length) at
        // the same source lines, the same call targets.
        let funcs = |l: &str| -> Vec<FuncShape> {
            let mut out: Vec<FuncShape> = Vec::new();
            for line in l.lines() {
                if let Some(rest) = line.strip_prefix("TEXT ") {
                    out.push((norm(rest), Vec::new()));
                } else if let (Some(r), Some(last)) = (row(line), out.last_mut()) {
                    let mnemonic = r.text.split(' ').next().unwrap_or("").to_string();
                    let call = if mnemonic == "CALL" && r.text.ends_with("(SB)") {
                        norm(r.text)
                    } else {
                        format!("{mnemonic}/{}", r.bytes.len())
                    };
                    last.1.push((r.pos.to_string(), call));
                }
            }
            out
        };
        let (fs, fu) = (funcs(&stripped), funcs(&unstripped));
        assert_eq!(fs.len(), fu.len(), "{}: function count", s.label());
        for (a, b) in fs.iter().zip(&fu) {
            assert_eq!(a.0, b.0, "{}: function order", s.label());
            assert_eq!(
                a.1.len(),
                b.1.len(),
                "{}: instruction count of {}",
                s.label(),
                a.0
            );
            if let Some(i) = (0..a.1.len()).find(|&i| a.1[i] != b.1[i]) {
                panic!(
                    "{}: instruction {i} of {}: stripped {:?}, unstripped {:?}",
                    s.label(),
                    a.0,
                    a.1[i],
                    b.1[i]
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 2, "no stripped fixtures were compared");
}

/// A function's name and, per instruction, its position and annotation kinds.
type AnnotatedFunc = (String, Vec<(String, Vec<String>)>);

#[test]
fn stripped_twin_annotates_what_unstripped_annotates() {
    // The annotations of a stripped build equal its unstripped twin's, instruction by
    // instruction — including the write-barrier flag tests, whose data symbol
    // (runtime.writeBarrier) only the unstripped build names; goscope finds it from the code.
    let Some(_) = toolchains() else { return };
    let all = goscope_xtask::matrix("prog").expect("fixture matrix");
    let mut checked = 0;
    for s in all.iter().filter(|f| f.variant == Variant::Stripped) {
        let supported = matches!(
            (s.goos.as_str(), s.goarch.as_str()),
            ("linux", "amd64" | "arm64" | "386") | ("darwin", "arm64") | ("windows", "amd64")
        );
        if !supported {
            continue;
        }
        let u = goscope_xtask::twin(&all, s).expect("unstripped twin");
        // Per function: the annotated instructions, by offset from the function's start, with
        // their source position and annotation kinds. (Padding after a function, which the
        // symbol tables of Mach-O and PE count in and the pclntab does not, has none.)
        let shape = |bin: &Path| -> Vec<AnnotatedFunc> {
            let out = goscope(&["objdump", "--annotate", "--json", bin.to_str().unwrap()]);
            let mut funcs: Vec<AnnotatedFunc> = Vec::new();
            let mut start = 0;
            for line in out.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("json line");
                let name = norm(v["function"].as_str().unwrap_or(""));
                let addr = u64::from_str_radix(
                    v["address"].as_str().unwrap().trim_start_matches("0x"),
                    16,
                )
                .unwrap();
                if funcs.last().is_none_or(|f| f.0 != name) {
                    funcs.push((name, Vec::new()));
                    start = addr;
                }
                let kinds: Vec<String> = v["annotations"]
                    .as_array()
                    .map(|a| a.iter().map(|x| x["kind"].to_string()).collect())
                    .unwrap_or_default();
                if kinds.is_empty() {
                    continue;
                }
                let pos = format!("+{:#x} {}:{}", addr - start, v["file"], v["line"]);
                if let Some(f) = funcs.last_mut() {
                    f.1.push((pos, kinds));
                }
            }
            funcs
        };
        let (fs, fu) = (shape(&s.path), shape(&u.path));
        assert_eq!(fs.len(), fu.len(), "{}: function count", s.label());
        let mut barriers = 0;
        for (a, b) in fs.iter().zip(&fu) {
            assert_eq!(a.0, b.0, "{}: function order", s.label());
            let name = a.0.trim_start_matches('_');
            if matches!(name, "go:buildid" | "go.buildid") || name.starts_with("go:textfips") {
                // Not code: the linker's build id and FIPS boundary markers.
                continue;
            }
            assert_eq!(
                a.1,
                b.1,
                "{}: annotations of {} (stripped {}, unstripped {})",
                s.label(),
                a.0,
                s.path.display(),
                u.path.display()
            );
            barriers +=
                a.1.iter()
                    .flat_map(|x| &x.1)
                    .filter(|k| *k == "\"write_barrier_check\"")
                    .count();
        }
        assert!(
            barriers > 100,
            "{}: only {barriers} write-barrier flag tests marked",
            s.label()
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} stripped fixtures compared");
}

#[test]
fn strip_all_copy_lists_the_same_instructions() {
    // Same layout as the original: only symbol names may differ (data symbols are gone).
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    let dir = tempfile::tempdir().unwrap();
    for arch in ["amd64", "arm64"] {
        let f = build("prog", &go, arch, Variant::Default);
        let copy = dir.path().join(format!("prog-{arch}-stripped"));
        let objcopy = if arch == "amd64" {
            "objcopy"
        } else {
            "aarch64-linux-gnu-objcopy"
        };
        let ok = Command::new(objcopy)
            .args([
                "--strip-all",
                f.path.to_str().unwrap(),
                copy.to_str().unwrap(),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(!goscope_xtask::required(), "{objcopy} is missing");
            continue;
        }
        let a = goscope(&["objdump", f.path.to_str().unwrap()]);
        let b = goscope(&["objdump", copy.to_str().unwrap()]);
        let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        assert_eq!(la.len(), lb.len(), "{arch}: line count");
        let mut text_diffs = 0;
        for (x, y) in la.iter().zip(&lb) {
            let (Some(rx), Some(ry)) = (row(x), row(y)) else {
                assert_eq!(norm(x), norm(y));
                continue;
            };
            // Column widths may differ (longer names in one); compare cells.
            assert_eq!((rx.pos, rx.addr, rx.bytes), (ry.pos, ry.addr, ry.bytes));
            if norm(rx.text) != norm(ry.text) {
                // Only references to data symbols, which a stripped binary no longer names.
                assert!(rx.text.contains("(SB)"), "{arch}: {x:?} vs {y:?}");
                text_diffs += 1;
            }
        }
        eprintln!("{arch}: {text_diffs} lines name data symbols only the unstripped binary has");
        // The one data symbol goscope finds without a symbol table, runtime.writeBarrier (from
        // the code), is where the original's symbol table has it (`go tool nm`).
        let nm = go_tool_output(&go, "nm", &[f.path.to_str().unwrap()]);
        let flag = nm
            .lines()
            .find_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() == 3 && cols[2] == "runtime.writeBarrier")
                    .then(|| u64::from_str_radix(cols[0], 16).unwrap())
            })
            .expect("runtime.writeBarrier in go tool nm");
        let bin = goscope_binary::Binary::open(&copy).unwrap();
        let prog = goscope_disasm::listing::Program::new(&bin).unwrap();
        assert!(prog.recovered(), "{arch}: the copy has no symbol table");
        assert_eq!(
            goscope_disasm::Symbolizer::lookup(prog.symbols(), flag),
            Some(("runtime.writeBarrier", flag)),
            "{arch}: go tool nm puts runtime.writeBarrier at {flag:#x}"
        );
    }
}

/// The expectations written in testdata/annot/main.go: `// want: a, b` on a line, `// none:
/// a, b` on a function's first line.
fn annot_expectations() -> Expectations {
    let src =
        std::fs::read_to_string(goscope_xtask::repo_root().join("testdata/annot/main.go")).unwrap();
    let mut want = Vec::new();
    let mut none = Vec::new();
    let split = |s: &str| {
        s.split(',')
            .map(|c| c.trim().to_string())
            .collect::<Vec<_>>()
    };
    for (i, line) in src.lines().enumerate() {
        let n = i as u32 + 1;
        if line.trim_start().starts_with("//") {
            continue;
        }
        if let Some((_, w)) = line.split_once("// want: ") {
            want.push((n, split(w)));
        }
        if let Some((code, w)) = line.split_once("// none: ") {
            let name = code
                .trim_start_matches("func ")
                .split('(')
                .next()
                .unwrap()
                .to_string();
            none.push((n, format!("main.{name}"), split(w)));
        }
    }
    (want, none)
}

#[test]
fn annotations_mark_the_expected_source_lines() {
    let Some(tcs) = toolchains() else { return };
    let (want, none) = annot_expectations();
    assert!(want.len() >= 15 && none.len() >= 2);
    for tc in &tcs {
        for arch in ["amd64", "arm64"] {
            let f = build("annot", tc, arch, Variant::Default);
            let json = goscope(&[
                "objdump",
                "--json",
                "--annotate",
                "-s",
                "^main\\.",
                f.path.to_str().unwrap(),
            ]);
            // line → labels seen there (by the innermost frame's line in main.go);
            // function → labels.
            let mut at: HashMap<u32, HashSet<String>> = HashMap::new();
            let mut in_func: HashMap<String, HashSet<String>> = HashMap::new();
            for l in json.lines() {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
                let labels: Vec<String> = v["annotations"]
                    .as_array()
                    .map(|a| a.iter().map(|x| label(&x["kind"])).collect())
                    .unwrap_or_default();
                let func = v["function"].as_str().unwrap().to_string();
                in_func
                    .entry(func)
                    .or_default()
                    .extend(labels.iter().cloned());
                let frames = v["inline"].as_array().cloned().unwrap_or_default();
                for fr in frames {
                    if fr["file"].as_str().unwrap_or("").ends_with("annot/main.go") {
                        let line = fr["line"].as_u64().unwrap() as u32;
                        at.entry(line).or_default().extend(labels.iter().cloned());
                    }
                }
            }
            for (line, classes) in &want {
                for c in classes {
                    let seen = at.get(line).cloned().unwrap_or_default();
                    assert!(
                        seen.contains(c),
                        "{}: main.go:{line} should be annotated {c:?}; has {seen:?}",
                        f.label()
                    );
                }
            }
            for (line, func, classes) in &none {
                let seen = in_func.get(func).cloned().unwrap_or_default();
                assert!(
                    !seen.is_empty() || in_func.contains_key(func),
                    "{}: {func} (line {line}) not listed",
                    f.label()
                );
                for c in classes {
                    assert!(
                        !seen.contains(c),
                        "{}: {func} must have no {c:?} annotation; has {seen:?}",
                        f.label()
                    );
                }
            }
        }
    }
}

/// The text label of an annotation kind as JSON shows it.
fn label(kind: &serde_json::Value) -> String {
    if let Some(s) = kind.as_str() {
        return match s {
            "write_barrier_check" => "write barrier",
            "stack_check" => "stack check",
            "nil_check" => "nil check",
            other => other,
        }
        .to_string();
    }
    let class = kind["call"].as_str().unwrap_or("?");
    class.replace('_', " ")
}

#[test]
fn json_lines_carry_function_address_source_and_inline_chain() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    let f = build("prog", &go, "amd64", Variant::Default);
    let path = f.path.to_str().unwrap();
    let json = goscope(&["objdump", "--json", "-s", "^main\\.main$", path]);
    let text = goscope(&["objdump", "-s", "^main\\.main$", path]);
    let rows: Vec<Row> = text.lines().filter_map(row).collect();
    let objs: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), objs.len());
    let mut inlined = 0;
    for (r, o) in rows.iter().zip(&objs) {
        assert_eq!(o["function"], "main.main");
        assert_eq!(o["address"].as_str().unwrap(), r.addr);
        assert_eq!(o["bytes"].as_str().unwrap(), r.bytes);
        assert_eq!(o["text"].as_str().unwrap(), r.text);
        let file = o["file"].as_str().unwrap();
        assert_eq!(
            format!("{}:{}", file.rsplit('/').next().unwrap(), o["line"]),
            r.pos
        );
        let chain = o["inline"].as_array().unwrap();
        assert_eq!(chain.last().unwrap()["function"], "main.main");
        if chain.len() > 1 {
            inlined += 1;
        }
    }
    assert!(
        inlined > 0,
        "main.main inlines calls; no instruction carried a chain"
    );
}

#[test]
fn broken_binaries_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"\x7fELF\x02\x01\x01 definitely not a binary").unwrap();
    let out = Command::new(GOSCOPE)
        .args(["objdump", garbage.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("goscope:"));
    let out = Command::new(GOSCOPE)
        .args(["objdump", "-s", "(", garbage.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn intel_and_gnu_syntax_name_targets() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    let amd64 = build("annot", &go, "amd64", Variant::Default);
    let p = amd64.path.to_str().unwrap();
    let intel = goscope(&[
        "objdump",
        "--syntax",
        "intel",
        "-s",
        "^main\\.(atomics|allocate)$",
        p,
    ]);
    assert!(intel.contains("lock xadd"), "{intel}");
    assert!(
        intel.contains("<main.counter>"),
        "RIP-relative operands name their symbol:\n{intel}"
    );
    // Go 1.27's compiler calls the size-class allocators (`runtime.mallocgcSmall…SC<n>`) where
    // earlier releases call `runtime.newobject`.
    assert!(
        intel.lines().any(|l| l.contains("call ")
            && (l.contains("<runtime.newobject>") || l.contains("<runtime.mallocgcSmall"))),
        "{intel}"
    );
    let gnu = goscope(&["objdump", "--syntax", "gnu", "-s", "^main\\.atomics$", p]);
    assert!(
        gnu.contains("(%rip)") && gnu.contains("<main.counter>"),
        "{gnu}"
    );
    let arm64 = build("annot", &go, "arm64", Variant::Default);
    let gnu = goscope(&[
        "objdump",
        "--syntax",
        "gnu",
        "-s",
        "^main\\.allocate$",
        arm64.path.to_str().unwrap(),
    ]);
    assert!(
        gnu.lines().any(|l| l.contains("\tbl\t")
            && (l.contains("<runtime.newobject>") || l.contains("<runtime.mallocgcSmall"))),
        "{gnu}"
    );
}

#[test]
fn annotated_text_names_arm64_atomic_loops() {
    let Some(tcs) = toolchains() else { return };
    let Some(go) = oracle(&tcs) else { return };
    let f = build("annot", &go, "arm64", Variant::Default);
    let out = goscope(&[
        "objdump",
        "--annotate",
        "-s",
        "^main\\.(atomics|cas)$",
        f.path.to_str().unwrap(),
    ]);
    assert!(out.contains("LDADDAL (atomic add)"), "{out}");
    assert!(out.contains("end of an atomic add loop"), "{out}");
    assert!(out.contains("CASAL (atomic compare-and-swap)"), "{out}");
    assert!(
        out.contains("end of an atomic compare-and-swap loop"),
        "{out}"
    );
}

#[test]
fn arm_binaries_are_refused_with_the_supported_architectures() {
    // 32-bit ARM is read (info, nm, addr2line) but not disassembled: every listing command says
    // so, with exit status 2, rather than print instructions that might be wrong.
    let Some(tcs) = toolchains() else { return };
    let f = build("prog", &tcs[0], "arm", Variant::Default);
    let path = f.path.to_str().unwrap();
    for args in [vec!["objdump", path], vec!["diff", path, path]] {
        let out = Command::new(GOSCOPE).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("disassembly of arm binaries is not supported")
                && err.contains("amd64, arm64 and 386"),
            "{args:?}: {err}"
        );
    }
}
