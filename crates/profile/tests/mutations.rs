//! The profile reader on corrupted profiles: truncations and byte flips of a real runtime/pprof
//! CPU profile (testdata/proffix, run briefly), raw and gzipped, read and attributed to the
//! binary that wrote it through the same entry point as the `profile` fuzz target. The test
//! fails on any panic.

use std::io::Read;
use std::process::{Command, Stdio};

use goscope_binary::Binary;
use goscope_profile::fuzzing::read_and_report;
use goscope_xtask::{Rng, Variant, build, toolchains};

/// The first toolchain's proffix, its profile (gzipped, as written) and the profile's raw bytes.
fn profile() -> (Binary, Vec<u8>, Vec<u8>) {
    let tc = toolchains()
        .expect("a Go toolchain")
        .into_iter()
        .next()
        .expect("a Go toolchain");
    let fx = build("proffix", &tc, "linux", "amd64", Variant::Default, false).expect("fixture");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cpu.pb.gz");
    let st = Command::new(&fx.path)
        .arg(&path)
        .arg("300")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let gz = std::fs::read(&path).unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .unwrap();
    (Binary::open(&fx.path).unwrap(), gz, raw)
}

#[test]
fn truncated_and_flipped_profiles_never_panic() {
    let (bin, gz, raw) = profile();
    // The intact profile reads.
    assert!(goscope_profile::read::read(&gz).is_ok());
    for data in [&gz, &raw] {
        for i in 0..=128 {
            read_and_report(&data[..data.len() * i / 128], Some(&bin));
        }
    }
    let mut rng = Rng(0x005e_ed0f_9a11);
    for _ in 0..3000 {
        let mut m = raw.clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(m.len());
            m[at] ^= 1 << rng.below(8);
        }
        read_and_report(&m, Some(&bin));
    }
}

#[test]
fn a_gzip_bomb_is_refused_without_exhausting_memory() {
    // 300 MiB of zeros compress to about 300 KiB: more than the reader expands.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        std::io::Write::write_all(&mut enc, &zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let err = goscope_profile::read::read(&bomb).unwrap_err();
    assert!(err.to_string().contains("expands to more than"), "{err}");
}
