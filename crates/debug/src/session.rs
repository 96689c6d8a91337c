//! A debugging session: the traced processes with their binaries and runtime models, the
//! breakpoints and watchpoints, the current thread, goroutine and frame, and the execution of
//! every command. All-stop, as Delve: when the program stops, every thread is stopped; when it
//! runs, every thread runs. Breakpoint conditions are evaluated here, on the thread that hit,
//! while the others keep running: a false condition costs one trap, no round trip.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use goscope_binary::Binary;
use goscope_disasm::listing::{Options, Program};
use goscope_disasm::{Flow, Syntax};
use goscope_runtime::expr::{Cmp, EvalContext, Expr, Filter, FrameInfo, Operand};
use goscope_runtime::{Runtime, Snapshot};
use goscope_target::live::{ProcessMemory, signals};
use goscope_target::{MemResult, Memory, Registers, StopInfo, Target, TargetArch, Thread};

use crate::command::{Command, HELP};
use crate::hw::{self, HwKind, HwSlot};
use crate::locate;
use crate::reply::*;
use crate::tracer::{Event, TraceError, Tracer};
use crate::{bpf, kernel};

/// Why a command failed; the session goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Process control failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A command's argument was wrong (no such function, no debug register left, …).
    #[error("{0}")]
    Command(String),
    /// The executable could not be read.
    #[error("{0}")]
    Binary(String),
    /// goscope was asked to end (SIGTERM, SIGHUP).
    #[error("ended by {0}")]
    Terminated(&'static str),
}

fn cmd_err(s: impl Into<String>) -> SessionError {
    SessionError::Command(s.into())
}

/// What a process runs: its binary, runtime model, listing and load bias.
struct ProcCtx {
    bin: &'static Binary,
    rt: Runtime<'static>,
    prog: Program<'static>,
    bias: u64,
    /// Per breakpoint address: the SP delta and the inline depth, decoded once.
    sites: std::sync::Mutex<HashMap<u64, Option<(i32, u32)>>>,
}

impl ProcCtx {
    fn load(exe: &Path, pid: i32) -> Result<ProcCtx, SessionError> {
        let bin = Binary::open(exe)
            .map_err(|e| SessionError::Binary(format!("{}: {e}", exe.display())))?;
        // The binary lives as long as the session: it is borrowed by its runtime model and
        // listing, and a session loads one per distinct executable it meets.
        let bin: &'static Binary = Box::leak(Box::new(bin));
        let rt = Runtime::new(bin)
            .map_err(|e| SessionError::Binary(format!("{}: {e}", exe.display())))?;
        let prog = Program::new(bin)
            .map_err(|e| SessionError::Binary(format!("{}: {e}", exe.display())))?;
        let bias = auxv_entry(pid).map_or(0, |e| e.wrapping_sub(bin.entry()));
        Ok(ProcCtx {
            bin,
            rt,
            prog,
            bias,
            sites: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// At runtime pc `pc`: the function's SP delta (for the frame address) and how deep in
    /// inlined calls the pc is. Decoded from the pclntab once per address.
    fn site_facts(&self, pc: u64) -> Option<(i32, u32)> {
        let link = pc.wrapping_sub(self.bias);
        let mut memo = self.sites.lock().unwrap_or_else(|e| e.into_inner());
        *memo.entry(link).or_insert_with(|| {
            let delta = self.bin.func_at(link)?.sp_delta_at(link)?;
            let depth = self.bin.frames_at(link).len().saturating_sub(1);
            Some((delta, u32::try_from(depth).unwrap_or(u32::MAX)))
        })
    }
}

fn auxv_entry(pid: i32) -> Option<u64> {
    let b = std::fs::read(format!("/proc/{pid}/auxv")).ok()?;
    b.chunks_exact(16).find_map(|p| {
        let k = u64::from_le_bytes(p[..8].try_into().ok()?);
        (k == 9).then(|| u64::from_le_bytes(p[8..].try_into().unwrap_or([0; 8])))
    })
}

/// A stopped process as a [`Target`]: its memory and its threads' registers.
struct Stopped<'a> {
    mem: &'a ProcessMemory,
    threads: Vec<Thread>,
    bias: u64,
    exe: PathBuf,
    pid: i32,
}

impl Memory for Stopped<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> MemResult<()> {
        self.mem.read(addr, buf)
    }
    fn read_many(&self, requests: &mut [(u64, &mut [u8])]) -> Vec<MemResult<()>> {
        self.mem.read_many(requests)
    }
}

impl Target for Stopped<'_> {
    fn arch(&self) -> TargetArch {
        TargetArch::Amd64
    }
    fn threads(&self) -> &[Thread] {
        &self.threads
    }
    fn executable(&self) -> Option<PathBuf> {
        Some(self.exe.clone())
    }
    fn bias(&self) -> u64 {
        self.bias
    }
    fn stop(&self) -> StopInfo {
        StopInfo {
            pid: Some(self.pid),
            signal: None,
            live: true,
            monotonic_ns: Some(goscope_target::live::monotonic_ns()),
        }
    }
}

/// A breakpoint's condition.
#[derive(Debug, Clone)]
enum Condition {
    /// `goroutine == N` / `goroutine != N`, decided from the g alone.
    Goroutine { equal: bool, id: u64 },
    /// Any other expression, evaluated in the innermost frame of the thread that hit.
    Expr(Box<Expr>),
}

fn parse_condition(text: &str) -> Result<Condition, SessionError> {
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (op, equal) in [("==", true), ("!=", false)] {
        if let Some((l, r)) = t.split_once(op) {
            let (l, r) = (l.trim(), r.trim());
            let id = if l == "goroutine" {
                r.parse().ok()
            } else if r == "goroutine" {
                l.parse().ok()
            } else {
                None
            };
            if let Some(id) = id {
                return Ok(Condition::Goroutine { equal, id });
            }
        }
    }
    Expr::parse(text)
        .map(|e| Condition::Expr(Box::new(e)))
        .map_err(|e| cmd_err(format!("condition {text:?}: {e}")))
}

/// Where a breakpoint is placed in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// Debug register `slot`.
    Hardware(usize),
    /// A perf event holding debug register `slot`'s place (see [`crate::kernel`]): it belongs
    /// to goscope's descriptor, so the kernel removes it if goscope dies, where a debug
    /// register set through ptrace stays armed; with `true`, its goroutine and condition are
    /// filtered in the kernel by a BPF program.
    Kernel(usize, bool),
    /// An int3 in the code.
    Int3,
}

#[derive(Debug, Clone)]
struct Site {
    pid: i32,
    addr: u64,
    how: How,
}

#[derive(Debug, Clone)]
enum Kind {
    Code,
    Watch {
        access: HwKind,
        addr: u64,
        len: u8,
        old: u64,
    },
}

#[derive(Debug, Clone)]
struct Breakpoint {
    id: u32,
    spec: String,
    kind: Kind,
    sites: Vec<Site>,
    cond: Option<(String, Condition)>,
    goroutine: Option<u64>,
    hits: BTreeMap<u64, u64>,
    total: u64,
    /// Hits whose goroutine and condition goscope evaluated: every hit, or for a breakpoint
    /// filtered in the kernel, the hits its filter passed.
    evaluated: u64,
}

/// What a run stops at besides breakpoints: the end of `ni` or `stepout`.
#[derive(Debug, Clone, Copy)]
struct Until {
    addr: u64,
    goroutine: Option<u64>,
    /// Only when the stack pointer is above this (the frame returned, not a recursive call).
    min_sp: u64,
}

/// How a session starts.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Trace forked children (and their execs).
    pub follow_fork: bool,
    /// After `exec`: leave the program running when the session ends instead of killing it.
    pub keep: bool,
}

/// The current thread, goroutine and frame.
#[derive(Debug, Clone, Copy, Default)]
struct Current {
    pid: i32,
    tid: i32,
    goroutine: Option<u64>,
    frame: usize,
}

/// A debugging session.
pub struct Session {
    tracer: Tracer,
    ctx: HashMap<i32, ProcCtx>,
    main_pid: i32,
    cur: Current,
    bps: BTreeMap<u32, Breakpoint>,
    next_id: u32,
    keep: bool,
    attached: bool,
    ended: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.ended {
            self.leave();
        }
    }
}

