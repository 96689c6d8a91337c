//! Why the program died: the panic chain of the failing goroutine with its values decoded as
//! the runtime prints them, or the message of a fatal error (`throw`/`fatal`) that never
//! reached `gopanic`, or the signal.

use serde::Serialize;

use crate::goroutine::{Frame, Goroutine};
use crate::snapshot::{Snapshot, Special};
use crate::unwind::{RawFrame, Start};
use crate::values::{Typed, Value};

/// The runtime's name for a signal (`sigtable`): `SIGSEGV: segmentation violation`.
pub fn signal_description(sig: i32) -> String {
    const NAMES: [&str; 32] = [
        "SIGNONE: no trap",
        "SIGHUP: terminal line hangup",
        "SIGINT: interrupt",
        "SIGQUIT: quit",
        "SIGILL: illegal instruction",
        "SIGTRAP: trace trap",
        "SIGABRT: abort",
        "SIGBUS: bus error",
        "SIGFPE: floating-point exception",
        "SIGKILL: kill",
        "SIGUSR1: user-defined signal 1",
        "SIGSEGV: segmentation violation",
        "SIGUSR2: user-defined signal 2",
        "SIGPIPE: write to broken pipe",
        "SIGALRM: alarm clock",
        "SIGTERM: termination",
        "SIGSTKFLT: stack fault",
        "SIGCHLD: child status has changed",
        "SIGCONT: continue",
        "SIGSTOP: stop, unblockable",
        "SIGTSTP: keyboard stop",
        "SIGTTIN: background read from tty",
        "SIGTTOU: background write to tty",
        "SIGURG: urgent condition on socket",
        "SIGXCPU: cpu limit exceeded",
        "SIGXFSZ: file size limit exceeded",
        "SIGVTALRM: virtual alarm clock",
        "SIGPROF: profiling alarm clock",
        "SIGWINCH: window size change",
        "SIGIO: i/o now possible",
        "SIGPWR: power failure restart",
        "SIGSYS: bad system call",
    ];
    usize::try_from(sig)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("signal {sig}"), |s| (*s).to_string())
}

/// One panic of a goroutine's panic chain.
#[derive(Debug, Clone, Serialize)]
pub struct PanicInfo {
    /// The value as the runtime prints it after `panic: `.
    pub message: String,
    /// The decoded value with its dynamic type.
    pub value: Option<Typed>,
    /// The value in `%#v` form.
    pub go_syntax: Option<String>,
    /// The value in `%v` form.
    pub text: Option<String>,
    /// A deferred call recovered it.
    pub recovered: bool,
    /// It was re-panicked with the same value (Go 1.25+).
    pub repanicked: bool,
    /// It is a `runtime.Goexit`, not a panic.
    pub goexit: bool,
    /// A later panic aborted it (before Go 1.22).
    pub aborted: bool,
    /// Address of the `_panic` record.
    #[serde(serialize_with = "crate::hex")]
    pub addr: u64,
}

/// What killed the process.
#[derive(Debug, Clone, Serialize)]
pub struct Crash<'a> {
    /// `panic`, `fatal error`, `signal`, or `unknown`.
    pub kind: &'static str,
    /// The message as the runtime printed it (`assignment to entry in nil map`,
    /// `concurrent map writes`, `SIGABRT: abort`).
    pub message: Option<String>,
    /// The goroutine that failed.
    pub goroutine: Option<u64>,
    /// The thread that received the fatal signal.
    pub thread: Option<u64>,
    /// The failing goroutine's panics, oldest first.
    pub panics: Vec<PanicInfo>,
    /// The line the runtime prints for a fault in Go code:
    /// `[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4b9122]`.
    pub fault: Option<String>,
    /// The system stack (g0 or signal stack) of the crashing thread, innermost first: where a
    /// fatal error thrown by the runtime itself was raised.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runtime_stack: Vec<Frame<'a>>,
}

/// Longest `_panic` chain followed.
const MAX_PANICS: usize = 1000;

