//! `goscope completions SHELL` and `goscope man`: shell completion scripts and a man page,
//! generated from the same clap definitions that parse the command line.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::output;

const COMPLETIONS_HELP: &str = "Install:
  bash:  goscope completions bash > ~/.local/share/bash-completion/completions/goscope
  zsh:   goscope completions zsh > ~/.zfunc/_goscope   (with fpath+=~/.zfunc before compinit)
  fish:  goscope completions fish > ~/.config/fish/completions/goscope.fish";

/// Print a shell completion script.
#[derive(clap::Args, Debug)]
#[command(after_help = COMPLETIONS_HELP)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print goscope's man page (roff), or write one page per command into a directory.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Read it: goscope man | man -l -\nInstall: goscope man --dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// Write goscope.1 and goscope-COMMAND.1 for every command into DIR.
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

/// Entry point of `completions`.
pub fn completions(args: CompletionsArgs) -> Result<u8> {
    let mut cmd = crate::Cli::command();
    let mut out = output::stdout();
    clap_complete::generate(args.shell, &mut cmd, "goscope", &mut out);
    out.flush()?;
    Ok(crate::EXIT_OK)
}

/// Entry point of `man`.
pub fn man(args: ManArgs) -> Result<u8> {
    let cmd = crate::Cli::command();
    match args.dir {
        None => {
            let mut out = output::stdout();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(cmd, &dir)?;
            eprintln!("goscope: man pages written to {}", dir.display());
        }
    }
    Ok(crate::EXIT_OK)
}
