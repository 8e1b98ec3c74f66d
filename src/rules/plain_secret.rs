//! `plain-secret`: Secrets written by hand into manifests instead of by a generator.

use serde_json::Value;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::secrets::{SecretProducers, is_controller_written};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PlainSecret;

static META: RuleMeta = RuleMeta {
    id: "plain-secret",
    title: "Secret in manifests that no generator manages",
    severity: Severity::High,
    tags: &["secrets", "security"],
    remediation: "Move the values to Vault and let an ExternalSecret (or a cert-manager Certificate, for TLS) write this Secret; then delete it from the repository and rotate the values it exposed.",
    doc: r#"A `v1` Secret that carries keys (`data` or `stringData`) and that no generator
manages: no ExternalSecret in the same namespace targets it (`spec.target.name`, by default
the ExternalSecret's own name), no cert-manager Certificate names it in `spec.secretName`, and
it carries no generator marks. The message names the Secret and its keys, never a value.

Not reported, because a controller writes them:

- Secrets labelled or annotated `reconcile.external-secrets.io/*` (External Secrets), annotated
  `cert-manager.io/certificate-name` (cert-manager), labelled
  `sealedsecrets.bitnami.com/managed` (Sealed Secrets) or `generate.kyverno.io/*` (Kyverno),
  or annotated `reflector.v1.k8s.emberstack.com/reflected-from` (a Reflector copy);
- Secrets produced by a `Certificate`, `SealedSecret`, `ClusterExternalSecret`, Vault Secrets
  Operator object, or an Ingress that cert-manager's ingress-shim serves (`tls[].secretName`);
- type `kubernetes.io/service-account-token` and Helm release storage (type
  `helm.sh/release.v1`, label `owner: helm`);
- Secrets without any key: an empty shell that a controller fills in (the Argo CD and
  cert-manager install manifests ship those) holds nothing to leak.

Live (`tollgate audit`), Secrets are read as metadata only; a Secret is reported when it has
no owner reference (External Secrets, cert-manager and operators set one on the Secrets they
write) and none of the marks above. Live Secrets in namespaces without an environment
(`kube-system`, `velero`, `argocd`…) are left alone: the distribution and the platform's
controllers write those.

### Why

A Secret in git is readable by everyone who can read the repository, stays in its history
forever, and is never rotated. The platform keeps secrets in Vault and lets External Secrets
Operator write them into the cluster, so that they can be audited and rotated in one place.

### Failing example

```yaml
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: shop-prod
type: Opaque
stringData:
  password: hunter2
```

### Passing example

```yaml
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: db-credentials
  namespace: shop-prod
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault-prod}
  target: {name: db-credentials}
  data:
    - secretKey: password
      remoteRef: {key: shop/db, property: password}
```

### Remediation

Store the values in Vault, add an ExternalSecret that writes the Secret (same name and
namespace), delete the Secret from the repository, and rotate every value it held: git
history keeps them.
"#,
};

/// At most this many keys are named in a message.
const KEYS_SHOWN: usize = 8;

impl Rule for PlainSecret {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !object.is("", "Secret") || is_controller_written(object).is_some() {
            return;
        }
        if object.is_live() {
            let has_env = object
                .namespace
                .as_deref()
                .is_some_and(|ns| ctx.namespace_env(ns).is_some());
            if has_env && object.owners().next().is_none() {
                out.push(Violation::new(
                    "",
                    format!(
                        "{} has no owner: no ExternalSecret, Certificate or operator wrote it, so its values were put into the cluster by hand or from a manifest",
                        object.display()
                    ),
                ));
            }
            return;
        }
        let keys = keys(object);
        if keys.is_empty() {
            return;
        }
        let producers = ctx.memo(|| SecretProducers::build(ctx.inventory));
        if producers
            .generator_of(object.namespace.as_deref(), &object.name)
            .is_some()
        {
            return;
        }
        let mut shown: Vec<String> = keys
            .iter()
            .take(KEYS_SHOWN)
            .map(|k| format!("`{k}`"))
            .collect();
        if keys.len() > KEYS_SHOWN {
            shown.push(format!("{} more", keys.len() - KEYS_SHOWN));
        }
        let noun = if keys.len() == 1 { "key" } else { "keys" };
        out.push(Violation::new(
            "",
            format!(
                "{} holds {noun} {} in plain manifests; no ExternalSecret, Certificate or other generator manages it",
                object.display(),
                shown.join(", ")
            ),
        ));
    }
}

/// The Secret's keys (`data` and `stringData`), sorted and unique. Never its values.
fn keys(secret: &Object) -> Vec<&str> {
    let mut keys: Vec<&str> = ["data", "stringData"]
        .iter()
        .filter_map(|field| secret.value.get(*field).and_then(Value::as_object))
        .flat_map(|map| map.keys().map(String::as_str))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}