impl<'r, 'b> Snapshot<'r, 'b> {
    /// The `_panic` chain of `g`, oldest first (the order the runtime prints).
    pub fn panics(&self, g: &Goroutine<'_>) -> Vec<PanicInfo> {
        let o = &self.rt.off;
        let mut out = Vec::new();
        let mut p = g.saved.panic;
        let mut seen = std::collections::HashSet::new();
        while p != 0 && out.len() < MAX_PANICS && seen.insert(p) {
            let t = self.word(p.wrapping_add(o.panic_arg));
            let data = self.word(p.wrapping_add(o.panic_arg).wrapping_add(8));
            let flag = |off: Option<u64>| {
                off.and_then(|x| self.mem.read_u8(p.wrapping_add(x)).ok())
                    .is_some_and(|b| b != 0)
            };
            let value = self.eface(t, data);
            let message = match &value {
                None => "nil".to_string(),
                Some(v) => self.panic_text(v, data),
            };
            // `%#v`, following one pointer to a struct (`&main.E{Code:42}`) as fmt does.
            let go_syntax = value.as_ref().map(|v| match v.value {
                Value::Pointer(ptr) if v.kind == crate::types::kind::POINTER && ptr != 0 => {
                    let elem = self.types().elem(t).unwrap_or(0);
                    if self.types().kind(elem) == Some(crate::types::kind::STRUCT) {
                        format!("&{}", self.value_at(elem, ptr).go_syntax())
                    } else {
                        v.go_syntax()
                    }
                }
                _ => v.go_syntax(),
            });
            out.push(PanicInfo {
                go_syntax,
                text: value.as_ref().map(|v| v.value.display()),
                message,
                value,
                recovered: flag(Some(o.panic_recovered)),
                repanicked: flag(o.panic_repanicked),
                goexit: flag(o.panic_goexit),
                aborted: flag(o.panic_aborted),
                addr: p,
            });
            p = self.word(p.wrapping_add(o.panic_link));
        }
        out.reverse();
        out
    }

    /// The text `printpanicval` prints for `v`, formatting the runtime's own error types (and
    /// `errors.New`/`fmt.Errorf` values) as their `Error` methods would.
    fn panic_text(&self, v: &Typed, data: u64) -> String {
        let str_field = |addr: u64| self.mem.read_go_string(addr, 64 * 1024).ok();
        match (v.type_name.as_str(), &v.value) {
            ("runtime.plainError", Value::String(s)) => return s.clone(),
            ("runtime.errorString", Value::String(s)) => return format!("runtime error: {s}"),
            ("runtime.boundsError", _) => {
                if let Some(s) = self.bounds_error(data) {
                    return s;
                }
            }
            ("*runtime.TypeAssertionError", _) => {
                if let Some(s) = self.type_assertion_error(data) {
                    return s;
                }
            }
            ("*errors.errorString", _) | ("*fmt.wrapError", _) | ("*fmt.wrapErrors", _) => {
                // The message is the struct's first field (`s`, `msg`).
                if let Some(s) = str_field(data) {
                    return s;
                }
            }
            _ => {}
        }
        v.runtime_print()
    }

    fn bounds_error(&self, addr: u64) -> Option<String> {
        let l = self.rt.layouts.get("runtime.boundsError");
        let f = |n: &str, d: u64| l.and_then(|l| l.field(n)).unwrap_or(d);
        let x = self.mem.read_u64(addr.wrapping_add(f("x", 0))).ok()? as i64;
        let y = self.mem.read_u64(addr.wrapping_add(f("y", 8))).ok()? as i64;
        let signed = self.mem.read_u8(addr.wrapping_add(f("signed", 16))).ok()? != 0;
        let code = self.mem.read_u8(addr.wrapping_add(f("code", 17))).ok()?;
        let convert = if self.rt.minor >= 20 {
            "cannot convert slice with length %y to array or pointer to array with length %x"
        } else {
            "cannot convert slice with length %y to pointer to array with length %x"
        };
        let fmts = [
            "index out of range [%x] with length %y",
            "slice bounds out of range [:%x] with length %y",
            "slice bounds out of range [:%x] with capacity %y",
            "slice bounds out of range [%x:%y]",
            "slice bounds out of range [::%x] with length %y",
            "slice bounds out of range [::%x] with capacity %y",
            "slice bounds out of range [:%x:%y]",
            "slice bounds out of range [%x:%y:]",
            convert,
        ];
        let neg = [
            "index out of range [%x]",
            "slice bounds out of range [:%x]",
            "slice bounds out of range [:%x]",
            "slice bounds out of range [%x:]",
            "slice bounds out of range [::%x]",
            "slice bounds out of range [::%x]",
            "slice bounds out of range [:%x:]",
            "slice bounds out of range [%x::]",
        ];
        let mut fmt = *fmts.get(code as usize)?;
        if signed && x < 0 {
            fmt = neg.get(code as usize).copied().unwrap_or(fmt);
        }
        let xs = if signed {
            x.to_string()
        } else {
            (x as u64).to_string()
        };
        Some(format!(
            "runtime error: {}",
            fmt.replace("%x", &xs).replace("%y", &y.to_string())
        ))
    }

