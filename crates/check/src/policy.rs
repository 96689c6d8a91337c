//! `goscope.toml`: which functions must obey which machine-level rules.
//!
//! ```toml
//! [module]                      # optional
//! root = "."                    # the Go module (go.mod) for directives and SARIF paths;
//!                               # relative to this file; default: this file's directory
//! directives = true             # also read //goscope: directives from its Go files
//!
//! [[check]]
//! name = "hot path"             # optional, shown with each violation
//! functions = ["example.com/app/codec.Encode*"]   # globs on full function names
//! packages = ["example.com/app/codec"]            # globs on package paths
//! regex = '^example\.com/app/codec\.(encode|decode)'  # a regular expression on names
//! exclude = ["*.String"]                          # globs removed from the selection
//! no_alloc = true
//! no_lock = true
//! lock_allow = ["sync", "example.com/app/stats"]  # packages or functions allowed to LOCK
//! no_bounds_check = true
//! no_write_barrier = true
//! no_runtime_calls = ["map", "runtime.chan*"]     # call classes or callee globs
//! must_inline = true
//! max_frame_size = 1024
//! max_size = 4096
//! no_defer = true
//! no_interface_conversion = true
//! inlined = true                # also check the selected functions' inlined copies
//!                               # (default; `false`: only their own bodies)
//! ```
//!
//! A function is selected when it matches every selector that is given (`functions`,
//! `packages`, `regex`) and no `exclude` glob; a check must give at least one selector.
//! A selected function's rules apply wherever its code runs: in its own body and in every
//! copy the compiler inlined into a caller (a function that exists only inlined is checked
//! there), unless the check says `inlined = false`.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::pattern::{Glob, package_of, source_name};

/// A rule of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// No call that allocates on the heap.
    NoAlloc,
    /// No LOCK-prefixed or implicitly locked instruction (x86) or atomic (arm64).
    NoLock,
    /// No bounds-check failure path.
    NoBoundsCheck,
    /// No GC write barrier.
    NoWriteBarrier,
    /// No call to the listed runtime functions or classes.
    NoRuntimeCalls,
    /// Inlined wherever it is called.
    MustInline,
    /// Stack frame no larger than a limit.
    MaxFrameSize,
    /// Machine code no larger than a limit.
    MaxSize,
    /// No `defer`.
    NoDefer,
    /// No runtime interface conversion or type assertion.
    NoInterfaceConversion,
}

impl Rule {
    /// Every rule, in documentation order.
    pub const ALL: [Rule; 10] = [
        Rule::NoAlloc,
        Rule::NoLock,
        Rule::NoBoundsCheck,
        Rule::NoWriteBarrier,
        Rule::NoRuntimeCalls,
        Rule::MustInline,
        Rule::MaxFrameSize,
        Rule::MaxSize,
        Rule::NoDefer,
        Rule::NoInterfaceConversion,
    ];

