//! Go maps in memory: the bucket hash maps of Go ≤ 1.23 (and `GOEXPERIMENT=noswissmap`), and
//! the Swiss tables of Go 1.24+ (`internal/runtime/maps`). See `FORMATS.md` §7.
//!
//! A map header says nothing about its key and element types; they come from the map's type
//! descriptor, given by name or guessed among the binary's map types (`moduledata.typelinks`)
//! as the ones whose layout accounts for exactly the map's entry count.

use std::collections::HashSet;

use serde::Serialize;

use crate::reader::Reader;
use crate::snapshot::Snapshot;
use crate::types::kind;
use crate::values::Typed;

/// Most entries decoded from one map.
pub const MAX_ENTRIES: usize = 1 << 20;
/// Most buckets or groups visited in one map: beyond any map a core holds in practice, and a
/// bound on the work a corrupt header can cause.
const MAX_BUCKETS: u64 = 1 << 20;

/// A candidate map type with its plausibility (score, bytes explained) and decoded entries.
type Scored = ((i64, u64), MapType, Vec<(Typed, Typed)>);

/// The layout of a map type: what walking its memory needs.
#[derive(Debug, Clone, Serialize)]
pub struct MapType {
    /// The type's name (`map[string]int`).
    pub name: String,
    /// Address of the map type descriptor.
    #[serde(serialize_with = "crate::hex")]
    pub addr: u64,
    /// Key type descriptor.
    #[serde(skip)]
    pub key: u64,
    /// Element type descriptor.
    #[serde(skip)]
    pub elem: u64,
    /// Hash map: key and element sizes and bucket size. Swiss: key stride, offset of the first
    /// element, group size (what tells layouts apart; [`MapType::group`] has all of it).
    #[serde(skip)]
    pub sizes: (u64, u64, u64),
    /// Swiss: where a group holds its keys and elements.
    #[serde(skip)]
    pub group: GroupLayout,
    /// Keys stored indirectly (by pointer).
    #[serde(skip)]
    pub indirect_key: bool,
    /// Elements stored indirectly.
    #[serde(skip)]
    pub indirect_elem: bool,
}

/// Where a Swiss-table group holds slot `i`'s key and element: `keys_off + i * key_stride`
/// and `elems_off + i * elem_stride` from the group (Go 1.27's `abi.MapType` fields; before,
/// interleaved slots after the 8 control bytes: both strides the slot size, the elements
/// `ElemOff` into the slot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupLayout {
    /// Offset of slot 0's key.
    pub keys_off: u64,
    /// Distance between keys.
    pub key_stride: u64,
    /// Offset of slot 0's element.
    pub elems_off: u64,
    /// Distance between elements.
    pub elem_stride: u64,
    /// Size of a group.
    pub size: u64,
}

/// The header of a map.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "implementation", rename_all = "snake_case")]
pub enum MapHeader {
    /// `runtime.hmap`.
    Hashmap {
        /// Number of entries.
        count: u64,
        /// `flags` (1 iterator, 2 oldIterator, 4 hashWriting, 8 sameSizeGrow).
        flags: u8,
        /// log2 of the number of buckets.
        b: u8,
        /// Approximate number of overflow buckets.
        noverflow: u16,
        /// A write is in progress (`hashWriting`): a concurrent write would throw.
        writing: bool,
        /// Growing: old buckets not yet evacuated.
        growing: bool,
        /// Bucket array.
        #[serde(serialize_with = "crate::hex")]
        buckets: u64,
        /// Old bucket array while growing.
        #[serde(serialize_with = "crate::hex")]
        oldbuckets: u64,
    },
    /// `internal/runtime/maps.Map`.
    Swiss {
        /// Number of entries.
        used: u64,
        /// Directory length (0: a single small group).
        dir_len: u64,
        /// `globalDepth`.
        global_depth: u8,
        /// `writing` (non-zero while a write is in progress).
        writing: bool,
        /// The directory (or the small map's group).
        #[serde(serialize_with = "crate::hex")]
        dir: u64,
        /// Distinct tables.
        tables: usize,
    },
}

