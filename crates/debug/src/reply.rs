//! What each command returns: typed results the CLI renders as text or as one JSON object per
//! line (`{"command": …, "result": …}`; stops as `{"event": "stop", …}`).

use serde::Serialize;

use crate::hw::HwKind;

/// One frame of an inline chain.
#[derive(Debug, Clone, Serialize)]
pub struct InlineFrame {
    /// Function.
    pub function: String,
    /// File.
    pub file: String,
    /// Line.
    pub line: i32,
}

/// Why the program stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StopReason {
    /// A breakpoint (its condition held).
    Breakpoint,
    /// A watchpoint fired.
    Watchpoint,
    /// A step ended (`si`, `ni`, `stepout`).
    Step,
    /// Ctrl-C (SIGINT) while the program ran.
    Signal,
    /// The program exited.
    Exited,
}

/// A stop: `{"event":"stop","reason":…,"pc":…,"function":…,"file":…,"line":…,"goroutine":…,
/// "inline":[…],"breakpoint":…}` plus the reason's own fields.
#[derive(Debug, Clone, Serialize)]
pub struct Stop {
    /// Always `stop`.
    pub event: &'static str,
    /// Why.
    pub reason: StopReason,
    /// Process.
    pub pid: i32,
    /// Thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<i32>,
    /// Where (a runtime address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pc: Option<u64>,
    /// Function at pc (the innermost of the inline chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<i32>,
    /// The goroutine the thread runs (absent on a system stack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutine: Option<u64>,
    /// The inline chain at pc, innermost first (the last is the physical function).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<InlineFrame>,
    /// The breakpoint or watchpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakpoint: Option<u32>,
    /// Hits of that breakpoint by this goroutine, and in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hits: Option<(u64, u64)>,
    /// Watchpoint: the watched address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
    /// Watchpoint: the value before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<u64>,
    /// Watchpoint: the value now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<u64>,
    /// Watchpoint: the instruction that accessed it (the one before pc) and its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instruction: Option<(u64, String)>,
    /// Exited: the status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    /// Why the breakpoint's condition could not be evaluated (it stopped anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Exited: the killing signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

impl Stop {
    /// A stop of `reason` in process `pid`, the rest to be filled in.
    pub fn new(reason: StopReason, pid: i32) -> Stop {
        Stop {
            event: "stop",
            reason,
            pid,
            thread: None,
            pc: None,
            function: None,
            file: None,
            line: None,
            goroutine: None,
            inline: Vec::new(),
            breakpoint: None,
            hits: None,
            address: None,
            old: None,
            new: None,
            instruction: None,
            status: None,
            signal: None,
            error: None,
        }
    }
}

/// A breakpoint or watchpoint as listed.
#[derive(Debug, Clone, Serialize)]
pub struct BreakpointInfo {
    /// Its number.
    pub id: u32,
    /// What it was set on.
    pub spec: String,
    /// `breakpoint` or `watchpoint`.
    pub what: &'static str,
    /// Watchpoints: what fires them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<HwKind>,
    /// Runtime addresses, with the function and line of each.
    pub locations: Vec<Location>,
    /// Its condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cond: Option<String>,
    /// Only this goroutine stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutine: Option<u64>,
    /// Times it stopped the program.
    pub hits: u64,
    /// Code breakpoints: hits at which goscope evaluated the goroutine and condition — every
    /// hit, or for a breakpoint filtered in the kernel, only the hits its filter passed.
    pub evaluated: u64,
    /// Hardware slots in use, of four, after this one.
    pub debug_registers_used: usize,
}

/// [`Location::how`] of a hardware breakpoint whose goroutine and condition the kernel filters.
pub const HOW_FILTERED_IN_KERNEL: &str = "hardware, filtered in the kernel";

/// One address of a breakpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Location {
    /// Process.
    pub pid: i32,
    /// Runtime address.
    pub addr: u64,
    /// Function.
    pub function: String,
    /// File.
    pub file: String,
    /// Line.
    pub line: i32,
    /// `hardware` (a debug register or a perf event), [`HOW_FILTERED_IN_KERNEL`], or `int3`.
    pub how: &'static str,
}

