//! Development tasks shared by the tests and the `xtask` binary: finding Go toolchains and
//! building the fixture matrix from the Go programs in `testdata/`.
//!
//! Fixtures are built, never committed. Each is cached under `target/fixtures/` keyed by a hash
//! of its sources, toolchain and flags, so a test run builds each fixture at most once.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, bail};

/// Set by `.ci/run`: every toolchain and fixture the matrix names must be present; a missing one
/// fails the test instead of skipping it.
pub const REQUIRE_ENV: &str = "GOSCOPE_REQUIRE_TOOLCHAINS";

/// Whether missing toolchains must fail the tests.
pub fn required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some_and(|v| v != "0" && !v.is_empty())
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository root")
        .to_path_buf()
}

/// The workspace target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Where built fixtures are cached: `GOSCOPE_FIXTURES_DIR`, or `target/fixtures`. Several
/// checkouts (git worktrees) can share one cache through the variable.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("GOSCOPE_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("fixtures"))
}

/// A Go toolchain on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// The `go` command.
    pub go: PathBuf,
    /// `go1.26.8`.
    pub version: String,
    /// 26 for go1.26.8.
    pub minor: u32,
}

impl Toolchain {
    /// Probes the toolchain at `go`.
    pub fn probe(go: &Path) -> Option<Toolchain> {
        let out = Command::new(go)
            .args(["env", "GOVERSION"])
            .env("GOTOOLCHAIN", "local")
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let minor = version
            .strip_prefix("go1.")?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()?;
        Some(Toolchain {
            go: go.to_path_buf(),
            version,
            minor,
        })
    }

