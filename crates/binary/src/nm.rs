//! The symbol listing of `go tool nm`: the same symbols in the same order. On stripped binaries,
//! the text symbols are recovered from the pclntab.

use std::borrow::Cow;

use crate::gosort::{self, XorShift};
use crate::symbols::SymbolRef;
use crate::{Binary, Symbol};

/// Sort orders of `go tool nm -sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmSort {
    /// By address.
    Address,
    /// By name (the default).
    Name,
    /// File order (after the address sort every reader applies, as `go tool nm` does).
    None,
    /// Largest first.
    Size,
}

/// The symbols to list and where they came from.
#[derive(Debug, Clone)]
pub struct NmListing<'a> {
    /// The symbols, in output order.
    pub symbols: Vec<SymbolRef<'a>>,
    /// Whether they were recovered from the pclntab because the symbol table is gone.
    pub recovered: bool,
}

/// Lists symbols as `go tool nm -sort ORDER` does.
pub fn list(bin: &Binary, order: NmSort) -> NmListing<'_> {
    let table = bin.symbol_refs().unwrap_or_default();
    let (mut syms, recovered) = if table.iter().any(SymbolRef::is_text) {
        (table, false)
    } else {
        // Stripped: whatever is left of the table (Mach-O keeps its imports) plus the functions.
        let mut v = table;
        v.extend(recover_text_symbols(bin).into_iter().map(|s| SymbolRef {
            name: Cow::Owned(s.name.into_bytes()),
            addr: s.addr,
            size: s.size,
            code: s.code,
        }));
        (v, true)
    };
    let rng = XorShift::for_go_version(bin.go_version());
    // cmd/internal/objfile sorts by address first; nm then sorts again. Both are Go's unstable
    // pdqsort, so ties come out exactly as Go orders them.
    match order {
        NmSort::Name => sort_by_name(&mut syms, rng),
        _ => {
            gosort::sort(&mut syms, rng, |a, b| a.addr < b.addr);
            match order {
                NmSort::Address => gosort::sort(&mut syms, rng, |a, b| a.addr < b.addr),
                NmSort::Size => gosort::sort(&mut syms, rng, |a, b| a.size > b.size),
                NmSort::Name | NmSort::None => {}
            }
        }
    }
    NmListing {
        symbols: syms,
        recovered,
    }
}

/// `go tool nm`'s default order: objfile's sort by address, then by name, both with Go's unstable
/// pdqsort. Where every name is unique the result is simply the name order, whichever algorithm
/// produces it, so a sort of indices does the job (no element moves, no address pass). Only
/// symbols that share a name come out in an order that depends on Go's sort: then both of Go's
/// passes run, the second on each name's rank, an integer that compares as the name does, so
/// pdqsort makes exactly the moves it would make on the names.
fn sort_by_name(syms: &mut Vec<SymbolRef<'_>>, rng: XorShift) {
    let mut by_name: Vec<usize> = (0..syms.len()).collect();
    sort_strings(&mut by_name, |i| &syms[i].name);
    let same = |a: usize, b: usize| syms[a].name == syms[b].name;
    if !by_name.windows(2).any(|w| same(w[0], w[1])) {
        permute(syms, &mut by_name);
        return;
    }
    let mut rank = vec![0u32; syms.len()];
    let mut r = 0u32;
    for k in 0..by_name.len() {
        if k > 0 && !same(by_name[k - 1], by_name[k]) {
            r += 1;
        }
        rank[by_name[k]] = r;
    }
    let mut ranked: Vec<(u32, SymbolRef<'_>)> = rank.into_iter().zip(syms.drain(..)).collect();
    gosort::sort(&mut ranked, rng, |a, b| a.1.addr < b.1.addr);
    gosort::sort(&mut ranked, rng, |a, b| a.0 < b.0);
    syms.extend(ranked.into_iter().map(|(_, s)| s));
}

/// Sorts `idx` by `names[i]` (byte order) with a three-way radix quicksort (Bentley and
/// Sedgewick's multikey quicksort) over eight bytes at a time: Go symbol names share long
/// package-path prefixes, which a comparison sort compares again at every step. Each element
/// carries its current eight-byte chunk, read once per depth, so partitioning works on
/// contiguous memory instead of chasing every name at every step.
fn sort_strings<'n>(idx: &mut [usize], name: impl Fn(usize) -> &'n [u8]) {
    // Bytes [depth, depth+8) as a big-endian number, zero-padded past the end.
    let chunk = |i: usize, depth: usize| {
        let rest = name(i).get(depth..).unwrap_or(&[]);
        let n = rest.len().min(8);
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&rest[..n]);
        u64::from_be_bytes(b)
    };
    // A plain comparison of what follows `depth`, for small or finished partitions.
    let finish = |part: &mut [(u64, usize)], depth: usize| {
        part.sort_unstable_by(|&(_, a), &(_, b)| {
            let (x, y) = (name(a), name(b));
            x.get(depth..)
                .unwrap_or(&[])
                .cmp(y.get(depth..).unwrap_or(&[]))
        })
    };
    let mut keyed: Vec<(u64, usize)> = idx.iter().map(|&i| (chunk(i, 0), i)).collect();
    // Explicit stack: (start, end, depth, keys current), so adversarial names cannot overflow
    // the call stack.
    let mut stack = vec![(0usize, keyed.len(), 0usize, true)];
    while let Some((lo, hi, depth, fresh)) = stack.pop() {
        let part = &mut keyed[lo..hi];
        if part.len() < 16 {
            finish(part, depth);
            continue;
        }
        if !fresh {
            for e in part.iter_mut() {
                e.0 = chunk(e.1, depth);
            }
        }
        let pivot = part[part.len() / 2].0;
        // Dutch-flag partition: [0, lt) below, [lt, gt) equal, [gt, len) above.
        let (mut lt, mut i, mut gt) = (0, 0, part.len());
        while i < gt {
            match part[i].0.cmp(&pivot) {
                std::cmp::Ordering::Less => {
                    part.swap(lt, i);
                    lt += 1;
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    gt -= 1;
                    part.swap(i, gt);
                }
                std::cmp::Ordering::Equal => i += 1,
            }
        }
        stack.push((lo, lo + lt, depth, true));
        stack.push((lo + gt, hi, depth, true));
        if pivot & 0xff == 0 {
            // The chunk ends in a zero byte: the names may end inside it (zero padding) or hold
            // a NUL; a comparison tells which.
            finish(&mut part[lt..gt], depth);
        } else {
            stack.push((lo + lt, lo + gt, depth + 8, false));
        }
    }
    for (slot, (_, i)) in idx.iter_mut().zip(keyed) {
        *slot = i;
    }
}

