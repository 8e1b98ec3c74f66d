//! Harbor: the Trivy scan results of the images a run deploys.
//!
//! For each distinct artifact (project, repository, tag or digest) of an image in the registry
//! that `harbor.url` serves, one request:
//! `GET /api/v2.0/projects/{project}/repositories/{repository}/artifacts/{reference}?with_scan_overview=true`
//! (a nested repository name such as `team/api` is URL-encoded twice: `team%252Fapi`), with
//! basic auth from the environment variables named in the configuration (a robot account),
//! bounded concurrency and per-request timeouts. Only for an artifact with vulnerabilities at or
//! above `harbor.fail_severity` a second request,
//! `…/artifacts/{reference}/additions/vulnerabilities`, fetches the ids that messages name.
//!
//! Any failure other than "no such artifact" (401, 403, 5xx after retries, no connection) stops
//! the lookups: the rule is then not evaluated rather than half evaluated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::ACCEPT;
use serde_json::Value;

use crate::config::HarborConfig;
use crate::finding::Severity;
use crate::model::image::ImageRef;
use crate::model::image_scan::{ImageScan, ScanReport, Scanner, scanner_severity, top_ids};
use crate::sink::http::{self, ClientOptions, Exchange, Retry, encode_segment};

/// The report type Harbor 2.x's Trivy adapter produces, preferred in scan overviews.
pub const REPORT_MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";
/// The older report type, still accepted.
pub const LEGACY_REPORT_MIME: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";

/// How to reach Harbor.
#[derive(Clone)]
pub struct HarborSettings {
    /// Base URL without a trailing slash.
    pub url: String,
    /// Registry host (and port) that the URL serves: images there are looked up.
    pub registry: String,
    /// Basic-auth user and password, from the environment.
    credentials: Option<(String, String)>,
    pub timeout: Duration,
    pub retry: Retry,
    pub concurrency: usize,
    pub ca_cert: Option<PathBuf>,
    pub fail_severity: Severity,
}

impl std::fmt::Debug for HarborSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarborSettings")
            .field("url", &self.url)
            .field("registry", &self.registry)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl HarborSettings {
    /// Settings from the `harbor:` block; credentials from the variables it names (anonymous
    /// when they are unset, which public projects allow).
    pub fn from_config(
        config: &HarborConfig,
        config_dir: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HarborSettings, String> {
        let url = config.url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| format!("harbor.url `{}` is not a URL: {e}", config.url))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // The URL is shown in messages and reports; credentials come from the environment.
            return Err(format!(
                "harbor.url must not carry credentials; set {} and {} instead",
                config.username_env, config.password_env
            ));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| format!("harbor.url `{}` has no host", config.url))?;
        let registry = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
        .to_ascii_lowercase();
        let username = env(&config.username_env).filter(|v| !v.is_empty());
        let password = env(&config.password_env).filter(|v| !v.is_empty());
        let ca_cert = config.ca_cert.as_ref().map(|p| match config_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        });
        Ok(HarborSettings {
            url,
            registry,
            credentials: username.map(|u| (u, password.unwrap_or_default())),
            timeout: config.timeout.0,
            retry: Retry {
                retries: config.retries,
                backoff: config.retry_backoff.0,
            },
            concurrency: config.concurrency.max(1),
            ca_cert,
            fail_severity: config.fail_severity,
        })
    }

    /// True when Harbor serves the registry of this image.
    pub fn serves(&self, image: &ImageRef<'_>) -> bool {
        image.registry.eq_ignore_ascii_case(&self.registry)
    }

    fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// Takes the credentials (user, password, their basic-auth encoding) out of a text built
    /// from Harbor's answer: a server or proxy may echo the request's headers.
    fn scrub(&self, text: &str) -> String {
        let Some((user, password)) = &self.credentials else {
            return http::scrub(text, &[]);
        };
        let basic = data_encoding::BASE64.encode(format!("{user}:{password}").as_bytes());
        http::scrub(text, &[user, password, &basic])
    }
}

/// One artifact in Harbor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Artifact {
    pub project: String,
    pub repository: String,
    /// A digest when the image has one, else its tag (`latest` when none is written).
    pub reference: String,
}