impl Session {
    /// Starts `program` with `args`, stopped at its first instruction.
    pub fn exec(
        program: &Path,
        args: &[String],
        opts: &SessionOptions,
    ) -> Result<Session, SessionError> {
        signals::install_for_debugger();
        let tracer = Tracer::launch(program, args, opts.follow_fork, opts.keep)?;
        Session::with(tracer, opts, false)
    }

    /// Attaches to process `pid` and stops it.
    pub fn attach(pid: i32, opts: &SessionOptions) -> Result<Session, SessionError> {
        signals::install_for_debugger();
        let tracer = Tracer::attach(pid, opts.follow_fork)?;
        Session::with(tracer, opts, true)
    }

    fn with(
        tracer: Tracer,
        opts: &SessionOptions,
        attached: bool,
    ) -> Result<Session, SessionError> {
        let (&pid, p) = tracer
            .procs
            .iter()
            .next()
            .ok_or(SessionError::Trace(TraceError::Exited))?;
        let exe = p.exe.clone();
        let tid = p.threads.keys().next().copied().unwrap_or(pid);
        let mut s = Session {
            tracer,
            ctx: HashMap::new(),
            main_pid: pid,
            cur: Current {
                pid,
                tid,
                goroutine: None,
                frame: 0,
            },
            bps: BTreeMap::new(),
            next_id: 1,
            keep: opts.keep,
            attached,
            ended: false,
        };
        let ctx = ProcCtx::load(&exe_path(pid, &exe), pid)?;
        s.ctx.insert(pid, ctx);
        s.cur.goroutine = s.goroutine_of(pid, tid);
        Ok(s)
    }

    /// The main process's id.
    pub fn pid(&self) -> i32 {
        self.main_pid
    }

    /// Whether the session has ended (`detach`, `exit`, the program exited).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Runs one command.
    pub fn execute(&mut self, cmd: Command) -> Result<Reply, SessionError> {
        if self.ended && !matches!(cmd, Command::Help(_) | Command::Exit) {
            return Err(cmd_err("the program is gone; exit to leave"));
        }
        match cmd {
            Command::Break {
                location,
                goroutine,
                cond,
            } => self.set_breakpoint(&location, goroutine, cond.as_deref()),
            Command::Cond { id, expr } => self.set_condition(id, &expr),
            Command::Clear(id) => self.clear(&[id]),
            Command::ClearAll => {
                let ids: Vec<u32> = self.bps.keys().copied().collect();
                self.clear(&ids)
            }
            Command::Breakpoints => Ok(Reply::Breakpoints {
                list: self.bps.values().map(|b| self.info(b)).collect(),
            }),
            Command::Watch { kind, target, size } => self.watch(kind, &target, size),
            Command::Continue => self.run(None).map(|s| self.shown(s)),
            Command::StepInstruction => self.step_instruction().map(|s| self.shown(s)),
            Command::NextInstruction => self.next_instruction().map(|s| self.shown(s)),
            Command::StepOut => self.step_out().map(|s| self.shown(s)),
            Command::Regs { all } => self.regs(all),
            Command::Disassemble => self.disassemble(),
            Command::Goroutines { group } => self.goroutines(group),
            Command::Goroutine(id) => self.goroutine(id),
            Command::Stack(depth) => self.stack(depth),
            Command::Frame(n) => self.frame(n),
            Command::Print(expr) => self.print(&expr),
            Command::Examine { addr, count } => self.examine(&addr, count),
            Command::Processes => Ok(self.processes()),
            Command::Process(pid) => self.switch_process(pid),
            Command::Detach => {
                self.tracer.leave(true);
                self.ended = true;
                Ok(Reply::Ended {
                    program: "detached",
                })
            }
            Command::Exit => {
                let program = if self.ended {
                    "gone"
                } else if self.attached || self.keep {
                    "detached"
                } else {
                    "killed"
                };
                self.leave();
                Ok(Reply::Ended { program })
            }
            Command::Help(_) => Ok(Reply::Help {
                commands: HELP.to_vec(),
            }),
        }
    }

    /// A stop about to be shown: the program waits for the user now, who may kill goscope
    /// meanwhile; no thread is left where goscope's death would hand it a SIGTRAP.
    fn shown(&mut self, stop: Stop) -> Reply {
        self.tracer.park_trapped();
        Reply::Stop(stop)
    }

    /// Ends the session as `exit` does: detached after attach or with `--keep`, else killed.
    pub fn leave(&mut self) {
        if !self.ended {
            let keep = self.attached || self.keep;
            self.tracer.leave(keep);
            self.ended = true;
        }
    }

    // ----- state helpers -----

    fn ctx(&self, pid: i32) -> Result<&ProcCtx, SessionError> {
        self.ctx
            .get(&pid)
            .ok_or_else(|| cmd_err(format!("process {pid} is not traced")))
    }

    fn memory(&self, pid: i32) -> Result<&ProcessMemory, SessionError> {
        self.tracer
            .proc(pid)
            .map(|p| &p.memory)
            .ok_or(SessionError::Trace(TraceError::Exited))
    }

    /// The goroutine thread `tid` runs: its g register (R14 in Go code), checked against the
    /// g's stack bounds, else the g in the thread's TLS slot (`-8(FS)`).
    fn goroutine_of(&self, pid: i32, tid: i32) -> Option<u64> {
        let regs = self.tracer.regs(tid).ok()?;
        self.goroutine_of_regs(pid, &regs).map(|(_, id)| id)
    }

    /// [`Session::goroutine_of_regs`], read once per trap.
    fn g_of(
        &self,
        pid: i32,
        regs: &Registers,
        cache: &mut Option<Option<(u64, u64)>>,
    ) -> Option<(u64, u64)> {
        *cache.get_or_insert_with(|| self.goroutine_of_regs(pid, regs))
    }

