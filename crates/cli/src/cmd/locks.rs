//! `goscope locks`: how often each atomic instruction (LOCK-prefixed, or XCHG with memory)
//! runs in a running Go program, and in which goroutines — by uprobes on the instruction that
//! runs exactly once with each, so the program never stops.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use goscope_probe::sites::{LockSite, Unprobed};
use goscope_probe::uprobes::{ProbeSet, SampleSpec, sample, x86_reg};
use goscope_runtime::Runtime;
use serde::Serialize;

use crate::cmd::top::parse_duration;
use crate::cmd::watch::{self, Hit, Window};

const AFTER_HELP: &str = "Examples:
  goscope locks -p 1234 --duration 10s          the hottest atomics over ten seconds
  goscope locks --json -p 1234 --duration 5s
  goscope locks -n 50 -- ./server -port 8080    a program started by goscope, until Ctrl-C

Every LOCK-prefixed instruction of the program (and every XCHG with memory, which the CPU
locks implicitly) is counted: sync.Mutex, sync/atomic, channels, the scheduler. The kernel
refuses uprobes on LOCK-prefixed instructions, so each is counted at a neighbour that runs
exactly once each time it does (the instruction before it, or after it, in the same basic
block); sites with no such neighbour are listed as not counted. Each site shows its inline
chain (`sync/atomic.(*Int64).Add inlined into main.worker at main.go:72`), its count and rate,
and the goroutines that executed it.

Every execution costs the program a few microseconds: a hot atomic slows a busy program down
while goscope watches. Exit status: 0, or 2 when the program cannot be watched.";

/// Which atomic instructions a running program executes, how often, and in which goroutines.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Watch the running process PID.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Option<i32>,
    /// Stop after this long (`500ms`, `10s`, `1m`); default: until Ctrl-C or the program ends.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Sites shown (all with --json).
    #[arg(short = 'n', long, default_value_t = 20)]
    rows: usize,
    /// Only count sites in functions whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    only: Option<String>,
    /// Print JSON: {"sites": [...]} and what could not be counted.
    #[arg(long)]
    json: bool,
    /// Start this program (with its arguments) and watch it from its first instruction.
    #[arg(last = true, value_name = "PROG ARGS")]
    command: Vec<String>,
}

const REGS_MASK: u64 = (1 << x86_reg::SP) | (1 << x86_reg::R14);

