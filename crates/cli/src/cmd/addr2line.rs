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
fn parse_addr(s: &[u8]) -> u64 {
    let h = s.strip_prefix(b"0x").unwrap_or(s);
    if h.is_empty() || h.len() > 16 {
        return 0;
    }
    let mut v = 0u64;
    for &b in h {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return 0,
        };
        v = v << 4 | u64::from(d);
    }
    v
}

/// One request line.
enum Request {
    /// `file:line`, which go tool addr2line does not implement either.
    Reverse,
    /// An address.
    Pc(u64),
}

/// Most lines answered in one batch; also bounds memory.
const MAX_BATCH: usize = 1 << 17;

pub fn run(args: Args) -> Result<u8> {
    let bin = output::open_binary(&args.binary)?;
    let mut stdin = std::io::BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let mut out = output::stdout();
    let mut buf = Vec::new();
    let mut batch: Vec<Request> = Vec::new();
    loop {
        // A batch is what has already arrived: pprof and other interactive callers write one
        // address and wait for the answer, so never wait for more input before answering.
        batch.clear();
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
            batch.push(if buf.contains(&b':') {
                Request::Reverse
            } else {
                Request::Pc(parse_addr(&buf))
            });
            if stdin.buffer().is_empty() || batch.len() >= MAX_BATCH {
                break;
            }
        }
        if batch.is_empty() {
            break;
        }
        if args.json || args.inlines {
            for r in &batch {
                match *r {
                    Request::Reverse => out.write_all(b"!reverse translation not implemented\n")?,
                    Request::Pc(pc) if args.json => write_json(&mut out, &bin, pc)?,
                    Request::Pc(pc) => write_inlines(&mut out, &bin, pc)?,
                }
            }
        } else {
            write_gosym_batch(&mut out, &bin, &batch)?;
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}

fn write_json(out: &mut impl Write, bin: &Binary, pc: u64) -> Result<()> {
    // The top level says what the text line says: the function of the function table (the
    // physical one) and the innermost file:line (where the instruction's code is written);
    // `frames` has the whole chain, innermost first.
    let frames = bin.frames_at(pc);
    let outer = frames.last();
    let inner = frames.first();
    output::json_line(
        out,
        &JsonAddr {
            address: format!("{pc:#x}"),
            function: outer.map(|f| f.function.as_ref()),
            file: inner.map(|f| f.file.as_ref()),
            line: inner.map_or(0, |f| f.line),
            frames: frames.clone(),
        },
    )
}

/// What `go tool addr2line` prints for each request: the function from the function table,
/// file and line from `debug/gosym`'s reading of the pc tables. The pcs of a batch are sorted
/// and grouped by function so that each function's tables are decoded once, however many of
/// its pcs are asked for.
fn write_gosym_batch(out: &mut impl Write, bin: &Binary, batch: &[Request]) -> Result<()> {
    use rayon::prelude::*;
    let tab = bin.pclntab();
    let mut order: Vec<(u64, usize)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Request::Pc(pc) => Some((*pc, i)),
            Request::Reverse => None,
        })
        .collect();
    order.par_sort_unstable();
    type Answer<'a> = Option<(&'a [u8], &'a [u8], i32)>;
    // Chunks of the sorted pcs are answered in parallel; a function whose pcs straddle two
    // chunks is simply decoded by both.
    let parts: Vec<Vec<(usize, Answer<'_>)>> = order
        .par_chunks(8192)
        .map(|chunk| {
            let mut part = Vec::with_capacity(chunk.len());
            let mut pcs = Vec::new();
            let mut fl = Vec::new();
            let mut i = 0;
            while i < chunk.len() {
                let Some(f) = tab.find_func(chunk[i].0) else {
                    part.push((chunk[i].1, None));
                    i += 1;
                    continue;
                };
                let end = f.end();
                let j = i + chunk[i..].partition_point(|&(pc, _)| pc < end);
                let j = j.max(i + 1);
                pcs.clear();
                pcs.extend(chunk[i..j].iter().map(|&(pc, _)| pc));
                fl.clear();
                fl.resize(pcs.len(), (&b""[..], 0));
                f.gosym_file_lines(&pcs, &mut fl);
                let name = f.name_bytes().unwrap_or(b"");
                for (k, &(_, idx)) in chunk[i..j].iter().enumerate() {
                    part.push((idx, Some((name, fl[k].0, fl[k].1))));
                }
                i = j;
            }
            part
        })
        .collect();
    let mut answers: Vec<Answer<'_>> = vec![None; batch.len()];
    for (idx, a) in parts.into_iter().flatten() {
        answers[idx] = a;
    }
    let mut line = Vec::with_capacity(256);
    for (r, a) in batch.iter().zip(&answers) {
        match (r, a) {
            (Request::Reverse, _) => out.write_all(b"!reverse translation not implemented\n")?,
            (Request::Pc(_), Some((name, file, ln))) => {
                line.clear();
                line.extend_from_slice(name);
                line.push(b'\n');
                line.extend_from_slice(file);
                line.push(b':');
                push_decimal(&mut line, *ln);
                line.push(b'\n');
                out.write_all(&line)?;
            }
            (Request::Pc(_), None) => out.write_all(b"?\n?:0\n")?,
        }
    }
    Ok(())
}

/// Appends `v` in decimal.
fn push_decimal(buf: &mut Vec<u8>, v: i32) {
    let mut tmp = [0u8; 12];
    let mut i = tmp.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    buf.extend_from_slice(&tmp[i..]);
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
    use super::{parse_addr, push_decimal};

    #[test]
    fn decimal() {
        for v in [0, 1, -1, 9, 10, 12345, i32::MAX, i32::MIN] {
            let mut b = Vec::new();
            push_decimal(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_addr(b"0x10"), 16);
        assert_eq!(parse_addr(b"10"), 16);
        assert_eq!(parse_addr(b"0X10"), 0);
        assert_eq!(parse_addr(b""), 0);
        assert_eq!(parse_addr(b"0x"), 0);
        assert_eq!(parse_addr(b"zz"), 0);
        assert_eq!(parse_addr(b"ffffffffffffffff"), u64::MAX);
        assert_eq!(parse_addr(b"ffffffffffffffffff"), 0);
        assert_eq!(parse_addr(b"00000000000000001"), 0);
    }
}
