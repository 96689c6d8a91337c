//! The stack unwinder: the runtime's own algorithm (`runtime/traceback.go`), driven by the
//! pclntab's SP-delta tables, so it needs no DWARF CFI and works on stripped binaries.
//!
//! Per frame `(pc, sp)`: the function's SP delta at `pc` gives the frame's top `fp` (plus the
//! return address slot on x86); the caller's pc is the word below `fp` (x86) or the saved link
//! register (arm64). Stack switches are followed like the runtime follows them: on an M's g0
//! stack, `runtime.morestack` resumes the goroutine's saved context and `runtime.systemstack`
//! returns to the goroutine's stack; `runtime.sigtramp` on the signal stack resumes the
//! interrupted context saved by the kernel; a thread in the vDSO or in C code continues at the
//! Go context its M saved. Injected calls (`sigpanic`, `asyncPreempt`) make their caller's pc a
//! fault point, not a return address.

use goscope_binary::Arch;
use goscope_binary::pclntab::funcflag;
use goscope_target::{Registers, TargetArch};

use crate::snapshot::{MInfo, Snapshot, Special};

/// One physical frame.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame {
    /// Runtime pc: a return address, or a fault/entry point when `trap`.
    pub pc: u64,
    /// Stack pointer in the frame.
    pub sp: u64,
    /// The caller's stack pointer (the frame's top).
    pub fp: u64,
    /// `pc` is where execution stopped (signal, preemption, entry), not a return address.
    pub trap: bool,
    /// The g whose stack holds the frame (a goroutine, or an M's g0 or gsignal).
    pub g: u64,
    /// A frame in code with no Go function information (C, vDSO).
    pub foreign: bool,
    /// For `runtime.sigtramp` frames: the signal being handled and where it interrupted.
    pub signal: Option<SignalFrame>,
}

/// A signal delivery found on a stack: the kernel's `siginfo` and interrupted context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalFrame {
    /// Signal number.
    pub signo: i32,
    /// `si_code`.
    pub code: i32,
    /// `si_addr` (faults).
    pub addr: u64,
    /// The interrupted pc.
    pub pc: u64,
}

/// Where unwinding starts.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// Program counter.
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Link register (arm64), 0 elsewhere or unknown.
    pub lr: u64,
    /// The g whose stack `sp` is on.
    pub g: u64,
    /// `pc` is an interrupted instruction (signal context), not a call site.
    pub trap: bool,
    /// The context was saved by `entersyscall` (`g.syscallpc/sp`).
    pub syscall: bool,
}

/// What the unwinder needs to know about the function at a pc, decoded once per pc.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PcInfo {
    /// Link-time entry of the function.
    pub entry: u64,
    /// `funcflag` bits.
    pub flag: u8,
    /// Whether the function has an SP-delta table (assembly without one is foreign).
    pub has_pcsp: bool,
    /// SP delta at the pc.
    pub spdelta: Option<i32>,
    /// Special role.
    pub special: Option<Special>,
}

/// Most frames produced for one stack; deeper stacks are cut with a warning.
pub const MAX_FRAMES: usize = 1 << 20;

/// Offsets in the kernel's signal frame, from the signal handler's frame top (`fp` of
/// `runtime.sigtramp`): amd64 `rt_sigframe` is `{pretcode, ucontext}`, and `uc_mcontext` is at
/// 40 in the `ucontext`; arm64 `rt_sigframe` is `{siginfo (128), ucontext}` with `uc_mcontext` at
/// 176.
struct SigContext {
    pc: u64,
    sp: u64,
    lr: u64,
    info: u64,
}

impl<'r, 'b> Snapshot<'r, 'b> {
    /// The function facts at runtime pc `pc`, or `None` outside Go code.
    pub(crate) fn pc_info(&self, pc: u64) -> Option<PcInfo> {
        self.rt.pc_info(self.unbias(pc))
    }

    /// The g (among `m`'s and `hint`) whose stack holds `sp`.
    pub(crate) fn owner_of(&self, sp: u64, hint: u64, m: Option<&MInfo>) -> u64 {
        let mut cands = vec![hint];
        if let Some(m) = m {
            cands.extend([m.curg, m.g0, m.gsignal]);
        }
        for g in cands {
            if g != 0 && self.stack_bounds(g).contains(sp) {
                return g;
            }
        }
        // An M's g0 on a thread not created by Go has unknown bounds: assume g0.
        m.map_or(hint, |m| if hint == 0 { m.g0 } else { hint })
    }

