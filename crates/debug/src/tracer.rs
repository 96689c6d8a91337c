//! Process control with ptrace: launching a program stopped at its first instruction,
//! attaching to a running one, threads coming and going, forks and execs, stopping every
//! thread (all-stop, as Delve), resuming them, single-stepping one, and leaving: detaching with
//! every signal the program is owed, or killing a program goscope started.
//!
//! Every thread is attached with `PTRACE_SEIZE` (never `PTRACE_ATTACH` or a SIGSTOP of ours), so
//! stops are `PTRACE_INTERRUPT` traps that leave no group-stop behind, and a signal that
//! arrives for the program is always delivered to it: the tracer only sees it go by.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goscope_target::live::{LiveError, LiveProcess, ProcessMemory};
use goscope_target::{Registers, TargetArch, Thread};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Event as PtraceEvent, Options};
use nix::sys::signal::{self, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::hw::{self, HwSlot};
use crate::kernel;

/// Why process control failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The process could not be found or attached.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A system call failed.
    #[error("{what}: {errno}")]
    Sys {
        /// What goscope was doing.
        what: String,
        /// The error.
        errno: Errno,
    },
    /// The program could not be started.
    #[error("cannot start {path}: {why}")]
    Launch {
        /// The program.
        path: String,
        /// Why.
        why: String,
    },
    /// Every traced process has exited.
    #[error("the program has exited")]
    Exited,
}

fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> TraceError {
    let what = what.into();
    move |errno| TraceError::Sys { what, errno }
}

/// `si_code` of a SIGTRAP from int3 on x86 (`SI_KERNEL`).
const SI_KERNEL: i32 = 0x80;
/// `si_code` of a SIGTRAP from a hardware breakpoint or watchpoint.
const TRAP_HWBKPT: i32 = 4;
/// `si_code` of a SIGTRAP after a single step.
const TRAP_TRACE: i32 = 2;
/// `si_code` of an int3 on some kernels.
const TRAP_BRKPT: i32 = 1;
/// The x86 resume flag: the next instruction does not fire an execute breakpoint.
const EFLAGS_RF: u64 = 1 << 16;
/// `PTRACE_EVENT_STOP`.
const EVENT_STOP: i32 = 128;
/// How long a wait for the program polls before it sleeps.
const SPIN: Duration = Duration::from_micros(400);

/// What happened to a traced thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A thread stopped with SIGTRAP from a breakpoint, a watchpoint or a single step.
    Trap {
        /// Process.
        pid: i32,
        /// Thread.
        tid: i32,
        /// Its pc after the trap (after the int3 for a software breakpoint).
        pc: u64,
        /// Debug registers that fired (DR6 bits 0–3).
        slots: u8,
        /// A single step completed.
        step: bool,
        /// An int3 fired.
        int3: bool,
        /// A perf-event breakpoint passed its filter (a `TRAP_PERF` signal; the
        /// pc is the breakpoint's, its instruction not yet executed).
        perf: bool,
        /// The thread's registers at the trap.
        regs: Box<Registers>,
    },
    /// A process exited (or was killed by a signal).
    Exited {
        /// Process.
        pid: i32,
        /// Exit status.
        status: Option<i32>,
        /// Killing signal.
        signal: Option<i32>,
    },
    /// A process replaced its program (`execve`).
    Exec {
        /// Process.
        pid: i32,
    },
    /// A signal reached goscope (SIGINT, SIGTERM, SIGHUP) while it waited for the program.
    Interrupted,
    /// A followed process forked.
    Forked {
        /// The parent.
        parent: i32,
        /// The child, stopped and traced.
        child: i32,
    },
}

/// One traced thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadState {
    /// Stopped (in a ptrace stop) rather than running.
    pub stopped: bool,
    /// A signal the program is owed: delivered when the thread resumes.
    pub signal: Option<Signal>,
    /// The address of goscope's int3 the thread stopped right after (its pc is one past it),
    /// until its pc is set or it runs again: leaving moves exactly these threads back.
    pub after_int3: Option<u64>,
    /// Stopped in the delivery of a SIGTRAP of goscope's making (a breakpoint, watchpoint or
    /// step): were goscope to die now, the kernel would deliver that SIGTRAP to the program.
    /// [`Tracer::park_trapped`] turns the stop into one that delivers nothing.
    pub in_trap: bool,
}

/// What [`Tracer::take_queued_signal`] found queued for a thread.
enum Taken {
    /// A SIGTRAP (swallowed); `after` is goscope's int3 address the thread's pc is one past.
    Trap { after: Option<u64> },
    /// Another signal, owed to the program.
    Signal(Signal),
}

/// Whether thread `tid` of `pid` has a SIGTRAP queued for it (its own pending set, as
/// `/proc/PID/task/TID/status` shows it: traps from breakpoints are directed at one thread).
fn trap_queued(pid: i32, tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigPnd:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (Signal::SIGTRAP as i32 - 1)) != 0)
}

