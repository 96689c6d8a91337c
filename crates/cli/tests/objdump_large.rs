//! The differential listing test over large real binaries: the Go compiler itself and
//! testdata/cryptofix (the assembly of crypto/sha1, crypto/sha256, ChaCha20-Poly1305 and
//! internal/bytealg; sync/atomic built with GOARM64=v8.1, so LSE atomics on arm64), for amd64 and
//! arm64, against the newest `go tool objdump` (Go 1.27 or later). Every line is identical to
//! Go's or of a kind the oracle module checks against binutils (see `oracle/mod.rs`).
//!
//! Fixtures are built once per test run and cached under target/fixtures (the amd64 compiler is
//! the toolchain's own `compile`). Without Go 1.27 the tests skip, unless
//! GOSCOPE_REQUIRE_TOOLCHAINS=1.

mod oracle;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use goscope_xtask::Toolchain;
use oracle::{Figures, explain, newest_go};

const GOSCOPE: &str = env!("CARGO_BIN_EXE_goscope");

/// Builds serialize (each `go build` uses both cores) and must not race on a cached file.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds `pkg` in `dir` (a testdata program, or a standard command with `dir` None) for
/// linux/`goarch` with `env`, once: the result is cached under target/fixtures by toolchain,
/// target, environment and sources.
fn build_cached(
    tc: &Toolchain,
    name: &str,
    dir: Option<&Path>,
    pkg: &str,
    goarch: &str,
    env: &[(&str, &str)],
) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (name, pkg, goarch, env, &tc.version).hash(&mut h);
    let mut entries: Vec<_> = dir
        .map(|d| {
            std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .collect()
        })
        .unwrap_or_default();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if let Ok(text) = std::fs::read(e.path()) {
            e.file_name().hash(&mut h);
            text.hash(&mut h);
        }
    }
    let out = goscope_xtask::fixtures_dir()
        .join(&tc.version)
        .join(format!("{name}-linux-{goarch}-{:016x}", h.finish()));
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if out.exists() {
        return out;
    }
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let res = tc
        .command()
        .current_dir(dir.map_or_else(std::env::temp_dir, Path::to_path_buf))
        .env("GOOS", "linux")
        .env("GOARCH", goarch)
        .env("CGO_ENABLED", "0")
        .envs(env.iter().copied())
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(pkg)
        .output()
        .expect("run go build");
    assert!(
        res.status.success(),
        "building {pkg} for {goarch}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    out
}

fn cryptofix(tc: &Toolchain, goarch: &str) -> PathBuf {
    let dir = goscope_xtask::repo_root().join("testdata/cryptofix");
    // GOARM64=v8.1: the compiler emits LSE atomics for sync/atomic (v8.0 has them only in the
    // runtime's assembly, behind a CPU check).
    let env: &[(&str, &str)] = if goarch == "arm64" {
        &[("GOARM64", "v8.1")]
    } else {
        &[("GOAMD64", "v1")]
    };
    build_cached(tc, "cryptofix", Some(&dir), ".", goarch, env)
}

