//! What the reports add up: per function (flat and cumulative, inlined functions split out or
//! charged to the function they were compiled into), per address, per source line, and the
//! call tree a flame graph draws.

use std::collections::{HashMap, HashSet};

use crate::attribute::{Attributed, Frame};

/// A function's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRow {
    /// Function name (index into [`Attributed::names`]).
    pub function: u32,
    /// Samples whose innermost frame it is.
    pub flat: i64,
    /// Samples it is anywhere on the stack of (once per sample).
    pub cum: i64,
    /// It never has a body of its own in the samples: every frame of it was inlined.
    pub only_inlined: bool,
}

/// The frames of location `l` seen at function granularity: the whole inline chain
/// (`inlined`), or only the physical function (what pprof's `-noinlines` shows).
fn frames_of(att: &Attributed, l: u32, inlined: bool) -> &[Frame] {
    let Some(loc) = att.locs.get(l as usize) else {
        return &[];
    };
    if inlined {
        &loc.frames
    } else {
        loc.frames.last().map_or(&[], std::slice::from_ref)
    }
}

/// Flat and cumulative values per function; `inlined` splits inlined functions out of the
/// functions they were compiled into (pprof's default), otherwise each address counts for its
/// physical function only (pprof's `-noinlines`). Sorted by flat (or cum), then name.
pub fn top(att: &Attributed, inlined: bool, by_cum: bool) -> Vec<FunctionRow> {
    let mut rows: HashMap<u32, FunctionRow> = HashMap::new();
    let mut seen = HashSet::new();
    for s in &att.stacks {
        seen.clear();
        for (k, &l) in s.locs.iter().enumerate() {
            for (j, f) in frames_of(att, l, inlined).iter().enumerate() {
                let row = rows.entry(f.function).or_insert(FunctionRow {
                    function: f.function,
                    flat: 0,
                    cum: 0,
                    only_inlined: true,
                });
                if !f.inlined {
                    row.only_inlined = false;
                }
                if k == 0 && j == 0 {
                    row.flat = row.flat.saturating_add(s.value);
                }
                if seen.insert(f.function) {
                    row.cum = row.cum.saturating_add(s.value);
                }
            }
        }
    }
    let mut rows: Vec<FunctionRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        let (ka, kb) = if by_cum {
            ((a.cum, a.flat), (b.cum, b.flat))
        } else {
            ((a.flat, a.cum), (b.flat, b.cum))
        };
        kb.cmp(&ka)
            .then_with(|| att.name(a.function).cmp(att.name(b.function)))
    });
    rows
}

/// Per location: the value of the samples it is the leaf of, and of the samples it is in
/// (once per sample).
pub fn per_location(att: &Attributed) -> Vec<(i64, i64)> {
    let mut out = vec![(0i64, 0i64); att.locs.len()];
    let mut seen = HashSet::new();
    for s in &att.stacks {
        seen.clear();
        for (k, &l) in s.locs.iter().enumerate() {
            let Some(slot) = out.get_mut(l as usize) else {
                continue;
            };
            if k == 0 {
                slot.0 = slot.0.saturating_add(s.value);
            }
            if seen.insert(l) {
                slot.1 = slot.1.saturating_add(s.value);
            }
        }
    }
    out
}

/// A source line of a listed function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineRow {
    /// Samples whose innermost frame is the function at this line.
    pub flat: i64,
    /// Samples where the function is at this line (once per sample).
    pub cum: i64,
    /// Functions inlined at this line (call sites of inlined callees), with their cum.
    pub inlined: Vec<(u32, i64)>,
}

/// Per `(file, line)` of function `function`: where its samples are. A sample counts at the
/// line of the function's innermost frame in it.
pub fn per_line(att: &Attributed, function: u32) -> HashMap<(u32, i32), LineRow> {
    let mut out: HashMap<(u32, i32), LineRow> = HashMap::new();
    for s in &att.stacks {
        let mut first = true;
        'sample: for &l in &s.locs {
            let frames = frames_of(att, l, true);
            for (j, f) in frames.iter().enumerate() {
                if f.function == function {
                    let row = out.entry((f.file, f.line)).or_default();
                    if first && j == 0 {
                        row.flat = row.flat.saturating_add(s.value);
                    }
                    row.cum = row.cum.saturating_add(s.value);
                    if j > 0 && frames[j - 1].inlined {
                        let callee = frames[j - 1].function;
                        match row.inlined.iter_mut().find(|(c, _)| *c == callee) {
                            Some(c) => c.1 = c.1.saturating_add(s.value),
                            None => row.inlined.push((callee, s.value)),
                        }
                    }
                    break 'sample;
                }
                first = false;
            }
            first = false;
        }
    }
    out
}

/// A node of the call tree, root first: children by (function, inlined).
#[derive(Debug, Default)]
pub struct TreeNode {
    /// Function name (index into [`Attributed::names`]).
    pub function: u32,
    /// Whether this frame was inlined into its parent.
    pub inlined: bool,
    /// Value of the samples through this node.
    pub total: i64,
    /// Value of the samples ending here.
    pub own: i64,
    /// Children.
    pub children: Vec<TreeNode>,
}

/// The call tree of every sample, outermost frame first (a flame graph's shape). The root is
/// a synthetic node with `function == u32::MAX`.
pub fn call_tree(att: &Attributed) -> TreeNode {
    let mut root = TreeNode {
        function: u32::MAX,
        ..TreeNode::default()
    };
    let mut path: Vec<(u32, bool)> = Vec::new();
    for s in &att.stacks {
        path.clear();
        for &l in s.locs.iter().rev() {
            for f in frames_of(att, l, true).iter().rev() {
                path.push((f.function, f.inlined));
            }
        }
        root.total = root.total.saturating_add(s.value);
        let mut node = &mut root;
        for &(function, inlined) in &path {
            let i = match node
                .children
                .iter()
                .position(|c| c.function == function && c.inlined == inlined)
            {
                Some(i) => i,
                None => {
                    node.children.push(TreeNode {
                        function,
                        inlined,
                        ..TreeNode::default()
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i];
            node.total = node.total.saturating_add(s.value);
        }
        node.own = node.own.saturating_add(s.value);
    }
    root
}
