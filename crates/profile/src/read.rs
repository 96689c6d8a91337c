//! Reading a `profile.proto` (gzipped or not) into a checked model: every id a sample or a
//! location refers to exists, every string index is in range, and the sizes that drive
//! allocations are those of the bytes actually read.

use std::collections::HashMap;
use std::io::Read;

use prost::Message;

use crate::proto;

/// The most a gzipped profile may expand to: real profiles are a few megabytes; a gzip bomb
/// stops here.
const MAX_DECOMPRESSED: u64 = 256 << 20;

/// Why a profile cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Zero bytes.
    #[error("the file is empty: not a profile")]
    Empty,
    /// The gzip stream is damaged or cut short.
    #[error("the gzip stream is damaged or cut short ({0}): is the file complete?")]
    Gzip(String),
    /// Larger than [`MAX_DECOMPRESSED`] once decompressed.
    #[error("the profile expands to more than {} MiB: refusing it", MAX_DECOMPRESSED >> 20)]
    TooLarge,
    /// Not a protocol-buffer message of the profile's shape.
    #[error("not a pprof profile (profile.proto): {0}")]
    Decode(String),
    /// A reference to something the profile does not hold.
    #[error("a corrupt profile: {0}")]
    Corrupt(String),
    /// No samples at all.
    #[error("the profile holds no samples: nothing to show")]
    NoSamples,
}

/// One frame of a location, as the profile names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFrame {
    /// Function name (index into [`Profile::strings`]).
    pub function: u32,
    /// Source file (index into [`Profile::strings`]).
    pub file: u32,
    /// Line.
    pub line: i64,
}

/// An address of the profiled process.
#[derive(Debug, Clone)]
pub struct ProfileLocation {
    /// The address as the process saw it.
    pub address: u64,
    /// Index into [`Profile::mappings`].
    pub mapping: Option<u32>,
    /// The profile's own inline chain, innermost first (empty in an unsymbolized profile).
    pub frames: Vec<ProfileFrame>,
}

/// A mapped file.
#[derive(Debug, Clone)]
pub struct ProfileMapping {
    /// First address.
    pub start: u64,
    /// Address after the last.
    pub limit: u64,
    /// File offset of `start`.
    pub offset: u64,
    /// Path.
    pub file: String,
    /// Build id (GNU's, in hex, or Go's).
    pub build_id: String,
}

/// A stack and its values.
#[derive(Debug, Clone)]
pub struct ProfileSample {
    /// Indexes into [`Profile::locations`], the leaf first.
    pub locations: Vec<u32>,
    /// One value per sample type.
    pub values: Vec<i64>,
    /// Its goroutine id, where a label says (`goroutine`, as `goscope record` writes).
    pub goroutine: Option<i64>,
}

/// A profile, checked.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The string table.
    pub strings: Vec<String>,
    /// `(type, unit)` of each value.
    pub sample_types: Vec<(String, String)>,
    /// Index of the value shown by default (pprof's rule: the default type if named, else the
    /// last).
    pub default_value: usize,
    /// Sampling period and its `(type, unit)`.
    pub period: i64,
    /// The period's type and unit.
    pub period_type: (String, String),
    /// Mapped files.
    pub mappings: Vec<ProfileMapping>,
    /// Addresses.
    pub locations: Vec<ProfileLocation>,
    /// Samples.
    pub samples: Vec<ProfileSample>,
    /// When it was taken (Unix nanoseconds) and for how long.
    pub time_ns: i64,
    /// Duration in nanoseconds.
    pub duration_ns: i64,
}

impl Profile {
    /// A string of the table (empty if out of range: indexes were checked on reading).
    pub fn str(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", String::as_str)
    }

    /// The total of value `v` over every sample.
    pub fn total(&self, v: usize) -> i64 {
        self.samples
            .iter()
            .map(|s| s.values.get(v).copied().unwrap_or(0))
            .fold(0i64, i64::saturating_add)
    }
}

/// Reads a profile from its bytes: gzipped (as pprof writes them) or not.
pub fn read(bytes: &[u8]) -> Result<Profile, ProfileError> {
    if bytes.is_empty() {
        return Err(ProfileError::Empty);
    }
    let raw;
    let data: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut out)
            .map_err(|e| ProfileError::Gzip(e.to_string()))?;
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(ProfileError::TooLarge);
        }
        raw = out;
        &raw
    } else {
        bytes
    };
    let p = proto::Profile::decode(data).map_err(|e| ProfileError::Decode(e.to_string()))?;
    check(p)
}