    fn goroutine_of_regs(&self, pid: i32, regs: &Registers) -> Option<(u64, u64)> {
        let ctx = self.ctx.get(&pid)?;
        let mem = &self.tracer.proc(pid)?.memory;
        let off = ctx.rt.offsets();
        let sp = regs.sp();
        // stack.lo, stack.hi and goid in one read.
        let span = off.g_stack_lo.max(off.g_stack_hi).max(off.g_goid) + 8;
        let mut buf = [0u8; 512];
        let buf = buf.get_mut(..usize::try_from(span).ok()?)?;
        let word = |b: &[u8], o: u64| -> u64 {
            b.get(o as usize..o as usize + 8)
                .and_then(|w| w.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        let g_in_r14 = regs.g();
        let mut candidates = [g_in_r14, 0];
        for i in 0..2 {
            if i == 1 {
                // Not in Go code (ABI0 assembly, C): the g in the thread's TLS slot.
                candidates[1] = mem.read_u64(regs.tls.wrapping_sub(8)).unwrap_or(0);
            }
            let g = candidates[i];
            if g == 0 || g % 8 != 0 || mem.read(g, buf).is_err() {
                continue;
            }
            let (lo, hi) = (word(buf, off.g_stack_lo), word(buf, off.g_stack_hi));
            if lo < hi && lo <= sp && sp <= hi {
                let id = word(buf, off.g_goid);
                // g0 and the signal stack have id 0: no goroutine.
                return (id != 0).then_some((g, id));
            }
        }
        None
    }

    fn stopped_target(&self, pid: i32) -> Result<Stopped<'_>, SessionError> {
        let p = self.tracer.proc(pid).ok_or(TraceError::Exited)?;
        let ctx = self.ctx(pid)?;
        Ok(Stopped {
            mem: &p.memory,
            threads: self.tracer.threads(pid),
            bias: ctx.bias,
            exe: p.exe.clone(),
            pid,
        })
    }

    /// Symbolizes runtime pc `pc` of process `pid`: the inline chain, innermost first.
    fn chain(&self, pid: i32, pc: u64) -> Vec<InlineFrame> {
        let Ok(ctx) = self.ctx(pid) else {
            return Vec::new();
        };
        ctx.bin
            .frames_at(pc.wrapping_sub(ctx.bias))
            .into_iter()
            .map(|f| InlineFrame {
                function: f.function.to_string(),
                file: f.file.to_string(),
                line: f.line,
            })
            .collect()
    }

    /// A stop at `pc` on `tid`, with location and goroutine filled in.
    fn stop_at(&self, reason: StopReason, pid: i32, tid: i32, pc: u64) -> Stop {
        let mut s = Stop::new(reason, pid);
        s.thread = Some(tid);
        s.pc = Some(pc);
        let chain = self.chain(pid, pc);
        if let Some(f) = chain.first() {
            s.function = Some(f.function.clone());
            s.file = Some(f.file.clone());
            s.line = Some(f.line);
        }
        s.inline = chain;
        s.goroutine = self.goroutine_of(pid, tid);
        s
    }

    // ----- breakpoints -----

    fn used_slots(&self, pid: i32) -> [Option<HwSlot>; 4] {
        let mut slots = [None; 4];
        for b in self.bps.values() {
            for s in &b.sites {
                if s.pid != pid {
                    continue;
                }
                if let How::Hardware(i) = s.how {
                    slots[i] = Some(match b.kind {
                        Kind::Code => HwSlot {
                            addr: s.addr,
                            kind: HwKind::Execute,
                            len: 1,
                        },
                        Kind::Watch {
                            access, addr, len, ..
                        } => HwSlot {
                            addr,
                            kind: access,
                            len,
                        },
                    });
                }
            }
        }
        slots
    }

    /// [`Session::used_slots`] and the places of the perf-event breakpoints: the debug
    /// registers taken, of four.
    fn taken_slots(&self, pid: i32) -> [bool; 4] {
        let mut taken = self.used_slots(pid).map(|s| s.is_some());
        for s in self.bps.values().flat_map(|b| &b.sites) {
            if s.pid == pid
                && let How::Kernel(i, _) = s.how
            {
                taken[i] = true;
            }
        }
        taken
    }

    fn apply_slots(&mut self, pid: i32) -> Result<(), SessionError> {
        let slots = self.used_slots(pid);
        self.tracer.set_hw(pid, slots)?;
        Ok(())
    }

    fn free_slot(&self, pid: i32) -> Option<usize> {
        self.taken_slots(pid).iter().position(|t| !t)
    }

    /// The BPF program of breakpoint `id` at runtime address `addr` of process `pid`, if the
    /// kernel can run one: its filter (`true`) where its goroutine and condition can be decided
    /// there (see `goscope_runtime::expr::Filter`), else one that passes every hit.
    fn kernel_program(&self, id: u32, pid: i32, addr: u64) -> Option<(kernel::Program, bool)> {
        if !kernel::supported() {
            return None;
        }
        match self.filter_program(id, pid, addr) {
            Some(prog) => Some((prog, true)),
            None => kernel::load(&bpf::pass_all()).ok().map(|p| (p, false)),
        }
    }

    /// The filter of breakpoint `id` at `addr` of `pid`, where there is one.
    fn filter_program(&self, id: u32, pid: i32, addr: u64) -> Option<kernel::Program> {
        let b = self.bps.get(&id)?;
        let ctx = self.ctx.get(&pid)?;
        let mem = &self.tracer.proc(pid)?.memory;
        let (delta, depth) = ctx.site_facts(addr)?;
        let goroutine_is = |id: u64, equal: bool| Filter::Compare {
            op: if equal { Cmp::Eq } else { Cmp::Ne },
            signed: false,
            left: Operand::Goroutine,
            right: Operand::Const(id),
        };
        let cond = match &b.cond {
            None => None,
            Some((_, Condition::Goroutine { equal, id })) => Some(goroutine_is(*id, *equal)),
            Some((_, Condition::Expr(e))) => EvalContext {
                rt: &ctx.rt,
                mem,
                bias: ctx.bias,
                frame: FrameInfo {
                    pc: addr,
                    return_address: false,
                    sp: 0,
                    cfa: 0,
                    inline_depth: depth,
                    regs: None,
                    goroutine: None,
                    g: 0,
                },
            }
            .filter(e),
        };
        // The goroutine is checked first, so it filters even when the condition cannot be.
        let filter = match (b.goroutine, cond) {
            (Some(g), Some(c)) => goroutine_is(g, true).and(c),
            (Some(g), None) => goroutine_is(g, true),
            (None, c) => c?,
        };
        let off = ctx.rt.offsets();
        let frame = bpf::Frame {
            cfa_from_sp: i64::from(delta) + 8,
            g_stack_lo: off.g_stack_lo,
            g_stack_hi: off.g_stack_hi,
            g_goid: off.g_goid,
        };
        let insns = bpf::compile(&filter, &frame).ok()?;
        kernel::load(&insns).ok()
    }

    /// Decides again, for each debug-register site of breakpoint `id` (in process `only`, or
    /// in all: every thread stopped), whether it is a perf event and with which program (after
    /// its condition changed, or it was placed in a new program).
    fn refilter(&mut self, id: u32, only: Option<i32>) -> Result<(), SessionError> {
        let Some(b) = self.bps.get(&id) else {
            return Ok(());
        };
        if !matches!(b.kind, Kind::Code) {
            return Ok(());
        }
        let sites: Vec<(usize, Site)> = b.sites.iter().cloned().enumerate().collect();
        for (n, site) in sites {
            if only.is_some_and(|p| p != site.pid) {
                continue;
            }
            let slot = match site.how {
                How::Hardware(i) | How::Kernel(i, _) => i,
                How::Int3 => continue,
            };
            if let How::Kernel(..) = site.how {
                self.tracer.disarm_perf(site.pid, id, site.addr);
            }
            // The kernel's place: one ptrace never reserved (see `hw::apply`), this site's own
            // if it is such, else another free one.
            let touched = self.tracer.proc(site.pid).map_or([true; 4], |p| p.touched);
            let mut taken = self.taken_slots(site.pid);
            taken[slot] = false;
            let place = if !touched[slot] {
                Some(slot)
            } else {
                (0..4).find(|&i| !touched[i] && !taken[i])
            };
            let program = match place {
                Some(_) => self.kernel_program(id, site.pid, site.addr),
                None => None,
            };
            let how = match (place, program) {
                (Some(k), Some((prog, filtered))) => {
                    let prog = std::sync::Arc::new(prog);
                    // The debug register is given up first: the kernel counts both.
                    self.set_how(id, n, How::Kernel(k, filtered));
                    self.apply_slots(site.pid)?;
                    match self.tracer.arm_perf(site.pid, id, site.addr, prog) {
                        Ok(()) => How::Kernel(k, filtered),
                        Err(_) => How::Hardware(slot),
                    }
                }
                _ => How::Hardware(slot),
            };
            self.set_how(id, n, how);
            self.apply_slots(site.pid)?;
        }
        Ok(())
    }

    fn set_how(&mut self, id: u32, site: usize, how: How) {
        if let Some(s) = self.bps.get_mut(&id).and_then(|b| b.sites.get_mut(site)) {
            s.how = how;
        }
    }

    /// Places code breakpoint sites at `addrs` (runtime) in `pid`: a debug register for a
    /// breakpoint with one address while one is free, int3 otherwise.
    fn place(&mut self, pid: i32, addrs: &[u64]) -> Result<Vec<Site>, SessionError> {
        let mut sites = Vec::new();
        let slot = if addrs.len() == 1 {
            self.free_slot(pid)
        } else {
            None
        };
        for &addr in addrs {
            let how = match slot {
                Some(i) => How::Hardware(i),
                None => {
                    self.tracer.insert_int3(pid, addr)?;
                    How::Int3
                }
            };
            sites.push(Site { pid, addr, how });
        }
        Ok(sites)
    }

    fn set_breakpoint(
        &mut self,
        location: &str,
        goroutine: Option<u64>,
        cond: Option<&str>,
    ) -> Result<Reply, SessionError> {
        let pid = self.cur.pid;
        let ctx = self.ctx(pid)?;
        let resolved =
            locate::resolve(&ctx.prog, location, ctx.bias).map_err(|e| cmd_err(e.to_string()))?;
        let bias = ctx.bias;
        let addrs: Vec<u64> = resolved
            .addrs
            .iter()
            .map(|a| a.wrapping_add(bias))
            .collect();
        let cond = match cond {
            Some(c) => Some((c.to_string(), parse_condition(c)?)),
            None => None,
        };
        let sites = self.place(pid, &addrs)?;
        let id = self.next_id;
        self.next_id += 1;
        self.bps.insert(
            id,
            Breakpoint {
                id,
                spec: location.to_string(),
                kind: Kind::Code,
                sites,
                cond,
                goroutine,
                hits: BTreeMap::new(),
                total: 0,
                evaluated: 0,
            },
        );
        // Filtered in the kernel straight away if it can be: a debug register armed once
        // through ptrace stays reserved (see `hw::apply`).
        self.refilter(id, None)?;
        self.apply_slots(pid)?;
        let b = &self.bps[&id];
        Ok(Reply::Breakpoint(self.info(b)))
    }

    fn set_condition(&mut self, id: u32, expr: &str) -> Result<Reply, SessionError> {
        let b = self
            .bps
            .get_mut(&id)
            .ok_or_else(|| cmd_err(format!("no breakpoint {id} (breakpoints lists them)")))?;
        b.cond = if expr.trim().is_empty() {
            None
        } else {
            Some((expr.to_string(), parse_condition(expr)?))
        };
        self.refilter(id, None)?;
        let b = &self.bps[&id];
        Ok(Reply::Breakpoint(self.info(b)))
    }

    fn clear(&mut self, ids: &[u32]) -> Result<Reply, SessionError> {
        let mut removed = Vec::new();
        let mut pids = Vec::new();
        for id in ids {
            let Some(b) = self.bps.remove(id) else {
                return Err(cmd_err(format!("no breakpoint {id}")));
            };
            for s in &b.sites {
                if let How::Kernel(..) = s.how {
                    self.tracer.disarm_perf(s.pid, *id, s.addr);
                }
                if s.how == How::Int3 {
                    let still = self
                        .bps
                        .values()
                        .any(|o| o.sites.iter().any(|x| x.pid == s.pid && x.addr == s.addr));
                    if !still {
                        self.tracer.remove_int3(s.pid, s.addr)?;
                    }
                }
                pids.push(s.pid);
            }
            removed.push(*id);
        }
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            self.apply_slots(pid)?;
        }
        Ok(Reply::Cleared { ids: removed })
    }

