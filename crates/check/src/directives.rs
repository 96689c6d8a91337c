//! `//goscope:` directives in a Go module's source: the same intents as the policy file,
//! written next to the code.
//!
//! ```go
//! //goscope:noalloc
//! //goscope:nobce
//! func encodeRow(dst []byte, r *Row) []byte { ... }
//! ```
//!
//! A directive belongs to the `func` declaration that follows it in the same comment block.
//! The module's Go files are scanned (tests, `vendor/`, `testdata/`, hidden directories and
//! nested modules skipped); each directive is later matched to the binary's functions through
//! file:line (the declaration's line is the function's start line in the pclntab).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
use crate::policy::Rule;

/// The directives goscope knows, and the rule each asserts.
pub const DIRECTIVES: [(&str, Rule); 4] = [
    ("noalloc", Rule::NoAlloc),
    ("inline", Rule::MustInline),
    ("nobce", Rule::NoBoundsCheck),
    ("nolock", Rule::NoLock),
];

/// A Go module on disk.
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    /// The directory holding go.mod.
    pub root: PathBuf,
    /// The module path (`example.com/app`).
    pub path: String,
}

impl Module {
    /// The module whose go.mod is in `dir` or the nearest directory above it.
    pub fn find(dir: &Path) -> Result<Module, Error> {
        let start = dir.canonicalize().map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let mut d = Some(start.as_path());
        while let Some(cur) = d {
            let gomod = cur.join("go.mod");
            if let Ok(text) = std::fs::read_to_string(&gomod) {
                let path = module_path(&text).ok_or_else(|| {
                    Error::Policy(format!("{}: no `module` line", gomod.display()))
                })?;
                return Ok(Module {
                    root: cur.to_path_buf(),
                    path,
                });
            }
            d = cur.parent();
        }
        Err(Error::Policy(format!(
            "no go.mod in {} or above it: pass the module with --module DIR",
            dir.display()
        )))
    }

    /// The path of `file` (as the binary records it) relative to the module root, if it is in
    /// the module: an absolute path under the root, or `MODULE/PATH/...` as `-trimpath`
    /// records it.
    pub fn relative(&self, file: &str) -> Option<String> {
        let root = self.root.to_string_lossy();
        if let Some(rest) = file.strip_prefix(root.as_ref())
            && let Some(rest) = rest.strip_prefix('/')
        {
            return Some(rest.to_string());
        }
        if let Some(rest) = file.strip_prefix(self.path.as_str())
            && let Some(rest) = rest.strip_prefix('/')
        {
            return Some(rest.to_string());
        }
        None
    }
}

fn module_path(gomod: &str) -> Option<String> {
    gomod.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("module")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let p = rest.trim().trim_matches('"');
        (!p.is_empty()).then(|| p.to_string())
    })
}

/// One directive on one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// The rule it asserts.
    pub rule: Rule,
    /// As written, `//goscope:noalloc`.
    pub text: String,
    /// The source file, relative to the module root (`/`-separated).
    pub file: String,
    /// Line of the directive.
    pub line: u32,
    /// Line of the `func` declaration it belongs to.
    pub func_line: u32,
    /// The function's name as the binary spells it (type arguments as `[...]`):
    /// `example.com/app/codec.(*Enc).Row`, `main.hash`.
    pub function: String,
}

/// Everything found in a module.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scan {
    /// The directives.
    pub directives: Vec<Directive>,
    /// Misplaced or unknown directives.
    pub warnings: Vec<String>,
}

/// Scans the Go files of `module`.
pub fn scan(module: &Module) -> Result<Scan, Error> {
    let mut files = Vec::new();
    collect_go_files(&module.root, &module.root, &mut files)?;
    files.sort();
    let mut scan = Scan::default();
    for rel in files {
        let path = module.root.join(&rel);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        let rel = rel.to_string_lossy().replace('\\', "/");
        scan_file(module, &rel, &text, &mut scan);
    }
    Ok(scan)
}

fn collect_go_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if name.starts_with('.')
                || name.starts_with('_')
                || name == "vendor"
                || name == "testdata"
                || p.join("go.mod").exists()
            {
                continue;
            }
            collect_go_files(root, &p, out)?;
        } else if ft.is_file() && name.ends_with(".go") && !name.ends_with("_test.go") {
            if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
    Ok(())
}

