//! The morning after a nightly run (DESIGN §14), end to end through the binary: `--previous`
//! (new / unchanged / fixed in JSON, SARIF and the summary, for scan and audit, per cluster)
//! and `--notify` (Telegram and a webhook as loopback fake servers that record what they
//! received; failures are warnings that never change the exit code; tokens never shown).

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::post;
use fakeapi::{ADMIN_TOKEN, FakeCluster, HttpsServer, Kubeconfig};
use serde_json::{Value, json};
use support::*;
use tempfile::TempDir;

const TELEGRAM_TOKEN: &str = "987654:telegram-SECRET-token";
const HOOK_TOKEN: &str = "hook-SECRET-token";

struct Ran {
    code: i32,
    stderr: String,
}

fn run(cmd: &mut Command) -> Ran {
    let out = cmd.output().unwrap();
    Ran {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn copy_demo() -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"),
        &dir.path().join("demo"),
    );
    dir
}

fn scan(dir: &Path) -> Command {
    let mut cmd = crate::common::tollgate();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TELEGRAM_BOT_TOKEN")
        .args(["scan", "demo"]);
    cmd
}

/// A day's changes: the debug pod is gone (its findings are fixed), the production API image
/// is unpinned (a new finding).
fn change_the_demo(dir: &Path) {
    std::fs::remove_file(dir.join("demo/clusters/dev-a/shop-dev/debug-pod.yaml")).unwrap();
    let api = dir.join("demo/clusters/production/shop-prod/api.yaml");
    let text = std::fs::read_to_string(&api).unwrap();
    let pinned = text
        .lines()
        .find(|l| l.contains("image: harbor.acme.internal/shop/api:"))
        .unwrap()
        .trim()
        .to_string();
    std::fs::write(
        &api,
        text.replace(&pinned, "image: harbor.acme.internal/shop/api:latest"),
    )
    .unwrap();
}

