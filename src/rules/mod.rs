//! Built-in rules: one file per rule, one line per rule in [`REGISTRY`].
//!
//! A rule sees the whole inventory but reports only on the object it is given; rules that
//! need several objects report on the one that should change. Suppression, baselines and
//! sorting happen after the rules, never inside them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use crate::config::Config;
use crate::drift::GitSide;
use crate::finding::Severity;
use crate::model::environment::Environments;
use crate::model::image_scan::ImageScans;
use crate::model::inventory::Inventory;
use crate::model::object::Object;
use crate::model::pod_security::Level;
use crate::notice::Notice;

pub mod docs;
pub mod drift_out_of_band;
pub mod drift_unmanaged;
pub mod env_isolation;
pub mod env_placement;
pub mod host_namespaces;
pub mod host_path_volume;
pub mod image_pinned;
pub mod image_registry;
pub mod image_scan;
pub mod liveness_probe;
pub mod manifest_parse_error;
pub mod network_default_deny;
pub mod plain_secret;
pub mod privilege_escalation;
pub mod privileged_container;
pub mod pss_apparmor;
pub mod pss_capabilities_baseline;
pub mod pss_capabilities_restricted;
pub mod pss_host_ports;
pub mod pss_host_process;
pub mod pss_proc_mount;
pub mod pss_seccomp_baseline;
pub mod pss_seccomp_restricted;
pub mod pss_selinux_options;
pub mod pss_sysctls;
pub mod pss_volume_types;
pub mod rbac_cluster_admin_binding;
pub mod rbac_cross_env_subject;
pub mod rbac_escalation;
pub mod rbac_secret_read;
pub mod rbac_wildcard;
pub mod read_only_root_fs;
pub mod readiness_probe;
pub mod resource_limits;
pub mod resource_requests;
pub mod run_as_non_root;
pub mod scope;
pub mod secret_in_config;
pub mod secret_ref_unmanaged;
pub mod service_account_token_automount;
pub mod support;
pub mod suppression_reason_missing;
pub mod velero_backup_coverage;
pub mod velero_backup_stale;
pub mod velero_schedule_policy;

pub use crate::model::kinds::{Kind, KindSet};
pub use scope::Scope;

/// Every built-in rule, in the order `tollgate rules` lists them.
pub static REGISTRY: &[&dyn Rule] = &[
    &manifest_parse_error::ManifestParseError,
    &suppression_reason_missing::SuppressionReasonMissing,
    &resource_requests::ResourceRequests,
    &resource_limits::ResourceLimits,
    &image_registry::ImageRegistry,
    &image_pinned::ImagePinned,
    &plain_secret::PlainSecret,
    &secret_in_config::SecretInConfig,
    &secret_ref_unmanaged::SecretRefUnmanaged,
    &velero_backup_coverage::VeleroBackupCoverage,
    &velero_schedule_policy::VeleroSchedulePolicy,
    &velero_backup_stale::VeleroBackupStale,
    &env_isolation::EnvIsolation,
    &env_placement::EnvPlacement,
    &network_default_deny::NetworkDefaultDeny,
    &image_scan::ImageScan,
    &privileged_container::PrivilegedContainer,
    &privilege_escalation::PrivilegeEscalation,
    &run_as_non_root::RunAsNonRoot,
    &read_only_root_fs::ReadOnlyRootFs,
    &host_namespaces::HostNamespaces,
    &host_path_volume::HostPathVolume,
    &pss_host_process::PssHostProcess,
    &pss_capabilities_baseline::PssCapabilitiesBaseline,
    &pss_capabilities_restricted::PssCapabilitiesRestricted,
    &pss_host_ports::PssHostPorts,
    &pss_apparmor::PssAppArmor,
    &pss_selinux_options::PssSeLinuxOptions,
    &pss_proc_mount::PssProcMount,
    &pss_seccomp_baseline::PssSeccompBaseline,
    &pss_seccomp_restricted::PssSeccompRestricted,
    &pss_sysctls::PssSysctls,
    &pss_volume_types::PssVolumeTypes,
    &rbac_wildcard::RbacWildcard,
    &rbac_cluster_admin_binding::RbacClusterAdminBinding,
    &rbac_secret_read::RbacSecretRead,
    &rbac_escalation::RbacEscalation,
    &rbac_cross_env_subject::RbacCrossEnvSubject,
    &service_account_token_automount::ServiceAccountTokenAutomount,
    &liveness_probe::LivenessProbe,
    &readiness_probe::ReadinessProbe,
    &drift_unmanaged::DriftUnmanaged,
    &drift_out_of_band::DriftOutOfBand,
];

