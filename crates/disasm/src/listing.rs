//! Function listings over a whole binary: which functions exist (the symbol table, or the
//! pclntab when stripped), their instructions with file:line, inline chains and annotations.
//!
//! The walk follows `go tool objdump` (`cmd/internal/disasm`): text symbols in address order,
//! each decoded from its start to its end (clipped to the requested range), an instruction
//! allowed to run past its symbol's end into the text that follows, file:line from
//! `debug/gosym`'s reading of the pc tables.

use std::collections::HashMap;
use std::sync::Arc;

use goscope_binary::pclntab::pcdata;
use goscope_binary::{Binary, Format, Symbol};
use serde::Serialize;

use crate::annotate::{Annotation, Annotator};
use crate::classes::{self, Class};
use crate::reach::{self, DerivedClasses};
use crate::{Disassembler, Error, InsnInfo, Symbolizer, Syntax};

/// A function to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuncSym {
    /// Symbol name (`main.main`, `runtime.morestack.abi0`).
    pub name: String,
    /// Start address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
}

/// Where `runtime.writeBarrier` lies in a binary without a symbol table: the flag every
/// compiled pointer store tests (`if writeBarrier.enabled`), which the listing marks.
///
/// `runtime.typedmemmove` reads it before any other global and before any call in every
/// release (`writeBarrier.needed`, offset 4, before Go 1.21; `.enabled`, offset 0, since); the
/// struct is 8-aligned (it ends in `alignme uint64`), so the read address rounded down is its
/// start. Accepted only inside the moduledata's bss or noptrbss.
fn write_barrier_flag(
    bin: &Binary,
    dis: &dyn Disassembler,
    funcs: &[FuncSym],
    text: &[u8],
    text_start: u64,
) -> Option<u64> {
    let md = bin.moduledata()?;
    let in_bss = |a: u64| {
        [md.bss, md.noptrbss]
            .iter()
            .any(|&(lo, hi)| lo <= a && a < hi)
    };
    let f = funcs.iter().find(|f| f.name == "runtime.typedmemmove")?;
    let start = usize::try_from(f.addr.checked_sub(text_start)?).ok()?;
    // The read comes within the first few instructions; a bounded look, whatever the size says.
    let len = usize::try_from(f.size.min(256)).ok()?;
    let code = text.get(start..start.checked_add(len)?)?;
    let mut stream = dis.stream(code, f.addr);
    let mut data = crate::annotate::DataRefs::default();
    let mut scratch = String::new();
    let mut off = 0;
    while off < code.len() {
        let info = stream.decode_at(off, Syntax::None, &crate::NoSymbols, &mut scratch, true);
        if !info.known
            || matches!(
                info.flow,
                crate::Flow::Call | crate::Flow::IndirectCall | crate::Flow::Return
            )
        {
            return None;
        }
        let addr = data.address(&info);
        if let Some(a) = addr {
            let base = a & !7;
            return (in_bss(a) && in_bss(base)).then_some(base);
        }
        off += info.len.max(1);
    }
    None
}

/// All symbols by address, for naming branch targets and memory operands.
#[derive(Debug, Default)]
pub struct SymbolTable {
    syms: Vec<Symbol>,
    /// The start addresses alone, for a cache-friendly binary search.
    starts: Vec<u64>,
    /// For each 4 KiB page from `base`, the index of the first symbol starting at or after it:
    /// a search then only looks at the symbols of one page.
    pages: Vec<u32>,
    base: u64,
}

/// Pages indexed at most (a 4 KiB page each: 256 MiB of address space); beyond, plain search.
const MAX_PAGES: u64 = 1 << 16;