    fn type_assertion_error(&self, addr: u64) -> Option<String> {
        let l = self.rt.layouts.get("runtime.TypeAssertionError");
        let f = |n: &str, d: u64| l.and_then(|l| l.field(n)).unwrap_or(d);
        let ty = self.types();
        let name = |t: u64| ty.name(t);
        let inter_t = self
            .mem
            .read_u64(addr.wrapping_add(f("_interface", 0)))
            .ok()?;
        let concrete = self
            .mem
            .read_u64(addr.wrapping_add(f("concrete", 8)))
            .ok()?;
        let asserted = self
            .mem
            .read_u64(addr.wrapping_add(f("asserted", 16)))
            .ok()?;
        let missing = self
            .mem
            .read_go_string(addr + f("missingMethod", 24), 4096)
            .ok()?;
        let inter = if inter_t == 0 {
            "interface".to_string()
        } else {
            name(inter_t)?
        };
        let as_ = name(asserted)?;
        if concrete == 0 {
            return Some(format!("interface conversion: {inter} is nil, not {as_}"));
        }
        let cs = name(concrete)?;
        if missing.is_empty() {
            let mut msg = format!("interface conversion: {inter} is {cs}, not {as_}");
            if cs == as_ {
                msg.push_str(" (types from different ");
                msg.push_str("packages)");
            }
            return Some(msg);
        }
        Some(format!(
            "interface conversion: {cs} is not {as_}: missing method {missing}"
        ))
    }

    /// `printpanics`: every panic of the chain, oldest first, as the runtime prints them after
    /// a crash (`panic: first [recovered]` then `\tpanic: second`).
    pub fn panic_message(panics: &[PanicInfo]) -> String {
        let mut out = String::new();
        let mut skip_next = false;
        for (i, p) in panics.iter().enumerate() {
            if skip_next {
                skip_next = false;
                continue;
            }
            if p.goexit {
                continue;
            }
            if i > 0 {
                out.push_str("\n\t");
            }
            out.push_str("panic: ");
            out.push_str(&p.message);
            if p.recovered && p.repanicked {
                out.push_str(" [recovered, repanicked]");
            } else if p.recovered {
                out.push_str(" [recovered]");
            }
            // The runtime prints a repanicked value once.
            if p.repanicked {
                skip_next = true;
            }
        }
        out
    }

    /// The message of a `throw`/`fatal` whose frame is among `frames`: the string captured by
    /// the closure `throw` passes to `systemstack` (`{fn, s.ptr, s.len}` in its frame), else
    /// any `{ptr, len}` in the frame that points at a short printable string in the binary.
    pub fn throw_message(&self, frames: &[RawFrame]) -> Option<String> {
        let tab = self.rt.bin.pclntab();
        for rf in frames {
            let Some(f) = tab.find_func(self.unbias(rf.pc)) else {
                continue;
            };
            if self.rt.special(f.entry()) != Some(Special::Throw) {
                continue;
            }
            let closure = format!("{}.func1", f.name().trim_end_matches(".abi0"));
            let closure_entry = tab
                .funcs()
                .find(|c| c.name() == closure)
                .map(|c| c.entry().wrapping_add(self.bias));
            let (lo, hi) = (rf.sp, rf.fp.max(rf.sp).min(rf.sp.saturating_add(4096)));
            let mut a = lo;
            let readable = |p: u64, n: u64| -> Option<String> {
                if n == 0 || n > 1024 {
                    return None;
                }
                let b = self.mem.read_vec(p, n as usize).ok()?;
                b.iter()
                    .all(|&c| (0x20..0x7f).contains(&c) || c == b'\n' || c == b'\t')
                    .then(|| String::from_utf8_lossy(&b).into_owned())
            };
            while a.saturating_add(24) <= hi.saturating_add(16) {
                if Some(self.word(a)) == closure_entry
                    && let Some(s) =
                        readable(self.word(a.wrapping_add(8)), self.word(a.wrapping_add(16)))
                {
                    return Some(s);
                }
                a = match a.checked_add(8) {
                    Some(x) => x,
                    None => break,
                };
            }
            // Fallback: a string header in the frame or its argument spill slots.
            let mut a = lo;
            while a.saturating_add(16) <= hi.saturating_add(16) {
                let p = self.word(a);
                if self.rt.bin.read_va(self.unbias(p), 1).is_some()
                    && let Some(s) = readable(p, self.word(a.wrapping_add(8)))
                {
                    return Some(s);
                }
                a = match a.checked_add(8) {
                    Some(x) => x,
                    None => break,
                };
            }
        }
        None
    }

    /// All physical frames of the crashing thread, following stack switches.
    pub fn thread_raw_frames(&self, tid: u64) -> Vec<RawFrame> {
        let Some(t) = self.thread(tid) else {
            return Vec::new();
        };
        let m = self.m_of_thread(t.tid);
        let r = &t.regs;
        let owner = self.owner_of(r.sp(), m.map_or(0, |m| m.curg), m);
        self.unwind(
            Start {
                pc: r.pc(),
                sp: r.sp(),
                lr: r.lr(),
                g: owner,
                trap: true,
                syscall: false,
            },
            m,
        )
        .0
    }

