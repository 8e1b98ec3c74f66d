//! Pod spec access for every kind that runs pods.
//!
//! "Workload" means Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
//! Job and CronJob, plus the pod templates of Argo Rollouts, OpenKruise workloads and OpenShift
//! DeploymentConfigs.
//!
//! Security settings are read the way the kubelet reads them: a field of the container's
//! `securityContext` overrides the same field of the pod's ([`Container::effective_security`]).
//! Values are typed already (`privileged: yes` is `true`), and [`flag`] and [`integer`] also
//! accept the strings `"true"` and `"1000"` that a templating slip produces.

use crate::model::value::{Map, Value};

use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::model::spans::push_token;

/// Every kind that runs pods, as [`pod_spec_pointer`] knows them (a test keeps the two
/// together): the scope of rules about workloads.
pub const WORKLOAD_KINDS: &[Kind] = &[
    Kind::new("", "Pod"),
    Kind::new("apps", "Deployment"),
    Kind::new("apps", "StatefulSet"),
    Kind::new("apps", "DaemonSet"),
    Kind::new("apps", "ReplicaSet"),
    Kind::new("", "ReplicationController"),
    Kind::new("batch", "Job"),
    Kind::new("batch", "CronJob"),
    Kind::new("argoproj.io", "Rollout"),
    Kind::new("apps.kruise.io", "CloneSet"),
    Kind::new("apps.kruise.io", "StatefulSet"),
    Kind::new("apps.kruise.io", "DaemonSet"),
    Kind::new("apps.openshift.io", "DeploymentConfig"),
    Kind::new("extensions", "Deployment"),
    Kind::new("extensions", "DaemonSet"),
    Kind::new("extensions", "ReplicaSet"),
];

/// JSON pointer of the pod spec for a kind, if the kind runs pods.
pub fn pod_spec_pointer(group: &str, kind: &str) -> Option<&'static str> {
    Some(match (group, kind) {
        ("", "Pod") => "/spec",
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("", "ReplicationController")
        | ("batch", "Job")
        | ("argoproj.io", "Rollout")
        | ("apps.kruise.io", "CloneSet" | "StatefulSet" | "DaemonSet")
        | ("apps.openshift.io", "DeploymentConfig")
        // Old API groups still met in rendered charts.
        | ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet") => "/spec/template/spec",
        ("batch", "CronJob") => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    })
}

/// True for the kinds that run pods.
pub fn is_workload(object: &Object) -> bool {
    pod_spec_pointer(object.group(), &object.kind).is_some()
}

/// A workload's pod spec and where it is.
#[derive(Debug, Clone, Copy)]
pub struct PodSpec<'a> {
    pub pointer: &'static str,
    pub spec: &'a Map,
}

