//! `drift-out-of-band`: a violation in the cluster that its declaration in git does not have
//! (`tollgate audit --gitops`).

use crate::model::value::Value;

use crate::drift::GitSide;
use crate::engine::RuleSet;
use crate::finding::Severity;
use crate::finding::{Finding, FingerprintInput, keyed_path};
use crate::model::inventory::Inventory;
use crate::model::object::{Object, Origin};
use crate::rules::{self, Context, Kind, Rule, RuleMeta, Scope, Violation};

pub struct DriftOutOfBand;

pub const ID: &str = "drift-out-of-band";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Violation made in the cluster, not in git",
    summary: "live only, `audit --gitops`: another rule's finding on a live object that its instance in git does not have: the cluster was changed, not the repository (severity of that finding); names the API path and the git file:line",
    severity: Severity::Medium,
    tags: &["drift", "gitops", "live"],
    remediation: "Find who changed the object in the cluster (`kubectl edit`, `patch`, `set image`), undo it by syncing from git, and make the change through the repository if it was needed.",
    doc: r#"Live only, with `tollgate audit --gitops DIR`: a finding of another rule on a live object
whose instance in the GitOps repository (same cluster, kind, namespace and name) does not have
it: the same rule does not report the git instance at that node (nor at a node containing it
or inside it, so that defaults the API server fills in, such as an empty `securityContext`,
do not count). Somebody changed the cluster, not the repository: `kubectl edit`, `patch`,
`set image`, `scale` or a sync that was paused. The finding sits on the live object, names
its API path and the git file:line of the instance, carries the other rule's message, and
takes its severity (a privileged container made by hand is as bad as one in git).

Compared are the findings of the rules that ran (built-in and Rego), unsuppressed in the
cluster. Not compared: rules that only look at live clusters (they have nothing to say about
git, e.g. `velero-backup-stale`), `plain-secret` (it looks for clear text in git but for
Secrets without an owner in a cluster, so a SOPS-encrypted Secret passes in git and not live),
`image-scan` (its results change when a new vulnerability is published, not when anybody
changes the object), and the drift rules. Status and other
fields no rule reads never count, nor does the replica count where git leaves it unset or an
autoscaler (HorizontalPodAutoscaler, KEDA ScaledObject) sets it. A live object git does not declare is
`drift-unmanaged`'s; a violation in git is reported by `tollgate scan` on the repository.

### Why

The repository is what reviewers approve and what a rebuild restores. A violation that exists
only in the cluster bypassed review, will silently disappear (or come back) at the next sync,
and tells that the cluster is not what git says: the nightly audit is where that shows.

### Failing example

```yaml
# gitops/api.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: harbor.acme.internal/shop/api:2.0.1
          securityContext:
            privileged: false
---
# live, after `kubectl edit`: privileged (`privileged-container`, not in git)
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: harbor.acme.internal/shop/api:2.0.1
          securityContext:
            privileged: true
```

### Passing example

```yaml
# gitops/api.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: harbor.acme.internal/shop/api:2.0.1
          securityContext:
            privileged: false
---
# live, as git has it (a violation git has too is `tollgate scan`'s to report)
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: harbor.acme.internal/shop/api:2.0.1
          securityContext:
            privileged: false
```

### Remediation

Sync the application from git (Argo CD `Sync`, `flux reconcile`) to undo the change, find out
who made it, and make the change through the repository if it was needed. Enable
self-healing (`syncPolicy.automated.selfHeal`) where hand changes must not survive.
"#,
    scope: Scope::metadata().live_only().reading(&[AUTOSCALERS]),
};

/// What the rule reads besides metadata: the autoscalers that own a workload's replica count.
const AUTOSCALERS: &[Kind] = &[
    Kind::new("autoscaling", "HorizontalPodAutoscaler"),
    Kind::new("keda.sh", "ScaledObject"),
];

