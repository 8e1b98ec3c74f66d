//! `run-as-non-root`: containers not guaranteed to run as a non-root user.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::SettingLevel;
use crate::rules::Scope;
use crate::rules::support::pod_security;
use crate::rules::support::pod_security::check_containers;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct RunAsNonRoot;

static META: RuleMeta = RuleMeta {
    id: "run-as-non-root",
    title: "Container may run as root",
    summary: "A container not guaranteed to run as non-root (effective `runAsUser` 0, or no `runAsNonRoot: true` / `runAsUser` > 0)",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-restricted"],
    remediation: "Set `runAsNonRoot: true` (and a `runAsUser` above 0) in the pod or container `securityContext`, and build the image with a numeric non-root `USER`.",
    doc: r#"A container, init container or ephemeral container of a workload that is not
guaranteed to run as a non-root user: its effective `runAsUser` is `0`, or it has no
effective `runAsUser` above 0 and no effective `runAsNonRoot: true`. "Effective" follows the
kubelet: a field in the container's `securityContext` overrides the same field in the pod's
`securityContext`, so a container `runAsUser: 1000` fixes a pod-level `0`, and a container
`runAsNonRoot: false` undoes a pod-level `true`. `runAsUser: 0` is reported even together
with `runAsNonRoot: true` (the kubelet would refuse to start the container). The finding
points at the container's own `runAsUser`/`runAsNonRoot` when that is the cause, else at the
container (the message says when a pod-level setting is the cause).

### Why

Without either setting the container runs as whatever user the image declares, which for
most public images is root. Root in a container shares UID 0 with the node: a kernel or
runtime escape, a writable host mount or a mounted socket then lands as root on the node.
`runAsNonRoot: true` makes the kubelet refuse to start an image that would run as root. It
is part of the Pod Security Standards' *restricted* profile. Severity is **medium**: running
as root widens the blast radius of a compromise but is not an opening by itself.

### Failing example

```yaml
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            runAsUser: 0          # overrides the pod-level setting
```

### Passing example

```yaml
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
```

### Remediation

Set `runAsNonRoot: true` and a `runAsUser` (any UID above 0; 10000 and up avoids clashing
with users on the node) in the pod `securityContext`, so every container inherits them, and
make sure the image works as that user (`USER 10001` in the Dockerfile, files readable by
it). Images that must start as root (some database images fix permissions first) can
usually do that work in an init container instead.

### Pod Security Standards

Level **restricted**: this rule is both the *Running as Non-root* and the *Running as
Non-root user* (`runAsUser` not 0) controls. The standard is stricter than the rule's default
in one way: it requires `runAsNonRoot: true` even when `runAsUser` is above 0. In a namespace
labelled `pod-security.kubernetes.io/enforce: restricted`, or held to it by `pod_security:`
in `tollgate.yaml`, the rule applies the standard exactly (a `runAsUser: 1000` without
`runAsNonRoot: true` is reported) and findings are **high** and say that admission rejects the
pod.

### Compared with other tools

Agrees with Polaris `runAsRootAllowed` and, on the user, with kube-linter `run-as-non-root`
and kube-score `Container Security Context User Group ID`. Two differences are deliberate:

- **`runAsGroup: 0` is not reported.** kube-linter and kube-score report a root *group*;
  tollgate follows the Pod Security Standards, which restrict the user only. Group 0 is how
  images support arbitrary UIDs (OpenShift's model: files group-owned by 0), so reporting it
  would flag images built the recommended way.
- **No minimum UID.** kube-score also wants user and group IDs of 10000 or more; tollgate
  only requires non-root.

A Polaris fixture declares `apiVersion: v1` for a Deployment, which the API server rejects;
tollgate does not treat it as a workload, so that fixture is not compared.
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

impl Rule for RunAsNonRoot {
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
                let subject = container.subject(object);
                // Several containers can inherit the same pod-level setting; each finding points at
                // its own container so that fingerprints stay distinct.
                let at = |level: SettingLevel, pointer: &str| match level {
                    SettingLevel::Container => pointer.to_string(),
                    SettingLevel::Pod => container.pointer.clone(),
                };
                let mut non_root_user = None;
                if let Some(user) = container.effective_security(spec, "runAsUser") {
                    match user.integer() {
                        Some(0) => {
                            out.push(Violation::new(
                                at(user.level, &user.pointer),
                                format!("{subject} runs as root ({})", user.describe("runAsUser")),
                            ));
                            return;
                        }
                        // Pod Security admission wants `runAsNonRoot: true` all the same.
                        Some(uid) if uid > 0 && evaluation.held => non_root_user = Some(uid),
                        Some(uid) if uid > 0 => return,
                        _ => {}
                    }
                }
                let non_root = container.effective_security(spec, "runAsNonRoot");
                match non_root {
            Some(s) if s.flag() == Some(true) => {}
            _ if non_root_user.is_some() => out.push(Violation::new(
                container.pointer.clone(),
                format!(
                    "{subject} runs as user {} but does not set `runAsNonRoot: true`, which the restricted level requires",
                    non_root_user.unwrap_or_default()
                ),
            )),
            Some(s) => out.push(Violation::new(
                at(s.level, &s.pointer),
                format!(
                    "{subject} may run as root: it has {} and no `runAsUser` above 0",
                    s.describe("runAsNonRoot")
                ),
            )),
            None => out.push(Violation::new(
                container.pointer.clone(),
                format!(
                    "{subject} may run as root: neither it nor the pod sets `runAsNonRoot: true` or a `runAsUser` above 0"
                ),
            )),
        }
            },
        );
    }
}
