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

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde_json::Value;

use crate::error::Error;
use crate::finding::Severity;
use crate::outcome::ScanOutcome;
use crate::report::{self, Report};
use crate::sink::http::{self, ClientOptions, Exchange};

mod answers;
mod settings;

pub use answers::*;
pub use settings::*;

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
    use crate::config::DefectDojoConfig;
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
