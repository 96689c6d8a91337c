//! `goscope record`: a CPU profile of any running Go program, written as a pprof
//! `profile.proto` — no `net/http/pprof`, no cooperation from the program, stripped binaries
//! too. Sampled with the kernel's `cpu-clock` on every CPU (no hardware PMU needed), stacks
//! walked by frame pointers and kept only where they land in Go code, each sample labelled
//! with its goroutine id.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use goscope_probe::uprobes::{SampleSpec, cpu_samplers, sample, x86_reg};
use goscope_profile::{LineFrame, Mapping, ProfileBuilder};
use goscope_runtime::Runtime;

use crate::cmd::top::parse_duration;
use crate::cmd::watch::{self, Window};

const AFTER_HELP: &str = "Examples:
  goscope record -p 1234 --duration 30s -o cpu.pb.gz && go tool pprof -top cpu.pb.gz
  goscope record --hz 499 -o cpu.pb.gz -- ./server -port 8080     until Ctrl-C or its exit

The profile is what `go tool pprof` reads: CPU time per stack (frames expanded into inlined
calls, as the Go runtime's own profiles are), each sample labelled `goroutine` (pprof -tagfocus
and -tags work on it). Samples are taken by the kernel's cpu-clock timer on every CPU while
the program runs (root or CAP_PERFMON); the program is never stopped.";

/// A CPU profile of a running Go program, in pprof format, without its cooperation.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Profile the running process PID.
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Option<i32>,
    /// How long (`500ms`, `30s`, `1m`); default: until Ctrl-C or the program ends.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Samples per second of CPU time.
    #[arg(long, default_value_t = 99)]
    hz: u64,
    /// The profile to write (gzipped profile.proto).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: std::path::PathBuf,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
    /// Start this program (with its arguments) and profile it from its first instruction.
    #[arg(last = true, value_name = "PROG ARGS")]
    command: Vec<String>,
}

const REGS_MASK: u64 = (1 << x86_reg::SP) | (1 << x86_reg::R14);

/// Stack bytes copied per sample: enough to find the return address of a function that has
/// not pushed a frame pointer (a frameless leaf, or one in its prologue), which the kernel's
/// frame-pointer walk skips.
const LEAF_STACK_BYTES: u32 = 256;

