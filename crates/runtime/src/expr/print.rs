//! How `print` shows a value: exactly as `dlv` does (Delve's `service/api/prettyprint.go`,
//! with `print`'s flags: the type at the top, composite values over several lines when they
//! hold composites or long strings). Strings are quoted as Go's `%q` quotes them.

use std::fmt::Write as _;

use super::value::{VKind, Value};

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    top: bool,
    include_type: bool,
    newlines: bool,
}

impl Flags {
    fn inner(self) -> Flags {
        Flags { top: false, ..self }
    }
}

const INDENT: &str = "\t";
/// Strings longer than this put slices, arrays and structs on several lines.
const MAX_SHORT_STRING: usize = 7;

/// What `print` shows for `v` (without the channel's waiting goroutines).
pub(crate) fn delve_value(v: &Value) -> String {
    let mut out = String::new();
    write(
        &mut out,
        v,
        Flags {
            top: true,
            include_type: true,
            newlines: true,
        },
        "",
    );
    out
}

/// The value on one line, as Delve shows locals in `stack -full` (`SinglelineString`).
pub(crate) fn delve_single_line(v: &Value) -> String {
    let mut out = String::new();
    write(
        &mut out,
        v,
        Flags {
            top: true,
            include_type: true,
            newlines: false,
        },
        "",
    );
    out
}

fn type_str(v: &Value) -> &str {
    v.type_name()
}

fn write(out: &mut String, v: &Value, flags: Flags, indent: &str) {
    if let Some(u) = &v.unreadable {
        let _ = write!(out, "(unreadable {u})");
        return;
    }
    if !flags.top && v.addr() == 0 && v.value_string().is_empty() {
        if flags.include_type && type_str(v) != "void" {
            let _ = write!(out, "{} nil", type_str(v));
        } else {
            out.push_str("nil");
        }
        return;
    }
    match v.kind() {
        VKind::Slice => write_slice(out, v, flags, indent),
        VKind::Array => {
            if flags.include_type {
                let _ = write!(out, "{} ", type_str(v));
            }
            write_slice_or_array(out, v, flags, indent);
        }
        VKind::Ptr => {
            if type_str(v).is_empty() || v.children.is_empty() {
                out.push_str("nil");
            } else if v.children[0].only_addr && v.children[0].addr() != 0 {
                write_pointer_to(out, v);
            } else {
                if flags.top && flags.newlines && v.children[0].addr() != 0 {
                    write_pointer_to(out, v);
                    out.push('\n');
                }
                out.push('*');
                write(out, &v.children[0], flags.inner(), indent);
            }
        }
        VKind::UnsafePtr => match v.children.first() {
            None => out.push_str("unsafe.Pointer(nil)"),
            Some(c) => {
                let _ = write!(out, "unsafe.Pointer({:#x})", c.addr());
            }
        },
        VKind::Chan => {
            if flags.newlines {
                write_struct(out, v, flags, indent);
            } else if v.children.len() < 2 {
                let _ = write!(out, "{} nil", type_str(v));
            } else {
                let _ = write!(
                    out,
                    "{} {}/{}",
                    type_str(v),
                    v.children[0].value_string(),
                    v.children[1].value_string()
                );
            }
        }
        VKind::Struct => {
            // A struct with a value of its own: `time.Time(2024-03-15T10:30:00Z){…}`.
            let text = v.value_string();
            if text.is_empty() {
                write_struct(out, v, flags, indent);
            } else {
                let _ = write!(out, "{}({text})", type_str(v));
                let flags = Flags {
                    include_type: false,
                    ..flags
                };
                write_struct(out, v, flags, indent);
            }
        }
        VKind::Interface => write_interface(out, v, flags, indent),
        VKind::Map => write_map(out, v, flags, indent),
        VKind::Func => {
            let name = v.value_string();
            if name.is_empty() {
                out.push_str("nil");
            } else {
                out.push_str(&name);
                if flags.newlines && !v.children.is_empty() {
                    out.push_str(" {\n");
                    let deeper = format!("{indent}{INDENT}");
                    for c in &v.children {
                        let _ = write!(out, "{indent}{INDENT}{} {} = ", c.name, type_str(c));
                        write(
                            out,
                            c,
                            Flags {
                                newlines: flags.newlines,
                                ..Flags::default()
                            },
                            &deeper,
                        );
                        out.push('\n');
                    }
                    let _ = write!(out, "{indent}}}");
                }
            }
        }
        _ => write_basic(out, v),
    }
}

