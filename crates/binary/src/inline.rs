//! The inline tree: which inlined calls a pc is inside of, innermost first (`FORMATS.md` §1.7,
//! `runtime/symtabinl.go`).

use std::borrow::Cow;

use serde::Serialize;

use crate::Binary;
use crate::pclntab::{Func, FuncDataRef, PclntabVersion, funcdata, pcdata};
use crate::read::{i32_at, u8_at};

/// One frame of the chain at a pc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame<'a> {
    /// Function name (`main.(*T).M`, `fmt.Println`).
    pub function: Cow<'a, str>,
    /// Source file; empty if unknown.
    pub file: Cow<'a, str>,
    /// Source line; 0 if unknown.
    pub line: i32,
    /// Whether this frame was inlined into the next one.
    pub inlined: bool,
    /// Whether the function is a compiler-generated wrapper (the runtime hides these in
    /// tracebacks).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wrapper: bool,
}

/// Longest inline chain followed; real chains are a few dozen deep at most, and a corrupt tree
/// must not loop.
const MAX_DEPTH: usize = 1024;

fn text(b: Option<&[u8]>) -> Cow<'_, str> {
    match b {
        Some(b) => String::from_utf8_lossy(b),
        None => Cow::Borrowed(""),
    }
}

/// One decoded inline tree entry.
struct InlEntry {
    func_id: u8,
    name_off: u32,
    parent_pc: i32,
}

/// Reads entry `ix` of the inline tree at `tree`.
fn inl_entry(bin: &Binary, version: PclntabVersion, tree: u64, ix: i32) -> Option<InlEntry> {
    let ix = u64::try_from(ix).ok()?;
    if version >= PclntabVersion::Go120 {
        let b = bin.read_va(tree.checked_add(ix.checked_mul(16)?)?, 16)?;
        Some(InlEntry {
            func_id: u8_at(b, 0)?,
            name_off: i32_at(b, 4)? as u32,
            parent_pc: i32_at(b, 8)?,
        })
    } else {
        // Go 1.12–1.19: parent i16, funcID u8, pad, file i32, line i32, func_ i32, parentPc i32.
        let b = bin.read_va(tree.checked_add(ix.checked_mul(20)?)?, 20)?;
        Some(InlEntry {
            func_id: u8_at(b, 2)?,
            name_off: i32_at(b, 12)? as u32,
            parent_pc: i32_at(b, 16)?,
        })
    }
}

/// The address of `f`'s inline tree, if it has one.
fn inline_tree(bin: &Binary, f: &Func<'_>) -> Option<u64> {
    match f.funcdata(funcdata::INL_TREE)? {
        FuncDataRef::GoFuncOffset(off) => bin.gofunc()?.checked_add(u64::from(off)),
        FuncDataRef::Address(a) => Some(a),
    }
}

/// The function name of entry `ix` of `f`'s inline tree (cheap: no pc-table decoding).
pub(crate) fn entry_name<'a>(bin: &'a Binary, f: &Func<'_>, ix: i32) -> Option<&'a str> {
    let tree = inline_tree(bin, f)?;
    let tab = bin.pclntab();
    let e = inl_entry(bin, tab.version(), tree, ix)?;
    tab.func_name(e.name_off)
}

pub(crate) fn frames_at(bin: &Binary, pc: u64) -> Vec<Frame<'_>> {
    let tab = bin.pclntab();
    let Some(f) = tab.find_func(pc) else {
        return Vec::new();
    };
    let tables = Tables {
        file: |pc| f.file_no_at(pc),
        line: |pc| f.line_at(pc),
        inl: |pc| f.pcdata_at(pcdata::INL_TREE_INDEX, pc),
    };
    chain(bin, &f, pc, &tables)
}

/// The pc tables one chain is read from: the function's own lookups, or runs decoded once.
struct Tables<F, L, I> {
    file: F,
    line: L,
    inl: I,
}

/// The runs `(start, end, value)` of one pc-value table, decoded once, looked up by binary
/// search.
struct Runs(Vec<(u64, u64, i32)>);

impl Runs {
    fn decode(f: &Func<'_>, off: u32) -> Runs {
        if off == 0 {
            return Runs(Vec::new());
        }
        Runs(
            f.table()
                .pcvalue_iter(off, f.entry())
                .map(|it| it.collect())
                .unwrap_or_default(),
        )
    }

    fn at(&self, pc: u64) -> Option<i32> {
        let i = self.0.partition_point(|&(_, end, _)| end <= pc);
        self.0
            .get(i)
            .filter(|&&(start, _, _)| start <= pc)
            .map(|&(_, _, v)| v)
    }
}

/// [`frames_at`] for many pcs of the function `f`: its pc tables are decoded once, however many
/// pcs are asked for. Pcs outside `f` get an empty chain.
pub(crate) fn frames_at_many<'a>(
    bin: &'a Binary,
    f: &Func<'a>,
    pcs: &[u64],
) -> Vec<Vec<Frame<'a>>> {
    let (file, line) = (Runs::decode(f, f.pcfile()), Runs::decode(f, f.pcln()));
    let inl = Runs::decode(f, f.pcdata(pcdata::INL_TREE_INDEX));
    let tables = Tables {
        file: |pc| file.at(pc),
        line: |pc| line.at(pc),
        inl: |pc| inl.at(pc),
    };
    pcs.iter()
        .map(|&pc| {
            if pc < f.entry() || pc >= f.end() {
                Vec::new()
            } else {
                chain(bin, f, pc, &tables)
            }
        })
        .collect()
}

fn chain<'a, F, L, I>(bin: &'a Binary, f: &Func<'a>, pc: u64, t: &Tables<F, L, I>) -> Vec<Frame<'a>>
where
    F: Fn(u64) -> Option<i32>,
    L: Fn(u64) -> Option<i32>,
    I: Fn(u64) -> Option<i32>,
{
    let tab = bin.pclntab();
    let wrapper_id = bin.wrapper_func_id();
    let mut out = Vec::new();
    let mut pc = pc;
    let file_line = |pc: u64| {
        let file = (t.file)(pc).and_then(|fno| tab.file_name(f.cu_offset(), fno));
        (text(file), (t.line)(pc).unwrap_or(0))
    };
    if let Some(tree) = inline_tree(bin, f) {
        let entry = f.entry();
        let mut ix = (t.inl)(pc).unwrap_or(-1);
        while ix >= 0 && out.len() < MAX_DEPTH {
            let Some(e) = inl_entry(bin, tab.version(), tree, ix) else {
                break;
            };
            let (file, line) = file_line(pc);
            out.push(Frame {
                function: text(tab.func_name_bytes(e.name_off)),
                file,
                line,
                inlined: true,
                wrapper: wrapper_id == Some(e.func_id),
            });
            let parent = entry.wrapping_add(e.parent_pc as i64 as u64);
            if parent == pc && e.parent_pc != 0 {
                break;
            }
            pc = parent;
            ix = (t.inl)(pc).unwrap_or(-1);
        }
    }
    let (file, line) = file_line(pc);
    out.push(Frame {
        function: text(f.name_bytes()),
        file,
        line,
        inlined: false,
        wrapper: wrapper_id == Some(f.func_id()),
    });
    out
}
