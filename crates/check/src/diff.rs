//! `goscope diff`: machine-level changes between two builds of a program, function by
//! function — size, frame size, allocation calls, LOCK/atomic instructions, bounds checks and
//! inlined callees — with added, removed and renamed functions, sorted by impact.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use goscope_binary::Binary;
use goscope_disasm::classes::Class;
use rayon::prelude::*;
use serde::Serialize;

use crate::Error;
use crate::facts::Analyzer;

/// What `diff` compares for one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Code size in bytes.
    pub size: u64,
    /// Frame size in bytes (largest pcsp offset).
    pub frame_size: u64,
    /// Calls that allocate.
    pub allocs: usize,
    /// LOCK-prefixed/implicitly locked x86 instructions and arm64 atomics.
    pub atomics: usize,
    /// Bounds-check failure calls.
    pub bounds_checks: usize,
    /// Functions inlined into it.
    pub inlined: BTreeSet<String>,
    #[serde(skip)]
    shape: u64,
}

/// Summarizes every function of `bin` whose name passes `filter`, by symbol name.
pub fn summarize(
    bin: &Binary,
    filter: &(dyn Fn(&str) -> bool + Sync),
) -> Result<BTreeMap<String, Summary>, Error> {
    let an = Analyzer::new(bin)?;
    let v: Vec<(String, Summary)> = an
        .functions()
        .par_iter()
        .filter(|f| filter(&f.name))
        .map(|f| {
            let facts = an.facts(f);
            (
                f.name.clone(),
                Summary {
                    size: facts.size,
                    frame_size: facts.frame_size,
                    allocs: facts.count(Class::Alloc),
                    atomics: facts.atomics(),
                    bounds_checks: facts.count(Class::BoundsCheck),
                    inlined: facts.inlined.clone(),
                    shape: facts.shape,
                },
            )
        })
        .collect();
    Ok(v.into_iter().collect())
}

/// How a function changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the new build.
    Added,
    /// Only in the old build.
    Removed,
    /// The same code under a new name.
    Renamed,
    /// In both, with different facts.
    Changed,
}

/// An old → new pair of numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// Old value (0 when added).
    pub old: u64,
    /// New value (0 when removed).
    pub new: u64,
}

impl Delta {
    fn of(old: u64, new: u64) -> Delta {
        Delta { old, new }
    }

    /// new − old.
    pub fn change(&self) -> i64 {
        self.new as i64 - self.old as i64
    }
}

/// One function's change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The function (its new name when renamed).
    pub function: String,
    /// The old name of a renamed function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_name: Option<String>,
    /// Code size.
    pub size: Delta,
    /// Frame size.
    pub frame_size: Delta,
    /// Allocation calls.
    pub allocs: Delta,
    /// LOCK/atomic instructions.
    pub atomics: Delta,
    /// Bounds-check failure calls.
    pub bounds_checks: Delta,
    /// Callees inlined in the new build and not in the old.
    pub inlined_gained: Vec<String>,
    /// Callees inlined in the old build and not in the new.
    pub inlined_lost: Vec<String>,
    /// The sort key: allocations and atomics weigh most, then inlining, bounds checks, frame
    /// and code size.
    pub impact: u64,
}

/// CI thresholds: a change that crosses one makes `diff` exit 1.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    /// A function gains an allocation call.
    pub new_alloc: bool,
    /// A function gains a LOCK/atomic instruction.
    pub new_lock: bool,
    /// A function gains a bounds check.
    pub new_bounds_check: bool,
    /// A function loses an inlined callee.
    pub inline_lost: bool,
    /// A function's code grows by more than this many percent.
    pub size_growth_pct: Option<f64>,
    /// A function's frame grows by more than this many bytes.
    pub frame_growth: Option<u64>,
    /// Functions were added or removed.
    pub added_removed: bool,
}

/// The result of `goscope diff`.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// Functions compared in the old build.
    pub old_functions: usize,
    /// Functions compared in the new build.
    pub new_functions: usize,
    /// The changes, by decreasing impact.
    pub changes: Vec<Change>,
    /// The thresholds crossed, one line each (exit 1 when not empty).
    pub exceeded: Vec<String>,
}

fn impact(c: &Change) -> u64 {
    let d = |x: &Delta| x.change().unsigned_abs();
    d(&c.allocs) * 1000
        + d(&c.atomics) * 1000
        + (c.inlined_gained.len() + c.inlined_lost.len()) as u64 * 500
        + d(&c.bounds_checks) * 200
        + d(&c.frame_size) * 2
        + d(&c.size)
}

