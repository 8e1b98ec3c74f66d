//! The conftest dialect: packages matching `--namespace` (default `main`) with rules `deny`,
//! `deny_<name>`, `violation`, `violation_<name>` (failures) and `warn`, `warn_<name>`
//! (warnings); `input` is one document. `exception` rules of the package except rules by
//! the name after their prefix, as in conftest.
//!
//! A rule's id is `<package>.<rule>` (`main.deny_latest_tag`), unless a `# METADATA` block on
//! the rule gives `custom.id`, the package has a Trivy-style `__rego_metadata__ := {"id": …}`,
//! or a result object carries an `id`.

use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobSet, GlobSetBuilder};
use regorus::{Engine, Value};

use super::ast;
use std::sync::Arc;

use super::engine::{ModuleSource, Origin, PolicyError, Syntax};
use super::metadata::{self, Annotations, Target};
use super::native::{LoadedModule, ROOT};
use super::value::{members, to_json};
use crate::finding::Severity;
use crate::rules::RuleInfo;

/// Which packages are conftest policies.
#[derive(Debug, Clone)]
pub enum Namespaces {
    All,
    Globs(GlobSet),
}

impl Namespaces {
    pub fn new(patterns: &[String], all: bool) -> Result<Namespaces, String> {
        if all {
            return Ok(Namespaces::All);
        }
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            builder.add(Glob::new(p).map_err(|e| format!("invalid --namespace `{p}`: {e}"))?);
        }
        builder
            .build()
            .map(Namespaces::Globs)
            .map_err(|e| e.to_string())
    }

    fn matches(&self, package: &str) -> bool {
        match self {
            Namespaces::All => true,
            Namespaces::Globs(set) => set.is_match(package),
        }
    }
}

/// A conftest rule of one package.
#[derive(Debug, Clone)]
pub struct ConftestRule {
    /// `deny_latest_tag`.
    pub name: String,
    /// `data.main.deny_latest_tag`.
    pub path: String,
    pub id: String,
    /// The name `exception` rules use for it (`latest_tag`; empty for plain `deny`).
    pub exception_name: String,
    pub info: RuleInfo,
}

/// A package of conftest rules.
#[derive(Debug, Clone)]
pub struct ConftestPackage {
    /// `main`, `kubernetes.deployments`.
    pub name: String,
    pub exception: Option<String>,
    pub rules: Vec<ConftestRule>,
    /// `custom.kinds` of a package-scoped `# METADATA` block: only these kinds are evaluated.
    pub kinds: Option<BTreeSet<String>>,
    /// A generated rule holding every rule's value (see [`aggregate_module`]).
    pub aggregate: Option<String>,
    /// `data.main`.
    pub path: String,
}

/// A module whose `results` rule holds the value of every conftest rule (and `exception`) of
/// `package`, so that one evaluation per document serves them all and their helper rules
/// are computed once. Sets `package.aggregate`.
pub fn aggregate_module(package: &mut ConftestPackage, index: usize) -> ModuleSource {
    let name = format!("__tollgate.conftest.p{index}");
    // `[x | x := rule]` is `[]` when the rule is undefined, where a plain reference would make
    // the whole object undefined.
    let mut fields: Vec<String> = package
        .rules
        .iter()
        .map(|r| format!("\t{:?}: [x | x := {}],\n", r.name, r.path))
        .collect();
    if let Some(exception) = &package.exception {
        fields.push(format!("\t\"exception\": [x | x := {exception}],\n"));
    }
    let text = format!(
        "package {name}\n\nimport rego.v1\n\nresults := {{\n{}}}\n",
        fields.concat()
    );
    package.aggregate = Some(format!("data.{name}.results"));
    ModuleSource {
        name: format!("<generated {name}>"),
        text: text.clone(),
        syntax: Syntax::V1,
        origin: Origin::file(&format!("<generated {name}>"), Arc::from(text.as_str())),
    }
}

impl ConftestPackage {
    /// Whether the package looks at documents of `kind`.
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(kind))
    }
}

