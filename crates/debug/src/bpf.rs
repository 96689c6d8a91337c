//! A breakpoint condition compiled to a BPF program the kernel runs at every hit of a hardware
//! breakpoint (a `BPF_PROG_TYPE_PERF_EVENT` program, its context the thread's registers): it
//! returns 0 when the condition is certainly false — the kernel then lets the thread run on
//! without a stop — and 1 otherwise, a stop at which goscope evaluates the condition itself.
//! Any read that fails returns 1: a filter never hides a stop (see
//! `goscope_runtime::expr::Filter`).
//!
//! Registers: r6 holds the context; r7 and r8 the compared operands; r9 the goroutine's g;
//! r1–r5 and r0 are the helper call's. Stack: three 8-byte slots for reads.

use goscope_runtime::expr::{Cmp, Filter, Operand, StaticPlace};

/// One instruction, as `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register (low nibble) and source register (high nibble).
    pub regs: u8,
    /// Offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

impl Insn {
    /// The instruction's 8 bytes.
    pub fn bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }
}

/// Offsets in `struct pt_regs` (x86-64), the start of the program's context.
mod pt_regs {
    pub const R14: i16 = 8;
    pub const RSP: i16 = 152;

    /// The offset of DWARF register `n`.
    pub fn of_dwarf(n: u16) -> Option<i16> {
        Some(match n {
            0 => 80,   // rax
            1 => 96,   // rdx
            2 => 88,   // rcx
            3 => 40,   // rbx
            4 => 104,  // rsi
            5 => 112,  // rdi
            6 => 32,   // rbp
            7 => RSP,  // rsp
            8 => 72,   // r8
            9 => 64,   // r9
            10 => 56,  // r10
            11 => 48,  // r11
            12 => 24,  // r12
            13 => 16,  // r13
            14 => R14, // r14
            15 => 0,   // r15
            _ => return None,
        })
    }
}

// Opcodes.
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const ALU64_ADD_K: u8 = 0x07;
const ALU64_AND_K: u8 = 0x57;
const ALU64_LSH_K: u8 = 0x67;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_ARSH_K: u8 = 0xc7;
const LDX_DW: u8 = 0x79;
const ST_DW: u8 = 0x7a;
const LD_IMM64: u8 = 0x18;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const JMP_X: u8 = 0x05 | 0x08;
const JMP_K: u8 = 0x05;
// Jump operations (before the class and source bits).
const JEQ: u8 = 0x10;
const JGT: u8 = 0x20;
const JGE: u8 = 0x30;
const JNE: u8 = 0x50;
const JSGT: u8 = 0x60;
const JSGE: u8 = 0x70;
const JLT: u8 = 0xa0;
const JLE: u8 = 0xb0;
const JSLT: u8 = 0xc0;
const JSLE: u8 = 0xd0;
/// `bpf_probe_read_user(dst, size, unsafe_ptr)`.
const HELPER_PROBE_READ_USER: i32 = 112;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const CTX: u8 = 6;
const LEFT: u8 = 7;
const RIGHT: u8 = 8;
const G: u8 = 9;
const FP: u8 = 10;

/// What the goroutine operand needs: `runtime.g`'s field offsets and how the breakpoint's
/// canonical frame address follows from the stack pointer there.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// CFA = rsp + this, at the breakpoint's pc (the pclntab's SP delta, plus the return
    /// address).
    pub cfa_from_sp: i64,
    /// `g.stack.lo`.
    pub g_stack_lo: u64,
    /// `g.stack.hi`.
    pub g_stack_hi: u64,
    /// `g.goid`.
    pub g_goid: u64,
}

/// Why a filter cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

