//! Evaluation: names to values (locals of the frame's scope, package variables, registers),
//! values to their parts (fields, elements, map entries, pointees, interface contents), and
//! Delve's rules for operators, conversions and how much of a value is read.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use goscope_target::{FileMemory, Memory, TargetArch};

use super::ast::{BinOp, Lit, Node, UnOp};
use super::debuginfo::{DebugInfo, ScopeTag, VarDie, lock};
use super::location::{FrameRegs, Place, locate};
use super::print::go_quote;
use super::types::{Field, Kind, Type, TypeRef, package_of, runtime_scalar_kind};
use super::value::{
    FULL, LONG_STRINGS, LoadConfig, SINGLE, Scalar, VKind, Value, WaitingGoroutine, flag,
};
use super::{EvalContext, ExprError};
use crate::reader::Reader;
use crate::types::kind as rkind;

/// Most values read for one evaluation: a bound on what hostile memory can make `print` do.
const MAX_VALUES: usize = 200_000;
/// More read errors than this end an array or map (Delve's `maxErrCount`).
const MAX_ERRORS: usize = 3;
/// Longest chain followed: embedded fields, `sudog` lists.
const MAX_CHAIN: usize = 10_000;
/// Delve's depth for a goroutine's user frame.
const USER_FRAME_DEPTH: usize = 30;

pub(crate) struct Ev<'c, 'a, 'b> {
    ctx: &'c EvalContext<'a, 'b>,
    di: Option<Arc<DebugInfo>>,
    di_error: Option<ExprError>,
    file: FileMemory<'b>,
    budget: Cell<usize>,
}

fn type_err(s: impl Into<String>) -> ExprError {
    ExprError::Type(s.into())
}

impl<'c, 'a, 'b> Ev<'c, 'a, 'b> {
    pub fn new(ctx: &'c EvalContext<'a, 'b>) -> Result<Ev<'c, 'a, 'b>, ExprError> {
        let cache = &ctx.rt.expr_cache;
        let di = cache
            .debug_info
            .get_or_init(|| super::debuginfo::DebugInfo::load(ctx.rt.bin).map(Arc::new));
        let (di, di_error) = match di {
            Ok(d) => (Some(d.clone()), None),
            Err(e) => (None, Some(e.clone())),
        };
        Ok(Ev {
            ctx,
            di,
            di_error,
            file: FileMemory::new(ctx.rt.bin, 0),
            budget: Cell::new(MAX_VALUES),
        })
    }

    fn mem(&self) -> &'a dyn Memory {
        self.ctx.mem
    }

    fn reader(&self) -> Reader<'a, 'b> {
        Reader::new(self.ctx.rt, self.ctx.mem, self.ctx.bias)
    }

    pub(super) fn di(&self) -> Result<&DebugInfo, ExprError> {
        match &self.di {
            Some(d) => Ok(d),
            None => Err(self
                .di_error
                .clone()
                .unwrap_or_else(|| ExprError::NoDwarf("no DWARF".into()))),
        }
    }

    /// Evaluates `node` and loads the result: as `print` shows it (`full`), or only as far
    /// as a scalar (`cond`).
    pub fn eval_top(&self, node: &Node, full: bool) -> Result<Value, ExprError> {
        let mut v = self.eval(node)?;
        if full {
            self.load(&mut v, 0, &FULL);
            if v.kind() == VKind::Chan && v.unreadable.is_none() {
                v.waiting = Some(self.chan_waiting(&v));
            }
        } else {
            self.load(&mut v, 0, &SINGLE);
        }
        Ok(v)
    }

    // ---------------------------------------------------------------- types

    pub(crate) fn resolve(&self, r: &TypeRef) -> Result<Arc<Type>, ExprError> {
        match r {
            TypeRef::Dwarf(off) => self.di()?.type_at(*off),
            TypeRef::Runtime(addr) => self.runtime_type(*addr),
            TypeRef::Made(t) => Ok(t.clone()),
        }
    }

    /// The type of the runtime type descriptor at link-time `addr`, read from the
    /// executable's file (descriptors are read-only data) and kept per binary.
    fn runtime_type(&self, addr: u64) -> Result<Arc<Type>, ExprError> {
        let cache = &self.ctx.rt.expr_cache.runtime_types;
        if let Some(t) = lock(cache).get(&addr) {
            return Ok(t.clone());
        }
        let rd = Reader::new(self.ctx.rt, &self.file, 0);
        let tys = rd.types();
        let bad = || ExprError::Memory(format!("no runtime type descriptor at {addr:#x}"));
        let k = tys.kind(addr).ok_or_else(bad)?;
        let size = tys.size(addr).ok_or_else(bad)?;
        let name = tys.name(addr).ok_or_else(bad)?;
        let tl = self.ctx.rt.off.type_len;
        let word = |o: u64| self.file.read_u64(addr.wrapping_add(o)).map_err(|_| bad());
        let kind = match runtime_scalar_kind(k) {
            Some(kind) => kind,
            None => match k {
                rkind::POINTER => Kind::Pointer(TypeRef::Runtime(word(tl)?)),
                rkind::SLICE => Kind::Slice(TypeRef::Runtime(word(tl)?)),
                rkind::ARRAY => Kind::Array(TypeRef::Runtime(word(tl)?), word(tl + 16)?),
                rkind::CHAN => Kind::Chan {
                    elem: TypeRef::Runtime(word(tl)?),
                    hchan: None,
                },
                rkind::MAP => {
                    let mt = rd.map_type(addr).ok_or_else(bad)?;
                    Kind::Map {
                        key: TypeRef::Runtime(mt.key),
                        elem: TypeRef::Runtime(mt.elem),
                    }
                }
                rkind::INTERFACE => Kind::Interface {
                    empty: word(tl + 16)? == 0,
                },
                rkind::STRUCT => Kind::Struct(
                    tys.fields(addr)
                        .ok_or_else(bad)?
                        .into_iter()
                        .map(|f| Field {
                            embedded: false,
                            name: f.name,
                            offset: f.offset,
                            typ: TypeRef::Runtime(f.typ),
                        })
                        .collect(),
                ),
                _ => return Err(bad()),
            },
        };
        let t = Arc::new(Type {
            name,
            size,
            kind,
            rtype: Some(addr),
            dwarf: None,
        });
        lock(cache).insert(addr, t.clone());
        Ok(t)
    }

    /// The dynamic type whose descriptor is at runtime address `t`, and whether its values
    /// are stored in the interface word itself.
    fn dynamic_type(&self, t: u64) -> Result<(Arc<Type>, bool), ExprError> {
        let link = t.wrapping_sub(self.ctx.bias);
        let rd = Reader::new(self.ctx.rt, &self.file, 0);
        let direct = rd.types().direct_iface(link);
        let off = link.wrapping_sub(self.ctx.rt.types_base);
        if let Some(di) = &self.di
            && let Some(die) = di.rtype_die(off)
        {
            return Ok((di.type_at(die)?, direct));
        }
        Ok((self.runtime_type(link)?, direct))
    }

    /// The type called `name`: basic, from DWARF, or among the runtime's type descriptors.
    fn type_named(&self, name: &str) -> Option<Arc<Type>> {
        let dwarf_name = match name {
            "byte" => "uint8",
            "rune" => "int32",
            "any" => "interface {}",
            n => n,
        };
        if let Some(di) = &self.di
            && let Some(off) = di.type_named(dwarf_name)
            && let Ok(t) = di.type_at(off)
        {
            return Some(t);
        }
        if let Some(t) = Type::basic(name) {
            return Some(t);
        }
        let names = self
            .ctx
            .rt
            .expr_cache
            .runtime_type_names
            .get_or_init(|| self.runtime_type_index());
        names
            .get(dwarf_name)
            .and_then(|&a| self.runtime_type(a).ok())
    }

    /// The names of the typelinks' types (`moduledata.typelinks`, or the descriptors that
    /// replace it since Go 1.27) and the types their pointers point
    /// to (named types are found through `*T`).
    fn runtime_type_index(&self) -> std::collections::HashMap<String, u64> {
        let mut out = std::collections::HashMap::new();
        let Some(md) = self.ctx.rt.bin.moduledata() else {
            return out;
        };
        let rd = Reader::new(self.ctx.rt, &self.file, 0);
        let tys = rd.types();
        for t in tys.typelinks(md) {
            if let Some(name) = tys.name(t) {
                if tys.kind(t) == Some(rkind::POINTER)
                    && let Some(e) = tys.elem(t)
                    && let Some(en) = tys.name(e)
                {
                    out.entry(en).or_insert(e);
                }
                out.entry(name).or_insert(t);
            }
        }
        out
    }

    /// The type a type expression names.
    fn type_expr(&self, n: &Node) -> Option<Arc<Type>> {
        match n {
            Node::Ident(name) => self.type_named(name),
            Node::Select(x, m) => match &**x {
                Node::Ident(p) => self.type_named(&format!("{p}.{m}")),
                Node::Lit(Lit::Str(p)) => {
                    self.type_named(&format!("{}.{m}", String::from_utf8_lossy(p)))
                }
                _ => None,
            },
            Node::Paren(t) => self.type_expr(t),
            Node::Unary(UnOp::Deref, t) => {
                let elem = self.type_expr(t)?;
                Some(
                    self.type_named(&format!("*{}", elem.name))
                        .unwrap_or_else(|| Type::pointer_to(&elem)),
                )
            }
            Node::SliceType(t) => {
                let elem = self.type_expr(t)?;
                Some(
                    self.type_named(&format!("[]{}", elem.name))
                        .unwrap_or_else(|| {
                            Type::made(
                                format!("[]{}", elem.name),
                                24,
                                Kind::Slice(TypeRef::Made(elem)),
                            )
                        }),
                )
            }
            Node::ArrayType(len, t) => {
                let elem = self.type_expr(t)?;
                Some(
                    self.type_named(&format!("[{len}]{}", elem.name))
                        .unwrap_or_else(|| Type::array_of(&elem, *len)),
                )
            }
            Node::MapType(k, v) => {
                let k = self.type_expr(k)?;
                let v = self.type_expr(v)?;
                self.type_named(&format!("map[{}]{}", k.name, v.name))
            }
            Node::ChanType(t) => {
                let e = self.type_expr(t)?;
                self.type_named(&format!("chan {}", e.name))
            }
            Node::EmptyInterface => Some(self.type_named("interface {}").unwrap_or_else(|| {
                Type::made("interface {}", 16, Kind::Interface { empty: true })
            })),
            _ => None,
        }
    }

    // ---------------------------------------------------------------- values

    fn spend(&self) -> bool {
        let b = self.budget.get();
        if b == 0 {
            return false;
        }
        self.budget.set(b - 1);
        true
    }

    /// A value of type `typ` at `place`, with the headers Delve reads at once (string, slice
    /// and channel headers, array bounds).
    pub(crate) fn new_value(&self, name: &str, typ: Arc<Type>, place: Place) -> Value {
        let mut v = Value::blank(name, Some(typ.clone()), place);
        let has_addr = v.addr() != 0;
        match &typ.kind {
            Kind::String => {
                v.elem = Type::basic("uint8");
                v.stride = 1;
                if has_addr {
                    match (
                        v.place.read_uint(self.mem(), 8),
                        v.place.offset(8).read_uint(self.mem(), 8),
                    ) {
                        (Ok(p), Ok(l)) => {
                            let l = l as i64;
                            if l < 0 {
                                v.unreadable = Some(format!("invalid length: {l}"));
                            } else {
                                v.base = p;
                                v.len = l;
                            }
                        }
                        (Err(e), _) => {
                            v.unreadable = Some(format!("could not read string pointer {e}"))
                        }
                        (_, Err(e)) => {
                            v.unreadable = Some(format!("could not read string len {e}"))
                        }
                    }
                }
            }
            Kind::Slice(elem) => {
                match self.resolve(elem) {
                    Ok(e) => {
                        v.stride = e.size;
                        v.elem = Some(e);
                    }
                    Err(e) => v.unreadable = Some(e.to_string()),
                }
                if has_addr && v.unreadable.is_none() {
                    let rd = |o: u64| v.place.offset(o).read_uint(self.mem(), 8);
                    match (rd(0), rd(8), rd(16)) {
                        (Ok(b), Ok(l), Ok(c)) => {
                            v.base = b;
                            v.len = l as i64;
                            v.cap = c as i64;
                        }
                        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => v.unreadable = Some(e),
                    }
                }
            }
            Kind::Array(elem, n) => {
                v.base = v.addr();
                v.len = i64::try_from(*n).unwrap_or(i64::MAX);
                v.cap = v.len;
                match self.resolve(elem) {
                    Ok(e) => {
                        v.stride = if *n > 0 { typ.size / n } else { 0 };
                        v.elem = Some(e);
                    }
                    Err(e) => v.unreadable = Some(e.to_string()),
                }
            }
            Kind::Chan { elem, hchan } if has_addr => {
                self.chan_info(&mut v, elem, hchan.as_ref());
            }
            _ => {}
        }
        v
    }

