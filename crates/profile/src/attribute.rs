//! Putting a profile's addresses on a binary: the mapping that is the binary (by build id, then
//! by file name, then the first one, as Go's runtime writes the executable first), the load
//! bias of a PIE, and every address symbolized with the binary's own pclntab — its whole
//! inline chain — checked against the names the profile carries.

use std::collections::HashMap;

use goscope_binary::{Binary, print_name};
use rayon::prelude::*;

use crate::read::Profile;

/// One frame of an attributed location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Function name (index into [`Attributed::names`]).
    pub function: u32,
    /// Source file (index into [`Attributed::names`]).
    pub file: u32,
    /// Line.
    pub line: i32,
    /// Inlined into the next frame of the same location.
    pub inlined: bool,
}

/// A profile location, placed in the binary.
#[derive(Debug, Clone)]
pub struct Loc {
    /// The address in the binary's own terms (its link-time address), or the process's
    /// address where it lies outside the binary.
    pub address: u64,
    /// Whether `address` is in the binary.
    pub in_binary: bool,
    /// The inline chain, innermost first; the last frame is the physical function.
    pub frames: Vec<Frame>,
}

/// A sample, attributed.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Indexes into [`Attributed::locs`], the leaf first.
    pub locs: Vec<u32>,
    /// The value shown.
    pub value: i64,
}

/// A profile put on a binary.
#[derive(Debug, Clone)]
pub struct Attributed {
    /// Interned function and file names.
    pub names: Vec<String>,
    /// Locations, as the profile's.
    pub locs: Vec<Loc>,
    /// Samples.
    pub stacks: Vec<Stack>,
    /// `(type, unit)` of the value shown.
    pub value_type: (String, String),
    /// The sum of every sample's value.
    pub total: i64,
    /// The sampling period (in the period type's unit).
    pub period: i64,
    /// What the reader should know (disagreeing symbols, addresses outside the binary).
    pub warnings: Vec<String>,
}

impl Attributed {
    /// A name.
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i as usize).map_or("", String::as_str)
    }

    /// A value in milliseconds when the unit is nanoseconds (CPU profiles), else as is.
    pub fn ms(&self, v: i64) -> f64 {
        if self.value_type.1 == "nanoseconds" {
            v as f64 / 1e6
        } else {
            v as f64
        }
    }
}

/// Why a profile does not fit the binary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatchError {
    /// Another build's profile.
    #[error("{0}")]
    OtherBuild(String),
    /// No value of the requested type.
    #[error("{0}")]
    NoSuchValue(String),
}

/// How to attribute.
#[derive(Debug, Clone, Default)]
pub struct MatchOptions {
    /// Attribute even a profile that seems to be of another build.
    pub force: bool,
    /// The sample type to show (`cpu`, `samples`); pprof's default when `None`.
    pub value: Option<String>,
    /// The binary's file name, matched against the mappings' paths.
    pub binary_name: String,
}

#[derive(Default)]
struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }
}

/// The build ids a binary carries: GNU's (hex) and Go's.
pub fn build_ids(bin: &Binary) -> Vec<String> {
    let mut ids = Vec::new();
    for (section, gnu) in [(".note.gnu.build-id", true), (".note.go.buildid", false)] {
        let Some(s) = bin.section(section) else {
            continue;
        };
        let d = bin.section_data(s);
        let word = |o: usize| -> Option<usize> {
            Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?) as usize)
        };
        let (Some(namesz), Some(descsz)) = (word(0), word(4)) else {
            continue;
        };
        let desc_at = 12usize.saturating_add(namesz.saturating_add(3) & !3);
        let Some(desc) = d.get(desc_at..desc_at.saturating_add(descsz)) else {
            continue;
        };
        let id = if gnu {
            desc.iter().map(|b| format!("{b:02x}")).collect()
        } else {
            String::from_utf8_lossy(desc).into_owned()
        };
        if !id.is_empty() {
            ids.push(id);
        }
    }
    ids
}

