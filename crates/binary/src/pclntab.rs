//! The Go pc-line table (`pclntab`): function table, function records, pc-value tables, file
//! names. All four layouts (Go 1.2, 1.16, 1.18, 1.20+) are read; see `FORMATS.md` §1 and
//! `runtime/symtab.go`.
//!
//! [`Pclntab`] is a borrowed view built in constant time from a [`PclntabLocation`]; nothing is
//! decoded until asked for, and every offset read from the table is bounds-checked.

use serde::Serialize;

use crate::TextSect;
use crate::error::{Error, Result};
use crate::read::{cstr_at, u8_at, u32_at, word_at};

/// The layout generation of a pclntab, named by the first Go release that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum PclntabVersion {
    /// Go 1.2 – 1.15 (magic `0xfffffffb`).
    #[serde(rename = "go1.2")]
    Go12,
    /// Go 1.16 – 1.17 (magic `0xfffffffa`).
    #[serde(rename = "go1.16")]
    Go116,
    /// Go 1.18 – 1.19 (magic `0xfffffff0`).
    #[serde(rename = "go1.18")]
    Go118,
    /// Go 1.20 and later (magic `0xfffffff1`).
    #[serde(rename = "go1.20")]
    Go120,
}

impl PclntabVersion {
    /// The magic number that opens a pclntab of this version.
    pub fn magic(self) -> u32 {
        match self {
            PclntabVersion::Go12 => 0xffff_fffb,
            PclntabVersion::Go116 => 0xffff_fffa,
            PclntabVersion::Go118 => 0xffff_fff0,
            PclntabVersion::Go120 => 0xffff_fff1,
        }
    }

    /// The version whose magic is `magic`.
    pub fn from_magic(magic: u32) -> Option<PclntabVersion> {
        match magic {
            0xffff_fffb => Some(PclntabVersion::Go12),
            0xffff_fffa => Some(PclntabVersion::Go116),
            0xffff_fff0 => Some(PclntabVersion::Go118),
            0xffff_fff1 => Some(PclntabVersion::Go120),
            _ => None,
        }
    }

    /// How users name it: `go1.2`, `go1.16`, `go1.18`, `go1.20`.
    pub fn name(self) -> &'static str {
        match self {
            PclntabVersion::Go12 => "go1.2",
            PclntabVersion::Go116 => "go1.16",
            PclntabVersion::Go118 => "go1.18",
            PclntabVersion::Go120 => "go1.20",
        }
    }
}

/// Where a pclntab lives in the file and the parsed header. Cheap to copy; turned into a
/// [`Pclntab`] view over the file bytes with [`PclntabLocation::view`].
#[derive(Debug, Clone, Copy)]
pub struct PclntabLocation {
    /// File offset of the header.
    pub offset: usize,
    /// Length of the table in the file (to the end of its section when unknown).
    pub size: usize,
    /// Virtual address of the header.
    pub addr: u64,
    /// Layout generation.
    pub version: PclntabVersion,
    /// pc quantum: 1 on x86, 4 on arm/arm64.
    pub quantum: u8,
    /// Pointer size: 4 or 8.
    pub ptr_size: u8,
    /// Number of functions.
    pub nfunc: usize,
    /// Number of file names (Go 1.16+; 1.2 stores it with its file table).
    pub nfiles: usize,
    /// The address function entries are relative to (Go 1.18+).
    pub text_start: u64,
    funcnametab: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    /// Start of the function table; also the base of `_func` offsets (1.16+).
    functab: usize,
    /// Base of `_func` offsets.
    funcdata: usize,
    /// Size of one functab field: pointer size before 1.18, 4 after.
    field_size: u8,
}

