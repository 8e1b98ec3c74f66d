//! `pss-host-process`: Windows HostProcess containers (Pod Security Standards, baseline).

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::flag;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssHostProcess;

static META: RuleMeta = RuleMeta {
    id: "pss-host-process",
    title: "Windows HostProcess container",
    summary: "A Windows HostProcess container (Pod Security baseline)",
    severity: Severity::High,
    tags: &["security", "pod-security", "pss-baseline", "host-access"],
    remediation: "Remove `windowsOptions.hostProcess: true` from the pod and container `securityContext`; run node-level Windows tooling outside the cluster's application namespaces.",
    doc: r#"A workload whose pod `securityContext.windowsOptions.hostProcess` or any container's,
init container's or ephemeral container's `securityContext.windowsOptions.hostProcess` is
`true`, at that field. This is the *HostProcess* control of the Pod Security Standards,
level **baseline** (it allows only `false` or unset).

### Why

A HostProcess container is a process on the Windows node itself, with the node's network,
file system and, usually, `NT AUTHORITY\SYSTEM`: it is the Windows equivalent of a
privileged container with every host namespace. Severity is **high**: a compromised
HostProcess pod is a compromised node. In a namespace that enforces `baseline` or
`restricted` the API server rejects the pod.

### Failing example

```yaml
    spec:
      securityContext:
        windowsOptions:
          hostProcess: true
          runAsUserName: "NT AUTHORITY\\SYSTEM"
      hostNetwork: true
      nodeSelector:
        kubernetes.io/os: windows
```

### Passing example

```yaml
    spec:
      os:
        name: windows
      containers:
        - name: iis
          image: mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022
```

### Remediation

Remove `hostProcess: true`. Node agents that need it (CNI, log shippers on Windows nodes)
belong in a dedicated namespace labelled `pod-security.kubernetes.io/enforce: privileged`,
exempted in `tollgate.yaml` with a reason.

### Pod Security Standards

Level **baseline** (control *HostProcess*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

Agrees with Polaris `hostProcess` on all its fixtures.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssHostProcess {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, _, out| {
            let host_process = |sc: Option<&crate::model::value::Map>| {
                sc.and_then(|sc| sc.get("windowsOptions"))
                    .and_then(|w| w.get("hostProcess"))
                    .and_then(flag)
                    == Some(true)
            };
            if host_process(spec.security_context()) {
                out.push(Violation::new(
                    spec.pointer_to("securityContext/windowsOptions/hostProcess"),
                    format!(
                        "{} runs HostProcess containers (`windowsOptions.hostProcess: true` in the pod securityContext)",
                        object.display()
                    ),
                ));
            }
            for container in spec.containers() {
                if host_process(container.security_context()) {
                    out.push(Violation::new(
                        container.pointer_to("securityContext/windowsOptions/hostProcess"),
                        format!(
                            "{} is a HostProcess container (`windowsOptions.hostProcess: true`)",
                            container.subject(object)
                        ),
                    ));
                }
            }
        });
    }
}
