//! `goscope check`: fail CI when a function's machine code breaks the policy.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use goscope_check::check::{Report, check_with_progress};
use goscope_check::directives::{self, Module};
use goscope_check::policy::{Policy, Rule};

use crate::output;

/// Check a Go binary against machine-level rules: no allocation, no LOCK, no bounds check,
/// must inline, frame and code size...
///
/// The rules come from a policy file (goscope.toml) and from //goscope:noalloc, //goscope:inline,
/// //goscope:nobce and //goscope:nolock comments above func declarations in the Go module.
/// They are checked on the linked binary's instructions, so they hold for the code that
/// actually runs (inlined callees included), whatever the compiler's text diagnostics say.
/// Exit status 1 when there is a violation.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  goscope check --explain                          every rule, with what it looks at
  goscope check ./server                           ./goscope.toml and the module's directives
  goscope check --policy ci/goscope.toml ./server
  goscope check --format sarif ./server > goscope.sarif   for GitHub code scanning

goscope.toml:
  [[check]]
  name = \"codec hot path\"
  functions = [\"example.com/app/codec.Encode*\"]   # globs; also packages = [...], regex = '...'
  no_alloc = true
  no_lock = true
  lock_allow = [\"example.com/app/stats\"]
  max_frame_size = 1024

In Go source, above a func:
  //goscope:noalloc   //goscope:inline   //goscope:nobce   //goscope:nolock")]
pub struct Args {
    /// List every rule with what it looks at, and exit.
    #[arg(long)]
    explain: bool,
    /// The policy file (default: ./goscope.toml when it exists).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The Go module whose //goscope: directives apply and against which SARIF paths are
    /// relative (default: the policy's [module] root, else the module containing the policy
    /// file or the current directory).
    #[arg(long, value_name = "DIR")]
    module: Option<PathBuf>,
    /// Ignore //goscope: directives.
    #[arg(long)]
    no_directives: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
    /// The Go executable.
    #[arg(required_unless_present = "explain")]
    binary: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

fn explain(out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "Rules of goscope check (goscope.toml keys; directives in parentheses):\n"
    )?;
    for r in Rule::ALL {
        let directive = directives::DIRECTIVES
            .iter()
            .find(|(_, x)| *x == r)
            .map(|(w, _)| format!(" (//goscope:{w})"))
            .unwrap_or_default();
        writeln!(out, "{}{directive}\n  {}", r.id(), r.summary())?;
        for line in wrap(r.help(), 94) {
            writeln!(out, "    {line}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Selecting functions, in each [[check]]: functions = [globs on names], packages = [globs on \
         package paths],\nregex = 'on names', exclude = [globs]. A function must match every \
         selector given. Globs: * any run\nof characters, ? one character."
    )?;
    Ok(())
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + w.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

pub fn run(args: Args) -> Result<u8> {
    let mut out = output::stdout();
    if args.explain {
        explain(&mut out)?;
        out.flush()?;
        return Ok(crate::EXIT_OK);
    }
    let Some(binary) = &args.binary else {
        bail!("missing the binary to check");
    };
    let policy_path = match &args.policy {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("goscope.toml")).filter(|p| p.exists()),
    };
    let policy = match &policy_path {
        Some(p) => Policy::load(p).with_context(|| format!("reading {}", p.display()))?,
        None => Policy {
            directives: true,
            ..Policy::default()
        },
    };
    let module_dir = args
        .module
        .clone()
        .or_else(|| policy.module_root.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let want_directives = policy.directives && !args.no_directives;
    let module = match Module::find(&module_dir) {
        Ok(m) => Some(m),
        Err(e) if args.module.is_some() => return Err(e.into()),
        Err(_) => None,
    };
    let scan = match (&module, want_directives) {
        (Some(m), true) => directives::scan(m)?,
        _ => Default::default(),
    };
    if policy.checks.is_empty() && scan.directives.is_empty() {
        bail!(
            "nothing to check: no policy ({}) and no //goscope: directives{}; write a \
             goscope.toml (see goscope check --explain) or pass --policy FILE",
            policy_path.as_deref().map_or_else(
                || "no goscope.toml here".to_string(),
                |p| p.display().to_string()
            ),
            module.as_ref().map_or_else(
                || " (no Go module found)".to_string(),
                |m| format!(" in {}", m.root.display())
            )
        );
    }
    let bin = output::open_binary(binary)?;
    // A bar on the terminal for large binaries (the report comes at the end).
    let bar = {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(0);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("checking [{bar:30}] {pos}/{len} functions")
            {
                b.set_style(style.progress_chars("=> "));
            }
            b
        })
    };
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            if done == 0 {
                b.set_length(total);
            }
            b.inc(done);
        }
    };
    let checked = check_with_progress(&bin, &policy, module.as_ref(), &scan.directives, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut report = checked.with_context(|| binary.display().to_string())?;
    report.warnings.splice(0..0, scan.warnings);
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Json => output::json_pretty(&mut out, &report)?,
        Format::Sarif => output::json_pretty(&mut out, &goscope_check::sarif::from_check(&report))?,
        Format::Text => render_text(&mut out, &report, module.as_ref().map(|m| m.root.as_path()))?,
    }
    out.flush()?;
    for w in &report.warnings {
        eprintln!("goscope: warning: {w}");
    }
    let status = if report.violations.is_empty() {
        crate::EXIT_OK
    } else {
        crate::EXIT_FINDINGS
    };
    // The process ends here: freeing a report of perhaps hundreds of thousands of violations
    // string by string would only delay the exit.
    std::mem::forget(report);
    Ok(status)
}

fn render_text(out: &mut impl Write, r: &Report, root: Option<&Path>) -> Result<()> {
    for v in &r.violations {
        let (file, line) = match &v.module_location {
            Some(l) => (l.file.clone(), l.line),
            None => (v.file.clone(), v.line),
        };
        let _ = root;
        writeln!(
            out,
            "{file}:{line}: {}: {}: {}",
            crate::output::paint(crate::output::Paint::Bad, v.rule.id()),
            v.function,
            v.message
        )?;
        if let Some(i) = &v.instruction {
            writeln!(out, "    {:#x}  {i}", v.address)?;
        }
        if let Some(caller) = &v.in_function {
            writeln!(out, "    in {caller}")?;
        }
        for f in v.inline.iter().take(v.inline.len().saturating_sub(1)) {
            writeln!(out, "    inlined {} at {}:{}", f.function, f.file, f.line)?;
        }
        writeln!(out, "    from {}", v.origin.describe())?;
    }
    writeln!(
        out,
        "{} violation{} in {} function{} checked ({} check{})",
        r.violations.len(),
        if r.violations.len() == 1 { "" } else { "s" },
        r.functions_checked,
        if r.functions_checked == 1 { "" } else { "s" },
        r.checks,
        if r.checks == 1 { "" } else { "s" },
    )?;
    Ok(())
}
