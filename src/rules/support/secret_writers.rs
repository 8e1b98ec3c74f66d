//! Who may write Secrets in a namespace, by RBAC evidence: a workload of the namespace runs as
//! a ServiceAccount that a RoleBinding or ClusterRoleBinding allows to `create`, `update` or
//! `patch` `secrets` (only the `resourceNames` given, when a rule names some). That is how
//! controllers that make their own Secrets (MetalLB's memberlist, Cilium's Hubble
//! certificates, Argo CD's redis secret init Job, webhook certificate generators) are
//! recognised, without a list of names.

use std::collections::{BTreeSet, HashMap};

use crate::model::value::Value;

use crate::model::object::Object;
use crate::model::workload::{is_workload, pod_spec};
use crate::rules::Context;
use crate::rules::support::rbac;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Which Secrets a role lets its subjects write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Write {
    Any,
    Names(BTreeSet<String>),
}

impl Write {
    fn merge(&mut self, other: Write) {
        match (&mut *self, other) {
            (Write::Any, _) => {}
            (_, Write::Any) => *self = Write::Any,
            (Write::Names(mine), Write::Names(theirs)) => mine.extend(theirs),
        }
    }

    fn allows(&self, name: &str) -> bool {
        match self {
            Write::Any => true,
            Write::Names(names) => names.contains(name),
        }
    }
}

/// One workload allowed to write Secrets in its namespace.
#[derive(Debug)]
struct Writer {
    write: Write,
    /// `Job argocd/argocd-redis-secret-init (ServiceAccount argocd-redis-secret-init, Role …)`.
    description: String,
}

#[derive(Debug, Default)]
pub struct SecretWriters {
    /// Namespace → workloads there that may write Secrets there.
    by_namespace: HashMap<String, Vec<Writer>>,
}

/// A list of strings, or None (with a warning) when the field is there but is not one.
fn strings<'a>(
    ctx: &Context<'_>,
    role: &Object,
    pointer: &str,
    value: Option<&'a Value>,
) -> Option<Vec<&'a str>> {
    match value {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => {
            let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if texts.len() != items.len() {
                ctx.warn(
                    role,
                    pointer,
                    format!(
                        "{}: `{pointer}` holds something other than strings; the rule is ignored",
                        role.display()
                    ),
                );
                return None;
            }
            Some(texts)
        }
        Some(_) => {
            ctx.warn(
                role,
                pointer,
                format!(
                    "{}: `{pointer}` is not a list; the rule is ignored",
                    role.display()
                ),
            );
            None
        }
    }
}

/// What the rules of a Role or ClusterRole let write in `secrets`, if anything.
fn secret_write(ctx: &Context<'_>, role: &Object) -> Option<Write> {
    let rules = match role.at("/rules") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(rules)) => rules,
        Some(_) => {
            ctx.warn(
                role,
                "/rules",
                format!("{}: `rules` is not a list; ignored", role.display()),
            );
            return None;
        }
    };
    let mut write: Option<Write> = None;
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("/rules/{i}");
        if !rule.is_object() {
            ctx.warn(
                role,
                &at,
                format!("{}: rule {i} is not a mapping; ignored", role.display()),
            );
            continue;
        }
        let field = |name: &str| strings(ctx, role, &format!("{at}/{name}"), rule.get(name));
        let (Some(groups), Some(resources), Some(verbs), Some(names)) = (
            field("apiGroups"),
            field("resources"),
            field("verbs"),
            field("resourceNames"),
        ) else {
            continue;
        };
        let core = groups.iter().any(|g| g.is_empty() || *g == "*");
        let secrets = resources.iter().any(|r| *r == "secrets" || *r == "*");
        let writes = verbs
            .iter()
            .any(|v| matches!(*v, "create" | "update" | "patch" | "*"));
        if !(core && secrets && writes) {
            continue;
        }
        let this = if names.is_empty() {
            Write::Any
        } else {
            Write::Names(names.iter().map(|n| n.to_string()).collect())
        };
        match &mut write {
            Some(w) => w.merge(this),
            None => write = Some(this),
        }
    }
    write
}