impl SymbolTable {
    /// A table over `syms`, already in address order.
    pub fn new(syms: Vec<Symbol>) -> SymbolTable {
        let starts: Vec<u64> = syms.iter().map(|s| s.addr).collect();
        let base = starts.iter().copied().find(|&a| a != 0).unwrap_or(0) & !0xfff;
        let last = starts.last().copied().unwrap_or(0);
        let npages = (last.saturating_sub(base) >> 12) + 2;
        let mut pages = Vec::new();
        if npages <= MAX_PAGES {
            pages.reserve(npages as usize);
            let mut i = 0usize;
            for p in 0..npages {
                let at = base + (p << 12);
                while i < starts.len() && starts[i] < at {
                    i += 1;
                }
                pages.push(i as u32);
            }
        }
        SymbolTable {
            syms,
            starts,
            pages,
            base,
        }
    }

    /// The number of symbols starting at or below `addr`.
    fn count_at_or_below(&self, addr: u64) -> usize {
        let page = addr.wrapping_sub(self.base) >> 12;
        if addr >= self.base && page + 1 < self.pages.len() as u64 {
            let lo = self.pages[page as usize] as usize;
            let hi = self.pages[page as usize + 1] as usize;
            lo + self.starts[lo..hi].partition_point(|&a| a <= addr)
        } else {
            self.starts.partition_point(|&a| a <= addr)
        }
    }
}

impl Symbolizer for SymbolTable {
    /// `cmd/internal/disasm`'s lookup: the last symbol starting at or below `addr`, if `addr`
    /// is inside it.
    fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.count_at_or_below(addr);
        let s = self.syms.get(i.checked_sub(1)?)?;
        (s.addr != 0 && s.addr <= addr && addr < s.addr.wrapping_add(s.size))
            .then_some((s.name.as_str(), s.addr))
    }
}

/// [`SymbolTable`] with the current function's range answered without a search.
struct Scoped<'s> {
    table: &'s SymbolTable,
    func: Option<(&'s str, u64, u64)>,
}

impl Symbolizer for Scoped<'_> {
    fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        if let Some((name, start, end)) = self.func
            && start <= addr
            && addr < end
        {
            return Some((name, start));
        }
        self.table.lookup(addr)
    }
}

/// What a listing includes beyond the Go tool's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The syntax of the instruction text.
    pub syntax: Syntax,
    /// Compute annotations.
    pub annotate: bool,
    /// Compute the inline chain of every instruction.
    pub inline: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            syntax: Syntax::Go,
            annotate: false,
            inline: false,
        }
    }
}

/// One frame of an instruction's inline chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineFrame {
    /// Function name.
    pub function: Arc<str>,
    /// Source file.
    pub file: Arc<str>,
    /// Source line.
    pub line: i32,
}

/// One instruction of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Insn {
    /// Address.
    pub address: u64,
    /// Length in bytes.
    pub len: u8,
    /// The instruction text in the requested syntax (`?` when it does not decode).
    pub text: String,
    /// Source file (`debug/gosym` semantics: empty where the tables do not cover the pc).
    pub file: Arc<str>,
    /// Source line (-1 where uncovered, 0 outside every function).
    pub line: i32,
    /// Inline chain, innermost first; the last frame is the physical function. Empty unless
    /// [`Options::inline`] or [`Options::annotate`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<InlineFrame>,
    /// Annotations; empty unless [`Options::annotate`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    /// Decoded facts.
    #[serde(skip)]
    pub info: InsnInfo,
}

/// The listing of one function.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionListing {
    /// Symbol name.
    pub name: String,
    /// The source file of the function's first instruction (the `TEXT` line's file).
    pub file: String,
    /// Start address.
    pub start: u64,
    /// End of the listed range.
    pub end: u64,
    /// The instructions.
    pub insns: Vec<Insn>,
}

/// A binary ready to list.
pub struct Program<'b> {
    bin: &'b Binary,
    dis: Box<dyn Disassembler>,
    symbols: SymbolTable,
    funcs: Vec<FuncSym>,
    text_start: u64,
    text: &'b [u8],
    recovered: bool,
    /// The classes of runtime functions the name table does not know, derived on first use.
    derived: std::sync::OnceLock<DerivedClasses>,
}

