//! `goscope opt`: the compiler's optimization decisions — escapes, inlining, bounds and nil
//! checks — read from its JSON optimization log (`-gcflags=-json=0,file://DIR`, see
//! `cmd/compile/internal/logopt`) or from `-m=2` text, each tied to the instructions of the
//! linked binary it produced (an "escapes to heap" to the `runtime.newobject` call at that
//! line), or reported as having none, with the reason.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use goscope_binary::Binary;
use goscope_disasm::annotate::Kind;
use goscope_disasm::classes::Class;
use goscope_disasm::listing::Options;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::directives::func_name;
use crate::pattern::source_name;

/// What a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// A value escapes to the heap (or is moved there).
    Escape,
    /// A parameter leaks (where its value flows; allocates nothing itself).
    Leak,
    /// A function can be inlined.
    CanInline,
    /// A function cannot be inlined, with the reason.
    CannotInline,
    /// A call was inlined (`-m` text only).
    InlinedCall,
    /// A call was not inlined, with the reason.
    CallNotInlined,
    /// A bounds check stays.
    BoundsCheck,
    /// A nil check stays.
    NilCheck,
    /// Anything else the compiler logged (copies).
    Other,
}

/// One compiler decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// What it is about.
    pub kind: DecisionKind,
    /// The compiler's code (`escapes`, `cannotInlineFunction`, `isInBounds`) or, from `-m`
    /// text, `m`.
    pub code: String,
    /// The package compiled.
    pub package: String,
    /// Source file (absolute, as the compiler saw it).
    pub file: String,
    /// Line.
    pub line: u32,
    /// Column.
    pub column: u32,
    /// The compiler's message (the reason, for inlining failures).
    pub message: String,
    /// When the decision is inside inlined code (`file:line:column` is then inside the inlined
    /// function): the call sites it was inlined at, innermost first (the call of the function
    /// holding the decision, then the call of that one, up to the compiled function's body).
    /// `-m` text does not give them: there the position is the outermost call site.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inlined_at: Vec<SourcePos>,
    /// The compiler's explanation (escape flows).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explanation: Vec<String>,
}

/// A source position.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SourcePos {
    /// Source file.
    pub file: String,
    /// Line.
    pub line: u32,
    /// Column.
    pub column: u32,
}

impl Decision {
    /// The position of the decision's code: where its instructions are.
    pub fn position(&self) -> (&str, u32) {
        (self.file.as_str(), self.line)
    }
}

fn kind_of_code(code: &str) -> DecisionKind {
    match code {
        "escape" | "escapes" => DecisionKind::Escape,
        "leak" => DecisionKind::Leak,
        "canInlineFunction" => DecisionKind::CanInline,
        "cannotInlineFunction" => DecisionKind::CannotInline,
        "cannotInlineCall" => DecisionKind::CallNotInlined,
        "isInBounds" | "isSliceInBounds" => DecisionKind::BoundsCheck,
        "nilcheck" => DecisionKind::NilCheck,
        _ => DecisionKind::Other,
    }
}

#[derive(Deserialize)]
struct Header {
    package: String,
    #[serde(default)]
    file: String,
}

#[derive(Deserialize)]
struct Pos {
    line: u32,
    character: u32,
}

#[derive(Deserialize)]
struct Range {
    start: Pos,
}

#[derive(Deserialize)]
struct Loc {
    uri: String,
    range: Range,
}

#[derive(Deserialize)]
struct Related {
    location: Loc,
    message: String,
}

#[derive(Deserialize)]
struct Diag {
    range: Range,
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "relatedInformation")]
    related: Vec<Related>,
}

