//! `drift-unmanaged`: live objects in GitOps-managed namespaces that git does not declare and
//! no controller made (`tollgate audit --gitops`).

use std::collections::HashMap;

use crate::drift::GitSide;
use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::secrets::{self, SecretProducers, is_controller_written};
use crate::rules::{Context, Kind, Rule, RuleMeta, Scope, Violation};

pub struct DriftUnmanaged;

pub const ID: &str = "drift-unmanaged";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Object in a GitOps-managed namespace that git does not declare",
    summary: "live only, `audit --gitops`: an object in a namespace the GitOps repository manages that git does not declare and no controller made (owner references, Kubernetes' own objects, generated Secrets, Helm/Argo CD/Flux marks never count): created by hand",
    severity: Severity::Medium,
    tags: &["drift", "gitops", "live"],
    remediation: "Put the object into the GitOps repository (then the deployer owns it), or delete it from the cluster if it was a temporary fix.",
    doc: r#"Live only, with `tollgate audit --gitops DIR`: a namespaced object in a namespace the
GitOps repository manages that the repository declares nowhere and that no controller made:
somebody ran `kubectl create`/`apply`/`run` by hand. A namespace is managed when git deploys
objects into it (after kustomize, Argo CD and Flux placed them, in the cluster the context is
matched with) or declares the Namespace, or when its live objects carry Argo CD's tracking
(annotation `argocd.argoproj.io/tracking-id`, label `argocd.argoproj.io/instance`, label
`app.kubernetes.io/instance` outside Helm releases) or Flux's (`kustomize.toolkit.fluxcd.io/name`, `helm.toolkit.fluxcd.io/name`).
`kube-system`, `kube-public` and `kube-node-lease` are never managed: the distribution puts
objects there that no repository declares; nor is a namespace a kustomize build also fills
from outside the repository (a remote base, `helmCharts`), unless its objects carry tracking.

An object is declared when the repository has an instance of the same kind, namespace and name
in that cluster (an instance without a namespace matches any; a kustomize-generated ConfigMap
or Secret matches its live name with the hash suffix). It is made by a controller, and never
reported, when it has `ownerReferences`; when it is a record a controller keeps (Events,
Leases, Endpoints, EndpointSlices, ControllerRevisions, Velero Backups and Restores,
cert-manager CertificateRequests, Orders and Challenges, policy reports, VPA checkpoints,
CSIStorageCapacities, Longhorn volumes, replicas and engines…); when it carries a deployer's or a manager's mark (the Argo CD and Flux
tracking above, Helm's `meta.helm.sh/release-name` or `app.kubernetes.io/managed-by`, k3s'
`objectset.rio.cattle.io/hash`), which covers what Helm-based Applications and HelmReleases
install without tollgate rendering the chart; and for what Kubernetes itself makes: the
`default` ServiceAccount, the `kube-root-ca.crt` ConfigMap, service-account token Secrets,
Helm release storage (`sh.helm.release.v1.*`), Secrets an ExternalSecret, a cert-manager
Certificate, a SealedSecret or an operator writes, leader-election ConfigMaps, the
`default/kubernetes` Service, and PersistentVolumeClaims of StatefulSet
`volumeClaimTemplates`. Cluster-scoped objects are not judged (Nodes, PersistentVolumes,
webhooks and APIServices are made by the cluster and its operators). Leftovers of an
application that was removed from git but not pruned carry their deployer's mark and are the
deployer's to report (Argo CD's `OutOfSync`/orphaned resources).

### Why

A hand-made object is invisible to review and to the repository's history, is lost when the
cluster is rebuilt from git, and is usually a debugging leftover: a NodePort opened for a
test, a copy of a Secret, a Pod running a shell.

### Failing example

```yaml
# gitops/shop.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-settings
  namespace: shop-prod
---
# live, in shop-prod (which git deploys into): `kubectl create secret generic debug-db-password`
apiVersion: v1
kind: Secret
metadata:
  name: debug-db-password
  namespace: shop-prod
```

### Passing example

```yaml
# gitops/shop.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-settings
  namespace: shop-prod
---
# live: written by cert-manager for its Certificate
apiVersion: v1
kind: Secret
metadata:
  name: web-tls
  namespace: shop-prod
  annotations:
    cert-manager.io/certificate-name: web
```

### Remediation

Commit the object to the repository so the deployer owns it, or delete it from the cluster.
Objects a controller of your own makes without owner references can be exempted by name
(`exemptions:` with `rule: drift-unmanaged`).
"#,
    scope: Scope::metadata()
        .live_only()
        .reading(&[secrets::READS, CLAIM_TEMPLATES]),
};

/// What the rule reads besides metadata: StatefulSets' `volumeClaimTemplates`.
const CLAIM_TEMPLATES: &[Kind] = &[Kind::new("apps", "StatefulSet")];

