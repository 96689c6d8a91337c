//! `goscope check`: a policy evaluated on the linked binary.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use goscope_binary::Binary;
use goscope_disasm::classes::Class;
use goscope_disasm::listing::FuncSym;
use rayon::prelude::*;
use serde::Serialize;

use crate::Error;
use crate::directives::{Directive, Module};
use crate::facts::{Analyzer, Event, FuncFacts, SourceFrame};
use crate::pattern::source_name;
use crate::policy::{Check, Origin, Policy, Rule, Rules, Selector};

/// A place in the module's source, relative to its root (for SARIF and review comments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleLocation {
    /// `/`-separated path relative to the module root.
    pub file: String,
    /// Line.
    pub line: i32,
}

/// One violation.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// The check or directive that asked for it.
    pub origin: Origin,
    /// The function the rule applies to.
    pub function: String,
    /// The function whose code holds the instruction, when it is not `function` (the caller
    /// of a `must_inline` function).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_function: Option<String>,
    /// The instruction's address (the function's entry for function-level rules).
    #[serde(serialize_with = "hex")]
    pub address: u64,
    /// The instruction, in Go syntax; absent for function-level rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// Source file of the innermost frame (the function's declaration for function-level
    /// rules).
    pub file: String,
    /// Source line.
    pub line: i32,
    /// The inline chain at the instruction, innermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<SourceFrame>,
    /// The innermost location inside the module, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_location: Option<ModuleLocation>,
    /// What was found.
    pub message: String,
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// The result of `goscope check`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Number of checks evaluated (policy entries and directives).
    pub checks: usize,
    /// Number of functions at least one check selected.
    pub functions_checked: usize,
    /// The rules used.
    pub rules: Vec<Rule>,
    /// The module the directives and locations refer to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<Module>,
    /// The violations, by file and line.
    pub violations: Vec<Violation>,
    /// Things worth knowing that are not violations (unmatched directives, selections that
    /// match nothing).
    pub warnings: Vec<String>,
}

/// Turns directives into checks, matching each to the binary's functions through the file
/// and declaration line (or, for functions that exist only inlined, the name derived from the
/// source).
pub fn directive_checks(
    an: &Analyzer<'_>,
    module: &Module,
    directives: &[Directive],
    inlined_anywhere: &HashSet<String>,
    warnings: &mut Vec<String>,
) -> Vec<Check> {
    if directives.is_empty() {
        return Vec::new();
    }
    let files: BTreeSet<&str> = directives.iter().map(|d| d.file.as_str()).collect();
    // (module-relative file, declaration line) → functions, and names → functions.
    let decls: Vec<(String, i32, &str)> = an
        .functions()
        .par_iter()
        .filter_map(|f| {
            let (file, line) = an.decl(f);
            let rel = module.relative(&file).or_else(|| {
                files
                    .iter()
                    .find(|r| file.ends_with(&format!("/{r}")))
                    .map(|r| r.to_string())
            })?;
            files
                .contains(rel.as_str())
                .then_some((rel, line, f.name.as_str()))
        })
        .collect();
    let mut out = Vec::new();
    for d in directives {
        let mut names: BTreeSet<String> = decls
            .iter()
            .filter(|(file, line, name)| {
                *file == d.file
                    && (*line == d.func_line as i32 || source_name(name) == d.function.as_str())
            })
            .map(|(_, _, n)| n.to_string())
            .collect();
        if names.is_empty() {
            if d.rule == Rule::MustInline || inlined_anywhere.contains(&d.function) {
                // Inlined everywhere and not otherwise referenced: no body of its own (its
                // rules apply to its inlined copies).
                names.insert(d.function.clone());
            } else {
                warnings.push(format!(
                    "{}:{}: {} on {}: no such function in the binary (not linked: unused, or \
                     every call inlined); nothing to check",
                    d.file, d.line, d.text, d.function
                ));
                continue;
            }
        }
        for name in names {
            let mut rules = Rules::default();
            match d.rule {
                Rule::NoAlloc => rules.no_alloc = true,
                Rule::MustInline => rules.must_inline = true,
                Rule::NoBoundsCheck => rules.no_bounds_check = true,
                Rule::NoLock => rules.no_lock = true,
                _ => continue,
            }
            out.push(Check {
                origin: Origin::Directive {
                    directive: d.text.clone(),
                    file: d.file.clone(),
                    line: d.line,
                },
                selector: Selector::exact(&name),
                rules,
                inlined: true,
            });
        }
    }
    out
}