fn check(p: proto::Profile) -> Result<Profile, ProfileError> {
    let strings = p.string_table;
    if strings.first().is_some_and(|s| !s.is_empty()) {
        return Err(ProfileError::Corrupt(
            "the string table does not start with the empty string".into(),
        ));
    }
    let n_strings = strings.len();
    let string = |i: i64, what: &str| -> Result<u32, ProfileError> {
        if i == 0 && n_strings == 0 {
            return Ok(0);
        }
        match usize::try_from(i) {
            Ok(u) if u < n_strings => Ok(u as u32),
            _ => Err(ProfileError::Corrupt(format!(
                "{what} names string {i}, beyond the table's {n_strings}"
            ))),
        }
    };
    let text = |i: u32| strings.get(i as usize).cloned().unwrap_or_default();

    let mut sample_types = Vec::with_capacity(p.sample_type.len());
    for t in &p.sample_type {
        sample_types.push((
            text(string(t.r#type, "a sample type")?),
            text(string(t.unit, "a sample type")?),
        ));
    }
    let default_name = text(string(p.default_sample_type, "the default sample type")?);
    let default_value = sample_types
        .iter()
        .position(|(t, _)| !default_name.is_empty() && *t == default_name)
        .unwrap_or(sample_types.len().saturating_sub(1));
    let period_type = match &p.period_type {
        Some(t) => (
            text(string(t.r#type, "the period type")?),
            text(string(t.unit, "the period type")?),
        ),
        None => Default::default(),
    };

    let mut mapping_ix = HashMap::with_capacity(p.mapping.len());
    let mut mappings = Vec::with_capacity(p.mapping.len());
    for m in &p.mapping {
        if mapping_ix.insert(m.id, mappings.len() as u32).is_some() {
            return Err(ProfileError::Corrupt(format!(
                "two mappings have id {}",
                m.id
            )));
        }
        mappings.push(ProfileMapping {
            start: m.memory_start,
            limit: m.memory_limit,
            offset: m.file_offset,
            file: text(string(m.filename, "a mapping")?),
            build_id: text(string(m.build_id, "a mapping")?),
        });
    }

    let mut function_ix: HashMap<u64, (u32, u32)> = HashMap::with_capacity(p.function.len());
    for f in &p.function {
        let name = string(f.name, "a function")?;
        let file = string(f.filename, "a function")?;
        string(f.system_name, "a function")?;
        if function_ix.insert(f.id, (name, file)).is_some() {
            return Err(ProfileError::Corrupt(format!(
                "two functions have id {}",
                f.id
            )));
        }
    }

    let mut location_ix = HashMap::with_capacity(p.location.len());
    let mut locations = Vec::with_capacity(p.location.len());
    for l in &p.location {
        if location_ix.insert(l.id, locations.len() as u32).is_some() {
            return Err(ProfileError::Corrupt(format!(
                "two locations have id {}",
                l.id
            )));
        }
        let mapping = match l.mapping_id {
            0 => None,
            id => Some(*mapping_ix.get(&id).ok_or_else(|| {
                ProfileError::Corrupt(format!(
                    "location {} names mapping {id}, which is absent",
                    l.id
                ))
            })?),
        };
        let mut frames = Vec::with_capacity(l.line.len());
        for line in &l.line {
            let &(function, file) = function_ix.get(&line.function_id).ok_or_else(|| {
                ProfileError::Corrupt(format!(
                    "location {} names function {}, which is absent",
                    l.id, line.function_id
                ))
            })?;
            frames.push(ProfileFrame {
                function,
                file,
                line: line.line,
            });
        }
        locations.push(ProfileLocation {
            address: l.address,
            mapping,
            frames,
        });
    }

    let goroutine_key = strings
        .iter()
        .position(|s| s == "goroutine")
        .map(|i| i as i64);
    let mut samples = Vec::with_capacity(p.sample.len());
    for (k, s) in p.sample.into_iter().enumerate() {
        if s.value.len() != sample_types.len() {
            return Err(ProfileError::Corrupt(format!(
                "sample {k} has {} values for {} sample types",
                s.value.len(),
                sample_types.len()
            )));
        }
        let mut locs = Vec::with_capacity(s.location_id.len());
        for id in &s.location_id {
            locs.push(*location_ix.get(id).ok_or_else(|| {
                ProfileError::Corrupt(format!("sample {k} names location {id}, which is absent"))
            })?);
        }
        let goroutine = goroutine_key.and_then(|key| {
            s.label
                .iter()
                .find(|l| l.key == key && l.str == 0)
                .map(|l| l.num)
        });
        samples.push(ProfileSample {
            locations: locs,
            values: s.value,
            goroutine,
        });
    }
    if samples.is_empty() || sample_types.is_empty() {
        return Err(ProfileError::NoSamples);
    }
    Ok(Profile {
        strings,
        sample_types,
        default_value,
        period: p.period,
        period_type,
        mappings,
        locations,
        samples,
        time_ns: p.time_nanos,
        duration_ns: p.duration_nanos,
    })
}
