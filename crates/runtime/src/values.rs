//! Go values read from memory through their type descriptors, and printed the three ways Go
//! prints them: the runtime's `print` (panic values), `fmt`'s `%v`, and `%#v`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::reader::Reader;
use crate::snapshot::Snapshot;
use crate::types::kind;

/// A decoded Go value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// A nil interface.
    Nil,
    /// `bool`.
    Bool(bool),
    /// Signed integers.
    Int(i64),
    /// Unsigned integers.
    Uint(u64),
    /// `float32`, `float64`.
    Float(f64),
    /// `complex64`, `complex128`.
    Complex(f64, f64),
    /// `string`.
    String(String),
    /// Pointers, channels, functions, maps, unsafe pointers: the address.
    Pointer(u64),
    /// A struct's fields.
    Struct(Vec<(String, Value)>),
    /// A value of a kind not decoded (slices, arrays, interfaces): its address.
    Opaque(u64),
    /// Memory that could not be read.
    Unreadable,
}

/// A value with its type's name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Typed {
    /// The type as the runtime prints it (`main.Point`, `*errors.errorString`, `int`).
    pub type_name: String,
    /// The type's kind (`reflect.Kind` number).
    #[serde(skip)]
    pub kind: u8,
    /// The value.
    pub value: Value,
    /// Where the value is (the runtime prints this for composite panic values).
    #[serde(skip)]
    pub addr: u64,
}

/// Deepest nesting decoded; panic values are small, corrupt type graphs must not recurse.
const MAX_DEPTH: usize = 4;
/// Most values decoded for one value (struct fields count): corrupt type graphs must not
/// explode.
const MAX_NODES: usize = 4096;
/// Longest string decoded.
const MAX_STRING: usize = 64 * 1024;

/// Named types whose `%#v` shows the type (`main.Point{…}`); basic named types do not.
fn is_basic(k: u8) -> bool {
    (kind::BOOL..=kind::COMPLEX128).contains(&k) || k == kind::STRING
}

impl<'r, 'b> Snapshot<'r, 'b> {
    /// Decodes the value of type `t` stored at `addr`.
    pub fn value_at(&self, t: u64, addr: u64) -> Typed {
        self.reader().value_at(t, addr)
    }

    /// Decodes an interface value `{type, data}` (see [`Reader::eface`]).
    pub fn eface(&self, t: u64, data: u64) -> Option<Typed> {
        self.reader().eface(t, data)
    }
}

impl<'r, 'b> Reader<'r, 'b> {
    /// Decodes the value of type `t` stored at `addr`.
    pub fn value_at(&self, t: u64, addr: u64) -> Typed {
        let budget = std::cell::Cell::new(MAX_NODES);
        self.value_depth(t, addr, 0, &budget)
    }

