//! What the evaluator reads from DWARF, indexed once per binary: functions by pc range,
//! package variables and types by name, runtime type descriptors to their DWARF types, typed
//! constants (Delve names values after them: `Int (2)`). Function bodies (variables, lexical
//! blocks, inlined calls) and types are decoded when first needed and kept.
//!
//! DWARF is untrusted: gimli reports malformed input as errors, every count and depth walked
//! here is bounded, and types are decoded lazily (a reference is followed only when a value
//! is), so a cyclic or deep type graph cannot recurse.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gimli::{
    AttributeValue, DwAt, EndianArcSlice, LittleEndian, Reader as _, SectionId, UnitOffset,
};
use goscope_binary::Binary;

use super::ExprError;
use super::types::{Field, Kind, Type, TypeRef};

pub(crate) type R = EndianArcSlice<LittleEndian>;

/// Go's DWARF extensions (`cmd/internal/dwarf`).
pub(crate) const DW_AT_GO_KIND: DwAt = DwAt(0x2900);
pub(crate) const DW_AT_GO_KEY: DwAt = DwAt(0x2901);
pub(crate) const DW_AT_GO_ELEM: DwAt = DwAt(0x2902);
pub(crate) const DW_AT_GO_EMBEDDED_FIELD: DwAt = DwAt(0x2903);
pub(crate) const DW_AT_GO_RUNTIME_TYPE: DwAt = DwAt(0x2904);
pub(crate) const DW_AT_GO_CLOSURE_OFFSET: DwAt = DwAt(0x2907);

/// Most entries kept for one function body; beyond any real function.
const MAX_SCOPE_ENTRIES: usize = 1 << 16;
/// Deepest nesting of blocks and inlined calls followed in one function.
const MAX_SCOPE_DEPTH: usize = 64;
/// Longest typedef chain followed.
const MAX_TYPEDEF_CHAIN: usize = 16;
/// Most struct fields decoded for one type.
const MAX_FIELDS: usize = 1 << 14;

fn bad(e: gimli::Error) -> ExprError {
    ExprError::Dwarf(e.to_string())
}

/// A function's code range and its DWARF entry.
#[derive(Debug, Clone, Copy)]
struct FuncEntry {
    low: u64,
    high: u64,
    die: u64,
}

/// Where a variable is.
#[derive(Debug, Clone)]
pub(crate) enum LocAttr {
    /// A single location expression.
    Expr(R),
    /// A location list (`.debug_loc`, `.debug_loclists`).
    List(gimli::LocationListsOffset<usize>),
    /// No location attribute: optimized away.
    Missing,
}

/// A variable or parameter of a function body.
#[derive(Debug, Clone)]
pub(crate) struct VarDie {
    pub name: String,
    pub param: bool,
    /// A result parameter (`DW_AT_variable_parameter`: Go's named or `~r0` results).
    pub result: bool,
    pub decl_line: Option<i64>,
    pub typ: Option<u64>,
    pub loc: LocAttr,
    pub unit: usize,
    /// `DW_AT_go_closure_offset`: a variable captured by this closure, at that offset of the
    /// closure's context.
    pub closure_offset: Option<u64>,
}

/// What a scope node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeTag {
    Function,
    Block,
    Inlined,
}

/// A function body as a tree of scopes: the function, its lexical blocks and inlined calls,
/// each with its pc ranges and the variables declared directly in it (in DWARF order).
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub tag: ScopeTag,
    pub ranges: Vec<(u64, u64)>,
    /// Variables, and where each appeared among this node's children (for Delve's order).
    pub vars: Vec<VarDie>,
    pub children: Vec<Scope>,
}

impl Scope {
    pub fn contains(&self, pc: u64) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= pc && pc < hi)
    }
}

