//! `--format sarif`: SARIF 2.1.0, shaped for GitHub code scanning and DefectDojo.
//!
//! - one run; `tool.driver` is `tollgate` with every rule that ran (descriptions, help text and
//!   markdown, `security-severity`, tags);
//! - each result: `ruleId`/`ruleIndex`, `level`, message, one location (a file URI relative to
//!   the scan root with line/column, or `k8s://<context>/<namespace>/<kind>/<name>` for live
//!   objects) with the object as a logical location, `partialFingerprints["tollgate/v2"]`
//!   (DefectDojo needs keys with `/` to end in `/v<N>`), the remediation as a fix description
//!   (DefectDojo's mitigation), and `suppressions` with the justification;
//! - a document rendered by `--helm` is at its virtual path (`<chart>/(helm template)`, see
//!   `source::render`) with the chart template it came from as a `relatedLocations` entry;
//! - with `--previous`, `baselineState` `new` / `unchanged` on each result, and the previous
//!   report's findings that are gone as results with `baselineState: "absent"`;
//! - one invocation: `executionSuccessful` (false when the run had errors) and the run's
//!   warnings and errors as `toolExecutionNotifications`.
//!
//! Files written with `--format sarif` respect GitHub code scanning's upload limits by
//! default ([`Limits::GITHUB`]: 25,000 results per run, 10 MB gzipped): when over, the most
//! severe results are kept, a notification in the report and a warning on stderr say how many
//! were left out, and `run.properties` carries `resultsTotal` / `resultsKept`.
//! `--no-sarif-limits` writes everything (for DefectDojo and other consumers). [`log`]
//! itself never leaves anything out.

use std::collections::BTreeMap;
use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;

use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use crate::finding::{Finding, Severity};
use crate::notice::{Notice, NoticeLevel};
use crate::report::{Report, VERSION};
use crate::rules::RuleInfo;

mod results;

use results::{fixed_result, result, uri_escape};

/// The `$schema` written into reports.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// Key of the stable fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = crate::finding::FINGERPRINT_SCHEME;

/// How much one SARIF file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Results in the run.
    pub max_results: usize,
    /// Size of the file once gzipped, in bytes.
    pub max_gzip_bytes: usize,
}

impl Limits {
    /// What GitHub code scanning accepts in one upload: 25,000 results per run and 10 MB
    /// gzipped (10,000,000 bytes, so that any reading of "MB" is satisfied).
    pub const GITHUB: Limits = Limits {
        max_results: 25_000,
        max_gzip_bytes: 10_000_000,
    };
}

/// SARIF level for a severity.
pub fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

fn level_name(severity: Severity) -> &'static str {
    match level(severity) {
        ResultLevel::Error => "error",
        ResultLevel::Warning => "warning",
        ResultLevel::Note => "note",
        ResultLevel::None => "none",
    }
}

fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

/// `image-pinned` → `ImagePinned`.
fn pascal_case(id: &str) -> String {
    id.split(['-', '.', '_', '/'])
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn descriptor(rule: &RuleInfo) -> ReportingDescriptor {
    let mut properties = BTreeMap::new();
    properties.insert(
        "security-severity".to_string(),
        json!(rule.severity.security_severity()),
    );
    properties.insert("precision".to_string(), json!("high"));
    properties.insert(
        "problem.severity".to_string(),
        json!(match rule.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "recommendation",
        }),
    );
    let mut tags = rule.tags.clone();
    if !tags.iter().any(|t| t == "security") {
        tags.push("security".to_string());
    }
    let mut help = text(format!(
        "{}\n\nRemediation: {}",
        rule.doc.trim(),
        rule.remediation
    ));
    help.markdown = Some(rule.doc.trim().to_string());
    let mut descriptor = ReportingDescriptor::builder().id(rule.id.clone()).build();
    descriptor.name = Some(pascal_case(&rule.id));
    descriptor.short_description = Some(text(rule.title.clone()));
    descriptor.full_description = Some(text(rule.summary().to_string()));
    descriptor.help = Some(help);
    descriptor.default_configuration = Some(
        ReportingConfiguration::builder()
            .level(json!(level_name(rule.severity)))
            .build(),
    );
    descriptor.properties = Some(
        PropertyBag::builder()
            .tags(tags)
            .additional_properties(properties)
            .build(),
    );
    descriptor
}

