//! `goscope opt`: the compiler's optimization decisions, tied to the linked binary's
//! instructions.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use goscope_check::directives::Module;
use goscope_check::opt::{DecisionKind, OptReport, Tied, parse_m2, read_json_dir, tie};
use goscope_check::pattern::{Glob, package_of};
use goscope_check::sarif::{SarifResult, SarifRule, log};
use regex::Regex;

use crate::output;

/// Show the compiler's escape, inlining, bounds-check and nil-check decisions, each tied to
/// the instructions it produced in the linked binary.
///
/// Runs `go build` on PKGS (default: .) with the compiler's JSON optimization log
/// (-gcflags=MODULE/...=-json=0,file://DIR), or with -m=2 text when --m2 is given (also the
/// way to read toolchains or logs without JSON), then finds each decision's instructions:
/// "escapes to heap" → the runtime.newobject/convT call at that line, a bounds check → its
/// panicIndex call, an inlinable function → every instruction inlined from it. A decision with
/// no instruction says why.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  goscope opt                                   the module in the current directory
  goscope opt --kind escape --function 'codec\\.Encode' ./cmd/server
  goscope opt ./cmd/server -- -tags prod        extra go build flags after --
  goscope opt --m2                              parse -m=2 text instead of JSON logs
  goscope opt --log /tmp/optlog --binary ./server   logs written by your own go build
  goscope opt --format sarif > opt.sarif")]
pub struct Args {
    /// Packages to build (go build arguments; default: .).
    pkgs: Vec<String>,
    /// The go command.
    #[arg(long, default_value = "go", value_name = "GO")]
    go: PathBuf,
    /// Run go build in DIR (the module).
    #[arg(short = 'C', long = "dir", value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Read -m=2 text (with -d=ssa/check_bce/debug=1) instead of the JSON log.
    #[arg(long)]
    m2: bool,
    /// Read an existing log instead of building: a -json=0 directory, or a file of -m=2 text.
    #[arg(long, value_name = "DIR|FILE", requires = "binary")]
    log: Option<PathBuf>,
    /// The binary the existing --log belongs to.
    #[arg(long, value_name = "BIN")]
    binary: Option<PathBuf>,
    /// Only decisions in packages matching this glob.
    #[arg(long, value_name = "GLOB")]
    package: Option<String>,
    /// Only decisions about functions matching this regular expression.
    #[arg(long, value_name = "REGEXP")]
    function: Option<String>,
    /// Only these kinds of decision.
    #[arg(long, value_delimiter = ',', value_enum)]
    kind: Vec<KindArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
    /// Extra go build flags, after --.
    #[arg(last = true)]
    build_flags: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Escape,
    Inline,
    Bounds,
    Nil,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

fn kind_matches(k: DecisionKind, wanted: &[KindArg]) -> bool {
    wanted.is_empty()
        || wanted.iter().any(|w| match w {
            KindArg::Escape => matches!(k, DecisionKind::Escape | DecisionKind::Leak),
            KindArg::Inline => matches!(
                k,
                DecisionKind::CanInline
                    | DecisionKind::CannotInline
                    | DecisionKind::InlinedCall
                    | DecisionKind::CallNotInlined
            ),
            KindArg::Bounds => k == DecisionKind::BoundsCheck,
            KindArg::Nil => k == DecisionKind::NilCheck,
        })
}

pub fn run(args: Args) -> Result<u8> {
    let module = Module::find(&args.dir).ok();
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let (decisions, binary, source) = match &args.log {
        Some(log) => {
            let bin = args.binary.clone().context("--log needs --binary")?;
            if log.is_dir() {
                (read_json_dir(log)?, bin, "json")
            } else {
                let text = std::fs::read_to_string(log)
                    .with_context(|| format!("reading {}", log.display()))?;
                (parse_m2(&text, &args.dir.canonicalize()?), bin, "m2")
            }
        }
        None => {
            let bin = tmp.path().join("bin");
            let pattern = match &module {
                Some(m) => format!("{}/...", m.path),
                None => "all".to_string(),
            };
            let logdir = tmp.path().join("log");
            let gcflags = if args.m2 {
                format!("-gcflags={pattern}=-m=2 -d=ssa/check_bce/debug=1")
            } else {
                format!("-gcflags={pattern}=-json=0,file://{}", logdir.display())
            };
            let pkgs = if args.pkgs.is_empty() {
                vec![".".to_string()]
            } else {
                args.pkgs.clone()
            };
            let out = Command::new(&args.go)
                .current_dir(&args.dir)
                .arg("build")
                .arg("-o")
                .arg(&bin)
                .arg(&gcflags)
                .args(&args.build_flags)
                .args(&pkgs)
                .output()
                .with_context(|| {
                    format!(
                        "running {} (install Go, or pass --go PATH)",
                        args.go.display()
                    )
                })?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                bail!("go build failed:\n{}", stderr.trim_end());
            }
            if args.m2 {
                (parse_m2(&stderr, &args.dir.canonicalize()?), bin, "m2")
            } else if logdir.is_dir() {
                (read_json_dir(&logdir)?, bin, "json")
            } else {
                bail!(
                    "the compiler wrote no JSON optimization log (toolchain without -json?): \
                     try --m2"
                );
            }
        }
    };
    let pkg_glob = args.package.as_deref().map(Glob::new);
    let func_re = match &args.function {
        Some(r) => Some(Regex::new(r).with_context(|| format!("invalid --function {r:?}"))?),
        None => None,
    };
    let decisions: Vec<_> = decisions
        .into_iter()
        .filter(|d| kind_matches(d.kind, &args.kind))
        .collect();
    let bin = output::open_binary(&binary)?;
    let mut report = tie(&bin, decisions, source)?;
    report.decisions.retain(|t| {
        let funcs: Vec<&str> = t
            .function
            .iter()
            .map(String::as_str)
            .chain(t.instructions.iter().map(|i| i.function.as_str()))
            .collect();
        let pkg_ok = pkg_glob.as_ref().is_none_or(|g| {
            (!t.decision.package.is_empty() && g.matches(&t.decision.package))
                || funcs.iter().any(|f| g.matches(&package_of(f)))
        });
        let func_ok = func_re
            .as_ref()
            .is_none_or(|re| funcs.iter().any(|f| re.is_match(f)));
        pkg_ok && func_ok
    });
    let mut out = output::stdout();
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Json => output::json_pretty(&mut out, &report)?,
        Format::Sarif => output::json_pretty(&mut out, &sarif(&report, module.as_ref()))?,
        Format::Text => render_text(&mut out, &report, module.as_ref())?,
    }
    out.flush()?;
    Ok(crate::EXIT_OK)
}

