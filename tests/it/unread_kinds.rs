//! Kinds nothing reads are skimmed, not built (issue 13): what a scan reports stays the same,
//! and a policy that reads the inventory without declaring `inventory_kinds` still sees
//! every object whole.

use crate::common::{findings, json, tollgate, tree};

const MANIFESTS: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: broken.example.com
spec:
  group: example.com
  group: twice.example.com
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: 1
";

/// A native policy on Deployments that reports the group of every CRD in the inventory.
fn policy(inventory_kinds: Option<&str>) -> String {
    let declared = inventory_kinds
        .map(|k| format!("#   inventory_kinds: {k}\n"))
        .unwrap_or_default();
    format!(
        "# METADATA\n# title: CRD groups\n# custom:\n#   id: crd-groups\n#   kinds: [Deployment]\n{declared}\
package tollgate.crd_groups\n\nimport rego.v1\n\n\
deny contains {{\"msg\": msg}} if {{\n\
\tsome version, name\n\
\tcrd := data.inventory.cluster[version].CustomResourceDefinition[name]\n\
\tmsg := sprintf(\"%s serves %s\", [name, crd.spec.group])\n}}\n"
    )
}

fn messages(report: &serde_json::Value, rule: &str) -> Vec<String> {
    let mut out: Vec<String> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule"] == rule)
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

fn scan(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let output = tollgate()
        .arg("scan")
        .arg(dir.join("manifests.yaml"))
        .args([
            "--format",
            "json",
            "--fail-on",
            "never",
            "--no-default-policies",
        ])
        .args(extra)
        .output()
        .expect("runs");
    json(&output)
}

#[test]
fn a_policy_reading_the_inventory_without_declaring_kinds_sees_every_object_whole() {
    let dir = tree(&[
        ("manifests.yaml", MANIFESTS),
        ("policy/policy.rego", &policy(None)),
    ]);
    let policy_dir = dir.path().join("policy");
    let report = scan(dir.path(), &["--policy", policy_dir.to_str().unwrap()]);
    assert_eq!(
        messages(&report, "crd-groups"),
        [
            "broken.example.com serves twice.example.com",
            "widgets.example.com serves example.com"
        ]
    );
}

#[test]
fn declared_inventory_kinds_are_what_the_inventory_holds() {
    let dir = tree(&[
        ("manifests.yaml", MANIFESTS),
        (
            "policy/policy.rego",
            &policy(Some("[CustomResourceDefinition]")),
        ),
    ]);
    let policy_dir = dir.path().join("policy");
    let report = scan(dir.path(), &["--policy", policy_dir.to_str().unwrap()]);
    assert_eq!(messages(&report, "crd-groups").len(), 2);

    let dir = tree(&[
        ("manifests.yaml", MANIFESTS),
        ("policy/policy.rego", &policy(Some("[PodDisruptionBudget]"))),
    ]);
    let policy_dir = dir.path().join("policy");
    let report = scan(dir.path(), &["--policy", policy_dir.to_str().unwrap()]);
    assert!(messages(&report, "crd-groups").is_empty());
}

#[test]
fn syntax_errors_in_skimmed_documents_are_reported_as_before() {
    let dir = tree(&[("manifests.yaml", MANIFESTS)]);
    // Parse-only skims every CRD; the default scan builds what its rules read. Both find the
    // duplicate key inside the skimmed body, at its line.
    for extra in [&["--select", "manifest-parse-error"][..], &[][..]] {
        let report = scan(dir.path(), extra);
        let parse_errors: Vec<_> = findings(&report)
            .into_iter()
            .filter(|(rule, _, _)| rule == "manifest-parse-error")
            .map(|(_, _, line)| line)
            .collect();
        assert_eq!(parse_errors, [15], "{extra:?}");
        assert_eq!(report["summary"]["objects"], 3, "{extra:?}");
    }
}
