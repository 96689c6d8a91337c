//! A goroutine census over time (`goscope top`): at each sample, goroutines grouped by stack (or
//! by where they were created); across samples, each group's count, its change, its growth
//! rate (least squares over the samples seen), and whether it only grows — a leak.

use std::collections::HashMap;

use serde::Serialize;

use crate::analysis::{GroupKey, user_frame};
use crate::goroutine::Goroutine;

/// How goroutines are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// Same state and stack.
    Stack,
    /// Same creation site (`go` statement).
    Creator,
}

/// What a group is, for people: its state, where its goroutines are, where they were created.
#[derive(Debug, Clone, Serialize)]
pub struct GroupInfo {
    /// The state (`chan receive`), without wait times.
    pub state: String,
    /// The innermost frame outside the runtime (`main.handle`), or the innermost frame.
    pub function: String,
    /// Its `file:line`.
    pub location: String,
    /// The whole stack, innermost first, as `function file:line` (grouping by stack).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
    /// The `go` statement that created them: `function file:line`.
    pub created_by: Option<String>,
}

/// One group at one sample.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// A stable number for the group across samples.
    pub id: usize,
    /// Goroutines in it now.
    pub count: usize,
    /// Change since the previous sample.
    pub delta: i64,
    /// Growth in goroutines per second: the least-squares slope over every sample since the
    /// group was first seen (0 with one sample).
    pub rate_per_s: f64,
    /// It grew and never shrank over at least three samples.
    pub leak: bool,
    /// Samples it has been seen in.
    pub samples: usize,
    /// What it is.
    #[serde(flatten)]
    pub info: GroupInfo,
}

/// One sample of the census.
#[derive(Debug, Clone, Serialize)]
pub struct CensusSample {
    /// Sample number, from 1.
    pub sample: usize,
    /// Seconds since the first sample.
    pub time_s: f64,
    /// Goroutines (not dead).
    pub total: usize,
    /// Change since the previous sample.
    pub delta: i64,
    /// Groups, largest first; groups that vanished are gone.
    pub groups: Vec<GroupRow>,
}

#[derive(Debug)]
struct Series {
    id: usize,
    info: GroupInfo,
    /// `(sample index, time, count)` for every sample since first seen (0 when absent).
    points: Vec<(usize, f64, usize)>,
}

impl Series {
    fn rate(&self) -> f64 {
        let n = self.points.len() as f64;
        if self.points.len() < 2 {
            return 0.0;
        }
        let mt = self.points.iter().map(|p| p.1).sum::<f64>() / n;
        let mc = self.points.iter().map(|p| p.2 as f64).sum::<f64>() / n;
        let (mut num, mut den) = (0.0, 0.0);
        for &(_, t, c) in &self.points {
            num += (t - mt) * (c as f64 - mc);
            den += (t - mt) * (t - mt);
        }
        if den == 0.0 { 0.0 } else { num / den }
    }

    fn only_grows(&self) -> bool {
        self.points.len() >= 3
            && self.points.windows(2).all(|w| w[1].2 >= w[0].2)
            && self.points.last().map(|p| p.2) > self.points.first().map(|p| p.2)
    }
}

/// The census across samples.
#[derive(Debug)]
pub struct Census {
    by: GroupBy,
    series: HashMap<GroupKey, Series>,
    next_id: usize,
    samples: usize,
    last_total: Option<usize>,
}

impl Census {
    /// An empty census grouping `by`.
    pub fn new(by: GroupBy) -> Census {
        Census {
            by,
            series: HashMap::new(),
            next_id: 1,
            samples: 0,
            last_total: None,
        }
    }

    fn key(&self, g: &Goroutine<'_>) -> GroupKey {
        match self.by {
            GroupBy::Stack => g.group_key(),
            GroupBy::Creator => GroupKey {
                state: String::new(),
                frames: g
                    .created_by
                    .as_ref()
                    .map(|c| vec![(c.function.to_string(), c.file.to_string(), c.line)])
                    .unwrap_or_default(),
            },
        }
    }