fn rel(module: Option<&Module>, file: &str) -> String {
    module
        .and_then(|m| m.relative(file))
        .unwrap_or_else(|| file.to_string())
}

fn kind_id(k: DecisionKind) -> &'static str {
    match k {
        DecisionKind::Escape => "escape",
        DecisionKind::Leak => "leak",
        DecisionKind::CanInline => "can_inline",
        DecisionKind::CannotInline => "cannot_inline",
        DecisionKind::InlinedCall => "inlined_call",
        DecisionKind::CallNotInlined => "call_not_inlined",
        DecisionKind::BoundsCheck => "bounds_check",
        DecisionKind::NilCheck => "nil_check",
        DecisionKind::Other => "other",
    }
}

fn headline(t: &Tied) -> String {
    let d = &t.decision;
    let what = match (&t.function, d.message.is_empty()) {
        (Some(f), true) => f.clone(),
        (Some(f), false) if d.code != "m" => format!("{f}: {}", d.message),
        (_, _) => d.message.clone(),
    };
    format!("{}: {what}", kind_id(d.kind))
}

fn render_text(out: &mut impl Write, r: &OptReport, module: Option<&Module>) -> Result<()> {
    for t in &r.decisions {
        let d = &t.decision;
        writeln!(
            out,
            "{}:{}:{}: {}",
            rel(module, &d.file),
            d.line,
            d.column,
            headline(t)
        )?;
        for at in &d.inlined_at {
            writeln!(
                out,
                "    inlined at {}:{}:{}",
                rel(module, &at.file),
                at.line,
                at.column
            )?;
        }
        for i in &t.instructions {
            writeln!(out, "    {:#x}  {:<40} {}", i.address, i.text, i.function)?;
        }
        if t.count > t.instructions.len() {
            writeln!(out, "    ... {} more", t.count - t.instructions.len())?;
        }
        if let Some(why) = &t.reason {
            writeln!(out, "    (no instruction: {why})")?;
        }
    }
    let tied = r.decisions.iter().filter(|t| t.count > 0).count();
    writeln!(
        out,
        "{} decisions, {tied} tied to instructions ({} log)",
        r.decisions.len(),
        r.source
    )?;
    Ok(())
}

fn sarif(r: &OptReport, module: Option<&Module>) -> serde_json::Value {
    let kinds = [
        (
            DecisionKind::Escape,
            "a value escapes to the heap: an allocation",
        ),
        (
            DecisionKind::Leak,
            "a parameter's value flows to the heap or a result",
        ),
        (DecisionKind::CanInline, "the function can be inlined"),
        (DecisionKind::CannotInline, "the function cannot be inlined"),
        (DecisionKind::InlinedCall, "the call was inlined"),
        (DecisionKind::CallNotInlined, "the call was not inlined"),
        (DecisionKind::BoundsCheck, "a bounds check remains"),
        (DecisionKind::NilCheck, "a nil check remains"),
        (DecisionKind::Other, "another compiler decision"),
    ];
    let rules: Vec<SarifRule> = kinds
        .iter()
        .map(|(k, s)| SarifRule {
            id: kind_id(*k).to_string(),
            summary: s.to_string(),
            help: format!(
                "{s}. goscope opt ties the compiler's decision (go build -gcflags=-json=0 or \
                 -m=2) to the instructions of the linked binary."
            ),
            level: "note",
        })
        .collect();
    let results: Vec<SarifResult> = r
        .decisions
        .iter()
        .map(|t| {
            let d = &t.decision;
            let (file, line) = d.position();
            SarifResult {
                rule_id: kind_id(d.kind).to_string(),
                message: match t.instructions.first() {
                    Some(i) => format!("{} → {} in {}", headline(t), i.text, i.function),
                    None => format!(
                        "{} (no instruction: {})",
                        headline(t),
                        t.reason.as_deref().unwrap_or("")
                    ),
                },
                module_location: module
                    .and_then(|m| m.relative(file))
                    .map(|f| (f, line as i32)),
                file: file.to_string(),
                line: line as i32,
                function: t
                    .function
                    .clone()
                    .or_else(|| t.instructions.first().map(|i| i.function.clone())),
                address: t.instructions.first().map(|i| i.address),
                fingerprint: format!("{}:{}:{}:{}", kind_id(d.kind), file, line, d.message),
            }
        })
        .collect();
    log(&rules, &results, module.map(|m| m.root.as_path()))
}
