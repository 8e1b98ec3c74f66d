//! What a run produced, ready for reporters: findings, rules, notices, statistics, the
//! sources' text (for snippets) and what each rule checked.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::finding::{Finding, Location, Severity};
use crate::model::object::{Object, ObjectRef};
use crate::notice::Notice;
use crate::report::previous::Changes;
use crate::rules::RuleInfo;
use crate::source::redact;

/// Counts for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    pub bytes: u64,
    /// Clusters (kube contexts) audited; 0 for a scan of files.
    pub clusters: usize,
    /// Names of the contexts audited, sorted.
    pub contexts: Vec<String>,
    /// Files not read as manifests, with why (inputs of builds), sorted.
    pub skipped: Vec<(String, String)>,
    /// What the GitOps model followed (DESIGN §13).
    pub gitops: crate::gitops::Summary,
    /// Contexts asked for that could not be read (no connection, no answer), sorted.
    pub unread: Vec<String>,
    /// Contexts read but not compared with `--gitops` (repository unusable, no cluster of
    /// it matches), sorted: their drift findings are unknown, so they are not pushed.
    pub drift_unchecked: Vec<String>,
    /// `--kustomize` objects left at their rendered stream: `(stream, "object: why")`.
    pub unmapped: Vec<(String, String)>,
}

/// Text of sources that are not files on disk (standard input, rendered charts), for
/// snippets, and where rendered documents point in the repository.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    texts: HashMap<String, Arc<str>>,
    pub(crate) paths: HashMap<String, PathBuf>,
    /// Lines holding Secret values, masked in every text handed out.
    redactions: HashMap<String, redact::Redactions>,
    /// Virtual path of a rendered stream → the repository file CI annotations point at.
    rendered: HashMap<String, String>,
}

/// A scanned file read again for snippets, under the same rules as the scan (regular files
/// only, no kernel pseudo-file, capped): the file may have changed since.
fn read_source(path: &std::path::Path) -> Option<String> {
    match crate::source::files::read_capped(path).ok()? {
        crate::source::files::Capped::Bytes(bytes) => String::from_utf8(bytes).ok(),
        crate::source::files::Capped::TooBig => None,
    }
}

impl Sources {
    /// The text of a reported path, read from disk when needed.
    /// Secret values are masked (`password: ***`), so snippets never show them.
    pub fn text(&self, display: &str) -> Option<Arc<str>> {
        let text = match self.texts.get(display) {
            Some(text) => text.clone(),
            None => {
                let path = self.paths.get(display)?;
                Arc::from(read_source(path)?)
            }
        };
        match self.redactions.get(display) {
            Some(redactions) if !redactions.is_empty() => {
                Some(Arc::from(redact::apply(&text, redactions)))
            }
            _ => Some(text),
        }
    }

    /// Masks the values of the Secrets read from files among `objects`.
    pub fn redact_secrets<'a>(&mut self, objects: impl Iterator<Item = &'a Object>) {
        let mut by_path: HashMap<&str, Vec<&Object>> = HashMap::new();
        for secret in objects {
            if let Some(path) = secret.path() {
                by_path.entry(path).or_default().push(secret);
            }
        }
        for (path, secrets) in by_path {
            let text = match self.texts.get(path) {
                Some(text) => Some(text.to_string()),
                None => self.paths.get(path).and_then(|p| read_source(p)),
            };
            let Some(text) = text else {
                continue;
            };
            let entry = self.redactions.entry(path.to_string()).or_default();
            for secret in secrets {
                redact::secret_value_lines(secret, &text, entry);
            }
        }
    }

    /// Masks the values of Secrets made by kustomize `secretGenerator`s where they are
    /// written (literals in the build file, env files, whole input files).
    pub fn redact_generated_secrets<'a>(&mut self, objects: impl Iterator<Item = &'a Object>) {
        let mut found: HashMap<String, redact::Redactions> = HashMap::new();
        for secret in objects {
            let text_of = |path: &str| match self.texts.get(path) {
                Some(text) => Some(text.to_string()),
                None => self
                    .paths
                    .get(path)
                    .and_then(|p| std::fs::read_to_string(p).ok()),
            };
            redact::generated_secret_lines(secret, &text_of, &mut found);
        }
        for (path, lines) in found {
            self.redactions.entry(path).or_default().extend(lines);
        }
    }

    pub fn insert_text(&mut self, display: &str, text: Arc<str>) {
        self.texts.insert(display.to_string(), text);
    }

    /// Records a rendered stream: its virtual path, text, and the file (`Chart.yaml`, the
    /// kustomization) that stands for it where a real file is needed.
    pub fn insert_rendered(&mut self, display: &str, text: Arc<str>, anchor: &str) {
        self.insert_text(display, text);
        self.rendered
            .insert(display.to_string(), anchor.to_string());
    }

    /// For a rendered stream's virtual path, the repository file that stands for it.
    pub fn rendered_anchor(&self, display: &str) -> Option<&str> {
        self.rendered.get(display).map(String::as_str)
    }
}