    /// A channel's `hchan`: where it is, and its struct with `buf` typed as `*[dataqsiz]T`
    /// (Delve's `loadChanInfo`).
    fn chan_info(&self, v: &mut Value, elem: &TypeRef, hchan: Option<&TypeRef>) {
        let ptr = match v.place.read_uint(self.mem(), 8) {
            Ok(p) => p,
            Err(e) => {
                v.unreadable = Some(e);
                return;
            }
        };
        if ptr == 0 {
            return;
        }
        v.base = ptr;
        let Some(h) = hchan.and_then(|h| self.resolve(h).ok()) else {
            return;
        };
        let (Kind::Struct(fields), Ok(elem)) = (&h.kind, self.resolve(elem)) else {
            return;
        };
        let Some(qsize_field) = fields.get(1) else {
            return;
        };
        let qsize = match Place::Mem(ptr.wrapping_add(qsize_field.offset)).read_uint(self.mem(), 8)
        {
            Ok(n) => n,
            Err(e) => {
                v.unreadable = Some(format!("unreadable length: {e}"));
                return;
            }
        };
        let buf = Type::pointer_to(&Type::array_of(&elem, qsize));
        let fields = fields
            .iter()
            .map(|f| {
                let mut f = f.clone();
                if f.name == "buf" {
                    f.typ = TypeRef::Made(buf.clone());
                }
                f
            })
            .collect();
        v.hchan = Some(Arc::new(Type {
            kind: Kind::Struct(fields),
            ..(*h).clone()
        }));
    }

    /// Reads `v` as far as `cfg` says (Delve's `loadValueInternal`).
    pub(crate) fn load(&self, v: &mut Value, level: usize, cfg: &LoadConfig) {
        if v.unreadable.is_some() || v.loaded || (v.addr() == 0 && v.base == 0) {
            return;
        }
        if !self.spend() {
            v.unreadable = Some(format!("more than {MAX_VALUES} values read; stopped"));
            return;
        }
        v.loaded = true;
        match v.kind() {
            VKind::Ptr | VKind::UnsafePtr => {
                self.load_ptr(v);
                if v.kind() == VKind::UnsafePtr {
                    return;
                }
                if !cfg.follow_pointers {
                    if let Some(c) = v.children.first_mut() {
                        c.only_addr = true;
                    }
                    return;
                }
                let Some(child) = v.children.first_mut() else {
                    return;
                };
                // Pointers do not count as nesting, except to interfaces and to pointers
                // (which could loop).
                let mut next = level;
                let mut check = false;
                if child.kind() == VKind::Interface {
                    next += 1;
                } else if child.kind() == VKind::Ptr {
                    next += 1;
                    check = true;
                }
                if check && level > cfg.max_recurse {
                    child.only_addr = true;
                } else {
                    self.load(child, next, cfg);
                }
            }
            VKind::Chan => {
                if v.base == 0 {
                    // A nil channel: no header to show.
                    return;
                }
                let Some(h) = v.hchan.clone() else {
                    self.chan_counts(v);
                    return;
                };
                let mut sv = self.new_value("", h, Place::Mem(v.base));
                self.load(&mut sv, 0, &FULL);
                v.len = sv.len;
                v.children = sv.children;
                if let Some(u) = sv.unreadable {
                    v.unreadable = Some(u);
                }
            }
            VKind::Map => {
                if level <= cfg.max_recurse {
                    self.load_map(v, level, cfg);
                } else {
                    // The length only, so that a non-empty map does not look empty.
                    let _ = self.map_entries(v, false);
                }
            }
            VKind::String => {
                if v.len == 0 {
                    v.scalar = Some(Scalar::Str(Vec::new()));
                    return;
                }
                let n = usize::try_from(v.len)
                    .unwrap_or(usize::MAX)
                    .min(cfg.max_string);
                let mut b = vec![0u8; n];
                match self.mem().read(v.base, &mut b) {
                    Ok(()) => v.scalar = Some(Scalar::Str(b)),
                    Err(e) => {
                        v.unreadable =
                            Some(format!("could not read string at {:#x} due to {e}", v.base))
                    }
                }
            }
            VKind::Slice | VKind::Array => self.load_array(v, level, cfg),
            VKind::Struct => {
                let Some(t) = v.typ.clone() else { return };
                let Kind::Struct(fields) = &t.kind else {
                    return;
                };
                v.len = fields.len() as i64;
                if level > cfg.max_recurse {
                    return;
                }
                let closure = t.name == "struct" && t.dwarf.is_none();
                for f in fields {
                    if cfg.max_fields.is_some_and(|m| v.children.len() >= m) {
                        break;
                    }
                    let mut c = match self.resolve(&f.typ) {
                        Ok(ft) => self.new_value(&f.name, ft, v.place.offset(f.offset)),
                        Err(e) => {
                            let mut c = Value::blank(&f.name, None, v.place.offset(f.offset));
                            c.unreadable = Some(e.to_string());
                            c
                        }
                    };
                    if closure && f.name.starts_with('&') && c.kind() == VKind::Ptr {
                        // A variable the closure captured by reference.
                        c = self.deref(&c);
                        c.name = f.name[1..].to_string();
                    }
                    self.load(&mut c, level + 1, cfg);
                    v.children.push(c);
                }
                if t.name == "time.Time" {
                    self.format_time(v);
                }
            }
            VKind::Interface => self.load_interface(v, level, true, cfg),
            VKind::Complex => {
                let half = v.typ.as_ref().map_or(8, |t| t.size / 2);
                let rd = |o: u64| v.place.offset(o).read_uint(self.mem(), half);
                match (rd(0), rd(half)) {
                    (Ok(r), Ok(i)) => {
                        let f = |b: u64| {
                            if half == 4 {
                                f64::from(f32::from_bits(b as u32))
                            } else {
                                f64::from_bits(b)
                            }
                        };
                        v.scalar = Some(Scalar::Complex(f(r), f(i)));
                    }
                    (Err(e), _) | (_, Err(e)) => v.unreadable = Some(e),
                }
            }
            VKind::Int | VKind::Uint | VKind::Bool | VKind::Float => {
                let t = v.typ.clone();
                let size = t.as_ref().map_or(8, |t| t.size.clamp(1, 8));
                match v.place.read_uint(self.mem(), size) {
                    Ok(raw) => {
                        v.scalar = Some(match v.kind() {
                            VKind::Int => Scalar::Int(i128::from(sign_extend(raw, size))),
                            VKind::Uint => Scalar::Int(i128::from(raw)),
                            VKind::Bool => Scalar::Bool(raw & 0xff != 0),
                            _ => Scalar::Float(if size == 4 {
                                f64::from(f32::from_bits(raw as u32))
                            } else {
                                f64::from_bits(raw)
                            }),
                        });
                        self.describe_const(v);
                    }
                    Err(e) => v.unreadable = Some(e),
                }
            }
            VKind::Func => self.load_func(v, level, cfg),
            VKind::Invalid => {
                v.unreadable = Some("unknown or unsupported kind: \"invalid\"".into());
            }
        }
    }

    /// Delve shows a `time.Time` as its RFC 3339 text (and, with a monotonic reading, the
    /// reading) before its fields. Delve renders it in the location's zone from the host's
    /// zone database; goscope renders UTC, and `Local` when the host's zone is UTC, and
    /// leaves other zones to the fields.
    fn format_time(&self, v: &mut Value) {
        let field = |n: &str| v.children.iter().find(|c| c.name == n);
        let (Some(Scalar::Int(wall)), Some(Scalar::Int(ext))) = (
            field("wall").and_then(|c| c.scalar.clone()),
            field("ext").and_then(|c| c.scalar.clone()),
        ) else {
            return;
        };
        let (wall, ext) = (wall as u64, ext as i64);
        let utc = match field("loc") {
            None => true,
            Some(l) => match l.children.first() {
                None => l.unreadable.is_none() && l.place.read_uint(self.mem(), 8) == Ok(0),
                Some(loc) if loc.addr() == 0 => true,
                Some(loc) => {
                    let name = self.location_name(loc);
                    match name.as_deref() {
                        Some("UTC" | "") => true,
                        Some("Local") => host_zone_is_utc(),
                        _ => false,
                    }
                }
            },
        };
        if !utc {
            return;
        }
        const HAS_MONOTONIC: u64 = 1 << 63;
        const WALL_NSEC_SHIFT: u32 = 30;
        /// `unixTimestampOfWallEpoch`: 1885-01-01 in Unix seconds.
        const WALL_EPOCH: i64 = -2_682_288_000;
        /// Seconds from 0001-01-01 to 1970-01-01.
        const YEAR_ONE: i64 = -62_135_596_800;
        const MAX_ADD_SECONDS: i64 = i64::MAX / 1_000_000_000;
        let text = if wall & HAS_MONOTONIC != 0 {
            let sec = ((wall << 1) >> (WALL_NSEC_SHIFT + 1)) as i64;
            format!("{}, {ext:+}", rfc3339_utc(sec + WALL_EPOCH))
        } else {
            if ext > MAX_ADD_SECONDS * 1000 {
                return;
            }
            rfc3339_utc(ext.saturating_add(YEAR_ONE))
        };
        v.scalar = Some(Scalar::Str(text.into_bytes()));
    }

    /// The `name` of a `time.Location`.
    fn location_name(&self, loc: &Value) -> Option<String> {
        let Some(Kind::Struct(fields)) = loc.typ.as_ref().map(|t| &t.kind) else {
            return None;
        };
        let f = fields.iter().find(|f| f.name == "name")?;
        let mut n = self.new_value(
            "name",
            self.resolve(&f.typ).ok()?,
            loc.place.offset(f.offset),
        );
        self.load(&mut n, 0, &SINGLE);
        match n.scalar {
            Some(Scalar::Str(b)) if n.unreadable.is_none() => {
                Some(String::from_utf8_lossy(&b).into_owned())
            }
            _ => None,
        }
    }

    /// Delve names integers of a named type after the type's constants.
    fn describe_const(&self, v: &mut Value) {
        let (Some(t), Some(Scalar::Int(n))) = (&v.typ, &v.scalar) else {
            return;
        };
        if v.flags & flag::CONSTANT != 0 || !t.name.contains('.') || t.name.starts_with("C.") {
            return;
        }
        let (Some(di), Some(off)) = (&self.di, t.dwarf) else {
            return;
        };
        let Some(consts) = di.consts(off) else {
            return;
        };
        let Ok(n) = i64::try_from(*n) else { return };
        let prefix = format!("{}.", package_of(&t.name));
        let name = |s: &str| s.strip_prefix(&prefix).unwrap_or(s).to_string();
        if let Some((c, _)) = consts.iter().find(|(_, val)| *val == n) {
            v.const_descr = Some(name(c));
            return;
        }
        if n == 0 {
            return;
        }
        // All single bits: a bitwise or of constants.
        let mut rest = n;
        let mut parts = Vec::new();
        for (c, val) in consts {
            if val.count_ones() != 1 {
                continue;
            }
            if rest & val != 0 {
                parts.push(name(c));
                rest &= !val;
            }
        }
        if rest == 0 {
            v.const_descr = Some(parts.join("|"));
        }
    }

    /// A channel without its `hchan` type (no DWARF): its length and capacity only.
    fn chan_counts(&self, v: &mut Value) {
        let uint = Type::basic("uint").unwrap_or_else(|| Type::made("uint", 8, Kind::Uint));
        for (name, off) in [("qcount", 0u64), ("dataqsiz", 8)] {
            let mut c = self.new_value(name, uint.clone(), Place::Mem(v.base.wrapping_add(off)));
            self.load(&mut c, 1, &SINGLE);
            v.children.push(c);
        }
        v.len = 2;
    }