impl SecretWriters {
    pub fn build(ctx: &Context<'_>) -> SecretWriters {
        let inventory = ctx.inventory;
        // (namespace, kind, name) → what the role lets write; ClusterRoles have no namespace.
        let mut roles: HashMap<(Option<&str>, &str, &str), Write> = HashMap::new();
        for kind in ["Role", "ClusterRole"] {
            for role in inventory.of_kind(kind).filter(|o| o.group() == RBAC_GROUP) {
                if let Some(write) = secret_write(ctx, role) {
                    let ns = if kind == "Role" {
                        role.namespace.as_deref()
                    } else {
                        None
                    };
                    roles.insert((ns, kind, role.name.as_str()), write);
                }
            }
        }
        if roles.is_empty() {
            return SecretWriters::default();
        }

        // (ServiceAccount namespace, name) → (namespace the grant holds in, None for all;
        // what it lets write; how).
        type Grant = (Option<String>, Write, String);
        let mut grants: HashMap<(String, String), Vec<Grant>> = HashMap::new();
        for kind in ["RoleBinding", "ClusterRoleBinding"] {
            for binding in inventory.of_kind(kind).filter(|o| o.group() == RBAC_GROUP) {
                let binding_ns = if kind == "RoleBinding" {
                    binding.namespace.as_deref()
                } else {
                    None
                };
                let Some((role_kind, role_name)) = rbac::role_ref(binding) else {
                    continue;
                };
                let key = match role_kind {
                    "Role" if binding_ns.is_some() => (binding_ns, "Role", role_name),
                    "ClusterRole" => (None, "ClusterRole", role_name),
                    _ => continue,
                };
                let Some(write) = roles.get(&key) else {
                    continue;
                };
                // Also `User system:serviceaccount:<ns>:<name>`, as the authorizer reads it.
                for subject in rbac::subjects(binding) {
                    let Some((sa_ns, name)) = subject.service_account() else {
                        continue;
                    };
                    grants
                        .entry((sa_ns.to_string(), name.to_string()))
                        .or_default()
                        .push((
                            binding_ns.map(str::to_string),
                            write.clone(),
                            format!("{} → {role_kind} {role_name}", binding.display()),
                        ));
                }
            }
        }

        let mut writers = SecretWriters::default();
        for object in inventory.objects().iter().filter(|o| is_workload(o)) {
            let (Some(ns), Some(spec)) = (object.namespace.as_deref(), pod_spec(object)) else {
                continue;
            };
            let account = spec
                .get("serviceAccountName")
                .or_else(|| spec.get("serviceAccount"))
                .and_then(Value::as_str)
                .unwrap_or("default");
            let Some(found) = grants.get(&(ns.to_string(), account.to_string())) else {
                continue;
            };
            for (scope, write, via) in found {
                if scope.as_deref().is_some_and(|s| s != ns) {
                    continue;
                }
                writers
                    .by_namespace
                    .entry(ns.to_string())
                    .or_default()
                    .push(Writer {
                        write: write.clone(),
                        description: format!(
                            "{} (ServiceAccount {account}, {via})",
                            object.display()
                        ),
                    });
            }
        }
        for list in writers.by_namespace.values_mut() {
            list.sort_by(|a, b| a.description.cmp(&b.description));
        }
        writers
    }

    /// A workload allowed to write the Secret `name` in `namespace` (any namespace when
    /// `None`), described for messages.
    pub fn writer_of(&self, namespace: Option<&str>, name: &str) -> Option<&str> {
        let lists: Vec<&Vec<Writer>> = match namespace {
            Some(ns) => self.by_namespace.get(ns).into_iter().collect(),
            None => self.by_namespace.values().collect(),
        };
        lists
            .into_iter()
            .flatten()
            .find(|w| w.write.allows(name))
            .map(|w| w.description.as_str())
    }
}