impl PclntabLocation {
    /// Parses the header at the start of `table` (the bytes from the header to the end of the
    /// section or file), checking that every region it names is inside `table` and that the
    /// function table is sorted. `text_start` is the address 1.18+ entry offsets are relative to.
    pub fn parse(table: &[u8], offset: usize, addr: u64, text_start: u64) -> Result<Self> {
        let bad = |m: &str| Error::Pclntab(m.to_string());
        if table.len() < 16 {
            return Err(bad("header truncated"));
        }
        let magic = u32_at(table, 0).ok_or_else(|| bad("header truncated"))?;
        let version = PclntabVersion::from_magic(magic)
            .ok_or_else(|| Error::Pclntab(format!("unknown magic {magic:#010x}")))?;
        let quantum = table[6];
        let ptr_size = table[7];
        if table[4] != 0 || table[5] != 0 {
            return Err(bad("header padding is not zero"));
        }
        if !matches!(quantum, 1 | 2 | 4) {
            return Err(Error::Pclntab(format!("bad pc quantum {quantum}")));
        }
        if !matches!(ptr_size, 4 | 8) {
            return Err(Error::Pclntab(format!("bad pointer size {ptr_size}")));
        }
        let word = |i: usize| -> Result<u64> {
            word_at(table, 8 + i * ptr_size as usize, ptr_size)
                .ok_or_else(|| bad("header truncated"))
        };
        let region = |v: u64, what: &str| -> Result<usize> {
            if v >= table.len() as u64 {
                Err(Error::Pclntab(format!(
                    "{what} offset {v:#x} is past the end of the table ({:#x} bytes)",
                    table.len()
                )))
            } else {
                Ok(v as usize)
            }
        };
        let ps = ptr_size as usize;
        let mut loc = PclntabLocation {
            offset,
            size: table.len(),
            addr,
            version,
            quantum,
            ptr_size,
            nfunc: 0,
            nfiles: 0,
            text_start,
            funcnametab: 0,
            cutab: 0,
            filetab: 0,
            pctab: 0,
            functab: 0,
            funcdata: 0,
            field_size: if version >= PclntabVersion::Go118 {
                4
            } else {
                ptr_size
            },
        };
        match version {
            PclntabVersion::Go12 => {
                loc.nfunc = clamp_count(word(0)?, table.len())?;
                loc.functab = 8 + ps;
                loc.funcdata = 0;
                loc.funcnametab = 0;
                loc.pctab = 0;
                let functab_size = (loc.nfunc * 2 + 1) * ps;
                let fileoff_at = loc.functab + functab_size;
                let fileoff = u32_at(table, fileoff_at).ok_or_else(|| bad("functab truncated"))?;
                loc.filetab = region(u64::from(fileoff), "file table")?;
                let n = u32_at(table, loc.filetab).ok_or_else(|| bad("file table truncated"))?;
                loc.nfiles = clamp_count(u64::from(n), table.len() / 4)?;
                if loc.filetab + loc.nfiles * 4 > table.len() {
                    return Err(bad("file table truncated"));
                }
            }
            PclntabVersion::Go116 => {
                loc.nfunc = clamp_count(word(0)?, table.len())?;
                loc.nfiles = clamp_count(word(1)?, table.len())?;
                loc.funcnametab = region(word(2)?, "function name table")?;
                loc.cutab = region(word(3)?, "compilation unit table")?;
                loc.filetab = region(word(4)?, "file table")?;
                loc.pctab = region(word(5)?, "pc table")?;
                loc.functab = region(word(6)?, "function table")?;
                loc.funcdata = loc.functab;
            }
            PclntabVersion::Go118 | PclntabVersion::Go120 => {
                loc.nfunc = clamp_count(word(0)?, table.len())?;
                loc.nfiles = clamp_count(word(1)?, table.len())?;
                loc.funcnametab = region(word(3)?, "function name table")?;
                loc.cutab = region(word(4)?, "compilation unit table")?;
                loc.filetab = region(word(5)?, "file table")?;
                loc.pctab = region(word(6)?, "pc table")?;
                loc.functab = region(word(7)?, "function table")?;
                loc.funcdata = loc.functab;
            }
        }
        let functab_bytes = (loc.nfunc * 2 + 1)
            .checked_mul(loc.field_size as usize)
            .ok_or_else(|| bad("function count overflows"))?;
        if loc.functab + functab_bytes > table.len() {
            return Err(Error::Pclntab(format!(
                "function table of {} entries does not fit in the table",
                loc.nfunc
            )));
        }
        if loc.nfunc == 0 {
            return Err(bad("no functions"));
        }
        let view = loc.view_of(table);
        view.validate()?;
        Ok(loc)
    }

    /// The header fields as read, without validation; used by the stripped-binary scan to
    /// reject candidates cheaply before [`PclntabLocation::parse`].
    pub fn looks_like_header(bytes: &[u8]) -> bool {
        bytes.len() >= 8
            && matches!(bytes[0], 0xfb | 0xfa | 0xf0 | 0xf1)
            && bytes[1..4] == [0xff, 0xff, 0xff]
            && bytes[4] == 0
            && bytes[5] == 0
            && matches!(bytes[6], 1 | 2 | 4)
            && matches!(bytes[7], 4 | 8)
    }

    /// The view over the file bytes `file`.
    pub fn view<'a>(&self, file: &'a [u8]) -> Pclntab<'a> {
        let table = file
            .get(self.offset..self.offset.saturating_add(self.size))
            .unwrap_or(&[]);
        self.view_of(table)
    }

    fn view_of<'a>(&self, table: &'a [u8]) -> Pclntab<'a> {
        Pclntab {
            loc: *self,
            data: table,
            text_sects: &[],
        }
    }
}

/// A count read from the file, refused when it cannot possibly fit in `limit` bytes.
fn clamp_count(v: u64, limit: usize) -> Result<usize> {
    if v > limit as u64 {
        Err(Error::Pclntab(format!(
            "count {v} is larger than the table itself"
        )))
    } else {
        Ok(v as usize)
    }
}

