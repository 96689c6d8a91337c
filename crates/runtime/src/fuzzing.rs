//! The fuzz entry point for the runtime readers: a real executable joined with untrusted core
//! bytes. Every goroutine, stack, panic, thread and map reader runs over hostile memory; none
//! may panic, hang, or allocate by an unchecked size.

use std::sync::Arc;

use goscope_binary::Binary;
use goscope_target::{CoreFile, FileMemory, Memory};

use crate::expr::{EvalContext, Expr, FrameInfo};
use crate::{Goroutine, Runtime, Snapshot};

/// Expressions every Go binary can evaluate: the runtime's own variables, registers, memory
/// through conversions, operators.
const EXPRESSIONS: &[&str] = &[
    "runtime.allgs",
    "runtime.allgs[0]",
    "*runtime.allgs[0]",
    "runtime.allgs[1:]",
    "len(runtime.allgs) > 1 && runtime.allgs[0] != nil",
    "runtime.allm",
    "runtime.allp",
    "runtime.sched",
    "runtime.m0",
    "runtime.g0",
    "runtime.firstmoduledata",
    "runtime.waitReasonStrings",
    "$pc",
    "$sp",
    "$g",
    "*(*runtime.g)($g)",
    "(*runtime.g)($g).m.curg.sched",
    "*(*string)($sp)",
    "*(*[]int)($sp)",
    "*(*map[string]int)($sp)",
    "*(*interface {})($sp)",
    "*(*error)($sp)",
    "*(*chan int)($sp)",
    "goroutine",
    "main.gMap",
    "main.gOrder",
    "main.gIntMap[7]",
    "main.gChan",
];

/// Evaluates [`EXPRESSIONS`] and every visible local in the first frames of `gs` over the
/// snapshot's memory, and prints each result.
fn expressions(p: &Snapshot<'_, '_>, gs: &[Goroutine<'_>]) {
    let exprs: Vec<Expr> = EXPRESSIONS
        .iter()
        .filter_map(|e| Expr::parse(e).ok())
        .collect();
    for g in gs.iter().take(8) {
        for i in 0..g.frames.len().min(8) {
            let Some(fi) = FrameInfo::from_frames(&g.frames, i, None, Some(g.id), g.addr) else {
                continue;
            };
            let ctx = EvalContext {
                rt: p.rt,
                mem: p.memory(),
                bias: p.bias,
                frame: fi,
            };
            let locals = ctx.locals().unwrap_or_default();
            for e in locals
                .iter()
                .take(64)
                .filter_map(|n| Expr::parse(n).ok())
                .chain(exprs.iter().cloned())
            {
                if let Ok(v) = ctx.eval(&e) {
                    let _ = v.delve_string();
                    let _ = v.truth();
                    let _ = v.lvalue();
                }
                let _ = ctx.eval_condition(&e);
            }
        }
    }
}

/// Opens `core` against `bin` and runs every reader on a bounded number of goroutines.
pub fn core_with_binary(bin: Arc<Binary>, core: Vec<u8>) {
    let Ok(mut c) = CoreFile::from_bytes(core) else {
        return;
    };
    c.attach_binary(bin.clone());
    let threads = c.layout().threads.clone();
    let Ok(rt) = Runtime::new(&bin) else {
        return;
    };
    let p = Snapshot::new(&rt, &c);
    let crash = p.crash(None, None);
    let _ = Snapshot::panic_message(&crash.panics);
    if let Ok((addrs, _)) = p.goroutine_addrs() {
        let mut gs = Vec::new();
        for a in addrs.into_iter().take(256) {
            if let Ok(mut g) = p.goroutine(a) {
                p.fill_stack(&mut g);
                let _ = p.panics(&g);
                let _ = g.state();
                gs.push(g);
            }
        }
        let now = p.now_estimate(&gs);
        for g in &mut gs {
            p.set_wait_minutes(g, now);
        }
        expressions(&p, &gs);
    }
    for t in threads.iter().take(16) {
        let _ = p.thread_raw_frames(u64::from(t.tid));
        let _ = p.read_map(t.regs.sp(), None);
    }
}

/// The static readers over an untrusted executable: DWARF layouts, the code-reference discovery
/// of the runtime's globals, and the wait-reason scan.
pub fn binary_static(data: &[u8]) {
    let Ok(bin) = Binary::from_bytes(data.to_vec()) else {
        return;
    };
    let _ = crate::layouts::Layouts::from_dwarf(&bin);
    let _ = crate::layouts::Layouts::for_binary(&bin);
    let _ = crate::globals::code_candidates(&bin);
    let _ = crate::globals::wait_reasons_from_symbols(&bin);
    let _ = crate::globals::wait_reasons_by_scan(&bin);
    expressions_static(&bin);
}

/// The evaluator over an untrusted executable's DWARF: the package variables and, in a few
/// functions, the locals, read from the file's own bytes.
fn expressions_static(bin: &Binary) {
    let Ok(rt) = Runtime::new(bin) else {
        return;
    };
    let mem = FileMemory::new(bin, 0);
    let mem: &dyn Memory = &mem;
    let pcs: Vec<u64> = bin
        .pclntab()
        .funcs()
        .step_by(97)
        .take(8)
        .map(|f| f.entry() + 1)
        .collect();
    for pc in pcs {
        let ctx = EvalContext {
            rt: &rt,
            mem,
            bias: 0,
            frame: FrameInfo {
                pc,
                return_address: false,
                sp: 0,
                cfa: 0,
                inline_depth: 0,
                regs: None,
                goroutine: Some(1),
                g: 0,
            },
        };
        for n in ctx.locals().unwrap_or_default().iter().take(32) {
            if let Ok(e) = Expr::parse(n)
                && let Ok(v) = ctx.eval(&e)
            {
                let _ = v.delve_string();
            }
        }
        for e in EXPRESSIONS {
            if let Ok(e) = Expr::parse(e)
                && let Ok(v) = ctx.eval(&e)
            {
                let _ = v.delve_string();
            }
        }
    }
}