impl<'a> PodSpec<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.spec.get(key)
    }

    /// JSON pointer of a field of the pod spec.
    pub fn pointer_to(&self, field: &str) -> String {
        format!("{}/{}", self.pointer, field)
    }

    /// The pod's `securityContext`.
    pub fn security_context(&self) -> Option<&'a Map> {
        self.spec.get("securityContext")?.as_object()
    }

    /// A field of the pod's `securityContext` that is set (not null), with its pointer.
    pub fn security_setting(&self, field: &str) -> Option<Setting<'a>> {
        setting_in(
            self.security_context()?,
            field,
            self.pointer,
            SettingLevel::Pod,
        )
    }

    /// A pod spec field that is `true` (`hostNetwork`, `hostPID`…), with its pointer.
    pub fn flag_set(&self, field: &str) -> Option<String> {
        (flag(self.spec.get(field)?) == Some(true)).then(|| self.pointer_to(field))
    }

    /// True when the pods run to completion rather than serve: Jobs and CronJobs, Pods a Job
    /// owns, and any pod whose `restartPolicy` is `Never` or `OnFailure` (the API server
    /// requires `Always` for Deployments, StatefulSets, DaemonSets and ReplicaSets).
    pub fn runs_to_completion(&self, object: &Object) -> bool {
        object.is("batch", "Job")
            || object.is("batch", "CronJob")
            || object
                .owners()
                .any(|(api_version, kind, _)| kind == "Job" && api_version.starts_with("batch/"))
            || matches!(
                self.spec.get("restartPolicy").and_then(Value::as_str),
                Some("Never" | "OnFailure")
            )
    }

    /// Every container of the pod: init containers, containers, then ephemeral containers.
    pub fn containers(&self) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for (field, role) in CONTAINER_FIELDS {
            let Some(list) = self.spec.get(field).and_then(Value::as_array) else {
                continue;
            };
            for (i, value) in list.iter().enumerate() {
                let Some(spec) = value.as_object() else {
                    continue;
                };
                let mut pointer = self.pointer_to(field);
                push_token(&mut pointer, &i.to_string());
                out.push(Container {
                    name: spec.get("name").and_then(Value::as_str).unwrap_or(""),
                    role,
                    pointer,
                    spec,
                });
            }
        }
        out
    }

    /// The pod's volumes with their pointers.
    pub fn volumes(&self) -> impl Iterator<Item = (String, &'a Map)> + '_ {
        let pointer = self.pointer;
        self.spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(move |(i, v)| Some((format!("{pointer}/volumes/{i}"), v.as_object()?)))
    }

    /// Every reference the pod makes to a Secret by name: container `env[].valueFrom.secretKeyRef`
    /// and `envFrom[].secretRef` (ephemeral containers included), `volumes[].secret`, projected
    /// volume `sources[].secret`, and `imagePullSecrets`. Pointers lead to each reference's name.
    pub fn secret_refs(&self) -> Vec<SecretRef<'a>> {
        let mut out = Vec::new();
        let optional = |v: &Value| v.get("optional").and_then(Value::as_bool) == Some(true);
        // Walks the raw lists: pointers are only built for the references found.
        for (field, role) in CONTAINER_FIELDS {
            for (c, container) in array(self.spec.get(field)).iter().enumerate() {
                let name = container.get("name").and_then(Value::as_str).unwrap_or("");
                let via = SecretVia::Container(name, role);
                let base = || format!("{}/{field}/{c}", self.pointer);
                for (i, env) in array(container.get("env")).iter().enumerate() {
                    let Some(key_ref) = env.get("valueFrom").and_then(|v| v.get("secretKeyRef"))
                    else {
                        continue;
                    };
                    if let Some(name) = key_ref.get("name").and_then(Value::as_str) {
                        out.push(SecretRef {
                            name,
                            pointer: format!("{}/env/{i}/valueFrom/secretKeyRef/name", base()),
                            optional: optional(key_ref),
                            via,
                        });
                    }
                }
                for (i, from) in array(container.get("envFrom")).iter().enumerate() {
                    let Some(secret_ref) = from.get("secretRef") else {
                        continue;
                    };
                    if let Some(name) = secret_ref.get("name").and_then(Value::as_str) {
                        out.push(SecretRef {
                            name,
                            pointer: format!("{}/envFrom/{i}/secretRef/name", base()),
                            optional: optional(secret_ref),
                            via,
                        });
                    }
                }
            }
        }
        for (v, volume) in array(self.spec.get("volumes")).iter().enumerate() {
            let volume_name = volume.get("name").and_then(Value::as_str).unwrap_or("");
            let via = SecretVia::Volume(volume_name);
            if let Some(secret) = volume.get("secret")
                && let Some(name) = secret.get("secretName").and_then(Value::as_str)
            {
                out.push(SecretRef {
                    name,
                    pointer: format!("{}/volumes/{v}/secret/secretName", self.pointer),
                    optional: optional(secret),
                    via,
                });
            }
            let sources = volume.get("projected").and_then(|p| p.get("sources"));
            for (i, source) in array(sources).iter().enumerate() {
                let Some(secret) = source.get("secret") else {
                    continue;
                };
                if let Some(name) = secret.get("name").and_then(Value::as_str) {
                    out.push(SecretRef {
                        name,
                        pointer: format!(
                            "{}/volumes/{v}/projected/sources/{i}/secret/name",
                            self.pointer
                        ),
                        optional: optional(secret),
                        via,
                    });
                }
            }
        }
        for (i, pull) in array(self.spec.get("imagePullSecrets")).iter().enumerate() {
            if let Some(name) = pull.get("name").and_then(Value::as_str) {
                out.push(SecretRef {
                    name,
                    pointer: format!("{}/imagePullSecrets/{i}/name", self.pointer),
                    optional: false,
                    via: SecretVia::ImagePull,
                });
            }
        }
        out
    }

    /// The pod template's annotations (a Pod's own) and their JSON pointer: where Pod Security
    /// admission reads the AppArmor and seccomp annotations of the pods.
    pub fn template_annotations(object: &'a Object) -> Option<(String, &'a Map)> {
        let pointer = pod_spec_pointer(object.group(), &object.kind)?;
        let meta = format!("{}/metadata/annotations", pointer.strip_suffix("/spec")?);
        let annotations = object.value.pointer(&meta)?.as_object()?;
        Some((meta, annotations))
    }

    /// The pod template's labels (for selectors).
    pub fn template_labels(object: &'a Object) -> Option<&'a Map> {
        let pointer = pod_spec_pointer(object.group(), &object.kind)?;
        let meta = match pointer.strip_suffix("/spec") {
            Some("") => "/metadata/labels".to_string(),
            Some(template) => format!("{template}/metadata/labels"),
            None => return None,
        };
        object.value.pointer(&meta)?.as_object()
    }
}

