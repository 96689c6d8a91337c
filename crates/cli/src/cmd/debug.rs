//! `goscope debug exec PROG [-- ARGS]` and `goscope debug attach PID`: an interactive session
//! with Delve's command words (or a script: `--init FILE`, `-c CMD`, commands on stdin), its
//! replies as text or as one JSON object per line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;
use goscope_debug::command;
use goscope_debug::reply::{Reply, Stop, StopReason};
use goscope_debug::session::{Session, SessionError, SessionOptions};
use goscope_target::live::signals;

use crate::cmd::goroutines::short;

const AFTER_HELP: &str = "Examples:
  goscope debug exec ./server -- -port 8080
  goscope debug attach 1234
  goscope debug attach 1234 -c 'break main.handle' -c continue -c stack -c detach
  goscope debug exec ./server --init cmds.txt --json      one JSON object per line
  goscope debug exec ./server --follow-fork               trace children too (fork, exec)

Commands (Delve's words): break/b LOCATION [-g ID] [if COND], cond N EXPR, clear N, clearall,
breakpoints, watch [-r|-w|-rw] ADDR [SIZE], continue/c, step-instruction/si,
next-instruction/ni, stepout, regs [-a], disassemble, goroutines [-group], goroutine [ID],
stack/bt [N], frame N, print/p EXPR, x ADDR [COUNT], processes, process PID, detach, exit; help.
An empty line repeats the last command.

Breakpoints use the four hardware debug registers first, as perf events on Linux 6.10+ (the
kernel removes them if goscope dies), then int3. Conditions are evaluated by goscope on the thread that hit, without stopping
the others; on Linux 6.10+ a condition made of comparisons of variables in registers, on the
stack or global, registers, `goroutine` and constants (joined by &&, ||, !) is first filtered in
the kernel by a BPF program, so that a false hit never stops the program (`breakpoints` shows
how many hits reached goscope; GOSCOPE_KERNEL_CONDITIONS=0 turns perf events and filters off).
Every way out — detach, exit, end of input, SIGINT/SIGTERM/SIGHUP, a crash of goscope — removes
every int3, clears every debug register and resumes every thread; after `exec`, exit kills the
program unless --keep. If goscope is killed with SIGKILL, the kernel detaches it (and, after
`exec` without --keep, kills the program): perf-event breakpoints vanish with it and threads
stopped at a breakpoint or a step run on with no signal; but a hardware watchpoint (a debug
register set through ptrace, which the kernel keeps armed), a hardware breakpoint on an older
kernel, or an int3 left in the code stops the program with SIGTRAP when next reached.";

/// Debug a Go program: break, watch, step and print, with Delve's command words.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(subcommand)]
    how: How,
    /// Run the commands in FILE first, one per line (like dlv --init).
    #[arg(long, global = true, value_name = "FILE")]
    init: Option<PathBuf>,
    /// Run this command (repeatable), after --init.
    #[arg(short = 'c', long = "command", global = true, value_name = "CMD")]
    commands: Vec<String>,
    /// One JSON object per line: stops as {"event":"stop",…}, results as
    /// {"command":…,"result":…}.
    #[arg(long, global = true)]
    json: bool,
    /// Trace children the program forks (and what they exec); `processes`/`process N` switch.
    #[arg(long, global = true)]
    follow_fork: bool,
}

#[derive(clap::Subcommand, Debug)]
enum How {
    /// Start PROG stopped at its first instruction.
    Exec {
        /// The program.
        program: PathBuf,
        /// Its arguments (after --).
        #[arg(last = true)]
        args: Vec<String>,
        /// Leave it running when the session ends (default: kill it).
        #[arg(long)]
        keep: bool,
    },
    /// Attach to a running process and stop it.
    Attach {
        /// The process id.
        pid: i32,
    },
}

/// Lines of input: from a reader thread (rustyline on a terminal, plain lines otherwise), so
/// that the main thread — the tracer — can notice signals while it waits.
enum Input {
    Line(String),
    /// Ctrl-C at the prompt.
    Cancelled,
    End,
}

