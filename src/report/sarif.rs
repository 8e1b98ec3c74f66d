//! `--format sarif`: SARIF 2.1.0, shaped for GitHub code scanning and DefectDojo.
//!
//! - one run; `tool.driver` is `tollgate` with every rule that ran (descriptions, help text and
//!   markdown, `security-severity`, tags);
//! - each result: `ruleId`/`ruleIndex`, `level`, message, one location (a file URI relative to
//!   the scan root with line/column, or `k8s://<context>/<namespace>/<kind>/<name>` for live
//!   objects) with the object as a logical location, `partialFingerprints["tollgate/v1"]`
//!   (DefectDojo needs keys with `/` to end in `/v<N>`), the remediation as a fix description
//!   (DefectDojo's mitigation), and `suppressions` with the justification.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactChange, ArtifactLocation, Fix, Location, LogicalLocation, Message,
    MultiformatMessageString, PhysicalLocation, PropertyBag, Region, Replacement,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultKind, ResultLevel,
    Run, Sarif, Suppression, Tool, ToolComponent,
};

use crate::finding::{Finding, Location as FindingLocation, Severity, SuppressionSource};
use crate::report::{Report, VERSION};
use crate::rules::RuleInfo;

/// The `$schema` written into reports.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// Key of the stable fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "tollgate/v1";

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

fn location(finding: &Finding) -> (Location, Option<Region>) {
    let mut physical = PhysicalLocation::builder().build();
    let mut artifact = ArtifactLocation::builder().build();
    let mut region = None;
    match &finding.location {
        FindingLocation::File { path, line, column } => {
            artifact.uri = Some(uri_escape(path));
            let mut r = Region::builder().build();
            r.start_line = Some(i64::from(*line));
            r.start_column = Some(i64::from(*column));
            region = Some(r);
        }
        FindingLocation::Cluster { uri, .. } => {
            artifact.uri = Some(uri.clone());
        }
    }
    physical.artifact_location = Some(artifact);
    physical.region = region.clone();
    let mut location = Location::builder().build();
    location.physical_location = Some(physical);
    if let Some(object) = &finding.object {
        let mut logical = LogicalLocation::builder().build();
        logical.name = Some(object.name.clone());
        logical.kind = Some("resource".to_string());
        logical.fully_qualified_name = Some(match &object.namespace {
            Some(ns) => format!(
                "{}/{}/{}/{}",
                object.api_version, object.kind, ns, object.name
            ),
            None => format!("{}/{}/{}", object.api_version, object.kind, object.name),
        });
        location.logical_locations = Some(vec![logical]);
    }
    (location, region)
}