/// Entry point.
pub fn run(args: Args) -> Result<u8> {
    if !(1..=10_000).contains(&args.hz) {
        anyhow::bail!("--hz {}: give 1 to 10000 samples per second", args.hz);
    }
    let mut w = watch::open(args.pid, &args.command)?;
    if w.bin.arch() != goscope_binary::Arch::Amd64 {
        anyhow::bail!(
            "goscope record samples amd64 programs; this one is {:?}",
            w.bin.arch()
        );
    }
    let spec = SampleSpec {
        sample_type: sample::IP
            | sample::TID
            | sample::TIME
            | sample::CALLCHAIN
            | sample::REGS_USER
            | sample::STACK_USER,
        regs_mask: REGS_MASK,
        stack_bytes: LEAF_STACK_BYTES,
    };
    let mut samplers = cpu_samplers(args.hz, spec, 256)?;
    eprintln!(
        "goscope: sampling process {} at {} Hz{}",
        w.pid,
        args.hz,
        if args.duration.is_none() {
            "; Ctrl-C to stop"
        } else {
            ""
        }
    );
    samplers.enable()?;
    w.go()?;
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let bias = w.bias();
    let rt = Runtime::new(&w.bin).ok();
    let mut ids = rt
        .as_ref()
        .map(goscope_probe::goroutines::GoroutineIds::new);
    let tab = w.bin.pclntab();
    let mut profile = ProfileBuilder::cpu(1_000_000_000 / args.hz as i64);
    let window = Window::new(args.duration).with_bar("sampling");
    let mut outside_go = 0u64;
    let convert = |s: &goscope_probe::uprobes::Sample<'_>| {
        let g = goscope_probe::uprobes::reg(s, REGS_MASK, x86_reg::R14).unwrap_or(0);
        let sp = goscope_probe::uprobes::reg(s, REGS_MASK, x86_reg::SP).unwrap_or(0);
        let mut chain = s.callchain.to_vec();
        if let Some(&pc) = chain.first() {
            let link = pc.wrapping_sub(bias);
            let ret = tab
                .find_func(link)
                .and_then(|f| tab.pcvalue(f.pcsp(), f.entry(), link))
                .and_then(|d| usize::try_from(d).ok())
                .and_then(|d| s.stack.get(d..d + 8))
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes);
            if let Some(ret) = ret
                && chain.get(1) != Some(&ret)
                && tab.find_func(ret.wrapping_sub(bias)).is_some()
            {
                // The pc's own frame has no frame pointer yet: its caller is missing.
                chain.insert(1, ret);
            }
        }
        (chain, g, sp)
    };
    window.drain(&w, &mut samplers, convert, |batch| {
        watch::load_goroutine_ids(&mut ids, &w, batch.iter().map(|b| b.1));
        for (chain, g, sp) in batch {
            // Frames up to the first address outside Go code (C, the vDSO, the kernel's
            // guess past the last frame pointer).
            let mut stack = Vec::with_capacity(chain.len());
            for (i, &addr) in chain.iter().enumerate() {
                let link = addr.wrapping_sub(bias);
                if tab.find_func(link).is_none() {
                    break;
                }
                // A return address belongs to the call before it: callers' locations are
                // the return address minus one, inside the call, as the runtime writes them.
                let loc = if i == 0 { addr } else { addr.wrapping_sub(1) };
                if !profile.has_location(loc) {
                    let chain = w.bin.frames_at(loc.wrapping_sub(bias));
                    // Compiler-generated wrappers are left out, as the runtime leaves them out
                    // of its stacks (unless nothing else is there).
                    let all_wrappers = chain.iter().all(|f| f.wrapper);
                    let frames: Vec<LineFrame> = chain
                        .into_iter()
                        .filter(|f| all_wrappers || !f.wrapper)
                        .map(|f| LineFrame {
                            function: f.function.to_string(),
                            file: f.file.to_string(),
                            line: i64::from(f.line),
                        })
                        .collect();
                    profile.add_location(loc, &frames);
                }
                stack.push(loc);
            }
            if stack.is_empty() {
                outside_go += 1;
                continue;
            }
            let goid = ids.as_ref().and_then(|i| i.id(*g, *sp));
            match goid {
                Some(id) => profile.add_sample(&stack, &[("goroutine", id as i64)]),
                None => profile.add_sample(&stack, &[]),
            }
        }
        Ok(())
    })?;
    let elapsed = window.elapsed();
    let lost = samplers.lost();
    drop(samplers);
    if let Some(text) = w.bin.text_section() {
        profile.set_mapping(Mapping {
            start: text.addr.wrapping_add(bias),
            limit: text.addr.wrapping_add(text.size).wrapping_add(bias),
            offset: w.bin.file_offset(text.addr).unwrap_or(0),
            file: w.probe_path.display().to_string(),
            build_id: String::new(),
        });
    }
    profile.set_time(started, elapsed.as_nanos() as i64);
    let n = profile.sample_count();
    let dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    profile.write_gzip(&mut tmp)?;
    tmp.persist(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let summary = serde_json::json!({
        "output": args.output.display().to_string(),
        "samples": n,
        "samples_outside_go": outside_go,
        "lost": lost,
        "duration_ns": elapsed.as_nanos() as u64,
        "hz": args.hz,
    });
    if args.json {
        println!("{summary}");
    } else {
        eprintln!(
            "goscope: {n} samples in {:.2}s written to {}{}; read it with: go tool pprof -top {}",
            elapsed.as_secs_f64(),
            args.output.display(),
            if lost > 0 {
                format!(" ({lost} lost)")
            } else {
                String::new()
            },
            args.output.display()
        );
    }
    Ok(crate::EXIT_OK)
}
