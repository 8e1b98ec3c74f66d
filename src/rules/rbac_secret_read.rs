//! `rbac-secret-read`: bindings that let a subject read Secrets cluster-wide or in another
//! environment's namespace.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::scope::NAMESPACES;
use crate::rules::support::rbac;
use crate::rules::support::rbac::{bound_role, is_binding, policy_rules, role_ref, subjects};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct RbacSecretRead;

/// Built-in ClusterRoles that read Secrets, for inventories that do not hold them.
/// `cluster-admin` is `rbac-cluster-admin-binding`'s finding.
const BUILTIN_SECRET_READERS: [&str; 2] = ["admin", "edit"];

static META: RuleMeta = RuleMeta {
    id: "rbac-secret-read",
    title: "Subject can read Secrets cluster-wide or across environments",
    summary: "Secret read access granted cluster-wide, or to a ServiceAccount of another environment",
    severity: Severity::High,
    tags: &["security", "rbac"],
    remediation: "Grant Secret access with a RoleBinding in the namespace that needs it, to subjects of the same environment, and with `resourceNames` where possible.",
    doc: r#"A binding whose role grants `get`, `list` or `watch` on `secrets` (core API group, or
through `*`) when that reaches further than one environment: a ClusterRoleBinding (every
namespace's Secrets) to a subject that is not one of Kubernetes' own, or a RoleBinding whose
ServiceAccount subject lives in a namespace of another environment than the binding's
namespace (a dev ServiceAccount reading prod Secrets). One finding per subject, at the
subject. The role is looked up in the inventory; the built-in `admin` and `edit` ClusterRoles
are known to read Secrets. Roles granting everything are `rbac-cluster-admin-binding`'s.

### Why

Secrets hold database passwords, API tokens, TLS keys and ServiceAccount tokens of other
workloads; `list` returns their values. A cluster-wide grant makes one compromised pod or
leaked token a leak of every team's credentials, and a cross-environment grant breaks the
separation between dev and prod that everything else relies on. Severity is **high**.

### Failing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: backup-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: secret-reader
subjects:
  - kind: ServiceAccount
    name: backup
    namespace: tools
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: secret-reader
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "list"]
```

### Passing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: backup-reader
  namespace: shop-prod
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: secret-reader
subjects:
  - kind: ServiceAccount
    name: backup
    namespace: shop-prod
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: secret-reader
  namespace: shop-prod
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "list"]
```

### Remediation

Bind per namespace, to subjects of that namespace's environment, and restrict the role with
`resourceNames` to the Secrets it needs. Operators that must read Secrets everywhere (External
Secrets, cert-manager) ship their own scoped roles; exempt their bindings with a reason.

### Compared with other tools

kube-linter `access-to-secrets` reports every binding of a role that reads Secrets, also within
one namespace and environment; tollgate reports only the grants that cross a namespace or
environment boundary, so its fixture's namespaced RoleBinding is not reported (by design),
while its ClusterRoleBinding to the built-in `admin` ClusterRole is.
"#,
    scope: Scope::kinds(rbac::BINDINGS).reading(&[rbac::READS, NAMESPACES]),
};

/// Whether `role_ref` of a binding reads Secrets, as far as the inventory tells.
fn reads_secrets(binding: &Object, ctx: &Context<'_>) -> bool {
    let Some((kind, name)) = role_ref(binding) else {
        return false;
    };
    match bound_role(binding, ctx) {
        Some(role) => {
            let rules = policy_rules(role);
            !rules.iter().any(|r| r.is_everything())
                && rules.iter().any(|r| {
                    ["get", "list", "watch"]
                        .iter()
                        .any(|verb| r.grants("", "secrets", verb).is_some())
                })
        }
        None => kind == "ClusterRole" && BUILTIN_SECRET_READERS.contains(&name),
    }
}

impl Rule for RbacSecretRead {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !is_binding(object) || !reads_secrets(object, ctx) {
            return;
        }
        let Some((kind, name)) = role_ref(object) else {
            return;
        };
        let cluster_wide = object.kind == "ClusterRoleBinding";
        let here = object.namespace.as_deref();
        let here_env = here.and_then(|ns| ctx.namespace_env(ns));
        for subject in subjects(object) {
            if subject.is_system() {
                continue;
            }
            let message = if cluster_wide {
                format!(
                    "{} lets {} read Secrets in every namespace ({kind} {name})",
                    object.display(),
                    subject.describe()
                )
            } else {
                let Some((subject_ns, _)) = subject.service_account() else {
                    continue;
                };
                let subject_env = ctx.namespace_env(subject_ns);
                match (subject_env, here_env) {
                    (Some(from), Some(to)) if from != to => format!(
                        "{} lets {} (environment {from}) read Secrets of namespace {} (environment {to}) ({kind} {name})",
                        object.display(),
                        subject.describe(),
                        here.unwrap_or_default()
                    ),
                    _ => continue,
                }
            };
            out.push(Violation::new(subject.pointer.clone(), message));
        }
    }
}
