//! `tollgate.yaml`: typed settings, found in the scan root or its parents, or given with
//! `--config`. Every key is optional; unknown keys are errors with file:line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::{ConfigError, Error};
use crate::finding::Severity;
use crate::model::pod_security::Level;

/// File names looked for, in order, in each directory from the scan root upwards.
pub const CONFIG_FILE_NAMES: [&str; 2] = ["tollgate.yaml", ".tollgate.yaml"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Ordered; the first environment that matches wins.
    pub environments: Vec<EnvironmentConfig>,
    pub registries: RegistriesConfig,
    pub resources: ResourcesConfig,
    pub velero: VeleroConfig,
    pub network: NetworkConfig,
    pub pod_security: PodSecurityConfig,
    pub harbor: Option<HarborConfig>,
    pub rules: RulesConfig,
    pub exemptions: Vec<Exemption>,
    pub defectdojo: Option<DefectDojoConfig>,
    /// Where `--notify` sends the run's summary.
    pub notify: Option<crate::sink::notify::NotifyConfig>,
    /// Directories of Rego policies, relative to the config file.
    pub policies: Vec<PathBuf>,
    pub rego: RegoConfig,
    /// Which folders and Argo CD destinations are which cluster (DESIGN §13); without it the
    /// repository is one cluster.
    pub clusters: Vec<ClusterConfig>,
}

