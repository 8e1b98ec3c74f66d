//! `image-pinned`: images without a tag, with `latest`, or without a digest where one is required.

use crate::finding::Severity;
use crate::model::image::ImageRef;
use crate::model::object::Object;
use crate::model::workload::for_each_container;
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ImagePinned;

static META: RuleMeta = RuleMeta {
    id: "image-pinned",
    title: "Image not pinned to a version or digest",
    summary: "An image with no tag or `latest`; without a digest where one is required",
    severity: Severity::Medium,
    tags: &["supply-chain", "images"],
    remediation: "Reference a released version tag, or a digest (`image@sha256:…`) in environments that require one.",
    doc: r#"A container image with no tag or the tag `latest`, unless it is pinned by digest. In
environments listed in `registries.require_digest`, any image without an `@sha256:` digest.
The environment is the object's own (labels, namespace) or, failing that, where it is placed
(folder or cluster).

### Why

`latest` (or no tag) means a different image every time a node pulls it: rollbacks do not
roll back, two replicas can run different code, and what was scanned is not what runs. A tag
can still be moved; only a digest names content, which is why production pins digests.

### Failing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:latest
```

### Passing example

```yaml
      containers:
        - name: api
          image: harbor.example.com/shop/api:1.4.2@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
```

### Remediation

Use the release tag your pipeline builds, and let the deploy tooling (Argo CD Image Updater,
Renovate, `kustomize edit set image`) write the digest for production.

### Configuration

- `registries.require_digest`: environments (e.g. `[prod]`) where a digest is required.

### Compared with other tools

Agrees with kube-linter `latest-tag`, kube-score `Container Image Tag` and Polaris
`tagNotSpecified` on all their fixtures (no tag and `latest` fail, a version tag passes). A
digest pins the image whatever the tag says, so `nginx:latest@sha256:…` passes.
"#,
    scope: Scope::workloads(),
};

impl Rule for ImagePinned {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let env = object.environment();
        let digest_required = env.is_some_and(|env| {
            ctx.config
                .registries
                .require_digest
                .iter()
                .any(|e| e == env)
        });
        for_each_container(object, |_, container| {
            let Some(image) = container.image() else {
                return;
            };
            let Some(reference) = ImageRef::parse(image) else {
                return;
            };
            let pointer = container.pointer_to("image");
            let subject = container.subject(object);
            if reference.has_sha256_digest() {
                return;
            }
            if digest_required {
                out.push(Violation::new(
                    pointer,
                    format!(
                        "{subject} uses image `{image}` without an @sha256 digest, which environment `{}` requires",
                        env.unwrap_or_default()
                    ),
                ));
                return;
            }
            match reference.tag {
                None if reference.digest.is_none() => out.push(Violation::new(
                    pointer,
                    format!("{subject} uses image `{image}` without a tag, which means `latest`"),
                )),
                Some("latest") => out.push(Violation::new(
                    pointer,
                    format!("{subject} uses image `{image}` with the `latest` tag"),
                )),
                _ => {}
            }
        });
    }
}