impl Artifact {
    /// The artifact an image names: the first path segment is the project.
    pub fn of(image: &ImageRef<'_>) -> Option<Artifact> {
        let (project, repository) = image.repository.split_once('/')?;
        if project.is_empty() || repository.is_empty() {
            return None;
        }
        let reference = image.digest.or(image.tag).unwrap_or("latest").to_string();
        Some(Artifact {
            project: project.to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    /// `shop/api:1.4.2`, `shop/api@sha256:…`
    pub fn display(&self) -> String {
        let separator = if self.reference.contains(':') {
            '@'
        } else {
            ':'
        };
        format!(
            "{}/{}{separator}{}",
            self.project, self.repository, self.reference
        )
    }

    /// API path of the artifact; the repository is encoded twice, as Harbor requires for
    /// names with `/`.
    pub fn path(&self) -> String {
        let reference = if self
            .reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        {
            self.reference.clone()
        } else {
            encode_segment(&self.reference)
        };
        format!(
            "api/v2.0/projects/{}/repositories/{}/artifacts/{reference}",
            encode_segment(&self.project),
            encode_segment(&encode_segment(&self.repository)),
        )
    }
}

/// Looks every artifact up, at most `settings.concurrency` at a time. `Err` says why the rule
/// cannot be evaluated (the first failure); nothing is half-known. Call it from outside an
/// async runtime; async code uses [`lookup_async`].
pub fn lookup(
    settings: &HarborSettings,
    artifacts: &[Artifact],
) -> Result<HashMap<Artifact, ImageScan>, String> {
    let runtime = http::runtime().map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    runtime.block_on(lookup_async(settings, artifacts))
}

/// [`lookup`] for async callers.
pub async fn lookup_async(
    settings: &HarborSettings,
    artifacts: &[Artifact],
) -> Result<HashMap<Artifact, ImageScan>, String> {
    let client = http::client(&ClientOptions {
        timeout: settings.timeout,
        ca_cert: settings.ca_cert.as_deref(),
        insecure: false,
    })?;
    let client = &client;
    let mut results = HashMap::new();
    let mut lookups = futures_util::stream::iter(artifacts)
        .map(|artifact| async move { (artifact, lookup_one(client, settings, artifact).await) })
        .buffer_unordered(settings.concurrency);
    while let Some((artifact, result)) = lookups.next().await {
        // Dropping the stream on the first failure cancels the lookups still running.
        results.insert(artifact.clone(), result.map_err(|e| settings.scrub(&e))?);
    }
    Ok(results)
}

async fn get(
    client: &reqwest::Client,
    settings: &HarborSettings,
    path: &str,
    query: &str,
) -> (Exchange, u32) {
    let url = format!("{}/{path}{query}", settings.url);
    let make = || {
        let request = client.get(&url).header(ACCEPT, "application/json").header(
            "X-Accept-Vulnerabilities",
            format!("{REPORT_MIME}, {LEGACY_REPORT_MIME}"),
        );
        match &settings.credentials {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    };
    http::send(make, settings.retry, settings.timeout, "Harbor").await
}

async fn lookup_one(
    client: &reqwest::Client,
    settings: &HarborSettings,
    artifact: &Artifact,
) -> Result<ImageScan, String> {
    let path = artifact.path();
    let (exchange, attempts) = get(client, settings, &path, "?with_scan_overview=true").await;
    let body = match exchange {
        Exchange::Answer { status, body, .. } if status.is_success() => body,
        Exchange::Answer { status, .. } if status.as_u16() == 404 => {
            return Ok(ImageScan::Missing {
                reference: artifact.display(),
            });
        }
        Exchange::Answer { status, body, .. } if matches!(status.as_u16(), 401 | 403) => {
            let why = if settings.has_credentials() {
                "refused the credentials"
            } else {
                "requires credentials (none were set)"
            };
            return Err(format!(
                "Harbor at {} {why}: {status} for {} ({})",
                settings.url,
                artifact.display(),
                harbor_message(&body)
            ));
        }
        Exchange::Answer { status, body, .. } => {
            return Err(format!(
                "Harbor at {} answered {status} for {}{}: {}",
                settings.url,
                artifact.display(),
                attempts_note(attempts),
                harbor_message(&body)
            ));
        }
        Exchange::NoAnswer(error) => {
            return Err(format!(
                "Harbor at {} is unreachable{}: {error}",
                settings.url,
                attempts_note(attempts)
            ));
        }
    };
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        format!(
            "Harbor at {} sent an artifact that is not JSON for {}: {e}",
            settings.url,
            artifact.display()
        )
    })?;
    let mut report = scan_report(&value);
    if report.status == "Success" && !report.at_or_above(settings.fail_severity).is_empty() {
        report.top = vulnerability_ids(client, settings, artifact).await;
    }
    Ok(ImageScan::Scanned(report))
}

/// The ids named in messages. A failure here costs only the ids, not the finding.
async fn vulnerability_ids(
    client: &reqwest::Client,
    settings: &HarborSettings,
    artifact: &Artifact,
) -> Vec<String> {
    let path = format!("{}/additions/vulnerabilities", artifact.path());
    let (exchange, _) = get(client, settings, &path, "").await;
    let Exchange::Answer { status, body, .. } = exchange else {
        return Vec::new();
    };
    if !status.is_success() {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return Vec::new();
    };
    let Some(report) = pick_report(&value) else {
        return Vec::new();
    };
    let vulnerabilities = report
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v.get("id")?.as_str()?,
                scanner_severity(v.get("severity")?.as_str()?)?,
            ))
        });
    top_ids(vulnerabilities, settings.fail_severity)
}

