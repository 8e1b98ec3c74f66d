//! What a DefectDojo push is told: the server, product, engagement and test of a target,
//! resolved from the configuration, the command line, the environment and the repository.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::DefectDojoConfig;
use crate::error::Error;
use crate::finding::Severity;
use crate::sink::http::Retry;

use super::{REIMPORT_PATH, Token};

/// What kind of run the report comes from: it decides the default product and engagement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Files of a repository (`tollgate scan`): the product is the repository.
    Scan,
    /// A live cluster (`tollgate audit`): the product is the kube context.
    Audit,
}

impl RunKind {
    pub(super) fn as_str(self) -> &'static str {
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

    pub(super) fn form(&self, sarif: &[u8], file_name: &str) -> reqwest::multipart::Form {
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
pub(super) fn git(root: &Path, args: &[&str]) -> Option<String> {
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
pub(super) fn normalise_url(url: &str) -> Result<String, Error> {
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
pub(super) fn expand_placeholders(
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
