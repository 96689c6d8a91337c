//! `goscope nm`: `go tool nm`, byte for byte, and on stripped binaries too.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;
use goscope_binary::nm::{self, NmSort};

use crate::output;

/// List the symbols of Go binaries, as `go tool nm` does.
///
/// Output is byte-identical to `go tool nm` (same flags, same order, same codes: T text,
/// R read-only data, D data, B bss, U undefined, C constant; lower case for local symbols).
/// Unlike `go tool nm`, stripped binaries (-ldflags=-s, strip) still list their functions,
/// recovered from the pclntab.
#[derive(clap::Args, Debug)]
#[command(after_help = "Go-style single-dash flags work too: goscope nm -n -size -sort=size BIN")]
pub struct Args {
    /// Sort by address (alias for --sort address).
    #[arg(short = 'n')]
    numeric: bool,
    /// Print symbol size in decimal between address and type.
    #[arg(long)]
    size: bool,
    /// Sort order; size sorts from largest to smallest.
    #[arg(long, value_enum, default_value_t = SortArg::Name)]
    sort: SortArg,
    /// Print symbol type after name (Go object files only; kept for compatibility).
    #[arg(long = "type")]
    print_type: bool,
    /// One JSON object per symbol (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Go executables.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SortArg {
    Address,
    Name,
    None,
    Size,
}

#[derive(serde::Serialize)]
struct JsonSym<'a> {
    file: &'a str,
    name: &'a str,
    address: String,
    size: u64,
    code: String,
    recovered: bool,
}

pub fn run(args: Args) -> Result<u8> {
    let order = if args.numeric {
        NmSort::Address
    } else {
        match args.sort {
            SortArg::Address => NmSort::Address,
            SortArg::Name => NmSort::Name,
            SortArg::None => NmSort::None,
            SortArg::Size => NmSort::Size,
        }
    };
    let prefix = args.files.len() > 1;
    let mut out = output::stdout();
    let mut status = crate::EXIT_OK;
    for path in &args.files {
        let bin = match output::open_binary(path) {
            Ok(b) => b,
            Err(e) => {
                out.flush()?;
                eprintln!("goscope: {e:#}");
                status = crate::EXIT_ERROR;
                continue;
            }
        };
        let listing = nm::list(&bin, order);
        if listing.recovered {
            eprintln!(
                "goscope: {}: no symbol table (stripped); listing {} text symbols recovered from the pclntab",
                path.display(),
                listing.symbols.len()
            );
        }
        let name = path.display().to_string();
        for s in &listing.symbols {
            if args.json {
                output::json_line(
                    &mut out,
                    &JsonSym {
                        file: &name,
                        name: &s.name,
                        address: format!("{:#x}", s.addr),
                        size: s.size,
                        code: s.code.to_string(),
                        recovered: listing.recovered,
                    },
                )?;
                continue;
            }
            if prefix {
                write!(out, "{name}:\t")?;
            }
            if s.code == 'U' {
                write!(out, "{:8}", "")?;
            } else {
                write!(out, "{:8x}", s.addr)?;
            }
            if args.size {
                write!(out, " {:10}", s.size)?;
            }
            writeln!(out, " {} {}", s.code, s.name)?;
        }
    }
    out.flush()?;
    Ok(status)
}
