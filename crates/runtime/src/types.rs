//! Runtime type descriptors (`internal/abi.Type`, `runtime._type` before 1.21): the name, kind
//! and size of a value's dynamic type, and the fields of struct types. They are in every
//! binary, stripped or not, so values are decoded the same way with or without DWARF.

use goscope_target::Memory;

use goscope_binary::Moduledata;

use crate::offsets::{DescriptorSizes, Offsets};

/// `reflect.Kind` values.
#[allow(missing_docs)]
pub mod kind {
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const INT8: u8 = 3;
    pub const INT16: u8 = 4;
    pub const INT32: u8 = 5;
    pub const INT64: u8 = 6;
    pub const UINT: u8 = 7;
    pub const UINT8: u8 = 8;
    pub const UINT16: u8 = 9;
    pub const UINT32: u8 = 10;
    pub const UINT64: u8 = 11;
    pub const UINTPTR: u8 = 12;
    pub const FLOAT32: u8 = 13;
    pub const FLOAT64: u8 = 14;
    pub const COMPLEX64: u8 = 15;
    pub const COMPLEX128: u8 = 16;
    pub const ARRAY: u8 = 17;
    pub const CHAN: u8 = 18;
    pub const FUNC: u8 = 19;
    pub const INTERFACE: u8 = 20;
    pub const MAP: u8 = 21;
    pub const POINTER: u8 = 22;
    pub const SLICE: u8 = 23;
    pub const STRING: u8 = 24;
    pub const STRUCT: u8 = 25;
    pub const UNSAFE_POINTER: u8 = 26;
}

const KIND_MASK: u8 = 0x1f;
/// `kindDirectIface` (in the kind byte before Go 1.26) and `TFlagDirectIface` (1.26+).
const DIRECT_IFACE: u8 = 0x20;
const TFLAG_EXTRA_STAR: u8 = 2;
const TFLAG_UNCOMMON: u8 = 1;
/// Most type descriptors walked or typelinks read (a bound against corrupt lengths).
const MAX_TYPELINKS: usize = 1 << 20;

/// A field of a struct type.
#[derive(Debug, Clone)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Its type descriptor.
    pub typ: u64,
    /// Byte offset.
    pub offset: u64,
}

/// Reads type descriptors from target memory.
pub struct Types<'a> {
    mem: &'a dyn Memory,
    off: &'a Offsets,
    /// Runtime address of `moduledata.types`, the base of name offsets.
    types_base: u64,
    /// Go minor version (struct field offsets were doubled before 1.19).
    minor: u32,
}

/// Longest type or field name decoded.
const MAX_NAME: u64 = 4096;

