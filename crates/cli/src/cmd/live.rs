//! What `stacks`, `snapshot` and `top` share: finding a process and its executable with errors
//! that say what to do, and copying what the goroutine analysis needs — paused for a moment, or
//! without stopping it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use goscope_binary::Binary;
use goscope_runtime::Runtime;
use goscope_runtime::capture::CaptureReport;
use goscope_target::StopInfo;
use goscope_target::live::{CopyBuilder, CopyParts, LiveError, LiveProcess, ProcessCopy};

/// A process and the executable it runs.
pub struct Opened {
    /// The process.
    pub live: LiveProcess,
    /// Its executable (the file it runs, even if deleted or replaced since).
    pub bin: Arc<Binary>,
    /// The executable's path as the process names it.
    pub exe: PathBuf,
}

/// Finds process `pid` and opens its executable (`/proc/PID/exe`, or `bin` when given).
pub fn open(pid: i32, bin: Option<&Path>) -> Result<Opened> {
    // From here on SIGINT, SIGTERM and SIGHUP let goscope resume the process before exiting.
    goscope_target::live::signals::install();
    let live = LiveProcess::open(pid)?;
    let exe = live.exe_link().to_path_buf();
    let path = bin.map_or_else(|| live.exe_path(), Path::to_path_buf);
    let binary = Binary::open(&path).map_err(|e| {
        let what = format!("process {pid} ({}) runs {}", live.command(), exe.display());
        match e {
            goscope_binary::Error::Io { .. } => {
                anyhow::anyhow!("{what}, which goscope cannot read: {e}")
            }
            e => anyhow::anyhow!("{what}: {e}; goscope stacks, top and snapshot read Go programs"),
        }
    })?;
    if binary.go_version().is_none() && binary.pclntab().funcs().next().is_none() {
        anyhow::bail!(
            "process {pid} ({}) runs {}, which is not a Go program",
            live.command(),
            exe.display()
        );
    }
    Ok(Opened {
        live,
        bin: Arc::new(binary),
        exe,
    })
}

/// A copy of what the analysis reads, and how it was taken.
pub struct Captured {
    /// The copy.
    pub copy: ProcessCopy,
    /// What was copied.
    pub report: CaptureReport,
    /// How long the process was paused (`None`: it was not).
    pub paused: Option<Duration>,
    /// How long stopping every thread took.
    pub stop_latency: Option<Duration>,
    /// Threads in the process.
    pub threads: usize,
    /// How long the copy took, pause included.
    pub elapsed: Duration,
}

/// Copies what the goroutine analysis needs from `o`: all threads paused for the copy and then
/// resumed, or with `nonblocking` read as the program runs (goroutines that change meanwhile
/// are read again; those that keep changing are reported).
pub fn capture(o: &Opened, rt: &Runtime<'_>, nonblocking: bool) -> Result<Captured> {
    let start = Instant::now();
    let pid = o.live.pid();
    let bias = o.live.bias(o.bin.entry());
    let mem = o.live.memory();
    // The page cache holds what an earlier capture read: the process has run since.
    mem.invalidate();
    let builder = CopyBuilder::new(mem);
    let parts = |threads, monotonic_ns, warnings| CopyParts {
        binary: Some(o.bin.clone()),
        bias,
        arch: arch_of(&o.bin),
        threads,
        executable: Some(o.exe.clone()),
        stop: StopInfo {
            pid: Some(pid),
            signal: None,
            live: true,
            monotonic_ns: Some(monotonic_ns),
        },
        warnings,
    };
    if nonblocking {
        let now = goscope_target::live::monotonic_ns();
        let mut report = rt.capture(&builder, bias, &[]).map_err(gone_or(pid))?;
        rt.recheck(&builder, mem, bias, &mut report, 3)
            .map_err(gone_or(pid))?;
        let threads = o.live.thread_ids().map(|t| t.len()).unwrap_or(0);
        let warnings = report.warnings.clone();
        return Ok(Captured {
            copy: builder.finish(parts(Vec::new(), now, warnings)),
            report,
            paused: None,
            stop_latency: None,
            threads,
            elapsed: start.elapsed(),
        });
    }
    // First the whole copy while the program runs, then, paused, only what can have changed.
    let before = builder;
    let first = rt
        .capture_before_pause(&before, bias)
        .map_err(gone_or(pid))?;
    let fresh = CopyBuilder::new(mem);
    fresh.reserve(rt.paused_copy_size(&first));
    let frozen = o.live.freeze()?;
    mem.invalidate();
    let captured = rt.capture_paused(&fresh, &first, bias, frozen.threads());
    let threads = frozen.threads().to_vec();
    let (monotonic, stop_latency) = (frozen.monotonic_ns(), frozen.stop_latency());
    let mut warnings: Vec<String> = frozen.warnings().to_vec();
    let interrupted = frozen.check_interrupted();
    let paused = frozen.resume();
    mem.invalidate();
    interrupted?;
    let mut report = captured.map_err(gone_or(pid))?;
    warnings.extend(report.warnings.iter().cloned());
    let n = threads.len();
    let copy = fresh.finish_over(before, parts(threads, monotonic, warnings));
    report.copied = copy.stats();
    Ok(Captured {
        copy,
        report,
        paused: Some(paused),
        stop_latency: Some(stop_latency),
        threads: n,
        elapsed: start.elapsed(),
    })
}

/// A runtime error while copying from process `pid`: if the process is gone, say so.
fn gone_or(pid: i32) -> impl Fn(goscope_runtime::RuntimeError) -> anyhow::Error {
    move |e| {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            anyhow::Error::new(LiveError::Gone(pid))
        } else {
            anyhow::Error::new(e)
        }
    }
}

fn arch_of(bin: &Binary) -> goscope_target::TargetArch {
    match bin.arch() {
        goscope_binary::Arch::Arm64 => goscope_target::TargetArch::Arm64,
        _ => goscope_target::TargetArch::Amd64,
    }
}

/// Milliseconds with a precision that suits pauses: `0.84 ms`, `12.3 ms`, `1204 ms`.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}