#[test]
fn a_scan_tells_what_is_new_and_what_was_fixed() {
    let dir = copy_demo();
    let first = run(scan(dir.path()).args([
        "-f",
        "json",
        "-o",
        "last.json",
        "-f",
        "sarif",
        "-o",
        "last.sarif",
    ]));
    assert_eq!(first.code, 1, "{}", first.stderr);
    let last = read_json(&dir.path().join("last.json"));
    assert!(last.get("fixed").is_none(), "no comparison, no fixed[]");
    assert!(last["findings"][0].get("change").is_none());

    change_the_demo(dir.path());
    // The previous report can be JSON or SARIF: both give the same comparison.
    for previous in ["last.json", "last.sarif"] {
        let second = run(scan(dir.path()).args(["--previous", previous]).args([
            "-f",
            "json",
            "-o",
            "now.json",
            "-f",
            "sarif",
            "-o",
            "now.sarif",
        ]));
        assert_eq!(second.code, 1, "{}", second.stderr);
        let now = read_json(&dir.path().join("now.json"));
        let new: Vec<&Value> = now["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["change"] == "new")
            .collect();
        assert_eq!(new.len(), 1, "{previous}: {new:#?}");
        assert_eq!(new[0]["rule"], "image-pinned");
        assert!(
            now["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["change"] == "new" || f["change"] == "unchanged")
        );
        let fixed = now["fixed"].as_array().unwrap();
        assert!(!fixed.is_empty());
        assert!(
            fixed.iter().all(|f| f["file"]
                .as_str()
                .unwrap()
                .ends_with("shop-dev/debug-pod.yaml")),
            "{fixed:#?}"
        );
        assert_eq!(now["previous"]["fixed"], fixed.len());
        assert_eq!(now["previous"]["file"], previous);
        assert!(now["previous"]["since"].as_str().unwrap().starts_with("20"));
        assert!(
            second.stderr.contains(&format!(
                "1 new, {} fixed since {}",
                fixed.len(),
                now["previous"]["since"].as_str().unwrap()
            )),
            "{}",
            second.stderr
        );

        let sarif = read_json(&dir.path().join("now.sarif"));
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let state = |s: &str| results.iter().filter(|r| r["baselineState"] == s).count();
        assert_eq!(state("new"), 1);
        assert_eq!(state("absent"), fixed.len());
        assert_eq!(
            state("unchanged"),
            now["findings"].as_array().unwrap().len() - 1
        );
        validate_sarif(&sarif);
    }
}

fn validate_sarif(sarif: &Value) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schemas/sarif-schema-2.1.0.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_first_night_and_a_broken_previous_report() {
    let dir = copy_demo();
    // No previous report yet: a warning, every finding new, nothing fixed.
    let first =
        run(scan(dir.path()).args(["--previous", "none.json", "-f", "json", "-o", "now.json"]));
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert!(
        first.stderr.contains("no previous report at none.json"),
        "{}",
        first.stderr
    );
    let now = read_json(&dir.path().join("now.json"));
    assert!(
        now["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["change"] == "new")
    );
    assert_eq!(now["fixed"], json!([]));

    // A report of an older tollgate, with another fingerprint scheme: not compared (a
    // warning), rather than every finding new and every old one fixed.
    let mut old = read_json(&dir.path().join("now.json"));
    old["tool"].as_object_mut().unwrap().remove("fingerprints");
    std::fs::write(dir.path().join("old.json"), old.to_string()).unwrap();
    let ran =
        run(scan(dir.path()).args(["--previous", "old.json", "-f", "json", "-o", "now.json"]));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("has tollgate/v1 fingerprints") && ran.stderr.contains("not compared"),
        "{}",
        ran.stderr
    );
    let now = read_json(&dir.path().join("now.json"));
    assert!(now.get("fixed").is_none() && now["findings"][0].get("change").is_none());

    // Not a report: the run cannot be trusted (exit 2), but its reports are written, so
    // the next night compares with a good one.
    std::fs::write(dir.path().join("junk.json"), "{\"hello\": 1}").unwrap();
    std::fs::remove_file(dir.path().join("now.json")).unwrap();
    let broken =
        run(scan(dir.path()).args(["--previous", "junk.json", "-f", "json", "-o", "now.json"]));
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    assert!(
        broken
            .stderr
            .contains("cannot compare with the previous report")
    );
    assert!(dir.path().join("now.json").is_file());
}

/// What a fake Telegram or webhook server received.
#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
    /// Answers to give, in order; afterwards 200 `{"ok": true}`.
    script: Arc<Mutex<Vec<(StatusCode, Value)>>>,
}

async fn record(
    State(state): State<Received>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state
        .requests
        .lock()
        .unwrap()
        .push((uri.path().to_string(), headers, value));
    let mut script = state.script.lock().unwrap();
    let (status, body) = if script.is_empty() {
        (
            StatusCode::OK,
            json!({"ok": true, "result": {"message_id": 1}}),
        )
    } else {
        script.remove(0)
    };
    (status, axum::Json(body))
}

fn fake_channel(script: Vec<(StatusCode, Value)>) -> (Server, Received) {
    let state = Received {
        script: Arc::new(Mutex::new(script)),
        ..Received::default()
    };
    let router = Router::new()
        .route("/{*path}", post(record))
        .with_state(state.clone());
    (Server::http(router), state)
}

fn notify_config(dir: &Path, telegram: &str, webhook: &str) -> PathBuf {
    let mut config = std::fs::read_to_string(dir.join("demo/tollgate.yaml")).unwrap();
    config.push_str(&format!(
        "notify:\n  on: always\n  telegram:\n    token_env: TG_TOKEN\n    chat_id: -1001234\n    \
         api_url: {telegram}\n  webhook:\n    url: {webhook}/services/T0/B0/hookpath\n    \
         token_env: HOOK_TOKEN\n"
    ));
    let path = dir.join("demo/tollgate.yaml");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn a_scan_notifies_telegram_and_a_webhook() {
    let dir = copy_demo();
    let first = run(scan(dir.path()).args(["-f", "json", "-o", "last.json"]));
    assert_eq!(first.code, 1);
    change_the_demo(dir.path());
    // Telegram asks to slow down once; the message still arrives.
    let (telegram, tg) = fake_channel(vec![(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
               "parameters": {"retry_after": 1}}),
    )]);
    let (webhook, hook) = fake_channel(Vec::new());
    notify_config(dir.path(), &telegram.url(), &webhook.url());
    let ran = run(scan(dir.path())
        .env("TG_TOKEN", TELEGRAM_TOKEN)
        .env("HOOK_TOKEN", HOOK_TOKEN)
        .args([
            "--previous",
            "last.json",
            "--notify",
            "-f",
            "json",
            "-o",
            "now.json",
        ]));
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("notify: sent to Telegram chat -1001234"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("notify: sent to webhook 127.0.0.1"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(TELEGRAM_TOKEN) && !ran.stderr.contains(HOOK_TOKEN));
    assert!(
        !ran.stderr.contains("hookpath"),
        "the webhook's path stays private"
    );

    let requests = tg.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "the 429 was retried once");
    let (path, _, body) = &requests[1];
    assert_eq!(path, &format!("/bot{TELEGRAM_TOKEN}/sendMessage"));
    assert_eq!(body["chat_id"], "-1001234");
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("<b>tollgate scan</b>"), "{text}");
    assert!(text.contains("1 new, "), "{text}");
    assert!(
        text.contains("<code>image-pinned</code> Deployment shop-prod/api"),
        "the new high finding is listed: {text}"
    );
    assert!(text.chars().count() <= 4096);

    let requests = hook.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (path, headers, body) = &requests[0];
    assert_eq!(path, "/services/T0/B0/hookpath");
    assert_eq!(
        headers.get("authorization").unwrap(),
        &format!("Bearer {HOOK_TOKEN}")
    );
    assert!(body["text"].as_str().unwrap().starts_with("tollgate scan"));
    assert_eq!(body["sections"][0]["new"], 1);
    assert_eq!(
        body["sections"][0]["fixed"],
        read_json(&dir.path().join("now.json"))["fixed"]
            .as_array()
            .unwrap()
            .len()
    );
}

