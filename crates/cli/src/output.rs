//! Output plumbing shared by the commands: buffered stdout, JSON lines, broken pipes, opening
//! binaries with errors that say what to do.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use goscope_binary::Binary;

/// A buffered, locked stdout.
pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

/// Whether `e` is (caused by) writing to a closed pipe, e.g. `goscope nm BIN | head`.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `value` as one line of JSON.
pub fn json_line(w: &mut impl Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// Writes `value` as pretty JSON.
pub fn json_pretty(w: &mut impl Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, value)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// Opens a Go binary, with an error that names the file.
pub fn open_binary(path: &Path) -> Result<Binary> {
    Binary::open(path).with_context(|| format!("{}", path.display()))
}

/// When to colour: `--color auto|always|never`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM=dumb`.
    #[default]
    Auto,
    /// Always (for `less -R`).
    Always,
    /// Never.
    Never,
}

static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Decides once, from the flag and the environment, whether stdout is coloured.
pub fn set_color(choice: ColorChoice) {
    use std::io::IsTerminal;
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    let _ = COLOR.set(on);
}

/// What a coloured span means; each has one colour everywhere.
#[derive(Clone, Copy, Debug)]
pub enum Paint {
    /// A panic, a fatal error, a violation.
    Bad,
    /// A warning, a goroutine waiting long, an allocation.
    Warn,
    /// Good news, a running goroutine.
    Good,
    /// An annotation, secondary detail.
    Note,
    /// The instruction or frame being pointed at.
    Mark,
}

/// `text` in the colour of `p` when colour is on, else as is.
pub fn paint(p: Paint, text: &str) -> std::borrow::Cow<'_, str> {
    if !COLOR.get().copied().unwrap_or(false) || text.is_empty() {
        return text.into();
    }
    let code = match p {
        Paint::Bad => "1;31",
        Paint::Warn => "33",
        Paint::Good => "32",
        Paint::Note => "36",
        Paint::Mark => "1;7",
    };
    format!("\x1b[{code}m{text}\x1b[0m").into()
}

/// A progress bar on stderr for work of `len` units, shown only when stderr is a terminal and
/// stdout is not (the listing goes to a file or a pipe; on a terminal the output itself shows
/// progress).
pub fn progress(len: u64, what: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() || io::stdout().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    Some(pb)
}

/// One row of an instruction listing outside `objdump` (a core's or the debugger's
/// disassembly): the same columns and annotation text as `objdump --annotate`, aligned.
pub struct ListingRow {
    /// `=>` on the instruction pointed at, `*` on a breakpoint, else blank.
    pub mark: String,
    /// `file:line`.
    pub position: String,
    /// Address.
    pub address: u64,
    /// The instruction's bytes in hex.
    pub bytes: String,
    /// The instruction.
    pub text: String,
    /// Annotations as objdump prints them (`alloc: runtime.newobject`).
    pub notes: Vec<String>,
}

/// Writes `rows` with their columns aligned (two spaces between columns), annotations after
/// `//` and separated by `;`, as `objdump --annotate` prints them.
pub fn write_listing(w: &mut impl Write, rows: &[ListingRow]) -> io::Result<()> {
    let width = |f: fn(&ListingRow) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let mark_w = width(|r| r.mark.chars().count());
    let pos_w = width(|r| r.position.chars().count());
    let bytes_w = width(|r| r.bytes.len());
    let text_w = width(|r| r.text.chars().count());
    for r in rows {
        let mark = format!("{:<mark_w$}", r.mark);
        let mark = if r.mark.starts_with("=>") {
            paint(Paint::Mark, &mark).into_owned()
        } else {
            mark
        };
        write!(
            w,
            "{mark} {:<pos_w$}  {:#x}  {:<bytes_w$}  ",
            r.position, r.address, r.bytes
        )?;
        if r.notes.is_empty() {
            writeln!(w, "{}", r.text)?;
        } else {
            let notes = format!("// {}", r.notes.join("; "));
            writeln!(w, "{:<text_w$}  {}", r.text, paint(Paint::Note, &notes))?;
        }
    }
    Ok(())
}