/// The program being written, with its jumps to labels patched at the end.
struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            insns: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
        }
    }

    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    fn place(&mut self, l: Label) {
        self.labels[l.0] = Some(self.insns.len());
    }

    fn op(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(Insn {
            code,
            regs: (dst & 0xf) | (src << 4),
            off,
            imm,
        });
    }

    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, to: Label) {
        self.fixups.push((self.insns.len(), to));
        self.op(code, dst, src, 0, imm);
    }

    fn load_imm64(&mut self, dst: u8, v: u64) {
        self.op(LD_IMM64, dst, 0, 0, v as u32 as i32);
        self.op(0, 0, 0, 0, (v >> 32) as u32 as i32);
    }

    fn add_imm(&mut self, dst: u8, v: i64) -> Result<(), CompileError> {
        let imm = i32::try_from(v).map_err(|_| CompileError(format!("offset {v} too large")))?;
        if imm != 0 {
            self.op(ALU64_ADD_K, dst, 0, 0, imm);
        }
        Ok(())
    }

    /// Reads `size` bytes at the address in r3 into stack slot `slot` (zeroed first, so that
    /// a short read is zero-extended); a failed read jumps to `fail`.
    fn read_user(&mut self, slot: i16, size: u8, fail: Label) {
        self.op(ST_DW, FP, 0, slot, 0);
        self.op(ALU64_MOV_X, R1, FP, 0, 0);
        self.op(ALU64_ADD_K, R1, 0, 0, i32::from(slot));
        self.op(ALU64_MOV_K, R2, 0, 0, i32::from(size));
        self.op(CALL, 0, 0, 0, HELPER_PROBE_READ_USER);
        self.jump(JMP_K | JNE, R0, 0, 0, fail);
    }

    /// Cuts `dst` to its low `size` bytes, sign- or zero-extended.
    fn narrow(&mut self, dst: u8, size: u8, signed: bool) {
        if size >= 8 {
            return;
        }
        let shift = 64 - 8 * i32::from(size);
        self.op(ALU64_LSH_K, dst, 0, 0, shift);
        self.op(
            if signed { ALU64_ARSH_K } else { ALU64_RSH_K },
            dst,
            0,
            0,
            shift,
        );
    }

    fn finish(mut self) -> Result<Vec<Insn>, CompileError> {
        for (at, l) in std::mem::take(&mut self.fixups) {
            let target = self.labels[l.0].ok_or_else(|| CompileError("unplaced label".into()))?;
            let off =
                i64::try_from(target).unwrap_or(i64::MAX) - i64::try_from(at).unwrap_or(0) - 1;
            self.insns[at].off =
                i16::try_from(off).map_err(|_| CompileError("program too long".into()))?;
        }
        Ok(self.insns)
    }
}

/// Longest program goscope writes (the kernel takes far more; conditions are short).
const MAX_INSNS: usize = 4096;

/// The program for `filter` at a breakpoint with frame facts `frame`.
pub fn compile(filter: &Filter, frame: &Frame) -> Result<Vec<Insn>, CompileError> {
    let mut a = Asm::new();
    let stop = a.label();
    let run_on = a.label();
    a.op(ALU64_MOV_X, CTX, 1, 0, 0);
    branch(&mut a, filter, false, run_on, stop, frame)?;
    a.place(stop);
    a.op(ALU64_MOV_K, R0, 0, 0, 1);
    a.op(EXIT, 0, 0, 0, 0);
    a.place(run_on);
    a.op(ALU64_MOV_K, R0, 0, 0, 0);
    a.op(EXIT, 0, 0, 0, 0);
    let insns = a.finish()?;
    if insns.len() > MAX_INSNS {
        return Err(CompileError(format!(
            "{} instructions: too long a condition",
            insns.len()
        )));
    }
    Ok(insns)
}

/// The program of a breakpoint without a filter: every hit stops.
pub fn pass_all() -> Vec<Insn> {
    let mut a = Asm::new();
    a.op(ALU64_MOV_K, R0, 0, 0, 1);
    a.op(EXIT, 0, 0, 0, 0);
    a.insns
}

