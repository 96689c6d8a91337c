//! `goscope profile BIN PROFILE`: a pprof profile read against the binary it was taken from —
//! every address named by the binary's own tables with its whole inline chain — as pprof's
//! top, list and disasm views (inlined functions included, which pprof's `-disasm` cannot
//! list), an interactive flame graph, and the difference between two profiles.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use goscope_binary::{Binary, print_name};
use goscope_disasm::Syntax;
use goscope_disasm::listing::{FuncSym, Insn, Options, Program};
use goscope_profile::attribute::{Attributed, MatchOptions, attribute};
use goscope_profile::report::{per_line, per_location, top};
use goscope_profile::{flame, read};
use regex::Regex;
use serde::Serialize;

use crate::cmd::objdump::SourceCache;
use crate::output;

const AFTER_HELP: &str = "Examples:
  goscope profile ./server cpu.pb.gz top -n 20          pprof -top, named by the binary's tables
  goscope profile ./server cpu.pb.gz top --inlined      inlined functions split out of callers
  goscope profile ./server cpu.pb.gz list 'main\\.encode$'   source lines with their samples
  goscope profile ./server cpu.pb.gz disasm 'main\\.encode$' instructions with their samples,
                                                       for inlined functions too
  goscope profile ./server cpu.pb.gz flamegraph -o cpu.svg   open it in a browser
  goscope profile ./server before.pb.gz diff after.pb.gz     what changed, per function

PROFILE is a pprof profile.proto, gzipped or not: runtime/pprof's, net/http/pprof's, or
`goscope record`'s. Its addresses are placed in BIN (the mapping that is BIN is found by build
id, then by file name; PIE load addresses are undone) and named by BIN's own pclntab, so a
stripped BIN works. A profile of another build is refused (--force reads it anyway).