/// Scans one file's text; `rel` is its module-relative path.
pub fn scan_file(module: &Module, rel: &str, text: &str, scan: &mut Scan) {
    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
    let mut package: Option<String> = None;
    let mut pending: Vec<(Rule, String, u32)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i as u32 + 1;
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("//goscope:") {
            let word = rest.split_whitespace().next().unwrap_or("");
            match DIRECTIVES.iter().find(|(w, _)| *w == word) {
                Some(&(_, rule)) => pending.push((rule, format!("//goscope:{word}"), lineno)),
                None => scan.warnings.push(format!(
                    "{rel}:{lineno}: unknown directive //goscope:{word} (known: noalloc, inline, nobce, nolock)"
                )),
            }
            continue;
        }
        if line.starts_with("//") {
            continue;
        }
        if package.is_none()
            && let Some(p) = line.strip_prefix("package ")
        {
            package = Some(p.split_whitespace().next().unwrap_or("").to_string());
        }
        if pending.is_empty() {
            continue;
        }
        let decl = line
            .strip_prefix("func")
            .filter(|r| r.starts_with([' ', '(']));
        match (decl.and_then(func_name), &package) {
            (Some(name), Some(pkg)) => {
                let pkg_path = if pkg == "main" {
                    "main".to_string()
                } else if dir.is_empty() {
                    module.path.clone()
                } else {
                    format!("{}/{dir}", module.path)
                };
                for (rule, text, l) in pending.drain(..) {
                    scan.directives.push(Directive {
                        rule,
                        text,
                        file: rel.to_string(),
                        line: l,
                        func_line: lineno,
                        function: format!("{pkg_path}.{name}"),
                    });
                }
            }
            _ => {
                for (_, text, l) in pending.drain(..) {
                    scan.warnings.push(format!(
                        "{rel}:{l}: {text} is not in the comment just above a func declaration; ignored"
                    ));
                }
            }
        }
    }
    for (_, text, l) in pending {
        scan.warnings.push(format!(
            "{rel}:{l}: {text} is not followed by a func declaration; ignored"
        ));
    }
}

/// The function part of a symbol name from the text after `func`: `Name`, `T.Name`,
/// `(*T).Name`, `Name[...]`, `(*T[...]).Name`.
pub(crate) fn func_name(decl: &str) -> Option<String> {
    let s = decl.trim_start();
    let (recv, rest) = if let Some(r) = s.strip_prefix('(') {
        let close = matching(r, b'(', b')')?;
        (Some(r[..close].trim()), r[close + 1..].trim_start())
    } else {
        (None, s)
    };
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    if name.is_empty() {
        return None;
    }
    let generic = rest[end..].starts_with('[');
    let mut out = String::new();
    if let Some(recv) = recv {
        // Drop the receiver's name: `r *T`, `r T[K]`; but `*T`, `T[K, V]` have none.
        let bracket = recv.find('[').unwrap_or(recv.len());
        let ty = match recv.find(char::is_whitespace) {
            Some(sp) if sp < bracket && !recv.starts_with('*') => recv[sp..].trim(),
            _ => recv,
        };
        let (ptr, ty) = match ty.strip_prefix('*') {
            Some(t) => (true, t.trim()),
            None => (false, ty),
        };
        let base = match ty.find('[') {
            Some(i) => format!("{}[...]", &ty[..i]),
            None => ty.to_string(),
        };
        if ptr {
            out.push_str(&format!("(*{base})."));
        } else {
            out.push_str(&base);
            out.push('.');
        }
    }
    out.push_str(name);
    if generic {
        out.push_str("[...]");
    }
    Some(out)
}

/// The index of the byte closing an already-opened bracket.
fn matching(s: &str, open: u8, close: u8) -> Option<usize> {
    let mut depth = 1usize;
    for (i, b) in s.bytes().enumerate() {
        if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (decl, want) in [
            (" hash(x int) int {", "hash"),
            (" (e *Enc) Row(r Row) {", "(*Enc).Row"),
            (" (e Enc) Row() {", "Enc.Row"),
            (" (*Enc) Row() {", "(*Enc).Row"),
            (" Sum[T int | float64](s []T) T {", "Sum[...]"),
            (" (m *Map[K, V]) Get(k K) V {", "(*Map[...]).Get"),
            (" (m Map[K, V]) Len() int {", "Map[...].Len"),
            (" (Map[K, V]) Len() int {", "Map[...].Len"),
            ("(p Point) String() string {", "Point.String"),
        ] {
            assert_eq!(func_name(decl).as_deref(), Some(want), "{decl}");
        }
        assert_eq!(func_name(" (x"), None);
    }

    #[test]
    fn directives_attach_to_the_next_func() {
        let m = Module {
            root: PathBuf::from("/m"),
            path: "example.com/m".into(),
        };
        let src = "package codec\n\n// Row encodes.\n//\n//goscope:noalloc\n//goscope:nobce\n//go:noinline\nfunc (e *Enc) Row() {}\n\n//goscope:inline\nvar x = 1\n//goscope:bogus\nfunc f() {}\n//goscope:nolock\n";
        let mut s = Scan::default();
        scan_file(&m, "codec/row.go", src, &mut s);
        assert_eq!(s.directives.len(), 2);
        assert_eq!(s.directives[0].function, "example.com/m/codec.(*Enc).Row");
        assert_eq!(s.directives[0].rule, Rule::NoAlloc);
        assert_eq!(s.directives[0].line, 5);
        assert_eq!(s.directives[0].func_line, 8);
        assert_eq!(s.directives[1].rule, Rule::NoBoundsCheck);
        assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
        let mut s = Scan::default();
        scan_file(
            &m,
            "main.go",
            "package main\n//goscope:inline\nfunc h() {}\n",
            &mut s,
        );
        assert_eq!(s.directives[0].function, "main.h");
        assert_eq!(
            m.relative("/m/codec/row.go").as_deref(),
            Some("codec/row.go")
        );
        assert_eq!(
            m.relative("example.com/m/codec/row.go").as_deref(),
            Some("codec/row.go")
        );
        assert_eq!(m.relative("/usr/lib/go/src/fmt/print.go"), None);
    }
}