/// A borrowed view of a pclntab.
#[derive(Clone, Copy)]
pub struct Pclntab<'a> {
    loc: PclntabLocation,
    data: &'a [u8],
    text_sects: &'a [TextSect],
}

/// Index of a function in the function table.
pub type FuncIndex = usize;

impl<'a> Pclntab<'a> {
    /// The same view, mapping entry offsets through `sects` (binaries with several text
    /// sections).
    pub fn with_text_sects(mut self, sects: &'a [TextSect]) -> Pclntab<'a> {
        self.text_sects = sects;
        self
    }

    /// The location and header.
    pub fn location(&self) -> &PclntabLocation {
        &self.loc
    }

    /// Layout generation.
    pub fn version(&self) -> PclntabVersion {
        self.loc.version
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.loc.nfunc
    }

    /// Whether the table has no functions (never true for a parsed table).
    pub fn is_empty(&self) -> bool {
        self.loc.nfunc == 0
    }

    /// Number of file names (the distinct entries of the file table).
    pub fn nfiles(&self) -> usize {
        self.loc.nfiles
    }

    /// The raw bytes of the table.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    fn field(&self, i: usize) -> Option<u64> {
        let off = self.loc.functab + i * self.loc.field_size as usize;
        word_at(self.data, off, self.loc.field_size)
    }

    /// Entry pc of function `i`; `i == len()` gives the end of the last function.
    pub fn entry(&self, i: FuncIndex) -> u64 {
        let v = self.field(2 * i).unwrap_or(0);
        if self.loc.version >= PclntabVersion::Go118 {
            self.text_addr(v)
        } else {
            v
        }
    }

    /// The address of text offset `off` (the runtime's `textAddr`).
    fn text_addr(&self, off: u64) -> u64 {
        let last = self.text_sects.len().wrapping_sub(1);
        for (i, s) in self.text_sects.iter().enumerate() {
            if (off >= s.vaddr && off < s.end) || (i == last && off == s.end) {
                return s.baseaddr.wrapping_add(off - s.vaddr);
            }
        }
        self.loc.text_start.wrapping_add(off)
    }

    /// The end of the text the table covers.
    pub fn end_pc(&self) -> u64 {
        self.entry(self.loc.nfunc)
    }

    fn func_offset(&self, i: FuncIndex) -> Option<usize> {
        let off = self.field(2 * i + 1)?;
        let off = (self.loc.funcdata as u64).checked_add(off)?;
        if off >= self.data.len() as u64 {
            None
        } else {
            Some(off as usize)
        }
    }

    /// The index of the function whose range `[entry(i), entry(i+1))` holds `pc`, as
    /// `debug/gosym` and the runtime find it.
    pub fn find_func_index(&self, pc: u64) -> Option<FuncIndex> {
        let n = self.loc.nfunc;
        if pc < self.entry(0) || pc >= self.entry(n) {
            return None;
        }
        // Binary search: the first index whose entry is > pc, minus one.
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid) > pc {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo.checked_sub(1)
    }

