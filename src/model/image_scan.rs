//! Image scan results, gathered once before the rules run (from Harbor or from Trivy reports)
//! and handed to `image-scan` through the rule [`Context`](crate::rules::Context).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::finding::Severity;
use crate::model::image::ImageRef;
use crate::model::inventory::Inventory;
use crate::model::object::Object;
use crate::model::workload::pod_spec;

/// Where the results come from; messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanSource {
    /// Harbor's API at this base URL.
    Harbor { url: String },
    /// `trivy image --format json` reports in this directory.
    TrivyReports { dir: String },
}

/// What is known about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageScan {
    /// Harbor has no such artifact (or no report covers the image). `reference` is what was
    /// looked for: `project/repository:tag` or `…@digest`.
    Missing {
        reference: String,
    },
    Scanned(ScanReport),
}

/// A vulnerability scan of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Who scanned it; None when the artifact was never scanned.
    pub scanner: Option<Scanner>,
    /// Harbor's `scan_status` (`Success`, `Error`, `Running`, …); `Success` for Trivy reports.
    pub status: String,
    /// When the scan finished.
    pub finished: Option<jiff::Timestamp>,
    /// Vulnerabilities per severity.
    pub counts: BTreeMap<Severity, u64>,
    /// Ids of the most severe vulnerabilities at or above `harbor.fail_severity`, most severe
    /// first (a few at most).
    pub top: Vec<String>,
}

impl ScanReport {
    /// Vulnerabilities at or above `threshold`, most severe first.
    pub fn at_or_above(&self, threshold: Severity) -> Vec<(Severity, u64)> {
        Severity::ALL
            .iter()
            .filter(|s| **s >= threshold)
            .filter_map(|s| self.counts.get(s).filter(|n| **n > 0).map(|n| (*s, *n)))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanner {
    pub name: String,
    pub version: Option<String>,
}

impl Scanner {
    pub fn is_trivy(&self) -> bool {
        self.name.eq_ignore_ascii_case("trivy")
    }
}

/// Results for every image the rule should judge, keyed by the image as written.
#[derive(Debug, Clone)]
pub struct ImageScans {
    pub source: ScanSource,
    images: HashMap<String, ImageScan>,
}

impl ImageScans {
    pub fn new(source: ScanSource) -> ImageScans {
        ImageScans {
            source,
            images: HashMap::new(),
        }
    }

    pub fn insert(&mut self, image: &str, scan: ImageScan) {
        self.images.insert(image.trim().to_string(), scan);
    }

    /// The result for an image as a container spec writes it; None for images out of scope
    /// (another registry than Harbor's).
    pub fn get(&self, image: &str) -> Option<&ImageScan> {
        self.images.get(image.trim())
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}

/// The distinct images (as written, trimmed) of the containers of the objects `report_on`
/// accepts; templated values are not images yet and are left out.
pub fn images_in(
    inventory: &Inventory,
    report_on: &(dyn Fn(&Object) -> bool + Sync),
) -> BTreeSet<String> {
    let mut images = BTreeSet::new();
    for object in inventory.objects().iter().filter(|o| report_on(o)) {
        let Some(spec) = pod_spec(object) else {
            continue;
        };
        for container in spec.containers() {
            if let Some(image) = container.image()
                && ImageRef::parse(image).is_some()
            {
                images.insert(image.trim().to_string());
            }
        }
    }
    images
}

/// Maps Harbor's and Trivy's severity words; `Unknown`, `None` and the like count for nothing.
pub fn scanner_severity(word: &str) -> Option<Severity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" => Some(Severity::High),
        "medium" => Some(Severity::Medium),
        "low" => Some(Severity::Low),
        "negligible" => Some(Severity::Info),
        _ => None,
    }
}

/// How many ids a message lists.
pub const TOP_IDS: usize = 3;

/// The ids of the most severe vulnerabilities at or above `threshold`: most severe first, then
/// by id, each once.
pub fn top_ids<'a>(
    vulnerabilities: impl IntoIterator<Item = (&'a str, Severity)>,
    threshold: Severity,
) -> Vec<String> {
    let mut best: BTreeMap<&str, Severity> = BTreeMap::new();
    for (id, severity) in vulnerabilities {
        if severity >= threshold && !id.is_empty() {
            let entry = best.entry(id).or_insert(severity);
            *entry = (*entry).max(severity);
        }
    }
    let mut ranked: Vec<(&str, Severity)> = best.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(TOP_IDS)
        .map(|(id, _)| id.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_ids_rank_by_severity_then_id_and_drop_duplicates() {
        let ids = top_ids(
            [
                ("CVE-2024-3", Severity::High),
                ("CVE-2024-1", Severity::Critical),
                ("CVE-2024-2", Severity::High),
                ("CVE-2024-3", Severity::Critical),
                ("CVE-2024-9", Severity::Low),
            ],
            Severity::High,
        );
        assert_eq!(ids, ["CVE-2024-1", "CVE-2024-3", "CVE-2024-2"]);
    }

    #[test]
    fn counts_at_or_above_a_threshold() {
        let report = ScanReport {
            counts: BTreeMap::from([
                (Severity::Critical, 2),
                (Severity::High, 0),
                (Severity::Medium, 7),
            ]),
            ..Default::default()
        };
        assert_eq!(
            report.at_or_above(Severity::Critical),
            [(Severity::Critical, 2)]
        );
        assert_eq!(
            report.at_or_above(Severity::Medium),
            [(Severity::Critical, 2), (Severity::Medium, 7)]
        );
        assert_eq!(scanner_severity("UNKNOWN"), None);
        assert_eq!(scanner_severity("Critical"), Some(Severity::Critical));
    }
}
