//! `suppression-reason-missing`: an `ignore.tollgate.dev/<rule>` annotation without a reason.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::model::spans::pointer;
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};
use crate::suppress::IGNORE_ANNOTATION_PREFIX;

pub struct SuppressionReasonMissing;

static META: RuleMeta = RuleMeta {
    id: "suppression-reason-missing",
    title: "Suppression annotation without a reason",
    summary: "An `ignore.tollgate.dev/<rule-id>` annotation with an empty reason",
    severity: Severity::Low,
    tags: &["process"],
    remediation: "Write why the finding is accepted as the annotation's value, e.g. `ignore.tollgate.dev/image-pinned: \"vendor chart, tracked in OPS-123\"`.",
    doc: r#"An `ignore.tollgate.dev/<rule-id>` annotation whose value is empty. Such an
annotation does not suppress anything: the finding it meant to hide is still reported.

### Why

A suppression is a decision someone made; the reason is what lets the next person (or the
auditor) judge whether it still holds. Suppressions without reasons pile up and hide real
problems.

### Failing example

```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    ignore.tollgate.dev/image-pinned: ""
```

### Passing example

```yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    ignore.tollgate.dev/image-pinned: "upstream only publishes :latest, mirrored nightly (OPS-42)"
```

### Remediation

Give the annotation a reason, or remove it and fix the finding.
"#,
    scope: Scope::metadata(),
};

impl Rule for SuppressionReasonMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn applies_to(&self, object: &Object, _ctx: &Context<'_>) -> bool {
        object
            .annotations()
            .is_some_and(|a| a.keys().any(|k| k.starts_with(IGNORE_ANNOTATION_PREFIX)))
    }

    fn check(&self, object: &Object, _ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let Some(annotations) = object.annotations() else {
            return;
        };
        for (key, value) in annotations {
            let Some(rule) = key.strip_prefix(IGNORE_ANNOTATION_PREFIX) else {
                continue;
            };
            let reason = value.as_str().unwrap_or("");
            if reason.trim().is_empty() {
                out.push(Violation::new(
                    pointer(["metadata", "annotations", key.as_str()]),
                    format!(
                        "annotation `{key}` gives no reason, so `{rule}` findings on {} are not suppressed",
                        object.display()
                    ),
                ));
            }
        }
    }
}