/// Reorders `v` so that `v[k]` becomes the old `v[perm[k]]`, in place (following each cycle of
/// the permutation); `perm` is used up.
fn permute<T>(v: &mut [T], perm: &mut [usize]) {
    const DONE: usize = usize::MAX;
    for start in 0..perm.len() {
        let mut cur = start;
        while perm[cur] != DONE {
            let src = perm[cur];
            perm[cur] = DONE;
            if src == start {
                break;
            }
            v.swap(cur, src);
            cur = src;
        }
    }
}

/// The symbols of [`objfile_order`].
#[derive(Debug, Clone)]
pub struct ObjfileSymbols {
    /// The symbols, by address.
    pub symbols: Vec<Symbol>,
    /// Whether they were recovered from the pclntab because the symbol table is gone.
    pub recovered: bool,
}

/// The symbols `cmd/internal/objfile` hands its users (`go tool objdump` among them): the symbol
/// table, or the text symbols recovered from the pclntab when it is stripped, sorted by address
/// with Go's own unstable sort (as the current Go release runs it), so that symbols sharing an
/// address come out in Go's order.
pub fn objfile_order(bin: &Binary) -> ObjfileSymbols {
    // A stripped Mach-O keeps a few dynamic symbols but no text ones: recover those too.
    let (mut syms, recovered) = match bin.symbols() {
        Some(s) if s.iter().any(Symbol::is_text) => (s.to_vec(), false),
        _ => (recover_text_symbols(bin), true),
    };
    gosort::sort(&mut syms, XorShift::for_go_version(None), |a, b| {
        a.addr < b.addr
    });
    ObjfileSymbols {
        symbols: syms,
        recovered,
    }
}