    /// The rule's id: its key in `goscope.toml` and its SARIF rule id.
    pub fn id(self) -> &'static str {
        match self {
            Rule::NoAlloc => "no_alloc",
            Rule::NoLock => "no_lock",
            Rule::NoBoundsCheck => "no_bounds_check",
            Rule::NoWriteBarrier => "no_write_barrier",
            Rule::NoRuntimeCalls => "no_runtime_calls",
            Rule::MustInline => "must_inline",
            Rule::MaxFrameSize => "max_frame_size",
            Rule::MaxSize => "max_size",
            Rule::NoDefer => "no_defer",
            Rule::NoInterfaceConversion => "no_interface_conversion",
        }
    }

    /// One line: what the rule asserts.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::NoAlloc => "the function never calls the runtime's heap allocator",
            Rule::NoLock => {
                "the function executes no LOCK-prefixed/atomic instruction outside lock_allow"
            }
            Rule::NoBoundsCheck => {
                "every index and slice bound in the function was proven in range"
            }
            Rule::NoWriteBarrier => "the function stores no pointer that needs a GC write barrier",
            Rule::NoRuntimeCalls => {
                "the function calls none of the listed runtime functions or call classes"
            }
            Rule::MustInline => {
                "the function is inlined at every call site: never the target of a CALL"
            }
            Rule::MaxFrameSize => "the function's stack frame is at most N bytes",
            Rule::MaxSize => "the function's machine code is at most N bytes",
            Rule::NoDefer => "the function uses no defer",
            Rule::NoInterfaceConversion => {
                "the function converts to or asserts on no interface at run time"
            }
        }
    }

    /// What the rule looks at in the binary, how to write it, and how to fix a violation.
    pub fn help(self) -> &'static str {
        match self {
            Rule::NoAlloc => {
                "Reported at every CALL to a runtime function that allocates: runtime.newobject, \
mallocgc, makeslice, growslice, makemap, makechan, convT*, concatstring*, slicebytetostring, \
rawstring..., and every runtime helper the binary's own code shows reaching the allocator through \
direct calls (Go 1.26's moveSliceNoCapNoScan, which moves an append-built slice to the heap). \
Also when the allocation comes from an inlined callee (the inline chain says which); and a \
function's rules apply to its copies inlined into callers, reported there (`in main.worker, \
inlined from main.encode at main.go:13`; `inlined = false` in a check turns that off). \
Policy: `no_alloc = true`; directive: `//goscope:noalloc`. \
Fix: `goscope opt` says why the value escapes (go build -gcflags=-m); keep values on the stack, \
preallocate, avoid boxing into interfaces."
            }
            Rule::NoLock => {
                "Reported at every LOCK-prefixed or implicitly locked x86 instruction (XCHG with memory) \
and every arm64 atomic (LDADDAL, CAS, SWP, LDAXR/STLXR...). An atomic whose inline chain passes \
through a package or function matched by `lock_allow` (globs on package paths or function \
names) is allowed. Policy: `no_lock = true`, `lock_allow = [\"sync\"]`; directive: \
`//goscope:nolock`. Fix: shard or batch the counter, keep per-goroutine state."
            }
            Rule::NoBoundsCheck => {
                "Reported at every CALL to a bounds-check failure (runtime.panicIndex, panicSlice*, \
panicBounds...) at the source line of the index expression. Policy: `no_bounds_check = true`; \
directive: `//goscope:nobce`. Fix: range over the slice, or hoist a check the compiler can use \
(`_ = s[n-1]`); go build -gcflags=-d=ssa/check_bce shows what remains."
            }
            Rule::NoWriteBarrier => {
                "Reported at every test of runtime.writeBarrier and every CALL to runtime.gcWriteBarrier*, \
wbZero, wbMove or typedmemmove. Policy: `no_write_barrier = true`. Fix: store non-pointer \
data, or write pointers outside the hot path."
            }
            Rule::NoRuntimeCalls => {
                "Reported at every CALL to a listed runtime function. Entries are call classes (alloc, \
map, chan, iface, write_barrier, stack_growth, bounds_check, panic, defer, go) or globs on the \
callee's name (`runtime.mapaccess*`). Policy: `no_runtime_calls = [\"map\", \"runtime.chan*\"]`."
            }
            Rule::MustInline => {
                "Reported at every CALL whose target is the function (the caller and source line are \
given), checked over the whole binary: two calls on one line are told apart by their targets, \
not by the compiler's text. The function must also appear inlined somewhere (a warning says \
when it does not). Policy: `must_inline = true`; directive: `//goscope:inline`. Fix: \
`goscope opt` gives the reason the compiler did not inline (cost over budget, //go:noinline, \
recursion...)."
            }
            Rule::MaxFrameSize => {
                "The largest stack-pointer offset the function's pcsp table records (the frame the \
prologue allocates, saved frame pointer included). Reported at the function's declaration. \
Policy: `max_frame_size = 1024`. Fix: move large arrays to the heap or to a pool."
            }
            Rule::MaxSize => {
                "The size in bytes of the function's machine code (inlined callees included). Reported \
at the function's declaration. Policy: `max_size = 4096`."
            }
            Rule::NoDefer => {
                "Reported at every CALL to runtime.deferproc*, deferprocStack or deferreturn (open-coded \
defers still call deferreturn on the panic path). Policy: `no_defer = true`."
            }
            Rule::NoInterfaceConversion => {
                "Reported at every CALL to a runtime interface conversion or assertion: convT*, convI2I, \
assertE2I*, typeAssert, getitab, panicdottype... Conversions the compiler does without the \
runtime (pointers, constants) are not reported. Policy: `no_interface_conversion = true`."
            }
        }
    }

    /// The rule with key `id`.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }
}