/// An object a rule may have checked, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedObject {
    pub object: ObjectRef,
    /// File (relative to the scan root) or `k8s://` URI.
    pub path: String,
    /// First line of the object in its file.
    pub line: Option<u32>,
}

/// What the rules checked, for reports that list passes as well as failures (JUnit). Empty
/// unless [`ScanOptions::record_checks`] asked for it.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// The reported objects, ordered by path and line.
    pub objects: Vec<CheckedObject>,
    /// The files read and reported on (file-level rules check these).
    pub files: Vec<String>,
    /// Rule id → indexes into `objects` of the objects it checked.
    pub by_rule: BTreeMap<String, Vec<u32>>,
}

impl Checks {
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.files.is_empty() && self.by_rule.is_empty()
    }

    /// Adds another inventory's checks (another cluster's), keeping objects ordered by place
    /// whatever order the inventories came in.
    pub fn merge(&mut self, other: Checks) {
        let offset = self.objects.len() as u32;
        self.objects.extend(other.objects);
        for (rule, indexes) in other.by_rule {
            self.by_rule
                .entry(rule)
                .or_default()
                .extend(indexes.into_iter().map(|i| i + offset));
        }
        self.files.extend(other.files);
        self.files.sort();
        self.files.dedup();
        let mut order: Vec<usize> = (0..self.objects.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.objects[a], &self.objects[b]);
            (&a.path, a.line, &a.object).cmp(&(&b.path, b.line, &b.object))
        });
        let mut new_index = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new as u32;
        }
        let mut objects: Vec<Option<CheckedObject>> = std::mem::take(&mut self.objects)
            .into_iter()
            .map(Some)
            .collect();
        self.objects = order
            .iter()
            .filter_map(|&old| objects[old].take())
            .collect();
        for indexes in self.by_rule.values_mut() {
            for i in indexes.iter_mut() {
                *i = new_index[*i as usize];
            }
            indexes.sort_unstable();
        }
    }
}

/// Everything a run produced, ready for reporters.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    pub rules: Vec<RuleInfo>,
    pub notices: Vec<Notice>,
    pub stats: Stats,
    pub sources: Sources,
    /// What each rule checked; empty unless [`ScanOptions::record_checks`].
    pub checks: Checks,
    /// Rules that could not be evaluated this run (`image-scan` with Harbor unreachable).
    pub not_evaluated: Vec<String>,
    /// The comparison with `--previous` (fixed findings; each finding carries its change).
    pub changes: Option<Changes>,
}

impl ScanOutcome {
    /// The part of an audit's outcome about one cluster: its findings, and the notices about
    /// it or about the whole run (for a per-cluster DefectDojo reimport).
    pub fn for_cluster(&self, context: &str) -> ScanOutcome {
        ScanOutcome {
            findings: self
                .findings
                .iter()
                .filter(
                    |f| matches!(&f.location, Location::Cluster { context: c, .. } if c == context),
                )
                .cloned()
                .collect(),
            rules: self.rules.clone(),
            notices: self
                .notices
                .iter()
                .filter(|n| n.path.as_deref().is_none_or(|p| p == context))
                .cloned()
                .collect(),
            stats: Stats {
                clusters: 1,
                contexts: vec![context.to_string()],
                ..Stats::default()
            },
            not_evaluated: self.not_evaluated.clone(),
            changes: self.changes.as_ref().map(|c| c.for_cluster(context)),
            ..ScanOutcome::default()
        }
    }

    /// True when the run could not be trusted (exit code 2).
    pub fn has_errors(&self) -> bool {
        self.notices.iter().any(Notice::is_error)
    }

    /// True when an unsuppressed finding is at or above `threshold`.
    pub fn fails(&self, threshold: Option<Severity>) -> bool {
        threshold.is_some_and(|t| {
            self.findings
                .iter()
                .any(|f| f.is_active() && f.severity >= t)
        })
    }
}