    fn info(&self, g: &Goroutine<'_>) -> GroupInfo {
        let at = user_frame(&g.frames)
            .and_then(|i| g.frames.get(i))
            .or(g.frames.first());
        let created_by = g
            .created_by
            .as_ref()
            .map(|c| format!("{} {}:{}", c.function, c.file, c.line));
        match self.by {
            GroupBy::Stack => GroupInfo {
                state: g.state_without_wait(),
                function: at.map_or_else(|| "(no stack)".into(), |f| f.function.to_string()),
                location: at.map_or_else(String::new, |f| format!("{}:{}", f.file, f.line)),
                frames: g
                    .frames
                    .iter()
                    .map(|f| format!("{} {}:{}", f.function, f.file, f.line))
                    .collect(),
                created_by,
            },
            GroupBy::Creator => GroupInfo {
                state: String::new(),
                function: g.created_by.as_ref().map_or_else(
                    || "(no creator: main or runtime)".into(),
                    |c| c.function.to_string(),
                ),
                location: g
                    .created_by
                    .as_ref()
                    .map_or_else(String::new, |c| format!("{}:{}", c.file, c.line)),
                frames: Vec::new(),
                created_by,
            },
        }
    }

    /// Adds a sample taken at `time_s` (seconds since the first) of `goroutines` (stacks filled
    /// in; dead ones left out) and returns the census now.
    pub fn add(&mut self, time_s: f64, goroutines: &[Goroutine<'_>]) -> CensusSample {
        let sample = self.samples;
        self.samples += 1;
        let mut counts: HashMap<GroupKey, (usize, Option<GroupInfo>)> = HashMap::new();
        for g in goroutines {
            let key = self.key(g);
            let known = self.series.contains_key(&key);
            let e = counts.entry(key).or_insert((0, None));
            e.0 += 1;
            if !known && e.1.is_none() {
                e.1 = Some(self.info(g));
            }
        }
        for (key, (n, info)) in counts {
            let s = self.series.entry(key).or_insert_with(|| {
                let id = self.next_id;
                self.next_id += 1;
                Series {
                    id,
                    info: info.unwrap_or_else(|| GroupInfo {
                        state: String::new(),
                        function: String::new(),
                        location: String::new(),
                        frames: Vec::new(),
                        created_by: None,
                    }),
                    points: Vec::new(),
                }
            });
            s.points.push((sample, time_s, n));
        }
        // Groups not seen in this sample count 0 now.
        for s in self.series.values_mut() {
            if s.points.last().map(|p| p.0) != Some(sample) {
                s.points.push((sample, time_s, 0));
            }
        }
        // Forget groups gone for good (absent for the last three samples).
        self.series.retain(|_, s| {
            s.points.len() < 3 || s.points[s.points.len() - 3..].iter().any(|p| p.2 > 0)
        });
        let mut groups: Vec<GroupRow> = self
            .series
            .values()
            .filter(|s| s.points.last().is_some_and(|p| p.2 > 0))
            .map(|s| {
                let n = s.points.len();
                let count = s.points[n - 1].2;
                let prev = if n >= 2 { s.points[n - 2].2 } else { 0 };
                GroupRow {
                    id: s.id,
                    count,
                    delta: if n >= 2 || sample > 0 {
                        count as i64 - prev as i64
                    } else {
                        0
                    },
                    rate_per_s: s.rate(),
                    leak: s.only_grows(),
                    samples: n,
                    info: s.info.clone(),
                }
            })
            .collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        let total = goroutines.len();
        let delta = self.last_total.map_or(0, |t| total as i64 - t as i64);
        self.last_total = Some(total);
        CensusSample {
            sample: sample + 1,
            time_s,
            total,
            delta,
            groups,
        }
    }
}
