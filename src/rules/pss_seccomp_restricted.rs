//! `pss-seccomp-restricted`: containers without a seccomp profile (Pod Security Standards,
//! restricted).

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssSeccompRestricted;

static META: RuleMeta = RuleMeta {
    id: "pss-seccomp-restricted",
    title: "Container has no seccomp profile",
    summary: "A container with no seccomp profile (neither its own nor the pod's)",
    severity: Severity::Low,
    tags: &["security", "pod-security", "pss-restricted"],
    remediation: "Set `securityContext.seccompProfile: {type: RuntimeDefault}` in the pod spec, so that every container inherits it.",
    doc: r#"A container, init container or ephemeral container with no seccomp profile: neither
its own `securityContext.seccompProfile` nor the pod's is set. The finding points at the
container. This is the *Seccomp* control of the Pod Security Standards, level
**restricted** (since v1.19), which requires `RuntimeDefault` or `Localhost` on the pod or on
every container. An `Unconfined` profile is `pss-seccomp-baseline`'s finding and is not
repeated here. Pods with `spec.os.name: windows` are exempt, as the standard says (since
v1.25). The old `seccomp.security.alpha.kubernetes.io/*` annotations do not count: the
kubelet ignores them since v1.27.

### Why

Without a profile, a container runs `Unconfined` on most clusters (the kubelet applies
`RuntimeDefault` by default only with `--seccomp-default`), so every system call, including
the ones kernel exploits use, is open. Severity is **low**: defence in depth, but the one
most scanners agree on.

### Failing example

```yaml
    spec:
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
```

### Passing example

```yaml
    spec:
      securityContext:
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
```

### Remediation

Add `seccompProfile: {type: RuntimeDefault}` to the pod `securityContext`. Very few
applications notice; those that do need a `Localhost` profile that allows the extra calls.

### Pod Security Standards

Level **restricted** (control *Seccomp*). In a namespace labelled
`pod-security.kubernetes.io/enforce: restricted`, or held to it by `pod_security:` in
`tollgate.yaml`, findings are **high** and say that admission rejects the pod. With an
`enforce-version` before v1.25, Windows pods are not exempt; before v1.19 the control does
not exist.

### Compared with other tools

Agrees with kube-score's optional `Container Seccomp Profile` except on its two fixtures
that rely on the `seccomp.security.alpha.kubernetes.io/defaultProfileName` annotation (a
PodSecurityPolicy annotation the kubelet never read for pods), by design.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssSeccompRestricted {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_containers(
            &META,
            object,
            ctx,
            out,
            |spec, container, evaluation, out| {
                if !evaluation.version.at_least(19) || evaluation.exempts_windows(spec) {
                    return;
                }
                if container
                    .effective_security(spec, "seccompProfile")
                    .is_some()
                {
                    return;
                }
                out.push(Violation::new(
                    container.pointer.clone(),
                    format!(
                        "{} has no seccomp profile (neither it nor the pod sets `seccompProfile`)",
                        container.subject(object)
                    ),
                ));
            },
        );
    }
}
