//! `privilege-escalation`: containers that do not set `allowPrivilegeEscalation: false`.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PrivilegeEscalation;

static META: RuleMeta = RuleMeta {
    id: "privilege-escalation",
    title: "Container may escalate privileges",
    summary: "A container without `allowPrivilegeEscalation: false` (or privileged / adding SYS_ADMIN)",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-restricted"],
    remediation: "Set `securityContext.allowPrivilegeEscalation: false` on every container (and do not make it privileged or add `SYS_ADMIN`).",
    doc: r#"A container, init container or ephemeral container of a workload that does not set
`securityContext.allowPrivilegeEscalation: false`. Leaving it out counts as allowing
escalation, because that is the Kubernetes default. A container that is `privileged: true` or
adds the `SYS_ADMIN` capability (or `ALL`) is reported even with the field set to `false`:
Kubernetes treats both as escalation (the API server rejects `false` together with them).
The finding points at `allowPrivilegeEscalation` when the container sets it, else at the
container.

### Why

`allowPrivilegeEscalation` controls the `no_new_privs` flag of the container's processes.
Without it a process can gain privileges through setuid binaries (`sudo`, `su`, `ping` in
older images) or file capabilities, which turns a foothold in the application into root in
the container, one step from the node. It is required by the Pod Security Standards'
*restricted* profile. Severity is **medium**: it widens what an attacker who is already in
the container can do, but does not open the container by itself.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            runAsNonRoot: true
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
```

### Remediation

Add `allowPrivilegeEscalation: false` to each container's `securityContext` (it has no
pod-level equivalent). Applications that need setuid helpers at run time are rare; for those,
grant the capability the helper needs instead.

### Pod Security Standards

Level **restricted** (control *Privilege Escalation*). Pods with `spec.os.name: windows` are
exempt, as the standard says (since v1.25). In a namespace labelled
`pod-security.kubernetes.io/enforce: restricted`, or held to it by `pod_security:` in
`tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

Polaris `privilegeEscalationAllowed` reports the same (an unset field fails). kube-linter's
`privilege-escalation-container` reports only an explicit `true`, `privileged: true` or
`SYS_ADMIN`, so on manifests that leave the field out tollgate reports more; its fixtures set
the field everywhere, and tollgate agrees with them object for object.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PrivilegeEscalation {
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
                if evaluation.exempts_windows(spec) {
                    return;
                }
                let subject = container.subject(object);
                let setting = container.security_setting("allowPrivilegeEscalation");
                let pointer = setting
                    .as_ref()
                    .map_or_else(|| container.pointer.clone(), |s| s.pointer.clone());
                let privileged = container
                    .security_setting("privileged")
                    .is_some_and(|s| s.flag() == Some(true));
                let sys_admin = container
                    .added_capabilities()
                    .iter()
                    .any(|c| c == "SYS_ADMIN" || c == "ALL");
                let message = if privileged {
                    format!("{subject} is privileged, which always allows privilege escalation")
                } else if sys_admin {
                    format!(
                        "{subject} adds the SYS_ADMIN capability, which always allows privilege escalation"
                    )
                } else {
                    match &setting {
                        Some(s) if s.flag() == Some(false) => return,
                        Some(s) => format!(
                            "{subject} sets {}, allowing privilege escalation",
                            s.describe("allowPrivilegeEscalation")
                        ),
                        None => format!(
                            "{subject} does not set `allowPrivilegeEscalation: false`, so its processes may gain privileges"
                        ),
                    }
                };
                out.push(Violation::new(pointer, message));
            },
        );
    }
}