fn change(
    kind: ChangeKind,
    function: &str,
    old: Option<&Summary>,
    new: Option<&Summary>,
) -> Change {
    let empty = Summary {
        size: 0,
        frame_size: 0,
        allocs: 0,
        atomics: 0,
        bounds_checks: 0,
        inlined: BTreeSet::new(),
        shape: 0,
    };
    let o = old.unwrap_or(&empty);
    let n = new.unwrap_or(&empty);
    let (gained, lost) = if kind == ChangeKind::Changed {
        (
            n.inlined.difference(&o.inlined).cloned().collect(),
            o.inlined.difference(&n.inlined).cloned().collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let mut c = Change {
        kind,
        function: function.to_string(),
        old_name: None,
        size: Delta::of(o.size, n.size),
        frame_size: Delta::of(o.frame_size, n.frame_size),
        allocs: Delta::of(o.allocs as u64, n.allocs as u64),
        atomics: Delta::of(o.atomics as u64, n.atomics as u64),
        bounds_checks: Delta::of(o.bounds_checks as u64, n.bounds_checks as u64),
        inlined_gained: gained,
        inlined_lost: lost,
        impact: 0,
    };
    c.impact = impact(&c);
    c
}

/// Compares two summaries.
pub fn diff(
    old: &BTreeMap<String, Summary>,
    new: &BTreeMap<String, Summary>,
    t: &Thresholds,
) -> DiffReport {
    let mut changes = Vec::new();
    let mut removed: Vec<&String> = Vec::new();
    for (name, o) in old {
        match new.get(name) {
            Some(n) if n == o => {}
            Some(n) => changes.push(change(ChangeKind::Changed, name, Some(o), Some(n))),
            None => removed.push(name),
        }
    }
    let added: Vec<&String> = new.keys().filter(|k| !old.contains_key(*k)).collect();
    // A removed and an added function with the same code shape and size, unique on both
    // sides, are one renamed function.
    let key = |s: &Summary| (s.shape, s.size);
    let mut added_by_key: HashMap<(u64, u64), Vec<&String>> = HashMap::new();
    for a in &added {
        added_by_key.entry(key(&new[*a])).or_default().push(a);
    }
    let mut removed_by_key: HashMap<(u64, u64), usize> = HashMap::new();
    for r in &removed {
        *removed_by_key.entry(key(&old[*r])).or_default() += 1;
    }
    let mut renamed_to: BTreeSet<&String> = BTreeSet::new();
    for r in &removed {
        let k = key(&old[*r]);
        match (added_by_key.get(&k), removed_by_key.get(&k)) {
            (Some(a), Some(1)) if a.len() == 1 => {
                let mut c = change(ChangeKind::Renamed, a[0], Some(&old[*r]), Some(&new[a[0]]));
                c.old_name = Some(r.to_string());
                c.impact = 1;
                changes.push(c);
                renamed_to.insert(a[0]);
            }
            _ => changes.push(change(ChangeKind::Removed, r, Some(&old[*r]), None)),
        }
    }
    for a in added {
        if !renamed_to.contains(a) {
            changes.push(change(ChangeKind::Added, a, None, Some(&new[a])));
        }
    }
    changes.sort_by(|a, b| {
        b.impact
            .cmp(&a.impact)
            .then_with(|| a.function.cmp(&b.function))
    });
    let mut exceeded = Vec::new();
    for c in &changes {
        let f = &c.function;
        if c.kind == ChangeKind::Changed {
            if t.new_alloc && c.allocs.change() > 0 {
                exceeded.push(format!(
                    "{f}: allocation calls {} → {}",
                    c.allocs.old, c.allocs.new
                ));
            }
            if t.new_lock && c.atomics.change() > 0 {
                exceeded.push(format!(
                    "{f}: atomics {} → {}",
                    c.atomics.old, c.atomics.new
                ));
            }
            if t.new_bounds_check && c.bounds_checks.change() > 0 {
                exceeded.push(format!(
                    "{f}: bounds checks {} → {}",
                    c.bounds_checks.old, c.bounds_checks.new
                ));
            }
            if t.inline_lost && !c.inlined_lost.is_empty() {
                exceeded.push(format!(
                    "{f}: no longer inlines {}",
                    c.inlined_lost.join(", ")
                ));
            }
            if let Some(pct) = t.size_growth_pct
                && c.size.old > 0
                && (c.size.change() as f64) * 100.0 / c.size.old as f64 > pct
            {
                exceeded.push(format!(
                    "{f}: size {} → {} bytes (more than {pct}% growth)",
                    c.size.old, c.size.new
                ));
            }
            if let Some(max) = t.frame_growth
                && c.frame_size.change() > max as i64
            {
                exceeded.push(format!(
                    "{f}: frame {} → {} bytes (more than {max} bytes growth)",
                    c.frame_size.old, c.frame_size.new
                ));
            }
        }
        if t.added_removed && matches!(c.kind, ChangeKind::Added | ChangeKind::Removed) {
            exceeded.push(format!("{f}: {:?}", c.kind).to_lowercase());
        }
    }
    DiffReport {
        old_functions: old.len(),
        new_functions: new.len(),
        changes,
        exceeded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(size: u64, allocs: usize, inl: &[&str], shape: u64) -> Summary {
        Summary {
            size,
            frame_size: 8,
            allocs,
            atomics: 0,
            bounds_checks: 0,
            inlined: inl.iter().map(|x| x.to_string()).collect(),
            shape,
        }
    }

    #[test]
    fn classifies_and_sorts() {
        let old: BTreeMap<String, Summary> = [
            ("a".to_string(), s(10, 0, &["h"], 1)),
            ("b".to_string(), s(20, 0, &[], 2)),
            ("c".to_string(), s(30, 0, &[], 3)),
            ("gone".to_string(), s(40, 0, &[], 4)),
        ]
        .into();
        let new: BTreeMap<String, Summary> = [
            ("a".to_string(), s(12, 0, &[], 1)),
            ("b".to_string(), s(20, 1, &[], 2)),
            ("c2".to_string(), s(30, 0, &[], 3)),
            ("new".to_string(), s(50, 0, &[], 5)),
        ]
        .into();
        let t = Thresholds {
            new_alloc: true,
            inline_lost: true,
            ..Thresholds::default()
        };
        let r = diff(&old, &new, &t);
        let kinds: Vec<(ChangeKind, &str)> = r
            .changes
            .iter()
            .map(|c| (c.kind, c.function.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ChangeKind::Changed, "b"),
                (ChangeKind::Changed, "a"),
                (ChangeKind::Added, "new"),
                (ChangeKind::Removed, "gone"),
                (ChangeKind::Renamed, "c2"),
            ]
        );
        assert_eq!(r.changes[1].inlined_lost, vec!["h".to_string()]);
        assert_eq!(r.exceeded.len(), 2, "{:?}", r.exceeded);
    }
}
