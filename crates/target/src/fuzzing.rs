//! Entry points shared by the fuzz targets (`fuzz/`) and the mutation tests: they parse
//! untrusted core bytes and exercise every reader on the result. They must never panic, hang,
//! or allocate by an unchecked size, whatever the input.

use crate::{CoreFile, Memory, elfcore};

/// Parses `data` as a core file, then reads memory at every segment edge and at addresses
/// taken from the input, and asks for the executable's path.
pub fn core(data: &[u8]) {
    let _ = elfcore::parse(data);
    let Ok(core) = CoreFile::from_bytes(data.to_vec()) else {
        return;
    };
    let _ = core.exe_path();
    let _ = core.warnings();
    let mut buf = [0u8; 64];
    for s in core.layout().segments.iter().take(256) {
        for a in [
            s.vaddr,
            s.end().wrapping_sub(1),
            s.vaddr.wrapping_add(s.present),
        ] {
            let _ = core.read(a, &mut buf);
            let _ = core.read_u64(a);
            let _ = core.slice(a, 16);
        }
    }
    for t in core.layout().threads.iter().take(64) {
        let _ = core.read_u64(t.regs.sp());
        let _ = core.read_go_string(t.regs.sp(), 256);
        let _: Vec<_> = t.regs.iter().collect();
    }
    for chunk in data.chunks(8).take(64) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        let a = u64::from_le_bytes(b);
        let _ = core.read(a, &mut buf);
    }
    core.release();
}
