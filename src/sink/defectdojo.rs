//! DefectDojo: reimport a run's SARIF report so that fixed findings close, regressions reopen
//! and nothing is duplicated.
//!
//! Every push is `POST /api/v2/reimport-scan/` (multipart, `Authorization: Token …`) with
//! `auto_create_context=true`, `close_old_findings=true`, `scan_type=SARIF` and a product,
//! engagement, test title and minimum severity that stay the same for one target (a
//! repository or a cluster), so DefectDojo always diffs against the same Test. `version`,
//! `branch_tag`, `commit_hash` and `build_id` are sent every time, because each reimport
//! overwrites all four. The behaviour (fields, answers, the three shapes of 400 bodies, 403
//! for authentication) follows recordings of a real DefectDojo 3.2 kept with the tests in
//! `tests/defectdojo/recordings/`.
//!
//! The token comes from the environment only and never appears in any output: [`Token`] hides
//! it from `Debug`, the header is marked sensitive, and errors quote only the server's answer.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::Diagnostic;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use crate::config::DefectDojoConfig;
use crate::error::Error;
use crate::finding::Severity;
use crate::outcome::ScanOutcome;
use crate::report::{self, Report};
use crate::sink::http::{self, ClientOptions, Exchange, Retry, TransportError, TransportKind};

/// The import endpoint, relative to the server's base URL.
pub const REIMPORT_PATH: &str = "api/v2/reimport-scan/";
/// Where a run keeps its pushed report when no SARIF `--output` is given.
pub const DEFAULT_REPORT_FILE: &str = "tollgate-defectdojo.sarif";

/// A DefectDojo API key. It can be used, but never shown: `Debug` prints a placeholder and
/// there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    fn header(&self) -> Result<HeaderValue, PushError> {
        let mut value = HeaderValue::from_str(&format!("Token {}", self.0)).map_err(|_| {
            PushError::Setup("the DefectDojo token holds characters a header cannot carry".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Takes the token out of a text built from the server's answer (an echoed header).
    fn scrub(&self, text: &str) -> String {
        http::scrub(text, &[&self.0])
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What kind of run the report comes from: it decides the default product and engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Files of a repository (`tollgate scan`): the product is the repository.
    Scan,
    /// A live cluster (`tollgate audit`): the product is the kube context.
    Audit,
}

impl RunKind {
    fn as_str(self) -> &'static str {
        match self {
            RunKind::Scan => "scan",
            RunKind::Audit => "audit",
        }
    }
}

/// Where a report comes from, for the placeholders and defaults.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: RunKind,
    /// The kube context (`{cluster}`) of an audit.
    pub cluster: Option<String>,
    /// A directory inside the repository (`{repo}`, `{branch}`, commit, version).
    pub root: PathBuf,
}

/// Everything one push needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL without a trailing slash.
    pub url: String,
    pub token: Token,
    /// Name of the variable the token came from, for messages.
    pub token_env: String,
    pub product_type: String,
    pub product: String,
    pub engagement: String,
    pub test_title: String,
    pub minimum_severity: Severity,
    pub tags: Vec<String>,
    /// DefectDojo's `service` of every finding, only when configured: it is part of the
    /// close scope, so turning it on for an existing Test leaves its earlier findings open.
    pub service: Option<String>,
    pub version: String,
    pub branch_tag: String,
    pub commit_hash: String,
    pub build_id: String,
    pub scan_date: jiff::civil::Date,
    pub timeout: Duration,
    pub retry: Retry,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
}

impl Settings {
    /// The reimport endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/{REIMPORT_PATH}", self.url)
    }

    /// The page of a test in DefectDojo's UI.
    pub fn test_url(&self, test_id: u64) -> String {
        format!("{}/test/{test_id}", self.url)
    }

    /// The multipart fields, in the order the recorded requests send them.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("scan_type", "SARIF".to_string()),
            ("product_type_name", self.product_type.clone()),
            ("product_name", self.product.clone()),
            ("engagement_name", self.engagement.clone()),
            ("test_title", self.test_title.clone()),
            ("auto_create_context", "true".to_string()),
            ("close_old_findings", "true".to_string()),
            (
                "minimum_severity",
                dojo_severity(self.minimum_severity).to_string(),
            ),
            ("scan_date", self.scan_date.to_string()),
            ("version", self.version.clone()),
            ("branch_tag", self.branch_tag.clone()),
            ("commit_hash", self.commit_hash.clone()),
            ("build_id", self.build_id.clone()),
            ("deduplication_execution_mode", "async_wait".to_string()),
        ];
        fields.extend(self.tags.iter().map(|t| ("tags", t.clone())));
        fields.extend(self.service.iter().map(|s| ("service", s.clone())));
        fields
    }

    fn form(&self, sarif: &[u8], file_name: &str) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in self.fields() {
            form = form.text(name, value);
        }
        let file = reqwest::multipart::Part::bytes(sarif.to_vec()).file_name(file_name.to_string());
        form.part("file", file)
    }

    /// `acme/gitops / ci / tollgate`
    pub fn describe(&self) -> String {
        format!(
            "product \"{}\", engagement \"{}\", test \"{}\"",
            self.product, self.engagement, self.test_title
        )
    }
}

