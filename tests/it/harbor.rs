//! `image-scan` against a loopback Harbor stand-in whose answers have the shape of Harbor
//! 2.x's API (`Artifact` with `scan_overview` keyed by the report MIME type, `Errors` bodies),
//! and offline against Trivy JSON reports.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use support::{Server, tollgate, unused_port};

const MIME: &str = "application/vnd.security.vulnerability.report; version=1.1";
const USER: &str = "robot$tollgate";
const PASSWORD: &str = "Rob0t-s3cret-never-shown";

#[derive(Default)]
struct HarborState {
    /// Raw request path (as sent, percent-encoding included) → artifact.
    artifacts: BTreeMap<String, Value>,
    /// Raw path of `…/additions/vulnerabilities` → report.
    vulnerabilities: BTreeMap<String, Value>,
    hits: BTreeMap<String, usize>,
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Clone, Default)]
struct Harbor {
    state: Arc<Mutex<HarborState>>,
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn harbor_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}

async fn handle(State(harbor): State<Harbor>, headers: HeaderMap, uri: Uri) -> Response {
    let path = uri.path().to_string();
    {
        let mut state = harbor.state.lock().unwrap();
        *state.hits.entry(path.clone()).or_insert(0) += 1;
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
    }
    // Long enough for concurrent lookups to overlap.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let response = answer(&harbor, &headers, &uri);
    harbor.state.lock().unwrap().in_flight -= 1;
    response
}

fn answer(harbor: &Harbor, headers: &HeaderMap, uri: &Uri) -> Response {
    let expected = format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes()));
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return harbor_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "unauthorized");
    }
    let state = harbor.state.lock().unwrap();
    let path = uri.path();
    if let Some(report) = state.vulnerabilities.get(path) {
        return axum::Json(report.clone()).into_response();
    }
    match state.artifacts.get(path) {
        Some(artifact) => {
            let mut artifact = artifact.clone();
            if uri.query() != Some("with_scan_overview=true") {
                artifact.as_object_mut().unwrap().remove("scan_overview");
            }
            axum::Json(artifact).into_response()
        }
        None => harbor_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("artifact {path} not found"),
        ),
    }
}

impl Harbor {
    fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    fn artifact(&self, raw_path: &str, overview: Option<Value>) {
        let digest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";
        let mut artifact = json!({
            "id": 42, "type": "IMAGE", "digest": digest,
            "media_type": "application/vnd.oci.image.config.v1+json",
            "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
            "project_id": 3, "repository_id": 7, "size": 31457280,
            "push_time": "2026-11-01T10:00:00.000Z", "pull_time": "2026-11-25T03:00:00.000Z",
            "tags": [{"id": 9, "name": "1.0", "repository_id": 7, "artifact_id": 42,
                      "push_time": "2026-11-01T10:00:00.000Z", "immutable": false}],
            "addition_links": {"vulnerabilities": {"absolute": false,
                "href": format!("{raw_path}/additions/vulnerabilities")}},
            "scan_overview": {}
        });
        if let Some(overview) = overview {
            artifact["scan_overview"] = json!({ MIME: overview });
        }
        self.state
            .lock()
            .unwrap()
            .artifacts
            .insert(raw_path.to_string(), artifact);
    }

    fn vulnerabilities(&self, raw_path: &str, list: Value) {
        self.state.lock().unwrap().vulnerabilities.insert(
            format!("{raw_path}/additions/vulnerabilities"),
            json!({ MIME: {
                "generated_at": "2026-11-25T02:00:00Z",
                "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.2"},
                "severity": "Critical",
                "vulnerabilities": list
            }}),
        );
    }

    fn hits(&self) -> BTreeMap<String, usize> {
        self.state.lock().unwrap().hits.clone()
    }

    fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }
}

/// A `NativeReportSummary` as Harbor 2.x returns it.
fn overview(scanner: &str, status: &str, end_time: &str, summary: Value) -> Value {
    json!({
        "report_id": "5f62c830-f996-11e9-957f-0242c0a89008",
        "scan_status": status,
        "severity": "High",
        "duration": 14,
        "summary": {"total": 0, "fixable": 0, "summary": summary},
        "start_time": end_time,
        "end_time": end_time,
        "complete_percent": 100,
        "scanner": {"name": scanner, "vendor": "Aqua Security", "version": "v0.56.2"}
    })
}

fn days_ago(days: i64) -> String {
    let t = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days);
    t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