/// Namespaces where the distribution itself keeps objects.
const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// Kinds that are records of what controllers did, never configuration a person writes:
/// `(API group, kind)`, `*` for every kind of the group.
const RECORDS: &[(&str, &str)] = &[
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("coordination.k8s.io", "Lease"),
    ("", "Endpoints"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("apps", "ControllerRevision"),
    ("metrics.k8s.io", "*"),
    ("wgpolicyk8s.io", "*"),
    ("aquasecurity.github.io", "*"),
    ("cert-manager.io", "CertificateRequest"),
    ("acme.cert-manager.io", "*"),
    ("velero.io", "Backup"),
    ("velero.io", "Restore"),
    ("velero.io", "PodVolumeBackup"),
    ("velero.io", "PodVolumeRestore"),
    ("velero.io", "DataUpload"),
    ("velero.io", "DataDownload"),
    ("velero.io", "BackupRepository"),
    ("velero.io", "DownloadRequest"),
    ("velero.io", "DeleteBackupRequest"),
    ("velero.io", "ServerStatusRequest"),
    ("snapshot.storage.k8s.io", "VolumeSnapshot"),
    ("cilium.io", "CiliumEndpoint"),
    ("cilium.io", "CiliumEndpointSlice"),
    ("longhorn.io", "Volume"),
    ("longhorn.io", "Engine"),
    ("longhorn.io", "Replica"),
    ("longhorn.io", "InstanceManager"),
    ("longhorn.io", "Node"),
    ("longhorn.io", "EngineImage"),
    ("longhorn.io", "ShareManager"),
    ("longhorn.io", "Snapshot"),
    ("longhorn.io", "Backup"),
    ("longhorn.io", "BackupVolume"),
    ("longhorn.io", "Orphan"),
    ("longhorn.io", "VolumeAttachment"),
    ("postgresql.cnpg.io", "Backup"),
    ("autoscaling.k8s.io", "VerticalPodAutoscalerCheckpoint"),
    ("reports.kyverno.io", "*"),
    ("kyverno.io", "UpdateRequest"),
    ("storage.k8s.io", "CSIStorageCapacity"),
];

/// `app.kubernetes.io/managed-by` values that name a person's tool, not a controller.
const HAND_TOOLS: &[&str] = &["", "kubectl", "kustomize", "manual", "hand"];

/// Why `object` was made by something other than a person at a terminal, or `None`.
pub fn made_by(object: &Object, ctx: &Context<'_>) -> Option<&'static str> {
    if object.owners().next().is_some() {
        return Some("owned by a controller");
    }
    let group = object.group();
    if RECORDS
        .iter()
        .any(|(g, k)| *g == group && (*k == "*" || *k == object.kind))
    {
        return Some("a record a controller keeps");
    }
    if let Some(deployer) = deployer_mark(object) {
        return Some(deployer);
    }
    if object.annotation("meta.helm.sh/release-name").is_some() {
        return Some("Helm");
    }
    if let Some(manager) = object.label("app.kubernetes.io/managed-by")
        && !HAND_TOOLS.contains(&manager.to_ascii_lowercase().as_str())
    {
        return Some("the manager its `app.kubernetes.io/managed-by` label names");
    }
    if object.label("objectset.rio.cattle.io/hash").is_some() {
        return Some("k3s");
    }
    let namespace = object.namespace.as_deref();
    match (group, object.kind.as_str()) {
        ("", "ServiceAccount") if object.name == "default" => Some("Kubernetes"),
        ("", "ConfigMap") if object.name == "kube-root-ca.crt" => Some("Kubernetes"),
        ("", "ConfigMap") if object.name == "istio-ca-root-cert" => Some("Istio"),
        ("", "ConfigMap")
            if object
                .annotation("control-plane.alpha.kubernetes.io/leader")
                .is_some() =>
        {
            Some("leader election")
        }
        ("", "Service") if object.name == "kubernetes" && namespace == Some("default") => {
            Some("Kubernetes")
        }
        ("", "Secret") => secret_maker(object, ctx),
        ("", "PersistentVolumeClaim") => {
            let facts = ctx.memo(|| ClaimTemplates::build(ctx));
            facts
                .made_by_statefulset(namespace.unwrap_or_default(), &object.name)
                .then_some("a StatefulSet's volumeClaimTemplates")
        }
        _ => None,
    }
}

fn secret_maker(secret: &Object, ctx: &Context<'_>) -> Option<&'static str> {
    if let Some(writer) = is_controller_written(secret) {
        return Some(writer);
    }
    // Listed as metadata only, a live Secret has no `type`: token Secrets are known by their
    // annotation, Helm's storage by its name.
    if secret
        .annotation("kubernetes.io/service-account.name")
        .is_some()
    {
        return Some("a service-account token");
    }
    if secret.name.starts_with("sh.helm.release.v1.") {
        return Some("Helm release storage");
    }
    let producers = ctx.memo(|| SecretProducers::build(ctx.inventory));
    producers
        .producer_of(secret.namespace.as_deref(), &secret.name)
        .map(|_| "a generator or operator")
}

/// The mark a GitOps deployer leaves on what it applies, or `None`.
pub fn deployer_mark(object: &Object) -> Option<&'static str> {
    // Annotation tracking, and the label many installations set as `instanceLabelKey`.
    if object
        .annotation("argocd.argoproj.io/tracking-id")
        .is_some()
        || object.label("argocd.argoproj.io/instance").is_some()
    {
        return Some("Argo CD");
    }
    if object.label("kustomize.toolkit.fluxcd.io/name").is_some() {
        return Some("Flux");
    }
    if object.label("helm.toolkit.fluxcd.io/name").is_some() {
        return Some("a Flux HelmRelease");
    }
    // Argo CD's label tracking; Helm charts set the same label, and `helm install` marks its
    // objects with the release annotation.
    if object.label("app.kubernetes.io/instance").is_some()
        && object.annotation("meta.helm.sh/release-name").is_none()
    {
        return Some("Argo CD");
    }
    None
}

/// PersistentVolumeClaims a StatefulSet makes: `<template>-<statefulset>-<ordinal>`.
#[derive(Debug, Default)]
struct ClaimTemplates {
    /// Namespace → claim name prefixes (`<template>-<statefulset>-`).
    prefixes: HashMap<String, Vec<String>>,
}

impl ClaimTemplates {
    fn build(ctx: &Context<'_>) -> Self {
        let mut facts = ClaimTemplates::default();
        for sts in ctx.inventory.of_kind("StatefulSet") {
            let templates = sts
                .at("/spec/volumeClaimTemplates")
                .and_then(|v| v.as_array());
            for template in templates.into_iter().flatten() {
                if let Some(name) = template.pointer("/metadata/name").and_then(|v| v.as_str()) {
                    facts
                        .prefixes
                        .entry(sts.namespace.clone().unwrap_or_default().to_string())
                        .or_default()
                        .push(format!("{name}-{}-", sts.name));
                }
            }
        }
        facts
    }

    fn made_by_statefulset(&self, namespace: &str, claim: &str) -> bool {
        self.prefixes.get(namespace).is_some_and(|prefixes| {
            prefixes.iter().any(|prefix| {
                claim.strip_prefix(prefix.as_str()).is_some_and(|ordinal| {
                    !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit())
                })
            })
        })
    }
}

/// Namespaces the GitOps repository manages in this cluster.
#[derive(Debug, Default)]
struct Managed {
    /// Namespaces whose live objects carry a deployer's mark, with the first deployer seen.
    tracked: HashMap<String, &'static str>,
}

impl Managed {
    fn build(ctx: &Context<'_>) -> Self {
        let mut tracked = HashMap::new();
        for object in ctx.inventory.objects() {
            let Some(deployer) = deployer_mark(object) else {
                continue;
            };
            let namespace = match (&object.namespace, object.is("", "Namespace")) {
                (Some(ns), _) => ns,
                (None, true) => &object.name,
                (None, false) => continue,
            };
            tracked.entry(namespace.to_string()).or_insert(deployer);
        }
        Managed { tracked }
    }

    fn manages(&self, git: &GitSide, namespace: &str) -> bool {
        !SYSTEM_NAMESPACES.contains(&namespace)
            && (git.deploys_into(namespace) || self.tracked.contains_key(namespace))
    }

    /// Why the repository manages `namespace`, or `None` when it does not.
    fn why(&self, git: &GitSide, namespace: &str) -> Option<String> {
        if SYSTEM_NAMESPACES.contains(&namespace) {
            return None;
        }
        let cluster = match &git.cluster {
            Some(name) => format!("cluster `{name}` of the repository"),
            None => "the repository".to_string(),
        };
        if git.deploys_into(namespace) {
            return Some(format!("{cluster} deploys into namespace `{namespace}`"));
        }
        self.tracked.get(namespace).map(|deployer| {
            format!("{deployer} manages namespace `{namespace}` (its objects carry the tracking) from {cluster}")
        })
    }
}

impl Rule for DriftUnmanaged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !self.applies_to(object, ctx) {
            return;
        }
        let Some(git) = ctx.gitops() else {
            return;
        };
        if made_by(object, ctx).is_some() || git.declaration_index(object).is_some() {
            return;
        }
        let managed = ctx.memo(|| Managed::build(ctx));
        let Some(why) = object
            .namespace
            .as_deref()
            .and_then(|ns| managed.why(git, ns))
        else {
            return;
        };
        out.push(Violation::new(
            "",
            format!(
                "{} is in the cluster but not in git: {why}, yet it declares no {} `{}` there, \
                 and no controller owns or made it (created by hand)",
                object.display(),
                object.kind,
                object.name
            ),
        ));
    }

    /// Live namespaced objects in a namespace the repository manages, with `--gitops`.
    fn applies_to(&self, object: &Object, ctx: &Context<'_>) -> bool {
        let (Some(git), Some(namespace)) = (ctx.gitops(), object.namespace.as_deref()) else {
            return false;
        };
        object.is_live() && ctx.memo(|| Managed::build(ctx)).manages(git, namespace)
    }
}
