//! The lexer and parser: Go's expression syntax (operators, precedence, literals with their
//! escapes, conversions, type syntax in conversions) plus `$register`. Input is untrusted (it
//! may come from a script or a fuzzer): its length and nesting are bounded, so parsing cannot
//! overflow the stack or run long.

use super::ExprError;
use super::ast::{BinOp, Lit, Node, UnOp};

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses, operators and postfix operations accepted.
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Register(String),
    Lit(Lit),
    Op(&'static str),
    Eof,
}

/// Operators and punctuation, longest first so that `&^` wins over `&`.
const OPS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "&^", "+", "-", "*", "/", "%", "&", "|", "^",
    "<", ">", "!", "(", ")", "[", "]", "{", "}", ".", ",", ":",
];

struct Lexer<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
}

fn perr(pos: usize, msg: impl Into<String>) -> ExprError {
    ExprError::Parse {
        pos,
        msg: msg.into(),
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    /// The character at the current position (always a character boundary: the lexer only
    /// steps over whole characters).
    fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn skip_space(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if b == b' ' || b == b'\t' || b == b'\n' || b == b'\r' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next token and where it starts.
    fn next(&mut self) -> Result<(Tok, usize), ExprError> {
        self.skip_space();
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok((Tok::Eof, start));
        };
        if is_ident_start(c) {
            return Ok((Tok::Ident(self.ident()), start));
        }
        if c == '$' {
            self.pos += 1;
            let name = self.ident();
            if name.is_empty() {
                return Err(perr(start, "expected a register name after $"));
            }
            return Ok((Tok::Register(name), start));
        }
        if c.is_ascii_digit()
            || (c == '.'
                && self
                    .src
                    .get(self.pos + 1)
                    .is_some_and(|b| b.is_ascii_digit()))
        {
            return Ok((Tok::Lit(self.number()?), start));
        }
        if c == '"' {
            self.pos += 1;
            return Ok((Tok::Lit(Lit::Str(self.quoted(b'"')?)), start));
        }
        if c == '`' {
            self.pos += 1;
            let end = self.src[self.pos..]
                .iter()
                .position(|&b| b == b'`')
                .ok_or_else(|| perr(start, "raw string literal not terminated"))?;
            let s: Vec<u8> = self.src[self.pos..self.pos + end]
                .iter()
                .copied()
                .filter(|&b| b != b'\r')
                .collect();
            self.pos += end + 1;
            return Ok((Tok::Lit(Lit::Str(s)), start));
        }
        if c == '\'' {
            self.pos += 1;
            let v = self.quoted(b'\'')?;
            let s = String::from_utf8(v.clone()).ok();
            let mut chars = s.as_deref().map(|s| s.chars());
            let r = match (
                chars.as_mut().and_then(|c| c.next()),
                chars.as_mut().and_then(|c| c.next()),
            ) {
                (Some(ch), None) => i128::from(u32::from(ch)),
                _ if v.len() == 1 => i128::from(v[0]),
                _ => return Err(perr(start, "rune literal must hold exactly one character")),
            };
            return Ok((Tok::Lit(Lit::Rune(r)), start));
        }
        for op in OPS {
            if self.src[self.pos..].starts_with(op.as_bytes()) {
                self.pos += op.len();
                return Ok((Tok::Op(op), start));
            }
        }
        Err(perr(start, format!("unexpected character {c:?}")))
    }

    fn ident(&mut self) -> String {
        let rest = self.text.get(self.pos..).unwrap_or("");
        let len = rest
            .char_indices()
            .find(|&(_, c)| !is_ident_char(c))
            .map_or(rest.len(), |(i, _)| i);
        self.pos += len;
        rest[..len].to_string()
    }

    fn number(&mut self) -> Result<Lit, ExprError> {
        let start = self.pos;
        let rest = &self.src[self.pos..];
        let hex = rest.starts_with(b"0x") || rest.starts_with(b"0X");
        let len = rest
            .iter()
            .enumerate()
            .take_while(|&(i, &b)| {
                b.is_ascii_alphanumeric()
                    || b == b'_'
                    || b == b'.'
                    // An exponent's sign: `1e-7`, `0x1p-2`.
                    || ((b == b'-' || b == b'+')
                        && i > 0
                        && if hex {
                            matches!(rest[i - 1], b'p' | b'P')
                        } else {
                            matches!(rest[i - 1], b'e' | b'E')
                        })
            })
            .count();
        self.pos += len;
        let text: String = String::from_utf8_lossy(&rest[..len])
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let bad = || perr(start, format!("malformed number {text:?}"));
        if let Some(t) = text.strip_suffix('i') {
            let v: f64 = parse_float(t).ok_or_else(bad)?;
            return Ok(Lit::Imag(v));
        }
        let lower = text.to_ascii_lowercase();
        let int = if let Some(h) = lower.strip_prefix("0x") {
            if h.contains('p') || h.contains('.') {
                return parse_hex_float(h).map(Lit::Float).ok_or_else(bad);
            }
            i128::from_str_radix(h, 16).ok()
        } else if let Some(b) = lower.strip_prefix("0b") {
            i128::from_str_radix(b, 2).ok()
        } else if let Some(o) = lower.strip_prefix("0o") {
            i128::from_str_radix(o, 8).ok()
        } else if lower.contains(['.', 'e']) {
            return parse_float(&lower).map(Lit::Float).ok_or_else(bad);
        } else if lower.len() > 1 && lower.starts_with('0') {
            i128::from_str_radix(&lower[1..], 8).ok()
        } else {
            lower.parse::<i128>().ok()
        };
        int.map(Lit::Int).ok_or_else(bad)
    }

    /// The body of a quoted literal after its opening quote, escapes decoded.
    fn quoted(&mut self, quote: u8) -> Result<Vec<u8>, ExprError> {
        let start = self.pos;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return Err(perr(start, "literal not terminated"));
            };
            self.pos += 1;
            if b == quote {
                return Ok(out);
            }
            if b == b'\n' {
                return Err(perr(start, "newline in literal"));
            }
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let Some(&e) = self.src.get(self.pos) else {
                return Err(perr(start, "literal not terminated"));
            };
            self.pos += 1;
            let simple = match e {
                b'a' => Some(7),
                b'b' => Some(8),
                b'f' => Some(12),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'v' => Some(11),
                b'\\' => Some(b'\\'),
                b'\'' | b'"' if e == quote => Some(e),
                _ => None,
            };
            if let Some(v) = simple {
                out.push(v);
                continue;
            }
            let digits = |lx: &mut Lexer<'_>, n: usize, radix: u32| -> Result<u32, ExprError> {
                let s = lx
                    .src
                    .get(lx.pos..lx.pos + n)
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .ok_or_else(|| perr(lx.pos, "short escape sequence"))?;
                let v = u32::from_str_radix(s, radix)
                    .map_err(|_| perr(lx.pos, "malformed escape sequence"))?;
                lx.pos += n;
                Ok(v)
            };
            match e {
                b'x' => out.push(digits(self, 2, 16)? as u8),
                b'0'..=b'7' => {
                    self.pos -= 1;
                    let v = digits(self, 3, 8)?;
                    out.push(u8::try_from(v).map_err(|_| perr(self.pos, "octal escape > 255"))?);
                }
                b'u' | b'U' => {
                    let v = digits(self, if e == b'u' { 4 } else { 8 }, 16)?;
                    let c =
                        char::from_u32(v).ok_or_else(|| perr(self.pos, "invalid code point"))?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => return Err(perr(self.pos - 2, "unknown escape sequence")),
            }
        }
    }
}

