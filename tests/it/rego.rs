//! Rego policies end to end: conftest policies and Gatekeeper templates run unchanged, their
//! findings are ordinary findings, and broken or slow policies are reported without stopping
//! the scan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tollgate::rego::PolicyOptions;
use tollgate::rego::testing::{Outcome, TestOptions};
use tollgate::scan::{RunOptions, ScanOptions, ScanOutcome, scan};

fn options(paths: &[&str], policies: &[&str]) -> ScanOptions {
    ScanOptions {
        paths: paths.iter().map(PathBuf::from).collect(),
        run: RunOptions {
            policy: PolicyOptions {
                dirs: policies.iter().map(PathBuf::from).collect(),
                default_policies: false,
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `(rule, line, severity, message)` of every finding from a policy (built-in rules left out).
fn findings(outcome: &ScanOutcome) -> BTreeSet<(String, u32, String, String)> {
    let builtin: BTreeSet<&str> = tollgate::rules::REGISTRY
        .iter()
        .map(|r| r.meta().id)
        .collect();
    outcome
        .findings
        .iter()
        .filter(|f| !builtin.contains(f.rule.as_str()))
        .map(|f| {
            (
                f.rule.clone(),
                f.location.line().unwrap_or(0),
                f.severity.to_string(),
                f.message.clone(),
            )
        })
        .collect()
}

fn set(items: &[(&str, u32, &str, &str)]) -> BTreeSet<(String, u32, String, String)> {
    items
        .iter()
        .map(|(r, l, s, m)| (r.to_string(), *l, s.to_string(), m.to_string()))
        .collect()
}

const CONFTEST: &str = "fixtures/rego/conftest";

#[test]
fn conftest_policies_run_unchanged() {
    let outcome = scan(
        &options(
            &["fixtures/rego/conftest/manifests.yaml"],
            &["fixtures/rego/conftest/policy"],
        ),
        Vec::new(),
    )
    .unwrap();
    assert!(outcome.notices.is_empty(), "{:?}", outcome.notices);
    assert_eq!(
        findings(&outcome),
        set(&[
            (
                "main.deny",
                1,
                "high",
                "Containers must not run as root in Deployment web"
            ),
            (
                "main.deny",
                1,
                "high",
                "Deployment web must provide app/release labels for pod selectors"
            ),
            (
                "main.deny_latest_tag",
                1,
                "high",
                "container web uses the latest tag"
            ),
            (
                "main.violation",
                1,
                "high",
                "container web has no memory limit"
            ),
            (
                "K8S-PRIV-001",
                15,
                "high",
                "Deployment web uses the host network"
            ),
            (
                "main.warn",
                46,
                "low",
                "Service web is of type LoadBalancer"
            ),
        ])
    );
    // Result-carried ids become rules of the report.
    assert!(outcome.rules.iter().any(|r| r.id == "K8S-PRIV-001"));
    assert!(outcome.rules.iter().any(|r| r.id == "main.deny_latest_tag"));
}

#[test]
fn conftest_namespaces_select_packages() {
    let mut o = options(
        &["fixtures/rego/conftest/manifests.yaml"],
        &[
            "fixtures/rego/conftest/policy",
            "fixtures/rego/conftest/extra",
        ],
    );
    o.run.policy.namespaces = vec!["kubernetes.*".into()];
    let only_extra = findings(&scan(&o, Vec::new()).unwrap());
    assert_eq!(
        only_extra,
        set(&[("KSV-017", 1, "critical", "container web is privileged")])
    );
    o.run.policy.namespaces.clear();
    o.run.policy.all_namespaces = true;
    let all = findings(&scan(&o, Vec::new()).unwrap());
    assert_eq!(all.len(), 7, "{all:?}");
}

#[test]
fn rego_v0_can_be_forced() {
    let mut o = options(
        &["fixtures/rego/conftest/manifests.yaml"],
        &["fixtures/rego/conftest/policy"],
    );
    o.run.policy.rego_v0 = true;
    assert_eq!(findings(&scan(&o, Vec::new()).unwrap()).len(), 6);
}

#[test]
fn gatekeeper_suites_pass() {
    let results = tollgate::rego::testing::run(
        &TestOptions {
            paths: vec![PathBuf::from("fixtures/rego/gatekeeper")],
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
        Path::new("."),
    )
    .unwrap();
    assert_eq!(results.len(), 16);
    let failed: Vec<_> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn gatekeeper_constraints_report_on_manifests() {
    let outcome = scan(
        &options(
            &["fixtures/rego/manifests/gatekeeper.yaml"],
            &["fixtures/rego/gatekeeper"],
        ),
        Vec::new(),
    )
    .unwrap();
    let found = findings(&outcome);
    let expected = set(&[
        (
            "K8sRequiredLabels/all-must-have-owner",
            1,
            "high",
            "All namespaces must have an `owner` label that points to your company username",
        ),
        (
            "K8sAllowedRepos/repo-is-harbor",
            14,
            "high",
            "container <web> has an invalid image repo <nginx:1.27>, allowed repos are [\"harbor.example.com/\"]",
        ),
        (
            "K8sPSPPrivilegedContainer/psp-privileged-container",
            14,
            "high",
            "Privileged container is not allowed: web, securityContext: {\"privileged\": true}",
        ),
        (
            "K8sContainerLimits/container-must-have-limits",
            28,
            "low",
            "container <agent> has no resource limits",
        ),
        (
            "K8sBlockNodePort/block-node-port",
            40,
            "high",
            "User is not allowed to create service of type NodePort",
        ),
        (
            "K8sUniqueIngressHost/unique-ingress-host",
            49,
            "high",
            "Ingress host conflicts with an existing Ingress <shop.example.com>",
        ),
        (
            "K8sUniqueIngressHost/unique-ingress-host",
            58,
            "high",
            "Ingress host conflicts with an existing Ingress <shop.example.com>",
        ),
    ]);
    assert_eq!(found, expected);
    let rule = outcome
        .rules
        .iter()
        .find(|r| r.id == "K8sBlockNodePort/block-node-port")
        .unwrap();
    assert!(
        rule.doc
            .contains("Disallows all Services with type NodePort")
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_policy_that_does_not_compile_stops_the_run_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "broken.rego",
        "package main\nimport rego.v1\n\ndeny contains msg if {\n  msg := \n}\n",
    );
    let policy = dir.path().to_string_lossy().to_string();
    let error = scan(&options(&[CONFTEST], &[&policy]), Vec::new()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("broken.rego:5:"), "{text}");

    let assert = crate::common::tollgate()
        .args([
            "scan",
            "fixtures/rego/conftest/manifests.yaml",
            "--policy",
            &policy,
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("broken.rego:5"), "{stderr}");
}

#[test]
fn unknown_and_recursive_functions_do_not_compile() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.rego",
        "package main\nimport rego.v1\n\ndeny contains msg if {\n  msg := strings.render_template(\"{{.x}}\", {})\n}\n",
    );
    let policy = dir.path().to_string_lossy().to_string();
    let text = scan(&options(&[CONFTEST], &[&policy]), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("p.rego:5:10") && text.contains("strings.render_template"),
        "{text}"
    );

    write(
        dir.path(),
        "p.rego",
        "package main\nimport rego.v1\n\ndepth(n) := depth(n + 1)\ndeny contains depth(1) if true\n",
    );
    let text = scan(&options(&[CONFTEST], &[&policy]), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("p.rego:4:1") && text.contains("recursive"),
        "{text}"
    );
}

#[test]
fn failing_and_runaway_policies_are_reported_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.rego",
        r#"package main
import rego.v1

# Two values for one complete rule on Deployment "legacy": an evaluation error.
conflict := 1 if input.metadata.name == "legacy"
conflict := 2 if input.metadata.name == "legacy"

deny contains "conflict" if conflict

# A runaway comprehension on the Service only.
warn contains msg if {
	input.kind == "Service"
	n := count([x | some i in numbers.range(1, 4000); some j in numbers.range(1, 4000); x := i + j])
	msg := sprintf("%d", [n])
}

deny_seen contains sprintf("%s %s seen", [input.kind, input.metadata.name]) if true
"#,
    );
    write(dir.path(), "tollgate.yaml", "rego:\n  timeout: 200ms\n");
    let policy = dir.path().to_string_lossy().to_string();
    let mut o = options(&["fixtures/rego/conftest/manifests.yaml"], &[&policy]);
    o.run.config = Some(dir.path().join("tollgate.yaml"));
    let started = std::time::Instant::now();
    let outcome = scan(&o, Vec::new()).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let messages: Vec<String> = outcome.notices.iter().map(|n| n.to_string()).collect();
    assert!(
        messages.iter().any(|m| m
            .contains("policy `package main` failed on Deployment shop-dev/legacy")
            && m.starts_with("warning: fixtures/rego/conftest/manifests.yaml:22:")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("time limit") && m.contains("Service shop-dev/web")),
        "{messages:#?}"
    );
    assert!(
        outcome.has_errors(),
        "a stopped policy's findings are missing: the run is incomplete"
    );
    // The package's other rules still report on every object, the failing ones included.
    let seen: BTreeSet<String> = outcome
        .findings
        .iter()
        .filter(|f| f.message.ends_with(" seen"))
        .map(|f| f.message.clone())
        .collect();
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn data_files_and_secret_redaction() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.rego",
        r#"package main
import rego.v1

deny contains msg if {
	input.kind == "Secret"
	some key, value in input.data
	msg := sprintf("%s holds %s (%s)", [key, value, base64.decode(value)])
}

deny contains msg if {
	input.kind == "ConfigMap"
	not input.metadata.labels.team in data.teams
	msg := sprintf("ConfigMap %s has no known team", [input.metadata.name])
}
"#,
    );
    write(dir.path(), "teams.yaml", "teams: [payments]\n");
    write(
        dir.path(),
        "m.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: aHVudGVyMg==\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    team: shop\n",
    );
    let policy = dir.path().join("p.rego").to_string_lossy().to_string();
    let manifests = dir.path().join("m.yaml").to_string_lossy().to_string();
    let mut o = options(&[&manifests], &[&policy]);
    o.run.policy.data_files = vec![dir.path().join("teams.yaml")];
    let outcome = scan(&o, Vec::new()).unwrap();
    let messages: BTreeSet<String> = findings(&outcome).into_iter().map(|f| f.3).collect();
    // Policies see a Secret's keys, not its values.
    assert_eq!(
        messages,
        BTreeSet::from([
            "password holds  ()".to_string(),
            "ConfigMap c has no known team".to_string(),
        ])
    );
    // Opted in: the values are there, and redacted from messages.
    write(
        dir.path(),
        "tollgate.yaml",
        "rego:\n  secret_values: true\n",
    );
    o.run.config = Some(dir.path().join("tollgate.yaml"));
    let outcome = scan(&o, Vec::new()).unwrap();
    let messages: BTreeSet<String> = findings(&outcome).into_iter().map(|f| f.3).collect();
    assert_eq!(
        messages,
        BTreeSet::from([
            "password holds <redacted> (<redacted>)".to_string(),
            "ConfigMap c has no known team".to_string(),
        ])
    );
}

#[test]
fn native_policies_from_a_directory_with_a_metadata_rule() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "replicas.rego",
        r#"package tollgate.single_replica
import rego.v1

metadata := {
	"id": "single-replica",
	"title": "Deployment with one replica",
	"severity": "low",
	"remediation": "Run two replicas.",
}

deny contains {"msg": "one replica", "path": ["spec", "replicas"]} if {
	input.object.kind == "Deployment"
	input.object.spec.replicas == 1
	input.environment == "prod"
}
"#,
    );
    write(
        dir.path(),
        "m.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\nspec:\n  replicas: 1\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\n  annotations:\n    ignore.tollgate.dev/single-replica: \"batch service\"\nspec:\n  replicas: 1\n",
    );
    let policy = dir
        .path()
        .join("replicas.rego")
        .to_string_lossy()
        .to_string();
    let manifests = dir.path().join("m.yaml").to_string_lossy().to_string();
    let outcome = scan(&options(&[&manifests], &[&policy]), Vec::new()).unwrap();
    let ours: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.rule == "single-replica")
        .collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(ours[0].location.line(), Some(7));
    assert_eq!(ours[0].severity.to_string(), "low");
    assert_eq!(ours[0].remediation, "Run two replicas.");
    assert_eq!(ours[0].pointer, "/spec/replicas");
    assert!(ours[0].is_active());
    assert!(!ours[1].is_active(), "the annotation suppresses it");
    let info = outcome
        .rules
        .iter()
        .find(|r| r.id == "single-replica")
        .unwrap();
    assert_eq!(info.title, "Deployment with one replica");
}

