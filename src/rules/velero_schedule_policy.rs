//! `velero-schedule-policy`: Schedules that back up required namespaces too rarely or keep the
//! backups too briefly.

use std::time::Duration;

use serde_json::Value;

use crate::finding::Severity;
use crate::model::object::Object;
use crate::rules::support::cron::{go_duration, max_gap, show};
use crate::rules::support::velero::VeleroFacts;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct VeleroSchedulePolicy;

/// Velero keeps backups this long when a Schedule's template gives no `ttl`.
pub const VELERO_DEFAULT_TTL: Duration = Duration::from_secs(720 * 3600);

static META: RuleMeta = RuleMeta {
    id: "velero-schedule-policy",
    title: "Velero Schedule runs too rarely or keeps backups too briefly",
    severity: Severity::Medium,
    tags: &["backup", "velero", "reliability"],
    remediation: "Run the Schedule at least as often as `velero.max_interval` and keep its backups (`spec.template.ttl`) at least `velero.min_ttl`.",
    doc: r#"A Velero `Schedule` that covers a namespace needing backups (see
`velero-backup-coverage`) and either runs less often than `velero.max_interval` or keeps its
backups for less than `velero.min_ttl`.

The interval is the longest gap between two runs of `spec.schedule`, read as Velero reads it:
five cron fields (`0 2 * * *`; a day of month and a day of week both restricted means either),
names (`MON`, `JAN`), the descriptors `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`,
`@yearly`, `@every <duration>`, and a `CRON_TZ=`/`TZ=` prefix (daylight saving shifts are
ignored). `0 3 * * 1-5` therefore has a 72h gap over the weekend. An expression Velero would
reject is reported too. The retention is `spec.template.ttl`, a Go duration (`720h0m0s`);
without it Velero keeps backups 720h. Findings point at `spec.schedule` and at
`spec.template.ttl`.

Schedules that cover no such namespace (development, system namespaces) are not checked.

### Why

The backup interval bounds how much data a restore loses (the recovery point objective), the
retention how far back a restore can go: a corruption noticed after a week needs a backup
older than a week.

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
```

### Passing example

```yaml
spec:
  schedule: "0 2 * * *"
  template:
    includedNamespaces: [shop-prod]
    ttl: 720h0m0s
```

### Remediation

Run production schedules at least daily and keep backups at least a week (a month is
common); add a second, more frequent Schedule for busy databases rather than stretching one.

### Configuration

- `velero.max_interval` (default `24h`): the longest allowed gap between two runs.
- `velero.min_ttl` (default `168h`): the shortest allowed retention.
- `velero.required_envs` (default `[prod]`): which namespaces need backups.
"#,
};

impl Rule for VeleroSchedulePolicy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        if !object.is("velero.io", "Schedule") {
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
        let covers = covers_text(covered);
        let velero = &ctx.config.velero;

        match object.at("/spec/schedule").and_then(Value::as_str) {
            None => out.push(Violation::new(
                "/spec",
                format!(
                    "{} has no `spec.schedule`, so it never backs up {covers}",
                    object.display()
                ),
            )),
            Some(expression) => match max_gap(expression) {
                Err(problem) => out.push(Violation::new(
                    "/spec/schedule",
                    format!(
                        "{}: schedule `{expression}` {problem}, so Velero will not run it; it covers {covers}",
                        object.display()
                    ),
                )),
                Ok(gap) if gap > velero.max_interval.0 => out.push(Violation::new(
                    "/spec/schedule",
                    format!(
                        "{} runs `{expression}`, up to {} between backups, less often than velero.max_interval ({}); it covers {covers}",
                        object.display(),
                        show(gap),
                        show(velero.max_interval.0)
                    ),
                )),
                Ok(_) => {}
            },
        }

        let ttl = object.at("/spec/template/ttl");
        let (pointer, retention) = match ttl.and_then(Value::as_str) {
            Some(text) => match go_duration(text) {
                Ok(d) => ("/spec/template/ttl", Ok((d, format!("ttl `{text}`")))),
                Err(problem) => ("/spec/template/ttl", Err(problem)),
            },
            None => (
                if object.at("/spec/template").is_some() {
                    "/spec/template"
                } else {
                    ""
                },
                Ok((VELERO_DEFAULT_TTL, "no ttl: Velero's default".to_string())),
            ),
        };
        match retention {
            Err(problem) => out.push(Violation::new(
                pointer,
                format!("{}: {problem}; it covers {covers}", object.display()),
            )),
            Ok((retention, what)) if retention < velero.min_ttl.0 => out.push(Violation::new(
                pointer,
                format!(
                    "{} keeps backups for {} ({what}), shorter than velero.min_ttl ({}); it covers {covers}",
                    object.display(),
                    show(retention),
                    show(velero.min_ttl.0)
                ),
            )),
            Ok(_) => {}
        }
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
