//! The runtime readers (goroutines, stacks, panics, threads, maps) over a hostile core joined
//! with a real executable: `GOSCOPE_FUZZ_BIN` (set by `fuzz/run.sh` to the `crash` fixture whose
//! cores seed the corpus).
#![no_main]

use std::sync::{Arc, OnceLock};

use goscope_binary::Binary;

fn binary() -> Option<Arc<Binary>> {
    static BIN: OnceLock<Option<Arc<Binary>>> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = std::env::var_os("GOSCOPE_FUZZ_BIN")?;
        Binary::open(path).ok().map(Arc::new)
    })
    .clone()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(bin) = binary() {
        goscope_runtime::fuzzing::core_with_binary(bin, data.to_vec());
    }
});
