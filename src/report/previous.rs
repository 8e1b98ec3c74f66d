//! `--previous REPORT`: what changed since an earlier run.
//!
//! The previous report is a tollgate JSON or SARIF report, or a baseline written by
//! `--write-baseline` (detected from its content, not its name; a baseline has no severities,
//! so its fixed findings show as medium). Findings are matched by fingerprint only, so a moved line or a reworded message
//! stays `unchanged`. Every finding of this run becomes `new` or `unchanged`; a finding of the
//! previous report that is gone is `fixed`, but only when this run looked where it was: a
//! cluster that could not be read this time fixes nothing, and a scan of files never fixes a
//! live finding (nor an audit a file finding).

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::finding::{Change, Finding, Location, Severity};
use crate::model::object::ObjectRef;
use crate::report::sarif::FINGERPRINT_KEY;

/// A finding of the previous report, as much of it as both formats carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviousFinding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub remediation: String,
    /// Path relative to the scan root, or the `k8s://` URI of a live object.
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub object: Option<ObjectRef>,
    pub environment: Option<String>,
    pub cluster: Option<String>,
    pub fingerprint: String,
    #[serde(skip)]
    pub suppressed: bool,
}

/// An earlier report, read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousReport {
    pub findings: Vec<PreviousFinding>,
    /// Its fingerprint scheme (`tollgate/v1`, `tollgate/v2`): only the same scheme as this
    /// run's can be compared.
    pub scheme: String,
    /// When it was written (the file's modification time), RFC 3339 in UTC.
    pub date: Option<String>,
}

/// The comparison with the previous report, kept with the outcome for every reporter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// The previous report, as given on the command line.
    pub previous: String,
    /// When the previous report was written; None when it was not there (first run).
    pub since: Option<String>,
    /// Findings of the previous report that this run no longer has, sorted.
    pub fixed: Vec<PreviousFinding>,
}

impl Changes {
    /// The part about one cluster.
    pub fn for_cluster(&self, context: &str) -> Changes {
        Changes {
            previous: self.previous.clone(),
            since: self.since.clone(),
            fixed: self
                .fixed
                .iter()
                .filter(|f| f.cluster.as_deref() == Some(context))
                .cloned()
                .collect(),
        }
    }
}

/// What this run looked at, which decides what can have been fixed.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A scan of files: file findings only.
    Files,
    /// An audit of these clusters (the ones actually read).
    Clusters(&'a [String]),
}

impl Scope<'_> {
    fn covers(&self, finding: &PreviousFinding) -> bool {
        match (self, &finding.cluster) {
            (Scope::Files, None) => true,
            (Scope::Clusters(read), Some(cluster)) => read.iter().any(|c| c == cluster),
            _ => false,
        }
    }
}

/// Reads the report at `path`. `Ok(None)` when there is no file there (the first night of a
/// nightly audit); an error message when it is there but is no report tollgate can read.
pub fn load(path: &Path) -> Result<Option<PreviousReport>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let date = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string());
    let (findings, scheme) =
        parse_with_scheme(&bytes).map_err(|why| format!("{}: {why}", path.display()))?;
    Ok(Some(PreviousReport {
        findings,
        scheme,
        date,
    }))
}

/// The findings of a tollgate JSON or SARIF report.
pub fn parse(bytes: &[u8]) -> Result<Vec<PreviousFinding>, String> {
    parse_with_scheme(bytes).map(|(findings, _)| findings)
}

/// The findings and the fingerprint scheme of a report. JSON reports and baselines from
/// before the scheme was written down are `tollgate/v1`.
fn parse_with_scheme(bytes: &[u8]) -> Result<(Vec<PreviousFinding>, String), String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON or SARIF report ({e})"))?;
    if value.get("runs").is_some() {
        let scheme = sarif_scheme(&value);
        from_sarif(&value, &scheme).map(|f| (f, scheme))
    } else if value.get("findings").is_some() {
        let scheme = match (value.pointer("/tool/fingerprints"), value.get("version")) {
            (Some(scheme), _) => scheme.as_str().unwrap_or_default().to_string(),
            // A baseline: its version is its scheme's.
            (None, Some(v)) if value.get("tool").is_none() => {
                format!("tollgate/v{}", v.as_u64().unwrap_or(1))
            }
            _ => "tollgate/v1".to_string(),
        };
        from_json(&value).map(|f| (f, scheme))
    } else {
        Err("not a tollgate JSON or SARIF report (no `findings` or `runs`)".into())
    }
}

