//! [`Runtime`]: everything about a Go program's runtime that is fixed per binary — struct layouts
//! (DWARF or a built-in table), the globals' candidate addresses, special functions, wait reason
//! names, and the pc caches. Built once per binary (the expensive discoveries happen here), then
//! shared by every [`crate::Snapshot`] taken of a target running it: each stop of a live process,
//! or a core file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use goscope_binary::{Arch, Binary, go_minor_version};

use crate::cache::Memo;
use crate::globals::{self, Candidates, FoundBy, Global};
use crate::goroutine::{CreatedBy, Frame};
use crate::layouts::Layouts;
use crate::offsets::Offsets;
use crate::unwind::PcInfo;

/// Why the runtime could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No layouts: no DWARF and no built-in table for the architecture.
    #[error("{0}")]
    NoLayouts(String),
    /// The list of goroutines could not be found or read.
    #[error("cannot find the goroutine list (runtime.allgs): {0}")]
    NoGoroutines(String),
}

/// Runtime functions the unwinder and the crash analysis treat specially, matched by name
/// (function IDs are renumbered between releases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `runtime.morestack`: `newstack` resumes `curg.sched`.
    Morestack,
    /// `runtime.systemstack`: switches from a goroutine to g0 and back.
    Systemstack,
    /// `runtime.sigpanic`: injected by the signal handler; its caller faulted.
    Sigpanic,
    /// `runtime.asyncPreempt`: injected for asynchronous preemption.
    AsyncPreempt,
    /// `runtime.debugCallV2`: injected by debuggers.
    DebugCall,
    /// `runtime.sigtramp`: the signal handler entry, on the signal stack.
    Sigtramp,
    /// `runtime.cgocallback`: C calling back into Go.
    Cgocallback,
    /// cgo machinery: `runtime.cgocall`, `runtime.asmcgocall`, `_cgo_*`, `*._Cfunc_*`.
    Cgo,
    /// `runtime.throw`, `runtime.fatal`: a fatal error.
    Throw,
}

fn special_of(name: &str) -> Option<Special> {
    let name = name.strip_suffix(".abi0").unwrap_or(name);
    Some(match name {
        "runtime.morestack" => Special::Morestack,
        "runtime.systemstack" => Special::Systemstack,
        "runtime.sigpanic" => Special::Sigpanic,
        "runtime.asyncPreempt" => Special::AsyncPreempt,
        "runtime.debugCallV2" => Special::DebugCall,
        "runtime.sigtramp" | "runtime.cgoSigtramp" => Special::Sigtramp,
        "runtime.cgocallback" => Special::Cgocallback,
        "runtime.cgocall" | "runtime.asmcgocall" | "runtime.asmcgocall_no_g" => Special::Cgo,
        "runtime.throw" | "runtime.fatal" => Special::Throw,
        n if n.starts_with("_cgo_") || n.contains("._Cfunc_") || n.contains("._cgo_") => {
            Special::Cgo
        }
        _ => return None,
    })
}

/// The symbolization of one link-time pc: its function's entry, whether it is cgo machinery,
/// and its inline chain (frames without pc/sp).
#[derive(Debug)]
pub(crate) struct SymInfo<'b> {
    pub entry: u64,
    pub cgo: bool,
    pub chain: Vec<Frame<'b>>,
}

/// The Go runtime of one binary: what does not change while a program runs.
pub struct Runtime<'b> {
    /// The executable.
    pub bin: &'b Binary,
    /// Struct layouts.
    pub layouts: Layouts,
    pub(crate) off: Offsets,
    /// The Go version from build info.
    pub go_version: String,
    pub(crate) minor: u32,
    pub(crate) candidates: Candidates,
    pub(crate) wait_reasons: Vec<String>,
    pub(crate) wait_reasons_from: Option<FoundBy>,
    pub(crate) special: HashMap<u64, Special>,
    /// Link-time start of the type descriptors (`moduledata.types`).
    pub(crate) types_base: u64,
    pub(crate) pc_memo: Memo<u64, Option<PcInfo>>,
    pub(crate) sym_memo: Memo<u64, Option<Arc<SymInfo<'b>>>>,
    pub(crate) created_memo: Memo<u64, Option<Arc<CreatedBy<'b>>>>,
    pub(crate) start_memo: Memo<u64, Option<Cow<'b, str>>>,
    /// The expression evaluator's DWARF index and type caches.
    pub(crate) expr_cache: crate::expr::BinaryCache,
    /// Problems found while reading the binary, for the user.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Runtime<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("go_version", &self.go_version)
            .field("layouts", &self.layouts.source)
            .finish()
    }
}