/// Text symbols rebuilt from the pclntab: every function, with the size its pc tables cover,
/// plus `runtime.text`/`runtime.etext` from moduledata.
pub fn recover_text_symbols(bin: &Binary) -> Vec<Symbol> {
    let tab = bin.pclntab();
    let mut out = Vec::with_capacity(tab.len() + 2);
    let md = bin.moduledata();
    if let Some(md) = md
        && md.text != 0
    {
        out.push(Symbol {
            name: "runtime.text".into(),
            addr: md.text,
            size: 0,
            code: 'T',
        });
    }
    // A name the pclntab holds twice is an assembly (ABI0) function and its Go-ABI wrapper, or
    // a Go function and its ABI0 wrapper; the linker suffixes the ABI0 one with `.abi0`. The
    // ABI0 half of a Go pair is the compiler-made wrapper: wrapper funcID, and no
    // register-argument liveness funcdata (some real functions, such as reflect.callMethod,
    // carry the wrapper funcID too). Ties go to the later one, where the wrappers are placed.
    let asm = |f: &crate::Func<'_>| f.flag() & crate::pclntab::funcflag::ASM != 0;
    let wrapper = bin.wrapper_func_id();
    let abi0_score = |f: &crate::Func<'_>| {
        u8::from(Some(f.func_id()) == wrapper) + u8::from(f.funcdata(6).is_none())
    };
    // Per name: how many, whether one is assembly, and the best ABI0 candidate (score, entry).
    let mut pairs = std::collections::HashMap::<&str, (u32, bool, (u8, u64))>::new();
    for f in tab.funcs() {
        let e = pairs.entry(f.name()).or_default();
        e.0 += 1;
        e.1 |= asm(&f);
        e.2 = e.2.max((abi0_score(&f), f.entry()));
    }
    let regabi = matches!(bin.arch(), crate::Arch::Amd64 | crate::Arch::Arm64)
        && bin
            .go_version()
            .and_then(crate::go_minor_version)
            .is_none_or(|m| m >= 20);
    for f in tab.funcs() {
        let entry = f.entry();
        let abi0 = match pairs.get(f.name()) {
            Some(&(n, has_asm, (_, best))) if n > 1 => {
                if has_asm {
                    asm(&f)
                } else {
                    entry == best
                }
            }
            // A lone assembly function that Go code declares: the assembler gives it the Go
            // declaration's argument pointer maps, and the linker an `.abi0` name (there is an
            // ABIInternal symbol of the same name). Only where Go has register-ABI wrappers
            // (amd64, arm64); checked against Go 1.26's symbol tables. Go 1.19 does not give
            // every such function the maps, so there the suffix cannot be recovered; nor for
            // Go functions compiled for ABI0 (`//go:cgo_unsafe_args`: cgo's `_Cfunc_` stubs,
            // darwin's libc wrappers), which leave no trace in the pclntab.
            _ => {
                regabi
                    && asm(&f)
                    && f.funcdata(crate::pclntab::funcdata::ARGS_POINTER_MAPS)
                        .is_some()
            }
        };
        let end = tab
            .pcvalue_iter(f.pcsp(), entry)
            .and_then(|it| it.last())
            .map_or(f.end(), |(_, end, _)| end);
        out.push(Symbol {
            name: symtab_name(bin, f.name(), abi0),
            addr: entry,
            size: end.saturating_sub(entry),
            code: 'T',
        });
    }
    if let Some(md) = md
        && md.etext != 0
    {
        out.push(Symbol {
            name: "runtime.etext".into(),
            addr: md.etext,
            size: 0,
            code: 'T',
        });
    }
    out
}

/// The name `go tool nm` would have shown for a function the pclntab calls `name`: the ABI0
/// half of a pair gets an `.abi0` suffix (cmd/link `mangleABIName`), ELF and Mach-O symbol
/// tables spell `·` as `.` (cmd/link `putelfsym`, `machoShouldExport`), and Mach-O names keep
/// the underscore prefix when they have no dot.
fn symtab_name(bin: &Binary, name: &str, abi0: bool) -> String {
    let mut s = if bin.format() == crate::Format::Pe {
        name.to_string()
    } else {
        name.replace('·', ".")
    };
    if abi0 {
        s.push_str(".abi0");
    }
    // Mach-O symbols carry a leading underscore, which debug/macho strips again only from
    // names with a dot.
    if bin.format() == crate::Format::MachO && !s.contains('.') {
        s.insert(0, '_');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_quicksort_orders_as_byte_comparison_does() {
        // Names with long shared prefixes, prefixes of each other, duplicates and high bytes.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let stems = [
            "cmd/compile/internal/ssa.",
            "runtime.",
            "",
            "type:*",
            "\u{ff}",
        ];
        let names: Vec<Vec<u8>> = (0..5000)
            .map(|_| {
                let stem = stems[(next() % stems.len() as u64) as usize];
                let tail: Vec<u8> = (0..next() % 6)
                    .map(|_| b"ab.\xff\0"[(next() % 5) as usize])
                    .collect();
                [stem.as_bytes(), &tail].concat()
            })
            .collect();
        let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
        let mut idx: Vec<usize> = (0..refs.len()).collect();
        sort_strings(&mut idx, |i| refs[i]);
        let got: Vec<&[u8]> = idx.iter().map(|&i| refs[i]).collect();
        let mut want = refs.clone();
        want.sort();
        assert_eq!(got, want);
        let mut seen = idx.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..refs.len()).collect::<Vec<_>>(), "a permutation");
        let mut moved = refs.clone();
        permute(&mut moved, &mut idx);
        assert_eq!(moved, want);
    }
}