/// One traced process.
#[derive(Debug)]
pub struct Proc {
    /// Process id.
    pub pid: i32,
    /// Its threads.
    pub threads: BTreeMap<i32, ThreadState>,
    /// Its memory.
    pub memory: ProcessMemory,
    /// Started by goscope (killed on exit unless kept).
    pub launched: bool,
    /// The executable (`/proc/PID/exe` at the last exec).
    pub exe: PathBuf,
    /// Debug registers armed on every thread.
    pub hw: [Option<HwSlot>; 4],
    /// Debug registers ever armed through ptrace since the last exec: the kernel keeps one of
    /// the thread's four breakpoint slots reserved for each (see [`hw::apply`]).
    pub touched: [bool; 4],
    /// int3 bytes written into the code: address → the original byte.
    pub int3: BTreeMap<u64, u8>,
    /// Breakpoints that are perf events of goscope's (filtered in the kernel or not), by
    /// address and breakpoint id.
    pub perf_bps: BTreeMap<(u64, u32), PerfBreakpoint>,
}

/// A breakpoint that is a perf event of goscope's, in one process.
#[derive(Debug)]
pub struct PerfBreakpoint {
    /// Its filter.
    pub prog: Arc<kernel::Program>,
    /// One perf event per thread there was when it was armed (threads created later inherit
    /// it).
    pub events: Vec<kernel::Breakpoint>,
}

impl Proc {
    /// Whether a perf-event breakpoint is at `addr`.
    pub fn perf_breakpoint_at(&self, addr: u64) -> bool {
        self.perf_bps
            .range((addr, 0)..=(addr, u32::MAX))
            .next()
            .is_some()
    }
}

/// Every traced process.
#[derive(Debug)]
pub struct Tracer {
    /// By process id.
    pub procs: BTreeMap<i32, Proc>,
    owner: HashMap<i32, i32>,
    follow_fork: bool,
    kill_on_exit: bool,
    pending: VecDeque<Event>,
    /// Threads created whose first stop has not been seen.
    pending_new: Vec<i32>,
    /// Threads whose first stop came before their creator's clone or fork event (the kernel
    /// does not order the two).
    early: Vec<i32>,
    /// Every thread is being stopped: whatever stops stays stopped.
    stopping: bool,
}

fn options(follow_fork: bool, kill_on_exit: bool) -> Options {
    let _ = follow_fork;
    // Forks are always traced: a child must not inherit goscope's int3s unseen.
    let mut o = Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEEXEC
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK;
    if kill_on_exit {
        o |= Options::PTRACE_O_EXITKILL;
    }
    o
}

impl Tracer {
    fn new(follow_fork: bool, kill_on_exit: bool) -> Tracer {
        Tracer {
            procs: BTreeMap::new(),
            owner: HashMap::new(),
            follow_fork,
            kill_on_exit,
            pending: VecDeque::new(),
            pending_new: Vec::new(),
            early: Vec::new(),
            stopping: false,
        }
    }

    fn add_proc(&mut self, pid: i32, launched: bool) {
        self.procs.insert(
            pid,
            Proc {
                pid,
                threads: BTreeMap::new(),
                memory: ProcessMemory::new(pid),
                launched,
                exe: std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default(),
                hw: [None; 4],
                touched: [false; 4],
                int3: BTreeMap::new(),
                perf_bps: BTreeMap::new(),
            },
        );
    }

    fn add_thread(&mut self, pid: i32, tid: i32, stopped: bool) {
        self.owner.insert(tid, pid);
        if let Some(p) = self.procs.get_mut(&pid) {
            p.threads.insert(
                tid,
                ThreadState {
                    stopped,
                    signal: None,
                    after_int3: None,
                    in_trap: false,
                },
            );
        }
    }

