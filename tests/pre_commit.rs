//! The pre-commit hook, through the real pre-commit tool: a virtualenv gets `pre-commit` from
//! PyPI, a temporary git repository gets a violating manifest, and
//! `pre-commit try-repo <this repository> tollgate --files …` must fail with the finding.
//!
//! What it needs: `python3` with the `venv` module (and its `ensurepip`), `git`, `cargo`, and
//! network access to PyPI and crates.io. Only an unreachable PyPI skips it (with a message).
//!
//! `try-repo` clones this repository at HEAD (plus uncommitted changes to tracked files) and
//! builds the hook with `cargo install --path` (a release build, here without optimisation to
//! save time). `CARGO_TARGET_DIR` is kept in `target/tmp/pre-commit-hook`, so only the first run
//! on a machine compiles the dependencies; later runs rebuild tollgate itself.
//! `PRE_COMMIT_HOME` is a fresh temporary directory every run, so that no stale hook
//! environment is ever reused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
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

fn try_repo(pre_commit: &Path, repo: &Path, home: &Path, files: &[&str]) -> Output {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-hook");
    let mut cmd = Command::new(pre_commit);
    cmd.args(["try-repo", REPO, "tollgate", "--color", "never", "--files"])
        .args(files)
        .current_dir(repo)
        .env("PRE_COMMIT_HOME", home)
        .env("PRE_COMMIT_COLOR", "never")
        // Keep compiled dependencies between runs; the hook's binary goes to its own root.
        .env("CARGO_TARGET_DIR", &target)
        // Unoptimised and without debug info: the hook behaves the same, and the cold build
        // (every dependency) takes about half the time of an optimised one.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_TERM_COLOR", "never");
    run(&mut cmd, Duration::from_secs(20 * 60))
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

    // A clean change passes (the hook environment is reused).
    let output = try_repo(&pre_commit, &repo, &home, &["clusters/prod/limits.yaml"]);
    let log = text(&output);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("tollgate") && log.contains("Passed"), "{log}");
}