#[derive(Serialize)]
struct SiteOut {
    pc: u64,
    function: String,
    file: String,
    line: i32,
    inline: Vec<InlineOut>,
    count: u64,
    rate_per_second: f64,
    goroutines: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct InlineOut {
    function: String,
    file: String,
    line: i32,
}

#[derive(Serialize)]
struct Report {
    sites: Vec<SiteOut>,
    window_ns: u64,
    sites_counted: usize,
    not_counted: Vec<Unprobed>,
    lost: u64,
    mechanism: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ptrace_stop_ns_per_event: Option<u64>,
}

/// Entry point.
pub fn run(args: Args) -> Result<u8> {
    let mut w = watch::open(args.pid, &args.command)?;
    let (mut sites, mut unprobed) = goscope_probe::sites::lock_sites(&w.bin)?;
    if let Some(only) = &args.only {
        let re = regex::Regex::new(only).map_err(|e| anyhow::anyhow!("--only {only:?}: {e}"))?;
        sites.retain(|s| re.is_match(&s.function));
        unprobed.retain(|s| re.is_match(&s.function));
    }
    if sites.is_empty() {
        anyhow::bail!(
            "no atomic instruction to count in {}",
            w.probe_path.display()
        );
    }
    // Probe places (several sites may share one).
    let mut by_probe: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, s) in sites.iter().enumerate() {
        by_probe.entry(s.probe_pc).or_default().push(i);
    }
    let places: Vec<u64> = by_probe.keys().copied().collect();
    let offsets: Vec<u64> = places
        .iter()
        .map(|&pc| w.bin.file_offset(pc).unwrap_or(0))
        .collect();
    let spec = SampleSpec {
        sample_type: sample::IP | sample::TID | sample::TIME | sample::REGS_USER,
        regs_mask: REGS_MASK,
        stack_bytes: 0,
    };
    let mut counts: HashMap<u64, HashMap<Option<u64>, u64>> = HashMap::new();
    let (probes, refused) = match ProbeSet::open(&w.probe_path, &offsets, spec, watch::RING_PAGES) {
        Ok(p) => p,
        Err(goscope_probe::ProbeError::Unavailable(why)) => {
            eprintln!(
                "goscope: {why}; falling back to ptrace breakpoints (each execution stops its thread)"
            );
            let session = watch::Fallback::start(&mut w, &args.command)?;
            let bias = w.bias();
            let rt = Runtime::new(&w.bin).ok();
            let mut ids = rt
                .as_ref()
                .map(goscope_probe::goroutines::GoroutineIds::new);
            // The fallback stops at the atomic instruction itself (an int3 may replace any).
            let pcs: Vec<u64> = sites.iter().map(|s| s.pc).collect();
            let window = Window::new(args.duration).with_bar("counting");
            let (cost, _) = session.run(&pcs, &window, |hits| {
                count_hits(hits, bias, &mut ids, &w, &mut counts, None);
                Ok(())
            })?;
            let direct: Vec<LockSite> = sites
                .iter()
                .map(|s| LockSite {
                    probe_pc: s.pc,
                    ..s.clone()
                })
                .collect();
            return report(
                &args,
                &w.bin,
                &direct,
                &counts,
                unprobed,
                window.elapsed(),
                0,
                "ptrace",
                Some(cost.per_event_ns()),
            );
        }
        Err(e) => return Err(e.into()),
    };
    let mut probes = probes;
    for r in &refused {
        if let Some((&pc, ix)) = by_probe
            .iter()
            .find(|(pc, _)| w.bin.file_offset(**pc) == Some(r.offset))
        {
            for &i in ix {
                unprobed.push(Unprobed {
                    pc: sites[i].pc,
                    function: sites[i].function.clone(),
                    reason: format!("the kernel refused a uprobe at {pc:#x}: {}", r.reason),
                });
            }
        }
    }
    eprintln!(
        "goscope: counting {} atomic instructions at {} places in process {}{}",
        sites.len(),
        probes.placed(),
        w.pid,
        if args.json { "" } else { "; Ctrl-C to stop" }
    );
    probes.enable()?;
    w.go()?;
    let bias = w.bias();
    let rt = Runtime::new(&w.bin).ok();
    let mut ids = rt
        .as_ref()
        .map(goscope_probe::goroutines::GoroutineIds::new);
    let window = Window::new(args.duration).with_bar("counting");
    window.drain(
        &w,
        &mut probes,
        |s| Hit::from_sample(s, REGS_MASK),
        |batch| {
            count_hits(batch, bias, &mut ids, &w, &mut counts, Some(&by_probe));
            Ok(())
        },
    )?;
    let lost = probes.lost();
    if std::env::var_os("GOSCOPE_DEBUG_TIMING").is_some() {
        eprintln!("window {:?}", window.elapsed());
    }
    let elapsed = window.elapsed();
    let heat: HashMap<u64, u64> = counts
        .iter()
        .filter_map(|(pc, c)| Some((w.bin.file_offset(*pc)?, c.values().sum())))
        .collect();
    watch::remove_probes(probes, &heat);
    if std::env::var_os("GOSCOPE_DEBUG_TIMING").is_some() {
        eprintln!("closed {:?}", window.elapsed());
    }
    // Counts were kept per probe place: give each site its place's count.
    let mut per_site: HashMap<u64, HashMap<Option<u64>, u64>> = HashMap::new();
    for (place, ix) in &by_probe {
        if let Some(c) = counts.get(place) {
            for &i in ix {
                per_site.insert(sites[i].pc, c.clone());
            }
        }
    }
    report(
        &args, &w.bin, &sites, &per_site, unprobed, elapsed, lost, "uprobe", None,
    )
}

