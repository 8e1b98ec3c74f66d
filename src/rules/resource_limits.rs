//! `resource-limits`: containers without memory (and cpu) limits, or limits below requests.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::quantity::quantity_of;
use crate::model::workload::{ContainerRole, for_each_container};
use crate::rules::Scope;
use crate::rules::resource_requests::{RESOURCES, show_quantity};
use crate::rules::support::limit_range;
use crate::rules::support::limit_range::LimitRangeDefaults;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ResourceLimits;

static META: RuleMeta = RuleMeta {
    id: "resource-limits",
    title: "Container without memory or CPU limits, or a limit below its request",
    summary: "A container without memory (and cpu) limits, or a limit below its request; high when the LimitRange makes the API server reject it (a request above the inherited default limit, a limit above `max`, a ratio above `maxLimitRequestRatio`)",
    severity: Severity::Medium,
    tags: &["resources", "reliability"],
    remediation: "Set `resources.limits.memory` (and `cpu`, unless `resources.require_cpu_limit: false`) on every container, at or above its request.",
    doc: r#"A container or init container of a workload without `resources.limits.memory`, or
without `resources.limits.cpu` unless `resources.require_cpu_limit: false` is configured. A
LimitRange of type `Container` in the same namespace with a `default` for the resource counts
as a limit. Also reported: a limit below the request for the same resource, which the API
server rejects.

LimitRange values are applied the way the API server applies them, and what it would reject
is reported at **high** severity at the container's value: a LimitRange's `default` limit (or
its `max`, which becomes the default when `default` is absent) below a request the container
sets explicitly (the container inherits a limit below its request: rejected), a limit above
the LimitRange's `max`, or a limit/request ratio above its `maxLimitRequestRatio`. A
LimitRange quantity that cannot be read is a warning at its file:line and is ignored. A
workload without a namespace (nothing says where it lands) is not judged against LimitRange
values.

### Why

A container without a memory limit can take a node's memory until the kernel's OOM killer
picks a victim, often another team's pod. CPU limits are a policy choice (throttling against
noisy neighbours), hence the switch.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          resources:
            requests:
              memory: 512Mi
            limits:
              memory: 256Mi     # below the request
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          resources:
            requests: {cpu: 100m, memory: 256Mi}
            limits: {cpu: "1", memory: 512Mi}
```

### Remediation

Set limits from observed peaks with some headroom; for memory, the limit is the point at
which the container is killed. Or give the namespace a LimitRange with `default` limits.

### Configuration

- `resources.require_cpu_limit` (default `true`): set to `false` to require memory limits only.

### Compared with other tools

Agrees with kube-linter `unset-memory-requirements` (a memory *limit* check despite its name),
kube-score `Container Resources` and Polaris `cpuLimitsMissing`/`memoryLimitsMissing` on all
their fixtures. kube-score's `IgnoreContainerCpuLimitRequirement` is
`resources.require_cpu_limit: false` here; ignoring the memory limit too amounts to disabling
this rule (`rules.disable: [resource-limits]`). None of them reports a limit below its request.
"#,
    scope: Scope::workloads().reading(&[limit_range::READS]),
};

impl Rule for ResourceLimits {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        // Built by the first container: an object without one reads no LimitRange.
        let mut defaults = None;
        let namespace = object.namespace.as_deref();
        let require_cpu = ctx.config.resources.require_cpu_limit;
        for_each_container(object, |_, container| {
            let defaults =
                defaults.get_or_insert_with(|| ctx.memo(|| LimitRangeDefaults::build(ctx)));
            if container.role == ContainerRole::Ephemeral {
                return;
            }
            // What the namespace's LimitRanges make the API server reject.
            for rejection in defaults.rejections(namespace, &container) {
                if rejection.about_limits {
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
            let missing: Vec<&str> = RESOURCES
                .into_iter()
                .filter(|r| *r == "memory" || require_cpu)
                .filter(|r| {
                    container
                        .resource("limits", r)
                        .is_none_or(crate::model::value::Value::is_null)
                        && !defaults.gives_limit(namespace, r)
                })
                .collect();
            if !missing.is_empty() {
                let what = missing
                    .iter()
                    .map(|r| format!("{r} limit"))
                    .collect::<Vec<_>>()
                    .join(" and no ");
                out.push(Violation::new(
                    container.pointer.clone(),
                    format!("{} has no {what}", container.subject(object)),
                ));
            }
            for resource in RESOURCES {
                let (Some(limit), Some(request)) = (
                    container.resource("limits", resource),
                    container.resource("requests", resource),
                ) else {
                    continue;
                };
                if let (Some(l), Some(r)) = (quantity_of(limit), quantity_of(request))
                    && l < r
                {
                    out.push(Violation::new(
                        format!("{}/resources/limits/{resource}", container.pointer),
                        format!(
                            "{} has a {resource} limit ({}) below its request ({})",
                            container.subject(object),
                            show_quantity(limit),
                            show_quantity(request)
                        ),
                    ));
                }
            }
        });
    }
}