/// The vulnerability report in a map keyed by report MIME type (scan overview, additions).
fn pick_report(map: &Value) -> Option<&Value> {
    let map = map.as_object()?;
    map.iter()
        .find(|(k, _)| k.starts_with("application/vnd.security.vulnerability.report"))
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.starts_with("application/vnd.scanner.adapter.vuln.report"))
        })
        .or_else(|| map.iter().next())
        .map(|(_, v)| v)
}

/// Reads an artifact's `scan_overview`.
pub fn scan_report(artifact: &Value) -> ScanReport {
    let Some(overview) = artifact
        .get("scan_overview")
        .and_then(pick_report)
        .filter(|o| o.as_object().is_some_and(|o| !o.is_empty()))
    else {
        return ScanReport::default();
    };
    let text = |key: &str| overview.get(key).and_then(Value::as_str).unwrap_or("");
    let scanner = overview.get("scanner").map(|s| Scanner {
        name: s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("an unnamed scanner")
            .to_string(),
        version: s
            .get("version")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string),
    });
    // Harbor writes the zero time for scans that have not finished.
    let finished = text("end_time")
        .parse::<jiff::Timestamp>()
        .ok()
        .filter(|t| t.as_second() > 0);
    let mut counts = std::collections::BTreeMap::new();
    for (word, n) in overview
        .pointer("/summary/summary")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let (Some(severity), Some(n)) = (scanner_severity(word), n.as_u64()) {
            *counts.entry(severity).or_insert(0) += n;
        }
    }
    ScanReport {
        scanner: scanner.or(Some(Scanner {
            name: "an unnamed scanner".into(),
            version: None,
        })),
        status: text("scan_status").to_string(),
        finished,
        counts,
        top: Vec::new(),
    }
}

/// Harbor's error body: `{"errors": [{"code": "…", "message": "…"}]}`.
fn harbor_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let messages: Vec<String> = v
                .get("errors")?
                .as_array()?
                .iter()
                .filter_map(|e| e.get("message")?.as_str().map(str::to_string))
                .collect();
            (!messages.is_empty()).then(|| messages.join("; "))
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect()
        })
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn artifacts_prefer_the_digest_and_encode_nested_repositories_twice() {
        let image = ImageRef::parse("harbor.example.com/shop/team/api:1.2@sha256:abc").unwrap();
        let artifact = Artifact::of(&image).unwrap();
        assert_eq!(artifact.reference, "sha256:abc");
        assert_eq!(
            artifact.path(),
            "api/v2.0/projects/shop/repositories/team%252Fapi/artifacts/sha256:abc"
        );
        assert_eq!(artifact.display(), "shop/team/api@sha256:abc");
        let untagged = Artifact::of(&ImageRef::parse("harbor.example.com/shop/web").unwrap());
        assert_eq!(untagged.unwrap().reference, "latest");
        assert!(Artifact::of(&ImageRef::parse("harbor.example.com/web:1").unwrap()).is_none());
    }

    #[test]
    fn scan_overviews_are_read_in_harbor_2_shape() {
        let artifact = json!({
            "digest": "sha256:abc",
            "scan_overview": {
                "application/vnd.security.vulnerability.report; version=1.1": {
                    "report_id": "5f62c830-f996-11e9-957f-0242c0a89008",
                    "scan_status": "Success",
                    "severity": "Critical",
                    "duration": 12,
                    "summary": {"total": 9, "fixable": 4,
                                "summary": {"Critical": 2, "High": 3, "Medium": 4, "Unknown": 1}},
                    "start_time": "2026-11-20T01:59:48Z",
                    "end_time": "2026-11-20T02:00:00Z",
                    "complete_percent": 100,
                    "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.2"}
                }
            }
        });
        let report = scan_report(&artifact);
        assert!(report.scanner.as_ref().unwrap().is_trivy());
        assert_eq!(report.status, "Success");
        assert_eq!(report.counts[&Severity::Critical], 2);
        assert!(!report.counts.contains_key(&Severity::Info));
        assert_eq!(report.finished.unwrap().to_string(), "2026-11-20T02:00:00Z");
        let never = scan_report(&json!({"digest": "sha256:abc", "scan_overview": {}}));
        assert_eq!(never.scanner, None);
        let running = scan_report(&json!({"scan_overview": {REPORT_MIME: {
            "scan_status": "Running", "end_time": "0001-01-01T00:00:00Z",
            "scanner": {"name": "Trivy"}}}}));
        assert_eq!(running.finished, None);
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let config: HarborConfig = yaml_serde::from_str(
            "url: https://harbor.example.com:8443/\nusername_env: U\npassword_env: P\n",
        )
        .unwrap();
        let settings = HarborSettings::from_config(&config, None, &|name| match name {
            "U" => Some("robot$ci".into()),
            "P" => Some("s3cr3t-robot-password".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.registry, "harbor.example.com:8443");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }
}
