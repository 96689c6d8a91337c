//! arm64 through `yaxpeax-arm`.

use goscope_binary::Arch;

use crate::{Disassembler, InsnInfo, Symbolizer, Syntax};

/// The arm64 disassembler.
pub(crate) struct Arm64;

impl Disassembler for Arm64 {
    fn arch(&self) -> Arch {
        Arch::Arm64
    }

    fn prints_words(&self) -> bool {
        true
    }

    fn decode(
        &self,
        _code: &[u8],
        _pc: u64,
        _syntax: Syntax,
        _syms: &dyn Symbolizer,
        out: &mut String,
    ) -> InsnInfo {
        out.push('?');
        InsnInfo {
            len: 4,
            ..InsnInfo::default()
        }
    }
}