#[test]
fn a_user_policy_replaces_the_shipped_one_of_its_package() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ingress.rego",
        "package tollgate.ingress_tls\nimport rego.v1\n\ndeny contains \"mine\" if input.object.kind == \"Ingress\"\n",
    );
    let policy = dir.path().to_string_lossy().to_string();
    let mut o = options(&["policies/ingress-tls/fixtures/pass.yaml"], &[&policy]);
    o.run.policy.default_policies = true;
    o.run.select = vec!["ingress-tls".into()];
    let outcome = scan(&o, Vec::new()).unwrap();
    assert!(outcome.findings.iter().all(|f| f.message == "mine"));
    assert_eq!(outcome.findings.len(), 2);
    assert!(outcome.notices.iter().any(|n| {
        n.message
            .contains("shipped:policies/ingress-tls/policy.rego is replaced")
    }));
}

#[test]
fn shipped_policies_are_rules_with_docs_in_every_report() {
    let out = crate::common::tollgate()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: BTreeSet<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "ingress-tls",
        "cert-manager-issuer-env",
        "adminer-exposed",
        "argocd-app-env",
        "pdb-missing",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    for rule in rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["source"].as_str().unwrap().starts_with("shipped:"))
    {
        let doc = rule["doc"].as_str().unwrap();
        for heading in [
            "### Why",
            "### Failing example",
            "### Passing example",
            "### Remediation",
        ] {
            assert!(doc.contains(heading), "{}: docs lack {heading}", rule["id"]);
        }
    }
    let out = crate::common::tollgate()
        .args(["rules", "--format", "json", "--no-default-policies"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ingress-tls"));

    let explain = crate::common::tollgate()
        .args(["explain", "pdb-missing"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&explain.get_output().stdout).to_string();
    assert!(
        text.contains("PodDisruptionBudget") && text.contains("### Why"),
        "{text}"
    );

    let sarif = crate::common::tollgate()
        .args([
            "scan",
            "policies/ingress-tls/fixtures/fail.yaml",
            "--format",
            "sarif",
            "--fail-on",
            "never",
        ])
        .assert()
        .success();
    let sarif: serde_json::Value = serde_json::from_slice(&sarif.get_output().stdout).unwrap();
    let driver_rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let ingress = driver_rules
        .iter()
        .find(|r| r["id"] == "ingress-tls")
        .unwrap();
    assert_eq!(ingress["shortDescription"]["text"], "Ingress without TLS");
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "ingress-tls")
    );
}