/// Evaluates `policy` (and `directives`, matched through `module`) on `bin`.
pub fn check(
    bin: &Binary,
    policy: &Policy,
    module: Option<&Module>,
    directives: &[Directive],
) -> Result<Report, Error> {
    check_with_progress(bin, policy, module, directives, &|_, _| {})
}

/// [`check`], calling `progress(functions_done, functions_to_do)` as functions are checked
/// (from several threads; `(0, total)` first).
pub fn check_with_progress(
    bin: &Binary,
    policy: &Policy,
    module: Option<&Module>,
    directives: &[Directive],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report, Error> {
    let an = Analyzer::new(bin)?;
    let mut warnings = Vec::new();
    let funcs = an.functions();
    // The functions inlined into each function (its inline tree's names): where the rules of
    // an inlined function apply. Read only when a rule or a directive can need them.
    let follow = !directives.is_empty()
        || policy
            .checks
            .iter()
            .any(|c| c.inlined && has_local_rules(&c.rules));
    let inlined: Vec<BTreeSet<String>> = if follow {
        funcs.par_iter().map(|f| an.inlined_names(f)).collect()
    } else {
        vec![BTreeSet::new(); funcs.len()]
    };
    let inlined_anywhere: HashSet<String> = inlined
        .iter()
        .flatten()
        .map(|n| source_name(n).into_owned())
        .collect();
    let mut checks = policy.checks.clone();
    if let Some(m) = module {
        checks.extend(directive_checks(
            &an,
            m,
            directives,
            &inlined_anywhere,
            &mut warnings,
        ));
    }
    let need_all = checks.iter().any(|c| c.rules.must_inline);
    // Which checks select each function (must_inline is evaluated at call sites instead), and
    // which checks select a function inlined into it.
    let selected: Vec<(Vec<usize>, Vec<usize>)> = funcs
        .par_iter()
        .zip(inlined.par_iter())
        .map(|(f, inl)| {
            let mut own = Vec::new();
            let mut hosted = Vec::new();
            for (i, c) in checks.iter().enumerate() {
                if !has_local_rules(&c.rules) {
                    continue;
                }
                if c.selector.matches(&f.name) {
                    // The body's own evaluation reports every instruction, inlined code
                    // included (its chain names the inlined function): once is enough.
                    own.push(i);
                } else if c.inlined && inl.iter().any(|n| c.selector.matches(n)) {
                    hosted.push(i);
                }
            }
            (own, hosted)
        })
        .collect();
    // Functions checked: bodies selected, and functions selected through their inlined copies.
    let mut checked_names: HashSet<&str> = funcs
        .iter()
        .zip(&selected)
        .filter(|(_, (own, _))| !own.is_empty())
        .map(|(f, _)| f.name.as_str())
        .collect();
    for (inl, (_, hosted)) in inlined.iter().zip(&selected) {
        for n in inl {
            if hosted.iter().any(|&i| checks[i].selector.matches(n)) {
                checked_names.insert(n);
            }
        }
    }
    let functions_checked = checked_names.len();
    let busy = |(own, hosted): &(Vec<usize>, Vec<usize>)| !own.is_empty() || !hosted.is_empty();
    let to_do = if need_all {
        funcs.len()
    } else {
        selected.iter().filter(|s| busy(s)).count()
    } as u64;
    progress(0, to_do);
    let results: Vec<(Vec<Violation>, Option<FuncFacts<'_>>)> = funcs
        .par_iter()
        .zip(selected.par_iter())
        .zip(inlined.into_par_iter())
        .filter(|((_, sel), _)| need_all || busy(sel))
        .map(|((f, (own, hosted)), inl)| {
            progress(1, to_do);
            let facts = if follow {
                an.facts_with_inlined(f, inl)
            } else {
                an.facts(f)
            };
            let mut v = Vec::new();
            for &i in own {
                evaluate(&an, module, &checks[i], &facts, &mut v);
            }
            // A host's inline chains, decoded once: for choosing its violations and for
            // reporting them.
            let chains = if hosted.is_empty() {
                None
            } else {
                let pcs: Vec<u64> = facts.events.iter().map(|e| e.address).collect();
                let chains = an.frames_at_many(facts.addr, &pcs);
                let hosted: Vec<&Check> = hosted.iter().map(|&i| &checks[i]).collect();
                evaluate_inlined(&an, module, &hosted, &facts, &chains, &mut v);
                Some(chains)
            };
            fill(&an, module, f, &mut v, chains.as_ref());
            (v, need_all.then_some(facts))
        })
        .collect();
    let mut violations = Vec::new();
    let mut all_facts = Vec::new();
    for (v, f) in results {
        violations.extend(v);
        all_facts.extend(f);
    }
    if need_all {
        must_inline(
            &an,
            module,
            &checks,
            &all_facts,
            &mut violations,
            &mut warnings,
        );
    }
    for c in &checks {
        if let Origin::Policy { name } = &c.origin
            && !c.rules.must_inline
            && !funcs.iter().any(|f| c.selector.matches(&f.name))
            && !(c.inlined && inlined_anywhere.iter().any(|n| c.selector.matches(n)))
        {
            warnings.push(format!("check {name:?} selects no function of the binary"));
        }
    }
    // Sorted (stably, in parallel) by source position; a rule reported twice at one
    // instruction of one function (by two checks) is kept once, the first reported: the
    // duplicates are neighbours after the sort, in the order they were reported.
    violations.par_sort_by(|a, b| {
        (&a.file, a.line, &a.function, a.rule, a.address).cmp(&(
            &b.file,
            b.line,
            &b.function,
            b.rule,
            b.address,
        ))
    });
    violations.dedup_by(|later, first| {
        later.rule == first.rule
            && later.address == first.address
            && later.function == first.function
    });
    let rules: BTreeSet<Rule> = checks.iter().flat_map(|c| c.rules.enabled()).collect();
    Ok(Report {
        checks: checks.len(),
        functions_checked,
        rules: rules.into_iter().collect(),
        module: module.cloned(),
        violations,
        warnings,
    })
}

fn has_local_rules(r: &Rules) -> bool {
    r.enabled().iter().any(|&x| x != Rule::MustInline)
}

fn module_location(module: Option<&Module>, frames: &[SourceFrame]) -> Option<ModuleLocation> {
    let m = module?;
    frames.iter().find_map(|f| {
        m.relative(&f.file)
            .map(|file| ModuleLocation { file, line: f.line })
    })
}

/// A violation at an instruction.
/// A violation at an instruction; its text, source position and inline chain are filled in
/// by [`fill`], once per function.
fn at_insn(
    (_an, _module): (&Analyzer<'_>, Option<&Module>),
    check: &Check,
    rule: Rule,
    function: &str,
    in_function: Option<&str>,
    pc: u64,
    message: String,
) -> Violation {
    Violation {
        rule,
        origin: check.origin.clone(),
        function: source_name(function).into_owned(),
        in_function: in_function.map(|s| source_name(s).into_owned()),
        address: pc,
        instruction: None,
        file: String::new(),
        line: 0,
        module_location: None,
        inline: Vec::new(),
        message,
    }
}

fn is_function_level(r: Rule) -> bool {
    matches!(r, Rule::MaxFrameSize | Rule::MaxSize)
}

/// Fills in the instruction text, file:line and inline chain of the instruction-level
/// violations in `f`. The chains of all of them come from one decoding of the function's pc
/// tables; each text from decoding its one instruction.
fn fill(
    an: &Analyzer<'_>,
    module: Option<&Module>,
    f: &FuncSym,
    vs: &mut [Violation],
    known: Option<&HashMap<u64, Vec<SourceFrame>>>,
) {
    let pending = |v: &Violation| v.instruction.is_none() && !is_function_level(v.rule);
    let mut pcs: Vec<u64> = vs
        .iter()
        .filter(|v| pending(v))
        .map(|v| v.address)
        .collect();
    if pcs.is_empty() {
        return;
    }
    pcs.sort_unstable();
    pcs.dedup();
    let decoded;
    let chains = match known {
        Some(c) => c,
        None => {
            decoded = an.frames_at_many(f.addr, &pcs);
            &decoded
        }
    };
    for v in vs.iter_mut().filter(|v| pending(v)) {
        let text = an.text_at(v.address);
        let frames = chains
            .get(&v.address)
            .cloned()
            .unwrap_or_else(|| an.frames_at(v.address));
        if let Some(first) = frames.first() {
            v.file = first.file.clone();
            v.line = first.line;
        }
        v.module_location = module_location(module, &frames);
        v.instruction = Some(text);
        v.inline = if frames.len() > 1 { frames } else { Vec::new() };
    }
}

/// Whose rules an instruction is checked against, and where it is.
struct Site<'a> {
    /// The function whose rules apply (the instruction is its code).
    function: &'a str,
    /// The body holding the instruction, when it is another function's (an inlined copy).
    in_function: Option<&'a str>,
    /// The inline chain from the instruction up to `function` (innermost first), when known.
    inline: Option<&'a [SourceFrame]>,
    /// Appended to each message.
    note: &'a str,
}

/// The instruction-level rules of `check` at `e`.
fn event_violations(
    an: &Analyzer<'_>,
    module: Option<&Module>,
    check: &Check,
    at: &Site<'_>,
    e: &Event<'_>,
    out: &mut Vec<Violation>,
) {
    let r = &check.rules;
    let insn = |rule: Rule, msg: String, out: &mut Vec<Violation>| {
        out.push(at_insn(
            (an, module),
            check,
            rule,
            at.function,
            at.in_function,
            e.address,
            format!("{msg}{}", at.note),
        ));
    };
    let callee = e.callee.unwrap_or("");
    if r.no_alloc && e.is(Class::Alloc) {
        insn(Rule::NoAlloc, format!("allocates: calls {callee}"), out);
    }
    if r.no_bounds_check && e.is(Class::BoundsCheck) {
        insn(
            Rule::NoBoundsCheck,
            format!("bounds check: fails into {callee}"),
            out,
        );
    }
    if r.no_write_barrier && (e.write_barrier_check || e.is(Class::WriteBarrier)) {
        let what = if e.write_barrier_check {
            "tests runtime.writeBarrier".to_string()
        } else {
            format!("calls {callee}")
        };
        insn(Rule::NoWriteBarrier, format!("write barrier: {what}"), out);
    }
    if r.no_defer && e.is(Class::Defer) {
        insn(Rule::NoDefer, format!("defer: calls {callee}"), out);
    }
    if r.no_interface_conversion && e.is(Class::Iface) {
        insn(
            Rule::NoInterfaceConversion,
            format!("interface conversion: calls {callee}"),
            out,
        );
    }
    if let Some(m) = r
        .no_runtime_calls
        .iter()
        .find(|m| m.matches(callee, e.classes))
        && e.callee.is_some()
    {
        insn(
            Rule::NoRuntimeCalls,
            format!("calls {callee} (matches {:?})", m.describe()),
            out,
        );
    }
    if r.no_lock
        && let Some(op) = &e.atomic
    {
        let allowed = match at.inline {
            Some(frames) => r.lock_allowed(frames.iter().map(|f| f.function.as_str())),
            None => {
                let frames = an.binary().frames_at(e.address);
                r.lock_allowed(frames.iter().map(|f| f.function.as_ref()))
            }
        };
        if !allowed {
            insn(Rule::NoLock, format!("atomic: {op}"), out);
        }
    }
}

/// The rules of `hosted` checks at the instructions of `facts`'s body that come from a
/// function they select, inlined there: each violation names that function, the body, and the
/// call site it was inlined at.
fn evaluate_inlined(
    an: &Analyzer<'_>,
    module: Option<&Module>,
    hosted: &[&Check],
    facts: &FuncFacts<'_>,
    chains: &HashMap<u64, Vec<SourceFrame>>,
    out: &mut Vec<Violation>,
) {
    let body = source_name(facts.name);
    for e in &facts.events {
        let Some(chain) = chains.get(&e.address) else {
            continue;
        };
        // Innermost first; the outermost frame is the body itself, checked by its own rules.
        for k in 0..chain.len().saturating_sub(1) {
            let frame = &chain[k];
            let site = &chain[k + 1];
            let file = site.file.rsplit('/').next().unwrap_or(&site.file);
            let note = format!(
                " (in {body}, inlined from {} at {file}:{})",
                source_name(&frame.function),
                site.line
            );
            for c in hosted {
                if c.selector.matches(&frame.function) {
                    let at = Site {
                        function: &frame.function,
                        in_function: Some(facts.name),
                        inline: Some(&chain[..=k]),
                        note: &note,
                    };
                    event_violations(an, module, c, &at, e, out);
                }
            }
        }
    }
}

fn evaluate(
    an: &Analyzer<'_>,
    module: Option<&Module>,
    check: &Check,
    facts: &FuncFacts<'_>,
    out: &mut Vec<Violation>,
) {
    let r = &check.rules;
    let name = facts.name;
    for e in &facts.events {
        let at = Site {
            function: name,
            in_function: None,
            inline: None,
            note: "",
        };
        event_violations(an, module, check, &at, e, out);
    }
    let func_level = |rule: Rule, msg: String, out: &mut Vec<Violation>| {
        let loc = module.and_then(|m| {
            m.relative(&facts.file).map(|file| ModuleLocation {
                file,
                line: facts.line,
            })
        });
        out.push(Violation {
            rule,
            origin: check.origin.clone(),
            function: source_name(name).into_owned(),
            in_function: None,
            address: facts.addr,
            instruction: None,
            file: facts.file.clone(),
            line: facts.line,
            inline: Vec::new(),
            module_location: loc,
            message: msg,
        });
    };
    if let Some(max) = r.max_frame_size
        && facts.frame_size > max
    {
        func_level(
            Rule::MaxFrameSize,
            format!("frame is {} bytes (max_frame_size {max})", facts.frame_size),
            out,
        );
    }
    if let Some(max) = r.max_size
        && facts.size > max
    {
        func_level(
            Rule::MaxSize,
            format!("code is {} bytes (max_size {max})", facts.size),
            out,
        );
    }
}

/// `must_inline`: every CALL in the binary whose target is a selected function is a
/// violation; a selected function that appears inlined nowhere gets a warning.
fn must_inline(
    an: &Analyzer<'_>,
    module: Option<&Module>,
    checks: &[Check],
    all: &[FuncFacts<'_>],
    out: &mut Vec<Violation>,
    warnings: &mut Vec<String>,
) {
    let inl: Vec<&Check> = checks.iter().filter(|c| c.rules.must_inline).collect();
    // Every function name known to the binary: bodies and inlined frames.
    let mut inlined_into: HashMap<String, usize> = HashMap::new();
    for f in all {
        for n in &f.inlined {
            *inlined_into.entry(source_name(n).into_owned()).or_default() += 1;
        }
    }
    let mut subjects: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (i, c) in inl.iter().enumerate() {
        let set = subjects.entry(i).or_default();
        if let Some(n) = c.selector.exact_name() {
            set.insert(source_name(n).into_owned());
        }
        for n in inlined_into.keys() {
            if c.selector.matches(n) {
                set.insert(n.clone());
            }
        }
        for f in all {
            if c.selector.matches(f.name) {
                set.insert(source_name(f.name).into_owned());
            }
        }
    }
    let found: Vec<Violation> = all
        .par_iter()
        .flat_map_iter(|f| {
            let mut v = Vec::new();
            for e in &f.events {
                let Some(callee) = e.callee else { continue };
                let callee_name = source_name(callee);
                for c in &inl {
                    if c.selector.matches(callee) {
                        v.push(at_insn(
                            (an, module),
                            c,
                            Rule::MustInline,
                            &callee_name,
                            Some(f.name),
                            e.address,
                            format!("not inlined: {} calls {callee_name}", source_name(f.name)),
                        ));
                    }
                }
            }
            let sym = FuncSym {
                name: f.name.to_string(),
                addr: f.addr,
                size: f.size,
            };
            fill(an, module, &sym, &mut v, None);
            v
        })
        .collect();
    out.extend(found);
    for (i, names) in subjects {
        let c = inl[i];
        if names.is_empty() {
            warnings.push(format!(
                "{}: must_inline selects no function of the binary",
                c.origin.describe()
            ));
        }
        for n in names {
            if !inlined_into.contains_key(&n) {
                warnings.push(format!(
                    "{}: no instruction of the binary comes from an inlined {n} (never \
                     called, or its inlined code was merged into the caller's lines)",
                    c.origin.describe()
                ));
            }
        }
    }
}
