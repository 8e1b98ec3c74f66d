//! `--helm` and `--kustomize`: rendering with the tools on PATH. Helm is a fake script that
//! prints a rendered chart (and records its arguments); kustomize is a fake script too, and the
//! real `kubectl kustomize` when the machine has kubectl.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A directory with an executable shell script `name` printing `stdout`, writing `stderr`,
/// exiting with `code`, and recording its arguments in `<dir>/<name>.args`.
fn fake_tool(dir: &Path, name: &str, stdout: &str, stderr: &str, code: i32) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let out_file = bin.join(format!("{name}.out"));
    std::fs::write(&out_file, stdout).unwrap();
    let script = bin.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{args}'\ncat '{out}'\nprintf '%s' '{err}' >&2\nexit {code}\n",
            args = bin.join(format!("{name}.args")).display(),
            out = out_file.display(),
            err = stderr,
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// PATH for the child only: `first`, then the test's own PATH.
fn path_with(first: &Path) -> std::ffi::OsString {
    let mut dirs = vec![first.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap()
}

fn tollgate(dir: &Path) -> Command {
    let mut cmd = crate::common::tollgate();
    cmd.current_dir(dir);
    cmd
}

const RENDERED_CHART: &str = r#"---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-api
  labels:
    helm.sh/chart: shop-0.1.0
spec:
  template:
    spec:
      containers:
        - name: api
          image: "harbor.acme.internal/shop/api:latest"
          resources:
            requests: {cpu: 10m, memory: 64Mi}
            limits: {cpu: 100m, memory: 128Mi}
---
# Source: shop/templates/namespace.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: shop-prod
"#;

fn chart(dir: &Path) {
    let chart = dir.join("charts/shop");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-api\n",
    )
    .unwrap();
    std::fs::write(dir.join("prod-values.yaml"), "replicas: 2\n").unwrap();
}

#[test]
fn helm_charts_are_rendered_and_findings_name_the_template() {
    let dir = tempfile::tempdir().unwrap();
    chart(dir.path());
    let bin = fake_tool(dir.path(), "helm", RENDERED_CHART, "", 0);
    let output = tollgate(dir.path())
        .env("PATH", path_with(&bin))
        .args([
            "scan",
            "--helm",
            "charts/shop",
            "--values",
            "prod-values.yaml",
            "--set",
            "image.tag=latest",
            "--release",
            "shop",
            "--release-namespace",
            "shop-prod",
            "--select",
            "image-pinned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let args = std::fs::read_to_string(bin.join("helm.args")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "template",
            "shop",
            "charts/shop",
            "--namespace",
            "shop-prod",
            "--values",
            "prod-values.yaml",
            "--set",
            "image.tag=latest"
        ]
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["file"], "charts/shop/(helm template)");
    assert_eq!(finding["line"], 20);
    assert_eq!(finding["source"], "charts/shop/templates/deployment.yaml");
    // The release namespace is where an install puts objects that name none.
    assert_eq!(finding["object"]["namespace"], "shop-prod");
    assert_eq!(finding["environment"], "prod");
    // Only the rendered chart was scanned, not the current directory.
    assert_eq!(report["summary"]["files"], 1);
    assert_eq!(report["summary"]["objects"], 3);

    // SARIF: the virtual location, and the template as a related location.
    let output = tollgate(dir.path())
        .env("PATH", path_with(&bin))
        .args([
            "scan",
            "--helm",
            "charts/shop",
            "--select",
            "image-pinned",
            "--format",
            "sarif",
        ])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "charts/shop/(helm%20template)"
    );
    assert_eq!(
        result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "charts/shop/templates/deployment.yaml"
    );
    // Without --release, the release is named after the chart directory.
    let args = std::fs::read_to_string(bin.join("helm.args")).unwrap();
    assert_eq!(args.lines().nth(1), Some("shop"));

    // Human: the rendered snippet and the template.
    let output = tollgate(dir.path())
        .env("PATH", path_with(&bin))
        .args([
            "scan",
            "--helm",
            "charts/shop",
            "--select",
            "image-pinned",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    let human = String::from_utf8(output.stdout).unwrap();
    assert!(human.contains("charts/shop/(helm template)"), "{human}");
    assert!(
        human.contains("image: \"harbor.acme.internal/shop/api:latest\""),
        "{human}"
    );
    assert!(
        human.contains("rendered from charts/shop/templates/deployment.yaml"),
        "{human}"
    );

    // GitLab: the template file, which exists in the repository.
    let output = tollgate(dir.path())
        .env("PATH", path_with(&bin))
        .args([
            "scan",
            "--helm",
            "charts/shop",
            "--select",
            "image-pinned",
            "--format",
            "gitlab",
        ])
        .output()
        .unwrap();
    let gitlab: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        gitlab[0]["location"]["path"],
        "charts/shop/templates/deployment.yaml"
    );
}

