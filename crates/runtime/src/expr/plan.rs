//! A breakpoint condition reduced, where it can be, to comparisons of values that sit in
//! registers, frame slots and package variables at the breakpoint's pc, the goroutine's id and
//! constants: what a filter outside goscope (a BPF program the kernel runs at every hit) can
//! decide without stopping the program.
//!
//! The contract, on which a debugger's correctness rests: whenever a [`Filter`] is false, the
//! evaluator ([`EvalContext::eval_condition`]) would have returned `Ok(false)` at that hit — no
//! stop, and no error either. A filter may be true where the condition is false (a stop goscope
//! then evaluates and declines). So a comparison is planned only where the evaluator reads the
//! same bytes with the same type and cannot fail on them; a part that cannot be planned makes
//! its whole operand unknown, except the right side of `&&` (and of a negated `||`), which the
//! evaluator never reaches when the left side decides.

use super::ast::{BinOp, Lit, Node, UnOp};
use super::debuginfo::VarDie;
use super::eval::Ev;
use super::location::{StaticPlace, locate_static};
use super::types::{Kind, package_of};
use super::{EvalContext, Expr};

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    fn of(op: BinOp) -> Option<Cmp> {
        Some(match op {
            BinOp::Eq => Cmp::Eq,
            BinOp::Ne => Cmp::Ne,
            BinOp::Lt => Cmp::Lt,
            BinOp::Le => Cmp::Le,
            BinOp::Gt => Cmp::Gt,
            BinOp::Ge => Cmp::Ge,
            _ => return None,
        })
    }

    /// The comparison true exactly when this one is false.
    pub fn negated(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
            Cmp::Lt => Cmp::Ge,
            Cmp::Le => Cmp::Gt,
            Cmp::Gt => Cmp::Le,
            Cmp::Ge => Cmp::Lt,
        }
    }

    /// The same comparison with its operands swapped.
    fn swapped(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            c => c,
        }
    }
}

/// Where a filter reads a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// A constant: its 64-bit pattern (sign-extended for a signed comparison).
    Const(u64),
    /// `size` bytes (1, 2, 4 or 8; a register's low bytes) at `at`, sign-extended if `signed`.
    Value {
        /// Where.
        at: StaticPlace,
        /// How many bytes.
        size: u8,
        /// A signed integer.
        signed: bool,
    },
    /// The id of the goroutine that hit: its `g` (the g register, checked against the g's stack
    /// bounds as goscope checks it), `goid`. Undecidable (a stop) when that check fails.
    Goroutine,
}

/// A condition as a filter evaluates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `left op right`, signed or unsigned.
    Compare {
        /// The comparison.
        op: Cmp,
        /// Signed integers.
        signed: bool,
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
}

impl Filter {
    /// `self && other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }
}

/// An operand as planned, before typing: a constant of the source, or a typed value.
#[derive(Debug, Clone, Copy)]
enum Term {
    /// An untyped integer constant.
    Int(i128),
    /// An untyped boolean constant.
    Bool(bool),
    /// `nil`.
    Nil,
    /// The goroutine's id.
    Goroutine,
    /// A variable or register.
    Value {
        at: StaticPlace,
        size: u8,
        class: Class,
    },
}

/// What a value's bits mean to a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Signed,
    Unsigned,
    Bool,
    Pointer,
}

impl EvalContext<'_, '_> {
    /// `cond` as a [`Filter`] for the frame's pc (the frame is a breakpoint's: its pc, its
    /// inline depth; registers and addresses are not needed), or `None` where no filter can
    /// decide that the condition is false. amd64 only.
    pub fn filter(&self, cond: &Expr) -> Option<Filter> {
        if self.rt.bin.arch() != goscope_binary::Arch::Amd64 {
            return None;
        }
        let ev = Ev::new(self).ok()?;
        Planner { ev: &ev, ctx: self }.plan(cond.root(), false)
    }
}

struct Planner<'p, 'c, 'a, 'b> {
    ev: &'p Ev<'c, 'a, 'b>,
    ctx: &'p EvalContext<'a, 'b>,
}

impl Planner<'_, '_, '_, '_> {
    /// `node` (negated if `negate`) as a filter, or `None`: unknown.
    fn plan(&self, node: &Node, negate: bool) -> Option<Filter> {
        match node {
            Node::Paren(x) => self.plan(x, negate),
            Node::Unary(UnOp::Not, x) => self.plan(x, !negate),
            // `a && b`, and `!(a || b)` = `!a && !b`: the evaluator reads `b` only when `a`
            // holds, so `a` alone is a filter for the whole.
            Node::Binary(op @ (BinOp::AndAnd | BinOp::OrOr), a, b)
                if (*op == BinOp::AndAnd) != negate =>
            {
                let left = self.plan(a, negate)?;
                Some(match self.plan(b, negate) {
                    Some(right) => left.and(right),
                    None => left,
                })
            }
            // `a || b`, and `!(a && b)` = `!a || !b`: both sides must be known.
            Node::Binary(BinOp::AndAnd | BinOp::OrOr, a, b) => Some(Filter::Or(
                Box::new(self.plan(a, negate)?),
                Box::new(self.plan(b, negate)?),
            )),
            Node::Binary(op, x, y) => {
                let cmp = Cmp::of(*op)?;
                let cmp = if negate { cmp.negated() } else { cmp };
                self.compare(cmp, self.term(x)?, self.term(y)?)
            }
            // A boolean variable on its own.
            Node::Ident(_) => match self.term(node)? {
                t @ Term::Value {
                    class: Class::Bool, ..
                } => self.compare(if negate { Cmp::Eq } else { Cmp::Ne }, t, Term::Bool(false)),
                _ => None,
            },
            _ => None,
        }
    }

