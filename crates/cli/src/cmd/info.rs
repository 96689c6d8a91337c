//! `goscope info`: what built this binary and what is in it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use goscope_binary::{Binary, BuildInfo};
use serde::Serialize;

use crate::output;

/// Describe a Go binary: Go version, target, module, dependencies, build settings, and what
/// goscope can read from it.
///
/// The first block is exactly what `go version -m BIN` prints. It is followed by the container
/// format and architecture, whether the binary is stripped or has DWARF, the pclntab format and
/// the number of functions and source files.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example: goscope info --json ./server | jq .build_info.deps")]
pub struct Args {
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
    /// The Go executable.
    binary: PathBuf,
}

/// The result of `goscope info`.
#[derive(Serialize)]
pub struct Info<'a> {
    path: String,
    format: &'static str,
    goos: String,
    goarch: &'static str,
    go_version: Option<&'a str>,
    build_info: Option<&'a BuildInfo>,
    build_info_error: Option<String>,
    stripped: bool,
    dwarf: bool,
    pclntab: PclntabInfo,
    moduledata: Option<ModuledataInfo>,
    file_size: usize,
}

#[derive(Serialize)]
struct PclntabInfo {
    format: &'static str,
    found_by: goscope_binary::FoundBy,
    address: String,
    functions: usize,
    files: usize,
    pc_quantum: u8,
    pointer_size: u8,
}

#[derive(Serialize)]
struct ModuledataInfo {
    address: String,
    found_by: &'static str,
    text: String,
    etext: String,
}

fn gather<'a>(path: &std::path::Path, bin: &'a Binary) -> Info<'a> {
    let tab = bin.pclntab();
    let (build_info, build_info_error) = match bin.build_info() {
        Ok(b) => (Some(b), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Info {
        path: path.display().to_string(),
        format: bin.format().name(),
        goos: bin.goos(),
        goarch: bin.arch().goarch(),
        go_version: bin.go_version(),
        build_info,
        build_info_error,
        stripped: !bin.has_symbols(),
        dwarf: bin.has_dwarf(),
        pclntab: PclntabInfo {
            format: tab.version().name(),
            found_by: bin.pclntab_found_by(),
            address: format!("{:#x}", tab.location().addr),
            functions: tab.len(),
            files: tab.nfiles(),
            pc_quantum: tab.location().quantum,
            pointer_size: tab.location().ptr_size,
        },
        moduledata: bin.moduledata().map(|m| ModuledataInfo {
            address: format!("{:#x}", m.addr),
            found_by: m.found_by,
            text: format!("{:#x}", m.text),
            etext: format!("{:#x}", m.etext),
        }),
        file_size: bin.data().len(),
    }
}

pub fn run(args: Args) -> Result<u8> {
    let bin = output::open_binary(&args.binary)?;
    let info = gather(&args.binary, &bin);
    let mut out = output::stdout();
    if args.json {
        output::json_pretty(&mut out, &info)?;
        out.flush()?;
        return Ok(crate::EXIT_OK);
    }
    // Exactly `go version -m`'s block first.
    match info.build_info {
        Some(bi) => {
            writeln!(out, "{}: {}", info.path, bi.go_version)?;
            for line in bi.module_lines() {
                writeln!(out, "\t{line}")?;
            }
        }
        None => writeln!(
            out,
            "{}: no Go build information ({})",
            info.path,
            info.build_info_error.as_deref().unwrap_or("unknown")
        )?,
    }
    writeln!(out)?;
    writeln!(
        out,
        "binary:     {} {}/{}, {} bytes",
        info.format, info.goos, info.goarch, info.file_size
    )?;
    writeln!(
        out,
        "symbols:    {}",
        if info.stripped {
            "stripped (no symbol table; functions recovered from the pclntab)"
        } else {
            "present"
        }
    )?;
    writeln!(
        out,
        "dwarf:      {}",
        if info.dwarf { "present" } else { "absent" }
    )?;
    let p = &info.pclntab;
    writeln!(
        out,
        "pclntab:    {} format at {} (found by {}), {} functions, {} files",
        p.format,
        p.address,
        match p.found_by {
            goscope_binary::FoundBy::Section => "section",
            goscope_binary::FoundBy::Symbol => "symbol",
            goscope_binary::FoundBy::Scan => "scan",
        },
        p.functions,
        p.files
    )?;
    match &info.moduledata {
        Some(m) => writeln!(
            out,
            "moduledata: at {} (found by {}), text {}..{}",
            m.address, m.found_by, m.text, m.etext
        )?,
        None => writeln!(out, "moduledata: not found")?,
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}