#[test]
fn a_failed_render_is_an_error_with_the_tools_stderr() {
    let dir = tempfile::tempdir().unwrap();
    chart(dir.path());
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx\n",
    )
    .unwrap();
    let bin = fake_tool(
        dir.path(),
        "helm",
        "",
        "Error: parse error at (shop/templates/deployment.yaml:4): unclosed action",
        1,
    );
    let report = dir.path().join("report.json");
    let output = tollgate(dir.path())
        .env("PATH", path_with(&bin))
        .args([
            "scan",
            "app.yaml",
            "--helm",
            "charts/shop",
            "--select",
            "image-pinned",
        ])
        .args(["--format", "json", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("helm template shop charts/shop"),
        "{stderr}"
    );
    assert!(stderr.contains("unclosed action"), "{stderr}");
    // The other inputs were still scanned and the report written.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["findings"][0]["file"], "app.yaml");
    assert_eq!(report["errors"][0]["level"], "error");
    assert_eq!(report["errors"][0]["path"], "charts/shop");
}

#[test]
fn a_missing_tool_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    chart(dir.path());
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let output = tollgate(dir.path())
        .env("PATH", &empty)
        .args(["scan", "--helm", "charts/shop"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--helm needs the `helm` binary"),
        "{stderr}"
    );
    let output = tollgate(dir.path())
        .env("PATH", &empty)
        .args(["scan", "--kustomize", "."])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("`kustomize` or `kubectl`"), "{stderr}");
}

const KUSTOMIZATION: &str = "namespace: shop-prod\nresources:\n  - deployment.yaml\n";
const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: harbor.acme.internal/shop/api:latest\n";

fn overlay(dir: &Path) -> PathBuf {
    let overlay = dir.join("overlays/prod");
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(overlay.join("kustomization.yaml"), KUSTOMIZATION).unwrap();
    std::fs::write(overlay.join("deployment.yaml"), DEPLOYMENT).unwrap();
    overlay
}

