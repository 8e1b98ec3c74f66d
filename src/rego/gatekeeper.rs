//! The Gatekeeper dialect: `ConstraintTemplate`s (v1, v1beta1; `targets[].rego` + `libs`, or
//! `targets[].code[]` with `engine: Rego`) and the constraints of their kinds, found in the
//! policy directories.
//!
//! Every template gets its own engine (templates may ship different `lib.*` packages under the
//! same name, as Gatekeeper compiles each template apart). An object is reviewed by a
//! constraint when the constraint's `match` selects it (kinds, scope, namespaces,
//! excludedNamespaces, labelSelector, namespaceSelector, name: Gatekeeper's rules), with
//! `input.review` = `{object, kind: {group, version, kind}, name, namespace, operation:
//! "CREATE"}` and `input.parameters` = the constraint's `spec.parameters`. Each result of the
//! template's `violation` rule is a finding of rule `<Kind>/<name>`; the constraint's
//! `enforcementAction` sets the severity: `deny` high, `warn` low, `dryrun` info.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::value::{Map, Value as Json};
use regorus::{Engine, Value};

use super::ast;
use super::engine::{self, ModuleSource, Origin, PolicyError, Syntax};
use super::value::{object, to_rego};
use crate::finding::Severity;
use crate::model::kinds::KindSet;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::rules::RuleInfo;
use crate::source::files::load_bytes;

/// The only target tollgate evaluates.
pub const TARGET: &str = "admission.k8s.gatekeeper.sh";

/// A compiled ConstraintTemplate.
#[derive(Clone)]
pub struct Template {
    /// `metadata.name` (`k8srequiredlabels`).
    pub name: String,
    /// The constraint kind it defines (`K8sRequiredLabels`).
    pub kind: String,
    pub file: String,
    pub engine: Engine,
    /// `data.<package>.violation`.
    pub violation: String,
    pub needs_inventory: bool,
    pub title: String,
    pub description: String,
    /// Regorus module name → where it sits in the YAML.
    pub origins: HashMap<String, Origin>,
}

/// A label selector (`matchLabels`, `matchExpressions`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<(String, String)>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn parse(value: &Json) -> Selector {
        let labels = value
            .get("matchLabels")
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let expressions = value
            .get("matchExpressions")
            .and_then(Json::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        (
                            e.get("key")
                                .and_then(Json::as_str)
                                .unwrap_or("")
                                .to_string(),
                            e.get("operator")
                                .and_then(Json::as_str)
                                .unwrap_or("")
                                .to_string(),
                            e.get("values")
                                .and_then(Json::as_array)
                                .map(|vs| {
                                    vs.iter()
                                        .filter_map(|v| v.as_str().map(str::to_string))
                                        .collect()
                                })
                                .unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Selector {
            labels,
            expressions,
        }
    }

    /// Kubernetes label selector semantics; an unknown operator matches nothing.
    pub fn matches(&self, labels: Option<&Map>) -> bool {
        let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Json::as_str);
        self.labels.iter().all(|(k, v)| get(k) == Some(v.as_str()))
            && self.expressions.iter().all(|(key, op, values)| {
                let value = get(key);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
                    "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

/// Gatekeeper's name wildcards: `kube-*` (prefix), `*-system` (suffix), `*x*` (contains).
pub fn wildcard(pattern: &str, candidate: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) if pattern.len() >= 2 => {
            candidate.contains(&pattern[1..pattern.len() - 1])
        }
        (Some(suffix), _) => candidate.ends_with(suffix),
        (None, Some(prefix)) => candidate.starts_with(prefix),
        (None, None) => pattern == candidate,
    }
}

/// A constraint's `spec.match`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    kinds: Vec<(Vec<String>, Vec<String>)>,
    scope: Option<String>,
    namespaces: Vec<String>,
    excluded_namespaces: Vec<String>,
    label_selector: Option<Selector>,
    namespace_selector: Option<Selector>,
    name: Option<String>,
}

