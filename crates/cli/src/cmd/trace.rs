//! `goscope trace`: every call of the matching functions in a running Go program — inlined
//! copies included — with its goroutine, thread, arguments and, with `--returns`, results and
//! duration; by kernel uprobes, so the program never stops.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};
use goscope_probe::sites::{CallKind, CallSite};
use goscope_probe::uprobes::{ProbeSet, SampleSpec, sample, x86_reg};
use goscope_runtime::Runtime;
use goscope_runtime::expr::{EvalContext, FrameInfo};
use goscope_target::{Registers, TargetArch};
use serde_json::{Value, json};

use crate::cmd::top::parse_duration;
use crate::cmd::watch::{self, Hit, Watched, Window};

const AFTER_HELP: &str = "Examples:
  goscope trace -p 1234 'main\\.settle$'             every call, until Ctrl-C
  goscope trace -p 1234 --returns --duration 10s 'main\\.(settle|book)$'
  goscope trace --stack 5 'main\\.settle$' -- ./server -port 8080
  goscope trace --json -p 1234 '^main\\.' > calls.jsonl

REGEX is matched against full function names (package path included). Each call is probed at
the function's entry (after its stack check, as Delve's breakpoints) and at the first
instruction of every copy inlined into another function; with --returns also at every RET
(never by return probes, which break Go's stack copying). Arguments come from DWARF when the
binary has it (named and typed, as Delve prints them), else the integer argument registers
(RAX, RBX, RCX, RDI, RSI, R8-R11) are shown raw. The goroutine id is read from the g register.

Probes are kernel uprobes (perf_event_open): the program runs on, each call costs it a few
microseconds, and the probes vanish when goscope exits however it exits. Without perf uprobes
(or with GOSCOPE_NO_UPROBES=1) goscope falls back to ptrace breakpoints, which stop the calling
thread at every call, and reports that cost.

Exit status: 0, or 2 when nothing matches or the program cannot be traced.";

/// Every call of matching functions in a running program, with goroutine ids and arguments,
/// without stopping it.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Trace the running process PID.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Option<i32>,
    /// Functions to trace: a regular expression over full names.
    regex: String,
    /// Stop after this long (`500ms`, `10s`, `1m`); default: until Ctrl-C or the program ends.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Also trace returns: results and each call's duration.
    #[arg(long)]
    returns: bool,
    /// Show this many frames of the caller's stack with each call.
    #[arg(long, value_name = "N", default_value_t = 0)]
    stack: usize,
    /// Print only the summary, not every call.
    #[arg(long)]
    quiet: bool,
    /// One JSON object per event and a summary object, one per line.
    #[arg(long)]
    json: bool,
    /// Start this program (with its arguments) and trace it from its first instruction.
    #[arg(last = true, value_name = "PROG ARGS")]
    command: Vec<String>,
}

/// Integer argument registers of Go's ABIInternal on amd64, in order.
const ARG_REGS: [(&str, u32); 9] = [
    ("rax", x86_reg::AX),
    ("rbx", x86_reg::BX),
    ("rcx", x86_reg::CX),
    ("rdi", x86_reg::DI),
    ("rsi", x86_reg::SI),
    ("r8", x86_reg::R8),
    ("r9", x86_reg::R9),
    ("r10", x86_reg::R10),
    ("r11", x86_reg::R11),
];

/// Registers sampled with each call: the integer registers, SP, IP, and R14 (g).
const REGS_MASK: u64 = 0x1ff | (0xff << 16);

/// Bytes of stack copied per call for `--stack`.
const STACK_BYTES: u32 = 4 * 1024;

/// Per traced function.
#[derive(Default)]
struct FuncStats {
    calls: u64,
    goroutines: HashSet<Option<u64>>,
    durations: Vec<u64>,
}