    fn load_ptr(&self, v: &mut Value) {
        if !v.children.is_empty() {
            return;
        }
        let elem = match v.typ.as_ref().map(|t| &t.kind) {
            Some(Kind::Pointer(e)) => self.resolve(e),
            _ => Ok(Type::made("void", 0, Kind::Void)),
        };
        let elem = match elem {
            Ok(e) => e,
            Err(e) => {
                v.unreadable = Some(e.to_string());
                return;
            }
        };
        v.len = 1;
        let child = match v.place.read_uint(self.mem(), 8) {
            Ok(p) => self.new_value("", elem, Place::Mem(p)),
            Err(e) => {
                let mut c = Value::blank("", Some(elem), Place::Mem(0));
                c.unreadable = Some(format!("parent pointer unreadable: {e}"));
                v.unreadable = Some(e);
                c
            }
        };
        v.scalar = Some(Scalar::Int(i128::from(child.addr())));
        v.children = vec![child];
    }

    /// What a pointer points to (Delve's `maybeDereference`); other values unchanged.
    pub(crate) fn deref(&self, v: &Value) -> Value {
        if v.unreadable.is_some() {
            return v.clone();
        }
        let Some(Kind::Pointer(elem)) = v.typ.as_ref().map(|t| &t.kind) else {
            return v.clone();
        };
        if (v.addr() == 0 || v.flags & flag::MADE_POINTER != 0) && v.children.len() == 1 && v.loaded
        {
            return v.children[0].clone();
        }
        let elem = match self.resolve(elem) {
            Ok(e) => e,
            Err(e) => {
                let mut r = v.clone();
                r.unreadable = Some(e.to_string());
                return r;
            }
        };
        match v.place.read_uint(self.mem(), 8) {
            Ok(p) => self.new_value("", elem, Place::Mem(p)),
            Err(e) => {
                let mut r = Value::blank("", Some(elem), Place::Mem(0));
                r.unreadable = Some(e);
                r
            }
        }
    }

    fn load_array(&self, v: &mut Value, level: usize, cfg: &LoadConfig) {
        if v.len < 0 {
            v.unreadable = Some("Negative array length".into());
            return;
        }
        if v.base == 0 && v.len > 0 && v.kind() == VKind::Slice {
            v.unreadable = Some("non-zero length array with nil base".into());
            return;
        }
        let Some(elem) = v.elem.clone() else { return };
        let count = (v.len as u64).min(cfg.max_array as u64);
        if v.stride.checked_mul(count).is_none()
            || v.base.checked_add(v.stride.saturating_mul(count)).is_none()
        {
            v.unreadable = Some(format!("bad array base address {:#x}", v.base));
            return;
        }
        let mut errors = 0;
        for i in 0..count {
            let place = self.element_place(v, i);
            let mut c = self.new_value("", elem.clone(), place);
            self.load(&mut c, level + 1, cfg);
            if c.unreadable.is_some() {
                errors += 1;
            }
            v.children.push(c);
            if errors > MAX_ERRORS {
                break;
            }
        }
    }

    /// Where element `i` of an array, slice or string is.
    fn element_place(&self, v: &Value, i: u64) -> Place {
        let off = i.wrapping_mul(v.stride);
        if v.kind() == VKind::Array && !matches!(v.place, Place::None) {
            v.place.offset(off)
        } else {
            Place::Mem(v.base.wrapping_add(off))
        }
    }

    fn read_interface(&self, v: &mut Value) -> Option<(u64, Place, bool)> {
        let empty = matches!(
            v.typ.as_ref().map(|t| &t.kind),
            Some(Kind::Interface { empty: true })
        );
        let w0 = match v.place.read_uint(self.mem(), 8) {
            Ok(w) => w,
            Err(e) => {
                v.unreadable = Some(e);
                return None;
            }
        };
        let data = v.place.offset(8);
        if empty {
            return Some((w0, data, w0 == 0));
        }
        if w0 == 0 {
            return Some((0, data, true));
        }
        match self
            .mem()
            .read_u64(w0.wrapping_add(self.ctx.rt.off.itab_type))
        {
            Ok(t) => Some((t, data, false)),
            Err(e) => {
                v.unreadable = Some(format!("invalid interface type: {e}"));
                None
            }
        }
    }

    fn load_interface(&self, v: &mut Value, level: usize, load_data: bool, cfg: &LoadConfig) {
        if !v.children.is_empty() {
            return;
        }
        let Some((t, data, isnil)) = self.read_interface(v) else {
            return;
        };
        if isnil {
            let p = data.read_uint(self.mem(), 8).unwrap_or(0);
            let mut c = Value::blank("", Some(Type::made("void", 0, Kind::Void)), Place::Mem(p));
            if load_data && p != 0 {
                self.load(&mut c, level, cfg);
            }
            v.children = vec![c];
            return;
        }
        let (dyn_t, direct) = match self.dynamic_type(t) {
            Ok(x) => x,
            Err(e) => {
                v.unreadable = Some(e.to_string());
                return;
            }
        };
        let mut c = if !direct && !matches!(dyn_t.kind, Kind::Pointer(_)) {
            // The data word points to the value.
            match data.read_uint(self.mem(), 8) {
                Ok(p) => self.new_value("data", dyn_t, Place::Mem(p)),
                Err(e) => {
                    let mut c = Value::blank("data", Some(dyn_t), Place::Mem(0));
                    c.unreadable = Some(e);
                    c
                }
            }
        } else {
            self.new_value("data", dyn_t, data)
        };
        if load_data && level <= cfg.max_recurse {
            self.load(&mut c, level, cfg);
        } else {
            c.only_addr = true;
        }
        v.children = vec![c];
    }

    fn load_func(&self, v: &mut Value, level: usize, cfg: &LoadConfig) {
        let closure = match v.place.read_uint(self.mem(), 8) {
            Ok(c) => c,
            Err(e) => {
                v.unreadable = Some(e);
                return;
            }
        };
        v.closure_addr = closure;
        if closure == 0 {
            v.base = 0;
            v.scalar = Some(Scalar::Str(Vec::new()));
            return;
        }
        let pc = match self.mem().read_u64(closure) {
            Ok(p) => p,
            Err(e) => {
                v.unreadable = Some(e.to_string());
                return;
            }
        };
        v.base = pc;
        let link = pc.wrapping_sub(self.ctx.bias);
        let Some(f) = self.ctx.rt.bin.func_at(link) else {
            v.unreadable = Some(format!("could not find function for {pc:#x}"));
            return;
        };
        v.scalar = Some(Scalar::Str(f.name().as_bytes().to_vec()));
        let Some(cst) = self
            .di
            .as_ref()
            .and_then(|di| di.function_at(link).and_then(|off| di.closure_type(off)))
        else {
            return;
        };
        if let Kind::Struct(fields) = &cst.kind {
            v.len = fields.len() as i64;
            if level <= cfg.max_recurse && !fields.is_empty() {
                let mut s = self.new_value("", cst.clone(), Place::Mem(closure));
                self.load(&mut s, level, cfg);
                v.children = s.children;
            }
        }
    }

    /// Where a map's entries are (key, element), in iteration order; sets its length and
    /// header address. `None` for nil or unreadable maps. Without `entries`, only the header
    /// is read.
    fn map_entries(&self, v: &mut Value, entries: bool) -> Option<Vec<(Place, Place)>> {
        let hdr = match v.place.read_uint(self.mem(), 8) {
            Ok(h) => h,
            Err(e) => {
                v.unreadable = Some(e);
                return None;
            }
        };
        v.base = hdr;
        if hdr == 0 {
            v.len = 0;
            return None;
        }
        let rd = self.reader();
        let Some(header) = rd.map_header(hdr) else {
            v.unreadable = Some(format!("map header at {hdr:#x} is not readable"));
            return None;
        };
        v.len = match header {
            crate::maps::MapHeader::Hashmap { count, .. } => count as i64,
            crate::maps::MapHeader::Swiss { used, .. } => used as i64,
        };
        if !entries {
            return Some(Vec::new());
        }
        let t = v.typ.clone()?;
        let file = Reader::new(self.ctx.rt, &self.file, 0);
        let mt = match t.rtype {
            Some(r) => file.map_type(r),
            None => file.map_types().into_iter().find(|m| m.name == t.name),
        };
        let Some(mt) = mt else {
            v.unreadable = Some(format!(
                "no runtime type descriptor for {}: its layout is unknown",
                t.name
            ));
            return None;
        };
        let mut warnings = Vec::new();
        let slots = rd.slots(hdr, &mt, &mut warnings);
        if slots.is_empty()
            && v.len > 0
            && let Some(w) = warnings.into_iter().next()
        {
            v.unreadable = Some(w);
            return None;
        }
        let ind = |indirect: bool, a: u64| -> Place {
            if indirect {
                Place::Mem(self.mem().read_u64(a).unwrap_or(0))
            } else {
                Place::Mem(a)
            }
        };
        Some(
            slots
                .into_iter()
                .map(|(k, e)| (ind(mt.indirect_key, k), ind(mt.indirect_elem, e)))
                .collect(),
        )
    }

    fn map_kv_types(&self, v: &Value) -> Result<(Arc<Type>, Arc<Type>), ExprError> {
        match v.typ.as_ref().map(|t| &t.kind) {
            Some(Kind::Map { key, elem }) => Ok((self.resolve(key)?, self.resolve(elem)?)),
            _ => Err(type_err("not a map")),
        }
    }

    fn load_map(&self, v: &mut Value, level: usize, cfg: &LoadConfig) {
        let Some(entries) = self.map_entries(v, true) else {
            return;
        };
        if v.len == 0 || v.map_skip >= v.len as u64 || cfg.max_array == 0 {
            return;
        }
        let (kt, et) = match self.map_kv_types(v) {
            Ok(x) => x,
            Err(e) => {
                v.unreadable = Some(e.to_string());
                return;
            }
        };
        let skip = usize::try_from(v.map_skip).unwrap_or(usize::MAX);
        if entries.len() < skip {
            v.unreadable = Some("map index out of bounds".into());
            return;
        }
        let mut count = 0usize;
        let mut errors = 0usize;
        for (kp, ep) in entries.into_iter().skip(skip) {
            let mut k = self.new_value("", kt.clone(), kp);
            let mut e = self.new_value("", et.clone(), ep);
            self.load(&mut k, level + 1, cfg);
            self.load(&mut e, level + 1, cfg);
            if k.unreadable.is_some() || e.unreadable.is_some() {
                errors += 1;
            }
            v.children.push(k);
            v.children.push(e);
            count += 1;
            if errors > MAX_ERRORS || count >= cfg.max_array || count as i64 >= v.len {
                break;
            }
        }
    }

