//! Symbol tables (ELF `.symtab`, Mach-O `LC_SYMTAB`, PE/COFF) read the way the Go toolchain's
//! `cmd/internal/objfile` reads them, so that `goscope nm` can reproduce `go tool nm` byte for
//! byte: the same symbols, in the same order, with the same one-letter codes and sizes.

use object::Object;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::read::macho::{MachHeader, Nlist};
use serde::Serialize;

use crate::container::Container;

/// A symbol of the executable's symbol table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    /// Name as stored (Go names such as `main.main`, `type:*T`).
    pub name: String,
    /// Virtual address.
    pub addr: u64,
    /// Size in bytes: from the table on ELF, to the next symbol on Mach-O and PE (as `go tool nm`
    /// computes it).
    pub size: u64,
    /// `go tool nm`'s code: `T` text, `R` read-only data, `D` data, `B` bss, `U` undefined, `C`
    /// constant, `?` unknown; lower case for local symbols.
    pub code: char,
}

impl Symbol {
    /// Whether the symbol is in text (`T` or `t`).
    pub fn is_text(&self) -> bool {
        matches!(self.code, 'T' | 't')
    }
}

/// A symbol whose name is borrowed from the file: what whole-table work (`nm`) uses, without an
/// allocation per symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolRef<'a> {
    /// Name bytes as `go tool nm` prints them.
    pub name: std::borrow::Cow<'a, [u8]>,
    /// Virtual address.
    pub addr: u64,
    /// Size in bytes (see [`Symbol::size`]).
    pub size: u64,
    /// `go tool nm`'s one-letter code.
    pub code: char,
}

impl SymbolRef<'_> {
    /// Whether the symbol is in text (`T` or `t`).
    pub fn is_text(&self) -> bool {
        matches!(self.code, 'T' | 't')
    }

    /// An owned copy.
    pub fn to_owned_symbol(&self) -> Symbol {
        Symbol {
            name: String::from_utf8_lossy(&self.name).into_owned(),
            addr: self.addr,
            size: self.size,
            code: self.code,
        }
    }
}

/// Which release's `cmd/internal/objfile` the one-letter codes follow: `go tool nm` of the
/// release that built the binary is the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmCodes {
    /// Go 1.26 and earlier: every symbol of a writable ELF section is `D`, bss included (the
    /// internal linker's `.bss` and `.noptrbss` are SHT_NOBITS sections flagged like `.data`);
    /// on PE everything in the `.data` section (which also holds the bss) is `D`.
    Go119,
    /// Go 1.27 and later: a writable ELF section of type SHT_NOBITS holds `B` symbols; on PE,
    /// symbols in `runtime.bss`'s section at or past it, or past the section's raw data, are `B`.
    Go127,
}

impl NmCodes {
    /// The codes of the Go release `go_version` (`go1.27.3`); the newest when unknown.
    pub fn for_go_version(go_version: Option<&str>) -> NmCodes {
        match go_version.and_then(crate::go_minor_version) {
            Some(minor) if minor < 27 => NmCodes::Go119,
            _ => NmCodes::Go127,
        }
    }
}

/// Reads the symbol table in file order, as `cmd/internal/objfile`'s `symbols()` does. Returns
/// `None` when the file has no symbol table at all (stripped).
pub(crate) fn read_symbols(data: &[u8], c: &Container, codes: NmCodes) -> Option<Vec<Symbol>> {
    Some(
        read_symbol_refs(data, c, codes)?
            .iter()
            .map(SymbolRef::to_owned_symbol)
            .collect(),
    )
}