/// The pod spec's container lists, in the order [`PodSpec::containers`] returns them.
pub const CONTAINER_FIELDS: [(&str, ContainerRole); 3] = [
    ("initContainers", ContainerRole::Init),
    ("containers", ContainerRole::Main),
    ("ephemeralContainers", ContainerRole::Ephemeral),
];

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// How a pod refers to a Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretVia<'a> {
    /// `env` or `envFrom` of the container with this name.
    Container(&'a str, ContainerRole),
    /// The volume with this name (`secret` or a projected source).
    Volume(&'a str),
    ImagePull,
}

impl SecretVia<'_> {
    /// `container "api"`, `volume "certs"`, `imagePullSecrets`.
    pub fn describe(&self) -> String {
        match self {
            SecretVia::Container(name, role) => format!("{} `{name}`", role.describe()),
            SecretVia::Volume(name) => format!("volume `{name}`"),
            SecretVia::ImagePull => "imagePullSecrets".to_string(),
        }
    }
}

/// A reference from a pod to a Secret by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef<'a> {
    pub name: &'a str,
    /// JSON pointer of the reference's name node.
    pub pointer: String,
    /// `optional: true`: the pod starts without the Secret.
    pub optional: bool,
    pub via: SecretVia<'a>,
}

/// The pod spec of a workload.
pub fn pod_spec(object: &Object) -> Option<PodSpec<'_>> {
    let pointer = pod_spec_pointer(object.group(), &object.kind)?;
    let spec = object.value.pointer(pointer)?.as_object()?;
    Some(PodSpec { pointer, spec })
}

/// Runs `check` on every container of the workload `object` (init containers, containers,
/// then ephemeral containers), with the pod spec; nothing when `object` has no pod spec. The
/// one loop of the rules that judge containers one at a time.
pub fn for_each_container<'a>(
    object: &'a Object,
    mut check: impl FnMut(&PodSpec<'a>, Container<'a>),
) {
    if let Some(spec) = pod_spec(object) {
        for container in spec.containers() {
            check(&spec, container);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerRole {
    Init,
    Main,
    Ephemeral,
}

impl ContainerRole {
    pub fn describe(self) -> &'static str {
        match self {
            ContainerRole::Init => "init container",
            ContainerRole::Main => "container",
            ContainerRole::Ephemeral => "ephemeral container",
        }
    }
}

/// One container of a pod spec.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    pub name: &'a str,
    pub role: ContainerRole,
    pub pointer: String,
    pub spec: &'a Map,
}

impl<'a> Container<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.spec.get(key)
    }

    pub fn image(&self) -> Option<&'a str> {
        self.spec.get("image")?.as_str()
    }

    /// JSON pointer of a field of the container.
    pub fn pointer_to(&self, field: &str) -> String {
        format!("{}/{}", self.pointer, field)
    }

    pub fn security_context(&self) -> Option<&'a Map> {
        self.spec.get("securityContext")?.as_object()
    }

    /// A field of the container's own `securityContext` that is set (not null).
    pub fn security_setting(&self, field: &str) -> Option<Setting<'a>> {
        setting_in(
            self.security_context()?,
            field,
            &self.pointer,
            SettingLevel::Container,
        )
    }

    /// A security field as the kubelet applies it: the container's value, else the pod's.
    /// Only meaningful for fields both levels have (`runAsUser`, `runAsGroup`,
    /// `runAsNonRoot`, `seccompProfile`, `seLinuxOptions`, `appArmorProfile`…).
    pub fn effective_security(&self, pod: &PodSpec<'a>, field: &str) -> Option<Setting<'a>> {
        self.security_setting(field)
            .or_else(|| pod.security_setting(field))
    }

    /// Capabilities the container adds, upper-cased and without the `CAP_` prefix.
    pub fn added_capabilities(&self) -> Vec<String> {
        self.security_context()
            .and_then(|sc| sc.get("capabilities"))
            .and_then(|c| c.get("add"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|c| {
                let upper = c.trim().to_ascii_uppercase();
                upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
            })
            .collect()
    }

    /// Keeps running for the pod's lifetime: a regular container or a sidecar init container.
    pub fn is_long_running(&self) -> bool {
        self.role == ContainerRole::Main || self.is_sidecar()
    }

    /// `resources.<section>.<resource>` (`requests`/`limits`, `cpu`/`memory`).
    pub fn resource(&self, section: &str, resource: &str) -> Option<&'a Value> {
        self.spec.get("resources")?.get(section)?.get(resource)
    }

    /// A sidecar: an init container that keeps running (`restartPolicy: Always`).
    pub fn is_sidecar(&self) -> bool {
        self.role == ContainerRole::Init
            && self.spec.get("restartPolicy").and_then(Value::as_str) == Some("Always")
    }

    /// `container `api` of Deployment shop-prod/api`: how messages name a container.
    pub fn subject(&self, object: &Object) -> String {
        format!("{} of {}", self.describe(), object.display())
    }

    /// `container "api"` / `init container "migrate"`.
    pub fn describe(&self) -> String {
        format!("{} `{}`", self.role.describe(), self.name)
    }
}

