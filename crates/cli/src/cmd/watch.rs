//! What `trace` and `locks` share: the program watched (a running process, or one goscope
//! starts), the window of time probes stay in, and the ptrace fallback where perf uprobes are
//! not available.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use goscope_binary::Binary;
use goscope_target::live::{LiveProcess, signals};
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// The watched program.
pub struct Watched {
    /// Its process id.
    pub pid: i32,
    /// Its executable.
    pub bin: Arc<Binary>,
    /// The file probes are placed in.
    pub probe_path: PathBuf,
    /// Started by goscope (stopped until [`Watched::go`], killed when goscope is done).
    pub launched: bool,
    live: Option<LiveProcess>,
    exited: std::cell::RefCell<Option<String>>,
}

/// `-p PID` or `-- PROG ARGS`.
pub fn open(pid: Option<i32>, command: &[String]) -> Result<Watched> {
    signals::install();
    match (pid, command.split_first()) {
        (Some(_), Some(_)) => bail!("give either -p PID or -- PROG ARGS, not both"),
        (None, None) => bail!("say which program: -p PID, or -- PROG ARGS to start one"),
        (Some(pid), None) => {
            let o = crate::cmd::live::open(pid, None)?;
            // Memory is where goroutine ids come from: fail now if it cannot be read.
            let mut probe = [0u8; 1];
            let entry = o.bin.entry();
            let bias = o.live.bias(entry);
            if let Err(e) =
                goscope_target::Memory::read(o.live.memory(), entry.wrapping_add(bias), &mut probe)
            {
                bail!(
                    "process {pid} ({}): goscope may not read its memory ({e}); run goscope as the process's user or as root",
                    o.live.command()
                );
            }
            Ok(Watched {
                pid,
                bin: o.bin,
                probe_path: PathBuf::from(format!("/proc/{pid}/exe")),
                launched: false,
                live: Some(o.live),
                exited: Default::default(),
            })
        }
        (None, Some((prog, args))) => {
            let path = resolve_program(prog)?;
            let bin = Binary::open(&path).with_context(|| {
                format!("{}: not an executable goscope can read", path.display())
            })?;
            if bin.pclntab().funcs().next().is_none() {
                bail!("{} is not a Go program", path.display());
            }
            // A shell stops itself and, once the probes are in, execs the program: no call of
            // the program is missed.
            let child = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg("kill -STOP $$ && exec \"$0\" \"$@\"")
                .arg(&path)
                .args(args)
                .spawn()
                .with_context(|| format!("starting {}", path.display()))?;
            let pid = child.id() as i32;
            loop {
                match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WUNTRACED)) {
                    Ok(WaitStatus::Stopped(..)) => break,
                    Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => {
                        bail!("{} could not be started", path.display())
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => bail!("waiting for {} to start: {e}", path.display()),
                }
            }
            Ok(Watched {
                pid,
                bin: Arc::new(bin),
                probe_path: path,
                launched: true,
                live: None,
                exited: Default::default(),
            })
        }
    }
}

fn resolve_program(prog: &str) -> Result<PathBuf> {
    let p = Path::new(prog);
    if p.components().count() > 1 || p.exists() {
        return std::fs::canonicalize(p).with_context(|| format!("no program {prog}"));
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let c = dir.join(prog);
        if c.is_file() {
            return Ok(c);
        }
    }
    bail!("no program {prog} (not a path, not on PATH)")
}

impl Watched {
    /// Lets a launched program start (a running one already runs) and opens its memory.
    pub fn go(&mut self) -> Result<()> {
        if !self.launched {
            return Ok(());
        }
        signal::kill(Pid::from_raw(self.pid), Signal::SIGCONT).context("SIGCONT")?;
        // Until the exec is done, /proc/PID is the shell's.
        let want = std::fs::canonicalize(&self.probe_path).unwrap_or(self.probe_path.clone());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let exe = std::fs::read_link(format!("/proc/{}/exe", self.pid));
            if exe.as_ref().is_ok_and(|e| *e == want) {
                break;
            }
            if !self.running() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        self.live = LiveProcess::open(self.pid).ok();
        Ok(())
    }

    /// The process's memory (after [`Watched::go`]).
    pub fn live(&self) -> Option<&LiveProcess> {
        self.live.as_ref()
    }