    fn sig_context(&self, fp: u64) -> Option<SigContext> {
        match self.rt.bin.arch() {
            Arch::Amd64 => {
                let mc = fp.wrapping_add(40);
                Some(SigContext {
                    pc: self.mem.read_u64(mc.wrapping_add(128)).ok()?,
                    sp: self.mem.read_u64(mc.wrapping_add(120)).ok()?,
                    lr: 0,
                    // rt_sigframe: {pretcode, ucontext (304 bytes), siginfo}.
                    info: fp.wrapping_add(304),
                })
            }
            Arch::Arm64 => {
                let mc = fp.wrapping_add(128 + 176);
                Some(SigContext {
                    pc: self.mem.read_u64(mc.wrapping_add(264)).ok()?,
                    sp: self.mem.read_u64(mc.wrapping_add(256)).ok()?,
                    lr: self
                        .mem
                        .read_u64(mc.wrapping_add(8).wrapping_add(30 * 8))
                        .ok()?,
                    // rt_sigframe: {siginfo, ucontext}.
                    info: fp,
                })
            }
            _ => None,
        }
    }

    /// The registers a signal interrupted, from the kernel's signal frame of the
    /// `runtime.sigtramp` frame whose frame top is `fp`, in the order of a thread's registers
    /// (`pr_reg`). What the kernel does not save there (`fs_base`, segment registers) is 0.
    pub fn signal_registers(&self, fp: u64) -> Option<Registers> {
        match self.rt.bin.arch() {
            Arch::Amd64 => {
                // `struct sigcontext`: r8–r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip,
                // eflags.
                let mc = fp.wrapping_add(40);
                let g = |i: u64| self.mem.read_u64(mc.wrapping_add(8 * i)).ok();
                let (r8, r9, r10, r11, r12, r13, r14, r15) =
                    (g(0)?, g(1)?, g(2)?, g(3)?, g(4)?, g(5)?, g(6)?, g(7)?);
                let (rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags) = (
                    g(8)?,
                    g(9)?,
                    g(10)?,
                    g(11)?,
                    g(12)?,
                    g(13)?,
                    g(14)?,
                    g(15)?,
                    g(16)?,
                    g(17)?,
                );
                Some(Registers::new(
                    TargetArch::Amd64,
                    vec![
                        r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, 0,
                        rip, 0, eflags, rsp, 0, 0, 0, 0, 0, 0, 0,
                    ],
                ))
            }
            Arch::Arm64 => {
                // `struct sigcontext`: fault_address, x0–x30, sp, pc, pstate.
                let mc = fp.wrapping_add(128 + 176);
                let mut v = Vec::with_capacity(34);
                for i in 0..34u64 {
                    v.push(self.mem.read_u64(mc.wrapping_add(8 + 8 * i)).ok()?);
                }
                Some(Registers::new(TargetArch::Arm64, v))
            }
            _ => None,
        }
    }

    /// The registers of goroutine `g`'s innermost frame (its stack filled in), when they are
    /// known: those of the thread running it when the thread stopped in that frame, or those
    /// a signal saved when it interrupted that frame (a core dumped on a signal, `kill -ABRT`).
    pub fn innermost_registers(&self, g: &crate::Goroutine<'_>) -> Option<Registers> {
        let f0 = g.frames.iter().find(|f| !f.inlined)?;
        let t = self.thread(g.thread?)?;
        if f0.pc == t.regs.pc() && f0.sp == Some(t.regs.sp()) {
            return Some(t.regs.clone());
        }
        let raw = self.thread_raw_frames(u64::from(t.tid));
        raw.iter().find_map(|r| {
            let s = r.signal?;
            let regs = self.signal_registers(r.fp)?;
            (s.pc == f0.pc && Some(regs.sp()) == f0.sp).then_some(regs)
        })
    }

