//! `goscope core`: post-mortem of a Go program from its core dump — the panic or fatal error,
//! the goroutine that failed, and every goroutine with its state and stack.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use goscope_binary::Binary;
use goscope_runtime::analysis::{BATCH, GoroutineFilter, crash_machinery, default_frame};
use goscope_runtime::goroutine::print_name;
use goscope_runtime::{Frame, Goroutine, Runtime, Snapshot};
use goscope_target::{CoreFile, Memory, SignalOrigin, Target};
use serde::Serialize;

use crate::cmd::goroutines::{
    ListView, header, short, write_frame_position, write_frames, write_goroutine, write_list,
};
use crate::output;

const AFTER_HELP: &str = "Examples:
  goscope core ./server core.1234                  what happened: panic, failing goroutine, counts
  goscope core core.1234                           the same, finding the binary through the core
  goscope core ./server core goroutines            one line per goroutine
  goscope core ./server core goroutines --stacks --group
                                                   every distinct stack once, with its count
  goscope core ./server core goroutines --filter 'chan receive'
  goscope core ./server core goroutine 17          one goroutine in full
  goscope core ./server core threads               OS threads, their Ms and goroutines
  goscope core ./server core regs --thread 4321    registers of one thread
  goscope core ./server core x 0xc000010000 64     raw memory
  goscope core ./server core map 0xc000076000      a map's header and entries
  goscope core ./server core print 'req.Header[\"Host\"]' --frame 3
                                                   a Go expression, printed as dlv prints it
  goscope core ./server core disassemble --context 8
                                                   the code where the failing goroutine stopped
  goscope core --json ./server core | jq .panic