/// Which `securityContext` a setting comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingLevel {
    Pod,
    Container,
}

/// A security setting and where it is written.
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    pub value: &'a Value,
    pub pointer: String,
    pub level: SettingLevel,
}

impl Setting<'_> {
    pub fn flag(&self) -> Option<bool> {
        flag(self.value)
    }

    pub fn integer(&self) -> Option<i64> {
        integer(self.value)
    }

    /// `runAsUser: 0` / `pod securityContext runAsUser: 0`, for messages.
    pub fn describe(&self, field: &str) -> String {
        let value = match self.value {
            Value::String(s) => s.clone(),
            other => other.to_string().into(),
        };
        match self.level {
            SettingLevel::Container => format!("`{field}: {value}`"),
            SettingLevel::Pod => format!("`{field}: {value}` in the pod securityContext"),
        }
    }
}

/// A boolean field, also from the strings `"true"`/`"false"` (any case).
pub fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An integer field, also from a string of digits.
pub fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `field` of a `securityContext` found at `owner`/securityContext, when it is set (not null).
fn setting_in<'a>(
    context: &'a Map,
    field: &str,
    owner: &str,
    level: SettingLevel,
) -> Option<Setting<'a>> {
    let value = context.get(field).filter(|v| !v.is_null())?;
    Some(Setting {
        value,
        pointer: format!("{owner}/securityContext/{field}"),
        level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_kinds_are_the_kinds_with_a_pod_spec() {
        for kind in WORKLOAD_KINDS {
            assert!(
                pod_spec_pointer(kind.group, kind.kind).is_some(),
                "{kind:?}"
            );
        }
        // Every group and kind name of the table, crossed: only the listed pairs run pods.
        for group in WORKLOAD_KINDS.iter().map(|k| k.group) {
            for name in WORKLOAD_KINDS.iter().map(|k| k.kind) {
                let listed = WORKLOAD_KINDS.contains(&Kind::new(group, name));
                assert_eq!(
                    pod_spec_pointer(group, name).is_some(),
                    listed,
                    "{group}/{name}"
                );
            }
        }
    }
    use crate::doc;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

    #[test]
    fn finds_containers_of_a_cronjob() {
        let object = Object::from_value(
            doc!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
                   "spec": {"jobTemplate": {"spec": {"template": {
                       "metadata": {"labels": {"app": "c"}},
                       "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "m"}]}}}}}}),
            Origin::Cluster { context: "x".into(), api_path: String::new() },
            SpanTree::default(),
        )
        .unwrap();
        let spec = pod_spec(&object).unwrap();
        let containers = spec.containers();
        assert_eq!(containers.len(), 2);
        assert_eq!(
            containers[0].pointer,
            "/spec/jobTemplate/spec/template/spec/initContainers/0"
        );
        assert_eq!(containers[1].name, "m");
        assert_eq!(PodSpec::template_labels(&object).unwrap()["app"], "c");
    }

    #[test]
    fn container_security_settings_override_the_pods() {
        let object = Object::from_value(
            doc!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"securityContext": {"runAsUser": 0, "runAsNonRoot": true},
                            "containers": [
                                {"name": "a", "securityContext": {"runAsUser": "1000", "runAsNonRoot": null}},
                                {"name": "b"}]}}),
            Origin::Cluster { context: "x".into(), api_path: String::new() },
            SpanTree::default(),
        )
        .unwrap();
        let spec = pod_spec(&object).unwrap();
        let containers = spec.containers();
        let user = containers[0]
            .effective_security(&spec, "runAsUser")
            .unwrap();
        assert_eq!(
            (user.integer(), user.level),
            (Some(1000), SettingLevel::Container)
        );
        assert_eq!(user.pointer, "/spec/containers/0/securityContext/runAsUser");
        // A null container field does not hide the pod's.
        let non_root = containers[0]
            .effective_security(&spec, "runAsNonRoot")
            .unwrap();
        assert_eq!(
            (non_root.flag(), non_root.level),
            (Some(true), SettingLevel::Pod)
        );
        let user = containers[1]
            .effective_security(&spec, "runAsUser")
            .unwrap();
        assert_eq!((user.integer(), user.level), (Some(0), SettingLevel::Pod));
        assert_eq!(user.pointer, "/spec/securityContext/runAsUser");
    }

    #[test]
    fn lenient_scalars() {
        assert_eq!(flag(&doc!("True")), Some(true));
        assert_eq!(flag(&doc!(" false ")), Some(false));
        assert_eq!(flag(&doc!("yes")), None);
        assert_eq!(flag(&doc!(1)), None);
        assert_eq!(integer(&doc!("0")), Some(0));
        assert_eq!(integer(&doc!(1.5)), None);
    }

    #[test]
    fn what_runs_to_completion() {
        let pod = |extra: crate::model::value::Value| {
            let mut value = doc!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                   "spec": {"containers": [{"name": "c"}]}});
            for (k, v) in extra.as_object().unwrap() {
                if k == "metadata" {
                    value
                        .pointer_mut("/metadata")
                        .and_then(Value::as_object_mut)
                        .unwrap()
                        .insert("ownerReferences", v.clone());
                } else {
                    value
                        .pointer_mut("/spec")
                        .and_then(Value::as_object_mut)
                        .unwrap()
                        .insert(k.clone(), v.clone());
                }
            }
            Object::from_value(
                value,
                Origin::Cluster {
                    context: "x".into(),
                    api_path: String::new(),
                },
                SpanTree::default(),
            )
            .unwrap()
        };
        let runs = |o: &Object| pod_spec(o).unwrap().runs_to_completion(o);
        assert!(!runs(&pod(doc!({}))));
        assert!(!runs(&pod(doc!({"restartPolicy": "Always"}))));
        assert!(runs(&pod(doc!({"restartPolicy": "Never"}))));
        assert!(runs(&pod(
            doc!({"metadata": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j"}]})
        )));
        assert!(!runs(&pod(
            doc!({"metadata": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r"}]})
        )));
    }

    #[test]
    fn finds_every_kind_of_secret_reference() {
        let object = Object::from_value(
            doc!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {
                       "imagePullSecrets": [{"name": "pull"}],
                       "containers": [{"name": "m",
                           "env": [{"name": "A", "value": "x"},
                                   {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env", "key": "k"}}},
                                   {"name": "C", "valueFrom": {"secretKeyRef": {"name": "opt", "key": "k", "optional": true}}}],
                           "envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "from"}}]}],
                       "volumes": [{"name": "v", "secret": {"secretName": "vol"}},
                                   {"name": "p", "projected": {"sources": [
                                       {"configMap": {"name": "cm"}}, {"secret": {"name": "proj"}}]}}]}}),
            Origin::Cluster { context: "x".into(), api_path: String::new() },
            SpanTree::default(),
        )
        .unwrap();
        let refs = pod_spec(&object).unwrap().secret_refs();
        let summary: Vec<(&str, &str, bool)> = refs
            .iter()
            .map(|r| (r.name, r.pointer.as_str(), r.optional))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "env",
                    "/spec/containers/0/env/1/valueFrom/secretKeyRef/name",
                    false
                ),
                (
                    "opt",
                    "/spec/containers/0/env/2/valueFrom/secretKeyRef/name",
                    true
                ),
                ("from", "/spec/containers/0/envFrom/1/secretRef/name", false),
                ("vol", "/spec/volumes/0/secret/secretName", false),
                (
                    "proj",
                    "/spec/volumes/1/projected/sources/1/secret/name",
                    false
                ),
                ("pull", "/spec/imagePullSecrets/0/name", false),
            ]
        );
        assert_eq!(refs[3].via.describe(), "volume `v`");
        assert_eq!(refs[5].via, SecretVia::ImagePull);
    }
}
