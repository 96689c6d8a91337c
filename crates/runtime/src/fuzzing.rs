//! The fuzz entry point for the runtime readers: a real executable joined with untrusted core
//! bytes. Every goroutine, stack, panic, thread and map reader runs over hostile memory; none
//! may panic, hang, or allocate by an unchecked size.

use std::sync::Arc;

use goscope_binary::Binary;
use goscope_target::CoreFile;

use crate::{Runtime, Snapshot};

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
}