/// DefectDojo's spelling of a severity (`minimum_severity`).
pub fn dojo_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Info",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// Facts about the repository and the CI run, for the fields DefectDojo records on the test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// `owner/name` (or `group/sub/name`) of the repository.
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub version: Option<String>,
    pub build_id: Option<String>,
}

impl BuildInfo {
    /// Reads CI variables (GitHub Actions, GitLab CI, Jenkins) first, then asks git in `root`.
    pub fn detect(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> BuildInfo {
        let var = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let first = |names: &[&str]| names.iter().find_map(|n| var(n));
        let git = |args: &[&str]| git(root, args);

        let repo = first(&["GITHUB_REPOSITORY", "CI_PROJECT_PATH"])
            .or_else(|| {
                git(&["config", "--get", "remote.origin.url"])
                    .and_then(|url| repo_from_remote(&url))
            })
            .or_else(|| {
                git(&["rev-parse", "--show-toplevel"])
                    .and_then(|top| Some(Path::new(&top).file_name()?.to_string_lossy().into()))
            })
            .or_else(|| {
                std::path::absolute(root)
                    .ok()
                    .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            });
        let tag = var("CI_COMMIT_TAG").or_else(|| {
            (var("GITHUB_REF_TYPE").as_deref() == Some("tag"))
                .then(|| var("GITHUB_REF_NAME"))
                .flatten()
        });
        let branch = first(&[
            "GITHUB_HEAD_REF",
            "GITHUB_REF_NAME",
            "CI_COMMIT_REF_NAME",
            "BRANCH_NAME",
            "GIT_BRANCH",
        ])
        .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD"));
        let commit = first(&["GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"])
            .or_else(|| git(&["rev-parse", "HEAD"]));
        let version = tag.or_else(|| git(&["describe", "--tags", "--always"]));
        let build_id = first(&[
            "GITHUB_RUN_ID",
            "CI_PIPELINE_ID",
            "BUILD_ID",
            "BUILD_NUMBER",
        ]);
        BuildInfo {
            repo,
            branch,
            commit,
            version,
            build_id,
        }
    }
}

/// `git -C root <args>`, trimmed; None when git or the repository is missing.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let dir = if root.is_file() { root.parent()? } else { root };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// `git@github.com:acme/gitops.git`, `https://user:pw@gitlab.example.com/g/s/r.git` →
/// `acme/gitops`, `g/s/r`. Host and credentials are dropped.
pub fn repo_from_remote(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    let path = if let Some((_, rest)) = url.split_once("://") {
        rest.split_once('/')?.1
    } else if let Some((_, path)) = url.split_once(':') {
        path
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    (!path.is_empty()).then(|| path.to_string())
}

/// Settings given for one run (the `--dd-*` flags), over the `defectdojo:` configuration
/// block. There is deliberately no token here: it comes from the environment only.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub url: Option<String>,
    pub product: Option<String>,
    pub engagement: Option<String>,
    pub product_type: Option<String>,
    pub test_title: Option<String>,
    pub version: Option<String>,
    pub branch_tag: Option<String>,
    pub commit_hash: Option<String>,
    pub build_id: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
}

/// Settings from the flags, the `defectdojo:` configuration block and the environment.
/// `config_dir` anchors a relative `ca_cert`; `env` reads environment variables (injected so
/// tests control it).
pub fn resolve(
    options: &Overrides,
    config: Option<&DefectDojoConfig>,
    config_dir: Option<&Path>,
    target: &Target,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Error> {
    let default_config = DefectDojoConfig::default();
    let config = config.unwrap_or(&default_config);
    let url = options
        .url
        .clone()
        .or_else(|| config.url.clone())
        .ok_or_else(|| {
            Error::usage(
                "DefectDojo needs a server: give --dd-url URL or set defectdojo.url in tollgate.yaml",
            )
        })?;
    let url = normalise_url(&url)?;
    let token = env(&config.token_env)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Error::usage(format!(
                "DefectDojo needs an API token in the environment variable {} (the API v2 key \
                 of a user with the API_Importer role); tokens are never read from flags",
                config.token_env
            ))
        })?;
    let info = BuildInfo::detect(&target.root, env);
    let audit = target.kind == RunKind::Audit || target.cluster.is_some();
    let default_product = if audit { "{cluster}" } else { "{repo}" };
    let default_engagement = if audit { "nightly-audit" } else { "ci" };
    let expand = |key: &str, template: &str| -> Result<String, Error> {
        expand_placeholders(template, target, &info)
            .map_err(|problem| Error::usage(format!("DefectDojo {key} `{template}`: {problem}")))
    };
    let product = expand(
        "product",
        options
            .product
            .as_deref()
            .or(config.product.as_deref())
            .unwrap_or(default_product),
    )?;
    let engagement = expand(
        "engagement",
        options
            .engagement
            .as_deref()
            .or(config.engagement.as_deref())
            .unwrap_or(default_engagement),
    )?;
    let product_type = expand(
        "product type",
        options
            .product_type
            .as_deref()
            .or(config.product_type.as_deref())
            .unwrap_or("Kubernetes"),
    )?;
    let test_title = expand(
        "test title",
        options
            .test_title
            .as_deref()
            .or(config.test_title.as_deref())
            .unwrap_or("tollgate"),
    )?;
    let service = config
        .service
        .as_deref()
        .map(|template| expand("service", template))
        .transpose()?;
    let mut tags = vec!["tollgate".to_string(), target.kind.as_str().to_string()];
    for tag in &config.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let ca_cert = options.ca_cert.clone().or_else(|| {
        config.ca_cert.as_ref().map(|p| match config_dir {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.clone(),
        })
    });
    // A key pasted together with its scheme still works.
    let token = token.trim();
    let token = token.strip_prefix("Token ").unwrap_or(token).trim();
    Ok(Settings {
        url,
        token: Token::new(token),
        token_env: config.token_env.clone(),
        product_type,
        product,
        engagement,
        test_title,
        minimum_severity: config.minimum_severity.unwrap_or(Severity::Info),
        tags,
        service,
        version: options.version.clone().or(info.version).unwrap_or_default(),
        branch_tag: options
            .branch_tag
            .clone()
            .or(info.branch)
            .unwrap_or_default(),
        commit_hash: options
            .commit_hash
            .clone()
            .or(info.commit)
            .unwrap_or_default(),
        build_id: options
            .build_id
            .clone()
            .or(info.build_id)
            .unwrap_or_default(),
        // UTC: DefectDojo refuses a scan_date after its own (UTC) today.
        scan_date: jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date(),
        timeout: config.timeout.0,
        retry: Retry {
            retries: config.retries,
            backoff: config.retry_backoff.0,
        },
        ca_cert,
        insecure: options.insecure,
    })
}

