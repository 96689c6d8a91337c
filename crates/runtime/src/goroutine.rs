//! Goroutines: what `runtime.g` says about each (id, status, wait reason, creator, labels,
//! thread) and their stacks as logical frames, inlined calls expanded.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::snapshot::Snapshot;
use crate::unwind::{RawFrame, Start};

/// `_Grunning`.
pub const STATUS_RUNNING: u32 = 2;
/// `_Gsyscall`.
pub const STATUS_SYSCALL: u32 = 3;
/// `_Gwaiting`.
pub const STATUS_WAITING: u32 = 4;
/// `_Gdead`.
pub const STATUS_DEAD: u32 = 6;
/// `_Gdeadextra` (Go 1.26+): an extra M's goroutine waiting for a cgo callback.
pub const STATUS_DEADEXTRA: u32 = 11;
/// The scan bit of `atomicstatus`.
const SCAN: u32 = 0x1000;

/// A goroutine status as the runtime names it (`gStatusStrings`).
pub fn status_name(code: u32, minor: u32) -> &'static str {
    match code {
        0 => "idle",
        1 => "runnable",
        2 => "running",
        3 => "syscall",
        4 => "waiting",
        6 => "dead",
        8 => "copystack",
        9 => "preempted",
        10 if minor >= 26 => "leaked",
        11 if minor >= 26 => "waiting for cgo callback",
        _ => "???",
    }
}

/// Where a goroutine was started.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedBy<'a> {
    /// The function containing the `go` statement.
    pub function: Cow<'a, str>,
    /// Its file.
    pub file: Cow<'a, str>,
    /// The line of the `go` statement.
    pub line: i32,
    /// The return pc of the `go` statement (`g.gopc`).
    #[serde(serialize_with = "crate::hex")]
    pub pc: u64,
    /// `pc` minus the function entry, as the runtime prints it (`+0x2f`).
    #[serde(serialize_with = "crate::hex")]
    pub offset: u64,
    /// The creating goroutine (Go 1.21+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutine: Option<u64>,
}

/// One logical frame: a function activation, or a call inlined into one.
#[derive(Debug, Clone, Serialize)]
pub struct Frame<'a> {
    /// Function name as the pclntab spells it (`runtime.gopanic`, `main.(*T).M`).
    pub function: Cow<'a, str>,
    /// Source file.
    pub file: Cow<'a, str>,
    /// Source line.
    pub line: i32,
    /// The frame's pc (a return address except at a fault or the innermost frame).
    #[serde(serialize_with = "crate::hex")]
    pub pc: u64,
    /// Whether this call was inlined into the next frame.
    pub inlined: bool,
    /// `pc` minus the function entry (physical frames).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::hex_opt"
    )]
    pub offset: Option<u64>,
    /// Stack pointer (physical frames).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::hex_opt"
    )]
    pub sp: Option<u64>,
    /// Frame top: the caller's stack pointer (physical frames).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::hex_opt"
    )]
    pub fp: Option<u64>,
    /// cgo machinery or C code.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cgo: bool,
    /// A compiler-generated wrapper (the runtime hides these unless crashing).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wrapper: bool,
    /// `pc` is where execution stopped (a fault, a signal, the thread's current instruction),
    /// not a return address.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trap: bool,
}

impl Frame<'_> {
    /// The name the runtime prints in tracebacks: `panic` for `runtime.gopanic`, `[...]` for the
    /// type arguments of generic functions.
    pub fn print_name(&self) -> String {
        print_name(&self.function)
    }
}

/// The runtime's `printFuncName`.
pub fn print_name(name: &str) -> String {
    if name == "runtime.gopanic" {
        return "panic".into();
    }
    // funcNamePiecesForPrint: replace the bracketed shape list with "[...]".
    if let Some(i) = name.find('[') {
        let mut depth = 0usize;
        for (j, c) in name[i..].char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return format!("{}[...]{}", &name[..i], &name[i + j + 1..]);
                    }
                }
                _ => {}
            }
        }
    }
    name.to_string()
}