/// One cluster of a GitOps repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    /// Globs on file paths (relative to the config file's folder) whose objects go to it.
    #[serde(default, deserialize_with = "globs")]
    pub paths: Vec<String>,
    /// Argo CD `destination.server` or `destination.name` values that mean this cluster.
    #[serde(default)]
    pub destinations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    pub name: String,
    /// Globs on namespace names (and on names of cluster-scoped objects).
    #[serde(default, deserialize_with = "globs")]
    pub namespaces: Vec<String>,
    /// Globs on file paths, relative to the directory of the config file.
    #[serde(default, deserialize_with = "globs")]
    pub paths: Vec<String>,
    /// Globs on kube context names.
    #[serde(default, deserialize_with = "globs")]
    pub clusters: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistriesConfig {
    /// `host` or `host/project` entries; `image-registry` is inactive while this is empty.
    pub allowed: Vec<String>,
    /// Environments in which every image must be pinned by `@sha256:` digest.
    pub require_digest: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcesConfig {
    pub require_cpu_limit: bool,
}

impl Default for ResourcesConfig {
    fn default() -> Self {
        ResourcesConfig {
            require_cpu_limit: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VeleroConfig {
    pub required_envs: Vec<String>,
    pub max_interval: HumanDuration,
    pub min_ttl: HumanDuration,
    /// Slack on top of `max_interval` before a live backup counts as stale.
    pub grace: HumanDuration,
}

impl Default for VeleroConfig {
    fn default() -> Self {
        VeleroConfig {
            required_envs: vec!["prod".into()],
            max_interval: HumanDuration(Duration::from_secs(24 * 3600)),
            min_ttl: HumanDuration(Duration::from_secs(168 * 3600)),
            grace: HumanDuration(Duration::from_secs(2 * 3600)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub require_default_deny: Vec<String>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            require_default_deny: vec!["prod".into()],
        }
    }
}

/// The Pod Security Standards level environments are held to where their namespaces carry no
/// `pod-security.kubernetes.io/enforce` label.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PodSecurityConfig {
    pub level: Option<Level>,
    pub envs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarborConfig {
    pub url: String,
    /// Names of environment variables holding the credentials (a robot account).
    #[serde(default = "default_harbor_username_env")]
    pub username_env: String,
    #[serde(default = "default_harbor_password_env")]
    pub password_env: String,
    #[serde(default = "default_max_scan_age")]
    pub max_scan_age: HumanDuration,
    #[serde(default = "default_fail_severity")]
    pub fail_severity: Severity,
    /// Concurrent requests to Harbor (at least 1).
    #[serde(
        default = "default_harbor_concurrency",
        deserialize_with = "positive_count"
    )]
    pub concurrency: usize,
    /// Time limit of one request.
    #[serde(default = "default_http_timeout")]
    pub timeout: HumanDuration,
    /// Retries of a request that failed on the way (5xx, connection, timeout).
    #[serde(default = "default_harbor_retries")]
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff: HumanDuration,
    /// PEM file of the CA that signed Harbor's certificate, relative to the config file.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

fn default_harbor_username_env() -> String {
    "HARBOR_USERNAME".into()
}
fn default_harbor_password_env() -> String {
    "HARBOR_PASSWORD".into()
}
fn default_max_scan_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(7 * 24 * 3600))
}
fn default_fail_severity() -> Severity {
    Severity::Critical
}
fn default_harbor_concurrency() -> usize {
    8
}
fn default_http_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_harbor_retries() -> u32 {
    2
}
fn default_retry_backoff() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    pub disable: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub rule: String,
    #[serde(default, deserialize_with = "globs")]
    pub namespaces: Vec<String>,
    #[serde(default, deserialize_with = "globs")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "globs")]
    pub kinds: Vec<String>,
    pub reason: String,
    #[serde(default, deserialize_with = "date")]
    pub expires: Option<jiff::civil::Date>,
}

/// Where `--defectdojo` and `tollgate push defectdojo` send reports. Command-line flags
/// (`--dd-url`, `--dd-product`, …) override these keys; the token only ever comes from the
/// environment variable named by `token_env`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefectDojoConfig {
    /// Base URL of the DefectDojo server (without `/api/v2`); `--dd-url` also gives it.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "default_dd_token_env")]
    pub token_env: String,
    /// Placeholders: `{cluster}`, `{repo}`, `{branch}`.
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub engagement: Option<String>,
    #[serde(default)]
    pub product_type: Option<String>,
    #[serde(default)]
    pub test_title: Option<String>,
    /// Keep it constant: findings below it are closed on reimport.
    #[serde(default)]
    pub minimum_severity: Option<Severity>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The findings' `service` (placeholders `{cluster}`, `{repo}`). Off by default: it is
    /// part of DefectDojo's close scope, so setting it on an existing Test leaves the findings
    /// imported before it open for good (docs/defectdojo.md).
    #[serde(default)]
    pub service: Option<String>,
    /// Time limit of one upload (DefectDojo answers after processing the whole report).
    #[serde(default = "default_dd_timeout")]
    pub timeout: HumanDuration,
    /// Retries of an upload that failed on the way (5xx, connection, timeout).
    #[serde(default = "default_dd_retries")]
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff: HumanDuration,
    /// PEM file of the CA that signed DefectDojo's certificate, relative to the config file.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
}

impl Default for DefectDojoConfig {
    fn default() -> Self {
        DefectDojoConfig {
            url: None,
            token_env: default_dd_token_env(),
            product: None,
            engagement: None,
            product_type: None,
            test_title: None,
            minimum_severity: None,
            tags: Vec::new(),
            service: None,
            timeout: default_dd_timeout(),
            retries: default_dd_retries(),
            retry_backoff: default_retry_backoff(),
            ca_cert: None,
        }
    }
}

fn default_dd_token_env() -> String {
    "DEFECTDOJO_TOKEN".into()
}
fn default_dd_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_dd_retries() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegoConfig {
    /// Time limit for one policy evaluation on one object (more than 0).
    #[serde(deserialize_with = "positive_duration")]
    pub timeout: HumanDuration,
    /// conftest namespaces (package globs) to evaluate.
    pub namespaces: Vec<String>,
    /// Give policies the values of Secrets' `data`/`stringData`. Off by default: a policy
    /// sees a Secret's keys with empty values, so neither a message, a transformed value
    /// (`base64.encode`, `strings.reverse`) nor `print()` can carry a value out. When on,
    /// messages and `print()` output are redacted of the values as written and
    /// base64-decoded, which a transformed value escapes: only for trusted policies.
    pub secret_values: bool,
}

