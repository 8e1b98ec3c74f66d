//! `rbac-wildcard`: Role and ClusterRole rules that grant `*`.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::rbac;
use crate::rules::support::rbac::{is_default_role, is_role, policy_rules};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct RbacWildcard;

static META: RuleMeta = RuleMeta {
    id: "rbac-wildcard",
    title: "RBAC rule grants a wildcard",
    summary: "A Role or ClusterRole rule granting `*` groups, resources or verbs",
    severity: Severity::Medium,
    tags: &["security", "rbac"],
    remediation: "List the API groups, resources and verbs the subject needs instead of `*`.",
    doc: r#"A Role or ClusterRole rule with `*` among its `apiGroups`, `resources` or `verbs`: one
finding per rule, at the rule. Roles Kubernetes ships are left alone (`cluster-admin`,
`admin`, `edit`, `view`, `system:` ClusterRoles, roles labelled
`kubernetes.io/bootstrapping: rbac-defaults`, `system:` Roles in `kube-system`).

### Why

A wildcard grants today's resources and every one added later: a new CRD (Secrets of an
operator, Velero restores, Argo CD Applications) becomes reachable without anyone deciding
so, and `verbs: ["*"]` includes `escalate`, `bind` and `impersonate`. Severity is
**medium**; binding a role that grants everything is `rbac-cluster-admin-binding` (high).

### Failing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: deployer
  namespace: shop-prod
rules:
  - apiGroups: ["apps"]
    resources: ["*"]
    verbs: ["*"]
```

### Passing example

```yaml
rules:
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["get", "list", "watch", "update", "patch"]
```

### Remediation

Replace each `*` with the names the subject uses (`kubectl auth can-i --list --as …` on the
current role, or the audit log, shows them).

### Compared with other tools

Agrees with kube-linter `wildcard-in-rules`. Polaris reports wildcards only as part of its
pod exec/attach checks, compared with `rbac-escalation` and this rule together; Polaris
also exempts GKE's `gce:podsecuritypolicy:calico-sa` role by name, tollgate does not (by
design: only Kubernetes' own roles are exempt).
"#,
    scope: Scope::kinds(rbac::ROLES),
};

impl Rule for RbacWildcard {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !is_role(object) || is_default_role(object) {
            return;
        }
        for rule in policy_rules(object) {
            let wild: Vec<&str> = [
                ("apiGroups", &rule.api_groups),
                ("resources", &rule.resources),
                ("verbs", &rule.verbs),
            ]
            .into_iter()
            .filter(|(_, list)| list.contains(&"*"))
            .map(|(field, _)| field)
            .collect();
            if wild.is_empty() {
                continue;
            }
            out.push(Violation::new(
                rule.pointer.clone(),
                format!(
                    "{} grants `*` in {} of one of its rules",
                    object.display(),
                    wild.join(", ")
                ),
            ));
        }
    }
}
