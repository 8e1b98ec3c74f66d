//! The CI integrations users copy: `action.yml` (composite GitHub Action), the GitLab CI
//! template and `.pre-commit-hooks.yaml`. Each is parsed and checked for consistency, and
//! their shell steps are run for real against the demo repository with this build of tollgate
//! on PATH (everything but installing tollgate and uploading).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use yaml_serde::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(REPO).join(path)).unwrap();
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn string(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// `${{ ... }}` expressions in `text`, trimmed.
fn expressions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").expect("closed expression") + start;
        out.push(rest[start + 3..end].trim().to_string());
        rest = &rest[end + 2..];
    }
    out
}

/// Dotted references (`inputs.x`, `steps.a.outputs.b`) in an expression.
fn references(expression: &str) -> Vec<String> {
    expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .filter(|w| w.contains('.') && !w.starts_with('.'))
        .map(str::to_string)
        .collect()
}

/// A copy of the demo repository to run CI steps in.
fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(REPO).join("fixtures/demo");
    for entry in ignore::WalkBuilder::new(&from).hidden(false).build() {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(&from).unwrap();
        let to = dir.path().join(relative);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    dir
}

/// PATH with this build's tollgate first.
fn path_with_tollgate() -> std::ffi::OsString {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tollgate"));
    let mut dirs = vec![bin.parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
    std::env::join_paths(dirs).unwrap()
}

// ---------------------------------------------------------------------------------------------
// GitHub Action

struct Action {
    inputs: BTreeMap<String, String>,
    steps: Vec<Value>,
}

fn action() -> Action {
    let doc = yaml("action.yml");
    let inputs = doc["inputs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            assert!(
                v.get("description").is_some(),
                "input {k:?} has no description"
            );
            (
                string(k).to_string(),
                v.get("default")
                    .map(|d| string(d).to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(string(&doc["runs"]["using"]), "composite");
    Action {
        inputs,
        steps: doc["runs"]["steps"].as_sequence().unwrap().clone(),
    }
}

#[test]
fn action_inputs_steps_and_outputs_are_consistent() {
    let text = std::fs::read_to_string(Path::new(REPO).join("action.yml")).unwrap();
    let action = action();
    let doc = yaml("action.yml");
    for input in [
        "paths",
        "config",
        "policy",
        "fail-on",
        "format",
        "sarif-file",
        "upload",
        "version",
    ] {
        assert!(action.inputs.contains_key(input), "input {input} missing");
    }
    // Which outputs each step id provides: what its script writes to GITHUB_OUTPUT, or an
    // action's documented outputs.
    let mut outputs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for step in &action.steps {
        let Some(id) = step.get("id").map(string) else {
            continue;
        };
        let mut provided = BTreeSet::new();
        if let Some(run) = step.get("run").map(string) {
            for line in run.lines().filter(|l| l.contains("GITHUB_OUTPUT")) {
                let name = line
                    .trim_start()
                    .trim_start_matches("echo \"")
                    .split('=')
                    .next()
                    .unwrap();
                provided.insert(name.to_string());
            }
        } else if string(&step["uses"]).starts_with("actions/cache@") {
            provided.insert("cache-hit".to_string());
        }
        outputs.insert(id.to_string(), provided);
    }
    for expression in expressions(&text) {
        for reference in references(&expression) {
            let parts: Vec<&str> = reference.split('.').collect();
            match parts[0] {
                "inputs" => assert!(
                    action.inputs.contains_key(parts[1]),
                    "`{expression}` names an input that does not exist"
                ),
                "steps" => {
                    assert_eq!(parts.get(2), Some(&"outputs"), "{expression}");
                    let provided = outputs
                        .get(parts[1])
                        .unwrap_or_else(|| panic!("`{expression}`: no step `{}`", parts[1]));
                    assert!(
                        provided.contains(parts[3]),
                        "`{expression}`: step `{}` does not set `{}`",
                        parts[1],
                        parts[3]
                    );
                }
                "github" => assert!(
                    ["github.action_path", "github.workspace"].contains(&reference.as_str()),
                    "{expression}"
                ),
                other => panic!("unexpected context `{other}` in `{expression}`"),
            }
        }
    }
    for (name, output) in doc["outputs"].as_mapping().unwrap() {
        assert!(
            string(&output["value"]).contains("steps.scan.outputs."),
            "output {name:?}"
        );
    }
    let uses: Vec<&str> = action
        .steps
        .iter()
        .filter_map(|s| s.get("uses").map(string))
        .collect();
    assert!(
        uses.contains(&"github/codeql-action/upload-sarif@v4"),
        "{uses:?}"
    );
    assert!(uses.iter().any(|u| u.starts_with("actions/cache@v")));
    for step in &action.steps {
        if step.get("run").is_some() {
            assert_eq!(step.get("shell").map(string), Some("bash"), "{step:?}");
        }
    }
    // Upload comes before failing, and failing is the last step.
    let names: Vec<&str> = action.steps.iter().map(|s| string(&s["name"])).collect();
    let upload = names
        .iter()
        .position(|n| n.starts_with("Upload SARIF"))
        .unwrap();
    assert_eq!(upload, names.len() - 2, "{names:?}");
    assert!(names.last().unwrap().starts_with("Fail"));
    // The install builds from the action's own checkout, with the build cached.
    let install = action
        .steps
        .iter()
        .find(|s| string(&s["name"]) == "Install tollgate")
        .unwrap();
    assert!(
        string(&install["run"])
            .contains("cargo install --locked --force --root \"$root\" --path \"$ACTION_PATH\"")
    );
}

/// Substitutes `${{ … }}` the way the runner would for these simple references.
fn substitute(
    text: &str,
    inputs: &BTreeMap<String, String>,
    context: &BTreeMap<String, String>,
) -> String {
    let mut out = text.to_string();
    for expression in expressions(text) {
        let value = if let Some(input) = expression.strip_prefix("inputs.") {
            inputs[input].clone()
        } else {
            context
                .get(&expression)
                .unwrap_or_else(|| panic!("no value for `{expression}`"))
                .clone()
        };
        out = out.replace(&format!("${{{{ {expression} }}}}"), &value);
    }
    out
}

/// Runs a `shell: bash` step as the runner does (`bash --noprofile --norc -eo pipefail`).
fn run_step(
    step: &Value,
    inputs: &BTreeMap<String, String>,
    context: &BTreeMap<String, String>,
    cwd: &Path,
    github_output: &Path,
) -> std::process::Output {
    run_step_with(step, inputs, context, cwd, github_output, &[])
}

fn run_step_with(
    step: &Value,
    inputs: &BTreeMap<String, String>,
    context: &BTreeMap<String, String>,
    cwd: &Path,
    github_output: &Path,
    extra_env: &[(&str, &std::ffi::OsStr)],
) -> std::process::Output {
    let script = cwd.join(".step.sh");
    std::fs::write(&script, string(&step["run"])).unwrap();
    let mut cmd = Command::new("bash");
    crate::common::clear_ambient_env(&mut cmd);
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .current_dir(cwd)
        .env("PATH", path_with_tollgate())
        .env("GITHUB_OUTPUT", github_output)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64");
    if let Some(env) = step.get("env").and_then(Value::as_mapping) {
        for (k, v) in env {
            cmd.env(string(k), substitute(string(v), inputs, context));
        }
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    std::fs::remove_file(&script).unwrap();
    output
}

fn outputs_of(file: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn step<'a>(action: &'a Action, id_or_name: &str) -> &'a Value {
    action
        .steps
        .iter()
        .find(|s| s.get("id").map(string) == Some(id_or_name) || string(&s["name"]) == id_or_name)
        .unwrap_or_else(|| panic!("no step {id_or_name}"))
}

/// The action's scan and fail steps on the demo repository, for a `fail-on`.
fn scan_and_fail(fail_on: &str) -> (BTreeMap<String, String>, Option<i32>, tempfile::TempDir) {
    let action = action();
    let work = demo_copy();
    let mut inputs = action.inputs.clone();
    inputs.insert("fail-on".into(), fail_on.into());
    inputs.insert("format".into(), "github".into());
    inputs.insert("paths".into(), "clusters\ntollgate.yaml".into());
    inputs.insert("args".into(), "--ignore manifest-parse-error".into());
    let mut context = BTreeMap::new();
    context.insert(
        "github.workspace".to_string(),
        work.path().display().to_string(),
    );
    context.insert("github.action_path".to_string(), REPO.to_string());
    let output_file = work.path().join(".github_output");

    let scan = run_step(
        step(&action, "scan"),
        &inputs,
        &context,
        work.path(),
        &output_file,
    );
    assert!(scan.status.success(), "the scan step never fails: {scan:?}");
    let stdout = String::from_utf8_lossy(&scan.stdout);
    assert!(stdout.contains("::error file=clusters/"), "{stdout}");
    assert!(
        !stdout.contains("title=manifest-parse-error"),
        "args are passed: {stdout}"
    );
    let outputs = outputs_of(&output_file);
    for (k, v) in &outputs {
        context.insert(format!("steps.scan.outputs.{k}"), v.clone());
    }
    let fail = step(&action, "Fail on findings at or above fail-on");
    assert_eq!(
        string(&fail["if"]),
        "${{ steps.scan.outputs.exit-code != '0' }}"
    );
    let code = if outputs["exit-code"] != "0" {
        let fail_run = run_step(fail, &inputs, &context, work.path(), &output_file);
        let stdout = String::from_utf8_lossy(&fail_run.stdout);
        assert!(stdout.starts_with("::error title=tollgate::"), "{stdout}");
        fail_run.status.code()
    } else {
        None
    };
    (outputs, code, work)
}

#[test]
fn action_scan_writes_sarif_and_fails_only_in_the_last_step() {
    let (outputs, code, work) = scan_and_fail("medium");
    assert_eq!(outputs["exit-code"], "1");
    assert_eq!(outputs["sarif-file"], "tollgate.sarif");
    assert_eq!(outputs["sarif-written"], "true");
    assert_eq!(code, Some(1));
    let sarif: Json =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("tollgate.sarif")).unwrap())
            .unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .all(|r| r["ruleId"] != "manifest-parse-error")
    );
    assert!(results.iter().any(|r| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("clusters/production/")
    }));

    let (outputs, code, _) = scan_and_fail("never");
    assert_eq!(outputs["exit-code"], "0");
    assert_eq!(code, None, "nothing fails below the threshold");
}

