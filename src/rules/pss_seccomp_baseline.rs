//! `pss-seccomp-baseline`: pods or containers that turn seccomp off (Pod Security Standards,
//! baseline).

use crate::model::value::Value;
use crate::rules::Scope;
use crate::rules::support::pod_security;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::Setting;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssSeccompBaseline;

static META: RuleMeta = RuleMeta {
    id: "pss-seccomp-baseline",
    title: "Seccomp profile is unconfined",
    summary: "An `Unconfined` seccomp profile",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Set `seccompProfile: {type: RuntimeDefault}` (or a `Localhost` profile) instead of `Unconfined`.",
    doc: r#"A workload whose pod or container `securityContext.seccompProfile.type` is anything
but `RuntimeDefault` or `Localhost` (that is, `Unconfined`), at that field: one finding per
field. This is the *Seccomp* control of the Pod Security Standards, level **baseline**.
An unset profile is allowed at this level; the restricted level requires one
(`pss-seccomp-restricted`).

### Why

Seccomp filters the system calls a container may make; the runtime default blocks about
fifty that containers do not need and that kernel exploits favour (`keyctl`, `unshare`,
`bpf`, `userfaultfd`…). `Unconfined` opens all of them. Severity is **medium**.

### Failing example

```yaml
    spec:
      securityContext:
        seccompProfile:
          type: Unconfined
```

### Passing example

```yaml
    spec:
      securityContext:
        seccompProfile:
          type: RuntimeDefault
```

### Remediation

Use `RuntimeDefault`; if a process needs a blocked call, write a profile that adds just
that call, install it on the nodes and reference it with `type: Localhost`.

### Pod Security Standards

Level **baseline** (control *Seccomp*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

kube-linter, kube-score and Polaris have no check of an unconfined profile of their own;
kube-score's optional `Container Seccomp Profile` is compared with `pss-seccomp-restricted`.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

/// The `seccompProfile.type` of a setting, when it is a string.
pub fn seccomp_type<'a>(setting: &Setting<'a>) -> Option<&'a str> {
    setting.value.get("type").and_then(Value::as_str)
}

/// The types both levels accept.
pub fn confining(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

impl Rule for PssSeccompBaseline {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, _, out| {
            let mut report = |setting: Setting<'_>, subject: String| {
                let Some(t) = seccomp_type(&setting).filter(|t| !confining(t)) else {
                    return;
                };
                out.push(Violation::new(
                    format!("{}/type", setting.pointer),
                    format!("{subject} sets the seccomp profile `{t}`, allowing every system call"),
                ));
            };
            if let Some(setting) = spec.security_setting("seccompProfile") {
                report(
                    setting,
                    format!("{} (pod securityContext)", object.display()),
                );
            }
            for container in spec.containers() {
                if let Some(setting) = container.security_setting("seccompProfile") {
                    report(setting, container.subject(object));
                }
            }
        });
    }
}