    fn watch(
        &mut self,
        access: HwKind,
        target: &str,
        size: Option<u8>,
    ) -> Result<Reply, SessionError> {
        let pid = self.cur.pid;
        let (addr, len) = match locate::parse_addr(target) {
            Some(a) => (a, size.unwrap_or(8)),
            None => {
                let v = self.evaluate(target)?;
                let (a, n) = v.lvalue().ok_or_else(|| {
                    cmd_err(format!(
                        "{target} is not in memory (a register or a computed value): watch a \
                         variable, a field or an address"
                    ))
                })?;
                let n = size.map_or(n, u64::from);
                let n = u8::try_from(n)
                    .ok()
                    .filter(|n| matches!(n, 1 | 2 | 4 | 8))
                    .ok_or_else(|| {
                        cmd_err(format!(
                            "{target} is {n} bytes; a hardware watchpoint watches 1, 2, 4 or 8 \
                             (watch one of its fields, or give a SIZE)"
                        ))
                    })?;
                (a, n)
            }
        };
        hw::check(addr, access, len).map_err(cmd_err)?;
        let mut probe = vec![0u8; len as usize];
        self.memory(pid)?
            .read(addr, &mut probe)
            .map_err(|e| cmd_err(format!("cannot watch {addr:#x}: {e}")))?;
        let slot = self.free_slot(pid).ok_or_else(|| {
            cmd_err(
                "no debug register left: the four are in use (breakpoints and watchpoints); \
                 clear one first",
            )
        })?;
        let id = self.next_id;
        self.next_id += 1;
        let mut w = [0u8; 8];
        w[..len as usize].copy_from_slice(&probe);
        self.bps.insert(
            id,
            Breakpoint {
                id,
                spec: target.to_string(),
                kind: Kind::Watch {
                    access,
                    addr,
                    len,
                    old: u64::from_le_bytes(w),
                },
                sites: vec![Site {
                    pid,
                    addr,
                    how: How::Hardware(slot),
                }],
                cond: None,
                goroutine: None,
                hits: BTreeMap::new(),
                total: 0,
                evaluated: 0,
            },
        );
        if let Err(e) = self.apply_slots(pid) {
            self.bps.remove(&id);
            let _ = self.apply_slots(pid);
            return Err(cmd_err(format!("cannot watch {addr:#x}: {e}")));
        }
        let b = &self.bps[&id];
        Ok(Reply::Breakpoint(self.info(b)))
    }

    fn info(&self, b: &Breakpoint) -> BreakpointInfo {
        let locations = b
            .sites
            .iter()
            .map(|s| {
                if let Kind::Watch { .. } = b.kind {
                    // Data: named by the symbol holding it, where there is one.
                    let name = self.ctx.get(&s.pid).and_then(|c| {
                        let link = s.addr.wrapping_sub(c.bias);
                        c.bin
                            .symbolize(link)
                            .map(|(n, start)| format!("{n}+{:#x}", link - start))
                    });
                    return Location {
                        pid: s.pid,
                        addr: s.addr,
                        function: name.unwrap_or_default(),
                        file: String::new(),
                        line: 0,
                        how: "hardware",
                    };
                }
                let chain = self.chain(s.pid, s.addr);
                let f = chain.first();
                Location {
                    pid: s.pid,
                    addr: s.addr,
                    function: f.map(|f| f.function.clone()).unwrap_or_default(),
                    file: f.map(|f| f.file.clone()).unwrap_or_default(),
                    line: f.map_or(0, |f| f.line),
                    how: match s.how {
                        How::Hardware(_) => "hardware",
                        How::Kernel(_, false) => "hardware",
                        How::Kernel(_, true) => HOW_FILTERED_IN_KERNEL,
                        How::Int3 => "int3",
                    },
                }
            })
            .collect();
        let (what, access) = match b.kind {
            Kind::Code => ("breakpoint", None),
            Kind::Watch { access, .. } => ("watchpoint", Some(access)),
        };
        let pid = b.sites.first().map_or(self.cur.pid, |s| s.pid);
        BreakpointInfo {
            id: b.id,
            spec: b.spec.clone(),
            what,
            access,
            locations,
            cond: b.cond.as_ref().map(|c| c.0.clone()),
            goroutine: b.goroutine,
            hits: b.total,
            evaluated: b.evaluated,
            debug_registers_used: self.taken_slots(pid).iter().filter(|t| **t).count(),
        }
    }

    /// Whether breakpoint `b`, hit by `tid` at runtime pc `pc`, stops the program: its
    /// goroutine and its condition, evaluated in the innermost frame of the thread (the others
    /// run on). A condition that cannot be evaluated stops, with the error.
    fn holds(
        &self,
        b: &Breakpoint,
        pid: i32,
        regs: &Registers,
        pc: u64,
        g_cache: &mut Option<Option<(u64, u64)>>,
    ) -> Result<bool, String> {
        if let Some(g) = b.goroutine
            && self.g_of(pid, regs, g_cache).map(|g| g.1) != Some(g)
        {
            return Ok(false);
        }
        match &b.cond {
            None => Ok(true),
            Some((_, Condition::Goroutine { equal, id })) => {
                Ok((self.g_of(pid, regs, g_cache).map(|g| g.1) == Some(*id)) == *equal)
            }
            Some((text, Condition::Expr(e))) => {
                let ctx = self.ctx.get(&pid).ok_or("no process")?;
                let mem = &self.tracer.proc(pid).ok_or("no process")?.memory;
                // Most conditions do not name the goroutine: spare the read of its g.
                let g = if e.root().mentions_goroutine() {
                    self.g_of(pid, regs, g_cache)
                } else {
                    None
                };
                let frame = self
                    .hit_frame(pid, regs, pc, g)
                    .ok_or_else(|| format!("condition {text:?}: no frame at {pc:#x}"))?;
                EvalContext {
                    rt: &ctx.rt,
                    mem,
                    bias: ctx.bias,
                    frame,
                }
                .eval_condition(e)
                .map_err(|err| format!("condition {text:?}: {err}"))
            }
        }
    }

