//! Pausing every thread of a process for a moment, and only a moment: `PTRACE_SEIZE` each
//! thread (which does not stop it), `PTRACE_INTERRUPT` it, wait for the stop, rescan
//! `/proc/PID/task` until no new thread appears, read the registers, and on resume
//! `PTRACE_DETACH` each thread — re-injecting any signal that arrived during the pause, so the
//! program never loses one. A process that was stopped (SIGSTOP) before stays stopped.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{LiveError, proc, signals};
use crate::thread::{Registers, TargetArch, Thread};

/// How long a thread may take to stop before goscope gives up on it (a thread in
/// uninterruptible sleep stops only when it leaves it).
const STOP_TIMEOUT: Duration = Duration::from_millis(500);
/// `PTRACE_EVENT_STOP`: the stop `PTRACE_INTERRUPT` (or a group-stop) reports.
const PTRACE_EVENT_STOP: i32 = 128;

#[derive(Debug)]
struct Paused {
    tid: i32,
    /// A signal whose delivery the pause intercepted: delivered again on detach.
    pending: Option<Signal>,
}

/// Every thread of a process, stopped. Resumes them on [`Frozen::resume`] or on drop.
///
/// Not `Send`: ptrace requests must come from the thread that seized the tracee.
#[derive(Debug)]
pub struct Frozen {
    pid: i32,
    paused: Vec<Paused>,
    threads: Vec<Thread>,
    started: Instant,
    stopped_in: Duration,
    monotonic_ns: i64,
    warnings: Vec<String>,
    resumed: Option<Duration>,
    _not_send: PhantomData<*const ()>,
}

fn seize_error(pid: i32, e: Errno) -> LiveError {
    match e {
        Errno::EPERM | Errno::EACCES => LiveError::Permission {
            pid,
            what: "tracing",
            hint: proc::permission_hint(pid),
        },
        Errno::ESRCH => LiveError::Gone(pid),
        e => LiveError::Io {
            pid,
            what: "PTRACE_SEIZE".into(),
            source: e.into(),
        },
    }
}

/// What a wait for one thread's stop found.
enum StopResult {
    Stopped(Option<Signal>),
    Exited,
    TimedOut,
}