#[test]
fn action_prepare_step_keys_the_cache_on_the_sources() {
    let action = action();
    let work = tempfile::tempdir().unwrap();
    let mut context = BTreeMap::new();
    context.insert("github.action_path".to_string(), REPO.to_string());
    let output_file = work.path().join("out");
    let run = run_step(
        step(&action, "prepare"),
        &action.inputs,
        &context,
        work.path(),
        &output_file,
    );
    assert!(run.status.success(), "{run:?}");
    let outputs = outputs_of(&output_file);
    let bin_key = &outputs["bin-key"];
    assert!(
        bin_key.starts_with("tollgate-bin-Linux-X64-source-"),
        "{bin_key}"
    );
    assert_eq!(bin_key.len(), "tollgate-bin-Linux-X64-source-".len() + 16);
    assert!(outputs["build-key"].starts_with(&outputs["build-prefix"]));

    let mut inputs = action.inputs.clone();
    inputs.insert("version".into(), "0.1.0".into());
    std::fs::remove_file(&output_file).unwrap();
    run_step(
        step(&action, "prepare"),
        &inputs,
        &context,
        work.path(),
        &output_file,
    );
    assert_eq!(
        outputs_of(&output_file)["bin-key"],
        "tollgate-bin-Linux-X64-crates-0.1.0"
    );
}

