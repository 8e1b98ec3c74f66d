//! `network-default-deny`: namespaces of protected environments without a deny-all ingress
//! policy.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::WORKLOAD_KINDS;
use crate::model::workload::is_workload;
use crate::rules::Scope;
use crate::rules::scope::NAMESPACES;
use crate::rules::support::network;
use crate::rules::support::network::DefaultDenyFacts;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct NetworkDefaultDeny;

static META: RuleMeta = RuleMeta {
    id: "network-default-deny",
    title: "Namespace without a bounded default-deny ingress policy",
    summary: "a namespace of a `network.require_default_deny` environment that runs workloads whose pods are not all isolated for ingress (NetworkPolicy `podSelector: {}` with Ingress, Cilium `endpointSelector: {}` with ingress/ingressDeny, clusterwide/admin policies selecting the namespace) with bounded admission; a policy admitting everything (`ingress: [{}]`, empty `from`, `fromEntities: [world]`, `0.0.0.0/0`) isolates nothing",
    severity: Severity::Medium,
    tags: &["network", "security"],
    remediation: "Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress]` and no ingress rules to the namespace, then allow the traffic each workload needs with narrower policies.",
    doc: r#"A namespace of an environment listed in `network.require_default_deny` that runs
workloads but is not default-deny for ingress, as the CNI enforces it: every pod must be
isolated for ingress **and** what isolates them must admit only a bounded set of peers.

Isolating every pod of the namespace (any one is enough):

- a `NetworkPolicy` with an empty `podSelector` (`{}`) whose `policyTypes` include `Ingress`
  (Kubernetes assumes `Ingress` when `policyTypes` is absent);
- a `CiliumNetworkPolicy` rule (`spec` or an entry of `specs`) whose `endpointSelector` selects
  every endpoint of the namespace (`{}`, or only the namespace's own labels) and that has an
  `ingress` or `ingressDeny` section: Cilium puts every selected endpoint in ingress
  default-deny as soon as a rule has one (unless `enableDefaultDeny.ingress: false`), and
  `ingress: [{}]` admits nothing;
- the same Cilium rule in a `CiliumClusterwideNetworkPolicy` whose `endpointSelector` is empty
  or looks only at namespaces (`io.kubernetes.pod.namespace`,
  `io.cilium.k8s.namespace.labels.*`) and selects this one;
- an `AdminNetworkPolicy` or `BaselineAdminNetworkPolicy` whose `subject` selects the
  namespace (by `namespaces`, or `pods` with an empty `podSelector`) with a `Deny` ingress rule
  from every namespace or every pod;
- a Kyverno `ClusterPolicy` with a `generate` rule creating such a NetworkPolicy (the usual
  "add default deny to every namespace" policy; its `match` is not evaluated).

Bounded admission: the isolating policy may admit the same namespace, named namespaces or
pods, the ingress controller, the cluster (which peers cross environments is
`env-isolation`'s business). A policy selecting every pod that admits **everything** isolates
nothing, whatever its name says, and since ingress is the union of all policies it also undoes
every other policy's isolation: `ingress: [{}]` or an ingress rule without `from` (with or
without ports) in a NetworkPolicy, an `ipBlock`/CIDR `0.0.0.0/0` or `::/0`, Cilium
`fromEntities` with `all` or `world` (so `cluster` plus `world` too). The message names the
policy and what it admits, or what was searched when nothing isolates the namespace.

Fields a Cilium policy's CRD does not define are warned about at their file:line; the API
server prunes them, so the policy is judged without them. Reported on the Namespace object when
the inventory has one, else on the namespace's first workload by kind and name.

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
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  template:
    spec:
      containers: [{name: api, image: harbor.example.com/shop/api:1.4.2}]
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
    scope: Scope::workloads()
        .and_kinds(NAMESPACES)
        .reading(&[network::READS, WORKLOAD_KINDS]),
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
        let Some(missing) = facts.missing_reported_on(index) else {
            return;
        };
        let (ns, env) = (&missing.namespace, &missing.environment);
        let message = if missing.opened_by.is_empty() {
            format!(
                "namespace {ns} (environment {env}) runs workloads but no policy isolates all of its pods for ingress: searched NetworkPolicies with `podSelector: {{}}` and Ingress in policyTypes, CiliumNetworkPolicies with `endpointSelector: {{}}` and an ingress/ingressDeny section, and CiliumClusterwideNetworkPolicies, AdminNetworkPolicies, BaselineAdminNetworkPolicies and Kyverno-generated policies selecting the namespace"
            )
        } else {
            let opened: Vec<String> = missing
                .opened_by
                .iter()
                .map(|(policy, why)| format!("{policy} admits {why}"))
                .collect();
            let isolated = if missing.isolated_by.is_empty() {
                String::new()
            } else {
                format!(
                    "; the isolation of {} is undone by it",
                    missing.isolated_by.join(", ")
                )
            };
            format!(
                "namespace {ns} (environment {env}) runs workloads but is not default-deny for ingress: {}, so it isolates nothing{isolated}",
                opened.join("; ")
            )
        };
        out.push(Violation::new("", message));
    }
}