    /// The function record of function `i`.
    pub fn func(&self, i: FuncIndex) -> Option<Func<'a>> {
        if i >= self.loc.nfunc {
            return None;
        }
        let off = self.func_offset(i)?;
        let rec = Func {
            tab: *self,
            index: i,
            off,
        };
        // The fixed part must be in bounds; fields read later are checked again.
        if off + rec.fixed_size() > self.data.len() {
            return None;
        }
        Some(rec)
    }

    /// The function containing `pc`.
    pub fn find_func(&self, pc: u64) -> Option<Func<'a>> {
        self.func(self.find_func_index(pc)?)
    }

    /// Iterates over all function records (skipping any that are out of bounds).
    pub fn funcs(&self) -> impl Iterator<Item = Func<'a>> + '_ {
        (0..self.loc.nfunc).filter_map(move |i| self.func(i))
    }

    /// Name at `off` in the function name table.
    pub fn func_name(&self, off: u32) -> Option<&'a str> {
        let s = cstr_at(self.data, self.loc.funcnametab.checked_add(off as usize)?)?;
        std::str::from_utf8(s).ok()
    }

    /// Name bytes at `off` in the function name table (names are not always UTF-8).
    pub fn func_name_bytes(&self, off: u32) -> Option<&'a [u8]> {
        cstr_at(self.data, self.loc.funcnametab.checked_add(off as usize)?)
    }

    /// File name for file number `fno` of the compilation unit at `cu_offset`.
    pub fn file_name(&self, cu_offset: u32, fno: i32) -> Option<&'a [u8]> {
        match self.loc.version {
            PclntabVersion::Go12 => {
                if fno <= 0 {
                    return None;
                }
                let off = u32_at(self.data, self.loc.filetab + 4 * fno as usize)?;
                cstr_at(self.data, off as usize)
            }
            _ => {
                if fno < 0 {
                    return None;
                }
                // u32 arithmetic that wraps, as both the runtime (`cutab[cuOffset+fileno]`) and
                // debug/gosym do: a function without a compilation unit (cuOffset ^0) reads
                // entry fno-1 of the table.
                let idx = cu_offset.wrapping_add(fno as u32).wrapping_mul(4) as usize;
                let off = u32_at(self.data, self.loc.cutab.checked_add(idx)?)?;
                if off == u32::MAX {
                    return None;
                }
                cstr_at(self.data, self.loc.filetab.checked_add(off as usize)?)
            }
        }
    }

    /// All file names in the file table, in table order.
    pub fn file_names(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        match self.loc.version {
            PclntabVersion::Go12 => {
                for i in 1..self.loc.nfiles {
                    if let Some(off) = u32_at(self.data, self.loc.filetab + 4 * i)
                        && let Some(s) = cstr_at(self.data, off as usize)
                    {
                        out.push(s);
                    }
                }
            }
            _ => {
                let mut pos = self.loc.filetab;
                let end = self.loc.pctab.max(self.loc.filetab);
                while out.len() < self.loc.nfiles && pos < end {
                    let Some(s) = cstr_at(self.data, pos) else {
                        break;
                    };
                    out.push(s);
                    pos += s.len() + 1;
                }
            }
        }
        out
    }

    /// Decodes the pc-value table at `off` for a function entered at `entry` and returns the
    /// value at `target`, or `None` when the table does not cover `target`. This is the
    /// runtime's `pcvalue`: a zig-zag value delta then a pc delta (times the quantum), until a
    /// zero value delta after the first pair.
    pub fn pcvalue(&self, off: u32, entry: u64, target: u64) -> Option<i32> {
        let mut it = self.pcvalue_iter(off, entry)?;
        for (start, end, val) in &mut it {
            if target < end {
                return if target >= start { Some(val) } else { None };
            }
        }
        None
    }

    /// Iterates over the `(start, end, value)` runs of the pc-value table at `off`.
    pub fn pcvalue_iter(&self, off: u32, entry: u64) -> Option<PcValueIter<'a>> {
        if off == 0 {
            return None;
        }
        let start = self.loc.pctab.checked_add(off as usize)?;
        if start >= self.data.len() {
            return None;
        }
        Some(PcValueIter {
            data: self.data,
            pos: start,
            pc: entry,
            val: -1,
            first: true,
            quantum: u64::from(self.loc.quantum),
            done: false,
        })
    }

    /// `debug/gosym`'s variant of `pcvalue`, kept for byte-compatibility with
    /// `go tool addr2line`: it treats any pair that leaves the pc at the entry as "first", and
    /// returns -1 when the table does not cover `target`.
    pub fn gosym_pcvalue(&self, off: u32, entry: u64, target: u64) -> i32 {
        let mut out = [-1];
        self.gosym_pcvalues(off, entry, &[target], &mut out);
        out[0]
    }

    /// [`Pclntab::gosym_pcvalue`] for many targets at once, in one pass over the table:
    /// `targets` must be sorted ascending; `out[i]` receives the value at `targets[i]`.
    pub fn gosym_pcvalues(&self, off: u32, entry: u64, targets: &[u64], out: &mut [i32]) {
        out.fill(-1);
        let Some(mut pos) = self.loc.pctab.checked_add(off as usize) else {
            return;
        };
        let mut val: i32 = -1;
        let mut pc = entry;
        let q = u64::from(self.loc.quantum);
        let mut t = 0;
        while t < targets.len() {
            let first = pc == entry;
            let Some(uv) = uvarint32(self.data, &mut pos) else {
                return;
            };
            if uv == 0 && !first {
                return;
            }
            let delta = if uv & 1 != 0 { !(uv >> 1) } else { uv >> 1 } as i32;
            let Some(pcd) = uvarint32(self.data, &mut pos) else {
                return;
            };
            pc = pc.wrapping_add(u64::from(pcd).wrapping_mul(q));
            val = val.wrapping_add(delta);
            while t < targets.len() && targets[t] < pc {
                out[t] = val;
                t += 1;
            }
        }
    }

    fn validate(&self) -> Result<()> {
        let n = self.loc.nfunc;
        // Sorted entries, and the first and last function records in bounds: cheap checks that
        // reject random bytes that happen to start with a magic.
        let mut prev = self.entry(0);
        let step = (n / 4096).max(1);
        let mut i = step;
        while i <= n {
            let e = self.entry(i);
            if e < prev {
                return Err(Error::Pclntab(format!(
                    "function table is not sorted at entry {i}"
                )));
            }
            prev = e;
            i += step;
        }
        if self.entry(n) < self.entry(0) {
            return Err(Error::Pclntab(
                "function table end precedes its start".into(),
            ));
        }
        for i in [0, n - 1] {
            let f = self
                .func(i)
                .ok_or_else(|| Error::Pclntab(format!("function record {i} is out of bounds")))?;
            if f.name_bytes().is_none() {
                return Err(Error::Pclntab(format!("function record {i} has no name")));
            }
        }
        Ok(())
    }
}

