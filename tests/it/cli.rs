//! The command line end to end: exit codes, stdin, several reports in one run, suppression
//! (annotation, exemption, baseline), determinism, SARIF validity, broken pipes.

use crate::common;

use std::io::Read;
use std::process::Stdio;

use common::*;
use serde_json::Value;

#[test]
fn exit_codes_follow_fail_on() {
    let clean = tree(&[("a.yaml", DEPLOYMENT_CLEAN)]);
    tollgate().arg("scan").arg(clean.path()).assert().code(0);

    let dirty = tree(&[("a.yaml", DEPLOYMENT_LATEST)]);
    tollgate().arg("scan").arg(dirty.path()).assert().code(1);
    // image-pinned is medium: a higher threshold passes, "never" always passes.
    tollgate()
        .args(["scan", "--fail-on", "high"])
        .arg(dirty.path())
        .assert()
        .code(0);
    tollgate()
        .args(["scan", "--fail-on", "never"])
        .arg(dirty.path())
        .assert()
        .code(0);
    tollgate()
        .args(["scan", "--fail-on", "low"])
        .arg(dirty.path())
        .assert()
        .code(1);
}

#[test]
fn untrustworthy_runs_exit_2() {
    let out = tollgate()
        .args(["scan", "does/not/exist"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does/not/exist"), "{}", stderr(&out));

    let dir = tree(&[
        ("a.yaml", DEPLOYMENT_CLEAN),
        (
            "tollgate.yaml",
            "registries:\n  allowed: []\n  alowed: [x]\n",
        ),
    ]);
    let out = tollgate().arg("scan").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("tollgate.yaml:3:3"), "{err}");
    assert!(err.contains("unknown field `alowed`"), "{err}");

    tollgate()
        .args(["scan", "--fail-on", "urgent", "."])
        .assert()
        .code(2);
    tollgate()
        .args([
            "scan",
            "--format",
            "json",
            "--format",
            "sarif",
            "fixtures/demo",
        ])
        .assert()
        .code(2);
}

#[test]
fn stdin_is_scanned_with_its_own_name() {
    let out = tollgate()
        .args(["scan", "-", "--format", "json"])
        .write_stdin(DEPLOYMENT_LATEST)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(
        findings(&report),
        vec![("image-pinned".into(), "<stdin>".into(), 11)]
    );

    let out = tollgate()
        .args([
            "scan",
            "-",
            "--stdin-filename",
            "apps/web.yaml",
            "--format",
            "human",
        ])
        .write_stdin(DEPLOYMENT_LATEST)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("apps/web.yaml:11:11"), "{text}");
    assert!(
        text.contains("image: harbor.example.com/shop/web:latest"),
        "{text}"
    );
}

#[test]
fn several_reports_in_one_run() {
    let out_dir = tempfile::tempdir().unwrap();
    let sarif = out_dir.path().join("r.sarif");
    let json_path = out_dir.path().join("r.json");
    let out = tollgate()
        .args(["scan", "fixtures/demo", "--format", "sarif", "--output"])
        .arg(&sarif)
        .args(["--format", "human", "--format", "json", "--output"])
        .arg(&json_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("findings"), "human report on stdout");
    let sarif: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        report["findings"].as_array().unwrap().len()
    );
}

#[test]
fn reports_to_files_only_leave_a_summary_on_stderr() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = tollgate()
        .args(["scan", "fixtures/demo", "-o"])
        .arg(out_dir.path().join("x.sarif"))
        .output()
        .unwrap();
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("findings ("), "{}", stderr(&out));
}

fn demo_report(format: &str) -> Vec<u8> {
    tollgate()
        .args(["scan", "fixtures/demo", "--format", format])
        .output()
        .unwrap()
        .stdout
}

#[test]
fn same_input_gives_byte_identical_reports() {
    for format in ["json", "sarif", "human"] {
        let first = demo_report(format);
        assert!(!first.is_empty());
        assert_eq!(first, demo_report(format), "{format} differs between runs");
        let jobs1 = tollgate()
            .args(["scan", "fixtures/demo", "--jobs", "1", "--format", format])
            .output()
            .unwrap()
            .stdout;
        assert_eq!(first, jobs1, "{format} depends on the thread count");
    }
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft7::new(&schema).expect("schema compiles");
    let report: Value = serde_json::from_slice(&demo_report("sarif")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &report["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "tollgate");
    let result = &run["results"][0];
    assert!(result["partialFingerprints"]["tollgate/v2"].is_string());
    assert!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64(),
        "{result}"
    );
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(
            rule["properties"]["security-severity"].is_string(),
            "{rule}"
        );
        assert!(rule["help"]["markdown"].is_string(), "{rule}");
    }
    // Suppressed findings carry their justification.
    let suppressed: Vec<&Value> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert!(!suppressed.is_empty());
    assert!(suppressed[0]["suppressions"][0]["justification"].is_string());
}

