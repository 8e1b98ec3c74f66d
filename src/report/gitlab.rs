//! `--format gitlab`: GitLab Code Quality, for `artifacts:reports:codequality`, in the format
//! GitLab documents for custom tools (docs.gitlab.com/ci/testing/code_quality/, "Code Quality
//! report format").
//!
//! A JSON array with one entry per unsuppressed finding (Code Quality has no notion of an
//! accepted finding, and would show suppressed ones in every merge request):
//!
//! ```text
//! {
//!   "description": "image-pinned: container `api` … uses …",  starts with the rule id
//!   "check_name": "image-pinned",                              the rule id
//!   "fingerprint": "9f2c…",                                    unique in the report, stable
//!   "severity": "critical",                     info | minor | major | critical | blocker
//!   "location": {"path": "clusters/prod/api.yaml", "lines": {"begin": 18}}
//! }
//! ```
//!
//! - `severity`: info → `info`, low → `minor`, medium → `major`, high → `critical`,
//!   critical → `blocker`.
//! - `fingerprint`: tollgate's fingerprint (rule, object identity, node; never a line, so it
//!   survives moving documents). GitLab keeps only the first entry of a fingerprint, so when
//!   several findings share one (the same object in two folders), each of them gets a hash of
//!   the fingerprint, its path and its rank among those findings in that file instead.
//! - `location.path`: relative to the scan root (run tollgate from the repository root), with
//!   no `./`. A document rendered by `--helm`/`--kustomize` is no file: it points at the
//!   template it came from, else at `Chart.yaml` / the kustomization, line 1. A live object
//!   has its `k8s://<context>/<namespace>/<kind>/<name>` URI, line 1.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Severity};
use crate::report::{Report, repo_location};

#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: &'a str,
    fingerprint: String,
    severity: &'static str,
    location: IssueLocation<'a>,
}

#[derive(Serialize)]
struct IssueLocation<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

/// Code Quality's name for a severity.
pub fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "minor",
        Severity::Medium => "major",
        Severity::High => "critical",
        Severity::Critical => "blocker",
    }
}

