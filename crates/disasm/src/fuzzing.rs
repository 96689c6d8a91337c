//! Entry points for the fuzz targets (`fuzz/fuzz_targets/{disasm,objdump}.rs`) and the stable
//! mutation tests that run the same code on every `cargo test`.

use crate::listing::{Options, Program};
use crate::{NoSymbols, Syntax};
use goscope_binary::{Arch, Binary};

/// Decodes `data` as code of every supported architecture, in every syntax, from each of its
/// first four offsets: must never panic, must always advance.
pub fn decode_all(data: &[u8]) {
    let mut text = String::new();
    for arch in [Arch::Amd64, Arch::I386, Arch::Arm64] {
        let Ok(dis) = crate::for_arch(arch) else {
            continue;
        };
        for syntax in [Syntax::Go, Syntax::Intel, Syntax::Gnu] {
            // A few starting offsets (x86 decodes differently from each; the fuzzer's own
            // mutations shift the rest): every start over large inputs made one input cost
            // seconds, which starves the fuzzer.
            for start in 0..data.len().min(4) {
                let mut pc = 0x1000u64;
                let mut at = start;
                while at < data.len() {
                    text.clear();
                    let info = dis.decode(&data[at..], pc, syntax, &NoSymbols, &mut text);
                    assert!(info.len >= 1, "no progress");
                    at += info.len;
                    pc += info.len as u64;
                }
            }
        }
    }
}

/// Opens `data` as a binary and lists (annotated, with inline chains) its first functions.
pub fn list_binary(data: &[u8]) {
    let Ok(bin) = Binary::from_bytes(data.to_vec()) else {
        return;
    };
    let Ok(prog) = Program::new(&bin) else {
        return;
    };
    let opts = Options {
        syntax: Syntax::Go,
        annotate: true,
        inline: true,
    };
    for f in prog.functions().iter().take(64) {
        let l = prog.list(f, u64::MAX, &opts);
        for insn in &l.insns {
            let _ = prog.bytes(insn);
        }
    }
}