/// Which functions a check applies to.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    functions: Vec<Glob>,
    packages: Vec<Glob>,
    regex: Option<Regex>,
    exclude: Vec<Glob>,
    exact: Option<String>,
}

impl Selector {
    /// A selector of exactly one function name.
    pub fn exact(name: &str) -> Selector {
        Selector {
            functions: vec![Glob::new(&name.replace(['*', '?'], "?"))],
            exact: Some(name.to_string()),
            ..Selector::default()
        }
    }

    /// The one name an [`Selector::exact`] selector selects.
    pub fn exact_name(&self) -> Option<&str> {
        self.exact.as_deref()
    }

    /// Whether the function named `symbol` is selected.
    pub fn matches(&self, symbol: &str) -> bool {
        let name = source_name(symbol);
        let name = name.as_ref();
        if !self.functions.is_empty()
            && !self
                .functions
                .iter()
                .any(|g| g.matches(name) || g.matches(symbol))
        {
            return false;
        }
        if !self.packages.is_empty() {
            let pkg = package_of(name);
            if !self.packages.iter().any(|g| g.matches(&pkg)) {
                return false;
            }
        }
        if let Some(re) = &self.regex
            && !re.is_match(name)
        {
            return false;
        }
        !self.exclude.iter().any(|g| g.matches(name))
    }
}

/// An entry of `no_runtime_calls`.
#[derive(Debug, Clone)]
pub enum CallMatcher {
    /// A class of runtime call.
    Class(goscope_disasm::classes::Class),
    /// A glob on the callee's name.
    Name(Glob),
}

impl CallMatcher {
    fn parse(s: &str) -> Result<CallMatcher, String> {
        use goscope_disasm::classes::Class;
        let class = match s {
            "alloc" => Some(Class::Alloc),
            "map" => Some(Class::Map),
            "chan" => Some(Class::Chan),
            "iface" => Some(Class::Iface),
            "write_barrier" => Some(Class::WriteBarrier),
            "stack_growth" => Some(Class::StackGrowth),
            "bounds_check" => Some(Class::BoundsCheck),
            "panic" => Some(Class::Panic),
            "defer" => Some(Class::Defer),
            "go" => Some(Class::Go),
            _ => None,
        };
        match class {
            Some(c) => Ok(CallMatcher::Class(c)),
            None if s.contains('.') || s.contains('*') => Ok(CallMatcher::Name(Glob::new(s))),
            None => Err(format!(
                "{s:?} is neither a call class (alloc, map, chan, iface, write_barrier, \
                 stack_growth, bounds_check, panic, defer, go) nor a function glob such as \
                 \"runtime.mapaccess*\""
            )),
        }
    }

    /// Whether a call to `callee`, whose classes are `classes`, matches.
    pub fn matches(&self, callee: &str, classes: &[goscope_disasm::classes::Class]) -> bool {
        match self {
            CallMatcher::Class(c) => classes.contains(c),
            CallMatcher::Name(g) => g.matches(callee) || g.matches(&source_name(callee)),
        }
    }

    /// The entry as written.
    pub fn describe(&self) -> String {
        match self {
            CallMatcher::Class(c) => c.label().replace(' ', "_"),
            CallMatcher::Name(g) => g.as_str().to_string(),
        }
    }
}

/// The rules one check asserts.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// `no_alloc`.
    pub no_alloc: bool,
    /// `no_lock`.
    pub no_lock: bool,
    /// `lock_allow`: packages or functions whose atomics are allowed.
    pub lock_allow: Vec<Glob>,
    /// `no_bounds_check`.
    pub no_bounds_check: bool,
    /// `no_write_barrier`.
    pub no_write_barrier: bool,
    /// `no_runtime_calls`.
    pub no_runtime_calls: Vec<CallMatcher>,
    /// `must_inline`.
    pub must_inline: bool,
    /// `max_frame_size`.
    pub max_frame_size: Option<u64>,
    /// `max_size`.
    pub max_size: Option<u64>,
    /// `no_defer`.
    pub no_defer: bool,
    /// `no_interface_conversion`.
    pub no_interface_conversion: bool,
}