/// The saved scheduling state of a g, for unwinding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Saved {
    /// `g.sched.pc`, `.sp`, `.lr`, `.bp`.
    pub sched: (u64, u64, u64, u64),
    /// `g.syscallpc`, `.syscallsp`.
    pub syscall: (u64, u64),
    /// `g.m`.
    pub m: u64,
    /// `g._panic`.
    pub panic: u64,
    /// `g.sig`, `g.sigcode0`, `g.sigcode1`, `g.sigpc`.
    pub sig: (u32, u64, u64, u64),
}

/// One goroutine.
#[derive(Debug, Clone, Serialize)]
pub struct Goroutine<'a> {
    /// `goid`.
    pub id: u64,
    /// Address of the `g`.
    #[serde(serialize_with = "crate::hex")]
    pub addr: u64,
    /// Status as the runtime names it: `running`, `runnable`, `waiting`, `syscall`, …
    pub status: &'static str,
    /// Raw status without the scan bit.
    #[serde(skip)]
    pub status_code: u32,
    /// The bracketed state of the runtime's goroutine header (`chan receive, locked to
    /// thread`).
    pub state: String,
    /// The GC was scanning its stack.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub scan: bool,
    /// Why it waits (`chan receive`), for waiting goroutines.
    pub wait_reason: Option<String>,
    /// `g.waitsince`: when it blocked, in the runtime's monotonic nanoseconds (`nanotime`); 0
    /// when unknown (the runtime records it only when a GC finds the goroutine blocked).
    #[serde(rename = "wait_since_ns")]
    pub wait_since: i64,
    /// How long it has waited, in whole minutes, as the runtime computes it. `None` when the
    /// runtime would not print it. The core has no clock: "now" is the newest runtime timestamp
    /// found in it, so this is a lower bound.
    pub wait_minutes: Option<i64>,
    /// Where it was started (absent for the main goroutine and for unknown creators).
    pub created_by: Option<CreatedBy<'a>>,
    /// The function it started in.
    pub start_function: Option<Cow<'a, str>>,
    /// pprof labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Locked to its thread (`runtime.LockOSThread`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub locked_to_thread: bool,
    /// The OS thread running it (running and syscall goroutines).
    pub thread: Option<u64>,
    /// The id of its M.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m: Option<i64>,
    /// A runtime-internal goroutine (the runtime hides these unless crashing).
    pub system: bool,
    /// Its stack, innermost first.
    pub frames: Vec<Frame<'a>>,
    /// What could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Saved state.
    #[serde(skip)]
    pub saved: Saved,
}

impl Goroutine<'_> {
    /// A goroutine whose `g` could not be read (damaged core): listed with the reason.
    pub fn unreadable(addr: u64, why: String) -> Goroutine<'static> {
        Goroutine {
            id: 0,
            addr,
            status: "unreadable",
            status_code: u32::MAX,
            state: "unreadable".into(),
            scan: false,
            wait_reason: None,
            wait_since: 0,
            wait_minutes: None,
            created_by: None,
            start_function: None,
            labels: BTreeMap::new(),
            locked_to_thread: false,
            thread: None,
            m: None,
            system: false,
            frames: Vec::new(),
            warnings: vec![why],
            saved: Saved::default(),
        }
    }

    /// The bracketed state the runtime prints in a goroutine header: `chan receive, 3 minutes,
    /// locked to thread`.
    pub fn state(&self) -> String {
        self.state_text(true)
    }

    /// [`Goroutine::state`] without the wait time: `chan receive, locked to thread`.
    pub fn state_without_wait(&self) -> String {
        self.state_text(false)
    }

    fn state_text(&self, with_wait: bool) -> String {
        let mut s = match &self.wait_reason {
            Some(r) if self.status_code == STATUS_WAITING => r.clone(),
            _ => self.status.to_string(),
        };
        if self.scan {
            s.push_str(" (scan)");
        }
        if with_wait
            && let Some(m) = self.wait_minutes
            && m >= 1
        {
            s.push_str(&format!(", {m} minutes"));
        }
        if self.locked_to_thread {
            s.push_str(", locked to thread");
        }
        s
    }

    /// Whether the runtime skips it in tracebacks (dead).
    pub fn is_dead(&self) -> bool {
        self.status_code == STATUS_DEAD || self.status_code == STATUS_DEADEXTRA
    }
}