impl<'b> Program<'b> {
    /// Prepares `bin`: its disassembler, its symbols, its text.
    pub fn new(bin: &'b Binary) -> Result<Program<'b>, Error> {
        let dis = crate::for_arch(bin.arch())?;
        let text_sec = match bin.format() {
            Format::MachO => bin.section("__text"),
            _ => bin.section(".text"),
        }
        .or_else(|| bin.text_section())
        .ok_or(Error::NoText)?;
        let text = bin.section_data(text_sec);
        let text_start = text_sec.addr;
        let listing = goscope_binary::nm::objfile_order(bin);
        let mut syms = listing.symbols;
        syms.retain(|s| {
            !matches!(
                s.name.as_str(),
                "runtime.text" | "text" | "_text" | "runtime.etext" | "etext" | "_etext"
            )
        });
        let funcs: Vec<FuncSym> = syms
            .iter()
            .filter(|s| s.is_text() && s.addr >= text_start)
            .map(|s| FuncSym {
                name: s.name.clone(),
                addr: s.addr,
                // The linker's FIPS boundary markers are one-byte symbols; the pclntab, which
                // has no sizes, would stretch them to the next function.
                size: if listing.recovered
                    && matches!(s.name.as_str(), "go:textfipsstart" | "go:textfipsend")
                {
                    1
                } else {
                    s.size
                },
            })
            .collect();
        if listing.recovered
            && let Some(addr) = write_barrier_flag(bin, &*dis, &funcs, text, text_start)
        {
            // Stripped: name the one data symbol the annotations need (it exists in every Go
            // binary; 16 bytes in every release since 1.8).
            let at = syms.partition_point(|s| s.addr <= addr);
            syms.insert(
                at,
                Symbol {
                    name: crate::classes::WRITE_BARRIER_FLAG.to_string(),
                    addr,
                    size: 16,
                    code: 'B',
                },
            );
        }
        Ok(Program {
            bin,
            dis,
            symbols: SymbolTable::new(syms),
            funcs,
            text_start,
            text,
            recovered: listing.recovered,
            derived: std::sync::OnceLock::new(),
        })
    }

    /// The binary.
    pub fn binary(&self) -> &'b Binary {
        self.bin
    }

    /// Text symbols in address order.
    pub fn functions(&self) -> &[FuncSym] {
        &self.funcs
    }