    /// A `go` command with a clean, reproducible environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.go);
        c.env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=mod")
            .env("GO111MODULE", "on")
            .env("GOPROXY", "off")
            .env("GOWORK", "off");
        c
    }

    /// Runs `go tool NAME ARGS`, returning stdout; fails on a non-zero exit.
    pub fn tool(&self, name: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        use std::io::Write;
        let mut c = self.command();
        c.arg("tool").arg(name).args(args);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c
            .spawn()
            .with_context(|| format!("running go tool {name}"))?;
        let mut pipe = child.stdin.take();
        let input = stdin.map(<[u8]>::to_vec);
        let writer = std::thread::spawn(move || {
            if let (Some(p), Some(data)) = (pipe.as_mut(), input) {
                let _ = p.write_all(&data);
            }
            drop(pipe);
        });
        let out = child.wait_with_output()?;
        let _ = writer.join();
        if !out.status.success() {
            bail!(
                "go tool {name} {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out.stdout)
    }
}

/// The newest Go release of the fixture matrix, fetched by `go` into its module cache
/// (`GOTOOLCHAIN=go1.27.3 go version`): the only toolchain besides the system Go and Debian's
/// golang-1.19 that CI machines can get.
pub const NEWEST_RELEASE: &str = "go1.27.3";

/// The system `go`'s module cache (`go env GOMODCACHE`), if there is a system `go`.
pub fn gomodcache() -> Option<PathBuf> {
    let out = Command::new("go")
        .args(["env", "GOMODCACHE"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Where `GOTOOLCHAIN=<version> go version` leaves the `go` command of release `version`
/// (`go1.27.3`) for this host: `$GOMODCACHE/golang.org/toolchain@v0.0.1-<version>.<os>-<arch>`.
pub fn modcache_go(version: &str) -> Option<PathBuf> {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    Some(
        gomodcache()?
            .join("golang.org")
            .join(format!("toolchain@v0.0.1-{version}.{os}-{arch}"))
            .join("bin")
            .join("go"),
    )
}

/// Fetches release `version` into the module cache through the system `go`'s toolchain
/// switching (`GOTOOLCHAIN=<version> go version`) and returns its `go` command.
pub fn fetch_release(version: &str) -> Result<PathBuf> {
    if let Some(go) = modcache_go(version).filter(|g| g.is_file()) {
        return Ok(go);
    }
    let out = Command::new("go")
        .arg("version")
        .env("GOTOOLCHAIN", version)
        .output()
        .context("running the system `go` to fetch a toolchain")?;
    if !out.status.success() {
        bail!(
            "GOTOOLCHAIN={version} go version failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    match modcache_go(version) {
        Some(go) if go.is_file() => Ok(go),
        Some(go) => bail!(
            "GOTOOLCHAIN={version} go version ran but {} does not exist",
            go.display()
        ),
        None => bail!("no module cache (`go env GOMODCACHE` failed)"),
    }
}

/// Toolchains added by this process (`cargo xtask new-release`) before the first
/// [`toolchains`] call, as if listed in `GOSCOPE_GO`.
static ADDED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Adds `go` commands to what [`toolchains`] probes; only effective before its first call.
pub fn add_toolchains(gos: &[PathBuf]) {
    ADDED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend_from_slice(gos);
}

/// Every Go toolchain the fixture matrix uses: the system `go`, Debian's Go 1.19, Go
/// [`NEWEST_RELEASE`] from the module cache, and any listed in `GOSCOPE_GO` (colon-separated
/// paths to `go` binaries). The system `go` comes first (tests that need only one toolchain take
/// the first). With [`REQUIRE_ENV`] set, a missing Go 1.19 or [`NEWEST_RELEASE`] is an error.
pub fn toolchains() -> Result<Vec<Toolchain>> {
    static CACHE: OnceLock<Vec<Toolchain>> = OnceLock::new();
    if let Some(t) = CACHE.get() {
        return Ok(t.clone());
    }
    let mut cands: Vec<PathBuf> = vec![
        PathBuf::from("go"),
        PathBuf::from("/usr/lib/go-1.19/bin/go"),
    ];
    cands.extend(modcache_go(NEWEST_RELEASE));
    if let Some(extra) = std::env::var_os("GOSCOPE_GO") {
        cands.extend(std::env::split_paths(&extra));
    }
    cands.extend(
        ADDED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned(),
    );
    let mut found: Vec<Toolchain> = Vec::new();
    for c in cands {
        if let Some(t) = Toolchain::probe(&c)
            && !found.iter().any(|f| f.version == t.version)
        {
            found.push(t);
        }
    }
    if found.is_empty() {
        bail!("no Go toolchain found: install Go (https://go.dev/dl) and put `go` on PATH");
    }
    if required() && !found.iter().any(|t| t.minor == 19) {
        bail!(
            "{REQUIRE_ENV} is set but Go 1.19 is missing: apt-get install golang-1.19 \
             (expected /usr/lib/go-1.19/bin/go)"
        );
    }
    if required() && !found.iter().any(|t| t.version == NEWEST_RELEASE) {
        let at = modcache_go(NEWEST_RELEASE).map_or_else(
            || "the module cache".to_string(),
            |p| p.display().to_string(),
        );
        bail!(
            "{REQUIRE_ENV} is set but {NEWEST_RELEASE} is missing: fetch it with \
             `GOTOOLCHAIN={NEWEST_RELEASE} go version` (expected {at})"
        );
    }
    let _ = CACHE.set(found.clone());
    Ok(found)
}

/// How a fixture is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// `go build`.
    Default,
    /// `-ldflags=-s -w`: no symbol table, no DWARF.
    Stripped,
    /// `-buildmode=pie`.
    Pie,
    /// `-trimpath`.
    Trimpath,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 4] = [
        Variant::Default,
        Variant::Stripped,
        Variant::Pie,
        Variant::Trimpath,
    ];

    /// Short name used in file names.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::Stripped => "stripped",
            Variant::Pie => "pie",
            Variant::Trimpath => "trimpath",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Variant::Default => &[],
            Variant::Stripped => &["-ldflags=-s -w"],
            Variant::Pie => &["-buildmode=pie"],
            Variant::Trimpath => &["-trimpath"],
        }
    }
}

/// The targets of the matrix.
pub const TARGETS: [(&str, &str); 6] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("linux", "386"),
    ("linux", "arm"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
];

/// Whether `variant` can be built for the target without a C cross toolchain.
pub fn supported(goos: &str, goarch: &str, variant: Variant) -> bool {
    // PIE on linux/386 and linux/arm needs external linking (a 32-bit C toolchain).
    !(variant == Variant::Pie && goos == "linux" && (goarch == "386" || goarch == "arm"))
}

/// One built fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Program directory name under `testdata/`.
    pub program: String,
    /// The toolchain that built it.
    pub toolchain: Toolchain,
    /// Target OS.
    pub goos: String,
    /// Target architecture.
    pub goarch: String,
    /// Build variant.
    pub variant: Variant,
    /// Whether cgo was enabled.
    pub cgo: bool,
    /// The executable.
    pub path: PathBuf,
}

impl Fixture {
    /// A name for messages: `prog go1.19.8 linux/arm64 stripped`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {}/{} {}{}",
            self.program,
            self.toolchain.version,
            self.goos,
            self.goarch,
            self.variant.name(),
            if self.cgo { " cgo" } else { "" }
        )
    }

    /// Whether this machine can run it directly.
    pub fn runnable(&self) -> bool {
        self.goos == "linux" && (self.goarch == "amd64" || self.goarch == "386")
    }
}

fn hash_dir(dir: &Path, h: &mut DefaultHasher) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            hash_dir(&p, h)?;
        } else if p
            .extension()
            .is_some_and(|x| x == "go" || x == "mod" || x == "s" || x == "c" || x == "h")
        {
            p.file_name().hash(h);
            std::fs::read(&p)?.hash(h);
        }
    }
    Ok(())
}

