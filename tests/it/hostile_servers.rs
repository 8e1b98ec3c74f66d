//! DefectDojo and Harbor stand-ins that misbehave on purpose (loopback only): a server that
//! echoes the `Authorization` header into its error body, one that redirects the upload, one
//! that answers 2xx with something that is not an import result, and one whose answer never
//! ends. No credential may reach the output, no redirect is followed, no non-import counts as
//! an import, and memory stays bounded.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use support::{Server, copy_dir, tollgate};

const TOKEN: &str = "f3a1c0ffee5ecre7f3a1c0ffee5ecre7f3a1c0ff";
const HARBOR_USER: &str = "robot$probe";
const HARBOR_PASSWORD: &str = "Rob0t-pr0be-never-shown";

struct Ran {
    code: i32,
    output: String,
    took: Duration,
}

/// Runs tollgate; everything it printed and every file it wrote is checked for credentials.
fn run(command: &mut assert_cmd::Command, dir: &Path) -> Ran {
    let started = Instant::now();
    let out = command
        .timeout(Duration::from_secs(120))
        .output()
        .expect("runs");
    let took = started.elapsed();
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(!output.contains("panicked"), "{output}");
    let mut shown = output.clone();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        // Reports tollgate wrote, not the configuration the test wrote.
        if entry.path().is_file() && entry.file_name() != "tollgate.yaml" {
            shown.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry.path()).unwrap(),
            ));
        }
    }
    let basic = base64(format!("{HARBOR_USER}:{HARBOR_PASSWORD}").as_bytes());
    for secret in [TOKEN, HARBOR_PASSWORD, basic.as_str()] {
        assert!(!shown.contains(secret), "a credential leaked: {output}");
    }
    Ran {
        code: out.status.code().expect("exited normally"),
        output: output.split_whitespace().collect::<Vec<_>>().join(" "),
        took,
    }
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

/// The demo repository in a temporary directory.
fn demo_repo(extra_config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("gitops");
    copy_dir(Path::new("fixtures/demo"), &root);
    let config = root.join("tollgate.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "defectdojo:\n  retries: 0\n  timeout: 60s\n{extra_config}"
    ));
    std::fs::write(config, text).unwrap();
    (dir, root)
}

fn push_scan(root: &Path, url: &str) -> Ran {
    run(
        tollgate()
            .current_dir(root)
            .env("DEFECTDOJO_TOKEN", TOKEN)
            .args(["scan", ".", "--defectdojo", "--dd-url", url]),
        root,
    )
}

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Reads the whole upload, as a real server does before it answers.
async fn drain(body: Body) {
    let _ = axum::body::to_bytes(body, usize::MAX).await;
}

/// An answer whose body never ends (and that says nothing about its length).
fn endless() -> Response {
    let chunk = Bytes::from(vec![b'{'; 64 * 1024]);
    let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

#[test]
fn an_echoed_token_is_scrubbed_from_errors() {
    let router = Router::new().route(
        "/api/v2/reimport-scan/",
        post(|headers: HeaderMap, body: Body| async move {
            drain(body).await;
            let echoed = authorization(&headers);
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                format!(r#"{{"detail": "rejected header Authorization: {echoed}"}}"#),
            )
        }),
    );
    let server = Server::http(router);
    let (_dir, root) = demo_repo("");
    let ran = push_scan(&root, &server.url());
    assert_eq!(ran.code, 2, "{}", ran.output);
    assert!(
        ran.output
            .contains("rejected header Authorization: Token ***"),
        "{}",
        ran.output
    );
}

#[test]
fn a_redirected_upload_is_not_followed_and_not_a_success() {
    let router = Router::new()
        .route(
            "/api/v2/reimport-scan/",
            post(|body: Body| async move {
                drain(body).await;
                (StatusCode::FOUND, [(header::LOCATION, "/login")])
            }),
        )
        .route(
            "/login",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"test_id": 1, "statistics": {}}"#,
                )
            }),
        );
    let server = Server::http(router);
    let (_dir, root) = demo_repo("");
    let ran = push_scan(&root, &server.url());
    assert_eq!(ran.code, 2, "{}", ran.output);
    assert!(ran.output.contains("302"), "{}", ran.output);
    assert!(
        ran.output.contains("redirects are not followed"),
        "{}",
        ran.output
    );
}