/// Reads a varint as `debug/gosym` does, into 32 bits (valid tables never need more).
#[inline]
fn uvarint32(data: &[u8], pos: &mut usize) -> Option<u32> {
    // Most deltas fit in one byte.
    let b = *data.get(*pos)?;
    if b < 0x80 {
        *pos += 1;
        return Some(u32::from(b));
    }
    uvarint32_slow(data, pos)
}

#[cold]
fn uvarint32_slow(data: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift < 32 {
            v |= u32::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Iterator over the runs of a pc-value table: `(start_pc, end_pc, value)`.
pub struct PcValueIter<'a> {
    data: &'a [u8],
    pos: usize,
    pc: u64,
    val: i32,
    first: bool,
    quantum: u64,
    done: bool,
}

impl Iterator for PcValueIter<'_> {
    type Item = (u64, u64, i32);
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some(uv) = uvarint32(self.data, &mut self.pos) else {
            self.done = true;
            return None;
        };
        if uv == 0 && !self.first {
            self.done = true;
            return None;
        }
        self.first = false;
        let delta = if uv & 1 != 0 { !(uv >> 1) } else { uv >> 1 } as i32;
        let Some(pcd) = uvarint32(self.data, &mut self.pos) else {
            self.done = true;
            return None;
        };
        let start = self.pc;
        self.pc = self
            .pc
            .wrapping_add(u64::from(pcd).wrapping_mul(self.quantum));
        self.val = self.val.wrapping_add(delta);
        if self.pc < start {
            self.done = true;
            return None;
        }
        Some((start, self.pc, self.val))
    }
}

/// Well-known `PCDATA` table indexes.
pub mod pcdata {
    /// Unsafe points.
    pub const UNSAFE_POINT: u32 = 0;
    /// Stack map index.
    pub const STACK_MAP_INDEX: u32 = 1;
    /// Inline tree index.
    pub const INL_TREE_INDEX: u32 = 2;
}

/// Well-known `FUNCDATA` indexes.
pub mod funcdata {
    /// Argument pointer maps.
    pub const ARGS_POINTER_MAPS: u8 = 0;
    /// Local pointer maps.
    pub const LOCALS_POINTER_MAPS: u8 = 1;
    /// Stack objects.
    pub const STACK_OBJECTS: u8 = 2;
    /// The inline tree.
    pub const INL_TREE: u8 = 3;
    /// Open-coded defer info.
    pub const OPEN_CODED_DEFER_INFO: u8 = 4;
    /// Argument info (for tracebacks).
    pub const ARG_INFO: u8 = 5;
}

/// `_func.flag` bits (Go 1.17+).
pub mod funcflag {
    /// The function is the top of a stack (goexit, mstart, rt0_go).
    pub const TOP_FRAME: u8 = 1;
    /// The function writes SP in a way the unwinder cannot follow.
    pub const SP_WRITE: u8 = 2;
    /// The function is written in assembly.
    pub const ASM: u8 = 4;
}

/// Where a funcdata entry points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncDataRef {
    /// Offset from `moduledata.gofunc` (Go 1.18+).
    GoFuncOffset(u32),
    /// Absolute virtual address (before Go 1.18).
    Address(u64),
}

/// One function record (`runtime._func`).
#[derive(Clone, Copy)]
pub struct Func<'a> {
    tab: Pclntab<'a>,
    index: FuncIndex,
    off: usize,
}

impl std::fmt::Debug for Func<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Func")
            .field("index", &self.index)
            .field("name", &self.name())
            .field("entry", &format_args!("{:#x}", self.entry()))
            .finish()
    }
}

impl<'a> Func<'a> {
    fn base(&self) -> usize {
        if self.tab.loc.version >= PclntabVersion::Go118 {
            4
        } else {
            self.tab.loc.ptr_size as usize
        }
    }

    fn fixed_size(&self) -> usize {
        let b = self.base();
        match self.tab.loc.version {
            PclntabVersion::Go12 => b + 32,
            PclntabVersion::Go116 | PclntabVersion::Go118 => b + 36,
            PclntabVersion::Go120 => b + 40,
        }
    }

    /// The `n`th 4-byte field after the entry (n = 0 is nameOff), as `debug/gosym` numbers them
    /// minus one.
    fn field(&self, n: usize) -> u32 {
        u32_at(self.tab.data, self.off + self.base() + 4 * n).unwrap_or(0)
    }