/// A map read from memory.
#[derive(Debug, Clone, Serialize)]
pub struct MapContents {
    /// Address of the header.
    #[serde(serialize_with = "crate::hex")]
    pub addr: u64,
    /// The header.
    pub header: MapHeader,
    /// The type used to decode entries, if known.
    pub map_type: Option<MapType>,
    /// Other map types that fit equally well (the guess is ambiguous between them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_fits: Vec<String>,
    /// Entries, in memory order.
    pub entries: Vec<(Typed, Typed)>,
    /// What could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl MapContents {
    /// `fmt`'s `%v` of the map: `map[k1:v1 k2:v2]`, sorted by key as `fmt` sorts.
    pub fn display(&self) -> String {
        let mut es: Vec<&(Typed, Typed)> = self.entries.iter().collect();
        es.sort_by(|a, b| compare_keys(&a.0, &b.0));
        let parts: Vec<String> = es
            .iter()
            .map(|(k, v)| format!("{}:{}", k.value.display(), v.value.display()))
            .collect();
        format!("map[{}]", parts.join(" "))
    }
}

fn compare_keys(a: &Typed, b: &Typed) -> std::cmp::Ordering {
    use crate::values::Value::*;
    match (&a.value, &b.value) {
        (Int(x), Int(y)) => x.cmp(y),
        (Uint(x), Uint(y)) => x.cmp(y),
        (String(x), String(y)) => x.cmp(y),
        (Float(x), Float(y)) => x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal),
        (Bool(x), Bool(y)) => x.cmp(y),
        _ => a.value.display().cmp(&b.value.display()),
    }
}

impl<'r, 'b> Snapshot<'r, 'b> {
    /// Whether maps in this binary are Swiss tables.
    pub fn swiss_maps(&self) -> bool {
        self.reader().swiss_maps()
    }

    /// Decodes the map type descriptor at `t`.
    pub fn map_type(&self, t: u64) -> Option<MapType> {
        self.reader().map_type(t)
    }

    /// Every map type in the binary's typelinks.
    pub fn map_types(&self) -> Vec<MapType> {
        self.reader().map_types()
    }

    /// Reads the header of the map at `addr`.
    pub fn map_header(&self, addr: u64) -> Option<MapHeader> {
        self.reader().map_header(addr)
    }

    /// Reads the map at `addr` (see [`Reader::read_map`]).
    pub fn read_map(&self, addr: u64, type_name: Option<&str>) -> Option<MapContents> {
        self.reader().read_map(addr, type_name)
    }
}

impl<'r, 'b> Reader<'r, 'b> {
    /// Whether maps in this binary are Swiss tables.
    pub fn swiss_maps(&self) -> bool {
        if self.rt.layouts.get("internal/runtime/maps.Map").is_none() {
            return false;
        }
        // Go 1.24 and 1.25 could be built with GOEXPERIMENT=noswissmap.
        let noswiss = self.rt.bin.build_info().ok().is_some_and(|bi| {
            bi.setting("GOEXPERIMENT")
                .is_some_and(|e| e.split(',').any(|x| x == "noswissmap"))
        });
        !noswiss || self.rt.minor >= 26
    }

    /// Decodes the map type descriptor at `t`.
    pub fn map_type(&self, t: u64) -> Option<MapType> {
        let ty = self.types();
        if ty.kind(t)? != kind::MAP {
            return None;
        }
        let swiss = self.swiss_maps();
        let l = if swiss {
            self.rt
                .layouts
                .any(&["internal/abi.SwissMapType", "internal/abi.MapType"])
        } else {
            self.rt.layouts.any(&[
                "internal/abi.OldMapType",
                "internal/abi.MapType",
                "runtime.maptype",
            ])
        };
        let f = |names: &[&str], d: u64| {
            names
                .iter()
                .find_map(|n| l.and_then(|l| l.field(n)))
                .unwrap_or(d)
        };
        let key = self.word(t.wrapping_add(f(&["Key", "key"], 48)));
        let elem = self.word(t.wrapping_add(f(&["Elem", "elem"], 56)));
        let mut group = GroupLayout::default();
        let (sizes, flags) = if swiss {
            group.size = self.word(t.wrapping_add(f(&["GroupSize"], 80)));
            if l.and_then(|l| l.field("KeysOff")).is_some() {
                // Go 1.27: keys and elements may be interleaved or in two arrays; the type
                // says where.
                group.keys_off = self.word(t.wrapping_add(f(&["KeysOff"], 88)));
                group.key_stride = self.word(t.wrapping_add(f(&["KeyStride"], 96)));
                group.elems_off = self.word(t.wrapping_add(f(&["ElemsOff"], 104)));
                group.elem_stride = self.word(t.wrapping_add(f(&["ElemStride"], 112)));
            } else {
                let slot = self.word(t.wrapping_add(f(&["SlotSize"], 88)));
                let elem_off = self.word(t.wrapping_add(f(&["ElemOff"], 96)));
                group.keys_off = 8;
                group.key_stride = slot;
                group.elems_off = 8u64.wrapping_add(elem_off);
                group.elem_stride = slot;
            }
            let flags = self.mem.read_u32(t.wrapping_add(f(&["Flags"], 104))).ok()?;
            (
                (group.key_stride, group.elems_off, group.size),
                (flags & 4 != 0, flags & 8 != 0),
            )
        } else {
            let ks = u64::from(
                self.mem
                    .read_u8(t.wrapping_add(f(&["KeySize", "keysize"], 80)))
                    .ok()?,
            );
            let es = u64::from(
                self.mem
                    .read_u8(t.wrapping_add(f(&["ValueSize", "elemsize", "valuesize"], 81)))
                    .ok()?,
            );
            let bs = u64::from(
                self.mem
                    .read_u16(t + f(&["BucketSize", "bucketsize"], 82))
                    .ok()?,
            );
            let flags = self
                .mem
                .read_u32(t.wrapping_add(f(&["Flags", "flags"], 84)))
                .ok()?;
            ((ks, es, bs), (flags & 1 != 0, flags & 2 != 0))
        };
        Some(MapType {
            name: ty.name(t)?,
            addr: t,
            key,
            elem,
            sizes,
            group,
            indirect_key: flags.0,
            indirect_elem: flags.1,
        })
    }