impl Rule for DriftOutOfBand {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    /// Nothing to see on one object alone: the findings are made by [`derive`] from the
    /// other rules' findings on the live objects and on their git instances, once those
    /// rules ran.
    fn check(&self, _object: &Object, _ctx: &Context<'_>, _out: &mut Vec<Violation>) {}

    /// Live objects that the repository declares.
    fn applies_to(&self, object: &Object, ctx: &Context<'_>) -> bool {
        object.is_live()
            && ctx
                .gitops()
                .is_some_and(|git| git.declaration_index(object).is_some())
    }
}

/// Rules that judge a live object by another criterion than its manifest, so that a live
/// finding without a git twin says nothing about a change: `plain-secret` looks for clear-text
/// credentials in git (a SOPS-encrypted or templated Secret passes) and for Secrets without an
/// owner in a cluster.
const JUDGED_DIFFERENTLY: &[&str] = &["plain-secret"];

/// Whether findings of `rule` on live objects are compared with git: not the live-only rules,
/// not rules that judge live objects differently, not `image-scan`, not the drift rules.
pub fn compared(rule: &str) -> bool {
    if rule.starts_with("drift-")
        || rule == rules::image_scan::ID
        || JUDGED_DIFFERENTLY.contains(&rule)
    {
        return false;
    }
    rules::find(rule).is_none_or(|r| !r.meta().tags.contains(&"live"))
}

/// The `drift-out-of-band` findings of one cluster: for every active finding on a live
/// object of `live` (by index) that its git instance does not have, one finding on the live
/// object. Returned with the object's index, for suppression.
pub fn derive(
    live: &Inventory,
    findings: &[(usize, &Finding)],
    git: &GitSide,
    rules: &RuleSet,
) -> Vec<(usize, Finding)> {
    if !rules.is_enabled(ID) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (index, finding) in findings {
        if !finding.is_active() || !compared(&finding.rule) {
            continue;
        }
        let Some(object) = live.objects().get(*index) else {
            continue;
        };
        let Some(git_index) = git.declaration_index(object) else {
            continue;
        };
        let node = keyed_path(&object.value, &finding.pointer);
        if git.reports(git_index, &finding.rule, &node) {
            continue;
        }
        let declared = &git.inventory().objects()[git_index];
        if set_by_controller(live, object, declared, &finding.pointer) {
            continue;
        }
        let git_pointer = corresponding_pointer(&object.value, &declared.value, &finding.pointer);
        let (file, pos) = declared
            .source_of(&git_pointer)
            .unwrap_or(("<git>", declared.locate(&git_pointer)));
        let api_path = match &object.origin {
            Origin::Cluster { api_path, .. } if !api_path.is_empty() => api_path.clone(),
            _ => object.live_uri(),
        };
        let message = format!(
            "`{}` reports the live object ({api_path}) but not its declaration in git ({file}:{}): \
             the cluster was changed, not the repository. {}",
            finding.rule, pos.line, finding.message
        );
        let severity = rules.severity(ID, Some(finding.severity), META.severity);
        let mut drift = Finding::on_object(
            ID,
            severity,
            message,
            META.remediation.to_string(),
            object,
            &finding.pointer,
        );
        // One drift finding per finding it stands for: two rules at one node are two.
        let mut identity = FingerprintInput::of(ID, object, &finding.pointer);
        identity.node = format!("{node}#{}", finding.rule);
        drift.fingerprint = identity.hash();
        out.push((*index, drift));
    }
    out
}

/// Whether the node at `pointer` of the live `object` is a field controllers write: the
/// replica count of a workload that git leaves unset or that an autoscaler (a
/// HorizontalPodAutoscaler, a KEDA ScaledObject) scales. A finding there is not somebody's
/// change of the cluster.
fn set_by_controller(live: &Inventory, object: &Object, declared: &Object, pointer: &str) -> bool {
    if pointer != "/spec/replicas" {
        return false;
    }
    if declared.at("/spec/replicas").is_none() {
        return true;
    }
    let namespace = object.namespace.as_deref().unwrap_or_default();
    ["HorizontalPodAutoscaler", "ScaledObject"]
        .iter()
        .any(|kind| {
            live.of_kind(kind).any(|scaler| {
                let target = |field: &str| {
                    scaler
                        .at(&format!("/spec/scaleTargetRef/{field}"))
                        .and_then(Value::as_str)
                };
                scaler.namespace.as_deref() == Some(namespace)
                    && target("name") == Some(object.name.as_str())
                    && target("kind").unwrap_or("Deployment") == object.kind
            })
        })
}

/// The pointer in `git` to the node of `live` at `pointer`, or to its deepest ancestor git
/// has: list items are matched by `name` (containers, volumes, env), else by position.
fn corresponding_pointer(live: &Value, git: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let (mut live_node, mut git_node) = (Some(live), git);
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        let next = match (live_node, git_node) {
            (Some(Value::Array(live_items)), Value::Array(git_items)) => {
                let item = segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| live_items.get(i));
                let name = item.and_then(|i| i.get("name")).and_then(Value::as_str);
                let position = match name {
                    Some(name) => git_items
                        .iter()
                        .position(|g| g.get("name").and_then(Value::as_str) == Some(name)),
                    None => segment
                        .parse::<usize>()
                        .ok()
                        .filter(|&i| i < git_items.len()),
                };
                position.map(|p| (item, p.to_string(), &git_items[p]))
            }
            (_, Value::Object(map)) => map
                .get(&segment)
                .map(|g| (live_node.and_then(|l| l.get(&segment)), raw.to_string(), g)),
            _ => None,
        };
        let Some((live_next, key, git_next)) = next else {
            break;
        };
        out.push('/');
        out.push_str(&key);
        live_node = live_next;
        git_node = git_next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;

