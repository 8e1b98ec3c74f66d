//! `readiness-probe`: long-running pods whose containers have no readiness probe.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::{ContainerRole, pod_spec};
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ReadinessProbe;

static META: RuleMeta = RuleMeta {
    id: "readiness-probe",
    title: "Pod without a readiness probe",
    summary: "A long-running workload whose containers have no readiness probe",
    severity: Severity::Medium,
    tags: &["reliability", "probes"],
    remediation: "Add a `readinessProbe` to the container that serves, on an endpoint that answers only when it can handle requests.",
    doc: r#"A long-running workload none of whose regular containers has a `readinessProbe`.
The check is per pod, like readiness itself: a pod is Ready when all its containers are, and
a container without a probe counts as ready as soon as it runs, so one probe on the container
that serves is enough and helpers beside it (exporters, proxies) need none. Sidecar init
containers (`restartPolicy: Always`) neither need a readiness probe nor stand in for the
application's. The finding points at the first regular container.

Not checked: pods that run to completion — Jobs, CronJobs, Pods owned by a Job, and any pod
whose `restartPolicy` is `Never` or `OnFailure`.

### Why

Without a readiness probe a pod is Ready the moment its process starts: Services send it
traffic before it has loaded its configuration or warmed up, and keep sending while it is
overloaded or has lost its database, so users see errors on every rollout. Readiness also
drives rollouts themselves: a Deployment, StatefulSet or DaemonSet replaces the next pod as
soon as the new one is Ready, and PodDisruptionBudgets count Ready pods, so a rollout of a
broken version proceeds at full speed. Severity is **medium**: it costs availability on
every deploy, but not security.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          ports:
            - containerPort: 8080
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          ports:
            - containerPort: 8080
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
            periodSeconds: 5
        - name: metrics-exporter      # no probe needed beside one that has it
          image: harbor.example.com/shop/exporter:0.9.1
```

### Remediation

Add a `readinessProbe` to the serving container on an endpoint that returns success only
when the application can take requests (configuration loaded, connections open). Unlike a
liveness probe it may check dependencies: failing it only takes the pod out of rotation.

### Compared with other tools

Agrees with kube-linter `no-readiness-probe` and Polaris `readinessProbeMissing` on their
fixtures, which have one container per pod. kube-score's `Pod Probes` is also per pod, but
checks only pods that a Service in the same scan selects; tollgate checks every long-running
workload, because readiness also paces rollouts and PodDisruptionBudgets, and because the
Service often lives in another chart or repository than the workload. kube-score reports its
"not selected by a Service" fixtures as passing; tollgate reports them on purpose.
"#,
    scope: Scope::workloads(),
};

impl Rule for ReadinessProbe {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let Some(spec) = pod_spec(object) else {
            return;
        };
        if spec.runs_to_completion(object) {
            return;
        }
        let main: Vec<_> = spec
            .containers()
            .into_iter()
            .filter(|c| c.role == ContainerRole::Main)
            .collect();
        let Some(first) = main.first() else {
            return;
        };
        if main
            .iter()
            .any(|c| c.get("readinessProbe").is_some_and(|p| !p.is_null()))
        {
            return;
        }
        let message = if main.len() == 1 {
            format!(
                "{} of {} has no readiness probe",
                first.describe(),
                object.display()
            )
        } else {
            let names: Vec<String> = main.iter().map(|c| format!("`{}`", c.name)).collect();
            format!(
                "none of the containers of {} ({}) has a readiness probe",
                object.display(),
                names.join(", ")
            )
        };
        out.push(Violation::new(first.pointer.clone(), message));
    }
}
