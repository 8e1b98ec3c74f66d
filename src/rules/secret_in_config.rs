//! `secret-in-config`: credentials written into places that are not Secrets: literal
//! container environment values and ConfigMap data.

use crate::model::kinds::Kind;
use crate::model::value::Value;
use crate::rules::Scope;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::for_each_container;
use crate::rules::support::secret_values::{
    classify_text, has_private_key, has_url_password, is_credential_name, is_sops_document,
};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct SecretInConfig;

static META: RuleMeta = RuleMeta {
    id: "secret-in-config",
    title: "Credential written outside a Secret",
    summary: "a credential outside a Secret: a literal `env[].value` or ConfigMap key named like a credential (`*PASSWORD*`, `*TOKEN*`, `*SECRET*`, `*_KEY`), a PEM private key or a `user:pass@` URL in env or ConfigMap values; never the value",
    severity: Severity::High,
    tags: &["secrets", "security"],
    remediation: "Move the value into Vault, let an ExternalSecret write it into a Secret, and read it with `env[].valueFrom.secretKeyRef` (or mount the Secret); then rotate it: git history keeps the old value.",
    doc: r#"A credential in clear text outside a Secret, where nothing treats it as one:

- a container's literal `env[].value` (containers, init containers, ephemeral containers of
  every workload kind) whose variable is named like a credential: it contains `PASSWORD`,
  `PASSWD`, `PASSPHRASE`, `TOKEN`, `SECRET`, `CREDENTIAL`, `APIKEY`, or ends in `_KEY` /
  `Key` (`API_KEY`, `AWS_SECRET_ACCESS_KEY`, `privateKey`);
- a ConfigMap `data` key named that way with a one-line value;
- anywhere in those values (and in multi-line ConfigMap files), a PEM private key block
  (`-----BEGIN … PRIVATE KEY-----`) or a URL with a password (`postgres://app:s3cret@db`).

The finding points at the value and names the variable or key, never the value.

Not reported: names that are *about* a credential rather than the credential (a last word
`FILE`, `PATH`, `URL`, `NAME`, `ID`, `TTL`, `USER`… as in `PASSWORD_FILE`, `TOKEN_URL`,
`AWS_ACCESS_KEY_ID`) and names of keys (`PUBLIC_KEY`, `LABEL_KEY`, `CACHE_KEY`, a bare
`KEY`); empty values; file paths (`/var/run/secrets/key.json`: where the credential is, not
what it is); flags (`true`, `yes`, `1`…); references resolved at deploy time (`$(VAR)`,
`${VAR}`, `op://…`, `ref+…://`, `<path:…#…>`) and SOPS ciphertext (`ENC[…]`, or a
SOPS-encrypted document); URLs whose password is a placeholder (`${DB_PASSWORD}`, `***`,
`<password>`); values taken from a Secret (`valueFrom`).

This is a sibling of `plain-secret` rather than part of it: `plain-secret` judges Secret
objects, which are meant to hold credentials, by their values alone; this rule has to guess
from names where a credential is, so it is kept apart to be tuned (severity, exemptions) on its
own, and its remediation differs (move the value into a Secret and reference it).

### Why

ConfigMaps and Deployment manifests are read by everyone who can read the repository or
`get` ConfigMaps and pods in the namespace, show up in `kubectl describe`, in Argo CD's diff
view and in logs of tools that print manifests. A credential there is a leaked credential,
and unlike a Secret nothing (RBAC on secrets, encryption at rest, External Secrets rotation)
even tries to protect it.

### Failing example

```yaml
      containers:
        - name: api
          env:
            - name: DB_PASSWORD
              value: hunter2
---
apiVersion: v1
kind: ConfigMap
metadata: {name: api, namespace: shop-prod}
data:
  DATABASE_URL: postgres://shop:hunter2@db:5432/shop
```

### Passing example

```yaml
      containers:
        - name: api
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {name: api-db, key: password}
            - name: DATABASE_URL
              value: postgres://shop:$(DB_PASSWORD)@db:5432/shop
```

### Remediation

Put the value in Vault, write it into a Secret with an ExternalSecret, and reference it from
the workload (`secretKeyRef`, `envFrom.secretRef`, a Secret volume); rotate the exposed value.
"#,
    scope: Scope::workloads().and_kinds(&[Kind::new("", "ConfigMap")]),
};

impl Rule for SecretInConfig {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if is_sops_document(object) {
            return;
        }
        if object.is("", "ConfigMap") {
            check_config_map(object, out);
            return;
        }
        for_each_container(object, |_, container| {
            let env = container.get("env").and_then(Value::as_array);
            for (i, var) in env.into_iter().flatten().enumerate() {
                let (Some(name), Some(value)) = (
                    var.get("name").and_then(Value::as_str),
                    var.get("value").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let Some(why) = credential(name, value, true) else {
                    continue;
                };
                out.push(Violation::new(
                    format!("{}/env/{i}/value", container.pointer),
                    format!(
                        "env `{name}` of {} {why}, in clear text in the manifest instead of a Secret",
                        container.subject(object)
                    ),
                ));
            }
        });
    }
}

fn check_config_map(object: &Object, out: &mut Vec<Violation>) {
    let Some(data) = object.value.get("data").and_then(Value::as_object) else {
        return;
    };
    for (key, value) in data {
        let Some(text) = value.as_str() else {
            continue;
        };
        let one_line = !text.trim_end().contains('\n');
        let Some(why) = credential(key, text, one_line) else {
            continue;
        };
        out.push(Violation::new(
            format!("/data/{}", key.replace('~', "~0").replace('/', "~1")),
            format!(
                "key `{key}` of {} {why}, in clear text in a ConfigMap instead of a Secret",
                object.display()
            ),
        ));
    }
}

/// What makes `value` (named `name`) a credential, as a phrase for the message; None when it is
/// not one. `by_name` lets the name decide (single values, not whole files).
fn credential(name: &str, value: &str, by_name: bool) -> Option<&'static str> {
    if has_private_key(value) {
        return Some("holds a private key");
    }
    if has_url_password(value) {
        return Some("holds a URL with a password");
    }
    let trimmed = value.trim();
    let flag = matches!(
        trimmed.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "0" | "1"
    );
    // `GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/key.json` names where the credential is.
    let path = (trimmed.starts_with('/') || trimmed.starts_with("./"))
        && !trimmed.contains(char::is_whitespace);
    if by_name
        && is_credential_name(name)
        && !flag
        && !path
        && classify_text(value, false).is_none()
    {
        return Some("is named like a credential and has a literal value");
    }
    None
}