fn strings(value: Option<&Json>) -> Vec<String> {
    value
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Match {
    pub fn parse(value: Option<&Json>) -> Match {
        let Some(value) = value else {
            return Match::default();
        };
        Match {
            kinds: value
                .get("kinds")
                .and_then(Json::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|k| (strings(k.get("apiGroups")), strings(k.get("kinds"))))
                        .collect()
                })
                .unwrap_or_default(),
            scope: value
                .get("scope")
                .and_then(Json::as_str)
                .map(str::to_string),
            namespaces: strings(value.get("namespaces")),
            excluded_namespaces: strings(value.get("excludedNamespaces")),
            label_selector: value.get("labelSelector").map(Selector::parse),
            namespace_selector: value.get("namespaceSelector").map(Selector::parse),
            name: value
                .get("name")
                .and_then(Json::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        }
    }

    /// The kinds this match can review (every kind when it names none, or a wildcard).
    pub fn kinds_matched(&self) -> KindSet {
        if self.kinds.is_empty()
            || self
                .kinds
                .iter()
                .any(|(_, kinds)| kinds.is_empty() || kinds.iter().any(|k| k == "*"))
        {
            return KindSet::All;
        }
        KindSet::of(
            self.kinds
                .iter()
                .flat_map(|(_, kinds)| kinds.iter().cloned()),
        )
    }

    /// Whether the constraint reviews `object`, whose Namespace object (when the inventory
    /// has it) is `namespace`.
    pub fn matches(&self, object: &Object, namespace: Option<&Object>) -> bool {
        let is_namespace = object.is("", "Namespace");
        let group = object.group();
        let kinds_ok = self.kinds.is_empty()
            || self.kinds.iter().any(|(groups, kinds)| {
                (kinds.is_empty() || kinds.iter().any(|k| k == "*" || *k == object.kind))
                    && (groups.is_empty() || groups.iter().any(|g| g == "*" || g == group))
            });
        if !kinds_ok {
            return false;
        }
        let has_namespace = object.namespace.is_some() || namespace.is_some();
        let scope_ok = match self.scope.as_deref() {
            Some("Cluster") => is_namespace || !has_namespace,
            Some("Namespaced") => !is_namespace && has_namespace,
            _ => true,
        };
        if !scope_ok {
            return false;
        }
        let effective_namespace = if is_namespace {
            Some(object.name.as_str())
        } else {
            namespace
                .map(|n| n.name.as_str())
                .or(object.namespace.as_deref())
        };
        if !self.namespaces.is_empty()
            && let Some(ns) = effective_namespace
            && !self.namespaces.iter().any(|p| wildcard(p, ns))
        {
            return false;
        }
        if let Some(ns) = effective_namespace
            && self.excluded_namespaces.iter().any(|p| wildcard(p, ns))
        {
            return false;
        }
        if let Some(selector) = &self.label_selector
            && !selector.matches(object.labels())
        {
            return false;
        }
        if let Some(selector) = &self.namespace_selector {
            let selected = if is_namespace {
                selector.matches(object.labels())
            } else if object.namespace.is_none() && namespace.is_none() {
                true // cluster-scoped objects always match
            } else {
                // A namespaced object whose Namespace is unknown cannot be selected.
                namespace.is_some_and(|ns| selector.matches(ns.labels()))
            };
            if !selected {
                return false;
            }
        }
        if let Some(name) = &self.name
            && !wildcard(name, &object.name)
        {
            return false;
        }
        true
    }
}

/// A constraint: one instance of a template with parameters and a match.
#[derive(Clone)]
pub struct Constraint {
    pub kind: String,
    pub name: String,
    /// `<Kind>/<name>`.
    pub id: String,
    pub template: usize,
    pub matcher: Match,
    pub parameters: Value,
    pub severity: Severity,
    pub info: RuleInfo,
}

/// `input.review` for `object`.
pub fn review(value: Value, object_ref: &Object) -> Value {
    let version = object_ref
        .api_version
        .rsplit_once('/')
        .map_or(object_ref.api_version.as_str(), |(_, v)| v);
    let mut fields = vec![
        (
            "kind",
            object([
                ("group", Value::from(object_ref.group())),
                ("version", Value::from(version)),
                ("kind", Value::from(object_ref.kind.as_str())),
            ]),
        ),
        ("name", Value::from(object_ref.name.as_str())),
        ("operation", Value::from("CREATE")),
        ("object", value),
    ];
    if let Some(ns) = &object_ref.namespace {
        fields.push(("namespace", Value::from(ns.as_str())));
    }
    object(fields)
}

