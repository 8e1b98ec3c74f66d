//! Which namespaces deny ingress by default, and which run workloads without such a policy.

use std::collections::{BTreeMap, HashMap};

use crate::model::value::{Map, Value};

use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::model::workload::is_workload;
use crate::rules::Context;
use crate::rules::support::selector::Selector;

/// What [`DefaultDenyFacts::build`] reads besides the workloads (by the names of
/// `WORKLOAD_KINDS`): Namespaces and every kind of ingress policy it understands.
pub const READS: &[Kind] = &[
    Kind::new("", "Namespace"),
    Kind::new("networking.k8s.io", "NetworkPolicy"),
    Kind::new("cilium.io", "CiliumNetworkPolicy"),
    Kind::new("cilium.io", "CiliumClusterwideNetworkPolicy"),
    Kind::new("kyverno.io", "ClusterPolicy"),
    Kind::new("policy.networking.k8s.io", "AdminNetworkPolicy"),
    Kind::new("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
];

/// Kinds that run pods (see [`crate::model::workload`]).
const WORKLOAD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Rollout",
    "CloneSet",
];

/// Cilium's label for the namespace of an endpoint, and the prefix of namespace labels.
pub const CILIUM_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const CILIUM_NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";

#[derive(Debug, Default)]
pub struct DefaultDenyFacts {
    /// Object index → the namespace missing a default deny; the finding goes there.
    report_on: HashMap<usize, Missing>,
}

/// A namespace of a required environment that is not default-deny for ingress, and why.
#[derive(Debug, Clone)]
pub struct Missing {
    pub namespace: String,
    pub environment: String,
    /// Policies that select every pod of the namespace but admit everything: `(policy, what
    /// it admits)`.
    pub opened_by: Vec<(String, String)>,
    /// Policies that isolate every pod with bounded admission (none when the namespace has
    /// no default deny at all).
    pub isolated_by: Vec<String>,
}

/// What a policy that selects every pod of a namespace does to their ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ingress {
    /// The pods are not isolated by it (no ingress section, egress-only…).
    NotIsolating,
    /// Isolated, admitting only a bounded set of peers (or none).
    Bounded,
    /// Isolated in name only: it admits everyone (the reason says how).
    Unbounded(String),
}

fn is_empty_selector(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(v) => Selector::parse(v).is_some_and(|s| s.is_empty()),
    }
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn is_world_cidr(cidr: &str) -> bool {
    matches!(cidr.trim(), "0.0.0.0/0" | "::/0")
}

/// A NetworkPolicy spec selecting every pod with `Ingress` among its policy types
/// (Kubernetes assumes `Ingress` when `policyTypes` is absent).
fn spec_isolates(spec: &Value) -> bool {
    if !is_empty_selector(spec.get("podSelector")) {
        return false;
    }
    match spec.get("policyTypes").and_then(Value::as_array) {
        Some(types) => types.iter().any(|t| t.as_str() == Some("Ingress")),
        None => true,
    }
}

/// How a NetworkPolicy spec treats the ingress of the pods it selects, when it selects all.
fn network_policy_ingress(spec: &Value) -> Ingress {
    if !spec_isolates(spec) {
        return Ingress::NotIsolating;
    }
    for rule in array(spec.get("ingress")) {
        let from = array(rule.get("from"));
        if from.is_empty() {
            return Ingress::Unbounded("every source (an ingress rule without `from`)".into());
        }
        for peer in from {
            if let Some(cidr) = peer
                .get("ipBlock")
                .and_then(|b| b.get("cidr"))
                .and_then(Value::as_str)
                && is_world_cidr(cidr)
            {
                return Ingress::Unbounded(format!("the world (ipBlock `{cidr}`)"));
            }
        }
    }
    Ingress::Bounded
}

/// Fields of a Cilium rule (`spec`, `specs[]`) and of its ingress rules, as the CRD defines
/// them; anything else is pruned by the API server and warned about.
const CILIUM_RULE_FIELDS: &[&str] = &[
    "endpointSelector",
    "nodeSelector",
    "ingress",
    "ingressDeny",
    "egress",
    "egressDeny",
    "labels",
    "description",
    "enableDefaultDeny",
    "log",
];
const CILIUM_INGRESS_FIELDS: &[&str] = &[
    "fromEndpoints",
    "fromRequires",
    "fromCIDR",
    "fromCIDRSet",
    "fromEntities",
    "fromGroups",
    "fromNodes",
    "toPorts",
    "icmps",
    "authentication",
];

