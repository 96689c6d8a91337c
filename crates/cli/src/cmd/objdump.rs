//! `goscope objdump`: `go tool objdump`'s listing, byte for byte by default; also on stripped
//! binaries, with source lines, Intel/GNU syntax, JSON, and Go-runtime annotations.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::ValueEnum;
use goscope_disasm::Syntax;
use goscope_disasm::listing::{FuncSym, FunctionListing, Insn, Options, Program};
use rayon::prelude::*;
use regex::Regex;

use crate::output;

/// Disassemble a Go binary, as `go tool objdump` does.
///
/// The default output is byte-identical to `go tool objdump BIN [START END]`: a TEXT line per
/// function, then file:line, address, instruction bytes and the instruction in Go (Plan 9)
/// syntax. Unlike the Go tool, goscope also lists stripped binaries (functions and call targets
/// come from the pclntab), runs in parallel, and can add source lines, other syntaxes,
/// Go-runtime annotations and JSON.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  goscope objdump -s 'main\\.main$' ./server          one function, as go tool objdump -s
  goscope objdump --annotate -s 'pkg\\.Encode' ./srv  allocations, map/chan calls, LOCKs marked
  goscope objdump -S --source-root ~/src/app ./srv   interleave source (trimmed paths remapped)
  goscope objdump --syntax intel -s main.main ./srv  Intel syntax (gnu: AT&T, as binutils)
  goscope objdump --json -s main.main ./srv | jq .   one JSON object per instruction
  goscope objdump ./server 0x4a1b20 0x4a1c00         functions overlapping an address range

Annotations (--annotate) mark runtime calls by class (alloc, map, chan, iface, write barrier,
stack growth, bounds check, panic, defer, go), the write-barrier flag test, the prologue's
stack check, nil checks, LOCK-prefixed/implicitly locked x86 instructions and arm64 atomics,
and the inlined function each instruction belongs to.")]
pub struct Args {
    /// Only dump functions whose name matches this regular expression (Go's -s).
    #[arg(short = 's', long = "symbol", value_name = "REGEXP")]
    symbol: Option<String>,
    /// Print Go source lines alongside the instructions (Go's -S).
    #[arg(short = 'S', long = "source")]
    source: bool,
    /// Look for source files under DIR when the recorded path is missing (trimmed or moved
    /// sources): DIR/PATH, then DIR with leading path elements of PATH removed.
    #[arg(long, value_name = "DIR")]
    source_root: Option<PathBuf>,
    /// Instruction syntax.
    #[arg(long, value_enum, default_value_t = SyntaxArg::Go)]
    syntax: SyntaxArg,
    /// Mark runtime calls, atomics, write barriers, stack and nil checks, inlined code.
    #[arg(long)]
    annotate: bool,
    /// One JSON object per instruction (JSON Lines): function, address, bytes, text, file,
    /// line, inline chain, annotations.
    #[arg(long)]
    json: bool,
    /// The Go executable.
    binary: PathBuf,
    /// Only functions overlapping [START, END) (hexadecimal, 0x optional).
    start: Option<String>,
    /// End of the address range (default: end of text).
    end: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SyntaxArg {
    Go,
    Intel,
    Gnu,
}

/// Functions rendered per parallel batch: enough to keep the cores busy, few enough that the
/// listing in memory stays small.
const BATCH: usize = 256;

fn parse_pc(s: &str, what: &str) -> Result<u64> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    u64::from_str_radix(h, 16).with_context(|| format!("invalid {what} PC: {s:?}"))
}

