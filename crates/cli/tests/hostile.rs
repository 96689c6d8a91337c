//! Untrusted input through the command line: every command on missing, empty, garbage,
//! non-Go, truncated and corrupted files must end with a clear one-line error (exit 2) or a
//! normal result — never a panic, a signal, or a hang.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use goscope_binary::Binary;
use goscope_xtask::Rng;

/// Runs goscope with a deadline; a hang is a failure. Output is drained while it runs so a
/// full pipe cannot stall it.
fn run_bounded(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::{Read, Write};
    let mut c = goscope();
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn goscope");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    {
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(stdin);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("goscope {args:?} did not finish within 60 s (hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    std::process::Output {
        status,
        stdout: out_t.join().expect("stdout reader"),
        stderr: err_t.join().expect("stderr reader"),
    }
}

/// Every command on `path`: no panic, no signal; a failure is exit 2 with one line on stderr
/// that starts with `goscope:`.
fn check_all_commands(path: &Path, what: &str) {
    let pth = p(path);
    let policy = goscope_xtask::repo_root().join("testdata/checkfix/goscope.toml");
    let policy = p(&policy);
    for args in [
        vec!["check", "--policy", policy, "--no-directives", pth],
        vec!["check", "--policy", policy, "--format", "sarif", pth],
        vec!["diff", pth, pth],
        vec!["info", pth],
        vec!["info", "--json", pth],
        vec!["nm", pth],
        vec!["nm", "-n", "-size", pth],
        vec!["addr2line", pth],
        vec!["addr2line", "--inlines", pth],
        vec!["addr2line", "--json", pth],
        vec!["objdump", "-s", "^main\\.", pth],
        vec!["core", pth, pth],
        vec!["core", "--json", pth],
        vec![
            "objdump",
            "--annotate",
            "--json",
            "-s",
            "^main\\.main$",
            pth,
        ],
    ] {
        let out = run_bounded(&args, b"0x401000\n0x11000\n0\nffffffffffffffff\n");
        assert_no_panic(&out, what);
        let code = out.status.code().expect("exit code");
        // check and diff report findings (exit 1) on whatever a corrupted binary still holds.
        assert!(
            code == 0 || code == 2 || (code == 1 && matches!(args[0], "check" | "diff")),
            "goscope {args:?} on {what}: exit {code}"
        );
        if code == 2 {
            let err = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = err.lines().collect();
            assert!(
                lines.len() == 1 && lines[0].starts_with("goscope: "),
                "goscope {args:?} on {what}: the error should be one line starting with `goscope: `, got {err:?}"
            );
        }
    }
}

#[test]
fn missing_empty_directory_and_non_go_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    let text = dir.path().join("text");
    std::fs::write(&text, b"#!/bin/sh\necho hello\n").expect("write");
    for (path, what, want) in [
        (dir.path().join("missing"), "a missing file", "No such file"),
        (dir.path().to_path_buf(), "a directory", "is a directory"),
        (empty, "an empty file", "not an ELF, Mach-O or PE"),
        (text, "a shell script", "not an ELF, Mach-O or PE"),
    ] {
        check_all_commands(&path, what);
        let out = goscope_run(&["info", p(&path)], b"");
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{what}: {err}");
    }
    // A real ELF executable that is not a Go program.
    let sh = Path::new("/bin/sh");
    check_all_commands(sh, "/bin/sh");
    let out = goscope_run(&["nm", "/bin/sh"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is this a Go program?"),
        "a non-Go binary should say so"
    );
}

#[test]
fn truncated_and_corrupted_fixtures_are_handled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(7);
    let picks: Vec<_> = prog_matrix()
        .iter()
        .filter(|f| f.toolchain.minor >= 20 || f.goos != "linux")
        .take(6)
        .collect();
    for f in picks {
        let data = std::fs::read(&f.path).expect("read");
        let bin = Binary::from_bytes(data.clone()).expect("intact fixture");
        let loc = *bin.pclntab().location();
        // Truncations: inside the headers, the pclntab, and the tail.
        let mut cuts = vec![
            10,
            100,
            4096,
            loc.offset + 4,
            loc.offset + 64,
            loc.offset + loc.size / 2,
        ];
        cuts.extend((1..6).map(|i| data.len() * i / 6));
        for (i, cut) in cuts.into_iter().enumerate() {
            let path = dir.path().join(format!("cut{i}"));
            std::fs::write(&path, &data[..cut.min(data.len())]).expect("write");
            check_all_commands(&path, &format!("{} cut at {cut}", f.label()));
        }
        // The pclntab's magic and counts overwritten.
        for (i, (off, bytes)) in [
            (0usize, vec![0u8; 4]),
            (8, vec![0xff; 8]),
            (16, vec![0xff; 8]),
            (8 + 7 * usize::from(loc.ptr_size), vec![0xff; 8]),
        ]
        .into_iter()
        .enumerate()
        {
            let mut m = data.clone();
            let at = loc.offset + off;
            let n = bytes.len().min(m.len() - at);
            m[at..at + n].copy_from_slice(&bytes[..n]);
            let path = dir.path().join(format!("hdr{i}"));
            std::fs::write(&path, &m).expect("write");
            check_all_commands(&path, &format!("{} header corruption {i}", f.label()));
        }
        // Random bytes over the pclntab.
        for i in 0..3 {
            let mut m = data.clone();
            for _ in 0..200 {
                let at = loc.offset + rng.range(0, loc.size as u64) as usize;
                m[at] = rng.next_u64() as u8;
            }
            let path = dir.path().join(format!("noise{i}"));
            std::fs::write(&path, &m).expect("write");
            check_all_commands(&path, &format!("{} noise {i}", f.label()));
        }
    }
}