/// `https://dd.example.com/`, `https://dd.example.com/api/v2` → `https://dd.example.com`.
fn normalise_url(url: &str) -> Result<String, Error> {
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed
        .strip_suffix("/api/v2")
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|e| Error::usage(format!("DefectDojo URL `{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::usage(format!(
            "DefectDojo URL `{url}` must start with https:// (or http://)"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::usage(
            "the DefectDojo URL must not carry credentials; the token comes from the environment",
        ));
    }
    Ok(trimmed.to_string())
}

/// Replaces `{cluster}`, `{repo}` and `{branch}`.
fn expand_placeholders(
    template: &str,
    target: &Target,
    info: &BuildInfo,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            return Err("has a `{` without its `}`".into());
        };
        let name = &rest[start + 1..start + len];
        let value = match name {
            "cluster" => target.cluster.as_deref().ok_or(
                "uses {cluster}, which only a cluster audit (or a report from one) knows; \
                 name the product with --dd-product",
            )?,
            "repo" => info
                .repo
                .as_deref()
                .ok_or("uses {repo}, but no repository name was found (no git, no CI variables)")?,
            "branch" => info
                .branch
                .as_deref()
                .ok_or("uses {branch}, but no branch was found (no git, no CI variables)")?,
            other => {
                return Err(format!(
                    "unknown placeholder {{{other}}} (known: {{cluster}}, {{repo}}, {{branch}})"
                ));
            }
        };
        out.push_str(value);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    let out = out.trim().to_string();
    if out.is_empty() {
        return Err("is empty".into());
    }
    Ok(out)
}

/// What a SARIF report holds, checked before it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SarifFacts {
    pub driver: String,
    pub results: usize,
    /// Kube contexts of live findings (`k8s://<context>/…` URIs).
    pub clusters: BTreeSet<String>,
}

/// Checks what DefectDojo would otherwise reject with a 400 or a 500 (rec 37, 38, 49): JSON,
/// SARIF 2.1.0, a driver name in every run, fingerprint keys ending in `/v<N>`.
pub fn inspect_sarif(bytes: &[u8]) -> Result<SarifFacts, String> {
    let log: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the report is not JSON: {e}"))?;
    if log.get("version").and_then(Value::as_str) != Some("2.1.0") {
        return Err("the report is not SARIF 2.1.0 (DefectDojo reads no other version)".into());
    }
    let runs = log
        .get("runs")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("the report has no runs")?;
    let mut facts = SarifFacts::default();
    for (i, run) in runs.iter().enumerate() {
        let driver = run
            .pointer("/tool/driver/name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("run {i} has no tool.driver.name"))?;
        if facts.driver.is_empty() {
            facts.driver = driver.to_string();
        }
        for result in run
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            facts.results += 1;
            for key in ["partialFingerprints", "fingerprints"] {
                for name in result
                    .get(key)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|m| m.keys())
                {
                    if let Some((_, version)) = name.rsplit_once('/')
                        && !version
                            .strip_prefix('v')
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    {
                        return Err(format!(
                            "fingerprint key `{name}` contains `/` but does not end in `/v<number>`, \
                             which DefectDojo rejects"
                        ));
                    }
                }
            }
            for location in result
                .get("locations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(uri) = location
                    .pointer("/physicalLocation/artifactLocation/uri")
                    .and_then(Value::as_str)
                    && let Some(rest) = uri.strip_prefix("k8s://")
                    && let Some(context) = rest.split('/').next().filter(|c| !c.is_empty())
                {
                    facts.clusters.insert(context.to_string());
                }
            }
        }
    }
    Ok(facts)
}

/// One counter block of DefectDojo's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub active: u64,
    pub verified: u64,
    pub duplicate: u64,
    pub false_p: u64,
    pub out_of_scope: u64,
    pub is_mitigated: u64,
    pub risk_accepted: u64,
    pub total: u64,
}

