//! `tollgate audit --gitops`: the real binary against a fake API server serving
//! `fixtures/drift/cluster`, compared with the GitOps repository `fixtures/drift/gitops`
//! (see `fixtures/drift/README.md` for what each object stands for).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use fakeapi::{ADMIN_TOKEN, FakeCluster, HttpsServer, Kubeconfig, ResourceType};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::manifest_values;

const GITOPS: &str = "fixtures/drift/gitops";
const LIVE: &str = "fixtures/drift/cluster";

struct Live {
    _server: HttpsServer,
    dir: TempDir,
    kubeconfig: PathBuf,
}

/// The fixture cluster, reachable as the contexts `production` and `prod-east`.
fn live() -> Live {
    let mut cluster = FakeCluster::new();
    cluster.add_all(manifest_values(LIVE)).unwrap();
    let server = HttpsServer::start(cluster.build()).unwrap();
    let mut kubeconfig = Kubeconfig::new();
    server.add_context(&mut kubeconfig, "production", ADMIN_TOKEN);
    server.add_context(&mut kubeconfig, "prod-east", ADMIN_TOKEN);
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("kubeconfig");
    kubeconfig.write(&path).unwrap();
    Live {
        _server: server,
        dir,
        kubeconfig: path,
    }
}

fn audit(live: &Live, args: &[&str]) -> (Output, Value) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::SeqCst);
    let report = live.dir.path().join(format!("report-{run}.json"));
    let output = crate::common::tollgate()
        .env("NO_COLOR", "1")
        .args(["audit", "--kubeconfig"])
        .arg(&live.kubeconfig)
        .args(args)
        .args(["-f", "json", "-o"])
        .arg(&report)
        .output()
        .unwrap();
    let json = std::fs::read_to_string(&report)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (output, json)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