fn notification(
    level: NoticeLevel,
    text: String,
    path: Option<&str>,
    line: Option<u32>,
) -> Notification {
    let mut message = Message::builder().build();
    message.text = Some(text);
    let mut notification = Notification::builder().message(message).build();
    notification.level = Some(json!(match level {
        NoticeLevel::Error => "error",
        NoticeLevel::Warning => "warning",
    }));
    if let Some(path) = path.filter(|p| !p.contains("://")) {
        let mut artifact = ArtifactLocation::builder().build();
        artifact.uri = Some(uri_escape(path));
        let mut physical = PhysicalLocation::builder().build();
        physical.artifact_location = Some(artifact);
        if let Some(line) = line.filter(|l| *l > 0) {
            let mut region = Region::builder().build();
            region.start_line = Some(i64::from(line));
            physical.region = Some(region);
        }
        let mut location = Location::builder().build();
        location.physical_location = Some(physical);
        notification.locations = Some(vec![location]);
    }
    notification
}

fn notice_notification(notice: &Notice) -> Notification {
    let text = match &notice.path {
        Some(path) if path.contains("://") => format!("{path}: {}", notice.message),
        _ => notice.message.clone(),
    };
    notification(notice.level, text, notice.path.as_deref(), notice.line)
}

/// Results left out to stay within limits: how many there were, how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    pub total: usize,
    pub kept: usize,
}

impl Truncation {
    fn message(self) -> String {
        format!(
            "SARIF report truncated to {} of {} results to stay within GitHub code scanning's \
             limits (25,000 results, 10 MB gzipped); the most severe were kept. Use \
             --no-sarif-limits to write them all, or a JSON report.",
            self.kept, self.total
        )
    }
}

/// The SARIF log of a report, every finding included.
pub fn log(report: &Report<'_>) -> Sarif {
    let all: Vec<&Finding> = report.findings().iter().collect();
    log_of(report, &all, None)
}

fn log_of(report: &Report<'_>, findings: &[&Finding], truncation: Option<Truncation>) -> Sarif {
    let rules = &report.outcome.rules;
    let index: BTreeMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut driver = ToolComponent::builder().name("tollgate").build();
    driver.version = Some(VERSION.to_string());
    driver.semantic_version = Some(VERSION.to_string());
    driver.information_uri = Some("https://github.com/tollgate-dev/tollgate".to_string());
    driver.rules = Some(rules.iter().map(descriptor).collect());
    let sources = &report.outcome.sources;
    let mut results: Vec<SarifResult> = findings
        .iter()
        .map(|f| {
            let rendered = sources.rendered_anchor(f.location.path()).is_some();
            let i = index.get(f.rule.as_str()).copied();
            result(f, i, i.map(|i| &rules[i]), rendered)
        })
        .collect();
    if let Some(changes) = &report.outcome.changes {
        results.extend(
            changes
                .fixed
                .iter()
                .map(|f| fixed_result(f, index.get(f.rule.as_str()).copied())),
        );
    }
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .build();
    run.results = Some(results);
    run.column_kind = Some(Value::String("unicodeCodePoints".into()));
    let mut notifications: Vec<Notification> = report
        .outcome
        .notices
        .iter()
        .map(notice_notification)
        .collect();
    if let Some(t) = truncation {
        notifications.push(notification(NoticeLevel::Warning, t.message(), None, None));
        let mut properties = BTreeMap::new();
        properties.insert("resultsTotal".to_string(), json!(t.total));
        properties.insert("resultsKept".to_string(), json!(t.kept));
        run.properties = Some(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        );
    }
    let mut invocation = Invocation::builder()
        .execution_successful(!report.outcome.has_errors())
        .build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }
    run.invocations = Some(vec![invocation]);
    let mut sarif = Sarif::builder()
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    sarif.schema = Some(SCHEMA_URI.to_string());
    sarif
}

fn to_bytes(sarif: &Sarif) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(sarif)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Size of `bytes` gzipped at the default level (what an upload would send).
pub fn gzip_len(bytes: &[u8]) -> io::Result<usize> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// The SARIF file of a report within `limits`, and what was left out to get there.
pub fn render(
    report: &Report<'_>,
    limits: Option<Limits>,
) -> io::Result<(Vec<u8>, Option<Truncation>)> {
    let findings = report.findings();
    let all: Vec<&Finding> = findings.iter().collect();
    let Some(limits) = limits else {
        return Ok((to_bytes(&log_of(report, &all, None))?, None));
    };
    // Which results go first when some must go: unsuppressed, most severe, then report order.
    let mut priority: Vec<usize> = (0..findings.len()).collect();
    priority.sort_by_key(|&i| {
        (
            !findings[i].is_active(),
            std::cmp::Reverse(findings[i].severity),
            i,
        )
    });
    let total = findings.len();
    let mut keep = total.min(limits.max_results);
    loop {
        let mut chosen: Vec<usize> = priority[..keep].to_vec();
        chosen.sort_unstable();
        let kept: Vec<&Finding> = chosen.iter().map(|&i| &findings[i]).collect();
        let truncation = (keep < total).then_some(Truncation { total, kept: keep });
        let bytes = to_bytes(&log_of(report, &kept, truncation))?;
        // JSON compresses well: measure the gzipped size only when it could matter.
        let size = if bytes.len() <= limits.max_gzip_bytes / 2 {
            bytes.len()
        } else {
            gzip_len(&bytes)?
        };
        if size <= limits.max_gzip_bytes || keep == 0 {
            return Ok((bytes, truncation));
        }
        // Shrink in proportion, with a margin, and always by at least one result.
        let scaled = (keep as f64 * limits.max_gzip_bytes as f64 / size as f64 * 0.95) as usize;
        keep = scaled.min(keep - 1);
    }
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let (bytes, truncation) = render(report, report.sarif_limits)?;
    if let Some(t) = truncation {
        eprintln!("warning: {}", t.message());
    }
    out.write_all(&bytes)
}

