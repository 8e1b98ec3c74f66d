//! RBAC objects as the authorizer reads them: the rules of a Role or ClusterRole, what a rule
//! grants (with `*` for groups, resources and verbs, and `pods/*` for subresources), the role a
//! binding refers to and its subjects, and which roles and subjects are Kubernetes' own.

use std::collections::HashSet;

use crate::model::value::Value;

use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::model::workload::flag;
use crate::rules::Context;

/// Roles and ClusterRoles.
pub const ROLES: &[Kind] = &[
    Kind::new(RBAC_GROUP, "Role"),
    Kind::new(RBAC_GROUP, "ClusterRole"),
];

/// RoleBindings and ClusterRoleBindings.
pub const BINDINGS: &[Kind] = &[
    Kind::new(RBAC_GROUP, "RoleBinding"),
    Kind::new(RBAC_GROUP, "ClusterRoleBinding"),
];

/// What the lookups of this module read: roles ([`bound_role`]) and bindings
/// ([`BoundServiceAccounts`]).
pub const READS: &[Kind] = &[
    Kind::new(RBAC_GROUP, "Role"),
    Kind::new(RBAC_GROUP, "ClusterRole"),
    Kind::new(RBAC_GROUP, "RoleBinding"),
    Kind::new(RBAC_GROUP, "ClusterRoleBinding"),
];

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// True for a Role or ClusterRole.
pub fn is_role(object: &Object) -> bool {
    object.is(RBAC_GROUP, "Role") || object.is(RBAC_GROUP, "ClusterRole")
}

/// True for a RoleBinding or ClusterRoleBinding.
pub fn is_binding(object: &Object) -> bool {
    object.is(RBAC_GROUP, "RoleBinding") || object.is(RBAC_GROUP, "ClusterRoleBinding")
}

/// One entry of a role's `rules`.
#[derive(Debug, Clone)]
pub struct PolicyRule<'a> {
    pub pointer: String,
    pub api_groups: Vec<&'a str>,
    pub resources: Vec<&'a str>,
    pub verbs: Vec<&'a str>,
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The rules of a Role or ClusterRole (rules with `nonResourceURLs` only have no resources).
pub fn policy_rules(role: &Object) -> Vec<PolicyRule<'_>> {
    let list = role.value.get("rules").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .enumerate()
        .map(|(i, rule)| PolicyRule {
            pointer: format!("/rules/{i}"),
            api_groups: strings(rule.get("apiGroups")),
            resources: strings(rule.get("resources")),
            verbs: strings(rule.get("verbs")),
        })
        .collect()
}

/// How a grant matches: through explicit names, or only through a `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Explicit,
    Wildcard,
}

fn matches_one(patterns: &[&str], wanted: &str) -> Option<Match> {
    if patterns.contains(&wanted) {
        return Some(Match::Explicit);
    }
    // `pods/*` covers every subresource of pods.
    if let Some((resource, _)) = wanted.split_once('/')
        && patterns
            .iter()
            .any(|p| p.strip_suffix("/*") == Some(resource))
    {
        return Some(Match::Wildcard);
    }
    patterns.contains(&"*").then_some(Match::Wildcard)
}

impl PolicyRule<'_> {
    /// Whether the rule grants `verb` on `resource` of API `group`, and how.
    pub fn grants(&self, group: &str, resource: &str, verb: &str) -> Option<Match> {
        let found = [
            matches_one(&self.api_groups, group)?,
            matches_one(&self.resources, resource)?,
            matches_one(&self.verbs, verb)?,
        ];
        Some(if found.contains(&Match::Wildcard) {
            Match::Wildcard
        } else {
            Match::Explicit
        })
    }

    /// `*` on groups, resources and verbs (or every ordinary verb): all of Kubernetes' API.
    pub fn is_everything(&self) -> bool {
        const ALL_VERBS: [&str; 7] = [
            "get", "list", "watch", "create", "update", "patch", "delete",
        ];
        self.api_groups.contains(&"*")
            && self.resources.contains(&"*")
            && (self.verbs.contains(&"*") || ALL_VERBS.iter().all(|v| self.verbs.contains(v)))
    }
}

/// A role Kubernetes (or the distribution) ships: `cluster-admin`, `admin`, `edit`, `view` and
/// `system:` ClusterRoles, roles labelled `kubernetes.io/bootstrapping: rbac-defaults`, and
/// `system:` Roles in `kube-system`/`kube-public`. A person does not change those.
pub fn is_default_role(role: &Object) -> bool {
    if role.label("kubernetes.io/bootstrapping") == Some("rbac-defaults") {
        return true;
    }
    if role.kind == "ClusterRole" {
        return matches!(
            role.name.as_str(),
            "cluster-admin" | "admin" | "edit" | "view"
        ) || role.name.starts_with("system:");
    }
    role.name.starts_with("system:")
        && matches!(
            role.namespace.as_deref(),
            Some("kube-system" | "kube-public")
        )
}

/// The `roleRef` of a binding: kind and name.
pub fn role_ref(binding: &Object) -> Option<(&str, &str)> {
    let role_ref = binding.value.get("roleRef")?;
    Some((
        role_ref.get("kind")?.as_str()?,
        role_ref.get("name")?.as_str()?,
    ))
}

