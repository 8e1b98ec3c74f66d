//! `pss-proc-mount`: containers that unmask `/proc` (Pod Security Standards, baseline).

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssProcMount;

static META: RuleMeta = RuleMeta {
    id: "pss-proc-mount",
    title: "Container unmasks /proc",
    summary: "`procMount` other than `Default`",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Remove `securityContext.procMount` or set it to `Default`.",
    doc: r#"A container, init container or ephemeral container whose `securityContext.procMount`
is set to anything but `Default` (in practice `Unmasked`), at that field. This is the
*/proc Mount Type* control of the Pod Security Standards, level **baseline**.

### Why

The runtime masks and makes read-only parts of `/proc` (`/proc/kcore`, `/proc/sys`,
`/proc/sysrq-trigger`…) that expose kernel memory or let a process reconfigure the node.
`Unmasked` removes those masks; it exists for nested containers in user namespaces and is
dangerous anywhere else. Severity is **medium**.

### Failing example

```yaml
      containers:
        - name: builder
          image: harbor.example.com/ci/builder:3.0.0
          securityContext:
            procMount: Unmasked
```

### Passing example

```yaml
      containers:
        - name: builder
          image: harbor.example.com/ci/builder:3.0.0
          securityContext:
            procMount: Default
```

### Remediation

Remove `procMount`. Nested container builds work without it in rootless builders (BuildKit
rootless, kaniko).

### Pod Security Standards

Level **baseline** (control */proc Mount Type*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

Agrees with Polaris `procMount` and kube-linter `unsafe-proc-mount` on all their fixtures.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssProcMount {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_containers(&META, object, ctx, out, |_, container, _, out| {
            let Some(setting) = container.security_setting("procMount") else {
                return;
            };
            let value = setting.value.as_str().unwrap_or("");
            if value != "Default" {
                out.push(Violation::new(
                    setting.pointer.clone(),
                    format!(
                        "{} sets {}, unmasking the kernel's /proc files",
                        container.subject(object),
                        setting.describe("procMount")
                    ),
                ));
            }
        });
    }
}
