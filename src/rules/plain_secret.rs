//! `plain-secret`: Secrets written by hand into manifests instead of by a generator.

use crate::model::kinds::Kind;
use crate::model::value::Value;
use crate::rules::Scope;
use crate::rules::scope::NAMESPACES;
use crate::rules::support::secrets;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::secret_values::{
    classify_secret_value, classify_text, decoded, is_sops_document, uses_avp,
};
use crate::rules::support::secrets::{SecretProducers, is_controller_written};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PlainSecret;

static META: RuleMeta = RuleMeta {
    id: "plain-secret",
    title: "Secret with credentials in clear text in manifests",
    summary: "a `v1` Secret in git holding a credential in clear text: not SOPS-encrypted, not a deploy-time reference (`op://`, `ref+…://`, `<path:…#…>`, `${…}`), not an Argo CD repository/cluster setting; **critical** when committed next to the SealedSecret/ExternalSecret/Certificate that generates it; live: a Secret without owner in a namespace with an environment",
    severity: Severity::High,
    tags: &["secrets", "security"],
    remediation: "Move the values to Vault and let an ExternalSecret (or a cert-manager Certificate, for TLS) write this Secret; then delete it from the repository and rotate the values it exposed.",
    doc: r#"A `v1` Secret in the repository that holds at least one credential in clear text
(`data` or `stringData`). The message names the Secret and the keys that are in clear text,
never a value.

What counts as a credential in clear text: any non-empty value of a key, except

- values SOPS encrypted: the whole document is left alone when it carries SOPS metadata (a
  top-level `sops:` block with `mac`/`version`; the keys it leaves in clear are the ones its
  creation rules say are not secret), and any `ENC[…]` value;
- references resolved at deploy time, in the raw or the base64-decoded value: 1Password
  `op://vault/item/field`, vals `ref+vault://…` (any `ref+<backend>://`), argocd-vault-plugin
  `<path:…#key>` (and `<key>` placeholders when the Secret carries `avp.kubernetes.io/path`),
  `${VAR}` substitution (Flux `postBuild`, envsubst). A value that carries such a reference is
  a template, not a secret;
- values that are only public certificates (PEM `CERTIFICATE` blocks, no private key): a CA
  bundle is not a secret;
- in Argo CD's declarative repository and cluster Secrets (label
  `argocd.argoproj.io/secret-type`), the keys that configure rather than authenticate (`url`,
  `name`, `type`, `project`, `server`, `username`, `namespaces`, `insecure`, `enableOCI`,
  `proxy`, `githubAppID`…), and a cluster `config` without `password`, `bearerToken`,
  `keyData` or other key/token fields.

A generator does **not** excuse a plaintext Secret in git. A SealedSecret, ExternalSecret,
Certificate or Vault Secrets Operator object of the same name in the same namespace excuses
the Secret it *writes in the cluster*, not a copy of its values committed next to it: that is
the worst kind (the plaintext input of `kubeseal`, an export of what External Secrets wrote),
reported as **critical** with the generator named. A generator in another namespace (or
another cluster) has nothing to do with this Secret; a Secret without a namespace is reported
at the ordinary severity, since nothing says which generator would be its twin.

Not reported, because a controller writes them and they only end up in git as exports:

- Secrets labelled or annotated `reconcile.external-secrets.io/*` (External Secrets), annotated
  `cert-manager.io/certificate-name` (cert-manager), labelled
  `sealedsecrets.bitnami.com/managed` (Sealed Secrets) or `generate.kyverno.io/*` (Kyverno),
  or annotated `reflector.v1.k8s.emberstack.com/reflected-from` (a Reflector copy);
- type `kubernetes.io/service-account-token` and Helm release storage (type
  `helm.sh/release.v1`, label `owner: helm`);
- Secrets without any key: an empty shell that a controller fills in (the Argo CD and
  cert-manager install manifests ship those) holds nothing to leak.

Credentials outside Secrets (a literal `env[].value`, a ConfigMap key) are
`secret-in-config`'s business.

Live (`tollgate audit`), Secrets are read as metadata only; a Secret is reported when it has
no owner reference (External Secrets, cert-manager and operators set one on the Secrets they
write) and none of the marks above. Live Secrets in namespaces without an environment
(`kube-system`, `velero`, `argocd`…) are left alone: the distribution and the platform's
controllers write those.

### Why

A Secret in git is readable by everyone who can read the repository, stays in its history
forever, and is never rotated. The platform keeps secrets in Vault and lets External Secrets
Operator write them into the cluster, so that they can be audited and rotated in one place.
Encrypting the file (SOPS) or committing only a reference keeps the value out of git; committing
the plaintext next to its sealed or external twin defeats the generator entirely.

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