    /// Whether the functions were recovered from the pclntab (no symbol table).
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The symbol table used for naming.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// What a call to the function entered at `target`, named `name`, means: the name table's
    /// classes, else (for a runtime function) the classes derived from the binary's own call
    /// graph (computed on first need, once).
    pub fn call_classes(&self, target: u64, name: &str) -> &'static [Class] {
        let known = classes::classify(name);
        if !known.is_empty() || !reach::is_runtime(name) {
            return known;
        }
        self.derived_classes().get(target)
    }

    /// The derived classes of the binary's runtime functions (see [`crate::reach`]).
    pub fn derived_classes(&self) -> &DerivedClasses {
        self.derived.get_or_init(|| {
            let (ts, _) = self.text_range();
            DerivedClasses::derive(&self.funcs, &*self.dis, |f| {
                let start = f.addr.checked_sub(ts)? as usize;
                let end = start.checked_add(usize::try_from(f.size).ok()?)?;
                self.text.get(start..end.min(self.text.len()))
            })
        })
    }

    /// The disassembler.
    pub fn disassembler(&self) -> &dyn Disassembler {
        &*self.dis
    }

    /// Start and end of the text section.
    pub fn text_range(&self) -> (u64, u64) {
        (self.text_start, self.text_start + self.text.len() as u64)
    }

    /// The functions `go tool objdump` lists for the address range `[start, end)` and the name
    /// filter, in order.
    pub fn select(&self, start: u64, end: u64, filter: impl Fn(&str) -> bool) -> Vec<&FuncSym> {
        let (ts, te) = self.text_range();
        let start = start.max(ts);
        let end = end.min(te);
        self.funcs
            .iter()
            .filter(|f| {
                let fend = f.addr.wrapping_add(f.size);
                !(fend <= start || end <= f.addr) && filter(&f.name)
            })
            .collect()
    }

    /// Lists `f`, clipped to end at `end` (as the Go tool does: the start is never clipped).
    pub fn list(&self, f: &FuncSym, end: u64, opts: &Options) -> FunctionListing {
        // The size is untrusted (a symbol table's or a function table's): a hint, capped.
        let mut insns = Vec::with_capacity((f.size / 4).min(1 << 16) as usize);
        let (file, sym_end) = self.walk(f, end, opts, |insn| insns.push(insn.clone()));
        FunctionListing {
            name: f.name.clone(),
            file,
            start: f.addr,
            end: sym_end,
            insns,
        }
    }

    /// Decodes `f` (clipped to end at `end`) and shows each instruction to `visit`, without
    /// keeping them: the streaming form of [`Program::list`]. Returns the function's file (the
    /// `TEXT` line's) and the end of the listed range.
    pub fn walk(
        &self,
        f: &FuncSym,
        end: u64,
        opts: &Options,
        mut visit: impl FnMut(&Insn),
    ) -> (String, u64) {
        let (ts, te) = self.text_range();
        let end = end.min(te);
        let sym_end = f.addr.wrapping_add(f.size).min(end);
        // The Go tool decodes each function from bytes that end with it: an instruction
        // running past the end does not decode.
        let code = self
            .text
            .get(..sym_end.saturating_sub(ts) as usize)
            .unwrap_or(self.text);
        let header_file = LineCursor::new(self.bin).at(f.addr).0.to_string();
        let mut lines = LineCursor::new(self.bin);
        let mut inl = InlineCursor::default();
        let mut annotator = opts.annotate.then(|| {
            let a = Annotator::new(&self.symbols, self.bin.ptr_size());
            // The runtime's own calls keep the table's classes: derived ones there would
            // only name its slow paths (the scheduler can allocate an M).
            if reach::is_runtime(&f.name) {
                a
            } else {
                a.with_classes(self)
            }
        });
        let mut insn = Insn {
            address: 0,
            len: 0,
            text: String::with_capacity(64),
            file: Arc::from(""),
            line: 0,
            inline: Vec::new(),
            annotations: Vec::new(),
            info: InsnInfo::default(),
        };
        let mut pc = f.addr.max(ts);
        let func_code = code.get((pc - ts) as usize..).unwrap_or(&[]);
        let mut stream = self.dis.stream(func_code, pc);
        let syms = self.scoped(f);
        while pc < sym_end {
            let i = (pc - ts) as usize;
            if i >= code.len() {
                break;
            }
            insn.text.clear();
            let offset = (pc - f.addr.max(ts)) as usize;
            let mut info =
                stream.decode_at(offset, opts.syntax, &syms, &mut insn.text, opts.annotate);
            // Go steps 4 bytes on arm64 even where fewer remain, and prints all 4.
            info.len = info.len.max(1);
            let (file, line) = lines.at_ref(pc);
            if !Arc::ptr_eq(file, &insn.file) {
                insn.file = file.clone();
            }
            if opts.inline || opts.annotate {
                insn.inline = inl.chain(self.bin, pc, &insn.file, line);
            }
            if let Some(a) = annotator.as_mut() {
                insn.annotations = a.annotate(&info, &insn.text, &insn.inline);
            }
            insn.address = pc;
            insn.len = info.len as u8;
            insn.line = line;
            insn.info = info;
            visit(&insn);
            pc += insn.len as u64;
        }
        (header_file, sym_end)
    }

    /// The symbol table with a shortcut for addresses inside `f` (most branch targets), used
    /// when no other symbol starts inside it, so the answer is the table's own.
    fn scoped<'s>(&'s self, f: &'s FuncSym) -> Scoped<'s> {
        let end = f.addr.wrapping_add(f.size);
        let i = self.symbols.starts.partition_point(|&a| a <= f.addr);
        let alone = self.symbols.starts.get(i).is_none_or(|&next| next >= end);
        Scoped {
            table: &self.symbols,
            func: (alone && f.size > 0).then_some((f.name.as_str(), f.addr, end)),
        }
    }

    /// The instruction bytes of `insn`.
    pub fn bytes(&self, insn: &Insn) -> &'b [u8] {
        let i = insn.address.wrapping_sub(self.text_start) as usize;
        self.text.get(i..i + insn.len as usize).unwrap_or(&[])
    }
}