Sampled pcs skid: on many CPUs the sample lands on the instruction after the one that cost the
time (golang/go#41338). --skid charges each sample to the instruction before its pc in disasm
listings.";

/// Read a pprof profile against its binary: top, list, disasm, flame graph, diff.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The executable the profile was taken from.
    #[arg(value_name = "BIN")]
    binary: PathBuf,
    /// The profile (profile.proto, gzipped or not). With `diff`, the base.
    #[arg(value_name = "PROFILE")]
    profile: PathBuf,
    #[command(subcommand)]
    view: View,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Read a profile that seems to be of another build of BIN.
    #[arg(long, global = true)]
    force: bool,
    /// The sample type shown (`cpu`, `samples`, `alloc_space`…); default: pprof's.
    #[arg(long = "sample-type", value_name = "TYPE", global = true)]
    sample_type: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
enum View {
    /// Functions by flat (or cumulative) value, as `go tool pprof -top`.
    Top {
        /// Sort by cumulative value.
        #[arg(long)]
        cum: bool,
        /// Split inlined functions out of the functions they were compiled into (pprof's
        /// default view); without it each address counts for the function whose machine code
        /// it is (pprof's `-noinlines`).
        #[arg(long)]
        inlined: bool,
        /// Show N functions (0: all).
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
    },
    /// Source lines of the functions matching REGEX with their samples; inlined calls shown
    /// at their call lines.
    List {
        /// Functions (inlined ones too) whose name matches.
        regex: String,
        /// Look for source files under DIR (for builds made elsewhere or with -trimpath).
        #[arg(long, value_name = "DIR")]
        source_root: Option<PathBuf>,
    },
    /// Instructions of the functions matching REGEX with their samples, annotated; an
    /// inlined function is listed in every function it was inlined into.
    Disasm {
        /// Functions (inlined ones too) whose name matches.
        regex: String,
        /// Charge each sample to the instruction before its pc (see below).
        #[arg(long)]
        skid: bool,
    },
    /// An interactive flame graph (one SVG file: click to zoom, search).
    Flamegraph {
        /// The SVG file to write.
        #[arg(short = 'o', long = "output", value_name = "FILE.svg")]
        output: PathBuf,
        /// The title.
        #[arg(long)]
        title: Option<String>,
    },
    /// What changed from PROFILE (the base) to NEW: per function, and per instruction of the
    /// functions matching --disasm.
    Diff {
        /// The new profile (of the same BIN unless --new-bin).
        new: PathBuf,
        /// The binary NEW was taken from, when it is another build.
        #[arg(long, value_name = "BIN")]
        new_bin: Option<PathBuf>,
        /// Split inlined functions out (as `top --inlined`).
        #[arg(long)]
        inlined: bool,
        /// Show N functions (0: all).
        #[arg(short = 'n', default_value_t = 20)]
        n: usize,
        /// Also compare the instructions of the functions matching REGEX (one BIN only).
        #[arg(long, value_name = "REGEX")]
        disasm: Option<String>,
    },
}

/// Entry point.
pub fn run(args: Args) -> Result<u8> {
    let bin = output::open_binary(&args.binary)?;
    let att = load(&bin, &args.binary, &args.profile, &args)?;
    for w in &att.warnings {
        eprintln!("goscope: warning: {w}");
    }
    let mut out = output::stdout();
    match &args.view {
        View::Top { cum, inlined, n } => print_top(&mut out, &att, *inlined, *cum, *n, args.json)?,
        View::List { regex, source_root } => {
            let re = compile(regex)?;
            let sources = SourceCache::new(source_root.clone());
            if !print_list(&mut out, &att, &re, &sources, args.json)? {
                no_match(regex)?;
            }
        }
        View::Disasm { regex, skid } => {
            let re = compile(regex)?;
            let prog = Program::new(&bin).with_context(|| args.binary.display().to_string())?;
            if !print_disasm(&mut out, &att, &prog, &re, *skid, args.json)? {
                no_match(regex)?;
            }
        }
        View::Flamegraph { output, title } => {
            let title = title.clone().unwrap_or_else(|| {
                format!(
                    "{} — {} ({} {})",
                    base(&args.binary),
                    base(&args.profile),
                    fmt_value(&att, att.total),
                    att.value_type.0
                )
            });
            let svg = flame::flame_svg(&att, &title);
            std::fs::write(output, svg.as_bytes())
                .with_context(|| format!("cannot write {}", output.display()))?;
            if args.json {
                output::json_pretty(
                    &mut out,
                    &serde_json::json!({
                        "output": output,
                        "samples": att.stacks.len(),
                        "total": att.ms(att.total),
                        "unit": unit(&att),
                    }),
                )?;
            } else {
                eprintln!(
                    "goscope: wrote {} ({} stacks, {} {}): open it in a browser",
                    output.display(),
                    att.stacks.len(),
                    fmt_value(&att, att.total),
                    att.value_type.0
                );
            }
        }
        View::Diff {
            new,
            new_bin,
            inlined,
            n,
            disasm,
        } => {
            let other_bin = match new_bin {
                Some(p) => Some(output::open_binary(p)?),
                None => None,
            };
            let new_att = load(
                other_bin.as_ref().unwrap_or(&bin),
                new_bin.as_deref().unwrap_or(&args.binary),
                new,
                &args,
            )?;
            for w in &new_att.warnings {
                eprintln!("goscope: warning: {}: {w}", new.display());
            }
            if disasm.is_some() && other_bin.is_some() {
                bail!("--disasm compares instructions of one binary: drop --new-bin");
            }
            let mut doc = print_diff(&mut out, &att, &new_att, *inlined, *n, args.json)?;
            if let Some(re) = disasm {
                let re = compile(re)?;
                let prog = Program::new(&bin).with_context(|| args.binary.display().to_string())?;
                let by_function =
                    print_diff_disasm(&mut out, &att, &new_att, &prog, &re, args.json)?;
                if let Some(doc) = doc.as_mut() {
                    doc["instructions_by_function"] = serde_json::Value::Array(by_function);
                }
            }
            if let Some(doc) = doc {
                output::json_pretty(&mut out, &doc)?;
            }
        }
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}

fn compile(re: &str) -> Result<Regex> {
    Regex::new(re).with_context(|| format!("invalid regular expression {re:?}"))
}

fn no_match(re: &str) -> Result<()> {
    bail!("no function matching {re:?} has samples in the profile (try `top --inlined` for names)")
}

fn base(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Reads and attributes one profile.
fn load(bin: &Binary, bin_path: &Path, path: &Path, args: &Args) -> Result<Attributed> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let prof = read::read(&bytes).with_context(|| path.display().to_string())?;
    let opts = MatchOptions {
        force: args.force,
        value: args.sample_type.clone(),
        binary_name: bin_path.display().to_string(),
    };
    attribute(bin, &prof, &opts).with_context(|| path.display().to_string())
}

fn unit(att: &Attributed) -> &str {
    if att.value_type.1 == "nanoseconds" {
        "ms"
    } else {
        &att.value_type.1
    }
}

/// A value as pprof prints it: `.` for nothing, `850ms`, `1.20s` for times; plain numbers
/// otherwise.
fn fmt_value(att: &Attributed, v: i64) -> String {
    if v == 0 {
        return ".".to_string();
    }
    if att.value_type.1 != "nanoseconds" {
        return v.to_string();
    }
    let ms = v as f64 / 1e6;
    if ms.abs() >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms.fract() == 0.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{ms:.2}ms")
    }
}

fn pct(att: &Attributed, v: i64) -> f64 {
    if att.total == 0 {
        0.0
    } else {
        v as f64 * 100.0 / att.total as f64
    }
}

#[derive(Serialize)]
struct TopJson<'a> {
    unit: &'a str,
    total: f64,
    sample_type: &'a str,
    warnings: &'a [String],
    functions: Vec<TopRowJson<'a>>,
}