    /// What killed the process, given the core's fatal signal (`NT_SIGINFO`: number, code and
    /// address/sender) and the process id.
    pub fn crash(&self, siginfo: Option<(i32, i32, u64)>, pid: Option<i32>) -> Crash<'b> {
        let _ = pid;
        // Each thread's physical frames, following stack switches.
        let all: Vec<(u64, Vec<RawFrame>)> = self
            .threads
            .iter()
            .map(|t| (u64::from(t.tid), self.thread_raw_frames(u64::from(t.tid))))
            .collect();
        let mut thread = self.threads.first().map(|t| u64::from(t.tid));
        // A signal the runtime handled (kill -ABRT, a fault in C): the thread whose outermost
        // signal frame is not one of the SIGQUITs the runtime relays to make every M dump.
        let outer_signal = |frames: &[RawFrame]| frames.iter().filter_map(|f| f.signal).next_back();
        let has_throw_or_panic = all.first().is_some_and(|(_, f)| {
            f.iter().any(|rf| {
                self.rt.bin.func_at(self.unbias(rf.pc)).is_some_and(|func| {
                    matches!(
                        func.name(),
                        "runtime.fatalpanic"
                            | "runtime.fatalthrow"
                            | "runtime.throw"
                            | "runtime.fatal"
                    )
                })
            })
        });
        if !has_throw_or_panic
            && let Some((tid, _)) = all
                .iter()
                .find(|(_, f)| outer_signal(f).is_some_and(|s| s.signo != 3))
        {
            thread = Some(*tid);
        }
        let raw: Vec<RawFrame> = all
            .iter()
            .find(|(t, _)| Some(*t) == thread)
            .map(|(_, f)| f.clone())
            .unwrap_or_default();
        let m = thread.and_then(|t| self.m_of_thread(t as u32));
        let curg = m.map_or(0, |m| m.curg);
        let system: Vec<RawFrame> = raw
            .iter()
            .copied()
            .filter(|f| curg == 0 || f.g != curg)
            .collect();
        let g = (curg != 0).then(|| self.goroutine(curg).ok()).flatten();
        let mut crash = Crash {
            kind: "unknown",
            message: None,
            goroutine: g.as_ref().map(|g| g.id),
            thread,
            panics: Vec::new(),
            fault: None,
            runtime_stack: Vec::new(),
        };
        if let Some(g) = &g {
            crash.panics = self.panics(g);
        }
        // The fault the runtime reports: g.sig of the goroutine, or of g0 (faults in C).
        for gaddr in [curg, m.map_or(0, |m| m.g0)] {
            if gaddr == 0 || crash.fault.is_some() {
                continue;
            }
            let o = &self.rt.off;
            let sig = self.mem.read_u32(gaddr.wrapping_add(o.g_sig)).unwrap_or(0);
            if sig != 0 {
                crash.fault = Some(format!(
                    "[signal {} code={:#x} addr={:#x} pc={:#x}]",
                    signal_description(sig as i32),
                    self.word(gaddr.wrapping_add(o.g_sigcode0)),
                    self.word(gaddr.wrapping_add(o.g_sigcode1)),
                    self.word(gaddr.wrapping_add(o.g_sigpc))
                ));
            }
        }
        let thrown_on_system = self.throw_message(&system);
        if let Some(msg) = thrown_on_system
            .clone()
            .or_else(|| self.throw_message(&raw))
        {
            crash.kind = "fatal error";
            crash.message = Some(msg);
        } else if !crash.panics.is_empty() {
            crash.kind = "panic";
            crash.message = Some(Snapshot::panic_message(&crash.panics));
        } else if let Some(s) = outer_signal(&raw) {
            // The outermost signal handler on the thread handles the original signal; the
            // runtime prints it as `SIGSEGV: segmentation violation` and `PC=… m=… sigcode=…`.
            crash.kind = "signal";
            let mut msg = format!(
                "{}\nPC={:#x} m={} sigcode={}",
                signal_description(s.signo),
                s.pc,
                m.map_or(0, |m| m.id),
                s.code
            );
            // Go 1.22 added the fault address to this line.
            if (s.signo == 11 || s.signo == 7) && self.rt.minor >= 22 {
                msg.push_str(&format!(" addr={:#x}", s.addr));
            }
            if m.is_some_and(|m| m.incgo) {
                msg.push_str("\nsignal arrived during cgo execution");
            }
            crash.message = Some(msg);
        } else if let Some((signo, _, _)) = siginfo {
            crash.kind = "signal";
            crash.message = Some(signal_description(signo));
        }
        // The runtime prints the system stack ("runtime stack:") when the fatal error was
        // raised there, or when no goroutine was running.
        if thrown_on_system.is_some() || (g.is_none() && !system.iter().all(|f| f.foreign)) {
            crash.runtime_stack = self.frames(&system);
        }
        crash
    }
}