pub fn run(args: Args) -> Result<u8> {
    let filter = match &args.symbol {
        Some(re) => Some(Regex::new(re).with_context(|| format!("invalid -s regexp {re:?}"))?),
        None => None,
    };
    let start = match &args.start {
        Some(s) => parse_pc(s, "start")?,
        None => 0,
    };
    let end = match &args.end {
        Some(s) => parse_pc(s, "end")?,
        None => u64::MAX,
    };
    if end < start {
        anyhow::bail!(
            "the range ends ({end:#x}) before it starts ({start:#x}): give START then END"
        );
    }
    let bin = output::open_binary(&args.binary)?;
    let prog = Program::new(&bin).with_context(|| args.binary.display().to_string())?;
    let opts = Options {
        syntax: match args.syntax {
            SyntaxArg::Go => Syntax::Go,
            SyntaxArg::Intel => Syntax::Intel,
            SyntaxArg::Gnu => Syntax::Gnu,
        },
        annotate: args.annotate,
        inline: args.json,
    };
    let funcs = prog.select(start, end, |name| {
        filter.as_ref().is_none_or(|re| re.is_match(name))
    });
    if funcs.is_empty() {
        // go tool objdump prints nothing; say why on stderr (stdout stays as go tool's).
        let what = match (&args.symbol, &args.start) {
            (Some(re), _) => format!("no function matches -s {re:?}"),
            (None, Some(_)) => format!("no function lies in {start:#x}..{end:#x}"),
            (None, None) => "the binary has no functions to list".to_string(),
        };
        eprintln!("goscope: {what} (goscope nm lists the names)");
    }
    let sources = SourceCache::new(args.source_root.clone());
    let render = |f: &FuncSym| -> Vec<u8> {
        // Sizes come from the input: capacity hints are capped.
        let mut buf = Vec::with_capacity(capped(f.size, 24) + 64);
        if args.json {
            let listing = prog.list(f, end, &opts);
            render_json(&mut buf, &prog, &listing);
        } else {
            render_text(
                &mut buf,
                &prog,
                f,
                end,
                &opts,
                args.source.then_some(&sources),
            );
        }
        buf
    };
    // A producer renders batches in parallel while this thread writes the previous one; the
    // channel holds one batch, so memory stays bounded whatever the binary's size.
    let mut out = output::stdout();
    let mut first = true;
    // Whole binaries take a second or more: a bar on the terminal while the listing goes
    // elsewhere.
    let bar = (funcs.len() > 20_000)
        .then(|| output::progress(funcs.len() as u64, "listing functions"))
        .flatten();
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
        let render = &render;
        let funcs = &funcs;
        scope.spawn(move || {
            for batch in funcs.chunks(BATCH) {
                let bufs: Vec<Vec<u8>> = batch.par_iter().map(|f| render(f)).collect();
                if tx.send(bufs).is_err() {
                    break;
                }
            }
        });
        for bufs in rx {
            if let Some(b) = &bar {
                b.inc(bufs.len() as u64);
            }
            for b in bufs {
                if !args.json && !first {
                    out.write_all(b"\n")?;
                }
                first = false;
                out.write_all(&b)?;
            }
        }
        Ok(())
    })?;
    out.flush()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if args.source
        && let Some(h) = sources.hint()
    {
        eprintln!("goscope: {h}");
    }
    Ok(crate::EXIT_OK)
}

/// The last element of a slash- or backslash-separated path (`cmd/internal/disasm`'s `base`).
fn base(path: &str) -> &str {
    let p = path.rsplit('/').next().unwrap_or(path);
    p.rsplit('\\').next().unwrap_or(p)
}

/// The hex column: bytes on x86, 32-bit little-endian words on arm64.
fn hex_bytes(out: &mut String, bytes: &[u8], words: bool) {
    use std::fmt::Write as _;
    if words && bytes.len() % 4 == 0 {
        for (i, w) in bytes.chunks_exact(4).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{:08x}", u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
    } else {
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// Display width of a cell (`text/tabwriter` counts runes).
fn width(s: &[u8]) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        String::from_utf8_lossy(s).chars().count()
    }
}