#[derive(Serialize)]
struct TopRowJson<'a> {
    function: &'a str,
    flat_ms: f64,
    cum_ms: f64,
    flat_pct: f64,
    cum_pct: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    inlined: bool,
}

fn print_top(
    out: &mut impl Write,
    att: &Attributed,
    inlined: bool,
    by_cum: bool,
    n: usize,
    json: bool,
) -> Result<()> {
    let rows = top(att, inlined, by_cum);
    let shown = if n == 0 {
        rows.len()
    } else {
        n.min(rows.len())
    };
    if json {
        let functions = rows[..shown]
            .iter()
            .map(|r| TopRowJson {
                function: att.name(r.function),
                flat_ms: att.ms(r.flat),
                cum_ms: att.ms(r.cum),
                flat_pct: pct(att, r.flat),
                cum_pct: pct(att, r.cum),
                inlined: r.only_inlined,
            })
            .collect();
        return output::json_pretty(
            out,
            &TopJson {
                unit: unit(att),
                total: att.ms(att.total),
                sample_type: &att.value_type.0,
                warnings: &att.warnings,
                functions,
            },
        );
    }
    writeln!(
        out,
        "Showing {shown} of {} functions, {} {} in all{}",
        rows.len(),
        fmt_value(att, att.total),
        att.value_type.0,
        if inlined {
            ", inlined functions split out"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "{:>10} {:>6} {:>6} {:>10} {:>6}",
        "flat", "flat%", "sum%", "cum", "cum%"
    )?;
    let mut sum = 0i64;
    for r in &rows[..shown] {
        sum = sum.saturating_add(r.flat);
        writeln!(
            out,
            "{:>10} {:>5.2}% {:>5.2}% {:>10} {:>5.2}%  {}{}",
            fmt_value(att, r.flat),
            pct(att, r.flat),
            pct(att, sum),
            fmt_value(att, r.cum),
            pct(att, r.cum),
            att.name(r.function),
            if r.only_inlined { " (inlined)" } else { "" }
        )?;
    }
    Ok(())
}

/// Every function name of the profile's frames matching `re`, with whether it ever has code
/// of its own (a physical frame).
fn matching_functions(att: &Attributed, re: &Regex) -> Vec<(u32, bool)> {
    let mut out: BTreeMap<&str, (u32, bool)> = BTreeMap::new();
    for l in &att.locs {
        for f in &l.frames {
            let name = att.name(f.function);
            if re.is_match(name) {
                let e = out.entry(name).or_insert((f.function, false));
                e.1 |= !f.inlined;
            }
        }
    }
    out.into_values().collect()
}

#[derive(Serialize)]
struct ListJson<'a> {
    function: &'a str,
    file: &'a str,
    flat_ms: f64,
    cum_ms: f64,
    lines: Vec<ListLineJson<'a>>,
}

#[derive(Serialize)]
struct ListLineJson<'a> {
    line: i32,
    flat_ms: f64,
    cum_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inlined: Vec<InlinedJson<'a>>,
}

#[derive(Serialize)]
struct InlinedJson<'a> {
    function: &'a str,
    cum_ms: f64,
}

/// Lines shown around the sampled ones.
const CONTEXT_LINES: i32 = 2;