fn reader(tty: bool) -> (mpsc::Receiver<Input>, mpsc::Sender<()>) {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if tty {
            let Ok(mut ed) = rustyline::DefaultEditor::new() else {
                let _ = tx.send(Input::End);
                return;
            };
            while ready_rx.recv().is_ok() {
                let msg = match ed.readline("(goscope) ") {
                    Ok(l) => {
                        let _ = ed.add_history_entry(l.as_str());
                        Input::Line(l)
                    }
                    Err(rustyline::error::ReadlineError::Interrupted) => Input::Cancelled,
                    Err(_) => Input::End,
                };
                let end = matches!(msg, Input::End);
                if tx.send(msg).is_err() || end {
                    return;
                }
            }
        } else {
            let stdin = std::io::stdin();
            while ready_rx.recv().is_ok() {
                let mut l = String::new();
                let msg = match stdin.read_line(&mut l) {
                    Ok(0) | Err(_) => Input::End,
                    Ok(_) => Input::Line(l.trim_end_matches(['\n', '\r']).to_string()),
                };
                let end = matches!(msg, Input::End);
                if tx.send(msg).is_err() || end {
                    return;
                }
            }
        }
    });
    (rx, ready_tx)
}

pub fn run(args: Args) -> Result<u8> {
    let opts = SessionOptions {
        follow_fork: args.follow_fork,
        keep: matches!(args.how, How::Exec { keep: true, .. }),
    };
    let mut session = match &args.how {
        How::Exec {
            program, args: a, ..
        } => Session::exec(program, a, &opts)?,
        How::Attach { pid } => Session::attach(*pid, &opts)?,
    };
    let mut out = std::io::stdout().lock();
    let json = args.json;
    let started = match &args.how {
        How::Exec { program, .. } => format!(
            "Process {} started: {} (stopped before its first instruction; type help)",
            session.pid(),
            program.display()
        ),
        How::Attach { pid } => format!("Attached to process {pid}, stopped (type help)"),
    };
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"event": "started", "pid": session.pid()})
        )?;
    } else {
        writeln!(out, "{started}")?;
    }
    let mut scripted: Vec<String> = Vec::new();
    if let Some(f) = &args.init {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
        scripted.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    scripted.extend(args.commands.iter().cloned());
    let tty = std::io::stdin().is_terminal();
    let mut failures = 0usize;
    let mut last = String::new();
    for line in scripted {
        if session.ended() {
            break;
        }
        run_line(&mut session, &line, json, &mut out, &mut failures)?;
        last = line;
        if let Some(code) = on_signal(&mut session, json, &mut out)? {
            return Ok(code);
        }
    }
    let (rx, ready) = reader(tty);
    while !session.ended() {
        let _ = ready.send(());
        out.flush()?;
        let input = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(i) => break i,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(code) = on_signal(&mut session, json, &mut out)? {
                        return Ok(code);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break Input::End,
            }
        };
        match input {
            Input::Line(l) => {
                let l = if l.trim().is_empty() { last.clone() } else { l };
                if l.trim().is_empty() {
                    continue;
                }
                run_line(&mut session, &l, json, &mut out, &mut failures)?;
                last = l;
            }
            Input::Cancelled => {
                if !json {
                    writeln!(
                        out,
                        "(Ctrl-C at the prompt; exit or detach ends the session)"
                    )?;
                }
            }
            Input::End => {
                run_line(&mut session, "exit", json, &mut out, &mut failures)?;
            }
        }
        if let Some(code) = on_signal(&mut session, json, &mut out)? {
            return Ok(code);
        }
    }
    Ok(if failures > 0 && !tty { 2 } else { 0 })
}

/// A signal while the program is stopped at the prompt: end the session cleanly.
fn on_signal(session: &mut Session, json: bool, out: &mut impl Write) -> Result<Option<u8>> {
    let Some(sig) = signals::take() else {
        return Ok(None);
    };
    session.leave();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"event": "ended", "signal": sig.as_str()})
        )?;
    } else {
        writeln!(out, "{sig}: session ended; the program was left as on exit")?;
    }
    Ok(Some(signals::exit_status(sig)))
}

fn run_line(
    session: &mut Session,
    line: &str,
    json: bool,
    out: &mut impl Write,
    failures: &mut usize,
) -> Result<()> {
    let result = command::parse(line)
        .map_err(|e| SessionError::Command(e.to_string()))
        .and_then(|c| session.execute(c));
    match result {
        Ok(reply) => {
            if json {
                match &reply {
                    Reply::Stop(s) => writeln!(out, "{}", serde_json::to_string(s)?)?,
                    r => writeln!(out, "{}", serde_json::json!({"command": line, "result": r}))?,
                }
            } else {
                render(out, &reply)?;
            }
        }
        Err(SessionError::Terminated(sig)) => {
            session.leave();
            anyhow::bail!("ended by {sig}; the program was left as on exit");
        }
        Err(e) => {
            *failures += 1;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"command": line, "error": e.to_string()})
                )?;
            } else {
                writeln!(out, "error: {e}")?;
            }
        }
    }
    Ok(())
}