    /// Every map type in the binary's typelinks.
    pub fn map_types(&self) -> Vec<MapType> {
        let Some(md) = self.rt.bin.moduledata() else {
            return Vec::new();
        };
        let ty = self.types();
        ty.typelinks(md)
            .into_iter()
            .filter(|&t| ty.kind(t) == Some(kind::MAP))
            .filter_map(|t| self.map_type(t))
            .collect()
    }

    /// Reads the header of the map at `addr`.
    pub fn map_header(&self, addr: u64) -> Option<MapHeader> {
        if self.swiss_maps() {
            let l = self.rt.layouts.get("internal/runtime/maps.Map");
            let f = |n: &str, d: u64| l.and_then(|l| l.field(n)).unwrap_or(d);
            let used = self.mem.read_u64(addr.wrapping_add(f("used", 0))).ok()?;
            let dir = self.mem.read_u64(addr.wrapping_add(f("dirPtr", 16))).ok()?;
            let dir_len = self.mem.read_u64(addr.wrapping_add(f("dirLen", 24))).ok()?;
            let global_depth = self
                .mem
                .read_u8(addr.wrapping_add(f("globalDepth", 32)))
                .ok()?;
            let writing = self.mem.read_u8(addr.wrapping_add(f("writing", 34))).ok()? != 0;
            let tables = self.swiss_tables(dir, dir_len).len();
            Some(MapHeader::Swiss {
                used,
                dir_len,
                global_depth,
                writing,
                dir,
                tables,
            })
        } else {
            let l = self.rt.layouts.get("runtime.hmap");
            let f = |n: &str, d: u64| l.and_then(|l| l.field(n)).unwrap_or(d);
            let count = self.mem.read_u64(addr.wrapping_add(f("count", 0))).ok()?;
            let flags = self.mem.read_u8(addr.wrapping_add(f("flags", 8))).ok()?;
            let b = self.mem.read_u8(addr.wrapping_add(f("B", 9))).ok()?;
            let noverflow = self
                .mem
                .read_u16(addr.wrapping_add(f("noverflow", 10)))
                .ok()?;
            let buckets = self
                .mem
                .read_u64(addr.wrapping_add(f("buckets", 16)))
                .ok()?;
            let oldbuckets = self
                .mem
                .read_u64(addr.wrapping_add(f("oldbuckets", 24)))
                .ok()?;
            Some(MapHeader::Hashmap {
                count,
                flags,
                b,
                noverflow,
                writing: flags & 4 != 0,
                growing: oldbuckets != 0,
                buckets,
                oldbuckets,
            })
        }
    }