#[test]
fn action_install_step_uses_the_cached_binary_or_needs_cargo() {
    let action = action();
    let install = step(&action, "Install tollgate");
    let home = tempfile::tempdir().unwrap();
    let mut context = BTreeMap::new();
    context.insert("github.action_path".to_string(), REPO.to_string());
    context.insert(
        "steps.prepare.outputs.bin-key".to_string(),
        "tollgate-bin-test".to_string(),
    );
    let github_path = home.path().join("github_path");
    let output_file = home.path().join("out");
    // No cached binary and no cargo on PATH: a clear error.
    let refs: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("HOME", home.path().as_os_str()),
        ("GITHUB_PATH", github_path.as_os_str()),
        ("PATH", std::ffi::OsStr::new("/usr/bin:/bin")),
    ];
    let run = run_step_with(
        install,
        &action.inputs,
        &context,
        home.path(),
        &output_file,
        &refs,
    );
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        String::from_utf8_lossy(&run.stdout)
            .contains("::error title=tollgate::cargo is not installed")
    );

    // A cached binary with the right key is used as it is.
    let bin = home.path().join(".cache/tollgate-action/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_tollgate"), bin.join("tollgate")).unwrap();
    std::fs::write(bin.join(".key"), "tollgate-bin-test\n").unwrap();
    let run = run_step_with(
        install,
        &action.inputs,
        &context,
        home.path(),
        &output_file,
        &refs,
    );
    assert!(run.status.success(), "{run:?}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("tollgate from the cache"), "{stdout}");
    assert!(stdout.contains("tollgate 0."), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        bin.display().to_string()
    );
}

// ---------------------------------------------------------------------------------------------
// GitLab CI template

