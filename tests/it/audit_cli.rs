//! Black-box tests of `tollgate audit`: the real binary against fake API servers over HTTPS on
//! 127.0.0.1, with generated CAs and a kubeconfig written after binding.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use fakeapi::{ADMIN_TOKEN, FakeCluster, HttpsServer, Kubeconfig};
use serde_json::{Value, json};
use support::*;
use tempfile::TempDir;

/// Two reachable clusters (production: the fixture, dev-a: one Deployment) and a context
/// whose server refuses connections.
struct Fleet {
    _servers: Vec<HttpsServer>,
    dir: TempDir,
    kubeconfig: PathBuf,
}

fn fleet() -> Fleet {
    let production = HttpsServer::start(fixture_cluster().build()).unwrap();
    let mut dev = FakeCluster::new();
    dev.add(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop-dev"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
        .unwrap();
    let dev = HttpsServer::start(dev.build()).unwrap();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut kubeconfig = Kubeconfig::new();
    production.add_context(&mut kubeconfig, "production", ADMIN_TOKEN);
    dev.add_context(&mut kubeconfig, "dev-a", ADMIN_TOKEN);
    kubeconfig
        .cluster(
            "gone",
            &format!("https://127.0.0.1:{closed_port}"),
            Some(production.ca_pem()),
        )
        .user("gone", ADMIN_TOKEN)
        .context("gone", "gone", "gone");
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("kubeconfig");
    kubeconfig.write(&path).unwrap();
    Fleet {
        _servers: vec![production, dev],
        dir,
        kubeconfig: path,
    }
}

fn tollgate(fleet: &Fleet) -> Command {
    let mut cmd = crate::common::tollgate();
    cmd.env("NO_COLOR", "1")
        .args(["audit", "--config", CONFIG_FIXTURE, "--kubeconfig"])
        .arg(&fleet.kubeconfig);
    cmd
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn clusters_of(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cluster"].as_str().unwrap().to_string())
        .collect()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn audits_several_contexts_over_https_into_every_format() {
    let fleet = fleet();
    let json_path = fleet.dir.path().join("audit.json");
    let sarif_path = fleet.dir.path().join("audit.sarif");
    let output = tollgate(&fleet)
        .args([
            "--context",
            "production",
            "--context",
            "dev-a",
            "-f",
            "json",
            "-o",
        ])
        .arg(&json_path)
        .args(["-f", "sarif", "-o"])
        .arg(&sarif_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report = read_json(&json_path);
    assert_eq!(report["summary"]["clusters"], 2);
    assert_eq!(report["errors"], json!([]));
    assert_eq!(
        clusters_of(&report),
        BTreeSet::from(["dev-a".to_string(), "production".to_string()])
    );
    assert!(text(&output).contains("in 2 clusters"), "{}", text(&output));

    let sarif = read_json(&sarif_path);
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/schemas/sarif-schema-2.1.0.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    let uris: BTreeSet<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        uris.contains("k8s://production/shop-prod/Deployment/api"),
        "{uris:?}"
    );
    assert!(
        uris.contains("k8s://dev-a/shop-dev/Deployment/web"),
        "{uris:?}"
    );
}

#[test]
fn an_unreachable_context_exits_2_and_the_others_are_still_reported() {
    let fleet = fleet();
    let json_path = fleet.dir.path().join("audit.json");
    let output = tollgate(&fleet)
        .args([
            "--all-contexts",
            "--request-timeout",
            "5s",
            "-f",
            "json",
            "-o",
        ])
        .arg(&json_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let report = read_json(&json_path);
    assert_eq!(
        clusters_of(&report),
        BTreeSet::from(["dev-a".to_string(), "production".to_string()])
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["level"], "error");
    assert_eq!(errors[0]["path"], "gone");
    assert!(text(&output).contains("error: gone: cannot audit this cluster"));
}

#[test]
fn no_secret_value_reaches_any_output() {
    let fleet = fleet();
    let json_path = fleet.dir.path().join("audit.json");
    let sarif_path = fleet.dir.path().join("audit.sarif");
    let baseline_path = fleet.dir.path().join("baseline.json");
    let output = tollgate(&fleet)
        .args([
            "--context",
            "production",
            "--include-owned",
            "-f",
            "human",
            "-f",
            "json",
            "-o",
        ])
        .arg(&json_path)
        .args(["-f", "sarif", "-o"])
        .arg(&sarif_path)
        .arg("--write-baseline")
        .arg(&baseline_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_no_secret_values(&text(&output), "the terminal output");
    for path in [&json_path, &sarif_path, &baseline_path] {
        assert_no_secret_values(&std::fs::read_to_string(path).unwrap(), "a report");
    }
}

#[test]
fn a_baseline_written_by_one_audit_suppresses_the_next() {
    let fleet = fleet();
    let baseline = fleet.dir.path().join("baseline.json");
    let first = tollgate(&fleet)
        .args(["--context", "production", "-f", "json", "--write-baseline"])
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let second = tollgate(&fleet)
        .args(["--context", "production", "-f", "json", "--baseline"])
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["summary"]["active"], 0);
    assert!(report["summary"]["suppressed"].as_u64().unwrap() > 0);
}

#[test]
fn in_cluster_without_a_service_account_is_an_error() {
    let fleet = fleet();
    let output = crate::common::tollgate()
        .args([
            "audit",
            "--in-cluster",
            "--context",
            "production",
            "--config",
            CONFIG_FIXTURE,
        ])
        .output()
        .unwrap();
    drop(fleet);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("error: production: cannot connect: no in-cluster configuration"),
        "{}",
        text(&output)
    );
}

#[test]
fn an_unreadable_kubeconfig_is_an_error() {
    let output = crate::common::tollgate()
        .args([
            "audit",
            "--kubeconfig",
            "does/not/exist",
            "--config",
            CONFIG_FIXTURE,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("cannot read kubeconfig does/not/exist"));
}

#[test]
fn unknown_context_is_an_error_for_that_context() {
    let fleet = fleet();
    let output = tollgate(&fleet)
        .args(["--context", "dev-a", "--context", "staging", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(clusters_of(&report), BTreeSet::from(["dev-a".to_string()]));
    assert_eq!(report["errors"][0]["path"], "staging");
}

/// kubectl (when installed) reads the same objects from the fake as tollgate: the fake is
/// faithful enough for a real client, and tollgate misses nothing it lists.
#[test]
fn kubectl_and_tollgate_see_the_same_objects() {
    let kubectl_present = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !kubectl_present {
        crate::common::skip_unless_ci("kubectl is not installed: cross-check skipped");
        return;
    }
    let fleet = fleet();
    let resources = "namespaces,deployments.apps,statefulsets.apps,cronjobs.batch,services,configmaps,secrets,clusterroles.rbac.authorization.k8s.io,schedules.velero.io,backups.velero.io,externalsecrets.external-secrets.io";
    let output = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&fleet.kubeconfig)
        .args([
            "--context",
            "production",
            "get",
            resources,
            "-A",
            "-o",
            "name",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let from_kubectl: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();

    // The same through tollgate's kubeconfig loading, TLS and HTTP stack.
    tollgate::tls::install_crypto_provider();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fetched = runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(&fleet.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions {
                context: Some("production".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        tollgate::source::cluster::fetch(
            &client,
            "production",
            &tollgate::source::cluster::ClusterOptions::default(),
        )
        .await
    });
    assert!(fetched.notices.is_empty(), "{:?}", fetched.notices);
    let from_tollgate: BTreeSet<String> = fetched
        .objects
        .iter()
        .filter(|o| o.kind != "Role" && o.kind != "RoleBinding")
        .map(|o| {
            let kind = o.kind.to_ascii_lowercase();
            match o.group() {
                "" => format!("{kind}/{}", o.name),
                group => format!("{kind}.{group}/{}", o.name),
            }
        })
        .collect();
    assert_eq!(from_kubectl, from_tollgate);
}

/// The nightly CronJob and its RBAC follow the rules they enforce.
#[test]
fn the_deploy_manifests_pass_tollgate_itself() {
    let output = crate::common::tollgate()
        .args(["scan", "deploy", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["active"], 0, "{report:#}");
    assert!(report["summary"]["objects"].as_u64().unwrap() >= 8);
}

#[test]
fn all_contexts_and_named_contexts_exclude_each_other() {
    let output = crate::common::tollgate()
        .args(["audit", "--all-contexts", "--context", "production"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("cannot be used with"),
        "{}",
        text(&output)
    );
}
