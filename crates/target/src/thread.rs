//! Threads and their registers, whatever the target: a core file's `NT_PRSTATUS` notes and a
//! live process's `PTRACE_GETREGS` give the same words in the same order (`pr_reg` is the
//! kernel's `user_regs_struct`).

use serde::{Serialize, Serializer};

/// A thread: its id, registers and pending signal.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    /// Kernel thread id.
    pub tid: u32,
    /// The signal being delivered to this thread (a core's `pr_cursig`), 0 if none.
    pub signal: u16,
    /// General-purpose registers.
    pub regs: Registers,
}

/// The machine of a target (its register set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetArch {
    /// x86-64.
    Amd64,
    /// AArch64.
    Arm64,
}

const AMD64_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

const ARM64_NAMES: [&str; 34] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30", "sp", "pc", "pstate",
];

impl TargetArch {
    /// Number of 64-bit words in `pr_reg` (and `user_regs_struct`).
    pub fn prstatus_regs(self) -> usize {
        self.register_names().len()
    }

    /// Register names in `pr_reg` order.
    pub fn register_names(self) -> &'static [&'static str] {
        match self {
            TargetArch::Amd64 => &AMD64_NAMES,
            TargetArch::Arm64 => &ARM64_NAMES,
        }
    }

    /// `GOARCH` spelling.
    pub fn goarch(self) -> &'static str {
        match self {
            TargetArch::Amd64 => "amd64",
            TargetArch::Arm64 => "arm64",
        }
    }
}

/// The general-purpose registers of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers {
    arch: TargetArch,
    values: Vec<u64>,
    /// The thread pointer: `fs_base` on amd64, `TPIDR_EL0` (from `NT_ARM_TLS`) on arm64.
    pub tls: u64,
}

impl Registers {
    /// Registers of `arch` from `pr_reg` words.
    pub fn new(arch: TargetArch, values: Vec<u64>) -> Registers {
        let mut r = Registers {
            arch,
            values,
            tls: 0,
        };
        if arch == TargetArch::Amd64 {
            r.tls = r.get("fs_base").unwrap_or(0);
        }
        r
    }

    /// The machine.
    pub fn arch(&self) -> TargetArch {
        self.arch
    }

    /// The register called `name` (`rip`, `x29`, …).
    pub fn get(&self, name: &str) -> Option<u64> {
        let i = self.arch.register_names().iter().position(|n| *n == name)?;
        self.values.get(i).copied()
    }

    fn at(&self, amd64: usize, arm64: usize) -> u64 {
        let i = match self.arch {
            TargetArch::Amd64 => amd64,
            TargetArch::Arm64 => arm64,
        };
        self.values.get(i).copied().unwrap_or(0)
    }

    /// Program counter.
    pub fn pc(&self) -> u64 {
        self.at(16, 32)
    }

    /// Sets the program counter (a debugger rewinding a thread over an int3).
    pub fn set_pc(&mut self, pc: u64) {
        let i = match self.arch {
            TargetArch::Amd64 => 16,
            TargetArch::Arm64 => 32,
        };
        if let Some(v) = self.values.get_mut(i) {
            *v = pc;
        }
    }

    /// Stack pointer.
    pub fn sp(&self) -> u64 {
        self.at(19, 31)
    }

    /// Frame pointer (`rbp`, `x29`).
    pub fn fp(&self) -> u64 {
        self.at(4, 29)
    }

    /// Link register (`x30`); 0 on amd64.
    pub fn lr(&self) -> u64 {
        match self.arch {
            TargetArch::Amd64 => 0,
            TargetArch::Arm64 => self.at(0, 30),
        }
    }

    /// The register Go code keeps the current `g` in (`r14`, `x28`).
    pub fn g(&self) -> u64 {
        self.at(1, 28)
    }

    /// `(name, value)` pairs in the kernel's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.arch
            .register_names()
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

impl Serialize for Registers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.values.len()))?;
        for (n, v) in self.iter() {
            m.serialize_entry(n, &format!("{v:#x}"))?;
        }
        m.end()
    }
}