    fn swiss_tables(&self, dir: u64, dir_len: u64) -> Vec<u64> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        if dir == 0 || dir_len == 0 || dir_len > 1 << 20 {
            return out;
        }
        for i in 0..dir_len {
            let t = self.word(dir.wrapping_add(8 * i));
            if t != 0 && seen.insert(t) {
                out.push(t);
            }
        }
        out
    }

    /// The `(key address, elem address)` of every entry, by the layout of `mt`.
    pub(crate) fn slots(
        &self,
        addr: u64,
        mt: &MapType,
        warnings: &mut Vec<String>,
    ) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        match self.map_header(addr) {
            Some(MapHeader::Swiss { dir, dir_len, .. }) => {
                let gl = mt.group;
                // Every key and element within the group, after its 8 control bytes.
                let fits = |off: u64, stride: u64| {
                    off >= 8 && stride <= 1 << 16 && off.saturating_add(7 * stride) <= gl.size
                };
                if gl.key_stride.max(gl.elem_stride) == 0
                    || gl.size > 1 << 20
                    || !fits(gl.keys_off, gl.key_stride)
                    || !fits(gl.elems_off, gl.elem_stride)
                {
                    warnings.push(format!("{}: implausible group layout", mt.name));
                    return out;
                }
                let group_slots = |g: u64, out: &mut Vec<(u64, u64)>, w: &mut Vec<String>| {
                    let Ok(ctrl) = self.mem.read_u64(g) else {
                        w.push(format!("group at {g:#x} is not in the core"));
                        return false;
                    };
                    for j in 0..8u64 {
                        if (ctrl >> (8 * j)) & 0x80 == 0 {
                            out.push((
                                g.wrapping_add(gl.keys_off + j * gl.key_stride),
                                g.wrapping_add(gl.elems_off + j * gl.elem_stride),
                            ));
                        }
                    }
                    true
                };
                if dir_len == 0 {
                    if dir != 0 {
                        group_slots(dir, &mut out, warnings);
                    }
                    return out;
                }
                let l = self.rt.layouts.get("internal/runtime/maps.table");
                let groups = l.and_then(|l| l.field("groups")).unwrap_or(16);
                let mut budget = MAX_BUCKETS;
                for t in self.swiss_tables(dir, dir_len) {
                    let data = self.word(t.wrapping_add(groups));
                    let mask = self.word(t.wrapping_add(groups).wrapping_add(8));
                    if mask >= budget {
                        warnings.push(format!("table at {t:#x} has {mask} groups; skipped"));
                        return out;
                    }
                    budget -= mask + 1;
                    for i in 0..=mask {
                        if !group_slots(data.wrapping_add(i * gl.size), &mut out, warnings)
                            || out.len() > MAX_ENTRIES
                        {
                            return out;
                        }
                    }
                }
            }
            Some(MapHeader::Hashmap {
                b,
                flags,
                buckets,
                oldbuckets,
                ..
            }) => {
                let (ks, es, bs) = mt.sizes;
                if bs != 8 + 8 * ks + 8 * es + 8 || b > 24 {
                    warnings.push(format!("{}: implausible bucket layout", mt.name));
                    return out;
                }
                let mut budget = MAX_BUCKETS;
                let mut bucket = |mut bk: u64, out: &mut Vec<(u64, u64)>| {
                    while bk != 0 {
                        if budget == 0 {
                            warnings.push("more buckets than goscope walks; cut".into());
                            return false;
                        }
                        budget -= 1;
                        let Ok(top) = self.mem.read_u64(bk) else {
                            warnings.push(format!("bucket at {bk:#x} is not in the core"));
                            return false;
                        };
                        for j in 0..8u64 {
                            // 0 and 1 are empty cells; 2–4 mark evacuated cells, which only
                            // evacuated buckets (never walked) hold.
                            if (top >> (8 * j)) & 0xff >= 2 {
                                out.push((
                                    bk.wrapping_add(8 + j * ks),
                                    bk.wrapping_add(8 + 8 * ks + j * es),
                                ));
                            }
                        }
                        bk = self.word(bk.wrapping_add(bs - 8));
                    }
                    true
                };
                // The runtime's iteration order (and Delve's): bucket by bucket; while the map
                // grows, a bucket whose old bucket is not evacuated yet is empty and its entries
                // are still in the old bucket, walked in place of the first of the two new
                // buckets it splits into.
                let nb = 1u64 << b;
                let old_mask = if flags & 8 != 0 {
                    nb - 1
                } else {
                    (nb >> 1).saturating_sub(1)
                };
                for i in 0..nb {
                    let mut bk = buckets.wrapping_add(i * bs);
                    if oldbuckets != 0 {
                        let oi = i & old_mask;
                        let ob = oldbuckets.wrapping_add(oi * bs);
                        let evacuated = self
                            .mem
                            .read_u8(ob)
                            .map_or(true, |t0| (2..=4).contains(&t0));
                        if !evacuated {
                            if oi != i {
                                continue;
                            }
                            bk = ob;
                        }
                    }
                    if !bucket(bk, &mut out) || out.len() > MAX_ENTRIES {
                        return out;
                    }
                }
            }
            None => warnings.push(format!("map header at {addr:#x} is not in the core")),
        }
        out
    }

    /// Reads the map at `addr` (the `*hmap` / `*maps.Map` a map variable holds). `type_name`
    /// (`map[string]int`) selects the type; without it, the binary's map types whose layout
    /// accounts for exactly the map's entry count are tried.
    pub fn read_map(&self, addr: u64, type_name: Option<&str>) -> Option<MapContents> {
        let header = self.map_header(addr)?;
        let count = match &header {
            MapHeader::Hashmap { count, .. } => *count,
            MapHeader::Swiss { used, .. } => *used,
        };
        let mut warnings = Vec::new();
        let types = self.map_types();
        let mut fits: Vec<(MapType, Vec<(u64, u64)>)> = Vec::new();
        match type_name {
            Some(n) => {
                if let Some(mt) = types.into_iter().find(|t| t.name == n) {
                    let slots = self.slots(addr, &mt, &mut warnings);
                    fits.push((mt, slots));
                } else {
                    warnings.push(format!(
                        "no map type {n} in the binary's type links; entries not decoded"
                    ));
                }
            }
            None => {
                let mut seen_layouts = Vec::new();
                for mt in types {
                    let mut w = Vec::new();
                    let slots = self.slots(addr, &mt, &mut w);
                    if slots.len() as u64 == count && w.is_empty() {
                        seen_layouts.push(mt.sizes);
                        fits.push((mt, slots));
                    }
                }
                if fits.is_empty() && count > 0 {
                    warnings.push(
                        "no map type of the binary fits this map; pass --type to decode entries"
                            .into(),
                    );
                }
            }
        }
        // Decode with every fitting type; keep the one whose entries look most like values
        // (readable strings, numbers) rather than reinterpreted bytes.
        let decode = |mt: &MapType, slots: &[(u64, u64)]| -> Vec<(Typed, Typed)> {
            slots
                .iter()
                .take(MAX_ENTRIES)
                .map(|&(k, e)| {
                    let k = if mt.indirect_key { self.word(k) } else { k };
                    let e = if mt.indirect_elem { self.word(e) } else { e };
                    (self.value_at(mt.key, k), self.value_at(mt.elem, e))
                })
                .collect()
        };
        let mut scored: Vec<Scored> = fits
            .into_iter()
            .map(|(mt, slots)| {
                let es = decode(&mt, &slots);
                let score = es
                    .iter()
                    .map(|(k, v)| plausibility(&k.value) + plausibility(&v.value))
                    .sum();
                // Ties: the type that leaves the least padding in a slot explains more bytes.
                let covered = self.types().size(mt.key).unwrap_or(0)
                    + self.types().size(mt.elem).unwrap_or(0);
                ((score, covered), mt, es)
            })
            .collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        let best = scored.first().map(|x| x.0);
        let also_fits: Vec<String> = scored
            .iter()
            .skip(1)
            .filter(|x| Some(x.0) == best)
            .map(|x| x.1.name.clone())
            .collect();
        let (map_type, entries) = match scored.into_iter().next() {
            Some((_, mt, es)) => (Some(mt), es),
            None => (None, Vec::new()),
        };
        Some(MapContents {
            addr,
            header,
            map_type,
            also_fits,
            entries,
            warnings,
        })
    }
}

