//! What a call to a runtime function means, for the runtime functions the name table
//! ([`crate::classes`]) does not know: derived from the binary's own code. Each release adds
//! helpers (Go 1.26's `runtime.moveSliceNoCapNoScan`, which moves an append-built slice to the
//! heap; `growsliceNoAlias`, `growsliceBuf`); a helper that can reach `runtime.mallocgc` (or
//! any allocator the table knows) through direct calls allocates, and likewise for the map,
//! channel and interface operations.
//!
//! The runtime's call graph (direct CALLs and tail-call jumps between functions of `runtime`
//! and `internal/runtime/...`) is decoded once per binary, in parallel, and the classes are
//! propagated backwards from the table's functions. A function the table classifies is never
//! looked through: its own classes stand (`runtime.gopanic` reaching the allocator through its
//! printing does not make every bounds check an allocation), and calls through function values
//! (`systemstack(func)`) are not followed.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::classes::{self, Class};
use crate::listing::FuncSym;
use crate::{Disassembler, Flow, NoSymbols, Syntax};

/// The classes derivation propagates, as bits.
const DERIVED: [Class; 4] = [Class::Alloc, Class::Map, Class::Chan, Class::Iface];

/// Every subset of [`DERIVED`], indexed by its bits (in the table's order: allocation first).
const SUBSETS: [&[Class]; 16] = {
    use Class::{Alloc as A, Chan as C, Iface as I, Map as M};
    [
        &[],
        &[A],
        &[M],
        &[A, M],
        &[C],
        &[A, C],
        &[M, C],
        &[A, M, C],
        &[I],
        &[A, I],
        &[M, I],
        &[A, M, I],
        &[C, I],
        &[A, C, I],
        &[M, C, I],
        &[A, M, C, I],
    ]
};

fn bits(classes: &[Class]) -> u8 {
    DERIVED
        .iter()
        .enumerate()
        .filter(|(_, c)| classes.contains(c))
        .fold(0, |b, (i, _)| b | 1 << i)
}

/// Whether `name` belongs to the runtime (whose internal calls are followed).
pub fn is_runtime(name: &str) -> bool {
    name.starts_with("runtime.") || name.starts_with("internal/runtime/")
}

/// The derived classes of a binary's runtime functions.
#[derive(Debug, Default)]
pub struct DerivedClasses {
    by_entry: HashMap<u64, &'static [Class]>,
}

impl DerivedClasses {
    /// Derives the classes of the runtime functions among `funcs` (address order), reading
    /// their code through `code_of`.
    pub fn derive<'c>(
        funcs: &[FuncSym],
        dis: &dyn Disassembler,
        code_of: impl Fn(&FuncSym) -> Option<&'c [u8]> + Sync,
    ) -> DerivedClasses {
        let runtime: Vec<&FuncSym> = funcs.iter().filter(|f| is_runtime(&f.name)).collect();
        let index_of = |addr: u64| {
            runtime
                .binary_search_by_key(&addr, |f| f.addr)
                .ok()
                .filter(|&i| runtime[i].addr == addr)
        };
        // The table's functions are where propagation starts and stops.
        let table: Vec<Option<u8>> = runtime
            .iter()
            .map(|f| {
                let c = classes::classify(&f.name);
                (!c.is_empty()).then(|| bits(c))
            })
            .collect();
        let callees: Vec<Vec<usize>> = runtime
            .par_iter()
            .zip(table.par_iter())
            .map(|(f, known)| {
                if known.is_some() {
                    return Vec::new();
                }
                let Some(code) = code_of(f) else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                let mut text = String::new();
                let mut off = 0usize;
                let end = f.addr.wrapping_add(f.size);
                while off < code.len() {
                    let pc = f.addr + off as u64;
                    text.clear();
                    let info = dis.decode(&code[off..], pc, Syntax::None, &NoSymbols, &mut text);
                    if let (Flow::Call | Flow::Jump, Some(t)) = (info.flow, info.target)
                        && (t < f.addr || t >= end)
                        && let Some(i) = index_of(t)
                    {
                        out.push(i);
                    }
                    off += info.len.max(1);
                }
                out.sort_unstable();
                out.dedup();
                out
            })
            .collect();
        let mut reach: Vec<u8> = table.iter().map(|t| t.unwrap_or(0)).collect();
        // A fixed point; each round can only add bits, so at most 4 × n rounds, far fewer in
        // practice (the runtime's call chains are short).
        for _ in 0..=4 * runtime.len() {
            let mut changed = false;
            for (i, cs) in callees.iter().enumerate() {
                if table[i].is_some() {
                    continue;
                }
                let b = cs.iter().fold(reach[i], |b, &j| b | reach[j]);
                if b != reach[i] {
                    reach[i] = b;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let by_entry = runtime
            .iter()
            .zip(&reach)
            .zip(&table)
            .filter(|((_, b), t)| **b != 0 && t.is_none())
            .map(|((f, &b), _)| (f.addr, SUBSETS[usize::from(b)]))
            .collect();
        DerivedClasses { by_entry }
    }

    /// The derived classes of the function entered at `entry` (empty when it reaches nothing
    /// classified, or when it is not a runtime function).
    pub fn get(&self, entry: u64) -> &'static [Class] {
        self.by_entry.get(&entry).copied().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_follow_the_bits() {
        for (b, set) in SUBSETS.iter().enumerate() {
            assert_eq!(usize::from(bits(set)), b, "{set:?}");
        }
    }
}
