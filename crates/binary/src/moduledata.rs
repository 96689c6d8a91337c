//! `runtime.firstmoduledata`: the linker-built table that ties the pclntab, text, data, types
//! and funcdata together. Found by symbol, by the dedicated section of Go 1.26+, or — stripped —
//! by scanning data for a word equal to the pclntab address and validating the fields that must
//! point into the pclntab. See `FORMATS.md` §2.

use serde::Serialize;

use crate::pclntab::{PclntabLocation, PclntabVersion};

/// The fields of `moduledata` goscope uses. Addresses are as stored in the file (link-time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Moduledata {
    /// Address of the moduledata itself.
    pub addr: u64,
    /// How it was found: `symbol`, `section` or `scan`.
    pub found_by: &'static str,
    /// `runtime.text`: start of Go text.
    pub text: u64,
    /// `runtime.etext`.
    pub etext: u64,
    /// minpc / maxpc of the function table.
    pub minpc: u64,
    /// See `minpc`.
    pub maxpc: u64,
    /// `noptrdata`..`enoptrdata`.
    pub noptrdata: (u64, u64),
    /// `data`..`edata`.
    pub data: (u64, u64),
    /// `bss`..`ebss`.
    pub bss: (u64, u64),
    /// `noptrbss`..`enoptrbss`.
    pub noptrbss: (u64, u64),
    /// `types`..`etypes`.
    pub types: (u64, u64),
    /// Go 1.27+: the length of the typelink descriptors at the start of `types` (which replace
    /// the `typelinks` slice: the runtime walks the descriptors); 0 before.
    pub typedesclen: u64,
    /// `go:func.*`, the base of 1.18+ funcdata offsets (0 before 1.18).
    pub gofunc: u64,
    /// `textsectmap` slice: address and length.
    pub textsectmap: (u64, u64),
    /// `typelinks` slice (offsets from `types`): address and length; (0, 0) since Go 1.27,
    /// which has [`Moduledata::typedesclen`] instead.
    pub typelinks: (u64, u64),
}

/// Word indexes of fields in one moduledata layout.
struct Layout {
    /// Index of a word that must equal the pclntab address, and what else to check.
    text: usize,
    minpc: usize,
    noptrdata: usize,
    types: usize,
    /// Go 1.27: `types, typedesclen, etypes` (else `types, etypes`).
    typedesclen: bool,
    gofunc: Option<usize>,
    /// Go 1.26+: `epclntab` right after `gofunc`.
    epclntab: bool,
    textsectmap: usize,
    /// Before 1.27: the `typelinks` slice right after `textsectmap`.
    typelinks: bool,
    /// Go 1.16+: slices into the pclntab at words 1, 4, 7, 10 (funcnametab, cutab, filetab,
    /// pctab) and 16 (ftab).
    modern: bool,
}

/// Layouts by generation. `go126` adds `epclntab` after `gofunc`; `go127` adds `typedesclen`
/// after `types` and `itaboffset, itabsize` before `rodata`, and drops the `typelinks` and
/// `itablinks` slices. Neither can be told apart from 1.20–1.25 by the pclntab magic, so all three
/// are tried, newest first.
fn layouts(v: PclntabVersion) -> &'static [Layout] {
    const L12: Layout = Layout {
        text: 12,
        minpc: 10,
        noptrdata: 14,
        types: 25,
        gofunc: None,
        textsectmap: 27,
        modern: false,
        typedesclen: false,
        epclntab: false,
        typelinks: true,
    };
    const L116: Layout = Layout {
        text: 22,
        minpc: 20,
        noptrdata: 24,
        types: 35,
        gofunc: None,
        textsectmap: 37,
        modern: true,
        typedesclen: false,
        epclntab: false,
        typelinks: true,
    };
    const L118: Layout = Layout {
        text: 22,
        minpc: 20,
        noptrdata: 24,
        types: 35,
        gofunc: Some(38),
        textsectmap: 39,
        modern: true,
        typedesclen: false,
        epclntab: false,
        typelinks: true,
    };
    const L120: Layout = Layout {
        text: 22,
        minpc: 20,
        noptrdata: 24,
        types: 37,
        gofunc: Some(40),
        textsectmap: 41,
        modern: true,
        typedesclen: false,
        epclntab: false,
        typelinks: true,
    };
    const L126: Layout = Layout {
        text: 22,
        minpc: 20,
        noptrdata: 24,
        types: 37,
        gofunc: Some(40),
        textsectmap: 42,
        modern: true,
        typedesclen: false,
        epclntab: true,
        typelinks: true,
    };
    const L127: Layout = Layout {
        text: 22,
        minpc: 20,
        noptrdata: 24,
        types: 37,
        gofunc: Some(43),
        textsectmap: 45,
        modern: true,
        typedesclen: true,
        epclntab: true,
        typelinks: false,
    };
    match v {
        PclntabVersion::Go12 => &[L12],
        PclntabVersion::Go116 => &[L116],
        PclntabVersion::Go118 => &[L118],
        PclntabVersion::Go120 => &[L127, L126, L120],
    }
}

