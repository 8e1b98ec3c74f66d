//! `image-scan`: images that Harbor's Trivy has not vouched for.

use crate::rules::Scope;
use std::time::Duration;

use crate::finding::Severity;
use crate::model::image_scan::{self as facts, ScanReport, ScanSource};
use crate::model::object::Object;
use crate::model::workload::for_each_container;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct ImageScan;

pub const ID: &str = "image-scan";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Image not scanned by Trivy, or vulnerable",
    summary: "An image in Harbor not scanned by Trivy, whose scan failed or is older than `harbor.max_scan_age`, or with vulnerabilities at or above `harbor.fail_severity` (Harbor API, or `--trivy-reports DIR`)",
    severity: Severity::High,
    tags: &["supply-chain", "images", "vulnerabilities"],
    remediation: "Rebuild the image on a patched base (or upgrade the vulnerable packages), push it to Harbor, let Trivy scan it, and deploy the new digest.",
    doc: r#"A container image in the registry Harbor serves (the host of `harbor.url`) that Harbor
does not have, that was never scanned or was scanned by another scanner than Trivy, whose
scan did not succeed, whose last scan is older than `harbor.max_scan_age`, or that has
vulnerabilities at or above `harbor.fail_severity` (the message gives the count per severity
and the most severe CVE ids). Every container using such an image gets a finding at its
`image:` line.

Harbor is asked once per distinct image before the rules run
(`GET /api/v2.0/projects/{project}/repositories/{repository}/artifacts/{tag or digest}?with_scan_overview=true`,
basic auth from the variables `harbor.username_env` / `harbor.password_env` name). With
`--trivy-reports DIR` the rule reads `trivy image --format json` reports instead, matched by
`ArtifactName` and `Metadata.RepoDigests`, and asks nothing over the network; an image no
report covers is then reported as unscanned (all images when `harbor.url` is not set). When
Harbor is unreachable or refuses the credentials, the rule reports nothing and the run says
`image-scan: not evaluated`. Without `harbor.url` and without `--trivy-reports` the rule is
inactive.

### Why

Harbor scans every pushed image with Trivy, but only a scan that exists, succeeded and is
recent says anything: new CVEs are published daily, and an image scanned last quarter may
be critically vulnerable today. A manifest that deploys an image Harbor never saw (pushed
elsewhere, or a typo in the tag) bypasses the scan entirely.

### Failing example

```yaml
      containers:
        - name: api
          # Trivy found 2 critical vulnerabilities in this build
          image: harbor.example.com/shop/api:2.3.0
```

### Passing example

```yaml
      containers:
        - name: api
          # rebuilt on a patched base image, scanned clean this week
          image: harbor.example.com/shop/api:2.3.1@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
```

### Remediation

Upgrade the vulnerable packages or the base image and deploy the rebuilt image. For a
stale or failed scan, rescan the artifact in Harbor (or enable scheduled scans in
Interrogation Services). For an image Harbor does not have, push it to Harbor (or fix the
reference). A vulnerability that does not apply can be accepted in Harbor's CVE allowlist
or suppressed here with `ignore.tollgate.dev/image-scan: "<reason>"`.

### Configuration

- `harbor.url`: Harbor's base URL; images from its host are checked.
- `harbor.username_env`, `harbor.password_env`: names of the environment variables holding
  a robot account's name and secret (default `HARBOR_USERNAME`, `HARBOR_PASSWORD`).
- `harbor.fail_severity`: lowest vulnerability severity that fails (default `critical`).
- `harbor.max_scan_age`: oldest acceptable scan (default `7d`).
- `harbor.concurrency` (default 8), `harbor.timeout` (default `30s`), `harbor.retries`
  (default 2), `harbor.retry_backoff` (default `1s`), `harbor.ca_cert` (PEM file of a private
  CA).
- `--trivy-reports DIR`: offline mode.
"#,
    scope: Scope::workloads(),
};

/// Defaults when `harbor:` is absent (offline mode with Trivy reports only).
const DEFAULT_MAX_SCAN_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Rule for ImageScan {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        let Some(scans) = ctx.image_scans() else {
            return;
        };
        let harbor = ctx.config.harbor.as_ref();
        let limits = Limits {
            fail_severity: harbor.map_or(Severity::Critical, |h| h.fail_severity),
            max_age: harbor.map_or(DEFAULT_MAX_SCAN_AGE, |h| h.max_scan_age.0),
            max_age_text: short_duration(harbor.map_or(DEFAULT_MAX_SCAN_AGE, |h| h.max_scan_age.0)),
            now: ctx.now,
        };
        for_each_container(object, |_, container| {
            let Some(image) = container.image() else {
                return;
            };
            let Some(scan) = scans.get(image) else {
                return;
            };
            let problems = problems(scan, &scans.source, &limits);
            if problems.is_empty() {
                return;
            }
            // The problem before the image reference: DefectDojo titles are the first 150
            // characters, and a digest alone is 71.
            out.push(Violation::new(
                container.pointer_to("image"),
                format!(
                    "{} runs an image that {}: `{}`",
                    container.subject(object),
                    problems.join(", and that "),
                    image.trim()
                ),
            ));
        });
    }
}

