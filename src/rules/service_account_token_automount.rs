//! `service-account-token-automount`: pods that mount an API token they have no use for.

use crate::model::kinds::Kind;
use crate::model::value::Value;
use crate::rules::Scope;
use crate::rules::support::rbac;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::{flag, pod_spec};
use crate::rules::support::rbac::{BoundServiceAccounts, service_account_automount};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ServiceAccountTokenAutomount;

static META: RuleMeta = RuleMeta {
    id: "service-account-token-automount",
    title: "Pod mounts a ServiceAccount token it has no rights for",
    summary: "A pod mounting the token of a ServiceAccount no binding grants anything",
    severity: Severity::Low,
    tags: &["security", "rbac"],
    remediation: "Set `automountServiceAccountToken: false` in the pod spec (or on its ServiceAccount).",
    doc: r#"A workload whose pods get a ServiceAccount token mounted although no RoleBinding or
ClusterRoleBinding of the inventory names their ServiceAccount (`serviceAccountName`, else
`default`), directly, as `system:serviceaccount:<ns>:<name>`, or through the
`system:serviceaccounts[:<ns>]` groups. The token is mounted unless the pod spec sets
`automountServiceAccountToken: false`, or leaves it unset and the ServiceAccount object sets
it to `false`. The finding points at the pod spec's `automountServiceAccountToken` when it is
`true`, else at `serviceAccountName`, else at the pod spec.

### Why

Without bindings the token only authenticates (discovery, `SelfSubjectReview`), so the pod
does not need it; mounted, it is one more credential an attacker in the pod can use against
the API server, and it starts working the day someone binds a role to the ServiceAccount
(often `default`) for another workload. Severity is **low**.

### Failing example

```yaml
    spec:
      containers:
        - name: web
          image: harbor.example.com/shop/web:1.2.0
```

### Passing example

```yaml
    spec:
      automountServiceAccountToken: false
      containers:
        - name: web
          image: harbor.example.com/shop/web:1.2.0
```

### Remediation

Add `automountServiceAccountToken: false` to the pod spec, or to the ServiceAccount so that
every pod using it is covered. Workloads that talk to the API server need a binding, and then
the token is not reported.

### Compared with other tools

Polaris `automountServiceAccountToken` reports every pod that mounts the token; tollgate only
those whose ServiceAccount has no binding (none of its fixtures has one, so they agree).
"#,
    scope: Scope::workloads().reading(&[&[Kind::new("", "ServiceAccount")], rbac::READS]),
};

impl Rule for ServiceAccountTokenAutomount {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let Some(spec) = pod_spec(object) else {
            return;
        };
        let pod_setting = spec.get("automountServiceAccountToken").and_then(flag);
        if pod_setting == Some(false) {
            return;
        }
        let namespace = object.namespace.as_deref().unwrap_or("default");
        let account = spec
            .get("serviceAccountName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("default");
        if pod_setting.is_none() {
            let off = ctx
                .inventory
                // Same namespace as the pod, also when neither names one (both land in the
                // namespace they are applied to).
                .find("ServiceAccount", object.namespace.as_deref(), account)
                .any(|sa| sa.group().is_empty() && service_account_automount(sa) == Some(false));
            if off {
                return;
            }
        }
        if BoundServiceAccounts::of(ctx).contains(namespace, account) {
            return;
        }
        let pointer = if pod_setting == Some(true) {
            spec.pointer_to("automountServiceAccountToken")
        } else if spec.get("serviceAccountName").is_some() {
            spec.pointer_to("serviceAccountName")
        } else {
            spec.pointer.to_string()
        };
        out.push(Violation::new(
            pointer,
            format!(
                "{} mounts the token of ServiceAccount {namespace}/{account}, which no RoleBinding or ClusterRoleBinding grants anything",
                object.display()
            ),
        ));
    }
}
