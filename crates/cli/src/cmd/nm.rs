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
        let mut line = Vec::with_capacity(256);
        for s in &listing.symbols {
            if args.json {
                output::json_line(
                    &mut out,
                    &JsonSym {
                        file: &name,
                        name: &String::from_utf8_lossy(&s.name),
                        address: format!("{:#x}", s.addr),
                        size: s.size,
                        code: s.code.to_string(),
                        recovered: listing.recovered,
                    },
                )?;
                continue;
            }
            // The format of `go tool nm`: "%8x" (or 8 spaces when undefined), " %10d" with
            // -size, " %c %s". Written by hand: this loop prints every symbol of the binary.
            line.clear();
            if prefix {
                line.extend_from_slice(name.as_bytes());
                line.extend_from_slice(b":\t");
            }
            if s.code == 'U' {
                line.extend_from_slice(b"        ");
            } else {
                push_padded(&mut line, s.addr, 16, 8);
            }
            if args.size {
                line.push(b' ');
                push_padded(&mut line, s.size, 10, 10);
            }
            line.push(b' ');
            let mut code = [0u8; 4];
            line.extend_from_slice(s.code.encode_utf8(&mut code).as_bytes());
            line.push(b' ');
            line.extend_from_slice(&s.name);
            line.push(b'\n');
            out.write_all(&line)?;
        }
    }
    out.flush()?;
    Ok(status)
}

/// Appends `v` in `radix` (10 or 16, lower case), right-aligned in `width` columns.
fn push_padded(buf: &mut Vec<u8>, mut v: u64, radix: u64, width: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    buf.extend(std::iter::repeat_n(b' ', width.saturating_sub(digits)));
    buf.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn padded_numbers_match_format() {
        for v in [0u64, 1, 0xabc, 0x401000, u64::MAX] {
            let mut b = Vec::new();
            super::push_padded(&mut b, v, 16, 8);
            assert_eq!(String::from_utf8(b).unwrap(), format!("{v:8x}"));
            let mut b = Vec::new();
            super::push_padded(&mut b, v, 10, 10);
            assert_eq!(String::from_utf8(b).unwrap(), format!("{v:10}"));
        }
    }
}