fn print_list(
    out: &mut impl Write,
    att: &Attributed,
    re: &Regex,
    sources: &SourceCache,
    json: bool,
) -> Result<bool> {
    let mut any = false;
    let mut all = Vec::new();
    let mut missing_source = HashSet::new();
    for (function, _) in matching_functions(att, re) {
        let lines = per_line(att, function);
        if lines.is_empty() {
            continue;
        }
        any = true;
        // Per file, its lines in order.
        let mut by_file: BTreeMap<u32, BTreeMap<i32, &goscope_profile::report::LineRow>> =
            BTreeMap::new();
        for ((file, line), row) in &lines {
            by_file.entry(*file).or_default().insert(*line, row);
        }
        for (file, rows) in by_file {
            let fname = att.name(file);
            let flat: i64 = rows.values().map(|r| r.flat).sum();
            // A sample counts once per line but may touch two lines of a recursive function:
            // the function's cum is the largest line's at least; pprof sums per line too.
            let cum: i64 = rows.values().map(|r| r.cum).sum();
            let (Some(&lo), Some(&hi)) = (rows.keys().next(), rows.keys().next_back()) else {
                continue;
            };
            let lo = (lo - CONTEXT_LINES).max(1);
            let hi = hi + CONTEXT_LINES;
            let source_of = |n: i32| sources.line(fname, n);
            if json {
                let mut lines = Vec::new();
                for n in lo..=hi {
                    let row = rows.get(&n);
                    let text = source_of(n);
                    if row.is_none() && text.is_none() {
                        continue;
                    }
                    lines.push(ListLineJson {
                        line: n,
                        flat_ms: att.ms(row.map_or(0, |r| r.flat)),
                        cum_ms: att.ms(row.map_or(0, |r| r.cum)),
                        source: text,
                        inlined: row
                            .map(|r| {
                                r.inlined
                                    .iter()
                                    .map(|&(f, v)| InlinedJson {
                                        function: att.name(f),
                                        cum_ms: att.ms(v),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
                all.push(ListJson {
                    function: att.name(function),
                    file: fname,
                    flat_ms: att.ms(flat),
                    cum_ms: att.ms(cum),
                    lines,
                });
                continue;
            }
            writeln!(
                out,
                "ROUTINE ======================== {} in {fname}",
                att.name(function)
            )?;
            writeln!(
                out,
                "{:>10} {:>10} (flat, cum) {:.2}% of Total",
                fmt_value(att, flat),
                fmt_value(att, cum),
                pct(att, cum)
            )?;
            if source_of(lo).is_none() && missing_source.insert(file) {
                writeln!(
                    out,
                    "  (source not found: {fname}; --source-root DIR looks under DIR)"
                )?;
            }
            for n in lo..=hi {
                let row = rows.get(&n);
                let text = source_of(n);
                if row.is_none() && text.as_deref().is_none_or(str::is_empty) {
                    continue;
                }
                write!(
                    out,
                    "{:>10} {:>10} {:>6}:{}",
                    fmt_value(att, row.map_or(0, |r| r.flat)),
                    fmt_value(att, row.map_or(0, |r| r.cum)),
                    n,
                    text.as_deref().map_or(String::new(), |t| format!(" {t}"))
                )?;
                if let Some(r) = row
                    && !r.inlined.is_empty()
                {
                    let calls: Vec<String> = r
                        .inlined
                        .iter()
                        .map(|&(f, v)| format!("{} {}", att.name(f), fmt_value(att, v)))
                        .collect();
                    write!(out, "  // inlined: {}", calls.join(", "))?;
                }
                writeln!(out)?;
            }
        }
    }
    if json && any {
        output::json_pretty(out, &serde_json::json!({ "functions": all }))?;
    }
    Ok(any)
}

/// Sampled addresses of the binary with their (flat, cum), sorted.
fn sampled_addresses(att: &Attributed) -> Vec<(u64, i64, i64, usize)> {
    let per = per_location(att);
    let mut v: Vec<(u64, i64, i64, usize)> = att
        .locs
        .iter()
        .zip(per)
        .enumerate()
        .filter(|(_, (l, (_, cum)))| l.in_binary && *cum != 0)
        .map(|(i, (l, (flat, cum)))| (l.address, flat, cum, i))
        .collect();
    v.sort_unstable();
    v
}

/// Flat and cum of the instruction `[addr, addr+len)`, and the locations in it.
fn in_range(sampled: &[(u64, i64, i64, usize)], addr: u64, len: u64) -> (i64, i64, Vec<usize>) {
    let start = sampled.partition_point(|s| s.0 < addr);
    let mut flat = 0i64;
    let mut cum = 0i64;
    let mut locs = Vec::new();
    for s in &sampled[start..] {
        if s.0 >= addr.saturating_add(len) {
            break;
        }
        flat = flat.saturating_add(s.1);
        cum = cum.saturating_add(s.2);
        locs.push(s.3);
    }
    (flat, cum, locs)
}

#[derive(Serialize)]
struct DisasmJson<'a> {
    function: &'a str,
    /// The function listed has no code of its own here: these are its inlined copies in
    /// `into`.
    inlined: bool,
    into: &'a str,
    flat_ms: f64,
    cum_ms: f64,
    instructions: Vec<DisasmInsnJson>,
}

#[derive(Serialize)]
struct DisasmInsnJson {
    address: u64,
    flat_ms: f64,
    cum_ms: f64,
    text: String,
    file: String,
    line: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    inline: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<String>,
}

/// One instruction row of a disasm listing, counted.
struct Row<'a> {
    insn: &'a Insn,
    flat: i64,
    cum: i64,
}

fn annotations(insn: &Insn) -> Vec<String> {
    insn.annotations.iter().map(|a| a.text()).collect()
}

fn inline_chain(insn: &Insn) -> Vec<String> {
    if insn.inline.len() < 2 {
        return Vec::new();
    }
    insn.inline
        .iter()
        .map(|f| format!("{} {}:{}", f.function, base(Path::new(&*f.file)), f.line))
        .collect()
}

/// Counts the instructions of `listing`: flat per instruction (charged one instruction back
/// with `skid`), cum per instruction. With `only` (an inlined function), flat counts only
/// where it is the innermost frame and the rows are its instructions.
fn count_rows<'a>(
    listing: &'a [Insn],
    sampled: &[(u64, i64, i64, usize)],
    skid: bool,
    only: Option<&str>,
) -> Vec<Row<'a>> {
    let counts: Vec<(i64, i64)> = listing
        .iter()
        .map(|i| {
            let (f, c, _) = in_range(sampled, i.address, u64::from(i.len));
            (f, c)
        })
        .collect();
    let mut rows = Vec::new();
    for (k, insn) in listing.iter().enumerate() {
        let in_chain = |name: &str| insn.inline.iter().any(|f| &*f.function == name);
        if let Some(g) = only
            && !in_chain(g)
        {
            continue;
        }
        let mut flat = if skid {
            counts.get(k + 1).map_or(0, |c| c.0)
        } else {
            counts[k].0
        };
        if let Some(g) = only {
            let innermost = insn.inline.first().is_some_and(|f| &*f.function == g);
            if !innermost {
                flat = 0;
            }
        }
        rows.push(Row {
            insn,
            flat,
            cum: counts[k].1,
        });
    }
    rows
}

fn print_disasm(
    out: &mut impl Write,
    att: &Attributed,
    prog: &Program<'_>,
    re: &Regex,
    skid: bool,
    json: bool,
) -> Result<bool> {
    let sampled = sampled_addresses(att);
    // Names are not unique (a package's init, wrappers): every function of a name.
    let mut by_name: HashMap<&str, Vec<&FuncSym>> = HashMap::new();
    for f in prog.functions() {
        by_name.entry(f.name.as_str()).or_default().push(f);
    }
    let opts = Options {
        syntax: Syntax::Go,
        annotate: true,
        inline: true,
    };
    let mut all = Vec::new();
    let mut any = false;
    // Physical functions' cum values, computed once for every function listed.
    let physical_cum: HashMap<u32, i64> = top(att, false, false)
        .into_iter()
        .map(|r| (r.function, r.cum))
        .collect();
    for (function, physical) in matching_functions(att, re) {
        let name = att.name(function);
        // Where its code is: its own body, and every function it was inlined into that has
        // samples in it.
        let mut hosts: Vec<(&FuncSym, bool)> = Vec::new();
        if physical && let Some(fs) = by_name.get(name) {
            hosts.extend(fs.iter().map(|f| (*f, false)));
        }
        let mut into: Vec<&str> = att
            .locs
            .iter()
            .filter(|l| l.in_binary && l.frames.iter().any(|f| f.function == function && f.inlined))
            .filter_map(|l| l.frames.last().map(|f| att.name(f.function)))
            .collect();
        into.sort_unstable();
        into.dedup();
        for host in into {
            if let Some(fs) = by_name.get(host) {
                hosts.extend(fs.iter().map(|f| (*f, true)));
            }
        }
        for (host, inlined) in hosts {
            let listing = prog.list(host, u64::MAX, &opts);
            let rows = count_rows(&listing.insns, &sampled, skid, inlined.then_some(name));
            if rows.iter().all(|r| r.cum == 0 && r.flat == 0) {
                continue;
            }
            any = true;
            let flat: i64 = rows.iter().map(|r| r.flat).sum();
            let cum_total: i64 = if inlined {
                rows.iter().map(|r| r.cum).sum()
            } else {
                // The function's cum: the samples it is on the stack of.
                physical_cum.get(&function).copied().unwrap_or(0)
            };
            if json {
                all.push(DisasmJson {
                    function: name,
                    inlined,
                    into: if inlined { &host.name } else { "" },
                    flat_ms: att.ms(flat),
                    cum_ms: att.ms(cum_total),
                    instructions: rows
                        .iter()
                        .map(|r| DisasmInsnJson {
                            address: r.insn.address,
                            flat_ms: att.ms(r.flat),
                            cum_ms: att.ms(r.cum),
                            text: r.insn.text.clone(),
                            file: r.insn.file.to_string(),
                            line: r.insn.line,
                            inline: inline_chain(r.insn),
                            annotations: annotations(r.insn),
                        })
                        .collect(),
                });
                continue;
            }
            if inlined {
                writeln!(
                    out,
                    "ROUTINE ======================== {name} (inlined into {})",
                    host.name
                )?;
            } else {
                writeln!(out, "ROUTINE ======================== {name}")?;
            }
            writeln!(
                out,
                "{:>10} {:>10} (flat, cum) {:.2}% of Total",
                fmt_value(att, flat),
                fmt_value(att, cum_total),
                pct(att, cum_total)
            )?;
            let mut last_addr = None;
            for r in &rows {
                if inlined
                    && let Some(prev) = last_addr
                    && prev != r.insn.address
                {
                    writeln!(out, "{:>10} {:>10}     ...", "", "")?;
                }
                last_addr = Some(r.insn.address + u64::from(r.insn.len));
                write!(
                    out,
                    "{:>10} {:>10} {:>10x}: {}",
                    fmt_value(att, r.flat),
                    fmt_value(att, r.cum),
                    r.insn.address,
                    r.insn.text
                )?;
                let notes = annotations(r.insn);
                let chain = inline_chain(r.insn);
                write!(out, "  {}:{}", base(Path::new(&*r.insn.file)), r.insn.line)?;
                if !notes.is_empty() {
                    write!(out, "  // {}", notes.join("; "))?;
                }
                if inlined && !chain.is_empty() {
                    write!(out, "  [{}]", chain.join(" < "))?;
                }
                writeln!(out)?;
            }
        }
    }
    if json && any {
        output::json_pretty(out, &serde_json::json!({ "functions": all }))?;
    }
    Ok(any)
}

#[derive(Serialize)]
struct DiffRowJson<'a> {
    function: &'a str,
    base_flat_ms: f64,
    new_flat_ms: f64,
    delta_flat_ms: f64,
    base_cum_ms: f64,
    new_cum_ms: f64,
    delta_cum_ms: f64,
}

fn print_diff(
    out: &mut impl Write,
    base_att: &Attributed,
    new_att: &Attributed,
    inlined: bool,
    n: usize,
    json: bool,
) -> Result<Option<serde_json::Value>> {
    let mut rows: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for r in top(base_att, inlined, false) {
        let e = rows
            .entry(base_att.name(r.function).to_string())
            .or_default();
        e[0] = r.flat;
        e[2] = r.cum;
    }
    for r in top(new_att, inlined, false) {
        let e = rows
            .entry(new_att.name(r.function).to_string())
            .or_default();
        e[1] = r.flat;
        e[3] = r.cum;
    }
    let mut rows: Vec<(String, [i64; 4])> = rows.into_iter().collect();
    rows.sort_by(|a, b| {
        let da = (a.1[1] - a.1[0]).abs();
        let db = (b.1[1] - b.1[0]).abs();
        db.cmp(&da)
            .then_with(|| (b.1[3] - b.1[2]).abs().cmp(&(a.1[3] - a.1[2]).abs()))
            .then_with(|| a.0.cmp(&b.0))
    });
    let shown = if n == 0 {
        rows.len()
    } else {
        n.min(rows.len())
    };
    if json {
        let functions: Vec<DiffRowJson> = rows[..shown]
            .iter()
            .map(|(f, v)| DiffRowJson {
                function: f,
                base_flat_ms: base_att.ms(v[0]),
                new_flat_ms: new_att.ms(v[1]),
                delta_flat_ms: new_att.ms(v[1]) - base_att.ms(v[0]),
                base_cum_ms: base_att.ms(v[2]),
                new_cum_ms: new_att.ms(v[3]),
                delta_cum_ms: new_att.ms(v[3]) - base_att.ms(v[2]),
            })
            .collect();
        return Ok(Some(serde_json::json!({
            "unit": unit(new_att),
            "base_total": base_att.ms(base_att.total),
            "new_total": new_att.ms(new_att.total),
            "functions": functions,
        })));
    }
    writeln!(
        out,
        "base {} → new {} {} in all; functions by change of flat value",
        fmt_value(base_att, base_att.total),
        fmt_value(new_att, new_att.total),
        new_att.value_type.0
    )?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}",
        "base flat", "new flat", "delta", "base cum", "new cum", "delta"
    )?;
    for (f, v) in &rows[..shown] {
        writeln!(
            out,
            "{:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}  {f}",
            fmt_value(base_att, v[0]),
            fmt_value(new_att, v[1]),
            signed(new_att, v[1] - v[0]),
            fmt_value(base_att, v[2]),
            fmt_value(new_att, v[3]),
            signed(new_att, v[3] - v[2]),
        )?;
    }
    Ok(None)
}

