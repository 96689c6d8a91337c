//! `goscope core` against Delve (`dlv core`): the same goroutines, and for each the same top
//! user frame (Delve's `UserCurrent`: the first frame outside the runtime), on the system Go
//! toolchain's crash fixtures. Delve is installed by `.ci/run`
//! (`go install github.com/go-delve/delve/cmd/dlv@latest`).

mod core_common;

use std::collections::HashMap;
use std::path::Path;

use core_common::*;
use goscope_xtask::Variant;
use serde_json::Value;

/// What `dlv goroutines` says of one goroutine: user location, function, thread.
type DlvGoroutine = (String, String, Option<u64>);

/// `Goroutine N - User: FILE:LINE FUNC (0x…) [(thread T)]` lines: id → (file:line, function,
/// thread).
fn dlv_goroutines(out: &str) -> (HashMap<u64, DlvGoroutine>, Option<usize>) {
    let mut m = HashMap::new();
    let mut total = None;
    for l in out.lines() {
        let t = l.trim_start_matches(['*', ' ']);
        if let Some(rest) = t.strip_prefix("Goroutine ") {
            let (id, rest) = rest.split_once(" - User: ").unwrap_or(("", ""));
            let Ok(id) = id.parse::<u64>() else { continue };
            let mut parts = rest.split(' ');
            let loc = parts.next().unwrap_or("").to_string();
            let func = parts.next().unwrap_or("").to_string();
            let thread = rest
                .split_once("(thread ")
                .and_then(|(_, t)| t.split(')').next())
                .and_then(|t| t.parse().ok());
            m.insert(id, (loc, func, thread));
        } else if let Some(n) = t
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(" goroutines]"))
        {
            total = n.parse().ok();
        }
    }
    (m, total)
}

/// Delve's `UserCurrent` over goscope's frames: the first *physical* frame (inlined calls are
/// not separate frames to it) whose function is outside the runtime, located at the innermost
/// inlined position of its pc. `None` when there is none (Delve then shows the top frame).
fn user_frame(frames: &Value) -> Option<(String, String)> {
    let frames = frames.as_array()?;
    let mut group_start = 0;
    let mut n = 0;
    for (i, f) in frames.iter().enumerate() {
        if f["inlined"].as_bool() == Some(true) {
            continue;
        }
        // frames[group_start..=i] is one physical frame; frames[i] is its function.
        let name = f["function"].as_str()?;
        let innermost = &frames[group_start];
        group_start = i + 1;
        n += 1;
        if n > 30 {
            break;
        }
        let exported_runtime = name
            .strip_prefix("runtime.")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_uppercase()));
        if name.contains('.')
            && (!name.starts_with("runtime.") || exported_runtime)
            && !name.starts_with("internal/")
            && !name.starts_with("runtime/internal")
            && !name.starts_with("iter.")
        {
            return Some((
                format!("{}:{}", innermost["file"].as_str()?, innermost["line"]),
                name.to_string(),
            ));
        }
    }
    None
}

fn compare(program: &str, args: &[&str], cgo: bool) {
    if !cores_possible() {
        return;
    }
    let Some(dlv) = dlv() else {
        assert!(
            !goscope_xtask::required(),
            "dlv not found: go install github.com/go-delve/delve/cmd/dlv@latest"
        );
        eprintln!("skipping: no dlv");
        return;
    };
    if cgo && !goscope_xtask::have_cc() {
        assert!(!goscope_xtask::required(), "no C compiler");
        return;
    }
    // Delve supports the current toolchain: the system Go.
    let Some(tc) = toolchains().into_iter().find(|t| t.go == Path::new("go")) else {
        return;
    };
    let fx = fixture(program, &tc, Variant::Default, cgo);
    let run = crash(&fx, args);
    // Delve lists extra Ms' goroutines waiting for cgo callbacks, which the runtime omits.
    let all = core_json(&fx.path, &run.core, &["goroutines", "--all"]);
    let (theirs, total) = dlv_goroutines(&dlv_run(&dlv, &fx.path, &run.core, "goroutines"));
    let ours: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] != "dead")
        .collect();
    let mut errors = Vec::new();
    if total != Some(ours.len()) || theirs.len() != ours.len() {
        errors.push(format!(
            "goroutine count: dlv {total:?} ({} parsed), goscope {}",
            theirs.len(),
            ours.len()
        ));
    }
    let stacks = core_json(&fx.path, &run.core, &["goroutines", "--all", "--stacks"]);
    let by_id: HashMap<u64, &Value> = stacks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| Some((g["id"].as_u64()?, g)))
        .collect();
    for g in ours {
        let id = g["id"].as_u64().unwrap();
        let Some((loc, func, thread)) = theirs.get(&id) else {
            errors.push(format!("goroutine {id}: not listed by dlv"));
            continue;
        };
        let frames = &by_id[&id]["frames"];
        if g["status"] == "syscall" && thread.is_some() {
            // Delve unwinds the blocked thread (down into the raw system call); the runtime and
            // goscope show the goroutine from where it entered the call. They must agree on the
            // thread.
            if g["thread"].as_u64() != *thread {
                errors.push(format!(
                    "goroutine {id}: dlv thread {thread:?}, goscope {}",
                    g["thread"]
                ));
            }
            continue;
        }
        match user_frame(frames) {
            Some((l, f)) if &l == loc && &f == func => {}
            // No user frame: Delve shows the top frame, at the saved pc without backing up to
            // the call (so its line may be the next one); compare the function.
            None if frames[0]["function"].as_str() == Some(func) => {}
            other => errors.push(format!(
                "goroutine {id}: dlv's user frame {func} {loc}, goscope {other:?}"
            )),
        }
    }
    errors.truncate(20);
    assert!(
        errors.is_empty(),
        "{} {args:?}:\n{}",
        fx.label(),
        errors.join("\n")
    );
}

#[test]
fn dlv_agrees_nil_map_write() {
    compare("crash", &["nilmap"], false);
}

#[test]
fn dlv_agrees_custom_error() {
    compare("crash", &["customerr"], false);
}

#[test]
fn dlv_agrees_concurrent_map_writes() {
    compare("crash", &["mapwrites"], false);
}

#[test]
fn dlv_agrees_syscall() {
    compare("crash", &["syscall"], false);
}

#[test]
fn dlv_agrees_cgo() {
    compare("crashcgo", &["blocked"], true);
}

#[test]
fn dlv_agrees_100k_goroutines() {
    compare("crash", &["many"], false);
}
