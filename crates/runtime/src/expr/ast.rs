//! The syntax tree of an expression: Go's expression grammar, the part a debugger evaluates
//! (Delve's `Documentation/cli/expr.md`), plus registers (`$rax`).

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    OrOr,
    /// `&&`
    AndAnd,
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
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `|`
    Or,
    /// `^`
    Xor,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `&`
    And,
    /// `&^`
    AndNot,
}

impl BinOp {
    /// Go's precedence: 5 binds tightest, 1 loosest.
    pub fn precedence(self) -> u8 {
        use BinOp::*;
        match self {
            OrOr => 1,
            AndAnd => 2,
            Eq | Ne | Lt | Le | Gt | Ge => 3,
            Add | Sub | Or | Xor => 4,
            Mul | Div | Rem | Shl | Shr | And | AndNot => 5,
        }
    }

    /// The operator as Go spells it.
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            OrOr => "||",
            AndAnd => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Add => "+",
            Sub => "-",
            Or => "|",
            Xor => "^",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Shl => "<<",
            Shr => ">>",
            And => "&",
            AndNot => "&^",
        }
    }

    /// Whether the result is a boolean comparison.
    pub fn is_comparison(self) -> bool {
        use BinOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
    /// `!x`
    Not,
    /// `^x`
    BitNot,
    /// `*x`: dereference (or, in a type, a pointer type).
    Deref,
    /// `&x`
    AddrOf,
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// An integer literal (a value that does not fit 128 bits is a parse error).
    Int(i128),
    /// A floating-point literal.
    Float(f64),
    /// An imaginary literal (`2i`).
    Imag(f64),
    /// A rune literal (`'a'`).
    Rune(i128),
    /// A string literal, as bytes (Go strings need not be UTF-8).
    Str(Vec<u8>),
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A name: a local, a global of the frame's package, `nil`, `true`, `goroutine`, a type.
    Ident(String),
    /// `$name`: a register or a pseudo-register (`$pc`, `$sp`, `$g`).
    Register(String),
    /// A literal.
    Lit(Lit),
    /// `x.name`: a field, a package member (`main.x`, `"example.com/pkg".x`).
    Select(Box<Node>, String),
    /// `x[i]`
    Index(Box<Node>, Box<Node>),
    /// `x[lo:hi]`
    Slice(Box<Node>, Option<Box<Node>>, Option<Box<Node>>),
    /// `x.(T)`
    TypeAssert(Box<Node>, Box<Node>),
    /// `f(args)`: a conversion `T(x)` or a builtin (`len`, `cap`).
    Call(Box<Node>, Vec<Node>),
    /// A unary operation.
    Unary(UnOp, Box<Node>),
    /// A binary operation.
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `(x)`: kept so that `(*T)(x)` is told from `*T(x)`.
    Paren(Box<Node>),
    /// `[]T`
    SliceType(Box<Node>),
    /// `[N]T`
    ArrayType(u64, Box<Node>),
    /// `map[K]V`
    MapType(Box<Node>, Box<Node>),
    /// `chan T`
    ChanType(Box<Node>),
    /// `interface {}` (only the empty interface can be written).
    EmptyInterface,
}

impl Node {
    /// Whether the expression names the current goroutine (`goroutine`, `$g`): evaluating it
    /// needs the goroutine's identity, which costs a read; other expressions do without.
    pub fn mentions_goroutine(&self) -> bool {
        match self {
            Node::Ident(n) => n == "goroutine",
            Node::Register(n) => n == "g",
            Node::Lit(_) | Node::EmptyInterface => false,
            Node::Select(x, _)
            | Node::Unary(_, x)
            | Node::Paren(x)
            | Node::SliceType(x)
            | Node::ArrayType(_, x)
            | Node::ChanType(x) => x.mentions_goroutine(),
            Node::Index(a, b)
            | Node::TypeAssert(a, b)
            | Node::Binary(_, a, b)
            | Node::MapType(a, b) => a.mentions_goroutine() || b.mentions_goroutine(),
            Node::Slice(x, lo, hi) => {
                x.mentions_goroutine()
                    || lo.as_ref().is_some_and(|n| n.mentions_goroutine())
                    || hi.as_ref().is_some_and(|n| n.mentions_goroutine())
            }
            Node::Call(f, args) => {
                f.mentions_goroutine() || args.iter().any(Node::mentions_goroutine)
            }
        }
    }

    /// The expression as Go source, for error messages.
    pub fn source(&self) -> String {
        match self {
            Node::Ident(n) => n.clone(),
            Node::Register(n) => format!("${n}"),
            Node::Lit(l) => match l {
                Lit::Int(i) => i.to_string(),
                Lit::Float(f) => f.to_string(),
                Lit::Imag(f) => format!("{f}i"),
                Lit::Rune(r) => match char::from_u32(*r as u32) {
                    Some(c) => format!("{c:?}"),
                    None => r.to_string(),
                },
                Lit::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
            },
            Node::Select(x, n) => format!("{}.{n}", x.source()),
            Node::Index(x, i) => format!("{}[{}]", x.source(), i.source()),
            Node::Slice(x, lo, hi) => format!(
                "{}[{}:{}]",
                x.source(),
                lo.as_ref().map(|n| n.source()).unwrap_or_default(),
                hi.as_ref().map(|n| n.source()).unwrap_or_default()
            ),
            Node::TypeAssert(x, t) => format!("{}.({})", x.source(), t.source()),
            Node::Call(f, args) => {
                let a: Vec<String> = args.iter().map(Node::source).collect();
                format!("{}({})", f.source(), a.join(", "))
            }
            Node::Unary(op, x) => {
                let s = match op {
                    UnOp::Neg => "-",
                    UnOp::Plus => "+",
                    UnOp::Not => "!",
                    UnOp::BitNot => "^",
                    UnOp::Deref => "*",
                    UnOp::AddrOf => "&",
                };
                format!("{s}{}", x.source())
            }
            Node::Binary(op, x, y) => format!("{} {} {}", x.source(), op.symbol(), y.source()),
            Node::Paren(x) => format!("({})", x.source()),
            Node::SliceType(t) => format!("[]{}", t.source()),
            Node::ArrayType(n, t) => format!("[{n}]{}", t.source()),
            Node::MapType(k, v) => format!("map[{}]{}", k.source(), v.source()),
            Node::ChanType(t) => format!("chan {}", t.source()),
            Node::EmptyInterface => "interface {}".to_string(),
        }
    }
}
