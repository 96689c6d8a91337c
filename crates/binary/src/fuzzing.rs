//! Entry points shared by the fuzz targets (`fuzz/`) and the mutation tests: each parses
//! untrusted bytes and exercises every reader on the result. They must never panic, hang, or
//! allocate by an unchecked size, whatever the input.

use crate::{Binary, nm};

/// Opens `data` as an executable and walks everything goscope reads from one: build info,
/// symbols, the `go tool nm` listing, moduledata, and pc lookups (function, file:line, inline
/// chain) at every function entry and at pcs derived from the input.
pub fn open_and_walk(data: &[u8]) {
    let Ok(bin) = Binary::from_bytes(data.to_vec()) else {
        return;
    };
    walk(&bin, data);
}

/// Exercises the readers of an opened binary; `seed` bytes pick extra pcs to look up.
pub fn walk(bin: &Binary, seed: &[u8]) {
    let _ = bin.build_info().map(|b| b.module_lines());
    let _ = bin.has_symbols();
    let _ = nm::list(bin, nm::NmSort::Name);
    let _ = bin.gofunc();
    let _ = bin.wrapper_func_id();
    let tab = bin.pclntab();
    let _ = tab.file_names();
    let n = tab.len();
    // Bound the work per input: a fuzzer wants many inputs per second.
    let step = (n / 512).max(1);
    let mut i = 0;
    while i < n {
        let pc = tab.entry(i);
        for p in [pc, pc.wrapping_add(1), tab.entry(i + 1).wrapping_sub(1)] {
            if let Some(f) = tab.find_func(p) {
                let _ = f.gosym_file_line(p);
                let _ = f.sp_delta_at(p);
                let _ = f.funcdata(3);
            }
            let _ = bin.frames_at(p);
        }
        i += step;
    }
    for chunk in seed.chunks(8).take(64) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        let pc = u64::from_le_bytes(b);
        let _ = bin.frames_at(pc);
        let _ = bin.read_ptr(pc);
    }
}

/// Parses `data` as a pclntab on its own (no container), and walks it.
pub fn pclntab(data: &[u8]) {
    let Ok(loc) = crate::pclntab::PclntabLocation::parse(data, 0, 0x1000, 0x1000) else {
        return;
    };
    let tab = loc.view(data);
    let _ = tab.file_names();
    let step = (tab.len() / 256).max(1);
    let mut i = 0;
    while i < tab.len() {
        if let Some(f) = tab.func(i) {
            let e = f.entry();
            let _ = (f.name(), f.file_at(e), f.line_at(e), f.gosym_file_line(e));
            let _ = (f.pcdata_at(2, e), f.funcdata(3), f.start_line());
        }
        i += step;
    }
}

/// Parses the module-information text of build info.
pub fn buildinfo_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut bi = crate::BuildInfo::default();
    if crate::buildinfo::parse_modinfo_for_fuzz(&text, &mut bi).is_ok() {
        let _ = bi.module_lines();
    }
}