    /// PIE load bias.
    pub fn bias(&self) -> u64 {
        self.live.as_ref().map_or(0, |l| l.bias(self.bin.entry()))
    }

    /// Whether the process still runs (a launched one that ended is reaped here).
    pub fn running(&self) -> bool {
        if self.exited.borrow().is_some() {
            return false;
        }
        if self.launched {
            match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => {
                    *self.exited.borrow_mut() = Some(format!("exited with status {code}"));
                    return false;
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    *self.exited.borrow_mut() = Some(format!("was killed by {sig}"));
                    return false;
                }
                _ => return true,
            }
        }
        let alive = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')))
            .unwrap_or(false);
        if !alive {
            *self.exited.borrow_mut() = Some("exited".into());
        }
        alive
    }

    /// How the program ended, if it did.
    pub fn ended(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// Ends a launched program (an attached one runs on).
    pub fn finish(&mut self) {
        if self.launched && self.running() {
            let _ = signal::kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(self.pid), None);
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.finish();
    }
}

/// When the watch ends: after `duration`, at Ctrl-C (SIGINT, SIGTERM, SIGHUP), or when the
/// program ends.
pub struct Window {
    start: Instant,
    deadline: Option<Instant>,
    /// A bar of the window's time on the terminal (`record`, `locks`: nothing streams to
    /// stdout meanwhile).
    bar: Option<indicatif::ProgressBar>,
}

impl Window {
    /// A window starting now.
    pub fn new(duration: Option<Duration>) -> Window {
        let start = Instant::now();
        Window {
            start,
            deadline: duration.map(|d| start + d),
            bar: None,
        }
    }

    /// The same window, with a bar of its time on stderr when stderr is a terminal and the
    /// window has an end.
    pub fn with_bar(mut self, what: &str) -> Window {
        use std::io::IsTerminal;
        if let Some(d) = self.deadline
            && std::io::stderr().is_terminal()
        {
            let total = d.saturating_duration_since(self.start).as_millis() as u64;
            let bar = indicatif::ProgressBar::new(total.max(1));
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {elapsed} of {len}ms")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_string());
            self.bar = Some(bar);
        }
        self
    }

