//! The pprof profile reader on arbitrary bytes, and — when GOSCOPE_FUZZ_PROFILE_BIN names the
//! binary the seed profiles came from — attribution and every report on what it reads.
#![no_main]

use std::sync::OnceLock;

fn binary() -> Option<&'static goscope_binary::Binary> {
    static BIN: OnceLock<Option<goscope_binary::Binary>> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = std::env::var_os("GOSCOPE_FUZZ_PROFILE_BIN")?;
        goscope_binary::Binary::open(path).ok()
    })
    .as_ref()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    goscope_profile::fuzzing::read_and_report(data, binary())
});
