//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// Prefixes of the environment variables tollgate or the CI templates read: CI metadata,
/// credentials, cluster access and tollgate's own settings.
const AMBIENT_PREFIXES: &[&str] = &[
    "CI_",
    "GITHUB_",
    "GITLAB_",
    "RUNNER_",
    "TOLLGATE_",
    "HARBOR_",
    "DEFECTDOJO_",
    "KUBERNETES_",
];

/// Single variables of the same kind (Jenkins and generic CI names among them).
const AMBIENT_NAMES: &[&str] = &[
    "CI",
    "KUBECONFIG",
    "NO_COLOR",
    "BRANCH_NAME",
    "GIT_BRANCH",
    "GIT_COMMIT",
    "BUILD_ID",
    "BUILD_NUMBER",
];

/// Removes from `cmd` every variable of the machine running the tests that tollgate would
/// read, so that a CI runner, a developer's kubeconfig or a token in the shell never leaks
/// into a test. Tests set what they need afterwards.
pub fn clear_ambient_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if AMBIENT_NAMES.contains(&name)
            || AMBIENT_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The `tollgate` binary of this build, run from the crate root with a clean environment.
pub fn tollgate_std() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    clear_ambient_env(&mut cmd);
    cmd
}

/// [`tollgate_std`] with assert_cmd's conveniences: the command every CLI test runs.
pub fn tollgate() -> Command {
    Command::from_std(tollgate_std())
}

/// Whether the tests run in CI (`CI` set, as GitHub, GitLab and `.ci/run` do). There a missing
/// tool fails the test instead of skipping it, so that a skip never hides silently.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|value| !value.is_empty() && value != "false")
}

/// Skips a test that needs `what` (with a message) on a developer machine; fails it in CI.
pub fn skip_unless_ci(what: &str) {
    assert!(
        !in_ci(),
        "{what} is required in CI (CI is set), the test cannot be skipped"
    );
    println!("SKIPPED: {what}");
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `files` (relative path → content) into a new temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        write(&dir.path().join(path), content.as_bytes());
    }
    dir
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
}

/// Parses the JSON report on stdout.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// `(rule, file, line)` of the findings of a JSON report.
pub fn findings(report: &serde_json::Value) -> Vec<(String, String, u64)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

pub fn path_of(dir: &tempfile::TempDir, rel: &str) -> PathBuf {
    dir.path().join(rel)
}

pub const DEPLOYMENT_LATEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dev
spec:
  template:
    spec:
      containers:
        - name: web
          image: harbor.example.com/shop/web:latest
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {cpu: 100m, memory: 32Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      automountServiceAccountToken: false
";

pub const DEPLOYMENT_CLEAN: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dev
spec:
  template:
    spec:
      containers:
        - name: web
          image: harbor.example.com/shop/web:1.0.0
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {cpu: 100m, memory: 32Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          livenessProbe:
            httpGet: {path: /healthz, port: 8080}
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      automountServiceAccountToken: false
";
