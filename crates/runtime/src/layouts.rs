//! Byte layouts of the runtime's structs for one binary.
//!
//! From DWARF when the binary has it (authoritative). Otherwise from the built-in tables, which
//! `cargo xtask layouts` generates from the DWARF of fixture builds with every Go toolchain on
//! the machine: the table of the same Go release, else the nearest release with a warning.
//!
//! The committed tables cover Go 1.19 and 1.21–1.27 (linux/amd64 and arm64): the machine's
//! toolchains plus releases fetched as Go modules (`GOTOOLCHAIN=go1.22.0 go version` downloads
//! `golang.org/toolchain`), passed to the generator in `GOSCOPE_GO`. The generator rewrites the
//! tables of the toolchains it finds and keeps the others.
//!
//! Adding a Go release: `cargo xtask new-release go1.N.P` fetches it, regenerates the tables,
//! shows what changed and runs the oracle tests on it; commit `builtin.rs`.

use std::collections::BTreeMap;

use goscope_binary::{Binary, go_minor_version};
use serde::Serialize;

use crate::dwarf;

/// The structs goscope reads, by their DWARF names in every release it knows. A struct that
/// does not exist in a release is simply absent from its table.
pub const WANTED_STRUCTS: &[&str] = &[
    "runtime.g",
    "runtime.m",
    "runtime.p",
    "runtime.gobuf",
    "runtime.stack",
    "runtime._panic",
    "runtime._defer",
    "runtime.schedt",
    "runtime.workType",
    "runtime.hmap",
    "runtime.bmap",
    "runtime.maptype",
    "runtime._type",
    "runtime.structtype",
    "runtime.structfield",
    "runtime.ptrtype",
    "runtime.itab",
    "runtime.boundsError",
    "runtime.TypeAssertionError",
    "runtime.sigctxt",
    "internal/abi.Type",
    "internal/abi.StructType",
    "internal/abi.StructField",
    "internal/abi.PtrType",
    "internal/abi.ITab",
    "internal/abi.MapType",
    "internal/abi.SwissMapType",
    "internal/abi.OldMapType",
    // The other descriptor structs, whose sizes walking the type descriptors needs (Go 1.27+).
    "internal/abi.ArrayType",
    "internal/abi.ChanType",
    "internal/abi.FuncType",
    "internal/abi.InterfaceType",
    "internal/abi.Imethod",
    "internal/abi.SliceType",
    "internal/abi.UncommonType",
    "internal/abi.Method",
    "internal/runtime/maps.Map",
    "internal/runtime/maps.table",
    "internal/runtime/maps.groupsReference",
];

/// The globals goscope reads, by name.
pub const WANTED_VARS: &[&str] = &[
    "runtime.allgs",
    "runtime.allglen",
    "runtime.allm",
    "runtime.allp",
    "runtime.sched",
    "runtime.waitReasonStrings",
    "runtime.work",
];

/// One field of a struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldLayout {
    /// Field name as Go spells it.
    pub name: String,
    /// Byte offset from the start of the struct.
    pub offset: u64,
}

/// One struct: its size and fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct StructLayout {
    /// `unsafe.Sizeof`.
    pub size: u64,
    /// Fields in declaration order.
    pub fields: Vec<FieldLayout>,
}

impl StructLayout {
    /// The offset of field `name`.
    pub fn field(&self, name: &str) -> Option<u64> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.offset)
    }
}

