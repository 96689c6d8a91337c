//! `goscope snapshot PID -o FILE`: an ELF core of a running process, for `goscope core`, gdb or
//! `dlv core` later; the process is paused while its memory is written, then runs on.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use goscope_target::coredump::{PendingCore, write_core};
use goscope_target::live::LiveError;
use serde::Serialize;

use crate::cmd::live::{self, ms};
use crate::cmd::stacks::bytes;
use crate::output;

const AFTER_HELP: &str = "Examples:
  goscope snapshot 1234 -o core.1234       write the core, then read it at leisure:
  goscope core core.1234                   the goroutines as they were
  gdb -c core.1234 /proc/1234/exe          or with gdb, dlv core, …

The process is paused (every thread, with ptrace) while its memory is written: the pause grows
with the memory it has (about 1 s per GB on a fast disk) and is reported. The core holds
everything the process had in memory — secrets included — so it is created with mode 0600, and
it is written under a temporary name and renamed only when complete: an error or Ctrl-C leaves
no partial file, and the process always runs on.";

/// Write an ELF core file of a running process, which then runs on.
///
/// The core holds what the kernel's own core dump would (private and anonymous memory, the
/// ELF header of every mapped file, every thread's registers, the auxiliary vector and the
/// mapped files), so `goscope core`, gdb and `dlv core` read it.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The process id.
    pid: i32,
    /// The core file to write.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Done {
    pid: i32,
    path: String,
    file_size: u64,
    memory_bytes: u64,
    threads: usize,
    segments: usize,
    paused_us: u64,
    unreadable: Vec<(String, String)>,
}

pub fn run(args: Args) -> Result<u8> {
    let opened = live::open(args.pid, None)?;
    let mut pending = PendingCore::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let started = Instant::now();
    let frozen = opened.live.freeze()?;
    let spec = opened.live.core_spec(&frozen);
    // A large process takes a while to copy: a spinner on the terminal says what is going on.
    let spinner = {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal().then(|| {
            let s = indicatif::ProgressBar::new_spinner();
            s.set_message("copying memory (the process is paused)");
            s
        })
    };
    let written = spec.map_err(anyhow::Error::from).and_then(|spec| {
        let mut check = || {
            if let Some(s) = &spinner {
                s.tick();
            }
            match frozen.check_interrupted() {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e)),
            }
        };
        let mut resident = |addr, pages| opened.live.resident_pages(addr, pages);
        write_core(
            &spec,
            opened.live.memory(),
            &mut resident,
            pending.file(),
            &mut check,
        )
        .with_context(|| format!("writing {}", args.output.display()))
    });
    let paused = frozen.resume();
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    opened.live.memory().invalidate();
    if let Some(sig) = goscope_target::live::signals::interrupted() {
        drop(pending);
        return Err(LiveError::Interrupted(sig.as_str()).into());
    }
    let stats = written?;
    let path = pending
        .commit()
        .with_context(|| format!("writing {}", args.output.display()))?;
    let done = Done {
        pid: args.pid,
        path: path.display().to_string(),
        file_size: stats.file_size,
        memory_bytes: stats.memory_bytes,
        threads: stats.threads,
        segments: stats.segments,
        paused_us: paused.as_micros() as u64,
        unreadable: stats
            .unreadable
            .iter()
            .map(|(a, b)| (format!("{a:#x}"), format!("{b:#x}")))
            .collect(),
    };
    if args.json {
        output::json_pretty(&mut output::stdout(), &done)?;
    } else {
        println!(
            "wrote {} ({} of memory, {} threads); process {} paused {}, {} in all",
            done.path,
            bytes(stats.memory_bytes),
            stats.threads,
            args.pid,
            ms(paused),
            ms(started.elapsed())
        );
    }
    for (a, b) in &stats.unreadable {
        eprintln!("goscope: warning: memory {a:#x}-{b:#x} was unreadable; written as zeros");
    }
    Ok(0)
}
