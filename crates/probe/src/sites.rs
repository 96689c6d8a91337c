//! Where to probe: the entries of the functions a trace names (and the first pc of every copy
//! inlined into another function, and with returns every RET), and for `locks` every LOCK-
//! prefixed or implicitly locked instruction with the instruction beside it that runs exactly
//! once each time it does (the kernel refuses uprobes on LOCK-prefixed instructions).

use std::collections::{BTreeMap, HashSet};

use goscope_binary::Binary;
use goscope_binary::pclntab::pcdata;
use goscope_disasm::{Disassembler, Flow, NoSymbols, Syntax};
use rayon::prelude::*;
use regex::Regex;
use serde::Serialize;

use crate::ProbeError;

/// Why a call-trace probe is where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// The function's entry: arguments are in their ABI registers.
    Entry,
    /// The first instruction of a copy inlined into `into` at `line` of its file.
    Inlined {
        /// The function the copy is inlined into (physical).
        into: String,
        /// The line of the call in the caller's source.
        line: i32,
    },
    /// A RET of the function: results are in their ABI registers.
    Return,
}

/// One probe of a trace.
#[derive(Debug, Clone, Serialize)]
pub struct CallSite {
    /// Link-time address of the probed instruction.
    pub pc: u64,
    /// The traced function.
    pub function: String,
    /// What the probe marks.
    pub kind: CallKind,
    /// Inline depth of the traced function at `pc` (0: its own code).
    pub inline_depth: u32,
    /// Entry of the physical function holding `pc`.
    pub physical_entry: u64,
}

/// Functions matching `pattern`, probed at entry, at the first pc of every inlined copy and
/// (with `returns`) at every RET. Errors when nothing matches.
pub fn call_sites(
    bin: &Binary,
    pattern: &Regex,
    returns: bool,
) -> Result<Vec<CallSite>, ProbeError> {
    let tab = bin.pclntab();
    let dis =
        goscope_disasm::for_arch(bin.arch()).map_err(|e| ProbeError::Unsupported(e.to_string()))?;
    let mut sites = Vec::new();
    let mut inlined: BTreeMap<(u64, String, u32, i32), (u64, String)> = BTreeMap::new();
    for f in tab.funcs() {
        let name = f.name();
        let entry = f.entry();
        if pattern.is_match(name) {
            sites.push(CallSite {
                pc: entry,
                function: name.to_string(),
                kind: CallKind::Entry,
                inline_depth: 0,
                physical_entry: entry,
            });
            if returns {
                for pc in returns_of(bin, &*dis, entry, f.end()) {
                    sites.push(CallSite {
                        pc,
                        function: name.to_string(),
                        kind: CallKind::Return,
                        inline_depth: 0,
                        physical_entry: entry,
                    });
                }
            }
        }
        if f.npcdata() <= pcdata::INL_TREE_INDEX {
            continue;
        }
        let Some(it) = tab.pcvalue_iter(f.pcdata(pcdata::INL_TREE_INDEX), entry) else {
            continue;
        };
        let runs: Vec<(u64, u64, i32)> = it.take(1 << 20).filter(|r| r.2 >= 0).collect();
        // Entries 0..=max are every function inlined here (parents come before children):
        // only if one matches are the chains worth computing.
        let max = runs.iter().map(|r| r.2).max().unwrap_or(-1).min(1 << 16);
        let any = (0..=max).any(|ix| {
            bin.inlined_function(&f, ix)
                .is_some_and(|n| pattern.is_match(n))
        });
        if !any {
            continue;
        }
        let starts: Vec<u64> = runs.iter().map(|r| r.0).collect();
        let chains = bin.frames_at_many(&f, &starts);
        for (start, chain) in starts.iter().zip(&chains) {
            let n = chain.len();
            for k in 0..n.saturating_sub(1) {
                let fr = &chain[k];
                if !fr.inlined || !pattern.is_match(&fr.function) {
                    continue;
                }
                let depth = (n - 1 - k) as u32;
                let caller = &chain[k + 1];
                let key = (entry, fr.function.to_string(), depth, caller.line);
                let slot = inlined
                    .entry(key)
                    .or_insert((*start, chain[n - 1].function.to_string()));
                if *start < slot.0 {
                    slot.0 = *start;
                }
            }
        }
    }
    for ((entry, function, depth, line), (pc, into)) in inlined {
        sites.push(CallSite {
            pc,
            function,
            kind: CallKind::Inlined { into, line },
            inline_depth: depth,
            physical_entry: entry,
        });
    }
    if sites.is_empty() {
        return Err(ProbeError::NoMatch(pattern.as_str().to_string()));
    }
    sites.sort_by_key(|s| s.pc);
    sites.dedup_by_key(|s| s.pc);
    Ok(sites)
}

