//! `pss-capabilities-baseline`: capabilities added beyond what the baseline level allows.

use crate::model::value::Value;
use crate::rules::Scope;
use crate::rules::support::pod_security;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::Container;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct PssCapabilitiesBaseline;

/// The capabilities the baseline level lets a container add (the container runtimes' defaults).
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Capabilities that by themselves give a way out of the container or control of the node.
const DANGEROUS: [&str; 9] = [
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "BPF",
    "DAC_READ_SEARCH",
    "SYS_BOOT",
];

static META: RuleMeta = RuleMeta {
    id: "pss-capabilities-baseline",
    title: "Container adds a capability the baseline level forbids",
    summary: "A capability added beyond the baseline set (high for SYS_ADMIN, NET_ADMIN, ALL…)",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Remove the capability from `securityContext.capabilities.add`; the baseline level allows only the container runtime's default set (CHOWN, NET_BIND_SERVICE, SETUID…).",
    doc: r#"A container, init container or ephemeral container whose
`securityContext.capabilities.add` lists a capability outside the baseline set: `AUDIT_WRITE`,
`CHOWN`, `DAC_OVERRIDE`, `FOWNER`, `FSETID`, `KILL`, `MKNOD`, `NET_BIND_SERVICE`, `SETFCAP`,
`SETGID`, `SETPCAP`, `SETUID`, `SYS_CHROOT`. One finding per capability, at its list entry.
This is the *Capabilities* control of the Pod Security Standards, level **baseline**.

Severity is **high** for `ALL`, `SYS_ADMIN`, `NET_ADMIN`, `SYS_MODULE`, `SYS_PTRACE`,
`SYS_RAWIO`, `BPF`, `DAC_READ_SEARCH` and `SYS_BOOT`, each a known way out of the container
or to the node, and **medium** for any other capability (`NET_RAW`, `SYS_TIME`…).

Outside a held namespace, names are compared the way people write them (`cap_net_raw` is
`NET_RAW`). Pod Security admission compares them exactly, so in a namespace held to
baseline or restricted, a lower-case or `CAP_`-prefixed name of an allowed capability is
reported too: the API server rejects it.

### Why

Capabilities split root's power; adding one back gives the container that piece of it.
`SYS_ADMIN` is nearly full root (mount, namespaces, BPF), `NET_ADMIN` reconfigures the pod
network and sniffs or spoofs traffic, `SYS_PTRACE` reads other processes' memory. The
baseline set is what runtimes grant by default anyway, so anything beyond it is a deliberate
widening.

### Failing example

```yaml
      containers:
        - name: vpn
          image: harbor.example.com/net/vpn:1.2.0
          securityContext:
            capabilities:
              add: ["NET_ADMIN", "SYS_TIME"]
```

### Passing example

```yaml
      containers:
        - name: web
          image: harbor.example.com/shop/web:1.2.0
          securityContext:
            capabilities:
              drop: ["ALL"]
              add: ["NET_BIND_SERVICE"]
```

### Remediation

Remove the capability. A process that needs one (a VPN needs `NET_ADMIN`) is an
infrastructure component: run it in a namespace labelled
`pod-security.kubernetes.io/enforce: privileged` and exempt it in `tollgate.yaml` with a reason.

### Pod Security Standards

Level **baseline** (control *Capabilities*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.
The restricted level's stricter rule (drop `ALL`, add back only `NET_BIND_SERVICE`) is
`pss-capabilities-restricted`.

### Compared with other tools

Polaris `dangerousCapabilities` reports `ALL`, `SYS_ADMIN` and `NET_ADMIN` only; tollgate
agrees on all its fixtures and reports more capabilities (the standard's list). kube-linter
has no check of added capabilities beyond `SYS_ADMIN` in `privilege-escalation-container`.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

/// The raw entries of `capabilities.<list>` with their pointers.
pub fn capability_entries<'a>(container: &Container<'a>, list: &str) -> Vec<(String, &'a str)> {
    container
        .security_context()
        .and_then(|sc| sc.get("capabilities"))
        .and_then(|c| c.get(list))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, v)| {
            Some((
                container.pointer_to(&format!("securityContext/capabilities/{list}/{i}")),
                v.as_str()?,
            ))
        })
        .collect()
}

/// `cap_net_raw` → `NET_RAW`: how people mean a capability name.
pub fn normalize_capability(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_string()
}

impl Rule for PssCapabilitiesBaseline {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_containers(&META, object, ctx, out, |_, container, evaluation, out| {
            for (pointer, raw) in capability_entries(&container, "add") {
                let name = normalize_capability(raw);
                let allowed = if evaluation.held {
                    BASELINE_CAPABILITIES.contains(&raw)
                } else {
                    BASELINE_CAPABILITIES.contains(&name.as_str())
                };
                if allowed {
                    continue;
                }
                let why = if BASELINE_CAPABILITIES.contains(&name.as_str()) {
                    format!(
                        "Pod Security admission compares names exactly and allows only `{name}`"
                    )
                } else {
                    "which the baseline level does not allow".to_string()
                };
                let mut violation = Violation::new(
                    pointer,
                    format!(
                        "{} adds the capability `{raw}`, {why}",
                        container.subject(object)
                    ),
                );
                if DANGEROUS.contains(&name.as_str()) {
                    violation = violation.with_severity(Severity::High);
                }
                out.push(violation);
            }
        });
    }
}