Produce cores with `ulimit -c unlimited` and GOTRACEBACK=crash (or debug.SetTraceback(\"crash\")),
`kill -ABRT`, or `gcore`. The binary may be stripped (-ldflags=-s -w): goscope reads the pclntab,
which survives stripping, and built-in runtime layouts for the Go release.";

/// Post-mortem of a core dump: the panic, every goroutine and its stack.
///
/// Prints what the Go runtime would have printed had it lived to: the Go version, the signal,
/// the panic value or fatal error, the failing goroutine's stack, and the goroutines counted by
/// state. Subcommands list goroutines, threads, registers, memory, maps, and the machine code
/// around a frame.
#[derive(clap::Args, Debug)]
#[command(
    after_help = AFTER_HELP,
    subcommand_precedence_over_arg = true,
    args_conflicts_with_subcommands = false
)]
pub struct Args {
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// The executable and the core file (BIN CORE), or just the core: the executable is then
    /// the path the core names for it.
    #[arg(num_args = 1..=2, value_name = "BIN CORE", required = true)]
    files: Vec<PathBuf>,
    #[command(subcommand)]
    sub: Option<Sub>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// List goroutines: id, state, wait time, top user frame.
    Goroutines {
        /// Print each goroutine's full stack, as the runtime prints it.
        #[arg(long)]
        stacks: bool,
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
    },
    /// One goroutine in full: state, creator, labels, panics, every frame with pc/sp/fp.
    Goroutine {
        /// Goroutine id.
        id: u64,
    },
    /// OS threads: M, goroutine, where each stopped, and its system stack.
    Threads,
    /// Registers of a thread (default: the one that received the fatal signal).
    Regs {
        /// Thread id.
        #[arg(long)]
        thread: Option<u64>,
    },
    /// Hex dump of memory.
    X {
        /// Address (0x… or decimal).
        addr: String,
        /// Number of bytes (at most 1 MiB).
        #[arg(default_value = "64")]
        len: String,
    },
    /// The machine code around a frame, the frame's instruction marked `=>` (the call it is
    /// in, or the instruction that faulted). Default: the failing goroutine's innermost frame
    /// outside the runtime (where user code is).
    Disassemble {
        /// The goroutine (default: the one that failed).
        #[arg(long, short = 'g')]
        goroutine: Option<u64>,
        /// Frame number in the goroutine's stack, 0 innermost (as `goroutine ID` lists them).
        #[arg(long, short = 'f')]
        frame: Option<usize>,
        /// Instructions shown before and after the marked one (default: the whole function).
        #[arg(long)]
        context: Option<usize>,
        /// Instruction syntax.
        #[arg(long, value_enum, default_value_t = SyntaxArg::Go)]
        syntax: SyntaxArg,
        /// Mark allocations, runtime calls, LOCKs, write barriers and inlined code.
        #[arg(long)]
        annotate: bool,
    },
    /// Evaluate a Go expression in a frame and print it as `dlv` does: locals, arguments and
    /// package variables by name (DWARF), fields, indexes, map lookups, `*p`, `&x`,
    /// conversions (`(*main.T)(0xc000010000)`), arithmetic, comparisons, registers (`$rsp`,
    /// `$pc`, `$g`), `goroutine`. Default: the failing goroutine's innermost user frame.
    Print {
        /// The expression.
        expr: String,
        /// The goroutine (default: the one that failed).
        #[arg(long, short = 'g')]
        goroutine: Option<u64>,
        /// Frame number in the goroutine's stack, 0 innermost (as `goroutine ID` lists them).
        #[arg(long, short = 'f')]
        frame: Option<usize>,
    },
    /// A map's header and entries (hash map or Swiss table).
    Map {
        /// Address of the map header (the value of a map variable).
        addr: String,
        /// The map's type (`map[string]int`); guessed from the binary's map types if omitted.
        #[arg(long = "type")]
        type_name: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SyntaxArg {
    Go,
    Intel,
    Gnu,
}

fn parse_num(s: &str) -> Result<u64> {
    let t = s.trim();
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse()
    };
    v.with_context(|| format!("not a number: {s:?} (use decimal or 0x… hex)"))
}

/// Opens the core and its executable.
fn open(files: &[PathBuf]) -> Result<(Arc<Binary>, CoreFile, PathBuf, PathBuf)> {
    let (bin_path, core_path) = match files {
        [core] => {
            let c = CoreFile::open(core).with_context(|| core.display().to_string())?;
            let exe = c.exe_path().with_context(|| {
                format!(
                    "{}: the core does not name its executable; pass it: goscope core BIN CORE",
                    core.display()
                )
            })?;
            (exe, core.clone())
        }
        [bin, core] => (bin.clone(), core.clone()),
        _ => bail!("expected BIN CORE or CORE"),
    };
    let is_core = |p: &Path| {
        std::fs::File::open(p).is_ok_and(|mut f| {
            use std::io::Read;
            let mut h = [0u8; 18];
            f.read_exact(&mut h).is_ok() && &h[..4] == b"\x7fELF" && h[16] == 4
        })
    };
    if files.len() == 2 && is_core(&bin_path) {
        bail!(
            "{} is a core file: the order is BIN CORE (goscope core ./server core.1234)",
            bin_path.display()
        );
    }
    let bin = match output::open_binary(&bin_path) {
        Ok(b) => Arc::new(b),
        Err(e) if files.len() == 1 => {
            return Err(e).context(format!(
                "the executable named by the core ({}); pass it explicitly: goscope core BIN CORE",
                bin_path.display()
            ));
        }
        Err(e) => return Err(e),
    };
    let mut core = CoreFile::open(&core_path).with_context(|| {
        if !is_core(&core_path) && Binary::open(&core_path).is_ok() {
            format!(
                "{}: this is an executable; the order is BIN CORE",
                core_path.display()
            )
        } else {
            core_path.display().to_string()
        }
    })?;
    core.attach_binary(bin.clone());
    Ok((bin, core, bin_path, core_path))
}

fn warn(w: &str) {
    eprintln!("goscope: warning: {w}");
}

pub fn run(args: Args) -> Result<u8> {
    let (bin, core, bin_path, core_path) = open(&args.files)?;
    let mut warnings = core.warnings();
    let rt = match Runtime::new(&bin) {
        Ok(rt) => rt,
        Err(e) => {
            for w in &warnings {
                warn(w);
            }
            return Err(e).context(format!("{}", core_path.display()));
        }
    };
    let p = Snapshot::new(&rt, &core);
    warnings.extend(rt.warnings.iter().cloned());
    warnings.extend(p.warnings.iter().cloned());
    let mut out = output::stdout();
    let ctx = Ctx {
        p: &p,
        core: &core,
        json: args.json,
        bin_path: &bin_path,
        core_path: &core_path,
    };
    let result = (|| -> Result<u8> {
        Ok(match args.sub {
            None => ctx.summary(&mut out, &mut warnings)?,
            Some(Sub::Goroutines {
                stacks,
                group,
                filter,
                all,
            }) => ctx.goroutines(
                &mut out,
                &mut warnings,
                &ListView {
                    stacks,
                    group,
                    filter: filter.as_deref().map(GoroutineFilter::parse),
                    json: args.json,
                    first: None,
                },
                all,
            )?,
            Some(Sub::Goroutine { id }) => ctx.one_goroutine(&mut out, &mut warnings, id)?,
            Some(Sub::Threads) => ctx.threads(&mut out)?,
            Some(Sub::Regs { thread }) => ctx.regs(&mut out, thread)?,
            Some(Sub::X { addr, len }) => {
                ctx.examine(&mut out, parse_num(&addr)?, parse_num(&len)?)?
            }
            Some(Sub::Disassemble {
                goroutine,
                frame,
                context,
                syntax,
                annotate,
            }) => ctx.disassemble(
                &mut out,
                &mut warnings,
                goroutine,
                frame,
                context,
                syntax,
                annotate,
            )?,
            Some(Sub::Print {
                expr,
                goroutine,
                frame,
            }) => ctx.print(&mut out, &mut warnings, &expr, goroutine, frame)?,
            Some(Sub::Map { addr, type_name }) => {
                // An address, or an expression naming a map (`main.registry`, `s.index`):
                // then its header and its type come from the debug information.
                let (at, typ, guessed) = match parse_num(&addr) {
                    Ok(a) => (a, type_name.clone(), type_name.is_none()),
                    Err(_) => {
                        let v = ctx.eval_value(&mut warnings, &addr, None, None)?;
                        let Some((hdr, t)) = v.map_header() else {
                            bail!("{addr} is not a map (print {addr} shows what it is)");
                        };
                        if hdr == 0 {
                            bail!("{addr} is a nil map");
                        }
                        (hdr, type_name.clone().or(Some(t)), false)
                    }
                };
                ctx.map(&mut out, &mut warnings, at, typ.as_deref(), guessed)?
            }
        })
    })();
    let flushed = out.flush();
    // Warnings also explain failures (a truncated core, a mismatched binary).
    for w in &warnings {
        warn(w);
    }
    let code = result?;
    flushed?;
    Ok(code)
}

struct Ctx<'a, 'p> {
    p: &'a Snapshot<'a, 'p>,
    core: &'a CoreFile,
    json: bool,
    bin_path: &'a Path,
    core_path: &'a Path,
}

/// The signal that ended the process, from the core.
#[derive(Serialize)]
struct SignalJson {
    number: i32,
    name: &'static str,
    description: String,
    code: i32,
    #[serde(serialize_with = "goscope_runtime::hex")]
    addr: u64,
    /// Who sent it: the process itself (`raised`), another process (`sent`), or the kernel (a
    /// fault).
    origin: SignalOrigin,
}

#[derive(Serialize)]
struct Summary<'a> {
    binary: String,
    core: String,
    go_version: &'a str,
    goarch: &'static str,
    pid: Option<i32>,
    signal: Option<SignalJson>,
    fault: Option<String>,
    panic: PanicJson<'a>,
    goroutine_counts: BTreeMap<String, usize>,
    total_goroutines: usize,
    threads: usize,
    layouts: &'a goscope_runtime::LayoutSource,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runtime_stack: Vec<Frame<'a>>,
}

