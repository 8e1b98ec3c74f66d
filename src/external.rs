//! Facts from outside the manifests (image scans from Harbor or Trivy reports), gathered
//! once before the rules run.

use std::collections::HashMap;
use std::path::Path;

use crate::config::LoadedConfig;
use crate::engine::RuleSet;
use crate::error::Error;
use crate::finding::Severity;
use crate::model::image::ImageRef;
use crate::model::image_scan::{self, ImageScan, ImageScans, ScanSource};
use crate::model::inventory::Inventory;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::rules;
use crate::sink::{harbor, trivy};

/// Facts from outside the manifests, gathered once before the rules run so that no rule
/// waits on the network per object.
#[derive(Debug, Default)]
pub struct External {
    /// Scan results of the run's images, for `image-scan`.
    pub image_scans: Option<ImageScans>,
    /// Rules that could not be evaluated (their source was unreachable); they report nothing
    /// and the summary says so.
    pub not_evaluated: Vec<String>,
    /// The cluster as the GitOps repository declares it (`audit --gitops`), for the drift
    /// rules.
    pub gitops: Option<std::sync::Arc<crate::drift::GitSide>>,
}

/// Where `gather_external` looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExternalSources<'a> {
    /// `--trivy-reports DIR`: offline image scans instead of Harbor.
    pub trivy_reports: Option<&'a Path>,
}

/// Looks up what the enabled rules need from outside the manifests, for the objects
/// `report_on` accepts: today the scan results of their images (Harbor, or Trivy reports).
/// Used by `scan` and `audit` alike. A source that cannot be reached is one warning, and its
/// rule is listed in `not_evaluated`; an unreadable `--trivy-reports` directory is an error.
pub fn gather_external(
    loaded: &LoadedConfig,
    rules: &RuleSet,
    inventory: &Inventory,
    report_on: &(dyn Fn(&Object) -> bool + Sync),
    sources: ExternalSources<'_>,
    notices: &mut Vec<Notice>,
) -> Result<External, Error> {
    let mut external = External::default();
    let image_scan_on = rules
        .builtin
        .iter()
        .any(|r| r.meta().id == rules::image_scan::ID);
    let harbor_config = loaded.config.harbor.as_ref();
    if !image_scan_on || (harbor_config.is_none() && sources.trivy_reports.is_none()) {
        return Ok(external);
    }
    let settings = match harbor_config {
        Some(config) => Some(
            harbor::HarborSettings::from_config(config, loaded.base_dir(), &|name| {
                std::env::var(name).ok()
            })
            .map_err(Error::usage)?,
        ),
        None => None,
    };
    let images = image_scan::images_in(inventory, report_on);
    let in_scope = |reference: &ImageRef<'_>| settings.as_ref().is_none_or(|h| h.serves(reference));

    if let Some(dir) = sources.trivy_reports {
        let fail_severity = harbor_config.map_or(Severity::Critical, |h| h.fail_severity);
        let reports = trivy::load_reports(dir, fail_severity, notices)?;
        let mut scans = ImageScans::new(ScanSource::TrivyReports {
            dir: dir.display().to_string(),
        });
        for image in &images {
            let Some(reference) = ImageRef::parse(image) else {
                continue;
            };
            if !in_scope(&reference) {
                continue;
            }
            let scan = match trivy::find(&reports, &reference) {
                Some(found) => ImageScan::Scanned(found.report.clone()),
                None => ImageScan::Missing {
                    reference: image.clone(),
                },
            };
            scans.insert(image, scan);
        }
        external.image_scans = Some(scans);
        return Ok(external);
    }

    let Some(settings) = settings.as_ref() else {
        return Ok(external);
    };
    let mut wanted: HashMap<String, harbor::Artifact> = HashMap::new();
    let mut scans = ImageScans::new(ScanSource::Harbor {
        url: settings.url.clone(),
    });
    for image in &images {
        let Some(reference) = ImageRef::parse(image) else {
            continue;
        };
        if !in_scope(&reference) {
            continue;
        }
        match harbor::Artifact::of(&reference) {
            Some(artifact) => {
                wanted.insert(image.clone(), artifact);
            }
            // `harbor.example.com/api`: no project, so Harbor cannot hold it.
            None => scans.insert(
                image,
                ImageScan::Missing {
                    reference: reference.repository.clone(),
                },
            ),
        }
    }
    let mut artifacts: Vec<harbor::Artifact> = wanted.values().cloned().collect();
    artifacts.sort();
    artifacts.dedup();
    if artifacts.is_empty() {
        external.image_scans = Some(scans);
        return Ok(external);
    }
    match harbor::lookup(settings, &artifacts) {
        Ok(found) => {
            for (image, artifact) in &wanted {
                if let Some(scan) = found.get(artifact) {
                    scans.insert(image, scan.clone());
                }
            }
            external.image_scans = Some(scans);
        }
        Err(why) => {
            notices.push(Notice::warning(format!(
                "{}: not evaluated: {why}",
                rules::image_scan::ID
            )));
            external
                .not_evaluated
                .push(rules::image_scan::ID.to_string());
        }
    }
    Ok(external)
}