#[test]
fn policy_test_reports_each_test_and_fails_the_exit_code() {
    crate::common::tollgate()
        .args(["policy", "test"])
        .assert()
        .success();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a_test.rego",
        "package a_test\nimport rego.v1\ntest_ok if { 1 == 1 }\ntest_wrong if { 1 == 2 }\n",
    );
    let out = crate::common::tollgate()
        .args(["policy", "test", &dir.path().to_string_lossy()])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("PASS  data.a_test.test_ok"), "{text}");
    assert!(text.contains("FAIL  data.a_test.test_wrong"), "{text}");
    assert!(text.contains("PASS: 1/2, FAIL: 1"), "{text}");
}

#[test]
fn gatekeeper_findings_are_suppressed_by_an_annotation_with_a_dot_for_the_slash() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: legacy\n  annotations:\n    ignore.tollgate.dev/K8sBlockNodePort.block-node-port: \"load balancer pool\"\nspec:\n  type: NodePort\n",
    );
    let manifests = dir.path().join("svc.yaml").to_string_lossy().to_string();
    let outcome = scan(
        &options(&[&manifests], &["fixtures/rego/gatekeeper/blocknodeport"]),
        Vec::new(),
    )
    .unwrap();
    let finding = outcome
        .findings
        .iter()
        .find(|f| f.rule == "K8sBlockNodePort/block-node-port")
        .unwrap();
    assert_eq!(
        finding.suppressed.as_ref().map(|s| s.reason.as_str()),
        Some("load balancer pool")
    );
}

