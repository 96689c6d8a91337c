//! Rendering goroutines, shared by `goscope core`, `stacks` and `top`: the runtime's traceback
//! text, one line per goroutine, grouped stacks, and streamed JSON. The analysis behind them
//! (reading, grouping, filtering) is `goscope_runtime::analysis`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use goscope_runtime::analysis::{BATCH, GoroutineFilter, GroupKey, user_frame};
use goscope_runtime::goroutine::print_name;
use goscope_runtime::{CreatedBy, Frame, Goroutine, Snapshot};
use serde::Serialize;

use crate::output;

/// The header line the runtime prints for a goroutine.
pub fn header(g: &Goroutine<'_>) -> String {
    use crate::output::{Paint, paint};
    let state = g.state();
    // On a terminal: running goroutines in green, ones blocked for minutes in yellow.
    let state = if state.starts_with("running") || state.starts_with("runnable") {
        paint(Paint::Good, &state).into_owned()
    } else if state.contains(" minutes") {
        paint(Paint::Warn, &state).into_owned()
    } else {
        state
    };
    format!("goroutine {} [{state}]:", g.id)
}

/// A frame's call line and the tab-indented `file:line` under it, as the runtime's traceback
/// prints them (without the line's end: callers append offsets).
pub fn write_frame_position(w: &mut impl Write, f: &Frame<'_>) -> Result<()> {
    writeln!(
        w,
        "{}({})",
        f.print_name(),
        if f.inlined { "..." } else { "" }
    )?;
    write!(w, "\t{}:{}", f.file, f.line)?;
    Ok(())
}

