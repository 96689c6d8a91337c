//! Where a breakpoint goes: Delve's location specs over the pclntab (so stripped binaries
//! work) — a function (after its prologue, as Delve stops), `FILE:LINE` (the first instruction
//! of that line in every function and every inlined copy, as Delve's `FindFileLocation`
//! picks), or `*ADDR`.

use std::collections::BTreeMap;

use goscope_binary::Binary;
use goscope_binary::pclntab::pcdata;
use goscope_disasm::listing::{Options, Program};

/// A resolved location: link-time addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Addresses (link-time) to stop at.
    pub addrs: Vec<u64>,
    /// What the spec named, for messages (`main.handle`, `main.go:42`).
    pub what: String,
}

/// Why a location spec does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LocateError(pub String);

/// Resolves `spec` (`main.f`, `f`, `main.go:42`, `pkg/file.go:42`, `*0x4a1b20`) in the
/// program's binary. `*ADDR` is a runtime address: `bias` (the load bias) is taken off it.
pub fn resolve(prog: &Program<'_>, spec: &str, bias: u64) -> Result<Resolved, LocateError> {
    let spec = spec.trim();
    if let Some(a) = spec.strip_prefix('*') {
        let addr = parse_addr(a)
            .ok_or_else(|| LocateError(format!("not an address: {a:?} (use *0x4a1b20)")))?;
        return Ok(Resolved {
            addrs: vec![addr.wrapping_sub(bias)],
            what: format!("{addr:#x}"),
        });
    }
    if let Some((file, line)) = spec.rsplit_once(':')
        && let Ok(line) = line.parse::<i32>()
        && !file.is_empty()
    {
        return file_line(prog, file, line);
    }
    function(prog, spec)
}