    /// Unwinds from `start`. With `m`, stack switches on that M are followed (g0 → goroutine,
    /// signal stack → interrupted code, C/vDSO → the saved Go context). Returns the frames and
    /// a warning when unwinding stopped early for a reason other than reaching the stack top.
    pub fn unwind(&self, start: Start, m: Option<&MInfo>) -> (Vec<RawFrame>, Option<String>) {
        let uses_lr = self.rt.uses_lr();
        let o = &self.rt.off;
        let mut frames: Vec<RawFrame> = Vec::new();
        let (mut pc, mut sp, mut lr, mut g) = (start.pc, start.sp, start.lr, start.g);
        let mut trap = start.trap;
        let mut innermost = true;
        let mut syscall = start.syscall;
        // The frame was resumed by an injected call on an LR machine: a function interrupted
        // before its frame existed (spdelta 0) legitimately has fp == sp and its LR on the stack.
        let mut resumed = false;
        let mut warning = None;
        // The saved Go contexts not yet used, for threads found outside Go code.
        let mut escapes = 0;
        // Nested signal handlers followed (a corrupt stack must not loop through them).
        let mut signal_jumps = 0;

        if pc == 0 {
            // A call through a nil function value: start in the caller.
            pc = self.word(sp);
            if uses_lr {
                lr = 0;
            } else {
                sp += 8;
            }
        }
        while frames.len() < MAX_FRAMES {
            let Some(mut f) = self.pc_info(pc) else {
                if !innermost {
                    break;
                }
                // Not Go code: C (cgo), the vDSO, or garbage.
                frames.push(RawFrame {
                    pc,
                    sp,
                    fp: 0,
                    trap,
                    g,
                    foreign: true,
                    signal: None,
                });
                escapes += 1;
                if let Some(m) = m
                    && escapes <= 2
                {
                    if m.vdso.0 != 0 && m.vdso.1 != 0 {
                        // vdsoPC is a return address in the Go caller, vdsoSP its SP.
                        (pc, sp, lr, trap) = (m.vdso.1, m.vdso.0, 0, false);
                        g = self.owner_of(sp, g, Some(m));
                        continue;
                    }
                    if m.curg != 0 {
                        // cgo: the goroutine's context saved by entersyscall in cgocall.
                        let spc = self.word(m.curg.wrapping_add(o.g_syscallpc));
                        let ssp = self.word(m.curg.wrapping_add(o.g_syscallsp));
                        if spc != 0 && ssp != 0 {
                            (pc, sp, lr, trap, g) = (spc, ssp, 0, false, m.curg);
                            syscall = true;
                            continue;
                        }
                    }
                }
                if frames.len() == 1 {
                    warning = Some(format!(
                        "stack starts outside Go code (pc {pc:#x}); its C frames are not shown"
                    ));
                }
                break;
            };
            if !f.has_pcsp {
                break;
            }
            let mut special = f.special;
            let mut flag = f.flag;
            if special == Some(Special::Cgocallback) || (innermost && syscall) {
                flag &= !funcflag::SP_WRITE;
            }
            // Stack jumps on g0: back to the goroutine the M is running.
            if let Some(m) = m
                && g == m.g0
                && m.curg != 0
                && self.word(m.curg.wrapping_add(o.g_m)) == m.addr
            {
                match special {
                    Some(Special::Morestack) => {
                        // Show morestack on g0 (the runtime's "runtime stack:" ends there),
                        // then resume where the goroutine asked for more stack.
                        let spd = f.spdelta.unwrap_or(0);
                        let mfp = sp.wrapping_add(spd as i64 as u64) + if uses_lr { 0 } else { 8 };
                        frames.push(RawFrame {
                            pc,
                            sp,
                            fp: mfp,
                            trap,
                            g,
                            foreign: false,
                            signal: None,
                        });
                        g = m.curg;
                        // The goroutine's context is innermost on its own stack (on arm64 its
                        // frame may not exist yet: morestack runs in the prologue).
                        innermost = true;
                        pc = self.word(g.wrapping_add(o.g_sched_pc));
                        sp = self.word(g.wrapping_add(o.g_sched_sp));
                        lr = self.word(g.wrapping_add(o.g_sched_lr));
                        match self.pc_info(pc) {
                            Some(nf) => f = nf,
                            None => {
                                warning = Some(format!(
                                    "morestack's saved context has an unknown pc {pc:#x}"
                                ));
                                break;
                            }
                        }
                        special = f.special;
                        flag = f.flag;
                    }
                    Some(Special::Systemstack) => {
                        let at_edge = uses_lr && f.spdelta == Some(0);
                        if !at_edge {
                            g = m.curg;
                            sp = self.word(g.wrapping_add(o.g_sched_sp));
                        }
                        flag &= !funcflag::SP_WRITE;
                    }
                    _ => {}
                }
            }
            let Some(spd) = f.spdelta else {
                warning = Some(format!(
                    "no SP delta for {} at {pc:#x}; the stack below it is not shown",
                    self.rt.func_name(f.entry)
                ));
                break;
            };
            let mut fp = sp.wrapping_add(spd as i64 as u64);
            if !uses_lr {
                fp = fp.wrapping_add(8);
            }
            let mut next_lr = lr;
            if flag & funcflag::TOP_FRAME != 0 || flag & funcflag::SP_WRITE != 0 {
                next_lr = 0;
            } else if uses_lr {
                if (innermost && sp < fp) || lr == 0 {
                    next_lr = self.word(sp);
                }
            } else {
                next_lr = match self.mem.read_u64(fp.wrapping_sub(8)) {
                    Ok(v) => v,
                    Err(e) => {
                        warning = Some(format!("stack memory missing: {e}"));
                        0
                    }
                };
            }
            let sig = if special == Some(Special::Sigtramp) {
                self.sig_context(fp)
            } else {
                None
            };
            frames.push(RawFrame {
                pc,
                sp,
                fp,
                trap,
                g,
                foreign: false,
                signal: sig.as_ref().map(|c| SignalFrame {
                    signo: self.mem.read_u32(c.info).unwrap_or(0) as i32,
                    code: self.mem.read_u32(c.info.wrapping_add(8)).unwrap_or(0) as i32,
                    addr: self.word(c.info.wrapping_add(16)),
                    pc: c.pc,
                }),
            });
            // The signal handler's entry: continue in the interrupted context.
            if let Some(m) = m
                && let Some(ctx) = sig
                && signal_jumps < 8
            {
                signal_jumps += 1;
                if self.pc_info(ctx.pc).is_none() {
                    // Interrupted in C: show where, then the goroutine's saved context.
                    frames.push(RawFrame {
                        pc: ctx.pc,
                        sp: ctx.sp,
                        fp: 0,
                        trap: true,
                        g: self.owner_of(ctx.sp, m.g0, Some(m)),
                        foreign: true,
                        signal: None,
                    });
                    let spc = self.word(m.curg.wrapping_add(o.g_syscallpc));
                    let ssp = self.word(m.curg.wrapping_add(o.g_syscallsp));
                    if m.curg == 0 || spc == 0 || ssp == 0 {
                        break;
                    }
                    (pc, sp, lr, trap, g) = (spc, ssp, 0, false, m.curg);
                    innermost = true;
                    syscall = true;
                    continue;
                }
                pc = ctx.pc;
                sp = ctx.sp;
                lr = ctx.lr;
                trap = true;
                innermost = true;
                syscall = false;
                g = self.owner_of(sp, m.curg, Some(m));
                continue;
            }
            if next_lr == 0 {
                break;
            }
            if self.pc_info(next_lr).is_none() {
                // The runtime stops here too (e.g. a thread started by C).
                if warning.is_none() && flag & funcflag::TOP_FRAME == 0 {
                    warning = Some(format!(
                        "unexpected return pc {next_lr:#x} above {}; stack cut",
                        self.rt.func_name(f.entry)
                    ));
                }
                break;
            }
            if pc == next_lr && sp == fp {
                warning = Some("unwinding made no progress; stack cut".into());
                break;
            }
            // Within one stack, each caller's frame is above its callee's.
            if fp < sp || (fp == sp && !innermost && !trap && !resumed) {
                warning = Some(format!(
                    "frame at sp {sp:#x} has its caller below it ({fp:#x}); stack cut"
                ));
                break;
            }
            // Every injected call (sigpanic, asyncPreempt, debugCallV2) was faked by the signal
            // handler, which on LR machines first pushed the interrupted LR. Whether the
            // caller's pc is a fault point rather than a return address: for sigpanic always;
            // for the other two only since Go 1.21's unwinder (before, they were not traps).
            let injected = matches!(
                special,
                Some(Special::Sigpanic | Special::AsyncPreempt | Special::DebugCall)
            );
            let is_trap = match special {
                Some(Special::Sigpanic) => true,
                Some(Special::AsyncPreempt | Special::DebugCall) => self.rt.minor >= 21,
                _ => false,
            };
            pc = next_lr;
            lr = 0;
            sp = fp;
            trap = is_trap;
            innermost = false;
            syscall = false;
            resumed = uses_lr && injected;
            if uses_lr && injected {
                let x = self.word(sp);
                sp = sp.wrapping_add(16);
                match self.pc_info(pc) {
                    None => pc = x,
                    Some(nf) => {
                        if nf.spdelta == Some(0) {
                            lr = x;
                        }
                    }
                }
            }
        }
        if frames.len() >= MAX_FRAMES {
            warning = Some(format!("stack deeper than {MAX_FRAMES} frames; cut"));
        }
        (frames, warning)
    }
}
