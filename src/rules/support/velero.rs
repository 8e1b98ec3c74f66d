//! Persistent data per namespace and the Velero Schedules (and Backups) that cover it.
//!
//! A namespace *needs Velero* when its environment is in `velero.required_envs` and it holds
//! persistent data that no operator backs up itself. Built once per inventory from the kind
//! index: PVCs, StatefulSets, database operator objects, Schedules, Backups.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::value::Value;
use globset::{Glob, GlobMatcher};

use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::rules::Context;

/// A `&[Kind]` of the given kinds followed by every operator kind that holds persistent data,
/// so that the lists below name those kinds once.
macro_rules! with_data_kinds {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            Kind::new("postgresql.cnpg.io", "Cluster"),
            Kind::new("ps.percona.com", "PerconaServerMySQL"),
            Kind::new("pxc.percona.com", "PerconaXtraDBCluster"),
            Kind::new("psmdb.percona.com", "PerconaServerMongoDB"),
            Kind::new("pgv2.percona.com", "PerconaPGCluster"),
            Kind::new("mongodbcommunity.mongodb.com", "MongoDBCommunity"),
            Kind::new("elasticsearch.k8s.elastic.co", "Elasticsearch"),
            Kind::new("minio.min.io", "Tenant"),
            Kind::new("kafka.strimzi.io", "Kafka"),
            Kind::new("clickhouse.altinity.com", "ClickHouseInstallation"),
        ]
    };
}

/// Operator objects that hold persistent data.
pub const DATA_KINDS: &[Kind] = with_data_kinds!();

/// Namespaces and the kinds that may hold data ([`is_data`]): what the coverage findings are
/// reported on.
pub const DATA_AND_NAMESPACES: &[Kind] = with_data_kinds!(
    Kind::new("", "Namespace"),
    Kind::new("", "PersistentVolumeClaim"),
    Kind::new("apps", "StatefulSet"),
);

/// [`DATA_AND_NAMESPACES`] and Velero Schedules.
pub const DATA_NAMESPACES_AND_SCHEDULES: &[Kind] = with_data_kinds!(
    Kind::new("velero.io", "Schedule"),
    Kind::new("", "Namespace"),
    Kind::new("", "PersistentVolumeClaim"),
    Kind::new("apps", "StatefulSet"),
);

/// What [`VeleroFacts::build`] reads: data, Velero Schedules and Backups, CloudNativePG
/// ScheduledBackups, and Namespaces for environments.
pub const READS: &[Kind] = with_data_kinds!(
    Kind::new("", "Namespace"),
    Kind::new("", "PersistentVolumeClaim"),
    Kind::new("apps", "StatefulSet"),
    Kind::new("velero.io", "Schedule"),
    Kind::new("velero.io", "Backup"),
    Kind::new("postgresql.cnpg.io", "ScheduledBackup"),
);

/// Resource names under which Velero backs up volume data.
const VOLUME_RESOURCES: &[&str] = &[
    "*",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    "pvc",
    "persistentvolumes",
    "persistentvolume",
    "pv",
];

/// A namespace pattern of a Schedule (`shop-prod`, `*`, `shop-*`).
#[derive(Debug)]
enum Pattern {
    Exact(String),
    Glob(GlobMatcher),
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        if text.contains(['*', '?', '[']) {
            match Glob::new(text) {
                Ok(glob) => return Pattern::Glob(glob.compile_matcher()),
                Err(_) => return Pattern::Exact(text.to_string()),
            }
        }
        Pattern::Exact(text.to_string())
    }

    fn matches(&self, namespace: &str) -> bool {
        match self {
            Pattern::Exact(name) => name == namespace,
            Pattern::Glob(glob) => glob.is_match(namespace),
        }
    }
}

/// A Velero Schedule as far as coverage goes.
#[derive(Debug)]
struct Schedule {
    index: usize,
    /// Paused schedules back nothing up.
    paused: bool,
    /// Schedules whose resources leave out PVCs back up no data.
    volumes: bool,
    /// The environment of the folder a Schedule file is in: Velero only backs up its own
    /// cluster, so a Schedule in a development cluster's folder covers no production namespace.
    placement: Option<String>,
    included: Vec<Pattern>,
    excluded: Vec<Pattern>,
}

impl Schedule {
    fn includes(&self, namespace: &str) -> bool {
        self.included.iter().any(|p| p.matches(namespace))
    }

    fn excludes(&self, namespace: &str) -> bool {
        self.excluded.iter().any(|p| p.matches(namespace))
    }
}

