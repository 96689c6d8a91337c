//! The executable container: ELF, Mach-O or PE, read through the `object` crate once at open time
//! into the few facts goscope needs (architecture, sections, how virtual addresses map to file
//! bytes). Everything Go-specific is built on these facts by the other modules.

use object::{Object, ObjectSection, ObjectSegment};
use serde::Serialize;

use crate::error::{Error, Result};

/// The container format of an executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// ELF (Linux, BSDs).
    Elf,
    /// Mach-O (macOS, iOS).
    MachO,
    /// PE/COFF (Windows).
    Pe,
}

impl Format {
    /// The name users know: `elf`, `macho`, `pe`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Elf => "elf",
            Format::MachO => "macho",
            Format::Pe => "pe",
        }
    }
}

/// The instruction set of an executable, named as `GOARCH` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// AArch64.
    Arm64,
    /// 32-bit x86.
    I386,
    /// 32-bit ARM.
    Arm,
}

impl Arch {
    /// The `GOARCH` spelling.
    pub fn goarch(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::I386 => "386",
            Arch::Arm => "arm",
        }
    }

    /// Pointer size in bytes.
    pub fn ptr_size(self) -> u8 {
        match self {
            Arch::Amd64 | Arch::Arm64 => 8,
            Arch::I386 | Arch::Arm => 4,
        }
    }

    /// The pc quantum (minimum instruction size) the Go toolchain uses for this architecture.
    pub fn pc_quantum(self) -> u8 {
        match self {
            Arch::Amd64 | Arch::I386 => 1,
            Arch::Arm64 | Arch::Arm => 4,
        }
    }
}

/// What a section holds, as far as goscope cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionKind {
    /// Executable code.
    Text,
    /// Read-only data.
    ReadOnly,
    /// Writable initialized data.
    Data,
    /// Zero-initialized data with no file bytes.
    Bss,
    /// Debug information (DWARF).
    Debug,
    /// Anything else (notes, dynamic linking tables, symbol tables).
    Other,
}

/// One section of the executable.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Section name (`.text`, `__gopclntab`, …).
    pub name: String,
    /// Mach-O segment name, when there is one.
    pub segment: Option<String>,
    /// Virtual address (image base included for PE).
    pub addr: u64,
    /// Size in memory.
    pub size: u64,
    /// Offset of the section's bytes in the file, if it has any.
    pub file_offset: u64,
    /// Number of bytes the file holds for the section (0 for bss-like sections).
    pub file_size: u64,
    /// Format-specific raw flags: ELF `sh_flags`, Mach-O section `flags`, PE `Characteristics`.
    pub raw_flags: u64,
    /// What the section holds.
    pub kind: SectionKind,
}

/// A range of virtual addresses backed (at least partly) by file bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mapping {
    pub addr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub writable: bool,
    pub executable: bool,
}

/// Facts about the container, gathered once when the file is opened.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub format: Format,
    pub arch: Arch,
    pub sections: Vec<Section>,
    /// Sorted by address; non-overlapping.
    pub mappings: Vec<Mapping>,
    /// PE image base, 0 elsewhere.
    pub image_base: u64,
    /// Entry point address.
    pub entry: u64,
}

fn container_err(format: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Container {
        format,
        detail: e.to_string(),
    }
}

/// Why an ELF file whose parse failed is likely cut short: the end of its section headers,
/// or of the largest section they describe, lies beyond the file's end.
fn elf_truncation(data: &[u8]) -> Option<String> {
    let is64 = *data.get(4)? == 2;
    let u16_at = |o: usize| Some(u16::from_le_bytes(data.get(o..o + 2)?.try_into().ok()?) as u64);
    let u32_at = |o: usize| {
        Some(u64::from(u32::from_le_bytes(
            data.get(o..o + 4)?.try_into().ok()?,
        )))
    };
    let u64_at = |o: usize| Some(u64::from_le_bytes(data.get(o..o + 8)?.try_into().ok()?));
    let word = |o: usize| if is64 { u64_at(o) } else { u32_at(o) };
    let (shoff, shentsize, shnum) = if is64 {
        (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?)
    } else {
        (u32_at(0x20)?, u16_at(0x2e)?, u16_at(0x30)?)
    };
    let len = data.len() as u64;
    let headers_end = shoff.checked_add(shentsize.checked_mul(shnum)?)?;
    let mut described = headers_end;
    if headers_end <= len {
        // The sections' own extents (SHT_NOBITS occupies no file bytes).
        for i in 0..shnum {
            let h = usize::try_from(shoff + i * shentsize).ok()?;
            let (kind, off, size) = if is64 {
                (u32_at(h + 4)?, word(h + 0x18)?, word(h + 0x20)?)
            } else {
                (u32_at(h + 4)?, word(h + 0x10)?, word(h + 0x14)?)
            };
            if kind != 8 {
                described = described.max(off.saturating_add(size));
            }
        }
    }
    (described > len).then(|| {
        format!(
            "the file is {len} bytes but its headers describe {described}: it looks truncated — \
             copy it again"
        )
    })
}