impl<'b> Runtime<'b> {
    /// Reads what is fixed about the runtime of `bin`: layouts, where its globals are, its
    /// special functions and wait reason names.
    pub fn new(bin: &'b Binary) -> Result<Runtime<'b>, RuntimeError> {
        let (layouts, mut warnings) = Layouts::for_binary(bin);
        let layouts = layouts.ok_or_else(|| RuntimeError::NoLayouts(warnings.join("; ")))?;
        let off = Offsets::new(&layouts).map_err(RuntimeError::NoLayouts)?;
        let go_version = bin.go_version().unwrap_or("").to_string();
        let minor = go_minor_version(&go_version).unwrap_or(99);
        if go_version.is_empty() {
            warnings.push("no Go build information: the Go version is unknown".into());
        }
        let mut special = HashMap::new();
        for f in bin.pclntab().funcs() {
            if let Some(s) = f.name_bytes().and_then(|n| std::str::from_utf8(n).ok())
                && let Some(k) = special_of(s)
            {
                special.insert(f.entry(), k);
            }
        }
        let candidates = globals::candidates(bin, Some(&layouts));
        let mut rt = Runtime {
            bin,
            types_base: bin.moduledata().map_or(0, |m| m.types.0),
            layouts,
            off,
            go_version,
            minor,
            candidates,
            wait_reasons: Vec::new(),
            wait_reasons_from: None,
            special,
            pc_memo: Memo::new(),
            sym_memo: Memo::new(),
            created_memo: Memo::new(),
            start_memo: Memo::new(),
            expr_cache: Default::default(),
            warnings,
        };
        rt.find_wait_reasons();
        Ok(rt)
    }

    /// Wait reasons: symbol, DWARF variable, scan, built-in table.
    fn find_wait_reasons(&mut self) {
        if let Some(v) = globals::wait_reasons_from_symbols(self.bin) {
            self.wait_reasons = v;
            self.wait_reasons_from = Some(FoundBy::Symbol);
        } else if let Some(v) = globals::wait_reasons_by_scan(self.bin) {
            self.wait_reasons = v;
            self.wait_reasons_from = Some(FoundBy::Scan);
        } else if !self.layouts.wait_reasons.is_empty() {
            self.wait_reasons = self.layouts.wait_reasons.clone();
            self.wait_reasons_from = Some(FoundBy::Builtin);
        } else {
            let table = crate::layouts::nearest_table(
                crate::builtin::TABLES,
                &self.go_version,
                self.bin.arch().goarch(),
            );
            if let Some((t, _)) = table {
                self.wait_reasons = t.wait_reasons.iter().map(|s| (*s).to_string()).collect();
                self.wait_reasons_from = Some(FoundBy::Builtin);
            }
        }
    }

    /// The resolved field offsets.
    pub fn offsets(&self) -> &Offsets {
        &self.off
    }

    /// The Go minor version (`26` for go1.26.3); 99 when unknown.
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// Where the wait reason names came from.
    pub fn wait_reasons_source(&self) -> Option<FoundBy> {
        self.wait_reasons_from
    }

    /// The name of wait reason `r` in this binary's release.
    pub fn wait_reason(&self, r: u8) -> String {
        match self.wait_reasons.get(r as usize) {
            Some(s) => s.clone(),
            None => format!("wait reason {r}"),
        }
    }

    /// The special role of the function whose entry is `entry` (link-time), if any.
    pub fn special(&self, entry: u64) -> Option<Special> {
        self.special.get(&entry).copied()
    }

    /// Candidate link-time addresses of `allgs`, `allm` and `allp`, each to be checked against
    /// a target's memory.
    pub fn global_candidates(&self) -> &Candidates {
        &self.candidates
    }

    /// `runtime.sched` and `runtime.work` (link-time), when symbols or DWARF name them.
    pub(crate) fn sched_and_work(&self) -> (Option<Global>, Option<Global>) {
        (
            globals::sched(self.bin, Some(&self.layouts)),
            globals::work(self.bin, Some(&self.layouts)),
        )
    }

    /// Whether return addresses live in a link register (arm64) rather than on the stack.
    pub(crate) fn uses_lr(&self) -> bool {
        self.bin.arch() == Arch::Arm64
    }

    /// The function facts at link-time pc `link`, or `None` outside Go code; decoded once.
    pub(crate) fn pc_info(&self, link: u64) -> Option<PcInfo> {
        self.pc_memo.get(link, || {
            let f = self.bin.pclntab().find_func(link)?;
            Some(PcInfo {
                entry: f.entry(),
                flag: f.flag(),
                has_pcsp: f.pcsp() != 0,
                spdelta: f.sp_delta_at(link),
                special: self.special(f.entry()),
            })
        })
    }

    /// The inline chain at link-time pc `sym` (already moved back into the call instruction
    /// for return addresses) of the function whose entry is `entry`; decoded once per pc.
    pub(crate) fn sym_info(&self, sym: u64, entry: u64) -> Option<Arc<SymInfo<'b>>> {
        self.sym_memo.get(sym, || {
            let chain: Vec<Frame<'b>> = self
                .bin
                .frames_at(sym)
                .into_iter()
                .map(|c| Frame {
                    function: c.function,
                    file: c.file,
                    line: c.line,
                    pc: 0,
                    inlined: c.inlined,
                    offset: None,
                    sp: None,
                    fp: None,
                    cgo: false,
                    wrapper: c.wrapper,
                    trap: false,
                })
                .collect();
            Some(Arc::new(SymInfo {
                entry,
                cgo: self.special(entry) == Some(Special::Cgo),
                chain,
            }))
        })
    }