/// The role a binding refers to, when the inventory has it: a Role in the binding's namespace,
/// or a ClusterRole.
pub fn bound_role<'a>(binding: &Object, ctx: &Context<'a>) -> Option<&'a Object> {
    let (kind, name) = role_ref(binding)?;
    let namespace = match kind {
        "Role" => Some(binding.namespace.as_deref()?),
        "ClusterRole" => None,
        _ => return None,
    };
    ctx.inventory
        .find(kind, namespace, name)
        .find(|o| o.group() == RBAC_GROUP)
}

/// A subject of a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    /// For ServiceAccounts: their namespace (a RoleBinding's own when left out).
    pub namespace: Option<&'a str>,
    pub pointer: String,
}

impl Subject<'_> {
    /// `ServiceAccount shop-dev/api`, `User alice`, `Group system:masters`.
    pub fn describe(&self) -> String {
        match self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// The ServiceAccount this subject is, also when written as the user
    /// `system:serviceaccount:<namespace>:<name>`.
    pub fn service_account(&self) -> Option<(&str, &str)> {
        match self.kind {
            "ServiceAccount" => Some((self.namespace?, self.name)),
            "User" => {
                let rest = self.name.strip_prefix("system:serviceaccount:")?;
                rest.split_once(':')
            }
            _ => None,
        }
    }

    /// Kubernetes' own identities: `system:` users and groups (control plane, nodes,
    /// `system:masters`) and the ServiceAccounts of `kube-system`.
    pub fn is_system(&self) -> bool {
        if let Some((namespace, _)) = self.service_account() {
            return namespace == "kube-system";
        }
        self.name.starts_with("system:")
    }
}

/// The subjects of a binding.
pub fn subjects(binding: &Object) -> Vec<Subject<'_>> {
    let list = binding.value.get("subjects").and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, s)| {
            let kind = s.get("kind")?.as_str()?;
            let name = s.get("name")?.as_str()?;
            let namespace = match kind {
                "ServiceAccount" => s
                    .get("namespace")
                    .and_then(Value::as_str)
                    .or(binding.namespace.as_deref()),
                _ => None,
            };
            Some(Subject {
                kind,
                name,
                namespace,
                pointer: format!("/subjects/{i}"),
            })
        })
        .collect()
}

/// ServiceAccounts that some binding of the inventory names, directly or through the
/// `system:serviceaccounts[:<namespace>]` groups.
#[derive(Debug, Default)]
pub struct BoundServiceAccounts {
    accounts: HashSet<(String, String)>,
    namespaces: HashSet<String>,
    all: bool,
}

impl BoundServiceAccounts {
    pub fn of(ctx: &Context<'_>) -> std::sync::Arc<BoundServiceAccounts> {
        ctx.memo(|| {
            let mut bound = BoundServiceAccounts::default();
            let bindings = ctx
                .inventory
                .of_kind("RoleBinding")
                .chain(ctx.inventory.of_kind("ClusterRoleBinding"))
                .filter(|b| b.group() == RBAC_GROUP);
            for binding in bindings {
                for subject in subjects(binding) {
                    if let Some((namespace, name)) = subject.service_account() {
                        bound
                            .accounts
                            .insert((namespace.to_string(), name.to_string()));
                    } else if subject.kind == "Group" {
                        match subject.name.strip_prefix("system:serviceaccounts") {
                            Some("") => bound.all = true,
                            Some(rest) => {
                                if let Some(ns) = rest.strip_prefix(':') {
                                    bound.namespaces.insert(ns.to_string());
                                }
                            }
                            None => {}
                        }
                    }
                }
            }
            bound
        })
    }

    /// True when some binding grants the ServiceAccount rights.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.all
            || self.namespaces.contains(namespace)
            || self
                .accounts
                .contains(&(namespace.to_string(), name.to_string()))
    }
}

/// The `automountServiceAccountToken` of a ServiceAccount object, when it sets one.
pub fn service_account_automount(account: &Object) -> Option<bool> {
    account
        .value
        .get("automountServiceAccountToken")
        .and_then(flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule<'a>(groups: &[&'a str], resources: &[&'a str], verbs: &[&'a str]) -> PolicyRule<'a> {
        PolicyRule {
            pointer: String::new(),
            api_groups: groups.to_vec(),
            resources: resources.to_vec(),
            verbs: verbs.to_vec(),
        }
    }

    #[test]
    fn grants_follow_the_authorizer() {
        let exec = rule(&[""], &["pods/exec"], &["create"]);
        assert_eq!(
            exec.grants("", "pods/exec", "create"),
            Some(Match::Explicit)
        );
        assert_eq!(exec.grants("", "pods", "create"), None);
        let sub = rule(&[""], &["pods/*"], &["create"]);
        assert_eq!(sub.grants("", "pods/exec", "create"), Some(Match::Wildcard));
        let all = rule(&["*"], &["*"], &["*"]);
        assert_eq!(all.grants("", "secrets", "get"), Some(Match::Wildcard));
        assert!(all.is_everything());
        assert!(!rule(&["*"], &["pods"], &["*"]).is_everything());
    }
}