fn signed(att: &Attributed, v: i64) -> String {
    if v > 0 {
        format!("+{}", fmt_value(att, v))
    } else {
        fmt_value(att, v)
    }
}

fn print_diff_disasm(
    out: &mut impl Write,
    base_att: &Attributed,
    new_att: &Attributed,
    prog: &Program<'_>,
    re: &Regex,
    json: bool,
) -> Result<Vec<serde_json::Value>> {
    let base_sampled = sampled_addresses(base_att);
    let new_sampled = sampled_addresses(new_att);
    let opts = Options {
        syntax: Syntax::Go,
        annotate: true,
        inline: true,
    };
    let mut all = Vec::new();
    for f in prog.functions() {
        let name = print_name(&f.name);
        if !re.is_match(&name) && !re.is_match(&f.name) {
            continue;
        }
        let listing = prog.list(f, u64::MAX, &opts);
        let base_rows = count_rows(&listing.insns, &base_sampled, false, None);
        let new_rows = count_rows(&listing.insns, &new_sampled, false, None);
        if base_rows.iter().chain(&new_rows).all(|r| r.cum == 0) {
            continue;
        }
        if json {
            let insns: Vec<serde_json::Value> = base_rows
                .iter()
                .zip(&new_rows)
                .map(|(b, n)| {
                    serde_json::json!({
                        "address": b.insn.address,
                        "text": b.insn.text,
                        "base_flat_ms": base_att.ms(b.flat),
                        "new_flat_ms": new_att.ms(n.flat),
                        "delta_flat_ms": new_att.ms(n.flat) - base_att.ms(b.flat),
                    })
                })
                .collect();
            all.push(serde_json::json!({ "function": name, "instructions": insns }));
            continue;
        }
        writeln!(out, "\nROUTINE ======================== {name}")?;
        writeln!(
            out,
            "{:>10} {:>10} {:>10}",
            "base flat", "new flat", "delta"
        )?;
        for (b, n) in base_rows.iter().zip(&new_rows) {
            writeln!(
                out,
                "{:>10} {:>10} {:>10} {:>10x}: {}",
                fmt_value(base_att, b.flat),
                fmt_value(new_att, n.flat),
                signed(new_att, n.flat - b.flat),
                b.insn.address,
                b.insn.text
            )?;
        }
    }
    Ok(all)
}
