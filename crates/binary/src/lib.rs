//! Read any Go executable — ELF, Mach-O or PE; amd64, arm64, 386 or arm; stripped or not — into
//! Go's own terms: build information, the function table, source lines with the full chain of
//! inlined calls, symbols, and the runtime's module data.
//!
//! [`Binary`] is the entry point: open a file once, share it (`Send + Sync`), and ask.

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod buildinfo;
pub mod bytes;
mod container;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod gosort;
mod inline;
pub mod moduledata;
pub mod nm;
pub mod pclntab;
mod read;
pub mod symbols;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

pub use buildinfo::BuildInfo;
pub use container::{Arch, Format, Section, SectionKind};
pub use error::{Error, Result};
pub use inline::Frame;
pub use moduledata::Moduledata;
pub use pclntab::{Func, Pclntab, PclntabVersion};
pub use symbols::{NmCodes, Symbol};

pub use bytes::Bytes;
use container::Container;
use pclntab::PclntabLocation;

/// How the pclntab was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FoundBy {
    /// A dedicated section (`.gopclntab`, `__gopclntab`).
    Section,
    /// The `runtime.pclntab`/`runtime.epclntab` symbols.
    Symbol,
    /// A scan of the file for the magic, validated.
    Scan,
}

/// A text section of a binary with several (`moduledata.textsectmap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSect {
    /// Start of the section in the virtual offset space of function entries.
    pub vaddr: u64,
    /// End of the section in that space.
    pub end: u64,
    /// The section's actual address.
    pub baseaddr: u64,
}

/// A segment the loader maps (link-time addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Start address.
    pub addr: u64,
    /// Size in memory (bss included).
    pub mem_size: u64,
    /// Bytes the file holds for it.
    pub file_size: u64,
    /// Writable at run time: its contents in a process differ from the file's.
    pub writable: bool,
    /// Executable.
    pub executable: bool,
}

/// An opened Go executable. Immutable, `Send + Sync`; indexes are built on first use.
pub struct Binary {
    bytes: Bytes,
    container: Container,
    pclntab: PclntabLocation,
    pclntab_found_by: FoundBy,
    moduledata: Option<Moduledata>,
    text_sects: Vec<TextSect>,
    symbols: OnceLock<Option<Vec<Symbol>>>,
    buildinfo: OnceLock<std::result::Result<BuildInfo, String>>,
    nm_codes: NmCodes,
    relative_relocs: OnceLock<HashMap<u64, u64>>,
    wrapper_func_id: OnceLock<Option<u8>>,
    /// Data symbols sorted by address: indexes into `symbols`.
    data_index: OnceLock<Vec<u32>>,
}

impl std::fmt::Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binary")
            .field("format", &self.container.format)
            .field("arch", &self.container.arch)
            .field("pclntab", &self.pclntab.version)
            .finish()
    }
}

