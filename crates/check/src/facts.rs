//! What each function of a binary does at the machine level, computed once and shared by
//! `check` and `diff`: calls (with their targets and runtime classes), atomics, write-barrier
//! tests, frame size, code size, and the functions inlined into it.
//!
//! Instructions are decoded by goscope-disasm and annotated by its [`Annotator`]; inline
//! chains, which are costly, are computed only for the instructions a report shows.

use std::collections::BTreeSet;

use goscope_binary::pclntab::pcdata;
use goscope_binary::{Binary, Func};
use goscope_disasm::Symbolizer;
use goscope_disasm::annotate::{Annotator, Kind};
use goscope_disasm::classes::{self, Class};
use goscope_disasm::listing::{FuncSym, Program};
use goscope_disasm::{Flow, Syntax};
use serde::Serialize;

use crate::Error;

/// One frame of an instruction's inline chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFrame {
    /// Function name.
    pub function: String,
    /// Source file.
    pub file: String,
    /// Source line.
    pub line: i32,
}

/// An instruction worth knowing about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'p> {
    /// Its address.
    pub address: u64,
    /// The target of a direct CALL.
    pub callee: Option<&'p str>,
    /// The runtime classes of the callee (allocation, bounds check, ...).
    pub classes: &'static [Class],
    /// The atomic operation, for LOCK-prefixed/implicitly locked and arm64 atomic instructions.
    pub atomic: Option<String>,
    /// A test of the write-barrier flag.
    pub write_barrier_check: bool,
}

impl Event<'_> {
    /// Whether the callee has class `c`.
    pub fn is(&self, c: Class) -> bool {
        self.classes.contains(&c)
    }
}

/// The facts of one function.
#[derive(Debug, Clone)]
pub struct FuncFacts<'p> {
    /// Symbol name.
    pub name: &'p str,
    /// Entry address.
    pub addr: u64,
    /// Size of the machine code in bytes.
    pub size: u64,
    /// The largest stack-pointer offset recorded by the pcsp table.
    pub frame_size: u64,
    /// Source file of the entry.
    pub file: String,
    /// Line of the declaration: the pclntab's start line (Go 1.20+), else the entry's line.
    pub line: i32,
    /// Calls, atomics and write-barrier tests, in address order.
    pub events: Vec<Event<'p>>,
    /// Every function inlined into this one (at any depth).
    pub inlined: BTreeSet<String>,
    /// A hash of the instruction sequence's lengths, control flow and callees: equal for the same code at
    /// another address or under another name (rename detection in `diff`).
    pub shape: u64,
}

impl FuncFacts<'_> {
    /// Number of calls of class `c`.
    pub fn count(&self, c: Class) -> usize {
        self.events.iter().filter(|e| e.is(c)).count()
    }

    /// Number of atomic instructions.
    pub fn atomics(&self) -> usize {
        self.events.iter().filter(|e| e.atomic.is_some()).count()
    }
}

/// A binary ready for analysis.
pub struct Analyzer<'b> {
    prog: Program<'b>,
}

impl<'b> Analyzer<'b> {
    /// Prepares `bin`.
    pub fn new(bin: &'b Binary) -> Result<Analyzer<'b>, Error> {
        Ok(Analyzer {
            prog: Program::new(bin)?,
        })
    }

    /// The binary.
    pub fn binary(&self) -> &'b Binary {
        self.prog.binary()
    }

    /// The text symbols, in address order.
    pub fn functions(&self) -> &[FuncSym] {
        self.prog.functions()
    }

