//! [`Value`]: a Go value being evaluated or printed, and how much of it is read. The model and
//! the loading rules are Delve's (`pkg/proc/variables.go`), so that what is printed is what
//! `dlv` prints: a value knows its type and where it is; loading reads it, following pointers
//! without limit but nesting (struct fields, array and map elements, pointers to pointers)
//! only to a depth, and reading at most 64 string bytes and 64 elements by default.

use std::sync::Arc;

use serde::Serialize;

use super::location::Place;
use super::types::{Kind, Type};

/// Delve's `fakeAddressUnresolv`: the address shown for values that have none in memory
/// (assembled from registers or pieces).
pub(crate) const FAKE_ADDRESS: u64 = 0xbeed_0000_0000_0000;

/// How much of a value to read (Delve's `LoadConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadConfig {
    pub follow_pointers: bool,
    pub max_recurse: usize,
    pub max_string: usize,
    pub max_array: usize,
    /// Fields read per struct; `None` for all.
    pub max_fields: Option<usize>,
}

/// What `print` reads (Delve's `LoadFullValue`).
pub(crate) const FULL: LoadConfig = LoadConfig {
    follow_pointers: true,
    max_recurse: 1,
    max_string: 64,
    max_array: 64,
    max_fields: None,
};

/// A scalar only (Delve's `loadSingleValue`).
pub(crate) const SINGLE: LoadConfig = LoadConfig {
    follow_pointers: false,
    max_recurse: 0,
    max_string: 64,
    max_array: 0,
    max_fields: Some(0),
};

/// Strings compared or concatenated are read whole, up to 1 MiB.
pub(crate) const LONG_STRINGS: LoadConfig = LoadConfig {
    max_string: 1 << 20,
    ..FULL
};

/// The value of a scalar, or of a constant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Bool(bool),
    /// Every integer, signed or not.
    Int(i128),
    Float(f64),
    Complex(f64, f64),
    /// String bytes read (at most the load limit; the value's `len` is the whole length).
    Str(Vec<u8>),
}

/// `reflect.Kind`, as far as printing and operators need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VKind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    String,
    Ptr,
    UnsafePtr,
    Slice,
    Array,
    Struct,
    Map,
    Chan,
    Func,
    Interface,
}

impl VKind {
    /// The name `reflect.Kind.String` gives.
    pub fn name(self) -> &'static str {
        match self {
            VKind::Invalid => "invalid",
            VKind::Bool => "bool",
            VKind::Int => "int",
            VKind::Uint => "uint",
            VKind::Float => "float64",
            VKind::Complex => "complex128",
            VKind::String => "string",
            VKind::Ptr => "ptr",
            VKind::UnsafePtr => "unsafe.Pointer",
            VKind::Slice => "slice",
            VKind::Array => "array",
            VKind::Struct => "struct",
            VKind::Map => "map",
            VKind::Chan => "chan",
            VKind::Func => "func",
            VKind::Interface => "interface",
        }
    }
}

/// Flags (Delve's `variableFlags`, the ones the evaluator needs).
pub(crate) mod flag {
    /// A constant (literal or result of constant arithmetic).
    pub const CONSTANT: u16 = 1;
    /// A local that escaped to the heap (`&x` in DWARF), shown as `x`.
    pub const ESCAPED: u16 = 2;
    /// A register.
    pub const REGISTER: u16 = 4;
    /// `nil`.
    pub const NIL: u16 = 8;
    /// A pointer made by `&x` or a conversion: its target is its only child.
    pub const MADE_POINTER: u16 = 16;
    /// A function argument.
    pub const ARGUMENT: u16 = 32;
    /// A pointer converted to `unsafe.Pointer`: Delve keeps treating it as a pointer (and
    /// prints what it points to, which is nothing it can read).
    pub const AS_POINTER: u16 = 64;
}