#[derive(Serialize)]
struct PanicJson<'a> {
    kind: &'static str,
    message: Option<String>,
    goroutine: Option<u64>,
    thread: Option<u64>,
    panics: &'a [goscope_runtime::PanicInfo],
}

fn signal_json(core: &CoreFile) -> Option<SignalJson> {
    let stop = core.stop();
    let si = stop.signal?;
    let origin = si.origin(stop.pid);
    Some(SignalJson {
        number: si.signo,
        name: goscope_target::signal_name(si.signo),
        description: goscope_runtime::panic::signal_description(si.signo),
        code: si.code,
        addr: si.addr,
        origin,
    })
}

/// The decoded panic values the runtime's text does not show (composite values print as
/// `(T) 0xADDR`; values still in flight were never turned into text).
fn write_panic_values(
    w: &mut impl Write,
    panics: &[goscope_runtime::PanicInfo],
    indent: &str,
) -> Result<()> {
    for p in panics {
        if let (Some(v), Some(gs)) = (&p.value, &p.go_syntax)
            && gs != &p.message
            && !matches!(v.value, goscope_runtime::Value::String(_))
        {
            writeln!(w, "{indent}value: {gs} ({})", v.type_name)?;
        }
    }
    Ok(())
}

impl<'a, 'p> Ctx<'a, 'p> {
    /// Every goroutine's header (no stacks), in `allgs` order, dead ones removed unless `all`.
    fn headers(&self, warnings: &mut Vec<String>, all: bool) -> Result<Vec<Goroutine<'p>>> {
        let gs = self.p.goroutines(all)?;
        warnings.extend(gs.warnings);
        Ok(gs.list)
    }

    fn summary(&self, w: &mut impl Write, warnings: &mut Vec<String>) -> Result<u8> {
        let p = self.p;
        let layout = self.core.layout();
        let pid = layout.process.as_ref().map(|x| x.pid);
        let crash = p.crash(layout.siginfo.map(|s| (s.signo, s.code, s.addr)), pid);
        let mut gs = self.headers(warnings, false)?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for g in &gs {
            let key = match &g.wait_reason {
                Some(r) => r.clone(),
                None => g.status.to_string(),
            };
            *counts.entry(key).or_default() += 1;
        }
        let failing_idx = crash
            .goroutine
            .and_then(|id| gs.iter().position(|g| g.id == id));
        if let Some(i) = failing_idx {
            // Failing goroutine first, as the runtime prints it.
            let g = gs.remove(i);
            gs.insert(0, g);
        }
        let summary = Summary {
            binary: self.bin_path.display().to_string(),
            core: self.core_path.display().to_string(),
            go_version: &p.rt.go_version,
            goarch: p.rt.bin.arch().goarch(),
            pid,
            signal: signal_json(self.core),
            fault: crash.fault.clone(),
            panic: PanicJson {
                kind: crash.kind,
                message: crash.message.clone(),
                goroutine: crash.goroutine,
                thread: crash.thread,
                panics: &crash.panics,
            },
            goroutine_counts: counts,
            total_goroutines: gs.len(),
            threads: layout.threads.len(),
            layouts: &p.rt.layouts.source,
            runtime_stack: crash.runtime_stack.clone(),
        };
        if self.json {
            // One object: the summary fields, then every goroutine with its stack, streamed.
            let head = serde_json::to_string(&summary)?;
            let head = head.strip_suffix('}').unwrap_or(&head);
            write!(w, "{head},\"warnings\":")?;
            serde_json::to_writer(&mut *w, &*warnings)?;
            write!(w, ",\"goroutines\":[")?;
            let mut first = true;
            for chunk in gs.chunks_mut(BATCH) {
                self.p.fill_stacks(chunk);
                for g in chunk.iter() {
                    if !first {
                        w.write_all(b",")?;
                    }
                    first = false;
                    serde_json::to_writer(&mut *w, g)?;
                }
                for g in chunk.iter_mut() {
                    g.frames = Vec::new();
                }
            }
            writeln!(w, "]}}")?;
            return Ok(no_goroutines_status(summary.total_goroutines));
        }
        writeln!(
            w,
            "{} ({} {}/{}), core {}{}",
            self.bin_path.display(),
            if p.rt.go_version.is_empty() {
                "Go version unknown"
            } else {
                &p.rt.go_version
            },
            p.rt.bin.goos(),
            p.rt.bin.arch().goarch(),
            self.core_path.display(),
            pid.map(|x| format!(" (pid {x})")).unwrap_or_default()
        )?;
        if let Some(s) = &summary.signal {
            let how = match s.origin {
                SignalOrigin::Raised => " (raised by the process itself)",
                SignalOrigin::Sent => " (sent by another process)",
                SignalOrigin::Kernel => "",
            };
            writeln!(w, "signal: {}{how}", s.description)?;
        }
        writeln!(w)?;
        let bad = |s: &str| crate::output::paint(crate::output::Paint::Bad, s).into_owned();
        match (&crash.message, crash.kind) {
            (Some(m), "fatal error") => writeln!(w, "{}", bad(&format!("fatal error: {m}")))?,
            (Some(m), "signal") => writeln!(w, "{}", bad(m))?,
            (Some(m), _) => writeln!(w, "{}", bad(m))?,
            (None, _) => writeln!(w, "no panic or fatal error found; the process was stopped")?,
        }
        if crash.kind == "panic" {
            write_panic_values(w, &crash.panics, "  ")?;
        }
        if let Some(f) = &crash.fault {
            writeln!(w, "{f}")?;
        }
        if !crash.runtime_stack.is_empty() {
            writeln!(w, "\nruntime stack:")?;
            let skip = crash_machinery(&crash.runtime_stack);
            write_frames(w, &crash.runtime_stack[skip..])?;
        }
        if let Some(g) = gs.first_mut()
            && Some(g.id) == crash.goroutine
        {
            self.p.fill_stack(g);
            // The frames of the crash itself (raise, dieFromSignal, fatalpanic…) ran after the
            // runtime printed its traceback; show the stack from where the runtime did.
            let skip = crash_machinery(&g.frames);
            let hidden: Vec<Frame<'p>> = g.frames.drain(..skip).collect();
            writeln!(w)?;
            write_goroutine(w, g)?;
            if !hidden.is_empty() {
                writeln!(
                    w,
                    "({} frames of the runtime's crash handling above {} not shown; see: goroutine {})",
                    hidden.len(),
                    g.frames.first().map_or(String::new(), |f| f.print_name()),
                    g.id
                )?;
            }
        }
        writeln!(w)?;
        if summary.total_goroutines == 0 {
            return Ok(no_goroutines_status(0));
        }
        write!(w, "{} goroutines:", summary.total_goroutines)?;
        let mut by: Vec<(&String, &usize)> = summary.goroutine_counts.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (i, (k, n)) in by.iter().enumerate() {
            write!(w, "{} {n} {k}", if i == 0 { "" } else { "," })?;
        }
        writeln!(w)?;
        writeln!(
            w,
            "(goscope core {} {} goroutines --stacks --group: every stack)",
            self.bin_path.display(),
            self.core_path.display()
        )?;
        Ok(0)
    }

    fn goroutines(
        &self,
        w: &mut impl Write,
        warnings: &mut Vec<String>,
        view: &ListView,
        all: bool,
    ) -> Result<u8> {
        let mut gs = self.headers(warnings, all)?;
        let layout = self.core.layout();
        let pid = layout.process.as_ref().map(|x| x.pid);
        let crash = self
            .p
            .crash(layout.siginfo.map(|s| (s.signo, s.code, s.addr)), pid);
        let view = ListView {
            first: crash.goroutine,
            ..view.clone()
        };
        write_list(w, self.p, &mut gs, &view)?;
        Ok(no_goroutines_status(gs.len()))
    }

    fn one_goroutine(&self, w: &mut impl Write, warnings: &mut Vec<String>, id: u64) -> Result<u8> {
        let gs = self.headers(warnings, true)?;
        let Some(mut g) = gs.into_iter().find(|g| g.id == id) else {
            bail!("no goroutine {id} in the core (see: goscope core BIN CORE goroutines)");
        };
        self.p.fill_stack(&mut g);
        let panics = self.p.panics(&g);
        if self.json {
            #[derive(Serialize)]
            struct One<'g, 'p> {
                #[serde(flatten)]
                g: &'g Goroutine<'p>,
                panics: &'g [goscope_runtime::PanicInfo],
            }
            output::json_pretty(
                w,
                &One {
                    g: &g,
                    panics: &panics,
                },
            )?;
            return Ok(0);
        }
        writeln!(w, "{}", header(&g))?;
        writeln!(w, "  g at {:#x}, status {}", g.addr, g.status)?;
        if let Some(t) = g.thread {
            writeln!(
                w,
                "  running on thread {t}{}",
                g.m.map(|m| format!(" (m {m})")).unwrap_or_default()
            )?;
        }
        if let Some(s) = &g.start_function {
            writeln!(w, "  started in {}", print_name(s))?;
        }
        for (k, v) in &g.labels {
            writeln!(w, "  label {k}={v}")?;
        }
        if !panics.is_empty() {
            writeln!(
                w,
                "  {}",
                Snapshot::panic_message(&panics).replace('\n', "\n  ")
            )?;
            write_panic_values(w, &panics, "    ")?;
        }
        writeln!(w)?;
        // Numbered, as `disassemble --frame N` and `print --frame N` count them.
        for (i, f) in g.frames.iter().enumerate() {
            write!(w, "#{i} ")?;
            write_frame_position(w, f)?;
            if let (Some(off), Some(sp), Some(fp)) = (f.offset, f.sp, f.fp) {
                write!(w, " +{off:#x} fp={fp:#x} sp={sp:#x} pc={:#x}", f.pc)?;
            }
            writeln!(w)?;
        }
        if let Some(c) = &g.created_by {
            write!(w, "created by {}", print_name(&c.function))?;
            if let Some(parent) = c.goroutine {
                write!(w, " in goroutine {parent}")?;
            }
            writeln!(w)?;
            writeln!(w, "\t{}:{} +{:#x}", c.file, c.line, c.offset)?;
        }
        for wn in &g.warnings {
            writeln!(w, "(warning: {wn})")?;
        }
        Ok(0)
    }

    fn threads(&self, w: &mut impl Write) -> Result<u8> {
        #[derive(Serialize)]
        struct ThreadJson<'t, 'p> {
            tid: u32,
            m: Option<i64>,
            goroutine: Option<u64>,
            signal: u16,
            #[serde(serialize_with = "goscope_runtime::hex")]
            pc: u64,
            #[serde(serialize_with = "goscope_runtime::hex")]
            sp: u64,
            function: Option<String>,
            /// Frames on the thread's own stacks (g0, signal stack, C).
            system_stack: Vec<Frame<'p>>,
            #[serde(skip)]
            _t: std::marker::PhantomData<&'t ()>,
        }
        let p = self.p;
        let mut all = Vec::new();
        for (i, t) in p.threads().iter().enumerate() {
            // The kernel writes the fatal signal into every thread's status note; the thread
            // that received it is the first one (its note comes with the core's siginfo).
            let signal = if i == 0 { t.signal } else { 0 };
            let m = p.m_of_thread(t.tid);
            let curg = m.map_or(0, |m| m.curg);
            let raw = p.thread_raw_frames(u64::from(t.tid));
            let system: Vec<_> = raw
                .iter()
                .copied()
                .filter(|f| curg == 0 || f.g != curg)
                .collect();
            let gid = (curg != 0)
                .then(|| p.goroutine(curg).ok().map(|g| g.id))
                .flatten();
            let function =
                p.rt.bin
                    .func_at(p.unbias(t.regs.pc()))
                    .map(|f| f.name().to_string());
            all.push(ThreadJson {
                tid: t.tid,
                m: m.map(|m| m.id),
                goroutine: gid,
                signal,
                pc: t.regs.pc(),
                sp: t.regs.sp(),
                function,
                system_stack: p.frames(&system),
                _t: std::marker::PhantomData,
            });
        }
        if self.json {
            output::json_pretty(w, &all)?;
            return Ok(0);
        }
        for t in &all {
            writeln!(
                w,
                "thread {}{}{}{}: pc={:#x} {}",
                t.tid,
                t.m.map(|m| format!(" m={m}")).unwrap_or_default(),
                t.goroutine
                    .map(|g| format!(" goroutine={g}"))
                    .unwrap_or_default(),
                if t.signal != 0 {
                    format!(
                        " signal={}",
                        goscope_target::signal_name(i32::from(t.signal))
                    )
                } else {
                    String::new()
                },
                t.pc,
                t.function.as_deref().unwrap_or("?"),
            )?;
            for f in &t.system_stack {
                writeln!(
                    w,
                    "    {} {}:{}",
                    print_name(&f.function),
                    short(&f.file),
                    f.line
                )?;
            }
        }
        Ok(0)
    }

    fn regs(&self, w: &mut impl Write, tid: Option<u64>) -> Result<u8> {
        let threads = self.p.threads();
        let t = match tid {
            Some(id) => threads
                .iter()
                .find(|t| u64::from(t.tid) == id)
                .with_context(|| {
                    let ids: Vec<String> = threads.iter().map(|t| t.tid.to_string()).collect();
                    format!("no thread {id} in the core (threads: {})", ids.join(" "))
                })?,
            None => threads.first().context("the core has no threads")?,
        };
        if self.json {
            #[derive(Serialize)]
            struct R<'r> {
                tid: u32,
                registers: &'r goscope_target::Registers,
            }
            output::json_pretty(
                w,
                &R {
                    tid: t.tid,
                    registers: &t.regs,
                },
            )?;
            return Ok(0);
        }
        writeln!(w, "thread {}:", t.tid)?;
        for (name, v) in t.regs.iter() {
            let sym = self
                .p
                .rt
                .bin
                .func_at(self.p.unbias(v))
                .map(|f| format!("  {}+{:#x}", f.name(), self.p.unbias(v) - f.entry()))
                .unwrap_or_default();
            writeln!(w, "{name:>9} = {v:#018x}{sym}")?;
        }
        Ok(0)
    }

    fn examine(&self, w: &mut impl Write, addr: u64, len: u64) -> Result<u8> {
        if len > 1 << 20 {
            bail!("at most 1 MiB at a time ({len} bytes asked)");
        }
        let mut bytes = Vec::with_capacity(len as usize);
        let mut first_err = None;
        for i in 0..len {
            match self.core.read_u8(addr + i) {
                Ok(b) => bytes.push(Some(b)),
                Err(e) => {
                    first_err.get_or_insert(e);
                    bytes.push(None);
                }
            }
        }
        if bytes.iter().all(Option::is_none) && len > 0 {
            bail!("{}", first_err.map(|e| e.to_string()).unwrap_or_default());
        }
        if self.json {
            #[derive(Serialize)]
            struct X {
                #[serde(serialize_with = "goscope_runtime::hex")]
                addr: u64,
                bytes: Vec<Option<u8>>,
            }
            output::json_pretty(w, &X { addr, bytes })?;
            return Ok(0);
        }
        for (i, row) in bytes.chunks(16).enumerate() {
            write!(w, "{:#014x}:", addr + 16 * i as u64)?;
            for b in row {
                match b {
                    Some(b) => write!(w, " {b:02x}")?,
                    None => write!(w, " ??")?,
                }
            }
            for _ in row.len()..16 {
                write!(w, "   ")?;
            }
            write!(w, "  ")?;
            for b in row {
                let c = b
                    .filter(|c| (0x20..0x7f).contains(c))
                    .map_or('.', char::from);
                write!(w, "{c}")?;
            }
            writeln!(w)?;
        }
        Ok(0)
    }

    #[allow(clippy::too_many_arguments)]
    fn disassemble(
        &self,
        w: &mut impl Write,
        warnings: &mut Vec<String>,
        goroutine: Option<u64>,
        frame: Option<usize>,
        context: Option<usize>,
        syntax: SyntaxArg,
        annotate: bool,
    ) -> Result<u8> {
        use goscope_disasm::listing::{Options, Program};
        let p = self.p;
        let id = match goroutine {
            Some(id) => id,
            None => {
                let layout = self.core.layout();
                p.crash(
                    layout.siginfo.map(|s| (s.signo, s.code, s.addr)),
                    layout.process.as_ref().map(|x| x.pid),
                )
                .goroutine
                .context("no goroutine failed; name one with --goroutine ID")?
            }
        };
        let gs = self.headers(warnings, true)?;
        let mut g = gs
            .into_iter()
            .find(|g| g.id == id)
            .with_context(|| format!("no goroutine {id} in the core"))?;
        p.fill_stack(&mut g);
        // Default: the innermost frame outside the runtime (where user code is), else the
        // first frame above the crash handling.
        let index = frame.unwrap_or_else(|| default_frame(&g.frames));
        let f = g.frames.get(index).with_context(|| {
            format!(
                "goroutine {id} has {} frames (0 to {}); see: goroutine {id}",
                g.frames.len(),
                g.frames.len().saturating_sub(1)
            )
        })?;
        let at = p.unbias(f.instruction_pc());
        let prog = Program::new(p.rt.bin)?;
        let func = prog
            .select(at, at + 1, |_| true)
            .into_iter()
            .next()
            .with_context(|| format!("pc {:#x} is in no function of the binary", f.pc))?
            .clone();
        let opts = Options {
            syntax: match syntax {
                SyntaxArg::Go => goscope_disasm::Syntax::Go,
                SyntaxArg::Intel => goscope_disasm::Syntax::Intel,
                SyntaxArg::Gnu => goscope_disasm::Syntax::Gnu,
            },
            annotate,
            inline: annotate,
        };
        let listing = prog.list(&func, func.addr.wrapping_add(func.size), &opts);
        let cur = listing
            .insns
            .iter()
            .position(|i| i.address <= at && at < i.address + u64::from(i.len));
        let (lo, hi) = match (context, cur) {
            (Some(n), Some(c)) => (c.saturating_sub(n), (c + n + 1).min(listing.insns.len())),
            _ => (0, listing.insns.len()),
        };
        if self.json {
            #[derive(Serialize)]
            struct Line<'l> {
                /// Runtime address (the link-time address plus the load bias).
                #[serde(serialize_with = "goscope_runtime::hex")]
                address: u64,
                current: bool,
                len: u8,
                text: &'l str,
                file: &'l str,
                line: i32,
                #[serde(skip_serializing_if = "<[_]>::is_empty")]
                inline: &'l [goscope_disasm::listing::InlineFrame],
                #[serde(skip_serializing_if = "<[_]>::is_empty")]
                annotations: &'l [goscope_disasm::annotate::Annotation],
            }
            #[derive(Serialize)]
            struct Dis<'l> {
                goroutine: u64,
                frame: usize,
                function: &'l str,
                #[serde(serialize_with = "goscope_runtime::hex")]
                pc: u64,
                instructions: Vec<Line<'l>>,
            }
            let instructions = listing.insns[lo..hi]
                .iter()
                .enumerate()
                .map(|(i, insn)| Line {
                    address: insn.address.wrapping_add(p.bias),
                    current: Some(lo + i) == cur,
                    len: insn.len,
                    text: &insn.text,
                    file: &insn.file,
                    line: insn.line,
                    inline: &insn.inline,
                    annotations: &insn.annotations,
                })
                .collect();
            output::json_pretty(
                w,
                &Dis {
                    goroutine: id,
                    frame: index,
                    function: &listing.name,
                    pc: f.pc,
                    instructions,
                },
            )?;
            return Ok(0);
        }
        writeln!(
            w,
            "goroutine {id} frame {index}: {} at {}:{} (pc {:#x})",
            f.print_name(),
            f.file,
            f.line,
            f.pc
        )?;
        writeln!(w, "TEXT {}(SB) {}", listing.name, listing.file)?;
        let rows: Vec<output::ListingRow> = listing.insns[lo..hi]
            .iter()
            .enumerate()
            .map(|(i, insn)| output::ListingRow {
                mark: if Some(lo + i) == cur { "=>" } else { "" }.to_string(),
                position: format!("{}:{}", short(&insn.file), insn.line),
                address: insn.address.wrapping_add(p.bias),
                bytes: prog
                    .bytes(insn)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                text: insn.text.clone(),
                notes: insn.annotations.iter().map(|a| a.text()).collect(),
            })
            .collect();
        output::write_listing(w, &rows)?;
        Ok(0)
    }

    /// The goroutine `id` (default: the one that failed) with its stack.
    fn goroutine_with_stack(
        &self,
        warnings: &mut Vec<String>,
        goroutine: Option<u64>,
    ) -> Result<Goroutine<'p>> {
        let p = self.p;
        let id = match goroutine {
            Some(id) => id,
            None => {
                let layout = self.core.layout();
                p.crash(
                    layout.siginfo.map(|s| (s.signo, s.code, s.addr)),
                    layout.process.as_ref().map(|x| x.pid),
                )
                .goroutine
                .context("no goroutine failed; name one with --goroutine ID")?
            }
        };
        let gs = self.headers(warnings, true)?;
        let mut g = gs
            .into_iter()
            .find(|g| g.id == id)
            .with_context(|| format!("no goroutine {id} in the core"))?;
        p.fill_stack(&mut g);
        Ok(g)
    }

    /// Evaluates `expr` in frame `frame` (default: the first user frame) of goroutine
    /// `goroutine` (default: the failing one).
    fn eval_value(
        &self,
        warnings: &mut Vec<String>,
        expr: &str,
        goroutine: Option<u64>,
        frame: Option<usize>,
    ) -> Result<goscope_runtime::expr::Value> {
        // A malformed expression is reported before anything is read.
        let e = goscope_runtime::expr::Expr::parse(expr)?;
        let g = self.goroutine_with_stack(warnings, goroutine)?;
        self.eval_in(
            warnings,
            &e,
            &g,
            frame.unwrap_or_else(|| default_frame(&g.frames)),
        )
    }

    /// Evaluates `e` in frame `index` of `g` (its stack already read).
    fn eval_in(
        &self,
        warnings: &mut Vec<String>,
        e: &goscope_runtime::expr::Expr,
        g: &Goroutine<'p>,
        index: usize,
    ) -> Result<goscope_runtime::expr::Value> {
        use goscope_runtime::expr::{EvalContext, FrameInfo};
        let p = self.p;
        // Registers: the thread's where it stopped in this goroutine's innermost frame, or
        // what a signal saved where it interrupted it.
        let regs = p.innermost_registers(g);
        let fi = FrameInfo::from_frames(&g.frames, index, regs, Some(g.id), g.addr)
            .with_context(|| format!("frame {index} has no physical frame"))?;
        let ctx = EvalContext {
            rt: p.rt,
            mem: self.core,
            bias: p.bias,
            frame: fi,
        };
        let v = ctx.eval(e)?;
        warnings.extend(v.notes().iter().cloned());
        Ok(v)
    }

    fn print(
        &self,
        w: &mut impl Write,
        warnings: &mut Vec<String>,
        expr: &str,
        goroutine: Option<u64>,
        frame: Option<usize>,
    ) -> Result<u8> {
        // A malformed expression is reported before anything is read.
        let e = goscope_runtime::expr::Expr::parse(expr)?;
        let g = self.goroutine_with_stack(warnings, goroutine)?;
        let index = frame.unwrap_or_else(|| default_frame(&g.frames));
        let f = g.frames.get(index).with_context(|| {
            format!(
                "goroutine {} has {} frames (0 to {}); see: goroutine {}",
                g.id,
                g.frames.len(),
                g.frames.len().saturating_sub(1),
                g.id
            )
        })?;
        // The goroutine's stack is read once, for the frame and for the evaluation.
        let v = self.eval_in(warnings, &e, &g, index)?;
        if self.json {
            #[derive(Serialize)]
            struct PrintJson<'v> {
                goroutine: u64,
                frame: usize,
                function: &'v str,
                expr: &'v str,
                value: &'v goscope_runtime::expr::Value,
            }
            output::json_pretty(
                w,
                &PrintJson {
                    goroutine: g.id,
                    frame: index,
                    function: &f.function,
                    expr: e.text(),
                    value: &v,
                },
            )?;
            return Ok(0);
        }
        writeln!(w, "{}", v.delve_string())?;
        Ok(0)
    }

    fn map(
        &self,
        w: &mut impl Write,
        warnings: &mut Vec<String>,
        addr: u64,
        type_name: Option<&str>,
        guessed: bool,
    ) -> Result<u8> {
        let m = self.p.read_map(addr, type_name);
        let plausible = |m: &goscope_runtime::maps::MapContents| match &m.header {
            goscope_runtime::maps::MapHeader::Hashmap { count, b, .. } => {
                *count <= 1 << 34 && *b <= 48
            }
            goscope_runtime::maps::MapHeader::Swiss {
                used,
                dir_len,
                global_depth,
                ..
            } => *used <= 1 << 34 && *dir_len <= 1 << 30 && *global_depth <= 64,
        };
        if m.as_ref().is_none_or(|m| !plausible(m)) {
            // The address of a map variable holds a pointer to the header: say so.
            if let Ok(ptr) = goscope_target::Memory::read_ptr(self.core, addr)
                && ptr != 0
                && self
                    .p
                    .read_map(ptr, type_name)
                    .is_some_and(|m| plausible(&m))
            {
                bail!(
                    "{addr:#x} holds a pointer to a map, not a map header: try map {ptr:#x} \
                     (or name the variable: map main.registry)"
                );
            }
        }
        let m = m
            .filter(plausible)
            .with_context(|| format!("no plausible map header at {addr:#x}"))?;
        warnings.extend(m.warnings.iter().cloned());
        if self.json {
            output::json_pretty(w, &m)?;
            return Ok(0);
        }
        match &m.header {
            goscope_runtime::maps::MapHeader::Hashmap {
                count,
                flags,
                b,
                noverflow,
                writing,
                growing,
                ..
            } => writeln!(
                w,
                "hash map at {addr:#x}: {count} entries, B={b} ({} buckets), flags={flags:#x}{}{}, ~{noverflow} overflow buckets",
                1u64 << b,
                if *writing {
                    " (a write is in progress)"
                } else {
                    ""
                },
                if *growing { " (growing)" } else { "" },
            )?,
            goscope_runtime::maps::MapHeader::Swiss {
                used,
                dir_len,
                global_depth,
                writing,
                tables,
                ..
            } => writeln!(
                w,
                "swiss map at {addr:#x}: {used} entries, {}{}",
                if *dir_len == 0 {
                    "one small group".to_string()
                } else {
                    format!("directory of {dir_len} (global depth {global_depth}), {tables} tables")
                },
                if *writing {
                    ", a write is in progress"
                } else {
                    ""
                }
            )?,
        }
        if let Some(t) = &m.map_type {
            let alt = match (guessed, m.also_fits.is_empty()) {
                (false, _) => String::new(),
                (true, true) => " (guessed from the binary's map types: give --type, or the \
                                  variable's name)"
                    .to_string(),
                (true, false) => format!(
                    " (guessed; also fits {}: give --type, or the variable's name)",
                    m.also_fits.join(", ")
                ),
            };
            writeln!(w, "type {}{alt}", t.name)?;
            writeln!(w, "{}", m.display())?;
        }
        Ok(0)
    }
}

/// A Go process always has a goroutine: none read means the core could not be read (partial
/// results, an input error for scripts).
fn no_goroutines_status(read: usize) -> u8 {
    if read == 0 {
        eprintln!(
            "goscope: no goroutine could be read from the core: it is truncated or damaged; \
             the other messages say what is missing"
        );
        crate::EXIT_ERROR
    } else {
        crate::EXIT_OK
    }
}