fn kustomize_findings(dir: &Path, path: std::ffi::OsString) -> Vec<Value> {
    let output = tollgate(dir)
        .env("PATH", path)
        .args([
            "scan",
            "--kustomize",
            "overlays/prod",
            "--select",
            "image-pinned",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["findings"].as_array().unwrap().clone()
}

#[test]
fn kustomizations_are_rendered_with_kustomize() {
    let dir = tempfile::tempdir().unwrap();
    overlay(dir.path());
    let rendered = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\nspec:\n  template:\n    spec:\n      containers:\n      - image: harbor.acme.internal/shop/api:latest\n        name: api\n";
    let bin = fake_tool(dir.path(), "kustomize", rendered, "", 0);
    let findings = kustomize_findings(dir.path(), path_with(&bin));
    assert_eq!(findings.len(), 1);
    // No origin annotation in what this kustomize printed: the finding stays in the stream.
    assert_eq!(findings[0]["file"], "overlays/prod/(kustomize build)");
    assert_eq!(findings[0]["line"], 10);
    assert_eq!(findings[0]["object"]["namespace"], "shop-prod");
    // kustomize built a wrapper kustomization outside the tree, which includes the overlay.
    let args = std::fs::read_to_string(bin.join("kustomize.args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args[..2], ["build", "--enable-helm"]);
    let wrapper = Path::new(args[2]);
    assert!(
        wrapper
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("tollgate-kustomize-"),
        "{args:?}"
    );
    assert!(!wrapper.starts_with(dir.path().canonicalize().unwrap()));
    assert!(!wrapper.exists(), "the wrapper is removed after the build");
}

#[test]
fn kustomizations_are_rendered_with_kubectl_when_present() {
    let Some(kubectl) = tollgate::source::render::find_program("kubectl") else {
        crate::common::skip_unless_ci(
            "kubectl is not on PATH; the fake kustomize test covers rendering",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    overlay(dir.path());
    // Only kubectl on the child's PATH, so that a kustomize binary does not take over.
    let bin = dir.path().join("kubectl-only");
    std::fs::create_dir(&bin).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&kubectl, bin.join("kubectl")).unwrap();
    let findings = kustomize_findings(dir.path(), bin.into_os_string());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    // At the image line of the file the object was written in.
    assert_eq!(findings[0]["file"], "overlays/prod/deployment.yaml");
    assert_eq!(findings[0]["line"], 10);
    assert_eq!(findings[0]["object"]["namespace"], "shop-prod");
    assert_eq!(findings[0]["environment"], "prod");
}

/// An overlay over a base, with an `images:` rewrite, generators and a patch: what
/// `--kustomize` findings are checked against (DESIGN §13, issue 10 item 6).
const ORIGIN_TREE: &[(&str, &str)] = &[
    (
        "base/kustomization.yaml",
        "resources:\n  - deployment.yaml\n  - secrets.yaml\n",
    ),
    (
        "base/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    example.com/owner: team-shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          resources:
            requests: {cpu: 10m, memory: 64Mi}
",
    ),
    (
        "base/secrets.yaml",
        "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata:
    name: first
  stringData:
    password: first-value-in-git
- apiVersion: v1
  kind: Secret
  metadata:
    name: second
  stringData:
    token: second-value-in-git
",
    ),
    (
        "overlays/prod/kustomization.yaml",
        "namespace: shop-prod
namePrefix: prod-
resources:
  - ../../base
images:
  - name: nginx
    newTag: latest
secretGenerator:
  - literals:
      - DB_PASSWORD=generated-value-in-git
    name: db
configMapGenerator:
  - name: settings
    literals:
      - DB_HOST=master.postgres-dev.svc
patches:
  - path: privileged.yaml
",
    ),
    (
        "overlays/prod/privileged.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          securityContext:
            privileged: true
",
    ),
    // Reports every annotation an object carries: the origin annotation must never be one.
    (
        "policy/annotations.rego",
        "package main

deny[msg] {
\tsome key
\tinput.metadata.annotations[key]
\tmsg := sprintf(\"%s carries annotation %s\", [input.metadata.name, key])
}
",
    ),
];

const SECRET_VALUES: [&str; 3] = [
    "first-value-in-git",
    "second-value-in-git",
    "generated-value-in-git",
];

/// A PATH with only the real kubectl (so that no kustomize binary takes over), or `None`
/// (skipped, except in CI) without one.
fn kubectl_only(dir: &Path) -> Option<std::ffi::OsString> {
    let Some(kubectl) = tollgate::source::render::find_program("kubectl") else {
        crate::common::skip_unless_ci("kubectl is not on PATH; rendered origins need it");
        return None;
    };
    let bin = dir.join("kubectl-only");
    std::fs::create_dir_all(&bin).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&kubectl, bin.join("kubectl")).unwrap();
    Some(bin.into_os_string())
}

fn origin_scan(dir: &Path, path: &std::ffi::OsString, format: &str) -> std::process::Output {
    tollgate(dir)
        .env("PATH", path)
        .args(["scan", "--kustomize", "overlays/prod", "--policy", "policy"])
        .args(["--format", format, "--color", "never"])
        .output()
        .unwrap()
}

/// `(rule, file, line)` of the findings of `rule`.
fn at(report: &Value, rule: &str) -> Vec<(String, u64)> {
    crate::common::findings(report)
        .into_iter()
        .filter(|(r, _, _)| r == rule)
        .map(|(_, file, line)| (file, line))
        .collect()
}

#[test]
fn kustomize_findings_point_at_the_lines_they_were_written_on() {
    let dir = crate::common::tree(ORIGIN_TREE);
    let Some(path) = kubectl_only(dir.path()) else {
        return;
    };
    let output = origin_scan(dir.path(), &path, "json");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = crate::common::json(&output);
    let owned = |items: &[(&str, u64)]| -> Vec<(String, u64)> {
        items.iter().map(|(f, l)| (f.to_string(), *l)).collect()
    };
    // A finding of the base's Deployment, at its container in the base file.
    assert_eq!(
        at(&report, "resource-limits"),
        owned(&[("base/deployment.yaml", 16)])
    );
    // The overlay's `images:` entry made the tag `latest`.
    assert_eq!(
        at(&report, "image-pinned"),
        owned(&[("overlays/prod/kustomization.yaml", 6)])
    );
    // The patch made the container privileged: the patch's line.
    assert_eq!(
        at(&report, "privileged-container"),
        owned(&[("overlays/prod/privileged.yaml", 11)])
    );
    // Items of a List in the base, and the generated Secret at its generator entry.
    assert_eq!(
        at(&report, "plain-secret"),
        owned(&[
            ("base/secrets.yaml", 4),
            ("base/secrets.yaml", 10),
            ("overlays/prod/kustomization.yaml", 9),
        ])
    );
    // A generated ConfigMap's key at its literal.
    assert_eq!(
        at(&report, "env-isolation"),
        owned(&[("overlays/prod/kustomization.yaml", 15)])
    );
    // Rules and policies saw what kustomize builds for the cluster, without the origin
    // annotation; placement still comes from the rendered overlay.
    let policy: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "main.deny")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(policy, ["prod-web carries annotation example.com/owner"]);
    for finding in report["findings"].as_array().unwrap() {
        assert_eq!(finding["environment"], "prod", "{finding}");
    }
}

#[test]
fn kustomize_fingerprints_are_those_of_the_rendered_objects() {
    let dir = crate::common::tree(ORIGIN_TREE);
    let Some(path) = kubectl_only(dir.path()) else {
        return;
    };
    let mapped = crate::common::json(&origin_scan(dir.path(), &path, "json"));
    let rendered = std::process::Command::new("kubectl")
        .env("PATH", &path)
        .args(["kustomize", "overlays/prod"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
    let piped = tollgate(dir.path())
        .args(["scan", "-", "--policy", "policy", "--format", "json"])
        .write_stdin(rendered.stdout)
        .output()
        .unwrap();
    let piped = crate::common::json(&piped);
    let fingerprints = |report: &Value| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["fingerprint"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    assert!(!fingerprints(&piped).is_empty());
    assert_eq!(fingerprints(&mapped), fingerprints(&piped));
}

#[test]
fn every_report_format_names_the_source_files_and_no_annotation() {
    let dir = crate::common::tree(ORIGIN_TREE);
    let Some(path) = kubectl_only(dir.path()) else {
        return;
    };
    for format in [
        "human", "json", "sarif", "gitlab", "junit", "github", "html",
    ] {
        let output = origin_scan(dir.path(), &path, format);
        assert_eq!(output.status.code(), Some(1), "{format}: {output:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("base/deployment.yaml") && text.contains("overlays/prod/privileged.yaml"),
            "{format}: {text}"
        );
        for absent in ["config.kubernetes.io", "tollgate-kustomize-"] {
            assert!(!text.contains(absent), "{format} shows `{absent}`:\n{text}");
        }
        // JUnit and html also list the files read (the rendered stream parsed fine).
        if !matches!(format, "junit" | "html") {
            assert!(!text.contains("(kustomize build)"), "{format}: {text}");
        }
        for value in SECRET_VALUES {
            assert!(!text.contains(value), "{format} shows `{value}`:\n{text}");
        }
        if format == "sarif" {
            let sarif: Value = serde_json::from_str(&text).unwrap();
            for result in sarif["runs"][0]["results"].as_array().unwrap() {
                let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap();
                assert!(
                    dir.path().join(uri).is_file(),
                    "{uri} is no file of the tree"
                );
            }
        }
        if format == "human" {
            // The snippets' context lines next to the values are masked.
            assert!(text.contains("password: ***"), "{text}");
            assert!(text.contains("DB_PASSWORD= ***"), "{text}");
        }
    }
}

#[test]
fn a_source_outside_the_scan_root_stays_in_the_rendered_stream() {
    let dir = crate::common::tree(ORIGIN_TREE);
    let Some(path) = kubectl_only(dir.path()) else {
        return;
    };
    // Scanning from the overlay: the base is above the scan root, never read or named.
    let output = tollgate(&dir.path().join("overlays/prod"))
        .env("PATH", &path)
        .args(["scan", "--kustomize", ".", "--format", "json", "--verbose"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report = crate::common::json(&output);
    assert_eq!(
        at(&report, "resource-limits"),
        [("(kustomize build)".to_string(), 72)]
    );
    assert_eq!(
        at(&report, "privileged-container"),
        [("(kustomize build)".to_string(), 79)]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "reported at (kustomize build), not at its source: Deployment shop-prod/prod-web: \
             its source is outside the scanned tree (not read)"
        ),
        "{stderr}"
    );
}

#[test]
fn an_origin_outside_the_tree_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    overlay(dir.path());
    // A kustomize whose origin annotation points out of the tree (at /etc/hostname).
    let rendered = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  annotations:\n    config.kubernetes.io/origin: |\n      path: ../../../../../../../../../../etc/hostname\n  name: api\n  namespace: shop-prod\nspec:\n  template:\n    spec:\n      containers:\n      - image: harbor.acme.internal/shop/api:latest\n        name: api\n";
    let bin = fake_tool(dir.path(), "kustomize", rendered, "", 0);
    let output = tollgate(dir.path())
        .env("PATH", path_with(&bin))
        .args([
            "scan",
            "--kustomize",
            "overlays/prod",
            "--select",
            "image-pinned",
        ])
        .args(["--format", "human", "--color", "never", "--verbose"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("overlays/prod/(kustomize build)"),
        "{stdout}"
    );
    assert!(!stdout.contains("config.kubernetes.io"), "{stdout}");
    assert!(!stdout.contains("hostname"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("outside the scanned tree (not read)"),
        "{stderr}"
    );
}