    /// Where a goroutine whose `g.gopc` is at link-time `link` was created (the runtime address
    /// and parent are filled in by the caller).
    pub(crate) fn created_at(&self, link: u64) -> Option<Arc<CreatedBy<'b>>> {
        self.created_memo.get(link, || {
            let f = self.bin.pclntab().find_func(link)?;
            let trace = if link > f.entry() { link - 1 } else { link };
            Some(Arc::new(CreatedBy {
                function: String::from_utf8_lossy(f.name_bytes()?),
                file: String::from_utf8_lossy(f.file_at(trace).unwrap_or(b"?")),
                line: f.line_at(trace).unwrap_or(0),
                pc: link,
                offset: link - f.entry(),
                goroutine: None,
            }))
        })
    }

    /// The name of the function starting at link-time `link` (`g.startpc`).
    pub(crate) fn start_function(&self, link: u64) -> Option<Cow<'b, str>> {
        self.start_memo.get(link, || {
            self.bin
                .pclntab()
                .find_func(link)
                .and_then(|f| f.name_bytes())
                .map(String::from_utf8_lossy)
        })
    }

    /// A function's name for messages.
    pub(crate) fn func_name(&self, entry: u64) -> String {
        self.bin
            .func_at(entry)
            .map_or_else(|| format!("{entry:#x}"), |f| f.name().to_string())
    }

    /// The name of the C function at link-time `pc` from the ELF symbol table, or `?`.
    pub(crate) fn c_symbol(&self, pc: u64) -> String {
        if let Some(syms) = self.bin.symbols() {
            let mut best: Option<&goscope_binary::Symbol> = None;
            for s in syms {
                if s.is_text() && s.addr <= pc && pc < s.addr + s.size.max(1) {
                    best = Some(s);
                }
            }
            if let Some(s) = best {
                return format!("{}+{:#x} (C)", s.name, pc - s.addr);
            }
        }
        "? (non-Go code)".to_string()
    }
}