/// One decoded instruction of a function, as the placement of lock probes needs it.
#[derive(Debug, Clone, Copy)]
struct Ins {
    pc: u64,
    flow: Flow,
    target: Option<u64>,
    atomic: bool,
    lock_prefix: bool,
}

fn decode_function(bin: &Binary, dis: &dyn Disassembler, entry: u64, end: u64) -> Vec<Ins> {
    let len = end.saturating_sub(entry).min(1 << 24) as usize;
    let Some(code) = bin.read_va(entry, len) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(len / 4);
    let mut text = String::new();
    let mut off = 0usize;
    while off < code.len() {
        text.clear();
        let pc = entry + off as u64;
        let info = dis.decode(&code[off..], pc, Syntax::None, &NoSymbols, &mut text);
        let n = info.len.max(1);
        let bytes = &code[off..(off + n).min(code.len())];
        out.push(Ins {
            pc,
            flow: info.flow,
            target: info.target,
            atomic: info.atomic.is_some(),
            lock_prefix: has_lock_prefix(bytes),
        });
        off += n;
    }
    out
}

/// Whether an x86 instruction carries the LOCK prefix (0xF0 among its legacy and REX
/// prefixes).
fn has_lock_prefix(bytes: &[u8]) -> bool {
    for &b in bytes {
        match b {
            0xF0 => return true,
            0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 | 0x66 | 0x67 | 0x40..=0x4F => {}
            _ => return false,
        }
    }
    false
}

fn returns_of(bin: &Binary, dis: &dyn Disassembler, entry: u64, end: u64) -> Vec<u64> {
    decode_function(bin, dis, entry, end)
        .into_iter()
        .filter(|i| i.flow == Flow::Return)
        .map(|i| i.pc)
        .collect()
}

/// An atomic instruction and where it is counted.
#[derive(Debug, Clone, Serialize)]
pub struct LockSite {
    /// Link-time address of the atomic instruction.
    pub pc: u64,
    /// Link-time address of the probed instruction (`pc` itself when the kernel accepts it).
    pub probe_pc: u64,
    /// The physical function holding it.
    pub function: String,
}

/// An atomic instruction that cannot be counted, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unprobed {
    /// Link-time address.
    pub pc: u64,
    /// The physical function holding it.
    pub function: String,
    /// Why.
    pub reason: String,
}

