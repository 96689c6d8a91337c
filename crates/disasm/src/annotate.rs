//! Go-runtime annotations of instructions: calls by class ([`crate::classes`]), LOCK-prefixed
//! and atomic instructions, the write-barrier flag test, the prologue's stack check, nil checks,
//! and inline boundaries.

use serde::Serialize;

use crate::classes::{self, Class, WRITE_BARRIER_FLAG};
use crate::listing::InlineFrame;
use crate::{Flow, InsnInfo, Symbolizer};

/// What an annotation marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A call to a classified runtime function.
    Call(Class),
    /// The test of the write-barrier flag.
    WriteBarrierCheck,
    /// The prologue's comparison of the stack pointer with `g.stackguard0`.
    StackCheck,
    /// A compiler nil check.
    NilCheck,
    /// A LOCK-prefixed or implicitly locked x86 instruction, or an arm64 atomic.
    Atomic,
    /// The instruction belongs to an inlined function.
    Inlined,
}

/// One annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    /// What it marks.
    pub kind: Kind,
    /// The detail: the runtime function, the atomic operation, the inlined function.
    pub detail: String,
}

impl Annotation {
    /// The short label used in text listings (`alloc`, `LOCK`, `inlined`).
    pub fn label(&self) -> &'static str {
        match self.kind {
            Kind::Call(c) => c.label(),
            Kind::WriteBarrierCheck => "write barrier",
            Kind::StackCheck => "stack check",
            Kind::NilCheck => "nil check",
            Kind::Atomic => "atomic",
            Kind::Inlined => "inlined",
        }
    }

    /// The annotation as text listings print it: `alloc: runtime.newobject`, or the label
    /// alone when there is no detail.
    pub fn text(&self) -> String {
        if self.detail.is_empty() {
            self.label().to_string()
        } else {
            format!("{}: {}", self.label(), self.detail)
        }
    }
}

/// The data address each instruction of a stream refers to: its absolute or pc-relative
/// memory operand, or on arm64 the `ADRP` page plus the offset of the instruction right
/// after it. Go's linker always emits the two as an adjacent pair (`R_ADDRARM64`), so only
/// the immediately preceding ADRP counts: a register loaded by ADRP earlier may hold anything
/// by now.
#[derive(Debug, Default)]
pub(crate) struct DataRefs {
    prev_adrp: Option<(u8, u64)>,
}

impl DataRefs {
    /// The data address `info` (the next instruction of the stream) refers to.
    pub(crate) fn address(&mut self, info: &crate::InsnInfo) -> Option<u64> {
        let prev = self.prev_adrp.take();
        match info.reg {
            Some(crate::RegRef::Adrp(reg, page)) => {
                self.prev_adrp = Some((reg, page));
                None
            }
            Some(crate::RegRef::BaseOffset(reg, off)) => match prev {
                Some((r, page)) if r == reg => Some(page.wrapping_add(off as u64)),
                _ => info.mem_addr,
            },
            None => info.mem_addr,
        }
    }
}

/// Annotates the instructions of one function, in order (it follows arm64 `ADRP` pairs).
pub struct Annotator<'s> {
    syms: &'s dyn Symbolizer,
    /// Classifies call targets beyond the name table (the binary's derived classes).
    program: Option<&'s crate::listing::Program<'s>>,
    stackguard_offset: i64,
    data: DataRefs,
    /// Inside an arm64 load-exclusive/store-exclusive loop: the operation seen so far.
    exclusive: Option<Option<&'static str>>,
}

/// The atomic operation an arm64 LL/SC loop performs, from the first instruction between its
/// load-exclusive and store-exclusive (Go syntax mnemonic).
fn loop_operation(text: &str) -> Option<&'static str> {
    let op = text.split(' ').next().unwrap_or("");
    let op = op.strip_suffix('W').unwrap_or(op);
    Some(match op {
        "ADD" => "add",
        "SUB" => "sub",
        "AND" => "and",
        "ORR" => "or",
        "EOR" => "xor",
        "BIC" => "and-not",
        "CMP" => "compare-and-swap",
        "MOVD" | "MOV" => "swap",
        _ => return None,
    })
}

impl<'s> Annotator<'s> {
    /// An annotator naming addresses through `syms`, for pointers of `ptr_size` bytes.
    pub fn new(syms: &'s dyn Symbolizer, ptr_size: u8) -> Annotator<'s> {
        Annotator {
            syms,
            program: None,
            // g.stackguard0 follows g.stack (two pointers).
            stackguard_offset: 2 * i64::from(ptr_size),
            data: DataRefs::default(),
            exclusive: None,
        }
    }

    /// Classifies calls as `program` does ([`crate::listing::Program::call_classes`]): runtime
    /// helpers the name table does not know get the classes derived from the binary.
    pub fn with_classes(mut self, program: &'s crate::listing::Program<'s>) -> Annotator<'s> {
        self.program = Some(program);
        self
    }

    /// The annotations of the next instruction (`text` is its Go-syntax text).
    pub fn annotate(
        &mut self,
        info: &InsnInfo,
        text: &str,
        inline: &[InlineFrame],
    ) -> Vec<Annotation> {
        let mut out = Vec::new();
        if matches!(info.flow, Flow::Call | Flow::Jump)
            && let Some(t) = info.target
            && let Some((name, base)) = self.syms.lookup(t)
            && base == t
        {
            let classes = match self.program {
                Some(p) => p.call_classes(t, name),
                None => classes::classify(name),
            };
            for &c in classes {
                // A jump to morestack is the prologue's tail call, still a stack-growth path.
                if info.flow == Flow::Call || c == Class::StackGrowth {
                    out.push(Annotation {
                        kind: Kind::Call(c),
                        detail: name.to_string(),
                    });
                }
            }
        }
        let data_addr = self.data.address(info);
        if let Some(a) = data_addr
            && let Some((name, _)) = self.syms.lookup(a)
            && name == WRITE_BARRIER_FLAG
        {
            out.push(Annotation {
                kind: Kind::WriteBarrierCheck,
                detail: WRITE_BARRIER_FLAG.to_string(),
            });
        }
        if info.g_offset == Some(self.stackguard_offset) {
            out.push(Annotation {
                kind: Kind::StackCheck,
                detail: "g.stackguard0".to_string(),
            });
        }
        if info.nil_check {
            out.push(Annotation {
                kind: Kind::NilCheck,
                detail: String::new(),
            });
        }
        if let Some(a) = &info.atomic {
            let mut detail = a.to_string();
            if a.contains("load-exclusive") {
                self.exclusive = Some(None);
            } else if a.contains("store-exclusive") {
                if let Some(op) = self.exclusive.take().flatten() {
                    let name = a.split(' ').next().unwrap_or("");
                    detail = format!("{name} (end of an atomic {op} loop)");
                }
            }
            out.push(Annotation {
                kind: Kind::Atomic,
                detail,
            });
        } else if let Some(None) = self.exclusive {
            if let Some(op) = loop_operation(text) {
                self.exclusive = Some(Some(op));
            }
        }
        if inline.len() > 1 {
            let chain: Vec<&str> = inline[..inline.len() - 1]
                .iter()
                .map(|f| f.function.as_ref())
                .collect();
            out.push(Annotation {
                kind: Kind::Inlined,
                detail: chain.join(" < "),
            });
        }
        out
    }
}
