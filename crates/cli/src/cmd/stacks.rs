//! `goscope stacks PID`: a running Go program's goroutines, as `goscope core` shows a core's,
//! pausing the process only while copying what they need.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use goscope_runtime::analysis::GoroutineFilter;
use goscope_runtime::{Runtime, Snapshot};
use serde::Serialize;

use crate::cmd::goroutines::{ListView, write_list};
use crate::cmd::live::{self, ms};
use crate::output;

const AFTER_HELP: &str = "Examples:
  goscope stacks 1234                      every goroutine, as the runtime's traceback prints it
  goscope stacks --group 1234              every distinct stack once, with its count
  goscope stacks --brief 1234              one line per goroutine: id, state, where
  goscope stacks --filter 'chan receive' 1234
  goscope stacks --filter func=handleConn 1234
  goscope stacks --nonblocking 1234        never stop the process (stacks may be torn)
  goscope stacks --json 1234 | jq '.goroutines[] | select(.wait_minutes > 10) | .id'

The process is paused (every thread, with ptrace) only while goscope copies the goroutines and
the used part of their stacks — milliseconds, reported on stderr and as paused_us in JSON — then
runs on; the analysis works on the copy. It needs ptrace rights over the process: the same user
with kernel.yama.ptrace_scope 0, or root / CAP_SYS_PTRACE. Stripped binaries work, and so does a
process whose executable was deleted or replaced since it started.";

/// The goroutines of a running Go program, pausing it for milliseconds (or not at all).
///
/// Prints what the runtime prints on SIGQUIT — every goroutine's state and stack — without
/// killing the process, and without the program's cooperation: no /debug/pprof endpoint, no
/// DWARF needed.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The process id.
    pid: i32,
    /// Print JSON: the same goroutine objects as `goscope core --json`, with `pid` and
    /// `paused_us`.
    #[arg(long)]
    json: bool,
    /// One line per goroutine (id, state, innermost user frame) instead of full stacks.
    #[arg(long)]
    brief: bool,
    /// Merge goroutines with identical state and stack, with counts.
    #[arg(long)]
    group: bool,
    /// Only goroutines whose state is TEXT (`chan receive`, `running`) or with a frame whose
    /// function contains TEXT; `state=TEXT` or `func=TEXT` to say which.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Include dead goroutines (the runtime omits them).
    #[arg(long)]
    all: bool,
    /// Never stop the process: read it as it runs. Goroutines that change while being read are
    /// read again; those that keep changing are flagged. Running goroutines show no stack.
    #[arg(long)]
    nonblocking: bool,
    /// Read symbols and layouts from this executable instead of /proc/PID/exe (an unstripped
    /// copy of the same build).
    #[arg(long, value_name = "BIN")]
    binary: Option<PathBuf>,
}

#[derive(Serialize)]
struct Header<'a> {
    pid: i32,
    binary: String,
    go_version: &'a str,
    goarch: &'static str,
    /// How long the process was paused, in microseconds (0 with --nonblocking).
    paused_us: u64,
    /// Of the pause, how long stopping every thread took, in microseconds.
    stop_us: u64,
    /// Of the pause, when each step of the copy ended (microseconds after all threads stopped).
    pause_phases_us: BTreeMap<&'static str, u64>,
    nonblocking: bool,
    threads: usize,
    copied_bytes: u64,
    /// Goroutines read again because they changed while being read (--nonblocking).
    reread: usize,
    /// Goroutines that kept changing: their stacks may be torn (--nonblocking).
    torn: usize,
    goroutine_counts: BTreeMap<String, usize>,
    total_goroutines: usize,
    layouts: &'a goscope_runtime::LayoutSource,
}

pub fn run(args: Args) -> Result<u8> {
    let opened = live::open(args.pid, args.binary.as_deref())?;
    let rt = Runtime::new(&opened.bin)
        .with_context(|| format!("process {} ({})", args.pid, opened.exe.display()))?;
    let cap = live::capture(&opened, &rt, args.nonblocking)?;
    // The process runs again and nothing is left to undo: Ctrl-C may end goscope at once.
    if let Some(sig) = goscope_target::live::signals::interrupted() {
        return Err(goscope_target::live::LiveError::Interrupted(sig.as_str()).into());
    }
    goscope_target::live::signals::restore_default();
    let snap = Snapshot::new(&rt, &cap.copy);
    let mut warnings: Vec<String> = rt.warnings.clone();
    warnings.extend(goscope_target::Target::warnings(&cap.copy));
    warnings.extend(snap.warnings.iter().cloned());
    let gs = snap.goroutines(args.all)?;
    warnings.extend(gs.warnings);
    let mut list = gs.list;
    for g in &mut list {
        if cap.report.torn.contains(&g.addr) {
            g.warnings.push(
                "changed every time it was read (--nonblocking): state and stack may be \
                 inconsistent"
                    .into(),
            );
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for g in &list {
        let key = g
            .wait_reason
            .clone()
            .unwrap_or_else(|| g.status.to_string());
        *counts.entry(key).or_default() += 1;
    }
    let summary = match cap.paused {
        Some(p) => format!(
            "process {} paused {} ({} threads, {} copied)",
            args.pid,
            ms(p),
            cap.threads,
            bytes(cap.report.copied.bytes)
        ),
        None => format!(
            "process {} read without pausing it in {} ({} copied; {} goroutines changed while \
             being read, {} still inconsistent)",
            args.pid,
            ms(cap.elapsed),
            bytes(cap.report.copied.bytes),
            cap.report.reread,
            cap.report.torn.len()
        ),
    };
    let mut out = output::stdout();
    let view = ListView {
        stacks: !args.brief,
        group: args.group,
        filter: args.filter.as_deref().map(GoroutineFilter::parse),
        json: args.json,
        first: None,
    };
    if args.json {
        let header = Header {
            pid: args.pid,
            binary: opened.exe.display().to_string(),
            go_version: &rt.go_version,
            goarch: rt.bin.arch().goarch(),
            paused_us: cap.paused.map_or(0, |p| p.as_micros() as u64),
            stop_us: cap.stop_latency.map_or(0, |p| p.as_micros() as u64),
            pause_phases_us: cap.report.phases_us.iter().copied().collect(),
            nonblocking: args.nonblocking,
            threads: cap.threads,
            copied_bytes: cap.report.copied.bytes,
            reread: cap.report.reread,
            torn: cap.report.torn.len(),
            goroutine_counts: counts,
            total_goroutines: list.len(),
            layouts: &rt.layouts.source,
        };
        let head = serde_json::to_string(&header)?;
        let head = head.strip_suffix('}').unwrap_or(&head);
        write!(out, "{head},\"warnings\":")?;
        serde_json::to_writer(&mut out, &warnings)?;
        write!(out, ",\"goroutines\":")?;
        let view = ListView {
            stacks: true,
            group: false,
            ..view
        };
        write_list(&mut out, &snap, &mut list, &view)?;
        writeln!(out, "}}")?;
    } else {
        write_list(&mut out, &snap, &mut list, &view)?;
    }
    out.flush()?;
    if !args.json {
        eprintln!("goscope: {summary}");
    }
    for w in &warnings {
        eprintln!("goscope: warning: {w}");
    }
    Ok(0)
}

/// `1.2 MB`, `340 kB`, `12 B`.
pub fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / (1 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{} kB", n >> 10)
    } else {
        format!("{n} B")
    }
}
