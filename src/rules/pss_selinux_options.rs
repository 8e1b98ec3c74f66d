//! `pss-selinux-options`: SELinux options that leave the container domain (Pod Security
//! Standards, baseline).

use crate::model::value::{Map, Value};
use crate::rules::Scope;
use crate::rules::support::pod_security;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::pod_security::{Evaluation, check_control};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssSeLinuxOptions;

static META: RuleMeta = RuleMeta {
    id: "pss-selinux-options",
    title: "SELinux options leave the container domain",
    summary: "An SELinux type outside the container domain, or a custom user or role",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Remove `seLinuxOptions.user` and `.role`, and use a container type (`container_t`, `container_init_t`, `container_kvm_t`, `container_engine_t`) or none.",
    doc: r#"A workload whose pod or container `securityContext.seLinuxOptions` sets a `type`
other than `container_t`, `container_init_t`, `container_kvm_t` or `container_engine_t`
(the last one since v1.31), or sets `user` or `role` at all: one finding per field, at it.
`level` (the MCS categories) is free. This is the *SELinux* control of the Pod Security
Standards, level **baseline**.

### Why

On SELinux nodes (RHEL, Fedora CoreOS, OpenShift) the container type is what keeps a
container's processes away from the node's files and other containers. A custom type such as
`spc_t` ("super privileged container") or `unconfined_t`, or a custom user or role, runs the
container outside that confinement. Severity is **medium**.

### Failing example

```yaml
    spec:
      securityContext:
        seLinuxOptions:
          type: spc_t
```

### Passing example

```yaml
    spec:
      securityContext:
        seLinuxOptions:
          level: "s0:c123,c456"
```

### Remediation

Remove the custom type, user and role; set only `level` when pods must share files across
MCS categories.

### Pod Security Standards

Level **baseline** (control *SELinux*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the
pod; with an `enforce-version` before v1.31, `container_engine_t` is rejected too.

### Compared with other tools

kube-linter, kube-score and Polaris have no check of SELinux options.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

fn allowed_type(t: &str, evaluation: Evaluation) -> bool {
    matches!(
        t,
        "" | "container_t" | "container_init_t" | "container_kvm_t"
    ) || (t == "container_engine_t" && evaluation.version.at_least(31))
}

/// Violations of one `seLinuxOptions` object at `owner`/securityContext/seLinuxOptions.
fn check_options(
    options: Option<&Map>,
    owner: &str,
    subject: &str,
    evaluation: Evaluation,
    out: &mut Vec<Violation>,
) {
    let Some(options) = options else {
        return;
    };
    for field in ["type", "user", "role"] {
        let Some(value) = options.get(field).and_then(Value::as_str) else {
            continue;
        };
        let bad = match field {
            "type" => !allowed_type(value, evaluation),
            _ => !value.is_empty(),
        };
        if bad {
            let what = if field == "type" {
                "a type outside the container domain"
            } else {
                "a custom SELinux identity"
            };
            out.push(Violation::new(
                format!("{owner}/securityContext/seLinuxOptions/{field}"),
                format!("{subject} sets `seLinuxOptions.{field}: {value}`, {what}"),
            ));
        }
    }
}

/// `seLinuxOptions` of a `securityContext`.
fn options(sc: Option<&Map>) -> Option<&Map> {
    sc?.get("seLinuxOptions")?.as_object()
}

impl Rule for PssSeLinuxOptions {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, evaluation, out| {
            check_options(
                options(spec.security_context()),
                spec.pointer,
                &format!("{} (pod securityContext)", object.display()),
                evaluation,
                out,
            );
            for container in spec.containers() {
                check_options(
                    options(container.security_context()),
                    &container.pointer,
                    &container.subject(object),
                    evaluation,
                    out,
                );
            }
        });
    }
}
