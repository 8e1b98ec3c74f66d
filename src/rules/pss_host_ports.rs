//! `pss-host-ports`: containers that bind a port of the node (Pod Security Standards, baseline).

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::integer;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssHostPorts;

static META: RuleMeta = RuleMeta {
    id: "pss-host-ports",
    title: "Container binds a host port",
    summary: "A container port with a `hostPort`",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline", "host-access"],
    remediation: "Remove `hostPort` from the container's ports and expose the pod through a Service (NodePort or LoadBalancer if it must be reachable from outside).",
    doc: r#"A container, init container or ephemeral container with a `ports[].hostPort` other
than `0`, at that field: one finding per port. This is the *Host Ports* control of the Pod
Security Standards, level **baseline** (it allows only unset or `0`).

### Why

A host port opens the port on every node the pod runs on, outside NetworkPolicies' reach on
many CNIs, and ties the pod to nodes where the port is free (two replicas cannot share a
node). It also lets the pod shadow a node service. Severity is **medium**: it widens
exposure rather than giving the node away.

### Failing example

```yaml
      containers:
        - name: ingress
          image: harbor.example.com/net/ingress:1.9.0
          ports:
            - containerPort: 443
              hostPort: 443
```

### Passing example

```yaml
      containers:
        - name: ingress
          image: harbor.example.com/net/ingress:1.9.0
          ports:
            - containerPort: 443
```

### Remediation

Remove `hostPort` and put a Service in front of the pods. Ingress controllers on bare
metal that need host ports belong in a namespace labelled
`pod-security.kubernetes.io/enforce: privileged`, exempted with a reason.

### Pod Security Standards

Level **baseline** (control *Host Ports*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

Agrees with Polaris `hostPortSet` on all its fixtures. kube-linter and kube-score have no
host port check.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssHostPorts {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_containers(&META, object, ctx, out, |_, container, _, out| {
            let ports = container.get("ports").and_then(|p| p.as_array());
            for (i, port) in ports.into_iter().flatten().enumerate() {
                let Some(host_port) = port.get("hostPort").filter(|v| !v.is_null()) else {
                    continue;
                };
                if integer(host_port) == Some(0) {
                    continue;
                }
                let shown = match host_port {
                    crate::model::value::Value::String(s) => s.clone(),
                    other => other.to_string().into(),
                };
                out.push(Violation::new(
                    container.pointer_to(&format!("ports/{i}/hostPort")),
                    format!(
                        "{} binds host port {shown} on every node it runs on",
                        container.subject(object)
                    ),
                ));
            }
        });
    }
}