/// The `tollgate/vN` key of the results' fingerprints (this run's when there is no result).
fn sarif_scheme(log: &Value) -> String {
    log.pointer("/runs/0/results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("partialFingerprints").and_then(Value::as_object))
        .flat_map(|map| map.keys())
        .find(|key| key.starts_with("tollgate/v"))
        .cloned()
        .unwrap_or_else(|| FINGERPRINT_KEY.to_string())
}

fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_string)
}

fn number(value: &Value, key: &str) -> Option<u32> {
    value
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn severity(text: Option<&str>) -> Severity {
    text.and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Medium)
}

fn object_ref(value: &Value) -> Option<ObjectRef> {
    Some(ObjectRef {
        api_version: string(value, "apiVersion")?,
        kind: string(value, "kind")?,
        namespace: string(value, "namespace"),
        name: string(value, "name")?,
    })
}

fn from_json(report: &Value) -> Result<Vec<PreviousFinding>, String> {
    let findings = report
        .get("findings")
        .and_then(Value::as_array)
        .ok_or("`findings` is not a list")?;
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        let Some(fingerprint) = string(f, "fingerprint") else {
            return Err("a finding has no `fingerprint`".into());
        };
        // A baseline (`--write-baseline`) has `location` ("path:line" or a k8s:// URI) and
        // the object as text instead of `file`, `line` and `object`.
        let (file, line) = match (string(f, "file"), string(f, "location")) {
            (Some(file), _) => (file, number(f, "line")),
            (None, Some(location)) => match location.rsplit_once(':') {
                Some((path, line)) if !location.contains("://") && line.parse::<u32>().is_ok() => {
                    (path.to_string(), line.parse().ok())
                }
                _ => (location, None),
            },
            (None, None) => (String::new(), None),
        };
        let cluster = string(f, "cluster").or_else(|| {
            file.strip_prefix("k8s://")
                .and_then(|rest| rest.split('/').next())
                .map(str::to_string)
        });
        out.push(PreviousFinding {
            rule: string(f, "rule").unwrap_or_default(),
            severity: severity(f.get("severity").and_then(Value::as_str)),
            message: string(f, "message")
                .or_else(|| f.get("object").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default(),
            remediation: string(f, "remediation").unwrap_or_default(),
            file,
            line,
            column: number(f, "column"),
            object: f.get("object").and_then(object_ref),
            environment: string(f, "environment"),
            cluster,
            fingerprint,
            suppressed: f.get("suppressed").is_some_and(|s| !s.is_null()),
        });
    }
    Ok(out)
}

/// `apps/v1/Deployment/shop-prod/api` (or without the namespace) back into an object.
fn logical_object(fqn: &str) -> Option<ObjectRef> {
    let parts: Vec<&str> = fqn.split('/').collect();
    // The apiVersion has a `/` unless it is a core `v1`.
    let (api_version, rest) = match parts.first() {
        Some(first) if first.starts_with('v') && !first.contains('.') && parts.len() <= 4 => {
            (first.to_string(), &parts[1..])
        }
        _ if parts.len() >= 4 => (format!("{}/{}", parts[0], parts[1]), &parts[2..]),
        _ => return None,
    };
    match rest {
        [kind, ns, name] => Some(ObjectRef {
            api_version,
            kind: kind.to_string(),
            namespace: Some(ns.to_string()),
            name: name.to_string(),
        }),
        [kind, name] => Some(ObjectRef {
            api_version,
            kind: kind.to_string(),
            namespace: None,
            name: name.to_string(),
        }),
        _ => None,
    }
}

