//! pprof profiles (`profile.proto`, the format `go tool pprof` reads).
//!
//! Reading ([`read`]): the checked-in prost messages ([`proto`]) decoded into a checked model,
//! then put on a binary ([`attribute`]): the binary's own pclntab names every address with its
//! inline chain. [`report`] adds up functions, lines, addresses and the call tree; [`flame`]
//! draws the flame graph.
//!
//! Writing: [`ProfileBuilder`] interns strings, functions and locations (one per address, with
//! its inline chain as lines, innermost first, as the Go runtime writes them) and encodes the
//! message by hand — a few length-delimited fields need no generated code.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod attribute;
pub mod flame;
pub mod proto;
pub mod read;
pub mod report;

use std::collections::HashMap;
use std::io::Write;

/// One frame of a location's inline chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LineFrame {
    /// Function name.
    pub function: String,
    /// Source file.
    pub file: String,
    /// Line.
    pub line: i64,
}

/// The executable a profile's addresses belong to.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// Address after the last.
    pub limit: u64,
    /// File offset of `start`.
    pub offset: u64,
    /// Path of the executable.
    pub file: String,
    /// Build id (Go's or GNU's).
    pub build_id: String,
}

/// A sample's identity: its location ids (innermost first) and its numeric labels
/// (key string id, value).
type SampleKey = (Vec<u64>, Vec<(i64, i64)>);

/// Accumulates samples and writes a `profile.proto`.
#[derive(Debug, Default)]
pub struct ProfileBuilder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<(i64, i64, i64)>,
    function_ids: HashMap<(String, String), u64>,
    locations: Vec<(u64, Vec<(u64, i64)>)>,
    location_ids: HashMap<u64, u64>,
    samples: HashMap<SampleKey, i64>,
    mapping: Option<Mapping>,
    period_ns: i64,
    time_ns: i64,
    duration_ns: i64,
}