    /// The table this record belongs to.
    pub fn table(&self) -> &Pclntab<'a> {
        &self.tab
    }

    /// Index in the function table.
    pub fn index(&self) -> FuncIndex {
        self.index
    }

    /// Entry pc, as the function table gives it.
    pub fn entry(&self) -> u64 {
        self.tab.entry(self.index)
    }

    /// The next function's entry: the end of this function's range in the table (including
    /// any padding after its last instruction).
    pub fn end(&self) -> u64 {
        self.tab.entry(self.index + 1)
    }

    /// Entry pc as the record itself stores it.
    pub fn record_entry(&self) -> u64 {
        if self.tab.loc.version >= PclntabVersion::Go118 {
            let v = u32_at(self.tab.data, self.off).unwrap_or(0);
            self.tab.text_addr(u64::from(v))
        } else {
            word_at(self.tab.data, self.off, self.tab.loc.ptr_size).unwrap_or(0)
        }
    }

    /// The function name's offset in the name table.
    pub fn name_off(&self) -> u32 {
        self.field(0)
    }

    /// The function name, `?` if unreadable.
    pub fn name(&self) -> &'a str {
        self.tab.func_name(self.name_off()).unwrap_or("?")
    }

    /// The function name as raw bytes.
    pub fn name_bytes(&self) -> Option<&'a [u8]> {
        self.tab.func_name_bytes(self.name_off())
    }

    /// Size of the arguments (and results) in bytes.
    pub fn args(&self) -> i32 {
        self.field(1) as i32
    }

    /// Offset of the deferreturn call (0 if none).
    pub fn deferreturn(&self) -> u32 {
        self.field(2)
    }

    /// Offset of the pc→SP-delta table.
    pub fn pcsp(&self) -> u32 {
        self.field(3)
    }

    /// Offset of the pc→file-number table.
    pub fn pcfile(&self) -> u32 {
        self.field(4)
    }

    /// Offset of the pc→line table.
    pub fn pcln(&self) -> u32 {
        self.field(5)
    }

    /// Number of pcdata tables.
    pub fn npcdata(&self) -> u32 {
        self.field(6)
    }

    /// Compilation unit offset into the cutab (Go 1.16+).
    pub fn cu_offset(&self) -> u32 {
        if self.tab.loc.version >= PclntabVersion::Go116 {
            self.field(7)
        } else {
            0
        }
    }

    /// The line of the `func` keyword (Go 1.20+).
    pub fn start_line(&self) -> Option<i32> {
        if self.tab.loc.version >= PclntabVersion::Go120 {
            Some(self.field(8) as i32)
        } else {
            None
        }
    }

    fn id_flag_off(&self) -> usize {
        let b = self.base();
        match self.tab.loc.version {
            PclntabVersion::Go12 => self.off + b + 28,
            PclntabVersion::Go116 | PclntabVersion::Go118 => self.off + b + 32,
            PclntabVersion::Go120 => self.off + b + 36,
        }
    }

    /// The raw `funcID` byte. Its numbering changes between releases: compare by name.
    pub fn func_id(&self) -> u8 {
        u8_at(self.tab.data, self.id_flag_off()).unwrap_or(0)
    }

    /// The `flag` byte (Go 1.17+; 0 before).
    pub fn flag(&self) -> u8 {
        if self.tab.loc.version >= PclntabVersion::Go116 {
            u8_at(self.tab.data, self.id_flag_off() + 1).unwrap_or(0)
        } else {
            0
        }
    }

    /// Number of funcdata entries.
    pub fn nfuncdata(&self) -> u8 {
        u8_at(self.tab.data, self.id_flag_off() + 3).unwrap_or(0)
    }

    /// Offset of pcdata table `i` (0 if absent).
    pub fn pcdata(&self, i: u32) -> u32 {
        if i >= self.npcdata() {
            return 0;
        }
        u32_at(self.tab.data, self.off + self.fixed_size() + 4 * i as usize).unwrap_or(0)
    }

    /// Funcdata entry `i`, if present.
    pub fn funcdata(&self, i: u8) -> Option<FuncDataRef> {
        if i >= self.nfuncdata() {
            return None;
        }
        let npc = self.npcdata() as usize;
        let start = self
            .off
            .checked_add(self.fixed_size())?
            .checked_add(4 * npc)?;
        if self.tab.loc.version >= PclntabVersion::Go118 {
            let v = u32_at(self.tab.data, start + 4 * i as usize)?;
            (v != u32::MAX).then_some(FuncDataRef::GoFuncOffset(v))
        } else {
            let ps = self.tab.loc.ptr_size as usize;
            // The funcdata array is pointer-aligned; _func records and the table are too.
            let aligned = start.next_multiple_of(ps);
            let v = word_at(
                self.tab.data,
                aligned + ps * i as usize,
                self.tab.loc.ptr_size,
            )?;
            (v != 0).then_some(FuncDataRef::Address(v))
        }
    }

    /// File number at `pc` (runtime semantics: `None` if not covered).
    pub fn file_no_at(&self, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcfile(), self.entry(), pc)
    }

    /// Source file at `pc`.
    pub fn file_at(&self, pc: u64) -> Option<&'a [u8]> {
        let fno = self.file_no_at(pc)?;
        self.tab.file_name(self.cu_offset(), fno)
    }

    /// Source line at `pc`.
    pub fn line_at(&self, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcln(), self.entry(), pc)
    }

    /// SP delta at `pc` (bytes the function has pushed since entry).
    pub fn sp_delta_at(&self, pc: u64) -> Option<i32> {
        self.tab.pcvalue(self.pcsp(), self.entry(), pc)
    }

    /// Value of pcdata table `table` at `pc`.
    pub fn pcdata_at(&self, table: u32, pc: u64) -> Option<i32> {
        let off = self.pcdata(table);
        if off == 0 {
            return None;
        }
        self.tab.pcvalue(off, self.entry(), pc)
    }

    /// A cursor giving [`Func::gosym_file_line`] for increasing pcs in one pass over the tables
    /// (a listing asks for every instruction; restarting each lookup at the entry would be
    /// quadratic in the function's size).
    pub fn gosym_lines(&self) -> GosymLines<'a> {
        let entry = self.record_entry();
        GosymLines {
            func: *self,
            file: GosymCursor::new(&self.tab, self.pcfile(), entry),
            line: GosymCursor::new(&self.tab, self.pcln(), entry),
            last_fno: None,
            last_file: b"",
        }
    }

    /// The file and line `go tool addr2line` prints for `pc` (`debug/gosym` semantics: an
    /// empty file and line -1 where the tables do not cover `pc`).
    pub fn gosym_file_line(&self, pc: u64) -> (&'a [u8], i32) {
        let mut out = [(&b""[..], 0)];
        self.gosym_file_lines(&[pc], &mut out);
        out[0]
    }

    /// [`Func::gosym_file_line`] for many pcs of this function at once (one pass over each
    /// table): `pcs` sorted ascending, results in `out`.
    pub fn gosym_file_lines(&self, pcs: &[u64], out: &mut [(&'a [u8], i32)]) {
        let entry = self.record_entry();
        let mut vals = vec![-1i32; pcs.len()];
        self.tab
            .gosym_pcvalues(self.pcfile(), entry, pcs, &mut vals);
        // Neighbouring pcs are almost always in the same file: look each name up once.
        let mut last: Option<(i32, &'a [u8])> = None;
        for (o, &fno) in out.iter_mut().zip(&vals) {
            if let Some((n, name)) = last
                && n == fno
            {
                o.0 = name;
                continue;
            }
            let file = if self.tab.loc.version == PclntabVersion::Go12 {
                if fno <= 0 {
                    None
                } else {
                    self.tab.file_name(0, fno)
                }
            } else {
                self.tab.file_name(self.cu_offset(), fno)
            };
            o.0 = file.unwrap_or(b"");
            last = Some((fno, o.0));
        }
        self.tab.gosym_pcvalues(self.pcln(), entry, pcs, &mut vals);
        for (o, &line) in out.iter_mut().zip(&vals) {
            o.1 = line;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal Go 1.20 pclntab with two functions whose entry offsets live in two text
    /// sections, to check the `textsectmap` mapping (the runtime's `textAddr`).
    fn table() -> Vec<u8> {
        let mut t = vec![0u8; 0x200];
        t[0..4].copy_from_slice(&0xffff_fff1u32.to_le_bytes());
        t[6] = 4; // quantum
        t[7] = 8; // pointer size
        let w = |t: &mut Vec<u8>, i: usize, v: u64| {
            t[8 + i * 8..16 + i * 8].copy_from_slice(&v.to_le_bytes())
        };
        w(&mut t, 0, 2); // nfunc
        w(&mut t, 1, 1); // nfiles
        w(&mut t, 3, 0x60); // funcnametab
        w(&mut t, 4, 0x70); // cutab
        w(&mut t, 5, 0x78); // filetab
        w(&mut t, 6, 0x80); // pctab
        w(&mut t, 7, 0x100); // pcln (functab)
        t[0x60..0x64].copy_from_slice(b"a.f\0");
        t[0x64..0x68].copy_from_slice(b"a.g\0");
        // functab: {entryoff, funcoff} x2, end
        let f = 0x100;
        for (i, v) in [0u32, 0x20, 0x2000, 0x40, 0x2100].iter().enumerate() {
            t[f + i * 4..f + i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        // _func records: entryoff then nameoff.
        t[f + 0x20..f + 0x24].copy_from_slice(&0u32.to_le_bytes());
        t[f + 0x24..f + 0x28].copy_from_slice(&0u32.to_le_bytes());
        t[f + 0x40..f + 0x44].copy_from_slice(&0x2000u32.to_le_bytes());
        t[f + 0x44..f + 0x48].copy_from_slice(&4u32.to_le_bytes());
        t
    }

    #[test]
    fn text_section_map_places_entries_like_the_runtime() {
        let data = table();
        let loc = PclntabLocation::parse(&data, 0, 0x9000, 0x1000).expect("valid table");
        let tab = loc.view(&data);
        assert_eq!(
            tab.entry(1),
            0x3000,
            "one text section: text start + offset"
        );
        let sects = [
            TextSect {
                vaddr: 0,
                end: 0x1000,
                baseaddr: 0x1000,
            },
            TextSect {
                vaddr: 0x1000,
                end: 0x2100,
                baseaddr: 0x10_0000,
            },
        ];
        let tab = tab.with_text_sects(&sects);
        assert_eq!(tab.entry(0), 0x1000);
        assert_eq!(
            tab.entry(1),
            0x10_1000,
            "second section: its base + offset past vaddr"
        );
        assert_eq!(
            tab.end_pc(),
            0x10_1100,
            "the end offset maps into the last section"
        );
        assert_eq!(tab.find_func(0x10_1010).map(|f| f.name()), Some("a.g"));
        assert_eq!(tab.find_func(0x1010).map(|f| f.name()), Some("a.f"));
    }

    #[test]
    fn counts_larger_than_the_table_are_errors() {
        let mut data = table();
        data[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(PclntabLocation::parse(&data, 0, 0, 0).is_err());
        let mut data = table();
        data[8 + 7 * 8..16 + 7 * 8].copy_from_slice(&0x1_0000u64.to_le_bytes());
        assert!(PclntabLocation::parse(&data, 0, 0, 0).is_err());
    }
}

/// `debug/gosym`'s pc-value lookup as a forward-only cursor: [`GosymCursor::value_at`] must be
/// called with non-decreasing pcs and returns what [`Pclntab::gosym_pcvalue`] would.
#[derive(Debug, Clone)]
pub struct GosymCursor<'a> {
    data: &'a [u8],
    pos: usize,
    entry: u64,
    pc: u64,
    val: i32,
    quantum: u64,
    done: bool,
}

impl<'a> GosymCursor<'a> {
    fn new(tab: &Pclntab<'a>, off: u32, entry: u64) -> GosymCursor<'a> {
        let pos = tab.loc.pctab.checked_add(off as usize);
        GosymCursor {
            data: tab.data,
            pos: pos.unwrap_or(0),
            entry,
            pc: entry,
            val: -1,
            quantum: u64::from(tab.loc.quantum),
            done: pos.is_none(),
        }
    }

    /// The table's value at `target` (-1 where the table does not cover it).
    pub fn value_at(&mut self, target: u64) -> i32 {
        while !self.done && target >= self.pc {
            let first = self.pc == self.entry;
            let Some(uv) = uvarint32(self.data, &mut self.pos) else {
                self.done = true;
                break;
            };
            if uv == 0 && !first {
                self.done = true;
                break;
            }
            let delta = if uv & 1 != 0 { !(uv >> 1) } else { uv >> 1 } as i32;
            let Some(pcd) = uvarint32(self.data, &mut self.pos) else {
                self.done = true;
                break;
            };
            let next = self
                .pc
                .wrapping_add(u64::from(pcd).wrapping_mul(self.quantum));
            self.val = self.val.wrapping_add(delta);
            if next < self.pc {
                self.done = true;
                break;
            }
            self.pc = next;
        }
        if self.done { -1 } else { self.val }
    }
}

/// File and line for increasing pcs of one function; see [`Func::gosym_lines`].
#[derive(Debug, Clone)]
pub struct GosymLines<'a> {
    func: Func<'a>,
    file: GosymCursor<'a>,
    line: GosymCursor<'a>,
    last_fno: Option<i32>,
    last_file: &'a [u8],
}

impl<'a> GosymLines<'a> {
    /// `(file, line)` at `pc`, as [`Func::gosym_file_line`] gives it; pcs must not decrease.
    pub fn at(&mut self, pc: u64) -> (&'a [u8], i32) {
        let fno = self.file.value_at(pc);
        if self.last_fno != Some(fno) {
            let f = &self.func;
            let file = if f.tab.loc.version == PclntabVersion::Go12 {
                if fno <= 0 {
                    None
                } else {
                    f.tab.file_name(0, fno)
                }
            } else {
                f.tab.file_name(f.cu_offset(), fno)
            };
            self.last_file = file.unwrap_or(b"");
            self.last_fno = Some(fno);
        }
        (self.last_file, self.line.value_at(pc))
    }
}