struct Tracer<'a> {
    args: &'a Args,
    w: &'a Watched,
    rt: Option<Runtime<'a>>,
    sites: HashMap<u64, CallSite>,
    params: HashMap<u64, Option<(Vec<String>, bool)>>,
    stats: BTreeMap<String, FuncStats>,
    /// Open calls per (goroutine or thread, function): (cfa, time).
    open: HashMap<(u64, String), Vec<(u64, u64)>>,
    bias: u64,
    t0: Option<u64>,
    out: Box<dyn Write + 'a>,
    events: u64,
}

/// Entry point.
pub fn run(args: Args) -> Result<u8> {
    let mut w = watch::open(args.pid, &args.command)?;
    let pattern = regex::Regex::new(&args.regex)
        .map_err(|e| anyhow::anyhow!("REGEX {:?}: {e}", args.regex))?;
    if w.bin.arch() != goscope_binary::Arch::Amd64 {
        bail!(
            "goscope trace reads amd64 registers; this program is {:?}",
            w.bin.arch()
        );
    }
    let mut sites = goscope_probe::sites::call_sites(&w.bin, &pattern, args.returns)?;
    // Function entries: after the stack check, or a call that grows its stack is seen twice.
    let prog = goscope_disasm::listing::Program::new(&w.bin)?;
    for s in &mut sites {
        if s.kind == CallKind::Entry {
            s.pc = goscope_debug::locate::after_prologue(&prog, s.pc);
        }
    }
    drop(prog);
    let offsets: Vec<u64> = sites
        .iter()
        .map(|s| w.bin.file_offset(s.pc).unwrap_or(0))
        .collect();
    let mut spec = SampleSpec {
        sample_type: sample::IP | sample::TID | sample::TIME | sample::REGS_USER,
        regs_mask: REGS_MASK,
        stack_bytes: 0,
    };
    if args.stack > 0 {
        spec.sample_type |= sample::STACK_USER;
        spec.stack_bytes = STACK_BYTES;
    }
    let functions: HashSet<&str> = sites.iter().map(|s| s.function.as_str()).collect();
    let nfunctions = functions.len();
    let (mut probes, refused) = match ProbeSet::open(
        &w.probe_path,
        &offsets,
        spec,
        if args.stack > 0 {
            4 * watch::RING_PAGES
        } else {
            watch::RING_PAGES
        },
    ) {
        Ok(p) => p,
        Err(goscope_probe::ProbeError::Unavailable(why)) => {
            eprintln!(
                "goscope: {why}; falling back to ptrace breakpoints (each call stops its thread)"
            );
            return fallback(args, w, sites);
        }
        Err(e) => return Err(e.into()),
    };
    for r in &refused {
        if let Some(s) = sites
            .iter()
            .find(|s| w.bin.file_offset(s.pc) == Some(r.offset))
        {
            eprintln!(
                "goscope: {} at {:#x} cannot be probed: {}",
                s.function, s.pc, r.reason
            );
        }
    }
    eprintln!(
        "goscope: tracing {nfunctions} functions at {} places in process {}{}",
        probes.placed(),
        w.pid,
        if args.json { "" } else { "; Ctrl-C to stop" }
    );
    probes.enable()?;
    w.go()?;
    let mut t = Tracer::new(&args, &w, sites);
    let window = Window::new(args.duration);
    window.drain(
        &w,
        &mut probes,
        |s| Hit::from_sample(s, REGS_MASK),
        |b| t.handle(b),
    )?;
    let lost = probes.lost();
    let placed = probes.placed();
    let elapsed = window.elapsed();
    let mut heat: HashMap<u64, u64> = HashMap::new();
    for (pc, site) in &t.sites {
        let calls = t.stats.get(&site.function).map_or(0, |s| s.calls);
        if let Some(off) = w.bin.file_offset(pc.wrapping_sub(t.bias)) {
            heat.insert(off, calls);
        }
    }
    watch::remove_probes(probes, &heat);
    t.summary(elapsed, lost, placed, w.ended().as_deref(), None)?;
    Ok(crate::EXIT_OK)
}

