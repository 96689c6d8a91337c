//! Delve's command words, parsed: `break`/`b`, `condition`/`cond`, `clear`, `clearall`,
//! `breakpoints`/`bp`, `watch`, `continue`/`c`, `step-instruction`/`si`,
//! `next-instruction`/`ni`, `stepout`/`so`, `regs`, `disassemble`/`disass`,
//! `goroutines`/`grs`, `goroutine`/`gr`, `stack`/`bt`, `frame`, `print`/`p`, `x`,
//! `processes`, `process`, `detach`, `exit`/`quit`/`q`, `help`/`h`.

use crate::hw::HwKind;

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `break LOCATION [-g ID] [if COND]`.
    Break {
        /// The location spec.
        location: String,
        /// Only this goroutine stops.
        goroutine: Option<u64>,
        /// A condition.
        cond: Option<String>,
    },
    /// `cond N EXPR` (an empty EXPR removes the condition).
    Cond {
        /// Breakpoint id.
        id: u32,
        /// The condition.
        expr: String,
    },
    /// `clear N`.
    Clear(u32),
    /// `clearall`.
    ClearAll,
    /// `breakpoints`.
    Breakpoints,
    /// `watch [-r|-w|-rw] EXPR|ADDR [SIZE]`.
    Watch {
        /// What fires it.
        kind: HwKind,
        /// An expression or an address.
        target: String,
        /// Bytes, for an address.
        size: Option<u8>,
    },
    /// `continue`.
    Continue,
    /// `step-instruction`.
    StepInstruction,
    /// `next-instruction`: over calls.
    NextInstruction,
    /// `stepout`.
    StepOut,
    /// `regs [-a]`.
    Regs {
        /// Every register.
        all: bool,
    },
    /// `disassemble`.
    Disassemble,
    /// `goroutines [-group]`.
    Goroutines {
        /// Group by stack.
        group: bool,
    },
    /// `goroutine [ID]`: show or switch.
    Goroutine(Option<u64>),
    /// `stack [N]`.
    Stack(Option<usize>),
    /// `frame N`.
    Frame(usize),
    /// `print EXPR`.
    Print(String),
    /// `x ADDR [COUNT]`.
    Examine {
        /// Address expression.
        addr: String,
        /// Bytes.
        count: usize,
    },
    /// `processes`.
    Processes,
    /// `process PID`.
    Process(i32),
    /// `detach`.
    Detach,
    /// `exit`.
    Exit,
    /// `help [COMMAND]`.
    Help(Option<String>),
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, ParseError> {
    s.parse()
        .map_err(|_| ParseError(format!("{what} must be a number, not {s:?}")))
}

/// The commands and what they do, for `help`.
pub const HELP: &[(&str, &str)] = &[
    (
        "break LOCATION [-g ID] [if COND]",
        "b: stop at a function (after its prologue), FILE:LINE (every inlined copy too) or *ADDR",
    ),
    (
        "cond N EXPR",
        "condition: stop at breakpoint N only when EXPR holds (evaluated by goscope, no round trip)",
    ),
    (
        "clear N / clearall",
        "remove breakpoint N / every breakpoint",
    ),
    ("breakpoints", "bp: list breakpoints with hit counts"),
    (
        "watch [-r|-w|-rw] EXPR|ADDR [SIZE]",
        "hardware watchpoint on 1, 2, 4 or 8 bytes, on every thread",
    ),
    (
        "continue",
        "c: run until a breakpoint, a watchpoint or the end",
    ),
    ("step-instruction", "si: execute one instruction"),
    ("next-instruction", "ni: one instruction, over calls"),
    ("stepout", "so: run until the current function returns"),
    (
        "regs [-a]",
        "registers, symbolized (the g register as its goroutine)",
    ),
    (
        "disassemble",
        "disass: the current function, the pc marked, annotated",
    ),
    ("goroutines [-group]", "grs: every goroutine"),
    (
        "goroutine [ID]",
        "gr: show the current goroutine, or switch to ID",
    ),
    ("stack [N]", "bt: the current goroutine's stack, numbered"),
    ("frame N", "select frame N for print"),
    (
        "print EXPR",
        "p: evaluate EXPR (locals, arguments, globals, registers $rax $pc $sp $g, goroutine)",
    ),
    ("x ADDR [COUNT]", "hex dump COUNT bytes (default 64)"),
    (
        "processes / process PID",
        "list traced processes (--follow-fork) / switch",
    ),
    (
        "detach",
        "leave the program running, untouched, and end the session",
    ),
    (
        "exit",
        "end the session: detach after attach; kill the program after exec unless --keep",
    ),
];

