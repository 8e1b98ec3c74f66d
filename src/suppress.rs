//! Suppression, applied to findings after the rules: annotations on the object, config
//! exemptions, and a baseline of known fingerprints. Suppressed findings stay in every report,
//! marked with their reason, and never fail the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::config::Exemption;
use crate::error::Error;
use crate::finding::{Finding, Suppression, SuppressionSource};
use crate::model::object::Object;
use crate::notice::Notice;

/// `ignore.tollgate.dev/<rule-id>: "<reason>"` on an object suppresses that rule's findings.
pub const IGNORE_ANNOTATION_PREFIX: &str = "ignore.tollgate.dev/";

/// The reason an object's annotation gives for ignoring `rule`, if it gives one.
/// Rule ids with a `/` (Gatekeeper's `<Kind>/<name>`) are written with a `.` instead, since an
/// annotation name cannot hold a `/`.
pub fn annotation_reason<'a>(object: &'a Object, rule: &str) -> Option<&'a str> {
    let annotations = object.annotations()?;
    let value = annotations
        .get(&format!(
            "{IGNORE_ANNOTATION_PREFIX}{}",
            rule.replace('/', ".")
        ))?
        .as_str()?;
    let reason = value.trim();
    (!reason.is_empty()).then_some(reason)
}

struct CompiledExemption {
    rule: String,
    namespaces: Vec<Selector>,
    names: Vec<Selector>,
    kinds: Vec<Selector>,
    reason: String,
}

/// One glob of an exemption. Names, `prefix-*` and `*-suffix` (nearly every exemption) are
/// compared as text: a compiled glob is a regex of tens of KiB, and a configuration with tens
/// of thousands of exemptions took gigabytes.
enum Selector {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Glob(GlobMatcher),
}

impl Selector {
    fn new(glob: &str) -> Option<Selector> {
        let is_meta = |c: char| matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\');
        if !glob.contains(is_meta) {
            return Some(Selector::Exact(glob.to_string()));
        }
        if let Some(prefix) = glob.strip_suffix('*')
            && !prefix.contains(is_meta)
        {
            return Some(Selector::Prefix(prefix.to_string()));
        }
        if let Some(suffix) = glob.strip_prefix('*')
            && !suffix.contains(is_meta)
        {
            return Some(Selector::Suffix(suffix.to_string()));
        }
        Glob::new(glob)
            .ok()
            .map(|g| Selector::Glob(g.compile_matcher()))
    }

    fn is_match(&self, value: &str) -> bool {
        match self {
            Selector::Exact(text) => value == text,
            Selector::Prefix(prefix) => value.starts_with(prefix.as_str()),
            Selector::Suffix(suffix) => value.ends_with(suffix.as_str()),
            Selector::Glob(glob) => glob.is_match(value),
        }
    }
}

fn matchers(globs: &[String]) -> Vec<Selector> {
    globs.iter().filter_map(|g| Selector::new(g)).collect()
}

/// Selectors match when empty, or when a glob matches the value.
fn selects(matchers: &[Selector], value: Option<&str>) -> bool {
    matchers.is_empty() || value.is_some_and(|v| matchers.iter().any(|m| m.is_match(v)))
}

impl CompiledExemption {
    fn matches(&self, finding: &Finding) -> bool {
        if self.rule != finding.rule && self.rule != "*" {
            return false;
        }
        let object = finding.object.as_ref();
        // A Namespace object stands for its namespace: namespace-wide findings
        // (velero-backup-coverage, network-default-deny) are reported on it.
        let namespace = object.and_then(|o| match (&o.namespace, o.kind.as_str()) {
            (Some(ns), _) => Some(ns.as_str()),
            (None, "Namespace") => Some(o.name.as_str()),
            (None, _) => None,
        });
        selects(&self.namespaces, namespace)
            && selects(&self.names, object.map(|o| o.name.as_str()))
            && selects(&self.kinds, object.map(|o| o.kind.as_str()))
    }
}

/// Applies the three kinds of suppression in order: annotation, exemption, baseline.
pub struct Suppressor {
    exemptions: Vec<CompiledExemption>,
    baseline: Option<(String, std::collections::HashSet<String>)>,
    /// The baseline holds `tollgate/v1` fingerprints (list items by position).
    legacy_baseline: bool,
}

impl Suppressor {
    /// Compiles the exemptions in force on `today`; expired ones become warnings.
    pub fn new(
        exemptions: &[Exemption],
        baseline: Option<Baseline>,
        today: jiff::civil::Date,
        notices: &mut Vec<Notice>,
    ) -> Suppressor {
        let mut active = Vec::new();
        for e in exemptions {
            if let Some(expires) = e.expires
                && today > expires
            {
                let scope = [&e.namespaces, &e.names, &e.kinds]
                    .iter()
                    .flat_map(|v| v.iter())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                notices.push(Notice::warning(format!(
                    "exemption for `{}`{} expired on {expires} and no longer suppresses anything (reason was: {})",
                    e.rule,
                    if scope.is_empty() { String::new() } else { format!(" ({scope})") },
                    e.reason
                )));
                continue;
            }
            active.push(CompiledExemption {
                rule: e.rule.clone(),
                namespaces: matchers(&e.namespaces),
                names: matchers(&e.names),
                kinds: matchers(&e.kinds),
                reason: e.reason.clone(),
            });
        }
        let legacy_baseline = baseline.as_ref().is_some_and(|b| b.version == 1);
        if let Some(b) = baseline.as_ref().filter(|_| legacy_baseline) {
            notices.push(Notice::warning(format!(
                "baseline {} has tollgate/v1 fingerprints, which name list items by position; \
                 they still match, but write the baseline again (--write-baseline) to move to \
                 {}, which survives added sidecars and init containers",
                b.source,
                crate::finding::FINGERPRINT_SCHEME
            )));
        }
        Suppressor {
            exemptions: active,
            legacy_baseline,
            baseline: baseline.map(|b| {
                let set = b.findings.into_iter().map(|f| f.fingerprint).collect();
                (b.source, set)
            }),
        }
    }

