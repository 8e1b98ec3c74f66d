//! Kubernetes objects as the rules see them, wherever they came from.

use crate::model::value::{Map, Text, Value};
use serde::Serialize;

use crate::model::spans::{Pos, SpanTree};

/// Where an object was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        /// Path relative to the scan root, `/`-separated (`<stdin>` for standard input);
        /// shared by the objects of one file.
        path: std::sync::Arc<str>,
        /// Index of the YAML document in the file.
        document: usize,
        /// Index in `items` when the document is a `kind: List`.
        item: Option<usize>,
        start_line: u32,
        end_line: u32,
    },
    Cluster {
        /// The kube context (cluster) name.
        context: String,
        /// The API path of the object, e.g. `/apis/apps/v1/namespaces/shop/deployments/api`.
        api_path: String,
    },
}

/// The identity of an object, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// `Deployment shop-prod/api`, `Namespace shop-prod`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// One Kubernetes object with its value, origin and environments.
#[derive(Debug, Clone)]
pub struct Object {
    // Inline text (up to 24 bytes without an allocation): a fleet holds every object at once.
    pub api_version: Text,
    pub kind: Text,
    /// The namespace, for namespaced objects that name one (cluster-scoped kinds have none).
    pub namespace: Option<Text>,
    pub name: Text,
    pub value: Value,
    pub origin: Origin,
    /// Positions of the value's nodes; empty for live objects.
    pub spans: SpanTree,
    pub helm_source: Option<String>,
    /// The environment the object belongs to (labels, namespace, names).
    /// (Inline text: environment names are short, and every object has one or two.)
    pub identity_env: Option<crate::model::value::Text>,
    /// The environment it is placed in (folder or cluster).
    pub placement_env: Option<crate::model::value::Text>,
    /// How a GitOps build (kustomize, Argo CD, Flux) placed this object, when one did
    /// (DESIGN §13); `None` for a file no build instruction includes, and for live objects.
    pub instance: Option<Box<Instance>>,
}

/// What makes an object from a file one *instance* of it: the build that placed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    /// The cluster of `clusters:` it is deployed to (`None`: the repository's only cluster).
    pub cluster: Option<String>,
    /// The build files that brought it, outermost first (an Argo CD Application, an overlay's
    /// kustomization, its base's).
    pub via: Vec<String>,
    /// Values a build file produced, located there: `(JSON pointer, path, position)`. A
    /// finding on the pointer (or inside it) points at that build-file line.
    pub produced: Vec<(String, String, Pos)>,
    /// Made by a kustomize generator (no document of its own).
    pub generated: bool,
}