/// Parses one command line.
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let line = line.trim();
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (line, ""),
    };
    let args: Vec<&str> = rest.split_whitespace().collect();
    let need = |what: &str| -> Result<(), ParseError> {
        if rest.is_empty() {
            Err(ParseError(format!("{word} needs {what}")))
        } else {
            Ok(())
        }
    };
    Ok(match word {
        "break" | "b" => {
            need("a location (a function, FILE:LINE or *ADDR)")?;
            let (head, cond) = match rest.split_once(" if ") {
                Some((h, c)) => (h.trim(), Some(c.trim().to_string())),
                None => (rest, None),
            };
            let mut location = None;
            let mut goroutine = None;
            let mut it = head.split_whitespace();
            while let Some(a) = it.next() {
                if a == "-g" {
                    let g = it
                        .next()
                        .ok_or_else(|| ParseError("-g needs a goroutine id".into()))?;
                    goroutine = Some(num(g, "the goroutine id")?);
                } else if location.is_none() {
                    location = Some(a.to_string());
                } else {
                    // `break NAME LOCATION`: Delve's optional breakpoint name comes first.
                    location = Some(a.to_string());
                }
            }
            Command::Break {
                location: location.ok_or_else(|| ParseError("break needs a location".into()))?,
                goroutine,
                cond,
            }
        }
        "condition" | "cond" => {
            need("a breakpoint id and an expression")?;
            let (id, expr) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Command::Cond {
                id: num(id, "the breakpoint id")?,
                expr: expr.trim().to_string(),
            }
        }
        "clear" => {
            need("a breakpoint id")?;
            Command::Clear(num(args[0], "the breakpoint id")?)
        }
        "clearall" => Command::ClearAll,
        "breakpoints" | "bp" => Command::Breakpoints,
        "watch" => {
            need("an expression or address")?;
            let mut kind = HwKind::Write;
            let mut words = args.as_slice();
            match words.first() {
                Some(&"-r") => {
                    // x86 cannot watch reads alone: read/write is the nearest.
                    kind = HwKind::ReadWrite;
                    words = &words[1..];
                }
                Some(&"-w") => words = &words[1..],
                Some(&"-rw") => {
                    kind = HwKind::ReadWrite;
                    words = &words[1..];
                }
                _ => {}
            }
            let target = words
                .first()
                .ok_or_else(|| ParseError("watch needs an expression or address".into()))?;
            let size = match words.get(1) {
                Some(s) => Some(num(s, "the size")?),
                None => None,
            };
            Command::Watch {
                kind,
                target: target.to_string(),
                size,
            }
        }
        "continue" | "c" => Command::Continue,
        "step-instruction" | "si" => Command::StepInstruction,
        "next-instruction" | "ni" => Command::NextInstruction,
        "stepout" | "so" => Command::StepOut,
        "regs" => Command::Regs {
            all: args.first() == Some(&"-a"),
        },
        "disassemble" | "disass" => Command::Disassemble,
        "goroutines" | "grs" => Command::Goroutines {
            group: args.iter().any(|a| a.starts_with("-group")),
        },
        "goroutine" | "gr" => Command::Goroutine(match args.first() {
            Some(a) => Some(num(a, "the goroutine id")?),
            None => None,
        }),
        "stack" | "bt" => Command::Stack(match args.first() {
            Some(a) => Some(num(a, "the depth")?),
            None => None,
        }),
        "frame" => {
            need("a frame number")?;
            Command::Frame(num(args[0], "the frame number")?)
        }
        "print" | "p" => {
            need("an expression")?;
            Command::Print(rest.to_string())
        }
        "x" | "examinemem" => {
            need("an address")?;
            Command::Examine {
                addr: args[0].to_string(),
                count: match args.get(1) {
                    Some(c) => num(c, "the count")?,
                    None => 64,
                },
            }
        }
        "processes" => Command::Processes,
        "process" => {
            need("a process id")?;
            Command::Process(num(args[0], "the process id")?)
        }
        "detach" => Command::Detach,
        "exit" | "quit" | "q" => Command::Exit,
        "help" | "h" => Command::Help(args.first().map(|s| s.to_string())),
        "" => return Err(ParseError("empty command".into())),
        other => {
            return Err(ParseError(format!(
                "unknown command {other:?} (help lists the commands)"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delve_words_and_aliases_parse() {
        assert_eq!(
            parse("b main.go:42 -g 7 if x > 3").unwrap(),
            Command::Break {
                location: "main.go:42".into(),
                goroutine: Some(7),
                cond: Some("x > 3".into())
            }
        );
        assert_eq!(
            parse("cond 2 goroutine == 5").unwrap(),
            Command::Cond {
                id: 2,
                expr: "goroutine == 5".into()
            }
        );
        assert_eq!(
            parse("watch -rw 0xc000010000 4").unwrap(),
            Command::Watch {
                kind: HwKind::ReadWrite,
                target: "0xc000010000".into(),
                size: Some(4)
            }
        );
        assert_eq!(parse("si").unwrap(), Command::StepInstruction);
        assert_eq!(parse("bt 5").unwrap(), Command::Stack(Some(5)));
        assert_eq!(parse("p a.b[3]").unwrap(), Command::Print("a.b[3]".into()));
        assert!(parse("frame x").is_err());
        assert!(parse("bogus").is_err());
        assert!(parse("break").is_err());
    }
}