/// What a rule is, for `tollgate rules`, `tollgate explain` and every report.
#[derive(Debug)]
pub struct RuleMeta {
    /// Kebab-case id naming the bad pattern; part of the contract (config, annotations, SARIF).
    pub id: &'static str,
    pub title: &'static str,
    /// One line of what it reports: the rule tables of the README and of `docs/`
    /// (`tollgate rules --format markdown` writes them).
    pub summary: &'static str,
    pub severity: Severity,
    pub tags: &'static [&'static str],
    /// One short paragraph shown with every finding.
    pub remediation: &'static str,
    /// Markdown: what it checks, then `### Why`, `### Failing example`, `### Passing example`,
    /// `### Remediation` and, where the rule reads any, `### Configuration`.
    pub doc: &'static str,
    /// The objects it checks and the kinds it reads: the engine gives `check` only objects in
    /// scope, and JUnit lists them as what the rule checked.
    pub scope: Scope,
}

/// A problem a rule found on one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// JSON pointer of the most specific node the problem is about.
    pub pointer: String,
    pub message: String,
    /// Overrides the rule's default severity for this violation.
    pub severity: Option<Severity>,
    /// Overrides the rule's remediation for this violation.
    pub remediation: Option<String>,
}

impl Violation {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation {
            pointer: pointer.into(),
            message: message.into(),
            severity: None,
            remediation: None,
        }
    }

    pub fn with_severity(mut self, severity: Severity) -> Violation {
        self.severity = Some(severity);
        self
    }

    pub fn with_remediation(mut self, remediation: impl Into<String>) -> Violation {
        self.remediation = Some(remediation.into());
        self
    }
}

pub trait Rule: Send + Sync {
    fn meta(&self) -> &'static RuleMeta;

    /// Reports the violations of `object`, an object of the rule's [`Scope`]; `ctx` gives the
    /// rest of the inventory.
    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>);

    /// Whether `check` examines `object` of its scope at all, for a reason other than its kind
    /// (a setting it needs, an annotation): reports that list what passed (JUnit: one test
    /// case per object a rule checked) ask this. It must be cheap, and `check` must report
    /// nothing on an object for which it is false. Default: every object in scope.
    fn applies_to(&self, _object: &Object, _ctx: &Context<'_>) -> bool {
        true
    }
}

/// What a rule can see besides the object it checks.
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub config: &'a Config,
    pub environments: &'a Environments,
    /// "Now", fixed for the whole run so that time-based rules agree with each other.
    pub now: jiff::Timestamp,
    /// Scan results of the run's images, looked up once before the rules run (Harbor, or
    /// Trivy reports); None when `image-scan` has nothing to judge by.
    image_scans: Option<&'a ImageScans>,
    /// The cluster as git declares it, with `audit --gitops` (the drift rules read it).
    gitops: Option<&'a GitSide>,
    memo: Memo,
    /// Input the rules could not fully understand (a malformed Role rule, an unknown Cilium
    /// field, an unparsable quantity): warnings at the object's file:line, collected once per
    /// evaluation.
    warnings: Mutex<Vec<Notice>>,
}

impl<'a> Context<'a> {
    pub fn new(
        inventory: &'a Inventory,
        config: &'a Config,
        environments: &'a Environments,
        now: jiff::Timestamp,
    ) -> Self {
        Context {
            inventory,
            config,
            environments,
            now,
            image_scans: None,
            gitops: None,
            memo: Memo::default(),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Gives the rules the image scan results gathered before they run.
    pub fn with_image_scans(mut self, image_scans: Option<&'a ImageScans>) -> Self {
        self.image_scans = image_scans;
        self
    }

    /// Gives the rules the GitOps repository's view of the cluster (`audit --gitops`).
    pub fn with_gitops(mut self, gitops: Option<&'a GitSide>) -> Self {
        self.gitops = gitops;
        self
    }

    /// The cluster as the GitOps repository declares it, with `audit --gitops`.
    pub fn gitops(&self) -> Option<&'a GitSide> {
        self.gitops
    }

    /// Scan results of the run's images, when they were looked up.
    pub fn image_scans(&self) -> Option<&'a ImageScans> {
        self.image_scans
    }