    /// The innermost logical frame of stopped thread `tid` at runtime pc `pc` (a breakpoint:
    /// nothing executed there yet), for conditions: registers, the frame address from the
    /// pclntab's SP delta, and the inlined call the pc is in.
    fn hit_frame(
        &self,
        pid: i32,
        regs: &Registers,
        pc: u64,
        g: Option<(u64, u64)>,
    ) -> Option<FrameInfo> {
        let ctx = self.ctx.get(&pid)?;
        let (delta, depth) = ctx.site_facts(pc)?;
        let sp = regs.sp();
        let cfa = sp.wrapping_add(delta as i64 as u64).wrapping_add(8);
        Some(FrameInfo {
            pc,
            return_address: false,
            sp,
            cfa,
            inline_depth: depth,
            regs: Some(regs.clone()),
            goroutine: g.map(|g| g.1),
            g: g.map_or(0, |g| g.0),
        })
    }

    // ----- running -----

    /// Steps every thread sitting on one of goscope's int3s over it (the original instruction
    /// executes with the int3 lifted, the others stopped), so that resuming does not trap at
    /// once. Returns an event that interrupted a step (a watchpoint, an exit).
    fn step_over_int3s(&mut self) -> Result<Option<Event>, SessionError> {
        let sitting: Vec<(i32, i32, u64)> = self
            .tracer
            .procs
            .values()
            .flat_map(|p| {
                p.threads
                    .iter()
                    .filter(|(_, s)| s.stopped)
                    .map(move |(&tid, _)| (p.pid, tid))
            })
            .filter_map(|(pid, tid)| {
                let pc = self.tracer.regs(tid).ok()?.pc();
                let p = self.tracer.proc(pid)?;
                p.int3.contains_key(&pc).then_some((pid, tid, pc))
            })
            .collect();
        for (pid, tid, pc) in sitting {
            self.tracer.remove_int3(pid, pc)?;
            let ev = self.tracer.step_thread(tid);
            self.tracer.insert_int3(pid, pc)?;
            match ev? {
                Event::Trap { slots, step, .. } if slots == 0 && step => {}
                other => return Ok(Some(other)),
            }
        }
        Ok(None)
    }

