//! `--format github`: GitHub Actions workflow commands, which the runner turns into
//! annotations on the pull request's files.
//!
//! ```text
//! ::error file=clusters/prod/api.yaml,line=18,col=16,title=image-pinned::container `api` …
//! ```
//!
//! - critical and high findings are `error`, medium `warning`, low and info `notice`;
//!   suppressed findings are left out;
//! - the message is followed by the remediation on the next line (`%0A`);
//! - a document rendered by `--helm`/`--kustomize` points at the template it came from (else
//!   `Chart.yaml` / the kustomization) without a line; a live object has no file, and its
//!   `k8s://` URI goes into the message;
//! - the run's warnings and errors follow as `::warning::` / `::error::`, then the summary as
//!   plain text.
//!
//! Terminal controls are made visible (`\x1b`, see [`crate::report::printable`]); then escaping
//! follows the Actions toolkit: in the message `%`, `\r`, `\n` become `%25`, `%0D`,
//! `%0A`; in properties also `:` and `,` become `%3A` and `%2C`.

use std::io::{self, Write};

use crate::finding::{Finding, Location, Severity};
use crate::notice::{Notice, NoticeLevel};
use crate::report::{Report, human, repo_location};

/// The workflow command for a severity.
pub fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "notice",
    }
}

/// Escapes a command's message (terminal controls made visible first: CI logs are terminals).
pub fn escape_data(text: &str) -> String {
    crate::report::printable(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=` …).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn annotation(report: &Report<'_>, finding: &Finding) -> String {
    let place = repo_location(report.outcome, finding);
    let mut properties = Vec::new();
    let mut message = finding.message.clone();
    match &finding.location {
        Location::Cluster { uri, .. } => message.push_str(&format!(" ({uri})")),
        Location::File { .. } => {
            properties.push(format!("file={}", escape_property(place.path)));
            if let Some(line) = place.line {
                properties.push(format!("line={line}"));
            }
            if let Some(column) = place.column {
                properties.push(format!("col={column}"));
            }
            if place.line.is_none() {
                // A rendered document: say where in the rendered stream it is.
                message.push_str(&format!(
                    " (in {} line {})",
                    finding.location.path(),
                    finding.location.line().unwrap_or(1)
                ));
            }
        }
    }
    properties.push(format!("title={}", escape_property(&finding.rule)));
    if !finding.remediation.is_empty() {
        message.push('\n');
        message.push_str(&finding.remediation);
    }
    format!(
        "::{} {}::{}",
        command(finding.severity),
        properties.join(","),
        escape_data(&message)
    )
}

fn notice_command(notice: &Notice) -> String {
    let command = match notice.level {
        NoticeLevel::Error => "error",
        NoticeLevel::Warning => "warning",
    };
    let mut properties = vec!["title=tollgate".to_string()];
    if let Some(path) = &notice.path {
        // Only files are files: an endpoint or context goes into the message.
        if !path.contains("://") {
            properties.insert(0, format!("file={}", escape_property(path)));
            if let Some(line) = notice.line {
                properties.insert(1, format!("line={line}"));
            }
        }
    }
    let message = match &notice.path {
        Some(path) if path.contains("://") => format!("{path}: {}", notice.message),
        _ => notice.message.clone(),
    };
    format!(
        "::{command} {}::{}",
        properties.join(","),
        escape_data(&message)
    )
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    for finding in report.findings().iter().filter(|f| f.is_active()) {
        writeln!(out, "{}", annotation(report, finding))?;
    }
    for notice in &report.outcome.notices {
        writeln!(out, "{}", notice_command(notice))?;
    }
    writeln!(out, "{}", crate::report::printable(&human::summary(report)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    fn lines() -> Vec<String> {
        let outcome = testdata::outcome();
        let report = Report {
            outcome: &outcome,
            color: false,
            fail_on: Some(Severity::Medium),
            sarif_limits: None,
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn escaping_follows_the_actions_toolkit() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("a:b,c%d\ne"), "a%3Ab%2Cc%25d%0Ae");
    }

    #[test]
    fn one_annotation_per_active_finding() {
        let outcome = testdata::outcome();
        let lines = lines();
        let commands: Vec<&String> = lines.iter().filter(|l| l.starts_with("::")).collect();
        let active = outcome.findings.iter().filter(|f| f.is_active()).count();
        assert_eq!(commands.len(), active + outcome.notices.len());
        // Every line is one command: no raw newline survives.
        assert!(lines.iter().all(|l| !l.contains('\r')));
        assert!(
            !lines.iter().any(|l| l.contains("klipper")),
            "suppressed findings are not annotated"
        );
        assert!(lines.contains(&format!(
            "::error file={},line=18,col=16,title=image-pinned::container `api` of Deployment \
             shop-prod/api uses image `api:latest`%0AFix image-pinned.",
            testdata::API_PROD
        )));
        assert!(lines.contains(&format!(
            "::warning file={},line=14,col=9,title=resource-limits::{}%0AFix resource-limits.",
            testdata::API_PROD,
            "container `api`: no memory limit, 100%25 of the node%0D%0Ais reachable"
        )));
        assert!(lines.iter().any(|l| l.starts_with(
            "::notice file=clusters/prod/settings.yaml,line=6,col=5,title=suppression-reason-missing::"
        )));
        assert!(lines.iter().any(|l| l.starts_with(
            "::notice file=clusters/prod/ingress.yaml,line=7,col=3,title=ingress-tls::"
        )));
        assert!(lines.iter().any(|l| l.starts_with(
            "::error file=clusters/prod/secret.yaml,line=1,col=1,title=plain-secret::"
        )));
        // Rendered: the template, no line, and where in the rendered stream.
        assert!(lines.contains(&format!(
            "::warning file={},title=resource-requests::container `web` of Deployment \
             shop-dev/web has no memory request (in {} line 30)%0AFix resource-requests.",
            testdata::TEMPLATE,
            testdata::RENDERED
        )));
        // Live: no file, the URI in the message.
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("::error title=image-pinned::")
                    && l.contains("(k8s://production/shop-prod/Deployment/api)"))
        );
        // Run notices, then the summary.
        assert!(lines.contains(
            &"::warning file=tollgate.yaml,line=12,title=tollgate::exemption for `image-registry` \
              expired on 2026-01-31, 50%25 done"
                .to_string()
        ));
        assert!(lines.last().unwrap().contains("findings"));
    }

    #[test]
    fn properties_with_separators_are_escaped() {
        let mut outcome = testdata::outcome();
        outcome.findings.retain(|f| f.rule == "plain-secret");
        outcome.findings[0].location = Location::File {
            path: "odd,dir/a:b.yaml".into(),
            line: 1,
            column: 1,
        };
        outcome.findings[0].rule = "pkg.rule,x:y".into();
        outcome.notices.clear();
        let report = Report {
            outcome: &outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "::error file=odd%2Cdir/a%3Ab.yaml,line=1,col=1,title=pkg.rule%2Cx%3Ay::"
            ),
            "{text}"
        );
    }
}