    fn value_depth(
        &self,
        t: u64,
        addr: u64,
        depth: usize,
        budget: &std::cell::Cell<usize>,
    ) -> Typed {
        budget.set(budget.get().saturating_sub(1));
        let ty = self.types();
        let type_name = ty.name(t).unwrap_or_else(|| format!("type@{t:#x}"));
        let k = ty.kind(t).unwrap_or(0);
        let size = ty.size(t).unwrap_or(0);
        let m = self.mem;
        let rd = |n: u64| -> Option<u64> {
            match n {
                1 => m.read_u8(addr).ok().map(u64::from),
                2 => m.read_u16(addr).ok().map(u64::from),
                4 => m.read_u32(addr).ok().map(u64::from),
                _ => m.read_u64(addr).ok(),
            }
        };
        let sext = |v: u64, n: u64| -> i64 {
            let shift = 64 - 8 * n.clamp(1, 8);
            ((v << shift) as i64) >> shift
        };
        let value = match k {
            kind::BOOL => match rd(1) {
                // Go stores only 0 and 1; anything else is not a bool.
                Some(v) if v <= 1 => Value::Bool(v != 0),
                Some(_) => Value::Opaque(addr),
                None => Value::Unreadable,
            },
            kind::INT | kind::INT8 | kind::INT16 | kind::INT32 | kind::INT64 => {
                rd(size).map_or(Value::Unreadable, |v| Value::Int(sext(v, size)))
            }
            kind::UINT
            | kind::UINT8
            | kind::UINT16
            | kind::UINT32
            | kind::UINT64
            | kind::UINTPTR => rd(size).map_or(Value::Unreadable, Value::Uint),
            kind::FLOAT32 => rd(4).map_or(Value::Unreadable, |v| {
                Value::Float(f64::from(f32::from_bits(v as u32)))
            }),
            kind::FLOAT64 => rd(8).map_or(Value::Unreadable, |v| Value::Float(f64::from_bits(v))),
            kind::COMPLEX64 => match (m.read_u32(addr), m.read_u32(addr.wrapping_add(4))) {
                (Ok(r), Ok(i)) => {
                    Value::Complex(f64::from(f32::from_bits(r)), f64::from(f32::from_bits(i)))
                }
                _ => Value::Unreadable,
            },
            kind::COMPLEX128 => match (m.read_u64(addr), m.read_u64(addr.wrapping_add(8))) {
                (Ok(r), Ok(i)) => Value::Complex(f64::from_bits(r), f64::from_bits(i)),
                _ => Value::Unreadable,
            },
            kind::STRING => m
                .read_go_string(addr, MAX_STRING)
                .map_or(Value::Unreadable, Value::String),
            kind::POINTER | kind::CHAN | kind::FUNC | kind::MAP | kind::UNSAFE_POINTER => {
                rd(8).map_or(Value::Unreadable, Value::Pointer)
            }
            kind::STRUCT if depth < MAX_DEPTH && budget.get() > 0 => match ty.fields(t) {
                Some(fields) => Value::Struct(
                    fields
                        .into_iter()
                        .take_while(|_| budget.get() > 0)
                        .map(|f| {
                            let v = self.value_depth(
                                f.typ,
                                addr.wrapping_add(f.offset),
                                depth + 1,
                                budget,
                            );
                            (f.name, v.value)
                        })
                        .collect(),
                ),
                None => Value::Opaque(addr),
            },
            _ => Value::Opaque(addr),
        };
        Typed {
            type_name,
            kind: k,
            value,
            addr,
        }
    }

    /// Decodes an interface value `{type, data}` (`eface`): the data word holds the value itself
    /// for pointer-shaped types, else points to it.
    pub fn eface(&self, t: u64, data: u64) -> Option<Typed> {
        if t == 0 {
            return None;
        }
        if self.types().direct_iface(t) {
            // The data word is the value: decode it from a copy.
            let k = self.types().kind(t).unwrap_or(0);
            let type_name = self.types().name(t).unwrap_or_default();
            return Some(Typed {
                type_name,
                kind: k,
                value: Value::Pointer(data),
                addr: data,
            });
        }
        Some(self.value_at(t, data))
    }
}

/// The runtime's `printfloat`: `+1.500000e+000`.
pub fn runtime_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    const N: usize = 7;
    let mut buf = [0u8; N + 7];
    buf[0] = b'+';
    let mut e: i32 = 0;
    let mut v = v;
    if v == 0.0 {
        if v.is_sign_negative() {
            buf[0] = b'-';
        }
    } else {
        if v < 0.0 {
            v = -v;
            buf[0] = b'-';
        }
        while v >= 10.0 {
            e += 1;
            v /= 10.0;
        }
        while v < 1.0 {
            e -= 1;
            v *= 10.0;
        }
        let mut h = 5.0;
        for _ in 0..N {
            h /= 10.0;
        }
        v += h;
        if v >= 10.0 {
            e += 1;
            v /= 10.0;
        }
    }
    for i in 0..N {
        let s = v as i64;
        buf[i + 2] = (s as u8).wrapping_add(b'0');
        v -= s as f64;
        v *= 10.0;
    }
    buf[1] = buf[2];
    buf[2] = b'.';
    buf[N + 2] = b'e';
    buf[N + 3] = b'+';
    if e < 0 {
        e = -e;
        buf[N + 3] = b'-';
    }
    buf[N + 4] = (e / 100) as u8 + b'0';
    buf[N + 5] = ((e / 10) % 10) as u8 + b'0';
    buf[N + 6] = (e % 10) as u8 + b'0';
    String::from_utf8_lossy(&buf).into_owned()
}

