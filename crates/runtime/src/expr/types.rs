//! The types the evaluator works with: one model built either from DWARF (what Delve shows,
//! names included) or from the runtime's type descriptors, which every binary has (stripped
//! ones too). Types refer to each other lazily ([`TypeRef`]), so recursive types (`Next
//! *order`) cost nothing until followed.

use std::sync::Arc;

use crate::types::kind as rkind;

/// A reference to a type, resolved on demand through the binary's caches.
#[derive(Debug, Clone)]
pub enum TypeRef {
    /// A DWARF type entry: its offset in `.debug_info`.
    Dwarf(u64),
    /// A runtime type descriptor: its link-time address.
    Runtime(u64),
    /// A type the evaluator made (`*T` for `&x`, `[n]T` for a channel's buffer, basic types of
    /// a binary without DWARF).
    Made(Arc<Type>),
}

/// A struct field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its name (an embedded field is named after its type).
    pub name: String,
    /// Byte offset in the struct.
    pub offset: u64,
    /// Its type.
    pub typ: TypeRef,
    /// Whether it is embedded.
    pub embedded: bool,
}

/// What a type is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `bool`.
    Bool,
    /// Signed integers (`int`, `int8` … `int64`).
    Int,
    /// Unsigned integers (`uint`, `uint8` … `uint64`, `uintptr`).
    Uint,
    /// `float32`, `float64`.
    Float,
    /// `complex64`, `complex128`.
    Complex,
    /// `string`.
    String,
    /// `*T`.
    Pointer(TypeRef),
    /// `unsafe.Pointer`.
    UnsafePointer,
    /// `[]T`.
    Slice(TypeRef),
    /// `[N]T`.
    Array(TypeRef, u64),
    /// A struct.
    Struct(Vec<Field>),
    /// `map[K]V`.
    Map {
        /// Key type.
        key: TypeRef,
        /// Element type.
        elem: TypeRef,
    },
    /// `chan T`.
    Chan {
        /// Element type.
        elem: TypeRef,
        /// The runtime's `hchan` struct for this element type (from DWARF), which `print`
        /// shows field by field.
        hchan: Option<TypeRef>,
    },
    /// A function value.
    Func,
    /// An interface.
    Interface {
        /// `interface {}`-shaped (`{_type, data}`) rather than `{itab, data}`.
        empty: bool,
    },
    /// What an `unsafe.Pointer` points to; nothing can be read through it.
    Void,
}

/// A Go type.
#[derive(Debug, Clone)]
pub struct Type {
    /// The name Delve prints: the DWARF name, else the runtime's.
    pub name: String,
    /// `unsafe.Sizeof`.
    pub size: u64,
    /// What it is.
    pub kind: Kind,
    /// Link-time address of its runtime type descriptor, when known.
    pub rtype: Option<u64>,
    /// The DWARF entry it was read from (constants are attached to it).
    pub dwarf: Option<u64>,
}

impl Type {
    /// A type made by the evaluator.
    pub fn made(name: impl Into<String>, size: u64, kind: Kind) -> Arc<Type> {
        Arc::new(Type {
            name: name.into(),
            size,
            kind,
            rtype: None,
            dwarf: None,
        })
    }

    /// `*t`.
    pub fn pointer_to(t: &Arc<Type>) -> Arc<Type> {
        Type::made(
            format!("*{}", t.name),
            8,
            Kind::Pointer(TypeRef::Made(t.clone())),
        )
    }

    /// `[n]t`.
    pub fn array_of(t: &Arc<Type>, n: u64) -> Arc<Type> {
        Type::made(
            format!("[{n}]{}", t.name),
            t.size.saturating_mul(n),
            Kind::Array(TypeRef::Made(t.clone()), n),
        )
    }

    /// The basic type called `name` (`int`, `uint8`, `byte`, `float64`, `string`, …).
    pub fn basic(name: &str) -> Option<Arc<Type>> {
        let (size, kind, canonical) = match name {
            "bool" => (1, Kind::Bool, "bool"),
            "int" => (8, Kind::Int, "int"),
            "int8" => (1, Kind::Int, "int8"),
            "int16" => (2, Kind::Int, "int16"),
            "int32" | "rune" => (4, Kind::Int, "int32"),
            "int64" => (8, Kind::Int, "int64"),
            "uint" => (8, Kind::Uint, "uint"),
            "uint8" | "byte" => (1, Kind::Uint, "uint8"),
            "uint16" => (2, Kind::Uint, "uint16"),
            "uint32" => (4, Kind::Uint, "uint32"),
            "uint64" => (8, Kind::Uint, "uint64"),
            "uintptr" => (8, Kind::Uint, "uintptr"),
            "float32" => (4, Kind::Float, "float32"),
            "float64" => (8, Kind::Float, "float64"),
            "complex64" => (8, Kind::Complex, "complex64"),
            "complex128" => (16, Kind::Complex, "complex128"),
            "string" => (16, Kind::String, "string"),
            "unsafe.Pointer" => (8, Kind::UnsafePointer, "unsafe.Pointer"),
            _ => return None,
        };
        Some(Type::made(canonical, size, kind))
    }

    /// Whether values are integers (signed or not).
    pub fn is_integer(&self) -> bool {
        matches!(self.kind, Kind::Int | Kind::Uint)
    }
}

/// The evaluator's kind for a `reflect.Kind` number of a runtime type descriptor, without its
/// element types (filled in by the caller).
pub(crate) fn runtime_scalar_kind(k: u8) -> Option<Kind> {
    Some(match k {
        rkind::BOOL => Kind::Bool,
        rkind::INT..=rkind::INT64 => Kind::Int,
        rkind::UINT..=rkind::UINTPTR => Kind::Uint,
        rkind::FLOAT32 | rkind::FLOAT64 => Kind::Float,
        rkind::COMPLEX64 | rkind::COMPLEX128 => Kind::Complex,
        rkind::STRING => Kind::String,
        rkind::FUNC => Kind::Func,
        rkind::UNSAFE_POINTER => Kind::UnsafePointer,
        _ => return None,
    })
}

/// The package of a type or function name: `internal/abi` for `internal/abi.Kind`, `main` for
/// `main.(*T).M`.
pub fn package_of(name: &str) -> &str {
    let name = name.trim_start_matches(['*', '[', ']']);
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].find('.') {
        Some(dot) => &name[..slash + dot],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages() {
        assert_eq!(package_of("internal/abi.Kind"), "internal/abi");
        assert_eq!(package_of("main.(*T).M"), "main");
        assert_eq!(package_of("example.com/x/y.F"), "example.com/x/y");
        assert_eq!(package_of("int"), "");
    }

    #[test]
    fn basic_types() {
        let b = Type::basic("byte").map(|t| (t.name.clone(), t.size));
        assert_eq!(b, Some(("uint8".to_string(), 1)));
        assert!(Type::basic("main.T").is_none());
        let p = Type::basic("int").map(|t| Type::pointer_to(&t).name.clone());
        assert_eq!(p.as_deref(), Some("*int"));
    }
}
