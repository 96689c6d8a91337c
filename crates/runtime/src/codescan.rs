//! Which data addresses a function's machine code refers to: RIP-relative operands on amd64,
//! `ADRP` + `ADD`/`LDR`/`STR` pairs on arm64. Stripped binaries keep their code, and the
//! runtime's own functions name its globals: `runtime.allgadd` appends to `runtime.allgs`,
//! `runtime.procresize` rebuilds `runtime.allp`, `runtime.mcommoninit` links `runtime.allm`.

use std::collections::BTreeMap;

use goscope_binary::{Arch, Binary};

/// Longest function body scanned; the runtime functions used are a few KiB.
const MAX_FUNC_BYTES: u64 = 64 * 1024;

/// The data addresses referred to by the code of the function named `name`, with how often
/// each is referred to, restricted to `[lo, hi)`. Empty if the function is not found.
pub fn data_refs(bin: &Binary, name: &str, lo: u64, hi: u64) -> BTreeMap<u64, usize> {
    let tab = bin.pclntab();
    let Some(f) = tab.funcs().find(|f| f.name() == name) else {
        return BTreeMap::new();
    };
    let (start, end) = (f.entry(), f.end());
    let len = end.saturating_sub(start).min(MAX_FUNC_BYTES) as usize;
    let Some(code) = bin.read_va(start, len) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    let mut add = |t: u64| {
        if t >= lo && t < hi {
            *out.entry(t).or_insert(0) += 1;
        }
    };
    match bin.arch() {
        Arch::Amd64 | Arch::I386 => {
            let bitness = if bin.arch() == Arch::Amd64 { 64 } else { 32 };
            let mut dec =
                iced_x86::Decoder::with_ip(bitness, code, start, iced_x86::DecoderOptions::NONE);
            let mut ins = iced_x86::Instruction::default();
            while dec.can_decode() {
                dec.decode_out(&mut ins);
                if ins.is_ip_rel_memory_operand() {
                    add(ins.ip_rel_memory_address());
                } else if bitness == 32 && ins.memory_base() == iced_x86::Register::None {
                    add(ins.memory_displacement64());
                }
            }
        }
        Arch::Arm64 => {
            let words: Vec<u32> = code
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            for (i, pair) in words.windows(2).enumerate() {
                let pc = start + 4 * i as u64;
                if let Some((rd, page)) = adrp(pc, pair[0])
                    && let Some(t) = adrp_use(pair[1], rd, page)
                {
                    add(t);
                }
            }
        }
        Arch::Arm => {}
    }
    out
}

/// Decodes `ADRP Xd, page`: returns `(d, page)`.
fn adrp(pc: u64, w: u32) -> Option<(u32, u64)> {
    if w & 0x9f00_0000 != 0x9000_0000 {
        return None;
    }
    let immlo = u64::from((w >> 29) & 3);
    let immhi = u64::from((w >> 5) & 0x7_ffff);
    let imm = ((immhi << 2) | immlo) << 12;
    // Sign-extend the 33-bit offset.
    let imm = ((imm << 31) as i64 >> 31) as u64;
    Some((w & 0x1f, (pc & !0xfff).wrapping_add(imm)))
}

/// The address formed by the instruction after an `ADRP` into register `rd`: an `ADD` of an
/// immediate, or a load/store with an unsigned scaled offset, whose base is `rd`.
fn adrp_use(w: u32, rd: u32, page: u64) -> Option<u64> {
    let rn = (w >> 5) & 0x1f;
    if rn != rd {
        return None;
    }
    let imm12 = u64::from((w >> 10) & 0xfff);
    // ADD (immediate), 64-bit, no shift.
    if w & 0xffc0_0000 == 0x9100_0000 {
        return Some(page + imm12);
    }
    // LDR/STR (unsigned offset): size in bits 31:30, opc in 23:22, V = 0.
    if w & 0x3f00_0000 == 0x3900_0000 {
        let size = w >> 30;
        return Some(page + (imm12 << size));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_adrp_pairs() {
        // adrp x0, 0x1234000 at pc 0x1000; add x0, x0, #0x56
        let adrp_w = 0x9000_0000 | ((0x1233 & 3) << 29) | ((0x1233 >> 2) << 5);
        let (rd, page) = adrp(0x1000, adrp_w).unwrap();
        assert_eq!((rd, page), (0, 0x1234000));
        let add = 0x9100_0000 | (0x56 << 10);
        assert_eq!(adrp_use(add, 0, page), Some(0x1234056));
        // ldr x1, [x0, #0x18] (imm12 = 3, scaled by 8)
        let ldr = 0xf940_0000 | (3 << 10) | 1;
        assert_eq!(adrp_use(ldr, 0, page), Some(0x1234018));
        // A use through another register does not count.
        assert_eq!(adrp_use(ldr | (2 << 5), 0, page), None);
    }
}