/// Go's `%v` for a float (shortest representation, `e+XX` exponents).
fn fmt_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let s = format!("{v:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    format!("{v}")
}

impl Value {
    /// `fmt`'s `%v`.
    pub fn display(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Float(f) => fmt_float(*f),
            Value::Complex(r, i) => format!(
                "({}{}{}i)",
                fmt_float(*r),
                if *i >= 0.0 { "+" } else { "" },
                fmt_float(*i)
            ),
            Value::String(s) => s.clone(),
            Value::Pointer(p) | Value::Opaque(p) => format!("{p:#x}"),
            Value::Struct(fs) => {
                let parts: Vec<String> = fs.iter().map(|(_, v)| v.display()).collect();
                format!("{{{}}}", parts.join(" "))
            }
            Value::Unreadable => "<unreadable>".into(),
        }
    }
}

impl Typed {
    /// `fmt`'s `%#v`: `main.Point{X:3, Y:-4, Name:"p"}`.
    pub fn go_syntax(&self) -> String {
        go_syntax(&self.type_name, self.kind, &self.value)
    }

    /// What `runtime.printpanicval` prints for this value.
    pub fn runtime_print(&self) -> String {
        let named = self.type_name.contains('.');
        let basic = match &self.value {
            Value::Nil => return "nil".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Float(f) => runtime_float(*f),
            Value::Complex(r, i) => format!("({}{}i)", runtime_float(*r), runtime_float(*i)),
            Value::String(s) => {
                let s = s.replace('\n', "\n\t");
                if named {
                    return format!("{}(\"{s}\")", self.type_name);
                }
                return s;
            }
            Value::Pointer(p) | Value::Opaque(p) => {
                return format!("({}) {p:#x}", self.type_name);
            }
            Value::Struct(_) => {
                // printanycustomtype: the type and the value's address.
                return format!("({}) {:#x}", self.type_name, self.addr);
            }
            Value::Unreadable => {
                return format!(
                    "({}) <value at {:#x} is not in the core>",
                    self.type_name, self.addr
                );
            }
        };
        if named && is_basic(self.kind) {
            format!("{}({basic})", self.type_name)
        } else {
            basic
        }
    }
}

fn go_syntax(type_name: &str, k: u8, v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Struct(fs) => {
            let mut out = format!("{type_name}{{");
            for (i, (n, fv)) in fs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{n}:{}", go_syntax("", 0, fv));
            }
            out.push('}');
            out
        }
        Value::Pointer(p) if k == kind::POINTER => format!("({type_name})({p:#x})"),
        other => other.display(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_float_matches_printfloat() {
        assert_eq!(runtime_float(1.5), "+1.500000e+000");
        assert_eq!(runtime_float(-0.25), "-2.500000e-001");
        assert_eq!(runtime_float(0.0), "+0.000000e+000");
        assert_eq!(runtime_float(1e100), "+1.000000e+100");
    }

    #[test]
    fn go_syntax_of_structs() {
        let t = Typed {
            type_name: "main.Point".into(),
            kind: kind::STRUCT,
            addr: 0xc000010000,
            value: Value::Struct(vec![
                ("X".into(), Value::Int(3)),
                ("Name".into(), Value::String("p".into())),
            ]),
        };
        assert_eq!(t.go_syntax(), "main.Point{X:3, Name:\"p\"}");
        assert_eq!(t.value.display(), "{3 p}");
        assert_eq!(t.runtime_print(), "(main.Point) 0xc000010000");
    }
}
