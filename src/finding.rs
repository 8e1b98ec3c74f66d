//! Findings: what a rule reports, where, and how it is identified across runs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::object::{Object, ObjectRef, Origin};
use crate::model::spans::Pos;

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The CVSS-like score GitHub and DefectDojo read from `security-severity`.
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
            Severity::Info => "0.0",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected critical, high, medium, low or info)"
            )),
        }
    }
}

/// Where a finding is: a place in a file, or an object in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File {
        /// Path relative to the scan root, with `/` separators.
        path: String,
        line: u32,
        column: u32,
    },
    Cluster {
        context: String,
        /// `k8s://<context>/<namespace>/<kind>/<name>` (`_` for cluster-scoped objects).
        uri: String,
    },
}

impl Location {
    pub fn path(&self) -> &str {
        match self {
            Location::File { path, .. } => path,
            Location::Cluster { uri, .. } => uri,
        }
    }

    pub fn line(&self) -> Option<u32> {
        match self {
            Location::File { line, .. } => Some(*line),
            Location::Cluster { .. } => None,
        }
    }

    pub fn column(&self) -> Option<u32> {
        match self {
            Location::File { column, .. } => Some(*column),
            Location::Cluster { .. } => None,
        }
    }
}

/// Why a finding does not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub reason: String,
    pub source: SuppressionSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionSource {
    Annotation,
    Exemption,
    Baseline,
}

impl SuppressionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionSource::Annotation => "annotation",
            SuppressionSource::Exemption => "exemption",
            SuppressionSource::Baseline => "baseline",
        }
    }
}

/// How a finding compares with the previous report (`--previous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Not in the previous report.
    New,
    /// In the previous report too (same fingerprint).
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One reported problem.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub remediation: String,
    /// None for findings about a whole file (a parse error).
    pub object: Option<ObjectRef>,
    pub environment: Option<String>,
    pub location: Location,
    /// JSON pointer of the node the finding is about, inside the object.
    pub pointer: String,
    pub fingerprint: String,
    pub suppressed: Option<Suppression>,
    /// The chart template a rendered document came from (`# Source:`).
    pub helm_source: Option<String>,
    /// Against `--previous`; None without it.
    pub change: Option<Change>,
}

impl Finding {
    /// A finding on `object` at `pointer`.
    pub fn on_object(
        rule: &str,
        severity: Severity,
        message: String,
        remediation: String,
        object: &Object,
        pointer: &str,
    ) -> Finding {
        let location = match &object.origin {
            Origin::File { path, .. } => {
                // The build-file line that produced the value, when a GitOps build did.
                let (path, Pos { line, column }) = object
                    .source_of(pointer)
                    .unwrap_or((path, object.locate(pointer)));
                Location::File {
                    path: path.to_string(),
                    line,
                    column,
                }
            }
            Origin::Cluster { context, .. } => Location::Cluster {
                context: context.clone(),
                uri: object.live_uri(),
            },
        };
        Finding {
            rule: rule.to_string(),
            severity,
            message,
            remediation,
            object: Some(object.reference()),
            environment: object.environment().map(str::to_string),
            location,
            pointer: pointer.to_string(),
            fingerprint: object_fingerprint(rule, object, pointer),
            suppressed: None,
            helm_source: object.helm_source.clone(),
            change: None,
        }
    }

    /// A finding about a file rather than an object (it could not be read as objects).
    pub fn on_file(
        rule: &str,
        severity: Severity,
        message: String,
        remediation: String,
        path: &str,
        pos: Pos,
        document: usize,
    ) -> Finding {
        Finding {
            rule: rule.to_string(),
            severity,
            message,
            remediation,
            object: None,
            environment: None,
            location: Location::File {
                path: path.to_string(),
                line: pos.line.max(1),
                column: pos.column.max(1),
            },
            pointer: String::new(),
            fingerprint: fingerprint(&[rule, "file", path, &document.to_string()]),
            suppressed: None,
            helm_source: None,
            change: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.suppressed.is_none()
    }

    /// Order of every report: by file and position, then rule; live findings by object.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.location.path(),
            self.location.line().unwrap_or(0),
            self.location.column().unwrap_or(0),
            self.rule.as_str(),
            self.pointer.as_str(),
            self.fingerprint.as_str(),
        )
    }
}