fn wait_stop(tid: i32) -> Result<StopResult, Errno> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    let mut spins = 0u32;
    loop {
        match waitpid(
            Pid::from_raw(tid),
            Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
        )? {
            WaitStatus::StillAlive => {
                if Instant::now() > deadline {
                    return Ok(StopResult::TimedOut);
                }
                spins += 1;
                if spins < 200 {
                    std::hint::spin_loop();
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            WaitStatus::PtraceEvent(_, _, PTRACE_EVENT_STOP) => {
                return Ok(StopResult::Stopped(None));
            }
            // A signal was being delivered: the thread stopped for it; deliver it on detach.
            WaitStatus::Stopped(_, sig) => return Ok(StopResult::Stopped(Some(sig))),
            WaitStatus::PtraceEvent(..) | WaitStatus::PtraceSyscall(_) => {
                return Ok(StopResult::Stopped(None));
            }
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Ok(StopResult::Exited),
            WaitStatus::Continued(_) => {}
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn registers(tid: i32) -> Result<Registers, Errno> {
    let r = ptrace::getregs(Pid::from_raw(tid))?;
    // `user_regs_struct` is `pr_reg` of a core's NT_PRSTATUS: the same words, the same order.
    let v = vec![
        r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx,
        r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds,
        r.es, r.fs, r.gs,
    ];
    Ok(Registers::new(TargetArch::Amd64, v))
}

#[cfg(target_arch = "aarch64")]
fn registers(tid: i32) -> Result<Registers, Errno> {
    let r = ptrace::getregset::<ptrace::regset::NT_PRSTATUS>(Pid::from_raw(tid))?;
    let mut v: Vec<u64> = r.regs.to_vec();
    v.extend([r.sp, r.pc, r.pstate]);
    // TPIDR_EL0 (NT_ARM_TLS) is not read: Go code keeps g in x28 and needs no TLS to unwind.
    Ok(Registers::new(TargetArch::Arm64, v))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn registers(_tid: i32) -> Result<Registers, Errno> {
    Err(Errno::ENOSYS)
}

/// Whether thread `tid` is traced by this process.
fn traced_by_us(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("TracerPid:"))
                .and_then(|v| v.trim().parse::<u32>().ok())
        })
        == Some(std::process::id())
}

pub(super) fn freeze(pid: i32, options: ptrace::Options) -> Result<Frozen, LiveError> {
    let mut f = Frozen {
        pid,
        paused: Vec::new(),
        threads: Vec::new(),
        started: Instant::now(),
        stopped_in: Duration::ZERO,
        monotonic_ns: 0,
        warnings: Vec::new(),
        resumed: None,
        _not_send: PhantomData,
    };
    signals::PAUSED.fetch_add(1, Ordering::SeqCst);
    let mut known: HashSet<i32> = HashSet::new();
    let mut rounds = 0;
    loop {
        if let Some(sig) = signals::interrupted() {
            return Err(LiveError::Interrupted(sig.as_str()));
        }
        let tids = match proc::tasks(pid) {
            Ok(t) => t,
            Err(LiveError::NoSuchProcess(_)) => return Err(LiveError::Gone(pid)),
            Err(e) => return Err(e),
        };
        let new: Vec<i32> = tids.into_iter().filter(|t| known.insert(*t)).collect();
        if new.is_empty() {
            break;
        }
        rounds += 1;
        let mut seized = Vec::with_capacity(new.len());
        for &tid in &new {
            match ptrace::seize(Pid::from_raw(tid), options) {
                Ok(()) => {}
                // The thread exited since the scan.
                Err(Errno::ESRCH) => continue,
                // Created by a thread already traced with PTRACE_O_TRACECLONE: it is ours, and
                // stops by itself.
                Err(Errno::EPERM) if rounds > 1 && traced_by_us(tid) => {
                    f.paused.push(Paused { tid, pending: None });
                    seized.push(tid);
                    continue;
                }
                // Dropping `f` detaches the threads seized so far.
                Err(e) => return Err(seize_error(pid, e)),
            }
            // Registered at once, so that an early return detaches it.
            f.paused.push(Paused { tid, pending: None });
            if ptrace::interrupt(Pid::from_raw(tid)).is_ok() {
                seized.push(tid);
            }
        }
        for tid in seized {
            match wait_stop(tid) {
                Ok(StopResult::Stopped(sig)) => {
                    if let Some(p) = f.paused.iter_mut().find(|p| p.tid == tid) {
                        p.pending = sig;
                    }
                }
                Ok(StopResult::Exited) | Err(Errno::ECHILD) => {
                    f.paused.retain(|p| p.tid != tid);
                }
                Ok(StopResult::TimedOut) => f.warnings.push(format!(
                    "thread {tid} did not stop within {} ms (uninterruptible sleep?); its \
                     registers are missing and its memory may change while being read",
                    STOP_TIMEOUT.as_millis()
                )),
                Err(e) => f.warnings.push(format!("waiting for thread {tid}: {e}")),
            }
        }
        if rounds > 64 {
            f.warnings.push(
                "threads kept appearing while the process was being paused; some may have run \
                 on"
                .into(),
            );
            break;
        }
    }
    if f.paused.is_empty() {
        return Err(LiveError::Gone(pid));
    }
    f.stopped_in = f.started.elapsed();
    f.monotonic_ns = super::monotonic_ns();
    for p in &f.paused {
        match registers(p.tid) {
            Ok(regs) => f.threads.push(Thread {
                tid: p.tid as u32,
                signal: 0,
                regs,
            }),
            Err(e) => f
                .warnings
                .push(format!("registers of thread {} unreadable: {e}", p.tid)),
        }
    }
    Ok(f)
}

impl Frozen {
    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Every stopped thread with its registers.
    pub fn threads(&self) -> &[Thread] {
        &self.threads
    }

    /// `CLOCK_MONOTONIC` when every thread had stopped.
    pub fn monotonic_ns(&self) -> i64 {
        self.monotonic_ns
    }

    /// How long stopping every thread took.
    pub fn stop_latency(&self) -> Duration {
        self.stopped_in
    }

    /// Threads that did not stop, and similar problems.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether goscope was interrupted (SIGINT, SIGTERM, SIGHUP) during the pause: callers
    /// check between steps and resume at once.
    pub fn check_interrupted(&self) -> Result<(), LiveError> {
        match signals::interrupted() {
            Some(sig) => Err(LiveError::Interrupted(sig.as_str())),
            None => Ok(()),
        }
    }

    /// Keeps every thread stopped and traced, and gives up the duty to detach them: for a
    /// debugger, which controls the threads from now on. Returns `(thread id, signal to deliver
    /// on resume)` for each.
    pub fn into_traced(mut self) -> Vec<(i32, Option<Signal>)> {
        let out = self.paused.drain(..).map(|p| (p.tid, p.pending)).collect();
        self.resumed = Some(self.started.elapsed());
        signals::PAUSED.fetch_sub(1, Ordering::SeqCst);
        out
    }

    /// Lets every thread run again (detaching) and returns how long the process was paused:
    /// from the first interrupt to the last detach.
    pub fn resume(mut self) -> Duration {
        self.detach_all()
    }

    fn detach_all(&mut self) -> Duration {
        if let Some(d) = self.resumed {
            return d;
        }
        for p in self.paused.drain(..) {
            // ESRCH: the thread exited (or the process was killed) meanwhile.
            let _ = ptrace::detach(Pid::from_raw(p.tid), p.pending);
        }
        let d = self.started.elapsed();
        self.resumed = Some(d);
        signals::PAUSED.fetch_sub(1, Ordering::SeqCst);
        d
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.detach_all();
    }
}