/// A namespace that needs Velero.
#[derive(Debug)]
pub struct DataNamespace {
    pub environment: String,
    /// Data objects (inventory indexes) that only Velero can back up, in inventory order.
    pub data: Vec<usize>,
    /// Active Schedules that include it.
    pub covering: Vec<usize>,
    /// Active Schedules that include it but exclude it again.
    pub excluded_by: Vec<usize>,
    /// Schedules that include it but are paused.
    pub paused_by: Vec<usize>,
    /// Schedules that include it but leave PVCs out of their resources.
    pub without_volumes: Vec<usize>,
}

/// A Velero Backup made by a Schedule.
#[derive(Debug, Clone)]
pub struct BackupRun {
    pub name: String,
    pub phase: String,
    /// When it started (else when it was created).
    pub started: Option<jiff::Timestamp>,
    pub completed: Option<jiff::Timestamp>,
}

#[derive(Debug, Default)]
pub struct VeleroFacts {
    pub namespaces: BTreeMap<String, DataNamespace>,
    /// Object index → the uncovered namespace whose finding goes on that object.
    report_on: HashMap<usize, String>,
    /// Object index → the covered namespace whose findings about its Schedules together
    /// (interval, retention) go on that object.
    covered_report_on: HashMap<usize, String>,
    /// Schedule index → namespaces needing Velero that it covers.
    schedule_namespaces: HashMap<usize, Vec<String>>,
    /// `(namespace, schedule name)` → its Backups, newest first.
    backups: HashMap<(Option<String>, String), Vec<BackupRun>>,
}

/// A short description of a data object: `PVC data`, `StatefulSet db (volumeClaimTemplates)`.
pub fn describe_data(object: &Object) -> String {
    match object.kind.as_str() {
        "PersistentVolumeClaim" => format!("PersistentVolumeClaim {}", object.name),
        "StatefulSet" => format!("StatefulSet {} (volumeClaimTemplates)", object.name),
        "Cluster"
            if object.group() == "postgresql.cnpg.io" && object.at("/spec/backup").is_some() =>
        {
            format!(
                "Cluster {} (spec.backup, but no active ScheduledBackup)",
                object.name
            )
        }
        kind => format!("{kind} {}", object.name),
    }
}

/// True for the objects that hold persistent data.
pub fn is_data(object: &Object) -> bool {
    // Velero's own opt-out: the team decided this one needs no backup (a cache, scratch space).
    if object.label("velero.io/exclude-from-backup") == Some("true") {
        return false;
    }
    match (object.group(), object.kind.as_str()) {
        ("", "PersistentVolumeClaim") => true,
        ("apps", "StatefulSet") => object
            .at("/spec/volumeClaimTemplates")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty()),
        // Strimzi brokers on ephemeral storage keep nothing to back up.
        ("kafka.strimzi.io", "Kafka") => {
            object
                .at("/spec/kafka/storage/type")
                .and_then(Value::as_str)
                != Some("ephemeral")
        }
        (group, kind) => DATA_KINDS
            .iter()
            .any(|k| k.group == group && k.kind == kind),
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn text<'a>(object: &'a Object, pointer: &str) -> Option<&'a str> {
    object.at(pointer)?.as_str()
}

fn timestamp(object: &Object, pointer: &str) -> Option<jiff::Timestamp> {
    text(object, pointer)?.parse().ok()
}

/// True when the operator running `object` backs it up on a schedule of its own.
fn operator_backs_up(object: &Object, scheduled: &HashSet<(Option<&str>, &str)>) -> bool {
    let has = |pointer: &str| object.at(pointer).is_some_and(|v| !v.is_null());
    let non_empty = |pointer: &str| {
        object
            .at(pointer)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let disabled = object.at("/spec/backup/enabled").and_then(Value::as_bool) == Some(false);
    match (object.group(), object.kind.as_str()) {
        ("postgresql.cnpg.io", "Cluster") => {
            let barman_plugin = object
                .at("/spec/plugins")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .any(|name| name.contains("barman-cloud"));
            (has("/spec/backup") || barman_plugin)
                && scheduled.contains(&(object.namespace.as_deref(), object.name.as_str()))
        }
        ("pxc.percona.com", "PerconaXtraDBCluster") | ("ps.percona.com", "PerconaServerMySQL") => {
            !disabled && non_empty("/spec/backup/schedule")
        }
        ("psmdb.percona.com", "PerconaServerMongoDB") => {
            let tasks = object.at("/spec/backup/tasks").and_then(Value::as_array);
            !disabled
                && tasks.into_iter().flatten().any(|t| {
                    t.get("enabled").and_then(Value::as_bool) != Some(false)
                        && t.get("schedule").and_then(Value::as_str).is_some()
                })
        }
        ("pgv2.percona.com", "PerconaPGCluster") => object
            .at("/spec/backups/pgbackrest/repos")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|repo| repo.get("schedules").is_some_and(|s| !s.is_null())),
        _ => false,
    }
}