/// Decodes and validates a moduledata candidate. `words` reads the pointer-sized word at an
/// index (relative to the candidate); `in_text` tells whether an address is in executable code.
pub(crate) fn decode(
    addr: u64,
    pcln: &PclntabLocation,
    words: &dyn Fn(usize) -> Option<u64>,
    found_by: &'static str,
) -> Option<Moduledata> {
    if words(0)? != pcln.addr {
        return None;
    }
    'layout: for l in layouts(pcln.version) {
        if l.modern {
            // funcnametab, cutab, filetab, pctab, pclntable, ftab: pointers into the pclntab.
            for idx in [1, 4, 7, 10, 13, 16] {
                let p = words(idx)?;
                if p < pcln.addr || p >= pcln.addr + pcln.size as u64 {
                    continue 'layout;
                }
            }
            // ftab's length is nfunc+1.
            if words(17)? != pcln.nfunc as u64 + 1 {
                continue 'layout;
            }
        } else if words(3)? < pcln.addr {
            continue 'layout;
        }
        let text = words(l.text)?;
        let etext = words(l.text + 1)?;
        let minpc = words(l.minpc)?;
        let maxpc = words(l.minpc + 1)?;
        if text > etext || minpc > maxpc || minpc < text || maxpc > etext + 0x1000_0000 {
            continue;
        }
        let pair = |i: usize| Some((words(i)?, words(i + 1)?));
        let gofunc = match l.gofunc {
            Some(i) => words(i)?,
            None => 0,
        };
        let textsectmap = pair(l.textsectmap)?;
        // textsectmap's cap must equal its length in every release: a cheap check that tells
        // the 1.26 layout (with epclntab) from the 1.20 one.
        if words(l.textsectmap + 2)? != textsectmap.1 || textsectmap.1 > 64 {
            continue;
        }
        if let Some(gi) = l.gofunc
            && l.epclntab
        {
            // 1.26+: epclntab follows gofunc and must be past the pclntab start.
            let epcln = words(gi + 1)?;
            if epcln < pcln.addr {
                continue;
            }
        }
        let types = if l.typedesclen {
            // 1.27: the typelink descriptors lie within types..etypes.
            let (start, len, end) = (words(l.types)?, words(l.types + 1)?, words(l.types + 2)?);
            if start > end || len > end - start {
                continue;
            }
            (start, end)
        } else {
            pair(l.types)?
        };
        return Some(Moduledata {
            addr,
            found_by,
            text,
            etext,
            minpc,
            maxpc,
            noptrdata: pair(l.noptrdata)?,
            data: pair(l.noptrdata + 2)?,
            bss: pair(l.noptrdata + 4)?,
            noptrbss: pair(l.noptrdata + 6)?,
            types,
            typedesclen: if l.typedesclen {
                words(l.types + 1)?
            } else {
                0
            },
            gofunc,
            textsectmap,
            typelinks: if l.typelinks {
                pair(l.textsectmap + 3)?
            } else {
                (0, 0)
            },
        });
    }
    None
}
