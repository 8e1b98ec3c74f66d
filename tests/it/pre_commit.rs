//! The pre-commit hook, through the real pre-commit tool: a virtualenv gets `pre-commit` from
//! PyPI, a temporary git repository gets a violating manifest, and
//! `pre-commit try-repo <this repository> tollgate --files …` must fail with the finding.
//!
//! What it needs: `python3` with the `venv` module (and its `ensurepip`), `git`, and network
//! access to PyPI. Only an unreachable PyPI skips it (with a message).
//!
//! `try-repo` clones this repository at HEAD (plus uncommitted changes to tracked files), reads
//! its `.pre-commit-hooks.yaml` and sets up the `language: rust` environment by running
//! `cargo install --bins --root <env> --path .` in the clone. A `cargo` shim first on PATH
//! answers that call by installing the binary this test suite already built: compiling the
//! clone would rebuild every dependency cold in a second target directory (minutes on a busy
//! machine). Everything else is pre-commit's own: the hook manifest, the file selection,
//! `pass_filenames`, `require_serial` and the entry run from the hook environment.
//! `PRE_COMMIT_HOME` is a fresh temporary directory every run, so that no stale hook
//! environment is ever reused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `cmd`, killing it after `limit`.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    // Drain the pipes in threads so that a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).ok();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).ok();
        buf
    });
    // Wait in a thread so that the limit is a timeout on the wait itself, not a polling loop.
    let pid = child.id();
    let (sender, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let status = match finished.recv_timeout(limit) {
        Ok(status) => status.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) with a plain pid and signal; the child is not reaped yet (the
            // waiter thread is still blocked in wait), so the pid is still ours.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{shown} did not finish within {limit:?}");
        }
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// pip's ways of saying the index could not be reached.
fn pypi_unreachable(log: &str) -> bool {
    [
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Max retries exceeded",
        "NewConnectionError",
        "ConnectTimeoutError",
        "ProxyError",
        "Network is unreachable",
        "No matching distribution found for pre-commit",
    ]
    .iter()
    .any(|needle| log.contains(needle))
}

/// A virtualenv with pre-commit, or None when PyPI cannot be reached.
fn install_pre_commit(dir: &Path) -> Option<PathBuf> {
    let venv = dir.join("venv");
    let created = run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        Duration::from_secs(120),
    );
    assert!(
        created.status.success(),
        "python3 -m venv failed (the test needs python3 with the venv module):\n{}",
        text(&created)
    );
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let installed = run(
        Command::new(bin.join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                "--timeout",
                "30",
                "pre-commit>=3,<5",
            ])
            .env("PIP_NO_INPUT", "1"),
        Duration::from_secs(600),
    );
    if !installed.status.success() {
        let log = text(&installed);
        if pypi_unreachable(&log) {
            println!("SKIPPED: PyPI is unreachable, so pre-commit cannot be installed:\n{log}");
            return None;
        }
        panic!("pip install pre-commit failed:\n{log}");
    }
    Some(bin.join("pre-commit"))
}

fn git(dir: &Path, args: &[&str]) {
    let output = run(
        Command::new("git").args(args).current_dir(dir),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "git {args:?}:\n{}", text(&output));
}