impl<'a> Tracer<'a> {
    fn new(args: &'a Args, w: &'a Watched, sites: Vec<CallSite>) -> Tracer<'a> {
        let bias = w.bias();
        let rt = Runtime::new(&w.bin).ok();
        let stdout = std::io::stdout();
        Tracer {
            args,
            w,
            rt,
            sites: sites
                .into_iter()
                .map(|s| (s.pc.wrapping_add(bias), s))
                .collect(),
            params: HashMap::new(),
            stats: BTreeMap::new(),
            open: HashMap::new(),
            bias,
            t0: None,
            out: Box::new(std::io::BufWriter::new(stdout)),
            events: 0,
        }
    }

    fn handle(&mut self, hits: &[Hit]) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        let mut ids = self
            .rt
            .as_ref()
            .map(goscope_probe::goroutines::GoroutineIds::new);
        watch::load_goroutine_ids(&mut ids, self.w, hits.iter().map(|h| h.g));
        for h in hits {
            let Some(site) = self.sites.get(&h.ip).cloned() else {
                continue;
            };
            let goid = ids.as_ref().and_then(|i| i.id(h.g, h.sp));
            self.t0.get_or_insert(h.time_ns);
            self.event(&site, h, goid)?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn event(&mut self, site: &CallSite, h: &Hit, goid: Option<u64>) -> Result<()> {
        self.events += 1;
        let cfa = self.cfa(site.pc, h.sp);
        let who = goid.unwrap_or(u64::MAX - h.tid as u64);
        let key = (who, site.function.clone());
        let returning = site.kind == CallKind::Return;
        let mut duration = None;
        if returning {
            if let Some(stack) = self.open.get_mut(&key) {
                let i = stack
                    .iter()
                    .rposition(|&(c, _)| c == cfa)
                    .or(stack.len().checked_sub(1));
                if let Some(i) = i {
                    let (_, start) = stack.remove(i);
                    duration = Some(h.time_ns.saturating_sub(start));
                }
            }
        } else {
            let st = self.stats.entry(site.function.clone()).or_default();
            st.calls += 1;
            st.goroutines.insert(goid);
            if self.args.returns && site.kind == CallKind::Entry {
                self.open.entry(key).or_default().push((cfa, h.time_ns));
            }
        }
        if let Some(d) = duration {
            self.stats
                .entry(site.function.clone())
                .or_default()
                .durations
                .push(d);
        }
        if self.args.quiet {
            return Ok(());
        }
        let values = self.values(site, h, goid, cfa, returning);
        let stack = if self.args.stack > 0 && !returning {
            self.stack(h)
        } else {
            Vec::new()
        };
        let t = h.time_ns.saturating_sub(self.t0.unwrap_or(h.time_ns));
        if self.args.json {
            let mut o = json!({
                "event": if returning { "return" } else { "call" },
                "function": site.function,
                "goroutine": goid,
                "thread": h.tid,
                "time_ns": h.time_ns,
                "pc": h.ip,
            });
            let vals: serde_json::Map<String, Value> =
                values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            o[if returning { "results" } else { "args" }] = Value::Object(vals);
            if let CallKind::Inlined { into, line } = &site.kind {
                o["inlined_into"] = json!({"function": into, "line": line});
            }
            if let Some(d) = duration {
                o["duration_ns"] = json!(d);
            }
            if !stack.is_empty() {
                o["stack"] = json!(
                    stack
                        .iter()
                        .map(|(f, file, line)| json!({"function": f, "file": file, "line": line}))
                        .collect::<Vec<_>>()
                );
            }
            writeln!(self.out, "{o}")?;
            return Ok(());
        }
        let g = goid.map_or_else(|| "g?".to_string(), |g| format!("g{g}"));
        let vals: Vec<String> = values
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                v => format!("{k}={v}"),
            })
            .collect();
        let mut line = format!("{:>12.6} {g:<7} t{:<7} ", t as f64 / 1e9, h.tid);
        match &site.kind {
            CallKind::Return => {
                line.push_str(&format!("{} returned ({})", site.function, vals.join(", ")));
                if let Some(d) = duration {
                    line.push_str(&format!(" after {}", human_ns(d)));
                }
            }
            CallKind::Entry => line.push_str(&format!("{}({})", site.function, vals.join(", "))),
            CallKind::Inlined { into, line: l } => line.push_str(&format!(
                "{}({}) inlined into {into}:{l}",
                site.function,
                vals.join(", ")
            )),
        }
        writeln!(self.out, "{line}")?;
        for (f, file, l) in &stack {
            writeln!(self.out, "{:>30} {f} {file}:{l}", "at")?;
        }
        Ok(())
    }

    /// The canonical frame address of the physical frame at link-time `pc` with stack
    /// pointer `sp`: identifies one call from its entry to its return.
    fn cfa(&self, pc: u64, sp: u64) -> u64 {
        let tab = self.w.bin.pclntab();
        let delta = tab
            .find_func(pc)
            .and_then(|f| tab.pcvalue(f.pcsp(), f.entry(), pc))
            .unwrap_or(0);
        sp.wrapping_add(delta as i64 as u64).wrapping_add(8)
    }

    /// Arguments (or results) by name from DWARF, else the raw argument registers.
    fn values(
        &mut self,
        site: &CallSite,
        h: &Hit,
        goid: Option<u64>,
        cfa: u64,
        results: bool,
    ) -> Vec<(String, Value)> {
        let raw = || -> Vec<(String, Value)> {
            ARG_REGS
                .iter()
                .map(|(n, r)| (n.to_string(), json!(format!("{:#x}", h.reg(*r)))))
                .collect()
        };
        let (Some(rt), Some(live)) = (self.rt.as_ref(), self.w.live()) else {
            return raw();
        };
        if !self.w.bin.has_dwarf() {
            return raw();
        }
        let ctx = EvalContext {
            rt,
            mem: live.memory(),
            bias: self.bias,
            frame: FrameInfo {
                pc: h.ip,
                return_address: false,
                sp: h.sp,
                cfa,
                inline_depth: site.inline_depth,
                regs: Some(h.registers()),
                goroutine: goid,
                g: h.g,
            },
        };
        let names = self
            .params
            .entry(h.ip)
            .or_insert_with(|| ctx.parameters(results).ok().map(|n| (n, results)));
        let Some((names, _)) = names.clone() else {
            return raw();
        };
        // Results at a RET: Go's DWARF rarely says where they are; they are in the ABI's
        // integer registers, in order (floats are not sampled).
        let mut next_reg = 0usize;
        let mut take = |n: usize| -> Option<Vec<u64>> {
            let regs = ARG_REGS.get(next_reg..next_reg + n)?;
            next_reg += n;
            Some(regs.iter().map(|(_, r)| h.reg(*r)).collect())
        };
        let mut out = Vec::new();
        for n in &names {
            let text = match ctx.variable(n) {
                Ok(v) if results && v.is_unreadable() => {
                    let from_regs = match v.kind_name() {
                        "int" => take(1).map(|r| (r[0] as i64).to_string()),
                        "uint" => take(1).map(|r| r[0].to_string()),
                        "bool" => take(1).map(|r| (r[0] & 0xff != 0).to_string()),
                        "ptr" | "unsafe.Pointer" | "map" | "chan" | "func" => {
                            take(1).map(|r| format!("{:#x}", r[0]))
                        }
                        "string" => take(2).map(|r| read_string(live.memory(), r[0], r[1])),
                        "slice" => take(3).map(|r| {
                            format!("[]{{ptr: {:#x}, len: {}, cap: {}}}", r[0], r[1], r[2])
                        }),
                        "interface" => {
                            take(2).map(|r| format!("{{type: {:#x}, data: {:#x}}}", r[0], r[1]))
                        }
                        _ => None,
                    };
                    match from_regs {
                        Some(t) => t,
                        None => {
                            // Unknown layout: the registers from here on, raw.
                            let rest: Vec<String> = ARG_REGS[next_reg.min(ARG_REGS.len())..]
                                .iter()
                                .map(|(rn, r)| format!("{rn}={:#x}", h.reg(*r)))
                                .collect();
                            out.push((n.clone(), Value::String(rest.join(" "))));
                            break;
                        }
                    }
                }
                Ok(v) => v.single_line(),
                Err(e) => format!("(unreadable {e})"),
            };
            out.push((n.clone(), Value::String(text)));
        }
        out
    }

    /// The caller's frames from the copied stack: (function, file, line), the traced
    /// function's caller first.
    fn stack(&self, h: &Hit) -> Vec<(String, String, i32)> {
        let bin = &self.w.bin;
        let tab = bin.pclntab();
        let mut out = Vec::new();
        let (mut pc, mut sp) = (h.ip.wrapping_sub(self.bias), h.sp);
        // An inlined copy's callers begin inside the physical function.
        if let Some(site) = self.sites.get(&h.ip)
            && site.inline_depth > 0
        {
            let chain = bin.frames_at(pc);
            let traced = chain.len().saturating_sub(1 + site.inline_depth as usize);
            for fr in chain.iter().skip(traced + 1) {
                out.push((fr.function.to_string(), fr.file.to_string(), fr.line));
                if out.len() >= self.args.stack {
                    return out;
                }
            }
        }
        for _ in 0..64 {
            let Some(f) = tab.find_func(pc) else { break };
            let Some(delta) = tab.pcvalue(f.pcsp(), f.entry(), pc) else {
                break;
            };
            let at = sp.wrapping_add(delta as i64 as u64);
            let Some(off) = at.checked_sub(h.sp).map(|o| o as usize) else {
                break;
            };
            let Some(ret) = h
                .stack
                .get(off..off + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
            else {
                break;
            };
            let ret = ret.wrapping_sub(self.bias);
            if tab.find_func(ret).is_none() {
                break;
            }
            for fr in bin.frames_at(ret - 1) {
                out.push((fr.function.to_string(), fr.file.to_string(), fr.line));
                if out.len() >= self.args.stack {
                    return out;
                }
            }
            pc = ret;
            sp = at.wrapping_add(8);
        }
        out
    }

    fn summary(
        &mut self,
        elapsed: Duration,
        lost: u64,
        probes: usize,
        ended: Option<&str>,
        fallback: Option<&watch::FallbackCost>,
    ) -> Result<()> {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let pct = |v: &[u64], q: f64| -> u64 {
            if v.is_empty() {
                return 0;
            }
            v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
        };
        let mut rows = Vec::new();
        for (name, st) in &mut self.stats {
            st.durations.sort_unstable();
            let d = &st.durations;
            rows.push(json!({
                "function": name,
                "calls": st.calls,
                "goroutines": st.goroutines.len(),
                "calls_per_second": (st.calls as f64 / secs).round(),
                "duration_ns": if d.is_empty() { Value::Null } else { json!({
                    "p50": pct(d, 0.5), "p90": pct(d, 0.9), "p99": pct(d, 0.99),
                    "max": d.last().copied().unwrap_or(0), "count": d.len(),
                })},
            }));
        }
        let mut summary = json!({
            "event": "summary",
            "functions": rows,
            "window_ns": elapsed.as_nanos() as u64,
            "probes": probes,
            "lost": lost,
            "mechanism": if fallback.is_some() { "ptrace" } else { "uprobe" },
        });
        if let Some(f) = fallback {
            summary["ptrace_stop_ns_per_event"] = json!(f.per_event_ns());
        }
        if self.args.json {
            writeln!(self.out, "{summary}")?;
            self.out.flush()?;
            return Ok(());
        }
        let mut s = String::new();
        s.push_str(&format!(
            "\n{:<40} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            "FUNCTION", "CALLS", "GOROUTINES", "P50", "P90", "P99", "MAX"
        ));
        for r in summary["functions"].as_array().into_iter().flatten() {
            let d = &r["duration_ns"];
            let f = |k: &str| d[k].as_u64().map_or("-".to_string(), human_ns);
            s.push_str(&format!(
                "{:<40} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                r["function"].as_str().unwrap_or(""),
                r["calls"].as_u64().unwrap_or(0),
                r["goroutines"].as_u64().unwrap_or(0),
                f("p50"),
                f("p90"),
                f("p99"),
                f("max")
            ));
        }
        s.push_str(&format!(
            "{} events in {:.2}s at {} probes",
            self.events, secs, probes
        ));
        if lost > 0 {
            s.push_str(&format!("; {lost} events lost (ring buffer full)"));
        }
        if let Some(e) = ended {
            s.push_str(&format!("; the program {e}"));
        }
        if let Some(f) = fallback {
            s.push_str(&format!(
                "\nptrace fallback: each event stopped its thread for {} on average",
                human_ns(f.per_event_ns())
            ));
        }
        writeln!(self.out, "{s}")?;
        self.out.flush()?;
        Ok(())
    }
}

