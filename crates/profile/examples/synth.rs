//! A synthetic CPU profile of a real binary, for the speed benchmarks (benches/profile.sh):
//! N samples, each a distinct record (labelled with its own goroutine id, so none merge),
//! shaped like a real profile's: 20,000 distinct stacks of 4 to 28 frames over 3,000
//! functions of BIN (a few pcs in each, with their inline chains), drawn with a skew so that
//! a few stacks and leaves are hot.
//!
//!     cargo run --release -p goscope-profile --example synth -- BIN N OUT.pb.gz

use goscope_binary::Binary;
use goscope_profile::{LineFrame, Mapping, ProfileBuilder};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bin), Some(n), Some(out)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: synth BIN N OUT.pb.gz");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N: a number");
    let b = Binary::open(bin).expect("BIN: a Go binary");
    let tab = b.pclntab();
    let funcs: Vec<(u64, u64)> = tab
        .funcs()
        .map(|f| (f.entry(), f.end()))
        .filter(|(s, e)| e > s)
        .collect();
    assert!(!funcs.is_empty(), "no functions in {bin}");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut p = ProfileBuilder::cpu(10_000_000);
    let text = b.text_section().expect("a text section");
    p.set_mapping(Mapping {
        start: text.addr,
        limit: text.addr + text.size,
        offset: b.file_offset(text.addr).unwrap_or(0),
        file: bin.clone(),
        build_id: String::new(),
    });
    // The pcs: 3,000 functions, one to eight pcs in each.
    let mut pcs = Vec::new();
    for _ in 0..3000 {
        let (s, e) = funcs[rnd() as usize % funcs.len()];
        for _ in 0..1 + rnd() % 8 {
            pcs.push(s + rnd() % (e - s));
        }
    }
    for &pc in &pcs {
        if !p.has_location(pc) {
            let frames: Vec<LineFrame> = b
                .frames_at(pc)
                .iter()
                .map(|f| LineFrame {
                    function: goscope_binary::print_name(&f.function).into_owned(),
                    file: f.file.to_string(),
                    line: i64::from(f.line),
                })
                .collect();
            p.add_location(pc, &frames);
        }
    }
    // 20,000 stacks; leaves from a hot tenth of the pcs three times in four.
    let stacks: Vec<Vec<u64>> = (0..20_000)
        .map(|_| {
            let depth = 4 + rnd() as usize % 25;
            (0..depth)
                .map(|d| {
                    let k = if d == 0 && rnd() % 4 != 0 {
                        rnd() as usize % (pcs.len() / 10).max(1)
                    } else {
                        rnd() as usize % pcs.len()
                    };
                    pcs[k]
                })
                .collect()
        })
        .collect();
    for i in 0..n {
        // Skewed: the square of a uniform draw favours the first stacks.
        let u = (rnd() % 1_000_000) as f64 / 1_000_000.0;
        let k = ((u * u) * stacks.len() as f64) as usize;
        p.add_sample(&stacks[k.min(stacks.len() - 1)], &[("goroutine", i as i64)]);
    }
    let f = std::fs::File::create(out).expect("OUT: writable");
    p.write_gzip(std::io::BufWriter::new(f)).expect("writing");
}