/// `input` of a template's rules.
pub fn input(review: Value, parameters: &Value) -> Value {
    object([("review", review), ("parameters", parameters.clone())])
}

/// Severity of an `enforcementAction` (and `scopedEnforcementActions`).
fn severity_of(spec: Option<&Json>) -> (String, Severity) {
    let mut action = spec
        .and_then(|s| s.get("enforcementAction"))
        .and_then(Json::as_str)
        .unwrap_or("deny")
        .to_ascii_lowercase();
    if action == "scoped" {
        let scoped = spec
            .and_then(|s| s.get("scopedEnforcementActions"))
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let point_of = |entry: &Json, name: &str| {
            entry
                .get("enforcementPoints")
                .and_then(Json::as_array)
                .is_some_and(|points| {
                    points
                        .iter()
                        .any(|p| p.get("name").and_then(Json::as_str) == Some(name))
                })
        };
        let chosen = ["gator.gatekeeper.sh", "audit.gatekeeper.sh", "*"]
            .iter()
            .find_map(|point| scoped.iter().find(|e| point_of(e, point)))
            .or(scoped.first());
        action = chosen
            .and_then(|e| e.get("action"))
            .and_then(Json::as_str)
            .unwrap_or("deny")
            .to_ascii_lowercase();
    }
    let severity = match action.as_str() {
        "warn" => Severity::Low,
        "dryrun" => Severity::Info,
        _ => Severity::High,
    };
    (action, severity)
}

/// Where a block scalar's text starts in its file: the first line at or after `from` whose
/// content is the text's first non-empty line.
fn block_origin(file: &str, file_text: &Arc<str>, from: u32, text: &str) -> Origin {
    let first_content = text.lines().position(|l| !l.trim().is_empty()).unwrap_or(0);
    let needle = text.lines().nth(first_content).unwrap_or("").trim();
    let lines: Vec<&str> = file_text.lines().collect();
    let start = from.saturating_sub(1) as usize;
    for (i, line) in lines.iter().enumerate().skip(start) {
        if !needle.is_empty() && line.trim() == needle {
            let indent = (line.len() - line.trim_start().len()) as u32;
            return Origin {
                file: file.to_string(),
                file_text: file_text.clone(),
                first_line: (i + 1).saturating_sub(first_content).max(1) as u32,
                indent,
            };
        }
    }
    Origin {
        file: file.to_string(),
        file_text: file_text.clone(),
        first_line: from.max(1),
        indent: 0,
    }
}

/// The Rego sources of a template's targets: `(pointer, text, syntax)`.
fn rego_sources(template: &Object) -> Vec<(String, String, Syntax)> {
    let mut out = Vec::new();
    let Some(targets) = template.at("/spec/targets").and_then(Json::as_array) else {
        return out;
    };
    for (t, target) in targets.iter().enumerate() {
        if target
            .get("target")
            .and_then(Json::as_str)
            .is_some_and(|name| name != TARGET)
        {
            continue;
        }
        let base = format!("/spec/targets/{t}");
        if let Some(rego) = target.get("rego").and_then(Json::as_str) {
            out.push((format!("{base}/rego"), rego.to_string(), Syntax::V0));
            for (l, lib) in target
                .get("libs")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(lib) = lib.as_str() {
                    out.push((format!("{base}/libs/{l}"), lib.to_string(), Syntax::V0));
                }
            }
            continue;
        }
        for (c, code) in target
            .get("code")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if code.get("engine").and_then(Json::as_str) != Some("Rego") {
                continue;
            }
            let source = code.get("source");
            let syntax = match source.and_then(|s| s.get("version")).and_then(Json::as_str) {
                Some("v1") => Syntax::V1,
                _ => Syntax::V0,
            };
            let code_base = format!("{base}/code/{c}/source");
            if let Some(rego) = source.and_then(|s| s.get("rego")).and_then(Json::as_str) {
                out.push((format!("{code_base}/rego"), rego.to_string(), syntax));
            }
            for (l, lib) in source
                .and_then(|s| s.get("libs"))
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(lib) = lib.as_str() {
                    out.push((format!("{code_base}/libs/{l}"), lib.to_string(), syntax));
                }
            }
        }
    }
    out
}