/// One register.
#[derive(Debug, Clone, Serialize)]
pub struct Register {
    /// Name.
    pub name: &'static str,
    /// Value.
    pub value: u64,
    /// What it holds: `goroutine 7`, `main.f+0x12`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
}

/// One instruction of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ListedInsn {
    /// Runtime address.
    pub address: u64,
    /// The current instruction.
    pub current: bool,
    /// Bytes as hex.
    pub bytes: String,
    /// Go-syntax text.
    pub text: String,
    /// File.
    pub file: String,
    /// Line.
    pub line: i32,
    /// Inline chain, innermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<InlineFrame>,
    /// goscope's annotations (allocation, LOCK, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
    /// A breakpoint is set here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub breakpoint: bool,
}

/// One goroutine as listed.
#[derive(Debug, Clone, Serialize)]
pub struct GoroutineLine {
    /// Id.
    pub id: u64,
    /// State.
    pub state: String,
    /// Innermost user frame: `function file:line`.
    pub location: String,
    /// Thread running it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<u64>,
    /// The current goroutine.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub current: bool,
    /// With `-group`: how many share this stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

/// One stack frame as listed.
#[derive(Debug, Clone, Serialize)]
pub struct StackFrame {
    /// Number, 0 innermost.
    pub index: usize,
    /// Function.
    pub function: String,
    /// File.
    pub file: String,
    /// Line.
    pub line: i32,
    /// Runtime pc.
    pub pc: u64,
    /// Inlined into the next frame.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inlined: bool,
}

/// A traced process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessLine {
    /// Id.
    pub pid: i32,
    /// Executable.
    pub exe: String,
    /// Threads.
    pub threads: usize,
    /// The current one.
    pub current: bool,
}

/// A command's result.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The program stopped.
    Stop(Stop),
    /// A breakpoint or watchpoint was set or changed.
    Breakpoint(BreakpointInfo),
    /// `breakpoints`.
    Breakpoints {
        /// Each.
        list: Vec<BreakpointInfo>,
    },
    /// `clear`, `clearall`.
    Cleared {
        /// Ids removed.
        ids: Vec<u32>,
    },
    /// `regs`.
    Registers {
        /// Thread.
        thread: i32,
        /// Each register.
        registers: Vec<Register>,
    },
    /// `disassemble`.
    Disassembly {
        /// Function.
        function: String,
        /// The marked pc.
        pc: u64,
        /// Instructions.
        insns: Vec<ListedInsn>,
    },
    /// `goroutines`.
    Goroutines {
        /// Each (or each group).
        list: Vec<GoroutineLine>,
    },
    /// `goroutine`: the current one.
    Goroutine(GoroutineLine),
    /// `stack`.
    Stack {
        /// Goroutine.
        goroutine: Option<u64>,
        /// Frames.
        frames: Vec<StackFrame>,
    },
    /// `frame`.
    Frame(StackFrame),
    /// `print`.
    Value {
        /// The expression.
        expr: String,
        /// Its value, as Delve prints it.
        value: String,
    },
    /// `x`.
    Memory {
        /// Start.
        addr: u64,
        /// Bytes (`null` where unreadable).
        bytes: Vec<Option<u8>>,
    },
    /// `processes`.
    Processes {
        /// Each.
        list: Vec<ProcessLine>,
    },
    /// `detach`, `exit`: the session ended.
    Ended {
        /// What happened to the program: `detached`, `killed`, `kept running`.
        program: &'static str,
    },
    /// `help`.
    Help {
        /// `(usage, what it does)`.
        commands: Vec<(&'static str, &'static str)>,
    },
    /// Something to say.
    Note {
        /// The text.
        text: String,
    },
}
