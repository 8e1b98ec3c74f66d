//! `tollgate scan fixtures/demo`: the demo GitOps repository gives exactly the findings below,
//! no more, no fewer. The demo plants each violation next to a clean twin (see
//! `fixtures/demo/README.md`), so a rule that fires on a twin or misses its plant fails here.
//!
//! Only the rules in [`CHECKED_RULES`] are compared, so that rules merged later do not break
//! this test before their findings are added to [`EXPECTED`].

use std::collections::BTreeSet;

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
    "pss-capabilities-restricted",
    "pss-seccomp-restricted",
    "rbac-cross-env-subject",
    "rbac-secret-read",
    "service-account-token-automount",
];

/// Rules that cannot fire on files (they read live state), exempt from "fires at least once".
const LIVE_ONLY: &[&str] = &["velero-backup-stale"];

/// (rule, file under fixtures/demo, line, object, suppressed)
type Expected = (&'static str, &'static str, u64, Option<&'static str>, bool);

#[rustfmt::skip]
const EXPECTED: &[Expected] = &[
    // The GitOps model: the base is deployed twice (Argo CD → production, Flux → dev-a); each
    // finding points at the overlay line that produced the value.
    ("image-registry", "apps/catalog/overlays/dev/kustomization.yaml", 7, Some("Deployment catalog-dev/catalog"), false),
    ("plain-secret", "apps/catalog/overlays/dev/kustomization.yaml", 16, Some("Secret catalog-dev/catalog-db"), false),
    ("env-isolation", "apps/catalog/overlays/prod/kustomization.yaml", 15, Some("ConfigMap catalog-prod/catalog-config"), false),
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
    ("image-pinned", "clusters/production/shop-prod/worker.yaml", 20, Some("Deployment shop-prod/worker"), false),    // Pod Security Standards (restricted), RBAC and ServiceAccount tokens.
    ("service-account-token-automount", "clusters/dev-a/shop-dev/debug-pod.yaml", 8, Some("Pod shop-dev/netshoot-debug"), false),
    ("pss-capabilities-restricted", "clusters/dev-a/shop-dev/debug-pod.yaml", 12, Some("Pod shop-dev/netshoot-debug"), false),
    ("pss-seccomp-restricted", "clusters/dev-a/shop-dev/debug-pod.yaml", 12, Some("Pod shop-dev/netshoot-debug"), false),
    ("service-account-token-automount", "clusters/dev-a/shop-dev/seed-job.yaml", 9, Some("Job shop-dev/seed-catalog"), false),
    ("pss-capabilities-restricted", "clusters/dev-a/shop-dev/seed-job.yaml", 12, Some("Job shop-dev/seed-catalog"), false),
    ("pss-seccomp-restricted", "clusters/dev-a/shop-dev/seed-job.yaml", 12, Some("Job shop-dev/seed-catalog"), false),
    ("service-account-token-automount", "clusters/dev-a/shop-dev/web.yaml", 15, Some("Deployment shop-dev/web"), false),
    ("pss-capabilities-restricted", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("pss-seccomp-restricted", "clusters/dev-a/shop-dev/web.yaml", 17, Some("Deployment shop-dev/web"), false),
    ("service-account-token-automount", "clusters/production/orders-prod/api.yaml", 17, Some("Deployment orders-prod/orders-api"), false),
    ("service-account-token-automount", "clusters/production/pay-prod/gateway.yaml", 19, Some("Deployment pay-prod/gateway"), false),
    ("service-account-token-automount", "clusters/production/pay-prod/ledger.yaml", 18, Some("StatefulSet pay-prod/ledger"), false),
    ("pss-capabilities-restricted", "clusters/production/pay-prod/ledger.yaml", 23, Some("StatefulSet pay-prod/ledger"), false),
    ("pss-seccomp-restricted", "clusters/production/pay-prod/ledger.yaml", 23, Some("StatefulSet pay-prod/ledger"), false),
    ("rbac-cross-env-subject", "clusters/production/pay-prod/rbac.yaml", 13, Some("RoleBinding pay-prod/dev-ci-deploy"), false),
    ("rbac-secret-read", "clusters/production/pay-prod/rbac.yaml", 13, Some("RoleBinding pay-prod/dev-ci-deploy"), false),
    ("service-account-token-automount", "clusters/production/platform/kube-system.yaml", 14, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("pss-capabilities-restricted", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("pss-seccomp-restricted", "clusters/production/platform/kube-system.yaml", 16, Some("DaemonSet kube-system/svclb-traefik"), true),
    ("service-account-token-automount", "clusters/production/platform/node-exporter.yaml", 18, Some("DaemonSet monitoring/node-exporter"), false),
    ("pss-capabilities-restricted", "clusters/production/platform/node-exporter.yaml", 25, Some("DaemonSet monitoring/node-exporter"), false),
    ("pss-seccomp-restricted", "clusters/production/platform/node-exporter.yaml", 25, Some("DaemonSet monitoring/node-exporter"), false),
    ("service-account-token-automount", "clusters/production/search-prod/exporter.yaml", 17, Some("Deployment search-prod/es-exporter"), false),
    ("pss-capabilities-restricted", "clusters/production/search-prod/exporter.yaml", 21, Some("Deployment search-prod/es-exporter"), false),
    ("pss-seccomp-restricted", "clusters/production/search-prod/exporter.yaml", 21, Some("Deployment search-prod/es-exporter"), false),
    ("pss-capabilities-restricted", "clusters/production/secure-prod/report-export.yaml", 15, Some("Pod secure-prod/report-export"), false),
    ("pss-seccomp-restricted", "clusters/production/secure-prod/report-export.yaml", 15, Some("Pod secure-prod/report-export"), false),
    ("service-account-token-automount", "clusters/production/shop-prod/api.yaml", 17, Some("Deployment shop-prod/api"), false),
    ("pss-capabilities-restricted", "clusters/production/shop-prod/api.yaml", 22, Some("Deployment shop-prod/api"), false),
    ("pss-seccomp-restricted", "clusters/production/shop-prod/api.yaml", 22, Some("Deployment shop-prod/api"), false),
    ("pss-capabilities-restricted", "clusters/production/shop-prod/api.yaml", 40, Some("Deployment shop-prod/api"), false),
    ("pss-seccomp-restricted", "clusters/production/shop-prod/api.yaml", 40, Some("Deployment shop-prod/api"), false),
    ("service-account-token-automount", "clusters/production/shop-prod/worker.yaml", 17, Some("Deployment shop-prod/worker"), false),
    ("pss-capabilities-restricted", "clusters/production/shop-prod/worker.yaml", 19, Some("Deployment shop-prod/worker"), false),
    ("pss-seccomp-restricted", "clusters/production/shop-prod/worker.yaml", 19, Some("Deployment shop-prod/worker"), false),
];

type Found = (String, String, u64, Option<String>, bool);

fn scan_demo() -> (Value, i32) {
    let output = crate::common::tollgate()
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

/// secure-prod enforces the restricted Pod Security Standard: its pod that misses a seccomp
/// profile and dropped capabilities is reported as rejected by admission, at high severity.
#[test]
fn demo_names_the_pod_admission_would_reject() {
    let (report, _) = scan_demo();
    let rejected: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| describe(&f["object"]).as_deref() == Some("Pod secure-prod/report-export"))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    for f in rejected {
        assert_eq!(f["severity"], "high");
        assert!(
            f["message"].as_str().unwrap().ends_with(
                "rejected by Pod Security admission in namespace secure-prod (enforce=restricted, enforce-version=latest)"
            ),
            "{f}"
        );
    }
    // Its clean twin passes every Pod Security rule.
    let twin = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| describe(&f["object"]).as_deref() == Some("Deployment secure-prod/portal"))
        .count();
    assert_eq!(twin, 0);
}

#[test]
fn demo_never_prints_secret_values() {
    let (report, _) = scan_demo();
    let text = report.to_string();
    assert!(!text.contains("s3cr3t-do-not-commit"));
    let human = crate::common::tollgate()
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
    // A secretGenerator literal is reported at its line, its value masked there.
    assert!(human.contains("Secret catalog-dev/catalog-db holds key `password`"));
    assert!(!human.contains("catalog-dev-only") && !text.contains("catalog-dev-only"));
}

/// The demo as the clusters see it: one base, two instances in two clusters, each with the
/// namespace its deploy gives it, and fingerprints that tell them apart.
#[test]
fn demo_base_reaches_both_clusters_as_two_instances() {
    let (report, _) = scan_demo();
    let catalog: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["file"].as_str().unwrap().contains("apps/catalog/"))
        .collect();
    let namespaces: BTreeSet<&str> = catalog
        .iter()
        .filter_map(|f| f["object"]["namespace"].as_str())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["catalog-dev", "catalog-prod"]));
    let fingerprints: BTreeSet<&str> = catalog
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), catalog.len());
    // Build files are instructions, not objects: nothing is reported on them as objects.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["object"]["kind"] != "Kustomization"
                || f["object"]["apiVersion"] != "kustomize.config.k8s.io/v1beta1")
    );
}
