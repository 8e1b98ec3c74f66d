//! `env-placement`: objects of one environment placed in another's folder or cluster.

use crate::finding::Severity;
use crate::model::object::{Object, Origin};
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct EnvPlacement;

static META: RuleMeta = RuleMeta {
    id: "env-placement",
    title: "Object placed in another environment's folder or cluster",
    summary: "an object whose own environment differs from the environment of the folder (or cluster) it is in",
    severity: Severity::High,
    tags: &["environments", "gitops"],
    remediation: "Move the manifest to the folder (or cluster) of its own environment, or fix its namespace or `environment` label if those are what is wrong.",
    doc: r#"An object whose identity environment differs from its placement environment, when
both are known. Identity comes from the object's `environment`/`env` label, its Namespace's
label, or its namespace name against `environments[].namespaces` (cluster-scoped objects:
their name); placement from its file path against `environments[].paths` or, live, from the
cluster context against `environments[].clusters`. Reported on the object.

Objects whose identity or placement is unknown (a `kube-system` DaemonSet in the production
folder, a manifest outside every configured path) are never reported.

### Why

A `shop-dev` namespace in the production cluster's folder means Argo CD deploys development
code, debug settings and dev credentials into production (or the reverse: production data
reachable from a development cluster). It is nearly always a copy-and-paste slip.

### Failing example

```yaml
# clusters/production/shop-prod/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dev
```

### Passing example

```yaml
# clusters/dev-a/shop-dev/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dev
```

### Remediation

Move the file under the folder of the environment it belongs to, or correct the namespace or
label.

### Configuration

- `environments[].namespaces`, `environments[].paths`, `environments[].clusters`: see the
  environment model; placement needs `paths` (files) or `clusters` (live).
"#,
    scope: Scope::metadata(),
};

impl Rule for EnvPlacement {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let (Some(identity), Some(placement)) = (&object.identity_env, &object.placement_env)
        else {
            return;
        };
        if identity == placement {
            return;
        }
        let place = match &object.origin {
            Origin::File { path, .. } => format!("its file {path}"),
            Origin::Cluster { context, .. } => format!("cluster {context}"),
        };
        out.push(Violation::new(
            "",
            format!(
                "{} belongs to environment {identity} ({}) but is placed in environment {placement} ({place})",
                object.display(),
                identity_source(object)
            ),
        ));
    }
}

/// Why an object has its identity environment, for the message.
fn identity_source(object: &Object) -> String {
    let own_label = object
        .labels()
        .and_then(crate::model::environment::label_env)
        .is_some();
    match (&object.namespace, own_label) {
        (_, true) => "its own label".to_string(),
        (Some(ns), false) => format!("namespace {ns}"),
        (None, false) => "its name".to_string(),
    }
}