impl ProfileBuilder {
    /// A CPU profile sampled every `period_ns` of CPU time.
    pub fn cpu(period_ns: i64) -> ProfileBuilder {
        let mut b = ProfileBuilder {
            period_ns,
            ..ProfileBuilder::default()
        };
        b.string("");
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), i);
        i
    }

    /// The executable.
    pub fn set_mapping(&mut self, m: Mapping) {
        self.mapping = Some(m);
    }

    /// When sampling started (Unix nanoseconds) and how long it lasted.
    pub fn set_time(&mut self, time_ns: i64, duration_ns: i64) {
        self.time_ns = time_ns;
        self.duration_ns = duration_ns;
    }

    /// Whether a location for `address` exists already.
    pub fn has_location(&self, address: u64) -> bool {
        self.location_ids.contains_key(&address)
    }

    /// Defines the location at `address` with its inline chain (innermost first).
    pub fn add_location(&mut self, address: u64, chain: &[LineFrame]) {
        if self.has_location(address) {
            return;
        }
        let mut lines = Vec::with_capacity(chain.len());
        for f in chain {
            let key = (f.function.clone(), f.file.clone());
            let id = match self.function_ids.get(&key) {
                Some(&id) => id,
                None => {
                    let name = self.string(&f.function);
                    let file = self.string(&f.file);
                    self.functions.push((name, name, file));
                    let id = self.functions.len() as u64;
                    self.function_ids.insert(key, id);
                    id
                }
            };
            lines.push((id, f.line));
        }
        self.locations.push((address, lines));
        self.location_ids
            .insert(address, self.locations.len() as u64);
    }

    /// One sample: its stack (addresses, innermost first, each added by
    /// [`ProfileBuilder::add_location`]) and numeric labels (e.g. `goroutine`).
    pub fn add_sample(&mut self, stack: &[u64], labels: &[(&str, i64)]) {
        let ids: Vec<u64> = stack
            .iter()
            .filter_map(|a| self.location_ids.get(a).copied())
            .collect();
        let labels: Vec<(i64, i64)> = labels.iter().map(|(k, v)| (self.string(k), *v)).collect();
        *self.samples.entry((ids, labels)).or_default() += 1;
    }

    /// Samples added.
    pub fn sample_count(&self) -> i64 {
        self.samples.values().sum()
    }

    /// The encoded, gzipped profile.
    pub fn write_gzip(mut self, out: impl Write) -> std::io::Result<()> {
        let samples = self.string("samples");
        let count = self.string("count");
        let cpu = self.string("cpu");
        let nanos = self.string("nanoseconds");
        let mapping = self.mapping.take().map(|m| {
            let file = self.string(&m.file);
            let build = self.string(&m.build_id);
            (m, file, build)
        });
        let mut p = Vec::new();
        for (t, u) in [(samples, count), (cpu, nanos)] {
            let mut vt = Vec::new();
            varint_field(&mut vt, 1, t as u64);
            varint_field(&mut vt, 2, u as u64);
            bytes_field(&mut p, 1, &vt);
        }
        let mut entries: Vec<_> = self.samples.iter().collect();
        entries.sort();
        for ((locs, labels), n) in entries {
            let mut s = Vec::new();
            packed_field(&mut s, 1, locs.iter().copied());
            packed_field(&mut s, 2, [*n as u64, (*n * self.period_ns) as u64]);
            for (k, v) in labels {
                let mut l = Vec::new();
                varint_field(&mut l, 1, *k as u64);
                varint_field(&mut l, 3, *v as u64);
                bytes_field(&mut s, 3, &l);
            }
            bytes_field(&mut p, 2, &s);
        }
        if let Some((m, file, build)) = &mapping {
            let mut b = Vec::new();
            varint_field(&mut b, 1, 1);
            varint_field(&mut b, 2, m.start);
            varint_field(&mut b, 3, m.limit);
            varint_field(&mut b, 4, m.offset);
            varint_field(&mut b, 5, *file as u64);
            varint_field(&mut b, 6, *build as u64);
            for f in 7..=10 {
                varint_field(&mut b, f, 1);
            }
            bytes_field(&mut p, 3, &b);
        }
        for (i, (addr, lines)) in self.locations.iter().enumerate() {
            let mut l = Vec::new();
            varint_field(&mut l, 1, i as u64 + 1);
            if mapping.is_some() {
                varint_field(&mut l, 2, 1);
            }
            varint_field(&mut l, 3, *addr);
            for (fid, line) in lines {
                let mut ln = Vec::new();
                varint_field(&mut ln, 1, *fid);
                varint_field(&mut ln, 2, *line as u64);
                bytes_field(&mut l, 4, &ln);
            }
            bytes_field(&mut p, 4, &l);
        }
        for (i, (name, sys, file)) in self.functions.iter().enumerate() {
            let mut f = Vec::new();
            varint_field(&mut f, 1, i as u64 + 1);
            varint_field(&mut f, 2, *name as u64);
            varint_field(&mut f, 3, *sys as u64);
            varint_field(&mut f, 4, *file as u64);
            bytes_field(&mut p, 5, &f);
        }
        for s in &self.strings {
            bytes_field(&mut p, 6, s.as_bytes());
        }
        varint_field(&mut p, 9, self.time_ns as u64);
        varint_field(&mut p, 10, self.duration_ns as u64);
        let mut vt = Vec::new();
        varint_field(&mut vt, 1, cpu as u64);
        varint_field(&mut vt, 2, nanos as u64);
        bytes_field(&mut p, 11, &vt);
        varint_field(&mut p, 12, self.period_ns as u64);
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        gz.write_all(&p)?;
        gz.finish()?;
        Ok(())
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, u64::from(field) << 3);
    varint(out, v);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn packed_field(out: &mut Vec<u8>, field: u32, vs: impl IntoIterator<Item = u64>) {
    let mut b = Vec::new();
    for v in vs {
        varint(&mut b, v);
    }
    bytes_field(out, field, &b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let mut v = Vec::new();
        varint_field(&mut v, 12, 1);
        assert_eq!(v, [0x60, 0x01]);
    }
}

/// Entry points for the fuzz targets (`fuzz/`) and the mutation tests: whatever the bytes,
/// reading, attributing and every report return without panicking.
pub mod fuzzing {
    use goscope_binary::Binary;

    use crate::attribute::{MatchOptions, attribute};
    use crate::{flame, read, report};

    /// Reads `data` as a profile and, when it reads, attributes it to `bin` (forced) and
    /// computes every report.
    pub fn read_and_report(data: &[u8], bin: Option<&Binary>) {
        let Ok(p) = read::read(data) else {
            return;
        };
        let _ = p.total(p.default_value);
        let Some(bin) = bin else {
            return;
        };
        let opts = MatchOptions {
            force: true,
            ..MatchOptions::default()
        };
        let Ok(att) = attribute(bin, &p, &opts) else {
            return;
        };
        for inlined in [false, true] {
            let rows = report::top(&att, inlined, false);
            if let Some(r) = rows.first() {
                let _ = report::per_line(&att, r.function);
            }
        }
        let _ = report::per_location(&att);
        let _ = flame::flame_svg(&att, "fuzz");
    }
}