impl VeleroFacts {
    pub fn build(ctx: &Context<'_>) -> VeleroFacts {
        let inventory = ctx.inventory;
        let required = &ctx.config.velero.required_envs;

        // CloudNativePG ScheduledBackups that are not suspended: (namespace, cluster).
        let scheduled: HashSet<(Option<&str>, &str)> = inventory
            .of_kind("ScheduledBackup")
            .filter(|o| o.group() == "postgresql.cnpg.io")
            .filter(|o| o.at("/spec/suspend").and_then(Value::as_bool) != Some(true))
            .filter_map(|o| Some((o.namespace.as_deref(), text(o, "/spec/cluster/name")?)))
            .collect();

        let mut data_objects: Vec<usize> = Vec::new();
        // Operator objects backed up by their operator: (namespace, kind, name).
        let mut self_backed: HashSet<(&str, &str, &str)> = HashSet::new();
        let kinds = ["PersistentVolumeClaim", "StatefulSet"]
            .into_iter()
            .chain(DATA_KINDS.iter().map(|k| k.kind));
        let mut seen_kinds = HashSet::new();
        for kind in kinds {
            if !seen_kinds.insert(kind) {
                continue;
            }
            for object in inventory.of_kind(kind) {
                let Some(ns) = object.namespace.as_deref() else {
                    continue;
                };
                if !is_data(object) {
                    continue;
                }
                if operator_backs_up(object, &scheduled) {
                    self_backed.insert((ns, object.kind.as_str(), object.name.as_str()));
                    continue;
                }
                if let Some(index) = inventory.index_of(object) {
                    data_objects.push(index);
                }
            }
        }
        data_objects.sort_unstable();

        let mut namespaces: BTreeMap<String, DataNamespace> = BTreeMap::new();
        let mut env_of: HashMap<&str, Option<&str>> = HashMap::new();
        for index in data_objects {
            let object = &inventory.objects()[index];
            let ns = object.namespace.as_deref().unwrap_or_default();
            if !self_backed.is_empty() && belongs_to_self_backed(object, ns, &self_backed) {
                continue;
            }
            let env = *env_of.entry(ns).or_insert_with(|| ctx.namespace_env(ns));
            let Some(env) = env.filter(|e| required.iter().any(|r| r == e)) else {
                continue;
            };
            namespaces
                .entry(ns.to_string())
                .or_insert_with(|| DataNamespace {
                    environment: env.to_string(),
                    data: Vec::new(),
                    covering: Vec::new(),
                    excluded_by: Vec::new(),
                    paused_by: Vec::new(),
                    without_volumes: Vec::new(),
                })
                .data
                .push(index);
        }

        let schedules: Vec<Schedule> = inventory
            .of_kind("Schedule")
            .filter(|o| o.group() == "velero.io")
            .filter_map(|o| {
                let template = o.at("/spec/template");
                let field = |name: &str| strings(template.and_then(|t| t.get(name)));
                let mut included: Vec<Pattern> = field("includedNamespaces")
                    .into_iter()
                    .map(Pattern::new)
                    .collect();
                // Velero backs up every namespace when none is listed.
                if included.is_empty() {
                    included.push(Pattern::new("*"));
                }
                let included_resources = field("includedResources");
                let volumes_in = included_resources.is_empty()
                    || included_resources
                        .iter()
                        .any(|r| VOLUME_RESOURCES.contains(&r.to_ascii_lowercase().as_str()));
                let volumes_out = field("excludedResources")
                    .iter()
                    .any(|r| VOLUME_RESOURCES[1..].contains(&r.to_ascii_lowercase().as_str()));
                let paused = o.at("/spec/paused").and_then(Value::as_bool) == Some(true);
                Some(Schedule {
                    index: inventory.index_of(o)?,
                    paused,
                    volumes: volumes_in && !volumes_out,
                    placement: o.path().and(o.placement_env.as_deref().map(str::to_string)),
                    included,
                    excluded: field("excludedNamespaces")
                        .into_iter()
                        .map(Pattern::new)
                        .collect(),
                })
            })
            .collect();

        let mut schedule_namespaces: HashMap<usize, Vec<String>> = HashMap::new();
        let mut report_on = HashMap::new();
        let mut covered_report_on = HashMap::new();
        for (ns, data) in namespaces.iter_mut() {
            let same_place = |s: &&Schedule| {
                s.placement
                    .as_ref()
                    .is_none_or(|place| *place == data.environment)
            };
            for schedule in schedules
                .iter()
                .filter(same_place)
                .filter(|s| s.includes(ns))
            {
                if schedule.excludes(ns) {
                    if !schedule.paused && schedule.volumes {
                        data.excluded_by.push(schedule.index);
                    }
                } else if schedule.paused {
                    data.paused_by.push(schedule.index);
                } else if !schedule.volumes {
                    data.without_volumes.push(schedule.index);
                } else {
                    data.covering.push(schedule.index);
                    schedule_namespaces
                        .entry(schedule.index)
                        .or_default()
                        .push(ns.clone());
                }
            }
            let target = inventory
                .namespace_object(ns)
                .and_then(|o| inventory.index_of(o))
                // By kind and name, not file order: the fingerprint survives reordering.
                .or_else(|| {
                    data.data.iter().copied().min_by_key(|&i| {
                        let o = &inventory.objects()[i];
                        (o.kind.clone(), o.name.clone(), i)
                    })
                });
            if let Some(target) = target {
                if data.covering.is_empty() {
                    report_on.insert(target, ns.clone());
                } else {
                    covered_report_on.insert(target, ns.clone());
                }
            }
        }

        let mut backups: HashMap<(Option<String>, String), Vec<BackupRun>> = HashMap::new();
        for backup in inventory
            .of_kind("Backup")
            .filter(|o| o.group() == "velero.io")
        {
            let Some(schedule) = backup.label("velero.io/schedule-name") else {
                continue;
            };
            backups
                .entry((
                    backup.namespace.as_deref().map(str::to_string),
                    schedule.to_string(),
                ))
                .or_default()
                .push(BackupRun {
                    name: backup.name.to_string(),
                    phase: text(backup, "/status/phase").unwrap_or("").to_string(),
                    started: timestamp(backup, "/status/startTimestamp")
                        .or_else(|| timestamp(backup, "/metadata/creationTimestamp")),
                    completed: timestamp(backup, "/status/completionTimestamp"),
                });
        }
        for runs in backups.values_mut() {
            // Newest first; Velero's names (`<schedule>-<yyyymmddhhmmss>`) break ties.
            runs.sort_by(|a, b| (b.started, &b.name).cmp(&(a.started, &a.name)));
        }

        VeleroFacts {
            namespaces,
            report_on,
            covered_report_on,
            schedule_namespaces,
            backups,
        }
    }