    /// The goroutines blocked on channel `v` (its receive queue, then its send queue), with
    /// the lines Delve prints for them.
    fn chan_waiting(&self, v: &Value) -> Vec<WaitingGoroutine> {
        let mut out = Vec::new();
        let Some(h) = &v.hchan else { return out };
        if v.base == 0 {
            return out;
        }
        let Kind::Struct(fields) = &h.kind else {
            return out;
        };
        let mut gs = Vec::new();
        for q in ["recvq", "sendq"] {
            let Some(f) = fields.iter().find(|f| f.name == q) else {
                continue;
            };
            let Ok(wq) = self.resolve(&f.typ) else {
                continue;
            };
            let Kind::Struct(wf) = &wq.kind else { continue };
            let Some(first) = wf.iter().find(|f| f.name == "first") else {
                continue;
            };
            let Ok(Some(sudog)) = self.resolve(&first.typ).map(|p| match &p.kind {
                Kind::Pointer(e) => self.resolve(e).ok(),
                _ => None,
            }) else {
                continue;
            };
            let Kind::Struct(sf) = &sudog.kind else {
                continue;
            };
            let (Some(g_off), Some(next_off)) = (
                sf.iter().find(|f| f.name == "g").map(|f| f.offset),
                sf.iter().find(|f| f.name == "next").map(|f| f.offset),
            ) else {
                continue;
            };
            let mut s = self
                .mem()
                .read_u64(v.base.wrapping_add(f.offset).wrapping_add(first.offset))
                .unwrap_or(0);
            let mut seen = HashSet::new();
            while s != 0 && seen.insert(s) && seen.len() < MAX_CHAIN {
                if let Ok(g) = self.mem().read_u64(s.wrapping_add(g_off)) {
                    gs.push(g);
                }
                s = self.mem().read_u64(s.wrapping_add(next_off)).unwrap_or(0);
            }
        }
        if gs.is_empty() {
            return out;
        }
        let snap = crate::Snapshot::with_memory(self.ctx.rt, self.ctx.mem, self.ctx.bias, &[]);
        for g in gs.into_iter().take(100) {
            let Ok(mut gr) = snap.goroutine(g) else {
                continue;
            };
            snap.fill_stack(&mut gr);
            let prefix = if Some(gr.id) == self.ctx.frame.goroutine {
                "* "
            } else {
                "  "
            };
            let mut line = format!("{prefix}Goroutine {} - User: ", gr.id);
            match user_location(&gr.frames) {
                Some((file, l, func, pc)) => {
                    line.push_str(&format!("{file}:{l} {func} ({pc:#x})"));
                }
                None => line.push_str("?:0 ? (0x0)"),
            }
            if let Some(t) = gr.thread {
                line.push_str(&format!(" (thread {t})"));
            }
            if let Some(r) = &gr.wait_reason
                && gr.status_code == crate::goroutine::STATUS_WAITING
            {
                line.push_str(&format!(" [{r}"));
                if gr.wait_since > 0 {
                    line.push_str(&format!(" {}", gr.wait_since));
                }
                line.push(']');
            }
            out.push(WaitingGoroutine { id: gr.id, line });
        }
        out
    }

    // ---------------------------------------------------------------- names