    /// Runs until a breakpoint whose condition holds, a watchpoint, `until`, Ctrl-C or the end.
    fn run(&mut self, until: Option<Until>) -> Result<Stop, SessionError> {
        let mut temp_int3: Option<(i32, u64)> = None;
        if let Some(u) = until {
            let pid = self.cur.pid;
            let have = self
                .tracer
                .proc(pid)
                .is_some_and(|p| p.int3.contains_key(&u.addr));
            if !have {
                self.tracer.insert_int3(pid, u.addr)?;
                temp_int3 = Some((pid, u.addr));
            }
        }
        // While the program runs, the tracer stays on one processor: moving between
        // processors costs more than a breakpoint hit (measured: 15-20 % per hit on 2 vCPUs).
        let pinned = pin_to_current_cpu();
        let result = self.run_inner(until);
        if let Some(old) = pinned {
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &old);
        }
        if let Some((pid, addr)) = temp_int3
            && self.tracer.proc(pid).is_some()
        {
            // Only if no breakpoint uses the same address.
            let used = self
                .bps
                .values()
                .any(|b| b.sites.iter().any(|s| s.pid == pid && s.addr == addr));
            if !used {
                let _ = self.tracer.remove_int3(pid, addr);
            }
        }
        let stop = result?;
        self.after_stop(&stop);
        Ok(stop)
    }

    fn after_stop(&mut self, stop: &Stop) {
        if stop.reason == StopReason::Exited {
            if self.tracer.procs.is_empty() {
                self.ended = true;
            }
            return;
        }
        if let Some(tid) = stop.thread {
            self.cur.pid = stop.pid;
            self.cur.tid = tid;
        }
        self.cur.goroutine = stop.goroutine;
        self.cur.frame = 0;
        for p in self.tracer.procs.values() {
            p.memory.invalidate();
        }
    }

    fn run_inner(&mut self, until: Option<Until>) -> Result<Stop, SessionError> {
        let mut pending = self.step_over_int3s()?;
        if pending.is_none() && !self.tracer.has_pending() {
            self.tracer.resume_all()?;
        }
        loop {
            let ev = match pending.take() {
                Some(e) => e,
                None => match self.tracer.wait() {
                    Ok(e) => e,
                    Err(TraceError::Exited) => {
                        let mut s = Stop::new(StopReason::Exited, self.main_pid);
                        s.status = Some(0);
                        return Ok(s);
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if ev == Event::Interrupted {
                match signals::take() {
                    Some(nix::sys::signal::Signal::SIGINT) => {
                        self.tracer.stop_all()?;
                        let (pid, tid) = (self.cur.pid, self.cur.tid);
                        let pc = self.tracer.regs(tid).map(|r| r.pc()).unwrap_or(0);
                        return Ok(self.stop_at(StopReason::Signal, pid, tid, pc));
                    }
                    Some(sig) => {
                        self.tracer.stop_all()?;
                        return Err(SessionError::Terminated(sig.as_str()));
                    }
                    None => continue,
                }
            }
            match ev {
                Event::Trap {
                    pid,
                    tid,
                    pc,
                    slots,
                    step: _,
                    int3,
                    perf: _,
                    mut regs,
                } => {
                    if let Some(p) = self.tracer.proc(pid) {
                        p.memory.invalidate();
                    }
                    let site = if int3 { pc.wrapping_sub(1) } else { pc };
                    let ours = int3
                        && self
                            .tracer
                            .proc(pid)
                            .is_some_and(|p| p.int3.contains_key(&site));
                    if int3 && !ours {
                        // The program's own breakpoint instruction: its SIGTRAP.
                        self.tracer
                            .give_signal(tid, nix::sys::signal::Signal::SIGTRAP);
                        self.tracer.resume_thread(tid)?;
                        continue;
                    }
                    if ours {
                        self.tracer.set_pc(tid, site, false)?;
                        regs.set_pc(site);
                    }
                    if let Some(stop) = self.on_trap(pid, tid, site, slots, &regs, until)? {
                        return Ok(stop);
                    }
                    // Not a stop: this thread runs on (over the int3 if it sits on one).
                    if ours {
                        self.tracer.remove_int3(pid, site)?;
                        let ev = self.tracer.step_thread(tid);
                        self.tracer.insert_int3(pid, site)?;
                        match ev? {
                            Event::Trap { slots, step, .. } if slots == 0 && step => {}
                            other => {
                                pending = Some(other);
                                continue;
                            }
                        }
                    }
                    self.tracer.resume_thread(tid)?;
                }
                Event::Exited {
                    pid,
                    status,
                    signal,
                } => {
                    self.ctx.remove(&pid);
                    if pid == self.main_pid || self.tracer.procs.is_empty() {
                        let mut s = Stop::new(StopReason::Exited, pid);
                        s.status = status;
                        s.signal = signal;
                        if !self.tracer.procs.is_empty() {
                            self.tracer.stop_all()?;
                        }
                        return Ok(s);
                    }
                }
                Event::Interrupted => {}
                Event::Exec { pid } => {
                    self.exec_happened(pid)?;
                    self.tracer.resume_thread(pid)?;
                }
                Event::Forked { parent, child } => {
                    if let Some(ctx) = self.ctx.get(&parent) {
                        let exe = self
                            .tracer
                            .proc(child)
                            .map(|p| p.exe.clone())
                            .unwrap_or_default();
                        let _ = ctx;
                        if let Ok(c) = ProcCtx::load(&exe_path(child, &exe), child) {
                            self.ctx.insert(child, c);
                        }
                        // The child has the parent's code and breakpoints.
                        let sites: Vec<(u32, Site)> = self
                            .bps
                            .values()
                            .flat_map(|b| {
                                b.sites
                                    .iter()
                                    .filter(|s| s.pid == parent)
                                    .map(move |s| (b.id, Site { pid: child, ..*s }))
                            })
                            .collect();
                        for (id, mut s) in sites {
                            // The tracer armed the parent's perf-event breakpoints in the
                            // child before it ran; one it could not is a debug register there.
                            if let How::Kernel(i, _) = s.how
                                && !self
                                    .tracer
                                    .proc(child)
                                    .is_some_and(|p| p.perf_bps.contains_key(&(s.addr, id)))
                            {
                                s.how = How::Hardware(i);
                            }
                            if let Some(b) = self.bps.get_mut(&id) {
                                b.sites.push(s);
                            }
                        }
                        if self.tracer.proc(child).is_some() {
                            self.apply_slots(child)?;
                        }
                    }
                }
            }
        }
    }

    /// A process exec'd: its breakpoints are gone with its old code; load the new program and
    /// place again the breakpoints set by name or line.
    fn exec_happened(&mut self, pid: i32) -> Result<(), SessionError> {
        let exe = self
            .tracer
            .proc(pid)
            .map(|p| p.exe.clone())
            .unwrap_or_default();
        let ctx = ProcCtx::load(&exe_path(pid, &exe), pid)?;
        self.ctx.insert(pid, ctx);
        let main = self.main_pid;
        let mut specs: Vec<(u32, String)> = Vec::new();
        for b in self.bps.values_mut() {
            let had = b.sites.iter().any(|s| s.pid == pid);
            b.sites.retain(|s| s.pid != pid);
            if matches!(b.kind, Kind::Code) && (had || pid != main) {
                specs.push((b.id, b.spec.clone()));
            }
        }
        for (id, spec) in specs {
            let Ok(ctx) = self.ctx(pid) else { continue };
            let Ok(r) = locate::resolve(&ctx.prog, &spec, ctx.bias) else {
                continue;
            };
            let bias = ctx.bias;
            let addrs: Vec<u64> = r.addrs.iter().map(|a| a.wrapping_add(bias)).collect();
            let sites = self.place(pid, &addrs)?;
            if let Some(b) = self.bps.get_mut(&id) {
                b.sites.extend(sites);
            }
            self.refilter(id, Some(pid))?;
        }
        self.apply_slots(pid)?;
        Ok(())
    }

    /// A trap at `site` (the breakpoint's address; a watchpoint's pc) on `tid`: a stop, or
    /// `None` to run on.
    fn on_trap(
        &mut self,
        pid: i32,
        tid: i32,
        site: u64,
        slots: u8,
        regs: &Registers,
        until: Option<Until>,
    ) -> Result<Option<Stop>, SessionError> {
        // Watchpoints first: a data trap is reported after the instruction.
        let watch_ids: Vec<u32> = self
            .bps
            .values()
            .filter(|b| matches!(b.kind, Kind::Watch { .. }))
            .filter(|b| {
                b.sites.iter().any(|s| {
                    s.pid == pid && matches!(s.how, How::Hardware(i) if slots & (1 << i) != 0)
                })
            })
            .map(|b| b.id)
            .collect();
        if let Some(&id) = watch_ids.first() {
            return self.watch_hit(id, pid, tid, site).map(Some);
        }
        // Which goroutine hit, read only when something asks (one read of its g).
        let mut g_cache: Option<Option<(u64, u64)>> = None;
        if let Some(u) = until
            && u.addr == site
            && pid == self.cur.pid
        {
            let goroutine = self.g_of(pid, regs, &mut g_cache).map(|g| g.1);
            let sp = regs.sp();
            if (u.goroutine.is_none() || u.goroutine == goroutine) && sp > u.min_sp {
                self.tracer.stop_all()?;
                return Ok(Some(self.stop_at(StopReason::Step, pid, tid, site)));
            }
        }
        let candidates: Vec<u32> = self
            .bps
            .values()
            .filter(|b| matches!(b.kind, Kind::Code))
            .filter(|b| b.sites.iter().any(|s| s.pid == pid && s.addr == site))
            .map(|b| b.id)
            .collect();
        for id in candidates {
            if let Some(b) = self.bps.get_mut(&id) {
                b.evaluated += 1;
            }
            let verdict = match self.bps.get(&id) {
                Some(b) => self.holds(b, pid, regs, site, &mut g_cache),
                None => Ok(false),
            };
            let note = match verdict {
                Ok(false) => continue,
                Ok(true) => None,
                Err(e) => Some(e),
            };
            let goroutine = self.g_of(pid, regs, &mut g_cache).map(|g| g.1);
            let (hits, total) = {
                let Some(b) = self.bps.get_mut(&id) else {
                    continue;
                };
                b.total += 1;
                let h = b.hits.entry(goroutine.unwrap_or(0)).or_insert(0);
                *h += 1;
                (*h, b.total)
            };
            self.tracer.stop_all()?;
            let mut stop = self.stop_at(StopReason::Breakpoint, pid, tid, site);
            stop.breakpoint = Some(id);
            stop.hits = Some((hits, total));
            stop.error = note;
            return Ok(Some(stop));
        }
        Ok(None)
    }

    fn watch_hit(&mut self, id: u32, pid: i32, tid: i32, pc: u64) -> Result<Stop, SessionError> {
        self.tracer.stop_all()?;
        let (addr, len, old) = match self.bps.get(&id).map(|b| &b.kind) {
            Some(Kind::Watch { addr, len, old, .. }) => (*addr, *len, *old),
            _ => return Err(cmd_err("watchpoint vanished")),
        };
        let mut buf = [0u8; 8];
        let new = match self.memory(pid)?.read(addr, &mut buf[..len as usize]) {
            Ok(()) => u64::from_le_bytes(buf),
            Err(_) => old,
        };
        let goroutine = self.goroutine_of(pid, tid);
        let (hits, total) = {
            let b = self.bps.get_mut(&id).ok_or_else(|| cmd_err("gone"))?;
            if let Kind::Watch { old, .. } = &mut b.kind {
                *old = new;
            }
            b.total += 1;
            let h = b.hits.entry(goroutine.unwrap_or(0)).or_insert(0);
            *h += 1;
            (*h, b.total)
        };
        // The trap comes after the access: the accessing instruction is the one before pc,
        // and its line is where the write is in the source.
        let insn = self.instruction_before(pid, pc);
        let at = insn.as_ref().map_or(pc, |i| i.0);
        let mut stop = self.stop_at(StopReason::Watchpoint, pid, tid, at);
        stop.pc = Some(pc);
        stop.breakpoint = Some(id);
        stop.hits = Some((hits, total));
        stop.address = Some(addr);
        stop.old = Some(old);
        stop.new = Some(new);
        stop.instruction = insn;
        Ok(stop)
    }

    /// The instruction that ends at runtime pc `pc`: decoded from its function's entry.
    fn instruction_before(&self, pid: i32, pc: u64) -> Option<(u64, String)> {
        let ctx = self.ctx.get(&pid)?;
        let link = pc.wrapping_sub(ctx.bias);
        let f = ctx
            .prog
            .select(link.wrapping_sub(1), link, |_| true)
            .into_iter()
            .next()?
            .clone();
        let mut found = None;
        ctx.prog.walk(&f, link, &Options::default(), |i| {
            if i.address + u64::from(i.len) == link {
                found = Some((i.address.wrapping_add(ctx.bias), i.text.clone()));
            }
        });
        found
    }

    fn step_instruction(&mut self) -> Result<Stop, SessionError> {
        let (pid, tid) = (self.cur.pid, self.cur.tid);
        let pc = self.tracer.regs(tid)?.pc();
        let on_int3 = self
            .tracer
            .proc(pid)
            .is_some_and(|p| p.int3.contains_key(&pc));
        if on_int3 {
            self.tracer.remove_int3(pid, pc)?;
        }
        let ev = self.tracer.step_thread(tid);
        if on_int3 {
            self.tracer.insert_int3(pid, pc)?;
        }
        let stop = match ev? {
            Event::Trap {
                pid,
                tid,
                pc,
                slots,
                ..
            } => {
                let watched = self.bps.values().find(|b| {
                    matches!(b.kind, Kind::Watch { .. })
                        && b.sites.iter().any(|s| {
                            s.pid == pid
                                && matches!(s.how, How::Hardware(i) if slots & (1 << i) != 0)
                        })
                });
                match watched.map(|b| b.id) {
                    Some(id) => self.watch_hit(id, pid, tid, pc)?,
                    None => self.stop_at(StopReason::Step, pid, tid, pc),
                }
            }
            Event::Exited {
                pid,
                status,
                signal,
            } => {
                let mut s = Stop::new(StopReason::Exited, pid);
                s.status = status;
                s.signal = signal;
                s
            }
            _ => {
                let pc = self.tracer.regs(tid)?.pc();
                self.stop_at(StopReason::Step, pid, tid, pc)
            }
        };
        self.after_stop(&stop);
        Ok(stop)
    }

    fn current_insn(&self) -> Result<(u64, u64, Flow), SessionError> {
        let (pid, tid) = (self.cur.pid, self.cur.tid);
        let ctx = self.ctx(pid)?;
        let pc = self.tracer.regs(tid)?.pc();
        let link = pc.wrapping_sub(ctx.bias);
        let mut code = [0u8; 16];
        self.memory(pid)?
            .read(pc, &mut code)
            .map_err(|e| cmd_err(e.to_string()))?;
        // The code in memory may hold goscope's int3s: decode the original bytes.
        if let Some(p) = self.tracer.proc(pid) {
            for (i, b) in code.iter_mut().enumerate() {
                if let Some(orig) = p.int3.get(&(pc + i as u64)) {
                    *b = *orig;
                }
            }
        }
        let mut text = String::new();
        let info = ctx.prog.disassembler().decode(
            &code,
            link,
            Syntax::Go,
            &goscope_disasm::NoSymbols,
            &mut text,
        );
        Ok((pc, pc + info.len as u64, info.flow))
    }

    fn next_instruction(&mut self) -> Result<Stop, SessionError> {
        let (pc, next, flow) = self.current_insn()?;
        if !matches!(flow, Flow::Call | Flow::IndirectCall) {
            return self.step_instruction();
        }
        let sp = self.tracer.regs(self.cur.tid)?.sp();
        let _ = pc;
        self.run(Some(Until {
            addr: next,
            goroutine: self.cur.goroutine,
            // A call pushes the return address: after the return, sp is back.
            min_sp: sp.saturating_sub(1),
        }))
    }

    fn step_out(&mut self) -> Result<Stop, SessionError> {
        let frames = self.frames_of_current()?;
        // The first physical frame above the innermost physical one.
        let physical: Vec<&goscope_runtime::Frame<'_>> =
            frames.iter().filter(|f| !f.inlined).collect();
        let caller = physical
            .get(1)
            .ok_or_else(|| cmd_err("no caller to step out to"))?;
        let sp = physical.first().and_then(|f| f.sp).unwrap_or(0);
        let ret = caller.pc;
        self.run(Some(Until {
            addr: ret,
            goroutine: self.cur.goroutine,
            min_sp: sp,
        }))
    }

    // ----- inspecting -----

    fn frames_of_current(&self) -> Result<Vec<goscope_runtime::Frame<'static>>, SessionError> {
        let pid = self.cur.pid;
        let target = self.stopped_target(pid)?;
        let ctx = self.ctx(pid)?;
        let snap = Snapshot::new(&ctx.rt, &target);
        match self.cur.goroutine {
            Some(id) => {
                let gs = snap.goroutines(true).map_err(|e| cmd_err(e.to_string()))?;
                let mut g = gs
                    .list
                    .into_iter()
                    .find(|g| g.id == id)
                    .ok_or_else(|| cmd_err(format!("no goroutine {id}")))?;
                snap.fill_stack(&mut g);
                Ok(g.frames)
            }
            None => {
                // A thread on its system stack: unwind from its registers.
                let raw = snap.thread_raw_frames(self.cur.tid as u64);
                Ok(snap.frames(&raw))
            }
        }
    }

    fn stack(&self, depth: Option<usize>) -> Result<Reply, SessionError> {
        let frames = self.frames_of_current()?;
        let n = depth.unwrap_or(50);
        Ok(Reply::Stack {
            goroutine: self.cur.goroutine,
            frames: frames
                .iter()
                .take(n)
                .enumerate()
                .map(|(i, f)| StackFrame {
                    index: i,
                    function: f.function.to_string(),
                    file: f.file.to_string(),
                    line: f.line,
                    pc: f.pc,
                    inlined: f.inlined,
                })
                .collect(),
        })
    }

    fn frame(&mut self, n: usize) -> Result<Reply, SessionError> {
        let frames = self.frames_of_current()?;
        let f = frames.get(n).ok_or_else(|| {
            cmd_err(format!(
                "frame {n} does not exist ({} frames; stack lists them)",
                frames.len()
            ))
        })?;
        self.cur.frame = n;
        Ok(Reply::Frame(StackFrame {
            index: n,
            function: f.function.to_string(),
            file: f.file.to_string(),
            line: f.line,
            pc: f.pc,
            inlined: f.inlined,
        }))
    }

    fn goroutines(&self, group: bool) -> Result<Reply, SessionError> {
        let pid = self.cur.pid;
        let target = self.stopped_target(pid)?;
        let ctx = self.ctx(pid)?;
        let snap = Snapshot::new(&ctx.rt, &target);
        let mut gs = snap
            .goroutines(false)
            .map_err(|e| cmd_err(e.to_string()))?
            .list;
        snap.fill_stacks(&mut gs);
        let line = |g: &goscope_runtime::Goroutine<'_>| {
            let at = goscope_runtime::analysis::user_frame(&g.frames)
                .and_then(|i| g.frames.get(i))
                .or(g.frames.first());
            GoroutineLine {
                id: g.id,
                state: g.state(),
                location: at.map_or_else(
                    || "(no stack)".into(),
                    |f| format!("{} {}:{}", f.function, f.file, f.line),
                ),
                thread: g.thread,
                current: Some(g.id) == self.cur.goroutine,
                count: None,
            }
        };
        if !group {
            return Ok(Reply::Goroutines {
                list: gs.iter().map(line).collect(),
            });
        }
        let mut groups: Vec<(goscope_runtime::analysis::GroupKey, GoroutineLine)> = Vec::new();
        for g in &gs {
            let key = g.group_key();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, l)) => *l.count.get_or_insert(1) += 1,
                None => {
                    let mut l = line(g);
                    l.count = Some(1);
                    groups.push((key, l));
                }
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.count));
        Ok(Reply::Goroutines {
            list: groups.into_iter().map(|(_, l)| l).collect(),
        })
    }

    fn goroutine(&mut self, id: Option<u64>) -> Result<Reply, SessionError> {
        let pid = self.cur.pid;
        if let Some(id) = id {
            let target = self.stopped_target(pid)?;
            let ctx = self.ctx(pid)?;
            let snap = Snapshot::new(&ctx.rt, &target);
            let gs = snap.goroutines(false).map_err(|e| cmd_err(e.to_string()))?;
            let g = gs
                .list
                .iter()
                .find(|g| g.id == id)
                .ok_or_else(|| cmd_err(format!("no goroutine {id} (goroutines lists them)")))?;
            if let Some(t) = g.thread {
                self.cur.tid = t as i32;
            }
            self.cur.goroutine = Some(id);
            self.cur.frame = 0;
        }
        let frames = self.frames_of_current().unwrap_or_default();
        let at = goscope_runtime::analysis::user_frame(&frames)
            .and_then(|i| frames.get(i))
            .or(frames.first());
        Ok(Reply::Goroutine(GoroutineLine {
            id: self.cur.goroutine.unwrap_or(0),
            state: String::new(),
            location: at.map_or_else(String::new, |f| {
                format!("{} {}:{}", f.function, f.file, f.line)
            }),
            thread: Some(self.cur.tid as u64),
            current: true,
            count: None,
        }))
    }

    fn regs(&self, all: bool) -> Result<Reply, SessionError> {
        let (pid, tid) = (self.cur.pid, self.cur.tid);
        let regs = self.tracer.regs(tid)?;
        let ctx = self.ctx(pid)?;
        let g = self.goroutine_of_regs(pid, &regs);
        const SHORT: &[&str] = &[
            "rip", "rsp", "rax", "rbx", "rcx", "rdx", "rdi", "rsi", "rbp", "r8", "r9", "r10",
            "r11", "r12", "r13", "r14", "r15", "eflags", "fs_base",
        ];
        let registers = regs
            .iter()
            .filter(|(n, _)| all || SHORT.contains(n))
            .map(|(name, value)| {
                let meaning = if name == "r14" && g.is_some_and(|g| g.0 == value) {
                    g.map(|g| format!("g of goroutine {}", g.1))
                } else {
                    let link = value.wrapping_sub(ctx.bias);
                    ctx.bin
                        .func_at(link)
                        .map(|f| format!("{}+{:#x}", f.name(), link - f.entry()))
                };
                Register {
                    name,
                    value,
                    meaning,
                }
            })
            .collect();
        Ok(Reply::Registers {
            thread: tid,
            registers,
        })
    }

    fn disassemble(&self) -> Result<Reply, SessionError> {
        let pid = self.cur.pid;
        let ctx = self.ctx(pid)?;
        let frames = self.frames_of_current().unwrap_or_default();
        let pc = match frames.get(self.cur.frame) {
            Some(f) if self.cur.frame > 0 => f.instruction_pc(),
            _ => self.tracer.regs(self.cur.tid)?.pc(),
        };
        let link = pc.wrapping_sub(ctx.bias);
        let f = ctx
            .prog
            .select(link, link + 1, |_| true)
            .into_iter()
            .next()
            .ok_or_else(|| cmd_err(format!("pc {pc:#x} is in no function")))?
            .clone();
        let opts = Options {
            syntax: Syntax::Go,
            annotate: true,
            inline: true,
        };
        let listing = ctx.prog.list(&f, f.addr.wrapping_add(f.size), &opts);
        let int3 = self.tracer.proc(pid).map(|p| &p.int3);
        let insns = listing
            .insns
            .iter()
            .map(|i| {
                let addr = i.address.wrapping_add(ctx.bias);
                ListedInsn {
                    address: addr,
                    current: i.address <= link && link < i.address + u64::from(i.len),
                    bytes: ctx
                        .prog
                        .bytes(i)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                    text: i.text.clone(),
                    file: i.file.to_string(),
                    line: i.line,
                    inline: i
                        .inline
                        .iter()
                        .map(|x| InlineFrame {
                            function: x.function.to_string(),
                            file: x.file.to_string(),
                            line: x.line,
                        })
                        .collect(),
                    annotations: i.annotations.iter().map(|a| a.text()).collect(),
                    breakpoint: int3.is_some_and(|m| m.contains_key(&addr))
                        || self
                            .bps
                            .values()
                            .any(|b| b.sites.iter().any(|s| s.pid == pid && s.addr == addr)),
                }
            })
            .collect();
        Ok(Reply::Disassembly {
            function: listing.name,
            pc,
            insns,
        })
    }

    /// The selected frame of the current goroutine, for expressions.
    fn current_frame(&self) -> Result<FrameInfo, SessionError> {
        let pid = self.cur.pid;
        let target = self.stopped_target(pid)?;
        let ctx = self.ctx(pid)?;
        let snap = Snapshot::new(&ctx.rt, &target);
        let regs = self.tracer.regs(self.cur.tid).ok();
        let frame = match self.cur.goroutine {
            Some(id) => {
                let gs = snap.goroutines(true).map_err(|e| cmd_err(e.to_string()))?;
                let mut g = gs
                    .list
                    .into_iter()
                    .find(|g| g.id == id)
                    .ok_or_else(|| cmd_err(format!("no goroutine {id}")))?;
                snap.fill_stack(&mut g);
                // The thread's registers are the goroutine's only if it runs there.
                let regs = if g.thread == Some(self.cur.tid as u64) {
                    regs
                } else {
                    None
                };
                FrameInfo::from_frames(&g.frames, self.cur.frame, regs, Some(id), g.addr)
            }
            None => {
                let raw = snap.thread_raw_frames(self.cur.tid as u64);
                FrameInfo::from_frames(&snap.frames(&raw), self.cur.frame, regs, None, 0)
            }
        };
        frame.ok_or_else(|| cmd_err(format!("no frame {}", self.cur.frame)))
    }

    fn evaluate(&self, expr: &str) -> Result<goscope_runtime::expr::Value, SessionError> {
        let e = Expr::parse(expr).map_err(|e| cmd_err(e.to_string()))?;
        let pid = self.cur.pid;
        let frame = self.current_frame()?;
        let ctx = self.ctx(pid)?;
        EvalContext {
            rt: &ctx.rt,
            mem: self.memory(pid)?,
            bias: ctx.bias,
            frame,
        }
        .eval(&e)
        .map_err(|e| cmd_err(e.to_string()))
    }

    fn print(&self, expr: &str) -> Result<Reply, SessionError> {
        let v = self.evaluate(expr)?;
        Ok(Reply::Value {
            expr: expr.to_string(),
            value: v.delve_string(),
        })
    }

    fn examine(&self, addr: &str, count: usize) -> Result<Reply, SessionError> {
        let a = match locate::parse_addr(addr) {
            Some(a) => a,
            None => {
                let v = self.evaluate(addr)?;
                match v.as_i64() {
                    Some(a) => a as u64,
                    None => v
                        .lvalue()
                        .map(|(a, _)| a)
                        .ok_or_else(|| cmd_err(format!("{addr} is not an address")))?,
                }
            }
        };
        if count > 1 << 16 {
            return Err(cmd_err("x shows at most 65536 bytes"));
        }
        let mem = self.memory(self.cur.pid)?;
        let bytes = (0..count as u64)
            .map(|i| mem.read_u8(a + i).ok())
            .collect::<Vec<_>>();
        if count > 0 && bytes.iter().all(Option::is_none) {
            return Err(cmd_err(format!("memory at {a:#x} is not readable")));
        }
        Ok(Reply::Memory { addr: a, bytes })
    }

    fn processes(&self) -> Reply {
        Reply::Processes {
            list: self
                .tracer
                .procs
                .values()
                .map(|p| ProcessLine {
                    pid: p.pid,
                    exe: p.exe.display().to_string(),
                    threads: p.threads.len(),
                    current: p.pid == self.cur.pid,
                })
                .collect(),
        }
    }

    fn switch_process(&mut self, pid: i32) -> Result<Reply, SessionError> {
        let p = self.tracer.proc(pid).ok_or_else(|| {
            cmd_err(format!(
                "process {pid} is not traced (processes lists them)"
            ))
        })?;
        let tid = p.threads.keys().next().copied().unwrap_or(pid);
        self.cur = Current {
            pid,
            tid,
            goroutine: None,
            frame: 0,
        };
        self.cur.goroutine = self.goroutine_of(pid, tid);
        Ok(self.processes())
    }
}

/// Restricts the calling thread to the processor it runs on; returns the affinity to restore.
fn pin_to_current_cpu() -> Option<nix::sched::CpuSet> {
    let pid = nix::unistd::Pid::from_raw(0);
    let old = nix::sched::sched_getaffinity(pid).ok()?;
    let cpu = nix::sched::sched_getcpu().ok()?;
    let mut one = nix::sched::CpuSet::new();
    one.set(cpu).ok()?;
    nix::sched::sched_setaffinity(pid, &one).ok()?;
    Some(old)
}

/// A path that opens process `pid`'s executable even if it was replaced: `/proc/PID/exe`,
/// unless that is unreadable.
fn exe_path(pid: i32, exe: &Path) -> PathBuf {
    let p = PathBuf::from(format!("/proc/{pid}/exe"));
    if std::fs::metadata(&p).is_ok() {
        p
    } else {
        exe.to_path_buf()
    }
}