/// `7d`, `36h`, `90m`: the way the configuration writes durations.
fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => "0s".to_string(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

struct Limits {
    fail_severity: Severity,
    max_age: Duration,
    max_age_text: String,
    now: jiff::Timestamp,
}

/// What is wrong with an image, as clauses completing "runs an image that …".
fn problems(scan: &facts::ImageScan, source: &ScanSource, limits: &Limits) -> Vec<String> {
    let report = match scan {
        facts::ImageScan::Missing { reference } => {
            return vec![match source {
                ScanSource::Harbor { .. } => {
                    format!("is not in Harbor (no artifact `{reference}`)")
                }
                ScanSource::TrivyReports { dir } => {
                    format!("no Trivy report in {dir} covers")
                }
            }];
        }
        facts::ImageScan::Scanned(report) => report,
    };
    let Some(scanner) = &report.scanner else {
        return vec!["Harbor has never scanned".to_string()];
    };
    if !scanner.is_trivy() {
        return vec![format!("was scanned by {}, not Trivy", scanner.name)];
    }
    match report.status.as_str() {
        "Success" => {}
        "Pending" | "Running" | "Scheduled" => {
            return vec![format!(
                "Trivy has not finished scanning (status {})",
                report.status
            )];
        }
        "" => return vec!["has a Trivy scan without a status".to_string()],
        other => return vec![format!("Trivy failed to scan (status {other})")],
    }
    let mut problems = Vec::new();
    if let Some(vulnerable) = vulnerabilities(report, limits.fail_severity) {
        problems.push(vulnerable);
    }
    if let Some(finished) = report.finished {
        let age = limits.now.duration_since(finished);
        if age.is_positive() && age.unsigned_abs() > limits.max_age {
            problems.push(format!(
                "was last scanned by Trivy on {}, longer ago than harbor.max_scan_age ({})",
                finished.strftime("%Y-%m-%d"),
                limits.max_age_text
            ));
        }
    }
    problems
}

/// `has 2 critical and 3 high vulnerabilities (CVE-…, CVE-…, …)`
fn vulnerabilities(report: &ScanReport, threshold: Severity) -> Option<String> {
    let counts = report.at_or_above(threshold);
    if counts.is_empty() {
        return None;
    }
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let listed = match parts.as_slice() {
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => unreachable!("counts is not empty"),
    };
    let noun = if total == 1 {
        "vulnerability"
    } else {
        "vulnerabilities"
    };
    let ids = if report.top.is_empty() {
        String::new()
    } else {
        let more = if (report.top.len() as u64) < total {
            ", …"
        } else {
            ""
        };
        format!(" ({}{more})", report.top.join(", "))
    };
    Some(format!("has {listed} {noun}{ids}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::image_scan::Scanner;
    use std::collections::BTreeMap;

    fn limits() -> Limits {
        Limits {
            fail_severity: Severity::High,
            max_age: Duration::from_secs(7 * 86400),
            max_age_text: "7d".into(),
            now: "2026-11-26T00:00:00Z".parse().unwrap(),
        }
    }

    fn scanned(
        status: &str,
        finished: &str,
        counts: &[(Severity, u64)],
        top: &[&str],
    ) -> facts::ImageScan {
        facts::ImageScan::Scanned(ScanReport {
            scanner: Some(Scanner {
                name: "Trivy".into(),
                version: Some("v0.56.2".into()),
            }),
            status: status.into(),
            finished: Some(finished.parse().unwrap()),
            counts: counts.iter().copied().collect::<BTreeMap<_, _>>(),
            top: top.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn harbor() -> ScanSource {
        ScanSource::Harbor {
            url: "https://harbor.example.com".into(),
        }
    }

    #[test]
    fn every_way_an_image_can_fail_is_worded() {
        let missing = facts::ImageScan::Missing {
            reference: "shop/api:1.0".into(),
        };
        assert_eq!(
            problems(&missing, &harbor(), &limits()),
            ["is not in Harbor (no artifact `shop/api:1.0`)"]
        );
        let never = facts::ImageScan::Scanned(ScanReport::default());
        assert_eq!(
            problems(&never, &harbor(), &limits()),
            ["Harbor has never scanned"]
        );
        let clair = facts::ImageScan::Scanned(ScanReport {
            scanner: Some(Scanner {
                name: "Clair".into(),
                version: None,
            }),
            status: "Success".into(),
            ..Default::default()
        });
        assert_eq!(
            problems(&clair, &harbor(), &limits()),
            ["was scanned by Clair, not Trivy"]
        );
        let failed = scanned("Error", "2026-11-25T00:00:00Z", &[], &[]);
        assert_eq!(
            problems(&failed, &harbor(), &limits()),
            ["Trivy failed to scan (status Error)"]
        );
        let both = scanned(
            "Success",
            "2026-10-01T00:00:00Z",
            &[
                (Severity::Critical, 2),
                (Severity::High, 3),
                (Severity::Medium, 9),
            ],
            &["CVE-2026-1", "CVE-2026-2", "CVE-2026-3"],
        );
        assert_eq!(
            problems(&both, &harbor(), &limits()),
            [
                "has 2 critical and 3 high vulnerabilities (CVE-2026-1, CVE-2026-2, CVE-2026-3, …)",
                "was last scanned by Trivy on 2026-10-01, longer ago than harbor.max_scan_age (7d)"
            ]
        );
    }

    #[test]
    fn durations_read_as_configured() {
        assert_eq!(short_duration(Duration::from_secs(3650 * 86400)), "3650d");
        assert_eq!(short_duration(Duration::from_secs(36 * 3600)), "36h");
        assert_eq!(short_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn below_the_threshold_and_fresh_is_fine() {
        let fine = scanned(
            "Success",
            "2026-11-25T00:00:00Z",
            &[(Severity::Medium, 4), (Severity::Low, 12)],
            &[],
        );
        assert!(problems(&fine, &harbor(), &limits()).is_empty());
        let one = scanned(
            "Success",
            "2026-11-25T00:00:00Z",
            &[(Severity::High, 1)],
            &["CVE-1"],
        );
        assert_eq!(
            problems(&one, &harbor(), &limits()),
            ["has 1 high vulnerability (CVE-1)"]
        );
    }
}