    fn frame_regs(&self) -> FrameRegs<'_> {
        FrameRegs {
            pc: self.ctx.frame.pc,
            sp: self.ctx.frame.sp,
            cfa: self.ctx.frame.cfa,
            regs: self.ctx.frame.regs.as_ref(),
            arch: match self.ctx.rt.bin.arch() {
                goscope_binary::Arch::Arm64 => TargetArch::Arm64,
                _ => TargetArch::Amd64,
            },
            bias: self.ctx.bias,
        }
    }

    /// The frame's logical function and line (pclntab, decoded once per pc).
    fn position(&self) -> Option<(String, i64)> {
        let link = self.ctx.frame.lookup_pc().wrapping_sub(self.ctx.bias);
        let entry = self.ctx.rt.pc_info(link)?.entry;
        let info = self.ctx.rt.sym_info(link, entry)?;
        let chain = &info.chain;
        let i = chain
            .len()
            .checked_sub(1)?
            .checked_sub(self.ctx.frame.inline_depth as usize)?;
        chain
            .get(i)
            .map(|f| (f.function.to_string(), i64::from(f.line)))
    }

    /// The frame's function name (pclntab), for its package.
    pub(super) fn function_name(&self) -> Option<String> {
        self.position().map(|(f, _)| f)
    }

    /// The variables of the frame's scope visible at its pc, named `name` (or `&name`), or all
    /// of them: `(block depth, declaration line, entry)`, Delve's order (the last of a name
    /// shadows the others).
    pub(super) fn visible_vars(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<(usize, i64, VarDie)>, ExprError> {
        let di = self.di()?;
        let link = self.ctx.frame.lookup_pc().wrapping_sub(self.ctx.bias);
        let Some(func) = di.function_at(link) else {
            return Ok(Vec::new());
        };
        let scope = di.scope(func)?;
        // The scope of this logical frame: the function, or the call inlined at the depth.
        let mut path = vec![&*scope];
        while path.len() <= self.ctx.frame.inline_depth as usize {
            let Some(last) = path.last() else { break };
            match inlined_child(last, link, 0) {
                Some(c) => path.push(c),
                None => break,
            }
        }
        let root = path[path.len().min(self.ctx.frame.inline_depth as usize + 1) - 1];
        let line = self.position().map(|(_, l)| l);
        let mut found: Vec<(usize, i64, &VarDie)> = Vec::new();
        collect_vars(root, link, line, 0, true, name, &mut found);
        found.sort_by_key(|&(d, l, _)| (d, l));
        Ok(found
            .into_iter()
            .map(|(d, l, v)| (d, l, v.clone()))
            .collect())
    }

    /// The names of the frame's visible locals and arguments, in Delve's order.
    pub(crate) fn local_names(&self) -> Result<Vec<String>, ExprError> {
        let mut out: Vec<String> = Vec::new();
        for (_, _, v) in self.visible_vars(None)? {
            let n = v.name.strip_prefix('&').unwrap_or(&v.name).to_string();
            if n.starts_with('.') || n.starts_with('#') || n.starts_with('~') {
                continue;
            }
            out.retain(|x| *x != n);
            out.push(n);
        }
        Ok(out)
    }

    /// The names of the frame's parameters in declaration order: its arguments, or with
    /// `results` its result parameters (`~r0` for unnamed ones).
    pub(crate) fn parameter_names(&self, results: bool) -> Result<Vec<String>, ExprError> {
        let mut out: Vec<String> = Vec::new();
        for (_, _, v) in self.visible_vars(None)? {
            if !v.param || v.result != results {
                continue;
            }
            let n = v.name.strip_prefix('&').unwrap_or(&v.name).to_string();
            if !out.contains(&n) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// [`Ev::local`] for callers outside the evaluator.
    /// The value is loaded as one line of a stack listing shows it.
    pub(crate) fn variable(&self, name: &str) -> Result<Option<Value>, ExprError> {
        let mut v = self.local(name)?;
        if let Some(v) = v.as_mut() {
            self.load(v, 0, &SINGLE);
        }
        Ok(v)
    }

    /// The local variable or argument `name` visible in the frame, if any.
    fn local(&self, name: &str) -> Result<Option<Value>, ExprError> {
        let link = self.ctx.frame.lookup_pc().wrapping_sub(self.ctx.bias);
        let found = self.visible_vars(Some(name))?;
        let Some((_, _, var)) = found.last() else {
            return Ok(None);
        };
        let mut v = self.var_value(var, link)?;
        if var.name.starts_with('&') {
            let mut d = self.deref(&v);
            if d.addr() == 0 && d.unreadable.is_none() {
                d.unreadable = Some("no address for escaped variable".into());
            }
            d.flags |= flag::ESCAPED;
            v = d;
        }
        v.name = name.to_string();
        if var.param {
            v.flags |= flag::ARGUMENT;
        }
        Ok(Some(v))
    }

    fn var_value(&self, var: &VarDie, link_pc: u64) -> Result<Value, ExprError> {
        let di = self.di()?;
        let typ = match var.typ {
            Some(t) => di.type_at(t)?,
            None => {
                return Err(ExprError::Dwarf(format!(
                    "variable {} has no type",
                    var.name
                )));
            }
        };
        let fr = self.frame_regs();
        match locate(di, var, link_pc, typ.size, &fr, self.mem()) {
            Ok(place) => Ok(self.new_value(&var.name, typ, place)),
            Err(e) => {
                let mut v = Value::blank(&var.name, Some(typ), Place::None);
                v.unreadable = Some(e);
                Ok(v)
            }
        }
    }

    /// The package variable `name` (`main.x`).
    fn global(&self, name: &str) -> Result<Option<Value>, ExprError> {
        if let Some(di) = &self.di {
            let Some(off) = di.global(name) else {
                return Ok(None);
            };
            let var = di.global_var(off)?;
            let mut v = self.var_value(&var, 0)?;
            v.name = name.to_string();
            return Ok(Some(v));
        }
        // No DWARF: the symbol table knows where, not what.
        let Some(addr) = self.ctx.rt.bin.symbol_addr(name) else {
            return Ok(None);
        };
        let t = Type::basic("uint64").unwrap_or_else(|| Type::made("uint64", 8, Kind::Uint));
        let mut v = self.new_value(name, t, Place::Mem(addr.wrapping_add(self.ctx.bias)));
        v.notes.push(format!(
            "{name}: no DWARF, so its type is unknown; shown is the 8-byte word at its address \
             {:#x} (from the symbol table)",
            addr.wrapping_add(self.ctx.bias)
        ));
        Ok(Some(v))
    }

    fn register(&self, name: &str) -> Result<Value, ExprError> {
        let lower = name.to_ascii_lowercase();
        let f = &self.ctx.frame;
        let val = match lower.as_str() {
            "pc" | "rip" => Some(f.pc),
            "sp" | "rsp" => Some(f.sp),
            "g" => Some(f.g),
            "cfa" => Some(f.cfa),
            _ => {
                let alias = match (self.ctx.rt.bin.arch(), lower.as_str()) {
                    (goscope_binary::Arch::Arm64, "lr") => "x30",
                    (goscope_binary::Arch::Arm64, "fp") => "x29",
                    (goscope_binary::Arch::Amd64, "fp") => "rbp",
                    (_, n) => n,
                };
                match &f.regs {
                    Some(r) => match r.get(alias) {
                        Some(v) => Some(v),
                        None => {
                            return Err(ExprError::NotFound(format!("no register ${name}")));
                        }
                    },
                    None => {
                        return Err(ExprError::NotFound(format!(
                            "register ${name} is known only in the innermost frame of a stopped \
                             thread (this frame has $pc, $sp, $cfa and $g)"
                        )));
                    }
                }
            }
        };
        let t = Type::basic("uint64").unwrap_or_else(|| Type::made("uint64", 8, Kind::Uint));
        let mut v = Value::computed(t, Scalar::Int(i128::from(val.unwrap_or(0))));
        v.name = name.to_string();
        v.flags |= flag::REGISTER;
        Ok(v)
    }

    fn ident(&self, name: &str) -> Result<Value, ExprError> {
        if self.di.is_some() {
            if let Some(v) = self.local(name)? {
                return Ok(v);
            }
            if let Some(pkg) = self.function_name().map(|f| package_of(&f).to_string())
                && !pkg.is_empty()
                && let Some(v) = self.global(&format!("{pkg}.{name}"))?
            {
                return Ok(v);
            }
        }
        match name {
            "true" | "false" => return Ok(Value::constant(Scalar::Bool(name == "true"))),
            "nil" => return Ok(Value::nil()),
            "goroutine" => {
                return match self.ctx.frame.goroutine {
                    Some(id) => Ok(Value::constant(Scalar::Int(i128::from(id)))),
                    None => Err(ExprError::NotFound(
                        "goroutine: this frame is not on a goroutine".into(),
                    )),
                };
            }
            _ => {}
        }
        // Delve's register names: `RAX`, `_RAX`.
        let upper = name.trim_start_matches('_');
        if !upper.is_empty()
            && upper
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && let Ok(v) = self.register(upper)
        {
            return Ok(v);
        }
        if self.di.is_none() {
            return Err(ExprError::NoDwarf(format!(
                "{name}: the binary has no DWARF, so its variables have no names here \
                 (registers, $pc, $sp, $g and memory through conversions such as \
                 *(*int)(0xADDR) still work)"
            )));
        }
        Err(ExprError::NotFound(format!(
            "could not find symbol value for {name}"
        )))
    }

    // ---------------------------------------------------------------- expressions

    pub(crate) fn eval(&self, n: &Node) -> Result<Value, ExprError> {
        match n {
            Node::Ident(name) => self.ident(name),
            Node::Register(r) => self.register(r),
            Node::Lit(l) => Ok(match l {
                Lit::Int(i) | Lit::Rune(i) => Value::constant(Scalar::Int(*i)),
                Lit::Float(f) => Value::constant(Scalar::Float(*f)),
                Lit::Imag(f) => Value::constant(Scalar::Complex(0.0, *f)),
                Lit::Str(s) => Value::constant(Scalar::Str(s.clone())),
            }),
            Node::Paren(x) => self.eval(x),
            Node::Select(x, name) => self.select(x, name),
            Node::Index(x, i) => self.index(x, i),
            Node::Slice(x, lo, hi) => self.slice(x, lo.as_deref(), hi.as_deref()),
            Node::TypeAssert(x, t) => self.type_assert(x, t),
            Node::Call(f, args) => self.call(f, args),
            Node::Unary(op, x) => self.unary(*op, x),
            Node::Binary(op, x, y) => self.binary(*op, x, y),
            Node::SliceType(_)
            | Node::ArrayType(..)
            | Node::MapType(..)
            | Node::ChanType(_)
            | Node::EmptyInterface => {
                Err(type_err(format!("{} is a type, not a value", n.source())))
            }
        }
    }

    fn select(&self, x: &Node, name: &str) -> Result<Value, ExprError> {
        // `pkg.name` and `"path/pkg".name` are package variables, unless `pkg` is a local.
        let pkg = match x {
            Node::Ident(p) => {
                let is_local = match self.di.is_some() {
                    true => self.local(p)?.is_some(),
                    false => false,
                };
                (!is_local).then(|| p.clone())
            }
            Node::Lit(Lit::Str(p)) => Some(String::from_utf8_lossy(p).into_owned()),
            _ => None,
        };
        if let Some(pkg) = pkg {
            let full = format!("{pkg}.{name}");
            if let Some(v) = self.global(&full)? {
                return Ok(v);
            }
            if matches!(x, Node::Lit(_)) || self.ident(&pkg).is_err() {
                if self.di.is_none() {
                    return Err(ExprError::NoDwarf(format!(
                        "{full}: not in the symbol table, and the binary has no DWARF"
                    )));
                }
                return Err(ExprError::NotFound(format!(
                    "could not find symbol value for {full}"
                )));
            }
        }
        let v = self.eval(x)?;
        self.member(v, name)
    }

    /// Field `name` of `v`, through pointers, interfaces and embedded structs (Delve's
    /// `findStructMemberOrMethod`, without methods).
    fn member(&self, v: Value, name: &str) -> Result<Value, ExprError> {
        if v.is_nil_const() {
            return Err(type_err("nil (type ) is not a struct"));
        }
        if let Some(u) = &v.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        let vname = if v.name.is_empty() {
            v.type_name().to_string()
        } else {
            v.name.clone()
        };
        let mut v = v;
        match v.kind() {
            VKind::Chan => {
                let Some(h) = v.hchan.clone() else {
                    return Err(type_err(format!("{vname} has no member {name}")));
                };
                v = self.new_value(&v.name, h, Place::Mem(v.base));
            }
            VKind::Interface => {
                self.load_interface(&mut v, 0, false, &FULL);
                if let Some(u) = &v.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                if let Some(c) = v.children.first() {
                    let mut c = c.clone();
                    c.only_addr = false;
                    v = c;
                }
            }
            _ => {}
        }
        let mut queue = std::collections::VecDeque::from([v]);
        let mut seen = HashSet::new();
        let mut first = true;
        let mut steps = 0;
        while let Some(cur) = queue.pop_front() {
            steps += 1;
            if steps > MAX_CHAIN {
                break;
            }
            if !seen.insert(cur.type_name().to_string()) {
                continue;
            }
            let sv = self.deref(&cur);
            if let Some(u) = &sv.unreadable {
                return Err(ExprError::Memory(u.clone()));
            }
            if sv.addr() == 0 && matches!(sv.typ.as_ref().map(|t| &t.kind), Some(Kind::Struct(_))) {
                return Err(type_err(format!("{} is nil", cur.name)));
            }
            match sv.typ.as_ref().map(|t| &t.kind) {
                Some(Kind::Struct(fields)) => {
                    for f in fields {
                        if f.name == name {
                            let ft = self.resolve(&f.typ)?;
                            return Ok(self.new_value(&f.name, ft, sv.place.offset(f.offset)));
                        }
                        if !f.embedded {
                            continue;
                        }
                        let ft = self.resolve(&f.typ)?;
                        let e = self.new_value(&f.name, ft, sv.place.offset(f.offset));
                        if f.name.rsplit('.').next() == Some(name) && f.name.contains('.') {
                            return Ok(e);
                        }
                        queue.push_back(e);
                    }
                }
                _ => {
                    if first {
                        return Err(type_err(format!(
                            "{vname} (type {}) has no member {name}",
                            sv.type_name()
                        )));
                    }
                }
            }
            first = false;
        }
        Err(ExprError::NotFound(format!("{vname} has no member {name}")))
    }

    fn as_int(&self, v: &mut Value) -> Result<i64, ExprError> {
        if v.typ.is_none() {
            return match &v.scalar {
                Some(Scalar::Int(i)) => i64::try_from(*i).map_err(|_| type_err("integer overflow")),
                other => Err(type_err(format!(
                    "can not convert constant {} to int",
                    scalar_text(other)
                ))),
            };
        }
        self.load(v, 0, &SINGLE);
        if let Some(u) = &v.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        if v.kind() != VKind::Int {
            return Err(type_err(format!(
                "can not convert value of type {} to int",
                v.type_name()
            )));
        }
        match &v.scalar {
            Some(Scalar::Int(i)) => i64::try_from(*i).map_err(|_| type_err("integer overflow")),
            _ => Err(type_err("not an integer")),
        }
    }

    fn index(&self, x: &Node, i: &Node) -> Result<Value, ExprError> {
        let xv = self.eval(x)?;
        let mut iv = self.eval(i)?;
        if let Some(u) = &xv.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        let mut xv = self.deref(&xv);
        let cant = |v: &Value| {
            type_err(format!(
                "expression {:?} ({}) does not support indexing",
                x.source(),
                v.type_name()
            ))
        };
        if xv.kind() == VKind::Ptr {
            // A pointer to a pointer: only pointers to arrays index.
            let is_arr = matches!(xv.typ.as_ref().map(|t| &t.kind), Some(Kind::Pointer(e)) if self.resolve(e).is_ok_and(|e| matches!(e.kind, Kind::Array(..))));
            if xv.is_nil_const() || !is_arr {
                return Err(cant(&xv));
            }
            xv = self.deref(&xv);
        }
        match xv.kind() {
            VKind::Slice | VKind::Array | VKind::String => {
                if xv.base == 0 && !(xv.kind() == VKind::Array && xv.addr() != 0) {
                    return Err(type_err(format!("can not index {:?}", x.source())));
                }
                let n = self.as_int(&mut iv)?;
                self.slice_access(&xv, n)
            }
            VKind::Map => {
                self.load(&mut iv, 0, &FULL);
                if let Some(u) = &iv.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                self.map_access(&mut xv, &mut iv)
            }
            _ => Err(cant(&xv)),
        }
    }

    fn slice_access(&self, v: &Value, idx: i64) -> Result<Value, ExprError> {
        if idx < 0 || idx >= v.len {
            return Err(type_err("index out of bounds"));
        }
        if v.loaded {
            if v.kind() == VKind::String {
                let Some(Scalar::Str(s)) = &v.scalar else {
                    return Err(type_err("index out of bounds"));
                };
                let b = *s
                    .get(idx as usize)
                    .ok_or_else(|| type_err("index out of bounds"))?;
                let t = Type::basic("uint8").unwrap_or_else(|| Type::made("uint8", 1, Kind::Uint));
                let mut r = self.new_value("", t, Place::Mem(v.base.wrapping_add(idx as u64)));
                r.loaded = true;
                r.scalar = Some(Scalar::Int(i128::from(b)));
                return Ok(r);
            }
            return v
                .children
                .get(idx as usize)
                .cloned()
                .ok_or_else(|| type_err("index out of bounds"));
        }
        let elem = v
            .elem
            .clone()
            .ok_or_else(|| type_err("element type unknown"))?;
        Ok(self.new_value("", elem, self.element_place(v, idx as u64)))
    }

    fn map_access(&self, m: &mut Value, key: &mut Value) -> Result<Value, ExprError> {
        let entries = match self.map_entries(m, true) {
            Some(e) => e,
            None => {
                if let Some(u) = &m.unreadable {
                    return Err(ExprError::Memory(format!(
                        "can not access unreadable map: {u}"
                    )));
                }
                return Err(ExprError::NotFound("key not found".into()));
            }
        };
        let (kt, et) = self.map_kv_types(m)?;
        let mut cfg = FULL;
        if key.kind() == VKind::String
            && let Some(Scalar::Str(s)) = &key.scalar
            && s.len() as i64 == key.len
            && key.len > cfg.max_string as i64
        {
            cfg.max_string = usize::try_from(key.len).unwrap_or(usize::MAX);
        }
        let mut first = true;
        for (kp, ep) in entries {
            let mut k = self.new_value("", kt.clone(), kp);
            self.load(&mut k, 0, &cfg);
            if let Some(u) = &k.unreadable {
                return Err(ExprError::Memory(format!(
                    "can not access unreadable map: {u}"
                )));
            }
            if first {
                first = false;
                is_type(key, &kt)?;
            }
            if self.compare(BinOp::Eq, &mut k, key)? {
                return Ok(self.new_value("", et, ep));
            }
        }
        Err(ExprError::NotFound("key not found".into()))
    }

    fn slice(&self, x: &Node, lo: Option<&Node>, hi: Option<&Node>) -> Result<Value, ExprError> {
        let mut xv = self.eval(x)?;
        let low = match lo {
            Some(n) => {
                let mut v = self.eval(n)?;
                self.as_int(&mut v)?
            }
            None => 0,
        };
        if let Some(u) = &xv.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        match xv.kind() {
            VKind::Slice | VKind::Array | VKind::String => {
                let high = match hi {
                    Some(n) => {
                        let mut v = self.eval(n)?;
                        self.as_int(&mut v)?
                    }
                    None => xv.len,
                };
                if xv.base == 0 {
                    return Err(type_err(format!("can not slice {:?}", x.source())));
                }
                let limit = if xv.kind() == VKind::Slice {
                    xv.cap
                } else {
                    xv.len
                };
                if low < 0 || low > limit || high < 0 || high > limit || high < low {
                    return Err(type_err("index out of bounds"));
                }
                let typ = match (xv.kind(), &xv.elem) {
                    (VKind::Array, Some(e)) => self
                        .type_named(&format!("[]{}", e.name))
                        .unwrap_or_else(|| {
                            Type::made(
                                format!("[]{}", e.name),
                                24,
                                Kind::Slice(TypeRef::Made(e.clone())),
                            )
                        }),
                    _ => xv.typ.clone().ok_or_else(|| type_err("untyped value"))?,
                };
                let mut r = Value::blank("", Some(typ), Place::None);
                r.base = xv.base.wrapping_add((low as u64).wrapping_mul(xv.stride));
                r.len = high - low;
                r.cap = if xv.kind() == VKind::Slice {
                    xv.cap - low
                } else {
                    xv.len - low
                };
                r.stride = xv.stride;
                r.elem = xv.elem.clone();
                Ok(r)
            }
            VKind::Map => {
                if hi.is_some() {
                    return Err(type_err("second slice argument must be empty for maps"));
                }
                xv.map_skip = xv.map_skip.saturating_add(low.max(0) as u64);
                let _ = self.map_entries(&mut xv, false);
                if xv.map_skip as i64 >= xv.len {
                    return Err(type_err("map index out of bounds"));
                }
                Ok(xv)
            }
            _ => Err(type_err(format!(
                "can not slice {:?} (type {})",
                x.source(),
                xv.type_name()
            ))),
        }
    }

    fn type_assert(&self, x: &Node, t: &Node) -> Result<Value, ExprError> {
        let mut xv = self.eval(x)?;
        if xv.kind() != VKind::Interface {
            return Err(type_err(format!(
                "expression {:?} not an interface",
                x.source()
            )));
        }
        self.load_interface(&mut xv, 0, false, &FULL);
        if let Some(u) = &xv.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        let Some(mut data) = xv.children.first().cloned() else {
            return Err(type_err("invalid interface"));
        };
        if let Some(u) = &data.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        let want = match t {
            Node::Ident(n) if n == "data" => None,
            t => Some(
                self.type_expr(t)
                    .ok_or_else(|| ExprError::NotFound(format!("no type {}", t.source())))?,
            ),
        };
        if data.addr() == 0 && data.kind() == VKind::Invalid {
            return Err(type_err(format!(
                "interface conversion: {} is nil, not {}",
                xv.type_name(),
                t.source()
            )));
        }
        if let Some(w) = want
            && w.name != data.type_name()
        {
            return Err(type_err(format!(
                "interface conversion: {} is {}, not {}",
                xv.type_name(),
                data.type_name(),
                w.name
            )));
        }
        data.only_addr = false;
        Ok(data)
    }

    fn call(&self, f: &Node, args: &[Node]) -> Result<Value, ExprError> {
        if let Node::Ident(name) = f
            && matches!(name.as_str(), "len" | "cap")
            && (self.di.is_none() || self.local(name)?.is_none())
        {
            if args.len() != 1 {
                return Err(type_err(format!(
                    "wrong number of arguments to {name}: {}",
                    args.len()
                )));
            }
            let v = self.eval(&args[0])?;
            return self.len_cap(name == "len", v, &args[0]);
        }
        let Some(typ) = self.type_expr(f) else {
            return Err(match f {
                Node::Ident(n) | Node::Select(_, n) if self.is_function_name(f) => {
                    ExprError::Unsupported(format!(
                        "calling functions ({n}) is not supported: goscope never runs code in the \
                         target"
                    ))
                }
                _ => ExprError::NotFound(format!("{} is not a type", f.source())),
            });
        };
        if args.len() != 1 {
            return Err(type_err(format!(
                "a conversion to {} takes one argument",
                typ.name
            )));
        }
        let v = self.eval(&args[0])?;
        self.convert(v, typ, &args[0])
    }

    fn is_function_name(&self, f: &Node) -> bool {
        let name = match f {
            Node::Ident(n) => match self.function_name() {
                Some(fun) => format!("{}.{n}", package_of(&fun)),
                None => n.clone(),
            },
            Node::Select(x, n) => format!("{}.{n}", x.source()),
            _ => return false,
        };
        self.ctx
            .rt
            .bin
            .pclntab()
            .funcs()
            .any(|f| f.name_bytes() == Some(name.as_bytes()))
    }

    fn len_cap(&self, is_len: bool, mut v: Value, node: &Node) -> Result<Value, ExprError> {
        let which = if is_len { "len" } else { "cap" };
        let invalid = |v: &Value| {
            type_err(format!(
                "invalid argument {} (type {}) for {which}",
                node.source(),
                v.type_name()
            ))
        };
        let mut k = v.kind();
        if k == VKind::Ptr {
            v = self.deref(&v);
            if v.kind() != VKind::Array {
                return Err(invalid(&v));
            }
            k = VKind::Array;
        }
        let n: i64 = match k {
            VKind::Array => v.len,
            VKind::Slice => {
                if let Some(u) = &v.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                if is_len { v.len } else { v.cap }
            }
            VKind::String if is_len => {
                if let Some(u) = &v.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                v.len
            }
            VKind::Chan => {
                self.load(&mut v, 0, &FULL);
                if let Some(u) = &v.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                if v.base == 0 {
                    0
                } else {
                    let c = v
                        .children
                        .get(if is_len { 0 } else { 1 })
                        .ok_or_else(|| type_err("channel without a header"))?;
                    match &c.scalar {
                        Some(Scalar::Int(i)) => i64::try_from(*i).unwrap_or(i64::MAX),
                        _ => return Err(type_err("channel without a header")),
                    }
                }
            }
            VKind::Map if is_len => {
                let _ = self.map_entries(&mut v, false);
                if let Some(u) = &v.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                v.len
            }
            _ => return Err(invalid(&v)),
        };
        Ok(Value::constant(Scalar::Int(i128::from(n))))
    }

    fn convert(&self, mut arg: Value, typ: Arc<Type>, node: &Node) -> Result<Value, ExprError> {
        let converr = || {
            type_err(format!(
                "can not convert {:?} to {}",
                node.source(),
                typ.name
            ))
        };
        if let Some(at) = arg.typ.clone()
            && self.cast_compatible(&at, &typ)
        {
            // Only the type changes.
            if let Kind::Pointer(e) = &typ.kind
                && matches!(arg.kind(), VKind::Ptr | VKind::UnsafePtr)
                && arg.loaded
                && let Some(c) = arg.children.first().cloned()
            {
                let elem = self.resolve(e)?;
                let mut nc = self.new_value(&c.name, elem, c.place.clone());
                nc.only_addr = true;
                arg.children[0] = nc;
            }
            if matches!(typ.kind, Kind::UnsafePointer) && arg.kind() == VKind::Ptr {
                arg.flags |= flag::AS_POINTER;
            }
            arg.typ = Some(typ);
            arg.const_descr = None;
            return Ok(arg);
        }
        let num = |arg: &mut Value| -> Result<Scalar, ExprError> {
            self.load(arg, 0, &SINGLE);
            if let Some(u) = &arg.unreadable {
                return Err(ExprError::Memory(u.clone()));
            }
            arg.scalar.clone().ok_or_else(converr)
        };
        match &typ.kind {
            Kind::Pointer(elem) => {
                if !matches!(arg.kind(), VKind::Int | VKind::Uint) {
                    return Err(converr());
                }
                let Scalar::Int(n) = num(&mut arg)? else {
                    return Err(converr());
                };
                let elem = self.resolve(elem)?;
                let mut v = Value::blank("", Some(typ.clone()), Place::None);
                v.loaded = true;
                v.flags |= flag::MADE_POINTER;
                let mut c = self.new_value("", elem, Place::Mem(n as u64));
                c.only_addr = true;
                v.scalar = Some(Scalar::Int(i128::from(c.addr())));
                v.children = vec![c];
                Ok(v)
            }
            Kind::Int | Kind::Uint => {
                let signed = matches!(typ.kind, Kind::Int);
                let n: i128 = match (arg.kind(), num(&mut arg)?) {
                    (VKind::Int | VKind::Uint, Scalar::Int(n)) => n,
                    (VKind::Float, Scalar::Float(f)) => {
                        if signed {
                            i128::from(f as i64)
                        } else {
                            i128::from(f as u64)
                        }
                    }
                    (VKind::Ptr, _) if !signed => {
                        i128::from(arg.children.first().map_or(0, Value::addr))
                    }
                    _ => return Err(converr()),
                };
                Ok(Value::computed(
                    typ.clone(),
                    Scalar::Int(truncate(n, signed, typ.size)),
                ))
            }
            Kind::Float => match (arg.kind(), num(&mut arg)?) {
                (VKind::Int | VKind::Uint, Scalar::Int(n)) => {
                    Ok(Value::computed(typ.clone(), Scalar::Float(n as f64)))
                }
                (VKind::Float, Scalar::Float(f)) => {
                    Ok(Value::computed(typ.clone(), Scalar::Float(f)))
                }
                _ => Err(converr()),
            },
            Kind::Complex => match (arg.kind(), num(&mut arg)?) {
                (VKind::Int | VKind::Uint, Scalar::Int(n)) => {
                    Ok(Value::computed(typ.clone(), Scalar::Complex(n as f64, 0.0)))
                }
                (VKind::Float, Scalar::Float(f)) => {
                    Ok(Value::computed(typ.clone(), Scalar::Complex(f, 0.0)))
                }
                (VKind::Complex, s @ Scalar::Complex(..)) => Ok(Value::computed(typ.clone(), s)),
                _ => Err(converr()),
            },
            Kind::String => match arg.kind() {
                VKind::String => {
                    arg.typ = Some(typ);
                    Ok(arg)
                }
                VKind::Int | VKind::Uint => {
                    let Scalar::Int(n) = num(&mut arg)? else {
                        return Err(converr());
                    };
                    let c = u32::try_from(n)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}');
                    Ok(Value::computed(
                        typ,
                        Scalar::Str(c.to_string().into_bytes()),
                    ))
                }
                VKind::Slice | VKind::Array => {
                    let is_bytes = arg
                        .elem
                        .as_ref()
                        .is_some_and(|e| matches!(e.kind, Kind::Uint) && e.size == 1);
                    if !is_bytes {
                        return Err(converr());
                    }
                    let cfg = LoadConfig {
                        max_array: FULL.max_string,
                        ..FULL
                    };
                    self.load(&mut arg, 0, &cfg);
                    if let Some(u) = &arg.unreadable {
                        return Err(ExprError::Memory(u.clone()));
                    }
                    let bytes: Vec<u8> = arg
                        .children
                        .iter()
                        .map(|c| match c.scalar {
                            Some(Scalar::Int(n)) => n as u8,
                            _ => 0,
                        })
                        .collect();
                    let mut v = Value::computed(typ, Scalar::Str(bytes));
                    v.len = arg.len;
                    Ok(v)
                }
                _ => Err(converr()),
            },
            Kind::Slice(e) => {
                let elem = self.resolve(e)?;
                if arg.kind() != VKind::String
                    || !(matches!(elem.kind, Kind::Uint) && elem.size == 1)
                {
                    return Err(converr());
                }
                let cfg = LoadConfig {
                    max_string: FULL.max_array,
                    ..FULL
                };
                self.load(&mut arg, 0, &cfg);
                if let Some(u) = &arg.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                let Some(Scalar::Str(s)) = &arg.scalar else {
                    return Err(converr());
                };
                let mut v = Value::blank("", Some(typ.clone()), Place::None);
                v.loaded = true;
                for (i, b) in s.iter().enumerate() {
                    let mut c = Value::blank(
                        "",
                        Some(elem.clone()),
                        Place::Mem(arg.base.wrapping_add(i as u64)),
                    );
                    c.loaded = true;
                    c.scalar = Some(Scalar::Int(i128::from(*b)));
                    v.children.push(c);
                }
                v.len = arg.len;
                v.cap = arg.len;
                v.base = arg.base;
                Ok(v)
            }
            _ => Err(converr()),
        }
    }

    /// Whether converting between `a` and `b` only changes the type (Delve's
    /// `typeCastCompatibleTypes`).
    fn cast_compatible(&self, a: &Type, b: &Type) -> bool {
        self.cast_compatible_depth(a, b, 0)
    }

    fn cast_compatible_depth(&self, a: &Type, b: &Type, depth: usize) -> bool {
        if a.size != b.size || depth > 16 {
            return false;
        }
        if a.name == b.name {
            return true;
        }
        match (&a.kind, &b.kind) {
            (Kind::Pointer(x), Kind::Pointer(y)) => match (self.resolve(x), self.resolve(y)) {
                (Ok(x), Ok(y)) => self.cast_compatible_depth(&x, &y, depth + 1),
                _ => false,
            },
            (Kind::UnsafePointer, Kind::Pointer(_)) | (Kind::Pointer(_), Kind::UnsafePointer) => {
                true
            }
            (Kind::String, Kind::String)
            | (Kind::Complex, Kind::Complex)
            | (Kind::Float, Kind::Float)
            | (Kind::Int, Kind::Int)
            | (Kind::Uint, Kind::Uint)
            | (Kind::Bool, Kind::Bool) => true,
            (Kind::Struct(x), Kind::Struct(y)) => {
                x.len() == y.len()
                    && x.iter().zip(y).all(|(f, g)| {
                        f.name == g.name
                            && f.offset == g.offset
                            && match (self.resolve(&f.typ), self.resolve(&g.typ)) {
                                (Ok(p), Ok(q)) => p.name == q.name,
                                _ => false,
                            }
                    })
            }
            (Kind::Slice(x), Kind::Slice(y)) => match (self.resolve(x), self.resolve(y)) {
                (Ok(x), Ok(y)) => x.name == y.name,
                _ => false,
            },
            _ => false,
        }
    }

    fn unary(&self, op: UnOp, x: &Node) -> Result<Value, ExprError> {
        match op {
            UnOp::Deref => {
                if let Some(t) = self.type_expr(x)
                    && !self.names_value(x)
                {
                    return Err(type_err(format!("*{} is a type, not a value", t.name)));
                }
                let v = self.eval(x)?;
                self.pointer_deref(v, x)
            }
            UnOp::AddrOf => {
                let mut v = self.eval(x)?;
                if v.addr() == 0 || v.typ.is_none() || matches!(v.place, Place::Bytes(..)) {
                    return Err(type_err(format!(
                        "can not take address of {:?}",
                        x.source()
                    )));
                }
                let Some(t) = v.typ.clone() else {
                    return Err(type_err("untyped value"));
                };
                v.only_addr = true;
                let pt = self
                    .type_named(&format!("*{}", t.name))
                    .unwrap_or_else(|| Type::pointer_to(&t));
                let mut r = Value::blank("", Some(pt), Place::None);
                r.scalar = Some(Scalar::Int(i128::from(v.addr())));
                r.children = vec![v];
                r.loaded = true;
                r.flags |= flag::MADE_POINTER;
                Ok(r)
            }
            _ => {
                let mut v = self.eval(x)?;
                self.load(&mut v, 0, &SINGLE);
                if let Some(u) = &v.unreadable {
                    return Err(ExprError::Memory(u.clone()));
                }
                let sym = match op {
                    UnOp::Neg => "-",
                    UnOp::Plus => "+",
                    UnOp::Not => "!",
                    _ => "^",
                };
                let bad = || {
                    type_err(format!(
                        "operator {sym} can not be applied to {:?}",
                        x.source()
                    ))
                };
                let s = v.scalar.clone().ok_or_else(bad)?;
                if let Scalar::Float(f) = s
                    && !f.is_finite()
                {
                    return Err(type_err("operations on non-finite floats not implemented"));
                }
                let r = match (op, s) {
                    (UnOp::Neg, Scalar::Int(i)) => Scalar::Int(-i),
                    (UnOp::Neg, Scalar::Float(f)) => Scalar::Float(-f),
                    (UnOp::Neg, Scalar::Complex(a, b)) => Scalar::Complex(-a, -b),
                    (UnOp::Plus, s @ (Scalar::Int(_) | Scalar::Float(_) | Scalar::Complex(..))) => {
                        s
                    }
                    (UnOp::Not, Scalar::Bool(b)) => Scalar::Bool(!b),
                    (UnOp::BitNot, Scalar::Int(i)) => Scalar::Int(!i),
                    _ => return Err(bad()),
                };
                Ok(match v.typ {
                    Some(t) => {
                        let r = match (r, &t.kind) {
                            (Scalar::Int(i), Kind::Int) => Scalar::Int(truncate(i, true, t.size)),
                            (Scalar::Int(i), Kind::Uint) => Scalar::Int(truncate(i, false, t.size)),
                            (r, _) => r,
                        };
                        Value::computed(t, r)
                    }
                    None => Value::constant(r),
                })
            }
        }
    }

    /// Whether `x` names a value (a variable shadows a type of the same name).
    fn names_value(&self, x: &Node) -> bool {
        match x {
            Node::Ident(n) => self.ident(n).is_ok(),
            Node::Select(p, n) => match &**p {
                Node::Ident(p) => self.global(&format!("{p}.{n}")).ok().flatten().is_some(),
                _ => true,
            },
            Node::Paren(x) => self.names_value(x),
            _ => false,
        }
    }

    fn pointer_deref(&self, mut v: Value, x: &Node) -> Result<Value, ExprError> {
        if v.kind() != VKind::Ptr {
            return Err(type_err(format!(
                "expression {:?} ({}) can not be dereferenced",
                x.source(),
                v.type_name()
            )));
        }
        if v.is_nil_const() {
            return Err(type_err("nil can not be dereferenced"));
        }
        if v.children.len() == 1 && v.loaded {
            let mut c = v.children.swap_remove(0);
            c.only_addr = false;
            return Ok(c);
        }
        self.load_ptr(&mut v);
        if let Some(u) = &v.unreadable {
            return Err(ExprError::Memory(format!("couldn't read pointer: {u}")));
        }
        let c = v
            .children
            .into_iter()
            .next()
            .ok_or_else(|| type_err("nil pointer dereference"))?;
        if c.addr() == 0 {
            return Err(type_err("nil pointer dereference"));
        }
        Ok(c)
    }

    fn binary(&self, op: BinOp, x: &Node, y: &Node) -> Result<Value, ExprError> {
        if matches!(op, BinOp::AndAnd | BinOp::OrOr) {
            let l = self.bool_operand(x, op)?;
            if (op == BinOp::AndAnd && !l) || (op == BinOp::OrOr && l) {
                return Ok(Value::constant(Scalar::Bool(l)));
            }
            let r = self.bool_operand(y, op)?;
            return Ok(Value::constant(Scalar::Bool(r)));
        }
        let mut xv = self.eval(x)?;
        let mut yv = self.eval(y)?;
        for v in [&mut xv, &mut yv] {
            if v.kind() != VKind::String {
                self.load(v, 0, &FULL);
            }
            if let Some(u) = &v.unreadable {
                return Err(ExprError::Memory(u.clone()));
            }
            if let Some(Scalar::Float(f)) = v.scalar
                && !f.is_finite()
            {
                return Err(type_err("operations on non-finite floats not implemented"));
            }
        }
        let typ = self.negotiate(op, &xv, &yv)?;
        if op.is_comparison() {
            let r = self.compare(op, &mut xv, &mut yv)?;
            return Ok(Value::constant(Scalar::Bool(r)));
        }
        for v in [&mut xv, &mut yv] {
            if v.kind() == VKind::String {
                self.load(v, 0, &LONG_STRINGS);
            }
        }
        let bad = |n: &Node| {
            type_err(format!(
                "operator {} can not be applied to {:?}",
                op.symbol(),
                n.source()
            ))
        };
        let a = xv.scalar.clone().ok_or_else(|| bad(x))?;
        let b = yv.scalar.clone().ok_or_else(|| bad(y))?;
        let int_div = match &typ {
            Some(t) => t.is_integer(),
            None => matches!((&a, &b), (Scalar::Int(_), Scalar::Int(_))),
        };
        let r = arith(op, a, b, int_div)?;
        Ok(match typ {
            None => Value::constant(r),
            Some(t) => {
                let r = match (r, &t.kind) {
                    (Scalar::Int(i), Kind::Int) => Scalar::Int(truncate(i, true, t.size)),
                    (Scalar::Int(i), Kind::Uint) => Scalar::Int(truncate(i, false, t.size)),
                    (r, _) => r,
                };
                let mut v = Value::computed(t, r);
                if let Some(Scalar::Str(s)) = &v.scalar {
                    v.len = s.len() as i64;
                }
                v
            }
        })
    }

    fn bool_operand(&self, n: &Node, op: BinOp) -> Result<bool, ExprError> {
        let mut v = self.eval(n)?;
        self.load(&mut v, 0, &SINGLE);
        if let Some(u) = &v.unreadable {
            return Err(ExprError::Memory(u.clone()));
        }
        match (&v.scalar, v.kind()) {
            (Some(Scalar::Bool(b)), VKind::Bool) => Ok(*b),
            _ => Err(type_err(format!(
                "operator {} can not be applied to {:?} (not a boolean)",
                op.symbol(),
                n.source()
            ))),
        }
    }

    /// The type of a binary operation's result (Delve's `negotiateType`); `None` for untyped.
    fn negotiate(&self, op: BinOp, x: &Value, y: &Value) -> Result<Option<Arc<Type>>, ExprError> {
        if x.is_nil_const() {
            return nil_operand(op, y).map(|_| None);
        }
        if y.is_nil_const() {
            return nil_operand(op, x).map(|_| None);
        }
        if matches!(op, BinOp::Shl | BinOp::Shr) {
            if !matches!(x.scalar, Some(Scalar::Int(_))) {
                return Err(type_err(format!("shift of type {}", x.kind().name())));
            }
            match (y.kind(), &y.scalar) {
                (VKind::Uint, _) => {}
                (VKind::Int, Some(Scalar::Int(n))) if *n >= 0 => {}
                (VKind::Int, _) => return Err(type_err("shift count must not be negative")),
                (k, _) => {
                    return Err(type_err(format!(
                        "shift count type {}, must be unsigned integer",
                        k.name()
                    )));
                }
            }
            return Ok(x.typ.clone());
        }
        match (&x.typ, &y.typ) {
            (None, None) => Ok(None),
            (Some(a), Some(b)) => {
                if a.name != b.name {
                    return Err(type_err(format!(
                        "mismatched types {:?} and {:?}",
                        a.name, b.name
                    )));
                }
                Ok(Some(a.clone()))
            }
            (Some(a), None) => {
                is_type(y, a)?;
                Ok(Some(a.clone()))
            }
            (None, Some(b)) => {
                is_type(x, b)?;
                Ok(Some(b.clone()))
            }
        }
    }

    /// `x op y` for a comparison (Delve's `compareOp`); both are loaded.
    fn compare(&self, op: BinOp, x: &mut Value, y: &mut Value) -> Result<bool, ExprError> {
        match x.kind() {
            VKind::Bool | VKind::Int | VKind::Uint | VKind::Float | VKind::Complex => {
                return compare_scalars(op, x.scalar.as_ref(), y.scalar.as_ref());
            }
            VKind::String => {
                if x.len != y.len {
                    match op {
                        BinOp::Eq => return Ok(false),
                        BinOp::Ne => return Ok(true),
                        _ => {}
                    }
                }
                self.load(x, 0, &LONG_STRINGS);
                self.load(y, 0, &LONG_STRINGS);
                let (Some(Scalar::Str(a)), Some(Scalar::Str(b))) = (&x.scalar, &y.scalar) else {
                    return Err(type_err("string too long for comparison"));
                };
                if a.len() as i64 != x.len || b.len() as i64 != y.len {
                    return Err(type_err("string too long for comparison"));
                }
                return Ok(match op {
                    BinOp::Eq => a == b,
                    BinOp::Ne => a != b,
                    BinOp::Lt => a < b,
                    BinOp::Le => a <= b,
                    BinOp::Gt => a > b,
                    _ => a >= b,
                });
            }
            _ => {}
        }
        if !matches!(op, BinOp::Eq | BinOp::Ne) {
            return Err(type_err(format!(
                "operator {} not defined on {}",
                op.symbol(),
                x.kind().name()
            )));
        }
        let eq = if x.is_nil_const() {
            is_nil(y)
        } else if y.is_nil_const() {
            is_nil(x)
        } else {
            match x.kind() {
                VKind::Ptr | VKind::UnsafePtr => {
                    x.children.first().map(Value::addr) == y.children.first().map(Value::addr)
                }
                VKind::Array => {
                    if x.children.len() as i64 != x.len || y.children.len() as i64 != y.len {
                        return Err(type_err("array too long for comparison"));
                    }
                    self.equal_children(x, y)?
                }
                VKind::Struct => {
                    if x.children.len() != y.children.len() {
                        false
                    } else {
                        if x.children.len() as i64 != x.len || y.children.len() as i64 != y.len {
                            return Err(type_err("structure too deep for comparison"));
                        }
                        self.equal_children(x, y)?
                    }
                }
                VKind::Slice | VKind::Map | VKind::Func | VKind::Chan => {
                    return Err(type_err(format!(
                        "can not compare {} variables",
                        x.kind().name()
                    )));
                }
                VKind::Interface => match (x.children.first_mut(), y.children.first_mut()) {
                    (Some(a), Some(b)) if a.type_name() == b.type_name() => {
                        if a.kind() == VKind::Invalid {
                            true
                        } else {
                            let (mut a, mut b) = (a.clone(), b.clone());
                            self.compare(BinOp::Eq, &mut a, &mut b)?
                        }
                    }
                    _ => false,
                },
                k => {
                    return Err(type_err(format!(
                        "unimplemented comparison of {} variables",
                        k.name()
                    )));
                }
            }
        };
        Ok(if op == BinOp::Ne { !eq } else { eq })
    }

    fn equal_children(&self, x: &Value, y: &Value) -> Result<bool, ExprError> {
        for (a, b) in x.children.iter().zip(&y.children) {
            let (mut a, mut b) = (a.clone(), b.clone());
            if !self.compare(BinOp::Eq, &mut a, &mut b)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `t.Format(time.RFC3339)` of Unix time `sec` in UTC.
fn rfc3339_utc(sec: i64) -> String {
    let days = sec.div_euclid(86_400);
    let rem = sec.rem_euclid(86_400);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether the host's local zone (the one Delve would use for `time.Local`) is UTC.
fn host_zone_is_utc() -> bool {
    match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            matches!(tz.trim_start_matches(':'), "UTC" | "Etc/UTC" | "UTC0")
        }
        _ => std::fs::read_link("/etc/localtime").map_or_else(
            |_| !std::path::Path::new("/etc/localtime").exists(),
            |p| {
                p.ends_with("UTC")
                    || p.ends_with("Etc/UTC")
                    || p.ends_with("UCT")
                    || p.ends_with("Zulu")
            },
        ),
    }
}

/// The innermost call inlined into `s` (through its lexical blocks) that holds `pc`.
fn inlined_child(
    s: &super::debuginfo::Scope,
    pc: u64,
    depth: usize,
) -> Option<&super::debuginfo::Scope> {
    if depth > 64 {
        return None;
    }
    for c in &s.children {
        if !c.contains(pc) {
            continue;
        }
        match c.tag {
            ScopeTag::Inlined => return Some(c),
            _ => {
                if let Some(x) = inlined_child(c, pc, depth + 1) {
                    return Some(x);
                }
            }
        }
    }
    None
}

/// Delve's `reader.Variables` for one name: the variables of `s` and its blocks that hold
/// `pc` (not of calls inlined into it), visible at `line`, named `name` (or `&name`), with
/// their block depth and declaration line.
fn collect_vars<'s>(
    s: &'s super::debuginfo::Scope,
    pc: u64,
    line: Option<i64>,
    depth: usize,
    root: bool,
    name: Option<&str>,
    out: &mut Vec<(usize, i64, &'s VarDie)>,
) {
    if !root && !s.contains(pc) {
        return;
    }
    if depth > 64 {
        return;
    }
    for v in &s.vars {
        if let Some(name) = name
            && v.name != name
            && v.name.strip_prefix('&') != Some(name)
        {
            continue;
        }
        let d = depth + 1;
        if !v.param
            && let (Some(decl), Some(line)) = (v.decl_line, line)
        {
            let visible = if v.closure_offset.is_some() {
                line >= decl
            } else {
                line > decl
            };
            if !visible {
                continue;
            }
        }
        let d = if v.param && d <= 1 { 0 } else { d };
        out.push((d, v.decl_line.unwrap_or(0), v));
    }
    for c in &s.children {
        if c.tag == ScopeTag::Block {
            collect_vars(c, pc, line, depth + 1, false, name, out);
        }
    }
}

fn nil_operand(op: BinOp, v: &Value) -> Result<(), ExprError> {
    if !matches!(op, BinOp::Eq | BinOp::Ne) {
        return Err(type_err(format!(
            "operator {} can not be applied to \"nil\"",
            op.symbol()
        )));
    }
    match v.kind() {
        VKind::Ptr
        | VKind::UnsafePtr
        | VKind::Chan
        | VKind::Map
        | VKind::Interface
        | VKind::Slice
        | VKind::Func => Ok(()),
        k => Err(type_err(format!("can not compare {} to nil", k.name()))),
    }
}

fn is_nil(v: &Value) -> bool {
    match v.kind() {
        VKind::Ptr | VKind::UnsafePtr => v.children.first().is_none_or(|c| c.addr() == 0),
        VKind::Interface => v
            .children
            .first()
            .is_some_and(|c| c.addr() == 0 && c.kind() == VKind::Invalid),
        VKind::Slice | VKind::Map | VKind::Func | VKind::Chan => v.base == 0,
        _ => false,
    }
}

/// Whether constant `v` can be a value of type `t` (Delve's `isType`).
fn is_type(v: &Value, t: &Type) -> Result<(), ExprError> {
    if let Some(vt) = &v.typ {
        if vt.name != t.name {
            return Err(type_err(format!(
                "can not convert value of type {} to {}",
                vt.name, t.name
            )));
        }
        return Ok(());
    }
    if v.is_nil_const() {
        return match t.kind {
            Kind::Slice(_)
            | Kind::Map { .. }
            | Kind::Func
            | Kind::Pointer(_)
            | Kind::UnsafePointer
            | Kind::Chan { .. }
            | Kind::Interface { .. } => Ok(()),
            _ => Err(type_err(format!("mismatched types nil and {}", t.name))),
        };
    }
    let ok = matches!(
        (&t.kind, &v.scalar),
        (Kind::Int | Kind::Uint, Some(Scalar::Int(_)))
            | (Kind::Float, Some(Scalar::Int(_) | Scalar::Float(_)))
            | (Kind::Bool, Some(Scalar::Bool(_)))
            | (Kind::String, Some(Scalar::Str(_)))
            | (
                Kind::Complex,
                Some(Scalar::Int(_) | Scalar::Float(_) | Scalar::Complex(..))
            )
    );
    if ok {
        Ok(())
    } else {
        Err(type_err(format!(
            "can not convert {} constant to {}",
            scalar_text(&v.scalar),
            t.name
        )))
    }
}

fn scalar_text(s: &Option<Scalar>) -> String {
    match s {
        Some(Scalar::Int(i)) => i.to_string(),
        Some(Scalar::Float(f)) => f.to_string(),
        Some(Scalar::Bool(b)) => b.to_string(),
        Some(Scalar::Complex(r, i)) => format!("({r} + {i}i)"),
        Some(Scalar::Str(s)) => go_quote(s),
        None => "?".into(),
    }
}

fn compare_scalars(op: BinOp, a: Option<&Scalar>, b: Option<&Scalar>) -> Result<bool, ExprError> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Some(Scalar::Int(x)), Some(Scalar::Int(y))) => Some(x.cmp(y)),
        (Some(Scalar::Bool(x)), Some(Scalar::Bool(y))) => {
            return match op {
                BinOp::Eq => Ok(x == y),
                BinOp::Ne => Ok(x != y),
                _ => Err(type_err(format!(
                    "operator {} not defined on bool",
                    op.symbol()
                ))),
            };
        }
        (Some(Scalar::Complex(a, b)), Some(Scalar::Complex(c, d))) => {
            return match op {
                BinOp::Eq => Ok(a == c && b == d),
                BinOp::Ne => Ok(a != c || b != d),
                _ => Err(type_err(format!(
                    "operator {} not defined on complex",
                    op.symbol()
                ))),
            };
        }
        (Some(x), Some(y)) => match (as_f64(x), as_f64(y)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => return Err(type_err("mismatched operands")),
        },
        _ => return Err(type_err("operand has no value")),
    };
    let Some(o) = ord else {
        return Ok(op == BinOp::Ne);
    };
    Ok(match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::Ne => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    })
}