#[cfg(test)]
mod tests {
    use super::results::message_text;
    use super::*;
    use crate::finding::Location as FindingLocation;
    use crate::report::testdata;

    use crate::finding::Finding;
    use crate::model::object::{Object, Origin};
    use crate::model::spans::SpanTree;
    use crate::outcome::ScanOutcome;
    use crate::rules::{RuleInfo, find};

    /// A live finding (no lines) keeps its remediation as a fix, the only place DefectDojo
    /// reads a mitigation from, and the log stays valid SARIF.
    #[test]
    fn live_findings_carry_their_fix_and_stay_schema_valid() {
        let object = Object::from_value(
            crate::doc!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "api", "namespace": "shop-prod"}}),
            Origin::Cluster {
                context: "production".into(),
                api_path: "/apis/apps/v1/namespaces/shop-prod/deployments/api".into(),
            },
            SpanTree::default(),
        )
        .unwrap();
        let rule = RuleInfo::from_meta(find("image-pinned").unwrap().meta());
        let finding = Finding::on_object(
            &rule.id,
            rule.severity,
            "container `api` of Deployment shop-prod/api uses image `api:latest` with the `latest` tag".into(),
            rule.remediation.clone(),
            &object,
            "/spec/template/spec/containers/0/image",
        );
        let outcome = ScanOutcome {
            findings: vec![finding],
            rules: vec![rule],
            ..Default::default()
        };
        let log = serde_json::to_value(log(&Report {
            outcome: &outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        }))
        .unwrap();
        let result = &log["runs"][0]["results"][0];
        assert_eq!(
            result["fixes"][0]["description"]["text"],
            outcome.findings[0].remediation
        );
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "k8s://production/shop-prod/Deployment/api"
        );
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/schemas/sarif-schema-2.1.0.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn an_empty_message_becomes_the_rule_title() {
        let rule = RuleInfo::from_meta(find("image-pinned").unwrap().meta());
        let mut finding = Finding::on_file(
            &rule.id,
            rule.severity,
            " ".into(),
            String::new(),
            "a.yaml",
            crate::model::spans::Pos { line: 1, column: 1 },
            0,
        );
        assert_eq!(message_text(&finding, Some(&rule)), rule.title);
        assert_eq!(message_text(&finding, None), "image-pinned");
        finding.message = "said something".into();
        assert_eq!(message_text(&finding, Some(&rule)), "said something");
    }

    #[test]
    fn names_and_uris() {
        assert_eq!(pascal_case("image-pinned"), "ImagePinned");
        assert_eq!(
            uri_escape("dir with space/a#b.yaml"),
            "dir%20with%20space/a%23b.yaml"
        );
    }

    fn report(outcome: &crate::outcome::ScanOutcome) -> Report<'_> {
        Report {
            outcome,
            color: false,
            fail_on: None,
            sarif_limits: Some(Limits::GITHUB),
        }
    }

    fn to_value(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn validate(value: &Value) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/schemas/sarif-schema-2.1.0.json"
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::draft7::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn the_shared_findings_validate_with_notifications_and_related_locations() {
        let outcome = testdata::outcome();
        let (bytes, truncation) = render(&report(&outcome), Some(Limits::GITHUB)).unwrap();
        assert_eq!(truncation, None);
        let sarif = to_value(&bytes);
        validate(&sarif);
        let run = &sarif["runs"][0];
        assert_eq!(
            run["results"].as_array().unwrap().len(),
            outcome.findings.len()
        );
        let invocation = &run["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], true);
        let notification = &invocation["toolExecutionNotifications"][0];
        assert_eq!(notification["level"], "warning");
        assert_eq!(
            notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "tollgate.yaml"
        );
        let rendered = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ruleId"] == "resource-requests")
            .unwrap();
        assert_eq!(
            rendered["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "charts/web/(helm%20template)"
        );
        assert_eq!(
            rendered["locations"][0]["physicalLocation"]["region"]["startLine"],
            30
        );
        assert_eq!(
            rendered["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            testdata::TEMPLATE
        );
        // Only rendered documents have related locations.
        let others = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r.get("relatedLocations").is_some())
            .count();
        assert_eq!(others, 1);
        // Help text is there for every rule (GitHub does not render helpUri alone).
        for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
            assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
            assert!(!rule["help"]["markdown"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn over_the_result_limit_the_most_severe_are_kept() {
        let outcome = testdata::outcome();
        let limits = Limits {
            max_results: 3,
            max_gzip_bytes: Limits::GITHUB.max_gzip_bytes,
        };
        let (bytes, truncation) = render(&report(&outcome), Some(limits)).unwrap();
        assert_eq!(
            truncation,
            Some(Truncation {
                total: outcome.findings.len(),
                kept: 3
            })
        );
        let sarif = to_value(&bytes);
        validate(&sarif);
        let run = &sarif["runs"][0];
        let kept: Vec<(&str, &str)> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap(),
                    r["properties"]["severity"].as_str().unwrap(),
                )
            })
            .collect();
        // The critical one and the first two high ones, in report order.
        assert_eq!(kept.len(), 3);
        assert!(kept.contains(&("plain-secret", "critical")));
        assert!(
            kept.iter().all(|(_, s)| *s == "critical" || *s == "high"),
            "{kept:?}"
        );
        assert_eq!(run["properties"]["resultsTotal"], outcome.findings.len());
        assert_eq!(run["properties"]["resultsKept"], 3);
        let notes = run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .unwrap();
        assert!(
            notes.iter().any(
                |n| n["message"]["text"].as_str().unwrap().starts_with(&format!(
                    "SARIF report truncated to 3 of {} results",
                    outcome.findings.len()
                ))
            )
        );
        // Without limits, everything.
        let (all, none) = render(&report(&outcome), None).unwrap();
        assert_eq!(none, None);
        assert_eq!(
            to_value(&all)["runs"][0]["results"]
                .as_array()
                .unwrap()
                .len(),
            outcome.findings.len()
        );
    }

    #[test]
    fn over_the_size_limit_results_go_until_the_gzipped_file_fits() {
        let mut outcome = testdata::outcome();
        // Many distinct findings, so that the file does not compress to nothing.
        let template = outcome.findings[0].clone();
        for n in 0..3000u32 {
            let mut f = template.clone();
            f.message = format!("{} #{n} {:x}", f.message, n.wrapping_mul(2_654_435_761));
            f.fingerprint = format!("{:032x}", u128::from(n) * 0x9E37_79B9_7F4A_7C15);
            outcome.findings.push(f);
        }
        let (full, _) = render(&report(&outcome), None).unwrap();
        let full_gz = gzip_len(&full).unwrap();
        let limits = Limits {
            max_results: 25_000,
            max_gzip_bytes: full_gz / 3,
        };
        let (bytes, truncation) = render(&report(&outcome), Some(limits)).unwrap();
        let truncation = truncation.expect("truncated");
        assert!(gzip_len(&bytes).unwrap() <= limits.max_gzip_bytes);
        assert!(truncation.kept < outcome.findings.len() && truncation.kept > 0);
        // The critical finding survives.
        let sarif = to_value(&bytes);
        assert!(
            sarif["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["ruleId"] == "plain-secret")
        );
    }

    #[test]
    fn github_result_limit_is_25000() {
        let mut outcome = testdata::outcome();
        outcome.findings.truncate(1);
        let template = outcome.findings[0].clone();
        outcome.findings = (0..25_001u32)
            .map(|n| {
                let mut f = template.clone();
                f.fingerprint = format!("{n:032x}");
                f
            })
            .collect();
        let (bytes, truncation) = render(&report(&outcome), Some(Limits::GITHUB)).unwrap();
        assert_eq!(
            truncation,
            Some(Truncation {
                total: 25_001,
                kept: 25_000
            })
        );
        assert!(gzip_len(&bytes).unwrap() <= Limits::GITHUB.max_gzip_bytes);
    }

    #[test]
    fn partial_fingerprints_do_not_depend_on_lines_or_order() {
        let outcome = testdata::outcome();
        let fingerprints = |outcome: &crate::outcome::ScanOutcome| {
            let (bytes, _) = render(&report(outcome), None).unwrap();
            let mut v: Vec<(String, String, String)> = to_value(&bytes)["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["ruleId"].as_str().unwrap().to_string(),
                        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                        r["partialFingerprints"][FINGERPRINT_KEY]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let before = fingerprints(&outcome);
        let mut moved = testdata::outcome();
        for f in &mut moved.findings {
            if let FindingLocation::File { line, .. } = &mut f.location {
                *line += 7;
            }
        }
        moved.findings.reverse();
        assert_eq!(before, fingerprints(&moved));
    }
}