fn write(dir: &Path, path: &str, content: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A repository where `clusters/prod/api.yaml` pins no image version and relies on the
/// LimitRange in another file for its resources, with a Helm template beside it.
fn sample_repo(dir: &Path) {
    git(dir, &["init", "-q"]);
    write(
        dir,
        "clusters/prod/api.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\n\
         spec:\n  template:\n    spec:\n      containers:\n        - name: api\n\
         \x20         image: harbor.acme.internal/shop/api:latest\n",
    );
    write(
        dir,
        "clusters/prod/limits.yaml",
        "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: defaults\n  namespace: shop-prod\n\
         spec:\n  limits:\n    - type: Container\n      default: {cpu: 500m, memory: 256Mi}\n\
         \x20     defaultRequest: {cpu: 100m, memory: 128Mi}\n",
    );
    write(
        dir,
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    write(
        dir,
        "charts/web/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n\
         spec:\n  replicas: {{ .Values.replicas }}\n",
    );
    write(dir, "README.md", "# not a manifest\n");
    git(dir, &["add", "-A"]);
}

/// The `cargo` that pre-commit finds first on PATH (see the module comment): it logs each
/// call to `cargo.log`, answers `--version`, and for `install` checks that it runs in a clone
/// of this repository and copies this build's tollgate to `<root>/bin`.
fn cargo_shim(dir: &Path) -> PathBuf {
    let bin = dir.join("shim-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("cargo.log");
    let script = format!(
        r#"#!/bin/sh
set -eu
echo "$*" >> '{log}'
case "${{1:-}}" in
  --version) echo "cargo 1.0.0 (tollgate test shim)"; exit 0 ;;
  install) ;;
  *) echo "cargo shim: unexpected call: cargo $*" >&2; exit 1 ;;
esac
root=
while [ $# -gt 0 ]; do
  if [ "$1" = --root ]; then root=$2; shift; fi
  shift
done
grep -q '^name = "tollgate"' Cargo.toml
test -f .pre-commit-hooks.yaml
mkdir -p "$root/bin"
cp '{tollgate}' "$root/bin/tollgate"
"#,
        log = log.display(),
        tollgate = env!("CARGO_BIN_EXE_tollgate"),
    );
    let path = bin.join("cargo");
    std::fs::write(&path, script).unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
    bin
}

fn try_repo(pre_commit: &Path, repo: &Path, home: &Path, files: &[&str]) -> Output {
    let shim = cargo_shim(home.parent().unwrap());
    let mut path = vec![shim];
    path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
    let mut cmd = Command::new(pre_commit);
    crate::common::clear_ambient_env(&mut cmd);
    cmd.args(["try-repo", REPO, "tollgate", "--color", "never", "--files"])
        .args(files)
        .current_dir(repo)
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("PRE_COMMIT_HOME", home)
        .env("PRE_COMMIT_COLOR", "never");
    run(&mut cmd, Duration::from_secs(5 * 60))
}

#[test]
fn the_hook_reports_changed_files_against_the_whole_repository() {
    let dir = tempfile::tempdir().unwrap();
    let Some(pre_commit) = install_pre_commit(dir.path()) else {
        return;
    };
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    sample_repo(&repo);
    let home = dir.path().join("pre-commit-home");

    let output = try_repo(
        &pre_commit,
        &repo,
        &home,
        &[
            "clusters/prod/api.yaml",
            "charts/web/templates/deployment.yaml",
            "README.md",
        ],
    );
    let log = text(&output);
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(log.contains("- hook id: tollgate"), "{log}");
    assert!(log.contains("image-pinned"), "{log}");
    assert!(log.contains("clusters/prod/api.yaml:11:11"), "{log}");
    // The LimitRange in a file that did not change still gives the defaults.
    assert!(!log.contains("resource-requests"), "{log}");
    assert!(!log.contains("resource-limits"), "{log}");
    // Neither the chart template nor the README is read as a manifest.
    assert!(!log.contains("manifest-parse-error"), "{log}");
    assert!(log.contains("scanned 1 file, 1 object"), "{log}");
    // pre-commit set the hook up the way it sets up every Rust hook.
    let cargo_calls = std::fs::read_to_string(dir.path().join("cargo.log")).unwrap();
    assert!(
        cargo_calls
            .lines()
            .any(|call| call.starts_with("install --bins --root ") && call.ends_with(" --path .")),
        "{cargo_calls}"
    );

    // A clean change passes (the hook environment is reused).
    let output = try_repo(&pre_commit, &repo, &home, &["clusters/prod/limits.yaml"]);
    let log = text(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("tollgate") && log.contains("Passed"), "{log}");
}
