//! `goscope addr2line`: `go tool addr2line`'s protocol, plus the whole inline chain.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Result;
use goscope_binary::Binary;

use crate::output;

/// Map addresses to functions and source lines.
///
/// Reads hexadecimal addresses (with or without 0x), one per line, from standard input, and
/// writes two lines for each: the function name, then file:line — exactly as
/// `go tool addr2line` does (? and ?:0 when the address is in no function). With --inlines,
/// every frame of the chain of inlined calls at the address is written, innermost first, each
/// as its own function and file:line pair.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example: echo 0x4a1b20 | goscope addr2line --inlines ./server")]
pub struct Args {
    /// Print every inlined frame at the address, innermost first.
    #[arg(long, short = 'i')]
    inlines: bool,
    /// One JSON object per address (JSON Lines), with the whole chain in `frames`.
    #[arg(long)]
    json: bool,
    /// The Go executable.
    binary: PathBuf,
}

#[derive(serde::Serialize)]
struct JsonAddr<'a> {
    address: String,
    function: Option<&'a str>,
    file: Option<&'a str>,
    line: i32,
    frames: Vec<goscope_binary::Frame<'a>>,
}

/// Parses an address as `strconv.ParseUint(strings.TrimPrefix(p, "0x"), 16, 64)` does; Go uses
/// 0 when that fails.
fn parse_addr(s: &str) -> u64 {
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return 0;
    }
    u64::from_str_radix(h, 16).unwrap_or(0)
}

pub fn run(args: Args) -> Result<u8> {
    let bin = output::open_binary(&args.binary)?;
    let stdin = std::io::stdin().lock();
    let mut out = output::stdout();
    let mut buf = Vec::new();
    let mut stdin = stdin;
    loop {
        buf.clear();
        if stdin.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        // bufio.ScanLines drops the newline and one carriage return before it.
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let line = String::from_utf8_lossy(&buf);
        if line.contains(':') {
            out.write_all(b"!reverse translation not implemented\n")?;
            continue;
        }
        let pc = parse_addr(&line);
        if args.json {
            let frames = bin.frames_at(pc);
            let outer = frames.last();
            output::json_line(
                &mut out,
                &JsonAddr {
                    address: format!("{pc:#x}"),
                    function: outer.map(|f| f.function.as_ref()),
                    file: outer.map(|f| f.file.as_ref()),
                    line: outer.map_or(0, |f| f.line),
                    frames: frames.clone(),
                },
            )?;
        } else if args.inlines {
            write_inlines(&mut out, &bin, pc)?;
        } else {
            write_gosym(&mut out, &bin, pc)?;
        }
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}

/// What `go tool addr2line` prints: the function from the function table, file and line from
/// `debug/gosym`'s reading of the pc tables.
fn write_gosym(out: &mut impl Write, bin: &Binary, pc: u64) -> Result<()> {
    match bin.func_at(pc) {
        Some(f) => {
            let (file, line) = f.gosym_file_line(pc);
            out.write_all(f.name_bytes().unwrap_or(b""))?;
            out.write_all(b"\n")?;
            out.write_all(file)?;
            writeln!(out, ":{line}")?;
        }
        None => out.write_all(b"?\n?:0\n")?,
    }
    Ok(())
}

fn write_inlines(out: &mut impl Write, bin: &Binary, pc: u64) -> Result<()> {
    let frames = bin.frames_at(pc);
    if frames.is_empty() {
        out.write_all(b"?\n?:0\n")?;
    }
    for f in &frames {
        writeln!(out, "{}\n{}:{}", f.function, f.file, f.line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_addr("0x10"), 16);
        assert_eq!(parse_addr("10"), 16);
        assert_eq!(parse_addr("0X10"), 0);
        assert_eq!(parse_addr(""), 0);
        assert_eq!(parse_addr("zz"), 0);
        assert_eq!(parse_addr("ffffffffffffffffff"), 0);
    }
}