    /// Marks `finding` suppressed when something says so; `object` is the object it is about.
    pub fn apply(&self, finding: &mut Finding, object: Option<&Object>) {
        if finding.suppressed.is_some() {
            return;
        }
        if let Some(reason) = object.and_then(|o| annotation_reason(o, &finding.rule)) {
            finding.suppressed = Some(Suppression {
                reason: reason.to_string(),
                source: SuppressionSource::Annotation,
            });
            return;
        }
        if let Some(e) = self.exemptions.iter().find(|e| e.matches(finding)) {
            finding.suppressed = Some(Suppression {
                reason: e.reason.clone(),
                source: SuppressionSource::Exemption,
            });
            return;
        }
        let known_as_v1 = |known: &std::collections::HashSet<String>| {
            self.legacy_baseline
                && object.is_some_and(|o| {
                    known.contains(&crate::finding::object_fingerprint_v1(
                        &finding.rule,
                        o,
                        &finding.pointer,
                    ))
                })
        };
        if let Some((source, known)) = &self.baseline
            && (known.contains(&finding.fingerprint) || known_as_v1(known))
        {
            finding.suppressed = Some(Suppression {
                reason: format!("known in baseline {source}"),
                source: SuppressionSource::Baseline,
            });
        }
    }
}

/// Version of the baselines written: 2 holds `tollgate/v2` fingerprints; 1 (`tollgate/v1`)
/// is still read.
pub const BASELINE_VERSION: u32 = 2;

/// A baseline file: the fingerprints of findings accepted at some point.
#[derive(Debug, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub findings: Vec<BaselineEntry>,
    /// Where it was read from, for suppression reasons.
    #[serde(skip)]
    pub source: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct BaselineEntry {
    pub fingerprint: String,
    pub rule: String,
    /// For people reading the file; not used for matching.
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub location: String,
}

impl Baseline {
    pub fn read(path: &Path) -> Result<Baseline, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut baseline: Baseline = serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "{}:{}:{}: not a tollgate baseline: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        if !matches!(baseline.version, 1 | BASELINE_VERSION) {
            return Err(Error::usage(format!(
                "{}: baseline version {} is not supported (expected 1 or 2)",
                path.display(),
                baseline.version
            )));
        }
        baseline.source = path.display().to_string();
        Ok(baseline)
    }

    /// The baseline of `findings`: every one not suppressed by an annotation or exemption.
    pub fn of(findings: &[Finding]) -> Baseline {
        let mut unique = BTreeMap::new();
        for f in findings {
            if matches!(
                f.suppressed.as_ref().map(|s| s.source),
                Some(SuppressionSource::Annotation | SuppressionSource::Exemption)
            ) {
                continue;
            }
            let location = match f.location.line() {
                Some(line) => format!("{}:{line}", f.location.path()),
                None => f.location.path().to_string(),
            };
            unique
                .entry(f.fingerprint.clone())
                .or_insert(BaselineEntry {
                    fingerprint: f.fingerprint.clone(),
                    rule: f.rule.clone(),
                    object: f.object.as_ref().map(|o| o.display()).unwrap_or_default(),
                    location,
                });
        }
        Baseline {
            version: BASELINE_VERSION,
            findings: unique.into_values().collect(),
            source: String::new(),
        }
    }

    pub fn write(&self, path: &PathBuf) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::Output {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::finding::Severity;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

    #[test]
    fn selectors_match_as_their_globs_do() {
        let cases = [
            ("kube-system", "kube-system", true),
            ("kube-*", "kube-public", true),
            ("*-prod", "shop-prod", true),
            ("*-prod", "shop-dev", false),
            ("*", "anything", true),
            ("shop-?", "shop-a", true),
            ("{a,b}-x", "b-x", true),
            ("team-[0-9]", "team-x", false),
        ];
        for (glob, value, expected) in cases {
            let selector = Selector::new(glob).unwrap();
            assert_eq!(selector.is_match(value), expected, "{glob} {value}");
            let real = Glob::new(glob).unwrap().compile_matcher().is_match(value);
            assert_eq!(real, expected, "globset disagrees on {glob} {value}");
        }
    }

    #[test]
    fn namespace_exemptions_cover_the_namespace_object() {
        let exemption: Exemption = yaml_serde::from_str(
            "rule: network-default-deny\nnamespaces: [legacy-prod]\nreason: migrating to Cilium\n",
        )
        .unwrap();
        let suppressor = Suppressor::new(
            &[exemption],
            None,
            jiff::civil::date(2025, 1, 1),
            &mut Vec::new(),
        );
        let check = |name: &str| {
            let object = Object::from_value(
                doc!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
                Origin::Cluster {
                    context: "c".into(),
                    api_path: String::new(),
                },
                SpanTree::default(),
            )
            .unwrap();
            let mut finding = Finding::on_object(
                "network-default-deny",
                Severity::Medium,
                "m".into(),
                String::new(),
                &object,
                "",
            );
            suppressor.apply(&mut finding, Some(&object));
            finding.suppressed.is_some()
        };
        assert!(check("legacy-prod"));
        assert!(!check("shop-prod"));
    }
}