fn basename(p: &str) -> &str {
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// Maps a process address of mapping `(start, offset)` to the binary's link-time address
/// through the file offset; `None` when no loaded segment holds that offset.
fn link_address(bin: &Binary, addr: u64, start: u64, offset: u64) -> Option<u64> {
    let off = addr.checked_sub(start)?.checked_add(offset)?;
    bin.segments().find_map(|seg| {
        let seg_off = bin.file_offset(seg.addr)?;
        (off >= seg_off && off - seg_off < seg.file_size).then(|| seg.addr + (off - seg_off))
    })
}

/// One frame as the binary names it: function (the symbol name, as runtime/pprof writes
/// it), file, line, inlined.
type OwnFrame = (String, String, i32, bool);

/// The binary's inline chain at each address (empty for `None` and for addresses in no
/// function), decoding each function's tables once; functions in parallel.
fn symbolize(bin: &Binary, links: &[Option<u64>]) -> Vec<Vec<OwnFrame>> {
    let mut order: Vec<(u64, usize)> = links
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some(((*a)?, i)))
        .collect();
    order.sort_unstable();
    // Runs of addresses in one function.
    let mut groups: Vec<&[(u64, usize)]> = Vec::new();
    let mut rest = &order[..];
    while let Some(&(first, _)) = rest.first() {
        let end = bin
            .func_at(first)
            .map_or(first.saturating_add(1), |f| f.end().max(first + 1));
        let n = rest.partition_point(|&(a, _)| a < end).max(1);
        groups.push(&rest[..n]);
        rest = &rest[n..];
    }
    let done: Vec<Vec<(usize, Vec<OwnFrame>)>> = groups
        .par_iter()
        .map(|g| {
            let Some(f) = bin.func_at(g[0].0) else {
                return Vec::new();
            };
            let pcs: Vec<u64> = g.iter().map(|&(a, _)| a).collect();
            bin.frames_at_many(&f, &pcs)
                .into_iter()
                .zip(g.iter())
                .map(|(chain, &(_, i))| {
                    // Compiler-generated wrappers are left out of the runtime's stacks (and so
                    // of its profiles) unless they called a panic: only the frames they wrap
                    // are kept, as there. A chain that is nothing but a wrapper stays.
                    let keep_wrappers = chain.iter().all(|fr| fr.wrapper)
                        || chain.first().is_some_and(|fr| {
                            matches!(
                                &*fr.function,
                                "runtime.gopanic" | "runtime.sigpanic" | "runtime.panicwrap"
                            )
                        });
                    let own = chain
                        .iter()
                        .filter(|fr| keep_wrappers || !fr.wrapper)
                        .map(|fr| {
                            (
                                fr.function.to_string(),
                                fr.file.to_string(),
                                fr.line,
                                fr.inlined,
                            )
                        })
                        .collect();
                    (i, own)
                })
                .collect()
        })
        .collect();
    let mut out: Vec<Vec<OwnFrame>> = vec![Vec::new(); links.len()];
    for (i, chain) in done.into_iter().flatten() {
        out[i] = chain;
    }
    out
}

