//! `pss-capabilities-restricted`: containers that do not drop `ALL` capabilities, or add back
//! more than `NET_BIND_SERVICE` (Pod Security Standards, restricted).

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::pss_capabilities_baseline::{
    BASELINE_CAPABILITIES, capability_entries, normalize_capability,
};
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssCapabilitiesRestricted;

static META: RuleMeta = RuleMeta {
    id: "pss-capabilities-restricted",
    title: "Container does not drop all capabilities",
    summary: "A container that does not drop `ALL` capabilities or adds back more than `NET_BIND_SERVICE`",
    severity: Severity::Low,
    tags: &["security", "pod-security", "pss-restricted"],
    remediation: "Set `securityContext.capabilities.drop: [\"ALL\"]` on every container and add back only `NET_BIND_SERVICE` if the process binds a port below 1024.",
    doc: r#"A container, init container or ephemeral container whose
`securityContext.capabilities.drop` does not contain `ALL` (at the `drop` list, else at the
container), and each capability it adds back other than `NET_BIND_SERVICE` (at the entry).
This is the *Capabilities* control of the Pod Security Standards, level **restricted**
(since v1.22). Additions outside the baseline set are `pss-capabilities-baseline`'s findings
and are not repeated here. Pods with `spec.os.name: windows` are exempt, as the standard
says (since v1.25).

### Why

Even the runtime's default capabilities are more than most processes need: `NET_RAW` allows
ARP and DNS spoofing on the node's network, `CHOWN`/`DAC_OVERRIDE`/`FOWNER` defeat file
permissions inside the container, `SETUID`/`SETGID` let a process change identity. Dropping
`ALL` removes what an attacker would use after getting code execution. Severity is **low**:
it is defence in depth.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            capabilities:
              drop: ["NET_RAW"]
              add: ["CHOWN"]
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            capabilities:
              drop: ["ALL"]
              add: ["NET_BIND_SERVICE"]
```

### Remediation

Add `capabilities: {drop: ["ALL"]}` to each container's `securityContext`. If the process
listens on a port below 1024, add `NET_BIND_SERVICE` back, or better, listen on a higher port
and let the Service map it.

### Pod Security Standards

Level **restricted** (control *Capabilities*). In a namespace labelled
`pod-security.kubernetes.io/enforce: restricted`, or held to it by `pod_security:` in
`tollgate.yaml`, findings are **high** and say that admission rejects the pod; there names are
compared exactly, as admission does (`all` is not `ALL`).

### Compared with other tools

Polaris `insecureCapabilities` is satisfied by `drop: ["ALL"]` or by dropping a list of 15
named capabilities; tollgate follows the standard and wants `ALL`, so its three fixtures
that drop the 15 names pass there and fail here, by design. kube-linter
`drop-net-raw-capability` asks only for `NET_RAW` (or `ALL`) to be dropped: its fixtures
that drop `NET_RAW` alone pass there and fail here, by design. kube-score has no
capabilities check.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for PssCapabilitiesRestricted {
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
                if !evaluation.version.at_least(22) || evaluation.exempts_windows(spec) {
                    return;
                }
                let same = |raw: &str, wanted: &str| {
                    if evaluation.held {
                        raw == wanted
                    } else {
                        normalize_capability(raw) == wanted
                    }
                };
                let drops = capability_entries(&container, "drop");
                if !drops.iter().any(|(_, raw)| same(raw, "ALL")) {
                    let capabilities = container
                        .security_context()
                        .and_then(|sc| sc.get("capabilities"));
                    let pointer = if capabilities.is_some_and(|c| c.get("drop").is_some()) {
                        container.pointer_to("securityContext/capabilities/drop")
                    } else {
                        container.pointer.clone()
                    };
                    out.push(Violation::new(
                        pointer,
                        format!(
                            "{} does not drop ALL capabilities (`capabilities.drop: [\"ALL\"]`)",
                            container.subject(object)
                        ),
                    ));
                }
                for (pointer, raw) in capability_entries(&container, "add") {
                    let in_baseline = if evaluation.held {
                        BASELINE_CAPABILITIES.contains(&raw)
                    } else {
                        BASELINE_CAPABILITIES.contains(&normalize_capability(raw).as_str())
                    };
                    if in_baseline && !same(raw, "NET_BIND_SERVICE") {
                        out.push(Violation::new(
                        pointer,
                        format!(
                            "{} adds the capability `{raw}`; the restricted level allows adding back only NET_BIND_SERVICE",
                            container.subject(object)
                        ),
                    ));
                    }
                }
            },
        );
    }
}
