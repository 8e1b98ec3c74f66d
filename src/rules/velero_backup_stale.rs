//! `velero-backup-stale`: live Schedules whose backups stopped working.

use crate::model::kinds::Kind;
use crate::rules::Scope;
use crate::rules::support::velero;
use std::time::Duration;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::cron::show;
use crate::rules::support::velero::{BackupRun, VeleroFacts};
use crate::rules::velero_schedule_policy::covers_text;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct VeleroBackupStale;

static META: RuleMeta = RuleMeta {
    id: "velero-backup-stale",
    title: "Velero Schedule without a recent successful backup",
    summary: "live only: a covering Schedule whose newest completed Backup is older than `max_interval + grace`, that never completed one, or whose newest Backup failed",
    severity: Severity::High,
    tags: &["backup", "velero", "reliability", "live"],
    remediation: "Find out why the Schedule's backups fail or stopped (`velero backup describe --details`, `velero backup logs`), fix it and run a backup now (`velero backup create --from-schedule <name>`).",
    doc: r#"Live only (`tollgate audit`): a Velero `Schedule` covering a namespace that needs backups
(see `velero-backup-coverage`) whose newest `Completed` Backup (label
`velero.io/schedule-name`) finished longer ago than `velero.max_interval` plus `velero.grace`,
that has no completed Backup at all, or whose newest Backup ended `Failed`,
`PartiallyFailed` or `FailedValidation`. A Schedule created less than that long ago is given
time for its first backup. Reported on the Schedule; silent on manifests, where there are no
Backups to look at.

### Why

A Schedule in git says nothing about whether backups happen: object storage credentials
expire, a node agent crashes, a volume snapshot class disappears. Velero keeps scheduling and
failing, and the gap is noticed on the day of the restore.

### Failing example

```yaml
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: production-daily
  namespace: velero
spec:
  schedule: "0 2 * * *"
  template: {includedNamespaces: [shop-prod], ttl: 720h0m0s}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: orders-db
  namespace: shop-prod
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: production-daily-20250530020000
  namespace: velero
  labels:
    velero.io/schedule-name: production-daily
status:
  phase: PartiallyFailed
```

### Passing example

```yaml
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: production-daily-20250601020000
  namespace: velero
  labels:
    velero.io/schedule-name: production-daily
status:
  phase: Completed
  completionTimestamp: "2025-06-01T02:14:09Z"
```

### Remediation

Read the failed backup's logs, fix the cause (credentials, storage location, node agent,
snapshot class), and take a backup right away instead of waiting for the next run.

### Configuration

- `velero.max_interval` (default `24h`) and `velero.grace` (default `2h`): how old the newest
  completed backup may be.
- `velero.required_envs` (default `[prod]`): which namespaces need backups.
"#,
    scope: Scope::kinds(&[Kind::new("velero.io", "Schedule")])
        .live_only()
        .reading(&[velero::READS]),
};

const FAILED: &[&str] = &["Failed", "PartiallyFailed", "FailedValidation"];

impl Rule for VeleroBackupStale {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !object.is_live() || !object.is("velero.io", "Schedule") {
            return;
        }
        let facts = ctx.memo(|| VeleroFacts::build(ctx));
        let Some(index) = ctx.inventory.index_of(object) else {
            return;
        };
        let covered = facts.covered_by(index);
        if covered.is_empty() {
            return;
        }
        let limit = ctx.config.velero.max_interval.0 + ctx.config.velero.grace.0;
        let runs = facts.backups_of(object);
        let mut problems = Vec::new();
        if let Some(newest) = runs.first()
            && FAILED.contains(&newest.phase.as_str())
        {
            problems.push(format!(
                "its newest Backup {} ended {}",
                newest.name, newest.phase
            ));
        }
        let completed = runs.iter().find(|r| r.phase == "Completed");
        match completed {
            Some(run) => {
                if let Some(age) = age(run, ctx.now)
                    && age > limit
                {
                    problems.push(format!(
                        "its newest completed Backup {} finished {} ago, more than velero.max_interval + velero.grace ({})",
                        run.name,
                        show(age),
                        show(limit)
                    ));
                }
            }
            None => {
                let created = object
                    .at("/metadata/creationTimestamp")
                    .and_then(|v| v.as_str())
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok());
                let young = created.is_some_and(|c| since(c, ctx.now) <= limit);
                if !young {
                    problems.push("it has no completed Backup".to_string());
                }
            }
        }
        if problems.is_empty() {
            return;
        }
        out.push(Violation::new(
            "",
            format!(
                "{} covers {}, but {}",
                object.display(),
                covers_text(covered),
                problems.join(", and ")
            ),
        ));
    }
}

fn age(run: &BackupRun, now: jiff::Timestamp) -> Option<Duration> {
    Some(since(run.completed.or(run.started)?, now))
}

/// Time from `then` to `now`, rounded to minutes; zero when `then` is in the future.
fn since(then: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    let seconds = now.as_second().saturating_sub(then.as_second()).max(0) as u64;
    Duration::from_secs(seconds / 60 * 60)
}