fn as_f64(s: &Scalar) -> Option<f64> {
    match s {
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) => Some(*f),
        _ => None,
    }
}

/// Arithmetic on constants, Go's rules (integer division for integers).
fn arith(op: BinOp, a: Scalar, b: Scalar, int_div: bool) -> Result<Scalar, ExprError> {
    let overflow = || type_err("constant overflow");
    Ok(match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => Scalar::Int(match op {
            BinOp::Add => x.checked_add(y).ok_or_else(overflow)?,
            BinOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            BinOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            BinOp::Div if !int_div => {
                if y == 0 {
                    return Err(type_err("division by zero"));
                }
                return Ok(Scalar::Float(x as f64 / y as f64));
            }
            BinOp::Div => {
                if y == 0 {
                    return Err(type_err("division by zero"));
                }
                x.checked_div(y).ok_or_else(overflow)?
            }
            BinOp::Rem => {
                if y == 0 {
                    return Err(type_err("division by zero"));
                }
                x.checked_rem(y).ok_or_else(overflow)?
            }
            BinOp::And => x & y,
            BinOp::Or => x | y,
            BinOp::Xor => x ^ y,
            BinOp::AndNot => x & !y,
            BinOp::Shl => {
                let n = u32::try_from(y).map_err(|_| overflow())?;
                if n >= 127 {
                    return Err(overflow());
                }
                x.checked_shl(n).ok_or_else(overflow)?
            }
            BinOp::Shr => {
                let n = u32::try_from(y).map_err(|_| overflow())?;
                x >> n.min(127)
            }
            _ => return Err(type_err(format!("operator {} not defined", op.symbol()))),
        }),
        (Scalar::Str(mut x), Scalar::Str(y)) if op == BinOp::Add => {
            x.extend_from_slice(&y);
            Scalar::Str(x)
        }
        (Scalar::Complex(a, b), Scalar::Complex(c, d)) => complex_op(op, (a, b), (c, d))?,
        (Scalar::Complex(a, b), y) => {
            complex_op(op, (a, b), (as_f64(&y).ok_or_else(overflow)?, 0.0))?
        }
        (x, Scalar::Complex(c, d)) => {
            complex_op(op, (as_f64(&x).ok_or_else(overflow)?, 0.0), (c, d))?
        }
        (x, y) => {
            let (Some(x), Some(y)) = (as_f64(&x), as_f64(&y)) else {
                return Err(type_err(format!(
                    "operator {} can not be applied to these operands",
                    op.symbol()
                )));
            };
            Scalar::Float(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => {
                    if y == 0.0 {
                        return Err(type_err("division by zero"));
                    }
                    x / y
                }
                _ => {
                    return Err(type_err(format!(
                        "operator {} not defined on floats",
                        op.symbol()
                    )));
                }
            })
        }
    })
}

