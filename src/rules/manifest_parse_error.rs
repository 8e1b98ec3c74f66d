//! `manifest-parse-error`: a file that is not valid YAML or JSON.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ManifestParseError;

pub const ID: &str = "manifest-parse-error";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Manifest is not valid YAML or JSON",
    summary: "A file that cannot be read as YAML or JSON, at the error's line",
    severity: Severity::High,
    tags: &["correctness"],
    remediation: "Fix the syntax at the reported line; `kubectl apply --dry-run=client -f FILE` shows what the API server would read.",
    doc: r#"A file that cannot be read as YAML or JSON: a syntax error, a duplicate key, invalid
UTF-8, a binary file with a manifest's name, nesting deeper than 200 levels or an alias
expansion beyond the safety budget. The finding points at the line and column of the error;
the documents before the error and those after the next `---` are still scanned. A duplicate
key does not drop its document: it is scanned with the last value, as Kubernetes reads it.

### Why

A manifest that does not parse is not deployed, or (for a duplicate key) not deployed as
written: Kubernetes keeps only one of the values. Nothing else in the broken document can be
checked either, so every other rule is blind to it.

### Failing example

```yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  level: debug
  level: info     # duplicate key
```

### Passing example

```yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  level: info
```

### Remediation

Fix the syntax at the reported position. Helm chart templates (`templates/` next to a
`Chart.yaml`) are not manifests and are skipped; render them with `helm template` and scan
the output. Other files that are not manifests can be listed in `.tollgateignore`.
"#,
    scope: Scope::files(),
};

impl Rule for ManifestParseError {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Parse errors are reported while reading files, before there is an object to check.
    fn check(&self, _object: &Object, _ctx: &Context<'_>, _out: &mut Vec<Violation>) {}

    /// It checks files, not objects: reports list the files read instead.
    fn applies_to(&self, _object: &Object, _ctx: &Context<'_>) -> bool {
        false
    }
}
