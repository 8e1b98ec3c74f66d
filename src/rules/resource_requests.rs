//! `resource-requests`: containers without cpu/memory requests.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::{ContainerRole, is_workload, pod_spec};
use crate::rules::support::limit_range::LimitRangeDefaults;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ResourceRequests;

static META: RuleMeta = RuleMeta {
    id: "resource-requests",
    title: "Container without CPU or memory requests",
    severity: Severity::Medium,
    tags: &["resources", "reliability"],
    remediation: "Set `resources.requests.cpu` and `resources.requests.memory` on every container, or give the namespace a LimitRange with `defaultRequest`.",
    doc: r#"A container or init container of a workload that has no `resources.requests` for
`cpu` or `memory`. A request counts as set when the container sets it, when it sets a limit
for the resource (the API server then uses the limit as the request), or when a LimitRange of
type `Container` in the same namespace gives a `defaultRequest` (or a `default`) for it.
Ephemeral debug containers are not checked.

### Why

The scheduler places pods by their requests. Without them a pod is scheduled as if it used
nothing, lands on a full node, and is the first to be evicted (QoS class `BestEffort`) when
the node runs short. On shared K3s nodes one such pod degrades its neighbours.

### Failing example

```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          resources:
            requests:
              cpu: 100m
              memory: 256Mi
```

### Remediation

Set requests from observed usage (for example the 90th percentile over a week), or add a
LimitRange with `defaultRequest` to the namespace so every container gets one.
"#,
};

pub(crate) const RESOURCES: [&str; 2] = ["cpu", "memory"];

impl Rule for ResourceRequests {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn applies_to(&self, object: &Object, _ctx: &Context<'_>) -> bool {
        is_workload(object)
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let Some(spec) = pod_spec(object) else {
            return;
        };
        let defaults = ctx.memo(|| LimitRangeDefaults::build(ctx.inventory));
        let namespace = object.namespace.as_deref();
        for container in spec.containers() {
            if container.role == ContainerRole::Ephemeral {
                continue;
            }
            let missing: Vec<&str> = RESOURCES
                .into_iter()
                .filter(|r| {
                    container.resource("requests", r).is_none()
                        && container.resource("limits", r).is_none()
                        && !defaults.gives_request(namespace, r)
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            let what = missing
                .iter()
                .map(|r| format!("{r} request"))
                .collect::<Vec<_>>()
                .join(" and no ");
            out.push(Violation::new(
                container.pointer.clone(),
                format!(
                    "{} of {} has no {what}",
                    container.describe(),
                    object.display()
                ),
            ));
        }
    }
}
