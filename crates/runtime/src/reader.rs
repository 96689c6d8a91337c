//! [`Reader`]: what decoding Go data in memory needs — the binary's [`Runtime`], the memory, and
//! the load bias — and nothing of a stop's state, so that values, maps and type descriptors can
//! be read without a [`crate::Snapshot`] (the expression evaluator runs on every breakpoint
//! hit and must not pay for one).

use goscope_target::Memory;

use crate::runtime::Runtime;
use crate::types::Types;

/// Reads Go data from one target's memory.
#[derive(Clone, Copy)]
pub struct Reader<'r, 'b> {
    /// What is fixed per binary.
    pub rt: &'r Runtime<'b>,
    /// The memory read.
    pub mem: &'r dyn Memory,
    /// PIE load bias: runtime address minus link-time address.
    pub bias: u64,
}

impl std::fmt::Debug for Reader<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("bias", &self.bias).finish()
    }
}

impl<'r, 'b> Reader<'r, 'b> {
    /// A reader of `mem` for a program running `rt`'s binary at `bias`.
    pub fn new(rt: &'r Runtime<'b>, mem: &'r dyn Memory, bias: u64) -> Reader<'r, 'b> {
        Reader { rt, mem, bias }
    }

    /// Type descriptor reader.
    pub fn types(&self) -> Types<'_> {
        Types::new(
            self.mem,
            &self.rt.off,
            self.rt.types_base.wrapping_add(self.bias),
            self.rt.minor,
        )
    }

    /// The memory being read.
    pub fn memory(&self) -> &'r dyn Memory {
        self.mem
    }

    /// The word at `addr`, 0 when unreadable.
    pub(crate) fn word(&self, addr: u64) -> u64 {
        self.mem.read_u64(addr).unwrap_or(0)
    }
}