/// Frames as the runtime's traceback prints them.
pub fn write_frames(w: &mut impl Write, frames: &[Frame<'_>]) -> Result<()> {
    for f in frames {
        write_frame_position(w, f)?;
        if let Some(off) = f.offset
            && off > 0
        {
            write!(w, " +{off:#x}")?;
        }
        if f.cgo && f.file == "?" {
            write!(w, " pc={:#x}", f.pc)?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// One goroutine as the runtime's traceback prints it: header, frames, creator, then goscope's
/// warnings about it.
pub fn write_goroutine(w: &mut impl Write, g: &Goroutine<'_>) -> Result<()> {
    writeln!(w, "{}", header(g))?;
    write_frames(w, &g.frames)?;
    if let Some(c) = &g.created_by {
        write!(w, "created by {}", print_name(&c.function))?;
        if let Some(p) = c.goroutine {
            write!(w, " in goroutine {p}")?;
        }
        writeln!(w)?;
        write!(w, "\t{}:{}", c.file, c.line)?;
        if c.offset > 0 {
            write!(w, " +{:#x}", c.offset)?;
        }
        writeln!(w)?;
    }
    for wn in &g.warnings {
        writeln!(w, "\t(warning: {wn})")?;
    }
    Ok(())
}

/// The last two path elements: `crash/main.go`.
pub fn short(file: &str) -> &str {
    let mut it = file.rmatch_indices('/');
    it.next();
    match it.next() {
        Some((i, _)) => &file[i + 1..],
        None => file,
    }
}

/// One line for a goroutine: id, state, its innermost user frame, its thread.
pub fn write_line(w: &mut impl Write, g: &Goroutine<'_>) -> Result<()> {
    let loc = user_frame(&g.frames)
        .and_then(|i| g.frames.get(i))
        .or(g.frames.first())
        .map(|f| {
            format!(
                "{} ({}:{})",
                print_name(&f.function),
                short(&f.file),
                f.line
            )
        })
        .unwrap_or_else(|| "(no stack)".into());
    let mut extra = String::new();
    if let Some(t) = g.thread {
        extra.push_str(&format!(" thread {t}"));
    }
    writeln!(
        w,
        "{:>8} {:<28} {loc}{extra}",
        g.id,
        format!("[{}]", g.state())
    )?;
    Ok(())
}

/// How a list of goroutines is shown.
#[derive(Debug, Clone, Default)]
pub struct ListView {
    /// Every goroutine's stack, as the runtime prints it.
    pub stacks: bool,
    /// Identical stacks merged, with counts.
    pub group: bool,
    /// Only the goroutines that pass.
    pub filter: Option<GoroutineFilter>,
    /// JSON instead of text.
    pub json: bool,
    /// The goroutine whose group comes first (a crash's failing goroutine).
    pub first: Option<u64>,
}

/// Goroutines with the same state and stack.
#[derive(Serialize)]
pub struct Group<'g, 'p> {
    /// How many.
    pub count: usize,
    /// Their state (without wait times).
    pub state: &'g str,
    /// Their ids.
    pub ids: &'g [u64],
    /// The stack they share.
    pub frames: &'g [Frame<'p>],
    /// Where the first of them was created.
    pub created_by: &'g Option<CreatedBy<'p>>,
}

/// Writes `gs` as `view` says, filling in stacks batch by batch (and dropping them after each
/// batch) so that memory stays bounded on 100,000+ goroutines. Returns how many were shown.
pub fn write_list<'p>(
    w: &mut impl Write,
    snap: &Snapshot<'_, 'p>,
    gs: &mut [Goroutine<'p>],
    view: &ListView,
) -> Result<usize> {
    let needs_frames = view.filter.as_ref().is_some_and(|f| f.needs_frames());
    // Tracebacks keep the runtime's order (as it prints them); a list is read by id.
    if !view.stacks && !view.group {
        gs.sort_by_key(|g| g.id);
    }
    // Groups: key → index into reps; reps hold (state, ids, a representative).
    let mut groups: HashMap<GroupKey, usize> = HashMap::new();
    let mut reps: Vec<(String, Vec<u64>, Goroutine<'p>)> = Vec::new();
    let mut shown = 0usize;
    if view.json && !view.group {
        w.write_all(b"[")?;
    }
    for chunk in gs.chunks_mut(BATCH) {
        if view.stacks || view.group || needs_frames || !view.json {
            snap.fill_stacks(chunk);
        }
        for g in chunk.iter_mut() {
            if let Some(f) = &view.filter
                && !f.matches(g)
            {
                continue;
            }
            shown += 1;
            if view.group {
                let key = g.group_key();
                match groups.get(&key) {
                    Some(&i) => reps[i].1.push(g.id),
                    None => {
                        groups.insert(key, reps.len());
                        let mut rep = g.clone();
                        rep.labels.clear();
                        reps.push((g.state_without_wait(), vec![g.id], rep));
                    }
                }
                continue;
            }
            if view.json {
                if shown > 1 {
                    w.write_all(b",\n")?;
                }
                if view.stacks {
                    serde_json::to_writer(&mut *w, &*g)?;
                } else {
                    let frames = std::mem::take(&mut g.frames);
                    serde_json::to_writer(&mut *w, &*g)?;
                    g.frames = frames;
                }
            } else if view.stacks {
                write_goroutine(w, g)?;
                writeln!(w)?;
            } else {
                write_line(w, g)?;
            }
        }
        for g in chunk.iter_mut() {
            g.frames = Vec::new();
        }
    }
    if view.group {
        for r in &mut reps {
            r.1.sort_unstable();
        }
        // The failing goroutine's group first, then the largest.
        let has_first = |i: usize| {
            view.first
                .is_some_and(|f| reps[i].1.binary_search(&f).is_ok())
        };
        let mut order: Vec<usize> = (0..reps.len()).collect();
        order.sort_by(|&a, &b| {
            has_first(b)
                .cmp(&has_first(a))
                .then(reps[b].1.len().cmp(&reps[a].1.len()))
                .then(a.cmp(&b))
        });
        if view.json {
            let v: Vec<Group<'_, 'p>> = order
                .iter()
                .map(|&i| Group {
                    count: reps[i].1.len(),
                    state: &reps[i].0,
                    ids: &reps[i].1,
                    frames: &reps[i].2.frames,
                    created_by: &reps[i].2.created_by,
                })
                .collect();
            output::json_pretty(w, &v)?;
        } else {
            for i in order {
                let (state, ids, g) = &reps[i];
                let first: Vec<String> = ids.iter().take(8).map(u64::to_string).collect();
                writeln!(
                    w,
                    "{} goroutine{} [{state}]: {}{}",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    first.join(" "),
                    if ids.len() > 8 { " …" } else { "" }
                )?;
                write_frames(w, &g.frames)?;
                if let Some(c) = &g.created_by {
                    writeln!(
                        w,
                        "created by {}\n\t{}:{}",
                        print_name(&c.function),
                        c.file,
                        c.line
                    )?;
                }
                writeln!(w)?;
            }
        }
    } else if view.json {
        w.write_all(b"]\n")?;
    }
    Ok(shown)
}
