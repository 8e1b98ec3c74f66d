//! Reproductions distilled from public GitOps repositories (`fixtures/real-world/<case>/`), each
//! scanned end to end from the CLI the way a user runs it: from inside the case's folder, with
//! the folder's own `tollgate.yaml`. Each test states what a platform engineer expects there.

use crate::common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// The JSON report of `tollgate scan .` run inside `fixtures/real-world/<case>`.
fn scan_case(case: &str) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/real-world")
        .join(case);
    let out = tollgate()
        .current_dir(&dir)
        .args(["scan", ".", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{case}: {}", stderr(&out));
    let report = json(&out);
    assert!(
        report["errors"].as_array().is_none_or(Vec::is_empty),
        "{case}: {}",
        report["errors"]
    );
    report
}

/// The findings of `rule` in a report.
fn of_rule<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn message(finding: &Value) -> &str {
    finding["message"].as_str().unwrap()
}

#[test]
fn r5_sops_encrypted_secret_is_not_plain() {
    let report = scan_case("r5-sops-secret");
    assert!(of_rule(&report, "plain-secret").is_empty(), "{report:#}");
}

#[test]
fn r6_deploy_time_reference_is_not_plain() {
    let report = scan_case("r6-op-reference");
    assert!(of_rule(&report, "plain-secret").is_empty(), "{report:#}");
}

#[test]
fn r7_plaintext_beside_its_sealed_secret_is_the_worst_kind() {
    let report = scan_case("r7-plain-beside-sealed");
    let found = of_rule(&report, "plain-secret");
    assert_eq!(found.len(), 1, "{report:#}");
    let finding = found[0];
    assert_eq!(finding["file"], "secrets.yml");
    assert_eq!(finding["severity"], "critical");
    assert_eq!(finding["object"]["name"], "main");
    let text = message(finding);
    assert!(text.contains("SealedSecret postgres/main"), "{text}");
    assert!(text.contains("`POSTGRES_PASSWORD`"), "{text}");
    // Never the value, encoded or decoded.
    let whole = report.to_string();
    assert!(
        !whole.contains("MTIzNDU2") && !whole.contains("123456"),
        "{whole}"
    );
}

#[test]
fn r15_allow_all_cilium_policy_isolates_nothing() {
    let report = scan_case("r15-cilium-allow-all");
    let found = of_rule(&report, "network-default-deny");
    assert_eq!(found.len(), 1, "{report:#}");
    assert!(
        message(found[0]).contains("gitea-prod"),
        "{}",
        message(found[0])
    );
}

#[test]
fn r9_cilium_and_same_namespace_isolation_are_default_deny() {
    let report = scan_case("r9-cilium-hardened");
    assert!(
        of_rule(&report, "network-default-deny").is_empty(),
        "{report:#}"
    );
}

/// Warnings of a JSON report as `(path, line, message)`.
fn warnings(report: &Value) -> Vec<(String, u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["level"] == "warning")
        .map(|n| {
            (
                n["path"].as_str().unwrap_or("").to_string(),
                n["line"].as_u64().unwrap_or(0),
                n["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn cilium_policy_with_unknown_fields_is_a_warning_at_its_line() {
    let dir = tree(&[
        ("tollgate.yaml", "network: {require_default_deny: [prod]}\n"),
        (
            "policies.yaml",
            "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: typo, namespace: shop-prod}
spec:
  endpointSelector: {}
  ingress:
    - fromEndpoint:
        - matchLabels: {app: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-prod}
spec:
  template:
    spec: {containers: [{name: web, image: nginx}]}
",
        ),
    ]);
    let out = tollgate()
        .current_dir(dir.path())
        .args(["scan", ".", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let warned = warnings(&report);
    assert!(
        warned
            .iter()
            .any(|(path, line, message)| path == "policies.yaml"
                && *line == 7
                && message.contains("unknown field `fromEndpoint`")),
        "{warned:?}"
    );
    // Pruned by the API server, the rule is `{}`: Cilium's deny-all. Judged that way.
    assert!(
        of_rule(&report, "network-default-deny").is_empty(),
        "{report:#}"
    );
}

#[test]
fn r8_daily_and_weekly_schedules_are_judged_together() {
    let report = scan_case("r8-velero-gfs");
    assert!(
        of_rule(&report, "velero-schedule-policy").is_empty(),
        "{report:#}"
    );
    assert!(
        of_rule(&report, "velero-backup-coverage").is_empty(),
        "{report:#}"
    );
}

#[test]
fn malformed_role_rule_is_a_warning_at_its_line() {
    let dir = tree(&[(
        "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: broken, namespace: shop-prod}
rules:
  - apiGroups: [\"\"]
    resources: secrets
    verbs: [create]
  - just-a-string
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: broken, namespace: shop-prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: broken}
subjects: [{kind: ServiceAccount, name: default}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-prod}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
          envFrom: [{secretRef: {name: web-env}}]
",
    )]);
    let out = tollgate()
        .current_dir(dir.path())
        .args(["scan", ".", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let warned = warnings(&report);
    for line in [6, 8] {
        assert!(
            warned.iter().any(|(path, l, message)| path == "rbac.yaml"
                && *l == line
                && message.contains("Role shop-prod/broken")),
            "line {line}: {warned:?}"
        );
    }
    // The broken rule grants nothing, so the reference is still unmanaged, and says what was
    // searched.
    let found = of_rule(&report, "secret-ref-unmanaged");
    assert_eq!(found.len(), 1, "{report:#}");
    assert!(
        message(found[0]).contains("ServiceAccount"),
        "{}",
        message(found[0])
    );
}

#[test]
fn unparsable_limit_range_quantity_is_a_warning_at_its_line() {
    let dir = tree(&[(
        "limits.yaml",
        "apiVersion: v1
kind: LimitRange
metadata: {name: bounds, namespace: shop-prod}
spec:
  limits:
    - type: Container
      default: {memory: lots}
      max: {memory: 1Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-prod}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
          resources: {requests: {memory: 2Gi, cpu: 100m}}
",
    )]);
    let out = tollgate()
        .current_dir(dir.path())
        .args(["scan", ".", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let warned = warnings(&report);
    assert!(
        warned
            .iter()
            .any(|(path, line, message)| path == "limits.yaml"
                && *line == 7
                && message.contains("not a quantity")),
        "{warned:?}"
    );
    // The readable `max` still counts: it is the default limit, below the 2Gi request.
    let found = of_rule(&report, "resource-limits");
    assert!(
        found.iter().any(
            |f| message(f).contains("inherits the default memory limit 1Gi")
                && f["severity"] == "high"
        ),
        "{report:#}"
    );
}
