//! `cargo xtask …`: development tasks.

mod layouts;
mod release;

use anyhow::{Result, bail};

pub(crate) const USAGE: &str = "usage: cargo xtask <task>

tasks:
  fixtures    build the fixture matrix (cached under target/fixtures) and list it
  crash-core PROGRAM ARGS…
              build testdata/PROGRAM with the system Go, crash it under GOTRACEBACK=crash
              (cached) and print the binary and core paths, tab-separated
  fixture PROGRAM [VARIANT]
              build testdata/PROGRAM with the system Go for linux/amd64 (default, stripped,
              pie, trimpath; cached) and print its path
  layouts     regenerate crates/runtime/src/builtin.rs (runtime layouts per Go release) from the
              DWARF of fixture builds with every toolchain on the machine (tables of releases
              without a toolchain here are kept)
  new-release TOOLCHAIN [--test SUITE]… [--no-tests]
              add a Go release (go1.27.3): fetch it into the module cache
              (GOTOOLCHAIN=TOOLCHAIN go version), build the fixtures with it, regenerate the
              layout tables and show what changed, run the oracle suites with it in GOSCOPE_GO,
              and list what fails";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fixtures") => {
            for prog in ["prog"] {
                for f in goscope_xtask::matrix(prog)? {
                    println!("{}\t{}", f.label(), f.path.display());
                }
            }
            for f in goscope_xtask::cgo_matrix("cgoprog")? {
                println!("{}\t{}", f.label(), f.path.display());
            }
            Ok(())
        }
        Some("crash-core") => {
            let Some(program) = args.get(1) else {
                bail!("{USAGE}");
            };
            let tc = system_toolchain()?;
            let fx = goscope_xtask::build(
                program,
                &tc,
                "linux",
                "amd64",
                goscope_xtask::Variant::Default,
                false,
            )?;
            let rest: Vec<&str> = args[2..].iter().map(String::as_str).collect();
            let run = goscope_xtask::crash_core(&fx, &rest)?;
            println!("{}\t{}", fx.path.display(), run.core.display());
            Ok(())
        }
        Some("fixture") => {
            let Some(program) = args.get(1) else {
                bail!("{USAGE}");
            };
            let variant = match args.get(2).map(String::as_str) {
                None | Some("default") => goscope_xtask::Variant::Default,
                Some("stripped") => goscope_xtask::Variant::Stripped,
                Some("pie") => goscope_xtask::Variant::Pie,
                Some("trimpath") => goscope_xtask::Variant::Trimpath,
                Some(v) => bail!("unknown variant {v}\n{USAGE}"),
            };
            let tc = system_toolchain()?;
            let fx = goscope_xtask::build(program, &tc, "linux", "amd64", variant, false)?;
            println!("{}", fx.path.display());
            Ok(())
        }
        Some("layouts") => {
            layouts::write()?;
            Ok(())
        }
        Some("new-release") => release::run(&args[1..]),
        _ => bail!("{USAGE}"),
    }
}

/// The `go` on PATH.
fn system_toolchain() -> Result<goscope_xtask::Toolchain> {
    goscope_xtask::toolchains()?
        .into_iter()
        .find(|t| t.go == std::path::Path::new("go"))
        .ok_or_else(|| anyhow::anyhow!("no system Go toolchain"))
}
