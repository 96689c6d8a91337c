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
    gosort::sort(&mut syms, rng, |a, b| a.addr < b.addr);
    match order {
        NmSort::Address => gosort::sort(&mut syms, rng, |a, b| a.addr < b.addr),
        NmSort::Name => gosort::sort(&mut syms, rng, |a, b| a.name < b.name),
        NmSort::Size => gosort::sort(&mut syms, rng, |a, b| a.size > b.size),
        NmSort::None => {}
    }
    NmListing {
        symbols: syms,
        recovered,
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
