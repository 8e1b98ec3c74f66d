//! `rbac-escalation`: roles that grant a way to more rights than they list.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::pod_security::Level;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::Admission;
use crate::rules::support::rbac;
use crate::rules::support::rbac::{Match, PolicyRule, is_default_role, is_role, policy_rules};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct RbacEscalation;

/// Escalation paths: (API group, resource, verbs, what it gives).
const PATHS: &[(&str, &str, &[&str], &str)] = &[
    (
        "rbac.authorization.k8s.io",
        "roles",
        &["bind", "escalate"],
        "grant any permission through Roles",
    ),
    (
        "rbac.authorization.k8s.io",
        "clusterroles",
        &["bind", "escalate"],
        "grant any permission through ClusterRoles",
    ),
    ("", "users", &["impersonate"], "act as any user"),
    (
        "",
        "groups",
        &["impersonate"],
        "act as any group, `system:masters` included",
    ),
    (
        "",
        "serviceaccounts",
        &["impersonate"],
        "act as any ServiceAccount",
    ),
    (
        "",
        "serviceaccounts/token",
        &["create"],
        "mint tokens of other ServiceAccounts",
    ),
    (
        "",
        "pods/exec",
        &["create", "get"],
        "run commands in other pods and read their Secrets",
    ),
    (
        "",
        "pods/attach",
        &["create", "get"],
        "attach to other pods' processes",
    ),
    (
        "",
        "pods/ephemeralcontainers",
        &["update", "patch"],
        "add debug containers to running pods",
    ),
    (
        "",
        "nodes/proxy",
        &["get", "create"],
        "call the kubelet API (exec in any pod on the node)",
    ),
];

static META: RuleMeta = RuleMeta {
    id: "rbac-escalation",
    title: "Role grants a privilege escalation path",
    summary: "`bind`/`escalate`/`impersonate`, `pods/exec`, `serviceaccounts/token`, `nodes/proxy`, or pod creation where admission holds nothing",
    severity: Severity::High,
    tags: &["security", "rbac"],
    remediation: "Remove the escalation verb or subresource from the role; give the few people who need it a separate, audited role.",
    doc: r#"A Role or ClusterRole rule that names an escalation path explicitly: `bind` or
`escalate` on `roles`/`clusterroles`, `impersonate` on `users`, `groups` or
`serviceaccounts`, `create` on `serviceaccounts/token`, `create` or `get` on `pods/exec` or
`pods/attach`, `update`/`patch` on `pods/ephemeralcontainers`, `get`/`create` on
`nodes/proxy`, and `create` on `pods` in a Role of a namespace that Pod Security admission does
not hold to at least `baseline` (there a new pod may be privileged, use host namespaces or
mount the node). One finding per rule, at the rule, listing the paths. Grants that come only
from a `*` are `rbac-wildcard`'s finding. Roles Kubernetes ships are left alone.

### Why

Each path leads to more than the role lists: `escalate`/`bind` write any permission into a
role, `impersonate` acts as `system:masters`, a token of another ServiceAccount carries its
rights, exec reads the Secrets mounted in other pods, and a privileged pod is the node.
`get` on `pods/exec` counts because clusters before v1.31 authorize the WebSocket exec
with `get`. Severity is **high**.

### Failing example

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: debugger
  namespace: shop-prod
rules:
  - apiGroups: [""]
    resources: ["pods/exec"]
    verbs: ["create"]
```

### Passing example

```yaml
rules:
  - apiGroups: [""]
    resources: ["pods", "pods/log"]
    verbs: ["get", "list", "watch"]
```

### Remediation

Remove the path. For debugging production, a break-glass role bound for a limited time (and
visible in the audit log) is better than a standing grant; for pod creation, label the
namespace `pod-security.kubernetes.io/enforce: restricted` (or `baseline`).

### Compared with other tools

Agrees with Polaris `clusterrolePodExecAttach`, `rolePodExecAttach` and the binding variants
(compared together with `rbac-wildcard`, which reports the wildcard forms), except on a
binding to a role missing from the inventory, which Polaris fails and tollgate cannot judge
(by design). kube-linter `access-to-create-pods` reports `create` on pods wherever it is
granted; tollgate only where Pod Security admission does not hold the namespace.
"#,
    scope: Scope::kinds(rbac::ROLES).reading(&[pod_security::READS]),
};

fn paths(rule: &PolicyRule<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for (group, resource, verbs, gives) in PATHS {
        let granted: Vec<&str> = verbs
            .iter()
            .copied()
            .filter(|verb| rule.grants(group, resource, verb) == Some(Match::Explicit))
            .collect();
        if !granted.is_empty() {
            found.push(format!("{} on `{resource}` ({gives})", granted.join("/")));
        }
    }
    found
}

impl Rule for RbacEscalation {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !is_role(object) || is_default_role(object) {
            return;
        }
        let unguarded_namespace = object.kind == "Role"
            && Admission::of(object, ctx)
                .holding(Level::Baseline)
                .is_none();
        for rule in policy_rules(object) {
            let mut found = paths(&rule);
            if unguarded_namespace && rule.grants("", "pods", "create") == Some(Match::Explicit) {
                found.push(format!(
                    "create on `pods` in namespace {}, which Pod Security admission does not hold to baseline (privileged pods, host namespaces, hostPath)",
                    object.namespace.as_deref().unwrap_or_default()
                ));
            }
            if found.is_empty() {
                continue;
            }
            out.push(Violation::new(
                rule.pointer.clone(),
                format!("{} grants {}", object.display(), found.join("; ")),
            ));
        }
    }
}
