//! `cargo xtask new-release TOOLCHAIN`: everything a new Go release needs, in one command.
//!
//! 1. Locate the toolchain in the module cache, or fetch it (`GOTOOLCHAIN=<version> go version`).
//! 2. Build the fixture matrix with it (`prog` on every target, `crash` on linux, `cgoprog`).
//! 3. Regenerate the built-in layout tables (`builtin.rs`) and show how the new release's tables
//!    differ from the previous release's.
//! 4. Run the oracle test suites with the toolchain in `GOSCOPE_GO` (so every test's matrix
//!    includes it) and list the tests that fail.
//!
//! Exit status 0 only when every suite passed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use goscope_binary::go_minor_version;

use crate::layouts;

/// The oracle suites: `(package, test target)`; `None` runs the package's unit and integration
/// tests. Each compares goscope with a real tool (go tool nm/addr2line/objdump, dlv, gdb, pprof)
/// or with what the fixture's own runtime printed, over every toolchain of the matrix.
const SUITES: &[(&str, Option<&str>)] = &[
    ("goscope-binary", None),
    ("goscope-runtime", None),
    ("goscope", Some("binary")),
    ("goscope", Some("objdump")),
    ("goscope", Some("runtime_layouts")),
    ("goscope", Some("core_oracle")),
    ("goscope", Some("core_commands")),
    ("goscope", Some("core_dlv")),
    ("goscope", Some("core_print")),
    ("goscope", Some("check")),
    ("goscope", Some("opt")),
    ("goscope", Some("diff")),
    ("goscope", Some("profile")),
    ("goscope", Some("json_schemas")),
    ("goscope", Some("hostile")),
    ("goscope", Some("live_stacks")),
    ("goscope", Some("live_snapshot")),
    ("goscope", Some("live_top")),
    ("goscope", Some("live_debug")),
    ("goscope", Some("live_trace")),
];

/// What one suite did.
struct Outcome {
    name: String,
    passed: usize,
    failed: Vec<String>,
    ok: bool,
    secs: f64,
}