/// A count that must be at least 1 (`0` would never do anything, or divide by zero).
fn positive_count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

/// A duration that must be longer than 0 (a limit of 0 would stop everything at once).
fn positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
    let duration = HumanDuration::deserialize(d)?;
    if duration.0.is_zero() {
        return Err(serde::de::Error::custom("must be longer than 0s"));
    }
    Ok(duration)
}

impl Default for RegoConfig {
    fn default() -> Self {
        RegoConfig {
            timeout: HumanDuration(Duration::from_secs(5)),
            namespaces: vec!["main".into()],
            secret_values: false,
        }
    }
}

/// A duration written as `24h`, `7d`, `90m`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Parses `24h`, `7d`, `1h30m`, `90s` (Go and Velero style).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write it like 24h, 7d, 90m or 1h30m")
    })
}

fn globs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    // `./clusters/**` means `clusters/**`: paths are relative to the config's folder anyway.
    let patterns: Vec<String> = Vec::<String>::deserialize(d)?
        .into_iter()
        .map(|p| p.strip_prefix("./").map(str::to_string).unwrap_or(p))
        .collect();
    for p in &patterns {
        globset::Glob::new(p)
            .map_err(|e| serde::de::Error::custom(format!("invalid glob `{p}`: {}", e.kind())))?;
    }
    Ok(patterns)
}

fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<jiff::civil::Date>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<jiff::civil::Date>()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)")))
}

/// A configuration and where it came from.
#[derive(Debug, Default)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file, when one was found or given.
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// Directory the config's relative paths (path globs, policy dirs) are anchored to.
    pub fn base_dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }
}

