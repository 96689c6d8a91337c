//! Finding the runtime's globals: `runtime.allgs` (every goroutine), `runtime.allm` (every
//! thread), `runtime.allp`, `runtime.sched`, and the wait reason names.
//!
//! In order of trust:
//! 1. the symbol table;
//! 2. DWARF variables (`DW_TAG_variable` with a `DW_OP_addr` location);
//! 3. stripped binaries: the code of the runtime functions that maintain them, found by name in
//!    the pclntab (which survives stripping) — `runtime.allgadd` appends to `allgs` (the only
//!    address it reads at +0, +8 and +16: a slice), `runtime.procresize` rebuilds `allp` (the
//!    slice it refers to most), `runtime.mcommoninit` publishes each new M in `allm`.
//!    Candidates are restricted to the module's `.bss` (from moduledata) and checked against the
//!    core by the caller (an M's `g0.m` must point back at the M, and so on).
//!
//! Wait reason names come from `runtime.waitReasonStrings` in the binary: by symbol, else by
//! finding the array through its second entry (`"GC assist marking"`, the same in every release
//! since 1.11), else from the built-in table of the Go release.

use std::collections::BTreeMap;

use goscope_binary::Binary;
use serde::Serialize;

use crate::codescan;
use crate::layouts::Layouts;

/// How a global was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// The symbol table.
    Symbol,
    /// A DWARF variable.
    Dwarf,
    /// References in the runtime's code (stripped binaries).
    Code,
    /// A scan of the binary's data.
    Scan,
    /// goscope's built-in table for the Go release.
    Builtin,
}

/// A global's link-time address (add the PIE bias for the runtime address) and how it was found.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Global {
    /// Link-time address.
    pub addr: u64,
    /// How it was found.
    pub found_by: FoundBy,
}

/// Candidate addresses of the runtime globals, most likely first.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// `runtime.allgs` (`[]*g`).
    pub allgs: Vec<Global>,
    /// `runtime.allm` (`*m`).
    pub allm: Vec<Global>,
    /// `runtime.allp` (`[]*p`).
    pub allp: Vec<Global>,
}

fn by_name(bin: &Binary, layouts: Option<&Layouts>, name: &str) -> Option<Global> {
    if let Some(addr) = bin.symbol_addr(name) {
        return Some(Global {
            addr,
            found_by: FoundBy::Symbol,
        });
    }
    let addr = *layouts?.vars.get(name)?;
    Some(Global {
        addr,
        found_by: FoundBy::Dwarf,
    })
}

/// The `.bss` range from moduledata, where the pointer-holding globals live.
fn bss_range(bin: &Binary) -> (u64, u64) {
    match bin.moduledata() {
        Some(md) if md.bss.0 < md.bss.1 => md.bss,
        _ => (0, u64::MAX),
    }
}

/// Targets `x` referred to together with `x+ps` and `x+2ps`: slice headers, by decreasing
/// number of references.
fn slices(refs: &BTreeMap<u64, usize>, ps: u64) -> Vec<u64> {
    let mut out: Vec<(usize, u64)> = refs
        .iter()
        .filter(|&(&a, _)| refs.contains_key(&(a + ps)) && refs.contains_key(&(a + 2 * ps)))
        .map(|(&a, &n)| (n + refs[&(a + ps)] + refs[&(a + 2 * ps)], a))
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    out.into_iter().map(|(_, a)| a).collect()
}

/// Every candidate address of `allgs`, `allm` and `allp`.
pub fn candidates(bin: &Binary, layouts: Option<&Layouts>) -> Candidates {
    candidates_by(bin, layouts, true)
}

/// The candidates found from code references alone, ignoring symbols and DWARF: what a stripped
/// binary gets (tests compare them with the symbol table of the same binary).
pub fn code_candidates(bin: &Binary) -> Candidates {
    candidates_by(bin, None, false)
}