fn from_sarif(log: &Value, scheme: &str) -> Result<Vec<PreviousFinding>, String> {
    let runs = log
        .get("runs")
        .and_then(Value::as_array)
        .ok_or("`runs` is not a list")?;
    let mut out = Vec::new();
    for run in runs {
        let results = run.get("results").and_then(Value::as_array);
        for r in results.into_iter().flatten() {
            // Fixed already in that report: not a finding of it.
            if r.get("baselineState").and_then(Value::as_str) == Some("absent") {
                continue;
            }
            let Some(fingerprint) = r
                .pointer("/partialFingerprints")
                .and_then(|p| p.get(scheme))
                .and_then(Value::as_str)
            else {
                return Err(format!(
                    "a result has no `partialFingerprints.{scheme}` (not a tollgate report?)"
                ));
            };
            let location = r.pointer("/locations/0/physicalLocation");
            let properties = r.get("properties");
            let property = |key: &str| properties.and_then(|p| string(p, key));
            let file = location
                .and_then(|l| l.pointer("/artifactLocation/uri"))
                .and_then(Value::as_str)
                .map(percent_decode)
                .unwrap_or_default();
            let region = location.and_then(|l| l.get("region"));
            out.push(PreviousFinding {
                rule: string(r, "ruleId").unwrap_or_default(),
                severity: severity(property("severity").as_deref()),
                message: r
                    .pointer("/message/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                remediation: r
                    .pointer("/fixes/0/description/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                file,
                line: region.and_then(|g| number(g, "startLine")),
                column: region.and_then(|g| number(g, "startColumn")),
                object: r
                    .pointer("/locations/0/logicalLocations/0/fullyQualifiedName")
                    .and_then(Value::as_str)
                    .and_then(logical_object),
                environment: property("environment"),
                cluster: property("cluster"),
                fingerprint: fingerprint.to_string(),
                suppressed: r
                    .get("suppressions")
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty()),
            });
        }
    }
    Ok(out)
}

/// Undoes the SARIF reporter's percent-encoding of paths.
fn percent_decode(uri: &str) -> String {
    if uri.contains("://") {
        return uri.to_string();
    }
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = uri.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Marks every finding `new` or `unchanged` against `previous` and lists what was fixed.
pub fn compare(
    findings: &mut [Finding],
    previous: Option<PreviousReport>,
    previous_path: &str,
    scope: Scope<'_>,
) -> Changes {
    let previous = previous.unwrap_or_default();
    let known: HashSet<&str> = previous
        .findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    for finding in findings.iter_mut() {
        finding.change = Some(if known.contains(finding.fingerprint.as_str()) {
            Change::Unchanged
        } else {
            Change::New
        });
    }
    let current: HashSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
    let mut seen = HashSet::new();
    let mut fixed: Vec<PreviousFinding> = previous
        .findings
        .iter()
        .filter(|f| !f.suppressed && scope.covers(f))
        .filter(|f| !current.contains(f.fingerprint.as_str()))
        .filter(|f| seen.insert(f.fingerprint.as_str()))
        .cloned()
        .collect();
    fixed.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.rule, &a.fingerprint).cmp(&(
            &b.file,
            b.line,
            b.column,
            &b.rule,
            &b.fingerprint,
        ))
    });
    Changes {
        previous: previous_path.to_string(),
        since: previous.date,
        fixed,
    }
}

/// Counts of new and unchanged unsuppressed findings, for summaries.
pub fn counts<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> (usize, usize) {
    let mut new = 0;
    let mut unchanged = 0;
    for f in findings.into_iter().filter(|f| f.is_active()) {
        match f.change {
            Some(Change::New) => new += 1,
            Some(Change::Unchanged) => unchanged += 1,
            None => {}
        }
    }
    (new, unchanged)
}

/// The cluster of a finding of this run, if live.
pub fn cluster_of(finding: &Finding) -> Option<&str> {
    match &finding.location {
        Location::Cluster { context, .. } => Some(context),
        Location::File { .. } => None,
    }
}