    /// A typed comparison of two terms (Go's rules: a constant takes the other side's type
    /// and must be representable in it).
    fn compare(&self, op: Cmp, x: Term, y: Term) -> Option<Filter> {
        let (op, x, y) = match (x, y) {
            (Term::Value { .. } | Term::Goroutine, _) => (op, x, y),
            (_, Term::Value { .. } | Term::Goroutine) => (op.swapped(), y, x),
            _ => return None,
        };
        match (x, y) {
            (Term::Goroutine, Term::Int(c)) => Some(Filter::Compare {
                op,
                signed: false,
                left: Operand::Goroutine,
                right: Operand::Const(u64::try_from(c).ok()?),
            }),
            (Term::Value { at, size, class }, y) => {
                let left = Operand::Value {
                    at,
                    size,
                    signed: class == Class::Signed,
                };
                let ordered = matches!(class, Class::Signed | Class::Unsigned);
                if !ordered && !matches!(op, Cmp::Eq | Cmp::Ne) {
                    return None;
                }
                let right = match (class, y) {
                    (
                        _,
                        Term::Value {
                            at: at2,
                            size: size2,
                            class: class2,
                        },
                    ) if size2 == size && class2 == class => Operand::Value {
                        at: at2,
                        size,
                        signed: class == Class::Signed,
                    },
                    (Class::Signed, Term::Int(c)) => {
                        let bits = u32::from(size) * 8;
                        let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
                        if c < min || c > max {
                            return None;
                        }
                        Operand::Const(i64::try_from(c).ok()? as u64)
                    }
                    (Class::Unsigned, Term::Int(c)) => {
                        let bits = u32::from(size) * 8;
                        if c < 0 || c >= 1i128 << bits {
                            return None;
                        }
                        Operand::Const(u64::try_from(c).ok()?)
                    }
                    (Class::Bool, Term::Bool(b)) => Operand::Const(u64::from(b)),
                    (Class::Pointer, Term::Nil) => Operand::Const(0),
                    _ => return None,
                };
                Some(Filter::Compare {
                    op,
                    signed: class == Class::Signed,
                    left,
                    right,
                })
            }
            _ => None,
        }
    }

    /// What an operand is, in the evaluator's order of lookup: a local, a package variable of
    /// the frame's package, then `true`, `false`, `nil`, `goroutine`.
    fn term(&self, node: &Node) -> Option<Term> {
        match node {
            Node::Paren(x) => self.term(x),
            Node::Lit(Lit::Int(i)) => Some(Term::Int(*i)),
            Node::Unary(UnOp::Neg, x) => match self.term(x)? {
                Term::Int(i) => Some(Term::Int(-i)),
                _ => None,
            },
            Node::Register(name) => {
                let n = amd64_dwarf_register(&name.to_ascii_lowercase())?;
                Some(Term::Value {
                    at: StaticPlace::Register(n),
                    size: 8,
                    class: Class::Unsigned,
                })
            }
            Node::Ident(name) => {
                if let Ok(di) = self.ev.di() {
                    let found = self.ev.visible_vars(Some(name)).ok()?;
                    if let Some((_, _, var)) = found.last() {
                        return self.variable(var, self.link_pc());
                    }
                    if let Some(pkg) = self.ev.function_name().map(|f| package_of(&f).to_string())
                        && !pkg.is_empty()
                        && let Some(off) = di.global(&format!("{pkg}.{name}"))
                    {
                        let var = di.global_var(off).ok()?;
                        return self.variable(&var, 0);
                    }
                }
                match name.as_str() {
                    "true" => Some(Term::Bool(true)),
                    "false" => Some(Term::Bool(false)),
                    "nil" => Some(Term::Nil),
                    "goroutine" => Some(Term::Goroutine),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn link_pc(&self) -> u64 {
        self.ctx.frame.lookup_pc().wrapping_sub(self.ctx.bias)
    }

    /// A variable the evaluator would read as a plain scalar: no escaped (`&x`) or captured
    /// variable, a boolean, integer or pointer type of 1, 2, 4 or 8 bytes, at a place known
    /// without a stop.
    fn variable(&self, var: &VarDie, link_pc: u64) -> Option<Term> {
        if var.name.starts_with('&') || var.closure_offset.is_some() {
            return None;
        }
        let di = self.ev.di().ok()?;
        let typ = di.type_at(var.typ?).ok()?;
        let class = match typ.kind {
            Kind::Int => Class::Signed,
            Kind::Uint => Class::Unsigned,
            Kind::Bool => Class::Bool,
            Kind::Pointer(_) | Kind::UnsafePointer => Class::Pointer,
            _ => return None,
        };
        let size = u8::try_from(typ.size)
            .ok()
            .filter(|s| [1, 2, 4, 8].contains(s))?;
        let at = locate_static(di, var, link_pc, self.ctx.bias).ok()?;
        if let StaticPlace::Register(n) = at {
            // General-purpose registers only (0–15), as the evaluator reads them.
            if n > 15 {
                return None;
            }
        }
        Some(Term::Value { at, size, class })
    }
}

/// DWARF's number of an amd64 general-purpose register named as the evaluator names them.
fn amd64_dwarf_register(name: &str) -> Option<u16> {
    Some(match name {
        "rax" => 0,
        "rdx" => 1,
        "rcx" => 2,
        "rbx" => 3,
        "rsi" => 4,
        "rdi" => 5,
        "rbp" | "fp" => 6,
        "r8" => 8,
        "r9" => 9,
        "r10" => 10,
        "r11" => 11,
        "r12" => 12,
        "r13" => 13,
        "r14" => 14,
        "r15" => 15,
        _ => return None,
    })
}