/// A Go string's text (at most 64 bytes, quoted as Delve does), read from the program.
fn read_string(mem: &goscope_target::live::ProcessMemory, ptr: u64, len: u64) -> String {
    let n = len.min(64) as usize;
    let mut buf = vec![0u8; n];
    match goscope_target::Memory::read(mem, ptr, &mut buf) {
        Ok(()) if len as usize == n => format!("{:?}", String::from_utf8_lossy(&buf)),
        Ok(()) => format!(
            "{:?}...+{} more",
            String::from_utf8_lossy(&buf),
            len as usize - n
        ),
        Err(_) => format!("(string at {ptr:#x}, len {len}: unreadable)"),
    }
}

/// `1.2µs`, `340ns`, `15.0ms`.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

/// Without perf uprobes: ptrace breakpoints at the same places.
fn fallback(args: Args, mut w: Watched, sites: Vec<CallSite>) -> Result<u8> {
    let pcs: Vec<u64> = sites.iter().map(|s| s.pc).collect();
    let session = watch::Fallback::start(&mut w, &args.command)?;
    let mut t = Tracer::new(&args, &w, sites);
    let window = Window::new(args.duration);
    let (cost, ended) = session.run(&pcs, &window, |hits| t.handle(hits))?;
    t.summary(
        window.elapsed(),
        0,
        pcs.len(),
        ended.as_deref(),
        Some(&cost),
    )?;
    Ok(crate::EXIT_OK)
}

impl Hit {
    fn reg(&self, r: u32) -> u64 {
        self.regs.get(r as usize).copied().unwrap_or(0)
    }

    /// The sampled registers as a thread's register set (for DWARF locations).
    fn registers(&self) -> Registers {
        let names = TargetArch::Amd64.register_names();
        let by_name = |n: &str| -> u64 {
            let r = match n {
                "rax" => x86_reg::AX,
                "rbx" => x86_reg::BX,
                "rcx" => x86_reg::CX,
                "rdx" => x86_reg::DX,
                "rsi" => x86_reg::SI,
                "rdi" => x86_reg::DI,
                "rbp" => x86_reg::BP,
                "rsp" => x86_reg::SP,
                "rip" => x86_reg::IP,
                "r8" => x86_reg::R8,
                "r9" => x86_reg::R9,
                "r10" => x86_reg::R10,
                "r11" => x86_reg::R11,
                "r12" => x86_reg::R12,
                "r13" => x86_reg::R13,
                "r14" => x86_reg::R14,
                "r15" => x86_reg::R15,
                _ => return 0,
            };
            self.reg(r)
        };
        Registers::new(
            TargetArch::Amd64,
            names.iter().map(|n| by_name(n)).collect(),
        )
    }
}