/// `Kind namespace/name` of each finding of `rule`.
fn objects(report: &Value, rule: &str) -> BTreeSet<String> {
    findings(report, rule)
        .iter()
        .map(|f| {
            let o = &f["object"];
            format!(
                "{} {}/{}",
                o["kind"].as_str().unwrap(),
                o["namespace"].as_str().unwrap_or("_"),
                o["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn line_of(path: &str, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn hand_made_objects_and_out_of_band_changes_are_drift() {
    let live = live();
    let (output, report) = audit(&live, &["--context", "production", "--gitops", GITOPS]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let errors: Vec<&Value> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "error")
        .collect();
    assert!(errors.is_empty(), "{}", text(&output));

    assert_eq!(
        objects(&report, "drift-unmanaged"),
        BTreeSet::from([
            "ConfigMap monitoring/grafana-hotfix".to_string(),
            "ConfigMap shop-prod/staging-only".to_string(),
            "Secret shop-prod/debug-db-password".to_string(),
            "Service shop-prod/debug-nodeport".to_string(),
        ]),
        "{}",
        text(&output)
    );

    // Each message says why the namespace is the repository's.
    let messages: Vec<&str> = findings(&report, "drift-unmanaged")
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("grafana-hotfix")
            && m.contains("Argo CD manages namespace `monitoring`")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("debug-db-password")
            && m.contains(
                "cluster `production` of the repository deploys into namespace `shop-prod`"
            )),
        "{messages:#?}"
    );

    let out_of_band = findings(&report, "drift-out-of-band");
    assert_eq!(out_of_band.len(), 1, "{out_of_band:#?}");
    let finding = out_of_band[0];
    assert_eq!(finding["object"]["name"], "api");
    assert_eq!(
        finding["severity"], "high",
        "takes the privileged finding's"
    );
    let message = finding["message"].as_str().unwrap();
    let api = "fixtures/drift/gitops/clusters/production/shop/api.yaml";
    let line = line_of(api, "privileged: false");
    assert!(
        message.contains("`privileged-container`")
            && message.contains("/apis/apps/v1/namespaces/shop-prod/deployments/api")
            && message.contains(&format!("{api}:{line}")),
        "{message}"
    );
    assert_eq!(finding["file"], "k8s://production/shop-prod/Deployment/api");
    // The rule's own finding is reported as well, on the live object.
    assert_eq!(
        objects(&report, "privileged-container"),
        BTreeSet::from(["Deployment shop-prod/api".to_string()])
    );
    // web is as git has it: whatever fires on it fires in git too.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"].as_str().unwrap().starts_with("drift-"))
            .all(|f| f["object"]["name"] != "web"),
        "{report:#}"
    );
}

#[test]
fn drift_reports_are_deterministic_with_stable_fingerprints() {
    let live = live();
    let (first, one) = audit(
        &live,
        &["--context", "production", "--gitops", GITOPS, "--jobs", "1"],
    );
    let (second, many) = audit(
        &live,
        &["--context", "production", "--gitops", GITOPS, "--jobs", "4"],
    );
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert_eq!(one, many);
    let prints: Vec<&str> = one["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("drift-"))
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = prints.iter().copied().collect();
    assert_eq!(prints.len(), 5);
    assert_eq!(unique.len(), prints.len(), "fingerprints are unique");
}

#[test]
fn a_context_that_matches_no_cluster_of_the_repository_is_incomplete_until_mapped() {
    let live = live();
    let (output, report) = audit(&live, &["--context", "prod-east", "--gitops", GITOPS]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("--gitops-cluster prod-east=CLUSTER"),
        "{}",
        text(&output)
    );
    assert!(objects(&report, "drift-unmanaged").is_empty());
    assert!(!objects(&report, "privileged-container").is_empty());

    let (output, report) = audit(
        &live,
        &[
            "--context",
            "prod-east",
            "--gitops",
            GITOPS,
            "--gitops-cluster",
            "prod-east=production",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(objects(&report, "drift-unmanaged").len(), 4);
    assert_eq!(findings(&report, "drift-out-of-band").len(), 1);

    // A cluster of the repository that declares nothing: said, since it looks like a wrong
    // mapping; only tracked namespaces are judged.
    let (output, _) = audit(
        &live,
        &[
            "--context",
            "prod-east",
            "--gitops",
            GITOPS,
            "--gitops-cluster",
            "prod-east=lab",
        ],
    );
    assert!(
        text(&output).contains("the repository declares nothing for cluster `lab`"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_repository_that_does_not_parse_is_an_incomplete_audit_without_drift() {
    let live = live();
    let repo = TempDir::new().unwrap();
    copy_dir(Path::new(GITOPS), repo.path());
    std::fs::write(
        repo.path().join("clusters/production/shop/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n",
    )
    .unwrap();
    let dir = repo.path().to_str().unwrap().to_string();
    let (output, report) = audit(&live, &["--context", "production", "--gitops", &dir]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let shown = text(&output);
    assert!(
        shown.contains("broken.yaml") && shown.contains("drift against git is not checked"),
        "{shown}"
    );
    assert!(findings(&report, "drift-unmanaged").is_empty());
    assert!(findings(&report, "drift-out-of-band").is_empty());
    // The live findings are still reported.
    assert!(!objects(&report, "privileged-container").is_empty());

    // Against a night when drift was checked, its drift findings are not "fixed".
    let last_night = live.dir.path().join("last-night.json");
    let (_, checked) = audit(&live, &["--context", "production", "--gitops", GITOPS]);
    std::fs::write(&last_night, checked.to_string()).unwrap();
    let previous = last_night.to_str().unwrap();
    let (output, report) = audit(
        &live,
        &[
            "--context",
            "production",
            "--gitops",
            &dir,
            "--previous",
            previous,
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let fixed = report["fixed"].as_array().unwrap();
    assert!(
        fixed
            .iter()
            .all(|f| !f["rule"].as_str().unwrap().starts_with("drift-")),
        "{fixed:#?}"
    );

    // Nothing is pushed: a re-import without drift findings would close last night's.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed_port}");
    let (output, _) = audit(
        &live,
        &[
            "--context",
            "production",
            "--gitops",
            &dir,
            "--defectdojo",
            "--dd-url",
            &url,
            "--dd-product",
            "shop",
            "--dd-engagement",
            "nightly",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("cluster production: not pushed, drift against git was not checked"),
        "{}",
        text(&output)
    );
}

#[test]
fn without_gitops_no_drift_rule_reports() {
    let live = live();
    let (output, report) = audit(
        &live,
        &[
            "--context",
            "production",
            "--config",
            "fixtures/drift/gitops/tollgate.yaml",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(findings(&report, "drift-unmanaged").is_empty());
    assert!(findings(&report, "drift-out-of-band").is_empty());
}

#[test]
fn gitops_without_a_drift_rule_says_so() {
    let live = live();
    let (output, report) = audit(
        &live,
        &[
            "--context",
            "production",
            "--gitops",
            GITOPS,
            "--ignore",
            "drift-unmanaged,drift-out-of-band",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("neither drift rule runs"),
        "{}",
        text(&output)
    );
    assert!(findings(&report, "drift-unmanaged").is_empty());
}

#[test]
fn gitops_cluster_needs_gitops() {
    let output: Output = Command::from_std(crate::common::tollgate_std())
        .args(["audit", "--gitops-cluster", "a=b"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The instances of `cluster` in the repository `dir`, as its deployer would apply them,
/// served by a fake API server (every kind they have, built-in or not).
fn cluster_as_git_has_it(dir: &Path, cluster: &str) -> FakeCluster {
    use tollgate::drift::GitRepository;
    use tollgate::scan::{RunOptions, Setup, environments, load_config};
    let root = std::env::current_dir().unwrap();
    let loaded = load_config(None, dir).unwrap();
    let envs = environments(&loaded, &root).unwrap();
    let setup = Setup::new(loaded, envs, &RunOptions::default(), &root, Vec::new()).unwrap();
    let mut notices = Vec::new();
    let mut repository =
        GitRepository::read(dir, Default::default(), &setup, &root, &mut notices).unwrap();
    let side = repository.side(Some(cluster.to_string()), &setup);
    let mut types = fakeapi::builtin_types();
    types.extend(fakeapi::platform_crds());
    for object in side.inventory().objects() {
        let group = object.group();
        if !types
            .iter()
            .any(|t| t.group == group && t.kind == object.kind)
        {
            let version = object.api_version.rsplit('/').next().unwrap();
            let plural = format!("{}s", object.kind.to_ascii_lowercase());
            let namespaced = object.namespace.is_some();
            types.push(ResourceType::crd(
                group,
                version,
                &object.kind,
                &plural,
                namespaced,
            ));
        }
    }
    let mut fake = FakeCluster::with_types(types);
    for object in side.inventory().objects() {
        let mut value = object.value.to_json();
        let metadata = value["metadata"].as_object_mut().unwrap();
        metadata.insert("name".into(), object.name.as_str().into());
        match &object.namespace {
            Some(ns) => metadata.insert("namespace".into(), ns.as_str().into()),
            None => metadata.remove("namespace"),
        };
        fake.add(value).unwrap();
    }
    fake
}

/// Audits `cluster` served exactly as the repository `dir` declares it, with `--gitops dir`.
fn audit_against_itself(dir: &str, cluster: &str) -> (Output, Value, Vec<String>) {
    let server =
        HttpsServer::start(cluster_as_git_has_it(Path::new(dir), cluster).build()).unwrap();
    let mut kubeconfig = Kubeconfig::new();
    server.add_context(&mut kubeconfig, cluster, ADMIN_TOKEN);
    let temp = TempDir::new().unwrap();
    let path = temp.path().join("kubeconfig");
    kubeconfig.write(&path).unwrap();
    let live = Live {
        _server: server,
        dir: temp,
        kubeconfig: path,
    };
    let (output, report) = audit(&live, &["--context", cluster, "--gitops", dir]);
    let drift = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("drift-"))
        .map(|f| format!("{} {}: {}", f["rule"], f["file"], f["message"]))
        .collect();
    (output, report, drift)
}

#[test]
fn a_cluster_exactly_as_git_declares_it_has_no_drift() {
    let (output, report, drift) = audit_against_itself("fixtures/demo", "production");
    assert!(drift.is_empty(), "{}\n{}", drift.join("\n"), text(&output));
    assert!(
        report["summary"]["objects"].as_u64().unwrap() >= 40,
        "{}",
        text(&output)
    );
    // The production audit is complete: dev-a's broken file is another cluster's.
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("warning: fixtures/demo/clusters/dev-a/shop-dev/broken.yaml:9"),
        "{}",
        text(&output)
    );
}

#[test]
fn drift_findings_are_valid_sarif_with_their_rules() {
    let live = live();
    let sarif_path = live.dir.path().join("drift.sarif");
    let output = crate::common::tollgate()
        .args(["audit", "--kubeconfig"])
        .arg(&live.kubeconfig)
        .args([
            "--context",
            "production",
            "--gitops",
            GITOPS,
            "-f",
            "sarif",
            "-o",
        ])
        .arg(&sarif_path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/schemas/sarif-schema-2.1.0.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    let run = &sarif["runs"][0];
    let rules: BTreeSet<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains("drift-unmanaged") && rules.contains("drift-out-of-band"));
    let uris: BTreeSet<&str> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "drift-unmanaged")
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        uris.contains("k8s://production/shop-prod/Secret/debug-db-password"),
        "{uris:?}"
    );
    // Secret values never reach the report.
    assert!(
        !std::fs::read_to_string(&sarif_path)
            .unwrap()
            .contains("aHVudGVyMi10b3Atc2VjcmV0")
    );
}
