//! Admission-aware severity of the Pod Security Standards rules: a namespace's
//! `pod-security.kubernetes.io/enforce` label (or `pod_security:` in `tollgate.yaml` where there
//! is none) makes violations of that level high, saying that admission rejects the pods;
//! `warn` and `audit` labels are mentioned.

use std::path::Path;

use tollgate::finding::{Finding, Severity};
use tollgate::scan::{RunOptions, ScanOptions, scan};

fn findings(dir: &str, rule: &str) -> Vec<Finding> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let options = ScanOptions {
        paths: vec![path],
        run: RunOptions {
            select: vec![rule.to_string()],
            ..Default::default()
        },
        ..Default::default()
    };
    let outcome = scan(&options, Vec::new()).unwrap();
    outcome.findings
}

fn in_namespace<'a>(findings: &'a [Finding], namespace: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| {
            f.object
                .as_ref()
                .is_some_and(|o| o.namespace.as_deref() == Some(namespace))
        })
        .collect()
}

#[test]
fn enforce_label_makes_violations_high_and_says_why() {
    let all = findings("fixtures/pod-security/labels", "pss-seccomp-restricted");
    let rejected = in_namespace(&all, "secure-prod");
    assert_eq!(rejected.len(), 2, "{all:#?}");
    assert!(rejected.iter().all(|f| f.severity == Severity::High));
    assert!(
        rejected[0].message.ends_with(
            "rejected by Pod Security admission in namespace secure-prod (enforce=restricted)"
        ),
        "{}",
        rejected[0].message
    );

    // enforce=baseline does not hold a restricted control; warn and audit are mentioned.
    let warned = in_namespace(&all, "shop-staging");
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].severity, Severity::Low);
    assert!(
        warned[0].message.ends_with(
            "Pod Security admission in namespace shop-staging warns and audits (warn=restricted, audit=restricted)"
        ),
        "{}",
        warned[0].message
    );

    let privileged = in_namespace(&all, "tools");
    assert_eq!(privileged.len(), 1);
    assert_eq!(privileged[0].severity, Severity::Low);
    assert!(!privileged[0].message.contains("Pod Security"));
}

#[test]
fn workloads_say_their_controller_cannot_create_pods() {
    let all = findings("fixtures/pod-security/labels", "run-as-non-root");
    let rejected = in_namespace(&all, "secure-prod");
    let deployment = rejected
        .iter()
        .find(|f| f.object.as_ref().is_some_and(|o| o.kind == "Deployment"))
        .unwrap();
    assert_eq!(deployment.severity, Severity::High);
    assert!(
        deployment.message.ends_with(
            "its pods are rejected by Pod Security admission in namespace secure-prod (enforce=restricted), so the Deployment cannot create them"
        ),
        "{}",
        deployment.message
    );
    let config = findings("fixtures/pod-security/config", "privilege-escalation");
    let prod = in_namespace(&config, "shop-prod");
    assert_eq!(prod.len(), 1, "{config:#?}");
    assert_eq!(prod[0].severity, Severity::High);
    assert!(
        prod[0].message.ends_with(
            "environment prod is held to the restricted level by `pod_security` in tollgate.yaml (namespace shop-prod has no `pod-security.kubernetes.io/enforce` label)"
        ),
        "{}",
        prod[0].message
    );
    let dev = in_namespace(&config, "shop-dev");
    assert_eq!(dev.len(), 1);
    assert_eq!(dev[0].severity, Severity::Medium);
}

fn tollgate() -> assert_cmd::Command {
    crate::common::tollgate()
}

fn ids(stdout: &[u8]) -> Vec<String> {
    let rules: serde_json::Value = serde_json::from_slice(stdout).unwrap();
    rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn profiles_list_and_select_the_rules_of_a_level() {
    let baseline = tollgate()
        .args(["rules", "--profile", "pss-baseline", "--format", "json"])
        .output()
        .unwrap();
    let baseline = ids(&baseline.stdout);
    for id in ["host-namespaces", "privileged-container", "pss-sysctls"] {
        assert!(baseline.contains(&id.to_string()), "{baseline:?}");
    }
    for id in [
        "privilege-escalation",
        "pss-seccomp-restricted",
        "image-pinned",
    ] {
        assert!(!baseline.contains(&id.to_string()), "{baseline:?}");
    }
    let restricted = tollgate()
        .args(["rules", "--profile", "pss-restricted", "--format", "json"])
        .output()
        .unwrap();
    let restricted = ids(&restricted.stdout);
    assert!(baseline.iter().all(|id| restricted.contains(id)));
    assert!(restricted.contains(&"run-as-non-root".to_string()));
    assert!(!restricted.contains(&"rbac-wildcard".to_string()));

    let scanned = |profile: &str| -> Vec<String> {
        let out = tollgate()
            .args([
                "scan",
                "fixtures/rules/privilege-escalation/fail.yaml",
                "--format",
                "json",
                "--profile",
                profile,
            ])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let found = scanned("pss-baseline");
    assert!(
        found.contains(&"privileged-container".to_string()),
        "{found:?}"
    );
    assert!(found.iter().all(|id| baseline.contains(id)), "{found:?}");
    let found = scanned("pss-restricted");
    assert!(
        found.contains(&"privilege-escalation".to_string()),
        "{found:?}"
    );
    assert!(found.iter().all(|id| restricted.contains(id)), "{found:?}");

    // --select outside the profile selects nothing: a usage error, not a silent pass.
    tollgate()
        .args([
            "scan",
            "fixtures/rules/privilege-escalation/fail.yaml",
            "--profile",
            "pss-baseline",
            "--select",
            "image-pinned",
        ])
        .assert()
        .code(2);
}