#[test]
fn gitlab_template_publishes_reports_and_fails_on_the_threshold() {
    let doc = yaml("ci/gitlab/tollgate.gitlab-ci.yml");
    let variables: BTreeMap<String, String> = doc["variables"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (string(k).to_string(), string(v).to_string()))
        .collect();
    let job = &doc["tollgate"];
    assert_eq!(string(&job["artifacts"]["when"]), "always");
    let codequality = string(&job["artifacts"]["reports"]["codequality"]);
    let junit = string(&job["artifacts"]["reports"]["junit"]);
    assert_eq!(string(&job["cache"]["when"]), "always");
    let script: Vec<&str> = job["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(string)
        .collect();
    let scan = script
        .iter()
        .find(|l| l.starts_with("tollgate scan"))
        .unwrap();
    assert!(
        scan.contains(&format!("--format gitlab --output {codequality}")),
        "{scan}"
    );
    assert!(
        scan.contains(&format!("--format junit --output {junit}")),
        "{scan}"
    );
    assert!(scan.contains("--fail-on \"$TOLLGATE_FAIL_ON\""));
    // Every TOLLGATE_ variable the job uses is defined with a default.
    let text =
        std::fs::read_to_string(Path::new(REPO).join("ci/gitlab/tollgate.gitlab-ci.yml")).unwrap();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')) {
        if let Some(name) = word.strip_prefix("$TOLLGATE_") {
            assert!(
                variables.contains_key(&format!("TOLLGATE_{name}")),
                "{name}"
            );
        }
    }

    // Run the job's script as a runner would, with tollgate already on PATH (so nothing is
    // built) in a copy of the demo repository.
    let work = demo_copy();
    let mut cmd = Command::new("sh");
    crate::common::clear_ambient_env(&mut cmd);
    cmd.arg("-ec")
        .arg(script.join("\n"))
        .current_dir(work.path())
        .env("PATH", path_with_tollgate())
        .env("CI_PROJECT_DIR", work.path());
    for (k, v) in &variables {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("image-pinned"),
        "human report in the log: {stdout}"
    );
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(work.path().join(codequality)).unwrap())
            .unwrap();
    assert!(!report.as_array().unwrap().is_empty());
    let xml = std::fs::read_to_string(work.path().join(junit)).unwrap();
    roxmltree::Document::parse(&xml).expect("JUnit report is XML");

    // Below the threshold the job passes.
    let mut cmd = Command::new("sh");
    crate::common::clear_ambient_env(&mut cmd);
    cmd.arg("-ec")
        .arg(script.join("\n"))
        .current_dir(work.path())
        .env("PATH", path_with_tollgate())
        .env("CI_PROJECT_DIR", work.path());
    for (k, v) in &variables {
        cmd.env(k, v);
    }
    cmd.env("TOLLGATE_FAIL_ON", "never");
    assert_eq!(cmd.output().unwrap().status.code(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// pre-commit

#[test]
fn pre_commit_hook_definition() {
    let doc = yaml(".pre-commit-hooks.yaml");
    let hooks = doc.as_sequence().unwrap();
    let hook = hooks
        .iter()
        .find(|h| string(&h["id"]) == "tollgate")
        .expect("a hook with id tollgate");
    assert_eq!(string(&hook["language"]), "rust");
    assert_eq!(string(&hook["entry"]), "tollgate scan --inventory-root .");
    let types: Vec<&str> = hook["types_or"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(string)
        .collect();
    assert_eq!(types, ["yaml", "json"]);
    assert_ne!(
        hook.get("pass_filenames").and_then(Value::as_bool),
        Some(false)
    );
    assert_eq!(hook["require_serial"].as_bool(), Some(true));
}

/// What the hook's entry does with the files pre-commit passes (the real pre-commit run is
/// in tests/pre_commit.rs): cross-resource facts from the whole repository, findings only on
/// the files given, and chart templates left alone as the directory walk leaves them.
#[test]
fn hook_entry_reports_only_the_given_files_with_the_whole_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "apps/api.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: harbor.acme.internal/shop/api:1.0.0\n",
    );
    write(
        "apps/limits.yaml",
        "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: defaults\n  namespace: shop\nspec:\n  limits:\n    - type: Container\n      default: {cpu: 500m, memory: 256Mi}\n      defaultRequest: {cpu: 100m, memory: 128Mi}\n",
    );
    write(
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    write(
        "charts/web/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    );
    let run = |args: &[&str]| {
        let output = crate::common::tollgate_std()
            .current_dir(dir.path())
            .args(args)
            .args(["--format", "json"])
            .args([
                "--select",
                "resource-requests,resource-limits,manifest-parse-error",
            ])
            .output()
            .unwrap();
        let report: Json = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code(), report)
    };
    // Alone, the Deployment lacks resources.
    let (code, report) = run(&["scan", "apps/api.yaml"]);
    assert_eq!(code, Some(1));
    assert!(!report["findings"].as_array().unwrap().is_empty());
    // With the repository as inventory, the LimitRange gives the defaults; the template is
    // not a manifest and is not reported.
    let (code, report) = run(&[
        "scan",
        "--inventory-root",
        ".",
        "apps/api.yaml",
        "charts/web/templates/deployment.yaml",
    ]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["summary"]["files"], 1);
}
