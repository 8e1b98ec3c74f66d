//! `velero-schedule-policy`: Schedules that back up required namespaces too rarely or keep the
//! backups too briefly.

use crate::rules::Scope;
use crate::rules::support::velero;
use std::time::Duration;

use crate::model::value::Value;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::cron::{go_duration, max_gap, show};
use crate::rules::support::velero::{VeleroFacts, is_data};
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct VeleroSchedulePolicy;

/// Velero keeps backups this long when a Schedule's template gives no `ttl`.
pub const VELERO_DEFAULT_TTL: Duration = Duration::from_secs(720 * 3600);

static META: RuleMeta = RuleMeta {
    id: "velero-schedule-policy",
    title: "Namespace backed up too rarely or kept too briefly by its Velero Schedules",
    summary: "such a namespace whose covering Schedules, taken together, do not include one running within `velero.max_interval` or one keeping backups `velero.min_ttl` (reported on the namespace, naming the Schedules); a Schedule that cannot run or has an unreadable ttl is reported on itself",
    severity: Severity::Medium,
    tags: &["backup", "velero", "reliability"],
    remediation: "Run the Schedule at least as often as `velero.max_interval` and keep its backups (`spec.template.ttl`) at least `velero.min_ttl`.",
    doc: r#"A namespace needing backups (see `velero-backup-coverage`) whose Velero
`Schedule`s, taken **together**, do not back it up often enough or do not keep backups long
enough:

- *often enough*: some covering Schedule runs at least every `velero.max_interval`;
- *long enough*: some covering Schedule keeps its backups at least `velero.min_ttl`.

So a grandfather-father-son setup — a daily Schedule keeping a week plus a weekly one keeping
three months — is fine: the daily one gives the interval, the weekly one the retention. The
finding is on the namespace (its Namespace object, else its first data object by kind and
name) and says which aspect fails and by which Schedules, with each one's interval and
retention.

The interval of a Schedule is the longest gap between two runs of `spec.schedule`, read as
Velero reads it: five cron fields (`0 2 * * *`; a day of month and a day of week both
restricted means either), names (`MON`, `JAN`), the descriptors `@hourly`,
`@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`, `@every <duration>`, and a
`CRON_TZ=`/`TZ=` prefix (daylight saving shifts are ignored). `0 3 * * 1-5` therefore has a
72h gap over the weekend. The retention is `spec.template.ttl`, a Go duration (`720h0m0s`);
without it Velero keeps backups 720h.

A Schedule that is broken in itself — no `spec.schedule`, an expression Velero would reject,
a `ttl` that is not a Go duration — is reported on the Schedule (at `spec.schedule` or
`spec.template.ttl`) when it covers such a namespace, and does not count for the namespace.
Paused Schedules and Schedules leaving PVCs out do not cover (see `velero-backup-coverage`);
Schedules that cover no such namespace (development, system namespaces) are not checked.

### Why

The backup interval bounds how much data a restore loses (the recovery point objective), the
retention how far back a restore can go: a corruption noticed after a week needs a backup
older than a week. Both are properties of the namespace's backups as a whole, not of one
Schedule.

### Failing example

```yaml
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: production-weekly
  namespace: velero
spec:
  schedule: "0 3 * * 0"       # weekly, max_interval is 24h
  template:
    includedNamespaces: [shop-prod]
    ttl: 72h0m0s              # min_ttl is 168h
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: orders-db
  namespace: shop-prod
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 20Gi}}
```

### Passing example

```yaml
spec:                          # daily, kept a week
  schedule: "0 6 * * *"
  template: {includedNamespaces: ["*"], ttl: 168h0m0s}
---
spec:                          # weekly, kept three months
  schedule: "33 0 * * 0"
  template: {includedNamespaces: ["*"], ttl: 2232h0m0s}
```

### Remediation

Run at least one Schedule covering the namespace as often as `velero.max_interval`, and keep
the backups of at least one of them `velero.min_ttl` (a frequent short-lived Schedule plus a
rarer long-lived one is the usual way).

### Configuration

- `velero.max_interval` (default `24h`): the longest allowed gap between two runs.
- `velero.min_ttl` (default `168h`): the shortest allowed retention.
- `velero.required_envs` (default `[prod]`): which namespaces need backups.
"#,
    scope: Scope::kinds(velero::DATA_NAMESPACES_AND_SCHEDULES).reading(&[velero::READS]),
};

