//! `tollgate scan fixtures/demo`: the demo GitOps repository gives exactly the findings below,
//! no more, no fewer. The demo plants each violation next to a clean twin (see
//! `fixtures/demo/README.md`), so a rule that fires on a twin or misses its plant fails here.
//!
//! Only the rules in [`CHECKED_RULES`] are compared, so that rules merged later do not break
//! this test before their findings are added to [`EXPECTED`].

use std::collections::BTreeSet;

use assert_cmd::Command;
use serde_json::Value;

/// Rules whose demo findings this test pins down.
const CHECKED_RULES: &[&str] = &[
    "manifest-parse-error",
    "suppression-reason-missing",
    "resource-requests",
    "resource-limits",
    "image-registry",
    "image-pinned",
    "plain-secret",
    "secret-ref-unmanaged",
    "velero-backup-coverage",
    "velero-schedule-policy",
    "velero-backup-stale",
    "env-isolation",
    "env-placement",
    "network-default-deny",
    "privileged-container",
    "privilege-escalation",
    "run-as-non-root",
    "read-only-root-fs",
    "host-namespaces",
    "host-path-volume",
    "liveness-probe",
    "readiness-probe",
];

/// Rules that cannot fire on files (they read live state), exempt from "fires at least once".
const LIVE_ONLY: &[&str] = &["velero-backup-stale"];