/// `3 new, 5 fixed since 2026-12-05T02:00:00Z`; for several clusters, per cluster:
/// `production: 2 new, 1 fixed; staging: 1 new, 0 fixed since …`.
pub fn describe(findings: &[Finding], changes: &Changes, clusters: &[String]) -> String {
    let since = match &changes.since {
        Some(date) => format!(" since {date}"),
        None => " (no previous report)".to_string(),
    };
    if clusters.len() <= 1 {
        let (new, _) = counts(findings);
        return format!("{new} new, {} fixed{since}", changes.fixed.len());
    }
    let parts: Vec<String> = clusters
        .iter()
        .map(|cluster| {
            let (new, _) = counts(
                findings
                    .iter()
                    .filter(|f| cluster_of(f) == Some(cluster.as_str())),
            );
            let fixed = changes
                .fixed
                .iter()
                .filter(|f| f.cluster.as_deref() == Some(cluster.as_str()))
                .count();
            format!("{cluster}: {new} new, {fixed} fixed")
        })
        .collect();
    format!("{}{since}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    fn findings() -> Vec<Finding> {
        testdata::outcome().findings
    }

    /// The JSON and SARIF reports of `outcome`, as a run writes them.
    fn json_and_sarif(outcome: &crate::outcome::ScanOutcome) -> (Vec<u8>, Vec<u8>) {
        let report = crate::report::Report {
            outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        };
        let mut json = Vec::new();
        crate::report::json::write(&report, &mut json).unwrap();
        let mut sarif = Vec::new();
        crate::report::sarif::write(&report, &mut sarif).unwrap();
        (json, sarif)
    }

    #[test]
    fn json_and_sarif_reports_read_back_the_same_findings() {
        let outcome = testdata::outcome();
        let (json, sarif) = json_and_sarif(&outcome);
        let from_json = parse(&json).unwrap();
        let from_sarif = parse(&sarif).unwrap();
        assert_eq!(from_json.len(), outcome.findings.len());
        for (a, b) in from_json.iter().zip(&from_sarif) {
            assert_eq!(a.fingerprint, b.fingerprint);
            assert_eq!(a.rule, b.rule);
            assert_eq!(a.severity, b.severity);
            assert_eq!(a.file, b.file);
            assert_eq!(a.line, b.line);
            assert_eq!(a.cluster, b.cluster);
            assert_eq!(a.object, b.object, "{}", a.file);
            assert_eq!(a.suppressed, b.suppressed);
        }
    }

    #[test]
    fn new_unchanged_and_fixed_by_fingerprint() {
        let all = findings();
        let previous = PreviousReport {
            findings: parse(&json_and_sarif(&testdata::outcome()).0).unwrap(),
            date: Some("2026-12-05T02:00:00Z".into()),
            scheme: FINGERPRINT_KEY.into(),
        };
        // This run lost the first file finding and gained nothing.
        let gone = all
            .iter()
            .position(|f| cluster_of(f).is_none() && f.is_active())
            .unwrap();
        let mut now: Vec<Finding> = all.clone();
        let removed = now.remove(gone);
        let changes = compare(&mut now, Some(previous.clone()), "last.json", Scope::Files);
        assert!(now.iter().all(|f| f.change == Some(Change::Unchanged)));
        assert_eq!(changes.fixed.len(), 1);
        assert_eq!(changes.fixed[0].fingerprint, removed.fingerprint);
        assert_eq!(changes.since.as_deref(), Some("2026-12-05T02:00:00Z"));

        // Against nothing, everything is new and nothing fixed.
        let mut again = all.clone();
        let changes = compare(&mut again, None, "missing.json", Scope::Files);
        assert!(again.iter().all(|f| f.change == Some(Change::New)));
        assert!(changes.fixed.is_empty());
        assert_eq!(
            counts(&again).0,
            again.iter().filter(|f| f.is_active()).count()
        );
    }

    #[test]
    fn a_cluster_not_read_this_time_fixes_nothing() {
        let previous = PreviousReport {
            findings: vec![PreviousFinding {
                rule: "image-pinned".into(),
                severity: Severity::Medium,
                message: "m".into(),
                remediation: String::new(),
                file: "k8s://production/shop-prod/Deployment/api".into(),
                line: None,
                column: None,
                object: None,
                environment: None,
                cluster: Some("production".into()),
                fingerprint: "abc".into(),
                suppressed: false,
            }],
            date: None,
            scheme: FINGERPRINT_KEY.into(),
        };
        let mut none: Vec<Finding> = Vec::new();
        let read = vec!["staging".to_string()];
        let changes = compare(
            &mut none,
            Some(previous.clone()),
            "p",
            Scope::Clusters(&read),
        );
        assert!(changes.fixed.is_empty());
        let changes = compare(&mut none, Some(previous.clone()), "p", Scope::Files);
        assert!(changes.fixed.is_empty());
        let read = vec!["production".to_string()];
        let changes = compare(&mut none, Some(previous), "p", Scope::Clusters(&read));
        assert_eq!(changes.fixed.len(), 1);
        assert_eq!(changes.for_cluster("production").fixed.len(), 1);
        assert!(changes.for_cluster("staging").fixed.is_empty());
    }

    #[test]
    fn unreadable_reports_are_explained() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"{\"a\": 1}").is_err());
        assert!(parse(br#"{"runs": [{"results": [{"ruleId": "x"}]}]}"#).is_err());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&dir.path().join("none.json")), Ok(None));
    }

    #[test]
    fn the_fingerprint_scheme_is_known_for_every_kind_of_report() {
        let outcome = testdata::outcome();
        let (json, sarif) = json_and_sarif(&outcome);
        let scheme = |bytes: &[u8]| parse_with_scheme(bytes).unwrap().1;
        assert_eq!(scheme(&json), FINGERPRINT_KEY);
        assert_eq!(scheme(&sarif), FINGERPRINT_KEY);
        let baseline =
            serde_json::to_vec(&crate::suppress::Baseline::of(&outcome.findings)).unwrap();
        assert_eq!(scheme(&baseline), FINGERPRINT_KEY);
        // Reports of an older tollgate.
        let mut old: Value = serde_json::from_slice(&json).unwrap();
        old["tool"].as_object_mut().unwrap().remove("fingerprints");
        assert_eq!(scheme(&serde_json::to_vec(&old).unwrap()), "tollgate/v1");
        let old_sarif = String::from_utf8(sarif)
            .unwrap()
            .replace(FINGERPRINT_KEY, "tollgate/v1");
        assert_eq!(scheme(old_sarif.as_bytes()), "tollgate/v1");
        assert_eq!(
            parse(old_sarif.as_bytes()).unwrap().len(),
            outcome.findings.len()
        );
        assert_eq!(scheme(br#"{"version": 1, "findings": []}"#), "tollgate/v1");
    }

    #[test]
    fn a_baseline_serves_as_a_previous_report() {
        let outcome = testdata::outcome();
        let baseline = crate::suppress::Baseline::of(&outcome.findings);
        let text = serde_json::to_vec(&baseline).unwrap();
        let read = parse(&text).unwrap();
        assert_eq!(read.len(), baseline.findings.len());
        let live = read.iter().find(|f| f.file.starts_with("k8s://")).unwrap();
        assert_eq!(live.cluster.as_deref(), Some("production"));
        let file = read.iter().find(|f| f.line.is_some()).unwrap();
        assert!(!file.file.contains(':'), "{}", file.file);
    }

    #[test]
    fn logical_locations_name_objects_back() {
        assert_eq!(
            logical_object("apps/v1/Deployment/shop-prod/api").map(|o| o.display()),
            Some("Deployment shop-prod/api".to_string())
        );
        assert_eq!(
            logical_object("v1/Namespace/shop-prod").map(|o| o.display()),
            Some("Namespace shop-prod".to_string())
        );
        assert_eq!(
            logical_object("v1/ConfigMap/ns/cm").map(|o| o.api_version),
            Some("v1".to_string())
        );
        assert_eq!(percent_decode("a%20b/c.yaml"), "a b/c.yaml");
    }
}