/// Runs the task; `args` are what follows `new-release`.
pub fn run(args: &[String]) -> Result<()> {
    let mut version = None;
    let mut only: Vec<String> = Vec::new();
    let mut skip_tests = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--test" => only.push(it.next().context("--test needs a suite name")?.clone()),
            "--no-tests" => skip_tests = true,
            v if v.starts_with("go1.") && version.is_none() => version = Some(v.to_string()),
            other => bail!(
                "new-release: unexpected argument {other:?}\n{}",
                crate::USAGE
            ),
        }
    }
    let Some(version) = version else {
        bail!(
            "new-release needs a toolchain such as go1.27.3\n{}",
            crate::USAGE
        );
    };
    let minor = go_minor_version(&version).context("not a Go release name")?;
    let start = Instant::now();

    // 1. The toolchain.
    let go = goscope_xtask::fetch_release(&version)?;
    let tc = goscope_xtask::Toolchain::probe(&go)
        .with_context(|| format!("{} does not run", go.display()))?;
    if tc.version != version {
        bail!("{} reports {}, not {version}", go.display(), tc.version);
    }
    println!("== {version}: {}", go.display());
    // Every later step (this process's toolchains() and the test processes) sees it.
    let mut paths: Vec<PathBuf> = vec![go.clone()];
    if let Some(extra) = std::env::var_os("GOSCOPE_GO") {
        paths.extend(std::env::split_paths(&extra));
    }
    let joined = std::env::join_paths(&paths).context("GOSCOPE_GO")?;
    goscope_xtask::add_toolchains(std::slice::from_ref(&go));

    // 2. Fixtures.
    let t = Instant::now();
    let mut built = 0;
    for (goos, goarch) in goscope_xtask::TARGETS {
        for v in goscope_xtask::Variant::ALL {
            if goscope_xtask::supported(goos, goarch, v) {
                goscope_xtask::build("prog", &tc, goos, goarch, v, false)?;
                built += 1;
            }
        }
    }
    // The crash fixture is linux-only (signals, rlimits); the core tests crash it on amd64 and,
    // under qemu-user, arm64.
    for goarch in ["amd64", "arm64"] {
        for v in goscope_xtask::Variant::ALL {
            goscope_xtask::build("crash", &tc, "linux", goarch, v, false)?;
            built += 1;
        }
    }
    if goscope_xtask::have_cc() {
        for v in [
            goscope_xtask::Variant::Default,
            goscope_xtask::Variant::Stripped,
            goscope_xtask::Variant::Pie,
        ] {
            goscope_xtask::build("cgoprog", &tc, "linux", "amd64", v, true)?;
            built += 1;
        }
    }
    println!(
        "== fixtures: {built} built or cached with {version} ({:.0} s)",
        t.elapsed().as_secs_f64()
    );

    // 3. Layout tables.
    let t = Instant::now();
    let path = goscope_xtask::repo_root().join("crates/runtime/src/builtin.rs");
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    let tables = layouts::write()?;
    let after = std::fs::read_to_string(&path).unwrap_or_default();
    println!(
        "== layouts: builtin.rs {} ({:.0} s)",
        if before == after {
            "unchanged"
        } else {
            "rewritten: commit it (and rebuild before trusting the tests below)"
        },
        t.elapsed().as_secs_f64()
    );
    for new in tables.iter().filter(|t| t.go_version == version) {
        let prev = tables
            .iter()
            .filter(|t| {
                t.goarch == new.goarch && go_minor_version(&t.go_version).is_some_and(|m| m < minor)
            })
            .max_by_key(|t| go_minor_version(&t.go_version));
        match prev {
            None => println!("   {} {}: no earlier table", version, new.goarch),
            Some(prev) => {
                let d = layouts::differences(prev, new);
                println!(
                    "   {} -> {} {}: {} difference(s)",
                    prev.go_version,
                    version,
                    new.goarch,
                    d.len()
                );
                for line in d {
                    println!("     {line}");
                }
            }
        }
    }
    if before != after {
        // The tests below run goscope built from the new tables: cargo rebuilds it.
        println!("   (the test build below compiles the new tables in)");
    }

    // 4. The oracle suites.
    let mut outcomes = Vec::new();
    if !skip_tests {
        for &(pkg, test) in SUITES {
            let name = test.unwrap_or(pkg).to_string();
            if !only.is_empty() && !only.contains(&name) {
                continue;
            }
            outcomes.push(run_suite(pkg, test, &name, &joined)?);
        }
    }

    println!(
        "\n== summary for {version} ({:.0} s)",
        start.elapsed().as_secs_f64()
    );
    let mut all_ok = true;
    for o in &outcomes {
        all_ok &= o.ok;
        println!(
            "   {:<18} {} ({} passed, {} failed, {:.0} s)",
            o.name,
            if o.ok { "ok" } else { "FAILED" },
            o.passed,
            o.failed.len(),
            o.secs
        );
        for f in &o.failed {
            println!("      {f}");
        }
    }
    if before != after {
        println!(
            "   builtin.rs changed: review `git diff crates/runtime/src/builtin.rs` and commit"
        );
    }
    if !all_ok {
        bail!("{version}: some oracle suites fail (above)");
    }
    println!("   every suite passed");
    Ok(())
}

/// Runs one suite with `cargo test --release`, echoing its output, and collects the result.
fn run_suite(
    pkg: &str,
    test: Option<&str>,
    name: &str,
    goscope_go: &std::ffi::OsStr,
) -> Result<Outcome> {
    let t = Instant::now();
    println!(
        "\n== cargo test --release -p {pkg}{}",
        test.map_or(String::new(), |t| format!(" --test {t}"))
    );
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(goscope_xtask::repo_root())
        .env("GOSCOPE_GO", goscope_go)
        .args(["test", "--release", "--no-fail-fast", "-p", pkg]);
    if let Some(t) = test {
        c.args(["--test", t]);
    }
    let out = c
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo test")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut passed = 0;
    let mut failed = Vec::new();
    for line in text.lines() {
        // libtest's per-test lines: `test NAME ... ok` / `... FAILED`.
        if let Some(rest) = line.strip_prefix("test ") {
            if rest.ends_with(" ... ok") {
                passed += 1;
            } else if let Some(n) = rest.strip_suffix(" ... FAILED") {
                failed.push(n.to_string());
            }
        }
    }
    // Failure details (panic messages) for the log.
    let mut in_failures = false;
    for line in text.lines() {
        if line == "failures:" {
            in_failures = true;
        }
        if in_failures {
            println!("{line}");
        }
    }
    Ok(Outcome {
        name: name.to_string(),
        passed,
        ok: out.status.success() && failed.is_empty(),
        failed,
        secs: t.elapsed().as_secs_f64(),
    })
}