/// What one Schedule gives a namespace, for messages and for the verdict.
struct Offer {
    name: String,
    gap: Option<Duration>,
    retention: Option<Duration>,
}

/// The longest gap between two runs of a Schedule, or why it has none.
fn schedule_gap(schedule: &Object) -> Result<Duration, String> {
    let expression = schedule
        .at("/spec/schedule")
        .and_then(Value::as_str)
        .ok_or_else(|| "has no `spec.schedule`".to_string())?;
    max_gap(expression).map_err(|problem| format!("schedule `{expression}` {problem}"))
}

/// How long a Schedule keeps its backups (`spec.template.ttl`, Velero's default without it).
fn schedule_retention(schedule: &Object) -> Result<(Duration, &'static str), String> {
    match schedule.at("/spec/template/ttl").and_then(Value::as_str) {
        Some(text) => go_duration(text).map(|d| (d, "")),
        None => Ok((VELERO_DEFAULT_TTL, " (Velero's default)")),
    }
}

impl Rule for VeleroSchedulePolicy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let schedule = object.is("velero.io", "Schedule");
        if !(schedule || object.is("", "Namespace") || is_data(object)) {
            return;
        }
        let facts = ctx.memo(|| VeleroFacts::build(ctx));
        let Some(index) = ctx.inventory.index_of(object) else {
            return;
        };
        if schedule {
            check_broken(object, facts.covered_by(index), out);
            return;
        }
        let Some((ns, data)) = facts.covered_reported_on(index) else {
            return;
        };
        let velero = &ctx.config.velero;
        let objects = ctx.inventory.objects();
        let offers: Vec<Offer> = data
            .covering
            .iter()
            .map(|&i| {
                let s = &objects[i];
                Offer {
                    name: s.display(),
                    gap: schedule_gap(s).ok(),
                    retention: schedule_retention(s).ok().map(|(d, _)| d),
                }
            })
            .collect();
        let often = offers
            .iter()
            .any(|o| o.gap.is_some_and(|g| g <= velero.max_interval.0));
        let long = offers
            .iter()
            .any(|o| o.retention.is_some_and(|r| r >= velero.min_ttl.0));
        if often && long {
            return;
        }
        let mut problems = Vec::new();
        if !often {
            let what: Vec<String> = offers
                .iter()
                .map(|o| match o.gap {
                    Some(g) => format!("{} up to {} between runs", o.name, show(g)),
                    None => format!("{} never runs", o.name),
                })
                .collect();
            problems.push(format!(
                "is backed up too rarely: no covering Schedule runs within velero.max_interval ({}): {}",
                show(velero.max_interval.0),
                what.join(", ")
            ));
        }
        if !long {
            let what: Vec<String> = offers
                .iter()
                .map(|o| match o.retention {
                    Some(r) => format!("{} keeps {}", o.name, show(r)),
                    None => format!("{} has an unreadable ttl", o.name),
                })
                .collect();
            problems.push(format!(
                "keeps its backups too briefly: no covering Schedule keeps them velero.min_ttl ({}): {}",
                show(velero.min_ttl.0),
                what.join(", ")
            ));
        }
        out.push(Violation::new(
            "",
            format!(
                "namespace {ns} (environment {}) {}",
                data.environment,
                problems.join("; and it ")
            ),
        ));
    }
}

/// Findings on a Schedule that covers a namespace needing backups but cannot work as written.
fn check_broken(object: &Object, covered: &[String], out: &mut Vec<Violation>) {
    if covered.is_empty() {
        return;
    }
    let covers = covers_text(covered);
    if let Err(problem) = schedule_gap(object) {
        let pointer = if object.at("/spec/schedule").is_some() {
            "/spec/schedule"
        } else {
            "/spec"
        };
        out.push(Violation::new(
            pointer,
            format!(
                "{} {problem}, so Velero never runs it; it covers {covers}",
                object.display()
            ),
        ));
    }
    if let Err(problem) = schedule_retention(object) {
        out.push(Violation::new(
            "/spec/template/ttl",
            format!("{}: {problem}; it covers {covers}", object.display()),
        ));
    }
}

/// `shop-prod`, `shop-prod and pay-prod`, `shop-prod, pay-prod and 3 more`.
pub fn covers_text(namespaces: &[String]) -> String {
    match namespaces {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more", rest.len()),
    }
}