/// Writes `cell` (`cell_width` wide) and the tabs `text/tabwriter` pads it with in a column
/// `colw` wide, as
/// `go tool objdump` configures it (minwidth 18, tabwidth 8, padding 1, tab padding): the cell
/// widths round up to a tab stop.
fn pad_cell_w(out: &mut Vec<u8>, cell: &[u8], cell_width: usize, colw: usize) {
    const TABS: &[u8; 32] = &[b'\t'; 32];
    out.extend_from_slice(cell);
    let cellw = colw.div_ceil(8) * 8;
    let n = cellw.saturating_sub(cell_width).div_ceil(8);
    if n <= TABS.len() {
        out.extend_from_slice(&TABS[..n]);
    } else {
        out.extend(std::iter::repeat_n(b'\t', n));
    }
}

fn push_hex(out: &mut Vec<u8>, mut v: u64) {
    out.extend_from_slice(b"0x");
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = HEX[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_dec(out: &mut Vec<u8>, v: i32) {
    if v < 0 {
        out.push(b'-');
    }
    let mut v = v.unsigned_abs();
    let mut tmp = [0u8; 10];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// A function's rows before the tab writer aligns them: instruction rows as cells in one
/// buffer, and -S source lines (rows without cells, which end every column block).
#[derive(Default)]
struct Rows {
    buf: Vec<u8>,
    /// The last file seen and its base name (computing it per instruction shows in profiles).
    base: Option<(Arc<str>, usize)>,
    /// Per row: `Ok(cell ends)` for an instruction, `Err(source line)`.
    rows: Vec<Result<[u32; 4], String>>,
    /// Per instruction row, the display width of its text cell (the others are ASCII).
    text_widths: Vec<u32>,
}

/// Appends the cells of `insn`: `file:line` (unless `source`), address, bytes, instruction
/// text with its annotations.
fn push_insn(rows: &mut Rows, bytes: &[u8], insn: &Insn, source: bool, words: bool) {
    let b = &mut rows.buf;
    let mut ends = [0u32; 4];
    let mut k = 0;
    if !source {
        b.extend_from_slice(b"  ");
        let cut = match &rows.base {
            Some((f, cut)) if Arc::ptr_eq(f, &insn.file) => *cut,
            _ => {
                let cut = insn.file.len() - base(&insn.file).len();
                rows.base = Some((insn.file.clone(), cut));
                cut
            }
        };
        b.extend_from_slice(&insn.file.as_bytes()[cut..]);
        b.push(b':');
        push_dec(b, insn.line);
        ends[k] = b.len() as u32;
        k += 1;
    } else {
        b.extend_from_slice(b"  ");
    }
    push_hex(b, insn.address);
    ends[k] = b.len() as u32;
    k += 1;
    if words && bytes.len() % 4 == 0 {
        for (i, w) in bytes.chunks_exact(4).enumerate() {
            if i > 0 {
                b.push(b' ');
            }
            let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            for s in (0..8).rev() {
                b.push(HEX[((v >> (s * 4)) & 15) as usize]);
            }
        }
    } else {
        for &x in bytes {
            b.push(HEX[(x >> 4) as usize]);
            b.push(HEX[(x & 15) as usize]);
        }
    }
    ends[k] = b.len() as u32;
    k += 1;
    b.extend_from_slice(insn.text.as_bytes());
    if !insn.annotations.is_empty() {
        let mut note = String::from("// ");
        for (i, a) in insn.annotations.iter().enumerate() {
            if i > 0 {
                note.push_str("; ");
            }
            note.push_str(a.label());
            if !a.detail.is_empty() {
                note.push_str(": ");
                note.push_str(&a.detail);
            }
        }
        b.extend_from_slice(b"  ");
        // Coloured only on a terminal (the codes sit at the end of the row, after its last
        // aligned cell).
        b.extend_from_slice(crate::output::paint(crate::output::Paint::Note, &note).as_bytes());
    }
    ends[k] = b.len() as u32;
    let text_start = ends[k - 1] as usize;
    rows.text_widths.push(width(&b[text_start..]) as u32);
    rows.rows.push(Ok(ends));
}

fn render_text(
    out: &mut Vec<u8>,
    prog: &Program<'_>,
    f: &FuncSym,
    end: u64,
    opts: &Options,
    sources: Option<&SourceCache>,
) {
    let words = prog.disassembler().prints_words();
    let source = sources.is_some();
    let mut rows = Rows {
        buf: Vec::with_capacity(capped(f.size, 16)),
        base: None,
        text_widths: Vec::with_capacity(capped(f.size / 3, 1)),
        rows: Vec::with_capacity(capped(f.size / 3, 1)),
    };
    let mut last: Option<(Arc<str>, i32)> = None;
    let (file, _) = prog.walk(f, end, opts, |insn| {
        if let Some(src) = sources {
            let new = last
                .as_ref()
                .is_none_or(|(f, l)| *l != insn.line || **f != *insn.file);
            if new {
                if let Some(line) = src.line(&insn.file, insn.line) {
                    rows.rows.push(Err(line));
                }
                last = Some((insn.file.clone(), insn.line));
            }
        }
        push_insn(&mut rows, prog.bytes(insn), insn, source, words);
    });
    out.extend_from_slice(b"TEXT ");
    out.extend_from_slice(f.name.as_bytes());
    out.extend_from_slice(b"(SB) ");
    out.extend_from_slice(file.as_bytes());
    out.push(b'\n');
    let ncols = if source { 3 } else { 4 };
    let cell = |row_start: u32, ends: &[u32; 4], k: usize| -> std::ops::Range<usize> {
        let s = if k == 0 { row_start } else { ends[k - 1] };
        s as usize..ends[k] as usize
    };
    let mut i = 0;
    let mut start: u32 = 0;
    let mut insn_no = 0;
    // Only the text cell can hold non-ASCII (symbol names); the others' widths are lengths.
    let cell_width = |rows: &Rows, range: &std::ops::Range<usize>, k: usize, insn: usize| {
        if k == ncols - 1 {
            rows.text_widths[insn] as usize
        } else if k == 0 {
            width(&rows.buf[range.clone()])
        } else {
            range.len()
        }
    };
    while i < rows.rows.len() {
        if let Err(line) = &rows.rows[i] {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            i += 1;
            continue;
        }
        // A block of instruction rows: the tab writer aligns each column over it.
        let mut j = i;
        let mut widths = [18usize; 4];
        let mut s = start;
        let mut n = insn_no;
        while let Some(Ok(ends)) = rows.rows.get(j) {
            for (k, w) in widths.iter_mut().enumerate().take(ncols) {
                *w = (*w).max(cell_width(&rows, &cell(s, ends, k), k, n) + 1);
            }
            s = ends[ncols - 1];
            j += 1;
            n += 1;
        }
        for ends in rows.rows[i..j].iter().flatten() {
            for (k, &w) in widths.iter().enumerate().take(ncols) {
                let range = cell(start, ends, k);
                let cw = cell_width(&rows, &range, k, insn_no);
                pad_cell_w(out, &rows.buf[range], cw, w);
            }
            out.push(b'\n');
            start = ends[ncols - 1];
            insn_no += 1;
        }
        i = j;
    }
}

#[derive(serde::Serialize)]
struct JsonInsn<'a> {
    function: &'a str,
    address: String,
    bytes: String,
    text: &'a str,
    file: &'a str,
    line: i32,
    inline: &'a [goscope_disasm::listing::InlineFrame],
    annotations: &'a [goscope_disasm::annotate::Annotation],
}

fn render_json(out: &mut Vec<u8>, prog: &Program<'_>, l: &FunctionListing) {
    for insn in &l.insns {
        let mut hex = String::new();
        hex_bytes(&mut hex, prog.bytes(insn), false);
        let j = JsonInsn {
            function: &l.name,
            address: format!("{:#x}", insn.address),
            bytes: hex,
            text: &insn.text,
            file: &insn.file,
            line: insn.line,
            inline: &insn.inline,
            annotations: &insn.annotations,
        };
        if serde_json::to_writer(&mut *out, &j).is_ok() {
            out.push(b'\n');
        }
    }
}

/// Source files split into lines, shared by the rendering threads.
pub(crate) struct SourceCache {
    root: Option<PathBuf>,
    files: Mutex<HashMap<String, Option<Arc<Vec<String>>>>>,
    /// The first source file that could not be read, for the hint at the end.
    missing: Mutex<Option<String>>,
}

impl SourceCache {
    pub(crate) fn new(root: Option<PathBuf>) -> SourceCache {
        SourceCache {
            root,
            files: Mutex::new(HashMap::new()),
            missing: Mutex::new(None),
        }
    }

    /// A hint for the user when source files could not be read: which one, and what to do.
    pub(crate) fn hint(&self) -> Option<String> {
        let missing = self
            .missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let trimmed = !missing.starts_with('/') && !missing.contains(':');
        Some(format!(
            "source files not found (first: {missing}{}): --source-root DIR looks for them under DIR",
            if trimmed {
                ", a path of a -trimpath build"
            } else {
                ""
            }
        ))
    }

    /// The text `go tool objdump -S` prints for `file:line`: `None` when the file cannot be
    /// read (no line at all), an empty line for non-Go files and lines out of range.
    pub(crate) fn line(&self, file: &str, line: i32) -> Option<String> {
        if !file.ends_with(".go") {
            return Some(String::new());
        }
        let name = file.strip_prefix("gofile..").unwrap_or(file);
        let name = clean(&expand_env(name));
        let lines = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            files
                .entry(name.clone())
                .or_insert_with(|| self.read(&name).map(Arc::new))
                .clone()
        }?;
        let idx = usize::try_from(line - 1).ok();
        Some(idx.and_then(|i| lines.get(i)).cloned().unwrap_or_default())
    }

    fn read(&self, name: &str) -> Option<Vec<String>> {
        let split = |b: Vec<u8>| -> Vec<String> {
            b.split(|&c| c == b'\n')
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect()
        };
        if let Ok(b) = std::fs::read(name) {
            return Some(split(b));
        }
        let found = self.read_under_root(name).map(split);
        if found.is_none() {
            self.missing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| name.to_string());
        }
        found
    }

    fn read_under_root(&self, name: &str) -> Option<Vec<u8>> {
        let root = self.root.as_ref()?;
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        for skip in 0..parts.len() {
            let p: PathBuf = root.join(parts[skip..].join("/"));
            if let Ok(b) = std::fs::read(&p) {
                return Some(b);
            }
        }
        None
    }
}