/// Finds `tollgate.yaml` in `start` (a directory, or a file's directory) or its parents.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let start = if start.is_file() {
        start.parent()?
    } else {
        start
    };
    let absolute = std::path::absolute(start).ok()?;
    for dir in absolute.ancestors() {
        for name in CONFIG_FILE_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Checks that every scan root finds the same `tollgate.yaml` (or none): a run applies one
/// configuration, so roots with their own are refused, saying which (exit 2).
pub fn one_config_for(roots: &[PathBuf], cwd: &Path) -> Result<(), Error> {
    let mut found: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for root in roots {
        let absolute = std::path::absolute(root).unwrap_or_else(|_| root.clone());
        let config = discover(&absolute);
        if !found.iter().any(|(_, c)| *c == config) {
            found.push((root.clone(), config));
        }
    }
    if found.len() < 2 {
        return Ok(());
    }
    let show = |p: &Path| crate::source::files::display_path(p, cwd);
    let described: Vec<String> = found
        .iter()
        .map(|(root, config)| match config {
            Some(c) => format!("{} uses {}", show(root), show(c)),
            None => format!("{} has no tollgate.yaml", show(root)),
        })
        .collect();
    Err(Error::usage(format!(
        "the scan roots have different configurations ({}); a run applies one: scan each root \
         on its own, or choose one with --config",
        described.join(", ")
    )))
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses configuration text; errors point at file:line.
pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
    let has_content = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
    if !has_content {
        return Ok(Config::default());
    }
    yaml_serde::from_str::<Config>(text).map_err(|e| {
        let (line, column, offset) = match e.location() {
            Some(l) => (l.line(), l.column(), l.index()),
            None => (1, 1, 0),
        };
        let message = strip_location(&e.to_string());
        Error::Config(Box::new(ConfigError::new(
            path, text, line, column, offset, message,
        )))
    })
}

/// yaml_serde writes " at line N column M" into messages; the diagnostic shows the position.
fn strip_location(message: &str) -> String {
    let Some(start) = message.find(" at line ") else {
        return message.to_string();
    };
    let rest = &message[start + " at line ".len()..];
    let after_numbers = rest
        .find(|c: char| {
            !(c.is_ascii_digit() || c == ' ' || c.is_ascii_alphabetic() && "column".contains(c))
        })
        .unwrap_or(rest.len());
    format!("{}{}", &message[..start], &rest[after_numbers..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Config {
        parse(text, Path::new("tollgate.yaml")).unwrap()
    }

    fn parse_err(text: &str) -> ConfigError {
        match parse(text, Path::new("tollgate.yaml")) {
            Err(Error::Config(e)) => *e,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn limits_of_zero_are_errors() {
        let error = parse_err("rego:\n  timeout: 0s\n");
        assert!(
            error.message.contains("longer than 0s"),
            "{}",
            error.message
        );
        let error = parse_err("harbor:\n  url: https://h.example.com\n  concurrency: 0\n");
        assert!(error.message.contains("at least 1"), "{}", error.message);
        assert!(
            parse_ok("rego:\n  secret_values: true\n")
                .rego
                .secret_values
        );
        assert!(!parse_ok("rego:\n  timeout: 2s\n").rego.secret_values);
    }

    #[test]
    fn every_documented_key_parses() {
        let config = parse_ok(
            r#"
environments:
  - name: prod
    namespaces: ["*-prod"]
    paths: ["clusters/production/**"]
    clusters: ["production"]
registries:
  allowed: ["harbor.example.com"]
  require_digest: [prod]
resources:
  require_cpu_limit: false
velero:
  required_envs: [prod]
  max_interval: 24h
  min_ttl: 168h
network:
  require_default_deny: [prod]
pod_security:
  level: restricted
  envs: [prod]
harbor:
  url: https://harbor.example.com
  username_env: HARBOR_USERNAME
  password_env: HARBOR_PASSWORD
  max_scan_age: 7d
  fail_severity: critical
rules:
  disable: [liveness-probe]
  severity: { image-pinned: high }
exemptions:
  - rule: image-registry
    namespaces: ["kube-system"]
    reason: "k3s system images"
    expires: 2027-06-30
defectdojo:
  url: https://defectdojo.example.com
  token_env: DEFECTDOJO_TOKEN
  product: "{cluster}"
  engagement: "nightly-audit"
clusters:
  - name: production
    paths: ["clusters/production/**"]
    destinations: ["https://prod.k3s.internal:6443", "production"]
"#,
        );
        assert_eq!(config.clusters[0].destinations[1], "production");
        assert_eq!(config.environments[0].paths, ["clusters/production/**"]);
        assert!(!config.resources.require_cpu_limit);
        assert_eq!(config.pod_security.level, Some(Level::Restricted));
        assert_eq!(config.velero.min_ttl.0, Duration::from_secs(168 * 3600));
        assert_eq!(
            config.harbor.unwrap().max_scan_age.0,
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(config.rules.severity["image-pinned"], Severity::High);
        assert_eq!(
            config.exemptions[0].expires,
            Some(jiff::civil::date(2027, 6, 30))
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let e = parse_err("registries:\n  allowed: []\n  alowed: [x]\n");
        assert_eq!(e.line, 3);
        assert!(
            e.message.contains("unknown field `alowed`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_values_are_explained() {
        let e = parse_err("velero:\n  max_interval: soon\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("not a duration"), "{}", e.message);
        let e = parse_err("rules:\n  severity: {image-pinned: urgent}\n");
        assert!(e.message.contains("urgent"), "{}", e.message);
        let e = parse_err("exemptions:\n  - rule: x\n    reason: y\n    expires: next year\n");
        assert!(e.message.contains("not a date"), "{}", e.message);
        let e = parse_err("environments:\n  - name: prod\n    namespaces: ['[']\n");
        assert!(e.message.contains("invalid glob"), "{}", e.message);
    }

    #[test]
    fn positions_are_not_repeated_in_messages() {
        assert_eq!(
            strip_location(
                "did not find expected key at line 30 column 3, while parsing a block mapping"
            ),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(
            strip_location("unknown field `x` at line 2 column 1"),
            "unknown field `x`"
        );
    }

    #[test]
    fn empty_file_is_the_default() {
        let config = parse_ok("# nothing yet\n");
        assert!(config.resources.require_cpu_limit);
        assert_eq!(config.network.require_default_deny, ["prod"]);
    }
}
