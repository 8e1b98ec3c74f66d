//! `network-default-deny`: namespaces of protected environments without a deny-all ingress
//! policy.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::is_workload;
use crate::rules::support::network::DefaultDenyFacts;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct NetworkDefaultDeny;

static META: RuleMeta = RuleMeta {
    id: "network-default-deny",
    title: "Namespace without a default-deny ingress NetworkPolicy",
    severity: Severity::Medium,
    tags: &["network", "security"],
    remediation: "Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress]` and no ingress rules to the namespace, then allow the traffic each workload needs with narrower policies.",
    doc: r#"A namespace of an environment listed in `network.require_default_deny` that runs
workloads but has no policy selecting all of its pods that denies ingress. Accepted as a
default deny:

- a `NetworkPolicy` with an empty `podSelector` (`{}`) whose `policyTypes` include `Ingress`
  and that has no `ingress` rules (absent or `[]`), or that has neither `policyTypes` nor
  `ingress` (Kubernetes then assumes `Ingress`);
- a `CiliumNetworkPolicy` (its `spec` or an entry of `specs`) with an empty `endpointSelector`
  and either `ingress` rules that are all empty (`ingress: [{}]`, Cilium's documented "deny all
  ingress") or an `ingressDeny` rule `fromEntities: [all]`;
- the same Cilium rule in a `CiliumClusterwideNetworkPolicy`, either with an empty
  `endpointSelector` (every namespace) or one that selects namespaces only
  (`io.kubernetes.pod.namespace`, `io.cilium.k8s.namespace.labels.*`);
- a Kyverno `ClusterPolicy` with a `generate` rule creating such a NetworkPolicy (the usual
  "add default deny to every namespace" policy; its `match` is not evaluated).

A policy that admits some traffic (`ingress: [{from: …}]`) also isolates the pods it selects,
but it is not accepted: the point of a default deny is that it stays in place when the
allow-policies change. Reported on the Namespace object when the inventory has one, else on
the namespace's first workload by kind and name.

### Why

Kubernetes admits all traffic to a pod that no policy selects. Without a default deny, a
compromised pod anywhere in the cluster (including a development namespace) can reach every
production service and database.

### Failing example

```yaml
apiVersion: v1
kind: Namespace
metadata:
  name: shop-prod         # runs workloads, no deny-all policy
```

### Passing example

```yaml
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: shop-prod
spec:
  podSelector: {}
  policyTypes: [Ingress]
```

### Remediation

Add the default-deny policy, then one allow-policy per workload (from the ingress controller,
from the namespaces that call it, from monitoring).

### Configuration

- `network.require_default_deny` (default `[prod]`): environments whose namespaces need it.
"#,
};

impl Rule for NetworkDefaultDeny {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !(object.is("", "Namespace") || is_workload(object)) {
            return;
        }
        let facts = ctx.memo(|| DefaultDenyFacts::build(ctx));
        let Some(index) = ctx.inventory.index_of(object) else {
            return;
        };
        let Some((ns, env)) = facts.missing_reported_on(index) else {
            return;
        };
        out.push(Violation::new(
            "",
            format!(
                "namespace {ns} (environment {env}) runs workloads but no NetworkPolicy denies ingress by default (empty podSelector, no ingress rules)"
            ),
        ));
    }
}
