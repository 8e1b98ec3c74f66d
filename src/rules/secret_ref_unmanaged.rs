//! `secret-ref-unmanaged`: workloads referencing Secrets that nothing in the repository makes.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::WORKLOAD_KINDS;
use crate::model::workload::pod_spec;
use crate::rules::Scope;
use crate::rules::support::rbac;
use crate::rules::support::secret_writers::SecretWriters;
use crate::rules::support::secrets;
use crate::rules::support::secrets::SecretProducers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct SecretRefUnmanaged;

static META: RuleMeta = RuleMeta {
    id: "secret-ref-unmanaged",
    title: "Workload references a Secret that nothing manages",
    summary: "a workload's reference to a Secret (env, envFrom, volumes, projected volumes, imagePullSecrets) that neither exists in the inventory nor is produced by a generator or a database operator in that namespace, nor may be written by a workload there whose ServiceAccount a Role/ClusterRole binding allows to create/update/patch it (`resourceNames` respected)",
    severity: Severity::Medium,
    tags: &["secrets", "reliability"],
    remediation: "Add an ExternalSecret (or a cert-manager Certificate, for TLS) that writes this Secret in the workload's namespace, or mark the reference `optional: true` if the workload runs without it.",
    doc: r#"A workload that references a Secret by name — `env[].valueFrom.secretKeyRef`,
`envFrom[].secretRef`, `volumes[].secret.secretName`, a projected volume's
`sources[].secret`, or `imagePullSecrets` — when that Secret is neither in the inventory (same
namespace) nor produced there by a generator: an ExternalSecret (`spec.target.name`, by default
its own name), a cert-manager Certificate (`spec.secretName`), a SealedSecret, a
ClusterExternalSecret, a Vault Secrets Operator object, an Ingress served by cert-manager's
ingress-shim, a Kyverno `generate` rule creating a Secret (a ClusterPolicy's counts in every
namespace), or a Secret (or ExternalSecret template) that Reflector copies everywhere
(`reflector.v1.k8s.emberstack.com/reflection-auto-enabled: "true"`). The finding points at
the reference's `name`.

Operators that write credentials for the objects they run count as producers too: a Secret
whose name starts with `<name>-` of a CloudNativePG `Cluster`, Percona, MongoDB, ECK, MinIO,
Strimzi, RabbitMQ, ClickHouse, Dragonfly, Zalando Postgres or Keycloak object in the same
namespace (`pg-app`, `search-es-elastic-user`, `sso-initial-admin`…), Zalando's
`<user>.<name>.credentials.postgresql.acid.zalan.do`, Percona's `internal-<name>` and the
users Secret a Percona object names, and the Secret of each Strimzi `KafkaUser`. References
marked `optional: true` are never reported. A workload without a namespace (a kustomize base)
matches Secrets and producers of any namespace.

A Secret is also managed when something in the namespace is allowed to write it, by RBAC
evidence: a workload there (Job, CronJob, Deployment, StatefulSet, DaemonSet…) runs as a
ServiceAccount (`serviceAccountName`, else `default`) that a RoleBinding in the namespace or a
ClusterRoleBinding binds to a Role/ClusterRole whose rules allow `create`, `update` or `patch`
(or `*`) on `secrets` in the core group; when such a rule lists `resourceNames`, only those
Secrets. That is how controllers that write their own Secrets — MetalLB's memberlist, Cilium's
Hubble certificate Job, Argo CD's redis secret init Job, webhook certificate generators — are
recognised, by evidence rather than by a list of names. A malformed Role rule (not a mapping,
`verbs` not a list of strings) is a warning at its file:line and is ignored. The message says
what was searched.

A Secret that exists as a plain manifest is `plain-secret`'s business, not this rule's.
Workloads without an environment of their own (namespace or label), such as the system
components in `argocd`, `kube-system` or `ingress-nginx` whose install Jobs create their own
Secrets, are not checked.

### Why

A Secret created by hand with `kubectl create secret` exists in one cluster only: a rebuilt
cluster, a new environment or a disaster recovery leaves the pod stuck in
`CreateContainerConfigError`, and nobody knows where the value came from or when it was last
rotated.

### Failing example

```yaml
      containers:
        - name: api
          envFrom:
            - secretRef:
                name: api-env          # no ExternalSecret writes api-env
```

### Passing example

```yaml
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: api-env
  namespace: shop-prod
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault-prod}
  dataFrom:
    - extract: {key: shop/api}
```

### Remediation

Put the values in Vault and add an ExternalSecret that writes the Secret next to the
workload; for TLS material, a cert-manager Certificate.
"#,
    scope: Scope::workloads().reading(&[secrets::READS, rbac::READS, WORKLOAD_KINDS]),
};

impl Rule for SecretRefUnmanaged {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        // System components (Argo CD, ingress-nginx…) create their own Secrets with install
        // Jobs; only workloads of an environment are held to the platform's conventions.
        if object.identity_env.is_none() {
            return;
        }
        let Some(spec) = pod_spec(object) else {
            return;
        };
        let refs = spec.secret_refs();
        if refs.is_empty() {
            return;
        }
        let producers = ctx.memo(|| SecretProducers::build(ctx.inventory));
        let writers = ctx.memo(|| SecretWriters::build(ctx));
        let namespace = object.namespace.as_deref();
        for reference in refs {
            if reference.optional {
                continue;
            }
            if producers.secret_exists(namespace, reference.name)
                || producers.producer_of(namespace, reference.name).is_some()
                || writers.writer_of(namespace, reference.name).is_some()
            {
                continue;
            }
            let place =
                namespace.map_or("any namespace".to_string(), |ns| format!("namespace {ns}"));
            out.push(Violation::new(
                reference.pointer,
                format!(
                    "{} of {} references Secret `{}`, which nothing in {place} provides: searched Secret manifests, generators (ExternalSecret, Certificate, SealedSecret, Vault, Kyverno, Reflector), operators that write their own Secrets, and workloads whose ServiceAccount a Role/ClusterRole binding allows to create, update or patch it",
                    reference.via.describe(),
                    object.display(),
                    reference.name
                ),
            ));
        }
    }
}