/// How a Cilium rule treats the ingress of its endpoints. Cilium puts every selected
/// endpoint in ingress default-deny as soon as the rule has an `ingress` or `ingressDeny`
/// section (unless `enableDefaultDeny.ingress: false`); `ingress: [{}]` admits nothing.
fn cilium_ingress(rule: &Value) -> Ingress {
    let ingress = array(rule.get("ingress"));
    let deny = array(rule.get("ingressDeny"));
    let opted_out = rule
        .get("enableDefaultDeny")
        .and_then(|d| d.get("ingress"))
        .and_then(Value::as_bool)
        == Some(false);
    if opted_out || (ingress.is_empty() && deny.is_empty()) {
        return Ingress::NotIsolating;
    }
    for entry in ingress {
        let entities: Vec<&str> = array(entry.get("fromEntities"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for open in ["all", "world"] {
            if entities.contains(&open) {
                let what = if open == "all" {
                    "everything"
                } else {
                    "the world"
                };
                return Ingress::Unbounded(format!(
                    "{what} (`fromEntities: [{}]`)",
                    entities.join(", ")
                ));
            }
        }
        let cidrs = array(entry.get("fromCIDR"))
            .iter()
            .filter_map(Value::as_str)
            .chain(
                array(entry.get("fromCIDRSet"))
                    .iter()
                    .filter_map(|c| c.get("cidr").and_then(Value::as_str)),
            );
        for cidr in cidrs {
            if is_world_cidr(cidr) {
                return Ingress::Unbounded(format!("the world (CIDR `{cidr}`)"));
            }
        }
    }
    Ingress::Bounded
}

/// The Cilium rules of a policy (`spec` and `specs[]`) with their JSON pointers.
fn cilium_rules(policy: &Object) -> Vec<(String, &Value)> {
    let mut rules: Vec<(String, &Value)> = policy
        .at("/spec")
        .into_iter()
        .map(|r| ("/spec".to_string(), r))
        .collect();
    for (i, rule) in array(policy.at("/specs")).iter().enumerate() {
        rules.push((format!("/specs/{i}"), rule));
    }
    rules
}

/// Warns about fields of a Cilium rule that its CRD does not define.
fn warn_unknown_cilium_fields(ctx: &Context<'_>, policy: &Object, pointer: &str, rule: &Value) {
    let Some(map) = rule.as_object() else {
        ctx.warn(
            policy,
            pointer,
            format!(
                "{}: `{pointer}` is not a mapping; the policy is ignored",
                policy.display()
            ),
        );
        return;
    };
    let unknown = |field: &str, fields: &[&str], at: String| {
        if !fields.contains(&field) {
            ctx.warn(
                policy,
                &at,
                format!(
                    "{}: unknown field `{field}` (Cilium's CRD schema prunes it, so the policy is judged without it)",
                    policy.display()
                ),
            );
        }
    };
    for field in map.keys() {
        unknown(field, CILIUM_RULE_FIELDS, format!("{pointer}/{field}"));
    }
    for section in ["ingress", "ingressDeny"] {
        for (i, entry) in array(map.get(section)).iter().enumerate() {
            for field in entry.as_object().into_iter().flat_map(|m| m.keys()) {
                unknown(
                    field,
                    CILIUM_INGRESS_FIELDS,
                    format!("{pointer}/{section}/{i}/{field}"),
                );
            }
        }
    }
}

/// Labels Cilium gives an endpoint of `namespace` from the namespace: its name and labels.
fn cilium_namespace_labels(namespace: &str, labels: Option<&Map>) -> Map {
    let mut out = Map::new();
    out.insert(CILIUM_NAMESPACE, Value::String(namespace.into()));
    for (key, value) in labels.into_iter().flatten() {
        out.insert(format!("{CILIUM_NAMESPACE_LABELS}{key}"), value.clone());
    }
    out
}

/// A selector that only looks at namespaces (Cilium's namespace labels) and matches
/// `namespace`: it selects every pod there. The empty selector selects everything.
fn selects_namespace(selector: &Selector, namespace: &str, labels: Option<&Map>) -> bool {
    let only_namespaces = selector
        .requirements
        .iter()
        .all(|r| r.key == CILIUM_NAMESPACE || r.key.starts_with(CILIUM_NAMESPACE_LABELS));
    only_namespaces && selector.matches(Some(&cilium_namespace_labels(namespace, labels)))
}

/// The labels a namespace selector of Kubernetes sees: its labels and
/// `kubernetes.io/metadata.name`.
fn kubernetes_namespace_labels(namespace: &str, labels: Option<&Map>) -> Map {
    let mut out = labels.cloned().unwrap_or_default();
    out.insert(
        "kubernetes.io/metadata.name",
        Value::String(namespace.into()),
    );
    out
}

/// A policy that applies to whole namespaces chosen by a selector (clusterwide Cilium,
/// AdminNetworkPolicy, Kyverno generation), with what it does to ingress.
struct NamespacePolicy {
    name: String,
    /// Cilium or Kubernetes namespace selection.
    select: NamespaceSelection,
    ingress: Ingress,
}

enum NamespaceSelection {
    Everywhere,
    Cilium(Selector),
    Kubernetes(Selector),
}

impl NamespacePolicy {
    fn selects(&self, namespace: &str, labels: Option<&Map>) -> bool {
        match &self.select {
            NamespaceSelection::Everywhere => true,
            NamespaceSelection::Cilium(s) => selects_namespace(s, namespace, labels),
            NamespaceSelection::Kubernetes(s) => {
                s.matches(Some(&kubernetes_namespace_labels(namespace, labels)))
            }
        }
    }
}

/// How an AdminNetworkPolicy / BaselineAdminNetworkPolicy treats the ingress of its
/// subjects: a `Deny` rule from every namespace (or every pod) is their default deny; an
/// `Allow` from `networks: [0.0.0.0/0]` admits the world.
fn admin_policy_ingress(spec: &Value) -> Ingress {
    let mut denies_all = false;
    for rule in array(spec.get("ingress")) {
        let action = rule.get("action").and_then(Value::as_str).unwrap_or("");
        for peer in array(rule.get("from")) {
            let all_namespaces = peer
                .get("namespaces")
                .is_some_and(|n| is_empty_selector(Some(n)));
            let all_pods = peer.get("pods").is_some_and(|p| {
                is_empty_selector(p.get("namespaceSelector"))
                    && is_empty_selector(p.get("podSelector"))
            });
            let world = array(peer.get("networks"))
                .iter()
                .filter_map(Value::as_str)
                .find(|c| is_world_cidr(c));
            match action {
                "Deny" if all_namespaces || all_pods => denies_all = true,
                "Allow" => {
                    if let Some(cidr) = world {
                        return Ingress::Unbounded(format!(
                            "the world (an Allow from network `{cidr}`)"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    if denies_all {
        Ingress::Bounded
    } else {
        Ingress::NotIsolating
    }
}

/// The namespaces an AdminNetworkPolicy's `subject` selects whole (every pod).
fn admin_policy_subject(spec: &Value) -> Option<NamespaceSelection> {
    let subject = spec.get("subject")?;
    if let Some(namespaces) = subject.get("namespaces") {
        return Some(NamespaceSelection::Kubernetes(Selector::parse(namespaces)?));
    }
    let pods = subject.get("pods")?;
    if !is_empty_selector(pods.get("podSelector")) {
        return None;
    }
    let namespaces = pods
        .get("namespaceSelector")
        .and_then(Selector::parse)
        .unwrap_or_default();
    Some(NamespaceSelection::Kubernetes(namespaces))
}

/// What the policies of one namespace (or that select it) do to the ingress of all its pods.
#[derive(Default)]
struct Judgement {
    isolated_by: Vec<String>,
    opened_by: Vec<(String, String)>,
}

impl Judgement {
    fn add(&mut self, policy: String, ingress: &Ingress) {
        match ingress {
            Ingress::NotIsolating => {}
            Ingress::Bounded => self.isolated_by.push(policy),
            Ingress::Unbounded(why) => self.opened_by.push((policy, why.clone())),
        }
    }
}

impl DefaultDenyFacts {
    pub fn build(ctx: &Context<'_>) -> DefaultDenyFacts {
        let inventory = ctx.inventory;
        let required = &ctx.config.network.require_default_deny;
        let mut facts = DefaultDenyFacts::default();
        if required.is_empty() {
            return facts;
        }

        // First workload of every namespace of a required environment, by kind and name rather
        // than file order, so reordering documents keeps the finding (and its fingerprint).
        let mut first_workload: BTreeMap<&str, usize> = BTreeMap::new();
        for kind in WORKLOAD_KINDS {
            for object in inventory.of_kind(kind).filter(|o| is_workload(o)) {
                let (Some(ns), Some(index)) =
                    (object.namespace.as_deref(), inventory.index_of(object))
                else {
                    continue;
                };
                let slot = first_workload.entry(ns).or_insert(index);
                let key = |i: usize| {
                    let o = &inventory.objects()[i];
                    (o.kind.as_str(), o.name.as_str(), i)
                };
                if key(index) < key(*slot) {
                    *slot = index;
                }
            }
        }
        let needing: Vec<(&str, usize, &str)> = first_workload
            .into_iter()
            .filter_map(|(ns, index)| {
                let env = ctx.namespace_env(ns)?;
                required
                    .iter()
                    .any(|r| r == env)
                    .then_some((ns, index, env))
            })
            .collect();
        if needing.is_empty() {
            return facts;
        }

        // Namespaced policies, by namespace.
        let mut local: HashMap<&str, Judgement> = HashMap::new();
        for policy in inventory
            .of_kind("NetworkPolicy")
            .filter(|o| o.group() == "networking.k8s.io")
        {
            if let (Some(ns), Some(spec)) = (policy.namespace.as_deref(), policy.at("/spec")) {
                local
                    .entry(ns)
                    .or_default()
                    .add(policy.display(), &network_policy_ingress(spec));
            }
        }
        for policy in inventory
            .of_kind("CiliumNetworkPolicy")
            .filter(|o| o.group() == "cilium.io")
        {
            let Some(ns) = policy.namespace.as_deref() else {
                continue;
            };
            let labels = inventory.namespace_object(ns).and_then(Object::labels);
            for (pointer, rule) in cilium_rules(policy) {
                warn_unknown_cilium_fields(ctx, policy, &pointer, rule);
                let selects_all = match rule.get("endpointSelector") {
                    None | Some(Value::Null) => rule.get("nodeSelector").is_none(),
                    Some(v) => {
                        Selector::parse(v).is_some_and(|s| selects_namespace(&s, ns, labels))
                    }
                };
                if selects_all {
                    local
                        .entry(ns)
                        .or_default()
                        .add(policy.display(), &cilium_ingress(rule));
                }
            }
        }

        let mut wide: Vec<NamespacePolicy> = Vec::new();
        // Kyverno generating a default-deny NetworkPolicy into every namespace.
        for policy in inventory
            .of_kind("ClusterPolicy")
            .filter(|o| o.group() == "kyverno.io")
        {
            for rule in array(policy.at("/spec/rules")) {
                let Some(generate) = rule.get("generate") else {
                    continue;
                };
                if generate.get("kind").and_then(Value::as_str) != Some("NetworkPolicy") {
                    continue;
                }
                if let Some(spec) = generate.get("data").and_then(|d| d.get("spec")) {
                    wide.push(NamespacePolicy {
                        name: policy.display(),
                        select: NamespaceSelection::Everywhere,
                        ingress: network_policy_ingress(spec),
                    });
                }
            }
        }
        for policy in inventory
            .of_kind("CiliumClusterwideNetworkPolicy")
            .filter(|o| o.group() == "cilium.io")
        {
            for (pointer, rule) in cilium_rules(policy) {
                warn_unknown_cilium_fields(ctx, policy, &pointer, rule);
                let select = match rule.get("endpointSelector") {
                    None | Some(Value::Null) if rule.get("nodeSelector").is_none() => {
                        NamespaceSelection::Everywhere
                    }
                    Some(v) => match Selector::parse(v) {
                        Some(s) if s.is_empty() => NamespaceSelection::Everywhere,
                        Some(s) => NamespaceSelection::Cilium(s),
                        None => continue,
                    },
                    _ => continue,
                };
                wide.push(NamespacePolicy {
                    name: policy.display(),
                    select,
                    ingress: cilium_ingress(rule),
                });
            }
        }
        for kind in ["AdminNetworkPolicy", "BaselineAdminNetworkPolicy"] {
            for policy in inventory
                .of_kind(kind)
                .filter(|o| o.group() == "policy.networking.k8s.io")
            {
                let Some(spec) = policy.at("/spec") else {
                    continue;
                };
                let Some(select) = admin_policy_subject(spec) else {
                    continue;
                };
                wide.push(NamespacePolicy {
                    name: policy.display(),
                    select,
                    ingress: admin_policy_ingress(spec),
                });
            }
        }

        for (ns, first, env) in needing {
            let labels = inventory.namespace_object(ns).and_then(Object::labels);
            let mut judgement = local.remove(ns).unwrap_or_default();
            for policy in wide.iter().filter(|p| p.selects(ns, labels)) {
                judgement.add(policy.name.clone(), &policy.ingress);
            }
            if !judgement.isolated_by.is_empty() && judgement.opened_by.is_empty() {
                continue;
            }
            let target = inventory
                .namespace_object(ns)
                .and_then(|o| inventory.index_of(o))
                .unwrap_or(first);
            judgement.isolated_by.sort();
            judgement.opened_by.sort();
            facts.report_on.insert(
                target,
                Missing {
                    namespace: ns.to_string(),
                    environment: env.to_string(),
                    opened_by: judgement.opened_by,
                    isolated_by: judgement.isolated_by,
                },
            );
        }
        facts
    }

    /// The namespace without a default deny whose finding goes on the object at `index`.
    pub fn missing_reported_on(&self, index: usize) -> Option<&Missing> {
        self.report_on.get(&index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::doc;
    use crate::model::environment::Environments;
    use crate::model::inventory::Inventory;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

    fn missing(values: Vec<Value>) -> Vec<String> {
        let inventory = Inventory::new(
            values
                .into_iter()
                .map(|v| {
                    let origin = Origin::Cluster {
                        context: "t".into(),
                        api_path: String::new(),
                    };
                    Object::from_value(v, origin, SpanTree::default()).unwrap()
                })
                .collect(),
        );
        let config = Config::default();
        let envs = Environments::new(&[]).unwrap();
        let ctx = Context::new(&inventory, &config, &envs, jiff::Timestamp::UNIX_EPOCH);
        let facts = DefaultDenyFacts::build(&ctx);
        let mut out: Vec<String> = facts
            .report_on
            .values()
            .map(|m| m.namespace.clone())
            .collect();
        out.sort();
        out
    }

    fn deployment(namespace: &str) -> Value {
        doc!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "d", "namespace": namespace},
               "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}})
    }

    #[test]
    fn kyverno_generated_default_deny_counts_everywhere() {
        let policy = doc!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "add-networkpolicy"},
            "spec": {"rules": [{"name": "deny", "generate": {
                "kind": "NetworkPolicy", "name": "default-deny",
                "data": {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}}}]}});
        assert_eq!(missing(vec![deployment("a-prod")]), ["a-prod"]);
        assert!(missing(vec![deployment("a-prod"), policy]).is_empty());
    }

    #[test]
    fn allow_all_and_partial_policies_are_no_default_deny() {
        let allow_all = doc!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "a-prod"},
            "spec": {"podSelector": {}, "ingress": [{}]}});
        let cluster_deny = doc!({"apiVersion": "cilium.io/v2",
            "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "deny"},
            "spec": {"endpointSelector": {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "b-prod"}},
                     "ingress": [{}]}});
        assert_eq!(
            missing(vec![
                deployment("a-prod"),
                deployment("b-prod"),
                allow_all,
                cluster_deny
            ]),
            ["a-prod"]
        );
    }
}
