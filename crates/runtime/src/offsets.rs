//! The field offsets the readers use, resolved once from [`Layouts`] into plain numbers so the
//! hot loops (hundreds of thousands of goroutines) do no lookups.

use crate::layouts::{Layouts, StructLayout};

/// Resolved offsets. `Option` fields do not exist in every release.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct Offsets {
    // runtime.g
    pub g_stack_lo: u64,
    pub g_stack_hi: u64,
    pub g_panic: u64,
    pub g_defer: u64,
    pub g_m: u64,
    pub g_sched_sp: u64,
    pub g_sched_pc: u64,
    pub g_sched_lr: u64,
    pub g_sched_bp: u64,
    pub g_syscallsp: u64,
    pub g_syscallpc: u64,
    pub g_syscallbp: Option<u64>,
    pub g_atomicstatus: u64,
    pub g_goid: u64,
    pub g_waitsince: u64,
    pub g_waitreason: u64,
    pub g_lockedm: u64,
    pub g_gopc: u64,
    pub g_startpc: u64,
    pub g_parent_goid: Option<u64>,
    pub g_labels: Option<u64>,
    pub g_sig: u64,
    pub g_sigcode0: u64,
    pub g_sigcode1: u64,
    pub g_sigpc: u64,
    /// Bytes of `runtime.g` that hold every field above (one read per goroutine).
    pub g_read_size: u64,
    // runtime.m
    pub m_g0: u64,
    pub m_procid: u64,
    pub m_gsignal: u64,
    pub m_curg: u64,
    pub m_p: u64,
    pub m_id: u64,
    pub m_alllink: u64,
    pub m_throwing: Option<u64>,
    pub m_dying: Option<u64>,
    pub m_caughtsig: Option<u64>,
    pub m_lockedg: u64,
    pub m_incgo: Option<u64>,
    pub m_ncgo: Option<u64>,
    pub m_vdso_sp: Option<u64>,
    pub m_vdso_pc: Option<u64>,
    // runtime.p
    pub p_id: Option<u64>,
    pub p_status: Option<u64>,
    pub p_m: Option<u64>,
    // runtime._panic
    pub panic_arg: u64,
    pub panic_link: u64,
    pub panic_recovered: u64,
    pub panic_aborted: Option<u64>,
    pub panic_goexit: Option<u64>,
    pub panic_repanicked: Option<u64>,
    // runtime.schedt
    pub sched_lastpoll: Option<u64>,
    // runtime.workType: `tstart` is the start of the last GC, the time the runtime stamps on
    // goroutines found blocked (`g.waitsince`).
    pub work_tstart: Option<u64>,
    // internal/abi.Type (runtime._type)
    pub type_size: u64,
    pub type_tflag: u64,
    pub type_kind: u64,
    pub type_str: u64,
    pub type_len: u64,
    // internal/abi.StructType (runtime.structtype)
    pub structtype_fields: Option<u64>,
    // internal/abi.StructField
    pub structfield_name: u64,
    pub structfield_typ: u64,
    pub structfield_offset: u64,
    pub structfield_len: u64,
    // internal/abi.PtrType
    pub ptrtype_elem: u64,
    // internal/abi.ITab (runtime.itab): the concrete type
    pub itab_type: u64,
    /// What walking the type descriptors needs (Go 1.27+, where they replace `typelinks`).
    pub typedesc: Option<DescriptorSizes>,
}

/// The sizes of the type descriptor structs (`internal/abi`), for computing a descriptor's
/// contiguous size as `abi.Type.DescriptorSize` does (Go 1.27+).
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)]
pub struct DescriptorSizes {
    pub array: u64,
    pub chan: u64,
    pub func: u64,
    pub func_in_count: u64,
    pub func_out_count: u64,
    pub interface: u64,
    pub interface_methods: u64,
    pub imethod: u64,
    pub map: u64,
    pub ptr: u64,
    pub slice: u64,
    pub structtype: u64,
    pub uncommon: u64,
    pub uncommon_mcount: u64,
    pub method: u64,
}

impl DescriptorSizes {
    fn new(l: &Layouts) -> Option<DescriptorSizes> {
        let size = |n: &str| l.get(n).map(|s| s.size);
        let field = |n: &str, f: &str| l.get(n).and_then(|s| s.field(f));
        Some(DescriptorSizes {
            array: size("internal/abi.ArrayType")?,
            chan: size("internal/abi.ChanType")?,
            func: size("internal/abi.FuncType")?,
            func_in_count: field("internal/abi.FuncType", "InCount")?,
            func_out_count: field("internal/abi.FuncType", "OutCount")?,
            interface: size("internal/abi.InterfaceType")?,
            interface_methods: field("internal/abi.InterfaceType", "Methods")?,
            imethod: size("internal/abi.Imethod")?,
            map: size("internal/abi.MapType")?,
            ptr: size("internal/abi.PtrType")?,
            slice: size("internal/abi.SliceType")?,
            structtype: size("internal/abi.StructType")?,
            uncommon: size("internal/abi.UncommonType")?,
            uncommon_mcount: field("internal/abi.UncommonType", "Mcount")?,
            method: size("internal/abi.Method")?,
        })
    }
}

fn need(s: Option<&StructLayout>, sname: &str, f: &str) -> Result<u64, String> {
    s.and_then(|s| s.field(f))
        .ok_or_else(|| format!("runtime layout lacks {sname}.{f}"))
}