/// Every atomic instruction of the binary's Go functions (amd64: LOCK-prefixed and XCHG with
/// memory), with its probe placement, and those that cannot be placed.
pub fn lock_sites(bin: &Binary) -> Result<(Vec<LockSite>, Vec<Unprobed>), ProbeError> {
    if bin.arch() != goscope_binary::Arch::Amd64 {
        return Err(ProbeError::Unsupported(format!(
            "counting atomics in {:?} programs (amd64 only: this machine cannot run uprobes in arm64 programs)",
            bin.arch()
        )));
    }
    let dis =
        goscope_disasm::for_arch(bin.arch()).map_err(|e| ProbeError::Unsupported(e.to_string()))?;
    let tab = bin.pclntab();
    let funcs: Vec<(u64, u64, String)> = tab
        .funcs()
        .map(|f| (f.entry(), f.end(), f.name().to_string()))
        .collect();
    let per_func: Vec<(Vec<LockSite>, Vec<Unprobed>)> = funcs
        .par_iter()
        .map(|(entry, end, name)| place_in_function(bin, &*dis, *entry, *end, name))
        .collect();
    let mut sites = Vec::new();
    let mut unprobed = Vec::new();
    for (s, u) in per_func {
        sites.extend(s);
        unprobed.extend(u);
    }
    Ok((sites, unprobed))
}

fn place_in_function(
    bin: &Binary,
    dis: &dyn Disassembler,
    entry: u64,
    end: u64,
    name: &str,
) -> (Vec<LockSite>, Vec<Unprobed>) {
    let mut sites = Vec::new();
    let mut unprobed = Vec::new();
    // Cheap first: a function with no LOCK or XCHG byte cannot hold an atomic.
    let len = end.saturating_sub(entry).min(1 << 24) as usize;
    let Some(code) = bin.read_va(entry, len) else {
        return (sites, unprobed);
    };
    if !code.iter().any(|&b| b == 0xF0 || b == 0x86 || b == 0x87) {
        return (sites, unprobed);
    }
    let ins = decode_function(bin, dis, entry, end);
    if !ins.iter().any(|i| i.atomic) {
        return (sites, unprobed);
    }
    // Block starts: every direct branch target, and every instruction after an unconditional
    // transfer (only a jump can reach it: this covers jump-table targets, which are not
    // direct).
    let mut starts: HashSet<u64> = HashSet::new();
    starts.insert(entry);
    for (k, i) in ins.iter().enumerate() {
        if matches!(i.flow, Flow::Jump | Flow::CondJump)
            && let Some(t) = i.target
        {
            starts.insert(t);
        }
        if matches!(i.flow, Flow::Jump | Flow::IndirectJump | Flow::Return)
            && let Some(next) = ins.get(k + 1)
        {
            starts.insert(next.pc);
        }
    }
    let probeable = |i: &Ins| !i.lock_prefix && !i.atomic;
    for (k, i) in ins.iter().enumerate() {
        if !i.atomic {
            continue;
        }
        if !i.lock_prefix {
            // XCHG with memory: no prefix, the kernel takes it as it is.
            sites.push(LockSite {
                pc: i.pc,
                probe_pc: i.pc,
                function: name.to_string(),
            });
            continue;
        }
        // The instruction before, if control can only reach the atomic through it.
        let before = k
            .checked_sub(1)
            .map(|j| ins[j])
            .filter(|p| p.flow == Flow::Sequential && probeable(p) && !starts.contains(&i.pc));
        // Else the one after, if nothing else jumps to it.
        let after = ins
            .get(k + 1)
            .copied()
            .filter(|n| probeable(n) && !starts.contains(&n.pc) && n.pc < end);
        match before.or(after) {
            Some(p) => sites.push(LockSite {
                pc: i.pc,
                probe_pc: p.pc,
                function: name.to_string(),
            }),
            None => unprobed.push(Unprobed {
                pc: i.pc,
                function: name.to_string(),
                reason: "both neighbours are branch targets, branches or atomics: no instruction runs exactly once with it".into(),
            }),
        }
    }
    (sites, unprobed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_prefix_is_found_behind_other_prefixes() {
        assert!(has_lock_prefix(&[0xF0, 0x48, 0x0F, 0xC1, 0x08]));
        assert!(has_lock_prefix(&[0x66, 0xF0, 0x0F, 0xB1, 0x0A]));
        assert!(!has_lock_prefix(&[0x48, 0x87, 0x08]));
        assert!(!has_lock_prefix(&[0x48, 0x89, 0xF0]));
    }
}
