//! What goscope takes from DWARF when a binary has it: the byte offsets of the runtime's structs
//! (`runtime.g`, `runtime.m`, `runtime._panic`, the map headers, …) and the addresses of its
//! globals (`runtime.allgs`, …). DWARF is authoritative for the binary it describes; the
//! built-in tables ([`crate::layouts`]) are generated from it.
//!
//! Go's linker compresses the sections (`SHF_COMPRESSED` zlib on ELF, `.zdebug_*` elsewhere);
//! the `object` crate undoes either.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use gimli::{AttributeValue, EndianSlice, LittleEndian, SectionId};
use goscope_binary::Binary;
use object::{Object, ObjectSection};

use crate::layouts::{FieldLayout, StructLayout};

/// Facts read from DWARF.
#[derive(Debug, Default, Clone)]
pub struct DwarfFacts {
    /// Struct layouts by DWARF name (`runtime.g`).
    pub structs: BTreeMap<String, StructLayout>,
    /// Addresses of global variables by name (`runtime.allgs`).
    pub vars: HashMap<String, u64>,
}

/// Why DWARF could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DwarfError {
    /// The binary has no `.debug_info`.
    #[error("no DWARF (the binary was built with -ldflags=-w or stripped)")]
    Absent,
    /// The sections are there but malformed.
    #[error("malformed DWARF: {0}")]
    Malformed(String),
}

pub(crate) fn section_data<'a>(file: &object::File<'a>, id: SectionId) -> Cow<'a, [u8]> {
    let name = id.name();
    let zname = name.strip_prefix('.').map(|n| format!(".z{n}"));
    let sect = file
        .section_by_name(name)
        .or_else(|| zname.as_deref().and_then(|z| file.section_by_name(z)))
        .or_else(|| {
            let macho = format!("__{}", name.trim_start_matches('.'));
            file.section_by_name(&macho)
        });
    let Some(s) = sect else {
        return Cow::Borrowed(&[]);
    };
    // The uncompressed size is read from the file: refuse sizes no real compression reaches
    // (DWARF compresses about 3:1) before allocating for them.
    match s.compressed_data() {
        Ok(c) if c.format == object::CompressionFormat::None => Cow::Borrowed(c.data),
        Ok(c)
            if c.uncompressed_size <= (c.data.len() as u64).saturating_mul(64) + (1 << 20)
                && c.uncompressed_size <= 1 << 32 =>
        {
            c.decompress().unwrap_or(Cow::Borrowed(&[]))
        }
        _ => Cow::Borrowed(&[]),
    }
}

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// A string attribute: inline (`DW_FORM_string`, what Go emits) or in `.debug_str`.
fn string<'a>(dwarf: &gimli::Dwarf<Slice<'a>>, a: AttributeValue<Slice<'a>>) -> Option<Slice<'a>> {
    match a {
        AttributeValue::String(s) => Some(s),
        AttributeValue::DebugStrRef(o) => dwarf.debug_str.get_str(o).ok(),
        AttributeValue::DebugLineStrRef(o) => dwarf.debug_line_str.get_str(o).ok(),
        _ => None,
    }
}

/// Reads the layouts of the structs named in `structs` and the addresses of the globals named in
/// `vars`. Only the top level of each compilation unit is searched: Go puts types and package
/// variables there.
pub fn read(bin: &Binary, structs: &[&str], vars: &[&str]) -> Result<DwarfFacts, DwarfError> {
    if !bin.has_dwarf() {
        return Err(DwarfError::Absent);
    }
    let file = object::File::parse(bin.data()).map_err(|e| DwarfError::Malformed(e.to_string()))?;
    let mut owned: HashMap<SectionId, Cow<'_, [u8]>> = HashMap::new();
    for id in [
        SectionId::DebugInfo,
        SectionId::DebugAbbrev,
        SectionId::DebugStr,
        SectionId::DebugLineStr,
        SectionId::DebugStrOffsets,
        SectionId::DebugAddr,
    ] {
        owned.insert(id, section_data(&file, id));
    }
    if owned
        .get(&SectionId::DebugInfo)
        .is_none_or(|d| d.is_empty())
    {
        return Err(DwarfError::Absent);
    }
    let dwarf = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
        let data: &[u8] = owned.get(&id).map_or(&[], |c| c.as_ref());
        Ok(EndianSlice::new(data, LittleEndian))
    })
    .map_err(|e| DwarfError::Malformed(e.to_string()))?;

    let want_structs: HashSet<&str> = structs.iter().copied().collect();
    let want_vars: HashSet<&str> = vars.iter().copied().collect();
    let mut facts = DwarfFacts::default();
    let bad = |e: gimli::Error| DwarfError::Malformed(e.to_string());
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(bad)? {
        // Only types and globals are wanted: skip `dwarf.unit()`, which would also parse the
        // line program (and need `.debug_line` decompressed).
        let abbrevs = dwarf.abbreviations(&header).map_err(bad)?;
        let mut tree = header.entries_tree(&abbrevs, None).map_err(bad)?;
        let root = tree.root().map_err(bad)?;
        let mut children = root.children();
        while let Some(node) = children.next().map_err(bad)? {
            let e = node.entry();
            let tag = e.tag();
            if tag != gimli::DW_TAG_structure_type && tag != gimli::DW_TAG_variable {
                continue;
            }
            let Some(name) = e
                .attr_value(gimli::DW_AT_name)
                .and_then(|a| string(&dwarf, a))
            else {
                continue;
            };
            let name = String::from_utf8_lossy(name.slice()).into_owned();
            if tag == gimli::DW_TAG_variable {
                if want_vars.contains(name.as_str())
                    && let Some(AttributeValue::Exprloc(expr)) = e.attr_value(gimli::DW_AT_location)
                    && let [0x03, rest @ ..] = expr.0.slice()
                    && let Some(addr) = rest.get(..8)
                {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(addr);
                    facts.vars.insert(name, u64::from_le_bytes(a));
                }
                continue;
            }
            if !want_structs.contains(name.as_str()) || facts.structs.contains_key(&name) {
                continue;
            }
            let size = e
                .attr_value(gimli::DW_AT_byte_size)
                .and_then(|v| v.udata_value())
                .unwrap_or(0);
            let mut fields = Vec::new();
            let mut members = node.children();
            while let Some(m) = members.next().map_err(bad)? {
                let me = m.entry();
                if me.tag() != gimli::DW_TAG_member {
                    continue;
                }
                let Some(fname) = me
                    .attr_value(gimli::DW_AT_name)
                    .and_then(|a| string(&dwarf, a))
                else {
                    continue;
                };
                let Some(off) = me
                    .attr_value(gimli::DW_AT_data_member_location)
                    .and_then(|v| v.udata_value())
                else {
                    continue;
                };
                fields.push(FieldLayout {
                    name: String::from_utf8_lossy(fname.slice()).into_owned(),
                    offset: off,
                });
            }
            facts.structs.insert(name, StructLayout { size, fields });
        }
    }
    Ok(facts)
}