fn write_repo(dir: &Path, registry: &str, harbor_url: &str) {
    std::fs::write(
        dir.join("tollgate.yaml"),
        format!(
            "harbor:\n  url: {harbor_url}\n  fail_severity: high\n  max_scan_age: 7d\n  \
             concurrency: 2\n  timeout: 5s\n  retries: 0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("workloads.yaml"),
        format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop-prod
spec:
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
        - name: api
          image: {registry}/shop/api:2.3.0
        - name: proxy
          image: {registry}/shop/proxy:1.0
        - name: legacy
          image: {registry}/shop/legacy:0.9
        - name: clair
          image: {registry}/shop/clair:1.0
        - name: broken
          image: {registry}/shop/broken:1.0
        - name: old
          image: {registry}/shop/old:1.0
        - name: web
          image: {registry}/shop/team/web:1.4.2
        - name: kubectl
          image: {registry}/platform/kubectl:1.31@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        - name: nginx
          image: docker.io/library/nginx:1.27
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: api-report
  namespace: shop-prod
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: {registry}/shop/api:2.3.0
"#
        ),
    )
    .unwrap();
}

fn scan_json(dir: &Path, password: &str) -> (i32, Value, String) {
    let output = tollgate()
        .current_dir(dir)
        .env("HARBOR_USERNAME", USER)
        .env("HARBOR_PASSWORD", password)
        .args(["scan", ".", "--select", "image-scan", "--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "the Harbor password leaked"
    );
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (output.status.code().unwrap_or(-1), report, stderr)
}

#[test]
fn harbor_scan_results_become_findings_at_every_image_line() {
    let harbor = Harbor::default();
    let server = Server::http(harbor.router());
    let registry = server.addr.to_string();
    let fresh = days_ago(1);
    let stale = days_ago(30);
    let api = "/api/v2.0/projects/shop/repositories/api/artifacts/2.3.0";
    harbor.artifact(
        api,
        Some(overview(
            "Trivy",
            "Success",
            &fresh,
            json!({"Critical": 2, "High": 1, "Medium": 5}),
        )),
    );
    harbor.vulnerabilities(
        api,
        json!([
            {"id": "CVE-2024-4741", "package": "libssl3", "version": "3.1.4-r5", "fix_version": "3.1.6-r0", "severity": "High"},
            {"id": "CVE-2024-5535", "package": "libssl3", "version": "3.1.4-r5", "fix_version": "3.1.6-r0", "severity": "Critical"},
            {"id": "CVE-2024-45337", "package": "golang.org/x/crypto", "version": "v0.21.0", "fix_version": "0.31.0", "severity": "Critical"},
            {"id": "CVE-2023-42363", "package": "busybox", "version": "1.36.1-r15", "fix_version": "1.36.1-r16", "severity": "Medium"}
        ]),
    );
    harbor.artifact(
        "/api/v2.0/projects/shop/repositories/legacy/artifacts/0.9",
        None,
    );
    harbor.artifact(
        "/api/v2.0/projects/shop/repositories/clair/artifacts/1.0",
        Some(overview("Clair", "Success", &fresh, json!({}))),
    );
    harbor.artifact(
        "/api/v2.0/projects/shop/repositories/broken/artifacts/1.0",
        Some(overview("Trivy", "Error", &fresh, json!({}))),
    );
    harbor.artifact(
        "/api/v2.0/projects/shop/repositories/old/artifacts/1.0",
        Some(overview("Trivy", "Success", &stale, json!({"Low": 3}))),
    );
    // Nested repository: `team/web` must arrive encoded twice.
    harbor.artifact(
        "/api/v2.0/projects/shop/repositories/team%252Fweb/artifacts/1.4.2",
        Some(overview("Trivy", "Success", &fresh, json!({"Medium": 2}))),
    );
    harbor.artifact(
        "/api/v2.0/projects/platform/repositories/kubectl/artifacts/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        Some(overview("Trivy", "Success", &fresh, json!({}))),
    );

    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), &registry, &server.url());
    let (code, report, stderr) = scan_json(dir.path(), PASSWORD);
    assert_eq!(code, 1, "{stderr}");
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["summary"]["notEvaluated"], json!([]));

    let found: BTreeMap<u64, String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect: &[(u64, &str)] = &[
        // (line, what the message says)
        (
            15,
            "that has 2 critical and 1 high vulnerabilities (CVE-2024-45337, CVE-2024-5535, CVE-2024-4741)",
        ),
        (17, "that is not in Harbor (no artifact `shop/proxy:1.0`)"),
        (19, "that Harbor has never scanned"),
        (21, "that was scanned by Clair, not Trivy"),
        (23, "that Trivy failed to scan (status Error)"),
        (
            25,
            &format!(
                "that was last scanned by Trivy on {}, longer ago than harbor.max_scan_age (7d)",
                &stale[..10]
            ),
        ),
        (47, "that has 2 critical and 1 high vulnerabilities"),
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (line, text) in expect {
        let message = found
            .get(line)
            .unwrap_or_else(|| panic!("no finding at line {line}: {found:#?}"));
        assert!(message.contains(text), "line {line}: {message}");
    }
    assert_eq!(
        found[&15],
        format!(
            "container `api` of Deployment shop-prod/api runs an image that has 2 critical and 1 \
             high vulnerabilities (CVE-2024-45337, CVE-2024-5535, CVE-2024-4741): \
             `{registry}/shop/api:2.3.0`"
        )
    );

    // One lookup per distinct image, none for other registries; the CVE list only where needed.
    let hits = harbor.hits();
    assert!(hits.values().all(|n| *n == 1), "{hits:#?}");
    assert_eq!(hits.len(), 9, "{hits:#?}");
    assert!(hits.contains_key(&format!("{api}/additions/vulnerabilities")));
    assert!(hits.keys().all(|p| !p.contains("nginx")));
    // harbor.concurrency: 2
    assert!(
        (1..=2).contains(&harbor.max_in_flight()),
        "{}",
        harbor.max_in_flight()
    );
}