/// Code that jumps to `to` when `f` equals `when`, else falls through; an undecidable read
/// jumps to `stop`.
fn branch(
    a: &mut Asm,
    f: &Filter,
    when: bool,
    to: Label,
    stop: Label,
    frame: &Frame,
) -> Result<(), CompileError> {
    match (f, when) {
        (Filter::And(x, y), false) | (Filter::Or(x, y), true) => {
            branch(a, x, when, to, stop, frame)?;
            branch(a, y, when, to, stop, frame)
        }
        (Filter::And(x, y), true) | (Filter::Or(x, y), false) => {
            let skip = a.label();
            branch(a, x, !when, skip, stop, frame)?;
            branch(a, y, when, to, stop, frame)?;
            a.place(skip);
            Ok(())
        }
        (
            Filter::Compare {
                op,
                signed,
                left,
                right,
            },
            _,
        ) => {
            operand(a, left, LEFT, stop, frame)?;
            operand(a, right, RIGHT, stop, frame)?;
            let op = if when { *op } else { op.negated() };
            let code = match (op, signed) {
                (Cmp::Eq, _) => JEQ,
                (Cmp::Ne, _) => JNE,
                (Cmp::Lt, false) => JLT,
                (Cmp::Le, false) => JLE,
                (Cmp::Gt, false) => JGT,
                (Cmp::Ge, false) => JGE,
                (Cmp::Lt, true) => JSLT,
                (Cmp::Le, true) => JSLE,
                (Cmp::Gt, true) => JSGT,
                (Cmp::Ge, true) => JSGE,
            };
            a.jump(JMP_X | code, LEFT, RIGHT, 0, to);
            Ok(())
        }
    }
}