fn uri_path(uri: &str) -> String {
    let p = uri.strip_prefix("file://").unwrap_or(uri);
    let mut out = Vec::with_capacity(p.len());
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = p.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one JSON log file (a header line, then one LSP diagnostic per line).
pub fn parse_json_log(name: &str, text: &str) -> Result<Vec<Decision>, Error> {
    let bad = |msg: String| Error::OptLog {
        file: name.to_string(),
        msg,
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Header = match lines.next() {
        Some(l) => serde_json::from_str(l).map_err(|e| bad(format!("header: {e}")))?,
        None => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for (i, l) in lines.enumerate() {
        let d: Diag = serde_json::from_str(l).map_err(|e| bad(format!("record {}: {e}", i + 2)))?;
        // The diagnostic's range is the outermost position; the `inlineLoc` entries right
        // after it are the positions inside the inlined calls, outermost first, down to where
        // the decision's code is. Later `inlineLoc` entries qualify the explanation line before
        // them (logopt's appendInlinedPos), not the decision.
        let mut chain = vec![SourcePos {
            file: header.file.clone(),
            line: d.range.start.line,
            column: d.range.start.character,
        }];
        let mut explanation = Vec::new();
        for r in d.related {
            if r.message == "inlineLoc" {
                if explanation.is_empty() {
                    chain.push(SourcePos {
                        file: uri_path(&r.location.uri),
                        line: r.location.range.start.line,
                        column: r.location.range.start.character,
                    });
                }
            } else {
                explanation.push(r.message);
            }
        }
        let here = chain.pop().unwrap_or(SourcePos {
            file: header.file.clone(),
            line: d.range.start.line,
            column: d.range.start.character,
        });
        chain.reverse();
        let inlined_at = chain;
        let message = if !d.message.is_empty() {
            d.message
        } else {
            match d.code.as_str() {
                "escape" => "heap allocation".to_string(),
                "isInBounds" => "index bounds check remains".to_string(),
                "isSliceInBounds" => "slice bounds check remains".to_string(),
                "nilcheck" => "nil check remains".to_string(),
                _ => String::new(),
            }
        };
        out.push(Decision {
            kind: kind_of_code(&d.code),
            code: d.code,
            package: header.package.clone(),
            file: here.file,
            line: here.line,
            column: here.column,
            message,
            inlined_at,
            explanation,
        });
    }
    Ok(merge_duplicates(out))
}

/// One finding per decision: the compiler logs each escape twice at one position (once with
/// the expression and its flow, once bare); the two become one, with the expression.
fn merge_duplicates(decisions: Vec<Decision>) -> Vec<Decision> {
    let mut out: Vec<Decision> = Vec::with_capacity(decisions.len());
    let mut seen: HashMap<(DecisionKind, String, u32, u32, Vec<SourcePos>), usize> = HashMap::new();
    for d in decisions {
        let key = (
            d.kind,
            d.file.clone(),
            d.line,
            d.column,
            d.inlined_at.clone(),
        );
        if d.kind == DecisionKind::Escape
            && let Some(&i) = seen.get(&key)
        {
            let first = &mut out[i];
            let bare = |m: &str| m.is_empty() || m == "heap allocation";
            if bare(&first.message) {
                first.message = d.message;
            } else if !bare(&d.message) && first.message != d.message {
                // Two different escapes at one position stay two findings.
                out.push(d);
                continue;
            }
            first.explanation.extend(d.explanation);
            continue;
        }
        seen.insert(key, out.len());
        out.push(d);
    }
    out
}

/// Reads every log under a `-json=0,file://DIR` directory.
pub fn read_json_dir(dir: &Path) -> Result<Vec<Decision>, Error> {
    let mut out = Vec::new();
    let io = |path: &Path, e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut pkgs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    pkgs.sort();
    for pkg in pkgs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&pkg)
            .map_err(|e| io(&pkg, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| io(&f, e))?;
            out.extend(parse_json_log(&f.display().to_string(), &text)?);
        }
    }
    Ok(out)
}

/// Parses `-m=2` text (with `-d=ssa/check_bce/debug=1` for bounds checks). Relative paths are
/// resolved against `dir`, where `go build` ran. Explanations (indented lines, lines ending
/// with `:`) are attached to the decision that follows on the same position.
pub fn parse_m2(text: &str, dir: &Path) -> Vec<Decision> {
    let mut out = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for l in text.lines() {
        if l.starts_with('#') {
            continue;
        }
        let mut it = l.splitn(4, ':');
        let (Some(file), Some(line), Some(col), Some(msg)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let (Ok(line), Ok(col)) = (line.parse::<u32>(), col.parse::<u32>()) else {
            continue;
        };
        let msg = msg.strip_prefix(' ').unwrap_or(msg);
        if msg.starts_with(' ') || msg.ends_with(':') {
            pending.push(msg.trim().to_string());
            continue;
        }
        let (kind, message) = if let Some(rest) = msg.strip_prefix("can inline ") {
            (DecisionKind::CanInline, rest.to_string())
        } else if let Some(rest) = msg.strip_prefix("cannot inline ") {
            (DecisionKind::CannotInline, rest.to_string())
        } else if let Some(rest) = msg.strip_prefix("inlining call to ") {
            (DecisionKind::InlinedCall, rest.to_string())
        } else if msg.ends_with("escapes to heap") || msg.starts_with("moved to heap: ") {
            (DecisionKind::Escape, msg.to_string())
        } else if msg.starts_with("leaking param") {
            (DecisionKind::Leak, msg.to_string())
        } else if msg == "Found IsInBounds" || msg == "Found IsSliceInBounds" {
            (DecisionKind::BoundsCheck, msg.to_string())
        } else {
            pending.clear();
            continue;
        };
        let path = Path::new(file);
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            dir.join(path.strip_prefix("./").unwrap_or(path))
        };
        out.push(Decision {
            kind,
            code: "m".to_string(),
            package: String::new(),
            file: abs.to_string_lossy().into_owned(),
            line,
            column: col,
            message,
            inlined_at: Vec::new(),
            explanation: std::mem::take(&mut pending),
        });
    }
    out.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.kind).cmp(&(&b.file, b.line, b.column, b.kind))
    });
    out.dedup_by(|a, b| {
        a.file == b.file && a.line == b.line && a.kind == b.kind && a.message == b.message
    });
    out
}