fn write_interface(out: &mut String, v: &Value, flags: Flags, indent: &str) {
    if v.addr() == 0 {
        // An interface with no address: out of scope.
        out.push_str("nil");
        return;
    }
    let Some(data) = v.children.first() else {
        let _ = write!(out, "{} ...", type_str(v));
        return;
    };
    if flags.include_type {
        if data.kind() == VKind::Invalid {
            let _ = write!(out, "{} ", type_str(v));
            if data.addr() == 0 {
                out.push_str("nil");
                return;
            }
        } else {
            let _ = write!(out, "{}({}) ", type_str(v), type_str(data));
        }
    }
    let data_flags = Flags {
        top: false,
        include_type: !flags.include_type,
        newlines: flags.newlines,
    };
    if data.kind() == VKind::Ptr {
        match data.children.first() {
            None => out.push_str("..."),
            Some(c) if c.addr() == 0 => out.push_str("nil"),
            Some(c) if c.only_addr => {
                let _ = write!(out, "0x{:x}", data.addr());
            }
            Some(_) => write(out, data, data_flags, indent),
        }
    } else if data.only_addr {
        let t = type_str(v);
        if t.contains('/') {
            let _ = write!(out, "*(*{})({:#x})", go_quote(t.as_bytes()), v.addr());
        } else {
            let _ = write!(out, "*(*{t})({:#x})", v.addr());
        }
    } else {
        write(out, data, data_flags, indent);
    }
}

fn write_pointer_to(out: &mut String, v: &Value) {
    let t = type_str(v);
    let a = v.children.first().map_or(0, Value::addr);
    if t.contains('/') {
        let _ = write!(out, "({})({a:#x})", go_quote(t.as_bytes()));
    } else {
        let _ = write!(out, "({t})({a:#x})");
    }
}

fn write_basic(out: &mut String, v: &Value) {
    let k = v.kind();
    let s = v.value_string();
    if s.is_empty() && k != VKind::String {
        let _ = write!(out, "(unknown {})", k.name());
        return;
    }
    match k {
        VKind::String => {
            let mut bytes = match &v.scalar {
                Some(super::value::Scalar::Str(b)) => b.clone(),
                _ => Vec::new(),
            };
            if bytes.len() as i64 != v.len {
                let more = v.len - bytes.len() as i64;
                bytes.extend_from_slice(format!("...+{more} more").as_bytes());
            }
            out.push_str(&go_quote(&bytes));
        }
        _ => out.push_str(&s),
    }
}

fn write_slice(out: &mut String, v: &Value, flags: Flags, indent: &str) {
    if flags.include_type {
        let _ = write!(out, "{} len: {}, cap: {}, ", type_str(v), v.len, v.cap);
    }
    if v.base == 0 && v.children.is_empty() {
        out.push_str("nil");
        return;
    }
    write_slice_or_array(out, v, flags, indent);
}

fn write_struct(out: &mut String, v: &Value, flags: Flags, indent: &str) {
    if v.len != v.children.len() as i64 && v.children.is_empty() {
        let t = type_str(v);
        if t.contains('/') {
            let _ = write!(out, "(*{})({:#x})", go_quote(t.as_bytes()), v.addr());
        } else {
            let _ = write!(out, "(*{t})({:#x})", v.addr());
        }
        return;
    }
    if flags.include_type {
        let _ = write!(out, "{} ", type_str(v));
    }
    let nl = should_newline_struct(v, flags.newlines);
    out.push('{');
    let deeper = format!("{indent}{INDENT}");
    let n = v.children.len();
    for (i, c) in v.children.iter().enumerate() {
        if nl {
            let _ = write!(out, "\n{indent}{INDENT}");
        }
        let _ = write!(out, "{}: ", c.name);
        write(
            out,
            c,
            Flags {
                top: false,
                include_type: true,
                newlines: nl,
            },
            &deeper,
        );
        if i + 1 != n || nl {
            out.push(',');
            if !nl {
                out.push(' ');
            }
        }
    }
    if n as i64 != v.len {
        if nl {
            let _ = write!(out, "\n{indent}{INDENT}");
        } else {
            out.push(',');
        }
        let _ = write!(out, "...+{} more", v.len - n as i64);
    }
    out.push('}');
}

fn write_map(out: &mut String, v: &Value, flags: Flags, indent: &str) {
    if flags.include_type {
        let _ = write!(out, "{} ", type_str(v));
    }
    if v.base == 0 && v.children.is_empty() {
        out.push_str("nil");
        return;
    }
    let nl = flags.newlines && !v.children.is_empty();
    out.push('[');
    let deeper = format!("{indent}{INDENT}");
    let n = v.children.len();
    let mut i = 0;
    while i + 1 < n {
        if nl {
            let _ = write!(out, "\n{indent}{INDENT}");
        }
        write(out, &v.children[i], Flags::default(), &deeper);
        out.push_str(": ");
        write(
            out,
            &v.children[i + 1],
            Flags {
                newlines: nl,
                ..Flags::default()
            },
            &deeper,
        );
        // Delve's test compares an even index with the odd last one: always true.
        if i + 1 != n || nl {
            out.push_str(", ");
        }
        i += 2;
    }
    if (n / 2) as i64 != v.len {
        if n != 0 {
            if nl {
                let _ = write!(out, "\n{indent}{INDENT}");
            } else {
                out.push(',');
            }
            let _ = write!(out, "...+{} more", v.len - (n / 2) as i64);
        } else {
            out.push_str("...");
        }
    }
    if nl {
        let _ = write!(out, "\n{indent}");
    }
    out.push(']');
}

