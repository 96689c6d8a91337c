//! Entry points for the fuzz targets (`fuzz/fuzz_targets/check_inputs.rs`) and the stable
//! mutation test: every text parser of this crate on arbitrary bytes.

use std::path::{Path, PathBuf};

use crate::directives::{Module, Scan, scan_file};
use crate::opt::{parse_json_log, parse_m2};
use crate::policy::Policy;

/// Feeds `data` to the policy, directive, JSON-log and -m=2 parsers. Errors are fine; panics
/// are not.
pub fn text_inputs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Policy::parse(&text, Path::new("/m"));
    let m = Module {
        root: PathBuf::from("/m"),
        path: "example.com/m".to_string(),
    };
    let mut scan = Scan::default();
    scan_file(&m, "a/b.go", &text, &mut scan);
    let _ = parse_json_log("fuzz", &text);
    let _ = parse_m2(&text, Path::new("/m"));
}

#[cfg(test)]
mod tests {
    #[test]
    fn mutated_inputs_do_not_panic() {
        let seeds: [&str; 4] = [
            include_str!("../../../testdata/checkfix/goscope.toml"),
            include_str!("../../../testdata/checkfix/hot/hot.go"),
            "{\"version\":0,\"package\":\"p\",\"file\":\"/m/a.go\"}\n{\"range\":{\"start\":{\"line\":3,\"character\":4},\"end\":{\"line\":3,\"character\":4}},\"code\":\"escape\",\"message\":\"x\",\"relatedInformation\":[{\"location\":{\"uri\":\"file:///m/%zz%4\",\"range\":{\"start\":{\"line\":1,\"character\":1}}},\"message\":\"inlineLoc\"}]}\n",
            "a.go:1:2: can inline f\n./b.go:x:y: moved to heap: z\nc.go:3:4:   flow:\n:::\n",
        ];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for seed in seeds {
            let bytes = seed.as_bytes();
            for cut in (0..bytes.len()).step_by(7) {
                super::text_inputs(&bytes[..cut]);
            }
            for _ in 0..300 {
                let mut m = bytes.to_vec();
                for _ in 0..4 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let i = (rng as usize) % m.len().max(1);
                    if let Some(b) = m.get_mut(i) {
                        *b = (rng >> 32) as u8;
                    }
                }
                super::text_inputs(&m);
            }
        }
    }
}