/// Fingerprints unique within `findings`: tollgate's own where it is unique, else derived
/// from it, the path and the finding's rank among those sharing both.
fn fingerprints<'a>(findings: &[&'a Finding], paths: &[&'a str]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for f in findings {
        *count.entry(f.fingerprint.as_str()).or_default() += 1;
    }
    let mut rank: HashMap<(&str, &str), usize> = HashMap::new();
    findings
        .iter()
        .zip(paths)
        .map(|(f, path)| {
            if count[f.fingerprint.as_str()] == 1 {
                return f.fingerprint.clone();
            }
            let n = rank.entry((f.fingerprint.as_str(), path)).or_default();
            *n += 1;
            let mut hasher = Sha256::new();
            for part in [f.fingerprint.as_str(), path, &n.to_string()] {
                hasher.update(part.as_bytes());
                hasher.update([0u8]);
            }
            hex::encode(&hasher.finalize()[..16])
        })
        .collect()
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let outcome = report.outcome;
    let active: Vec<&Finding> = report.findings().iter().filter(|f| f.is_active()).collect();
    // Findings that share a fingerprint are told apart by the file they are in.
    let paths: Vec<&str> = active.iter().map(|f| f.location.path()).collect();
    let fingerprints = fingerprints(&active, &paths);
    let issues: Vec<Issue<'_>> = active
        .iter()
        .zip(fingerprints)
        .map(|(f, fingerprint)| {
            let place = repo_location(outcome, f);
            let mut description = format!("{}: {}", f.rule, f.message);
            if place.path != f.location.path() && !f.location.path().starts_with("k8s://") {
                description.push_str(&format!(
                    " (in {} line {})",
                    f.location.path(),
                    f.location.line().unwrap_or(1)
                ));
            }
            Issue {
                description,
                check_name: &f.rule,
                fingerprint,
                severity: severity(f.severity),
                location: IssueLocation {
                    path: place.path.trim_start_matches("./"),
                    lines: Lines {
                        begin: place.line.unwrap_or(1).max(1),
                    },
                },
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &issues)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    use super::*;
    use crate::report::testdata;

    fn render(outcome: &crate::outcome::ScanOutcome) -> Vec<Value> {
        let report = Report {
            outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        serde_json::from_slice::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Field by field against GitLab's documented Code Quality format: an array of objects
    /// with `description`, `check_name`, `fingerprint`, `severity` (info, minor, major,
    /// critical, blocker), `location.path` (relative, no `./`) and `location.lines.begin`.
    #[test]
    fn matches_the_documented_format() {
        let outcome = testdata::outcome();
        let issues = render(&outcome);
        let active: Vec<&Finding> = outcome.findings.iter().filter(|f| f.is_active()).collect();
        assert_eq!(
            issues.len(),
            active.len(),
            "suppressed findings are left out"
        );
        for (issue, finding) in issues.iter().zip(&active) {
            let fields: HashSet<&str> = issue
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                fields,
                HashSet::from([
                    "description",
                    "check_name",
                    "fingerprint",
                    "severity",
                    "location"
                ])
            );
            let description = issue["description"].as_str().unwrap();
            assert!(
                description.starts_with(&format!("{}: ", finding.rule)),
                "{description}"
            );
            assert!(description.contains(&finding.message));
            assert_eq!(issue["check_name"], finding.rule.as_str());
            assert!(
                ["info", "minor", "major", "critical", "blocker"]
                    .contains(&issue["severity"].as_str().unwrap())
            );
            let path = issue["location"]["path"].as_str().unwrap();
            assert!(!path.starts_with("./") && !path.starts_with('/'), "{path}");
            let begin = issue["location"]["lines"]["begin"].as_u64().unwrap();
            assert!(begin >= 1);
            assert_eq!(issue["location"].as_object().unwrap().len(), 2);
            assert_eq!(issue["location"]["lines"].as_object().unwrap().len(), 1);
        }
        let by_rule_path = |rule: &str, path: &str| {
            issues
                .iter()
                .find(|i| i["check_name"] == rule && i["location"]["path"] == path)
                .unwrap_or_else(|| panic!("no {rule} issue at {path}"))
        };
        let pinned = by_rule_path("image-pinned", testdata::API_PROD);
        assert_eq!(pinned["severity"], "critical");
        assert_eq!(pinned["location"]["lines"]["begin"], 18);
        assert_eq!(
            by_rule_path("plain-secret", "clusters/prod/secret.yaml")["severity"],
            "blocker"
        );
        assert_eq!(
            by_rule_path("resource-limits", testdata::API_PROD)["severity"],
            "major"
        );
        assert_eq!(
            by_rule_path("suppression-reason-missing", "clusters/prod/settings.yaml")["severity"],
            "minor"
        );
        assert_eq!(
            by_rule_path("ingress-tls", "clusters/prod/ingress.yaml")["severity"],
            "info"
        );
        // A parse error has no object but a place.
        let parse = by_rule_path("manifest-parse-error", "clusters/dev/broken.yaml");
        assert_eq!(parse["location"]["lines"]["begin"], 9);
        // A rendered document points at its template; the description says where it was.
        let rendered = by_rule_path("resource-requests", testdata::TEMPLATE);
        assert_eq!(rendered["location"]["lines"]["begin"], 1);
        assert!(
            rendered["description"]
                .as_str()
                .unwrap()
                .ends_with(&format!("(in {} line 30)", testdata::RENDERED))
        );
        // A live finding keeps its object URI.
        by_rule_path("image-pinned", "k8s://production/shop-prod/Deployment/api");
    }

    #[test]
    fn fingerprints_are_unique_and_kept_where_unique() {
        let outcome = testdata::outcome();
        let issues = render(&outcome);
        let fingerprints: Vec<&str> = issues
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap())
            .collect();
        let unique: HashSet<&&str> = fingerprints.iter().collect();
        assert_eq!(unique.len(), fingerprints.len(), "{fingerprints:?}");
        // Unique tollgate fingerprints are used as they are.
        let secret = issues
            .iter()
            .find(|i| i["check_name"] == "plain-secret")
            .unwrap();
        assert_eq!(secret["fingerprint"], "aaaa0000000000000000000000000003");
        // The shared one is derived, per file.
        for path in [testdata::API_PROD, testdata::API_COPY] {
            let issue = issues
                .iter()
                .find(|i| i["check_name"] == "image-pinned" && i["location"]["path"] == path)
                .unwrap();
            assert_ne!(issue["fingerprint"], "aaaa0000000000000000000000000001");
            assert_eq!(issue["fingerprint"].as_str().unwrap().len(), 32);
        }
    }

    #[test]
    fn fingerprints_do_not_depend_on_order_or_lines() {
        let outcome = testdata::outcome();
        let before = render(&outcome);
        let mut moved = testdata::outcome();
        // Documents move: other lines, other order.
        for f in &mut moved.findings {
            if let crate::finding::Location::File { line, .. } = &mut f.location {
                *line += 40;
            }
        }
        moved.findings.reverse();
        let after = render(&moved);
        let key = |i: &Value| {
            (
                i["check_name"].as_str().unwrap().to_string(),
                i["location"]["path"].as_str().unwrap().to_string(),
                i["description"].as_str().unwrap().to_string(),
            )
        };
        let mut a: Vec<_> = before
            .iter()
            .map(|i| (key(i), i["fingerprint"].clone()))
            .collect();
        let mut b: Vec<_> = after
            .iter()
            .map(|i| (key(i), i["fingerprint"].clone()))
            .collect();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        // Rendered descriptions name the line; compare fingerprints by rule and path.
        let strip = |v: Vec<((String, String, String), Value)>| -> Vec<(String, String, Value)> {
            let mut v: Vec<_> = v.into_iter().map(|((r, p, _), f)| (r, p, f)).collect();
            v.sort_by(|x, y| (&x.0, &x.1, x.2.as_str()).cmp(&(&y.0, &y.1, y.2.as_str())));
            v
        };
        assert_eq!(strip(a), strip(b));
    }
}
