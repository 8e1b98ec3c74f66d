//! Which namespaces deny ingress by default, and which run workloads without such a policy.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::model::object::Object;
use crate::model::workload::is_workload;
use crate::rules::Context;
use crate::rules::support::selector::{Operator, Selector};

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
    /// Object index → (namespace, environment) missing a default deny; the finding goes there.
    report_on: HashMap<usize, (String, String)>,
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

/// A Kubernetes NetworkPolicy selecting every pod and admitting no ingress.
pub fn network_policy_denies_ingress(policy: &Object) -> bool {
    policy.at("/spec").is_some_and(spec_denies_ingress)
}

/// A NetworkPolicy spec selecting every pod and admitting no ingress.
fn spec_denies_ingress(spec: &Value) -> bool {
    if !is_empty_selector(spec.get("podSelector")) {
        return false;
    }
    let no_rules = array(spec.get("ingress")).is_empty();
    match spec.get("policyTypes").and_then(Value::as_array) {
        Some(types) => no_rules && types.iter().any(|t| t.as_str() == Some("Ingress")),
        None => no_rules,
    }
}

/// A Cilium rule (`spec` or an entry of `specs`) that puts its endpoints in ingress default
/// deny while admitting nothing: `ingress: [{}]`, or an `ingressDeny` from entity `all`.
fn cilium_rule_denies_ingress(rule: &Value) -> bool {
    let ingress = rule.get("ingress").and_then(Value::as_array);
    let admits_nothing = ingress.is_some_and(|rules| {
        !rules.is_empty()
            && rules
                .iter()
                .all(|r| r.as_object().is_some_and(Map::is_empty))
    });
    let denies_all = array(rule.get("ingressDeny")).iter().any(|r| {
        array(r.get("fromEntities"))
            .iter()
            .any(|e| e.as_str() == Some("all"))
    });
    admits_nothing || denies_all
}

/// The Cilium rules of a policy with their endpoint selectors.
fn cilium_rules(policy: &Object) -> impl Iterator<Item = &Value> {
    policy
        .at("/spec")
        .into_iter()
        .chain(array(policy.at("/specs")).iter())
        .filter(|rule| cilium_rule_denies_ingress(rule))
}

/// Labels Cilium gives an endpoint of `namespace` from the namespace: its name and labels.
fn cilium_namespace_labels(
    namespace: &str,
    labels: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(CILIUM_NAMESPACE.into(), Value::String(namespace.into()));
    for (key, value) in labels.into_iter().flatten() {
        out.insert(format!("{CILIUM_NAMESPACE_LABELS}{key}"), value.clone());
    }
    out
}

/// A clusterwide selector that only looks at namespaces and matches `namespace`.
fn selects_namespace(
    selector: &Selector,
    namespace: &str,
    labels: Option<&Map<String, Value>>,
) -> bool {
    let only_namespaces = selector
        .requirements
        .iter()
        .all(|r| r.key == CILIUM_NAMESPACE || r.key.starts_with(CILIUM_NAMESPACE_LABELS));
    let positive = selector
        .requirements
        .iter()
        .any(|r| matches!(r.operator, Operator::In | Operator::Exists));
    only_namespaces
        && positive
        && selector.matches(Some(&cilium_namespace_labels(namespace, labels)))
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
        let mut needing: Vec<(&str, usize, &str)> = first_workload
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

        let mut denied: HashSet<&str> = HashSet::new();
        for policy in inventory
            .of_kind("NetworkPolicy")
            .filter(|o| o.group() == "networking.k8s.io")
        {
            if let Some(ns) = policy.namespace.as_deref()
                && network_policy_denies_ingress(policy)
            {
                denied.insert(ns);
            }
        }
        for policy in inventory
            .of_kind("CiliumNetworkPolicy")
            .filter(|o| o.group() == "cilium.io")
        {
            if let Some(ns) = policy.namespace.as_deref()
                && cilium_rules(policy).any(|r| is_empty_selector(r.get("endpointSelector")))
            {
                denied.insert(ns);
            }
        }
        let mut clusterwide: Vec<Selector> = Vec::new();
        // Kyverno generating a default-deny NetworkPolicy into every namespace.
        for policy in inventory
            .of_kind("ClusterPolicy")
            .filter(|o| o.group() == "kyverno.io")
        {
            let generates_deny = array(policy.at("/spec/rules")).iter().any(|rule| {
                rule.get("generate").is_some_and(|g| {
                    g.get("kind").and_then(Value::as_str) == Some("NetworkPolicy")
                        && g.get("data")
                            .and_then(|d| d.get("spec"))
                            .is_some_and(spec_denies_ingress)
                })
            });
            if generates_deny {
                clusterwide.push(Selector::default());
            }
        }
        for policy in inventory
            .of_kind("CiliumClusterwideNetworkPolicy")
            .filter(|o| o.group() == "cilium.io")
        {
            for rule in cilium_rules(policy) {
                if let Some(selector) = rule.get("endpointSelector").and_then(Selector::parse) {
                    clusterwide.push(selector);
                } else if is_empty_selector(rule.get("endpointSelector")) {
                    clusterwide.push(Selector::default());
                }
            }
        }

        needing.retain(|(ns, _, _)| {
            if denied.contains(ns) {
                return false;
            }
            let labels = inventory.namespace_object(ns).and_then(Object::labels);
            !clusterwide
                .iter()
                .any(|s| s.is_empty() || selects_namespace(s, ns, labels))
        });
        for (ns, first, env) in needing {
            let target = inventory
                .namespace_object(ns)
                .and_then(|o| inventory.index_of(o))
                .unwrap_or(first);
            facts
                .report_on
                .insert(target, (ns.to_string(), env.to_string()));
        }
        facts
    }

    /// The namespace (and its environment) without a default deny whose finding goes on the
    /// object at `index`.
    pub fn missing_reported_on(&self, index: usize) -> Option<(&str, &str)> {
        self.report_on
            .get(&index)
            .map(|(ns, env)| (ns.as_str(), env.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::environment::Environments;
    use crate::model::inventory::Inventory;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;
    use serde_json::json;

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
        let mut out: Vec<String> = facts.report_on.values().map(|(ns, _)| ns.clone()).collect();
        out.sort();
        out
    }

    fn deployment(namespace: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "d", "namespace": namespace},
               "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}})
    }

    #[test]
    fn kyverno_generated_default_deny_counts_everywhere() {
        let policy = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "add-networkpolicy"},
            "spec": {"rules": [{"name": "deny", "generate": {
                "kind": "NetworkPolicy", "name": "default-deny",
                "data": {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}}}]}});
        assert_eq!(missing(vec![deployment("a-prod")]), ["a-prod"]);
        assert!(missing(vec![deployment("a-prod"), policy]).is_empty());
    }

    #[test]
    fn allow_all_and_partial_policies_are_no_default_deny() {
        let allow_all = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "a-prod"},
            "spec": {"podSelector": {}, "ingress": [{}]}});
        let cluster_deny = json!({"apiVersion": "cilium.io/v2",
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