/// Counters per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BySeverity {
    pub critical: Counters,
    pub high: Counters,
    pub medium: Counters,
    pub low: Counters,
    pub info: Counters,
    pub total: Counters,
}

impl BySeverity {
    fn severities(&self) -> [(&'static str, &Counters); 5] {
        [
            ("critical", &self.critical),
            ("high", &self.high),
            ("medium", &self.medium),
            ("low", &self.low),
            ("info", &self.info),
        ]
    }

    /// `3 (1 critical, 2 medium)`
    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .severities()
            .iter()
            .filter(|(_, c)| c.total > 0)
            .map(|(name, c)| format!("{} {name}", c.total))
            .collect();
        if parts.is_empty() {
            self.total.total.to_string()
        } else {
            format!("{} ({})", self.total.total, parts.join(", "))
        }
    }
}

/// What a reimport changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Delta {
    pub created: BySeverity,
    pub closed: BySeverity,
    pub reactivated: BySeverity,
    pub untouched: BySeverity,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Statistics {
    pub before: Option<BySeverity>,
    /// Absent when the reimport created the test (it was a first import).
    pub delta: Option<Delta>,
    pub after: Option<BySeverity>,
}

/// DefectDojo's answer to a successful (re)import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImportResult {
    pub test_id: Option<u64>,
    pub test: Option<u64>,
    pub engagement_id: Option<u64>,
    pub product_id: Option<u64>,
    pub statistics: Statistics,
    pub deduplication_complete: Option<bool>,
}

impl ImportResult {
    pub fn test(&self) -> Option<u64> {
        self.test_id.or(self.test)
    }

    /// The lines printed after a push.
    pub fn summary(&self, settings: &Settings) -> String {
        let mut text = match self.test() {
            Some(id) => format!("DefectDojo: test {id} ({})", settings.describe()),
            None => format!("DefectDojo: {}", settings.describe()),
        };
        let stats = &self.statistics;
        match (&stats.delta, &stats.after) {
            (Some(delta), _) => text.push_str(&format!(
                "\n  created {}, closed {}, reactivated {}, untouched {}",
                delta.created.describe(),
                delta.closed.describe(),
                delta.reactivated.describe(),
                delta.untouched.describe()
            )),
            (None, Some(after)) => {
                text.push_str(&format!("\n  new test: created {}", after.describe()))
            }
            (None, None) => text.push_str("\n  (the server sent no statistics)"),
        }
        if let Some(after) = &stats.after {
            text.push_str(&format!(
                "\n  now {} active, {} mitigated, {} false positive",
                after.total.active, after.total.is_mitigated, after.total.false_p
            ));
        }
        if let Some(id) = self.test() {
            text.push_str(&format!("\n  {}", settings.test_url(id)));
        }
        text
    }
}