/// The Go compiler: the toolchain's own for amd64 (no build needed), built for arm64.
fn compiler(tc: &Toolchain, goarch: &str) -> PathBuf {
    if goarch == "amd64" {
        let out = tc
            .command()
            .args(["env", "GOTOOLDIR"])
            .output()
            .expect("go env");
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let compile = dir.join("compile");
        assert!(compile.exists(), "{} is missing", compile.display());
        return compile;
    }
    build_cached(tc, "compile", None, "cmd/compile", goarch, &[])
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn compare(label: &str, goarch: &str, bin: &Path, go: &Toolchain) -> Figures {
    let path = bin.to_str().unwrap();
    let theirs = run(go.command().args(["tool", "objdump", path]));
    let ours = run(Command::new(GOSCOPE).args(["objdump", path]));
    let f = explain(label, goarch, &theirs, &ours);
    assert!(
        f.unexplained.is_empty(),
        "{label}: {} lines differ from go tool objdump without a checked reason \
         (bytes, go, goscope, binutils):\n{}",
        f.unexplained.len(),
        f.unexplained
            .iter()
            .take(30)
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    f
}

#[test]
fn amd64_listings_match_the_newest_go_objdump() {
    let Some(go) = newest_go() else { return };
    let compile = compare("cmd/compile amd64", "amd64", &compiler(&go, "amd64"), &go);
    let crypto = compare("cryptofix amd64", "amd64", &cryptofix(&go, "amd64"), &go);
    // Go 1.27 decodes all but a few hundred lines of the compiler (its gaps and errors are in
    // the runtime's and crypto's assembly); the crypto fixture is mostly that assembly.
    assert!(compile.share() >= 0.9995, "{compile:?}");
    assert!(crypto.share() >= 0.99, "{crypto:?}");
    // The fixture reaches what the test is about: instructions Go cannot decode (RORX, ANDN,
    // MULX, ADCX ...) and the ones it decodes wrongly.
    assert!(
        crypto.kinds.get("go-unknown").copied().unwrap_or(0) > 100,
        "{crypto:?}"
    );
    assert!(
        crypto
            .kinds
            .get("go-rip-displacement")
            .copied()
            .unwrap_or(0)
            > 0,
        "{crypto:?}"
    );
}

#[test]
fn arm64_listings_match_the_newest_go_objdump() {
    let Some(go) = newest_go() else { return };
    let compile = compare("cmd/compile arm64", "arm64", &compiler(&go, "arm64"), &go);
    let crypto = compare(
        "cryptofix arm64 (GOARM64=v8.1)",
        "arm64",
        &cryptofix(&go, "arm64"),
        &go,
    );
    // On arm64 the only lines Go cannot decode that goscope names are the LSE atomics: the
    // runtime's (behind a CPU check) in the compiler, and the fixture's every atomic.
    assert!(compile.share() >= 0.999, "{compile:?}");
    assert!(crypto.share() >= 0.995, "{crypto:?}");
    for f in [&compile, &crypto] {
        assert_eq!(f.kinds.keys().collect::<Vec<_>>(), [&"go-unknown"], "{f:?}");
    }
    assert!(
        crypto.kinds["go-unknown"] > 100,
        "too few LSE atomics named: {crypto:?}"
    );
}

#[test]
fn arm64_lse_atomics_are_named_and_annotated() {
    let Some(go) = newest_go() else { return };
    let bin = cryptofix(&go, "arm64");
    let out = run(Command::new(GOSCOPE).args([
        "objdump",
        "--annotate",
        "-s",
        "^main\\.main$",
        bin.to_str().unwrap(),
    ]));
    // sync/atomic's Add, CompareAndSwap and Or, inlined as the compiler emits them at
    // GOARM64=v8.1 (their words are checked against binutils by the test above).
    for (op, what) in [
        ("LDADDALD", "LDADDAL (atomic add)"),
        ("CASALW", "CASAL (atomic compare-and-swap)"),
        ("LDORALW", "LDSETAL (atomic or)"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("\t{op} ")))
            .unwrap_or_else(|| panic!("no {op} in main.main:\n{out}"));
        assert!(
            line.contains(what),
            "{op} is not annotated {what:?}: {line}"
        );
        assert!(
            line.contains(", (R") && line.split(['(', ')']).count() >= 3,
            "{op}: not `Rs, (Rn), Rt`: {line}"
        );
    }
    // The runtime's exchanges (behind Swap) are SWPAL.
    let all = run(Command::new(GOSCOPE).args(["objdump", "--annotate", bin.to_str().unwrap()]));
    assert!(
        all.lines()
            .any(|l| l.contains("\tSWPALD ") && l.contains("SWPAL (atomic swap)")),
        "{all}"
    );
}
