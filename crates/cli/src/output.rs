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
