//! The expression language of `goscope core … print` and of the debugger's `print`, `cond`
//! and `watch`: Delve's (`Documentation/cli/expr.md`) — locals, arguments and package
//! variables by name, registers (`$rax`, `$pc`, `$sp`, `$g`), field access through pointers,
//! indexing of arrays, slices, strings and maps, `*p`, `&x`, conversions (`T(x)`,
//! `(*main.T)(0xc000123450)`), arithmetic, comparisons, `&&`, `||`, `!`, `len`, `cap`, `nil`
//! and `goroutine` (the current goroutine's id) — and values printed exactly as `dlv` prints
//! them.
//!
//! [`Expr::parse`] once, then [`EvalContext::eval`] as often as needed (a breakpoint condition
//! is evaluated on every hit): what is read from DWARF (the index of functions, variables and
//! types, each function's scopes, each type) is kept per binary in its [`Runtime`], so an
//! evaluation costs the reads of the values themselves.
//!
//! Variables need DWARF. Without it, registers, raw memory (`*(*int)(0xc000010000)`, with
//! types found among the runtime's type descriptors) and — on binaries that keep a symbol
//! table — package variables as untyped words still work.

pub mod ast;
mod debuginfo;
mod eval;
mod location;
mod parse;
mod plan;
mod print;
pub mod types;
mod value;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use goscope_target::{Memory, Registers};
use serde::Serialize;

pub use location::StaticPlace;
pub use plan::{Cmp, Filter, Operand};
pub use value::{Value, WaitingGoroutine};

use crate::goroutine::Frame;
use crate::runtime::Runtime;

/// Why an expression could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExprError {
    /// The text is not an expression.
    #[error("parse error at column {}: {msg}", pos + 1)]
    Parse {
        /// Byte offset of the problem.
        pos: usize,
        /// What is wrong.
        msg: String,
    },
    /// A name that is no variable, type, register or builtin here.
    #[error("{0}")]
    NotFound(String),
    /// An operation the operands' types do not allow.
    #[error("{0}")]
    Type(String),
    /// A variable was named, and the binary has no DWARF to find it.
    #[error("{0}")]
    NoDwarf(String),
    /// The binary's DWARF is malformed.
    #[error("malformed DWARF: {0}")]
    Dwarf(String),
    /// Memory the value needs is not readable.
    #[error("{0}")]
    Memory(String),
    /// Something the evaluator does not do.
    #[error("{0}")]
    Unsupported(String),
}

impl ExprError {
    /// Whether the expression itself is at fault (syntax, types, unknown names) rather than
    /// the target's memory or DWARF.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            ExprError::Parse { .. }
                | ExprError::NotFound(_)
                | ExprError::Type(_)
                | ExprError::NoDwarf(_)
        )
    }
}

/// A parsed expression: parse once, evaluate many times.
#[derive(Debug, Clone)]
pub struct Expr {
    text: String,
    root: ast::Node,
}

impl Expr {
    /// Parses `text`. Expressions longer than 16 KiB or nested deeper than 100 are refused.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        Ok(Expr {
            text: text.trim().to_string(),
            root: parse::parse(text)?,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its syntax tree.
    pub fn root(&self) -> &ast::Node {
        &self.root
    }
}

/// Where an expression is evaluated: one frame of one goroutine.
#[derive(Debug, Clone)]
pub struct FrameInfo {
    /// The frame's runtime pc: the instruction for the innermost frame and for frames
    /// interrupted by a signal, else the return address (see `return_address`).
    pub pc: u64,
    /// `pc` is a return address: variables are looked up at the call instruction (`pc - 1`),
    /// as [`Frame::instruction_pc`] does.
    pub return_address: bool,
    /// The frame's stack pointer.
    pub sp: u64,
    /// The canonical frame address: the caller's stack pointer (`RawFrame::fp`,
    /// `Frame::fp`), what `DW_OP_call_frame_cfa` gives.
    pub cfa: u64,
    /// How deep in inlined calls the frame is: 0 for the function whose code `pc` is in, 1
    /// for a call inlined into it, and so on.
    pub inline_depth: u32,
    /// Registers, known only for the innermost frame of a stopped thread.
    pub regs: Option<Registers>,
    /// The goroutine's id, for the identifier `goroutine`.
    pub goroutine: Option<u64>,
    /// Address of the goroutine's `g`, for `$g`.
    pub g: u64,
}