/// A push that did not succeed.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum PushError {
    /// DefectDojo answered, but not with success.
    #[error("DefectDojo refused the report: {status}: {message}{}", attempts_note(*attempts))]
    #[diagnostic(code(tollgate::defectdojo))]
    Refused {
        status: String,
        message: String,
        #[help]
        hint: Option<String>,
        attempts: u32,
    },
    /// No answer.
    #[error("DefectDojo at {url} did not answer: {error}{}", attempts_note(*attempts))]
    #[diagnostic(code(tollgate::defectdojo))]
    Unreachable {
        url: String,
        error: TransportError,
        #[help]
        hint: Option<String>,
        attempts: u32,
    },
    /// A success status with a body that is no import result.
    #[error("DefectDojo answered {status} with something that is not an import result: {message}")]
    #[diagnostic(code(tollgate::defectdojo))]
    Unexpected { status: String, message: String },
    /// Nothing was sent (bad CA file, report that DefectDojo would reject).
    #[error("{0}")]
    #[diagnostic(code(tollgate::defectdojo))]
    Setup(String),
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// The server's explanation from an error body, whichever of DefectDojo's three shapes it has
/// (field errors, `{"message": "['…']"}`, a bare list), or DRF's `{"detail": …}`, or the
/// title of a proxy's HTML page.
pub fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return plain_text_message(&text);
    };
    match &value {
        Value::Array(items) => join_messages(items),
        Value::Object(map) => {
            if let Some(detail) = map.get("detail").and_then(Value::as_str) {
                return detail.to_string();
            }
            let fields: Vec<String> = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "message" | "pro" | "detail"))
                .map(|(k, v)| match v {
                    Value::Array(items) => format!("{k}: {}", join_messages(items)),
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect();
            if !fields.is_empty() {
                return fields.join("; ");
            }
            match map.get("message") {
                Some(Value::String(message)) => python_list_text(message),
                Some(other) => other.to_string(),
                None => text.trim().to_string(),
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn join_messages(items: &[Value]) -> String {
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// DefectDojo puts importer errors in `message` as a Python list repr: `"['text']"` or
/// `"[\"text with 'quotes'\"]"`.
fn python_list_text(message: &str) -> String {
    let trimmed = message.trim();
    let Some(inner) = trimmed.strip_prefix('[').and_then(|m| m.strip_suffix(']')) else {
        return trimmed.to_string();
    };
    let inner = inner.trim();
    for quote in ['\'', '"'] {
        if let Some(text) = inner
            .strip_prefix(quote)
            .and_then(|m| m.strip_suffix(quote))
        {
            let separator = format!("{quote}, {quote}");
            return text.split(&separator).collect::<Vec<_>>().join("; ");
        }
    }
    trimmed.to_string()
}

/// A proxy's error page (`<title>413 Request Entity Too Large</title>`) or plain text.
fn plain_text_message(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>"))
        && start + 7 <= end
    {
        return text[start + 7..end].trim().to_string();
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut line: String = line.chars().take(200).collect();
    if line.is_empty() {
        line = "(empty body)".into();
    }
    line
}

/// What the user can do about a refusal.
fn hint(status: u16, message: &str, settings: &Settings, size: usize) -> Option<String> {
    let env = &settings.token_env;
    Some(match status {
        401 | 403 if message.contains("Invalid token") => format!(
            "DefectDojo does not know the token in ${env}; copy the API v2 key of the importing \
             user (profile menu → API v2 Key)"
        ),
        401 | 403 if message.contains("credentials were not provided") => format!(
            "the request reached DefectDojo without a usable `Authorization: Token …` header; \
             check ${env} and any proxy in front of DefectDojo that may drop or rewrite the header"
        ),
        401 | 403 => format!(
            "the user of the token needs the API_Importer (or Writer) role on product \"{}\"; \
             creating a missing product or product type needs more rights",
            settings.product
        ),
        404 => format!(
            "no import API at {}; --dd-url must be DefectDojo's base URL",
            settings.endpoint()
        ),
        413 => format!(
            "the report ({} KiB) is larger than the server or a proxy in front of it accepts; \
             raise the proxy's body limit (nginx: client_max_body_size) or DD_SCAN_FILE_MAX_SIZE",
            size.div_ceil(1024)
        ),
        415 => "the server did not take the multipart upload; a proxy may be rewriting the request"
            .to_string(),
        400 if message.contains("Test type mismatch") => format!(
            "test \"{}\" holds another tool's findings; use another --dd-test-title",
            settings.test_title
        ),
        400 if message.contains("conflict with the supplied product type") => format!(
            "product \"{}\" exists under another product type; set --dd-product-type to it",
            settings.product
        ),
        500..=599 => "DefectDojo failed while processing the report; its logs say why".to_string(),
        _ => return None,
    })
}

fn transport_hint(error: &TransportError) -> Option<String> {
    match error.kind {
        TransportKind::Tls => Some(
            "if DefectDojo's certificate comes from a private CA, give it with --dd-ca-cert FILE \
             (or defectdojo.ca_cert)"
                .into(),
        ),
        TransportKind::Timeout => Some(
            "large reports take DefectDojo a while; raise defectdojo.timeout if the server is \
             just slow"
                .into(),
        ),
        TransportKind::Connect => Some("check --dd-url and that DefectDojo is running".into()),
        TransportKind::TooLarge => Some(
            "the server sent an answer far larger than an import result; check --dd-url".into(),
        ),
        TransportKind::Closed | TransportKind::Other => None,
    }
}

/// Reimports `sarif` (named `file_name`, which must end in `.sarif`) into DefectDojo, retrying
/// what may go away by itself (5xx, no connection, timeouts) with bounded exponential backoff.
/// Never retries a 4xx answer. Call it from outside an async runtime; async code uses
/// [`push_async`].
pub fn push(sarif: &[u8], file_name: &str, settings: &Settings) -> Result<ImportResult, PushError> {
    let runtime = http::runtime()
        .map_err(|e| PushError::Setup(format!("cannot start the HTTP runtime: {e}")))?;
    runtime.block_on(push_async(sarif, file_name, settings))
}

/// [`push`] for async callers.
pub async fn push_async(
    sarif: &[u8],
    file_name: &str,
    settings: &Settings,
) -> Result<ImportResult, PushError> {
    if !file_name.ends_with(".sarif") {
        return Err(PushError::Setup(format!(
            "the uploaded file name `{file_name}` must end in .sarif for DefectDojo"
        )));
    }
    let client = http::client(&ClientOptions {
        timeout: settings.timeout,
        ca_cert: settings.ca_cert.as_deref(),
        insecure: settings.insecure,
    })
    .map_err(PushError::Setup)?;
    let endpoint = settings.endpoint();
    let authorization = settings.token.header()?;
    // Short titles and a readable description (see `dojo_findings`); identity unchanged.
    let shaped = super::dojo_findings::shape_bytes(sarif);
    let sarif = shaped.as_slice();
    let make = || {
        client
            .post(&endpoint)
            .header(AUTHORIZATION, authorization.clone())
            .header(ACCEPT, "application/json")
            .multipart(settings.form(sarif, file_name))
    };
    let (exchange, attempts) =
        http::send(make, settings.retry, settings.timeout, "DefectDojo").await;
    let scrub = |text: &str| settings.token.scrub(text);
    match exchange {
        Exchange::Answer {
            status, json, body, ..
        } if status.is_success() => import_result(&body).map_err(|e| PushError::Unexpected {
            status: status.to_string(),
            message: scrub(&if json {
                e
            } else {
                plain_text_message(&String::from_utf8_lossy(&body))
            }),
        }),
        Exchange::Answer {
            status,
            body,
            location,
            ..
        } => {
            let message = scrub(&server_message(&body));
            let hint = match location {
                Some(to) if status.is_redirection() => Some(format!(
                    "DefectDojo redirected the upload to {}; redirects are not followed (a POST \
                     would become a GET), so give the final URL with --dd-url",
                    scrub(&to)
                )),
                _ => hint(status.as_u16(), &message, settings, sarif.len()),
            };
            Err(PushError::Refused {
                hint,
                status: status.to_string(),
                message,
                attempts,
            })
        }
        Exchange::NoAnswer(error) => Err(PushError::Unreachable {
            url: settings.url.clone(),
            hint: transport_hint(&error),
            error,
            attempts,
        }),
    }
}

/// Reads a success answer as an import result: DefectDojo's always names the test and carries
/// `statistics`. Any other 2xx JSON (a login page's API, a proxy's `{}`) did not import anything.
fn import_result(body: &[u8]) -> Result<ImportResult, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let has_test = ["test_id", "test"]
        .iter()
        .any(|k| value.get(k).is_some_and(Value::is_u64));
    let has_statistics = value.get("statistics").is_some_and(Value::is_object);
    if !has_test || !has_statistics {
        return Err(format!(
            "no {} in the answer",
            match (has_test, has_statistics) {
                (false, false) => "test id and no statistics",
                (false, true) => "test id",
                _ => "statistics",
            }
        ));
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The SARIF report of a run as `--format sarif` writes it, but never cut to GitHub's size
/// limits: a reimport of a cut report would close the findings left out.
pub fn sarif_bytes(outcome: &ScanOutcome, fail_on: Option<Severity>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let report = Report {
        outcome,
        color: false,
        fail_on,
        sarif_limits: None,
    };
    #[allow(
        clippy::expect_used,
        reason = "writing to a Vec cannot fail, and SARIF serialises plain structs"
    )]
    report::sarif::write(&report, &mut bytes).expect("writing to memory does not fail");
    bytes
}

/// Why a run's report was not (successfully) pushed, and where it is.
#[derive(Debug)]
pub struct NotPushed {
    pub error: Error,
    /// The report on disk, when it could be written.
    pub kept: Option<PathBuf>,
    /// True when pushing the kept report later is the remedy (the push failed); false when the
    /// report must not be pushed (the run was incomplete).
    pub push_later: bool,
}

/// After a run: keeps the SARIF report on disk (at `keep`, unless `already_written`, falling
/// back to the temporary directory) and reimports it, unless the run was incomplete. A run with
/// errors, or with a rule that could not be evaluated, is never pushed: the reimport would close
/// every open finding the run did not see. Returns the server's answer and the report's path.
///
/// `sarif` is the run's whole report ([`sarif_bytes`]).
pub fn push_run(
    outcome: &ScanOutcome,
    sarif: &[u8],
    settings: &Settings,
    keep: &Path,
    already_written: bool,
) -> Result<(ImportResult, PathBuf), NotPushed> {
    let kept = if already_written {
        Some(keep.to_path_buf())
    } else {
        keep_report(sarif, keep)
    };
    let not_pushed = |error: Error| NotPushed {
        error,
        kept: kept.clone(),
        push_later: false,
    };
    if outcome.has_errors() {
        return Err(not_pushed(Error::usage(
            "not pushed to DefectDojo: the run had errors, and a reimport of an incomplete report \
             would close findings that were not looked at",
        )));
    }
    if !outcome.not_evaluated.is_empty() {
        return Err(not_pushed(Error::usage(format!(
            "not pushed to DefectDojo: {} could not be evaluated, and a reimport would close \
             {} open findings",
            outcome.not_evaluated.join(", "),
            if outcome.not_evaluated.len() == 1 {
                "its"
            } else {
                "their"
            }
        ))));
    }
    let file_name = kept
        .as_deref()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sarif"))
        .unwrap_or_else(|| "tollgate.sarif".to_string());
    match push(sarif, &file_name, settings) {
        Ok(result) => Ok((result, kept.unwrap_or_else(|| keep.to_path_buf()))),
        Err(e) => Err(NotPushed {
            push_later: true,
            ..not_pushed(Error::Diagnostic(Box::new(e)))
        }),
    }
}

/// Writes the report where asked, or into the temporary directory when that fails (a
/// read-only working directory in a CronJob pod).
fn keep_report(sarif: &[u8], path: &Path) -> Option<PathBuf> {
    match std::fs::write(path, sarif) {
        Ok(()) => Some(path.to_path_buf()),
        Err(first) => {
            let fallback = std::env::temp_dir().join(
                path.file_name()
                    .unwrap_or_else(|| std::ffi::OsStr::new(DEFAULT_REPORT_FILE)),
            );
            match std::fs::write(&fallback, sarif) {
                Ok(()) => {
                    eprintln!(
                        "warning: cannot write {} ({first}); kept the report at {} instead",
                        path.display(),
                        fallback.display()
                    );
                    Some(fallback)
                }
                Err(second) => {
                    eprintln!(
                        "warning: cannot keep the report: {} ({first}), {} ({second})",
                        path.display(),
                        fallback.display()
                    );
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "e2ba0cafe0000000000000000000000000000042";

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn target(kind: RunKind, cluster: Option<&str>) -> Target {
        Target {
            kind,
            cluster: cluster.map(str::to_string),
            // Not a git repository: only the environment speaks.
            root: std::env::temp_dir().join("tollgate-no-repo"),
        }
    }

    fn options(url: &str) -> Overrides {
        Overrides {
            url: Some(url.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn scans_default_to_the_repository_and_audits_to_the_cluster() {
        let vars = env(&[
            ("DEFECTDOJO_TOKEN", SECRET),
            ("GITHUB_REPOSITORY", "acme/gitops"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_SHA", "3f2c1a9"),
            ("GITHUB_RUN_ID", "77"),
        ]);
        let scan = resolve(
            &options("https://dd.example.com/api/v2/"),
            None,
            None,
            &target(RunKind::Scan, None),
            &vars,
        )
        .unwrap();
        assert_eq!(scan.url, "https://dd.example.com");
        assert_eq!(
            scan.endpoint(),
            "https://dd.example.com/api/v2/reimport-scan/"
        );
        assert_eq!(
            (
                scan.product.as_str(),
                scan.engagement.as_str(),
                scan.test_title.as_str()
            ),
            ("acme/gitops", "ci", "tollgate")
        );
        assert_eq!(
            (
                scan.branch_tag.as_str(),
                scan.commit_hash.as_str(),
                scan.build_id.as_str()
            ),
            ("main", "3f2c1a9", "77")
        );
        let audit = resolve(
            &options("https://dd.example.com"),
            None,
            None,
            &target(RunKind::Audit, Some("production")),
            &vars,
        )
        .unwrap();
        assert_eq!(audit.product, "production");
        assert_eq!(audit.engagement, "nightly-audit");
        assert_eq!(audit.tags, ["tollgate", "audit"]);
    }

    #[test]
    fn every_reimport_field_is_sent() {
        let vars = env(&[("DEFECTDOJO_TOKEN", SECRET)]);
        let settings = resolve(
            &Overrides {
                product: Some("shop-{cluster}".into()),
                ..options("http://127.0.0.1:1")
            },
            None,
            None,
            &target(RunKind::Audit, Some("dev-a")),
            &vars,
        )
        .unwrap();
        let fields = settings.fields();
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("product_name"), Some("shop-dev-a"));
        assert_eq!(get("scan_type"), Some("SARIF"));
        assert_eq!(get("auto_create_context"), Some("true"));
        assert_eq!(get("close_old_findings"), Some("true"));
        assert_eq!(get("minimum_severity"), Some("Info"));
        assert_eq!(get("deduplication_execution_mode"), Some("async_wait"));
        for always in [
            "version",
            "branch_tag",
            "commit_hash",
            "build_id",
            "scan_date",
        ] {
            assert!(get(always).is_some(), "{always} is not sent");
        }
        assert!(fields.iter().all(|(_, v)| !v.contains(SECRET)));
        // `service` changes the close scope of existing Tests: sent only when configured.
        assert_eq!(get("service"), None);
        let config = DefectDojoConfig {
            service: Some("{cluster}".into()),
            ..DefectDojoConfig::default()
        };
        let settings = resolve(
            &options("http://127.0.0.1:1"),
            Some(&config),
            None,
            &target(RunKind::Audit, Some("dev-a")),
            &vars,
        )
        .unwrap();
        assert!(
            settings
                .fields()
                .contains(&("service", "dev-a".to_string()))
        );
    }

    #[test]
    fn the_token_never_shows() {
        let vars = env(&[("DEFECTDOJO_TOKEN", SECRET)]);
        let settings = resolve(
            &options("https://dd.example.com"),
            None,
            None,
            &target(RunKind::Scan, None),
            &vars,
        )
        .unwrap();
        assert!(!format!("{settings:?}").contains(SECRET));
        assert!(!format!("{:#?}", settings.token).contains(SECRET));
        let header = settings.token.header().unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), format!("Token {SECRET}"));
        let pasted = resolve(
            &options("https://dd.example.com"),
            None,
            None,
            &target(RunKind::Scan, None),
            &env(&[("DEFECTDOJO_TOKEN", &format!(" Token {SECRET}\n"))]),
        )
        .unwrap();
        assert_eq!(pasted.token, settings.token);
        assert!(!format!("{header:?}").contains(SECRET));
    }

    #[test]
    fn missing_server_or_token_is_explained() {
        let no_url = resolve(
            &Overrides::default(),
            None,
            None,
            &target(RunKind::Scan, None),
            &env(&[("DEFECTDOJO_TOKEN", SECRET)]),
        )
        .unwrap_err();
        assert!(no_url.to_string().contains("--dd-url"), "{no_url}");
        let config = DefectDojoConfig {
            token_env: "DOJO_KEY".into(),
            ..Default::default()
        };
        let no_token = resolve(
            &options("https://dd.example.com"),
            Some(&config),
            None,
            &target(RunKind::Scan, None),
            &env(&[("DEFECTDOJO_TOKEN", SECRET)]),
        )
        .unwrap_err();
        assert!(no_token.to_string().contains("DOJO_KEY"), "{no_token}");
        let cluster_in_scan = resolve(
            &Overrides {
                product: Some("{cluster}".into()),
                ..options("https://dd.example.com")
            },
            None,
            None,
            &target(RunKind::Scan, None),
            &env(&[("DEFECTDOJO_TOKEN", SECRET)]),
        )
        .unwrap_err();
        assert!(cluster_in_scan.to_string().contains("{cluster}"));
        let credentials_in_url = resolve(
            &options("https://admin:hunter2@dd.example.com"),
            None,
            None,
            &target(RunKind::Scan, None),
            &env(&[("DEFECTDOJO_TOKEN", SECRET)]),
        )
        .unwrap_err();
        assert!(!credentials_in_url.to_string().contains("hunter2"));
    }

    #[test]
    fn remotes_name_the_repository_without_host_or_credentials() {
        for (url, repo) in [
            ("git@github.com:acme/gitops.git", "acme/gitops"),
            ("https://github.com/acme/gitops", "acme/gitops"),
            (
                "https://gitlab-ci-token:secret@gitlab.example.com/platform/k8s/gitops.git",
                "platform/k8s/gitops",
            ),
            (
                "ssh://git@git.example.com:2222/ops/cluster.git/",
                "ops/cluster",
            ),
        ] {
            assert_eq!(repo_from_remote(url).as_deref(), Some(repo), "{url}");
        }
    }

    #[test]
    fn tags_from_ci_become_the_version() {
        let info = BuildInfo::detect(
            &std::env::temp_dir().join("tollgate-no-repo"),
            &env(&[
                ("CI_PROJECT_PATH", "platform/gitops"),
                ("CI_COMMIT_TAG", "v1.4.0"),
                ("CI_COMMIT_REF_NAME", "v1.4.0"),
                ("CI_COMMIT_SHA", "abc"),
                ("CI_PIPELINE_ID", "991"),
            ]),
        );
        assert_eq!(
            info,
            BuildInfo {
                repo: Some("platform/gitops".into()),
                branch: Some("v1.4.0".into()),
                commit: Some("abc".into()),
                version: Some("v1.4.0".into()),
                build_id: Some("991".into()),
            }
        );
    }

    #[test]
    fn messages_come_out_of_all_three_error_shapes() {
        // Field errors (rec 42).
        assert_eq!(
            server_message(
                br#"{"file": ["File extension \u201cyaml\u201d is not allowed."], "message": "{'file': [...]}", "pro": ["x"]}"#
            ),
            "file: File extension \u{201c}yaml\u{201d} is not allowed."
        );
        // Message only, Python list repr with either quote (rec 37, 45).
        assert_eq!(
            server_message(
                br#"{"message": "['Expecting value: line 1 column 41 (char 40)']", "pro": []}"#
            ),
            "Expecting value: line 1 column 41 (char 40)"
        );
        assert_eq!(
            server_message(br#"{"message": "[\"Test type mismatch: Test 1 has test_type 'a'\"]"}"#),
            "Test type mismatch: Test 1 has test_type 'a'"
        );
        // Bare list (rec 36).
        assert_eq!(
            server_message(br#"["Product \"x\" does not exist"]"#),
            "Product \"x\" does not exist"
        );
        // DRF detail (rec 30) and a proxy page.
        assert_eq!(
            server_message(br#"{"detail": "Invalid token."}"#),
            "Invalid token."
        );
        assert_eq!(
            server_message(
                b"<html><head><title>413 Request Entity Too Large</title></head></html>"
            ),
            "413 Request Entity Too Large"
        );
        assert_eq!(server_message(b""), "(empty body)");
    }

    #[test]
    fn reports_dojo_would_reject_are_caught_before_sending() {
        assert!(inspect_sarif(b"{\"version\": \"2.1.0\", \"runs\": [").is_err());
        assert!(
            inspect_sarif(br#"{"version": "2.1.0", "runs": [{"results": []}]}"#)
                .unwrap_err()
                .contains("tool.driver.name")
        );
        let bad_key = br#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}},
            "results": [{"partialFingerprints": {"k8s/resource/hash": "x"}}]}]}"#;
        assert!(inspect_sarif(bad_key).unwrap_err().contains("/v<number>"));
        let live = br#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "tollgate"}},
            "results": [{"partialFingerprints": {"tollgate/v1": "x"},
              "locations": [{"physicalLocation": {"artifactLocation": {"uri": "k8s://prod/shop/Deployment/api"}}}]}]}]}"#;
        let facts = inspect_sarif(live).unwrap();
        assert_eq!(facts.results, 1);
        assert_eq!(facts.clusters.iter().collect::<Vec<_>>(), ["prod"]);
    }

    #[test]
    fn summaries_follow_the_recorded_statistics() {
        let body = include_str!(
            "../../tests/defectdojo/recordings/05-reimport-sarif-night2.response.json"
        );
        let result: ImportResult = serde_json::from_str(body).unwrap();
        let settings = resolve(
            &options("https://dd.example.com"),
            None,
            None,
            &target(RunKind::Audit, Some("prod")),
            &env(&[("DEFECTDOJO_TOKEN", SECRET)]),
        )
        .unwrap();
        let text = result.summary(&settings);
        assert!(
            text.contains(
                "created 1 (1 low), closed 1 (1 critical), reactivated 0, untouched 2 (1 high, 1 medium)"
            ),
            "{text}"
        );
        assert!(text.contains("https://dd.example.com/test/1"), "{text}");
        let first = include_str!(
            "../../tests/defectdojo/recordings/56-reimport-first-time-creates-test.response.json"
        );
        let result: ImportResult = serde_json::from_str(first).unwrap();
        assert!(result.summary(&settings).contains("new test: created 3"));
    }
}