fn parse_float(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `0x1.8p3` without the prefix.
fn parse_hex_float(h: &str) -> Option<f64> {
    let (mant, exp) = h.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let shift = exp.checked_sub(i32::try_from(frac.len()).ok()?.checked_mul(4)?)?;
    let r = v * 2f64.powi(shift);
    r.is_finite().then_some(r)
}

/// Parses `text` into a tree.
pub fn parse(text: &str) -> Result<Node, ExprError> {
    if text.len() > MAX_LEN {
        return Err(perr(0, format!("expression longer than {MAX_LEN} bytes")));
    }
    let mut p = Parser {
        lex: Lexer {
            text,
            src: text.as_bytes(),
            pos: 0,
        },
        tok: Tok::Eof,
        at: 0,
        depth: 0,
    };
    p.advance()?;
    if p.tok == Tok::Eof {
        return Err(perr(0, "empty expression"));
    }
    let n = p.expr()?;
    if p.tok != Tok::Eof {
        return Err(perr(
            p.at,
            format!("unexpected {} after the expression", p.describe()),
        ));
    }
    Ok(n)
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
    at: usize,
    depth: usize,
}

fn binop(op: &str) -> Option<BinOp> {
    Some(match op {
        "||" => BinOp::OrOr,
        "&&" => BinOp::AndAnd,
        "==" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "|" => BinOp::Or,
        "^" => BinOp::Xor,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Rem,
        "<<" => BinOp::Shl,
        ">>" => BinOp::Shr,
        "&" => BinOp::And,
        "&^" => BinOp::AndNot,
        _ => return None,
    })
}

impl Parser<'_> {
    fn advance(&mut self) -> Result<(), ExprError> {
        let (t, at) = self.lex.next()?;
        self.tok = t;
        self.at = at;
        Ok(())
    }

    fn describe(&self) -> String {
        match &self.tok {
            Tok::Ident(n) => format!("name {n}"),
            Tok::Register(n) => format!("register ${n}"),
            Tok::Lit(_) => "literal".to_string(),
            Tok::Op(o) => format!("{o:?}"),
            Tok::Eof => "end of expression".to_string(),
        }
    }

    fn expect(&mut self, op: &'static str) -> Result<(), ExprError> {
        if self.tok == Tok::Op(op) {
            self.advance()
        } else {
            Err(perr(
                self.at,
                format!("expected {op:?}, found {}", self.describe()),
            ))
        }
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(perr(
                self.at,
                format!("expression nested deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        self.binary(1)
    }

    /// Operators of precedence `min` and tighter, left-associative.
    fn binary(&mut self, min: u8) -> Result<Node, ExprError> {
        self.enter()?;
        let mut x = self.unary()?;
        while let Tok::Op(o) = &self.tok
            && let Some(op) = binop(o).filter(|b| b.precedence() >= min)
        {
            self.advance()?;
            let y = self.binary(op.precedence() + 1)?;
            x = Node::Binary(op, Box::new(x), Box::new(y));
        }
        self.depth -= 1;
        Ok(x)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let op = match self.tok {
            Tok::Op("-") => Some(UnOp::Neg),
            Tok::Op("+") => Some(UnOp::Plus),
            Tok::Op("!") => Some(UnOp::Not),
            Tok::Op("^") => Some(UnOp::BitNot),
            Tok::Op("*") => Some(UnOp::Deref),
            Tok::Op("&") => Some(UnOp::AddrOf),
            _ => None,
        };
        if let Some(op) = op {
            self.enter()?;
            self.advance()?;
            let x = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Unary(op, Box::new(x)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let mut x = self.operand()?;
        let mut postfix = 0usize;
        loop {
            postfix += 1;
            if postfix > MAX_DEPTH {
                return Err(perr(
                    self.at,
                    format!("more than {MAX_DEPTH} selectors and indexes"),
                ));
            }
            match self.tok {
                Tok::Op(".") => {
                    self.advance()?;
                    match std::mem::replace(&mut self.tok, Tok::Eof) {
                        Tok::Ident(n) => {
                            self.advance()?;
                            x = Node::Select(Box::new(x), n);
                        }
                        Tok::Op("(") => {
                            self.advance()?;
                            let t = if matches!(&self.tok, Tok::Ident(n) if n == "type") {
                                return Err(perr(self.at, "type switches are not expressions"));
                            } else {
                                self.enter()?;
                                let t = self.type_expr()?;
                                self.depth -= 1;
                                t
                            };
                            self.expect(")")?;
                            x = Node::TypeAssert(Box::new(x), Box::new(t));
                        }
                        other => {
                            self.tok = other;
                            return Err(perr(
                                self.at,
                                format!("expected a name after '.', found {}", self.describe()),
                            ));
                        }
                    }
                }
                Tok::Op("[") => {
                    self.advance()?;
                    self.enter()?;
                    let lo = if self.tok == Tok::Op(":") {
                        None
                    } else {
                        Some(Box::new(self.expr()?))
                    };
                    if self.tok == Tok::Op(":") {
                        self.advance()?;
                        let hi = if self.tok == Tok::Op("]") {
                            None
                        } else {
                            Some(Box::new(self.expr()?))
                        };
                        self.expect("]")?;
                        x = Node::Slice(Box::new(x), lo, hi);
                    } else {
                        self.expect("]")?;
                        let i = lo.ok_or_else(|| perr(self.at, "missing index"))?;
                        x = Node::Index(Box::new(x), i);
                    }
                    self.depth -= 1;
                }
                Tok::Op("(") => {
                    self.advance()?;
                    self.enter()?;
                    let mut args = Vec::new();
                    while self.tok != Tok::Op(")") {
                        args.push(self.expr()?);
                        if self.tok == Tok::Op(",") {
                            self.advance()?;
                        } else if self.tok != Tok::Op(")") {
                            return Err(perr(
                                self.at,
                                format!("expected ',' or ')', found {}", self.describe()),
                            ));
                        }
                    }
                    self.advance()?;
                    self.depth -= 1;
                    x = Node::Call(Box::new(x), args);
                }
                _ => return Ok(x),
            }
        }
    }

    fn operand(&mut self) -> Result<Node, ExprError> {
        match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Ident(n) => {
                if matches!(n.as_str(), "map" | "chan" | "interface") {
                    self.tok = Tok::Ident(n);
                    return self.type_expr();
                }
                self.advance()?;
                Ok(Node::Ident(n))
            }
            Tok::Register(n) => {
                self.advance()?;
                Ok(Node::Register(n))
            }
            Tok::Lit(l) => {
                self.advance()?;
                Ok(Node::Lit(l))
            }
            Tok::Op("(") => {
                self.advance()?;
                self.enter()?;
                let x = self.expr()?;
                self.expect(")")?;
                self.depth -= 1;
                Ok(Node::Paren(Box::new(x)))
            }
            Tok::Op("[") => {
                self.tok = Tok::Op("[");
                self.type_expr()
            }
            other => {
                self.tok = other;
                Err(perr(
                    self.at,
                    format!("expected an operand, found {}", self.describe()),
                ))
            }
        }
    }

    /// A type: a (qualified) name, `*T`, `[]T`, `[N]T`, `map[K]V`, `chan T`, `interface {}`,
    /// `(T)`.
    fn type_expr(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let t = match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Op("*") => {
                self.advance()?;
                Node::Unary(UnOp::Deref, Box::new(self.type_expr()?))
            }
            Tok::Op("(") => {
                self.advance()?;
                let t = self.type_expr()?;
                self.expect(")")?;
                Node::Paren(Box::new(t))
            }
            Tok::Op("[") => {
                self.advance()?;
                match std::mem::replace(&mut self.tok, Tok::Eof) {
                    Tok::Op("]") => {
                        self.advance()?;
                        Node::SliceType(Box::new(self.type_expr()?))
                    }
                    Tok::Lit(Lit::Int(n)) => {
                        let n = u64::try_from(n)
                            .map_err(|_| perr(self.at, "array length out of range"))?;
                        self.advance()?;
                        self.expect("]")?;
                        Node::ArrayType(n, Box::new(self.type_expr()?))
                    }
                    other => {
                        self.tok = other;
                        return Err(perr(
                            self.at,
                            format!("expected ']' or an array length, found {}", self.describe()),
                        ));
                    }
                }
            }
            Tok::Ident(n) if n == "map" => {
                self.advance()?;
                self.expect("[")?;
                let k = self.type_expr()?;
                self.expect("]")?;
                let v = self.type_expr()?;
                Node::MapType(Box::new(k), Box::new(v))
            }
            Tok::Ident(n) if n == "chan" => {
                self.advance()?;
                Node::ChanType(Box::new(self.type_expr()?))
            }
            Tok::Ident(n) if n == "interface" => {
                self.advance()?;
                self.expect("{")?;
                self.expect("}")?;
                Node::EmptyInterface
            }
            Tok::Ident(n) => {
                self.advance()?;
                let mut t = Node::Ident(n);
                if self.tok == Tok::Op(".") {
                    self.advance()?;
                    match std::mem::replace(&mut self.tok, Tok::Eof) {
                        Tok::Ident(m) => {
                            self.advance()?;
                            t = Node::Select(Box::new(t), m);
                        }
                        other => {
                            self.tok = other;
                            return Err(perr(self.at, "expected a type name after '.'"));
                        }
                    }
                }
                t
            }
            Tok::Lit(Lit::Str(pkg)) => {
                // "example.com/pkg".T
                self.advance()?;
                self.expect(".")?;
                match std::mem::replace(&mut self.tok, Tok::Eof) {
                    Tok::Ident(m) => {
                        self.advance()?;
                        Node::Select(Box::new(Node::Lit(Lit::Str(pkg))), m)
                    }
                    other => {
                        self.tok = other;
                        return Err(perr(self.at, "expected a type name after '.'"));
                    }
                }
            }
            other => {
                self.tok = other;
                return Err(perr(
                    self.at,
                    format!("expected a type, found {}", self.describe()),
                ));
            }
        };
        self.depth -= 1;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        match parse(s) {
            Ok(n) => format!("{n:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(
            parse("a + b * c == d && !e || f").map(|n| n.source()).ok(),
            Some("a + b * c == d && !e || f".to_string())
        );
        let n = parse("1 - 2 - 3").ok();
        assert!(
            matches!(n, Some(Node::Binary(BinOp::Sub, ref x, _)) if matches!(**x, Node::Binary(BinOp::Sub, _, _)))
        );
        let n = parse("a || b && c").ok();
        assert!(
            matches!(n, Some(Node::Binary(BinOp::OrOr, _, ref y)) if matches!(**y, Node::Binary(BinOp::AndAnd, _, _)))
        );
    }

    #[test]
    fn literals() {
        assert_eq!(parse("0x1F").ok(), Some(Node::Lit(Lit::Int(31))));
        assert_eq!(parse("0b101").ok(), Some(Node::Lit(Lit::Int(5))));
        assert_eq!(parse("0o17").ok(), Some(Node::Lit(Lit::Int(15))));
        assert_eq!(parse("017").ok(), Some(Node::Lit(Lit::Int(15))));
        assert_eq!(parse("1_000").ok(), Some(Node::Lit(Lit::Int(1000))));
        assert_eq!(parse("1.5e-3").ok(), Some(Node::Lit(Lit::Float(0.0015))));
        assert_eq!(parse("0x1p-2").ok(), Some(Node::Lit(Lit::Float(0.25))));
        assert_eq!(parse("'a'").ok(), Some(Node::Lit(Lit::Rune(97))));
        assert_eq!(parse("'\\n'").ok(), Some(Node::Lit(Lit::Rune(10))));
        assert_eq!(parse("'é'").ok(), Some(Node::Lit(Lit::Rune(233))));
        assert_eq!(
            parse(r#""a\tb\x41\u00e9\101""#).ok(),
            Some(Node::Lit(Lit::Str(b"a\tbA\xc3\xa9A".to_vec())))
        );
        assert_eq!(
            parse("`raw\\n`").ok(),
            Some(Node::Lit(Lit::Str(b"raw\\n".to_vec())))
        );
    }

    #[test]
    fn conversions_and_types() {
        assert_eq!(
            p("(*main.order)(0xc000123450)"),
            "Call(Paren(Unary(Deref, Select(Ident(\"main\"), \"order\"))), [Lit(Int(824634913872))])"
        );
        assert_eq!(
            p("[]byte(s)"),
            "Call(SliceType(Ident(\"byte\")), [Ident(\"s\")])"
        );
        assert_eq!(
            p("map[string]int(m)"),
            "Call(MapType(Ident(\"string\"), Ident(\"int\")), [Ident(\"m\")])"
        );
        assert_eq!(
            p("x.(*main.T)"),
            "TypeAssert(Ident(\"x\"), Unary(Deref, Select(Ident(\"main\"), \"T\")))"
        );
        assert_eq!(p("$rax + 1"), "Binary(Add, Register(\"rax\"), Lit(Int(1)))");
        assert_eq!(p("a[1:]"), "Slice(Ident(\"a\"), Some(Lit(Int(1))), None)");
        assert_eq!(
            p("m[\"k\"].f[2]"),
            "Index(Select(Index(Ident(\"m\"), Lit(Str([107]))), \"f\"), Lit(Int(2)))"
        );
    }

    #[test]
    fn errors_are_errors() {
        for bad in [
            "", "(", "a +", "a[", "\"abc", "'ab'", "1 2", "a.", "0x", "$", "a.(", "[3", "#", "1e",
            "\"\\q\"", "x.(type)",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert!(parse(&deep).is_err());
        let deep = "-".repeat(10_000) + "1";
        assert!(parse(&deep).is_err());
        let long = "a+".repeat(20_000) + "a";
        assert!(parse(&long).is_err());
        let chain = "a".to_string() + &".b".repeat(1000);
        assert!(parse(&chain).is_err());
        // The longest accepted input parses in linear time.
        let wide = "é+".repeat(5000) + "1";
        let t = std::time::Instant::now();
        assert!(parse(&wide).is_ok());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