    #[test]
    fn git_pointer_follows_containers_by_name() {
        let live = doc!({"spec": {"containers": [
            {"name": "sidecar"}, {"name": "web", "securityContext": {"privileged": true}}]}});
        let git = doc!({"spec": {"containers": [{"name": "web", "image": "x"}]}});
        assert_eq!(
            corresponding_pointer(&live, &git, "/spec/containers/1/securityContext/privileged"),
            "/spec/containers/0"
        );
        assert_eq!(
            corresponding_pointer(&live, &git, "/spec/containers/0/securityContext"),
            "/spec/containers"
        );
    }

    fn object(value: Value, live: bool) -> Object {
        let origin = if live {
            Origin::Cluster {
                context: "production".into(),
                api_path: String::new(),
            }
        } else {
            Origin::File {
                path: "web.yaml".into(),
                document: 0,
                item: None,
                start_line: 1,
                end_line: 9,
            }
        };
        Object::from_value(value, origin, Default::default()).unwrap()
    }

    #[test]
    fn replicas_are_a_controllers_unless_git_sets_them_and_nothing_scales() {
        let deployment = |replicas: Option<u32>, live: bool| {
            let mut value = doc!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "shop-prod"}, "spec": {}});
            if let Some(n) = replicas {
                value
                    .pointer_mut("/spec")
                    .and_then(Value::as_object_mut)
                    .unwrap()
                    .insert("replicas", doc!(n));
            }
            object(value, live)
        };
        let hpa = object(
            doc!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web", "namespace": "shop-prod"},
                "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}}}),
            true,
        );
        let live = deployment(Some(4), true);
        let alone = Inventory::new(vec![live.clone()]);
        let scaled = Inventory::new(vec![live.clone(), hpa]);
        let replicas = "/spec/replicas";
        assert!(set_by_controller(
            &alone,
            &live,
            &deployment(None, false),
            replicas
        ));
        assert!(!set_by_controller(
            &alone,
            &live,
            &deployment(Some(2), false),
            replicas
        ));
        assert!(set_by_controller(
            &scaled,
            &live,
            &deployment(Some(2), false),
            replicas
        ));
        assert!(!set_by_controller(
            &scaled,
            &live,
            &deployment(None, false),
            "/spec/template"
        ));
    }

    #[test]
    fn live_only_rules_are_not_compared() {
        assert!(!compared("velero-backup-stale"));
        assert!(!compared("image-scan"));
        assert!(!compared("drift-unmanaged"));
        assert!(!compared("plain-secret"));
        assert!(compared("privileged-container"));
        assert!(compared("my-rego-policy"));
    }
}