    /// The uncovered namespace whose finding goes on the object at `index`.
    pub fn uncovered_reported_on(&self, index: usize) -> Option<(&str, &DataNamespace)> {
        let ns = self.report_on.get(&index)?;
        Some((ns.as_str(), self.namespaces.get(ns)?))
    }

    /// The covered namespace whose schedule findings go on the object at `index`.
    pub fn covered_reported_on(&self, index: usize) -> Option<(&str, &DataNamespace)> {
        let ns = self.covered_report_on.get(&index)?;
        Some((ns.as_str(), self.namespaces.get(ns)?))
    }

    /// Namespaces needing Velero that the Schedule at `index` covers.
    pub fn covered_by(&self, index: usize) -> &[String] {
        self.schedule_namespaces
            .get(&index)
            .map_or(&[], Vec::as_slice)
    }

    /// Backups of a Schedule (same namespace), newest first.
    pub fn backups_of(&self, schedule: &Object) -> &[BackupRun] {
        self.backups
            .get(&(
                schedule.namespace.as_deref().map(str::to_string),
                schedule.name.to_string(),
            ))
            .map_or(&[], Vec::as_slice)
    }
}

/// Live objects made by an operator for an object it backs up itself (its PVCs, StatefulSets).
fn belongs_to_self_backed(
    object: &Object,
    ns: &str,
    self_backed: &HashSet<(&str, &str, &str)>,
) -> bool {
    if object
        .owners()
        .any(|(_, kind, name)| self_backed.contains(&(ns, kind, name)))
    {
        return true;
    }
    let named = |kind: &str, label: &str| {
        object
            .label(label)
            .is_some_and(|name| self_backed.contains(&(ns, kind, name)))
    };
    if named("Cluster", "cnpg.io/cluster")
        || named(
            "PerconaPGCluster",
            "postgres-operator.crunchydata.com/cluster",
        )
    {
        return true;
    }
    let percona = object
        .label("app.kubernetes.io/managed-by")
        .is_some_and(|m| m.starts_with("percona"));
    percona
        && [
            "PerconaXtraDBCluster",
            "PerconaServerMySQL",
            "PerconaServerMongoDB",
        ]
        .iter()
        .any(|kind| named(kind, "app.kubernetes.io/instance"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_kinds_are_in_scope_and_read() {
        for kind in DATA_KINDS {
            for list in [READS, DATA_AND_NAMESPACES, DATA_NAMESPACES_AND_SCHEDULES] {
                assert!(list.contains(kind), "{kind:?}");
            }
        }
        assert_eq!(
            &DATA_NAMESPACES_AND_SCHEDULES[1..],
            DATA_AND_NAMESPACES,
            "the same data kinds"
        );
    }
}