/// Compiles a ConstraintTemplate object read from `file` (whose text is `file_text`).
/// `Ok(None)` when it has no Rego for Gatekeeper's admission target (a CEL-only template).
pub fn compile_template(
    template: &Object,
    file: &str,
    file_text: &Arc<str>,
    timeout: std::time::Duration,
) -> Result<Option<Template>, PolicyError> {
    let whole = Origin::file(file, file_text.clone());
    let line = template.locate("").line;
    let kind = template
        .at("/spec/crd/spec/names/kind")
        .and_then(Json::as_str)
        .ok_or_else(|| {
            PolicyError::in_file(
                &whole,
                line,
                1,
                format!(
                    "ConstraintTemplate {} has no spec.crd.spec.names.kind",
                    template.name
                ),
            )
        })?
        .to_string();
    let sources = rego_sources(template);
    if sources.is_empty() {
        return Ok(None);
    }
    let mut engine = engine::new_engine(timeout);
    let mut origins = HashMap::new();
    let mut main_package = None;
    let mut needs_inventory = false;
    for (pointer, text, syntax) in &sources {
        let name = format!("{file}#{}", &template.name);
        let name = format!("{name}{pointer}");
        let origin = block_origin(file, file_text, template.locate(pointer).line, text);
        needs_inventory |= references_inventory(text);
        let module = ModuleSource {
            name: name.clone(),
            text: text.clone(),
            syntax: *syntax,
            origin: origin.clone(),
        };
        engine::add_module(&mut engine, &module)?;
        origins.insert(name, origin);
        if main_package.is_none() {
            let modules = engine.get_modules().clone();
            main_package = modules.last().map(|m| ast::package(m));
        }
    }
    engine::finish(&mut engine, &origins)?;
    let package = main_package.unwrap_or_default();
    let annotation = |key: &str| {
        template
            .annotations()
            .and_then(|a| a.get(key))
            .and_then(Json::as_str)
            .map(|s| s.trim().to_string())
    };
    Ok(Some(Template {
        name: template.name.to_string(),
        title: annotation("metadata.gatekeeper.sh/title").unwrap_or_else(|| kind.clone()),
        description: annotation("description").unwrap_or_default(),
        kind,
        file: file.to_string(),
        engine,
        violation: format!("{}.violation", ast::rule_path(&package)),
        needs_inventory,
        origins,
    }))
}

/// True when Rego text refers to `data.inventory`.
pub fn references_inventory(text: &str) -> bool {
    text.contains("data.inventory") || text.contains("data[\"inventory\"]")
}

/// Builds the constraint `object` of a compiled template.
pub fn constraint(
    object: &Object,
    template: usize,
    templates: &[Template],
    file: &str,
) -> Constraint {
    let spec = object.at("/spec");
    let (action, severity) = severity_of(spec);
    let parameters = spec
        .and_then(|s| s.get("parameters"))
        .map(to_rego)
        .unwrap_or_else(Value::new_object);
    let t = &templates[template];
    let id = format!("{}/{}", object.kind, object.name);
    let mut doc = if t.description.is_empty() {
        format!("Gatekeeper constraint of template `{}`.", t.name)
    } else {
        t.description.clone()
    };
    doc.push_str(&format!(
        "\n\nConstraint `{id}` ({file}) of ConstraintTemplate `{}` ({}), enforcementAction \
         `{action}`.",
        t.name, t.file
    ));
    if let Some(params) = spec.and_then(|s| s.get("parameters")) {
        doc.push_str(&format!(
            "\n\nParameters:\n\n```json\n{}\n```",
            serde_json::to_string_pretty(params).unwrap_or_default()
        ));
    }
    Constraint {
        kind: object.kind.to_string(),
        name: object.name.to_string(),
        id: id.clone(),
        template,
        matcher: Match::parse(spec.and_then(|s| s.get("match"))),
        parameters,
        severity,
        info: RuleInfo {
            id,
            title: format!("{} ({})", t.title, object.name),
            severity,
            default_severity: severity,
            tags: vec!["gatekeeper".into(), "rego".into()],
            remediation: "Change the object to satisfy the constraint, or narrow the \
                          constraint's `match` (excludedNamespaces, labelSelector) if it \
                          should not apply."
                .into(),
            doc,
            source: file.to_string(),
        },
    }
}