/// The entries of a `map[string]string` (pprof labels before Go 1.24) at `h`.
pub(crate) fn walk_hmap_strings(
    p: &Snapshot<'_, '_>,
    h: u64,
) -> Result<Vec<(String, String)>, goscope_target::MemError> {
    let mt = MapType {
        name: "map[string]string".into(),
        addr: 0,
        key: 0,
        elem: 0,
        sizes: (16, 16, 8 + 16 * 8 * 2 + 8),
        group: GroupLayout::default(),
        indirect_key: false,
        indirect_elem: false,
    };
    let mut w = Vec::new();
    let mut out = Vec::new();
    for (k, e) in p.reader().slots(h, &mt, &mut w) {
        out.push((
            p.memory().read_go_string(k, 4096)?,
            p.memory().read_go_string(e, 4096)?,
        ));
    }
    Ok(out)
}

/// How much a decoded value looks like a real value of its type: text and numbers score, bytes
/// reinterpreted as pointers or undecoded kinds do not.
fn plausibility(v: &crate::values::Value) -> i64 {
    use crate::values::Value::*;
    match v {
        String(s) => {
            if !s.is_empty() && !s.contains('\u{fffd}') && s.chars().all(|c| !c.is_control()) {
                2
            } else {
                -1
            }
        }
        Int(_) | Uint(_) | Bool(_) => 1,
        Float(f) if f.is_finite() => 1,
        Struct(fs) => fs.iter().map(|(_, v)| plausibility(v)).sum::<i64>().min(4),
        Pointer(_) | Nil => 0,
        Opaque(_) | Complex(..) | Float(_) => -1,
        Unreadable => -4,
    }
}