fn le64(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    b.get(o..o + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn le32(b: &[u8], off: u64) -> u32 {
    let o = off as usize;
    b.get(o..o + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

impl<'r, 'b> Snapshot<'r, 'b> {
    /// Reads the goroutine at `addr`: everything but its stack.
    pub fn goroutine(&self, addr: u64) -> Result<Goroutine<'b>, goscope_target::MemError> {
        let o = &self.rt.off;
        let n = o.g_read_size as usize;
        let owned;
        let b: &[u8] = match self.mem.slice(addr, n) {
            Some(s) => s,
            None => {
                owned = self.mem.read_vec(addr, n)?;
                &owned
            }
        };
        let raw_status = le32(b, o.g_atomicstatus);
        let code = raw_status & !SCAN;
        let reason = b.get(o.g_waitreason as usize).copied().unwrap_or(0);
        let wait_reason =
            (code == STATUS_WAITING && reason != 0).then(|| self.rt.wait_reason(reason));
        let m = le64(b, o.g_m);
        let gopc = le64(b, o.g_gopc);
        let startpc = le64(b, o.g_startpc);
        let id = le64(b, o.g_goid);
        let created_by = if id == 1 {
            None
        } else {
            self.rt.created_at(self.unbias(gopc)).map(|c| {
                let mut c = (*c).clone();
                c.pc = gopc;
                c.goroutine = o
                    .g_parent_goid
                    .map(|p| le64(b, p))
                    .filter(|&p| p != 0 && self.rt.minor >= 21);
                c
            })
        };
        let start_function = self.rt.start_function(self.unbias(startpc));
        let system = start_function.as_deref().is_some_and(|n| {
            n.starts_with("runtime.")
                && !matches!(
                    n,
                    "runtime.main" | "runtime.corostart" | "runtime.handleAsyncEvent"
                )
        });
        let mut thread = None;
        let mut m_id = None;
        if m != 0
            && let Some(mi) = self.m_at(m)
        {
            m_id = Some(mi.id);
            if code == STATUS_RUNNING || code == STATUS_SYSCALL {
                thread = Some(mi.tid);
            }
        }
        let mut g = Goroutine {
            id,
            addr,
            status: status_name(code, self.rt.minor),
            status_code: code,
            state: String::new(),
            scan: raw_status & SCAN != 0,
            wait_reason,
            wait_since: le64(b, o.g_waitsince) as i64,
            wait_minutes: None,
            created_by,
            start_function,
            labels: BTreeMap::new(),
            locked_to_thread: le64(b, o.g_lockedm) != 0,
            thread,
            m: m_id,
            system,
            frames: Vec::new(),
            warnings: Vec::new(),
            saved: Saved {
                sched: (
                    le64(b, o.g_sched_pc),
                    le64(b, o.g_sched_sp),
                    le64(b, o.g_sched_lr),
                    le64(b, o.g_sched_bp),
                ),
                syscall: (le64(b, o.g_syscallpc), le64(b, o.g_syscallsp)),
                m,
                panic: le64(b, o.g_panic),
                sig: (
                    le32(b, o.g_sig),
                    le64(b, o.g_sigcode0),
                    le64(b, o.g_sigcode1),
                    le64(b, o.g_sigpc),
                ),
            },
        };
        if let Some(lo) = o.g_labels {
            let p = le64(b, lo);
            if p != 0 {
                g.labels = self.labels(p);
            }
        }
        g.state = g.state();
        Ok(g)
    }

    /// The physical frames of goroutine `g`: from its thread's registers when it is running,
    /// from `syscallpc/sp` in a system call, otherwise from its saved `sched` context.
    pub fn raw_stack(&self, g: &Goroutine<'_>) -> (Vec<RawFrame>, Vec<String>) {
        let mut warnings = Vec::new();
        if g.status_code == STATUS_RUNNING && self.threads.is_empty() {
            // A live process read without pausing it: the registers of the thread running the
            // goroutine are not known, and its saved context is stale.
            warnings.push(
                "running on another thread; its stack is only shown when the process is paused"
                    .into(),
            );
            return (Vec::new(), warnings);
        }
        if g.status_code == STATUS_RUNNING
            && let Some(m) = self.m_at(g.saved.m)
            && m.curg == g.addr
        {
            if let Some(t) = self.thread(m.tid) {
                let r = &t.regs;
                let owner = self.owner_of(r.sp(), g.addr, Some(m));
                let (frames, w) = self.unwind(
                    Start {
                        pc: r.pc(),
                        sp: r.sp(),
                        lr: r.lr(),
                        g: owner,
                        trap: true,
                        syscall: false,
                    },
                    Some(m),
                );
                let mine: Vec<RawFrame> = frames.into_iter().filter(|f| f.g == g.addr).collect();
                if !mine.is_empty() {
                    warnings.extend(w);
                    return (mine, warnings);
                }
                warnings.push(format!(
                    "thread {} does not lead back to this goroutine's stack; showing its last \
                     saved context",
                    m.tid
                ));
            } else {
                warnings.push(format!(
                    "running on thread {}, whose registers are not in the target; showing its last saved \
                     context",
                    m.tid
                ));
            }
        }
        let m = self.m_at(g.saved.m);
        let (start, syscall) = if g.saved.syscall.1 != 0 && g.status_code == STATUS_SYSCALL {
            (g.saved.syscall, true)
        } else {
            ((g.saved.sched.0, g.saved.sched.1), false)
        };
        if start.0 == 0 && start.1 == 0 {
            return (Vec::new(), warnings);
        }
        let (frames, w) = self.unwind(
            Start {
                pc: start.0,
                sp: start.1,
                lr: if syscall { 0 } else { g.saved.sched.2 },
                g: g.addr,
                trap: false,
                syscall,
            },
            // A parked goroutine's stack does not switch; only follow switches for the running.
            if g.status_code == STATUS_RUNNING {
                m
            } else {
                None
            },
        );
        warnings.extend(w);
        (frames, warnings)
    }

    /// Logical frames for physical frames: each expanded into its chain of inlined calls.
    pub fn frames(&self, raw: &[RawFrame]) -> Vec<Frame<'b>> {
        let mut out = Vec::with_capacity(raw.len() + raw.len() / 2);
        for rf in raw {
            let link = self.unbias(rf.pc);
            let Some(entry) = self.pc_info(rf.pc).map(|i| i.entry) else {
                out.push(Frame {
                    function: Cow::Owned(self.rt.c_symbol(link)),
                    file: Cow::Borrowed("?"),
                    line: 0,
                    pc: rf.pc,
                    inlined: false,
                    offset: None,
                    sp: Some(rf.sp),
                    fp: None,
                    cgo: true,
                    wrapper: false,
                    trap: rf.trap,
                });
                continue;
            };
            let sym = if !rf.trap && link > entry {
                link - 1
            } else {
                link
            };
            let Some(info) = self.rt.sym_info(sym, entry) else {
                continue;
            };
            let n = info.chain.len();
            for (i, c) in info.chain.iter().enumerate() {
                let physical = i + 1 == n;
                let mut f = c.clone();
                f.pc = rf.pc;
                f.trap = rf.trap;
                if physical {
                    f.offset = Some(link - info.entry);
                    f.sp = Some(rf.sp);
                    f.fp = Some(rf.fp);
                    f.cgo = info.cgo;
                }
                out.push(f);
            }
        }
        out
    }

    /// Fills in `g.frames` (and warnings).
    pub fn fill_stack(&self, g: &mut Goroutine<'b>) {
        let (raw, w) = self.raw_stack(g);
        g.frames = self.frames(&raw);
        g.warnings.extend(w);
    }

    /// pprof labels at `p` (`g.labels`): a `map[string]string` before Go 1.24, then a sorted
    /// slice of `{key, value string}`.
    fn labels(&self, p: u64) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if self.rt.minor >= 24 {
            let ptr = self.word(p);
            let len = self.word(p.wrapping_add(8));
            if len > 1024 {
                return out;
            }
            for i in 0..len {
                let e = ptr.wrapping_add(i * 32);
                if let (Ok(k), Ok(v)) = (
                    self.mem.read_go_string(e, 4096),
                    self.mem.read_go_string(e.wrapping_add(16), 4096),
                ) {
                    out.insert(k, v);
                }
            }
        } else {
            let h = self.word(p);
            if let Ok(entries) = crate::maps::walk_hmap_strings(self, h) {
                out.extend(entries);
            }
        }
        out
    }
}
