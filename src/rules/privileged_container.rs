//! `privileged-container`: containers with `securityContext.privileged: true`.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PrivilegedContainer;

static META: RuleMeta = RuleMeta {
    id: "privileged-container",
    title: "Privileged container",
    summary: "A container with `securityContext.privileged: true`",
    severity: Severity::High,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Remove `securityContext.privileged: true`; grant the specific capabilities the process needs (`capabilities.add`) instead.",
    doc: r#"A container, init container or ephemeral container of a workload with
`securityContext.privileged: true` (also the string `"true"`). The finding points at the
`privileged` line.

### Why

A privileged container runs with every capability, sees every host device and is not
confined by seccomp or AppArmor: root in it is root on the node, and from the node an
attacker reaches every pod scheduled there and the kubelet's credentials. The Pod Security
Standards forbid it from the *baseline* profile up. Severity is **high** because one
compromised privileged pod is a compromised node.

Node agents (Cilium, Longhorn, CSI drivers) need it by design: they are still reported, so
that the exception is written down once — exempt them in `tollgate.yaml` (`exemptions:` with
the namespace and a reason) or with an `ignore.tollgate.dev/privileged-container` annotation.

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
          securityContext:
            privileged: true
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            privileged: false
            capabilities:
              add: ["NET_BIND_SERVICE"]
```

### Remediation

Find out which privilege the process actually needs (a capability such as `NET_ADMIN`, a
device, a host path) and grant only that. For node agents that really need it, keep them in
a dedicated namespace and exempt that namespace with a reason.

### Pod Security Standards

Level **baseline** (control *Privileged Containers*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

Matches kube-linter `privileged-container`, kube-score `Container Security Context
Privileged` and Polaris `runAsPrivileged` on all their fixtures. A `privileged` field in the
*pod* `securityContext` is not a Kubernetes field and is ignored, as Polaris does.
kube-linter's `scc-deny-privileged-container` checks OpenShift SecurityContextConstraints,
which are admission policy, not workloads; tollgate has no equivalent.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PrivilegedContainer {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_containers(&META, object, ctx, out, |_, container, _, out| {
            let Some(setting) = container.security_setting("privileged") else {
                return;
            };
            if setting.flag() == Some(true) {
                out.push(Violation::new(
                    setting.pointer,
                    format!("{} runs privileged", container.subject(object)),
                ));
            }
        });
    }
}
