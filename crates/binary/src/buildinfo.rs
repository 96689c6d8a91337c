//! Go build information (`runtime/debug.BuildInfo`): the Go version, the main module, its
//! dependencies and the build settings, as `go version -m` prints them. Both encodings are read:
//! pointers to Go strings (before Go 1.18) and inline varint-prefixed strings (1.18+). See
//! `FORMATS.md` §3 and `debug/buildinfo`.

use serde::Serialize;

use crate::container::{Container, Format};
use crate::error::{Error, Result};
use crate::read::{uvarint, word_at};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: u64 = 16;

/// A module: the main one, a dependency, or a replacement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Module {
    /// Module path.
    pub path: String,
    /// Version (`(devel)` for the main module of a local build).
    pub version: String,
    /// go.sum hash, empty when unknown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sum: String,
    /// The module this one was replaced by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace: Option<Box<Module>>,
}

/// A `build key=value` setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildSetting {
    /// Setting name (`-ldflags`, `GOOS`, `vcs.revision`, …).
    pub key: String,
    /// Setting value.
    pub value: String,
}

/// The build information embedded by the Go linker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildInfo {
    /// The Go version that built the binary (`go1.22.3`, possibly with experiment suffixes).
    pub go_version: String,
    /// The main package path.
    pub path: String,
    /// The main module (empty path when the binary was not built in module mode).
    pub main: Module,
    /// Dependencies in the order the linker wrote them.
    pub deps: Vec<Module>,
    /// Build settings in the order the linker wrote them.
    pub settings: Vec<BuildSetting>,
    /// Whether the version and module strings were stored inline (Go 1.18+) or by pointer.
    pub inline_strings: bool,
}

impl BuildInfo {
    /// The value of setting `key`, if any.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// The module lines exactly as `runtime/debug.BuildInfo.String` prints them, without the
    /// `go` line (as `go version -m` prints them, before indenting).
    pub fn module_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.path.is_empty() {
            out.push(format!("path\t{}", self.path));
        }
        fn fmt_mod(out: &mut Vec<String>, word: &str, m: &Module) {
            match &m.replace {
                None => out.push(format!("{word}\t{}\t{}\t{}", m.path, m.version, m.sum)),
                Some(r) => {
                    out.push(format!("{word}\t{}\t{}", m.path, m.version));
                    fmt_mod(out, "=>", r);
                }
            }
        }
        if self.main != Module::default() {
            fmt_mod(&mut out, "mod", &self.main);
        }
        for d in &self.deps {
            fmt_mod(&mut out, "dep", d);
        }
        for s in &self.settings {
            let key = if quote_key(&s.key) {
                go_quote(&s.key)
            } else {
                s.key.clone()
            };
            let value = if quote_value(&s.value) {
                go_quote(&s.value)
            } else {
                s.value.clone()
            };
            out.push(format!("build\t{key}={value}"));
        }
        out
    }
}

fn quote_key(k: &str) -> bool {
    k.is_empty() || k.contains(['=', ' ', '\t', '\r', '\n', '"', '`'])
}

fn quote_value(v: &str) -> bool {
    v.contains([' ', '\t', '\r', '\n', '"', '`'])
}

