//! The Go runtime's functions by what a call to them means, for every release goscope reads
//! (Go 1.2 to 1.26). This table is the one place that knows runtime names; annotations,
//! `goscope check` and `goscope diff` all classify calls through [`classify`].
//!
//! Names are matched on the function's base name in the `runtime` package (an `.abi0` suffix
//! removed) or, for the Swiss-table maps of Go 1.24+, in `internal/runtime/maps` with its
//! `runtime_` prefix removed (`internal/runtime/maps.runtime_mapaccess1_fast64` is the runtime's
//! `mapaccess1_fast64`).

use serde::Serialize;

/// What a runtime call does, from a performance and correctness point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Heap allocation.
    Alloc,
    /// Map operation.
    Map,
    /// Channel operation or select.
    Chan,
    /// Interface conversion or type assertion.
    Iface,
    /// GC write barrier.
    WriteBarrier,
    /// Stack growth (the prologue's slow path).
    StackGrowth,
    /// A failed bounds check.
    BoundsCheck,
    /// Panic (other than bounds).
    Panic,
    /// `defer`.
    Defer,
    /// `go` statement (goroutine start).
    Go,
}

impl Class {
    /// The short label used in text annotations.
    pub fn label(self) -> &'static str {
        match self {
            Class::Alloc => "alloc",
            Class::Map => "map",
            Class::Chan => "chan",
            Class::Iface => "iface",
            Class::WriteBarrier => "write barrier",
            Class::StackGrowth => "stack growth",
            Class::BoundsCheck => "bounds check",
            Class::Panic => "panic",
            Class::Defer => "defer",
            Class::Go => "go",
        }
    }
}