#[test]
fn a_success_status_without_an_import_result_is_an_error() {
    for body in ["{}", r#"{"ok": true}"#, r#"{"test_id": 3}"#, "[]"] {
        let router = Router::new().route(
            "/api/v2/reimport-scan/",
            post(move |upload: Body| async move {
                drain(upload).await;
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }),
        );
        let server = Server::http(router);
        let (_dir, root) = demo_repo("");
        let ran = push_scan(&root, &server.url());
        assert_eq!(ran.code, 2, "{body}: {}", ran.output);
        assert!(
            ran.output.contains("not an import result"),
            "{body}: {}",
            ran.output
        );
    }
}

#[test]
fn an_endless_import_answer_is_cut_off() {
    let router = Router::new().route(
        "/api/v2/reimport-scan/",
        post(|body: Body| async move {
            drain(body).await;
            endless()
        }),
    );
    let server = Server::http(router);
    let (_dir, root) = demo_repo("");
    let ran = push_scan(&root, &server.url());
    assert_eq!(ran.code, 2, "{}", ran.output);
    assert!(ran.output.contains("larger than"), "{}", ran.output);
    assert!(ran.took < Duration::from_secs(30), "took {:?}", ran.took);
}

/// A repository with one image in the registry the Harbor stand-in serves.
fn harbor_repo(harbor_url: &str, registry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tollgate.yaml"),
        format!("harbor:\n  url: {harbor_url}\n  timeout: 60s\n  retries: 0\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pod.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: api, namespace: shop}}\nspec:\n  \
             containers:\n    - name: api\n      image: {registry}/shop/api:2.3.0\n"
        ),
    )
    .unwrap();
    dir
}

fn harbor_scan(dir: &Path) -> Ran {
    run(
        tollgate()
            .current_dir(dir)
            .env("HARBOR_USERNAME", HARBOR_USER)
            .env("HARBOR_PASSWORD", HARBOR_PASSWORD)
            .args(["scan", ".", "--select", "image-scan", "--format", "json"])
            .args(["--output", "report.json"]),
        dir,
    )
}

#[test]
fn echoed_harbor_credentials_are_scrubbed() {
    let router = Router::new().fallback(|headers: HeaderMap| async move {
        let echoed = authorization(&headers);
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            format!(
                r#"{{"errors": [{{"code": "X", "message": "bad {echoed} for {HARBOR_USER}:{HARBOR_PASSWORD}"}}]}}"#
            ),
        )
    });
    let server = Server::http(router);
    let dir = harbor_repo(&server.url(), &server.addr.to_string());
    harbor_scan(dir.path());
    let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(report.contains("not evaluated"), "{report}");
    assert!(report.contains("Basic ***"), "{report}");
}

#[test]
fn an_endless_harbor_answer_is_cut_off() {
    let router = Router::new().fallback(|| async { endless() });
    let server = Server::http(router);
    let dir = harbor_repo(&server.url(), &server.addr.to_string());
    let ran = harbor_scan(dir.path());
    let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(report.contains("larger than"), "{report}");
    assert!(ran.took < Duration::from_secs(30), "took {:?}", ran.took);
}

#[test]
fn a_harbor_url_with_credentials_is_refused() {
    let dir = harbor_repo(
        &format!("https://{HARBOR_USER}:{HARBOR_PASSWORD}@harbor.example.com"),
        "harbor.example.com",
    );
    let ran = harbor_scan(dir.path());
    assert_eq!(ran.code, 2, "{}", ran.output);
    assert!(
        ran.output.contains("must not carry credentials"),
        "{}",
        ran.output
    );
}

#[test]
fn an_incomplete_run_is_never_pushed() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let router = Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { StatusCode::INTERNAL_SERVER_ERROR }
    });
    let server = Server::http(router);
    let (_dir, root) = demo_repo("");
    std::fs::create_dir_all(root.join("policy")).unwrap();
    std::fs::write(
        root.join("policy/stop.rego"),
        "package main\nimport rego.v1\n\ndeny contains \"x\" if count(numbers.range(1, 50000000)) > 0\n",
    )
    .unwrap();
    let ran = run(
        tollgate()
            .current_dir(&root)
            .env("DEFECTDOJO_TOKEN", TOKEN)
            .args([
                "scan",
                ".",
                "--policy",
                "policy",
                "--defectdojo",
                "--dd-url",
            ])
            .arg(server.url())
            .args(["--format", "sarif", "--output", "run.sarif"]),
        &root,
    );
    assert_eq!(ran.code, 2, "{}", ran.output);
    assert!(
        ran.output.contains("not pushed to DefectDojo"),
        "{}",
        ran.output
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("run.sarif")).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
}
