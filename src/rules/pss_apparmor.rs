//! `pss-apparmor`: pods or containers that turn AppArmor off (Pod Security Standards, baseline).

use crate::rules::Scope;
use crate::rules::support::pod_security;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::workload::PodSpec;
use crate::rules::support::pod_security::check_control;
use crate::rules::{Context, Rule, RuleMeta, Violation};
use crate::source::spans::push_token;

pub struct PssAppArmor;

/// The per-container AppArmor annotation of pods before the `appArmorProfile` field (v1.30).
const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

static META: RuleMeta = RuleMeta {
    id: "pss-apparmor",
    title: "AppArmor profile is unconfined",
    summary: "An `Unconfined` AppArmor profile (field or annotation)",
    severity: Severity::Medium,
    tags: &["security", "pod-security", "pss-baseline"],
    remediation: "Remove the `Unconfined` AppArmor profile; leave it unset (the runtime default applies) or set `appArmorProfile: {type: RuntimeDefault}`.",
    doc: r#"A workload that overrides the default AppArmor profile with anything but the runtime
default or a profile loaded on the node: an `appArmorProfile.type` other than
`RuntimeDefault` or `Localhost` in the pod's or a container's `securityContext`, or a pod
annotation `container.apparmor.security.beta.kubernetes.io/<container>` other than
`runtime/default` or `localhost/<profile>` (the form before Kubernetes v1.30). One finding per
field or annotation, at it. This is the *AppArmor* control of the Pod Security Standards,
level **baseline**.

### Why

On nodes with AppArmor (Ubuntu, Debian, SUSE) the runtime confines every container with a
default profile that blocks writes to `/proc` and `/sys` files, mounts and other known
escape routes. `Unconfined` removes that layer. Severity is **medium**.

### Failing example

```yaml
  template:
    metadata:
      annotations:
        container.apparmor.security.beta.kubernetes.io/api: unconfined
    spec:
      securityContext:
        appArmorProfile:
          type: Unconfined
```

### Passing example

```yaml
    spec:
      securityContext:
        appArmorProfile:
          type: RuntimeDefault
```

### Remediation

Delete the override or set `RuntimeDefault`; for a process the default profile blocks, write
a profile, load it on the nodes and reference it with `type: Localhost`.

### Pod Security Standards

Level **baseline** (control *AppArmor*). In a namespace labelled
`pod-security.kubernetes.io/enforce: baseline` or `restricted`, or held to one of them by
`pod_security:` in `tollgate.yaml`, findings are **high** and say that admission rejects the pod.

### Compared with other tools

kube-linter, kube-score and Polaris have no check of their own for an unconfined AppArmor
profile (Polaris `linuxHardening` accepts any AppArmor setting as hardening).
"#,
    scope: Scope::workloads().reading(&[pod_security::READS]),
};

/// `appArmorProfile.type` of a `securityContext`.
fn profile_type(sc: Option<&crate::model::value::Map>) -> Option<&str> {
    sc?.get("appArmorProfile")?.get("type")?.as_str()
}

impl Rule for PssAppArmor {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        check_control(&META, object, ctx, out, |spec, _, out| {
            let allowed = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
            if let Some(t) = profile_type(spec.security_context()).filter(|t| !allowed(t)) {
                out.push(Violation::new(
                    spec.pointer_to("securityContext/appArmorProfile/type"),
                    format!(
                        "{} sets the AppArmor profile `{t}` for every container (pod securityContext)",
                        object.display()
                    ),
                ));
            }
            for container in spec.containers() {
                if let Some(t) = profile_type(container.security_context()).filter(|t| !allowed(t))
                {
                    out.push(Violation::new(
                        container.pointer_to("securityContext/appArmorProfile/type"),
                        format!(
                            "{} sets the AppArmor profile `{t}`",
                            container.subject(object)
                        ),
                    ));
                }
            }
            let Some((pointer, annotations)) = PodSpec::template_annotations(object) else {
                return;
            };
            for (key, value) in annotations {
                let Some(container) = key.strip_prefix(ANNOTATION_PREFIX) else {
                    continue;
                };
                let value = value.as_str().unwrap_or("");
                if value == "runtime/default" || value.starts_with("localhost/") {
                    continue;
                }
                let mut at = pointer.clone();
                push_token(&mut at, key);
                out.push(Violation::new(
                    at,
                    format!(
                        "{} sets the AppArmor profile `{value}` for container `{container}` (annotation `{key}`)",
                        object.display()
                    ),
                ));
            }
        });
    }
}