fn complex_op(op: BinOp, (a, b): (f64, f64), (c, d): (f64, f64)) -> Result<Scalar, ExprError> {
    Ok(match op {
        BinOp::Add => Scalar::Complex(a + c, b + d),
        BinOp::Sub => Scalar::Complex(a - c, b - d),
        BinOp::Mul => Scalar::Complex(a * c - b * d, a * d + b * c),
        BinOp::Div => {
            let den = c * c + d * d;
            if den == 0.0 {
                return Err(type_err("division by zero"));
            }
            Scalar::Complex((a * c + b * d) / den, (b * c - a * d) / den)
        }
        _ => {
            return Err(type_err(format!(
                "operator {} not defined on complex",
                op.symbol()
            )));
        }
    })
}

/// `n` as an integer of `size` bytes (Delve's `convertInt`).
fn truncate(n: i128, signed: bool, size: u64) -> i128 {
    let bits = (size.clamp(1, 8) * 8) as u32;
    let raw = n as u128 as u64;
    let masked = if bits == 64 {
        raw
    } else {
        raw & ((1u64 << bits) - 1)
    };
    if signed {
        i128::from(sign_extend(masked, size))
    } else {
        i128::from(masked)
    }
}

fn sign_extend(v: u64, size: u64) -> i64 {
    let shift = 64 - 8 * size.clamp(1, 8) as u32;
    ((v << shift) as i64) >> shift
}