/// A goroutine blocked on a channel, as `print` lists it after the channel.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingGoroutine {
    /// Goroutine id.
    pub id: u64,
    /// Delve's line for it (`Goroutine 6 - User: main.go:358 main.holder (0x4a87ba) [chan
    /// receive]`), with its `* ` or two-space prefix.
    pub line: String,
}

/// The result of evaluating an expression: a typed Go value (or an untyped constant), read
/// as far as `print` shows it.
#[derive(Debug, Clone)]
pub struct Value {
    pub(crate) name: String,
    /// `None` for untyped constants and `nil`.
    pub(crate) typ: Option<Arc<Type>>,
    pub(crate) place: Place,
    /// Only the address is to be shown (nesting limit reached).
    pub(crate) only_addr: bool,
    pub(crate) loaded: bool,
    pub(crate) scalar: Option<Scalar>,
    /// Length of strings, slices, arrays, maps; field count of structs and channels; 1 for
    /// pointers.
    pub(crate) len: i64,
    pub(crate) cap: i64,
    /// Where the elements of a slice or string are, a channel's `hchan`, a map's header, a
    /// function's code.
    pub(crate) base: u64,
    /// Element type of arrays, slices and strings.
    pub(crate) elem: Option<Arc<Type>>,
    pub(crate) stride: u64,
    pub(crate) children: Vec<Value>,
    pub(crate) unreadable: Option<String>,
    pub(crate) flags: u16,
    /// A func value's closure context.
    pub(crate) closure_addr: u64,
    /// Map entries skipped (`m[64:]`).
    pub(crate) map_skip: u64,
    /// A channel's `hchan` struct with `buf` typed as an array of its length.
    pub(crate) hchan: Option<Arc<Type>>,
    /// A channel's waiting goroutines (top-level `print` only).
    pub(crate) waiting: Option<Vec<WaitingGoroutine>>,
    /// A name for the value of a typed constant (`Int`, `TFlagNamed|TFlagExtraStar`).
    pub(crate) const_descr: Option<String>,
    /// Remarks for the user (how an untyped symbol was read).
    pub(crate) notes: Vec<String>,
}

impl Value {
    /// For a map: the address of its header (0 for a nil map) and its type's name as the
    /// debug information gives it (`map[string]*main.Item`).
    pub fn map_header(&self) -> Option<(u64, String)> {
        let t = self.typ.as_ref()?;
        matches!(t.kind, super::types::Kind::Map { .. }).then(|| (self.base, t.name.clone()))
    }

    /// An empty value of type `typ` at `place`.
    pub(crate) fn blank(name: impl Into<String>, typ: Option<Arc<Type>>, place: Place) -> Value {
        Value {
            name: name.into(),
            typ,
            place,
            only_addr: false,
            loaded: false,
            scalar: None,
            len: 0,
            cap: 0,
            base: 0,
            elem: None,
            stride: 0,
            children: Vec::new(),
            unreadable: None,
            flags: 0,
            closure_addr: 0,
            map_skip: 0,
            hchan: None,
            waiting: None,
            const_descr: None,
            notes: Vec::new(),
        }
    }

    /// An untyped constant.
    pub(crate) fn constant(s: Scalar) -> Value {
        let mut v = Value::blank("", None, Place::None);
        if let Scalar::Str(b) = &s {
            v.len = b.len() as i64;
        }
        v.scalar = Some(s);
        v.loaded = true;
        v.flags = flag::CONSTANT;
        v
    }

    /// `nil`.
    pub(crate) fn nil() -> Value {
        let mut v = Value::blank("nil", None, Place::None);
        v.flags = flag::NIL;
        v.loaded = true;
        let mut child = Value::blank("", None, Place::None);
        child.only_addr = true;
        v.children.push(child);
        v
    }

    /// A typed value computed by the evaluator (no address).
    pub(crate) fn computed(typ: Arc<Type>, s: Scalar) -> Value {
        let mut v = Value::blank("", Some(typ), Place::None);
        if let Scalar::Str(b) = &s {
            v.len = b.len() as i64;
        }
        v.scalar = Some(s);
        v.loaded = true;
        v
    }