/// Name of the fingerprint scheme, as SARIF's `partialFingerprints` key and in baselines.
pub const FINGERPRINT_SCHEME: &str = "tollgate/v2";

/// What a finding's fingerprint hashes: rule, object identity, node; never a line.
///
/// The API group stands for the apiVersion so that a version bump of the same object
/// (`v1beta1` → `v1`), or a cluster serving another version than the manifest, keeps it.
/// The node names list items by their key ([`keyed_path`]), not their position, so adding a
/// sidecar or an init container does not change the fingerprint of the other containers'
/// findings. Adding a part of the identity is one field here and one line in [`Self::hash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintInput<'a> {
    pub rule: &'a str,
    pub group: &'a str,
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    /// Kube context of a live object; empty for files.
    pub cluster: &'a str,
    /// The node, as [`keyed_path`] names it.
    pub node: String,
}

impl<'a> FingerprintInput<'a> {
    pub fn of(rule: &'a str, object: &'a Object, pointer: &str) -> FingerprintInput<'a> {
        FingerprintInput {
            rule,
            group: object.group(),
            kind: &object.kind,
            namespace: object.namespace.as_deref().unwrap_or(""),
            name: &object.name,
            cluster: match &object.origin {
                Origin::Cluster { context, .. } => context.as_str(),
                // Instances of one file in two clusters are two findings.
                Origin::File { .. } => object.gitops_cluster().unwrap_or(""),
            },
            node: keyed_path(&object.value, pointer),
        }
    }

    pub fn hash(&self) -> String {
        fingerprint(&[
            self.rule,
            self.group,
            self.kind,
            self.namespace,
            self.name,
            self.cluster,
            &self.node,
        ])
    }
}

/// The stable identity of a finding on an object ([`FingerprintInput`]), in the
/// [`FINGERPRINT_SCHEME`] scheme.
pub fn object_fingerprint(rule: &str, object: &Object, pointer: &str) -> String {
    FingerprintInput::of(rule, object, pointer).hash()
}

/// The fingerprint of the first scheme, `tollgate/v1`, which named list items by position;
/// only to match baselines written with it.
pub fn object_fingerprint_v1(rule: &str, object: &Object, pointer: &str) -> String {
    FingerprintInput {
        node: pointer.to_string(),
        ..FingerprintInput::of(rule, object, "")
    }
    .hash()
}

/// The key a list item is known by, after Kubernetes' strategic-merge keys: `mountPath` for
/// volume mounts, `devicePath` for volume devices, `ip` for host aliases, the port number for
/// ports without a name, `name` for everything else (containers, env, volumes…).
fn item_keys(list: &str) -> &'static [&'static str] {
    match list {
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" => &["ip"],
        "ports" => &["name", "containerPort", "port"],
        _ => &["name"],
    }
}

/// `pointer` (a JSON pointer into `value`) with every list index replaced by the item's key
/// when it has one that is unique in its list: `/spec/template/spec/containers/1/image`
/// becomes `/spec/template/spec/containers[name=app]/image`. Indexes stay where no key
/// names the item (or the pointer goes past the value).
pub fn keyed_path(value: &crate::model::value::Value, pointer: &str) -> String {
    use crate::model::value::Value;
    let mut out = String::new();
    let mut current = Some(value);
    let mut parent_key = String::new();
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match current {
            Some(Value::Array(items)) => {
                let index = segment.parse::<usize>().ok();
                let item = index.and_then(|i| items.get(i));
                let key = item.and_then(|item| {
                    item_keys(&parent_key).iter().find_map(|k| {
                        let id = match item.get(*k)? {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string().into(),
                            _ => return None,
                        };
                        let unique = items
                            .iter()
                            .filter(|other| other.get(*k).is_some_and(|v| *v == item[*k]))
                            .count()
                            == 1;
                        unique.then(|| format!("[{k}={}]", escape(&id)))
                    })
                });
                match key {
                    Some(key) => out.push_str(&key),
                    None => out.push_str(&format!("[{}]", escape(&segment))),
                }
                current = item;
            }
            Some(Value::Object(map)) => {
                out.push('/');
                out.push_str(&escape(&segment));
                current = map.get(&segment);
            }
            _ => {
                out.push('/');
                out.push_str(&escape(&segment));
                current = None;
            }
        }
        parent_key = segment;
    }
    out
}

fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// JSON-pointer escaping, plus `]` (which ends an item key).
fn escape(text: &str) -> String {
    text.replace('~', "~0")
        .replace('/', "~1")
        .replace(']', "~2")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(yaml: &str) -> Object {
        let loaded = crate::source::files::load_bytes("f.yaml", yaml.as_bytes());
        loaded.objects.into_iter().next().expect("one object")
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.27\n          env: [{name: DB_HOST, value: db}]\n          ports: [{containerPort: 8080}]\n          volumeMounts: [{name: data, mountPath: /data}]\n      volumes: [{name: data, emptyDir: {}}]\n";

    #[test]
    fn list_items_are_named_by_their_key() {
        let o = object(DEPLOYMENT);
        let c = "/spec/template/spec/containers/0";
        assert_eq!(
            keyed_path(&o.value, &format!("{c}/image")),
            "/spec/template/spec/containers[name=app]/image"
        );
        assert_eq!(
            keyed_path(&o.value, &format!("{c}/env/0/value")),
            "/spec/template/spec/containers[name=app]/env[name=DB_HOST]/value"
        );
        assert_eq!(
            keyed_path(&o.value, &format!("{c}/ports/0")),
            "/spec/template/spec/containers[name=app]/ports[containerPort=8080]"
        );
        assert_eq!(
            keyed_path(&o.value, &format!("{c}/volumeMounts/0")),
            "/spec/template/spec/containers[name=app]/volumeMounts[mountPath=~1data]"
        );
        assert_eq!(
            keyed_path(&o.value, "/spec/template/spec/volumes/0/emptyDir"),
            "/spec/template/spec/volumes[name=data]/emptyDir"
        );
        // Past the value, and items without a key, keep their positions.
        assert_eq!(
            keyed_path(&o.value, &format!("{c}/securityContext/runAsNonRoot")),
            "/spec/template/spec/containers[name=app]/securityContext/runAsNonRoot"
        );
        assert_eq!(keyed_path(&o.value, "/spec/x/0"), "/spec/x/0");
    }

    #[test]
    fn a_sidecar_or_init_container_keeps_the_other_fingerprints() {
        let before = object(DEPLOYMENT);
        let with_sidecar = object(&DEPLOYMENT.replace(
            "      containers:\n",
            "      initContainers: [{name: migrate, image: m}]\n      containers:\n        - {name: proxy, image: envoy}\n",
        ));
        assert_eq!(
            object_fingerprint(
                "image-pinned",
                &before,
                "/spec/template/spec/containers/0/image"
            ),
            object_fingerprint(
                "image-pinned",
                &with_sidecar,
                "/spec/template/spec/containers/1/image"
            )
        );
        // The first scheme did not survive that.
        assert_ne!(
            object_fingerprint_v1(
                "image-pinned",
                &before,
                "/spec/template/spec/containers/0/image"
            ),
            object_fingerprint_v1(
                "image-pinned",
                &with_sidecar,
                "/spec/template/spec/containers/1/image"
            )
        );
    }

    #[test]
    fn fingerprints_have_known_values() {
        // Pinned (and recomputed outside Rust: sha256 of the NUL-terminated parts, first 16
        // bytes): a change here changes every baseline and every DefectDojo finding.
        let o = object(DEPLOYMENT);
        assert_eq!(
            object_fingerprint("image-pinned", &o, "/spec/template/spec/containers/0/image"),
            "8d8afd83a796d1d78f4886470ca4de4f"
        );
        assert_eq!(
            object_fingerprint_v1("image-pinned", &o, "/spec/template/spec/containers/0/image"),
            "1baaea16910473286763845556f38047"
        );
        assert_eq!(
            object_fingerprint("pdb-missing", &o, "/spec"),
            "14c20f5f93b9f856089626cfcb881c6c"
        );
        let parse_error = Finding::on_file(
            "manifest-parse-error",
            Severity::High,
            String::new(),
            String::new(),
            "a/b.yaml",
            Pos { line: 3, column: 1 },
            2,
        );
        assert_eq!(parse_error.fingerprint, "d704fdaf2d48c5f53b0fac4f1830ede1");
    }

    #[test]
    fn severity_parses_and_orders() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!(Severity::Critical > Severity::Medium);
        assert!("urgent".parse::<Severity>().is_err());
    }
}
