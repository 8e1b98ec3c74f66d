//! `resource-requests`: containers without cpu/memory requests.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::{ContainerRole, for_each_container};
use crate::rules::Scope;
use crate::rules::support::limit_range;
use crate::rules::support::limit_range::LimitRangeDefaults;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ResourceRequests;

static META: RuleMeta = RuleMeta {
    id: "resource-requests",
    title: "Container without CPU or memory requests",
    summary: "A container without cpu/memory requests, unless a LimitRange gives defaults (low when only a limit is set: the request silently equals it); high when its request is below the LimitRange `min` (rejected at admission)",
    severity: Severity::Medium,
    tags: &["resources", "reliability"],
    remediation: "Set `resources.requests.cpu` and `resources.requests.memory` on every container, or give the namespace a LimitRange with `defaultRequest`.",
    doc: r#"A container or init container of a workload without an explicit
`resources.requests` for `cpu` or `memory`. A request the container does not set counts as
given when a LimitRange of type `Container` in the same namespace gives a `defaultRequest` (or
a `default`) for it. A container that sets a *limit* but no request is reported at severity
**low**: the API server copies the limit into the request, so the pod is scheduled, but it
reserves its whole limit. Each container gets one finding naming every missing request, at the
severity of the worst. Ephemeral debug containers are not checked.

LimitRange values count the way the API server applies them: a `Container` item's
`defaultRequest`, else its `default`, else its `min` gives the default request. A request
(explicit, copied from the limit, or inherited) below the LimitRange's `min` is rejected at
admission and reported at **high** severity at the request. Limit-side rejections (`max`,
`maxLimitRequestRatio`, an inherited default limit below the request) are `resource-limits`'
business.

### Why

The scheduler places pods by their requests. Without them a pod is scheduled as if it used
nothing, lands on a full node, and is the first to be evicted (QoS class `BestEffort`) when
the node runs short. On shared K3s nodes one such pod degrades its neighbours.

A request copied from a limit is safe but rarely meant: limits are set for peaks, so the pod
reserves capacity it does not use and nodes look full while they idle. That is a cost
problem, hence only **low**.

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
        - name: proxy                 # low: requests become 2 CPUs and 1Gi
          image: harbor.example.com/shop/proxy:2.0.0
          resources:
            limits: {cpu: "2", memory: 1Gi}
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
LimitRange with `defaultRequest` to the namespace so every container gets one. Where the
request should equal the limit (QoS class `Guaranteed`), write it out.

### Compared with other tools

Agrees with kube-linter `unset-cpu-requirements`, kube-score `Container Resources` and
Polaris `cpuRequestsMissing`/`memoryRequestsMissing` on all their fixtures. All three report a
container with limits but no requests (kube-score as a warning), which is why tollgate reports
it too, at low severity, rather than treating the copied limit as a deliberate request.
"#,
    scope: Scope::workloads().reading(&[limit_range::READS]),
};

pub(crate) const RESOURCES: [&str; 2] = ["cpu", "memory"];

impl Rule for ResourceRequests {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        // Built by the first container: an object without one reads no LimitRange.
        let mut defaults = None;
        let namespace = object.namespace.as_deref();
        for_each_container(object, |_, container| {
            let defaults =
                defaults.get_or_insert_with(|| ctx.memo(|| LimitRangeDefaults::build(ctx)));
            if container.role == ContainerRole::Ephemeral {
                return;
            }
            // What the namespace's LimitRanges make the API server reject.
            for rejection in defaults.rejections(namespace, &container) {
                if !rejection.about_limits {
                    out.push(
                        Violation::new(
                            rejection.pointer(&container.pointer),
                            format!("{} {}", container.subject(object), rejection.message),
                        )
                        .with_severity(Severity::High)
                        .with_remediation(
                            "Make the container's requests and limits fit the namespace's LimitRange (min, max, default limit, maxLimitRequestRatio), or change the LimitRange: the API server rejects the pod as it is.",
                        ),
                    );
                }
            }
            // Requests the container leaves to a LimitRange or to nothing, and those the API
            // server will copy from the container's limits.
            let mut missing = Vec::new();
            let mut copied = Vec::new();
            for resource in RESOURCES {
                if is_set(container.resource("requests", resource)) {
                    continue;
                }
                if let Some(limit) = container
                    .resource("limits", resource)
                    .filter(|v| !v.is_null())
                {
                    copied.push(format!(
                        "no {resource} request (its {resource} limit, {}, becomes the request)",
                        show_quantity(limit)
                    ));
                } else if !defaults.gives_request(namespace, resource) {
                    missing.push(format!("no {resource} request"));
                }
            }
            if missing.is_empty() && copied.is_empty() {
                return;
            }
            let only_copied = missing.is_empty();
            let what = missing
                .into_iter()
                .chain(copied)
                .collect::<Vec<_>>()
                .join(" and ");
            let violation = Violation::new(
                container.pointer.clone(),
                format!("{} has {what}", container.subject(object)),
            );
            out.push(if only_copied {
                violation.with_severity(Severity::Low).with_remediation(
                    "Set `resources.requests` explicitly: without them the requests equal the limits and the pod reserves its whole limit.",
                )
            } else {
                violation
            });
        });
    }
}

fn is_set(value: Option<&crate::model::value::Value>) -> bool {
    value.is_some_and(|v| !v.is_null())
}

/// A quantity as written (`500m`, `1Gi`, `2`).
pub(crate) fn show_quantity(value: &crate::model::value::Value) -> String {
    match value {
        crate::model::value::Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::support::testing::violations;

    #[test]
    fn a_request_copied_from_a_limit_is_low_and_a_missing_one_is_not() {
        let found = violations(
            &ResourceRequests,
            r#"
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop-prod}
spec:
  containers:
    - name: copied
      resources: {limits: {cpu: 200m, memory: 1Gi}}
    - name: mixed
      resources: {limits: {cpu: "2"}}
    - name: none
"#,
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].severity, Some(Severity::Low));
        assert!(found[0].remediation.is_some());
        assert!(
            found[0]
                .message
                .contains("no cpu request (its cpu limit, 200m, becomes the request)"),
            "{}",
            found[0].message
        );
        // Worst part wins: the missing memory request keeps the default severity.
        assert_eq!(found[1].severity, None);
        assert!(
            found[1]
                .message
                .contains("no memory request and no cpu request (its cpu limit, 2,")
        );
        assert_eq!(found[2].severity, None);
        assert!(
            found[2]
                .message
                .ends_with("has no cpu request and no memory request")
        );
    }
}