fn write_slice_or_array(out: &mut String, v: &Value, flags: Flags, indent: &str) {
    let nl = should_newline_array(v, flags.newlines);
    out.push('[');
    let deeper = format!("{indent}{INDENT}");
    let n = v.children.len();
    for (i, c) in v.children.iter().enumerate() {
        if nl {
            let _ = write!(out, "\n{indent}{INDENT}");
        }
        write(
            out,
            c,
            Flags {
                newlines: nl,
                ..Flags::default()
            },
            &deeper,
        );
        if i + 1 != n || nl {
            out.push(',');
        }
    }
    if n as i64 != v.len {
        if n != 0 {
            if nl {
                let _ = write!(out, "\n{indent}{INDENT}");
            } else {
                out.push(',');
            }
            let _ = write!(out, "...+{} more", v.len - n as i64);
        } else {
            out.push_str("...");
        }
    }
    if nl {
        let _ = write!(out, "\n{indent}");
    }
    out.push(']');
}

/// The kind under any pointers, and whether there were pointers.
fn recursive_kind(mut v: &Value) -> (VKind, bool) {
    let mut hasptr = false;
    loop {
        let k = v.kind();
        if k != VKind::Ptr {
            return (k, hasptr);
        }
        hasptr = true;
        match v.children.first() {
            Some(c) => v = c,
            None => return (k, hasptr),
        }
    }
}

fn should_newline_array(v: &Value, newlines: bool) -> bool {
    let Some(first) = v.children.first() else {
        return false;
    };
    if !newlines {
        return false;
    }
    match recursive_kind(first) {
        (VKind::Slice | VKind::Array | VKind::Struct | VKind::Map | VKind::Interface, _) => true,
        (VKind::String, true) => true,
        (VKind::String, false) => v
            .children
            .iter()
            .any(|c| c.value_string().len() > MAX_SHORT_STRING),
        _ => false,
    }
}

fn should_newline_struct(v: &Value, newlines: bool) -> bool {
    if !newlines || v.children.is_empty() {
        return false;
    }
    v.children.iter().any(|c| match recursive_kind(c) {
        (VKind::Slice | VKind::Array | VKind::Struct | VKind::Map | VKind::Interface, _) => true,
        (VKind::String, true) => true,
        (VKind::String, false) => c.value_string().len() > MAX_SHORT_STRING,
        _ => false,
    })
}

/// Go's `strconv.Quote`: printable characters as they are, the usual escapes, `\x` for bytes
/// that are not UTF-8, `\u`/`\U` for other non-printable characters.
pub(crate) fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        let (c, n) = match std::str::from_utf8(rest) {
            Ok(s) => match s.chars().next() {
                Some(c) => (Some(c), c.len_utf8()),
                None => break,
            },
            Err(e) if e.valid_up_to() > 0 => {
                let s = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or("");
                match s.chars().next() {
                    Some(c) => (Some(c), c.len_utf8()),
                    None => (None, 1),
                }
            }
            Err(_) => (None, 1),
        };
        match c {
            None => {
                let _ = write!(out, "\\x{:02x}", rest[0]);
            }
            Some(c) => match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0b' => out.push_str("\\v"),
                c if is_print(c) => out.push(c),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if (c as u32) < 0x10000 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            },
        }
        rest = &rest[n..];
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`, closely: graphic characters and the ASCII space.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_ascii() {
        return c.is_ascii_graphic();
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0xad | 0x600..=0x605 | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xf0000..=0x10ffff)
        || (0xd800..=0xdfff).contains(&(c as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_go_quoting() {
        assert_eq!(go_quote(b"hello"), "\"hello\"");
        assert_eq!(go_quote(b"a\"b\\c\n\t"), "\"a\\\"b\\\\c\\n\\t\"");
        assert_eq!(go_quote(b"bytes\x00\xff"), "\"bytes\\x00\\xff\"");
        assert_eq!(go_quote("é日本".as_bytes()), "\"é日本\"");
        assert_eq!(go_quote("\u{200b}".as_bytes()), "\"\\u200b\"");
        assert_eq!(go_quote(b"\x7f\x01"), "\"\\x7f\\x01\"");
    }
}
