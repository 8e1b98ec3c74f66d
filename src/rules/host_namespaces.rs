//! `host-namespaces`: pods sharing the node's network, process or IPC namespace.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct HostNamespaces;

/// Pod spec flags and what sharing that namespace gives the pod.
const FLAGS: [(&str, &str); 3] = [
    (
        "hostNetwork",
        "the node's network namespace (every host interface and port, node-local services)",
    ),
    (
        "hostPID",
        "the node's process namespace (every process on the node, their environment and memory)",
    ),
    (
        "hostIPC",
        "the node's IPC namespace (shared memory of every process on the node)",
    ),
];

static META: RuleMeta = RuleMeta {
    id: "host-namespaces",
    title: "Pod shares a host namespace",
    summary: "A pod with `hostNetwork`, `hostPID` or `hostIPC`",
    severity: Severity::High,
    tags: &["security", "pod-security", "pss-baseline", "host-access"],
    remediation: "Remove `hostNetwork`, `hostPID` and `hostIPC` (or set them to `false`); expose ports through a Service instead of the host network.",
    doc: r#"A workload whose pod spec sets `hostNetwork`, `hostPID` or `hostIPC` to `true`: one
finding per flag, at the flag's line.

### Why

Host namespaces remove the isolation between the pod and the node. With `hostPID` a
container sees and can signal or trace every process on the node, and reads their
environment (secrets passed as env vars included); with `hostIPC` it reads shared memory of
host processes; with `hostNetwork` it binds host ports, reaches services listening on the
node's loopback (the kubelet's read-only port, local databases) and bypasses
NetworkPolicies. The Pod Security Standards forbid all three from the *baseline* profile up.
Severity is **high**: each one is a direct path from the container to the node.

CNI plugins, node exporters and ingress controllers on bare metal (Cilium, node-exporter,
Traefik with `hostNetwork`) need them by design: they are still reported, so that the
exception is recorded — exempt them in `tollgate.yaml` (`exemptions:`, by namespace or name,
with a reason) or with an `ignore.tollgate.dev/host-namespaces` annotation.

### Failing example

```yaml
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: monitoring
spec:
  template:
    spec:
      hostNetwork: true
      hostPID: true
      containers:
        - name: agent
          image: harbor.example.com/monitoring/agent:2.1.0
```

### Passing example

```yaml
    spec:
      containers:
        - name: agent
          image: harbor.example.com/monitoring/agent:2.1.0
          ports:
            - containerPort: 9100
```

### Remediation

Drop the flag and expose the pod through a Service; for monitoring agents, read host metrics
through a read-only `hostPath` of `/proc` and `/sys` rather than `hostPID`. Keep the few
workloads that need host namespaces in a dedicated namespace and exempt it with a reason.

### Pod Security Standards

Level **baseline** (control *Host Namespaces*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

Agrees with kube-linter `host-network`/`host-pid`/`host-ipc` (object for object) and Polaris
`hostNetworkSet`/`hostPIDSet`/`hostIPCSet` on all their fixtures.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for HostNamespaces {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, _, out| {
            for (field, what) in FLAGS {
                if let Some(pointer) = spec.flag_set(field) {
                    out.push(Violation::new(
                        pointer,
                        format!(
                            "{} sets `{field}: true` and shares {what}",
                            object.display()
                        ),
                    ));
                }
            }
        });
    }
}