#[test]
fn policies_of_the_configuration_are_relative_to_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rego")).unwrap();
    write(
        &dir.path().join("rego"),
        "labels.rego",
        "package tollgate.team_label\nimport rego.v1\n\ndeny contains \"no team label\" if not input.object.metadata.labels.team\n",
    );
    write(dir.path(), "tollgate.yaml", "policies: [rego]\n");
    write(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let manifests = dir.path().join("cm.yaml").to_string_lossy().to_string();
    let mut o = options(&[&manifests], &[]);
    o.run.config = Some(dir.path().join("tollgate.yaml"));
    let outcome = scan(&o, Vec::new()).unwrap();
    assert_eq!(
        findings(&outcome),
        set(&[("team-label", 1, "medium", "no team label")])
    );
}

#[test]
fn cel_only_templates_are_skipped_not_failed() {
    let results = tollgate::rego::testing::run(
        &TestOptions {
            paths: vec![PathBuf::from("fixtures/rego/gatekeeper-cel")],
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
        Path::new("."),
    )
    .unwrap();
    assert_eq!(results.len(), 1);
    assert!(
        matches!(results[0].outcome, Outcome::Skip(_)),
        "{results:?}"
    );
    let outcome = scan(
        &options(
            &["fixtures/rego/manifests/gatekeeper.yaml"],
            &["fixtures/rego/gatekeeper-cel"],
        ),
        Vec::new(),
    )
    .unwrap();
    assert!(
        outcome
            .notices
            .iter()
            .any(|n| n.message.contains("k8scelonly has no Rego")),
        "{:?}",
        outcome.notices
    );
}