/// `(is a failure, exception name)` of a conftest rule name.
pub fn classify(name: &str) -> Option<(bool, String)> {
    for (prefix, failure) in [("deny", true), ("violation", true), ("warn", false)] {
        if name == prefix {
            return Some((failure, String::new()));
        }
        if let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('_'))
            && !rest.is_empty()
        {
            return Some((failure, rest.to_string()));
        }
    }
    None
}

fn severity_of(text: Option<&str>) -> Option<Severity> {
    text?.parse::<Severity>().ok()
}

/// Finds the conftest packages among `modules`.
pub fn discover(
    engine: &mut Engine,
    modules: &[LoadedModule<'_>],
    namespaces: &Namespaces,
) -> Result<Vec<ConftestPackage>, PolicyError> {
    let mut packages: BTreeMap<Vec<String>, Vec<&LoadedModule<'_>>> = BTreeMap::new();
    for m in modules {
        if m.package.first().map(String::as_str) == Some(ROOT) || m.package.is_empty() {
            continue; // native policies and their helpers
        }
        if namespaces.matches(&m.package.join(".")) {
            packages.entry(m.package.clone()).or_default().push(m);
        }
    }
    let mut out = Vec::new();
    for (package, parts) in packages {
        let name = package.join(".");
        let path = ast::rule_path(&package);
        let declared: BTreeSet<&str> = parts
            .iter()
            .flat_map(|p| &p.declared)
            .filter(|d| !d.function)
            .map(|d| d.name.as_str())
            .collect();
        let mut rule_names: Vec<&str> = declared
            .iter()
            .copied()
            .filter(|n| classify(n).is_some())
            .collect();
        rule_names.sort();
        if rule_names.is_empty() {
            continue;
        }

        // Package-wide metadata: `# METADATA` with package scope, `__rego_metadata__`.
        let mut package_notes = Annotations::default();
        let mut rule_notes: BTreeMap<String, Annotations> = BTreeMap::new();
        for part in &parts {
            let blocks = metadata::blocks(part.text)
                .map_err(|e| PolicyError::in_module(part.origin, e.line, 1, e.message))?;
            for block in blocks {
                if block.is_package_scoped() {
                    package_notes = block.annotations;
                } else if let Target::Rule(rule) = &block.target {
                    rule_notes.insert(rule.clone(), block.annotations);
                }
            }
        }
        let mut rego_metadata = serde_json::Map::new();
        if declared.contains("__rego_metadata__") {
            engine.set_input(Value::new_object());
            if let Ok(v) = engine.eval_rule(format!("{path}.__rego_metadata__"))
                && let Some(serde_json::Value::Object(map)) = to_json(&v)
            {
                rego_metadata = map;
            }
        }
        let meta = |key: &str| rego_metadata.get(key).and_then(|v| v.as_str());

        let mut rules = Vec::new();
        for rule in rule_names {
            #[allow(
                clippy::expect_used,
                reason = "rule_names holds only the names `classify` accepted"
            )]
            let (failure, exception_name) = classify(rule).expect("filtered above");
            let own = rule_notes.get(rule);
            let id = own
                .and_then(|n| n.custom_str("id"))
                .or(meta("id"))
                .or(package_notes.custom_str("id"))
                .map(str::to_string)
                .unwrap_or_else(|| format!("{name}.{rule}"));
            let default = if failure {
                Severity::High
            } else {
                Severity::Low
            };
            let severity = severity_of(own.and_then(|n| n.custom_str("severity")))
                .or_else(|| {
                    failure
                        .then(|| {
                            severity_of(meta("severity"))
                                .or_else(|| severity_of(package_notes.custom_str("severity")))
                        })
                        .flatten()
                })
                .unwrap_or(default);
            let title = own
                .and_then(|n| n.title.clone())
                .or(meta("title").map(str::to_string))
                .or(package_notes.title.clone())
                .unwrap_or_else(|| {
                    format!(
                        "conftest {} `{rule}` in package `{name}`",
                        if failure { "rule" } else { "warning" }
                    )
                });
            let doc = own
                .and_then(|n| n.description.clone())
                .or(meta("description").map(str::to_string))
                .or(package_notes.description.clone())
                .unwrap_or_else(|| {
                    format!(
                        "Reports the results of the conftest rule `{rule}` of package `{name}` \
                         ({}).",
                        parts[0].origin.file
                    )
                });
            let remediation = own
                .and_then(|n| n.custom_str("remediation").map(str::to_string))
                .or(meta("recommended_actions").map(str::to_string))
                .or(meta("remediation").map(str::to_string))
                .or(package_notes.custom_str("remediation").map(str::to_string))
                .unwrap_or_default();
            rules.push(ConftestRule {
                name: rule.to_string(),
                path: format!("{path}.{rule}"),
                id: id.clone(),
                exception_name,
                info: RuleInfo {
                    id,
                    title,
                    severity,
                    default_severity: severity,
                    tags: vec!["conftest".into(), "rego".into()],
                    remediation,
                    doc,
                    source: parts[0].origin.file.clone(),
                },
            });
        }
        out.push(ConftestPackage {
            aggregate: None,
            path: path.clone(),
            kinds: super::native::kinds_of(&package_notes, None),
            name,
            exception: declared
                .contains("exception")
                .then(|| format!("{path}.exception")),
            rules,
        });
    }
    Ok(out)
}