/// `strconv.Quote` for the characters build settings contain.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `strconv.Unquote` for double-quoted and back-quoted strings.
fn go_unquote(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return None;
    }
    if b[0] == b'`' {
        return (b[b.len() - 1] == b'`' && !s[1..s.len() - 1].contains('`'))
            .then(|| s[1..s.len() - 1].replace('\r', ""));
    }
    if b[0] != b'"' || b[b.len() - 1] != b'"' {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\n' {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => return None,
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).map(|_| chars.next()).collect::<Option<String>>()?;
                let v = u32::from_str_radix(&hex, 16).ok()?;
                if e == 'x' {
                    // A byte; build settings are text, so keep it as a char.
                    out.push(char::from(u8::try_from(v).ok()?));
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            '0'..='7' => {
                let rest: String = (0..2).map(|_| chars.next()).collect::<Option<String>>()?;
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                out.push(char::from(u8::try_from(v).ok()?));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The quoted prefix of `s` (`strconv.QuotedPrefix`), for `"…"` and `` `…` ``.
fn quoted_prefix(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let q = *b.first()?;
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            c if c == q => return Some(&s[..=i]),
            b'\\' if q == b'"' => i += 2,
            b'\n' if q == b'"' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Parses the module text (`debug.ParseBuildInfo`'s format) into `bi`.
fn parse_modinfo(data: &str, bi: &mut BuildInfo) -> Result<()> {
    let err =
        |line: usize, m: String| Error::BuildInfo(format!("module information line {line}: {m}"));
    let module = |elem: &[&str], line: usize| -> Result<Module> {
        if elem.len() != 2 && elem.len() != 3 {
            return Err(err(
                line,
                format!("expected 2 or 3 columns; got {}", elem.len()),
            ));
        }
        Ok(Module {
            path: elem[0].to_string(),
            version: elem[1].to_string(),
            sum: elem.get(2).map(|s| s.to_string()).unwrap_or_default(),
            replace: None,
        })
    };
    // `last` names the module a following `=>` line replaces: None, the main module, or a dep.
    enum Last {
        None,
        Main,
        Dep(usize),
    }
    let mut last = Last::None;
    let mut rest = data;
    let mut line_no = 1;
    while let Some((line, tail)) = rest.split_once('\n') {
        rest = tail;
        if let Some(p) = line.strip_prefix("path\t") {
            bi.path = p.to_string();
        } else if let Some(m) = line.strip_prefix("mod\t") {
            let elem: Vec<&str> = m.split('\t').collect();
            bi.main = module(&elem, line_no)?;
            last = Last::Main;
        } else if let Some(d) = line.strip_prefix("dep\t") {
            let elem: Vec<&str> = d.split('\t').collect();
            bi.deps.push(module(&elem, line_no)?);
            last = Last::Dep(bi.deps.len() - 1);
        } else if let Some(r) = line.strip_prefix("=>\t") {
            let elem: Vec<&str> = r.split('\t').collect();
            if elem.len() != 3 {
                return Err(err(
                    line_no,
                    format!("expected 3 columns for replacement; got {}", elem.len()),
                ));
            }
            let rep = Box::new(Module {
                path: elem[0].to_string(),
                version: elem[1].to_string(),
                sum: elem[2].to_string(),
                replace: None,
            });
            match last {
                Last::None => {
                    return Err(err(
                        line_no,
                        "replacement with no module on previous line".into(),
                    ));
                }
                Last::Main => bi.main.replace = Some(rep),
                Last::Dep(i) => bi.deps[i].replace = Some(rep),
            }
            last = Last::None;
        } else if let Some(kv) = line.strip_prefix("build\t") {
            let (key, raw_value) = match kv.as_bytes().first() {
                None => return Err(err(line_no, "build line missing '='".into())),
                Some(b'=') => return Err(err(line_no, "build line with missing key".into())),
                Some(b'`' | b'"') => {
                    let raw_key = quoted_prefix(kv)
                        .ok_or_else(|| err(line_no, "invalid quoted key in build line".into()))?;
                    if kv.as_bytes().get(raw_key.len()) != Some(&b'=') {
                        return Err(err(
                            line_no,
                            "build line missing '=' after quoted key".into(),
                        ));
                    }
                    let key = go_unquote(raw_key)
                        .ok_or_else(|| err(line_no, "invalid quoted key in build line".into()))?;
                    (key, &kv[raw_key.len() + 1..])
                }
                Some(_) => {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| err(line_no, "build line missing '=' after key".into()))?;
                    (k.to_string(), v)
                }
            };
            let value = match raw_value.as_bytes().first() {
                Some(b'`' | b'"') => go_unquote(raw_value)
                    .ok_or_else(|| err(line_no, "invalid quoted value in build line".into()))?,
                _ => raw_value.to_string(),
            };
            bi.settings.push(BuildSetting { key, value });
        }
        line_no += 1;
    }
    Ok(())
}

/// [`parse_modinfo`] for the fuzz targets.
#[doc(hidden)]
pub fn parse_modinfo_for_fuzz(data: &str, bi: &mut BuildInfo) -> Result<()> {
    parse_modinfo(data, bi)
}

/// The file bytes at virtual address `addr`, up to `len` bytes (fewer where its mapping ends).
fn read_upto<'a>(data: &'a [u8], c: &Container, addr: u64, len: u64) -> Option<&'a [u8]> {
    let (off, avail) = c.va_to_file(addr)?;
    let n = len.min(avail);
    data.get(off as usize..(off + n) as usize)
}

/// Where the linker puts the build info blob: its own section, or the start of the first
/// writable data segment (`debug/buildinfo`'s `DataStart`).
fn data_start(c: &Container) -> Option<(u64, u64)> {
    match c.format {
        Format::Elf => {
            if let Some(s) = c.section(".go.buildinfo") {
                return Some((s.addr, s.size));
            }
            c.mappings
                .iter()
                .find(|m| m.writable && !m.executable)
                .map(|m| (m.addr, m.mem_size))
        }
        Format::MachO => {
            if let Some(s) = c.section("__go_buildinfo") {
                return Some((s.addr, s.size));
            }
            c.mappings
                .iter()
                .find(|m| m.addr != 0 && m.file_size != 0 && m.writable && !m.executable)
                .map(|m| (m.addr, m.mem_size))
        }
        Format::Pe => {
            const INIT_DATA: u64 = 0x40;
            const READ: u64 = 0x4000_0000;
            const WRITE: u64 = 0x8000_0000;
            const ALIGN_32: u64 = 0x60_0000;
            c.sections
                .iter()
                .find(|s| {
                    s.addr != c.image_base
                        && s.file_size != 0
                        && s.raw_flags & !ALIGN_32 == INIT_DATA | READ | WRITE
                })
                .map(|s| (s.addr, s.size))
        }
    }
}

/// Reads the build info of the executable in `data`.
pub(crate) fn read(data: &[u8], c: &Container) -> Result<BuildInfo> {
    let (start, size) = data_start(c).ok_or(Error::NoBuildInfo)?;
    let end = start.checked_add(size).ok_or(Error::NoBuildInfo)?;
    // Search 16-byte aligned positions; the blob is near the start of the region.
    let mut addr = start.next_multiple_of(ALIGN);
    let mut found = None;
    while addr < end {
        let Some(chunk) = read_upto(data, c, addr, (end - addr).min(1 << 20)) else {
            break;
        };
        if chunk.len() < MAGIC.len() {
            break;
        }
        let mut i = 0usize;
        while i + MAGIC.len() <= chunk.len() {
            if &chunk[i..i + MAGIC.len()] == MAGIC {
                found = Some(addr + i as u64);
                break;
            }
            i += ALIGN as usize;
        }
        if found.is_some() {
            break;
        }
        addr += chunk.len() as u64;
        addr = addr.next_multiple_of(ALIGN);
    }
    let at = found.ok_or(Error::NoBuildInfo)?;
    let header = read_upto(data, c, at, HEADER_SIZE as u64)
        .filter(|h| h.len() == HEADER_SIZE)
        .ok_or_else(|| Error::BuildInfo("header truncated".into()))?;
    let ptr_size = header[14];
    let flags = header[15];
    let mut bi = BuildInfo::default();
    let (vers, modinfo) = if flags & 2 != 0 {
        bi.inline_strings = true;
        let (v, next) = inline_string(data, c, at + HEADER_SIZE as u64)?;
        let (m, _) = inline_string(data, c, next)?;
        (v, m)
    } else {
        if flags & 1 != 0 {
            return Err(Error::BigEndian);
        }
        if ptr_size != 4 && ptr_size != 8 {
            return Err(Error::BuildInfo(format!("bad pointer size {ptr_size}")));
        }
        let vp = word_at(header, 16, ptr_size).unwrap_or(0);
        let mp = word_at(header, 16 + ptr_size as usize, ptr_size).unwrap_or(0);
        (
            go_string(data, c, vp, ptr_size).unwrap_or_default(),
            go_string(data, c, mp, ptr_size).unwrap_or_default(),
        )
    };
    if vers.is_empty() {
        return Err(Error::BuildInfo("empty Go version".into()));
    }
    bi.go_version = String::from_utf8_lossy(vers).into_owned();
    let m = modinfo;
    // Strip the 16-byte sentinels around the module text.
    let m = if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        &m[16..m.len() - 16]
    } else {
        &[][..]
    };
    let text = String::from_utf8_lossy(m);
    parse_modinfo(&text, &mut bi)?;
    Ok(bi)
}