impl Binary {
    /// Opens and memory-maps the executable at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Binary> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.is_dir() {
            return Err(io(std::io::Error::other("is a directory")));
        }
        Binary::from_bytes_inner(Bytes::map(&file).map_err(io)?)
    }

    /// Reads an executable already in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<Binary> {
        Binary::from_bytes_inner(Bytes::Owned(data))
    }

    fn from_bytes_inner(bytes: Bytes) -> Result<Binary> {
        let container = Container::parse(&bytes)?;
        // The symbols' codes follow `go tool nm` of the release that built the binary.
        let buildinfo = OnceLock::new();
        let build = buildinfo
            .get_or_init(|| buildinfo::read(&bytes, &container).map_err(|e| e.to_string()));
        let nm_codes = NmCodes::for_go_version(build.as_ref().ok().map(|b| b.go_version.as_str()));
        let symbols = OnceLock::new();
        let (mut pclntab, found_by) = locate_pclntab(&bytes, &container, &symbols, nm_codes)?;
        let mut bin = Binary {
            bytes,
            container,
            pclntab,
            pclntab_found_by: found_by,
            moduledata: None,
            text_sects: Vec::new(),
            symbols,
            nm_codes,
            buildinfo,
            relative_relocs: OnceLock::new(),
            wrapper_func_id: OnceLock::new(),
            data_index: OnceLock::new(),
        };
        bin.moduledata = bin.find_moduledata();
        // Function entries (1.18+) are offsets from runtime.text. Take it from moduledata, the
        // symbol table, or the text section, in that order of trust.
        let text_start = bin
            .moduledata
            .map(|m| m.text)
            .filter(|&t| t != 0)
            .or_else(|| bin.symbol_addr("runtime.text"))
            .or_else(|| bin.text_section().map(|s| s.addr))
            .unwrap_or(0);
        pclntab.text_start = text_start;
        bin.pclntab = pclntab;
        bin.text_sects = bin.read_text_sects();
        Ok(bin)
    }

    /// The raw bytes of the file.
    pub fn data(&self) -> &[u8] {
        &self.bytes
    }

    /// ELF, Mach-O or PE.
    pub fn format(&self) -> Format {
        self.container.format
    }

    /// The instruction set.
    pub fn arch(&self) -> Arch {
        self.container.arch
    }

    /// Pointer size in bytes.
    pub fn ptr_size(&self) -> u8 {
        self.container.arch.ptr_size()
    }

    /// The `GOOS` the binary was built for, from build info or the container.
    pub fn goos(&self) -> String {
        if let Ok(bi) = self.build_info()
            && let Some(os) = bi.setting("GOOS")
        {
            return os.to_string();
        }
        match self.container.format {
            Format::Elf => "linux".into(),
            Format::MachO => "darwin".into(),
            Format::Pe => "windows".into(),
        }
    }

    /// Sections in header order.
    pub fn sections(&self) -> &[Section] {
        &self.container.sections
    }

    /// The first section called `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.container.section(name)
    }

    /// The file bytes of a section (empty for bss-like sections).
    pub fn section_data(&self, s: &Section) -> &[u8] {
        self.bytes
            .get(s.file_offset as usize..(s.file_offset + s.file_size) as usize)
            .unwrap_or(&[])
    }

    /// The main text section (`.text`, `__text`).
    pub fn text_section(&self) -> Option<&Section> {
        self.container
            .section(".text")
            .or_else(|| self.container.section("__text"))
    }

    /// Entry point address.
    pub fn entry(&self) -> u64 {
        self.container.entry
    }

    /// Whether DWARF debug information is present.
    pub fn has_dwarf(&self) -> bool {
        self.container.sections.iter().any(|s| {
            let n = s.name.as_str();
            n == ".debug_info" || n == ".zdebug_info" || n == "__debug_info" || n == "__zdebug_info"
        })
    }

    /// Whether the binary has a symbol table with its functions in it (`-ldflags=-s` and
    /// `strip` remove them; Mach-O keeps a table of imports only).
    pub fn has_symbols(&self) -> bool {
        match self.symbols.get() {
            Some(cached) => cached
                .as_ref()
                .is_some_and(|s| s.iter().any(Symbol::is_text)),
            None => self
                .symbol_refs()
                .is_some_and(|s| s.iter().any(symbols::SymbolRef::is_text)),
        }
    }

    /// The symbol table in file order, as `go tool nm` reads it; `None` when stripped.
    pub fn symbols(&self) -> Option<&[Symbol]> {
        self.symbols
            .get_or_init(|| symbols::read_symbols(&self.bytes, &self.container, self.nm_codes))
            .as_deref()
    }

    /// The symbol table in file order with names borrowed from the file (no allocation per
    /// symbol; not cached); `None` when stripped.
    pub fn symbol_refs(&self) -> Option<Vec<symbols::SymbolRef<'_>>> {
        symbols::read_symbol_refs(&self.bytes, &self.container, self.nm_codes)
    }

    /// Address of the symbol called `name`.
    pub fn symbol_addr(&self, name: &str) -> Option<u64> {
        if let Some(cached) = self.symbols.get() {
            return symbols::find_symbol(cached.as_deref(), name);
        }
        self.symbol_refs()?
            .iter()
            .find(|s| *s.name == *name.as_bytes())
            .map(|s| s.addr)
    }

    /// Names what is at `addr`: the function containing it (from the pclntab, so this works on
    /// stripped binaries) or else the data symbol containing it (from the symbol table, when
    /// present). Returns the name and the start address of the function or symbol.
    pub fn symbolize(&self, addr: u64) -> Option<(&str, u64)> {
        if let Some(f) = self.func_at(addr) {
            return Some((f.name(), f.entry()));
        }
        let syms = self.symbols()?;
        let index = self.data_index.get_or_init(|| {
            let mut v: Vec<u32> = syms
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.is_text() && s.code != 'U' && s.addr != 0)
                .map(|(i, _)| i as u32)
                .collect();
            v.sort_by_key(|&i| syms[i as usize].addr);
            v
        });
        let pos = index.partition_point(|&i| syms[i as usize].addr <= addr);
        let s = &syms[*index.get(pos.checked_sub(1)?)? as usize];
        // A symbol covers [addr, addr+size); zero-sized markers only their own address.
        (addr < s.addr.saturating_add(s.size.max(1))).then_some((s.name.as_str(), s.addr))
    }

    /// The build information; parsed on first use.
    pub fn build_info(&self) -> Result<&BuildInfo> {
        match self.buildinfo.get_or_init(|| {
            buildinfo::read(&self.bytes, &self.container).map_err(|e| e.to_string())
        }) {
            Ok(bi) => Ok(bi),
            Err(e) => Err(Error::BuildInfo(e.clone())),
        }
    }

    /// The Go version from build info (`go1.22.3`), if present.
    pub fn go_version(&self) -> Option<&str> {
        self.build_info().ok().map(|b| b.go_version.as_str())
    }

    /// The pclntab view.
    pub fn pclntab(&self) -> Pclntab<'_> {
        self.pclntab
            .view(&self.bytes)
            .with_text_sects(&self.text_sects)
    }

    /// How the pclntab was found.
    pub fn pclntab_found_by(&self) -> FoundBy {
        self.pclntab_found_by
    }

    /// `runtime.firstmoduledata`, if found.
    pub fn moduledata(&self) -> Option<&Moduledata> {
        self.moduledata.as_ref()
    }

    /// The text sections when there is more than one.
    pub fn text_sects(&self) -> &[TextSect] {
        &self.text_sects
    }

    /// The function containing `pc`.
    pub fn func_at(&self, pc: u64) -> Option<Func<'_>> {
        self.pclntab().find_func(pc)
    }

    /// `len` file bytes at virtual address `addr`, or `None` if any of them is not in the file.
    pub fn read_va(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let (off, avail) = self.container.va_to_file(addr)?;
        if (len as u64) > avail {
            return None;
        }
        self.bytes.get(off as usize..off as usize + len)
    }

    /// The bytes from `addr` to the end of its mapping's file data.
    pub fn read_va_rest(&self, addr: u64) -> Option<&[u8]> {
        let (off, avail) = self.container.va_to_file(addr)?;
        self.bytes.get(off as usize..(off + avail) as usize)
    }

    /// The segments the loader maps (for PE, the sections), sorted by address: what is
    /// writable at run time and what stays as the file holds it.
    pub fn segments(&self) -> impl Iterator<Item = LoadSegment> + '_ {
        self.container.mappings.iter().map(|m| LoadSegment {
            addr: m.addr,
            mem_size: m.mem_size,
            file_size: m.file_size,
            writable: m.writable,
            executable: m.executable,
        })
    }

    /// The file offset holding the byte at link-time address `addr` (what a uprobe names).
    pub fn file_offset(&self, addr: u64) -> Option<u64> {
        self.container.va_to_file(addr).map(|(off, _)| off)
    }

    /// Whether `addr` is inside a loaded segment (file-backed or not).
    pub fn is_mapped(&self, addr: u64) -> bool {
        self.container.is_mapped(addr)
    }

    /// A pointer-sized word at `addr`. A zero word with a dynamic `RELATIVE` relocation on it
    /// (externally linked PIE) reads as the relocation's addend: the value the loader writes.
    pub fn read_ptr(&self, addr: u64) -> Option<u64> {
        let ps = self.ptr_size();
        let b = self.read_va(addr, ps as usize)?;
        let v = read::word_at(b, 0, ps)?;
        if v != 0 {
            return Some(v);
        }
        Some(self.relative_relocs().get(&addr).copied().unwrap_or(0))
    }

    fn relative_relocs(&self) -> &HashMap<u64, u64> {
        self.relative_relocs.get_or_init(|| {
            use object::Object;
            let mut map = HashMap::new();
            let Ok(file) = object::File::parse(&*self.bytes) else {
                return map;
            };
            let Some(relocs) = file.dynamic_relocations() else {
                return map;
            };
            let relative = match self.container.arch {
                Arch::Amd64 | Arch::I386 => 8,
                Arch::Arm64 => 1027,
                Arch::Arm => 23,
            };
            for (off, r) in relocs {
                if let object::RelocationFlags::Elf { r_type } = r.flags()
                    && r_type.0 == relative
                {
                    map.insert(off, r.addend() as u64);
                }
            }
            map
        })
    }

    fn find_moduledata(&self) -> Option<Moduledata> {
        let ps = u64::from(self.ptr_size());
        let try_at = |addr: u64, by: &'static str| {
            let words = |i: usize| self.read_ptr(addr + i as u64 * ps);
            moduledata::decode(addr, &self.pclntab, &words, by)
        };
        if let Some(s) = self
            .container
            .section(".go.module")
            .or_else(|| self.container.section("__go_module"))
            && let Some(m) = try_at(s.addr, "section")
        {
            return Some(m);
        }
        if let Some(a) = self.symbol_addr("runtime.firstmoduledata")
            && let Some(m) = try_at(a, "symbol")
        {
            return Some(m);
        }
        // Scan writable, file-backed data for the pclntab address at pointer alignment.
        let target = self.pclntab.addr;
        for m in &self.container.mappings {
            if !m.writable || m.executable {
                continue;
            }
            let Some(bytes) = self
                .bytes
                .get(m.file_offset as usize..(m.file_offset + m.file_size) as usize)
            else {
                continue;
            };
            let mut off = 0usize;
            while off + ps as usize <= bytes.len() {
                if read::word_at(bytes, off, ps as u8) == Some(target)
                    && let Some(md) = try_at(m.addr + off as u64, "scan")
                {
                    return Some(md);
                }
                off += ps as usize;
            }
        }
        // Externally linked PIE: the word is zero in the file and set by a relocation.
        let mut cands: Vec<u64> = self
            .relative_relocs()
            .iter()
            .filter(|&(_, &v)| v == target)
            .map(|(&a, _)| a)
            .collect();
        cands.sort_unstable();
        cands.into_iter().find_map(|a| try_at(a, "scan"))
    }

    fn read_text_sects(&self) -> Vec<TextSect> {
        let Some(md) = self.moduledata else {
            return Vec::new();
        };
        let (addr, n) = md.textsectmap;
        if n <= 1 || n > 64 {
            return Vec::new();
        }
        let ps = u64::from(self.ptr_size());
        let mut out = Vec::new();
        for i in 0..n {
            let base = addr + i * 3 * ps;
            let (Some(vaddr), Some(end), Some(baseaddr)) = (
                self.read_ptr(base),
                self.read_ptr(base + ps),
                self.read_ptr(base + 2 * ps),
            ) else {
                return Vec::new();
            };
            out.push(TextSect {
                vaddr,
                end,
                baseaddr,
            });
        }
        out
    }

    /// The address funcdata offsets are relative to (Go 1.18+): `moduledata.gofunc`, or the
    /// `go:func.*` symbol.
    pub fn gofunc(&self) -> Option<u64> {
        self.moduledata
            .map(|m| m.gofunc)
            .filter(|&g| g != 0)
            .or_else(|| self.symbol_addr("go:func.*"))
            .or_else(|| self.symbol_addr("go.func.*"))
    }

    /// The `funcID` the compiler gives autogenerated wrappers in this binary. It is the ID after
    /// `runtime.systemstack_switch`'s in every release, which is sturdier than a version table.
    pub fn wrapper_func_id(&self) -> Option<u8> {
        *self.wrapper_func_id.get_or_init(|| {
            let tab = self.pclntab();
            let f = tab
                .funcs()
                .find(|f| f.name() == "runtime.systemstack_switch")?;
            let id = f.func_id();
            (id != 0).then(|| id + 1)
        })
    }

    /// The chain of frames at `pc`, innermost (most deeply inlined) first; the last is the
    /// physical function. Empty if `pc` is in no function.
    pub fn frames_at(&self, pc: u64) -> Vec<Frame<'_>> {
        inline::frames_at(self, pc)
    }

    /// [`Binary::frames_at`] for many pcs of one function, decoding its pc tables once:
    /// the chains in the order of `pcs` (an empty chain for a pc outside `f`).
    pub fn frames_at_many<'a>(&'a self, f: &Func<'a>, pcs: &[u64]) -> Vec<Vec<Frame<'a>>> {
        inline::frames_at_many(self, f, pcs)
    }

    /// The function inlined at entry `ix` of `f`'s inline tree (the values of its
    /// `INL_TREE_INDEX` pcdata; a parent's index is below its children's). Cheaper than
    /// [`Binary::frames_at`] when only the names of inlined functions are wanted.
    pub fn inlined_function(&self, f: &Func<'_>, ix: i32) -> Option<&str> {
        inline::entry_name(self, f, ix)
    }
}