    /// The pclntab function at `f`'s entry.
    pub fn func(&self, f: &FuncSym) -> Option<Func<'b>> {
        self.binary()
            .func_at(f.addr)
            .filter(|x| x.entry() == f.addr)
    }

    /// File and declaration line of `f`.
    pub fn decl(&self, f: &FuncSym) -> (String, i32) {
        declaration(self.binary(), f).unwrap_or_default()
    }

    /// Every function inlined into `f`, at any depth (from its inline tree, without decoding
    /// instructions).
    pub fn inlined_names(&self, f: &FuncSym) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let bin = self.binary();
        let Some(func) = self.func(f) else {
            return out;
        };
        if func.npcdata() > pcdata::INL_TREE_INDEX
            && let Some(it) = bin
                .pclntab()
                .pcvalue_iter(func.pcdata(pcdata::INL_TREE_INDEX), func.entry())
        {
            // Entries 0..=max are the functions inlined here: every referenced entry and its
            // parents (which come before their children in the tree).
            let max = it.take(1 << 20).map(|(_, _, ix)| ix).max().unwrap_or(-1);
            for ix in 0..=max.min(1 << 16) {
                if let Some(name) = bin.inlined_function(&func, ix) {
                    out.insert(name.to_string());
                }
            }
        }
        out
    }

    /// The facts of `f`.
    pub fn facts<'s>(&'s self, f: &'s FuncSym) -> FuncFacts<'s> {
        self.facts_with_inlined(f, self.inlined_names(f))
    }

    /// The facts of `f`, whose inlined functions ([`Analyzer::inlined_names`]) are known.
    pub fn facts_with_inlined<'s>(
        &'s self,
        f: &'s FuncSym,
        inlined: BTreeSet<String>,
    ) -> FuncFacts<'s> {
        let bin = self.binary();
        let (file, line) = self.decl(f);
        let func = self.func(f);
        let mut facts = FuncFacts {
            name: f.name.as_str(),
            addr: f.addr,
            size: f.size,
            frame_size: 0,
            file,
            line,
            events: Vec::new(),
            inlined: BTreeSet::new(),
            shape: 0,
        };
        if let Some(func) = &func {
            let tab = bin.pclntab();
            if let Some(it) = tab.pcvalue_iter(func.pcsp(), func.entry()) {
                facts.frame_size = it
                    .take(1 << 20)
                    .map(|(_, _, v)| v.max(0) as u64)
                    .max()
                    .unwrap_or(0);
            }
        }
        facts.inlined = inlined;
        let syms = self.prog.symbols();
        let dis = self.prog.disassembler();
        let Some(code) = bin.read_va(f.addr, f.size.min(1 << 30) as usize) else {
            return facts;
        };
        let mut ann = Annotator::new(syms, bin.ptr_size());
        let derive = !goscope_disasm::reach::is_runtime(&f.name);
        if derive {
            ann = ann.with_classes(&self.prog);
        }
        let mut text = String::new();
        let mut off = 0usize;
        let mut shape = std::collections::hash_map::DefaultHasher::new();
        while off < code.len() {
            let pc = f.addr + off as u64;
            text.clear();
            // No text: only the facts are needed (arm64 still writes the text its annotator reads).
            let info = dis.decode(&code[off..], pc, Syntax::None, syms, &mut text);
            let anns = ann.annotate(&info, &text, &[]);
            let atomic = anns
                .iter()
                .find(|a| a.kind == Kind::Atomic)
                .map(|a| a.detail.clone());
            let call = match (info.flow, info.target) {
                (Flow::Call, Some(t)) => syms
                    .lookup(t)
                    .filter(|&(_, base)| base == t)
                    .map(|(n, _)| (n, t)),
                _ => None,
            };
            let callee = call.map(|(n, _)| n);
            let write_barrier_check = anns.iter().any(|a| a.kind == Kind::WriteBarrierCheck);
            if callee.is_some() || atomic.is_some() || write_barrier_check {
                facts.events.push(Event {
                    address: pc,
                    callee,
                    classes: match call {
                        Some((n, t)) if derive => self.prog.call_classes(t, n),
                        Some((n, _)) => classes::classify(n),
                        None => &[],
                    },
                    atomic,
                    write_barrier_check,
                });
            }
            std::hash::Hash::hash(
                &(info.len, std::mem::discriminant(&info.flow), callee),
                &mut shape,
            );
            off += info.len.max(1);
        }
        facts.shape = std::hash::Hasher::finish(&shape);
        facts
    }

    /// The listing of `f` with inline chains (file:line as `go tool objdump` prints them).
    pub fn list(&self, f: &FuncSym) -> goscope_disasm::listing::FunctionListing {
        let opts = goscope_disasm::listing::Options {
            inline: true,
            ..Default::default()
        };
        self.prog.list(f, u64::MAX, &opts)
    }

    /// The text of the instruction at `pc` in Go syntax.
    pub fn text_at(&self, pc: u64) -> String {
        let bin = self.binary();
        let mut s = String::new();
        if let Some(code) = bin.read_va(pc, 16).or_else(|| bin.read_va(pc, 4)) {
            self.prog
                .disassembler()
                .decode(code, pc, Syntax::Go, self.prog.symbols(), &mut s);
        }
        s
    }

    /// The inline chains at `pcs` (sorted) of the function entered at `entry`, decoding its pc
    /// tables once.
    pub fn frames_at_many(
        &self,
        entry: u64,
        pcs: &[u64],
    ) -> std::collections::HashMap<u64, Vec<SourceFrame>> {
        let bin = self.binary();
        let Some(func) = bin.func_at(entry) else {
            return Default::default();
        };
        pcs.iter()
            .copied()
            .zip(bin.frames_at_many(&func, pcs))
            .filter(|(_, chain)| !chain.is_empty())
            .map(|(pc, chain)| {
                let frames = chain
                    .into_iter()
                    .map(|f| SourceFrame {
                        function: f.function.into_owned(),
                        file: f.file.into_owned(),
                        line: f.line,
                    })
                    .collect();
                (pc, frames)
            })
            .collect()
    }

    /// The inline chain at `pc`, innermost first.
    pub fn frames_at(&self, pc: u64) -> Vec<SourceFrame> {
        self.binary()
            .frames_at(pc)
            .into_iter()
            .map(|f| SourceFrame {
                function: f.function.into_owned(),
                file: f.file.into_owned(),
                line: f.line,
            })
            .collect()
    }
}

/// File and declaration line of the function whose entry is `f`: the pclntab's start line
/// (Go 1.20+), else the line of the first instruction; `None` when no pclntab function starts
/// at `f`.
pub(crate) fn declaration(bin: &Binary, f: &FuncSym) -> Option<(String, i32)> {
    let func = bin.func_at(f.addr).filter(|x| x.entry() == f.addr)?;
    let file = func
        .file_at(f.addr)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let line = func
        .start_line()
        .filter(|&l| l > 0)
        .or_else(|| func.line_at(f.addr))
        .unwrap_or(0);
    Some((file, line))
}