A SOPS-encrypted Secret (`password: ENC[AES256_GCM,…]` and a `sops:` block) and a Secret
whose value is `op://kubernetes/db/password` pass too.

### Remediation

Store the values in Vault, add an ExternalSecret that writes the Secret (same name and
namespace), delete the Secret from the repository (or encrypt it with SOPS), and rotate every
value it held: git history keeps them.
"#,
    scope: Scope::kinds(&[Kind::new("", "Secret")]).reading(&[secrets::READS, NAMESPACES]),
};

/// At most this many keys are named in a message.
const KEYS_SHOWN: usize = 8;

/// The label that makes a Secret an Argo CD repository, credential template or cluster.
const ARGOCD_SECRET_TYPE: &str = "argocd.argoproj.io/secret-type";

/// Keys of Argo CD repository and cluster Secrets that configure rather than authenticate.
const ARGOCD_SETTINGS: &[&str] = &[
    "url",
    "name",
    "type",
    "project",
    "server",
    "username",
    "namespaces",
    "clusterResources",
    "enableOCI",
    "enableLfs",
    "insecure",
    "insecureIgnoreHostKey",
    "proxy",
    "noProxy",
    "forceHttpBasicAuth",
    "githubAppID",
    "githubAppInstallationID",
    "githubAppEnterpriseBaseUrl",
    "tlsClientCertData",
    "shard",
    "useAzureWorkloadIdentity",
];

/// Fields of an Argo CD cluster `config` that hold credentials.
const ARGOCD_CONFIG_CREDENTIALS: &[&str] = &[
    "password",
    "bearerToken",
    "keyData",
    "token",
    "secret",
    "clientSecret",
    "accessKey",
    "secretKey",
];

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
        if is_sops_document(object) {
            return;
        }
        let keys = plain_keys(object);
        if keys.is_empty() {
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
        let producers = ctx.memo(|| SecretProducers::build(ctx.inventory));
        // Without a namespace it is unknown which generator is its twin: a namespace-less
        // generator of the same name may sit in another folder, or another repository.
        let twin = object
            .namespace
            .as_deref()
            .and_then(|ns| producers.generator_in(Some(ns), &object.name));
        let violation = match twin {
            Some(generator) => Violation::new(
                "",
                format!(
                    "{} holds {noun} {} in clear text in git, next to {generator}, which writes this Secret in the cluster: the generator does not excuse a plaintext copy, it exposes what it was meant to protect",
                    object.display(),
                    shown.join(", ")
                ),
            )
            .with_severity(Severity::Critical)
            .with_remediation(format!(
                "Delete this plaintext copy from the repository (and from its history) and rotate the values it exposed; {generator} keeps writing the Secret in the cluster."
            )),
            None => Violation::new(
                "",
                format!(
                    "{} holds {noun} {} in clear text in git (not encrypted with SOPS, not a reference resolved at deploy time, no generator writes it)",
                    object.display(),
                    shown.join(", ")
                ),
            ),
        };
        out.push(violation);
    }
}

/// The Secret's keys (`data` and `stringData`) whose values are credentials in clear text,
/// sorted and unique. Never their values.
fn plain_keys(secret: &Object) -> Vec<&str> {
    let avp = uses_avp(secret);
    let argocd = secret.label(ARGOCD_SECRET_TYPE).is_some();
    let mut keys: Vec<&str> = ["data", "stringData"]
        .iter()
        .filter_map(|field| {
            let map = secret.value.get(*field).and_then(Value::as_object)?;
            Some(map.iter().map(move |(k, v)| (*field, k.as_str(), v)))
        })
        .flatten()
        .filter(|(field, key, value)| {
            if argocd && argocd_setting(field, key, value) {
                return false;
            }
            classify_secret_value(field, value, avp).is_none()
        })
        .map(|(_, key, _)| key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// True for a key of an Argo CD repository or cluster Secret that holds no credential.
fn argocd_setting(field: &str, key: &str, value: &Value) -> bool {
    if ARGOCD_SETTINGS.contains(&key) {
        return true;
    }
    if key != "config" {
        return false;
    }
    let Some(text) = decoded(field, value) else {
        return false;
    };
    // An unreadable config may hold anything: judge it as a value.
    let Ok(config) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    !holds_credential(&config)
}

/// True when a JSON document has a non-empty credential field anywhere in it.
fn holds_credential(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            let credential = ARGOCD_CONFIG_CREDENTIALS.contains(&k.as_str())
                && v.as_str()
                    .is_some_and(|s| classify_text(s, false).is_none());
            credential || holds_credential(v)
        }),
        Value::Array(items) => items.iter().any(holds_credential),
        _ => false,
    }
}
