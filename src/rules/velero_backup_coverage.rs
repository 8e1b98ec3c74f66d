//! `velero-backup-coverage`: namespaces with persistent data that no Velero Schedule includes.

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::Scope;
use crate::rules::support::velero;
use crate::rules::support::velero::{VeleroFacts, describe_data, is_data};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct VeleroBackupCoverage;

static META: RuleMeta = RuleMeta {
    id: "velero-backup-coverage",
    title: "Namespace with persistent data that no Velero Schedule backs up",
    summary: "a namespace of a `velero.required_envs` environment holding persistent data that no Velero Schedule includes",
    severity: Severity::High,
    tags: &["backup", "velero", "reliability"],
    remediation: "Add the namespace to the `spec.template.includedNamespaces` of a Velero Schedule (and keep it out of `excludedNamespaces`), or back the database up with its operator.",
    doc: r#"A namespace of an environment listed in `velero.required_envs` that holds persistent
data, when no Velero `Schedule` includes it. Persistent data is a PersistentVolumeClaim, a
StatefulSet with `volumeClaimTemplates`, or a database/storage operator object: CloudNativePG
`Cluster`, Percona `PerconaServerMySQL` / `PerconaXtraDBCluster` / `PerconaServerMongoDB` /
`PerconaPGCluster`, `MongoDBCommunity`, ECK `Elasticsearch`, MinIO `Tenant`, Strimzi `Kafka`
(unless its brokers use `ephemeral` storage), Altinity `ClickHouseInstallation`. Objects
labelled `velero.io/exclude-from-backup: "true"` were deliberately left out and do not count.

A Schedule includes a namespace when `spec.template.includedNamespaces` lists it or a glob
matching it (`*`, `shop-*`) — an empty or absent list means every namespace, as in Velero —
and `excludedNamespaces` does not. Schedules with `spec.paused: true`, and schedules whose
`includedResources` leave out (or `excludedResources` name) `persistentvolumeclaims`, back up
no data and do not count. `labelSelector`s are not evaluated. Velero backs up the cluster it
runs in, so a Schedule in a file placed in an environment's folder (`environments[].paths`)
only covers namespaces of that environment: the development cluster's catch-all Schedule does
not cover production. Schedules outside every environment's folders (a shared platform
folder) count for every namespace; live, a cluster's Schedules cover that cluster.

An operator's own scheduled backups cover that object (and, live, the PVCs and StatefulSets it
owns) without Velero: a CloudNativePG `Cluster` with `spec.backup` (or the barman-cloud
plugin) and a `ScheduledBackup` for it that is not suspended; Percona XtraDB / Server for
MySQL objects with entries in `spec.backup.schedule`; Percona Server for MongoDB with an
enabled `spec.backup.tasks` entry; Percona PostgreSQL with pgBackRest `schedules`. A PVC
beside such a database still needs Velero.

One finding per uncovered namespace: on its Namespace object when the inventory has one, else
on its first data object by kind and name.

### Why

Volumes on Longhorn or local disks do not survive a lost cluster; without a backup that
includes the namespace, restoring means losing the data. Listing namespaces explicitly in
Schedules is common, and a new product namespace is easily forgotten.

### Failing example

```yaml
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: uploads
  namespace: shop-prod      # no Schedule includes shop-prod
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Gi}}
```

### Passing example

```yaml
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: production-daily
  namespace: velero
spec:
  schedule: "0 2 * * *"
  template:
    includedNamespaces: [shop-prod]
    ttl: 720h0m0s
```

### Remediation

Add the namespace to a Schedule's `includedNamespaces` (or use `*` with explicit
exclusions), or configure the database operator's scheduled backups.

### Configuration

- `velero.required_envs` (default `[prod]`): environments whose namespaces must be backed up.
"#,
    scope: Scope::kinds(velero::DATA_AND_NAMESPACES).reading(&[velero::READS]),
};

/// At most this many data objects are named in a message.
const SHOWN: usize = 3;

impl Rule for VeleroBackupCoverage {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let candidate = object.is("", "Namespace") || is_data(object);
        if !candidate || ctx.config.velero.required_envs.is_empty() {
            return;
        }
        let facts = ctx.memo(|| VeleroFacts::build(ctx));
        let Some(index) = ctx.inventory.index_of(object) else {
            return;
        };
        let Some((ns, data)) = facts.uncovered_reported_on(index) else {
            return;
        };
        let objects = ctx.inventory.objects();
        let mut what: Vec<String> = data
            .data
            .iter()
            .take(SHOWN)
            .map(|&i| describe_data(&objects[i]))
            .collect();
        if data.data.len() > SHOWN {
            what.push(format!("{} more", data.data.len() - SHOWN));
        }
        let mut message = format!(
            "namespace {ns} (environment {}) holds persistent data ({}) that no Velero Schedule backs up",
            data.environment,
            what.join(", ")
        );
        for (schedules, why) in [
            (&data.excluded_by, "exclude{s} it"),
            (&data.paused_by, "include{s} it but {is} paused"),
            (
                &data.without_volumes,
                "include{s} it but back{s} up no PersistentVolumeClaims",
            ),
        ] {
            if schedules.is_empty() {
                continue;
            }
            let names: Vec<String> = schedules.iter().map(|&i| objects[i].display()).collect();
            let one = names.len() == 1;
            let why = why
                .replace("{s}", if one { "s" } else { "" })
                .replace("{is}", if one { "is" } else { "are" });
            message.push_str(&format!("; {} {why}", names.join(", ")));
        }
        out.push(Violation::new("", message));
    }
}