/// [`read_symbols`] with names borrowed from `data`.
pub(crate) fn read_symbol_refs<'d>(
    data: &'d [u8],
    c: &Container,
    codes: NmCodes,
) -> Option<Vec<SymbolRef<'d>>> {
    let file = object::File::parse(data).ok()?;
    let raw_sizes = |t: object::read::coff::SectionTable<'_>| -> Vec<u64> {
        t.iter()
            .map(|h| u64::from(h.size_of_raw_data.get(object::LittleEndian)))
            .collect()
    };
    match &file {
        object::File::Elf64(f) => elf_symbols(f, codes),
        object::File::Elf32(f) => elf_symbols(f, codes),
        object::File::MachO64(f) => macho_symbols(f, c),
        object::File::MachO32(f) => macho_symbols(f, c),
        object::File::Pe64(f) => {
            pe_symbols(|| f.symbols(), c, &raw_sizes(f.section_table()), codes)
        }
        object::File::Pe32(f) => {
            pe_symbols(|| f.symbols(), c, &raw_sizes(f.section_table()), codes)
        }
        _ => None,
    }
}

fn elf_symbols<'data, Elf: FileHeader<Endian = object::Endianness>>(
    f: &object::read::elf::ElfFile<'data, Elf>,
    codes: NmCodes,
) -> Option<Vec<SymbolRef<'data>>> {
    let endian = f.endian();
    let table = f.elf_symbol_table();
    if table.is_empty() {
        return None;
    }
    let sections = f.elf_section_table();
    let strings = table.strings();
    let mut out = Vec::with_capacity(table.len());
    // debug/elf drops the reserved null symbol at index 0.
    for sym in table.iter().skip(1) {
        let name = sym.name(endian, strings).unwrap_or_default();
        let shndx = sym.st_shndx(endian).0;
        let mut code = '?';
        match shndx {
            0 => code = 'U',
            0xfff2 => code = 'B',
            i => {
                if let Ok(sh) = sections.section(object::SectionIndex(usize::from(i))) {
                    const W: u64 = 1;
                    const A: u64 = 2;
                    const X: u64 = 4;
                    let flags: u64 = sh.sh_flags(endian).0;
                    code = match flags & (W | A | X) {
                        x if x == A | X => 'T',
                        x if x == A => 'R',
                        x if x == A | W => {
                            if codes == NmCodes::Go127
                                && sh.sh_type(endian) == object::elf::SHT_NOBITS
                            {
                                'B'
                            } else {
                                'D'
                            }
                        }
                        _ => '?',
                    };
                }
            }
        }
        if sym.st_bind().0 == 0 {
            // STB_LOCAL: Go adds 'a' - 'A' to whatever the code is ('?' becomes '_').
            code = char::from((code as u8).wrapping_add(b'a' - b'A'));
        }
        out.push(SymbolRef {
            name: name.into(),
            addr: sym.st_value(endian).into(),
            size: sym.st_size(endian).into(),
            code,
        });
    }
    Some(out)
}

fn macho_symbols<'data, Mach: MachHeader<Endian = object::Endianness>>(
    f: &object::read::macho::MachOFile<'data, Mach>,
    c: &Container,
) -> Option<Vec<SymbolRef<'data>>> {
    const STAB_MASK: u8 = 0xe0;
    let endian = f.endian();
    let table = f.macho_symbol_table();
    if table.is_empty() {
        return None;
    }
    let strings = table.strings();
    let live = || table.iter().filter(|s| s.n_type().0 & STAB_MASK == 0);
    let mut addrs: Vec<u64> = live().map(|s| s.n_value(endian).into()).collect();
    addrs.sort_unstable();
    let mut out = Vec::with_capacity(addrs.len());
    for s in live() {
        let addr: u64 = s.n_value(endian).into();
        let mut name: &[u8] = strings.get(s.n_strx(endian)).unwrap_or_default();
        // The Go linker prefixes Go symbols with "_" on Mach-O; debug/macho strips it again
        // from any name with a dot (golang.org/issue/33808).
        if name.contains(&b'.') && name.first() == Some(&b'_') {
            name = &name[1..];
        }
        let next = addrs.partition_point(|&a| a <= addr);
        let size = addrs.get(next).map_or(0, |&n| n - addr);
        let sect = s.n_sect();
        let mut code = '?';
        if sect == 0 {
            code = 'U';
        } else if let Some(sec) = c.sections.get(usize::from(sect) - 1) {
            let seg = sec.segment.as_deref().unwrap_or("");
            if seg == "__TEXT" || seg == "__DATA_CONST" {
                code = 'R';
            } else if seg == "__DATA" {
                code = 'D';
            }
            match (seg, sec.name.as_str()) {
                ("__TEXT", "__text") => code = 'T',
                ("__DATA", "__bss") | ("__DATA", "__noptrbss") => code = 'B',
                _ => {}
            }
        }
        out.push(SymbolRef {
            name: name.into(),
            addr,
            size,
            code,
        });
    }
    Some(out)
}

