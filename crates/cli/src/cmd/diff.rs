//! `goscope diff`: what changed at the machine level between two builds.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use goscope_check::diff::{Change, ChangeKind, Delta, DiffReport, Thresholds, diff, summarize};
use regex::Regex;

use crate::output;

/// Compare two builds function by function: size, frame size, allocation calls, LOCK/atomic
/// instructions, bounds checks, inlined callees; functions added, removed and renamed.
///
/// Changes are sorted by impact (allocations and atomics first, then inlining, bounds checks,
/// frame and code size). With thresholds (--fail-on, --max-size-growth, --max-frame-growth)
/// the exit status is 1 when one is crossed, for CI.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  goscope diff old/server new/server                       every change, by impact
  goscope diff -s '^example.com/app/' old new              only the application's functions
  goscope diff --fail-on alloc,lock,inline old new         CI: exit 1 on a new allocation, atomic
                                                           or a lost inlining
  goscope diff --max-size-growth 20 --format json old new")]
pub struct Args {
    /// Only functions whose name matches this regular expression.
    #[arg(short = 's', long = "symbol", value_name = "REGEXP")]
    symbol: Option<String>,
    /// Exit 1 when a function gains an allocation (alloc), an atomic (lock), a bounds check
    /// (bounds), loses an inlined callee (inline), or functions are added/removed (added).
    #[arg(long, value_delimiter = ',', value_name = "WHAT")]
    fail_on: Vec<FailOn>,
    /// Exit 1 when a function's code grows by more than PCT percent.
    #[arg(long, value_name = "PCT")]
    max_size_growth: Option<f64>,
    /// Exit 1 when a function's frame grows by more than BYTES.
    #[arg(long, value_name = "BYTES")]
    max_frame_growth: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
    /// The old build.
    old: PathBuf,
    /// The new build.
    new: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Alloc,
    Lock,
    Bounds,
    Inline,
    Added,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> Result<u8> {
    let filter = match &args.symbol {
        Some(re) => Some(Regex::new(re).with_context(|| format!("invalid -s regexp {re:?}"))?),
        None => None,
    };
    let f = |name: &str| filter.as_ref().is_none_or(|re| re.is_match(name));
    let old_bin = output::open_binary(&args.old)?;
    let new_bin = output::open_binary(&args.new)?;
    if old_bin.arch() != new_bin.arch() {
        bail!(
            "{} is {:?} but {} is {:?}: compare builds for the same architecture",
            args.old.display(),
            old_bin.arch(),
            args.new.display(),
            new_bin.arch()
        );
    }
    let (old, new) = rayon::join(|| summarize(&old_bin, &f), || summarize(&new_bin, &f));
    let old = old.with_context(|| args.old.display().to_string())?;
    let new = new.with_context(|| args.new.display().to_string())?;
    let t = Thresholds {
        new_alloc: args.fail_on.contains(&FailOn::Alloc),
        new_lock: args.fail_on.contains(&FailOn::Lock),
        new_bounds_check: args.fail_on.contains(&FailOn::Bounds),
        inline_lost: args.fail_on.contains(&FailOn::Inline),
        added_removed: args.fail_on.contains(&FailOn::Added),
        size_growth_pct: args.max_size_growth,
        frame_growth: args.max_frame_growth,
    };
    let report = diff(&old, &new, &t);
    let mut out = output::stdout();
    if args.json || args.format == Format::Json {
        output::json_pretty(&mut out, &report)?;
    } else {
        render_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(if report.exceeded.is_empty() {
        crate::EXIT_OK
    } else {
        crate::EXIT_FINDINGS
    })
}

fn delta(name: &str, d: &Delta, out: &mut Vec<String>) {
    if d.old != d.new {
        out.push(format!("{name} {}→{} ({:+})", d.old, d.new, d.change()));
    }
}

fn describe(c: &Change) -> String {
    let mut parts = Vec::new();
    match c.kind {
        ChangeKind::Added => parts.push(format!("size {}", c.size.new)),
        ChangeKind::Removed => parts.push(format!("size {}", c.size.old)),
        ChangeKind::Renamed => parts.push(format!("was {}", c.old_name.as_deref().unwrap_or("?"))),
        ChangeKind::Changed => {
            delta("size", &c.size, &mut parts);
            delta("frame", &c.frame_size, &mut parts);
            delta("alloc", &c.allocs, &mut parts);
            delta("atomic", &c.atomics, &mut parts);
            delta("bounds", &c.bounds_checks, &mut parts);
            if !c.inlined_lost.is_empty() {
                parts.push(format!("no longer inlines {}", c.inlined_lost.join(", ")));
            }
            if !c.inlined_gained.is_empty() {
                parts.push(format!("now inlines {}", c.inlined_gained.join(", ")));
            }
        }
    }
    parts.join(", ")
}

fn render_text(out: &mut impl Write, r: &DiffReport) -> Result<()> {
    let count = |k: ChangeKind| r.changes.iter().filter(|c| c.kind == k).count();
    writeln!(
        out,
        "{} changed, {} added, {} removed, {} renamed ({} → {} functions)",
        count(ChangeKind::Changed),
        count(ChangeKind::Added),
        count(ChangeKind::Removed),
        count(ChangeKind::Renamed),
        r.old_functions,
        r.new_functions
    )?;
    for c in &r.changes {
        let kind = match c.kind {
            ChangeKind::Added => "+",
            ChangeKind::Removed => "-",
            ChangeKind::Renamed => "R",
            ChangeKind::Changed => "~",
        };
        writeln!(out, "{kind} {}: {}", c.function, describe(c))?;
    }
    for e in &r.exceeded {
        writeln!(out, "threshold: {e}")?;
    }
    Ok(())
}
