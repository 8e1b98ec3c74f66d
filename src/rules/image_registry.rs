//! `image-registry`: images from registries that are not allowed.

use crate::finding::Severity;
use crate::model::image::ImageRef;
use crate::model::object::Object;
use crate::model::workload::for_each_container;
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ImageRegistry;

static META: RuleMeta = RuleMeta {
    id: "image-registry",
    title: "Image from a registry that is not allowed",
    summary: "An image from a registry not in `registries.allowed`",
    severity: Severity::High,
    tags: &["supply-chain", "images"],
    remediation: "Pull the image through an allowed registry (for example a Harbor proxy-cache project) and reference it there.",
    doc: r#"A container, init container or ephemeral container whose image comes from a registry
not listed in `registries.allowed`. An image without a registry host (`nginx`,
`bitnami/redis`) comes from `docker.io`. Entries are a host (`harbor.example.com`) or a host
and project (`harbor.example.com/shop`), which then admits only that project. The rule is
inactive while the list is empty. Templated values (`{{ .Values.image }}`, `${IMAGE}`) are
not images yet and are not checked.

### Why

When Harbor is the only registry, every image has been scanned by Trivy, is replicated for
availability, and cannot change behind the team's back. An image pulled straight from Docker
Hub skips all of that, and also counts against Docker Hub's pull limits.

### Failing example

```yaml
      containers:
        - name: api
          image: docker.io/acme/api:1.4.2
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2
```

### Remediation

Push or proxy the image into Harbor and change the reference. For third-party charts, set the
chart's `image.registry` value.

### Configuration

- `registries.allowed`: list of `host` or `host/project` entries.
"#,
    scope: Scope::workloads(),
};

impl Rule for ImageRegistry {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn applies_to(&self, _object: &Object, ctx: &Context<'_>) -> bool {
        !ctx.config.registries.allowed.is_empty()
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let allowed = &ctx.config.registries.allowed;
        if allowed.is_empty() {
            return;
        }
        for_each_container(object, |_, container| {
            let Some(image) = container.image() else {
                return;
            };
            let Some(reference) = ImageRef::parse(image) else {
                return;
            };
            if allowed.iter().any(|entry| reference.allowed_by(entry)) {
                return;
            }
            out.push(Violation::new(
                container.pointer_to("image"),
                format!(
                    "{} uses image `{image}` from registry `{}`, which is not in registries.allowed ({})",
                    container.subject(object),
                    reference.registry,
                    allowed.join(", ")
                ),
            ));
        });
    }
}