    /// Facts derived from the whole inventory, computed once per scan by the first rule that
    /// asks, then shared by every thread (keyed by type).
    pub fn memo<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        self.memo.get_or_init(init)
    }

    /// Records a warning about `object` at the node on `pointer`. Call it from facts built
    /// once per inventory (see [`Context::memo`]) so that it is not repeated per object.
    pub fn warn(&self, object: &Object, pointer: &str, message: impl Into<String>) {
        let notice = match object.path() {
            Some(path) => {
                let line = object.locate(pointer).line;
                Notice::warning(message).at(path, (line > 0).then_some(line))
            }
            None => Notice::warning(message).at(object.live_uri(), None),
        };
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notice);
    }

    /// The warnings recorded so far, taken out.
    pub fn take_warnings(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The environment of a namespace of this inventory.
    pub fn namespace_env(&self, namespace: &str) -> Option<&'a str> {
        self.inventory.namespace_env(namespace, self.environments)
    }
}

type Slot = Arc<OnceLock<Arc<dyn Any + Send + Sync>>>;

#[derive(Default)]
struct Memo {
    slots: Mutex<HashMap<TypeId, Slot>>,
}

impl Memo {
    fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(TypeId::of::<T>()).or_default().clone()
        };
        let value = slot.get_or_init(|| Arc::new(init()) as Arc<dyn Any + Send + Sync>);
        Arc::clone(value)
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("memo slots are keyed by their type"))
    }
}

/// A rule as reports describe it: built-in or from a policy, with its effective severity.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub default_severity: Severity,
    pub tags: Vec<String>,
    pub remediation: String,
    pub doc: String,
    /// `builtin`, or the policy file it comes from.
    pub source: String,
}

impl RuleInfo {
    pub fn from_meta(meta: &RuleMeta) -> RuleInfo {
        RuleInfo {
            id: meta.id.to_string(),
            title: meta.title.to_string(),
            severity: meta.severity,
            default_severity: meta.severity,
            tags: meta.tags.iter().map(|t| t.to_string()).collect(),
            remediation: meta.remediation.to_string(),
            doc: meta.doc.to_string(),
            source: "builtin".to_string(),
        }
    }

    /// The first paragraph of the docs: what the rule checks.
    pub fn summary(&self) -> &str {
        self.doc.split("\n\n").next().unwrap_or(&self.title).trim()
    }
}

/// The built-in rules of a Pod Security Standards profile: those of `level` and of the levels
/// below it (restricted includes baseline), in registry order.
pub fn profile_rules(level: Level) -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|r| support::pod_security::rule_level(r.meta()).is_some_and(|l| l <= level))
        .map(|r| r.meta().id)
        .collect()
}

/// The built-in rule with this id.
pub fn find(id: &str) -> Option<&'static dyn Rule> {
    REGISTRY.iter().copied().find(|r| r.meta().id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for rule in REGISTRY {
            let id = rule.meta().id;
            assert!(seen.insert(id), "duplicate rule id {id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id} is not kebab-case"
            );
        }
    }

    #[test]
    fn every_rule_is_documented() {
        for rule in REGISTRY {
            let meta = rule.meta();
            for heading in [
                "### Why",
                "### Failing example",
                "### Passing example",
                "### Remediation",
            ] {
                assert!(
                    meta.doc.contains(heading),
                    "{}: docs lack `{heading}`",
                    meta.id
                );
            }
            assert!(
                !meta.title.is_empty() && !meta.remediation.is_empty(),
                "{}",
                meta.id
            );
            assert!(
                !meta.doc.starts_with('#'),
                "{}: docs must open with what the rule checks",
                meta.id
            );
        }
    }

    #[test]
    fn memo_computes_once_per_type() {
        let memo = Memo::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..3 {
            let v = memo.get_or_init(|| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                41u32 + 1
            });
            assert_eq!(*v, 42);
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(*memo.get_or_init(|| "other type"), "other type");
    }
}
