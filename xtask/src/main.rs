//! `cargo xtask …`: development tasks.

use anyhow::{Result, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  fixtures    build the fixture matrix (cached under target/fixtures) and list it";

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
        _ => bail!("{USAGE}"),
    }
}