/// Loads `o` into register `dst`.
fn operand(
    a: &mut Asm,
    o: &Operand,
    dst: u8,
    stop: Label,
    frame: &Frame,
) -> Result<(), CompileError> {
    // Stack slots for reads.
    const VALUE: i16 = -8;
    const LO: i16 = -16;
    const HI: i16 = -24;
    match *o {
        Operand::Const(v) => a.load_imm64(dst, v),
        Operand::Value { at, size, signed } => {
            match at {
                StaticPlace::Register(n) => {
                    let off = pt_regs::of_dwarf(n)
                        .ok_or_else(|| CompileError(format!("DWARF register {n}")))?;
                    a.op(LDX_DW, dst, CTX, off, 0);
                }
                StaticPlace::Frame(off) => {
                    a.op(LDX_DW, R3, CTX, pt_regs::RSP, 0);
                    a.add_imm(R3, frame.cfa_from_sp.saturating_add(off))?;
                    a.read_user(VALUE, size, stop);
                    a.op(LDX_DW, dst, FP, VALUE, 0);
                }
                StaticPlace::Address(addr) => {
                    a.load_imm64(R3, addr);
                    a.read_user(VALUE, size, stop);
                    a.op(LDX_DW, dst, FP, VALUE, 0);
                }
            }
            a.narrow(dst, size, signed);
        }
        Operand::Goroutine => {
            // g: the g register, 8-aligned, its stack bounds around rsp, its id not 0 —
            // goscope's own test; anything else is decided by goscope at a stop.
            a.op(LDX_DW, G, CTX, pt_regs::R14, 0);
            a.op(ALU64_MOV_X, R1, G, 0, 0);
            a.op(ALU64_AND_K, R1, 0, 0, 7);
            a.jump(JMP_K | JNE, R1, 0, 0, stop);
            for (slot, field) in [
                (LO, frame.g_stack_lo),
                (HI, frame.g_stack_hi),
                (VALUE, frame.g_goid),
            ] {
                a.op(ALU64_MOV_X, R3, G, 0, 0);
                a.add_imm(
                    R3,
                    i64::try_from(field).map_err(|_| CompileError("g offset".into()))?,
                )?;
                a.read_user(slot, 8, stop);
            }
            a.op(LDX_DW, R1, FP, LO, 0);
            a.op(LDX_DW, R2, FP, HI, 0);
            a.jump(JMP_X | JGE, R1, R2, 0, stop);
            a.op(LDX_DW, R3, CTX, pt_regs::RSP, 0);
            a.jump(JMP_X | JGT, R1, R3, 0, stop);
            a.jump(JMP_X | JLT, R2, R3, 0, stop);
            a.op(LDX_DW, dst, FP, VALUE, 0);
            a.jump(JMP_K | JEQ, dst, 0, 0, stop);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame = Frame {
        cfa_from_sp: 24,
        g_stack_lo: 0,
        g_stack_hi: 8,
        g_goid: 152,
    };

    /// Runs `insns` the way the kernel would, for the few opcodes goscope writes: `regs` is
    /// the context (pt_regs as 21 words), `mem` answers reads.
    fn run(insns: &[Insn], regs: &[u64; 21], mem: &dyn Fn(u64, u8) -> Option<u64>) -> u64 {
        let mut r = [0u64; 11];
        let mut stack = std::collections::HashMap::<i64, u64>::new();
        let mut pc = 0usize;
        loop {
            let i = insns[pc];
            let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
            pc += 1;
            let jump = |cond: bool, pc: &mut usize| {
                if cond {
                    *pc = (*pc as i64 + i64::from(i.off)) as usize;
                }
            };
            match i.code {
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_MOV_X => r[dst] = r[src],
                ALU64_ADD_K => r[dst] = r[dst].wrapping_add(i.imm as i64 as u64),
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_LSH_K => r[dst] <<= i.imm,
                ALU64_RSH_K => r[dst] >>= i.imm,
                ALU64_ARSH_K => r[dst] = ((r[dst] as i64) >> i.imm) as u64,
                LDX_DW if src == 6 => r[dst] = regs[(i.off / 8) as usize],
                LDX_DW => r[dst] = stack[&(i.off as i64)],
                ST_DW => {
                    stack.insert(i.off as i64, 0);
                }
                LD_IMM64 => {
                    r[dst] = u64::from(i.imm as u32) | (u64::from(insns[pc].imm as u32) << 32);
                    pc += 1;
                }
                CALL => {
                    // r10 (the frame pointer) is 0 here: r1 is the slot's offset.
                    let slot = r[1] as i64;
                    match mem(r[3], r[2] as u8) {
                        Some(v) => {
                            stack.insert(slot, v);
                            r[0] = 0;
                        }
                        None => r[0] = u64::MAX,
                    }
                }
                EXIT => return r[0],
                c if c & 0x07 == 0x05 => {
                    let b = if c & 0x08 != 0 {
                        r[src]
                    } else {
                        i.imm as i64 as u64
                    };
                    let a = r[dst];
                    let cond = match c & 0xf0 {
                        JEQ => a == b,
                        JNE => a != b,
                        JGT => a > b,
                        JGE => a >= b,
                        JLT => a < b,
                        JLE => a <= b,
                        JSGT => (a as i64) > (b as i64),
                        JSGE => (a as i64) >= (b as i64),
                        JSLT => (a as i64) < (b as i64),
                        JSLE => (a as i64) <= (b as i64),
                        _ => panic!("jump {c:#x}"),
                    };
                    jump(cond, &mut pc);
                }
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    fn rax(v: u64) -> [u64; 21] {
        let mut r = [0u64; 21];
        r[10] = v;
        r[19] = 0x1000; // rsp
        r
    }

    fn cmp(op: Cmp, signed: bool, left: Operand, c: u64) -> Filter {
        Filter::Compare {
            op,
            signed,
            left,
            right: Operand::Const(c),
        }
    }

    const RAX8: Operand = Operand::Value {
        at: StaticPlace::Register(0),
        size: 8,
        signed: true,
    };

    #[test]
    fn comparisons_of_a_register_decide_as_go_does() {
        let none = |_: u64, _: u8| None;
        let f = cmp(Cmp::Eq, true, RAX8, -1i64 as u64);
        let p = compile(&f, &FRAME).unwrap();
        assert_eq!(run(&p, &rax(u64::MAX), &none), 1);
        assert_eq!(run(&p, &rax(5), &none), 0);
        let f = cmp(Cmp::Lt, true, RAX8, 3);
        let p = compile(&f, &FRAME).unwrap();
        assert_eq!(run(&p, &rax(-7i64 as u64), &none), 1);
        assert_eq!(run(&p, &rax(3), &none), 0);
        // An int32 in a register: the upper half is not part of it.
        let f = cmp(
            Cmp::Eq,
            true,
            Operand::Value {
                at: StaticPlace::Register(0),
                size: 4,
                signed: true,
            },
            -2i64 as u64,
        );
        let p = compile(&f, &FRAME).unwrap();
        assert_eq!(run(&p, &rax(0xdead_beef_ffff_fffe), &none), 1);
        assert_eq!(run(&p, &rax(0xffff_fffd), &none), 0);
        // Unsigned: a uint8 of 200 is above 100.
        let f = cmp(
            Cmp::Gt,
            false,
            Operand::Value {
                at: StaticPlace::Register(0),
                size: 1,
                signed: false,
            },
            100,
        );
        let p = compile(&f, &FRAME).unwrap();
        assert_eq!(run(&p, &rax(0xff00 | 200), &none), 1);
        assert_eq!(run(&p, &rax(0xff00 | 50), &none), 0);
    }

    #[test]
    fn and_or_and_frame_slots_and_failed_reads() {
        let slot = Operand::Value {
            at: StaticPlace::Frame(8),
            size: 8,
            signed: true,
        };
        // rax == 1 || (slot > 10 && rax != 2)
        let f = Filter::Or(
            Box::new(cmp(Cmp::Eq, true, RAX8, 1)),
            Box::new(cmp(Cmp::Gt, true, slot, 10).and(cmp(Cmp::Ne, true, RAX8, 2))),
        );
        let p = compile(&f, &FRAME).unwrap();
        for (rax_v, slot_v, want) in [(1, 0, 1), (0, 11, 1), (2, 11, 0), (0, 10, 0), (3, 100, 1)] {
            let mem = |addr: u64, size: u8| {
                // CFA = rsp + 24; the slot at CFA + 8.
                assert_eq!((addr, size), (0x1000 + 24 + 8, 8));
                Some(slot_v)
            };
            assert_eq!(
                run(&p, &rax(rax_v), &mem),
                want,
                "rax {rax_v} slot {slot_v}"
            );
        }
        // A read that fails stops (goscope decides).
        let fail = |_: u64, _: u8| None;
        assert_eq!(run(&p, &rax(0), &fail), 1);
    }

    /// What `f` means, computed directly: Go's comparison of the operands' values.
    fn meaning(f: &Filter, regs: &[u64; 21]) -> bool {
        let value = |o: &Operand| -> i128 {
            match *o {
                Operand::Const(v) => i128::from(v),
                Operand::Value {
                    at: StaticPlace::Register(n),
                    size,
                    signed,
                } => {
                    let raw = regs[(pt_regs::of_dwarf(n).unwrap() / 8) as usize];
                    let bits = u32::from(size) * 8;
                    let low = if bits == 64 {
                        raw
                    } else {
                        raw & ((1 << bits) - 1)
                    };
                    if signed && bits < 64 && low >> (bits - 1) == 1 {
                        i128::from(low) - (1i128 << bits)
                    } else if signed {
                        i128::from(low as i64)
                    } else {
                        i128::from(low)
                    }
                }
                _ => unreachable!(),
            }
        };
        match f {
            Filter::And(x, y) => meaning(x, regs) && meaning(y, regs),
            Filter::Or(x, y) => meaning(x, regs) || meaning(y, regs),
            Filter::Compare {
                op,
                signed,
                left,
                right,
            } => {
                let (a, b) = (value(left), value(right));
                // Constants are the bit pattern of the compared type's value.
                let b = match right {
                    Operand::Const(c) if *signed => i128::from(*c as i64),
                    _ => b,
                };
                match op {
                    Cmp::Eq => a == b,
                    Cmp::Ne => a != b,
                    Cmp::Lt => a < b,
                    Cmp::Le => a <= b,
                    Cmp::Gt => a > b,
                    Cmp::Ge => a >= b,
                }
            }
        }
    }

    #[test]
    fn random_filters_over_registers_mean_what_they_say() {
        // A small deterministic generator: no dependency, the same cases on every run.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        fn random_filter(next: &mut dyn FnMut() -> u64, depth: u32) -> Filter {
            if depth == 0 || next() % 3 == 0 {
                let size = [1u8, 2, 4, 8][(next() % 4) as usize];
                let signed = next() % 2 == 0;
                let reg = (next() % 16) as u16;
                let bits = u32::from(size) * 8;
                // A constant of the register's type: a small value, an extreme, or any.
                let c: u64 = match next() % 3 {
                    0 => next() % 5,
                    1 if signed => (-(1i128 << (bits - 1))) as i64 as u64,
                    _ if bits == 64 => next(),
                    _ => {
                        let v = next() & ((1 << bits) - 1);
                        if signed && v >> (bits - 1) == 1 {
                            ((v as i128) - (1i128 << bits)) as i64 as u64
                        } else {
                            v
                        }
                    }
                };
                let op =
                    [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge][(next() % 6) as usize];
                return Filter::Compare {
                    op,
                    signed,
                    left: Operand::Value {
                        at: StaticPlace::Register(reg),
                        size,
                        signed,
                    },
                    right: Operand::Const(c),
                };
            }
            let (x, y) = (
                random_filter(next, depth - 1),
                random_filter(next, depth - 1),
            );
            if next() % 2 == 0 {
                x.and(y)
            } else {
                Filter::Or(Box::new(x), Box::new(y))
            }
        }
        let none = |_: u64, _: u8| None;
        for _ in 0..300 {
            let f = random_filter(&mut next, 4);
            let p = compile(&f, &FRAME).unwrap();
            for _ in 0..20 {
                let mut regs = [0u64; 21];
                for r in regs.iter_mut() {
                    // Values near the constants' edges, and any.
                    *r = match next() % 3 {
                        0 => next() % 5,
                        1 => next() | (1 << 63),
                        _ => next(),
                    };
                }
                assert_eq!(
                    run(&p, &regs, &none) == 1,
                    meaning(&f, &regs),
                    "{f:?} {regs:x?}"
                );
            }
        }
    }

    #[test]
    fn the_goroutine_is_decided_only_from_a_g_that_passes_goscopes_test() {
        let f = cmp(Cmp::Eq, false, Operand::Goroutine, 7);
        let p = compile(&f, &FRAME).unwrap();
        let mut regs = rax(0);
        regs[1] = 0x5000; // r14: g
        let g = |goid: u64, lo: u64, hi: u64| {
            move |addr: u64, _: u8| match addr {
                0x5000 => Some(lo),
                0x5008 => Some(hi),
                0x5098 => Some(goid),
                _ => None,
            }
        };
        assert_eq!(run(&p, &regs, &g(7, 0x800, 0x2000)), 1);
        assert_eq!(run(&p, &regs, &g(8, 0x800, 0x2000)), 0);
        // rsp outside the g's stack: not this g (goscope looks further): a stop.
        assert_eq!(run(&p, &regs, &g(8, 0x1800, 0x2000)), 1);
        // goid 0 (g0): a stop.
        assert_eq!(run(&p, &regs, &g(0, 0x800, 0x2000)), 1);
        regs[1] = 0x5001;
        assert_eq!(run(&p, &regs, &g(8, 0x800, 0x2000)), 1);
    }
}