/// (rule, file under fixtures/demo, line, object, suppressed)
type Expected = (&'static str, &'static str, u64, Option<&'static str>, bool);

#[rustfmt::skip]
const EXPECTED: &[Expected] = &[
    ("manifest-parse-error", "clusters/dev-a/shop-dev/broken.yaml", 9, None, false),
    ("host-namespaces", "clusters/dev-a/shop-dev/debug-pod.yaml", 10, Some("Pod shop-dev/netshoot-debug"), false),
    ("privilege-escalation", "clusters/dev-a/shop-dev/debug-pod.yaml", 12, Some("Pod shop-dev/netshoot-debug"), false),
    ("run-as-non-root", "clusters/dev-a/shop-dev/debug-pod.yaml", 12, Some("Pod shop-dev/netshoot-debug"), false),
    ("privileged-container", "clusters/dev-a/shop-dev/debug-pod.yaml", 16, Some("Pod shop-dev/netshoot-debug"), false),
    ("host-path-volume", "clusters/dev-a/shop-dev/debug-pod.yaml", 25, Some("Pod shop-dev/netshoot-debug"), false),
    ("env-isolation", "clusters/dev-a/shop-dev/external-secrets.yaml", 25, Some("ExternalSecret shop-dev/payment-provider"), false),
    ("env-placement", "clusters/dev-a/shop-dev/feature-flags.yaml", 2, Some("ConfigMap shop-prod/feature-flags"), false),
    ("resource-limits", "clusters/dev-a/shop-dev/seed-job.yaml", 12, Some("Job shop-dev/seed-catalog"), false),
    ("resource-requests", "clusters/dev-a/shop-dev/seed-job.yaml", 12, Some("Job shop-dev/seed-catalog"), false),
    ("env-isolation", "clusters/dev-a/shop-dev/web-config.yaml", 8, Some("ConfigMap shop-dev/web-config"), false),
    ("liveness-probe", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("privilege-escalation", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("read-only-root-fs", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("readiness-probe", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("run-as-non-root", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("image-pinned", "clusters/dev-a/shop-dev/web.yaml", 18, Some("Deployment shop-dev/web"), false),
    ("suppression-reason-missing", "clusters/production/pay-prod/gateway.yaml", 9, Some("Deployment pay-prod/gateway"), false),
    ("env-isolation", "clusters/production/pay-prod/gateway.yaml", 34, Some("Deployment pay-prod/gateway"), false),
    ("secret-ref-unmanaged", "clusters/production/pay-prod/gateway.yaml", 42, Some("Deployment pay-prod/gateway"), false),
    ("plain-secret", "clusters/production/pay-prod/ledger-db-secret.yaml", 2, Some("Secret pay-prod/ledger-db"), false),
    ("network-default-deny", "clusters/production/pay-prod/namespace.yaml", 1, Some("Namespace pay-prod"), false),
    ("velero-backup-coverage", "clusters/production/pay-prod/namespace.yaml", 1, Some("Namespace pay-prod"), false),
    ("liveness-probe", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("privilege-escalation", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("read-only-root-fs", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("readiness-probe", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("run-as-non-root", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("image-pinned", "clusters/production/platform/kube-system.yaml", 17, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("image-registry", "clusters/production/platform/kube-system.yaml", 17, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("host-namespaces", "clusters/production/platform/node-exporter.yaml", 19, Some("DaemonSet monitoring/node-exporter"), true),
    ("host-namespaces", "clusters/production/platform/node-exporter.yaml", 20, Some("DaemonSet monitoring/node-exporter"), true),
    ("host-path-volume", "clusters/production/platform/node-exporter.yaml", 46, Some("DaemonSet monitoring/node-exporter"), true),
    ("host-path-volume", "clusters/production/platform/node-exporter.yaml", 48, Some("DaemonSet monitoring/node-exporter"), true),
    ("velero-schedule-policy", "clusters/production/search-prod/namespace.yaml", 1, Some("Namespace search-prod"), false),
    ("image-pinned", "clusters/production/shop-prod/api.yaml", 41, Some("Deployment shop-prod/api"), false),
    ("image-registry", "clusters/production/shop-prod/api.yaml", 41, Some("Deployment shop-prod/api"), false),
    ("resource-limits", "clusters/production/shop-prod/api.yaml", 52, Some("Deployment shop-prod/api"), false),
    ("resource-limits", "clusters/production/shop-prod/worker.yaml", 19, Some("Deployment shop-prod/worker"), false),
    ("resource-requests", "clusters/production/shop-prod/worker.yaml", 19, Some("Deployment shop-prod/worker"), true),
    ("image-pinned", "clusters/production/shop-prod/worker.yaml", 20, Some("Deployment shop-prod/worker"), false),
];

type Found = (String, String, u64, Option<String>, bool);

fn scan_demo() -> (Value, i32) {
    let output = Command::cargo_bin("tollgate")
        .unwrap()
        .args(["scan", "fixtures/demo", "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.code().unwrap_or(-1))
}

fn describe(object: &Value) -> Option<String> {
    let kind = object.get("kind")?.as_str()?;
    let name = object.get("name")?.as_str()?;
    Some(match object.get("namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    })
}

#[test]
fn demo_gives_exactly_the_planted_findings() {
    let (report, code) = scan_demo();
    assert_eq!(code, 1, "findings at or above medium fail the run");
    assert_eq!(report["errors"], Value::Array(Vec::new()));

    let found: BTreeSet<Found> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| CHECKED_RULES.contains(&f["rule"].as_str().unwrap()))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["file"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("fixtures/demo/")
                    .to_string(),
                f["line"].as_u64().unwrap(),
                describe(&f["object"]),
                !f["suppressed"].is_null(),
            )
        })
        .collect();
    let expected: BTreeSet<Found> = EXPECTED
        .iter()
        .map(|(rule, file, line, object, suppressed)| {
            (
                rule.to_string(),
                file.to_string(),
                *line,
                object.map(str::to_string),
                *suppressed,
            )
        })
        .collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    let unexpected: Vec<_> = found.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "\nmissing:    {missing:#?}\nunexpected: {unexpected:#?}"
    );

    for rule in CHECKED_RULES.iter().filter(|r| !LIVE_ONLY.contains(r)) {
        assert!(
            EXPECTED.iter().any(|(r, _, _, _, s)| r == rule && !s),
            "{rule} must fire (unsuppressed) somewhere in the demo"
        );
    }
}

#[test]
fn demo_never_prints_secret_values() {
    let (report, _) = scan_demo();
    let text = report.to_string();
    assert!(!text.contains("s3cr3t-do-not-commit"));
    let human = Command::cargo_bin("tollgate")
        .unwrap()
        .args([
            "scan",
            "fixtures/demo",
            "--format",
            "human",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("Secret pay-prod/ledger-db holds keys `password`, `username`"));
    assert!(!human.contains("s3cr3t-do-not-commit"));
}
