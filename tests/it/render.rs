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
