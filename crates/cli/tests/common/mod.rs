//! Shared helpers for the integration tests: running goscope and the Go tools, and the fixture
//! matrix (built once per test process).

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use goscope_xtask::Fixture;

/// The goscope binary under test.
pub fn goscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_goscope"))
}

/// Runs `cmd` with `stdin`, returning its output.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

/// Runs goscope with `args` and `stdin`.
pub fn goscope_run(args: &[&str], stdin: &[u8]) -> Output {
    let mut c = goscope();
    c.args(args);
    run(c, stdin)
}

/// The `prog` matrix: every toolchain × target × variant.
pub fn prog_matrix() -> &'static [Fixture] {
    static M: OnceLock<Vec<Fixture>> = OnceLock::new();
    M.get_or_init(|| goscope_xtask::matrix("prog").expect("building the prog fixture matrix"))
}

/// The cgo fixtures (empty without a C compiler, unless CI requires them).
pub fn cgo_matrix() -> &'static [Fixture] {
    static M: OnceLock<Vec<Fixture>> = OnceLock::new();
    M.get_or_init(|| goscope_xtask::cgo_matrix("cgoprog").expect("building the cgo fixtures"))
}

/// Every fixture.
pub fn all_fixtures() -> Vec<&'static Fixture> {
    prog_matrix().iter().chain(cgo_matrix()).collect()
}

/// The unstripped twin of `f` among all fixtures.
pub fn twin(f: &Fixture) -> &'static Fixture {
    let all: &'static [Fixture] = if f.cgo { cgo_matrix() } else { prog_matrix() };
    goscope_xtask::twin(all, f).expect("every stripped fixture has an unstripped twin")
}

/// The path as a &str.
pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Asserts the goscope run did not panic (exit 101 with a Rust panic message).
pub fn assert_no_panic(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked at") && out.status.code() != Some(101),
        "goscope panicked on {what}: {stderr}"
    );
    assert!(
        out.status.code().is_some(),
        "goscope was killed by a signal on {what}"
    );
}