/// The DWARF of one binary, indexed.
pub(crate) struct DebugInfo {
    pub dwarf: gimli::Dwarf<R>,
    pub units: Vec<gimli::Unit<R>>,
    /// `.debug_info` offset of each unit's header, ascending.
    unit_starts: Vec<u64>,
    funcs: Vec<FuncEntry>,
    globals: HashMap<String, u64>,
    types_by_name: HashMap<String, u64>,
    rtypes: HashMap<u64, u64>,
    /// Typed constants by their type's entry: `(name, value)`, sorted by value.
    consts: HashMap<u64, Vec<(String, i64)>>,
    /// Link-time `moduledata.types`, the base of runtime type offsets.
    types_base: u64,
    type_cache: Mutex<HashMap<u64, Arc<Type>>>,
    scope_cache: Mutex<HashMap<u64, Arc<Scope>>>,
    closure_cache: Mutex<HashMap<u64, Option<Arc<Type>>>>,
}

impl std::fmt::Debug for DebugInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebugInfo")
            .field("units", &self.units.len())
            .field("functions", &self.funcs.len())
            .finish()
    }
}

fn attr_str(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    v: AttributeValue<R>,
) -> Option<String> {
    let s = dwarf.attr_string(unit, v).ok()?;
    Some(String::from_utf8_lossy(&s.to_slice().ok()?).into_owned())
}

fn udata(v: Option<AttributeValue<R>>) -> Option<u64> {
    v.and_then(|v| v.udata_value())
}

/// `DW_AT_go_runtime_type`: the descriptor's offset from `moduledata.types`, written with
/// `DW_FORM_addr`.
fn runtime_type_offset(v: Option<AttributeValue<R>>) -> Option<u64> {
    match v? {
        AttributeValue::Addr(a) => Some(a),
        v => v.udata_value(),
    }
    .filter(|&o| o != 0)
}

impl DebugInfo {
    /// Reads and indexes the DWARF of `bin`.
    pub fn load(bin: &Binary) -> Result<DebugInfo, ExprError> {
        if !bin.has_dwarf() {
            return Err(ExprError::NoDwarf(
                "the binary has no DWARF (built with -ldflags=-w or stripped)".into(),
            ));
        }
        let file = object::File::parse(bin.data()).map_err(|e| ExprError::Dwarf(e.to_string()))?;
        let load = |id: SectionId| -> Result<R, gimli::Error> {
            let data = crate::dwarf::section_data(&file, id);
            Ok(EndianArcSlice::new(Arc::from(data.as_ref()), LittleEndian))
        };
        let dwarf = gimli::Dwarf::load(load).map_err(bad)?;
        let mut di = DebugInfo {
            dwarf,
            units: Vec::new(),
            unit_starts: Vec::new(),
            funcs: Vec::new(),
            globals: HashMap::new(),
            types_by_name: HashMap::new(),
            rtypes: HashMap::new(),
            consts: HashMap::new(),
            types_base: bin.moduledata().map_or(0, |m| m.types.0),
            type_cache: Mutex::new(HashMap::new()),
            scope_cache: Mutex::new(HashMap::new()),
            closure_cache: Mutex::new(HashMap::new()),
        };
        di.dwarf
            .populate_abbreviations_cache(gimli::AbbreviationsCacheStrategy::All);
        let mut headers = di.dwarf.units();
        while let Some(h) = headers.next().map_err(bad)? {
            let start = h.offset().0 as u64;
            let unit = di.dwarf.unit(h).map_err(bad)?;
            di.unit_starts.push(start);
            di.units.push(unit);
        }
        if di.units.is_empty() {
            return Err(ExprError::NoDwarf("the binary's DWARF has no units".into()));
        }
        for i in 0..di.units.len() {
            di.index_unit(i)?;
        }
        di.funcs.sort_by_key(|f| (f.low, f.high));
        for v in di.consts.values_mut() {
            v.sort_by_key(|c| c.1);
        }
        Ok(di)
    }