/// Serializes builds: `go build` uses every core already, and two builds of the same fixture
/// must not race on the cache file.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds (or reuses) one fixture.
pub fn build(
    program: &str,
    tc: &Toolchain,
    goos: &str,
    goarch: &str,
    variant: Variant,
    cgo: bool,
) -> Result<Fixture> {
    build_with(program, tc, goos, goarch, variant, cgo, &[])
}

/// Builds (or reuses) one fixture with extra `go build` flags (e.g. `-tags=v2`), which are part
/// of the cache key and of the file name.
pub fn build_with(
    program: &str,
    tc: &Toolchain,
    goos: &str,
    goarch: &str,
    variant: Variant,
    cgo: bool,
    extra_flags: &[&str],
) -> Result<Fixture> {
    let src = repo_root().join("testdata").join(program);
    let mut h = DefaultHasher::new();
    hash_dir(&src, &mut h)?;
    // The source path is part of what is built: non-trimpath binaries record it, and tests
    // expect the paths of the checkout running them (caches may be shared between checkouts).
    src.hash(&mut h);
    (tc.version.as_str(), goos, goarch, variant, cgo).hash(&mut h);
    if !extra_flags.is_empty() {
        extra_flags.hash(&mut h);
    }
    let key = format!("{:016x}", h.finish());
    let ext = if goos == "windows" { ".exe" } else { "" };
    let dir = fixtures_dir().join(&tc.version);
    let extra: String = extra_flags
        .iter()
        .map(|f| {
            let clean: String = f
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("-{}", clean.trim_matches('_'))
        })
        .collect();
    let path = dir.join(format!(
        "{program}-{goos}-{goarch}-{}{}{extra}-{key}{ext}",
        variant.name(),
        if cgo { "-cgo" } else { "" }
    ));
    let fixture = Fixture {
        program: program.to_string(),
        toolchain: tc.clone(),
        goos: goos.to_string(),
        goarch: goarch.to_string(),
        variant,
        cgo,
        path: path.clone(),
    };
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return Ok(fixture);
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", key, std::process::id()));
    let out = tc
        .command()
        .current_dir(&src)
        .env("GOOS", goos)
        .env("GOARCH", goarch)
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .arg("build")
        .args(variant.flags())
        .args(extra_flags)
        .arg("-o")
        .arg(&tmp)
        .arg(".")
        .output()
        .with_context(|| format!("running {}", tc.go.display()))?;
    if !out.status.success() {
        bail!(
            "building {program} with {} for {goos}/{goarch} ({}): {}",
            tc.version,
            variant.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(&tmp, &path)?;
    Ok(fixture)
}

/// Whether a C compiler for cgo builds is present.
pub fn have_cc() -> bool {
    Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The whole matrix for the pure-Go `program`: every toolchain × target × supported variant.
pub fn matrix(program: &str) -> Result<Vec<Fixture>> {
    let mut out = Vec::new();
    for tc in toolchains()? {
        for (goos, goarch) in TARGETS {
            for v in Variant::ALL {
                if supported(goos, goarch, v) {
                    out.push(build(program, &tc, goos, goarch, v, false)?);
                }
            }
        }
    }
    Ok(out)
}

/// The cgo `program` built natively (linux/amd64) with every toolchain, default and stripped.
/// Empty when there is no C compiler, unless [`REQUIRE_ENV`] makes that an error.
pub fn cgo_matrix(program: &str) -> Result<Vec<Fixture>> {
    if !have_cc() {
        if required() {
            bail!("{REQUIRE_ENV} is set but there is no C compiler (gcc) for the cgo fixtures");
        }
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for tc in toolchains()? {
        for v in [Variant::Default, Variant::Stripped, Variant::Pie] {
            out.push(build(program, &tc, "linux", "amd64", v, true)?);
        }
    }
    Ok(out)
}

/// The unstripped twin of a stripped fixture (same toolchain, target and cgo setting).
pub fn twin<'a>(all: &'a [Fixture], stripped: &Fixture) -> Option<&'a Fixture> {
    all.iter().find(|f| {
        f.variant == Variant::Default
            && f.program == stripped.program
            && f.toolchain == stripped.toolchain
            && f.goos == stripped.goos
            && f.goarch == stripped.goarch
            && f.cgo == stripped.cgo
    })
}

/// A crash of a fixture: the core it dumped and what the runtime printed to stderr (every
/// goroutine's state and stack under `GOTRACEBACK=crash`: the oracle for core analysis).
#[derive(Debug, Clone)]
pub struct CrashRun {
    /// The core file.
    pub core: PathBuf,
    /// The crashing program's stderr.
    pub stderr: String,
}

/// Why this machine cannot produce core files, if it cannot: `core_pattern` must name a file
/// (not pipe to a crash collector).
pub fn core_dump_problem() -> Option<String> {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok()?;
    let pattern = pattern.trim();
    if pattern.starts_with('|') {
        return Some(format!(
            "kernel.core_pattern pipes cores to a program ({pattern}); set it to `core` \
             (sysctl -w kernel.core_pattern=core) to run the core tests"
        ));
    }
    if pattern.contains('/') {
        return Some(format!(
            "kernel.core_pattern writes cores elsewhere ({pattern}); set it to `core`"
        ));
    }
    None
}

/// The user-mode emulator that runs linux/arm64 fixtures on another machine (it writes the
/// guest's own core, `qemu_*.core`), if installed.
pub fn qemu_arm64() -> Option<PathBuf> {
    if std::env::consts::ARCH == "aarch64" {
        return None;
    }
    ["qemu-aarch64-static", "qemu-aarch64"]
        .iter()
        .find(|q| {
            Command::new(q)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from)
}

/// Whether cores of `goarch` fixtures can be produced here: natively, or arm64 under qemu-user.
pub fn can_crash(goarch: &str) -> bool {
    let native = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    goarch == native || (goarch == "arm64" && qemu_arm64().is_some())
}

/// Serializes core production: crashes are heavy (cores of hundreds of MB).
static CORE_LOCK: Mutex<()> = Mutex::new(());

/// Runs fixture `fx` with `args` under `GOTRACEBACK=crash` and `ulimit -c unlimited` and returns
/// the core and stderr, cached next to the fixtures (keyed by the fixture's own cache key and the
/// arguments) so each crash happens once.
pub fn crash_core(fx: &Fixture, args: &[&str]) -> Result<CrashRun> {
    let name = fx
        .path
        .file_name()
        .context("fixture without a file name")?
        .to_string_lossy()
        .into_owned();
    let dir = fixtures_dir()
        .join("cores")
        .join(format!("{name}--{}", args.join("_")));
    let run = CrashRun {
        core: dir.join("core"),
        stderr: String::new(),
    };
    let _guard = CORE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if run.core.exists() && dir.join("stderr").exists() {
        return Ok(CrashRun {
            stderr: std::fs::read_to_string(dir.join("stderr"))?,
            ..run
        });
    }
    if let Some(p) = core_dump_problem() {
        bail!("{p}");
    }
    let tmp = fixtures_dir()
        .join("cores")
        .join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let stderr_file = std::fs::File::create(tmp.join("stderr"))?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -c unlimited && exec \"$0\" \"$@\"");
    let native = can_crash(&fx.goarch) && (fx.goarch != "arm64" || qemu_arm64().is_none());
    if !native {
        // Emulated: qemu-user dumps the guest's core as qemu_<name>_<time>_<pid>.core.
        let q = qemu_arm64()
            .with_context(|| format!("{}: no way to run {} here", fx.label(), fx.goarch))?;
        cmd.arg(q);
    }
    let mut child = cmd
        .arg(&fx.path)
        .args(args)
        .current_dir(&tmp)
        .env("GOTRACEBACK", "crash")
        .env("GOMAXPROCS", "4")
        .stdout(std::process::Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .with_context(|| format!("running {}", fx.path.display()))?;
    let start = std::time::Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() > std::time::Duration::from_secs(600) {
            let _ = child.kill();
            bail!("{} {args:?} did not crash within 10 minutes", fx.label());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    let name_of = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let core = if native {
        files
            .iter()
            .find(|p| name_of(p).starts_with("core"))
            .cloned()
    } else {
        // The emulator's own core (a host process killed by the guest's signal) is not wanted.
        for p in files.iter().filter(|p| name_of(p).starts_with("core")) {
            let _ = std::fs::remove_file(p);
        }
        files
            .iter()
            .find(|p| name_of(p).starts_with("qemu_") && name_of(p).ends_with(".core"))
            .cloned()
    };
    let Some(core) = core else {
        let err = std::fs::read_to_string(tmp.join("stderr")).unwrap_or_default();
        bail!(
            "{} {args:?} dumped no core (ulimit -c, core_pattern?); stderr ends: {}",
            fx.label(),
            err.chars()
                .rev()
                .take(400)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        );
    };
    if core != tmp.join("core") {
        std::fs::rename(&core, tmp.join("core"))?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir)?;
    Ok(CrashRun {
        stderr: std::fs::read_to_string(dir.join("stderr"))?,
        ..run
    })
}

/// A small deterministic PRNG (xorshift64*) for the tests' random addresses and mutations, so a
/// failure reproduces from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % hi.saturating_sub(lo).max(1)
    }
}