#[test]
fn annotation_suppresses_with_its_reason() {
    let annotated = DEPLOYMENT_LATEST.replace(
        "  namespace: shop-dev\n",
        "  namespace: shop-dev\n  annotations:\n    ignore.tollgate.dev/image-pinned: \"mirrored nightly\"\n",
    );
    let dir = tree(&[("a.yaml", &annotated)]);
    let out = tollgate()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "suppressed findings never fail");
    let report = json(&out);
    let f = &report["findings"][0];
    assert_eq!(f["rule"], "image-pinned");
    assert_eq!(f["suppressed"]["reason"], "mirrored nightly");
    assert_eq!(f["suppressed"]["source"], "annotation");
    assert_eq!(report["summary"]["suppressed"], 1);

    // An empty reason suppresses nothing and is itself reported.
    let empty = annotated.replace("\"mirrored nightly\"", "\"\"");
    let dir = tree(&[("a.yaml", &empty)]);
    let out = tollgate()
        .args(["scan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let rules: Vec<String> = findings(&json(&out)).into_iter().map(|f| f.0).collect();
    assert_eq!(rules, ["suppression-reason-missing", "image-pinned"]);
}

#[test]
fn exemptions_suppress_until_they_expire() {
    let config = |expires: &str| {
        format!(
            "exemptions:\n  - rule: image-pinned\n    namespaces: [\"shop-*\"]\n    kinds: [Deployment]\n    reason: \"tracked in OPS-1\"\n    expires: {expires}\n"
        )
    };
    let current = tree(&[
        ("a.yaml", DEPLOYMENT_LATEST),
        ("tollgate.yaml", &config("2999-01-01")),
    ]);
    let out = tollgate()
        .args(["scan", "--format", "json"])
        .arg(current.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["findings"][0]["suppressed"]["source"], "exemption");
    assert_eq!(
        report["findings"][0]["suppressed"]["reason"],
        "tracked in OPS-1"
    );

    let expired = tree(&[
        ("a.yaml", DEPLOYMENT_LATEST),
        ("tollgate.yaml", &config("2020-01-01")),
    ]);
    let out = tollgate()
        .args(["scan", "--format", "json"])
        .arg(expired.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert!(report["findings"][0]["suppressed"].is_null());
    let warning = report["errors"][0]["message"].as_str().unwrap();
    assert!(warning.contains("expired on 2020-01-01"), "{warning}");
    assert_eq!(report["errors"][0]["level"], "warning");

    // Selectors that do not match leave the finding alone.
    let other = tree(&[
        ("a.yaml", DEPLOYMENT_LATEST),
        (
            "tollgate.yaml",
            &config("2999-01-01").replace("shop-*", "kube-system"),
        ),
    ]);
    tollgate().arg("scan").arg(other.path()).assert().code(1);
}

#[test]
fn baseline_suppresses_known_findings_only() {
    let dir = tree(&[("a.yaml", DEPLOYMENT_LATEST)]);
    let baseline = dir.path().join("baseline.json");
    tollgate()
        .args(["scan", "--write-baseline"])
        .arg(&baseline)
        .arg(dir.path().join("a.yaml"))
        .assert()
        .code(1);
    let written: Value = serde_json::from_slice(&std::fs::read(&baseline).unwrap()).unwrap();
    assert_eq!(written["findings"][0]["rule"], "image-pinned");

    tollgate()
        .args(["scan", "--baseline"])
        .arg(&baseline)
        .arg(dir.path().join("a.yaml"))
        .assert()
        .code(0);

    // Moving the document (a new document above it) keeps the fingerprint; a new problem is new.
    let moved = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x, namespace: shop-dev}}\n---\n{}",
        DEPLOYMENT_LATEST.replace("cpu: 100m, memory: 32Mi", "cpu: 100m")
    );
    write(&dir.path().join("a.yaml"), moved.as_bytes());
    let out = tollgate()
        .args(["scan", "--format", "json", "--baseline"])
        .arg(&baseline)
        .arg(dir.path().join("a.yaml"))
        .output()
        .unwrap();
    let report = json(&out);
    let active: Vec<(String, bool)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["suppressed"].is_null(),
            )
        })
        .collect();
    assert_eq!(
        active,
        [
            ("resource-limits".to_string(), true),
            ("image-pinned".to_string(), false)
        ]
    );
    assert_eq!(out.status.code(), Some(1));

    write(&baseline, b"{not json");
    tollgate()
        .args(["scan", "--baseline"])
        .arg(&baseline)
        .arg(dir.path())
        .assert()
        .code(2);
}