impl FrameInfo {
    /// The frame `index` of a goroutine's logical frames (innermost first, inlined calls
    /// included, as [`crate::Snapshot::fill_stack`] gives them), or `None` past the end.
    /// `regs` (the stopped thread's) are used only for the innermost physical frame.
    pub fn from_frames(
        frames: &[Frame<'_>],
        index: usize,
        regs: Option<Registers>,
        goroutine: Option<u64>,
        g: u64,
    ) -> Option<FrameInfo> {
        frames.get(index)?;
        // The physical frame holding this logical one is the first at or after it that is
        // not inlined; the frames between are calls inlined into it, the innermost first.
        let phys = (index..frames.len()).find(|&i| !frames[i].inlined)?;
        let p = &frames[phys];
        Some(FrameInfo {
            pc: p.pc,
            return_address: !(p.trap || p.offset == Some(0)),
            sp: p.sp.unwrap_or(0),
            cfa: p.fp.unwrap_or(0),
            inline_depth: u32::try_from(phys - index).unwrap_or(u32::MAX),
            // Registers belong to the innermost physical frame and the calls inlined in it.
            regs: if frames[..phys].iter().all(|f| f.inlined) {
                regs
            } else {
                None
            },
            goroutine,
            g,
        })
    }

    /// The pc at which the frame's variables and lines are looked up.
    pub fn lookup_pc(&self) -> u64 {
        if self.return_address {
            self.pc.saturating_sub(1)
        } else {
            self.pc
        }
    }
}

/// What an evaluation reads: the binary's runtime, the target's memory, the frame.
pub struct EvalContext<'a, 'b> {
    /// The binary's runtime (its DWARF and type caches live there).
    pub rt: &'a Runtime<'b>,
    /// The target's memory.
    pub mem: &'a dyn Memory,
    /// PIE load bias: runtime address minus link-time address.
    pub bias: u64,
    /// The frame evaluated in.
    pub frame: FrameInfo,
}

impl std::fmt::Debug for EvalContext<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext")
            .field("bias", &self.bias)
            .field("frame", &self.frame)
            .finish()
    }
}

impl EvalContext<'_, '_> {
    /// Evaluates `e` and reads the result as `print` shows it.
    pub fn eval(&self, e: &Expr) -> Result<Value, ExprError> {
        eval::Ev::new(self)?.eval_top(&e.root, true)
    }

    /// The names of the locals and arguments visible in the frame (escaped variables under
    /// their own names), in Delve's order: arguments first, then by block and declaration.
    pub fn locals(&self) -> Result<Vec<String>, ExprError> {
        eval::Ev::new(self)?.local_names()
    }

    /// The names of the frame's arguments (or, with `results`, of its result parameters,
    /// `~r0` for unnamed ones) in declaration order, from DWARF.
    pub fn parameters(&self, results: bool) -> Result<Vec<String>, ExprError> {
        eval::Ev::new(self)?.parameter_names(results)
    }

    /// The value of the frame's variable or parameter `name` exactly as DWARF names it (which
    /// may be no Go identifier: `~r0`).
    pub fn variable(&self, name: &str) -> Result<Value, ExprError> {
        eval::Ev::new(self)?
            .variable(name)?
            .ok_or_else(|| ExprError::Dwarf(format!("no variable {name} here")))
    }

    /// Evaluates `e` reading only what a breakpoint condition needs: scalars, string
    /// equality, nil checks.
    pub fn eval_condition(&self, e: &Expr) -> Result<bool, ExprError> {
        eval::Ev::new(self)?.eval_top(&e.root, false)?.truth()
    }
}

/// The evaluator's per-binary caches, kept in [`Runtime`].
#[derive(Default)]
pub(crate) struct BinaryCache {
    debug_info: OnceLock<Result<Arc<debuginfo::DebugInfo>, ExprError>>,
    runtime_types: Mutex<HashMap<u64, Arc<types::Type>>>,
    runtime_type_names: OnceLock<HashMap<String, u64>>,
}

impl std::fmt::Debug for BinaryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinaryCache").finish()
    }
}