impl Object {
    /// Builds an object from a value that has `apiVersion` and `kind` strings.
    pub fn from_value(value: Value, origin: Origin, spans: SpanTree) -> Option<Object> {
        let api_version = value.get("apiVersion")?.as_str()?.to_string();
        let kind = value.get("kind")?.as_str()?.to_string();
        if api_version.is_empty() || kind.is_empty() {
            return None;
        }
        let metadata = value.get("metadata");
        let text = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let name = text("name")
            .or_else(|| text("generateName"))
            .unwrap_or_default();
        let namespace = if is_cluster_scoped(&api_version, &kind) {
            None
        } else {
            text("namespace").filter(|ns| !ns.is_empty())
        };
        Some(Object {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(Text::from),
            name: name.into(),
            value,
            origin,
            spans,
            helm_source: None,
            identity_env: None,
            placement_env: None,
            instance: None,
        })
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group.
    pub fn group(&self) -> &str {
        api_group(&self.api_version)
    }

    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version.to_string(),
            kind: self.kind.to_string(),
            namespace: self.namespace.as_deref().map(str::to_string),
            name: self.name.to_string(),
        }
    }

    /// `Deployment shop-prod/api`.
    pub fn display(&self) -> String {
        self.reference().display()
    }

    /// True when `kind` matches and the API group is `group`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.kind == kind && self.group() == group
    }

    pub fn metadata(&self) -> Option<&Map> {
        self.value.get("metadata")?.as_object()
    }

    pub fn labels(&self) -> Option<&Map> {
        self.metadata()?.get("labels")?.as_object()
    }

    pub fn annotations(&self) -> Option<&Map> {
        self.metadata()?.get("annotations")?.as_object()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels()?.get(key)?.as_str()
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations()?.get(key)?.as_str()
    }

    /// The value at a JSON pointer.
    pub fn at(&self, pointer: &str) -> Option<&Value> {
        self.value.pointer(pointer)
    }

    /// Identity environment, else placement environment.
    pub fn environment(&self) -> Option<&str> {
        self.identity_env
            .as_deref()
            .or(self.placement_env.as_deref())
    }

    /// The cluster of `clusters:` a GitOps build deploys this object to.
    pub fn gitops_cluster(&self) -> Option<&str> {
        self.instance.as_ref()?.cluster.as_deref()
    }

    /// File and position of the node on `pointer`: the build-file line that produced its value
    /// (an `images:` entry, a generator literal) when one did, else the object's own file.
    pub fn source_of(&self, pointer: &str) -> Option<(&str, Pos)> {
        let path = self.path()?;
        if let Some(instance) = &self.instance {
            let produced = instance
                .produced
                .iter()
                .filter(|(at, _, _)| {
                    pointer == at
                        || pointer
                            .strip_prefix(at.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                })
                .max_by_key(|(at, _, _)| at.len());
            if let Some((_, file, pos)) = produced {
                return Some((file, *pos));
            }
        }
        Some((path, self.locate(pointer)))
    }

    /// Position of the most specific node on `pointer` (files only).
    pub fn locate(&self, pointer: &str) -> Pos {
        if self.spans.is_empty() {
            return match &self.origin {
                Origin::File { start_line, .. } => Pos {
                    line: *start_line,
                    column: 1,
                },
                Origin::Cluster { .. } => Pos::default(),
            };
        }
        self.spans.locate(&self.value, pointer)
    }

    pub fn path(&self) -> Option<&str> {
        match &self.origin {
            Origin::File { path, .. } => Some(path),
            Origin::Cluster { .. } => None,
        }
    }

    pub fn cluster(&self) -> Option<&str> {
        match &self.origin {
            Origin::Cluster { context, .. } => Some(context),
            Origin::File { .. } => None,
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self.origin, Origin::Cluster { .. })
    }

    /// `k8s://<context>/<namespace>/<kind>/<name>`; `_` stands for "no namespace".
    pub fn live_uri(&self) -> String {
        let context = self.cluster().unwrap_or("");
        format!(
            "k8s://{}/{}/{}/{}",
            context,
            self.namespace.as_deref().unwrap_or("_"),
            self.kind,
            self.name
        )
    }

    /// Owner references as `(apiVersion, kind, name)`.
    pub fn owners(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.metadata()
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| {
                Some((
                    o.get("apiVersion")?.as_str()?,
                    o.get("kind")?.as_str()?,
                    o.get("name")?.as_str()?,
                ))
            })
    }
}

/// The group part of an apiVersion (`""` for `v1`).
pub fn api_group(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// Kinds that live outside namespaces, so a stray `metadata.namespace` on them means nothing.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    let group = api_group(api_version);
    match kind {
        "Namespace"
        | "Node"
        | "PersistentVolume"
        | "ClusterRole"
        | "ClusterRoleBinding"
        | "CustomResourceDefinition"
        | "StorageClass"
        | "CSIDriver"
        | "CSINode"
        | "VolumeAttachment"
        | "PriorityClass"
        | "RuntimeClass"
        | "IngressClass"
        | "APIService"
        | "MutatingWebhookConfiguration"
        | "ValidatingWebhookConfiguration"
        | "ValidatingAdmissionPolicy"
        | "ValidatingAdmissionPolicyBinding"
        | "CertificateSigningRequest"
        | "PodSecurityPolicy"
        | "ComponentStatus"
        | "ClusterSecretStore"
        | "ClusterExternalSecret"
        | "ClusterIssuer"
        | "ClusterPolicy"
        | "ClusterPolicyReport"
        | "ConstraintTemplate"
        | "CiliumClusterwideNetworkPolicy"
        | "ClusterTriggerAuthentication"
        | "GatewayClass" => true,
        "FlowSchema" | "PriorityLevelConfiguration" => group == "flowcontrol.apiserver.k8s.io",
        _ => group == "constraints.gatekeeper.sh",
    }
}
