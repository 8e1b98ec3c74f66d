//! Reports through the command line: several formats in one run, SARIF valid against the
//! official schema, and finding identities that survive reordered documents.

use std::path::Path;

use crate::common::tollgate;
use serde_json::Value;

fn demo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo"))
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
fn sarif_of_the_demo_repo_validates_against_the_schema() {
    let output = tollgate()
        .current_dir(demo())
        .args(["scan", ".", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    validate_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri.starts_with("clusters/") || uri.starts_with("apps/"),
            "relative to the scan root: {uri}"
        );
    }
}

#[test]
fn several_reports_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("a.sarif");
    let gitlab = dir.path().join("cq.json");
    let junit = dir.path().join("junit.xml");
    let github = dir.path().join("annotations.txt");
    let output = tollgate()
        .current_dir(demo())
        .args(["scan", "."])
        .args(["--format", "sarif", "--output"])
        .arg(&sarif)
        .args(["--format", "gitlab", "--output"])
        .arg(&gitlab)
        .args(["--format", "junit", "--output"])
        .arg(&junit)
        .args(["--format", "github", "--output"])
        .arg(&github)
        .args(["--format", "human", "--color", "never"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("image-pinned"), "{stdout}");
    assert!(stdout.contains(" findings ("), "{stdout}");

    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    validate_sarif(&sarif);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let active = results
        .iter()
        .filter(|r| r.get("suppressions").is_none())
        .count();
    assert!(active > 0);

    let gitlab: Value = serde_json::from_str(&std::fs::read_to_string(&gitlab).unwrap()).unwrap();
    assert_eq!(gitlab.as_array().unwrap().len(), active);

    let junit = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&junit).expect("well-formed XML");
    let failures: usize = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    // One failing test case per (rule, object) with active findings.
    let failing_cases: std::collections::BTreeSet<(String, String)> = results
        .iter()
        .filter(|r| r.get("suppressions").is_none())
        .map(|r| {
            let location = &r["locations"][0];
            let object = location["logicalLocations"][0]["fullyQualifiedName"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    location["physicalLocation"]["artifactLocation"]["uri"].to_string()
                });
            (r["ruleId"].as_str().unwrap().to_string(), object)
        })
        .collect();
    assert_eq!(failures, failing_cases.len());
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(
        root.attribute("failures"),
        Some(failures.to_string().as_str())
    );
    for suite in root.children().filter(|n| n.is_element()) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let cases = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(suite.attribute("tests"), Some(cases.to_string().as_str()));
        for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
            assert_eq!(case.attribute("classname"), suite.attribute("name"));
            assert!(case.attribute("name").is_some());
        }
    }

    let github = std::fs::read_to_string(&github).unwrap();
    let at_level = |level: &str| {
        results
            .iter()
            .filter(|r| r.get("suppressions").is_none() && r["level"] == level)
            .count()
    };
    let commands = |prefix: &str| {
        github
            .lines()
            .filter(|l| l.starts_with(prefix) && l.contains("title="))
            .count()
    };
    assert_eq!(commands("::error "), at_level("error"));
    assert_eq!(commands("::warning "), at_level("warning"));
    assert_eq!(commands("::notice "), at_level("note"));
    assert!(at_level("error") > 0 && at_level("warning") > 0);
}

#[test]
fn an_xml_output_is_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    tollgate()
        .current_dir(demo())
        .args(["scan", ".", "--output"])
        .arg(&junit)
        .assert()
        .code(1);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuites")
    );
}

#[test]
fn notices_reach_stderr_when_stdout_is_a_machine_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tollgate.yaml"),
        "rules:\n  disable: [no-such-rule]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .unwrap();
    let output = tollgate()
        .current_dir(dir.path())
        .args(["scan", ".", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("no-such-rule"), "{stderr}");
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    let notes = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    assert!(
        notes[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("no-such-rule")
    );
}

const DOCS: [&str; 3] = [
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: harbor.acme.internal/shop/api:latest\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\n  namespace: shop-prod\nspec:\n  template:\n    spec:\n      containers:\n        - name: worker\n          image: nginx\n        - name: sidecar\n          image: busybox:latest\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop-prod\ndata:\n  a: b\n",
];

/// `(rule, path, fingerprint)` of every finding of `--format` in `dir`, sorted.
fn identities(dir: &Path, format: &str) -> Vec<(String, String, String)> {
    let output = tollgate()
        .current_dir(dir)
        .args(["scan", ".", "--format", format])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut out: Vec<(String, String, String)> = match format {
        "gitlab" => value
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["check_name"].as_str().unwrap().to_string(),
                    i["location"]["path"].as_str().unwrap().to_string(),
                    i["fingerprint"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        _ => value["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    r["partialFingerprints"]["tollgate/v2"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect(),
    };
    out.sort();
    out
}

#[test]
fn fingerprints_survive_reordered_documents() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apps.yaml");
    std::fs::write(&file, DOCS.join("---\n")).unwrap();
    // The same object also in a second folder: GitLab still needs unique fingerprints.
    std::fs::create_dir(dir.path().join("copy")).unwrap();
    std::fs::write(dir.path().join("copy/api.yaml"), DOCS[0]).unwrap();
    let gitlab_before = identities(dir.path(), "gitlab");
    let sarif_before = identities(dir.path(), "sarif");
    let fingerprints: std::collections::HashSet<&String> =
        gitlab_before.iter().map(|(_, _, f)| f).collect();
    assert_eq!(
        fingerprints.len(),
        gitlab_before.len(),
        "{gitlab_before:#?}"
    );

    // Reorder the documents (every line moves) and scan again.
    std::fs::write(
        &file,
        format!("# moved\n---\n{}---\n{}---\n{}", DOCS[2], DOCS[1], DOCS[0]),
    )
    .unwrap();
    assert_eq!(identities(dir.path(), "gitlab"), gitlab_before);
    assert_eq!(identities(dir.path(), "sarif"), sarif_before);
}