    /// Whether to keep watching.
    pub fn open(&self, w: &Watched) -> bool {
        signals::interrupted().is_none()
            && self.deadline.is_none_or(|d| Instant::now() < d)
            && w.running()
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Reads the probes' samples of `w` until the window closes: each sample through
    /// `convert`, each drained batch to `handle`. The probes are disabled when the window
    /// closes, and what they took until then is still handled.
    pub fn drain<T>(
        &self,
        w: &Watched,
        probes: &mut goscope_probe::uprobes::ProbeSet,
        mut convert: impl FnMut(&goscope_probe::uprobes::Sample<'_>) -> T,
        mut handle: impl FnMut(&[T]) -> Result<()>,
    ) -> Result<()> {
        let pid = w.pid as u32;
        let mut batch = Vec::new();
        loop {
            let more = self.open(w);
            if !more {
                probes.disable();
            }
            let timeout = self.left().map_or(100, |d| d.as_millis().min(100) as i32);
            batch.clear();
            probes.read(pid, if more { timeout } else { 0 }, |s| {
                batch.push(convert(s))
            });
            handle(&batch)?;
            if let Some(bar) = &self.bar {
                bar.set_position(self.start.elapsed().as_millis() as u64);
            }
            if !more {
                if let Some(bar) = &self.bar {
                    bar.finish_and_clear();
                }
                return Ok(());
            }
        }
    }

    /// Time left (`None`: unbounded).
    pub fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Reads the goroutine ids of the g registers `gs` from `w`'s memory, afresh: goroutines end
/// and their g is reused, so nothing read for an earlier batch is kept.
pub fn load_goroutine_ids(
    ids: &mut Option<goscope_probe::goroutines::GoroutineIds>,
    w: &Watched,
    gs: impl IntoIterator<Item = u64>,
) {
    if let (Some(ids), Some(live)) = (ids.as_mut(), w.live()) {
        live.memory().invalidate();
        ids.forget();
        ids.load(live.memory(), gs);
    }
}

/// Ring-buffer pages per CPU.
pub const RING_PAGES: usize = 1024;

/// One probe hit, as trace and locks read it (from a perf sample or a ptrace stop).
#[derive(Debug, Clone)]
pub struct Hit {
    /// Runtime address of the probed instruction.
    pub ip: u64,
    /// Thread.
    pub tid: u32,
    /// `CLOCK_MONOTONIC` nanoseconds.
    pub time_ns: u64,
    /// The g register (R14).
    pub g: u64,
    /// The stack pointer.
    pub sp: u64,
    /// Registers by `PERF_REG_X86_*` index (0 where not sampled).
    pub regs: [u64; 24],
    /// The copied top of the stack, from `sp` up.
    pub stack: Vec<u8>,
}

impl Hit {
    /// From a perf sample taken with register mask `mask`.
    pub fn from_sample(s: &goscope_probe::uprobes::Sample<'_>, mask: u64) -> Hit {
        use goscope_probe::uprobes::{reg, x86_reg};
        let mut regs = [0u64; 24];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = reg(s, mask, i as u32).unwrap_or(0);
        }
        Hit {
            ip: s.ip,
            tid: s.tid,
            time_ns: s.time_ns,
            g: regs[x86_reg::R14 as usize],
            sp: regs[x86_reg::SP as usize],
            regs,
            stack: s.stack.to_vec(),
        }
    }

    /// From a thread stopped at `ip` with `r`.
    fn from_registers(ip: u64, tid: i32, r: &goscope_target::Registers) -> Hit {
        use goscope_probe::uprobes::x86_reg as x;
        let names: [(u32, &str); 17] = [
            (x::AX, "rax"),
            (x::BX, "rbx"),
            (x::CX, "rcx"),
            (x::DX, "rdx"),
            (x::SI, "rsi"),
            (x::DI, "rdi"),
            (x::BP, "rbp"),
            (x::SP, "rsp"),
            (x::IP, "rip"),
            (x::R8, "r8"),
            (x::R9, "r9"),
            (x::R10, "r10"),
            (x::R11, "r11"),
            (x::R12, "r12"),
            (x::R13, "r13"),
            (x::R14, "r14"),
            (x::R15, "r15"),
        ];
        let mut regs = [0u64; 24];
        for (i, n) in names {
            regs[i as usize] = r.get(n).unwrap_or(0);
        }
        regs[x::IP as usize] = ip;
        Hit {
            ip,
            tid: tid as u32,
            time_ns: goscope_target::live::monotonic_ns() as u64,
            g: regs[x::R14 as usize],
            sp: regs[x::SP as usize],
            regs,
            stack: Vec::new(),
        }
    }
}

/// What the ptrace fallback cost the program.
#[derive(Debug, Default, Clone, Copy)]
pub struct FallbackCost {
    /// Breakpoint hits.
    pub events: u64,
    /// Total time threads stayed stopped in goscope's hands.
    pub stopped_ns: u64,
}

impl FallbackCost {
    /// Mean stop per event.
    pub fn per_event_ns(&self) -> u64 {
        self.stopped_ns.checked_div(self.events).unwrap_or(0)
    }
}

/// The ptrace-breakpoint fallback: an int3 at each probe place; each hit stops its thread,
/// is recorded, single-steps the original instruction and resumes.
pub struct Fallback {
    tracer: goscope_debug::tracer::Tracer,
    pid: i32,
    bias: u64,
    keep: bool,
}

impl Fallback {
    /// Takes over `w` (a launched program is started again under ptrace).
    pub fn start(w: &mut Watched, command: &[String]) -> Result<Fallback> {
        use goscope_debug::tracer::Tracer;
        signals::install_for_debugger();
        let keep = !w.launched;
        let tracer = if w.launched {
            w.finish();
            let t = Tracer::launch(&w.probe_path, command.get(1..).unwrap_or(&[]), false, false)?;
            let pid = t.procs.keys().next().copied().unwrap_or(0);
            w.pid = pid;
            w.exited = Default::default();
            w.live = LiveProcess::open(pid).ok();
            t
        } else {
            Tracer::attach(w.pid, false)?
        };
        // The tracer owns the process now: nothing else waits for it or kills it.
        w.launched = false;
        Ok(Fallback {
            tracer,
            pid: w.pid,
            bias: w.bias(),
            keep,
        })
    }

    /// Breakpoints at link-time `pcs` for the window; `handle` sees each hit while its thread
    /// is stopped. Returns the cost and how the program ended, if it did.
    pub fn run(
        mut self,
        pcs: &[u64],
        window: &Window,
        mut handle: impl FnMut(&[Hit]) -> Result<()>,
    ) -> Result<(FallbackCost, Option<String>)> {
        use goscope_debug::tracer::{Event, TraceError};
        let pid = self.pid;
        let bps: HashSet<u64> = pcs.iter().map(|p| p.wrapping_add(self.bias)).collect();
        let result = (|| -> Result<(FallbackCost, Option<String>)> {
            // Up to four places: debug registers, which need no code patched and no step
            // over (a thread resumes past one with RF), so no hit is missed. More: int3s,
            // each lifted while its thread steps over it (other threads may miss it then).
            let hardware = bps.len() <= 4;
            if hardware {
                let mut slots = [None; 4];
                for (slot, &addr) in slots.iter_mut().zip(&bps) {
                    *slot = Some(goscope_debug::hw::HwSlot {
                        addr,
                        kind: goscope_debug::hw::HwKind::Execute,
                        len: 1,
                    });
                }
                self.tracer.set_hw(pid, slots)?;
            } else {
                for &bp in &bps {
                    self.tracer.insert_int3(pid, bp)?;
                }
            }
            self.tracer.resume_all()?;
            if let Some(d) = window.left() {
                signals::wake_after(d);
            }
            let mut cost = FallbackCost::default();
            loop {
                if signals::interrupted().is_some() || window.left() == Some(Duration::ZERO) {
                    return Ok((cost, None));
                }
                match self.tracer.wait() {
                    Ok(Event::Trap {
                        tid,
                        pc,
                        int3: true,
                        regs,
                        ..
                    }) if bps.contains(&pc.wrapping_sub(1)) => {
                        let t0 = Instant::now();
                        let bp = pc - 1;
                        handle(&[Hit::from_registers(bp, tid, &regs)])?;
                        self.tracer.remove_int3(pid, bp)?;
                        self.tracer.set_pc(tid, bp, false)?;
                        if let Event::Exited { .. } = self.tracer.step_thread(tid)? {
                            return Ok((cost, Some("exited".into())));
                        }
                        self.tracer.insert_int3(pid, bp)?;
                        self.tracer.resume_thread(tid)?;
                        cost.events += 1;
                        cost.stopped_ns += t0.elapsed().as_nanos() as u64;
                    }
                    Ok(Event::Trap {
                        tid,
                        pc,
                        slots,
                        regs,
                        ..
                    }) if hardware && slots != 0 && bps.contains(&pc) => {
                        let t0 = Instant::now();
                        handle(&[Hit::from_registers(pc, tid, &regs)])?;
                        self.tracer.set_pc(tid, pc, true)?;
                        self.tracer.resume_thread(tid)?;
                        cost.events += 1;
                        cost.stopped_ns += t0.elapsed().as_nanos() as u64;
                    }
                    Ok(Event::Trap { tid, .. }) => self.tracer.resume_thread(tid)?,
                    Ok(Event::Exited { status, signal, .. }) => {
                        let how = match (status, signal) {
                            (Some(s), _) => format!("exited with status {s}"),
                            (_, Some(s)) => format!("was killed by signal {s}"),
                            _ => "exited".into(),
                        };
                        return Ok((cost, Some(how)));
                    }
                    Ok(Event::Interrupted) => {}
                    Ok(_) => self.tracer.resume_all()?,
                    Err(TraceError::Exited) => return Ok((cost, Some("exited".into()))),
                    Err(e) => return Err(e.into()),
                }
            }
        })();
        self.tracer.leave(self.keep);
        result
    }
}

/// Removes `probes`, the hottest first (`heat`: hits per file offset), with progress on
/// stderr when there are many (the kernel takes tens of milliseconds for each).
pub fn remove_probes(
    probes: goscope_probe::uprobes::ProbeSet,
    heat: &std::collections::HashMap<u64, u64>,
) {
    use std::io::IsTerminal;
    let many = probes.placed() > 100;
    let tty = std::io::stderr().is_terminal();
    if many {
        eprintln!(
            "goscope: removing {} probes, the hottest first (the kernel takes a moment for each)",
            probes.placed()
        );
    }
    probes.remove(
        |off| heat.get(&off).copied().unwrap_or(0),
        |done, total| {
            if many && tty && (done % 20 == 0 || done == total) {
                eprint!("\r  {done}/{total} removed");
                if done == total {
                    eprintln!();
                }
            }
        },
    );
}
