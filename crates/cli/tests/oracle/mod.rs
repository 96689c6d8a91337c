//! The listing oracle shared by the objdump tests: the newest `go tool objdump` (Go 1.27 or
//! later), and binutils for the lines where goscope and Go part ways.
//!
//! Every line goscope prints is either identical to Go's (address, bytes and text), or of one
//! of these kinds, each checked by disassembling the line's bytes alone with binutils (`objdump
//! -D -b binary`, so any container format works), which must read them as exactly one
//! instruction with goscope's mnemonic:
//!
//! - `go-unknown`: Go prints `?` for the instruction's first byte (x86, which then reads the
//!   remaining bytes as other instructions) or word (arm64); goscope prints the instruction.
//! - `go-wrong-length`: Go names the instruction but takes a wrong length (x86asm 1.27 reads a
//!   ModRM byte after VZEROUPPER, which has none); goscope takes the instruction's length.
//! - `go-desync`: an instruction Go has no line for because its previous line ran into it
//!   (after one of the kinds above).
//! - `go-rip-displacement`: a VEX or EVEX instruction with a RIP-relative operand, which x86asm
//!   1.27 prints as the bare displacement (an address that is not the operand's, sometimes even
//!   named as a symbol); goscope prints it as Go prints every other RIP-relative operand. Only
//!   that operand differs, and binutils says `(%rip)` there.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;

use goscope_xtask::Toolchain;

/// The oldest Go whose `go tool objdump` is the oracle (its x86 decoder reads VEX and EVEX
/// instructions; older ones print `?` for nearly all of them, and read them as other ones).
pub const ORACLE_MINOR: u32 = 27;

/// The newest Go on this machine: the fixture matrix's toolchains and those the `go` command
/// has downloaded into its module cache (`GOTOOLCHAIN=go1.27.3 go version`). `None` (skip)
/// when it is older than Go 1.27, unless the toolchains are required.
pub fn newest_go() -> Option<Toolchain> {
    let mut all = goscope_xtask::toolchains().unwrap_or_default();
    let cache = Command::new("go")
        .args(["env", "GOMODCACHE"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = cache.map(|c| c.join("golang.org")) {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("toolchain@") && name.ends_with(".linux-amd64") {
                all.extend(Toolchain::probe(&e.path().join("bin/go")));
            }
        }
    }
    let best = all.into_iter().max_by_key(|t| {
        let patch: u32 = t
            .version
            .rsplit('.')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        (t.minor, patch)
    });
    match best {
        Some(t) if t.minor >= ORACLE_MINOR => Some(t),
        other => {
            let have = other.map_or("none".to_string(), |t| t.version);
            assert!(
                !goscope_xtask::required(),
                "the listing oracle needs Go 1.{ORACLE_MINOR} or newer (have {have}): \
                 GOTOOLCHAIN=go1.27.3 go version fetches it"
            );
            eprintln!("skipping: no Go 1.{ORACLE_MINOR} or newer (have {have})");
            None
        }
    }
}

/// An instruction line: `file:line` (empty with -S), address, bytes (hex), text.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub pos: &'a str,
    pub addr: u64,
    pub bytes: &'a str,
    pub text: &'a str,
}