/// One struct of a built-in table: name, size, and `(field, offset)` pairs.
pub type BuiltinStruct = (&'static str, u64, &'static [(&'static str, u64)]);

/// A built-in table, generated from the DWARF of one toolchain's fixture build.
#[derive(Debug)]
pub struct BuiltinTable {
    /// The toolchain's version, `go1.26.8`.
    pub go_version: &'static str,
    /// `amd64`, `arm64`.
    pub goarch: &'static str,
    /// `(struct, size, [(field, offset)])`.
    pub structs: &'static [BuiltinStruct],
    /// `runtime.waitReasonStrings` of that release.
    pub wait_reasons: &'static [&'static str],
}

/// Where the layouts came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayoutSource {
    /// The binary's own DWARF.
    Dwarf,
    /// A built-in table.
    Builtin {
        /// The Go version the table was generated from.
        table: String,
        /// Whether it is the binary's exact release series (same minor version).
        exact: bool,
    },
}

/// The struct layouts of one binary.
#[derive(Debug, Clone, Serialize)]
pub struct Layouts {
    /// Where they came from.
    pub source: LayoutSource,
    /// By DWARF struct name.
    pub structs: BTreeMap<String, StructLayout>,
    /// Global variable addresses from DWARF (link-time addresses), when DWARF was read.
    #[serde(skip)]
    pub vars: BTreeMap<String, u64>,
    /// The wait reason strings of the table's release (built-in tables only).
    #[serde(skip)]
    pub wait_reasons: Vec<String>,
}

impl Layouts {
    /// The struct called `name`, if this release has it.
    pub fn get(&self, name: &str) -> Option<&StructLayout> {
        self.structs.get(name)
    }

    /// The first of `names` this release has (structs are renamed between releases).
    pub fn any(&self, names: &[&str]) -> Option<&StructLayout> {
        names.iter().find_map(|n| self.structs.get(*n))
    }

    /// Layouts from the binary's DWARF.
    pub fn from_dwarf(bin: &Binary) -> Result<Layouts, dwarf::DwarfError> {
        let facts = dwarf::read(bin, WANTED_STRUCTS, WANTED_VARS)?;
        if !facts.structs.contains_key("runtime.g") {
            return Err(dwarf::DwarfError::Malformed(
                "DWARF has no runtime.g".to_string(),
            ));
        }
        Ok(Layouts {
            source: LayoutSource::Dwarf,
            structs: facts.structs,
            vars: facts.vars.into_iter().collect(),
            wait_reasons: Vec::new(),
        })
    }

    /// Layouts from a built-in table.
    pub fn from_table(t: &BuiltinTable, exact: bool) -> Layouts {
        let structs = t
            .structs
            .iter()
            .map(|(name, size, fields)| {
                (
                    (*name).to_string(),
                    StructLayout {
                        size: *size,
                        fields: fields
                            .iter()
                            .map(|(f, o)| FieldLayout {
                                name: (*f).to_string(),
                                offset: *o,
                            })
                            .collect(),
                    },
                )
            })
            .collect();
        Layouts {
            source: LayoutSource::Builtin {
                table: t.go_version.to_string(),
                exact,
            },
            structs,
            vars: BTreeMap::new(),
            wait_reasons: t.wait_reasons.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    /// The layouts for `bin`: DWARF, else the built-in table for its Go version, else the
    /// nearest one. The second value is a warning for the user, if any.
    pub fn for_binary(bin: &Binary) -> (Option<Layouts>, Vec<String>) {
        let mut warnings = Vec::new();
        match Layouts::from_dwarf(bin) {
            Ok(l) => return (Some(l), warnings),
            Err(dwarf::DwarfError::Absent) => {}
            Err(e) => warnings.push(format!("{e}; using built-in layouts")),
        }
        let goarch = bin.arch().goarch();
        let version = bin.go_version().unwrap_or("");
        match nearest_table(crate::builtin::TABLES, version, goarch) {
            Some((t, exact)) => {
                if !exact {
                    warnings.push(format!(
                        "no built-in runtime layouts for {} {goarch}; using those of {} (the \
                         nearest release goscope knows) — some fields may be wrong. Build with \
                         DWARF (no -ldflags=-w) for exact layouts",
                        if version.is_empty() {
                            "this binary (Go version unknown)"
                        } else {
                            version
                        },
                        t.go_version
                    ));
                }
                (Some(Layouts::from_table(t, exact)), warnings)
            }
            None => {
                warnings.push(format!(
                    "no DWARF and no built-in runtime layouts for {goarch}: cannot read goroutines"
                ));
                (None, warnings)
            }
        }
    }
}

/// Every built-in table.
pub fn builtin_tables() -> &'static [BuiltinTable] {
    crate::builtin::TABLES
}

/// The table for `version` on `goarch`: same minor release (exact), else the nearest minor
/// release (ties go to the newer one).
pub fn nearest_table<'a>(
    tables: &'a [BuiltinTable],
    version: &str,
    goarch: &str,
) -> Option<(&'a BuiltinTable, bool)> {
    let cands: Vec<&BuiltinTable> = tables.iter().filter(|t| t.goarch == goarch).collect();
    if let Some(t) = cands.iter().find(|t| t.go_version == version) {
        return Some((t, true));
    }
    let want = go_minor_version(version);
    let mut best: Option<(&BuiltinTable, u32)> = None;
    for t in cands {
        let Some(have) = go_minor_version(t.go_version) else {
            continue;
        };
        let dist = match want {
            Some(w) => have.abs_diff(w),
            // Unknown (devel) versions are most likely newer than anything we know.
            None => u32::MAX - have,
        };
        let better = match best {
            None => true,
            Some((b, bd)) => {
                dist < bd || (dist == bd && go_minor_version(b.go_version).unwrap_or(0) < have)
            }
        };
        if better {
            best = Some((t, dist));
        }
    }
    best.map(|(t, d)| (t, d == 0 && want.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    static T: &[BuiltinTable] = &[
        BuiltinTable {
            go_version: "go1.19.8",
            goarch: "amd64",
            structs: &[],
            wait_reasons: &[],
        },
        BuiltinTable {
            go_version: "go1.26.8",
            goarch: "amd64",
            structs: &[],
            wait_reasons: &[],
        },
    ];

    #[test]
    fn nearest_table_prefers_same_release_then_nearest_then_newer() {
        let pick = |v: &str| nearest_table(T, v, "amd64").map(|(t, e)| (t.go_version, e));
        assert_eq!(pick("go1.26.8"), Some(("go1.26.8", true)));
        assert_eq!(pick("go1.26.1"), Some(("go1.26.8", true)));
        assert_eq!(pick("go1.20.3"), Some(("go1.19.8", false)));
        assert_eq!(pick("go1.24.0"), Some(("go1.26.8", false)));
        assert_eq!(pick("devel +abc"), Some(("go1.26.8", false)));
        assert_eq!(pick("go1.30"), Some(("go1.26.8", false)));
        assert!(nearest_table(T, "go1.26.8", "arm64").is_none());
    }
}