/// How a [`Rule`] matches a base name.
#[derive(Debug, Clone, Copy)]
enum Match {
    Exact(&'static str),
    Prefix(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
struct Rule {
    name: Match,
    classes: &'static [Class],
}

use Class::*;
use Match::*;

const fn r(name: Match, classes: &'static [Class]) -> Rule {
    Rule { name, classes }
}

/// The table, most specific rows first.
const RULES: &[Rule] = &[
    // Allocation.
    r(Exact("newobject"), &[Alloc]),
    r(Exact("newarray"), &[Alloc]),
    r(Prefix("mallocgc"), &[Alloc]),
    r(Prefix("makeslice"), &[Alloc]),
    r(Exact("growslice"), &[Alloc]),
    r(Exact("growslice_n"), &[Alloc]),
    r(Prefix("makemap"), &[Alloc, Map]),
    r(Prefix("makechan"), &[Alloc, Chan]),
    r(Prefix("convT"), &[Alloc, Iface]),
    r(Prefix("concatstring"), &[Alloc]),
    r(Exact("slicebytetostring"), &[Alloc]),
    r(Exact("slicerunetostring"), &[Alloc]),
    r(Prefix("stringtoslice"), &[Alloc]),
    r(Exact("intstring"), &[Alloc]),
    r(Prefix("rawstring"), &[Alloc]),
    r(Exact("rawbyteslice"), &[Alloc]),
    r(Exact("rawruneslice"), &[Alloc]),
    // Maps.
    r(Prefix("mapaccess"), &[Map]),
    r(Prefix("mapassign"), &[Map]),
    r(Prefix("mapdelete"), &[Map]),
    r(Prefix("mapiter"), &[Map]),
    r(Prefix("mapIter"), &[Map]),
    r(Prefix("mapclear"), &[Map]),
    r(Exact("mapclone"), &[Alloc, Map]),
    r(Exact("mapinitnoop"), &[Map]),
    // Channels.
    r(Prefix("chansend"), &[Chan]),
    r(Prefix("chanrecv"), &[Chan]),
    r(Exact("closechan"), &[Chan]),
    r(Exact("selectgo"), &[Chan]),
    r(Exact("selectnbsend"), &[Chan]),
    r(Exact("selectnbrecv"), &[Chan]),
    r(Exact("selectnbrecv2"), &[Chan]),
    r(Exact("block"), &[Chan]),
    // Interfaces.
    r(Exact("convI2I"), &[Iface]),
    r(Prefix("assertE2I"), &[Iface]),
    r(Prefix("assertI2I"), &[Iface]),
    r(Exact("typeAssert"), &[Iface]),
    r(Exact("interfaceSwitch"), &[Iface]),
    r(Exact("getitab"), &[Iface]),
    r(Exact("efaceeq"), &[Iface]),
    r(Exact("ifaceeq"), &[Iface]),
    r(Prefix("panicdottype"), &[Iface, Panic]),
    r(Exact("panicnildottype"), &[Iface, Panic]),
    // Write barriers.
    r(Prefix("gcWriteBarrier"), &[WriteBarrier]),
    r(Exact("wbZero"), &[WriteBarrier]),
    r(Exact("wbMove"), &[WriteBarrier]),
    r(Exact("typedmemmove"), &[WriteBarrier]),
    r(Exact("writebarrierptr"), &[WriteBarrier]),
    // Stack growth.
    r(Prefix("morestack"), &[StackGrowth]),
    // Bounds checks (Go 1.2–1.25 per-kind entry points; 1.26 encodes the kind).
    r(Prefix("panicIndex"), &[BoundsCheck]),
    r(Prefix("panicSlice"), &[BoundsCheck]),
    r(Prefix("panicBounds"), &[BoundsCheck]),
    r(Prefix("panicExtend"), &[BoundsCheck]),
    r(Prefix("goPanicIndex"), &[BoundsCheck]),
    r(Prefix("goPanicSlice"), &[BoundsCheck]),
    r(Prefix("goPanicExtend"), &[BoundsCheck]),
    r(Exact("panicindex"), &[BoundsCheck]),
    r(Exact("panicslice"), &[BoundsCheck]),
    // Other panics.
    r(Exact("panicdivide"), &[Panic]),
    r(Exact("panicshift"), &[Panic]),
    r(Exact("panicoverflow"), &[Panic]),
    r(Exact("panicfloat"), &[Panic]),
    r(Prefix("panicmem"), &[Panic]),
    r(Exact("panicwrap"), &[Panic]),
    r(Prefix("panicunsafe"), &[Panic]),
    r(Prefix("panicmakeslice"), &[Panic]),
    r(Exact("panicrangestate"), &[Panic]),
    r(Exact("gopanic"), &[Panic]),
    r(Exact("throw"), &[Panic]),
    r(Exact("fatal"), &[Panic]),
    // defer and go.
    r(Prefix("deferproc"), &[Defer]),
    r(Exact("deferreturn"), &[Defer]),
    r(Exact("newproc"), &[Go]),
];

/// The runtime base name of `symbol`, if it is a runtime function: `mapaccess1_fast64` for
/// `runtime.mapaccess1_fast64`, `runtime.mapaccess1_fast64.abi0` and
/// `internal/runtime/maps.runtime_mapaccess1_fast64`.
pub fn runtime_base_name(symbol: &str) -> Option<&str> {
    let s = symbol.strip_suffix(".abi0").unwrap_or(symbol);
    if let Some(rest) = s.strip_prefix("runtime.") {
        return Some(rest);
    }
    s.strip_prefix("internal/runtime/maps.runtime_")
}

/// The classes of a call to `symbol` (empty for anything that is not a classified runtime
/// function).
pub fn classify(symbol: &str) -> &'static [Class] {
    let Some(base) = runtime_base_name(symbol) else {
        return &[];
    };
    for rule in RULES {
        let hit = match rule.name {
            Exact(n) => base == n,
            Prefix(p) => base.starts_with(p),
        };
        if hit {
            return rule.classes;
        }
    }
    &[]
}

/// The data symbol whose test is the write-barrier check (`if writeBarrier.enabled`).
pub const WRITE_BARRIER_FLAG: &str = "runtime.writeBarrier";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_across_releases() {
        assert_eq!(classify("runtime.newobject"), &[Alloc]);
        assert_eq!(classify("runtime.mallocgcSmallNoScanSC2"), &[Alloc]);
        assert_eq!(classify("runtime.convT64"), &[Alloc, Iface]);
        assert_eq!(
            classify("internal/runtime/maps.runtime_mapaccess1_fast64"),
            &[Map]
        );
        assert_eq!(classify("runtime.mapaccess2_faststr"), &[Map]);
        assert_eq!(classify("runtime.chansend1"), &[Chan]);
        assert_eq!(classify("runtime.gcWriteBarrier2"), &[WriteBarrier]);
        assert_eq!(classify("runtime.morestack_noctxt.abi0"), &[StackGrowth]);
        assert_eq!(classify("runtime.panicIndex"), &[BoundsCheck]);
        assert_eq!(classify("runtime.panicBounds"), &[BoundsCheck]);
        assert_eq!(classify("runtime.deferprocStack"), &[Defer]);
        assert_eq!(classify("runtime.newproc"), &[Go]);
        assert!(classify("main.newobject").is_empty());
        assert!(classify("runtime.memmove").is_empty());
    }
}