fn inline_string<'a>(data: &'a [u8], c: &Container, addr: u64) -> Result<(&'a [u8], u64)> {
    let trunc = || Error::BuildInfo("string truncated".into());
    let b = read_upto(data, c, addr, 10).ok_or_else(trunc)?;
    let mut pos = 0;
    let len = uvarint(b, &mut pos).ok_or_else(trunc)?;
    let s = read_upto(data, c, addr + pos as u64, len).ok_or_else(trunc)?;
    if (s.len() as u64) < len {
        return Err(trunc());
    }
    Ok((s, addr + pos as u64 + len))
}

fn go_string<'a>(data: &'a [u8], c: &Container, addr: u64, ptr_size: u8) -> Option<&'a [u8]> {
    let hdr = read_upto(data, c, addr, 2 * u64::from(ptr_size))?;
    let p = word_at(hdr, 0, ptr_size)?;
    let n = word_at(hdr, ptr_size as usize, ptr_size)?;
    let s = read_upto(data, c, p, n)?;
    (s.len() as u64 == n).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modules_replacements_and_quoted_settings() {
        let text = "path\texample.com/x\nmod\texample.com/x\t(devel)\t\n\
            dep\tgolang.org/x/text\tv0.3.0\n=>\t../text\t(devel)\t\n\
            build\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=1\n";
        let mut bi = BuildInfo::default();
        parse_modinfo(text, &mut bi).unwrap();
        assert_eq!(bi.path, "example.com/x");
        assert_eq!(bi.deps.len(), 1);
        assert_eq!(bi.deps[0].replace.as_ref().unwrap().path, "../text");
        assert_eq!(bi.setting("-ldflags"), Some("-s -w"));
        // Printing gives back the same text.
        let lines = bi.module_lines().join("\n") + "\n";
        assert_eq!(lines, text);
    }

    #[test]
    fn rejects_malformed_lines() {
        let mut bi = BuildInfo::default();
        assert!(parse_modinfo("=>\ta\tb\tc\n", &mut bi).is_err());
        assert!(parse_modinfo("build\t=x\n", &mut bi).is_err());
        assert!(parse_modinfo("mod\ta\n", &mut bi).is_err());
    }
}