    fn index_unit(&mut self, ui: usize) -> Result<(), ExprError> {
        let unit = &self.units[ui];
        let base = self.unit_starts[ui];
        let mut tree = unit.entries_tree(None).map_err(bad)?;
        let root = tree.root().map_err(bad)?;
        let mut children = root.children();
        while let Some(node) = children.next().map_err(bad)? {
            let e = node.entry();
            let off = base + e.offset().0 as u64;
            let name = e
                .attr_value(gimli::DW_AT_name)
                .and_then(|v| attr_str(&self.dwarf, unit, v));
            match e.tag() {
                gimli::DW_TAG_subprogram => {
                    if e.attr_value(gimli::DW_AT_inline).is_some() {
                        continue;
                    }
                    let Ok(mut ranges) = self.dwarf.die_ranges(unit, e) else {
                        continue;
                    };
                    while let Ok(Some(r)) = ranges.next() {
                        if r.begin < r.end {
                            self.funcs.push(FuncEntry {
                                low: r.begin,
                                high: r.end,
                                die: off,
                            });
                        }
                    }
                }
                gimli::DW_TAG_variable => {
                    if let Some(n) = name {
                        self.globals.entry(n).or_insert(off);
                    }
                }
                gimli::DW_TAG_constant => {
                    let typ = e
                        .attr_value(gimli::DW_AT_type)
                        .and_then(|v| ref_offset(unit, base, v));
                    let val = e
                        .attr_value(gimli::DW_AT_const_value)
                        .and_then(|v| match v {
                            AttributeValue::Sdata(s) => Some(s),
                            AttributeValue::Udata(u) => i64::try_from(u).ok(),
                            AttributeValue::Data1(b) => Some(i64::from(b)),
                            AttributeValue::Data2(b) => Some(i64::from(b)),
                            AttributeValue::Data4(b) => Some(i64::from(b)),
                            AttributeValue::Data8(b) => Some(b as i64),
                            _ => None,
                        });
                    if let (Some(n), Some(t), Some(v)) = (name, typ, val) {
                        self.consts.entry(t).or_default().push((n, v));
                    }
                }
                gimli::DW_TAG_base_type
                | gimli::DW_TAG_typedef
                | gimli::DW_TAG_structure_type
                | gimli::DW_TAG_pointer_type
                | gimli::DW_TAG_array_type
                | gimli::DW_TAG_subroutine_type => {
                    if let Some(n) = name {
                        self.types_by_name.entry(n).or_insert(off);
                    }
                    if let Some(rt) = runtime_type_offset(e.attr_value(DW_AT_GO_RUNTIME_TYPE)) {
                        self.rtypes.entry(rt).or_insert(off);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The unit holding the entry at `.debug_info` offset `off`, and the entry's offset in it.
    pub fn unit_of(&self, off: u64) -> Option<(usize, UnitOffset<usize>)> {
        let i = self
            .unit_starts
            .partition_point(|&s| s <= off)
            .checked_sub(1)?;
        let u = self.units.get(i)?;
        let rel = usize::try_from(off - self.unit_starts[i]).ok()?;
        let uo = UnitOffset(rel);
        // The offset must fall inside the unit's entries.
        if rel < u.header.header_size() || rel >= u.header.length_including_self() {
            return None;
        }
        Some((i, uo))
    }

    fn entry(&self, off: u64) -> Result<(usize, gimli::DebuggingInformationEntry<R>), ExprError> {
        let (ui, uo) = self
            .unit_of(off)
            .ok_or_else(|| ExprError::Dwarf(format!("no DWARF entry at {off:#x}")))?;
        let e = self.units[ui].entry(uo).map_err(bad)?;
        Ok((ui, e))
    }

    /// The `.debug_info` offset of the function whose code holds link-time `pc`.
    pub fn function_at(&self, pc: u64) -> Option<u64> {
        let i = self.funcs.partition_point(|f| f.low <= pc);
        self.funcs[..i]
            .iter()
            .rev()
            .take(4)
            .find(|f| pc < f.high)
            .map(|f| f.die)
    }

    /// The entry of the package variable `name` (`main.x`).
    pub fn global(&self, name: &str) -> Option<u64> {
        self.globals.get(name).copied()
    }

    /// The type called `name`.
    pub fn type_named(&self, name: &str) -> Option<u64> {
        self.types_by_name.get(name).copied()
    }

    /// The DWARF type of the runtime type descriptor at `off` from `moduledata.types`.
    pub fn rtype_die(&self, off: u64) -> Option<u64> {
        self.rtypes.get(&off).copied()
    }

    /// The constants of the type whose entry is `type_die`.
    pub fn consts(&self, type_die: u64) -> Option<&[(String, i64)]> {
        self.consts.get(&type_die).map(Vec::as_slice)
    }

    /// A package variable's type and location.
    pub fn global_var(&self, off: u64) -> Result<VarDie, ExprError> {
        let (ui, e) = self.entry(off)?;
        self.var_die(ui, &e, false)
            .ok_or_else(|| ExprError::Dwarf(format!("malformed variable entry at {off:#x}")))
    }

    fn var_die(
        &self,
        ui: usize,
        e: &gimli::DebuggingInformationEntry<R>,
        param: bool,
    ) -> Option<VarDie> {
        let unit = &self.units[ui];
        let base = self.unit_starts[ui];
        // An inlined call's variables name their abstract origin for everything but where
        // they are.
        let (name, decl_line, typ) = match e
            .attr_value(gimli::DW_AT_abstract_origin)
            .and_then(|v| ref_offset(unit, base, v))
        {
            Some(origin) => {
                let (oui, oe) = self.entry(origin).ok()?;
                let ounit = &self.units[oui];
                let obase = self.unit_starts[oui];
                (
                    oe.attr_value(gimli::DW_AT_name)
                        .and_then(|v| attr_str(&self.dwarf, ounit, v))?,
                    oe.attr_value(gimli::DW_AT_decl_line)
                        .and_then(|v| v.udata_value())
                        .and_then(|v| i64::try_from(v).ok()),
                    oe.attr_value(gimli::DW_AT_type)
                        .and_then(|v| ref_offset(ounit, obase, v)),
                )
            }
            None => (
                e.attr_value(gimli::DW_AT_name)
                    .and_then(|v| attr_str(&self.dwarf, unit, v))?,
                e.attr_value(gimli::DW_AT_decl_line)
                    .and_then(|v| v.udata_value())
                    .and_then(|v| i64::try_from(v).ok()),
                e.attr_value(gimli::DW_AT_type)
                    .and_then(|v| ref_offset(unit, base, v)),
            ),
        };
        let loc = match e.attr_value(gimli::DW_AT_location) {
            Some(AttributeValue::Exprloc(x)) => LocAttr::Expr(x.0),
            Some(v) => match self.dwarf.attr_locations_offset(unit, v) {
                Ok(Some(o)) => LocAttr::List(o),
                _ => LocAttr::Missing,
            },
            None => LocAttr::Missing,
        };
        let result = [Some(e.clone())]
            .into_iter()
            .flatten()
            .chain(
                e.attr_value(gimli::DW_AT_abstract_origin)
                    .and_then(|v| ref_offset(unit, base, v))
                    .and_then(|o| self.entry(o).ok())
                    .map(|(_, oe)| oe),
            )
            .any(|d| {
                matches!(
                    d.attr_value(gimli::DW_AT_variable_parameter),
                    Some(AttributeValue::Flag(true))
                )
            });
        Some(VarDie {
            name,
            param,
            result,
            decl_line,
            typ,
            loc,
            unit: ui,
            closure_offset: udata(e.attr_value(DW_AT_GO_CLOSURE_OFFSET)),
        })
    }

    /// The body of the function whose entry is at `off`, decoded once.
    pub fn scope(&self, off: u64) -> Result<Arc<Scope>, ExprError> {
        if let Some(s) = lock(&self.scope_cache).get(&off) {
            return Ok(s.clone());
        }
        let (ui, uo) = self
            .unit_of(off)
            .ok_or_else(|| ExprError::Dwarf(format!("no DWARF entry at {off:#x}")))?;
        let unit = &self.units[ui];
        let mut tree = unit.entries_tree(Some(uo)).map_err(bad)?;
        let root = tree.root().map_err(bad)?;
        let mut budget = MAX_SCOPE_ENTRIES;
        let scope = self.read_scope(ui, root, ScopeTag::Function, 0, &mut budget)?;
        let scope = Arc::new(scope);
        lock(&self.scope_cache).insert(off, scope.clone());
        Ok(scope)
    }

    fn read_scope(
        &self,
        ui: usize,
        node: gimli::EntriesTreeNode<'_, '_, R>,
        tag: ScopeTag,
        depth: usize,
        budget: &mut usize,
    ) -> Result<Scope, ExprError> {
        let unit = &self.units[ui];
        let mut ranges = Vec::new();
        if let Ok(mut it) = self.dwarf.die_ranges(unit, node.entry()) {
            while let Ok(Some(r)) = it.next() {
                if ranges.len() >= 1024 {
                    break;
                }
                ranges.push((r.begin, r.end));
            }
        }
        let mut scope = Scope {
            tag,
            ranges,
            vars: Vec::new(),
            children: Vec::new(),
        };
        let mut children = node.children();
        while let Some(child) = children.next().map_err(bad)? {
            if *budget == 0 {
                return Err(ExprError::Dwarf(
                    "function body with too many entries".into(),
                ));
            }
            *budget -= 1;
            let e = child.entry();
            match e.tag() {
                gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable => {
                    let param = e.tag() == gimli::DW_TAG_formal_parameter;
                    if let Some(v) = self.var_die(ui, e, param) {
                        scope.vars.push(v);
                    }
                }
                gimli::DW_TAG_lexical_block | gimli::DW_TAG_inlined_subroutine
                    if depth < MAX_SCOPE_DEPTH =>
                {
                    let t = if e.tag() == gimli::DW_TAG_lexical_block {
                        ScopeTag::Block
                    } else {
                        ScopeTag::Inlined
                    };
                    let s = self.read_scope(ui, child, t, depth + 1, budget)?;
                    scope.children.push(s);
                }
                _ => {}
            }
        }
        Ok(scope)
    }

    /// The struct of the variables a closure captured (`DW_AT_go_closure_offset`, Go 1.23+),
    /// for the function whose entry is at `off`; empty when it captured none.
    pub fn closure_type(&self, off: u64) -> Option<Arc<Type>> {
        if let Some(t) = lock(&self.closure_cache).get(&off) {
            return t.clone();
        }
        let t = self.scope(off).ok().map(|s| {
            let mut fields: Vec<Field> = Vec::new();
            let mut size = 0;
            collect_captured(&s, &mut fields, 0);
            if let Some(last) = fields.last()
                && let TypeRef::Dwarf(t) = last.typ
            {
                size = last.offset + self.type_at(t).map_or(0, |t| t.size);
            }
            Type::made("struct", size, Kind::Struct(fields))
        });
        lock(&self.closure_cache).insert(off, t.clone());
        t
    }

    /// The type at `.debug_info` offset `off`, decoded once.
    pub fn type_at(&self, off: u64) -> Result<Arc<Type>, ExprError> {
        if let Some(t) = lock(&self.type_cache).get(&off) {
            return Ok(t.clone());
        }
        let t = Arc::new(self.decode_type(off)?);
        lock(&self.type_cache).insert(off, t.clone());
        Ok(t)
    }

    fn decode_type(&self, off: u64) -> Result<Type, ExprError> {
        let mut cur = off;
        let mut name: Option<String> = None;
        let mut rtype: Option<u64> = None;
        for _ in 0..MAX_TYPEDEF_CHAIN {
            let (ui, e) = self.entry(cur)?;
            let unit = &self.units[ui];
            let base = self.unit_starts[ui];
            let this_name = e
                .attr_value(gimli::DW_AT_name)
                .and_then(|v| attr_str(&self.dwarf, unit, v));
            let go_kind = udata(e.attr_value(DW_AT_GO_KIND)).unwrap_or(0) as u8;
            if rtype.is_none() {
                rtype = runtime_type_offset(e.attr_value(DW_AT_GO_RUNTIME_TYPE))
                    .map(|o| self.types_base.wrapping_add(o));
            }
            let size = udata(e.attr_value(gimli::DW_AT_byte_size));
            let target = e
                .attr_value(gimli::DW_AT_type)
                .and_then(|v| ref_offset(unit, base, v));
            let go_ref = |at: DwAt| e.attr_value(at).and_then(|v| ref_offset(unit, base, v));
            let named = |n: &Option<String>| {
                name.clone()
                    .or_else(|| n.clone())
                    .unwrap_or_else(|| "?".to_string())
            };
            let make = |kind: Kind, size: u64| Type {
                name: named(&this_name),
                size,
                kind,
                rtype,
                dwarf: Some(off),
            };
            match e.tag() {
                gimli::DW_TAG_typedef => {
                    // Maps, channels, interfaces and functions are typedefs of their runtime
                    // implementation, marked with their Go kind.
                    match go_kind {
                        21 => {
                            if let (Some(k), Some(v)) =
                                (go_ref(DW_AT_GO_KEY), go_ref(DW_AT_GO_ELEM))
                            {
                                return Ok(make(
                                    Kind::Map {
                                        key: TypeRef::Dwarf(k),
                                        elem: TypeRef::Dwarf(v),
                                    },
                                    8,
                                ));
                            }
                        }
                        18 => {
                            if let Some(el) = go_ref(DW_AT_GO_ELEM) {
                                let hchan = target.and_then(|p| self.pointee(p));
                                return Ok(make(
                                    Kind::Chan {
                                        elem: TypeRef::Dwarf(el),
                                        hchan: hchan.map(TypeRef::Dwarf),
                                    },
                                    8,
                                ));
                            }
                        }
                        20 => {
                            let empty = target.is_some_and(|t| self.is_eface(t));
                            return Ok(make(Kind::Interface { empty }, 16));
                        }
                        19 => return Ok(make(Kind::Func, 8)),
                        _ => {}
                    }
                    if name.is_none() {
                        name = this_name;
                    }
                    cur = target.ok_or_else(|| {
                        ExprError::Dwarf(format!("typedef at {cur:#x} without a type"))
                    })?;
                    continue;
                }
                gimli::DW_TAG_base_type => {
                    let enc = match e.attr_value(gimli::DW_AT_encoding) {
                        Some(AttributeValue::Encoding(enc)) => enc,
                        _ => gimli::DW_ATE_signed,
                    };
                    let kind = match enc {
                        gimli::DW_ATE_boolean => Kind::Bool,
                        gimli::DW_ATE_float => Kind::Float,
                        gimli::DW_ATE_complex_float => Kind::Complex,
                        gimli::DW_ATE_unsigned => Kind::Uint,
                        _ => Kind::Int,
                    };
                    return Ok(make(kind, size.unwrap_or(8)));
                }
                gimli::DW_TAG_pointer_type => {
                    let kind = match target {
                        Some(t) => Kind::Pointer(TypeRef::Dwarf(t)),
                        None => Kind::UnsafePointer,
                    };
                    return Ok(make(kind, size.unwrap_or(8)));
                }
                gimli::DW_TAG_structure_type => {
                    let size = size.unwrap_or(0);
                    match go_kind {
                        24 => return Ok(make(Kind::String, size)),
                        23 => {
                            let elem = go_ref(DW_AT_GO_ELEM).or_else(|| {
                                let f = self.fields(cur).ok()?;
                                let arr = f.iter().find(|f| f.name == "array")?;
                                match arr.typ {
                                    TypeRef::Dwarf(p) => self.pointee(p),
                                    _ => None,
                                }
                            });
                            if let Some(el) = elem {
                                return Ok(make(Kind::Slice(TypeRef::Dwarf(el)), size));
                            }
                        }
                        _ => {}
                    }
                    return Ok(make(Kind::Struct(self.fields(cur)?), size));
                }
                gimli::DW_TAG_array_type => {
                    let elem = target.ok_or_else(|| {
                        ExprError::Dwarf(format!("array type at {cur:#x} without an element"))
                    })?;
                    let count = self.array_count(cur).unwrap_or(0);
                    return Ok(make(
                        Kind::Array(TypeRef::Dwarf(elem), count),
                        size.unwrap_or(0),
                    ));
                }
                gimli::DW_TAG_subroutine_type => return Ok(make(Kind::Func, 8)),
                _ => return Ok(make(Kind::Void, size.unwrap_or(0))),
            }
        }
        Err(ExprError::Dwarf(format!(
            "typedef chain too long at {off:#x}"
        )))
    }

    /// The type a pointer type entry points to.
    fn pointee(&self, ptr: u64) -> Option<u64> {
        let (ui, e) = self.entry(ptr).ok()?;
        if e.tag() != gimli::DW_TAG_pointer_type {
            return None;
        }
        e.attr_value(gimli::DW_AT_type)
            .and_then(|v| ref_offset(&self.units[ui], self.unit_starts[ui], v))
    }

    /// Whether the struct at `off` is `runtime.eface` (`{_type, data}`).
    fn is_eface(&self, off: u64) -> bool {
        let mut cur = off;
        for _ in 0..MAX_TYPEDEF_CHAIN {
            let Ok((ui, e)) = self.entry(cur) else {
                return false;
            };
            if e.tag() == gimli::DW_TAG_typedef {
                match e
                    .attr_value(gimli::DW_AT_type)
                    .and_then(|v| ref_offset(&self.units[ui], self.unit_starts[ui], v))
                {
                    Some(t) => {
                        cur = t;
                        continue;
                    }
                    None => return false,
                }
            }
            return self
                .fields(cur)
                .is_ok_and(|f| f.first().is_some_and(|f| f.name == "_type"));
        }
        false
    }

    fn fields(&self, off: u64) -> Result<Vec<Field>, ExprError> {
        let (ui, uo) = self
            .unit_of(off)
            .ok_or_else(|| ExprError::Dwarf(format!("no DWARF entry at {off:#x}")))?;
        let unit = &self.units[ui];
        let base = self.unit_starts[ui];
        let mut tree = unit.entries_tree(Some(uo)).map_err(bad)?;
        let root = tree.root().map_err(bad)?;
        let mut children = root.children();
        let mut out = Vec::new();
        while let Some(m) = children.next().map_err(bad)? {
            let e = m.entry();
            if e.tag() != gimli::DW_TAG_member {
                continue;
            }
            if out.len() >= MAX_FIELDS {
                return Err(ExprError::Dwarf(format!(
                    "struct at {off:#x} has too many fields"
                )));
            }
            let name = e
                .attr_value(gimli::DW_AT_name)
                .and_then(|v| attr_str(&self.dwarf, unit, v))
                .unwrap_or_default();
            let offset = match e.attr_value(gimli::DW_AT_data_member_location) {
                Some(v) => v.udata_value().unwrap_or(0),
                None => 0,
            };
            let Some(typ) = e
                .attr_value(gimli::DW_AT_type)
                .and_then(|v| ref_offset(unit, base, v))
            else {
                continue;
            };
            let embedded = matches!(
                e.attr_value(DW_AT_GO_EMBEDDED_FIELD),
                Some(AttributeValue::Flag(true))
            );
            out.push(Field {
                name,
                offset,
                typ: TypeRef::Dwarf(typ),
                embedded,
            });
        }
        Ok(out)
    }

    fn array_count(&self, off: u64) -> Option<u64> {
        let (ui, uo) = self.unit_of(off)?;
        let unit = &self.units[ui];
        let mut tree = unit.entries_tree(Some(uo)).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        while let Ok(Some(c)) = children.next() {
            let e = c.entry();
            if e.tag() != gimli::DW_TAG_subrange_type {
                continue;
            }
            if let Some(n) = udata(e.attr_value(gimli::DW_AT_count)) {
                return Some(n);
            }
            if let Some(ub) = e.attr_value(gimli::DW_AT_upper_bound) {
                return match ub {
                    AttributeValue::Sdata(s) if s < 0 => Some(0),
                    v => v.udata_value().map(|u| u.saturating_add(1)),
                };
            }
        }
        None
    }
}

fn collect_captured(s: &Scope, out: &mut Vec<Field>, depth: usize) {
    for v in &s.vars {
        if let (Some(off), Some(t)) = (v.closure_offset, v.typ) {
            out.push(Field {
                name: v.name.clone(),
                offset: off,
                typ: TypeRef::Dwarf(t),
                embedded: false,
            });
        }
    }
    if depth < MAX_SCOPE_DEPTH {
        for c in &s.children {
            if c.tag != ScopeTag::Inlined {
                collect_captured(c, out, depth + 1);
            }
        }
    }
}

/// A reference attribute as a `.debug_info` offset.
fn ref_offset(unit: &gimli::Unit<R>, base: u64, v: AttributeValue<R>) -> Option<u64> {
    match v {
        AttributeValue::UnitRef(o) => Some(base + o.0 as u64),
        AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
        _ => {
            let _ = unit;
            None
        }
    }
}

/// Locks a cache; a cache poisoned by a panic elsewhere is still a valid cache.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