/// `0x…` hex or decimal.
pub fn parse_addr(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The function named `name`: exactly, else the one whose name ends in `.name` or `/name`.
fn find_function<'b>(bin: &'b Binary, name: &str) -> Result<goscope_binary::Func<'b>, LocateError> {
    let tab = bin.pclntab();
    let mut exact = None;
    let mut partial = Vec::new();
    for f in tab.funcs() {
        let n = f.name();
        let n = n.strip_suffix(".abi0").unwrap_or(n);
        if n == name {
            exact = Some(f);
            break;
        }
        if n.ends_with(name) && n[..n.len() - name.len()].ends_with(['.', '/']) {
            partial.push(f);
        }
    }
    if let Some(f) = exact {
        return Ok(f);
    }
    match partial.len() {
        1 => Ok(partial.remove(0)),
        0 => Err(LocateError(format!(
            "no function {name:?} in the binary (goscope nm BIN lists them)"
        ))),
        _ => Err(LocateError(format!(
            "{name:?} is ambiguous: {}",
            partial
                .iter()
                .take(8)
                .map(|f| f.name().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn function(prog: &Program<'_>, name: &str) -> Result<Resolved, LocateError> {
    let bin = prog.binary();
    let f = find_function(bin, name)?;
    Ok(Resolved {
        addrs: vec![after_prologue(prog, f.entry())],
        what: f.name().to_string(),
    })
}

/// The first instruction after a Go function's prologue, where Delve stops for a function
/// breakpoint (the DWARF line table's `prologue_end`, which stripped binaries lack): after the
/// stack-growth check (`CMPQ SP, 16(R14); JBE`, with a `LEAQ` for big frames) and, since Go 1.21,
/// the frame-pointer push (`PUSHQ BP; MOVQ SP, BP`). Before Go 1.21 the frame was set up by
/// `SUBQ; MOVQ BP, n(SP); LEAQ n(SP), BP`, which the compiler did not count as prologue.
/// Functions without a stack check stop at their entry.
pub fn after_prologue(prog: &Program<'_>, entry: u64) -> u64 {
    let Some(sym) = prog
        .select(entry, entry + 1, |_| true)
        .into_iter()
        .find(|f| f.addr == entry)
        .cloned()
    else {
        return entry;
    };
    let listing = prog.list(
        &sym,
        sym.addr.wrapping_add(sym.size.min(256)),
        &Options::default(),
    );
    let texts: Vec<(&str, u64, u64)> = listing
        .insns
        .iter()
        .take(12)
        .map(|i| (i.text.as_str(), i.address, i.address + u64::from(i.len)))
        .collect();
    let mut i = 0;
    let at = |i: usize| texts.get(i).map_or("", |t| t.0);
    // The stack check (a big frame's bound is SP minus the frame: Go's syntax prints the
    // negative displacement as a 32-bit hex number, `LEAQ 0xffffff78(SP), R12`).
    if at(i).starts_with("LEAQ ") && at(i).ends_with("(SP), R12") {
        i += 1;
    }
    if (at(i).starts_with("CMPQ SP, 0x10(") || at(i).starts_with("CMPQ R12, 0x10("))
        && (at(i + 1).starts_with("JBE ") || at(i + 1).starts_with("JLS "))
    {
        i += 2;
    } else {
        i = 0;
    }
    // The frame pointer.
    if at(i) == "PUSHQ BP" && at(i + 1) == "MOVQ SP, BP" {
        i += 2;
    }
    texts.get(i).map_or(entry, |t| t.1)
}

/// Whether pclntab file `path` is what the user named `file` (the whole path, or its tail
/// after a `/`).
fn file_matches(path: &[u8], file: &str) -> bool {
    let f = file.as_bytes();
    path == f || (path.ends_with(f) && path[path.len() - f.len() - 1] == b'/')
}

fn file_line(prog: &Program<'_>, file: &str, line: i32) -> Result<Resolved, LocateError> {
    let bin = prog.binary();
    let tab = bin.pclntab();
    let mut file_seen = false;
    // (function entry, inline tree index) → first pc of the line there.
    let mut firsts: BTreeMap<(u64, i32), u64> = BTreeMap::new();
    let mut names: BTreeMap<(u32, i32), bool> = BTreeMap::new();
    for f in tab.funcs() {
        let entry = f.entry();
        let Some(files) = tab.pcvalue_iter(f.pcfile(), entry) else {
            continue;
        };
        let files: Vec<(u64, u64, i32)> = files.collect();
        let cu = f.cu_offset();
        let mut any = false;
        for &(_, _, fno) in &files {
            let m = *names.entry((cu, fno)).or_insert_with(|| {
                tab.file_name(cu, fno)
                    .is_some_and(|p| file_matches(p, file))
            });
            any |= m;
        }
        if !any {
            continue;
        }
        file_seen = true;
        let Some(lines) = tab.pcvalue_iter(f.pcln(), entry) else {
            continue;
        };
        let inl: Vec<(u64, u64, i32)> = tab
            .pcvalue_iter(f.pcdata(pcdata::INL_TREE_INDEX), entry)
            .map(|it| it.collect())
            .unwrap_or_default();
        let value_at = |runs: &[(u64, u64, i32)], pc: u64| {
            runs.iter()
                .find(|r| r.0 <= pc && pc < r.1)
                .map_or(-1, |r| r.2)
        };
        for (start, end, l) in lines {
            if l != line {
                continue;
            }
            // Split the run where the file or the inline instance changes.
            let mut cuts: Vec<u64> = vec![start];
            for r in files.iter().chain(inl.iter()) {
                if r.0 > start && r.0 < end {
                    cuts.push(r.0);
                }
            }
            cuts.sort_unstable();
            cuts.dedup();
            for pc in cuts {
                let fno = value_at(&files, pc);
                if !names.get(&(cu, fno)).copied().unwrap_or(false) {
                    continue;
                }
                let key = (entry, value_at(&inl, pc));
                let slot = firsts.entry(key).or_insert(pc);
                *slot = (*slot).min(pc);
            }
        }
    }
    if firsts.is_empty() {
        return Err(LocateError(if file_seen {
            format!("no code for {file}:{line} (a blank line, a comment, or optimized away)")
        } else {
            format!("no file {file:?} in the binary")
        }));
    }
    let mut addrs: Vec<u64> = firsts
        .iter()
        .map(|(&(entry, inl), &pc)| {
            if inl < 0 && pc == entry {
                after_prologue(prog, entry)
            } else {
                pc
            }
        })
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    Ok(Resolved {
        addrs,
        what: format!("{file}:{line}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_match_whole_or_by_tail() {
        assert!(file_matches(b"/src/app/main.go", "main.go"));
        assert!(file_matches(b"/src/app/main.go", "app/main.go"));
        assert!(!file_matches(b"/src/app/domain.go", "main.go"));
        assert!(file_matches(b"main.go", "main.go"));
        assert_eq!(parse_addr("0x10"), Some(16));
        assert_eq!(parse_addr("16"), Some(16));
        assert_eq!(parse_addr("zz"), None);
    }
}