#[test]
fn a_failed_notification_is_a_warning_and_never_changes_the_exit_code() {
    let dir = copy_demo();
    let (telegram, _) = fake_channel(vec![(
        StatusCode::UNAUTHORIZED,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
    )]);
    let closed = format!("http://127.0.0.1:{}", unused_port());
    notify_config(dir.path(), &telegram.url(), &closed);
    let ran = run(scan(dir.path())
        .env("TG_TOKEN", TELEGRAM_TOKEN)
        .env("HOOK_TOKEN", HOOK_TOKEN)
        .args(["--notify", "-f", "json", "-o", "now.json"]));
    assert_eq!(ran.code, 1, "the scan's own exit code: {}", ran.stderr);
    assert!(
        ran.stderr
            .contains("warning: notification to Telegram chat -1001234 failed: Telegram answered 401: Unauthorized"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("warning: notification to webhook 127.0.0.1"),
        "{}",
        ran.stderr
    );
    for secret in [TELEGRAM_TOKEN, HOOK_TOKEN, "hookpath"] {
        assert!(!ran.stderr.contains(secret), "{secret} in {}", ran.stderr);
    }

    // --notify without a channel is a usage error, before any work.
    let bare = copy_demo();
    let ran = run(scan(bare.path()).args(["--notify"]));
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.contains("--notify needs a channel"),
        "{}",
        ran.stderr
    );
}

