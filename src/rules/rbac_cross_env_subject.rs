//! `rbac-cross-env-subject`: RoleBindings that give a ServiceAccount of one environment rights
//! in a namespace of another.

use crate::finding::Severity;
use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::scope::NAMESPACES;
use crate::rules::support::rbac::{RBAC_GROUP, role_ref, subjects};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct RbacCrossEnvSubject;

static META: RuleMeta = RuleMeta {
    id: "rbac-cross-env-subject",
    title: "ServiceAccount bound in another environment's namespace",
    summary: "A RoleBinding giving a ServiceAccount of one environment rights in another's namespace",
    severity: Severity::High,
    tags: &["security", "rbac", "environments"],
    remediation: "Bind ServiceAccounts of the same environment only; run a separate ServiceAccount (and workload) in each environment.",
    doc: r#"A RoleBinding in a namespace of one environment whose subject is a ServiceAccount (or
the user `system:serviceaccount:<ns>:<name>`) of a namespace of another environment: a dev
ServiceAccount with rights in a prod namespace. One finding per such subject, at the subject.
Namespaces without an environment (kube-system, argocd, velero…) cross nothing.
Environments are those of `environments:` (or the default name patterns).

### Why

Environments are separated so that what happens in dev stays in dev: a compromised dev pod,
a test script, a developer's token. A binding that lets a dev ServiceAccount act in prod
undoes that separation with one YAML file, and whoever controls the dev workload controls
the prod rights. Severity is **high**, like `env-isolation`'s references across environments.

### Failing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ci-deploy
  namespace: shop-prod
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: deployer
subjects:
  - kind: ServiceAccount
    name: ci
    namespace: shop-dev
```

### Passing example

```yaml
subjects:
  - kind: ServiceAccount
    name: ci
    namespace: shop-prod
```

### Remediation

Give each environment its own ServiceAccount (a prod CI runner, or an Argo CD in the prod
cluster) and bind that one.

### Compared with other tools

kube-linter, kube-score and Polaris have no notion of environments.
"#,
    scope: Scope::kinds(&[Kind::new(RBAC_GROUP, "RoleBinding")]).reading(&[NAMESPACES]),
};

impl Rule for RbacCrossEnvSubject {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !object.is(RBAC_GROUP, "RoleBinding") {
            return;
        }
        let Some(namespace) = object.namespace.as_deref() else {
            return;
        };
        let Some(here) = ctx.namespace_env(namespace) else {
            return;
        };
        let (kind, name) = role_ref(object).unwrap_or(("role", "?"));
        for subject in subjects(object) {
            let Some((subject_ns, _)) = subject.service_account() else {
                continue;
            };
            let Some(there) = ctx.namespace_env(subject_ns) else {
                continue;
            };
            if there == here {
                continue;
            }
            out.push(Violation::new(
                subject.pointer.clone(),
                format!(
                    "{} gives {} (environment {there}) the rights of {kind} {name} in namespace {namespace} (environment {here})",
                    object.display(),
                    subject.describe()
                ),
            ));
        }
    }
}