fn stop_line(s: &Stop) -> String {
    let tag = match (s.reason, s.breakpoint) {
        (StopReason::Breakpoint, Some(id)) => format!("[Breakpoint {id}] "),
        (StopReason::Watchpoint, Some(id)) => format!("[Watchpoint {id}] "),
        (StopReason::Signal, _) => "[SIGINT] ".into(),
        _ => String::new(),
    };
    let hits = s
        .hits
        .map(|(g, t)| {
            format!(
                " (hits goroutine({}):{g} total:{t})",
                s.goroutine.unwrap_or(0)
            )
        })
        .unwrap_or_default();
    format!(
        "> {tag}{}() {}:{}{hits} (PC: {:#x})",
        s.function.as_deref().unwrap_or("?"),
        s.file.as_deref().unwrap_or("?"),
        s.line.unwrap_or(0),
        s.pc.unwrap_or(0)
    )
}

fn render(w: &mut impl Write, r: &Reply) -> Result<()> {
    match r {
        Reply::Stop(s) => {
            if s.reason == StopReason::Exited {
                match (s.status, s.signal) {
                    (_, Some(sig)) => writeln!(w, "Process {} was killed by signal {sig}", s.pid)?,
                    (st, _) => writeln!(
                        w,
                        "Process {} has exited with status {}",
                        s.pid,
                        st.unwrap_or(0)
                    )?,
                }
                return Ok(());
            }
            writeln!(w, "{}", stop_line(s))?;
            if s.inline.len() > 1 {
                let chain: Vec<String> = s
                    .inline
                    .iter()
                    .map(|f| format!("{} {}:{}", f.function, short(&f.file), f.line))
                    .collect();
                writeln!(w, "\tinlined: {}", chain.join(" ← "))?;
            }
            if let (Some(addr), Some(old), Some(new)) = (s.address, s.old, s.new) {
                writeln!(w, "\t{addr:#x}: old {old:#x}, new {new:#x}")?;
            }
            if let Some((pc, text)) = &s.instruction {
                writeln!(w, "\taccessed by {pc:#x}: {text}")?;
            }
            if let Some(g) = s.goroutine {
                writeln!(w, "\tgoroutine {g}, thread {}", s.thread.unwrap_or(0))?;
            }
        }
        Reply::Breakpoint(b) => {
            let what = if b.what == "watchpoint" {
                "Watchpoint"
            } else {
                "Breakpoint"
            };
            match b.locations.as_slice() {
                [l] if b.what == "watchpoint" => writeln!(
                    w,
                    "{what} {} set at {:#x}{} ({:?}, {})",
                    b.id,
                    l.addr,
                    if l.function.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", l.function)
                    },
                    b.access.unwrap_or(goscope_debug::hw::HwKind::Write),
                    b.spec
                )?,
                [l] => writeln!(
                    w,
                    "{what} {} set at {:#x} for {}() {}:{} ({})",
                    b.id, l.addr, l.function, l.file, l.line, l.how
                )?,
                ls => {
                    writeln!(w, "{what} {} set at {} locations:", b.id, ls.len())?;
                    for l in ls {
                        writeln!(
                            w,
                            "\t{:#x} {}() {}:{} ({})",
                            l.addr, l.function, l.file, l.line, l.how
                        )?;
                    }
                }
            }
            if let Some(c) = &b.cond {
                writeln!(w, "\tcondition: {c}")?;
            }
            writeln!(
                w,
                "\t{} of 4 debug registers in use",
                b.debug_registers_used
            )?;
        }
        Reply::Breakpoints { list } => {
            if list.is_empty() {
                writeln!(w, "no breakpoints")?;
            }
            for b in list {
                let at: Vec<String> = b
                    .locations
                    .iter()
                    .map(|l| {
                        format!(
                            "{:#x} {}() {}:{}",
                            l.addr,
                            l.function,
                            short(&l.file),
                            l.line
                        )
                    })
                    .collect();
                writeln!(
                    w,
                    "{} {} {} at {} ({} hits{}){}{}",
                    if b.what == "watchpoint" {
                        "Watchpoint"
                    } else {
                        "Breakpoint"
                    },
                    b.id,
                    b.spec,
                    at.join(", "),
                    b.hits,
                    if b.cond.is_some() || b.goroutine.is_some() {
                        let kernel = b
                            .locations
                            .iter()
                            .any(|l| l.how == goscope_debug::reply::HOW_FILTERED_IN_KERNEL);
                        format!(
                            ", {} evaluated by goscope{}",
                            b.evaluated,
                            if kernel {
                                " after the kernel's filter"
                            } else {
                                ""
                            }
                        )
                    } else {
                        String::new()
                    },
                    b.cond
                        .as_ref()
                        .map(|c| format!(" if {c}"))
                        .unwrap_or_default(),
                    b.goroutine
                        .map(|g| format!(" goroutine {g} only"))
                        .unwrap_or_default()
                )?;
            }
        }
        Reply::Cleared { ids } => {
            for id in ids {
                writeln!(w, "Breakpoint {id} cleared")?;
            }
        }
        Reply::Registers { thread, registers } => {
            writeln!(w, "thread {thread}:")?;
            for r in registers {
                writeln!(
                    w,
                    "{:>8} = {:#018x}{}",
                    r.name,
                    r.value,
                    r.meaning
                        .as_ref()
                        .map(|m| format!("  {m}"))
                        .unwrap_or_default()
                )?;
            }
        }
        Reply::Disassembly {
            function, insns, ..
        } => {
            writeln!(w, "TEXT {function}(SB)")?;
            let rows: Vec<crate::output::ListingRow> = insns
                .iter()
                .map(|i| crate::output::ListingRow {
                    mark: format!(
                        "{}{}",
                        if i.current { "=>" } else { "  " },
                        if i.breakpoint { "*" } else { " " }
                    ),
                    position: format!("{}:{}", short(&i.file), i.line),
                    address: i.address,
                    bytes: i.bytes.clone(),
                    text: i.text.clone(),
                    notes: i.annotations.clone(),
                })
                .collect();
            crate::output::write_listing(w, &rows)?;
        }
        Reply::Goroutines { list } => {
            for g in list {
                writeln!(
                    w,
                    "{} Goroutine {} - {} [{}]{}{}",
                    if g.current { "*" } else { " " },
                    g.id,
                    g.location,
                    g.state,
                    g.thread
                        .map(|t| format!(" (thread {t})"))
                        .unwrap_or_default(),
                    g.count.map(|c| format!(" ×{c}")).unwrap_or_default()
                )?;
            }
            writeln!(w, "[{} goroutines]", list.len())?;
        }
        Reply::Goroutine(g) => writeln!(
            w,
            "Goroutine {}: {} (thread {})",
            g.id,
            g.location,
            g.thread.unwrap_or(0)
        )?,
        Reply::Stack { frames, .. } => {
            for f in frames {
                writeln!(
                    w,
                    "{:>2}  {:#018x} in {}{}\n    at {}:{}",
                    f.index,
                    f.pc,
                    f.function,
                    if f.inlined { " (inlined)" } else { "" },
                    f.file,
                    f.line
                )?;
            }
        }
        Reply::Frame(f) => writeln!(
            w,
            "Frame {}: {} at {}:{} (pc {:#x})",
            f.index, f.function, f.file, f.line, f.pc
        )?,
        Reply::Value { value, .. } => writeln!(w, "{value}")?,
        Reply::Memory { addr, bytes } => {
            for (i, row) in bytes.chunks(16).enumerate() {
                write!(w, "{:#014x}:", addr + 16 * i as u64)?;
                for b in row {
                    match b {
                        Some(b) => write!(w, " {b:02x}")?,
                        None => write!(w, " ??")?,
                    }
                }
                writeln!(w)?;
            }
        }
        Reply::Processes { list } => {
            for p in list {
                writeln!(
                    w,
                    "{} {} {} ({} threads)",
                    if p.current { "*" } else { " " },
                    p.pid,
                    p.exe,
                    p.threads
                )?;
            }
        }
        Reply::Ended { program } => writeln!(w, "session ended; the program was {program}")?,
        Reply::Help { commands } => {
            for (u, d) in commands {
                writeln!(w, "  {u:<36} {d}")?;
            }
        }
        Reply::Note { text } => writeln!(w, "{text}")?,
    }
    Ok(())
}
