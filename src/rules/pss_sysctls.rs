//! `pss-sysctls`: pods that set kernel parameters outside the safe set (Pod Security
//! Standards, baseline).

use crate::model::value::Value;
use crate::rules::Scope;
use crate::rules::support::pod_security;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::pod_security::Version;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssSysctls;

/// The namespaced sysctls the baseline level allows, with the minor version that added each.
const SAFE_SYSCTLS: [(&str, u32); 12] = [
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
];

/// True when the baseline level of `version` allows the sysctl. Names may use `/` as the
/// separator, as the kubelet accepts.
fn safe(name: &str, version: Version) -> bool {
    let name = name.replace('/', ".");
    SAFE_SYSCTLS
        .iter()
        .any(|(safe, since)| *safe == name && version.at_least(*since))
}

static META: RuleMeta = RuleMeta {
    id: "pss-sysctls",
    title: "Pod sets an unsafe sysctl",
    summary: "A sysctl outside the baseline safe set (judged by the namespace's `enforce-version`)",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Remove the sysctl from `securityContext.sysctls`; tune node-wide kernel parameters on the nodes instead.",
    doc: r#"A workload whose pod `securityContext.sysctls` sets a kernel parameter outside the
safe set: `kernel.shm_rmid_forced`, `net.ipv4.ip_local_port_range`,
`net.ipv4.ip_unprivileged_port_start`, `net.ipv4.tcp_syncookies`, `net.ipv4.ping_group_range`,
`net.ipv4.ip_local_reserved_ports` (v1.27+), `net.ipv4.tcp_keepalive_time`,
`net.ipv4.tcp_fin_timeout`, `net.ipv4.tcp_keepalive_intvl`, `net.ipv4.tcp_keepalive_probes`
(v1.29+), `net.ipv4.tcp_rmem` and `net.ipv4.tcp_wmem` (v1.32+). One finding per sysctl, at its
name. This is the *Sysctls* control of the Pod Security Standards, level **baseline**.

### Why

The safe sysctls are namespaced and isolated per pod. Any other one either affects the
whole node (other pods' networking, memory, the kernel) or can starve it; the kubelet
refuses them unless the node is started with `--allowed-unsafe-sysctls`. Severity is
**medium**.

### Failing example

```yaml
    spec:
      securityContext:
        sysctls:
          - name: net.core.somaxconn
            value: "4096"
```

### Passing example

```yaml
    spec:
      securityContext:
        sysctls:
          - name: net.ipv4.ip_local_port_range
            value: "1024 65000"
```

### Remediation

Remove the sysctl, or set it on the nodes (a tuned profile, a DaemonSet of the platform
team) for the node pool that needs it.

### Pod Security Standards

Level **baseline** (control *Sysctls*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the
pod, judged by the namespace's `enforce-version`: with `v1.28`, `net.ipv4.tcp_keepalive_time`
is rejected.

### Compared with other tools

Agrees with kube-linter `unsafe-sysctls` on its fixtures (kube-linter's list is the
pre-v1.27 one). kube-score and Polaris have no sysctl check.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssSysctls {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, evaluation, out| {
            let sysctls = spec
                .security_context()
                .and_then(|sc| sc.get("sysctls"))
                .and_then(Value::as_array);
            for (i, sysctl) in sysctls.into_iter().flatten().enumerate() {
                let Some(name) = sysctl.get("name").and_then(Value::as_str) else {
                    continue;
                };
                if safe(name, evaluation.version) {
                    continue;
                }
                out.push(Violation::new(
                    spec.pointer_to(&format!("securityContext/sysctls/{i}/name")),
                    format!(
                        "{} sets the sysctl `{name}`, which is not in the baseline level's safe set",
                        object.display()
                    ),
                ));
            }
        });
    }
}
