//! `goscope top PID`: a running Go program's goroutine census over time, like `py-spy top` but
//! for goroutines — never stopping the program.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use goscope_runtime::census::{Census, CensusSample, GroupBy};
use goscope_runtime::{Runtime, Snapshot};
use goscope_target::live::signals;
use serde::Serialize;

use crate::cmd::goroutines::short;
use crate::cmd::live::{self, ms};
use crate::output;

const AFTER_HELP: &str = "Examples:
  goscope top 1234                         refresh every second; Ctrl-C to stop
  goscope top --by creator 1234            grouped by the go statement that created them
  goscope top --interval 5s 1234
  goscope top --json --count 10 1234       ten samples, one JSON object per line

Each sample reads the goroutines without stopping the process (as `goscope stacks
--nonblocking`). Groups are goroutines with the same state and stack (or creation site); for
each: how many now, the change since the last sample, the growth rate in goroutines per second
(least squares over the samples seen), and LEAK when it grew and never shrank over three samples
or more.";

/// A running Go program's goroutines, grouped and counted over time, without stopping it.
///
/// Shows which groups of goroutines grow: the leak that only `kill -QUIT` and a diff of two dumps
/// would show otherwise.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The process id.
    pid: i32,
    /// Time between samples (`500ms`, `2s`, `1m`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
    /// Stop after this many samples (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Group by stack (state and frames) or by creation site.
    #[arg(long, value_enum, default_value_t = By::Stack)]
    by: By,
    /// Groups shown per sample (all with --json).
    #[arg(short = 'n', long, default_value_t = 20)]
    rows: usize,
    /// One JSON object per sample, one per line.
    #[arg(long)]
    json: bool,
    /// Read symbols and layouts from this executable instead of /proc/PID/exe.
    #[arg(long, value_name = "BIN")]
    binary: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum By {
    Stack,
    Creator,
}

/// Parses `500ms`, `2s`, `1.5s`, `1m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (use 500ms, 2s, 1m)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e7) {
        return Err(format!("{s:?} is not a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Serialize)]
struct JsonSample<'a> {
    pid: i32,
    /// Time the sample took to read.
    read_ms: f64,
    /// Goroutines that changed while being read and were read again.
    reread: usize,
    /// Goroutines still inconsistent after rereading.
    torn: usize,
    #[serde(flatten)]
    census: &'a CensusSample,
}

pub fn run(args: Args) -> Result<u8> {
    let opened = live::open(args.pid, args.binary.as_deref())?;
    let rt = Runtime::new(&opened.bin)
        .with_context(|| format!("process {} ({})", args.pid, opened.exe.display()))?;
    let mut census = Census::new(match args.by {
        By::Stack => GroupBy::Stack,
        By::Creator => GroupBy::Creator,
    });
    let tty = !args.json && std::io::stdout().is_terminal();
    let start = Instant::now();
    let mut next = start;
    let mut taken = 0usize;
    if tty {
        // Hide the cursor while the view refreshes in place.
        print!("\x1b[?25l");
    }
    let result = (|| -> Result<()> {
        loop {
            if signals::interrupted().is_some() {
                return Ok(());
            }
            let cap = live::capture(&opened, &rt, true)?;
            let t = start.elapsed().as_secs_f64();
            let snap = Snapshot::new(&rt, &cap.copy);
            let mut gs = snap.goroutines(false)?.list;
            snap.fill_stacks(&mut gs);
            let sample = census.add(t, &gs);
            drop(gs);
            taken += 1;
            let mut out = output::stdout();
            if args.json {
                output::json_line(
                    &mut out,
                    &JsonSample {
                        pid: args.pid,
                        read_ms: cap.elapsed.as_secs_f64() * 1000.0,
                        reread: cap.report.reread,
                        torn: cap.report.torn.len(),
                        census: &sample,
                    },
                )?;
            } else {
                render(
                    &mut out,
                    &args,
                    &opened.exe,
                    &rt.go_version,
                    &sample,
                    &cap,
                    tty,
                )?;
            }
            out.flush()?;
            if args.count.is_some_and(|n| taken >= n) {
                return Ok(());
            }
            next += args.interval;
            // Sleep in short steps: Ctrl-C ends the wait at once.
            while Instant::now() < next {
                if signals::interrupted().is_some() {
                    return Ok(());
                }
                std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
            }
            if !std::path::Path::new(&format!("/proc/{}", args.pid)).exists() {
                anyhow::bail!("process {} exited", args.pid);
            }
        }
    })();
    if tty {
        print!("\x1b[?25h");
        let _ = std::io::stdout().flush();
    }
    result?;
    Ok(0)
}

fn render(
    w: &mut impl Write,
    args: &Args,
    exe: &std::path::Path,
    go_version: &str,
    s: &CensusSample,
    cap: &live::Captured,
    tty: bool,
) -> Result<()> {
    if tty {
        // Home and clear: the view refreshes in place.
        write!(w, "\x1b[H\x1b[2J")?;
    } else if s.sample > 1 {
        writeln!(w)?;
    }
    writeln!(
        w,
        "goscope top: process {} ({}, {go_version}) — sample {} at {:.1} s, read in {} without \
         stopping it",
        args.pid,
        exe.display(),
        s.sample,
        s.time_s,
        ms(cap.elapsed)
    )?;
    let torn = cap.report.torn.len();
    writeln!(
        w,
        "{} goroutines ({:+}){}",
        s.total,
        s.delta,
        if torn > 0 {
            format!(", {torn} changed while read")
        } else {
            String::new()
        }
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{:>8} {:>7} {:>9}        {:<22} WHERE",
        "COUNT", "DELTA", "RATE/s", "STATE"
    )?;
    for g in s.groups.iter().take(args.rows) {
        let state = if g.info.state.is_empty() {
            "-"
        } else {
            &g.info.state
        };
        writeln!(
            w,
            "{:>8} {:>+7} {:>+9.2}  {:<4}  {:<22} {} ({})",
            g.count,
            g.delta,
            g.rate_per_s,
            if g.leak { "LEAK" } else { "" },
            cut(state, 22),
            g.info.function,
            short(&g.info.location),
        )?;
        if matches!(args.by, By::Stack)
            && let Some(c) = &g.info.created_by
        {
            writeln!(w, "{:>35}created by {c}", "")?;
        }
    }
    let hidden = s.groups.len().saturating_sub(args.rows);
    if hidden > 0 {
        writeln!(w, "… {hidden} more groups (-n to show more)")?;
    }
    if tty {
        writeln!(w, "\n(Ctrl-C to stop)")?;
    }
    Ok(())
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