impl Container {
    /// Reads the container facts from `data`.
    pub fn parse(data: &[u8]) -> Result<Container> {
        let kind = object::FileKind::parse(data).map_err(|_| {
            let magic: Vec<String> = data.iter().take(4).map(|b| format!("{b:02x}")).collect();
            Error::UnknownFormat(if data.len() < 4 {
                format!("only {} bytes", data.len())
            } else {
                format!("magic {}", magic.join(" "))
            })
        })?;
        let format = match kind {
            object::FileKind::Elf32 | object::FileKind::Elf64 => Format::Elf,
            object::FileKind::MachO32 | object::FileKind::MachO64 => Format::MachO,
            object::FileKind::Pe32 | object::FileKind::Pe64 => Format::Pe,
            object::FileKind::MachOFat32 | object::FileKind::MachOFat64 => {
                return Err(Error::UnknownFormat(
                    "a universal (fat) Mach-O file; extract one architecture with `lipo -thin`"
                        .into(),
                ));
            }
            other => return Err(Error::UnknownFormat(format!("{other:?} file"))),
        };
        let fname = match format {
            Format::Elf => "ELF",
            Format::MachO => "Mach-O",
            Format::Pe => "PE",
        };
        let file = object::File::parse(data).map_err(|e| match elf_truncation(data) {
            Some(t) if format == Format::Elf => Error::Container {
                format: fname,
                detail: format!("{e} ({t})"),
            },
            _ => container_err(fname, e),
        })?;
        if !file.is_little_endian() {
            return Err(Error::BigEndian);
        }
        let arch = match file.architecture() {
            object::Architecture::X86_64 => Arch::Amd64,
            object::Architecture::Aarch64 => Arch::Arm64,
            object::Architecture::I386 => Arch::I386,
            object::Architecture::Arm => Arch::Arm,
            other => return Err(Error::UnsupportedArch(format!("{other:?}"))),
        };
        let image_base = if format == Format::Pe {
            file.relative_address_base()
        } else {
            0
        };

        let mut sections = Vec::new();
        for s in file.sections() {
            let name = s.name().unwrap_or("").to_string();
            let segment = s.segment_name().ok().flatten().map(str::to_string);
            let (file_offset, file_size) = s.file_range().unwrap_or((0, 0));
            if file_offset
                .checked_add(file_size)
                .is_none_or(|end| end > data.len() as u64)
            {
                return Err(container_err(
                    fname,
                    format!("section {name} extends past the end of the file"),
                ));
            }
            let raw_flags = match s.flags() {
                object::SectionFlags::Elf { sh_flags, .. } => sh_flags.0,
                object::SectionFlags::MachO { flags, .. } => u64::from(flags.0),
                object::SectionFlags::Coff { characteristics } => u64::from(characteristics.0),
                _ => 0,
            };
            let kind = match s.kind() {
                object::SectionKind::Text => SectionKind::Text,
                object::SectionKind::ReadOnlyData
                | object::SectionKind::ReadOnlyDataWithRel
                | object::SectionKind::ReadOnlyString => SectionKind::ReadOnly,
                object::SectionKind::Data => SectionKind::Data,
                object::SectionKind::UninitializedData => SectionKind::Bss,
                object::SectionKind::Debug | object::SectionKind::DebugString => SectionKind::Debug,
                _ => SectionKind::Other,
            };
            sections.push(Section {
                name,
                segment,
                addr: s.address(),
                size: s.size(),
                file_offset,
                file_size,
                raw_flags,
                kind,
            });
        }

        let mut mappings = Vec::new();
        match format {
            Format::Elf | Format::MachO => {
                for seg in file.segments() {
                    let (file_offset, file_size) = seg.file_range();
                    let perms = seg.permissions();
                    if seg.size() == 0 {
                        continue;
                    }
                    mappings.push(Mapping {
                        addr: seg.address(),
                        mem_size: seg.size(),
                        file_offset,
                        file_size: file_size.min(seg.size()),
                        writable: perms.writable(),
                        executable: perms.executable(),
                    });
                }
            }
            Format::Pe => {
                // PE has no segments: each section is mapped on its own.
                for s in &sections {
                    if s.size == 0 {
                        continue;
                    }
                    mappings.push(Mapping {
                        addr: s.addr,
                        mem_size: s.size.max(s.file_size),
                        file_offset: s.file_offset,
                        file_size: s.file_size,
                        writable: s.raw_flags & 0x8000_0000 != 0,
                        executable: s.raw_flags & 0x2000_0000 != 0,
                    });
                }
            }
        }
        for m in &mappings {
            if m.file_offset
                .checked_add(m.file_size)
                .is_none_or(|end| end > data.len() as u64)
            {
                return Err(container_err(
                    fname,
                    format!("segment at {:#x} extends past the end of the file", m.addr),
                ));
            }
        }
        mappings.sort_by_key(|m| m.addr);
        // Mach-O's __PAGEZERO and similar have no file bytes; they are harmless but useless.
        mappings.retain(|m| m.file_size > 0 || m.mem_size > 0);

        Ok(Container {
            format,
            arch,
            sections,
            mappings,
            image_base,
            entry: file.entry(),
        })
    }

    /// The first section called `name`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The file offset of virtual address `addr` and how many file bytes follow it in its mapping.
    pub fn va_to_file(&self, addr: u64) -> Option<(u64, u64)> {
        // Mappings are few (a handful of segments); a linear scan from the end of a binary
        // search keeps overlapping-but-legal layouts (ELF RELRO) correct.
        let i = self.mappings.partition_point(|m| m.addr <= addr);
        for m in self.mappings[..i].iter().rev() {
            let off = addr - m.addr;
            if off < m.file_size {
                return Some((m.file_offset + off, m.file_size - off));
            }
        }
        None
    }

    /// Whether `addr` falls in some mapping, backed by file bytes or not.
    pub fn is_mapped(&self, addr: u64) -> bool {
        self.mappings
            .iter()
            .any(|m| addr >= m.addr && addr - m.addr < m.mem_size)
    }
}
