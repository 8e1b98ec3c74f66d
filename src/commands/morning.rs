//! What `scan` and `audit` do for the morning after (DESIGN §14): `--previous` (compare with
//! an earlier report before the reports are written) and `--notify` (send the run's summary
//! after them and after DefectDojo).

use std::path::Path;

use crate::cli::OutputArgs;
use crate::error::Error;
use crate::notice::Notice;
use crate::outcome::ScanOutcome;
use crate::report::previous::{self, Scope};
use crate::scan;
use crate::sink::notify::{self, NotifyConfig, Summary};

/// Marks the outcome's findings against `--previous` and lists the fixed ones. A missing file
/// is a warning (the first night); one that is no tollgate report is an error of the run,
/// whose reports are still written (so the next run has a good one to compare with).
pub(crate) fn compare(outcome: &mut ScanOutcome, output: &OutputArgs, audit: bool) {
    let Some(path) = &output.previous else {
        return;
    };
    let shown = path.display().to_string();
    let loaded = match previous::load(path) {
        Ok(Some(report)) if report.scheme != crate::finding::FINGERPRINT_SCHEME => {
            // Fingerprints of another scheme never match: comparing would call every finding
            // new and every old one fixed.
            outcome.notices.push(Notice::warning(format!(
                "the previous report {shown} has {} fingerprints and this tollgate writes {}: \
                 not compared this time (the next run compares with this run's report)",
                report.scheme,
                crate::finding::FINGERPRINT_SCHEME
            )));
            return;
        }
        Ok(Some(report)) => Some(report),
        Ok(None) => {
            outcome.notices.push(Notice::warning(format!(
                "no previous report at {shown}: every finding counts as new"
            )));
            None
        }
        Err(why) => {
            outcome.notices.push(Notice::error(format!(
                "cannot compare with the previous report: {why}"
            )));
            None
        }
    };
    let contexts = outcome.stats.contexts.clone();
    let scope = if audit {
        Scope::Clusters(&contexts)
    } else {
        Scope::Files
    };
    let mut changes = previous::compare(&mut outcome.findings, loaded, &shown, scope);
    // A cluster whose drift against git was not checked this time fixed none of its drift.
    let unchecked = &outcome.stats.drift_unchecked;
    changes.fixed.retain(|f| {
        !(f.rule.starts_with("drift-") && f.cluster.as_ref().is_some_and(|c| unchecked.contains(c)))
    });
    outcome.changes = Some(changes);
}

/// The `notify:` settings when `--notify` is given, checked before the run so that a
/// configuration without a channel fails at once.
pub(crate) fn notify_config(
    output: &OutputArgs,
    config: Option<&Path>,
    start: &Path,
) -> Result<Option<NotifyConfig>, Error> {
    if !output.notify {
        return Ok(None);
    }
    let loaded = scan::load_config(config, start)?;
    match loaded.config.notify {
        Some(notify) if notify.telegram.is_some() || notify.webhook.is_some() => Ok(Some(notify)),
        _ => Err(Error::usage(
            "--notify needs a channel: `notify:` with `telegram:` or `webhook:` in tollgate.yaml",
        )),
    }
}

/// Sends the run's summary. Failures are warnings on stderr: the exit code stays the run's.
/// `defectdojo` maps a cluster (None for a scan) to its DefectDojo test.
pub(crate) fn notify(
    outcome: &ScanOutcome,
    config: &NotifyConfig,
    defectdojo: &[(Option<String>, String)],
    audit: bool,
) {
    let summary = Summary::new(outcome, outcome.changes.as_ref(), defectdojo, audit);
    if !summary.worth_sending(config.on) {
        eprintln!("notify: no message (nothing new, and the run is complete)");
        return;
    }
    let deliveries = notify::send(&summary, config, &|name| std::env::var(name).ok());
    for delivery in deliveries {
        match delivery.failure {
            None => eprintln!("notify: sent to {}", delivery.channel),
            Some(why) => eprintln!(
                "warning: notification to {} failed: {why}",
                delivery.channel
            ),
        }
    }
}