    /// Starts `program` with `args`, stopped at its first instruction (after `execve`).
    /// Unless `keep`, the kernel kills it if goscope dies.
    pub fn launch(
        program: &Path,
        args: &[String],
        follow_fork: bool,
        keep: bool,
    ) -> Result<Tracer, TraceError> {
        let launch_err = |why: String| TraceError::Launch {
            path: program.display().to_string(),
            why,
        };
        let meta = std::fs::metadata(program).map_err(|e| launch_err(e.to_string()))?;
        if !meta.is_file() {
            return Err(launch_err("not a file".into()));
        }
        // A shell stops itself, goscope seizes it, and it execs the program: the program is
        // traced from its first instruction, with no unsafe pre-exec hook.
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg("kill -STOP $$ && exec \"$0\" \"$@\"")
            .arg(program)
            .args(args)
            .spawn()
            .map_err(|e| launch_err(e.to_string()))?;
        let pid = child.id() as i32;
        // Its own stop (the shell's SIGSTOP), seen as its parent.
        loop {
            match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WUNTRACED))
                .map_err(sys("waiting for the program to start"))?
            {
                WaitStatus::Stopped(..) => break,
                WaitStatus::Exited(_, code) => {
                    return Err(launch_err(format!("the shell exited with status {code}")));
                }
                _ => {}
            }
        }
        let mut t = Tracer::new(follow_fork, !keep);
        ptrace::seize(Pid::from_raw(pid), options(follow_fork, !keep))
            .map_err(sys("PTRACE_SEIZE of the program"))?;
        t.add_proc(pid, true);
        t.add_thread(pid, pid, false);
        signal::kill(Pid::from_raw(pid), Signal::SIGCONT).map_err(sys("SIGCONT"))?;
        // Until the exec: let the group-stop end, deliver SIGCONT, stop at the exec.
        loop {
            match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::__WALL))
                .map_err(sys("waiting for the program's exec"))?
            {
                WaitStatus::PtraceEvent(_, _, e) if e == PtraceEvent::PTRACE_EVENT_EXEC as i32 => {
                    break;
                }
                WaitStatus::PtraceEvent(_, _, _) => {
                    ptrace::cont(Pid::from_raw(pid), None).map_err(sys("PTRACE_CONT"))?;
                }
                WaitStatus::Stopped(_, sig) => {
                    let deliver = (sig != Signal::SIGSTOP).then_some(sig);
                    ptrace::cont(Pid::from_raw(pid), deliver).map_err(sys("PTRACE_CONT"))?;
                }
                WaitStatus::Exited(_, code) => {
                    return Err(launch_err(format!(
                        "it exited with status {code} before starting (is it executable?)"
                    )));
                }
                WaitStatus::Signaled(_, sig, _) => {
                    return Err(launch_err(format!("killed by {sig} before starting")));
                }
                _ => {}
            }
        }
        if let Some(p) = t.procs.get_mut(&pid) {
            p.exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if let Some(th) = p.threads.get_mut(&pid) {
                th.stopped = true;
            }
        }
        // The child is ours through ptrace now; std's handle is not needed to reap it.
        drop(child);
        Ok(t)
    }

    /// Attaches to every thread of process `pid` and stops them.
    pub fn attach(pid: i32, follow_fork: bool) -> Result<Tracer, TraceError> {
        let live = LiveProcess::open(pid)?;
        let frozen = live.freeze_with(options(follow_fork, false))?;
        let mut t = Tracer::new(follow_fork, false);
        t.add_proc(pid, false);
        for (tid, sig) in frozen.into_traced() {
            t.add_thread(pid, tid, true);
            if let Some(th) = t.procs.get_mut(&pid).and_then(|p| p.threads.get_mut(&tid)) {
                th.signal = sig;
            }
        }
        Ok(t)
    }

    /// The process owning thread `tid`.
    pub fn proc_of(&self, tid: i32) -> Option<&Proc> {
        self.procs.get(self.owner.get(&tid)?)
    }

    /// Process `pid`.
    pub fn proc(&self, pid: i32) -> Option<&Proc> {
        self.procs.get(&pid)
    }

    /// Process `pid`, mutably.
    pub fn proc_mut(&mut self, pid: i32) -> Option<&mut Proc> {
        self.procs.get_mut(&pid)
    }

    /// Whether any process is still traced.
    pub fn alive(&self) -> bool {
        !self.procs.is_empty()
    }

    /// Registers of stopped thread `tid`.
    pub fn regs(&self, tid: i32) -> Result<Registers, TraceError> {
        let r = ptrace::getregs(Pid::from_raw(tid)).map_err(sys(format!("registers of {tid}")))?;
        let v = vec![
            r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx,
            r.rdx, r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base,
            r.gs_base, r.ds, r.es, r.fs, r.gs,
        ];
        Ok(Registers::new(TargetArch::Amd64, v))
    }

    /// Sets the pc of stopped thread `tid` (and the resume flag, which skips an execute
    /// breakpoint at the new pc once).
    pub fn set_pc(&self, tid: i32, pc: u64, skip_hw: bool) -> Result<(), TraceError> {
        let mut r =
            ptrace::getregs(Pid::from_raw(tid)).map_err(sys(format!("registers of {tid}")))?;
        r.rip = pc;
        if skip_hw {
            r.eflags |= EFLAGS_RF;
        } else {
            r.eflags &= !EFLAGS_RF;
        }
        ptrace::setregs(Pid::from_raw(tid), r).map_err(sys(format!("setting registers of {tid}")))
    }

    /// Every stopped thread of every process, with registers.
    pub fn threads(&self, pid: i32) -> Vec<Thread> {
        let Some(p) = self.procs.get(&pid) else {
            return Vec::new();
        };
        p.threads
            .iter()
            .filter(|(_, s)| s.stopped)
            .filter_map(|(&tid, _)| {
                Some(Thread {
                    tid: tid as u32,
                    signal: 0,
                    regs: self.regs(tid).ok()?,
                })
            })
            .collect()
    }

    /// Arms `slots` on every thread of process `pid` (all must be stopped).
    pub fn set_hw(&mut self, pid: i32, slots: [Option<HwSlot>; 4]) -> Result<(), TraceError> {
        let Some(p) = self.procs.get_mut(&pid) else {
            return Err(TraceError::Exited);
        };
        for (i, s) in slots.iter().enumerate() {
            p.touched[i] |= s.is_some();
        }
        for &tid in p.threads.keys() {
            hw::apply(tid, &slots).map_err(sys(format!("debug registers of thread {tid}")))?;
        }
        p.hw = slots;
        Ok(())
    }

    /// Arms a perf-event breakpoint, filtered by `prog`, at `addr` on every thread of process
    /// `pid` (threads they create later inherit it); `id` names it (and travels in its
    /// signal). Nothing is armed if any thread refuses.
    pub fn arm_perf(
        &mut self,
        pid: i32,
        id: u32,
        addr: u64,
        prog: Arc<kernel::Program>,
    ) -> Result<(), TraceError> {
        let p = self.procs.get_mut(&pid).ok_or(TraceError::Exited)?;
        let mut events = Vec::new();
        for &tid in p.threads.keys() {
            match kernel::open(tid, addr, &prog, u64::from(id)) {
                Ok(e) => events.push(e),
                // Gone meanwhile.
                Err(Errno::ESRCH) => {}
                Err(e) => {
                    return Err(sys(format!(
                        "a perf-event breakpoint at {addr:#x} on thread {tid}"
                    ))(e));
                }
            }
        }
        p.perf_bps
            .insert((addr, id), PerfBreakpoint { prog, events });
        Ok(())
    }

    /// Removes breakpoint `id`'s perf-event breakpoint at `addr` from process `pid`.
    pub fn disarm_perf(&mut self, pid: i32, id: u32, addr: u64) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.perf_bps.remove(&(addr, id));
        }
    }

    /// Writes an int3 at `addr` in process `pid`, remembering the byte it replaces.
    pub fn insert_int3(&mut self, pid: i32, addr: u64) -> Result<(), TraceError> {
        let p = self.procs.get_mut(&pid).ok_or(TraceError::Exited)?;
        if p.int3.contains_key(&addr) {
            return Ok(());
        }
        let mut b = [0u8; 1];
        goscope_target::Memory::read(&p.memory, addr, &mut b).map_err(|e| TraceError::Sys {
            what: format!("reading code at {addr:#x}: {e}"),
            errno: Errno::EFAULT,
        })?;
        p.memory.write(addr, &[0xcc]).map_err(|e| TraceError::Sys {
            what: format!("writing a breakpoint at {addr:#x}: {e}"),
            errno: Errno::EFAULT,
        })?;
        p.int3.insert(addr, b[0]);
        Ok(())
    }

    /// Restores the byte an int3 replaced.
    pub fn remove_int3(&mut self, pid: i32, addr: u64) -> Result<(), TraceError> {
        let p = self.procs.get_mut(&pid).ok_or(TraceError::Exited)?;
        if let Some(orig) = p.int3.remove(&addr) {
            p.memory.write(addr, &[orig]).map_err(|e| TraceError::Sys {
                what: format!("restoring code at {addr:#x}: {e}"),
                errno: Errno::EFAULT,
            })?;
        }
        Ok(())
    }

    /// Resumes stopped thread `tid`, delivering the signal it is owed.
    pub fn resume_thread(&mut self, tid: i32) -> Result<(), TraceError> {
        let Some(th) = self.thread_mut(tid) else {
            return Ok(());
        };
        if !th.stopped {
            return Ok(());
        }
        match ptrace::cont(Pid::from_raw(tid), th.signal.take()) {
            Ok(()) | Err(Errno::ESRCH) => {
                th.stopped = false;
                th.after_int3 = None;
                th.in_trap = false;
                Ok(())
            }
            Err(e) => Err(sys(format!("resuming thread {tid}"))(e)),
        }
    }

    /// Resumes every stopped thread of every process.
    pub fn resume_all(&mut self) -> Result<(), TraceError> {
        let tids: Vec<i32> = self
            .procs
            .values()
            .flat_map(|p| p.threads.iter().filter(|(_, s)| s.stopped).map(|(&t, _)| t))
            .collect();
        for tid in tids {
            self.resume_thread(tid)?;
        }
        Ok(())
    }

    /// Single-steps stopped thread `tid` (the others stay stopped) and returns the event that
    /// ends the step (a trap, or the exit of the process).
    pub fn step_thread(&mut self, tid: i32) -> Result<Event, TraceError> {
        if !self.owner.contains_key(&tid) {
            return Err(TraceError::Exited);
        }
        loop {
            // A signal the thread is owed waits for the next resume; a step runs no handler.
            match ptrace::step(Pid::from_raw(tid), None) {
                Ok(()) => {}
                Err(e) => return Err(sys(format!("single-stepping thread {tid}"))(e)),
            }
            if let Some(th) = self.thread_mut(tid) {
                th.stopped = false;
                th.after_int3 = None;
                th.in_trap = false;
            }
            let ev = self.wait_for(Some(tid))?;
            match ev {
                // A perf-event breakpoint fired as the step began: the instruction
                // has not run yet (and the resume flag is set); a step is what was asked.
                Some(Event::Trap { perf: true, .. }) => continue,
                Some(e) => return Ok(e),
                // A signal arrived instead of the step: it is kept; step again.
                None => continue,
            }
        }
    }

    /// Waits for the next event of any thread; signals meant for the program are passed on
    /// and thread creation is handled without returning.
    pub fn wait(&mut self) -> Result<Event, TraceError> {
        if let Some(e) = self.pending.pop_front() {
            return Ok(e);
        }
        loop {
            if let Some(e) = self.wait_for(None)? {
                return Ok(e);
            }
        }
    }

    /// Gives thread `tid` a signal to deliver when it resumes.
    pub fn give_signal(&mut self, tid: i32, sig: Signal) {
        if let Some(th) = self.thread_mut(tid) {
            th.signal = Some(sig);
        }
    }

    /// Events queued while stopping every thread.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// One `waitpid`; `Ok(None)` when what came is handled here (a signal passed on, a new
    /// thread). With `only`, a signal for that thread is kept for later and the thread stays
    /// stopped (used while single-stepping).
    fn wait_for(&mut self, only: Option<i32>) -> Result<Option<Event>, TraceError> {
        if self.procs.is_empty() {
            return Err(TraceError::Exited);
        }
        let target = only.map_or(Pid::from_raw(-1), Pid::from_raw);
        // Poll briefly before sleeping: a breakpoint with a false condition is hit again
        // within microseconds, and being woken up costs more than that (an interrupt between
        // processors, on a virtual machine most of all).
        let spin_until = Instant::now() + SPIN;
        let polled = loop {
            match waitpid(target, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) if Instant::now() < spin_until => {
                    // Between polls, leave the kernel's locks to the thread about to stop.
                    for _ in 0..64 {
                        std::hint::spin_loop();
                    }
                }
                Ok(WaitStatus::StillAlive) => break None,
                other => break Some(other),
            }
        };
        let status = match polled.unwrap_or_else(|| waitpid(target, Some(WaitPidFlag::__WALL))) {
            Ok(s) => s,
            Err(Errno::EINTR) => return Ok(Some(Event::Interrupted)),
            Err(Errno::ECHILD) => {
                self.procs.clear();
                return Err(TraceError::Exited);
            }
            Err(e) => return Err(sys("waitpid")(e)),
        };
        self.handle(status, only)
    }

    fn mark_stopped(&mut self, tid: i32) {
        if let Some(th) = self.thread_mut(tid) {
            th.stopped = true;
        }
    }

    fn handle(
        &mut self,
        status: WaitStatus,
        only: Option<i32>,
    ) -> Result<Option<Event>, TraceError> {
        match status {
            WaitStatus::Exited(t, code) => Ok(self.thread_gone(t.as_raw(), Some(code), None)),
            WaitStatus::Signaled(t, sig, _) => {
                Ok(self.thread_gone(t.as_raw(), None, Some(sig as i32)))
            }
            WaitStatus::Stopped(t, Signal::SIGTRAP) => {
                let tid = t.as_raw();
                self.mark_stopped(tid);
                let pid = self.owner.get(&tid).copied().unwrap_or(tid);
                let Ok(regs) = self.regs(tid) else {
                    return Ok(None);
                };
                let pc = regs.pc();
                if let Some(th) = self.thread_mut(tid) {
                    // Until it is known to be the program's own SIGTRAP (then owed, below).
                    th.in_trap = true;
                }
                let trap = |slots: u8, step: bool, int3: bool, perf: bool, regs: Registers| {
                    Ok(Some(Event::Trap {
                        pid,
                        tid,
                        pc,
                        slots,
                        step,
                        int3,
                        perf,
                        regs: Box::new(regs),
                    }))
                };
                // The common cases need no more system calls: one of goscope's int3s just
                // executed, or the pc is an execute breakpoint's (a debug register fires before
                // the instruction). A thread being single-stepped may land on either, so its
                // trap is classified from the kernel's account.
                if only.is_none()
                    && let Some(p) = self.procs.get(&pid)
                {
                    if p.int3.contains_key(&pc.wrapping_sub(1)) {
                        if let Some(th) = self.thread_mut(tid) {
                            th.after_int3 = Some(pc.wrapping_sub(1));
                        }
                        return trap(0, false, true, false, regs);
                    }
                    if let Some(i) = p.hw.iter().position(|s| {
                        s.is_some_and(|s| s.kind == hw::HwKind::Execute && s.addr == pc)
                    }) && !p
                        .hw
                        .iter()
                        .any(|s| s.is_some_and(|s| s.kind != hw::HwKind::Execute))
                    {
                        return trap(1 << i, false, false, false, regs);
                    }
                }
                let code = ptrace::getsiginfo(t).map(|i| i.si_code).unwrap_or(0);
                if code == kernel::TRAP_PERF {
                    // DR6 is not the kernel's account of a perf event's hit: nothing else fired.
                    return trap(0, false, false, true, regs);
                }
                // The kernel rewrites the ptrace view of DR6 at every debug exception: no need
                // to clear it.
                let (slots, stepped) = hw::status(tid).unwrap_or((0, false));
                let int3 = code == SI_KERNEL || code == TRAP_BRKPT;
                if int3 || code == TRAP_HWBKPT || code == TRAP_TRACE || slots != 0 || stepped {
                    return trap(slots, stepped || code == TRAP_TRACE, int3, false, regs);
                }
                // A SIGTRAP someone sent: the program's own.
                self.owe(tid, Signal::SIGTRAP, only)
            }
            WaitStatus::Stopped(t, sig) => {
                let tid = t.as_raw();
                self.mark_stopped(tid);
                self.owe(tid, sig, only)
            }
            WaitStatus::PtraceEvent(t, _, ev) => {
                let tid = t.as_raw();
                self.mark_stopped(tid);
                self.ptrace_event(tid, ev, only)
            }
            _ => Ok(None),
        }
    }

    /// A signal for the program arrived at `tid`: keep it for the thread's next resume, and
    /// resume it now unless it is being single-stepped or every thread is being stopped.
    fn owe(
        &mut self,
        tid: i32,
        sig: Signal,
        only: Option<i32>,
    ) -> Result<Option<Event>, TraceError> {
        if let Some(th) = self.thread_mut(tid) {
            th.signal = Some(sig);
            th.in_trap = false;
        }
        if only.is_none() && !self.stopping {
            // A signal arriving as the thread leaves an execute breakpoint would run its
            // handler before the instruction there; Go's preemption handler then reschedules
            // the goroutine, which later starts that instruction afresh and hits the
            // breakpoint a second time for one call. So the instruction runs first (a single
            // step, the signal kept), then the signal is delivered.
            if let Some(pid) = self.owner.get(&tid).copied()
                && let Some(p) = self.procs.get(&pid)
                && let Ok(regs) = self.regs(tid)
                && (p.hw.iter().any(|s| {
                    s.is_some_and(|s| s.kind == hw::HwKind::Execute && s.addr == regs.pc())
                }) || p.perf_breakpoint_at(regs.pc()))
            {
                match self.step_thread(tid)? {
                    Event::Trap { step: true, .. } => {}
                    other => {
                        self.pending.push_back(other);
                        return Ok(None);
                    }
                }
            }
            self.resume_thread(tid)?;
        }
        Ok(None)
    }

    fn thread_gone(&mut self, tid: i32, status: Option<i32>, signal: Option<i32>) -> Option<Event> {
        let pid = self.owner.remove(&tid)?;
        let p = self.procs.get_mut(&pid)?;
        p.threads.remove(&tid);
        if tid == pid {
            // The leader reports last: the process is gone.
            for t in std::mem::take(&mut p.threads).into_keys() {
                self.owner.remove(&t);
            }
            self.procs.remove(&pid);
            return Some(Event::Exited {
                pid,
                status,
                signal,
            });
        }
        None
    }

    fn ptrace_event(
        &mut self,
        tid: i32,
        ev: i32,
        only: Option<i32>,
    ) -> Result<Option<Event>, TraceError> {
        let pid = self.owner.get(&tid).copied();
        let new_id = || ptrace::getevent(Pid::from_raw(tid)).map(|v| v as i32);
        if ev == PtraceEvent::PTRACE_EVENT_CLONE as i32 {
            let Some(pid) = pid else { return Ok(None) };
            if let Ok(child) = new_id() {
                // It starts with an event stop of its own, seen below (or already seen).
                self.add_thread(pid, child, false);
                self.new_thread_registered(child, only)?;
            }
            if only.is_none() && !self.stopping {
                self.resume_thread(tid)?;
            }
            return Ok(None);
        }
        if ev == PtraceEvent::PTRACE_EVENT_FORK as i32
            || ev == PtraceEvent::PTRACE_EVENT_VFORK as i32
        {
            let Some(parent) = pid else { return Ok(None) };
            let Ok(child) = new_id() else { return Ok(None) };
            let vfork = ev == PtraceEvent::PTRACE_EVENT_VFORK as i32;
            return self.forked(parent, tid, child, vfork, only);
        }
        if ev == PtraceEvent::PTRACE_EVENT_EXEC as i32 {
            // The thread that exec'd now has the leader's id; the others are gone.
            let pid = pid.unwrap_or(tid);
            if let Some(p) = self.procs.get_mut(&pid) {
                for t in p.threads.keys().copied().collect::<Vec<_>>() {
                    if t != pid {
                        p.threads.remove(&t);
                        self.owner.remove(&t);
                    }
                }
                p.threads.insert(
                    pid,
                    ThreadState {
                        stopped: true,
                        signal: None,
                        after_int3: None,
                        in_trap: false,
                    },
                );
                p.int3.clear();
                // The kernel removed them (`remove_on_exec`).
                p.perf_bps.clear();
                p.hw = [None; 4];
                p.touched = [false; 4];
                p.memory = ProcessMemory::new(pid);
                p.exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            }
            self.owner.insert(pid, pid);
            return Ok(Some(Event::Exec { pid }));
        }
        if ev == EVENT_STOP {
            // A new thread's first stop: give it the process's debug registers and let it go.
            if let Some(i) = self.pending_new.iter().position(|&t| t == tid) {
                self.pending_new.swap_remove(i);
                self.first_stop(tid, only)?;
                return Ok(None);
            }
            if pid.is_none() {
                // Its creator's event has not come yet.
                self.early.push(tid);
            }
            // Our interrupt (or a group-stop): the thread stays stopped.
            return Ok(None);
        }
        if only.is_none() && !self.stopping {
            self.resume_thread(tid)?;
        }
        Ok(None)
    }

    /// A thread (or followed child) was announced by its creator's event: if its first stop
    /// came already, handle it now; else wait for it.
    fn new_thread_registered(&mut self, tid: i32, only: Option<i32>) -> Result<(), TraceError> {
        match self.early.iter().position(|&t| t == tid) {
            Some(i) => {
                self.early.swap_remove(i);
                self.mark_stopped(tid);
                self.first_stop(tid, only)
            }
            None => {
                self.pending_new.push(tid);
                Ok(())
            }
        }
    }

    /// A new thread's first stop: arm its process's debug registers and let it run (unless
    /// every thread is being stopped).
    fn first_stop(&mut self, tid: i32, only: Option<i32>) -> Result<(), TraceError> {
        if let Some(p) = self.owner.get(&tid).and_then(|p| self.procs.get(p)) {
            let _ = hw::apply(tid, &p.hw);
        }
        if only.is_none() && !self.stopping {
            self.resume_thread(tid)?;
        }
        Ok(())
    }

    /// Process `parent` forked `child` (thread `tid` did).
    fn forked(
        &mut self,
        parent: i32,
        tid: i32,
        child: i32,
        vfork: bool,
        only: Option<i32>,
    ) -> Result<Option<Event>, TraceError> {
        let (int3, hw, launched, perf_bps) = match self.procs.get(&parent) {
            Some(p) => (
                p.int3.clone(),
                p.hw,
                p.launched,
                p.perf_bps
                    .iter()
                    .map(|(&k, b)| (k, b.prog.clone()))
                    .collect(),
            ),
            None => (BTreeMap::new(), [None; 4], false, Vec::new()),
        };
        let resume_parent = only.is_none() && !self.stopping;
        if self.follow_fork {
            self.add_proc(child, launched);
            if let Some(c) = self.procs.get_mut(&child) {
                // A fork copies the code with goscope's int3s in it; a vfork child shares the
                // parent's memory until it execs, so its breakpoints are the parent's.
                if !vfork {
                    c.int3 = int3;
                }
                c.hw = hw;
                c.touched = hw.map(|s| s.is_some());
            }
            self.add_thread(child, child, false);
            // Perf-event breakpoints are not inherited by a fork: armed again before the child
            // runs (one that cannot be is left out; the session sees which).
            for ((addr, id), prog) in perf_bps {
                let _ = self.arm_perf(child, id, addr, prog);
            }
            self.new_thread_registered(child, only)?;
            if resume_parent {
                self.resume_thread(tid)?;
            }
            return Ok(Some(Event::Forked { parent, child }));
        }
        // Not followed: wait for the child's first stop, give it back its original code (a
        // fork copied goscope's int3s), and let it go.
        let cpid = Pid::from_raw(child);
        let already = self.early.iter().position(|&t| t == child);
        if let Some(i) = already {
            self.early.swap_remove(i);
        }
        while already.is_none() {
            match waitpid(cpid, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::PtraceEvent(..)) | Ok(WaitStatus::Stopped(..)) => break,
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(_) => {
                    if resume_parent {
                        self.resume_thread(tid)?;
                    }
                    return Ok(None);
                }
                Ok(_) => {}
            }
        }
        if !vfork {
            let mem = ProcessMemory::new(child);
            for (&addr, &orig) in &int3 {
                let _ = mem.write(addr, &[orig]);
            }
        }
        let _ = ptrace::detach(cpid, None);
        if resume_parent {
            self.resume_thread(tid)?;
        }
        Ok(None)
    }

    /// Moves every thread stopped in the delivery of one of goscope's SIGTRAPs into an
    /// interrupt stop, the signal dropped: `PTRACE_INTERRUPT` then `PTRACE_CONT` without the
    /// signal, and the thread stops again before running an instruction of its own. A tracer
    /// that dies (even by SIGKILL) releases a thread from that stop with no signal; from the
    /// delivery stop, the kernel would deliver the SIGTRAP and the Go runtime would crash. Done
    /// at each stop shown to the user, when goscope may be killed at leisure.
    pub fn park_trapped(&mut self) {
        let trapped: Vec<i32> = self
            .procs
            .values()
            .flat_map(|p| {
                p.threads
                    .iter()
                    .filter(|(_, s)| s.stopped && s.in_trap)
                    .map(|(&t, _)| t)
            })
            .collect();
        for tid in trapped {
            let t = Pid::from_raw(tid);
            if ptrace::interrupt(t).is_err() || ptrace::cont(t, None).is_err() {
                continue;
            }
            let parked = loop {
                match waitpid(t, Some(WaitPidFlag::__WALL)) {
                    Ok(WaitStatus::PtraceEvent(_, _, ev)) if ev == EVENT_STOP => break true,
                    Ok(WaitStatus::Exited(_, code)) => {
                        if let Some(e) = self.thread_gone(tid, Some(code), None) {
                            self.pending.push_back(e);
                        }
                        break false;
                    }
                    Ok(WaitStatus::Signaled(_, sig, _)) => {
                        if let Some(e) = self.thread_gone(tid, None, Some(sig as i32)) {
                            self.pending.push_back(e);
                        }
                        break false;
                    }
                    // A signal for the program: owed, and the thread is in its delivery stop.
                    Ok(WaitStatus::Stopped(_, sig)) => {
                        if let Some(th) = self.thread_mut(tid) {
                            th.signal = Some(sig);
                            th.in_trap = false;
                        }
                        break false;
                    }
                    Err(Errno::EINTR) => continue,
                    Ok(_) | Err(_) => break false,
                }
            };
            if parked && let Some(th) = self.thread_mut(tid) {
                th.in_trap = false;
            }
        }
    }

    fn thread_mut(&mut self, tid: i32) -> Option<&mut ThreadState> {
        let pid = self.owner.get(&tid).copied()?;
        self.procs.get_mut(&pid)?.threads.get_mut(&tid)
    }

    /// Stops every running thread of every process (all-stop): interrupts them and waits for
    /// their stops. Breakpoint and watchpoint traps that happen meanwhile are queued for
    /// [`Tracer::wait`]; signals are kept for the threads' next resume.
    pub fn stop_all(&mut self) -> Result<(), TraceError> {
        let running: Vec<i32> = self
            .procs
            .values()
            .flat_map(|p| {
                p.threads
                    .iter()
                    .filter(|(_, s)| !s.stopped)
                    .map(|(&t, _)| t)
            })
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        self.stopping = true;
        for &tid in &running {
            let _ = ptrace::interrupt(Pid::from_raw(tid));
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        let result = loop {
            let waiting = self
                .procs
                .values()
                .flat_map(|p| p.threads.iter())
                .any(|(_, s)| !s.stopped);
            if !waiting || self.procs.is_empty() {
                break Ok(());
            }
            match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
            ) {
                Ok(WaitStatus::StillAlive) => {
                    if Instant::now() > deadline {
                        break Ok(());
                    }
                    std::thread::yield_now();
                }
                Ok(status) => match self.handle(status, None) {
                    Ok(Some(e)) => self.pending.push_back(e),
                    Ok(None) => {}
                    Err(e) => break Err(e),
                },
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => break Ok(()),
                Err(e) => break Err(sys("waitpid")(e)),
            }
        };
        self.stopping = false;
        result
    }

    /// Leaves every process: every int3 removed, every debug register cleared, every thread
    /// detached with the signal it is owed — or, for programs goscope started and does not
    /// keep, killed.
    pub fn leave(&mut self, keep: bool) {
        let _ = self.stop_all();
        let pids: Vec<i32> = self.procs.keys().copied().collect();
        let mut killed = Vec::new();
        for pid in pids {
            let Some(mut p) = self.procs.remove(&pid) else {
                continue;
            };
            // Closing the events removes them from every thread: no more hits.
            p.perf_bps.clear();
            if p.launched && !keep {
                let _ = signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                killed.push(pid);
                for &tid in p.threads.keys() {
                    self.owner.remove(&tid);
                }
                continue;
            }
            for (&addr, &orig) in &p.int3 {
                let _ = p.memory.write(addr, &[orig]);
            }
            for (&tid, th) in &p.threads {
                let _ = hw::clear(tid);
                let mut after_int3 = th.after_int3;
                let mut owed = th.signal;
                // A trap that fired just as the thread was interrupted is still queued: the
                // interrupt's stop is reported before it. Detached with it, the thread would
                // take a SIGTRAP of goscope's making and the Go runtime would crash. So it is
                // taken here (the thread resumed only until the trap's stop, before it runs a
                // single instruction of its own).
                for _ in 0..4 {
                    if !trap_queued(pid, tid) {
                        break;
                    }
                    match self.take_queued_signal(tid, &p.int3) {
                        Some(Taken::Trap { after }) => after_int3 = after.or(after_int3),
                        Some(Taken::Signal(sig)) => owed = Some(sig),
                        None => break,
                    }
                }
                // A thread stopped right after one of goscope's int3s re-executes the
                // instruction that was there (only such a thread: another one whose pc merely
                // follows a one-byte instruction under an int3 address must not go back).
                if let Some(addr) = after_int3
                    && let Ok(r) = self.regs(tid)
                    && r.pc() == addr.wrapping_add(1)
                {
                    let _ = self.set_pc(tid, addr, false);
                }
                let _ = ptrace::detach(Pid::from_raw(tid), owed);
                self.owner.remove(&tid);
            }
        }
        // Reap what was killed (a killed tracee reports its exit to us), for a bounded time.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !killed.is_empty() && Instant::now() < deadline {
            match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
            ) {
                Ok(WaitStatus::Exited(t, _)) | Ok(WaitStatus::Signaled(t, _, _)) => {
                    killed.retain(|&p| p != t.as_raw());
                }
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(1)),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    /// Resumes the stopped thread `tid` (suppressing nothing it is owed: that is kept by the
    /// caller) until the stop of the signal queued for it, for at most half a second.
    /// `int3` are the addresses of goscope's int3s (their bytes already restored).
    fn take_queued_signal(&mut self, tid: i32, int3: &BTreeMap<u64, u8>) -> Option<Taken> {
        let t = Pid::from_raw(tid);
        ptrace::cont(t, None).ok()?;
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            match waitpid(t, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {
                    if Instant::now() > deadline {
                        // Still running: interrupt it so that it can be detached.
                        let _ = ptrace::interrupt(t);
                        let _ = waitpid(t, Some(WaitPidFlag::__WALL));
                        return None;
                    }
                    std::thread::yield_now();
                }
                Ok(WaitStatus::Stopped(_, Signal::SIGTRAP)) => {
                    let pc = self.regs(tid).ok()?.pc();
                    let after = pc.wrapping_sub(1);
                    return Some(Taken::Trap {
                        after: int3.contains_key(&after).then_some(after),
                    });
                }
                Ok(WaitStatus::Stopped(_, sig)) => return Some(Taken::Signal(sig)),
                // Another kind of stop (a clone's, an exit's): nothing more is taken.
                Ok(WaitStatus::PtraceEvent(..)) => return None,
                Ok(_) | Err(_) => return None,
            }
        }
    }

    /// Whether programs goscope started are killed when it leaves.
    pub fn kills_on_exit(&self) -> bool {
        self.kill_on_exit
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if !self.procs.is_empty() {
            let keep = !self.kill_on_exit;
            self.leave(keep);
        }
    }
}
