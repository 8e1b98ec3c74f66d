//! SARIF results: one per finding (location, message, fingerprint, fix, suppressions,
//! baseline state), and one per finding of the previous report that is gone.

use std::collections::BTreeMap;

use serde_json::json;
use serde_sarif::sarif::{
    ArtifactChange, ArtifactLocation, Fix, Location, LogicalLocation, Message, PhysicalLocation,
    PropertyBag, Region, Replacement, Result as SarifResult, ResultKind, Suppression,
};

use crate::finding::{Finding, Location as FindingLocation, SuppressionSource};
use crate::model::object::ObjectRef;
use crate::report::previous::PreviousFinding;
use crate::rules::RuleInfo;

use super::{FINGERPRINT_KEY, level};

pub(super) fn location(finding: &Finding) -> (Location, Option<Region>) {
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
    location.logical_locations = finding.object.as_ref().map(|o| vec![logical_location(o)]);
    (location, region)
}

/// Percent-encodes what a relative URI reference cannot hold as is.
pub(super) fn uri_escape(path: &str) -> String {
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
            | b'='
            | b'('
            | b')' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The result's message, which DefectDojo turns into the finding's title. An empty one (a
/// policy's `deny` with no text) would give an empty title: the rule's title stands in.
pub(super) fn message_text(finding: &Finding, rule: Option<&RuleInfo>) -> String {
    if !finding.message.trim().is_empty() {
        return finding.message.clone();
    }
    match rule {
        Some(rule) if !rule.title.trim().is_empty() => rule.title.clone(),
        _ => finding.rule.clone(),
    }
}

pub(super) fn result(
    finding: &Finding,
    rule_index: Option<usize>,
    rule: Option<&RuleInfo>,
    rendered: bool,
) -> SarifResult {
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
    if rendered && let Some(template) = &finding.helm_source {
        // The rendered stream is no file; the template it came from is.
        let mut related = Location::builder().build();
        related.id = Some(1);
        let mut message = Message::builder().build();
        message.text = Some("chart template this document was rendered from".to_string());
        related.message = Some(message);
        let mut physical = PhysicalLocation::builder().build();
        let mut artifact = ArtifactLocation::builder().build();
        artifact.uri = Some(uri_escape(template));
        physical.artifact_location = Some(artifact);
        related.physical_location = Some(physical);
        result.related_locations = Some(vec![related]);
    }
    if let Some(change) = finding.change {
        result.baseline_state = Some(json!(change.as_str()));
    }
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

/// A finding of the previous report that this run no longer has (`--previous`): a result
/// with `baselineState: "absent"`, at the place and with the identity it had.
pub(super) fn fixed_result(fixed: &PreviousFinding, rule_index: Option<usize>) -> SarifResult {
    let mut message = Message::builder().build();
    message.text = Some(fixed.message.clone());
    let mut result = SarifResult::builder().message(message).build();
    result.rule_id = Some(fixed.rule.clone());
    result.rule_index = rule_index.map(|i| i as i64);
    result.kind = Some(ResultKind::Fail);
    result.level = Some(level(fixed.severity));
    result.baseline_state = Some(json!("absent"));
    let mut artifact = ArtifactLocation::builder().build();
    artifact.uri = Some(if fixed.file.contains("://") {
        fixed.file.clone()
    } else {
        uri_escape(&fixed.file)
    });
    let mut physical = PhysicalLocation::builder().build();
    physical.artifact_location = Some(artifact);
    if let Some(line) = fixed.line {
        let mut region = Region::builder().build();
        region.start_line = Some(i64::from(line));
        region.start_column = fixed.column.map(i64::from);
        physical.region = Some(region);
    }
    let mut location = Location::builder().build();
    location.physical_location = Some(physical);
    location.logical_locations = fixed.object.as_ref().map(|o| vec![logical_location(o)]);
    result.locations = Some(vec![location]);
    result.partial_fingerprints = Some(BTreeMap::from([(
        FINGERPRINT_KEY.to_string(),
        fixed.fingerprint.clone(),
    )]));
    let mut properties = BTreeMap::new();
    properties.insert("severity".to_string(), json!(fixed.severity.as_str()));
    if let Some(env) = &fixed.environment {
        properties.insert("environment".to_string(), json!(env));
    }
    if let Some(cluster) = &fixed.cluster {
        properties.insert("cluster".to_string(), json!(cluster));
    }
    result.properties = Some(
        PropertyBag::builder()
            .additional_properties(properties)
            .build(),
    );
    result
}

/// The Kubernetes object of a finding as a SARIF logical location:
/// `apiVersion/kind[/namespace]/name`.
fn logical_location(object: &ObjectRef) -> LogicalLocation {
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
    logical
}