/// File and line for increasing pcs, across function boundaries (`debug/gosym`'s `PCToLine`).
struct LineCursor<'b> {
    bin: &'b Binary,
    cur: Option<(u64, u64, goscope_binary::pclntab::GosymLines<'b>)>,
    names: HashMap<usize, Arc<str>>,
    last: Option<(usize, Arc<str>)>,
    empty: Arc<str>,
}

impl<'b> LineCursor<'b> {
    fn new(bin: &'b Binary) -> LineCursor<'b> {
        LineCursor {
            bin,
            cur: None,
            names: HashMap::new(),
            last: None,
            empty: Arc::from(""),
        }
    }

    fn at(&mut self, pc: u64) -> (Arc<str>, i32) {
        let (file, line) = self.at_ref(pc);
        (file.clone(), line)
    }

    /// [`LineCursor::at`] without the reference count: the caller clones only on change.
    fn at_ref(&mut self, pc: u64) -> (&Arc<str>, i32) {
        let stale = match &self.cur {
            Some((start, end, _)) => pc < *start || pc >= *end,
            None => true,
        };
        if stale {
            self.cur = self
                .bin
                .func_at(pc)
                .map(|f| (f.entry(), f.end(), f.gosym_lines()));
        }
        let Some((_, _, lines)) = self.cur.as_mut() else {
            return (&self.empty, 0);
        };
        let (file, line) = lines.at(pc);
        if file.is_empty() {
            return (&self.empty, line);
        }
        let key = file.as_ptr() as usize;
        let hit = matches!(&self.last, Some((k, _)) if *k == key);
        if !hit {
            let name = self
                .names
                .entry(key)
                .or_insert_with(|| Arc::from(String::from_utf8_lossy(file).as_ref()))
                .clone();
            self.last = Some((key, name));
        }
        match &self.last {
            Some((_, name)) => (name, line),
            None => (&self.empty, line),
        }
    }
}

/// Inline chains for increasing pcs, cached per inline-tree index (the outer frames depend only
/// on it).
#[derive(Default)]
struct InlineCursor {
    func: Option<(u64, u64)>,
    runs: Vec<(u64, u64, i32)>,
    run: usize,
    cache: HashMap<i32, Vec<InlineFrame>>,
}

impl InlineCursor {
    fn chain(&mut self, bin: &Binary, pc: u64, file: &Arc<str>, line: i32) -> Vec<InlineFrame> {
        let stale = self.func.is_none_or(|(s, e)| pc < s || pc >= e);
        if stale {
            self.cache.clear();
            self.runs.clear();
            self.run = 0;
            self.func = None;
            if let Some(f) = bin.func_at(pc) {
                self.func = Some((f.entry(), f.end()));
                let off = if f.npcdata() > pcdata::INL_TREE_INDEX {
                    f.pcdata(pcdata::INL_TREE_INDEX)
                } else {
                    0
                };
                if let Some(it) = bin.pclntab().pcvalue_iter(off, f.entry()) {
                    self.runs.extend(it.take(1 << 20));
                }
            }
        }
        if self.func.is_none() {
            return Vec::new();
        }
        while self.run < self.runs.len() && self.runs[self.run].1 <= pc {
            self.run += 1;
        }
        let ix = match self.runs.get(self.run) {
            Some(&(s, e, v)) if s <= pc && pc < e => v,
            _ => -1,
        };
        let cached = self.cache.entry(ix).or_insert_with(|| {
            bin.frames_at(pc)
                .into_iter()
                .map(|fr| InlineFrame {
                    function: Arc::from(fr.function.as_ref()),
                    file: Arc::from(fr.file.as_ref()),
                    line: fr.line,
                })
                .collect()
        });
        let mut chain = cached.clone();
        if let Some(first) = chain.first_mut() {
            first.file = file.clone();
            first.line = line;
        }
        chain
    }
}
