//! The native dialect: a package `tollgate.<rule>` with `deny` (and/or `warn`) rules.
//!
//! ```rego
//! # METADATA
//! # title: Ingress without TLS
//! # description: An Ingress that serves plain HTTP.
//! # custom:
//! #   id: ingress-tls
//! #   severity: high
//! #   remediation: Add a `tls` section.
//! package tollgate.ingress_tls
//! import rego.v1
//!
//! deny contains {"msg": msg, "path": ["spec", "rules", i]} if { … }
//! ```
//!
//! Input: `{"object": <the object>, "environment": "prod" | null, "origin": {…}}`. A result
//! is a string (the message) or an object with `msg` and optionally `path` (keys and indexes
//! into `input.object`, or a JSON pointer), `severity` and `remediation`. `deny` results have
//! the policy's severity, `warn` results `low`.

use std::collections::BTreeMap;

use regorus::{Engine, Value};

use super::ast;
use super::engine::{Origin, PolicyError};
use super::metadata::{self, Annotations};
use super::value::{display, members, object, str_field, to_json};
use crate::finding::Severity;
use crate::model::object::{Object, Origin as ObjectOrigin};
use crate::model::spans::push_token;
use crate::rules::{RuleInfo, Violation};

/// The package prefix of native policies.
pub const ROOT: &str = "tollgate";

/// One native policy (one package).
#[derive(Debug, Clone)]
pub struct NativePolicy {
    pub id: String,
    pub package: Vec<String>,
    pub deny: Option<String>,
    pub warn: Option<String>,
    pub info: RuleInfo,
    /// `custom.kinds`: the kinds the policy inspects; objects of other kinds are not
    /// evaluated. `None`: every object.
    pub kinds: Option<std::collections::BTreeSet<String>>,
    /// `custom.inventory_kinds`: the kinds the policy looks up in `data.inventory`. `None`:
    /// any kind, when it reads the inventory at all.
    pub inventory_kinds: Option<std::collections::BTreeSet<String>>,
}

impl NativePolicy {
    /// Whether the policy looks at objects of `kind`.
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(kind))
    }
}

/// The `kinds` of METADATA's `custom` or of a `metadata` rule.
pub fn kinds_of(
    annotations: &Annotations,
    rule: Option<&serde_json::Value>,
) -> Option<std::collections::BTreeSet<String>> {
    let mut kinds = annotations.custom_list("kinds");
    if let Some(serde_json::Value::Array(items)) = rule {
        kinds.extend(items.iter().filter_map(|k| k.as_str().map(str::to_string)));
    }
    (!kinds.is_empty()).then(|| kinds.into_iter().collect())
}

/// A module as the loader knows it.
pub struct LoadedModule<'a> {
    pub package: Vec<String>,
    pub declared: Vec<ast::Declared>,
    pub origin: &'a Origin,
    pub text: &'a str,
}

/// The fields of a `metadata := {...}` rule.
#[derive(Debug, Default)]
struct MetadataRule {
    fields: BTreeMap<String, serde_json::Value>,
}

impl MetadataRule {
    fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key)?.as_str()
    }
}

fn parse_severity(text: &str, origin: &Origin, line: u32) -> Result<Severity, PolicyError> {
    text.parse::<Severity>()
        .map_err(|e| PolicyError::in_module(origin, line, 1, e))
}

/// The id a package gets when its metadata names none: `tollgate.ingress_tls` → `ingress-tls`.
pub fn default_id(package: &[String]) -> String {
    package[1..].join(".").replace('_', "-")
}