/// A function name as the Go runtime prints it (tracebacks, `runtime.Frame.Function` since Go
/// 1.21): the type arguments of a generic instantiation become `[...]`
/// (`main.Sum[go.shape.int]` → `main.Sum[...]`), as `runtime.funcNameForPrint` does.
pub fn print_name(name: &str) -> std::borrow::Cow<'_, str> {
    let Some(i) = name.find('[') else {
        return name.into();
    };
    match name.rfind(']') {
        Some(j) if j > i => format!("{}[...]{}", &name[..i], &name[j + 1..]).into(),
        _ => name.into(),
    }
}

/// The minor version of a Go version string: 22 for `go1.22.3`, `go1.22rc1` or
/// `go1.22.3 X:nocoverageredesign`; `None` for `devel` builds and non-Go strings.
pub fn go_minor_version(v: &str) -> Option<u32> {
    let rest = v.strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Finds the pclntab: by section, by symbols, or by a validated scan.
fn locate_pclntab(
    data: &[u8],
    c: &Container,
    symbols: &OnceLock<Option<Vec<Symbol>>>,
    nm_codes: NmCodes,
) -> Result<(PclntabLocation, FoundBy)> {
    let mut first_err = None;
    let text_guess = c
        .section(".text")
        .or_else(|| c.section("__text"))
        .map_or(0, |s| s.addr);
    let try_at = |off: u64, end: u64, addr: u64| -> Result<PclntabLocation> {
        let table = data
            .get(off as usize..end as usize)
            .ok_or_else(|| Error::Pclntab("outside the file".into()))?;
        PclntabLocation::parse(table, off as usize, addr, text_guess)
    };
    for name in [".gopclntab", ".data.rel.ro.gopclntab", "__gopclntab"] {
        if let Some(s) = c.section(name)
            && s.file_size > 0
        {
            match try_at(s.file_offset, s.file_offset + s.file_size, s.addr) {
                Ok(loc) => return Ok((loc, FoundBy::Section)),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
    }
    let syms = symbols.get_or_init(|| symbols::read_symbols(data, c, nm_codes));
    if let (Some(start), Some(end)) = (
        symbols::find_symbol(syms.as_deref(), "runtime.pclntab"),
        symbols::find_symbol(syms.as_deref(), "runtime.epclntab"),
    ) && end > start
        && let Some((off, avail)) = c.va_to_file(start)
        && end - start <= avail
    {
        match try_at(off, off + (end - start), start) {
            Ok(loc) => return Ok((loc, FoundBy::Symbol)),
            Err(e) => first_err = first_err.or(Some(e)),
        }
    }
    // Stripped (PE) or mangled: scan non-executable file-backed sections for a header.
    let mut regions: Vec<(u64, u64, u64)> = c
        .sections
        .iter()
        .filter(|s| s.file_size > 0 && s.kind != container::SectionKind::Text && s.addr != 0)
        .map(|s| (s.file_offset, s.file_offset + s.file_size, s.addr))
        .collect();
    if regions.is_empty() {
        regions = c
            .mappings
            .iter()
            .map(|m| (m.file_offset, m.file_offset + m.file_size, m.addr))
            .collect();
    }
    for (start, end, addr) in regions {
        let Some(bytes) = data.get(start as usize..end as usize) else {
            continue;
        };
        let mut i = 0usize;
        while i + 8 <= bytes.len() {
            if PclntabLocation::looks_like_header(&bytes[i..])
                && let Ok(loc) = try_at(start + i as u64, end, addr + i as u64)
            {
                return Ok((loc, FoundBy::Scan));
            }
            i += 4;
        }
    }
    Err(first_err.unwrap_or(Error::NoPclntab))
}

#[cfg(test)]
mod tests {
    #[test]
    fn binary_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Binary>();
    }

    #[test]
    fn print_name_elides_type_arguments_like_the_runtime() {
        assert_eq!(super::print_name("main.Sum[go.shape.int]"), "main.Sum[...]");
        assert_eq!(
            super::print_name("main.(*T[go.shape.int]).M.func1"),
            "main.(*T[...]).M.func1"
        );
        assert_eq!(super::print_name("main.main"), "main.main");
        assert_eq!(super::print_name("a]b[c"), "a]b[c");
        assert_eq!(super::go_minor_version("go1.22.3 X:foo"), Some(22));
        assert_eq!(super::go_minor_version("devel +abc"), None);
    }
}
