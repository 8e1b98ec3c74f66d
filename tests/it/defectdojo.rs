//! `--defectdojo` and `tollgate push defectdojo` against a loopback DefectDojo stand-in built
//! from the recordings of a real DefectDojo 3.2 (`tests/support/dojo.rs`): the nightly
//! create → close → reactivate cycle, every recorded error, 413, timeouts, closed
//! connections, unreachable servers, TLS with a private CA, and a token that never shows.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::StatusCode;
use support::dojo::{Dojo, Forced, shorten};
use support::{Server, TestTls, closing_server, copy_dir, tollgate, unused_port};

const TOKEN: &str = "f3a1c0ffee5ecre7f3a1c0ffee5ecre7f3a1c0ff";

/// What a run printed; the token is checked to be absent from all of it. `stderr` is
/// flattened: miette wraps long messages over `│`-prefixed lines.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn flatten(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.trim_start().strip_prefix("│ ") {
            Some(rest) => {
                out.push(' ');
                out.push_str(rest.trim_start());
            }
            None => {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(line);
            }
        }
    }
    out
}

fn run(command: &mut assert_cmd::Command) -> Ran {
    let output = command.output().expect("tollgate runs");
    let ran = Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: flatten(&String::from_utf8_lossy(&output.stderr)),
    };
    assert!(
        !ran.stdout.contains(TOKEN) && !ran.stderr.contains(TOKEN),
        "the token leaked into the output:\n{}\n{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

/// A copy of the demo repository whose configuration retries quickly.
struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn demo_repo(extra_config: &str) -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("gitops");
    copy_dir(Path::new("fixtures/demo"), &root);
    let config = root.join("tollgate.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "defectdojo:\n  retries: 1\n  retry_backoff: 10ms\n  timeout: 2s\n{extra_config}"
    ));
    std::fs::write(config, text).unwrap();
    Repo { _dir: dir, root }
}

fn ci(command: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    command
        .env("GITHUB_REPOSITORY", "acme/gitops")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_SHA", "3f2c1a9")
        .env("GITHUB_RUN_ID", "101")
}

fn scan(repo: &Repo, url: &str, extra: &[&str]) -> Ran {
    let mut command = tollgate();
    ci(&mut command)
        .current_dir(&repo.root)
        .env("DEFECTDOJO_TOKEN", TOKEN)
        .args(["scan", ".", "--defectdojo", "--dd-url", url])
        .args(extra);
    run(&mut command)
}

fn push(repo: &Repo, report: &str, url: &str, extra: &[&str]) -> Ran {
    let mut command = tollgate();
    ci(&mut command)
        .current_dir(&repo.root)
        .env("DEFECTDOJO_TOKEN", TOKEN)
        .args(["push", "defectdojo", report, "--dd-url", url])
        .args(extra);
    run(&mut command)
}

/// A SARIF report of the demo repository, written without pushing.
fn demo_report(repo: &Repo) -> &'static str {
    let ran = run(tollgate().current_dir(&repo.root).args([
        "scan",
        ".",
        "--format",
        "sarif",
        "--output",
        "report.sarif",
    ]));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    "report.sarif"
}

fn utc_today() -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

