//! `rbac-cluster-admin-binding`: bindings that give someone every permission.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::rbac;
use crate::rules::support::rbac::{bound_role, is_binding, policy_rules, role_ref, subjects};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct RbacClusterAdminBinding;

static META: RuleMeta = RuleMeta {
    id: "rbac-cluster-admin-binding",
    title: "Subject bound to cluster-admin (or an equivalent role)",
    summary: "`cluster-admin` (or a role granting everything) bound to a subject that is not Kubernetes' own",
    severity: Severity::High,
    tags: &["security", "rbac"],
    remediation: "Bind a role that lists the permissions the subject needs; keep cluster-admin for break-glass groups of people.",
    doc: r#"A ClusterRoleBinding or RoleBinding whose role is the `cluster-admin` ClusterRole, or a
role of the inventory with a rule granting `*` resources of `*` API groups with `*` (or every
ordinary) verb, bound to a subject that is not one of Kubernetes' own (`system:` users and
groups, ServiceAccounts of `kube-system`): one finding per such subject, at the subject. A
RoleBinding limits the rights to its namespace and says so.

### Why

`cluster-admin` can do anything: read every Secret, run privileged pods on every node, change
RBAC itself. A ServiceAccount holding it turns any compromise of its pods (an RCE, a leaked
token) into a compromise of the cluster; a User or Group holding it bypasses every review.
Severity is **high**.

### Failing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ci-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - kind: ServiceAccount
    name: ci
    namespace: ci
```

### Passing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ci-deployer
  namespace: shop-prod
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: deployer
subjects:
  - kind: ServiceAccount
    name: ci
    namespace: ci
```

### Remediation

Write a Role with what the subject does (deploying needs `apps` Deployments and a few core
resources, not RBAC or Secrets of other namespaces) and bind it per namespace. Controllers
that really need cluster-wide rights (Argo CD, Flux) ship scoped ClusterRoles; use those.

### Compared with other tools

Agrees with kube-linter `cluster-admin-role-binding` and Polaris
`clusterrolebindingClusterAdmin`, `rolebindingClusterAdminClusterRole` and
`rolebindingClusterAdminRole`, except that Polaris exempts bindings *named* `system:…`,
`cluster-admin` or `gce:podsecuritypolicy:calico-sa`: tollgate judges the subject, because
anyone can name a binding (by design).
"#,
    scope: Scope::kinds(rbac::BINDINGS).reading(&[rbac::READS]),
};

impl Rule for RbacClusterAdminBinding {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !is_binding(object) {
            return;
        }
        let Some((kind, name)) = role_ref(object) else {
            return;
        };
        let everything = (kind == "ClusterRole" && name == "cluster-admin")
            || bound_role(object, ctx)
                .is_some_and(|role| policy_rules(role).iter().any(|r| r.is_everything()));
        if !everything {
            return;
        }
        let scope = match object.namespace.as_deref() {
            Some(ns) if object.kind == "RoleBinding" => format!("in namespace {ns}"),
            _ => "in the whole cluster".to_string(),
        };
        for subject in subjects(object) {
            if subject.is_system() {
                continue;
            }
            out.push(Violation::new(
                subject.pointer.clone(),
                format!(
                    "{} gives {} every permission {scope} ({kind} {name})",
                    object.display(),
                    subject.describe()
                ),
            ));
        }
    }
}
