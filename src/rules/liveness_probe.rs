//! `liveness-probe`: long-running containers without a liveness probe.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::for_each_container;
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct LivenessProbe;

static META: RuleMeta = RuleMeta {
    id: "liveness-probe",
    title: "Container without a liveness probe",
    summary: "A long-running container without a liveness probe",
    severity: Severity::Low,
    tags: &["reliability", "probes"],
    remediation: "Add a `livenessProbe` that fails only when the process is stuck (a cheap endpoint that does not check dependencies).",
    doc: r#"A long-running container of a workload without a `livenessProbe`: every regular
container and every sidecar (an init container with `restartPolicy: Always`, which runs for
the pod's lifetime and supports probes). Not checked:

- ordinary init containers, which run to completion;
- ephemeral containers, which cannot have probes;
- pods that run to completion: Jobs, CronJobs, Pods owned by a Job, and any pod whose
  `restartPolicy` is `Never` or `OnFailure` (the API server only allows `Always` for
  Deployments, StatefulSets, DaemonSets and ReplicaSets, so those are always checked).

### Why

Without a liveness probe a process that deadlocks, or stops serving while staying up, is
never restarted: the pod stays `Running`, and only a human notices. Severity is **low**:
a crashing process is restarted anyway, and a liveness probe that checks too much (a
database, a downstream API) restarts healthy pods in a cascade when a dependency fails —
a careless probe can do more harm than none, so this is a nudge, not a gate.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
            periodSeconds: 10
            failureThreshold: 6
```

### Remediation

Add a `livenessProbe` on an endpoint (or `exec` command) that only checks that the process
itself is responsive. Give it a generous `failureThreshold` and a `startupProbe` for slow
starters, so that it does not kill pods under load or during start-up.

### Compared with other tools

Agrees with kube-linter `no-liveness-probe` (container for container; it skips init
containers too) and Polaris `livenessProbeMissing`. kube-score's `Pod Probes` differs on
purpose in two ways: it is satisfied when *any* container of the pod has a liveness probe
(tollgate checks each container, because the kubelet restarts each container on its own
probe only), and it only checks pods a Service selects (tollgate checks every long-running
workload; a stuck worker that no Service selects needs restarting just as much).
"#,
    scope: Scope::workloads(),
};

impl Rule for LivenessProbe {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        for_each_container(object, |spec, container| {
            if spec.runs_to_completion(object) {
                return;
            }
            if !container.is_long_running() {
                return;
            }
            if container.get("livenessProbe").is_some_and(|p| !p.is_null()) {
                return;
            }
            let what = if container.is_sidecar() {
                format!("sidecar {}", container.describe())
            } else {
                container.describe()
            };
            out.push(Violation::new(
                container.pointer.clone(),
                format!("{what} of {} has no liveness probe", object.display()),
            ));
        });
    }
}