fn pe_symbols<'data: 'file, 'file>(
    symbols: impl Fn() -> object::read::coff::CoffSymbolIterator<'data, 'file>,
    c: &Container,
    raw_sizes: &[u64],
    codes: NmCodes,
) -> Option<Vec<SymbolRef<'data>>> {
    use object::LittleEndian as LE;
    use object::ObjectSymbol;
    // The internal linker puts the bss into `.data` (after the data, past the raw bytes the
    // file holds); Go 1.27's objfile calls a symbol there bss when it is at or past
    // `runtime.bss` in the same section, or past the section's raw size (SizeOfRawData, which
    // is rounded up to the file alignment, hence the symbol test first).
    let bss_start = (codes == NmCodes::Go127)
        .then(|| {
            symbols().find_map(|sym| {
                let raw = sym.coff_symbol();
                (sym.name_bytes().ok()? == b"runtime.bss")
                    .then(|| (raw.section_number.get(LE) as i16, raw.value.get(LE)))
            })
        })
        .flatten();
    let mut out = Vec::new();
    // object skips auxiliary records, as debug/pe's removeAuxSymbols does.
    for sym in symbols() {
        let raw = sym.coff_symbol();
        let number = raw.section_number.get(LE) as i16;
        let name = sym.name_bytes().unwrap_or_default();
        let mut s = SymbolRef {
            name: name.into(),
            addr: u64::from(raw.value.get(LE)),
            size: 0,
            code: '?',
        };
        match number {
            0 => s.code = 'U',
            -1 => s.code = 'C',
            -2 => s.code = '?',
            n if n < 0 || n as usize > c.sections.len() => return None,
            n => {
                let sect = &c.sections[n as usize - 1];
                let ch = sect.raw_flags;
                const TEXT: u64 = 0x20;
                const DATA: u64 = 0x40;
                const BSS: u64 = 0x80;
                const PERM_W: u64 = 0x8000_0000;
                s.code = if ch & TEXT != 0 {
                    'T'
                } else if ch & DATA != 0 {
                    let value = raw.value.get(LE);
                    let past_bss = bss_start
                        .is_some_and(|(sect, start)| sect == number && start > 0 && value >= start);
                    let past_raw = codes == NmCodes::Go127
                        && raw_sizes
                            .get(n as usize - 1)
                            .is_some_and(|&size| u64::from(value) >= size);
                    if ch & PERM_W == 0 {
                        'R'
                    } else if past_bss || past_raw {
                        'B'
                    } else {
                        'D'
                    }
                } else if ch & BSS != 0 {
                    'B'
                } else {
                    '?'
                };
                // Section addresses from `object` include the image base, as Go adds it.
                s.addr = s.addr.wrapping_add(sect.addr);
            }
        }
        out.push(s);
    }
    if out.is_empty() {
        return None;
    }
    let mut addrs: Vec<u64> = out.iter().map(|s| s.addr).collect();
    addrs.sort_unstable();
    for s in &mut out {
        let next = addrs.partition_point(|&a| a <= s.addr);
        s.size = addrs.get(next).map_or(0, |&n| n - s.addr);
    }
    Some(out)
}

/// Finds one symbol's address by name without building the whole table; used at open time.
pub(crate) fn find_symbol(symbols: Option<&[Symbol]>, name: &str) -> Option<u64> {
    symbols?.iter().find(|s| s.name == name).map(|s| s.addr)
}
