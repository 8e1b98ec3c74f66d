//! The SARIF that goes to DefectDojo, shaped for a triager.
//!
//! DefectDojo's SARIF parser makes the result message the finding's title (cut at 150
//! characters, then title-cased on save: "Container `Apisix` of Deployment Product-a-Prod/…")
//! and builds the description from that message, the region's snippet and the rule's
//! descriptions (CONTRACT §3, rec 04). So for DefectDojo each result gets:
//!
//! - a short, stable title as its message: the rule's title and the object
//!   (`Image not pinned: Deployment shop-prod/api`), at most [`MAX_TITLE`] characters, never
//!   a line number, so it reads well title-cased and does not move;
//! - the details as the region's snippet, which DefectDojo puts in the description: the whole
//!   message, remediation, location, component (`namespace/Kind/name`), environment and
//!   cluster;
//! - tags: the rule's tags (on the rule) plus `kind:`, `namespace:`, `env:` and `cluster:` (on
//!   the result), which DefectDojo unites into the finding's tags.
//!
//! Results marked `baselineState: absent` (fixed since `--previous`) are left out: DefectDojo
//! ignores `baselineState` and would open them. The fingerprint, hence
//! `unique_id_from_tool`, is untouched. DefectDojo reads neither `component_name` nor `service`
//! from SARIF; the component is in the description, and `service` is a reimport field
//! (`defectdojo.service`), see docs/defectdojo.md. Shaping is idempotent: the original
//! message is kept in `properties.message`.

use serde_json::{Value, json};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 100;

/// Shapes a tollgate SARIF log (as JSON) for DefectDojo, in place.
pub fn shape(log: &mut Value) {
    let Some(runs) = log.get_mut("runs").and_then(Value::as_array_mut) else {
        return;
    };
    for run in runs {
        let titles: Vec<Option<String>> = run
            .pointer("/tool/driver/rules")
            .and_then(Value::as_array)
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| {
                        r.pointer("/shortDescription/text")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let Some(results) = run.get_mut("results").and_then(Value::as_array_mut) else {
            continue;
        };
        results.retain(|r| r.get("baselineState").and_then(Value::as_str) != Some("absent"));
        for result in results.iter_mut() {
            let rule_title = result
                .get("ruleIndex")
                .and_then(Value::as_u64)
                .and_then(|i| titles.get(i as usize).cloned().flatten());
            shape_result(result, rule_title.as_deref());
        }
    }
}

/// Shapes SARIF bytes; bytes that are no JSON are returned as they are (the server will say).
pub fn shape_bytes(bytes: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut log) => {
            shape(&mut log);
            // A Value always serialises; should it not, the unshaped report still goes out.
            match serde_json::to_vec_pretty(&log) {
                Ok(mut out) => {
                    out.push(b'\n');
                    out
                }
                Err(_) => bytes.to_vec(),
            }
        }
        Err(_) => bytes.to_vec(),
    }
}

fn text_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// `apps/v1/Deployment/shop-prod/api` → (`Deployment`, Some(`shop-prod`), `api`).
fn object_parts(fqn: &str) -> Option<(&str, Option<&str>, &str)> {
    let parts: Vec<&str> = fqn.split('/').collect();
    // Core objects have a one-part apiVersion (`v1`), others two (`apps/v1`).
    let core = parts
        .first()
        .is_some_and(|p| !p.contains('.') && p.starts_with('v'));
    let rest = if core && parts.len() <= 4 {
        &parts[1..]
    } else if parts.len() >= 4 {
        &parts[2..]
    } else {
        return None;
    };
    match rest {
        [kind, ns, name] => Some((kind, Some(ns), name)),
        [kind, name] => Some((kind, None, name)),
        _ => None,
    }
}