/// Adds `hits` to `counts` (per link-time probe pc, per goroutine id).
fn count_hits(
    hits: &[Hit],
    bias: u64,
    ids: &mut Option<goscope_probe::goroutines::GoroutineIds>,
    w: &watch::Watched,
    counts: &mut HashMap<u64, HashMap<Option<u64>, u64>>,
    places: Option<&BTreeMap<u64, Vec<usize>>>,
) {
    if hits.is_empty() {
        return;
    }
    watch::load_goroutine_ids(ids, w, hits.iter().map(|h| h.g));
    for h in hits {
        let pc = h.ip.wrapping_sub(bias);
        if places.is_some_and(|p| !p.contains_key(&pc)) {
            continue;
        }
        let goid = ids.as_ref().and_then(|i| i.id(h.g, h.sp));
        *counts.entry(pc).or_default().entry(goid).or_default() += 1;
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    bin: &goscope_binary::Binary,
    sites: &[LockSite],
    counts: &HashMap<u64, HashMap<Option<u64>, u64>>,
    not_counted: Vec<Unprobed>,
    elapsed: Duration,
    lost: u64,
    mechanism: &'static str,
    ptrace_cost: Option<u64>,
) -> Result<u8> {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut out: Vec<SiteOut> = Vec::new();
    for s in sites {
        let Some(c) = counts.get(&s.pc) else { continue };
        let count: u64 = c.values().sum();
        if count == 0 {
            continue;
        }
        let chain = bin.frames_at(s.pc);
        let (file, line) = chain
            .first()
            .map_or((String::new(), 0), |f| (f.file.to_string(), f.line));
        let physical = chain
            .last()
            .map_or(s.function.clone(), |f| f.function.to_string());
        out.push(SiteOut {
            pc: s.pc,
            function: physical,
            file,
            line,
            inline: chain
                .iter()
                .map(|f| InlineOut {
                    function: f.function.to_string(),
                    file: f.file.to_string(),
                    line: f.line,
                })
                .collect(),
            count,
            rate_per_second: (count as f64 / secs * 10.0).round() / 10.0,
            goroutines: c
                .iter()
                .map(|(g, n)| (g.map_or("?".to_string(), |g| g.to_string()), *n))
                .collect(),
        });
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.pc.cmp(&b.pc)));
    let report = Report {
        sites_counted: sites.len(),
        sites: out,
        window_ns: elapsed.as_nanos() as u64,
        not_counted,
        lost,
        mechanism,
        ptrace_stop_ns_per_event: ptrace_cost,
    };
    let mut w = crate::output::stdout();
    if args.json {
        crate::output::json_line(&mut w, &report)?;
        w.flush()?;
        return Ok(crate::EXIT_OK);
    }
    writeln!(
        w,
        "{:>10} {:>10}  {:<18} SITE",
        "COUNT", "PER SEC", "ADDRESS"
    )?;
    for s in report.sites.iter().take(args.rows) {
        writeln!(
            w,
            "{:>10} {:>10.0}  {:<#18x} {}",
            s.count,
            s.rate_per_second,
            s.pc,
            describe(&s.inline)
        )?;
        let mut gs: Vec<(&String, &u64)> = s.goroutines.iter().collect();
        gs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = gs
            .iter()
            .take(8)
            .map(|(g, n)| format!("g{g}:{n}"))
            .collect();
        let more = if gs.len() > 8 {
            format!(" and {} more goroutines", gs.len() - 8)
        } else {
            String::new()
        };
        writeln!(w, "{:>41}{}{more}", "", shown.join(" "))?;
    }
    writeln!(
        w,
        "\n{} atomic instructions counted in {:.2}s ({} executed); {} could not be counted{}",
        report.sites_counted,
        secs,
        report.sites.len(),
        report.not_counted.len(),
        if lost > 0 {
            format!("; {lost} executions lost (ring buffer full)")
        } else {
            String::new()
        }
    )?;
    for u in report.not_counted.iter().take(5) {
        writeln!(
            w,
            "  not counted: {:#x} in {}: {}",
            u.pc, u.function, u.reason
        )?;
    }
    if let Some(c) = ptrace_cost {
        writeln!(
            w,
            "ptrace fallback: each execution stopped its thread for {}",
            crate::cmd::trace::human_ns(c)
        )?;
    }
    w.flush()?;
    Ok(crate::EXIT_OK)
}

/// `sync/atomic.(*Int64).Add inlined into main.worker at main.go:72`, or
/// `main.worker at main.go:72`.
fn describe(chain: &[InlineOut]) -> String {
    let base = |f: &InlineOut| {
        let file = f.file.rsplit('/').next().unwrap_or(&f.file);
        format!("{file}:{}", f.line)
    };
    match chain {
        [] => "?".into(),
        [only] => format!("{} at {}", only.function, base(only)),
        [inner, rest @ ..] => {
            let caller = &rest[0];
            let phys = &rest[rest.len() - 1];
            if rest.len() == 1 {
                format!(
                    "{} inlined into {} at {}",
                    inner.function,
                    phys.function,
                    base(caller)
                )
            } else {
                format!(
                    "{} inlined into {} (via {}) at {}",
                    inner.function,
                    phys.function,
                    caller.function,
                    base(caller)
                )
            }
        }
    }
}
