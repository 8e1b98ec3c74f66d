//! Offline `image-scan`: reports written by `trivy image --format json` (schema version 2)
//! stand in for Harbor. A report covers an image when its `ArtifactName` (or one of
//! `Metadata.RepoTags`) names the same repository and tag, or one of `Metadata.RepoDigests`
//! the same repository and digest. The newest matching report (`CreatedAt`) wins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::finding::Severity;
use crate::model::image::ImageRef;
use crate::model::image_scan::{ScanReport, Scanner, scanner_severity, top_ids};
use crate::notice::Notice;

/// The parts of a Trivy JSON report that matter here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawReport {
    schema_version: Option<u32>,
    created_at: Option<String>,
    artifact_name: Option<String>,
    #[serde(default)]
    metadata: RawMetadata,
    #[serde(default)]
    results: Vec<RawResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RawMetadata {
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RawResult {
    vulnerabilities: Option<Vec<RawVulnerability>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawVulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "Severity")]
    severity: String,
}

/// One loaded report.
#[derive(Debug, Clone)]
pub struct TrivyReport {
    /// The file, for messages.
    pub file: PathBuf,
    pub artifact: String,
    names: Vec<String>,
    digests: Vec<String>,
    pub report: ScanReport,
}

/// Reads every `*.json` report under `dir`. Files that are not Trivy image reports are
/// skipped with a warning; an unreadable directory is an error.
pub fn load_reports(
    dir: &Path,
    fail_severity: Severity,
    notices: &mut Vec<Notice>,
) -> Result<Vec<TrivyReport>, Error> {
    let mut files = Vec::new();
    collect_json(dir, &mut files)?;
    files.sort();
    let mut reports = Vec::new();
    for file in files {
        match load_report(&file, fail_severity) {
            Ok(report) => reports.push(report),
            Err(problem) => notices.push(
                Notice::warning(format!("skipped as a Trivy report: {problem}"))
                    .at(file.display().to_string(), None),
            ),
        }
    }
    Ok(reports)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn load_report(file: &Path, fail_severity: Severity) -> Result<TrivyReport, String> {
    let bytes = std::fs::read(file).map_err(|e| e.to_string())?;
    let raw: RawReport = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let artifact = raw
        .artifact_name
        .filter(|a| !a.is_empty())
        .ok_or("no ArtifactName (not `trivy image --format json` output)")?;
    if raw.schema_version.is_some_and(|v| v != 2) {
        return Err(format!(
            "SchemaVersion {} (only version 2 is read)",
            raw.schema_version.unwrap_or_default()
        ));
    }
    let finished = raw
        .created_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        // Reports of Trivy before 0.48 have no CreatedAt: the file's time stands in.
        .or_else(|| {
            let modified = std::fs::metadata(file).ok()?.modified().ok()?;
            jiff::Timestamp::try_from(modified).ok()
        });
    // One vulnerability in several packages counts once, at its highest severity.
    let mut by_id: BTreeMap<&str, Severity> = BTreeMap::new();
    for vulnerability in raw
        .results
        .iter()
        .flat_map(|r| r.vulnerabilities.iter().flatten())
    {
        if let Some(severity) = scanner_severity(&vulnerability.severity) {
            let entry = by_id.entry(&vulnerability.id).or_insert(severity);
            *entry = (*entry).max(severity);
        }
    }
    let mut counts = BTreeMap::new();
    for severity in by_id.values() {
        *counts.entry(*severity).or_insert(0) += 1;
    }
    let top = top_ids(by_id.iter().map(|(id, s)| (*id, *s)), fail_severity);
    let mut names = vec![artifact.clone()];
    names.extend(raw.metadata.repo_tags);
    Ok(TrivyReport {
        file: file.to_path_buf(),
        artifact,
        names,
        digests: raw.metadata.repo_digests,
        report: ScanReport {
            scanner: Some(Scanner {
                name: "Trivy".into(),
                version: None,
            }),
            status: "Success".into(),
            finished,
            counts,
            top,
        },
    })
}

/// The newest report that covers `image`.
pub fn find<'a>(reports: &'a [TrivyReport], image: &ImageRef<'_>) -> Option<&'a TrivyReport> {
    let same_repository = |other: &ImageRef<'_>| {
        other.registry == image.registry && other.repository == image.repository
    };
    reports
        .iter()
        .filter(|report| match image.digest {
            Some(digest) => report
                .digests
                .iter()
                .chain(std::iter::once(&report.artifact))
                .filter_map(|d| ImageRef::parse(d))
                .any(|other| same_repository(&other) && other.digest == Some(digest)),
            None => {
                let tag = image.tag.unwrap_or("latest");
                report
                    .names
                    .iter()
                    .filter_map(|n| ImageRef::parse(n))
                    .any(|other| {
                        same_repository(&other)
                            && other.digest.is_none()
                            && other.tag.unwrap_or("latest") == tag
                    })
            }
        })
        .max_by_key(|report| report.report.finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn reports_match_by_name_and_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "api.json",
            r#"{"SchemaVersion": 2, "CreatedAt": "2026-11-20T02:00:00.123456789Z",
                "ArtifactName": "harbor.example.com/shop/api:2.3.1", "ArtifactType": "container_image",
                "Metadata": {"RepoTags": ["harbor.example.com/shop/api:2.3.1"],
                             "RepoDigests": ["harbor.example.com/shop/api@sha256:4f53"]},
                "Results": [{"Target": "harbor.example.com/shop/api:2.3.1 (alpine 3.20.3)",
                  "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": [
                  {"VulnerabilityID": "CVE-2024-0001", "PkgName": "libssl3", "Severity": "CRITICAL"},
                  {"VulnerabilityID": "CVE-2024-0001", "PkgName": "libcrypto3", "Severity": "CRITICAL"},
                  {"VulnerabilityID": "CVE-2024-0002", "PkgName": "busybox", "Severity": "HIGH"},
                  {"VulnerabilityID": "CVE-2024-0003", "PkgName": "zlib", "Severity": "UNKNOWN"}]},
                  {"Target": "app/go.mod", "Class": "lang-pkgs", "Type": "gomod"}]}"#,
        );
        write(dir.path(), "notes.json", r#"{"hello": "world"}"#);
        let mut notices = Vec::new();
        let reports = load_reports(dir.path(), Severity::High, &mut notices).unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(notices.len(), 1, "{notices:?}");
        let report = &reports[0].report;
        assert_eq!(report.counts[&Severity::Critical], 1);
        assert_eq!(report.counts[&Severity::High], 1);
        assert_eq!(report.top, ["CVE-2024-0001", "CVE-2024-0002"]);

        let by_tag = ImageRef::parse("harbor.example.com/shop/api:2.3.1").unwrap();
        assert!(find(&reports, &by_tag).is_some());
        let by_digest = ImageRef::parse("harbor.example.com/shop/api:9.9@sha256:4f53").unwrap();
        assert!(find(&reports, &by_digest).is_some());
        let other_tag = ImageRef::parse("harbor.example.com/shop/api:2.3.2").unwrap();
        assert!(find(&reports, &other_tag).is_none());
        let other_digest = ImageRef::parse("harbor.example.com/shop/api@sha256:ffff").unwrap();
        assert!(find(&reports, &other_digest).is_none());
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let mut notices = Vec::new();
        assert!(
            load_reports(
                Path::new("/nonexistent/trivy"),
                Severity::High,
                &mut notices
            )
            .is_err()
        );
    }
}