/// Delve's `UserCurrent` over goscope's frames: the first physical frame (of the first 30)
/// whose function is not the runtime's, at its innermost inlined position: `(file, line,
/// function, pc)` — the frame's pc as Delve shows it, a return address for outer frames.
fn user_location(frames: &[crate::Frame<'_>]) -> Option<(String, i32, String, u64)> {
    let mut group_start = 0;
    let mut n = 0;
    for (i, f) in frames.iter().enumerate() {
        if f.inlined {
            continue;
        }
        let innermost = &frames[group_start];
        group_start = i + 1;
        n += 1;
        if n > USER_FRAME_DEPTH {
            break;
        }
        let name = &*f.function;
        let exported_runtime = name
            .strip_prefix("runtime.")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_uppercase()));
        if name.contains('.')
            && (!name.starts_with("runtime.") || exported_runtime)
            && !name.starts_with("internal/")
            && !name.starts_with("runtime/internal")
            && !name.starts_with("iter.")
        {
            return Some((
                innermost.file.to_string(),
                innermost.line,
                name.to_string(),
                f.pc,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_go_conversion() {
        assert_eq!(truncate(12345, false, 1), 57);
        assert_eq!(truncate(65535, true, 2), -1);
        assert_eq!(truncate(-1, false, 8), i128::from(u64::MAX));
        assert_eq!(truncate(300, true, 1), 44);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_710_498_600), "2024-03-15T10:30:00Z");
        assert_eq!(rfc3339_utc(-62_135_596_800), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn constant_arithmetic() {
        assert_eq!(
            arith(BinOp::Div, Scalar::Int(7), Scalar::Int(2), true).ok(),
            Some(Scalar::Int(3))
        );
        assert_eq!(
            arith(BinOp::Rem, Scalar::Int(-7), Scalar::Int(2), true).ok(),
            Some(Scalar::Int(-1))
        );
        assert!(arith(BinOp::Div, Scalar::Int(1), Scalar::Int(0), true).is_err());
        assert!(arith(BinOp::Shl, Scalar::Int(1), Scalar::Int(200), true).is_err());
        assert_eq!(
            arith(BinOp::Mul, Scalar::Float(2.5), Scalar::Int(2), false).ok(),
            Some(Scalar::Float(5.0))
        );
    }
}