/// `os.ExpandEnv`: `$VAR` and `${VAR}` replaced by the environment (empty when unset).
fn expand_env(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            let (name, next) = if b[i + 1] == b'{' {
                match s[i + 2..].find('}') {
                    Some(e) => (&s[i + 2..i + 2 + e], i + 3 + e),
                    None => {
                        out.push('$');
                        i += 1;
                        continue;
                    }
                }
            } else {
                let e = s[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(s.len(), |e| i + 1 + e);
                (&s[i + 1..e], e)
            };
            out.push_str(&std::env::var(name).unwrap_or_default());
            i = next;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `filepath.Clean` for slash paths.
fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// `n * per` as a capacity hint, capped: function sizes come from the (untrusted) input.
fn capped(n: u64, per: usize) -> usize {
    (n.min(1 << 20) as usize).saturating_mul(per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_pads_like_go() {
        let mut out = Vec::new();
        for cell in ["  escape.go:21", "0x110e0", "d65f03c0", "RET"] {
            pad_cell_w(&mut out, cell.as_bytes(), cell.len(), 18);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  escape.go:21\t\t0x110e0\t\t\td65f03c0\t\tRET\t\t\t"
        );
    }

    #[test]
    fn cleans_and_expands() {
        assert_eq!(clean("/a/./b/../c"), "/a/c");
        assert_eq!(clean("a//b/"), "a/b");
        assert_eq!(base("C:\\x\\y.go"), "y.go");
        assert_eq!(expand_env("$NO_SUCH_VAR_X/src"), "/src");
    }
}
