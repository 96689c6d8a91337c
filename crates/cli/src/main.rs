//! goscope: what a Go program really does at the machine level.
//!
//! This crate only wires flags to the libraries and renders their results; analysis lives in
//! the `goscope-*` library crates.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod cmd;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: findings (violations, differences) were reported.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: bad usage or unreadable input.
pub const EXIT_ERROR: u8 = 2;

const ABOUT: &str = "See what a Go program really does at the machine level.

goscope reads Go executables (ELF, Mach-O, PE; amd64, arm64, 386, arm; stripped or not) without
a Go toolchain, and answers in Go's own terms: functions, inlined calls, source lines.
Disassembly (objdump, check, diff) covers amd64, arm64 and 386, not 32-bit ARM.";

const AFTER_HELP: &str = "Examples:
  goscope info ./server                   Go version, module, dependencies, build settings
  goscope nm -n ./server                  symbols by address (also on stripped binaries)
  echo 0x4a1b20 | goscope addr2line --inlines ./server
                                          function and file:line, with every inlined call
  goscope objdump --annotate -s 'main\\.main$' ./server
                                          disassembly with allocations, LOCKs, inlining marked
  goscope core ./server core.1234         post-mortem: the panic and every goroutine's stack
  goscope stacks 1234                     a running program's goroutines, paused for milliseconds
  goscope top 1234                        its goroutines counted over time; leaks flagged
  goscope snapshot 1234 -o core.1234      a core of it, for later
  goscope trace -p 1234 'main\\.settle$'   every call, with goroutine and arguments, live
  goscope locks -p 1234 --duration 10s    which atomics run, how often, in which goroutines
  goscope record -p 1234 -o cpu.pb.gz     a CPU profile of any running Go program
  goscope profile ./server cpu.pb.gz disasm 'main\\.encode$'
                                          samples per instruction, inlined functions too

Every command takes --json. Exit status: 0 ok, 1 findings, 2 usage or input error.";

#[derive(Parser, Debug)]
#[command(name = "goscope", version, about = ABOUT, after_help = AFTER_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = output::ColorChoice::Auto)]
    color: output::ColorChoice,
}

#[derive(Subcommand, Debug)]
enum Command {
    Info(cmd::info::Args),
    Nm(cmd::nm::Args),
    Addr2line(cmd::addr2line::Args),
    Check(cmd::check::Args),
    Diff(cmd::diff::Args),
    Opt(cmd::opt::Args),
    Objdump(cmd::objdump::Args),
    Core(cmd::core::Args),
    Stacks(cmd::stacks::Args),
    Snapshot(cmd::snapshot::Args),
    Top(cmd::top::Args),
    Debug(cmd::debug::Args),
    Trace(cmd::trace::Args),
    Locks(cmd::locks::Args),
    Record(cmd::record::Args),
    Profile(cmd::profile::Args),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(cmd::completions::CompletionsArgs),
    /// Print the man page.
    Man(cmd::completions::ManArgs),
}

/// `go tool` spells long flags with one dash (`-size`, `-sort=name`). clap would read `-size` as
/// four short flags, so rewrite the known ones to `--size` before parsing.
fn normalize_go_flags(args: Vec<String>) -> Vec<String> {
    const GO_LONG_FLAGS: &[(&str, &[&str])] = &[("nm", &["size", "sort", "type"])];
    let Some(sub) = args.get(1).cloned() else {
        return args;
    };
    let Some((_, flags)) = GO_LONG_FLAGS.iter().find(|(c, _)| *c == sub) else {
        return args;
    };
    let mut out = Vec::with_capacity(args.len());
    let mut rest_are_operands = false;
    for a in args {
        if rest_are_operands {
            out.push(a);
            continue;
        }
        if a == "--" {
            rest_are_operands = true;
            out.push(a);
            continue;
        }
        if let Some(body) = a.strip_prefix('-')
            && !body.starts_with('-')
        {
            let name = body.split('=').next().unwrap_or(body);
            if flags.contains(&name) {
                out.push(format!("-{a}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// An error and its causes on one line, each said once: a cause whose text the message
/// already holds is dropped (`cannot read F: No such file…` is not followed by `No such
/// file…` again), and a cause that repeats the context and says more replaces it.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if c.is_empty() || text.contains(&c) {
            continue;
        }
        if text.is_empty() || c.contains(&text) {
            text = c;
        } else {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// `goscope core threads core`: a file named like one of `core`'s (or `profile`'s) subcommands,
/// given as BIN or CORE, would be read as that subcommand. An operand that names an existing
/// file, is a subcommand's name and has another operand after it is a file: it is passed as
/// `./NAME`, which clap cannot take for a subcommand.
fn disambiguate_files(mut args: Vec<String>) -> Vec<String> {
    use clap::CommandFactory;
    let Some(sub) = args.get(1).cloned() else {
        return args;
    };
    if sub != "core" && sub != "profile" {
        return args;
    }
    let cmd = Cli::command();
    let Some(c) = cmd.find_subcommand(&sub) else {
        return args;
    };
    let names: Vec<String> = c
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .chain(std::iter::once("help".to_string()))
        .collect();
    let operands: Vec<usize> = (2..args.len())
        .filter(|&i| !args[i].starts_with('-'))
        .take(3)
        .collect();
    for (k, &i) in operands.iter().enumerate().take(2) {
        let a = &args[i];
        if names.contains(a) && k + 1 < operands.len() && std::path::Path::new(a).is_file() {
            args[i] = format!("./{a}");
        }
    }
    args
}

fn main() -> ExitCode {
    let args = disambiguate_files(normalize_go_flags(std::env::args().collect()));
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    output::set_color(cli.color);
    let result = match cli.command {
        Command::Info(a) => cmd::info::run(a),
        Command::Nm(a) => cmd::nm::run(a),
        Command::Addr2line(a) => cmd::addr2line::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Diff(a) => cmd::diff::run(a),
        Command::Opt(a) => cmd::opt::run(a),
        Command::Objdump(a) => cmd::objdump::run(a),
        Command::Core(a) => cmd::core::run(a),
        Command::Stacks(a) => cmd::stacks::run(a),
        Command::Snapshot(a) => cmd::snapshot::run(a),
        Command::Top(a) => cmd::top::run(a),
        Command::Debug(a) => cmd::debug::run(a),
        Command::Trace(a) => cmd::trace::run(a),
        Command::Locks(a) => cmd::locks::run(a),
        Command::Record(a) => cmd::record::run(a),
        Command::Profile(a) => cmd::profile::run(a),
        Command::Completions(a) => cmd::completions::completions(a),
        Command::Man(a) => cmd::completions::man(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return ExitCode::from(EXIT_OK);
            }
            if let Some(sig) = goscope_target::live::signals::interrupted() {
                eprintln!("goscope: {}", error_text(&e));
                return ExitCode::from(goscope_target::live::signals::exit_status(sig));
            }
            eprintln!("goscope: {}", error_text(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