impl Rules {
    /// The rules that are on.
    pub fn enabled(&self) -> Vec<Rule> {
        let mut v = Vec::new();
        let on = [
            (Rule::NoAlloc, self.no_alloc),
            (Rule::NoLock, self.no_lock),
            (Rule::NoBoundsCheck, self.no_bounds_check),
            (Rule::NoWriteBarrier, self.no_write_barrier),
            (Rule::NoRuntimeCalls, !self.no_runtime_calls.is_empty()),
            (Rule::MustInline, self.must_inline),
            (Rule::MaxFrameSize, self.max_frame_size.is_some()),
            (Rule::MaxSize, self.max_size.is_some()),
            (Rule::NoDefer, self.no_defer),
            (Rule::NoInterfaceConversion, self.no_interface_conversion),
        ];
        for (r, b) in on {
            if b {
                v.push(r);
            }
        }
        v
    }

    /// Whether the atomic at an instruction whose inline chain names `frames` (function names,
    /// innermost first) is allowed by `lock_allow`.
    pub fn lock_allowed<'a>(&self, mut frames: impl Iterator<Item = &'a str>) -> bool {
        frames.any(|f| {
            let name = source_name(f);
            let pkg = package_of(&name);
            self.lock_allow
                .iter()
                .any(|g| g.matches(&pkg) || g.matches(&name))
        })
    }
}

/// Where a check came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A `[[check]]` of the policy file.
    Policy {
        /// Its `name`, or `check #N`.
        name: String,
    },
    /// A `//goscope:` directive in the source.
    Directive {
        /// The directive (`//goscope:noalloc`).
        directive: String,
        /// Source file, relative to the module root.
        file: String,
        /// Line of the directive.
        line: u32,
    },
}

impl Origin {
    /// A short description.
    pub fn describe(&self) -> String {
        match self {
            Origin::Policy { name } => name.clone(),
            Origin::Directive {
                directive,
                file,
                line,
            } => format!("{directive} at {file}:{line}"),
        }
    }
}

/// One check: a selection of functions and the rules they must obey.
#[derive(Debug, Clone)]
pub struct Check {
    /// Where it came from.
    pub origin: Origin,
    /// The functions.
    pub selector: Selector,
    /// The rules.
    pub rules: Rules,
    /// Whether the rules also apply to the functions' copies inlined into callers.
    pub inlined: bool,
}

/// A parsed policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The checks, in file order.
    pub checks: Vec<Check>,
    /// The Go module root, if the policy names one (resolved against the policy's directory).
    pub module_root: Option<PathBuf>,
    /// Whether to read `//goscope:` directives.
    pub directives: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    module: Option<RawModule>,
    #[serde(default)]
    check: Vec<RawCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    root: Option<String>,
    directives: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    name: Option<String>,
    #[serde(default)]
    functions: Vec<String>,
    #[serde(default)]
    packages: Vec<String>,
    regex: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    no_alloc: bool,
    #[serde(default)]
    no_lock: bool,
    #[serde(default)]
    lock_allow: Vec<String>,
    #[serde(default)]
    no_bounds_check: bool,
    #[serde(default)]
    no_write_barrier: bool,
    #[serde(default)]
    no_runtime_calls: Vec<String>,
    #[serde(default)]
    must_inline: bool,
    max_frame_size: Option<u64>,
    max_size: Option<u64>,
    #[serde(default)]
    no_defer: bool,
    #[serde(default)]
    no_interface_conversion: bool,
    inlined: Option<bool>,
}