#[test]
fn nightly_runs_create_close_and_reactivate_findings() {
    let dojo = Dojo::new(TOKEN);
    let server = Server::http(dojo.router());
    let repo = demo_repo("");

    // Night 1: everything is new.
    let first = scan(
        &repo,
        &server.url(),
        &["--format", "sarif", "--output", "out.sarif"],
    );
    assert_eq!(
        first.code, 1,
        "findings at or above --fail-on: {}",
        first.stderr
    );
    assert!(
        first.stderr.contains("new test: created"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains(&format!("{}/test/1", server.url())),
        "{}",
        first.stderr
    );

    let seen = dojo.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Token {TOKEN}").as_str())
    );
    assert!(
        request
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data")
    );
    for (field, value) in [
        ("scan_type", "SARIF"),
        ("product_type_name", "Kubernetes"),
        ("product_name", "acme/gitops"),
        ("engagement_name", "ci"),
        ("test_title", "tollgate"),
        ("auto_create_context", "true"),
        ("close_old_findings", "true"),
        ("minimum_severity", "Info"),
        ("deduplication_execution_mode", "async_wait"),
        ("branch_tag", "main"),
        ("commit_hash", "3f2c1a9"),
        ("build_id", "101"),
    ] {
        assert_eq!(request.field(field), Some(value), "{field}");
    }
    assert_eq!(request.field("scan_date"), Some(utc_today().as_str()));
    // No git in a temporary copy: sent anyway, empty, so the last value is not kept.
    assert_eq!(request.field("version"), Some(""));
    assert_eq!(request.all("tags"), ["tollgate", "scan"]);
    // The pushed report is the --output report shaped for DefectDojo (short titles, details
    // in the description, identity unchanged), under a .sarif name.
    assert_eq!(request.file_name.as_deref(), Some("out.sarif"));
    assert_eq!(
        request.file,
        tollgate::sink::dojo_findings::shape_bytes(
            &std::fs::read(repo.root.join("out.sarif")).unwrap()
        )
    );
    assert!(
        first.stderr.contains("report: out.sarif"),
        "{}",
        first.stderr
    );

    let test = dojo
        .test("acme/gitops", "ci", "tollgate")
        .expect("test created");
    assert_eq!(test.test_type, "tollgate Scan (SARIF)");
    assert_eq!(
        (test.branch_tag.as_str(), test.build_id.as_str()),
        ("main", "101")
    );
    let report: serde_json::Value = serde_json::from_slice(&request.file).unwrap();
    let results = report["runs"][0]["results"].as_array().unwrap();
    assert_eq!(test.findings.len(), results.len(), "one finding per result");
    for finding in test.findings.values() {
        assert!(
            finding.mitigation.as_deref().is_some_and(|m| !m.is_empty()),
            "every finding carries its remediation as mitigation: {finding:?}"
        );
        assert!(finding.title.chars().count() <= 100, "{}", finding.title);
        assert_ne!(finding.title, "[...]", "a title that says nothing");
        for part in ["**Snippet:**", "Remediation: ", "Location: ", "Rule: "] {
            assert!(
                finding.description.contains(part),
                "{part} in {}",
                finding.description
            );
        }
        assert!(finding.tags.iter().any(|t| t == "security"), "{finding:?}");
    }
    let suppressed = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .count();
    assert!(suppressed > 0);
    assert_eq!(
        test.findings
            .values()
            .filter(|f| f.false_p && !f.active)
            .count(),
        suppressed
    );
    // rules.severity makes image-pinned high; DefectDojo reads it from security-severity.
    let pinned = test
        .findings
        .values()
        .find(|f| f.description.contains("without an @sha256 digest"))
        .unwrap();
    assert_eq!(pinned.severity, "High");
    for result in results {
        let title = shorten(result["message"]["text"].as_str().unwrap(), 150);
        assert!(test.findings.values().any(|f| f.title == title));
    }

    // Night 2: the worker gets its memory limit; exactly that finding closes.
    let worker = repo.root.join("clusters/production/shop-prod/worker.yaml");
    let original = std::fs::read_to_string(&worker).unwrap();
    std::fs::write(
        &worker,
        format!("{original}          resources:\n            limits: {{memory: 256Mi}}\n"),
    )
    .unwrap();
    let second = scan(&repo, &server.url(), &[]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    let untouched = results.len() - 1;
    assert!(
        second.stderr.contains(&format!(
            "created 0, closed 1 (1 medium), reactivated 0, untouched {untouched}"
        )),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("report: tollgate-defectdojo.sarif"),
        "{}",
        second.stderr
    );
    assert!(repo.root.join("tollgate-defectdojo.sarif").is_file());
    let test = dojo.test("acme/gitops", "ci", "tollgate").unwrap();
    let closed: Vec<_> = test.findings.values().filter(|f| f.is_mitigated).collect();
    assert_eq!(closed.len(), 1);
    assert!(
        closed[0].title.ends_with(": Deployment shop-prod/worker")
            && closed[0].description.contains("no memory limit"),
        "{closed:?}"
    );

    // The same again changes nothing (reimport is idempotent).
    let again = scan(&repo, &server.url(), &[]);
    assert!(
        again.stderr.contains(&format!(
            "created 0, closed 0, reactivated 0, untouched {untouched}"
        )),
        "{}",
        again.stderr
    );

    // The limit is removed again: the finding comes back as reactivated, not as a new one.
    std::fs::write(&worker, original).unwrap();
    let regression = scan(&repo, &server.url(), &[]);
    assert!(
        regression.stderr.contains(&format!(
            "created 0, closed 0, reactivated 1 (1 medium), untouched {untouched}"
        )),
        "{}",
        regression.stderr
    );
    assert_eq!(dojo.requests(), 4);
}

#[test]
fn a_cluster_report_goes_to_the_cluster_product() {
    let dojo = Dojo::new(TOKEN);
    let server = Server::http(dojo.router());
    let repo = demo_repo("");
    let sarif = r#"{"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "tollgate", "rules": [{"id": "image-pinned",
            "properties": {"security-severity": "5.5"}}]}},
        "results": [{"ruleId": "image-pinned", "level": "warning",
            "message": {"text": "container `api` of Deployment shop-prod/api uses image `api:latest` with the `latest` tag"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "k8s://production/shop-prod/Deployment/api"}}}],
            "partialFingerprints": {"tollgate/v1": "0c3e7a51b2f9d8e4a6c1b0f2e3d4c5b6"},
            "fixes": [{"description": {"text": "Pin it."}, "artifactChanges": [{"artifactLocation": {"uri": "k8s://production/shop-prod/Deployment/api"},
              "replacements": [{"deletedRegion": {"charOffset": 0, "charLength": 0}}]}]}]}]}]}"#;
    std::fs::write(repo.root.join("live.sarif"), sarif).unwrap();
    let ran = push(&repo, "live.sarif", &server.url(), &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let test = dojo
        .test("production", "nightly-audit", "tollgate")
        .expect("product named after the context");
    assert_eq!(test.findings.len(), 1);
    assert_eq!(dojo.seen()[0].all("tags"), ["tollgate", "audit"]);

    // DESIGN's spelling of the flags works too.
    let ran = push(
        &repo,
        "live.sarif",
        &server.url(),
        &["--product", "prod-eu", "--engagement", "audit"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(dojo.test("prod-eu", "audit", "tollgate").is_some());
}

/// Every error the real server was recorded answering, with the text the user must see.
#[test]
fn recorded_errors_are_explained_kept_and_never_retried() {
    let dojo = Dojo::new(TOKEN);
    let server = Server::http(dojo.router());
    let repo = demo_repo("");
    let report = demo_report(&repo);
    let cases: &[(&str, &str)] = &[
        (
            "31-error-no-auth-header",
            "403 Forbidden: Authentication credentials were not provided.",
        ),
        (
            "32-error-bearer-scheme",
            "without a usable `Authorization: Token …` header",
        ),
        (
            "33-error-missing-scan-type",
            "400 Bad Request: scan_type: This field is required.",
        ),
        (
            "34-error-unknown-scan-type",
            "scan_type: \"Kube Policy Audit\" is not a valid choice.",
        ),
        (
            "35-error-missing-product-no-autocreate",
            ": auto_create_context not True, unable to create non-existing engagement",
        ),
        (
            "36-error-missing-product-autocreate-omitted",
            ": Product \"does-not-exist\" does not exist",
        ),
        (
            "37-error-malformed-sarif-truncated-json",
            ": Expecting value: line 1 column 41 (char 40)",
        ),
        (
            "42-error-wrong-file-extension",
            "file: File extension \u{201c}yaml\u{201d} is not allowed.",
        ),
        (
            "43-error-scan-date-future",
            "scan_date: The scan_date cannot be in the future!",
        ),
        (
            "44-error-json-body-not-multipart",
            "415 Unsupported Media Type: Unsupported media type \"application/json\" in request.",
        ),
        (
            "45-error-reimport-test-type-mismatch",
            ": Test type mismatch: Test 1 has test_type 'kube-policy-audit Scan (SARIF)'",
        ),
        (
            "46-error-reimport-test-not-found-by-name",
            ": Test \"no such test\" with scan_type \"SARIF\" does not exist",
        ),
        (
            "47-error-reimport-test-id-not-found",
            ": Test \"9999\" does not exist",
        ),
        (
            "48-error-product-type-mismatch",
            "existing product type name - Kubernetes vs supplied product type name - OtherType",
        ),
        (
            "49-error-sarif-fingerprint-key-without-version",
            ": invalid literal for int() with base 10: 'hash'",
        ),
        (
            "50-error-reimport-by-name-missing-engagement-name",
            ": engagement_name parameter missing",
        ),
        (
            "53-error-403-no-permission-existing-engagement",
            "403 Forbidden: You do not have permission to perform this action.",
        ),
        (
            "54-error-403-no-permission-create-product-type",
            "403 Forbidden: No permission to create product_type \"NewType\"",
        ),
    ];
    for (recording, expected) in cases {
        dojo.force(Some(Forced::Recording(recording.to_string())));
        let before = dojo.requests();
        let ran = push(&repo, report, &server.url(), &[]);
        assert_eq!(ran.code, 2, "{recording}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(expected),
            "{recording}: expected {expected:?} in\n{}",
            ran.stderr
        );
        assert!(
            ran.stderr.contains("The report is kept at report.sarif"),
            "{recording}: {}",
            ran.stderr
        );
        assert_eq!(
            dojo.requests() - before,
            1,
            "{recording} must not be retried"
        );
    }
    // Hints for the ones a user can act on.
    dojo.force(Some(Forced::Recording(
        "45-error-reimport-test-type-mismatch".into(),
    )));
    let ran = push(&repo, report, &server.url(), &[]);
    assert!(
        ran.stderr.contains("use another --dd-test-title"),
        "{}",
        ran.stderr
    );
}

#[test]
fn server_failures_are_retried_with_backoff_then_given_up() {
    let dojo = Dojo::new(TOKEN);
    let server = Server::http(dojo.router());
    let repo = demo_repo("");
    let report = demo_report(&repo);

    // 500 from the parser (rec 38): retried once (retries: 1), then explained.
    dojo.force(Some(Forced::Recording(
        "38-error-sarif-missing-tool".into(),
    )));
    let ran = push(&repo, report, &server.url(), &[]);
    assert_eq!(ran.code, 2);
    assert_eq!(dojo.requests(), 2);
    assert!(
        ran.stderr
            .contains("attempt 1 failed (500 Internal Server Error); retrying in 10ms"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("500 Internal Server Error: Internal server error, check logs for details (after 2 attempts)"),
        "{}",
        ran.stderr
    );

    // A proxy's 502 page once, then success: the retry saves the run.
    dojo.force_times(
        Forced::Status(
            StatusCode::BAD_GATEWAY,
            "<html><title>502 Bad Gateway</title></html>".into(),
            "text/html",
        ),
        1,
    );
    let ran = push(
        &repo,
        report,
        &server.url(),
        &["--dd-test-title", "retried"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("attempt 1 failed (502 Bad Gateway); retrying"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("new test: created"), "{}", ran.stderr);

    // 413 from a proxy in front of DefectDojo: not retried, with what to change.
    dojo.force(Some(Forced::Status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body><center><h1>413 Request Entity Too Large</h1></center><hr><center>nginx</center></body></html>".into(),
        "text/html",
    )));
    let before = dojo.requests();
    let ran = push(&repo, report, &server.url(), &[]);
    assert_eq!(ran.code, 2);
    assert_eq!(dojo.requests() - before, 1);
    assert!(
        ran.stderr
            .contains("413 Payload Too Large: 413 Request Entity Too Large"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("client_max_body_size"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_wrong_token_is_refused_and_never_shown() {
    let dojo = Dojo::new("the-right-token-0000000000000000000000000");
    let server = Server::http(dojo.router());
    let repo = demo_repo("");
    let ran = scan(&repo, &server.url(), &[]);
    assert_eq!(ran.code, 2);
    assert_eq!(dojo.requests(), 1, "403 is not retried");
    assert!(
        ran.stderr.contains("403 Forbidden: Invalid token."),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("$DEFECTDOJO_TOKEN"), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("The report is kept at tollgate-defectdojo.sarif"),
        "{}",
        ran.stderr
    );
    assert!(repo.root.join("tollgate-defectdojo.sarif").is_file());
}

#[test]
fn a_slow_server_times_out() {
    let dojo = Dojo::new(TOKEN);
    dojo.delay(Some(Duration::from_secs(3)));
    let server = Server::http(dojo.router());
    let repo = demo_repo("");
    // A timeout well below the server's delay keeps the test short.
    let config = repo.root.join("tollgate.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("timeout: 2s", "timeout: 300ms")).unwrap();
    let report = demo_report(&repo);
    let started = std::time::Instant::now();
    let ran = push(&repo, report, &server.url(), &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("did not answer: no answer within 300ms (timeout) (after 2 attempts)"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("raise defectdojo.timeout"),
        "{}",
        ran.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(dojo.requests(), 2);
}

#[test]
fn a_closed_connection_and_an_unreachable_host_are_network_errors() {
    let repo = demo_repo("");
    let report = demo_report(&repo);
    let closing = closing_server(2);
    let ran = push(&repo, report, &format!("http://{closing}"), &[]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("closed the connection without answering"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("(after 2 attempts)"), "{}", ran.stderr);

    let ran = push(
        &repo,
        report,
        &format!("http://127.0.0.1:{}", unused_port()),
        &[],
    );
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("did not answer: cannot connect"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("The report is kept at report.sarif"),
        "{}",
        ran.stderr
    );
}

#[test]
fn tls_needs_the_private_ca_or_an_explicit_insecure_flag() {
    let tls = TestTls::generate();
    let dojo = Dojo::new(TOKEN);
    let server = Server::https(dojo.router(), &tls);
    let repo = demo_repo("");
    let report = demo_report(&repo);
    let url = server.url();

    let ran = push(&repo, report, &url, &[]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("TLS handshake failed"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--dd-ca-cert"), "{}", ran.stderr);
    assert_eq!(
        dojo.requests(),
        0,
        "nothing reached the server; not retried either"
    );

    tls.write_ca(&repo.root.join("ca.pem"));
    let ran = push(&repo, report, &url, &["--dd-ca-cert", "ca.pem"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(dojo.requests(), 1);

    // The CA from the configuration, relative to the config file.
    let config = repo.root.join("tollgate.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("  ca_cert: ca.pem\n");
    std::fs::write(&config, text).unwrap();
    let ran = push(&repo, report, &url, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);

    let ran = push(
        &repo,
        report,
        &url.replace("127.0.0.1", "localhost"),
        &["--dd-insecure"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

#[test]
fn settings_are_checked_before_the_scan() {
    let repo = demo_repo("");
    let ran = run(tollgate().current_dir(&repo.root).args([
        "scan",
        ".",
        "--dd-url",
        "https://dd.example.com",
    ]));
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("--dd-url only apply with --defectdojo"),
        "{}",
        ran.stderr
    );

    let ran = run(tollgate().current_dir(&repo.root).args([
        "scan",
        ".",
        "--defectdojo",
        "--dd-url",
        "https://dd.example.com",
    ]));
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("DEFECTDOJO_TOKEN"), "{}", ran.stderr);
    assert!(
        ran.stdout.is_empty(),
        "no scan output before the settings are sound"
    );

    let ran = run(tollgate()
        .current_dir(&repo.root)
        .env("DEFECTDOJO_TOKEN", TOKEN)
        .args(["scan", ".", "--defectdojo"]));
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("give --dd-url URL or set defectdojo.url"),
        "{}",
        ran.stderr
    );
}

#[test]
fn an_incomplete_run_is_not_pushed() {
    let dojo = Dojo::new(TOKEN);
    let server = Server::http(dojo.router());
    let port = unused_port();
    let repo = demo_repo(&format!(
        "harbor:\n  url: http://127.0.0.1:{port}\n  retries: 0\n"
    ));
    std::fs::write(
        repo.root.join("clusters/production/shop-prod/cache.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: cache\n  namespace: shop-prod\nspec:\n  \
             containers:\n    - name: cache\n      image: 127.0.0.1:{port}/shop/cache:7.2\n"
        ),
    )
    .unwrap();
    let ran = scan(&repo, &server.url(), &[]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("warning: image-scan: not evaluated: Harbor at"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("; image-scan: not evaluated."),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr
            .contains("not pushed to DefectDojo: image-scan could not be evaluated"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("The report is kept at tollgate-defectdojo.sarif."),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("push it again"), "{}", ran.stderr);
    assert_eq!(dojo.requests(), 0);
}