fn shape_result(result: &mut Value, rule_title: Option<&str>) {
    let message = text_at(result, "/properties/message")
        .or_else(|| text_at(result, "/message/text"))
        .unwrap_or_default()
        .to_string();
    let rule_id = text_at(result, "/ruleId").unwrap_or_default().to_string();
    let uri = text_at(result, "/locations/0/physicalLocation/artifactLocation/uri")
        .unwrap_or_default()
        .to_string();
    let line = result
        .pointer("/locations/0/physicalLocation/region/startLine")
        .and_then(Value::as_u64);
    let object = text_at(result, "/locations/0/logicalLocations/0/fullyQualifiedName")
        .and_then(object_parts)
        .map(|(k, ns, n)| (k.to_string(), ns.map(str::to_string), n.to_string()));
    let remediation = text_at(result, "/fixes/0/description/text").map(str::to_string);
    let environment = text_at(result, "/properties/environment").map(str::to_string);
    let cluster = text_at(result, "/properties/cluster").map(str::to_string);

    let what = match &object {
        Some((kind, Some(ns), name)) => format!("{kind} {ns}/{name}"),
        Some((kind, None, name)) => format!("{kind} {name}"),
        None => uri.clone(),
    };
    let title = title(rule_title.unwrap_or(&rule_id), &what);

    let mut details = vec![message.clone(), String::new()];
    if let Some(remediation) = &remediation {
        details.push(format!("Remediation: {remediation}"));
    }
    details.push(match line {
        Some(line) => format!("Location: {uri}:{line}"),
        None => format!("Location: {uri}"),
    });
    if let Some((kind, ns, name)) = &object {
        details.push(format!(
            "Component: {}{kind}/{name}",
            ns.as_deref().map(|n| format!("{n}/")).unwrap_or_default()
        ));
    }
    if let Some(env) = &environment {
        details.push(format!("Environment: {env}"));
    }
    if let Some(cluster) = &cluster {
        details.push(format!("Cluster: {cluster}"));
    }
    details.push(format!("Rule: {rule_id}"));

    result["message"] = json!({ "text": title });
    if let Some(properties) = result.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert("message".into(), json!(message));
    } else {
        result["properties"] = json!({ "message": message });
    }
    if let Some(physical) = result
        .pointer_mut("/locations/0/physicalLocation")
        .and_then(Value::as_object_mut)
    {
        let region = physical
            .entry("region")
            .or_insert_with(|| json!({ "charOffset": 0, "charLength": 0 }));
        if let Some(region) = region.as_object_mut() {
            region.insert("snippet".into(), json!({ "text": details.join("\n") }));
        }
    }
}

/// `rule title: object`, at most [`MAX_TITLE`] characters (the object is cut first, with `…`).
pub fn title(rule_title: &str, what: &str) -> String {
    let rule_title = rule_title.trim();
    let full = if what.is_empty() {
        rule_title.to_string()
    } else {
        format!("{rule_title}: {what}")
    };
    if full.chars().count() <= MAX_TITLE {
        return full;
    }
    let mut cut: String = full.chars().take(MAX_TITLE - 1).collect();
    cut = cut.trim_end().to_string();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Report, sarif, testdata};

    fn shaped() -> Value {
        let outcome = testdata::outcome();
        let report = Report {
            outcome: &outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        };
        let mut log = serde_json::to_value(sarif::log(&report)).unwrap();
        shape(&mut log);
        log
    }

    #[test]
    fn titles_are_short_stable_and_name_the_object() {
        let log = shaped();
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert!(!results.is_empty());
        for r in results {
            let title = r["message"]["text"].as_str().unwrap();
            assert!(title.chars().count() <= MAX_TITLE, "{title}");
            assert!(!title.contains(":1") && !title.contains("line"), "{title}");
        }
        let live = results
            .iter()
            .find(|r| r["properties"]["cluster"] == "production")
            .unwrap();
        assert_eq!(
            live["message"]["text"],
            "Image not pinned to a version or digest: Deployment shop-prod/api"
        );
        let snippet = live["locations"][0]["physicalLocation"]["region"]["snippet"]["text"]
            .as_str()
            .unwrap();
        assert!(snippet.starts_with("container `api` of Deployment shop-prod/api uses"));
        for line in [
            "Remediation: Fix image-pinned.",
            "Location: k8s://production/shop-prod/Deployment/api",
            "Component: shop-prod/Deployment/api",
            "Environment: prod",
            "Cluster: production",
            "Rule: image-pinned",
        ] {
            assert!(snippet.contains(line), "{line} in {snippet}");
        }
    }

    #[test]
    fn shaping_is_idempotent_and_keeps_identity() {
        let once = shaped();
        let mut twice = once.clone();
        shape(&mut twice);
        assert_eq!(once, twice);
        let outcome = testdata::outcome();
        let prints: Vec<&Value> = once["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["partialFingerprints"])
            .collect();
        assert_eq!(prints.len(), outcome.findings.len());
        for (p, f) in prints.iter().zip(&outcome.findings) {
            assert_eq!(p[sarif::FINGERPRINT_KEY], f.fingerprint.as_str());
        }
    }

    #[test]
    fn fixed_results_never_reach_defectdojo() {
        let mut log = json!({"runs": [{"tool": {"driver": {"name": "tollgate"}}, "results": [
            {"ruleId": "a", "message": {"text": "m"}, "baselineState": "absent"},
            {"ruleId": "b", "message": {"text": "m"}, "baselineState": "new"}
        ]}]});
        shape(&mut log);
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["ruleId"], "b");
    }

    #[test]
    fn long_titles_are_cut() {
        let t = title(
            "Image not pinned",
            &format!("Deployment ns/{}", "x".repeat(200)),
        );
        assert_eq!(t.chars().count(), MAX_TITLE);
        assert!(t.ends_with('…'));
        assert_eq!(
            object_parts("v1/Namespace/shop-prod"),
            Some(("Namespace", None, "shop-prod"))
        );
    }
}