/// The instruction lines of a listing, and its other lines (TEXT headers, source) in order.
pub fn parse(listing: &str) -> (Vec<Row<'_>>, Vec<&str>) {
    let mut rows = Vec::new();
    let mut other = Vec::new();
    // A PE binary's text starts with the `go:buildid` symbol: the build ID's hash bytes,
    // which both tools decode as if they were code. They differ from build to build (a
    // toolchain's path is in the hash), so which random bytes the tools read differently
    // depends on the machine: its rows are data, not instructions to compare.
    let mut in_build_id = false;
    for line in listing.lines() {
        if line.starts_with("TEXT ") {
            in_build_id = line.starts_with("TEXT go:buildid(SB)");
        } else if in_build_id && line.starts_with("  ") {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').filter(|c| !c.is_empty()).collect();
        // With -S a row has no file:line cell.
        let cells: Vec<&str> = match cells.first() {
            Some(c) if c.trim_start().starts_with("0x") => [""].into_iter().chain(cells).collect(),
            _ => cells,
        };
        match cells.as_slice() {
            [pos, addr, bytes, text, ..]
                if line.starts_with("  ") && addr.trim_start().starts_with("0x") =>
            {
                let addr = addr.trim_start();
                match u64::from_str_radix(&addr[2..], 16) {
                    Ok(a) => rows.push(Row {
                        pos: pos.trim(),
                        addr: a,
                        bytes,
                        text: text.trim_end(),
                    }),
                    Err(_) => other.push(line),
                }
            }
            _ => other.push(line),
        }
    }
    (rows, other)
}

/// The mnemonic of a binutils line, after its prefixes.
fn binutils_mnemonic(text: &str) -> String {
    const PREFIXES: &[&str] = &[
        "rep", "repz", "repe", "repnz", "repne", "lock", "data16", "data32", "addr16", "addr32",
        "cs", "ds", "es", "ss", "fs", "gs", "notrack", "bnd", "xacquire", "xrelease", "{vex}",
        "{vex3}", "{evex}",
    ];
    text.split_whitespace()
        .find(|w| !PREFIXES.contains(w) && !w.starts_with("rex"))
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The mnemonic of a Go-syntax line, after its prefixes and without EVEX modifiers.
pub fn go_mnemonic(text: &str) -> String {
    const PREFIXES: &[&str] = &[
        "REP;", "REPNE;", "LOCK", "CS", "DS", "ES", "SS", "FS", "GS", "PT", "PN",
    ];
    let m = text
        .split_whitespace()
        .find(|w| !PREFIXES.contains(w))
        .unwrap_or("");
    m.split('.').next().unwrap_or("").to_ascii_lowercase()
}

/// Whether goscope's mnemonic is binutils', allowing Go's spellings: an operand-size suffix
/// (`RORXL` for `rorx`, and binutils' own `addl`), the source width of a conversion (`X`/`Y`);
/// on arm64 the size letter of W and D forms, LDOR for LDSET, and binutils' store aliases
/// (STADD is LDADD into the zero register).
pub fn same_mnemonic(goarch: &str, ours: &str, theirs: &str) -> bool {
    if goarch == "arm64" {
        let mut o = ours.replacen("ldor", "ldset", 1);
        if o.ends_with(['w', 'd']) {
            o.pop();
        }
        let t = match theirs.strip_prefix("st") {
            Some(rest)
                if ["add", "clr", "eor", "set", "smax", "smin", "umax", "umin"]
                    .iter()
                    .any(|p| rest.starts_with(p)) =>
            {
                format!("ld{rest}")
            }
            _ => theirs.to_string(),
        };
        return o == t;
    }
    let strip = |s: &str| -> String {
        match s.strip_suffix(['b', 'w', 'l', 'q', 'x', 'y']) {
            Some(r) if r.len() >= 2 => r.to_string(),
            _ => s.to_string(),
        }
    };
    // Sign and zero extensions: AT&T names both widths (movslq, movzbl), Go the Intel
    // instruction (MOVSXD, MOVZX).
    let att_extension = |t: &str| -> Option<&'static str> {
        let rest = t
            .strip_prefix("movs")
            .map(|r| (r, "movsx"))
            .or_else(|| t.strip_prefix("movz").map(|r| (r, "movzx")))?;
        let widths = rest.0.as_bytes();
        if widths.len() != 2 || !widths.iter().all(|w| b"bwlq".contains(w)) {
            return None;
        }
        Some(if rest.0 == "lq" { "movsxd" } else { rest.1 })
    };
    if att_extension(theirs).is_some_and(|t| t == ours) {
        return true;
    }
    // String instructions: Intel's doubleword `d` is AT&T's `l` (OUTSD, outsl).
    let dword = ours
        .strip_suffix('d')
        .is_some_and(|o| theirs.strip_suffix('l') == Some(o));
    dword
        || ours == theirs
        || strip(ours) == theirs
        || ours == strip(theirs)
        || strip(ours) == strip(theirs)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// binutils' reading of each of `insns` (hex bytes as listed; arm64 words are listed big-end
/// first) on its own: `Some(text)` when it reads the bytes as exactly one instruction.
fn binutils_reads(goarch: &str, insns: &[&str]) -> Vec<Option<String>> {
    if insns.is_empty() {
        return Vec::new();
    }
    let (tool, machine) = match goarch {
        "amd64" => ("objdump", "i386:x86-64"),
        "386" => ("objdump", "i386"),
        _ => ("aarch64-linux-gnu-objdump", "aarch64"),
    };
    let mut blob = Vec::new();
    let mut starts = Vec::new();
    for hex in insns {
        starts.push(blob.len() as u64);
        let mut b = unhex(hex);
        if goarch == "arm64" {
            // go tool objdump prints arm64 words as numbers; memory holds them little-endian.
            b.reverse();
        } else if goarch == "amd64" {
            // A REX prefix followed by another REX or a legacy prefix is ignored by the
            // processor (one instruction, as goscope reads it); binutils prints it as an
            // instruction of its own, so it reads the rest.
            let is_rex = |x: Option<&u8>| x.is_some_and(|x| (0x40..=0x4f).contains(x));
            let is_prefix = |x: Option<&u8>| {
                x.is_some_and(|x| {
                    matches!(
                        x,
                        0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65
                    )
                })
            };
            let mut i = 0;
            while i + 1 < b.len() && (is_rex(b.get(i)) || is_prefix(b.get(i))) {
                if is_rex(b.get(i)) && (is_rex(b.get(i + 1)) || is_prefix(b.get(i + 1))) {
                    b.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        blob.extend(b);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("insns.bin");
    std::fs::write(&file, &blob).unwrap();
    let out = Command::new(tool)
        .args([
            "-D",
            "-z",
            "--no-show-raw-insn",
            "-b",
            "binary",
            "-m",
            machine,
        ])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool}: {e} (apt-get install binutils binutils-aarch64-linux-gnu)")
        });
    assert!(out.status.success(), "{tool} failed");
    let mut by_addr: BTreeMap<u64, String> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((a, t)) = line.trim_start().split_once(":\t")
            && let Ok(a) = u64::from_str_radix(a, 16)
        {
            by_addr.insert(a, t.trim().to_string());
        }
    }
    // One instruction per range: binutils decodes at each start and at no address inside.
    let ends: Vec<u64> = starts
        .iter()
        .skip(1)
        .copied()
        .chain([blob.len() as u64])
        .collect();
    starts
        .iter()
        .zip(&ends)
        .map(|(&s, &e)| {
            let inside = by_addr.range(s + 1..e).next().is_some();
            by_addr.get(&s).filter(|_| !inside).cloned()
        })
        .collect()
}

/// What the comparison of one listing found.
#[derive(Default, Debug)]
pub struct Figures {
    /// goscope's instruction lines.
    pub lines: usize,
    /// Identical to Go's line at the same address.
    pub identical: usize,
    /// The others, by kind (see the module documentation).
    pub kinds: BTreeMap<&'static str, usize>,
    /// Lines with no checked reason: `(address, bytes, go text, goscope text, binutils text)`.
    pub unexplained: Vec<(u64, String, String, String, String)>,
}

impl Figures {
    /// The identical share.
    pub fn share(&self) -> f64 {
        self.identical as f64 / self.lines.max(1) as f64
    }
}

/// Compares goscope's listing with Go's. Lines at the same address must also agree on
/// `file:line`; the non-instruction lines must be identical.
pub fn explain(label: &str, goarch: &str, go: &str, ours: &str) -> Figures {
    let (go_rows, go_other) = parse(go);
    let (our_rows, our_other) = parse(ours);
    assert_eq!(
        go_other, our_other,
        "{label}: lines other than instructions differ"
    );
    let go_at: HashMap<u64, Row> = go_rows.iter().map(|r| (r.addr, *r)).collect();
    // By address (the listing's order is the symbol table's, which need not be).
    let mut go_starts: Vec<u64> = go_rows.iter().map(|r| r.addr).collect();
    go_starts.sort_unstable();
    let mut f = Figures {
        lines: our_rows.len(),
        ..Figures::default()
    };
    let mut pending: Vec<(Row, Option<Row>)> = Vec::new();
    for r in &our_rows {
        let g = go_at.get(&r.addr).copied();
        if let Some(g) = g {
            assert_eq!(g.pos, r.pos, "{label}: file:line of {:#x}", r.addr);
            if g.bytes == r.bytes && g.text == r.text {
                f.identical += 1;
                continue;
            }
        }
        pending.push((*r, g));
    }
    let bytes: Vec<&str> = pending.iter().map(|(r, _)| r.bytes).collect();
    let reads = binutils_reads(goarch, &bytes);
    for ((r, g), theirs) in pending.iter().zip(reads) {
        let btext = theirs.clone().unwrap_or_default();
        let ours_m = go_mnemonic(r.text);
        let theirs_m = binutils_mnemonic(&btext);
        // Bytes nothing decodes: goscope's `?` for binutils' `(bad)`; and Go's `INT $0x3`.
        let agrees = theirs.is_some()
            && (same_mnemonic(goarch, &ours_m, &theirs_m)
                || (ours_m == "?" && theirs_m == "(bad)")
                || (r.text == "INT $0x3" && theirs_m == "int3"));
        let kind = match g {
            Some(g) if g.text == "?" => Some("go-unknown"),
            Some(g) if g.bytes == r.bytes => {
                // Same instruction, different text: only the RIP-relative VEX/EVEX operand.
                let vex = goarch == "amd64" && matches!(r.bytes.get(..2), Some("c4" | "c5" | "62"));
                let go_ops: Vec<&str> = g.text.split(", ").collect();
                let our_ops: Vec<&str> = r.text.split(", ").collect();
                let differing: Vec<usize> = (0..our_ops.len())
                    .filter(|&i| go_ops.get(i) != our_ops.get(i))
                    .collect();
                let one_operand = go_ops.len() == our_ops.len()
                    && differing.len() == 1
                    && (our_ops[differing[0]].ends_with("(SB)")
                        || our_ops[differing[0]].ends_with("(IP)"));
                (vex && one_operand && btext.contains("(%rip)")).then_some("go-rip-displacement")
            }
            Some(g) if go_mnemonic(g.text) == ours_m => Some("go-wrong-length"),
            Some(_) => None,
            None => {
                // Go's previous line must run into this instruction.
                let i = go_starts.partition_point(|&a| a < r.addr);
                let overlaps = i > 0 && {
                    let p = go_at[&go_starts[i - 1]];
                    p.addr + p.bytes.len() as u64 / 2 > r.addr
                };
                overlaps.then_some("go-desync")
            }
        };
        match kind {
            Some(k) if agrees => *f.kinds.entry(k).or_default() += 1,
            _ => f.unexplained.push((
                r.addr,
                r.bytes.to_string(),
                g.map_or(String::new(), |g| g.text.to_string()),
                r.text.to_string(),
                btext,
            )),
        }
    }
    eprintln!(
        "{label}: {} lines, {} identical ({:.4}%), {:?}, {} unexplained",
        f.lines,
        f.identical,
        100.0 * f.share(),
        f.kinds,
        f.unexplained.len()
    );
    f
}