impl Policy {
    /// Parses policy text; `dir` is the directory relative paths are resolved against.
    pub fn parse(text: &str, dir: &Path) -> Result<Policy, Error> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| Error::Policy(e.to_string()))?;
        let mut checks = Vec::with_capacity(raw.check.len());
        for (i, c) in raw.check.into_iter().enumerate() {
            let name = c
                .name
                .clone()
                .unwrap_or_else(|| format!("check #{}", i + 1));
            let bad = |msg: String| Error::Policy(format!("[[check]] {name:?}: {msg}"));
            if c.functions.is_empty() && c.packages.is_empty() && c.regex.is_none() {
                return Err(bad(
                    "select functions with `functions`, `packages` or `regex`".into(),
                ));
            }
            let regex = match &c.regex {
                Some(r) => {
                    Some(Regex::new(r).map_err(|e| bad(format!("invalid regex {r:?}: {e}")))?)
                }
                None => None,
            };
            let mut no_runtime_calls = Vec::new();
            for s in &c.no_runtime_calls {
                no_runtime_calls.push(CallMatcher::parse(s).map_err(bad)?);
            }
            if !c.lock_allow.is_empty() && !c.no_lock {
                return Err(bad("`lock_allow` needs `no_lock = true`".into()));
            }
            let rules = Rules {
                no_alloc: c.no_alloc,
                no_lock: c.no_lock,
                lock_allow: c.lock_allow.iter().map(|s| Glob::new(s)).collect(),
                no_bounds_check: c.no_bounds_check,
                no_write_barrier: c.no_write_barrier,
                no_runtime_calls,
                must_inline: c.must_inline,
                max_frame_size: c.max_frame_size,
                max_size: c.max_size,
                no_defer: c.no_defer,
                no_interface_conversion: c.no_interface_conversion,
            };
            if rules.enabled().is_empty() {
                return Err(bad(
                    "no rule is on (see `goscope check --explain` for the rules)".into(),
                ));
            }
            checks.push(Check {
                origin: Origin::Policy { name },
                selector: Selector {
                    functions: c.functions.iter().map(|s| Glob::new(s)).collect(),
                    packages: c.packages.iter().map(|s| Glob::new(s)).collect(),
                    regex,
                    exclude: c.exclude.iter().map(|s| Glob::new(s)).collect(),
                    exact: None,
                },
                rules,
                inlined: c.inlined.unwrap_or(true),
            });
        }
        let module = raw.module.unwrap_or(RawModule {
            root: None,
            directives: None,
        });
        Ok(Policy {
            checks,
            module_root: module.root.map(|r| dir.join(r)),
            directives: module.directives.unwrap_or(true),
        })
    }

    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut p = Policy::parse(&text, dir)?;
        if p.module_root.is_none() {
            p.module_root = Some(dir.to_path_buf());
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_rule() {
        let p = Policy::parse(
            r#"
            [module]
            root = "src"
            [[check]]
            name = "all"
            functions = ["a.*"]
            packages = ["a"]
            regex = '^a\.F'
            exclude = ["a.Fx"]
            no_alloc = true
            no_lock = true
            lock_allow = ["sync"]
            no_bounds_check = true
            no_write_barrier = true
            no_runtime_calls = ["map", "runtime.chan*"]
            must_inline = true
            max_frame_size = 64
            max_size = 128
            no_defer = true
            no_interface_conversion = true
            inlined = false
            "#,
            Path::new("/m"),
        )
        .unwrap();
        assert_eq!(p.module_root.as_deref(), Some(Path::new("/m/src")));
        let c = &p.checks[0];
        assert_eq!(c.rules.enabled(), Rule::ALL.to_vec());
        assert!(c.selector.matches("a.F"));
        assert!(c.selector.matches("a.Foo"));
        assert!(!c.selector.matches("a.Fx"));
        assert!(!c.selector.matches("a.G"));
        assert!(!c.selector.matches("b.F"));
        assert!(
            c.rules
                .lock_allowed(["sync.(*Mutex).Lock", "a.F"].into_iter())
        );
        assert!(!c.rules.lock_allowed(["a.F"].into_iter()));
        assert!(!c.inlined);
        assert!(c.rules.no_runtime_calls[0].matches(
            "runtime.mapaccess1_fast64",
            goscope_disasm::classes::classify("runtime.mapaccess1_fast64")
        ));
        assert!(c.rules.no_runtime_calls[1].matches("runtime.chansend1", &[]));
        assert!(!c.rules.no_runtime_calls[1].matches("runtime.newobject", &[]));
    }

    #[test]
    fn rejects_mistakes() {
        let dir = Path::new(".");
        for (text, want) in [
            ("[[check]]\nno_alloc = true", "select functions"),
            ("[[check]]\nfunctions=[\"a\"]", "no rule is on"),
            ("[[check]]\nfunctions=[\"a\"]\nno_aloc = true", "no_aloc"),
            ("[[check]]\nregex='('\nno_alloc=true", "invalid regex"),
            (
                "[[check]]\nfunctions=[\"a\"]\nno_runtime_calls=[\"maps\"]",
                "neither a call class",
            ),
            (
                "[[check]]\nfunctions=[\"a\"]\nlock_allow=[\"x\"]\nno_alloc=true",
                "needs `no_lock",
            ),
            ("[[check]]\nfunctions=[\"a\"]\nmax_size=-1", "max_size"),
        ] {
            let e = Policy::parse(text, dir).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
