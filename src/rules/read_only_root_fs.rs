//! `read-only-root-fs`: containers whose root filesystem is writable.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::{ContainerRole, for_each_container};
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ReadOnlyRootFs;

static META: RuleMeta = RuleMeta {
    id: "read-only-root-fs",
    title: "Container with a writable root filesystem",
    summary: "A container without `readOnlyRootFilesystem: true`",
    severity: Severity::Low,
    tags: &["security", "hardening"],
    remediation: "Set `securityContext.readOnlyRootFilesystem: true` and mount an `emptyDir` where the application writes (`/tmp`, caches).",
    doc: r#"A container or init container of a workload without
`securityContext.readOnlyRootFilesystem: true`. The finding points at
`readOnlyRootFilesystem` when the container sets it to something else, else at the
container. Ephemeral (debug) containers are not checked: they exist to run tools
interactively, which usually means installing or writing files.

### Why

A writable root filesystem lets an attacker who got code execution drop tools, modify the
application's files or plant persistence that survives until the pod is replaced; with it
read-only, the image stays exactly what was scanned. Severity is **low**: it is defence in
depth that makes an intrusion harder to use, not a way in, and many applications need a
little work (an `emptyDir` for `/tmp`) before they can run that way.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            allowPrivilegeEscalation: false
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
```

### Remediation

Set `readOnlyRootFilesystem: true` in each container's `securityContext` (there is no
pod-level field), run the application and mount an `emptyDir` at every path it fails to
write (`/tmp`, `/var/cache/nginx`, `/home/app/.cache`…).

### Compared with other tools

Agrees with kube-linter `no-read-only-root-fs`, kube-score `Container Security Context
ReadOnlyRootFilesystem` and Polaris `notReadOnlyRootFilesystem` on all their fixtures. Like
Polaris, a `readOnlyRootFilesystem` in the *pod* `securityContext` (not a Kubernetes field)
does not count.
"#,
    scope: Scope::workloads(),
};

impl Rule for ReadOnlyRootFs {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        for_each_container(object, |_, container| {
            if container.role == ContainerRole::Ephemeral {
                return;
            }
            let subject = container.subject(object);
            match container.security_setting("readOnlyRootFilesystem") {
                Some(s) if s.flag() == Some(true) => {}
                Some(s) => out.push(Violation::new(
                    s.pointer.clone(),
                    format!(
                        "{subject} has a writable root filesystem ({})",
                        s.describe("readOnlyRootFilesystem")
                    ),
                )),
                None => out.push(Violation::new(
                    container.pointer.clone(),
                    format!(
                        "{subject} has a writable root filesystem: `readOnlyRootFilesystem: true` is not set"
                    ),
                )),
            }
        });
    }
}