/// Percent-encodes what a relative URI reference cannot hold as is.
fn uri_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b'@'
            | b'+'
            | b','
            | b'=' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The result's message, which DefectDojo turns into the finding's title. An empty one (a
/// policy's `deny` with no text) would give an empty title: the rule's title stands in.
fn message_text(finding: &Finding, rule: Option<&RuleInfo>) -> String {
    if !finding.message.trim().is_empty() {
        return finding.message.clone();
    }
    match rule {
        Some(rule) if !rule.title.trim().is_empty() => rule.title.clone(),
        _ => finding.rule.clone(),
    }
}

fn result(finding: &Finding, rule_index: Option<usize>, rule: Option<&RuleInfo>) -> SarifResult {
    let mut message = Message::builder().build();
    message.text = Some(message_text(finding, rule));
    let mut result = SarifResult::builder().message(message).build();
    result.rule_id = Some(finding.rule.clone());
    result.rule_index = rule_index.map(|i| i as i64);
    result.kind = Some(ResultKind::Fail);
    result.level = Some(level(finding.severity));
    let (location, region) = location(finding);
    if !finding.remediation.is_empty() {
        let mut description = Message::builder().build();
        description.text = Some(finding.remediation.clone());
        // A fix needs an artifact change; an empty replacement at the finding keeps it a no-op.
        // Live findings have no lines: an empty region at offset 0 of the object's URI. Every
        // finding gets its fix, because DefectDojo takes the mitigation from nowhere else.
        let mut deleted = Region::builder().build();
        match region {
            Some(region) => {
                deleted.start_line = region.start_line;
                deleted.start_column = region.start_column;
                deleted.end_line = region.start_line;
                deleted.end_column = region.start_column;
            }
            None => {
                deleted.char_offset = Some(0);
                deleted.char_length = Some(0);
            }
        }
        let artifact = location
            .physical_location
            .as_ref()
            .and_then(|p| p.artifact_location.clone())
            .unwrap_or_else(|| ArtifactLocation::builder().build());
        let change = ArtifactChange::builder()
            .artifact_location(artifact)
            .replacements(vec![Replacement::builder().deleted_region(deleted).build()])
            .build();
        let mut fix = Fix::builder().artifact_changes(vec![change]).build();
        fix.description = Some(description);
        result.fixes = Some(vec![fix]);
    }
    result.locations = Some(vec![location]);
    result.partial_fingerprints = Some(BTreeMap::from([(
        FINGERPRINT_KEY.to_string(),
        finding.fingerprint.clone(),
    )]));
    let mut tags = Vec::new();
    let mut properties = BTreeMap::new();
    properties.insert("severity".to_string(), json!(finding.severity.as_str()));
    if let Some(object) = &finding.object {
        tags.push(format!("kind:{}", object.kind));
        if let Some(ns) = &object.namespace {
            tags.push(format!("namespace:{ns}"));
        }
    }
    if let Some(env) = &finding.environment {
        tags.push(format!("env:{env}"));
        properties.insert("environment".to_string(), json!(env));
    }
    if let FindingLocation::Cluster { context, .. } = &finding.location {
        tags.push(format!("cluster:{context}"));
        properties.insert("cluster".to_string(), json!(context));
    }
    if let Some(source) = &finding.helm_source {
        properties.insert("helmSource".to_string(), json!(source));
    }
    if !finding.pointer.is_empty() {
        properties.insert("pointer".to_string(), json!(finding.pointer));
    }
    result.properties = Some(
        PropertyBag::builder()
            .tags(tags)
            .additional_properties(properties)
            .build(),
    );
    if let Some(suppression) = &finding.suppressed {
        let kind = match suppression.source {
            SuppressionSource::Annotation => "inSource",
            SuppressionSource::Exemption | SuppressionSource::Baseline => "external",
        };
        let mut s = Suppression::builder().kind(json!(kind)).build();
        s.justification = Some(suppression.reason.clone());
        s.status = Some(json!("accepted"));
        result.suppressions = Some(vec![s]);
    }
    result
}

/// The SARIF log of a report.
pub fn log(report: &Report<'_>) -> Sarif {
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
    let results = report
        .findings()
        .iter()
        .map(|f| {
            let i = index.get(f.rule.as_str()).copied();
            result(f, i, i.map(|i| &rules[i]))
        })
        .collect();
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .build();
    run.results = Some(results);
    run.column_kind = Some(Value::String("unicodeCodePoints".into()));
    let mut sarif = Sarif::builder()
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    sarif.schema = Some(SCHEMA_URI.to_string());
    sarif
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(report))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::finding::Finding;
    use crate::model::object::{Object, Origin};
    use crate::rules::{RuleInfo, find};
    use crate::scan::ScanOutcome;
    use crate::source::spans::SpanTree;

    /// A live finding (no lines) keeps its remediation as a fix, the only place DefectDojo
    /// reads a mitigation from, and the log stays valid SARIF.
    #[test]
    fn live_findings_carry_their_fix_and_stay_schema_valid() {
        let object = Object::from_value(
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
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
            crate::source::spans::Pos { line: 1, column: 1 },
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
}