impl<'a> Types<'a> {
    /// A reader over `mem`; `types_base` is the runtime address of `moduledata.types`.
    pub fn new(mem: &'a dyn Memory, off: &'a Offsets, types_base: u64, minor: u32) -> Types<'a> {
        Types {
            mem,
            off,
            types_base,
            minor,
        }
    }

    /// The kind of type `t`.
    pub fn kind(&self, t: u64) -> Option<u8> {
        Some(self.mem.read_u8(t.wrapping_add(self.off.type_kind)).ok()? & KIND_MASK)
    }

    /// Whether values of type `t` are stored directly in an interface word.
    pub fn direct_iface(&self, t: u64) -> bool {
        let k = self
            .mem
            .read_u8(t.wrapping_add(self.off.type_kind))
            .unwrap_or(0);
        let tf = self
            .mem
            .read_u8(t.wrapping_add(self.off.type_tflag))
            .unwrap_or(0);
        k & DIRECT_IFACE != 0 || (self.minor >= 26 && tf & DIRECT_IFACE != 0)
    }

    /// The size of values of type `t`.
    pub fn size(&self, t: u64) -> Option<u64> {
        self.mem.read_u64(t.wrapping_add(self.off.type_size)).ok()
    }

    /// The name at `addr` in the encoding of `runtime.name` (Go 1.17+): a flag byte, a varint
    /// length, the bytes.
    pub fn name_at(&self, addr: u64) -> Option<String> {
        let mut len: u64 = 0;
        let mut shift = 0;
        let mut i = 1u64;
        loop {
            let b = self.mem.read_u8(addr.wrapping_add(i)).ok()?;
            i += 1;
            len |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
        if len > MAX_NAME {
            return None;
        }
        let v = self.mem.read_vec(addr.wrapping_add(i), len as usize).ok()?;
        Some(String::from_utf8_lossy(&v).into_owned())
    }

    /// The type's name as the runtime prints it (`*main.T`, `map[string]int`).
    pub fn name(&self, t: u64) -> Option<String> {
        let off = self.mem.read_u32(t.wrapping_add(self.off.type_str)).ok()?;
        let tflag = self.mem.read_u8(t.wrapping_add(self.off.type_tflag)).ok()?;
        let s = self.name_at(self.types_base.checked_add(u64::from(off))?)?;
        if tflag & TFLAG_EXTRA_STAR != 0 {
            return Some(s.strip_prefix('*').unwrap_or(&s).to_string());
        }
        Some(s)
    }

    /// The element type of pointer type `t`.
    pub fn elem(&self, t: u64) -> Option<u64> {
        self.mem
            .read_u64(t.wrapping_add(self.off.ptrtype_elem))
            .ok()
    }

    /// The fields of struct type `t`.
    pub fn fields(&self, t: u64) -> Option<Vec<Field>> {
        let base = t.wrapping_add(self.off.structtype_fields?);
        let ptr = self.mem.read_u64(base).ok()?;
        let n = self.mem.read_u64(base.wrapping_add(8)).ok()?;
        if n > 1024 {
            return None;
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let f = ptr.wrapping_add(i * self.off.structfield_len);
            let name_ptr = self
                .mem
                .read_u64(f.wrapping_add(self.off.structfield_name))
                .ok()?;
            let typ = self
                .mem
                .read_u64(f.wrapping_add(self.off.structfield_typ))
                .ok()?;
            let mut offset = self
                .mem
                .read_u64(f.wrapping_add(self.off.structfield_offset))
                .ok()?;
            if self.minor < 19 {
                // offsetAnon: offset << 1 | embedded.
                offset >>= 1;
            }
            out.push(Field {
                name: self.name_at(name_ptr).unwrap_or_default(),
                typ,
                offset,
            });
        }
        Some(out)
    }

    /// The type descriptors the runtime calls typelinks (the types reflect can construct), in
    /// the binary described by `md`: before Go 1.27 the `typelinks` slice of offsets from
    /// `types`; since 1.27 the descriptors laid out one after another from `types` plus a
    /// pointer to `types + typedesclen`, walked as `runtime.moduleTypelinks` walks them.
    pub fn typelinks(&self, md: &Moduledata) -> Vec<u64> {
        // The bias of a PIE: the reader's runtime address of `types` against the link-time one.
        let bias = self.types_base.wrapping_sub(md.types.0);
        let mut out = Vec::new();
        if md.typedesclen == 0 {
            let (addr, n) = md.typelinks;
            for i in 0..n.min(MAX_TYPELINKS as u64) {
                let Ok(off) = self
                    .mem
                    .read_u32(addr.wrapping_add(bias).wrapping_add(4 * i))
                else {
                    break;
                };
                out.push(self.types_base.wrapping_add(u64::from(off)));
            }
            return out;
        }
        let Some(sizes) = self.off.typedesc else {
            return out;
        };
        let len = md.typedesclen.min(md.types.1.saturating_sub(md.types.0));
        let end = self.types_base.saturating_add(len);
        // The linker leaves a pointer-sized gap before the first descriptor.
        let mut td = self.types_base.saturating_add(8);
        while td < end && out.len() < MAX_TYPELINKS {
            td = td.saturating_add(7) & !7;
            if td >= end {
                break;
            }
            out.push(td);
            match self.descriptor_size(td, &sizes) {
                Some(n) if n > 0 => td = td.saturating_add(n),
                _ => break,
            }
        }
        out
    }

    /// The contiguous size of the descriptor of `t`, as `abi.Type.DescriptorSize` computes it:
    /// the kind's struct, the uncommon part if flagged, the kind's trailing arrays (function
    /// parameter types, interface methods, struct fields), then the methods.
    fn descriptor_size(&self, t: u64, d: &DescriptorSizes) -> Option<u64> {
        let (base, add) = match self.kind(t)? {
            kind::ARRAY => (d.array, 0),
            kind::CHAN => (d.chan, 0),
            kind::FUNC => {
                let inc = self.mem.read_u16(t.wrapping_add(d.func_in_count)).ok()?;
                let outc = self.mem.read_u16(t.wrapping_add(d.func_out_count)).ok()? & 0x7fff;
                (d.func, (u64::from(inc) + u64::from(outc)) * 8)
            }
            kind::INTERFACE => {
                let n = self
                    .mem
                    .read_u64(t.wrapping_add(d.interface_methods).wrapping_add(8))
                    .ok()?;
                (d.interface, n.checked_mul(d.imethod)?)
            }
            kind::MAP => (d.map, 0),
            kind::POINTER => (d.ptr, 0),
            kind::SLICE => (d.slice, 0),
            kind::STRUCT => {
                let n = self
                    .mem
                    .read_u64(t.wrapping_add(self.off.structtype_fields?).wrapping_add(8))
                    .ok()?;
                (d.structtype, n.checked_mul(self.off.structfield_len)?)
            }
            kind::BOOL..=kind::COMPLEX128 | kind::STRING | kind::UNSAFE_POINTER => {
                (self.off.type_len, 0)
            }
            _ => return None,
        };
        let tflag = self.mem.read_u8(t.wrapping_add(self.off.type_tflag)).ok()?;
        let mut size = base;
        let mut methods = 0;
        if tflag & TFLAG_UNCOMMON != 0 {
            methods = self
                .mem
                .read_u16(t.wrapping_add(base).wrapping_add(d.uncommon_mcount))
                .ok()?;
            size = size.checked_add(d.uncommon)?;
        }
        size.checked_add(add)?
            .checked_add(u64::from(methods).checked_mul(d.method)?)
    }
}