/// An instruction a decision is tied to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TiedInsn {
    /// The function holding it.
    pub function: String,
    /// Its address.
    #[serde(serialize_with = "hex")]
    pub address: u64,
    /// Its text, in Go syntax.
    pub text: String,
    /// The inline chain's functions, innermost first (empty when not inlined).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<String>,
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// A decision and what it became in the binary.
#[derive(Debug, Clone, Serialize)]
pub struct Tied {
    /// The decision.
    #[serde(flatten)]
    pub decision: Decision,
    /// The function the decision is about, when the log does not say (inlining decisions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The instructions it produced (at most [`MAX_TIED`]).
    pub instructions: Vec<TiedInsn>,
    /// How many instructions in all.
    pub count: usize,
    /// Why no instruction is tied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Most instructions listed per decision.
pub const MAX_TIED: usize = 8;

/// The result of `goscope opt`.
#[derive(Debug, Clone, Serialize)]
pub struct OptReport {
    /// Where the decisions came from: `json` or `m2`.
    pub source: String,
    /// The decisions.
    pub decisions: Vec<Tied>,
}

#[derive(Clone)]
struct IndexedInsn {
    function: String,
    address: u64,
    text: String,
    /// Innermost first.
    frames: Vec<(String, String, i32)>,
    classes: Vec<Class>,
    nil_check: bool,
}

/// Normalizes a file name for matching the binary's and the log's spellings.
fn norm(file: &str) -> String {
    file.replace('\\', "/")
}

/// Ties `decisions` to the instructions of `bin`.
pub fn tie(bin: &Binary, mut decisions: Vec<Decision>, source: &str) -> Result<OptReport, Error> {
    let prog = goscope_disasm::listing::Program::new(bin)?;
    // Declarations of the binary's functions: (file, line) → names, and file → package (the
    // -m text does not name packages).
    let mut decls: HashMap<(String, i32), Vec<String>> = HashMap::new();
    let mut file_pkg: HashMap<String, String> = HashMap::new();
    for f in prog.functions() {
        let Some((file, line)) = crate::facts::declaration(bin, f) else {
            continue;
        };
        let file = norm(&file);
        let name = source_name(&f.name).into_owned();
        file_pkg
            .entry(file.clone())
            .or_insert_with(|| crate::pattern::package_of(&name).into_owned());
        decls.entry((file, line)).or_default().push(name);
    }
    for d in &mut decisions {
        if d.package.is_empty()
            && let Some(p) = file_pkg.get(&norm(&d.file))
        {
            d.package = p.clone();
        }
    }
    let files: HashSet<String> = decisions
        .iter()
        .flat_map(|d| {
            std::iter::once(norm(&d.file)).chain(d.inlined_at.iter().map(|p| norm(&p.file)))
        })
        .collect();
    // Only functions whose file table mentions a logged file are listed.
    let tab = bin.pclntab();
    let wanted: Vec<&goscope_disasm::listing::FuncSym> = prog
        .functions()
        .par_iter()
        .filter(|f| {
            let Some(func) = bin.func_at(f.addr).filter(|x| x.entry() == f.addr) else {
                return false;
            };
            let Some(it) = tab.pcvalue_iter(func.pcfile(), func.entry()) else {
                return false;
            };
            let mut seen = HashSet::new();
            it.take(1 << 16).any(|(_, _, fno)| {
                seen.insert(fno)
                    && tab
                        .file_name(func.cu_offset(), fno)
                        .is_some_and(|n| files.contains(&norm(&String::from_utf8_lossy(n))))
            })
        })
        .collect();
    let opts = Options {
        annotate: true,
        inline: true,
        ..Options::default()
    };
    let insns: Vec<IndexedInsn> = wanted
        .par_iter()
        .flat_map_iter(|f| {
            let l = prog.list(f, u64::MAX, &opts);
            l.insns
                .into_iter()
                .map(|i| IndexedInsn {
                    function: f.name.clone(),
                    address: i.address,
                    text: i.text,
                    frames: i
                        .inline
                        .iter()
                        .map(|fr| (fr.function.to_string(), norm(&fr.file), fr.line))
                        .collect(),
                    classes: i
                        .annotations
                        .iter()
                        .filter_map(|a| match a.kind {
                            Kind::Call(c) => Some(c),
                            _ => None,
                        })
                        .collect(),
                    nil_check: i.annotations.iter().any(|a| a.kind == Kind::NilCheck),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // Instructions by their innermost file:line, by inline call site, and by inlined function.
    let mut at_line: HashMap<(String, i32), Vec<usize>> = HashMap::new();
    let mut at_call_site: HashMap<(String, i32), Vec<usize>> = HashMap::new();
    let mut by_inlined: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, x) in insns.iter().enumerate() {
        if let Some((_, file, line)) = x.frames.first() {
            at_line.entry((file.clone(), *line)).or_default().push(i);
        }
        for w in x.frames.windows(2) {
            at_call_site
                .entry((w[1].1.clone(), w[1].2))
                .or_default()
                .push(i);
            by_inlined
                .entry(source_name(&w[0].0).into_owned())
                .or_default()
                .push(i);
        }
    }
    let bodies: HashMap<String, u64> = prog
        .functions()
        .iter()
        .map(|f| (source_name(&f.name).into_owned(), f.addr))
        .collect();
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    let mut out = Vec::with_capacity(decisions.len());
    for d in decisions {
        let (file, line) = d.position();
        let key = (norm(file), line as i32);
        let at_this_line: &[usize] = at_line.get(&key).map_or(&[], |v| v.as_slice());
        // A decision inside inlined code is about the copy inlined at its call sites: the
        // instructions whose inline chain passes through those sites, in order.
        let copies: Vec<usize>;
        let here: &[usize] = if d.inlined_at.is_empty() {
            at_this_line
        } else {
            copies = at_this_line
                .iter()
                .copied()
                .filter(|&i| {
                    let frames = &insns[i].frames;
                    frames.len() > d.inlined_at.len()
                        && d.inlined_at
                            .iter()
                            .zip(&frames[1..])
                            .all(|(site, f)| f.2 == site.line as i32 && f.1 == norm(&site.file))
                })
                .collect();
            &copies
        };
        let mut function = None;
        let (hits, reason): (Vec<usize>, Option<String>) = match d.kind {
            DecisionKind::Escape => {
                let alloc = |i: &usize| insns[*i].classes.contains(&Class::Alloc);
                let mut v: Vec<usize> = here.iter().copied().filter(alloc).collect();
                if d.code == "m" {
                    // -m text gives the outermost position of inlined code: the allocations
                    // of the calls inlined at this line are the decision's too.
                    v.extend(
                        at_call_site
                            .get(&key)
                            .into_iter()
                            .flatten()
                            .filter(|i| alloc(i)),
                    );
                    v.sort_unstable();
                    v.dedup();
                }
                // Tied by column as well as by line: of the allocations at the line, those
                // of the allocator the escaping expression calls.
                if let Some(family) = allocators_of(&d.message) {
                    let mine: Vec<usize> = v
                        .iter()
                        .copied()
                        .filter(|&i| {
                            call_target(&insns[i].text)
                                .and_then(goscope_disasm::classes::runtime_base_name)
                                .is_some_and(|b| family.iter().any(|p| b.starts_with(p)))
                        })
                        .collect();
                    if !mine.is_empty() {
                        v = mine;
                    }
                }
                let why = if here.is_empty() {
                    no_code(file, line)
                } else {
                    "no allocation call at this line: the value is allocated where it is \
                     created (another line), or the escape was undone after inlining into a \
                     caller where it does not escape"
                        .to_string()
                };
                (v, Some(why))
            }
            DecisionKind::Leak => (
                Vec::new(),
                Some(
                    "a leak says where a parameter's value flows; it allocates nothing \
                     itself (callers allocate what they pass, at their call sites)"
                        .to_string(),
                ),
            ),
            DecisionKind::BoundsCheck => {
                let v: Vec<usize> = here
                    .iter()
                    .copied()
                    .filter(|&i| insns[i].classes.contains(&Class::BoundsCheck))
                    .collect();
                let why = if here.is_empty() {
                    no_code(file, line)
                } else {
                    "no bounds-check panic call at this line: a later pass proved or merged \
                     the check (its failure path is shared with another check)"
                        .to_string()
                };
                (v, Some(why))
            }
            DecisionKind::NilCheck => {
                let v: Vec<usize> = here
                    .iter()
                    .copied()
                    .filter(|&i| insns[i].nil_check)
                    .collect();
                if v.is_empty() && !here.is_empty() {
                    // Implicit: a memory access at this line faults on nil.
                    (here.iter().copied().take(1).collect(), None)
                } else {
                    (v, Some(no_code(file, line)))
                }
            }
            DecisionKind::InlinedCall => {
                let callee = d.message.trim().to_string();
                let v: Vec<usize> = at_call_site
                    .get(&key)
                    .map(|v| {
                        v.iter()
                            .copied()
                            .filter(|&i| {
                                insns[i]
                                    .frames
                                    .iter()
                                    .any(|f| short(&source_name(&f.0)) == short(&callee))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                function = Some(callee);
                (
                    v,
                    Some(
                        "the inlined body left no instruction of its own (constant-folded, \
                         or merged into the caller's lines), or the caller was not linked"
                            .to_string(),
                    ),
                )
            }
            DecisionKind::CallNotInlined => {
                // The call that stayed a call: the CALLs at this line to the callee the message
                // names; else the indirect CALLs there (a closure called through its variable
                // is called through its funcval); else any CALL there when the message names
                // no callee we can read.
                let callee = not_inlined_callee(&d.message);
                let calls: Vec<usize> = here
                    .iter()
                    .copied()
                    .filter(|&i| insns[i].text.starts_with("CALL "))
                    .collect();
                let named: Vec<usize> = callee.as_ref().map_or_else(Vec::new, |c| {
                    let target = format!(" {c}(SB)");
                    calls
                        .iter()
                        .copied()
                        .filter(|&i| insns[i].text.contains(&target))
                        .collect()
                });
                let v: Vec<usize> = if !named.is_empty() {
                    named
                } else if callee.is_some() {
                    calls
                        .into_iter()
                        .filter(|&i| !insns[i].text.contains("(SB)"))
                        .collect()
                } else {
                    calls
                };
                let why = if here.is_empty() {
                    no_code(file, line)
                } else {
                    format!(
                        "no CALL {} at this line: the call was removed (dead code) or turned into \
                         a jump (tail call)",
                        callee.as_deref().unwrap_or("instruction")
                    )
                };
                function = callee;
                (v, Some(why))
            }
            DecisionKind::CanInline | DecisionKind::CannotInline => {
                let name = match d.kind {
                    _ if d.code == "m" => d.message.split([' ', ':']).next().map(|s| s.to_string()),
                    _ => source_func_name(&mut sources, &d),
                };
                let mut qualified = name.map(|n| qualify(&d, &n));
                if qualified.is_none() {
                    // A function literal: the closure declared at this line, or the closures
                    // of the enclosing function when none has a body.
                    qualified = decls
                        .get(&(norm(&d.file), d.line as i32))
                        .and_then(|v| v.iter().find(|n| n.contains(".func")).cloned())
                        .or_else(|| {
                            let outer = enclosing_func_name(&mut sources, &d)?;
                            let prefix = format!("{}.func", qualify(&d, &outer));
                            by_inlined.keys().find(|k| k.starts_with(&prefix)).cloned()
                        });
                }
                let mut v = Vec::new();
                let why;
                if let Some(q) = &qualified {
                    if d.kind == DecisionKind::CanInline {
                        v.extend(by_inlined.get(q).into_iter().flatten().copied());
                    }
                    if let Some(&entry) = bodies.get(q) {
                        if let Some(i) = insns.iter().position(|x| x.address == entry) {
                            v.push(i);
                        }
                    }
                    why = Some(if d.kind == DecisionKind::CanInline {
                        format!(
                            "{q} is neither inlined anywhere nor linked: no call to it survives"
                        )
                    } else {
                        format!(
                            "{q} is not in the binary: nothing calls it (the linker removed it)"
                        )
                    });
                } else {
                    why = Some(
                        "a function literal whose code was inlined and merged into its \
                         callers' lines (no closure of the binary is declared at this line)"
                            .to_string(),
                    );
                }
                function = qualified;
                (v, why)
            }
            DecisionKind::Other => (here.to_vec(), Some(no_code(file, line))),
        };
        let count = hits.len();
        let mut seen = BTreeSet::new();
        let instructions: Vec<TiedInsn> = hits
            .iter()
            .filter(|&&i| seen.insert(insns[i].address))
            .take(MAX_TIED)
            .map(|&i| {
                let x = &insns[i];
                TiedInsn {
                    function: source_name(&x.function).into_owned(),
                    address: x.address,
                    text: x.text.clone(),
                    inline: if x.frames.len() > 1 {
                        x.frames.iter().map(|f| f.0.clone()).collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        out.push(Tied {
            reason: if instructions.is_empty() {
                reason
            } else {
                None
            },
            decision: d,
            function,
            instructions,
            count,
        });
    }
    Ok(OptReport {
        source: source.to_string(),
        decisions: out,
    })
}

/// The target of a direct `CALL` in Go syntax (`CALL runtime.newobject(SB)`).
fn call_target(text: &str) -> Option<&str> {
    text.strip_prefix("CALL ")?.strip_suffix("(SB)")
}

/// The runtime allocators (base-name prefixes) the expression of an escape message calls, when
/// its form says (`&T{...}`, `name + "!"`, `append(s, v)`, `make([]T, n)`, `moved to heap: x`,
/// a function literal, a conversion); `None` for a value converted to an interface or any
/// other form, which any allocation at its line may be.
fn allocators_of(message: &str) -> Option<&'static [&'static str]> {
    let expr = message
        .strip_suffix(" escapes to heap")
        .unwrap_or(message)
        .trim();
    const OBJECT: &[&str] = &["newobject", "mallocgc", "newarray"];
    Some(
        if expr.starts_with("moved to heap:")
            || expr.starts_with("func literal")
            || expr.starts_with('&')
            || expr.starts_with("new(")
        {
            OBJECT
        } else if expr.starts_with("append(") || expr == "append" {
            &["growslice", "moveSlice"]
        } else if expr.starts_with("make(") {
            &[
                "makeslice",
                "makemap",
                "makechan",
                "mallocgc",
                "newarray",
                "newobject",
            ]
        } else if expr.starts_with("string(") {
            &["slicebytetostring", "slicerunetostring", "intstring"]
        } else if expr.starts_with("([]byte)(") || expr.starts_with("[]byte(") {
            &["stringtoslicebyte", "rawbyteslice"]
        } else if expr.starts_with("([]rune)(") || expr.starts_with("[]rune(") {
            &["stringtoslicerune", "rawruneslice"]
        } else if expr.contains(" + ") {
            &["concatstring", "concatbyte", "rawstring"]
        } else {
            return None;
        },
    )
}

fn no_code(file: &str, line: u32) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    format!(
        "no instruction of the binary comes from {base}:{line}: the code was removed (dead, \
         constant-folded) or its function is not linked"
    )
}

/// The last element of a qualified name (`pkg.(*T).M` → `(*T).M`, `fmt.Println` → `Println`).
fn short(name: &str) -> &str {
    let tail = name.rsplit('/').next().unwrap_or(name);
    tail.split_once('.').map_or(tail, |(_, r)| r)
}

/// The callee a `cannotInlineCall` message names, in the linker's spelling (the compiler writes
/// the package path and function name: `cost 192 of example.com/m.F.func1 exceeds max caller
/// cost 160`, `example.com/m.F cannot be inlined`, `repeated recursive cycle to …`,
/// `recursive call to …`, `call to runtime function … in instrumented build`, …).
fn not_inlined_callee(message: &str) -> Option<String> {
    let m = message.trim();
    let name = if let Some(rest) = m.strip_prefix("cost ") {
        // "cost N of NAME exceeds max [large ]caller cost M"
        let rest = rest.split_once(" of ")?.1;
        rest.rsplit_once(" exceeds max ")?.0
    } else if let Some(name) = m.strip_suffix(" cannot be inlined") {
        name
    } else if let Some(rest) = m
        .strip_prefix("repeated recursive cycle to ")
        .or_else(|| m.strip_prefix("recursive call to "))
    {
        rest
    } else if let Some((_, rest)) = m.split_once(" function ") {
        // "call to runtime function NAME in instrumented build", "call to into \"no-race\"
        // package function NAME in race build", "… package function NAME in -d=checkptr build"
        rest.split_once(" in ")?.0
    } else {
        return None;
    };
    let name = name.trim();
    (!name.is_empty() && !name.contains(' ')).then(|| name.to_string())
}

fn qualify(d: &Decision, name: &str) -> String {
    if name.contains('/') || d.package.is_empty() {
        return name.to_string();
    }
    if name.starts_with(&format!("{}.", d.package)) {
        return name.to_string();
    }
    format!("{}.{name}", d.package)
}

/// The top-level function whose body holds the decision's line, read from the source.
fn enclosing_func_name(cache: &mut HashMap<String, Vec<String>>, d: &Decision) -> Option<String> {
    let lines = cache.entry(d.file.clone()).or_insert_with(|| {
        std::fs::read_to_string(&d.file)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    });
    let upto = (d.line as usize).min(lines.len());
    lines[..upto]
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("func").filter(|r| r.starts_with([' ', '('])))
        .and_then(func_name)
}

/// The function declared at the decision's line, read from the source.
fn source_func_name(cache: &mut HashMap<String, Vec<String>>, d: &Decision) -> Option<String> {
    let lines = cache.entry(d.file.clone()).or_insert_with(|| {
        std::fs::read_to_string(&d.file)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    });
    let l = lines.get((d.line as usize).checked_sub(1)?)?;
    let decl = l.trim_start().strip_prefix("func")?;
    func_name(decl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_logs() {
        let text = r#"{"version":0,"package":"example.com/m/hot","goos":"linux","goarch":"amd64","gc_version":"go1.26.8","file":"/m/hot/hot.go"}
{"range":{"start":{"line":31,"character":9},"end":{"line":31,"character":9}},"severity":3,"code":"escapes","source":"go compiler","message":"v escapes to heap","relatedInformation":[{"location":{"uri":"file:///m/hot/hot.go","range":{"start":{"line":31,"character":9},"end":{"line":31,"character":9}}},"message":"escflow:    flow: {heap} ← &{storage for v}:"}]}
{"range":{"start":{"line":54,"character":13},"end":{"line":54,"character":13}},"severity":3,"code":"isInBounds","source":"go compiler","message":"","relatedInformation":[{"location":{"uri":"file:///m/x%20y/z.go","range":{"start":{"line":7,"character":1},"end":{"line":7,"character":1}}},"message":"inlineLoc"}]}
"#;
        let d = parse_json_log("t", text).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].kind, DecisionKind::Escape);
        assert_eq!(d[0].file, "/m/hot/hot.go");
        assert_eq!((d[0].line, d[0].column), (31, 9));
        assert_eq!(d[0].explanation.len(), 1);
        assert_eq!(d[1].kind, DecisionKind::BoundsCheck);
        assert_eq!(d[1].position(), ("/m/x y/z.go", 7));
        assert!(parse_json_log("t", "{\"package\":\"p\"}\nnot json").is_err());
        assert!(parse_json_log("t", "").unwrap().is_empty());
    }

    #[test]
    fn names_the_callee_of_a_call_not_inlined() {
        for (message, callee) in [
            (
                "cost 192 of example.com/checkfix/hot.Twice.func1 exceeds max caller cost 160",
                Some("example.com/checkfix/hot.Twice.func1"),
            ),
            (
                "cost 90 of m.f exceeds max large caller cost 20",
                Some("m.f"),
            ),
            (
                "example.com/m.(*T).Get cannot be inlined",
                Some("example.com/m.(*T).Get"),
            ),
            ("repeated recursive cycle to m.walk", Some("m.walk")),
            ("recursive call to m.walk", Some("m.walk")),
            (
                "call to runtime function runtime.LockOSThread in instrumented build",
                Some("runtime.LockOSThread"),
            ),
            (
                "call to into \"no-race\" package function internal/race.Read in race build",
                Some("internal/race.Read"),
            ),
            (
                "call to into runtime package function runtime.add in -d=checkptr build",
                Some("runtime.add"),
            ),
            ("something else entirely", None),
            ("cost 5 of  exceeds max caller cost 1", None),
        ] {
            assert_eq!(not_inlined_callee(message).as_deref(), callee, "{message}");
        }
    }

    #[test]
    fn parses_m2_text() {
        let text = "# example.com/m/hot\nhot/hot.go:31:9: v escapes to heap in BoxInt:\nhot/hot.go:31:9:   flow: {heap} = &{storage for v}:\nhot/hot.go:31:9: v escapes to heap\nhot/hot.go:186:6: can inline small with cost 8 as: func(int) int { return 1 }\n./main.go:198:14: inlining call to small\nhot/hot.go:145:11: Found IsInBounds\nhot/hot.go:38:6: cannot inline BoxPointer: marked go:noinline\nhot/hot.go:38:17: leaking param: p\nhot/hot.go:40:1: p does not escape\n";
        let d = parse_m2(text, Path::new("/m"));
        let kinds: Vec<(DecisionKind, u32)> = d.iter().map(|x| (x.kind, x.line)).collect();
        assert_eq!(
            kinds,
            vec![
                (DecisionKind::Escape, 31),
                (DecisionKind::CannotInline, 38),
                (DecisionKind::Leak, 38),
                (DecisionKind::BoundsCheck, 145),
                (DecisionKind::CanInline, 186),
                (DecisionKind::InlinedCall, 198),
            ]
        );
        assert_eq!(d[0].file, "/m/hot/hot.go");
        assert_eq!(d[0].explanation.len(), 2, "{:?}", d[0].explanation);
        assert_eq!(d[5].file, "/m/main.go");
        assert_eq!(d[5].message, "small");
    }
}