/// Finds the native policies among `modules` (grouped by package).
pub fn discover(
    engine: &mut Engine,
    modules: &[LoadedModule<'_>],
) -> Result<Vec<NativePolicy>, PolicyError> {
    let mut packages: BTreeMap<Vec<String>, Vec<&LoadedModule<'_>>> = BTreeMap::new();
    for m in modules {
        if m.package.len() >= 2 && m.package[0] == ROOT {
            packages.entry(m.package.clone()).or_default().push(m);
        }
    }
    let mut out = Vec::new();
    for (package, parts) in packages {
        let has = |name: &str| {
            parts
                .iter()
                .flat_map(|p| &p.declared)
                .any(|d| d.name == name && !d.function)
        };
        if !has("deny") && !has("warn") {
            continue; // a helper package
        }
        let path = ast::rule_path(&package);
        let first = parts[0];

        // `# METADATA` (package scope, else the block on `deny`), then `metadata := {...}`.
        let mut annotations = Annotations::default();
        let mut annotation_line = 1;
        'files: for part in &parts {
            let blocks = metadata::blocks(part.text)
                .map_err(|e| PolicyError::in_module(part.origin, e.line, 1, e.message))?;
            for block in &blocks {
                if block.is_package_scoped() {
                    annotations = block.annotations.clone();
                    annotation_line = block.line;
                    break 'files;
                }
            }
            if let Some(block) = blocks.iter().find(
                |b| matches!(&b.target, metadata::Target::Rule(r) if r == "deny" || r == "warn"),
            ) {
                annotations = block.annotations.clone();
                annotation_line = block.line;
            }
        }
        let mut rule = MetadataRule::default();
        if has("metadata") {
            engine.set_input(Value::new_object());
            match engine.eval_rule(format!("{path}.metadata")) {
                Ok(v) => {
                    if let Some(serde_json::Value::Object(map)) = to_json(&v) {
                        rule.fields = map.into_iter().collect();
                    }
                }
                Err(e) => {
                    return Err(PolicyError::whole(
                        &first.origin.file,
                        format!("the `metadata` rule of {path} cannot be evaluated: {e:#}"),
                    ));
                }
            }
        }

        let id = annotations
            .custom_str("id")
            .or(rule.str("id"))
            .map(str::to_string)
            .unwrap_or_else(|| default_id(&package));
        let severity = match annotations.custom_str("severity").or(rule.str("severity")) {
            Some(s) => parse_severity(s, first.origin, annotation_line)?,
            None => Severity::Medium,
        };
        let title = annotations
            .title
            .clone()
            .or(rule.str("title").map(str::to_string))
            .unwrap_or_else(|| id.clone());
        let doc = annotations
            .description
            .clone()
            .or(rule.str("description").map(str::to_string))
            .unwrap_or_else(|| title.clone());
        let remediation = annotations
            .custom_str("remediation")
            .or(rule.str("remediation"))
            .unwrap_or("")
            .trim()
            .to_string();
        let mut tags = annotations.custom_list("tags");
        if let Some(serde_json::Value::Array(items)) = rule.fields.get("tags") {
            tags.extend(items.iter().filter_map(|t| t.as_str().map(str::to_string)));
        }
        tags.push("rego".into());
        tags.sort();
        tags.dedup();
        let kinds = kinds_of(&annotations, rule.fields.get("kinds"));
        let inventory_kinds = {
            let mut declared = annotations.custom_list("inventory_kinds");
            if let Some(serde_json::Value::Array(items)) = rule.fields.get("inventory_kinds") {
                declared.extend(items.iter().filter_map(|k| k.as_str().map(str::to_string)));
            }
            let said = annotations.custom_has("inventory_kinds")
                || rule.fields.contains_key("inventory_kinds");
            said.then(|| declared.into_iter().collect())
        };
        out.push(NativePolicy {
            kinds,
            inventory_kinds,
            id: id.clone(),
            deny: has("deny").then(|| format!("{path}.deny")),
            warn: has("warn").then(|| format!("{path}.warn")),
            package,
            info: RuleInfo {
                id,
                title,
                severity,
                default_severity: severity,
                tags,
                remediation,
                doc,
                source: first.origin.file.clone(),
            },
        });
    }
    Ok(out)
}