impl Offsets {
    /// Resolves the offsets from `l`; fails when a field every release has is missing.
    pub fn new(l: &Layouts) -> Result<Offsets, String> {
        let g = l.get("runtime.g");
        let m = l.get("runtime.m");
        let p = l.get("runtime.p");
        let gobuf = l.get("runtime.gobuf");
        let stack = l.get("runtime.stack");
        let panic = l.get("runtime._panic");
        let sched = l.get("runtime.schedt");
        let work = l.get("runtime.workType");
        let typ = l.any(&["internal/abi.Type", "runtime._type"]);
        let structtype = l.any(&["internal/abi.StructType", "runtime.structtype"]);
        let structfield = l.any(&["internal/abi.StructField", "runtime.structfield"]);
        let ptrtype = l.any(&["internal/abi.PtrType", "runtime.ptrtype"]);
        let itab = l.any(&["internal/abi.ITab", "runtime.itab"]);
        let opt = |s: Option<&StructLayout>, f: &str| s.and_then(|s| s.field(f));
        let first = |s: Option<&StructLayout>, fs: &[&str]| fs.iter().find_map(|f| opt(s, f));

        let g_stack = need(g, "g", "stack")?;
        let g_sched = need(g, "g", "sched")?;
        let mut o = Offsets {
            g_stack_lo: g_stack + need(stack, "stack", "lo")?,
            g_stack_hi: g_stack + need(stack, "stack", "hi")?,
            g_panic: need(g, "g", "_panic")?,
            g_defer: need(g, "g", "_defer")?,
            g_m: need(g, "g", "m")?,
            g_sched_sp: g_sched + need(gobuf, "gobuf", "sp")?,
            g_sched_pc: g_sched + need(gobuf, "gobuf", "pc")?,
            g_sched_lr: g_sched + need(gobuf, "gobuf", "lr")?,
            g_sched_bp: g_sched + need(gobuf, "gobuf", "bp")?,
            g_syscallsp: need(g, "g", "syscallsp")?,
            g_syscallpc: need(g, "g", "syscallpc")?,
            g_syscallbp: opt(g, "syscallbp"),
            g_atomicstatus: need(g, "g", "atomicstatus")?,
            g_goid: need(g, "g", "goid")?,
            g_waitsince: need(g, "g", "waitsince")?,
            g_waitreason: need(g, "g", "waitreason")?,
            g_lockedm: need(g, "g", "lockedm")?,
            g_gopc: need(g, "g", "gopc")?,
            g_startpc: need(g, "g", "startpc")?,
            g_parent_goid: opt(g, "parentGoid"),
            g_labels: opt(g, "labels"),
            g_sig: need(g, "g", "sig")?,
            g_sigcode0: need(g, "g", "sigcode0")?,
            g_sigcode1: need(g, "g", "sigcode1")?,
            g_sigpc: need(g, "g", "sigpc")?,
            g_read_size: 0,
            m_g0: need(m, "m", "g0")?,
            m_procid: need(m, "m", "procid")?,
            m_gsignal: need(m, "m", "gsignal")?,
            m_curg: need(m, "m", "curg")?,
            m_p: need(m, "m", "p")?,
            m_id: need(m, "m", "id")?,
            m_alllink: need(m, "m", "alllink")?,
            m_throwing: opt(m, "throwing"),
            m_dying: opt(m, "dying"),
            m_caughtsig: opt(m, "caughtsig"),
            m_lockedg: need(m, "m", "lockedg")?,
            m_incgo: opt(m, "incgo"),
            m_ncgo: opt(m, "ncgo"),
            m_vdso_sp: opt(m, "vdsoSP"),
            m_vdso_pc: opt(m, "vdsoPC"),
            p_id: opt(p, "id"),
            p_status: opt(p, "status"),
            p_m: opt(p, "m"),
            panic_arg: need(panic, "_panic", "arg")?,
            panic_link: need(panic, "_panic", "link")?,
            panic_recovered: need(panic, "_panic", "recovered")?,
            panic_aborted: opt(panic, "aborted"),
            panic_goexit: opt(panic, "goexit"),
            panic_repanicked: opt(panic, "repanicked"),
            sched_lastpoll: opt(sched, "lastpoll"),
            work_tstart: opt(work, "tstart"),
            type_size: first(typ, &["Size_", "size"]).unwrap_or(0),
            type_tflag: first(typ, &["TFlag", "tflag"]).unwrap_or(20),
            type_kind: first(typ, &["Kind_", "kind"]).unwrap_or(23),
            type_str: first(typ, &["Str", "str"]).unwrap_or(40),
            type_len: typ.map_or(48, |t| t.size),
            structtype_fields: first(structtype, &["Fields", "fields"]),
            structfield_name: first(structfield, &["Name", "name"]).unwrap_or(0),
            structfield_typ: first(structfield, &["Typ", "typ"]).unwrap_or(8),
            structfield_offset: first(structfield, &["Offset", "offset"]).unwrap_or(16),
            structfield_len: structfield.map_or(24, |s| s.size),
            ptrtype_elem: first(ptrtype, &["Elem", "elem"]).unwrap_or(48),
            itab_type: first(itab, &["Type", "_type"]).unwrap_or(8),
            typedesc: DescriptorSizes::new(l),
        };
        let gsize = g.map_or(0, |g| g.size);
        let used = [
            o.g_stack_hi,
            o.g_panic,
            o.g_m,
            o.g_sched_bp,
            o.g_syscallpc,
            o.g_syscallbp.unwrap_or(0),
            o.g_atomicstatus,
            o.g_goid,
            o.g_waitsince,
            o.g_waitreason,
            o.g_lockedm,
            o.g_gopc,
            o.g_startpc,
            o.g_parent_goid.unwrap_or(0),
            o.g_labels.unwrap_or(0),
            o.g_sigpc,
        ];
        o.g_read_size = (used.iter().max().copied().unwrap_or(0) + 8).min(gsize.max(8));
        Ok(o)
    }
}