#[test]
fn refused_credentials_leave_the_rule_not_evaluated() {
    let harbor = Harbor::default();
    let server = Server::http(harbor.router());
    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), &server.addr.to_string(), &server.url());
    let (code, report, _) = scan_json(dir.path(), "wrong-password");
    assert_eq!(code, 0, "no findings: the rule reported nothing");
    assert!(report["findings"].as_array().unwrap().is_empty());
    assert_eq!(report["summary"]["notEvaluated"], json!(["image-scan"]));
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(
        errors.len(),
        1,
        "one warning, not one per image: {errors:#?}"
    );
    assert_eq!(errors[0]["level"], "warning");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("image-scan: not evaluated: Harbor at")
            && message.contains("refused the credentials: 401 Unauthorized"),
        "{message}"
    );
    // Stopped at the first failure instead of asking for every image.
    assert!(
        harbor.hits().values().sum::<usize>() <= 2,
        "{:?}",
        harbor.hits()
    );

    // The human summary says it too.
    let output = tollgate()
        .current_dir(dir.path())
        .env("HARBOR_USERNAME", USER)
        .env("HARBOR_PASSWORD", "wrong-password")
        .args(["scan", ".", "--select", "image-scan"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("; image-scan: not evaluated."), "{stdout}");
}

#[test]
fn an_unreachable_harbor_leaves_the_rule_not_evaluated() {
    let port = unused_port();
    let registry = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), &registry, &format!("http://{registry}"));
    let (code, report, _) = scan_json(dir.path(), PASSWORD);
    assert_eq!(code, 0);
    assert!(report["findings"].as_array().unwrap().is_empty());
    assert_eq!(report["summary"]["notEvaluated"], json!(["image-scan"]));
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("is unreachable: cannot connect"),
        "{errors:#?}"
    );
}

#[test]
fn trivy_reports_stand_in_for_harbor_without_network() {
    // harbor.url of the fixture is never contacted: --trivy-reports is offline.
    let output = tollgate()
        .args([
            "scan",
            "fixtures/rules/image-scan/fail",
            "--trivy-reports",
            "fixtures/rules/image-scan/trivy-reports",
            "--select",
            "image-scan",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains(
        "that has 2 critical and 1 high vulnerabilities (CVE-2024-45337, CVE-2024-5535, \
         CVE-2024-4741): `harbor.acme.internal/shop/api:2.3.0`"
    )));
    assert!(messages.iter().any(|m| m.contains(
        "that no Trivy report in fixtures/rules/image-scan/trivy-reports covers: \
         `harbor.acme.internal/shop/proxy:1.0`"
    )));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("was last scanned by Trivy on 2001-03-01"))
    );

    // An unreadable reports directory is an error of the run, not a reason to ask Harbor.
    let output = tollgate()
        .args([
            "scan",
            "fixtures/rules/image-scan/fail",
            "--trivy-reports",
            "no/such/dir",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no/such/dir"));
}