impl Value {
    /// Exactly what `dlv` prints for `print EXPR` (its multi-line form, `print`'s default
    /// limits: 64 string bytes, 64 elements, nesting 1), including, for a channel, the
    /// goroutines waiting on it.
    pub fn delve_string(&self) -> String {
        let mut s = print::delve_value(self);
        if let Some(w) = &self.waiting {
            s.push_str("\n\nGoroutines waiting on this channel:");
            for g in w {
                s.push('\n');
                s.push_str(&g.line);
            }
        }
        s
    }

    /// The value on one line (as Delve shows locals in stack listings).
    pub fn single_line(&self) -> String {
        print::delve_single_line(self)
    }

    /// The value as a breakpoint condition: a boolean, else an error.
    pub fn truth(&self) -> Result<bool, ExprError> {
        if let Some(u) = &self.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        match &self.scalar {
            Some(value::Scalar::Bool(b)) if self.kind() == value::VKind::Bool => Ok(*b),
            _ => Err(ExprError::Type(format!(
                "condition is not a boolean (it is {})",
                self.kind_description()
            ))),
        }
    }

    /// Address and size of the value in memory, when it is an lvalue there (what a
    /// watchpoint watches).
    pub fn lvalue(&self) -> Option<(u64, u64)> {
        match (&self.place, &self.typ) {
            (location::Place::Mem(a), Some(t)) if *a != 0 && t.size > 0 => Some((*a, t.size)),
            _ => None,
        }
    }

    /// The value as an integer, for integers (signed or not, when they fit), bools (0 or 1)
    /// and pointers (their address).
    pub fn as_i64(&self) -> Option<i64> {
        match (&self.scalar, self.kind()) {
            (Some(value::Scalar::Int(i)), _) => i64::try_from(*i).ok(),
            (Some(value::Scalar::Bool(b)), _) => Some(i64::from(*b)),
            (_, value::VKind::Ptr) => self
                .children
                .first()
                .and_then(|c| i64::try_from(c.addr()).ok()),
            _ => None,
        }
    }

    /// The type's name (`main.order`, `*int`; empty for untyped constants).
    pub fn type_name(&self) -> &str {
        self.typ.as_ref().map_or("", |t| t.name.as_str())
    }

    /// Remarks for the user about how the value was found (printed as warnings).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Why the value could not be read, if it could not.
    pub fn unreadable(&self) -> Option<&str> {
        self.unreadable.as_deref()
    }

    fn kind_description(&self) -> String {
        if self.typ.is_some() {
            format!("of type {}", self.type_name())
        } else {
            format!("an untyped {}", self.kind().name())
        }
    }
}

/// The JSON form of a value: Delve's `api.Variable` fields, children included.
#[derive(Serialize)]
struct ValueJson<'v> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'v str,
    #[serde(rename = "type")]
    type_name: &'v str,
    kind: &'static str,
    #[serde(serialize_with = "crate::hex")]
    addr: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    only_addr: bool,
    value: String,
    #[serde(skip_serializing_if = "is_zero")]
    len: i64,
    #[serde(skip_serializing_if = "is_zero")]
    cap: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<ValueJson<'v>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable: Option<&'v str>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn to_json(v: &Value, depth: usize) -> ValueJson<'_> {
    ValueJson {
        name: &v.name,
        type_name: v.type_name(),
        kind: v.kind().name(),
        addr: v.addr(),
        only_addr: v.only_addr,
        value: v.value_string(),
        len: v.len,
        cap: v.cap,
        children: if depth < 64 {
            v.children.iter().map(|c| to_json(c, depth + 1)).collect()
        } else {
            Vec::new()
        },
        unreadable: v.unreadable.as_deref(),
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Top<'v> {
            #[serde(flatten)]
            value: ValueJson<'v>,
            text: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            waiting: Option<&'v [WaitingGoroutine]>,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            notes: &'v [String],
        }
        Top {
            value: to_json(self, 0),
            text: print::delve_value(self),
            waiting: self.waiting.as_deref(),
            notes: &self.notes,
        }
        .serialize(s)
    }
}

/// A fuzz entry point: parses `text` and, if it parses, checks that printing its tree does
/// not panic. Never panics, never allocates by an unchecked size.
pub fn fuzz_parse(text: &[u8]) {
    let Ok(s) = std::str::from_utf8(text) else {
        return;
    };
    if let Ok(e) = Expr::parse(s) {
        let _ = e.root.source();
    }
}