    /// Delve's `Addr`: the address, a marker for values outside memory, 0 for none.
    pub(crate) fn addr(&self) -> u64 {
        match self.place {
            Place::Mem(a) => a,
            Place::Bytes(..) => FAKE_ADDRESS,
            Place::None => 0,
        }
    }

    pub(crate) fn is_nil_const(&self) -> bool {
        self.flags & flag::NIL != 0
    }

    /// The kind that decides how the value prints and which operators apply.
    /// The value's kind as `reflect.Kind.String` names it (`int`, `string`, `ptr`, …).
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether the value could not be read (where it lives is unknown or unreadable).
    pub fn is_unreadable(&self) -> bool {
        self.unreadable.is_some()
    }

    pub(crate) fn kind(&self) -> VKind {
        if self.is_nil_const() || self.flags & flag::AS_POINTER != 0 {
            return VKind::Ptr;
        }
        match &self.typ {
            Some(t) => match t.kind {
                Kind::Bool => VKind::Bool,
                Kind::Int => VKind::Int,
                Kind::Uint => VKind::Uint,
                Kind::Float => VKind::Float,
                Kind::Complex => VKind::Complex,
                Kind::String => VKind::String,
                Kind::Pointer(_) => VKind::Ptr,
                Kind::UnsafePointer => VKind::UnsafePtr,
                Kind::Slice(_) => VKind::Slice,
                Kind::Array(..) => VKind::Array,
                Kind::Struct(_) => VKind::Struct,
                Kind::Map { .. } => VKind::Map,
                Kind::Chan { .. } => VKind::Chan,
                Kind::Func => VKind::Func,
                Kind::Interface { .. } => VKind::Interface,
                Kind::Void => VKind::Invalid,
            },
            None => match &self.scalar {
                Some(Scalar::Bool(_)) => VKind::Bool,
                Some(Scalar::Int(_)) => VKind::Int,
                Some(Scalar::Float(_)) => VKind::Float,
                Some(Scalar::Complex(..)) => VKind::Complex,
                Some(Scalar::Str(_)) => VKind::String,
                None => VKind::Invalid,
            },
        }
    }

    /// Delve's `Value` string: what a scalar prints as, `""` when there is none.
    pub(crate) fn value_string(&self) -> String {
        let Some(s) = &self.scalar else {
            return String::new();
        };
        match (self.kind(), s) {
            (VKind::Float, Scalar::Float(f)) => format_float(*f, self.float_bits()),
            (VKind::String | VKind::Func | VKind::Struct, Scalar::Str(b)) => {
                String::from_utf8_lossy(b).into_owned()
            }
            (_, Scalar::Int(i)) => match &self.const_descr {
                Some(d) => format!("{d} ({i})"),
                None => i.to_string(),
            },
            (_, Scalar::Bool(b)) => b.to_string(),
            (_, Scalar::Float(f)) => format_float(*f, 64),
            (_, Scalar::Complex(r, i)) => {
                let bits = self.float_bits();
                format!("({} + {}i)", format_float(*r, bits), format_float(*i, bits))
            }
            (_, Scalar::Str(b)) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    /// 32 for `float32` and `complex64`, else 64.
    pub(crate) fn float_bits(&self) -> u32 {
        match &self.typ {
            Some(t) if matches!(t.kind, Kind::Float) && t.size == 4 => 32,
            Some(t) if matches!(t.kind, Kind::Complex) && t.size == 8 => 32,
            _ => 64,
        }
    }
}

/// `strconv.FormatFloat(f, 'f', -1, bits)`, and Delve's names for the special values.
pub(crate) fn format_float(f: f64, bits: u32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if bits == 32 {
        format!("{}", f as f32)
    } else {
        format!("{f}")
    }
}