/// Attributes `prof` to `bin`.
pub fn attribute(
    bin: &Binary,
    prof: &Profile,
    opts: &MatchOptions,
) -> Result<Attributed, MatchError> {
    let value = match &opts.value {
        None => prof.default_value,
        Some(want) => prof
            .sample_types
            .iter()
            .position(|(t, _)| t == want)
            .ok_or_else(|| {
                MatchError::NoSuchValue(format!(
                    "the profile has no {want:?} values (it has {})",
                    prof.sample_types
                        .iter()
                        .map(|(t, u)| format!("{t}/{u}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?,
    };
    let ids = build_ids(bin);
    let mut warnings = Vec::new();
    // The mapping that is the binary.
    let by_id = prof
        .mappings
        .iter()
        .position(|m| !m.build_id.is_empty() && ids.contains(&m.build_id));
    let by_name = || {
        prof.mappings.iter().position(|m| {
            !opts.binary_name.is_empty() && basename(&m.file) == basename(&opts.binary_name)
        })
    };
    let chosen = by_id.or_else(by_name).or(if prof.mappings.is_empty() {
        None
    } else {
        Some(0)
    });
    let mut other_build = None;
    if let Some(i) = chosen
        && by_id.is_none()
    {
        let m = &prof.mappings[i];
        if !m.build_id.is_empty() && !ids.is_empty() {
            other_build = Some(format!(
                "its build id is {}, the binary's {}",
                m.build_id,
                ids.join(" / ")
            ));
        }
    }
    let place = |addr: u64, mapping: Option<u32>| -> Option<u64> {
        let i = chosen?;
        let m = &prof.mappings[i];
        if mapping.is_some_and(|x| x as usize != i) {
            return None;
        }
        if m.start == 0 && m.limit == 0 {
            return Some(addr);
        }
        if addr < m.start || (m.limit > m.start && addr >= m.limit) {
            return None;
        }
        link_address(bin, addr, m.start, m.offset)
    };

    let mut interner = Interner::default();
    // Every location's link address, then the binary's chains for them: locations sorted by
    // address and grouped by function, each function's pc tables decoded once, the groups in
    // parallel.
    let links: Vec<Option<u64>> = prof
        .locations
        .iter()
        .map(|l| place(l.address, l.mapping).or(chosen.is_none().then_some(l.address)))
        .collect();
    let chains = symbolize(bin, &links);
    let mut locs = Vec::with_capacity(prof.locations.len());
    let (mut agree, mut disagree) = (0usize, 0usize);
    let mut first_disagreement = None;
    let mut outside = 0usize;
    for ((l, link), ours) in prof.locations.iter().zip(&links).zip(chains) {
        if ours.is_empty() {
            // Outside the binary (a shared library, the vDSO) or in no function: the
            // profile's own names, if it has any.
            outside += 1;
            let frames = l
                .frames
                .iter()
                .enumerate()
                .map(|(k, f)| Frame {
                    function: interner.id(prof.str(f.function)),
                    file: interner.id(prof.str(f.file)),
                    line: i32::try_from(f.line).unwrap_or(0),
                    inlined: k + 1 < l.frames.len(),
                })
                .collect::<Vec<_>>();
            let frames = if frames.is_empty() {
                vec![Frame {
                    function: interner.id(&format!("{:#x}", l.address)),
                    file: interner.id(""),
                    line: 0,
                    inlined: false,
                }]
            } else {
                frames
            };
            locs.push(Loc {
                address: l.address,
                in_binary: false,
                frames,
            });
            continue;
        }
        let frames: Vec<Frame> = ours
            .iter()
            .map(|f| Frame {
                function: interner.id(&f.0),
                file: interner.id(&f.1),
                line: f.2,
                inlined: f.3,
            })
            .collect();
        if let Some(theirs) = l.frames.first() {
            let theirs = prof.str(theirs.function);
            let mine = interner.names[frames[0].function as usize].as_str();
            // The runtime writes full names (`F[go.shape.int]`); some writers print `F[...]`.
            if theirs == mine || theirs == print_name(mine) {
                agree += 1;
            } else {
                disagree += 1;
                first_disagreement.get_or_insert_with(|| {
                    format!(
                        "{:#x}: the profile says {theirs}, the binary has {mine}",
                        link.unwrap_or(0)
                    )
                });
            }
        }
        locs.push(Loc {
            address: link.unwrap_or(l.address),
            in_binary: true,
            frames,
        });
    }
    let placed = locs.len() - outside;
    if placed == 0 {
        other_build.get_or_insert_with(|| {
            "none of its addresses falls in the binary's functions".to_string()
        });
    } else if disagree > agree {
        other_build.get_or_insert_with(|| {
            format!(
                "{disagree} of {} addresses name other functions in the binary ({})",
                agree + disagree,
                first_disagreement.clone().unwrap_or_default()
            )
        });
    } else if disagree > 0 {
        warnings.push(format!(
            "{disagree} of {} addresses: the profile names other functions than the binary's \
             tables (first, {}); the binary's names are used",
            agree + disagree,
            first_disagreement.clone().unwrap_or_default()
        ));
    }
    if let Some(why) = other_build {
        if !opts.force {
            return Err(MatchError::OtherBuild(format!(
                "the profile was not taken from this build: {why}. Profile this build, or pass \
                 --force to read it anyway"
            )));
        }
        warnings.push(format!("read with --force although {why}"));
    }
    if outside > 0 && placed > 0 {
        let share = outside * 100 / locs.len().max(1);
        if share >= 1 {
            warnings.push(format!(
                "{outside} of {} addresses lie outside the binary (shared libraries, the vDSO): \
                 named as the profile names them",
                locs.len()
            ));
        }
    }
    let stacks: Vec<Stack> = prof
        .samples
        .iter()
        .map(|s| Stack {
            locs: s.locations.clone(),
            value: s.values.get(value).copied().unwrap_or(0),
        })
        .collect();
    let total = stacks
        .iter()
        .map(|s| s.value)
        .fold(0i64, i64::saturating_add);
    Ok(Attributed {
        names: interner.names,
        locs,
        stacks,
        value_type: prof.sample_types.get(value).cloned().unwrap_or_default(),
        total,
        period: prof.period,
        warnings,
    })
}