fn candidates_by(bin: &Binary, layouts: Option<&Layouts>, names: bool) -> Candidates {
    let mut c = Candidates::default();
    let ps = u64::from(bin.ptr_size());
    let (lo, hi) = bss_range(bin);
    let code = |addr| Global {
        addr,
        found_by: FoundBy::Code,
    };
    let by_name = |bin: &Binary, l: Option<&Layouts>, n: &str| {
        if names { by_name(bin, l, n) } else { None }
    };
    match by_name(bin, layouts, "runtime.allgs") {
        Some(g) => c.allgs.push(g),
        None => {
            let refs = codescan::data_refs(bin, "runtime.allgadd", lo, hi);
            c.allgs.extend(slices(&refs, ps).into_iter().map(code));
        }
    }
    match by_name(bin, layouts, "runtime.allp") {
        Some(g) => c.allp.push(g),
        None => {
            let refs = codescan::data_refs(bin, "runtime.procresize", lo, hi);
            c.allp.extend(slices(&refs, ps).into_iter().map(code));
        }
    }
    match by_name(bin, layouts, "runtime.allm") {
        Some(g) => c.allm.push(g),
        None => {
            let refs = codescan::data_refs(bin, "runtime.mcommoninit", lo, hi);
            let mut v: Vec<(usize, u64)> = refs.into_iter().map(|(a, n)| (n, a)).collect();
            v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            c.allm.extend(v.into_iter().map(|(_, a)| code(a)));
        }
    }
    c
}

/// `runtime.sched`, when the symbol table or DWARF names it.
pub fn sched(bin: &Binary, layouts: Option<&Layouts>) -> Option<Global> {
    by_name(bin, layouts, "runtime.sched")
}

/// `runtime.work`, the GC's state, through the symbol table or DWARF.
pub fn work(bin: &Binary, layouts: Option<&Layouts>) -> Option<Global> {
    by_name(bin, layouts, "runtime.work")
}

/// Reads `n` Go string headers at `addr` from the binary's file bytes.
fn read_strings(bin: &Binary, addr: u64, n: usize) -> Option<Vec<String>> {
    let ps = u64::from(bin.ptr_size());
    let mut out = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let p = bin.read_ptr(addr + i * 2 * ps)?;
        let len = bin.read_ptr(addr + i * 2 * ps + ps)?;
        if len == 0 {
            out.push(String::new());
            continue;
        }
        if len > 256 {
            return None;
        }
        let b = bin.read_va(p, len as usize)?;
        out.push(String::from_utf8_lossy(b).into_owned());
    }
    Some(out)
}

/// `runtime.waitReasonStrings` through the symbol table (whose size gives the length).
pub fn wait_reasons_from_symbols(bin: &Binary) -> Option<Vec<String>> {
    let sym = bin
        .symbols()?
        .iter()
        .find(|s| s.name == "runtime.waitReasonStrings")?;
    let n = (sym.size / (2 * u64::from(bin.ptr_size()))) as usize;
    if n == 0 || n > 256 {
        return None;
    }
    read_strings(bin, sym.addr, n)
}

/// `runtime.waitReasonStrings` found without symbols: the array whose entry 1 is
/// `"GC assist marking"` and entry 2 `"IO wait"`; it ends where entries stop being short,
/// printable strings.
pub fn wait_reasons_by_scan(bin: &Binary) -> Option<Vec<String>> {
    const ANCHOR: &[u8] = b"GC assist marking";
    let ps = u64::from(bin.ptr_size());
    let md = bin.moduledata()?;
    // Where the string bytes are: any non-writable, file-backed section.
    let mut anchors = Vec::new();
    for s in bin.sections() {
        if s.file_size == 0 || s.addr == 0 || s.kind == goscope_binary::SectionKind::Debug {
            continue;
        }
        let data = bin.section_data(s);
        let mut i = 0;
        while let Some(pos) = data[i..].windows(ANCHOR.len()).position(|w| w == ANCHOR) {
            anchors.push(s.addr + (i + pos) as u64);
            i += pos + 1;
            if anchors.len() > 64 {
                break;
            }
        }
    }
    // The array is initialized pointer data: in moduledata's data range.
    let (lo, hi) = md.data;
    let mut a = lo;
    while a + 6 * ps <= hi {
        if let (Some(p), Some(l)) = (bin.read_ptr(a), bin.read_ptr(a + ps))
            && l == ANCHOR.len() as u64
            && anchors.contains(&p)
            && bin.read_ptr(a + 3 * ps) == Some(7)
            && bin.read_ptr(a - ps) == Some(0)
        {
            let start = a - 2 * ps;
            let mut out = Vec::new();
            for i in 0..256u64 {
                let e = start + i * 2 * ps;
                match read_strings(bin, e, 1) {
                    Some(mut s)
                        if e + 2 * ps <= hi
                            && (i == 0 || !s[0].is_empty())
                            && s[0].bytes().all(|b| (0x20..0x7f).contains(&b)) =>
                    {
                        out.push(s.remove(0))
                    }
                    _ => break,
                }
            }
            return Some(out);
        }
        a += ps;
    }
    None
}