/// Production (the fixture) and dev-a read on the first night; on the second dev-a is not
/// asked and a third context cannot be reached.
#[test]
fn an_audit_compares_per_cluster_and_an_unread_cluster_fixes_nothing() {
    let production = HttpsServer::start(fixture_cluster().build()).unwrap();
    let mut dev = FakeCluster::new();
    dev.add(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop-dev"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
        .unwrap();
    let dev = HttpsServer::start(dev.build()).unwrap();
    let mut kubeconfig = Kubeconfig::new();
    production.add_context(&mut kubeconfig, "production", ADMIN_TOKEN);
    dev.add_context(&mut kubeconfig, "dev-a", ADMIN_TOKEN);
    kubeconfig
        .cluster(
            "gone",
            &format!("https://127.0.0.1:{}", unused_port()),
            Some(production.ca_pem()),
        )
        .user("gone", ADMIN_TOKEN)
        .context("gone", "gone", "gone");
    let dir = TempDir::new().unwrap();
    let kubeconfig_path = dir.path().join("kubeconfig");
    kubeconfig.write(&kubeconfig_path).unwrap();
    let (webhook, hook) = fake_channel(Vec::new());
    let config = dir.path().join("tollgate.yaml");
    let mut text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(CONFIG_FIXTURE))
            .unwrap();
    text.push_str(&format!(
        "notify:\n  on: incomplete\n  webhook:\n    url: {}/hook\n",
        webhook.url()
    ));
    std::fs::write(&config, text).unwrap();
    let audit = |contexts: &[&str], extra: &[&str]| {
        let mut cmd = crate::common::tollgate();
        cmd.current_dir(dir.path())
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("NO_COLOR", "1")
            .arg("audit")
            .arg("--config")
            .arg(&config)
            .arg("--kubeconfig")
            .arg(&kubeconfig_path);
        for c in contexts {
            cmd.args(["--context", c]);
        }
        cmd.args(extra);
        run(&mut cmd)
    };

    let first = audit(&["production", "dev-a"], &["-f", "json", "-o", "last.json"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let last = read_json(&dir.path().join("last.json"));
    let dev_findings = last["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cluster"] == "dev-a")
        .count();
    assert!(dev_findings > 0);

    let second = audit(
        &["production", "gone"],
        &[
            "--previous",
            "last.json",
            "--notify",
            "-f",
            "json",
            "-o",
            "now.json",
            "-f",
            "html",
            "-o",
            "now.html",
        ],
    );
    assert_eq!(second.code, 2, "gone cannot be reached: {}", second.stderr);
    let now = read_json(&dir.path().join("now.json"));
    assert!(
        now["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["change"] == "unchanged"),
        "production did not change"
    );
    assert_eq!(
        now["fixed"],
        json!([]),
        "dev-a was not read: nothing of it is fixed"
    );
    assert!(
        second.stderr.contains("0 new, 0 fixed since"),
        "{}",
        second.stderr
    );
    let html = std::fs::read_to_string(dir.path().join("now.html")).unwrap();
    assert!(html.contains("data-cluster=\"production\""));

    // `on: incomplete`: the unreachable cluster is the message, first.
    let requests = hook.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{}", second.stderr);
    let text = requests[0].2["text"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("INCOMPLETE"), "{text}");
    assert!(lines[1].contains("gone: could not be read"), "{text}");
    assert_eq!(requests[0].2["incomplete"], true);
}

/// `deploy/` wires it together: the CronJob compares with the report it keeps on its volume
/// and notifies, and the ConfigMap's `tollgate.yaml` (with `notify:`) is a valid configuration.
#[test]
fn the_cronjob_keeps_its_last_report_and_notifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cronjob = std::fs::read_to_string(root.join("deploy/cronjob.yaml")).unwrap();
    for arg in [
        "--previous=/var/lib/tollgate/last.json",
        "--output=/var/lib/tollgate/last.json",
        "--format=html",
        "--notify",
        "claimName: tollgate-state",
        "mountPath: /var/lib/tollgate",
    ] {
        assert!(cronjob.contains(arg), "{arg}");
    }
    let kustomization = std::fs::read_to_string(root.join("deploy/kustomization.yaml")).unwrap();
    assert!(kustomization.contains("pvc.yaml"));

    let configmap: Value =
        yaml_serde::from_str(&std::fs::read_to_string(root.join("deploy/configmap.yaml")).unwrap())
            .unwrap();
    let config = configmap["data"]["tollgate.yaml"].as_str().unwrap();
    assert!(config.contains("notify:"));
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("tollgate.yaml"), config).unwrap();
    let ran = run(crate::common::tollgate().current_dir(dir.path()).args([
        "rules",
        "--config",
        "tollgate.yaml",
    ]));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}