/// True for a ConstraintTemplate object.
pub fn is_template(object: &Object) -> bool {
    object.kind == "ConstraintTemplate" && object.group() == "templates.gatekeeper.sh"
}

/// True for a constraint object.
pub fn is_constraint(object: &Object) -> bool {
    object.group() == "constraints.gatekeeper.sh"
}

/// Templates and constraints of policy manifests (`(display, text)`).
pub struct Loaded {
    pub templates: Vec<Template>,
    pub constraints: Vec<Constraint>,
    pub notices: Vec<Notice>,
}

/// Reads every template and constraint of `files`; a template that does not compile is an
/// error, a constraint without a template a warning.
pub fn load(
    files: &[(String, Arc<str>)],
    timeout: std::time::Duration,
) -> Result<Loaded, PolicyError> {
    let mut templates: Vec<Template> = Vec::new();
    let mut constraint_objects: Vec<(Object, String)> = Vec::new();
    let mut notices = Vec::new();
    for (display, text) in files {
        if !(text.contains("ConstraintTemplate") || text.contains("constraints.gatekeeper.sh")) {
            continue;
        }
        let loaded = load_bytes(display, text.as_bytes());
        let origin = Origin::file(display, text.clone());
        for object in loaded.objects {
            if is_template(&object) {
                if let Some(previous) = templates.iter().find(|t| t.name == object.name) {
                    notices.push(
                        Notice::warning(format!(
                            "ConstraintTemplate {} is defined again; the one in {} is used",
                            object.name, previous.file
                        ))
                        .at(display, Some(object.locate("").line)),
                    );
                    continue;
                }
                if let Some(t) = compile_template(&object, display, text, timeout)? {
                    templates.push(t);
                } else {
                    notices.push(
                        Notice::warning(format!(
                            "ConstraintTemplate {} has no Rego for {TARGET} (CEL only); skipped",
                            object.name
                        ))
                        .at(display, Some(object.locate("").line)),
                    );
                }
            } else if is_constraint(&object) {
                constraint_objects.push((object, display.clone()));
            }
        }
        if let Some(problem) = loaded.problems.first()
            && (text.contains("kind: ConstraintTemplate")
                || text.contains("constraints.gatekeeper.sh/"))
        {
            return Err(PolicyError::in_file(
                &origin,
                problem.pos.line,
                problem.pos.column,
                problem.message.clone(),
            ));
        }
    }
    let mut constraints: Vec<Constraint> = Vec::new();
    let mut used: BTreeMap<usize, usize> = BTreeMap::new();
    for (object, display) in constraint_objects {
        let Some(index) = templates.iter().position(|t| t.kind == object.kind) else {
            notices.push(
                Notice::warning(format!(
                    "constraint {}/{} has no ConstraintTemplate of kind {} in the policy \
                     directories; skipped",
                    object.kind, object.name, object.kind
                ))
                .at(&display, Some(object.locate("").line)),
            );
            continue;
        };
        let c = constraint(&object, index, &templates, &display);
        if constraints.iter().any(|other| other.id == c.id) {
            notices.push(
                Notice::warning(format!(
                    "constraint {} is defined twice; the first is used",
                    c.id
                ))
                .at(&display, Some(object.locate("").line)),
            );
            continue;
        }
        *used.entry(index).or_default() += 1;
        constraints.push(c);
    }
    for (i, t) in templates.iter().enumerate() {
        if !used.contains_key(&i) {
            notices.push(
                Notice::warning(format!(
                    "ConstraintTemplate {} has no constraint of kind {} in the policy \
                     directories, so it checks nothing",
                    t.name, t.kind
                ))
                .at(&t.file, None),
            );
        }
    }
    Ok(Loaded {
        templates,
        constraints,
        notices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::model::object::Origin as ObjectOrigin;
    use crate::model::spans::SpanTree;

    fn obj(v: Json) -> Object {
        Object::from_value(
            v,
            ObjectOrigin::File {
                path: "a.yaml".into(),
                document: 0,
                item: None,
                start_line: 1,
                end_line: 1,
            },
            SpanTree::default(),
        )
        .unwrap()
    }

    #[test]
    fn wildcards_like_gatekeeper() {
        assert!(wildcard("kube-*", "kube-system"));
        assert!(wildcard("*-system", "kube-system"));
        assert!(wildcard("*ube*", "kube-system"));
        assert!(wildcard("default", "default"));
        assert!(!wildcard("kube-*", "default"));
    }

    #[test]
    fn match_rules() {
        let pod = obj(doc!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "shop", "labels": {"app": "web"}}}));
        let ns = obj(doc!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {"team": "a"}}}));
        let m = |v: Json| Match::parse(Some(&v));
        assert!(m(doc!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]})).matches(&pod, None));
        assert!(
            !m(doc!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]})).matches(&pod, None)
        );
        assert!(m(doc!({"kinds": [{"apiGroups": ["*"], "kinds": []}]})).matches(&pod, None));
        assert!(m(doc!({"namespaces": ["sh*"]})).matches(&pod, None));
        assert!(!m(doc!({"excludedNamespaces": ["shop"]})).matches(&pod, None));
        assert!(!m(doc!({"scope": "Cluster"})).matches(&pod, None));
        assert!(m(doc!({"scope": "Cluster"})).matches(&ns, None));
        assert!(m(doc!({"labelSelector": {"matchLabels": {"app": "web"}}})).matches(&pod, None));
        assert!(
            !m(doc!({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}}))
                .matches(&pod, None)
        );
        let selector = m(doc!({"namespaceSelector": {"matchLabels": {"team": "a"}}}));
        assert!(selector.matches(&pod, Some(&ns)));
        assert!(
            !selector.matches(&pod, None),
            "unknown namespace cannot be selected"
        );
        assert!(
            selector.matches(&ns, None),
            "a Namespace is selected by its own labels"
        );
        assert!(m(doc!({"name": "p*"})).matches(&pod, None));
        assert!(!m(doc!({"name": "q"})).matches(&pod, None));
        // A manifest without a namespace passes namespace filters, as in gator.
        let loose = obj(doc!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}));
        assert!(m(doc!({"namespaces": ["default"]})).matches(&loose, None));
    }

    #[test]
    fn enforcement_actions() {
        assert_eq!(severity_of(None).1, Severity::High);
        assert_eq!(
            severity_of(Some(&doc!({"enforcementAction": "warn"}))).1,
            Severity::Low
        );
        assert_eq!(
            severity_of(Some(&doc!({"enforcementAction": "dryrun"}))).1,
            Severity::Info
        );
        let scoped = doc!({"enforcementAction": "scoped", "scopedEnforcementActions": [
            {"action": "deny", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
            {"action": "warn", "enforcementPoints": [{"name": "audit.gatekeeper.sh"}]}]});
        assert_eq!(severity_of(Some(&scoped)), ("warn".into(), Severity::Low));
    }

    #[test]
    fn template_errors_point_into_the_yaml() {
        let text = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: broken\nspec:\n  crd:\n    spec:\n      names:\n        kind: Broken\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package broken\n        violation[{\"msg\": msg}] {\n          msg := \n        }\n";
        let files = vec![("t.yaml".to_string(), Arc::from(text))];
        let e = match load(&files, std::time::Duration::from_secs(1)) {
            Err(e) => e,
            Ok(_) => panic!("must not compile"),
        };
        assert_eq!((e.file.as_str(), e.line), ("t.yaml", 14), "{e:?}");
    }
}