#[test]
fn inventory_root_sees_everything_but_reports_only_the_paths() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team-dev}\nspec:\n  automountServiceAccountToken: false\n  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n  containers:\n    - name: c\n      image: harbor.example.com/x/y:1.0.0\n      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}\n      livenessProbe: {tcpSocket: {port: 80}}\n      readinessProbe: {tcpSocket: {port: 80}}\n";
    let limits = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: d, namespace: team-dev}\nspec:\n  limits:\n    - type: Container\n      default: {cpu: 100m, memory: 64Mi}\n";
    let other = DEPLOYMENT_LATEST;
    let dir = tree(&[
        ("pod.yaml", pod),
        ("limits.yaml", limits),
        ("other.yaml", other),
    ]);
    // Alone, the pod has neither requests nor limits.
    let out = tollgate()
        .current_dir(dir.path())
        .args(["scan", "--format", "json", "pod.yaml"])
        .output()
        .unwrap();
    let rules: Vec<String> = findings(&json(&out)).into_iter().map(|f| f.0).collect();
    assert_eq!(rules, ["resource-limits", "resource-requests"]);
    // With the repository as inventory, the LimitRange covers it, and other.yaml is not reported.
    let out = tollgate()
        .current_dir(dir.path())
        .args([
            "scan",
            "--format",
            "json",
            "--inventory-root",
            ".",
            "pod.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = json(&out);
    assert!(findings(&report).is_empty());
    assert_eq!(report["summary"]["files"], 1);
}

#[test]
fn select_and_ignore_choose_rules() {
    let dir = tree(&[(
        "a.yaml",
        &DEPLOYMENT_LATEST.replace("cpu: 100m, memory: 32Mi", "cpu: 100m"),
    )]);
    let rules_of = |args: &[&str]| -> Vec<String> {
        let out = tollgate()
            .args(["scan", "--format", "json"])
            .args(args)
            .arg(dir.path())
            .output()
            .unwrap();
        findings(&json(&out)).into_iter().map(|f| f.0).collect()
    };
    assert_eq!(rules_of(&[]), ["resource-limits", "image-pinned"]);
    assert_eq!(rules_of(&["--select", "image-pinned"]), ["image-pinned"]);
    assert_eq!(
        rules_of(&["--ignore", "image-pinned,resource-limits"]),
        Vec::<String>::new()
    );
}

#[test]
fn severity_overrides_apply_to_findings_and_rules() {
    let dir = tree(&[
        ("a.yaml", DEPLOYMENT_LATEST),
        (
            "tollgate.yaml",
            "rules:\n  severity: {image-pinned: critical}\n  disable: [resource-limits]\n",
        ),
    ]);
    let out = tollgate()
        .args(["scan", "--format", "sarif", "--fail-on", "critical"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let pinned = rules.iter().find(|r| r["id"] == "image-pinned").unwrap();
    assert_eq!(pinned["properties"]["security-severity"], "9.5");
    assert!(rules.iter().all(|r| r["id"] != "resource-limits"));
}

#[test]
fn broken_pipe_exits_cleanly() {
    let many: String = (0..400)
        .map(|i| DEPLOYMENT_LATEST.replace("name: web", &format!("name: web-{i}")) + "---\n")
        .collect();
    let dir = tree(&[("many.yaml", &many)]);
    let mut child = tollgate_std()
        .args(["scan", "--format", "human", "--fail-on", "never"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is closed now; the rest of the report hits a broken pipe.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn rules_and_explain() {
    let out = tollgate()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    let rules: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for rule in tollgate::rules::REGISTRY {
        assert!(ids.contains(&rule.meta().id));
    }
    let table = stdout(&tollgate().arg("rules").output().unwrap());
    assert!(table.starts_with("ID"));
    let markdown = stdout(
        &tollgate()
            .args(["rules", "-f", "markdown"])
            .output()
            .unwrap(),
    );
    assert!(markdown.contains("| `image-pinned` |"));

    let out = tollgate()
        .args(["explain", "image-pinned"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("### Failing example"));
    assert!(text.contains("ignore.tollgate.dev/image-pinned"));
    let out = tollgate()
        .args(["explain", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tollgate rules"));
}

#[test]
fn human_output_groups_by_file_with_snippets() {
    let out = tollgate().args(["scan", "fixtures/demo"]).output().unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("fixtures/demo/clusters/dev-a/shop-dev/web.yaml\n"),
        "{text}"
    );
    assert!(
        text.contains("image: harbor.acme.internal/shop/web:latest"),
        "{text}"
    );
    assert!(text.contains("help:"), "{text}");
    assert!(text.contains("Suppressed:"), "{text}");
    assert!(!text.contains("\u{1b}["), "no colour off a terminal");
    let summary = text.lines().last().unwrap();
    assert!(
        summary.contains("findings") && summary.contains("scanned"),
        "{summary}"
    );
    let coloured = stdout(
        &tollgate()
            .args(["--color", "always", "scan", "fixtures/demo"])
            .output()
            .unwrap(),
    );
    assert!(coloured.contains("\u{1b}["));
}
