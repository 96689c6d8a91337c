//! SARIF 2.1.0 output, as GitHub code scanning accepts it: one run, the tool's rules with help
//! text, results located by paths relative to the module root (`%SRCROOT%`).

use std::path::Path;

use serde_json::{Value, json};

use crate::check::Report;
use crate::policy::Rule;

/// The schema the output follows.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// A rule as SARIF describes it.
#[derive(Debug, Clone)]
pub struct SarifRule {
    /// Rule id (`no_alloc`).
    pub id: String,
    /// One line.
    pub summary: String,
    /// Full help text.
    pub help: String,
    /// `error`, `warning` or `note`.
    pub level: &'static str,
}

/// A result as SARIF describes it.
#[derive(Debug, Clone)]
pub struct SarifResult {
    /// The rule id; must be one of the rules.
    pub rule_id: String,
    /// The message.
    pub message: String,
    /// Path relative to the module root, and line, when inside the module.
    pub module_location: Option<(String, i32)>,
    /// The file as the binary records it, used when outside the module.
    pub file: String,
    /// Line in `file`.
    pub line: i32,
    /// Fully qualified function name.
    pub function: Option<String>,
    /// Instruction address.
    pub address: Option<u64>,
    /// A stable identity for the finding across builds (addresses excluded).
    pub fingerprint: String,
}

/// Percent-encodes what a URI reference cannot hold literally.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A SARIF log of `results` by `rules`; `root` is the module root.
pub fn log(rules: &[SarifRule], results: &[SarifResult], root: Option<&Path>) -> Value {
    let rules_json: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": camel(&r.id),
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.help },
                "help": { "text": r.help, "markdown": r.help },
                "defaultConfiguration": { "level": r.level },
                "properties": { "tags": ["performance", "go"] },
            })
        })
        .collect();
    let results_json: Vec<Value> = results
        .iter()
        .map(|r| {
            let index = rules.iter().position(|x| x.id == r.rule_id).unwrap_or(0);
            let level = rules.get(index).map_or("error", |x| x.level);
            let physical = match &r.module_location {
                Some((file, line)) => Some(json!({
                    "artifactLocation": { "uri": uri_escape(file), "uriBaseId": "%SRCROOT%" },
                    "region": { "startLine": (*line).max(1) },
                })),
                None if r.file.starts_with('/') => Some(json!({
                    "artifactLocation": { "uri": format!("file://{}", uri_escape(&r.file)) },
                    "region": { "startLine": r.line.max(1) },
                })),
                None => None,
            };
            let mut loc = serde_json::Map::new();
            if let Some(p) = physical {
                loc.insert("physicalLocation".into(), p);
            }
            if let Some(f) = &r.function {
                loc.insert(
                    "logicalLocations".into(),
                    json!([{ "fullyQualifiedName": f, "kind": "function" }]),
                );
            }
            let mut res = json!({
                "ruleId": r.rule_id,
                "ruleIndex": index,
                "level": level,
                "message": { "text": r.message },
                "locations": [Value::Object(loc)],
                "partialFingerprints": { "goscopeFinding/v1": r.fingerprint },
            });
            if let Some(a) = r.address {
                res["properties"] = json!({ "address": format!("{a:#x}") });
            }
            res
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "goscope",
                "informationUri": "https://github.com/goscope/goscope",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules_json,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results_json,
    });
    if let Some(root) = root {
        let mut uri = format!("file://{}", uri_escape(&root.to_string_lossy()));
        if !uri.ends_with('/') {
            uri.push('/');
        }
        run["originalUriBaseIds"] = json!({ "%SRCROOT%": { "uri": uri } });
    }
    json!({ "$schema": SCHEMA, "version": "2.1.0", "runs": [run] })
}

fn camel(id: &str) -> String {
    id.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// The rules of `goscope check`.
pub fn check_rules() -> Vec<SarifRule> {
    Rule::ALL
        .iter()
        .map(|r| SarifRule {
            id: r.id().to_string(),
            summary: r.summary().to_string(),
            help: r.help().to_string(),
            level: "error",
        })
        .collect()
}

/// The SARIF log of a check report.
pub fn from_check(report: &Report) -> Value {
    let results: Vec<SarifResult> = report
        .violations
        .iter()
        .map(|v| SarifResult {
            rule_id: v.rule.id().to_string(),
            message: match &v.instruction {
                Some(i) => format!("{}: {} ({})", v.function, v.message, i),
                None => format!("{}: {}", v.function, v.message),
            },
            module_location: v.module_location.as_ref().map(|l| (l.file.clone(), l.line)),
            file: v.file.clone(),
            line: v.line,
            function: Some(v.in_function.clone().unwrap_or_else(|| v.function.clone())),
            address: Some(v.address),
            fingerprint: format!(
                "{}:{}:{}:{}",
                v.rule.id(),
                v.function,
                v.in_function.as_deref().unwrap_or(""),
                v.module_location.as_ref().map_or(v.line, |l| l.line)
            ),
        })
        .collect();
    log(
        &check_rules(),
        &results,
        report.module.as_ref().map(|m| m.root.as_path()),
    )
}