/// The rule names an `exception` rule's value excepts (its arrays of names).
pub fn excepted(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for member in members(value) {
        match member {
            Value::String(s) => {
                out.insert(s.to_string());
            }
            other => {
                for name in members(other) {
                    if let Value::String(s) = name {
                        out.insert(s.to_string());
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names() {
        assert_eq!(classify("deny"), Some((true, String::new())));
        assert_eq!(
            classify("deny_latest_tag"),
            Some((true, "latest_tag".into()))
        );
        assert_eq!(classify("violation_x"), Some((true, "x".into())));
        assert_eq!(classify("warn_y"), Some((false, "y".into())));
        assert_eq!(classify("denyall"), None);
        assert_eq!(classify("deny_"), None);
        assert_eq!(classify("allow"), None);
    }

    #[test]
    fn exception_values() {
        let v = Value::from_json_str(r#"[["run_as_root", "latest"], ["x"]]"#).unwrap();
        assert_eq!(
            excepted(&v),
            BTreeSet::from(["latest".into(), "run_as_root".into(), "x".into()])
        );
    }

    #[test]
    fn one_aggregate_evaluation_gives_every_rule() {
        let text = "package main\nimport rego.v1\ndeny contains \"d\" if input.x\nwarn_y contains \"w\" if input.x\nviolation := \"v\" if input.never\nexception contains [\"y\"] if input.x\n";
        let origin = Origin::file("p.rego", Arc::from(text));
        let mut engine = super::super::engine::new_engine(std::time::Duration::from_secs(1));
        super::super::engine::add_module(
            &mut engine,
            &ModuleSource {
                name: "p.rego".into(),
                text: text.into(),
                syntax: Syntax::Auto,
                origin: origin.clone(),
            },
        )
        .unwrap();
        let modules = engine.get_modules().clone();
        let loaded = vec![LoadedModule {
            package: ast::package(&modules[0]),
            declared: ast::declared(&modules[0]),
            origin: &origin,
            text,
        }];
        let ns = Namespaces::new(&["main".into()], false).unwrap();
        let mut packages = discover(&mut engine, &loaded, &ns).unwrap();
        let module = aggregate_module(&mut packages[0], 0);
        super::super::engine::add_module(&mut engine, &module).unwrap();
        engine.set_input(Value::from_json_str(r#"{"x": true}"#).unwrap());
        let all = engine
            .eval_rule(packages[0].aggregate.clone().unwrap())
            .unwrap();
        let json = |key: &str| super::super::value::to_json(&all[key]).unwrap();
        assert_eq!(json("deny"), serde_json::json!([["d"]]));
        assert_eq!(json("warn_y"), serde_json::json!([["w"]]));
        assert_eq!(json("violation"), serde_json::json!([]));
        assert_eq!(json("exception"), serde_json::json!([[["y"]]]));
    }

    #[test]
    fn namespaces_are_globs() {
        let ns = Namespaces::new(&["main".into(), "k8s.*".into()], false).unwrap();
        assert!(ns.matches("main") && ns.matches("k8s.deployments"));
        assert!(!ns.matches("other"));
        assert!(Namespaces::new(&[], true).unwrap().matches("anything"));
    }
}