/// The input of native policies for `object`, whose converted value is `value`.
pub fn input(value: Value, object_ref: &Object) -> Value {
    let origin = match &object_ref.origin {
        ObjectOrigin::File {
            path,
            document,
            start_line,
            ..
        } => object([
            ("type", Value::from("file")),
            ("path", Value::from(&**path)),
            ("document", Value::from(*document)),
            ("line", Value::from(u64::from(*start_line))),
        ]),
        ObjectOrigin::Cluster { context, api_path } => object([
            ("type", Value::from("cluster")),
            ("context", Value::from(context.as_str())),
            ("apiPath", Value::from(api_path.as_str())),
        ]),
    };
    object([
        ("object", value),
        (
            "environment",
            object_ref.environment().map_or(Value::Null, Value::from),
        ),
        ("origin", origin),
    ])
}

/// The JSON pointer a result's `path` names: an array of keys and indexes, a JSON pointer,
/// or a dotted path (`spec.rules[0].host`).
pub fn pointer_of(path: &Value) -> String {
    let mut pointer = String::new();
    match path {
        Value::Array(items) => {
            for item in items.iter() {
                match item {
                    Value::String(s) => push_token(&mut pointer, s),
                    Value::Number(_) => push_token(&mut pointer, &display(item)),
                    _ => break,
                }
            }
        }
        Value::String(s) if s.starts_with('/') => pointer = s.to_string(),
        Value::String(s) => {
            for token in s.split(['.', '[', ']']).filter(|t| !t.is_empty()) {
                push_token(&mut pointer, token);
            }
        }
        _ => {}
    }
    pointer
}

/// Violations from the value of a `deny`/`warn`/`violation` rule.
pub fn violations(result: &Value, severity: Severity, remediation: &str) -> Vec<Violation> {
    members(result)
        .into_iter()
        .map(|member| result_violation(member, severity, remediation))
        .collect()
}

/// One result as a violation: a string, or an object with `msg` (and `path`, `severity`,
/// `remediation`).
pub fn result_violation(member: &Value, severity: Severity, remediation: &str) -> Violation {
    let (message, pointer, own_severity, own_remediation) = match member {
        Value::Object(_) => (
            str_field(member, "msg")
                .map(str::to_string)
                .unwrap_or_else(|| display(member)),
            pointer_of(&member["path"]),
            str_field(member, "severity").and_then(|s| s.parse::<Severity>().ok()),
            str_field(member, "remediation").map(str::to_string),
        ),
        Value::Bool(true) => ("policy violated".to_string(), String::new(), None, None),
        other => (display(other), String::new(), None, None),
    };
    let mut v = Violation::new(pointer, message).with_severity(own_severity.unwrap_or(severity));
    let remediation = own_remediation.unwrap_or_else(|| remediation.to_string());
    if !remediation.is_empty() {
        v = v.with_remediation(remediation);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_pointers() {
        let path = Value::from_json_str(r#"["spec", "rules", 0, "host"]"#).unwrap();
        assert_eq!(pointer_of(&path), "/spec/rules/0/host");
        assert_eq!(
            pointer_of(&Value::from("spec.rules[1].host")),
            "/spec/rules/1/host"
        );
        assert_eq!(pointer_of(&Value::from("/spec/tls")), "/spec/tls");
        assert_eq!(
            pointer_of(&Value::from_json_str(r#"["metadata", "annotations", "a/b"]"#).unwrap()),
            "/metadata/annotations/a~1b"
        );
        assert_eq!(pointer_of(&Value::Undefined), "");
    }

    #[test]
    fn results_as_strings_and_objects() {
        let set = Value::from_json_str(
            r#"["plain", {"msg": "structured", "path": ["spec"], "severity": "critical", "remediation": "fix"}]"#,
        )
        .unwrap();
        let mut found = violations(&set, Severity::Medium, "default fix");
        found.sort_by(|a, b| a.message.cmp(&b.message));
        assert_eq!(found[0].message, "plain");
        assert_eq!(found[0].severity, Some(Severity::Medium));
        assert_eq!(found[0].remediation.as_deref(), Some("default fix"));
        assert_eq!(found[1].pointer, "/spec");
        assert_eq!(found[1].severity, Some(Severity::Critical));
        assert_eq!(found[1].remediation.as_deref(), Some("fix"));
    }
}
