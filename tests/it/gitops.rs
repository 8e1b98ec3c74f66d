//! GitOps repositories as the cluster will see them (DESIGN §13), end to end from the CLI:
//! the real-world reproductions of `fixtures/real-world/` (each behaves as a platform
//! engineer expects, see its README line) and the model's pieces on small trees.

use crate::common;

use common::*;
use serde_json::Value;

/// `tollgate scan . --format json` inside `dir`.
fn scan_in(dir: &std::path::Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let out = tollgate()
        .current_dir(dir)
        .args(["scan", ".", "--format", "json", "--fail-on", "never"])
        .args(extra)
        .output()
        .unwrap();
    let report = if out.stdout.is_empty() {
        Value::Null
    } else {
        json(&out)
    };
    (out.status.code(), report, stderr(&out))
}

fn case(name: &str) -> (Option<i32>, Value, String) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/real-world")
        .join(name);
    scan_in(&dir, &[])
}

/// `(rule, object)` of every finding, object as `Kind ns/name`.
fn rule_objects(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let o = &f["object"];
            let object = if o.is_null() {
                String::new()
            } else {
                match o["namespace"].as_str() {
                    Some(ns) => format!(
                        "{} {}/{}",
                        o["kind"].as_str().unwrap(),
                        ns,
                        o["name"].as_str().unwrap()
                    ),
                    None => format!(
                        "{} {}",
                        o["kind"].as_str().unwrap(),
                        o["name"].as_str().unwrap()
                    ),
                }
            };
            (f["rule"].as_str().unwrap().to_string(), object)
        })
        .collect()
}

fn has(report: &Value, rule: &str, object: &str) -> bool {
    rule_objects(report)
        .iter()
        .any(|(r, o)| r == rule && o == object)
}

fn fires(report: &Value, rule: &str) -> bool {
    rule_objects(report).iter().any(|(r, _)| r == rule)
}

fn messages(report: &Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n["message"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn r1_the_kustomization_namespace_applies() {
    let (_, report, _) = case("r1-kustomize-ns");
    let all = rule_objects(&report);
    assert!(
        all.iter()
            .any(|(r, o)| r == "velero-backup-coverage" && o.contains("shop-prod")),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|(r, o)| r == "network-default-deny" && o.contains("shop-prod")),
        "{all:?}"
    );
    assert!(!fires(&report, "secret-ref-unmanaged"), "{all:?}");
    assert!(!fires(&report, "env-placement"), "{all:?}");
}

#[test]
fn r2_a_namespace_under_a_prod_path_is_prod() {
    let (_, report, _) = case("r2-paths-only-env");
    let all = rule_objects(&report);
    for rule in [
        "velero-backup-coverage",
        "network-default-deny",
        "secret-ref-unmanaged",
    ] {
        assert!(
            all.iter().any(|(r, o)| r == rule && o.contains("shop/")),
            "{rule}: {all:?}"
        );
    }
}

#[test]
fn r3_a_namespaced_object_never_takes_an_environment_from_its_name() {
    let (_, report, _) = case("r3-name-as-env");
    let all = rule_objects(&report);
    assert!(!fires(&report, "env-placement"), "{all:?}");
    assert!(
        all.iter()
            .any(|(_, o)| o == "Deployment reports-dev/exporter-prod"),
        "the namespace comes from the kustomization: {all:?}"
    );
}

#[test]
fn r4_kustomize_build_files_are_not_objects() {
    let (code, report, _) = case("r4-kustomization-object");
    assert_eq!(code, Some(0));
    assert_eq!(rule_objects(&report), Vec::<(String, String)>::new());
    assert_eq!(report["summary"]["objects"], 0);
}

#[test]
fn r11_the_image_that_will_run_is_checked() {
    let (_, report, _) = case("r11-kustomize-images");
    let all = rule_objects(&report);
    assert!(!fires(&report, "image-registry"), "{all:?}");
}

#[test]
fn r11_a_culprit_images_entry_is_where_the_finding_points() {
    let dir = tree(&[
        (
            "tollgate.yaml",
            "registries: {allowed: [harbor.example.com]}\n",
        ),
        (
            "app/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec: {containers: [{name: web, image: harbor.example.com/acme/web:1.0}]}\n",
        ),
        (
            "app/kustomization.yaml",
            "namespace: shop-prod\nresources: [deploy.yaml]\nimages:\n  - name: harbor.example.com/acme/web\n    newName: docker.io/acme/web\n",
        ),
    ]);
    let (_, report, _) = scan_in(dir.path(), &[]);
    let found: Vec<(String, String, u64)> = findings(&report)
        .into_iter()
        .filter(|(r, _, _)| r == "image-registry")
        .collect();
    assert_eq!(
        found,
        [(
            "image-registry".to_string(),
            "app/kustomization.yaml".to_string(),
            4
        )]
    );
}

#[test]
fn r13_one_clusters_backups_and_secrets_never_satisfy_another() {
    let (_, report, _) = case("r13-cross-cluster");
    let all = rule_objects(&report);
    assert!(
        has(&report, "plain-secret", "Secret shop-prod/db-credentials"),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|(r, o)| r == "velero-backup-coverage" && o.contains("shop-prod")),
        "{all:?}"
    );
}

#[test]
fn r13_without_clusters_the_repository_is_one_cluster_and_says_so() {
    let dir = tree(&[
        (
            "clusters/a/x.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: n}\n",
        ),
        (
            "clusters/b/x.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: n}\n",
        ),
    ]);
    let (_, report, _) = scan_in(dir.path(), &[]);
    let notes = messages(&report);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("clusters/a") && n.contains("`clusters:`")),
        "{notes:?}"
    );
}

#[test]
fn r14_each_root_is_checked_with_its_own_configuration() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/real-world/r14-multipath");
    let out = tollgate()
        .current_dir(&root)
        .args(["scan", "a", "b", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    let code = out.status.code();
    if code == Some(2) {
        // Refusing to mix them is acceptable, as long as it says why.
        let err = stderr(&out);
        assert!(
            err.contains("a/tollgate.yaml") && err.contains("b/tollgate.yaml"),
            "{err}"
        );
    } else {
        let report = json(&out);
        assert!(
            !fires(&report, "image-registry"),
            "{:?}",
            rule_objects(&report)
        );
    }
}

#[test]
fn r16_the_kustomization_namespace_replaces_an_explicit_default() {
    let (_, report, _) = case("r16-kustomize-ns-override");
    let all = rule_objects(&report);
    assert!(all.iter().all(|(_, o)| !o.contains("default/")), "{all:?}");
    assert!(
        all.iter()
            .any(|(r, o)| r == "network-default-deny" && o.contains("web-prod")),
        "{all:?}"
    );
}

#[test]
fn r17_generator_inputs_are_not_manifests() {
    let (_, report, _) = case("r17-generator-input");
    assert!(
        !fires(&report, "manifest-parse-error"),
        "{:?}",
        rule_objects(&report)
    );
}

#[test]
fn one_base_in_two_overlays_is_two_instances_with_their_own_fingerprints() {
    let dir = tree(&[
        (
            "base/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec: {containers: [{name: web, image: 'harbor.example.com/web:latest'}]}\n",
        ),
        ("base/kustomization.yaml", "resources: [deploy.yaml]\n"),
        (
            "overlays/dev/kustomization.yaml",
            "namespace: web-dev\nresources: [../../base]\n",
        ),
        (
            "overlays/prod/kustomization.yaml",
            "namespace: web-prod\nresources: [../../base]\n",
        ),
    ]);
    let (_, report, _) = scan_in(dir.path(), &["--select", "image-pinned"]);
    let found = findings(&report);
    assert_eq!(
        found,
        [
            (
                "image-pinned".to_string(),
                "base/deploy.yaml".to_string(),
                6
            ),
            (
                "image-pinned".to_string(),
                "base/deploy.yaml".to_string(),
                6
            )
        ]
    );
    let objects = rule_objects(&report);
    assert!(
        objects.iter().any(|(_, o)| o == "Deployment web-dev/web"),
        "{objects:?}"
    );
    assert!(
        objects.iter().any(|(_, o)| o == "Deployment web-prod/web"),
        "{objects:?}"
    );
    let fingerprints: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), 2);
}

#[test]
fn argo_application_and_flux_kustomization_deploy_into_their_clusters() {
    let dir = tree(&[
        (
            "tollgate.yaml",
            "velero: {required_envs: [prod]}\nenvironments:\n  - name: prod\n    namespaces: ['*-prod']\nclusters:\n  - name: a\n    paths: ['clusters/a/**']\n    destinations: ['https://a.example:6443']\n  - name: b\n    paths: ['clusters/b/**']\n",
        ),
        (
            "clusters/a/app.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  source: {repoURL: x, path: apps/shop}\n  destination: {server: 'https://a.example:6443', namespace: shop-prod}\n",
        ),
        (
            "clusters/b/flux.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: velero, namespace: flux-system}\nspec:\n  path: ./platform/velero\n",
        ),
        (
            "apps/shop/pvc.yaml",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
        ),
        (
            "platform/velero/schedule.yaml",
            "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {name: daily, namespace: velero}\nspec:\n  schedule: '0 2 * * *'\n  template: {includedNamespaces: ['*'], ttl: 720h0m0s}\n",
        ),
    ]);
    let (_, report, _) = scan_in(dir.path(), &[]);
    // Cluster b's Schedule does not back up cluster a's PVC, placed in shop-prod by Argo CD.
    let all = rule_objects(&report);
    assert!(
        all.iter()
            .any(|(r, o)| r == "velero-backup-coverage" && o.contains("shop-prod")),
        "{all:?}"
    );
}

#[test]
fn bad_build_input_is_a_warning_with_its_line_and_the_scan_carries_on() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources:\n  - missing.yaml\n  - https://github.com/acme/x//base?ref=v1\n  - cm.yaml\nimages:\n  - newTag: '1'\n",
        ),
        (
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n",
        ),
        (
            "argo.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: gone}\nspec:\n  source: {repoURL: x, path: not/here}\n  destination: {namespace: n}\n",
        ),
    ]);
    let (code, report, _) = scan_in(dir.path(), &[]);
    assert_eq!(code, Some(0), "warnings do not fail the run");
    let errors = report["errors"].as_array().unwrap();
    let at = |path: &str, line: u64, text: &str| {
        errors.iter().any(|e| {
            e["path"] == path && e["line"] == line && e["message"].as_str().unwrap().contains(text)
        })
    };
    assert!(
        at("app/kustomization.yaml", 2, "missing.yaml"),
        "{errors:?}"
    );
    assert!(at("app/kustomization.yaml", 3, "remote base"), "{errors:?}");
    assert!(at("app/kustomization.yaml", 6, "images"), "{errors:?}");
    assert!(at("argo.yaml", 5, "not/here"), "{errors:?}");
    assert_eq!(report["summary"]["objects"], 2);
}

#[test]
fn verbose_lists_skipped_inputs_and_the_summary_counts_them() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/real-world/r17-generator-input");
    let out = tollgate()
        .current_dir(&root)
        .args([
            "scan",
            ".",
            "--verbose",
            "--fail-on",
            "never",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        err.contains("skipped app/values.yaml: input of a kustomize build"),
        "{err}"
    );
    assert!(
        stdout(&out).contains("1 input of builds skipped"),
        "{}",
        stdout(&out)
    );
    let (_, report, _) = case("r17-generator-input");
    assert_eq!(report["summary"]["skipped"], 1);
    assert_eq!(report["summary"]["gitops"]["buildFiles"], 1);
    assert_eq!(report["summary"]["gitops"]["generated"], 1);
}

#[test]
fn a_resource_above_the_scan_root_is_named_and_never_read() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(
        outer.path().join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: leaked}\nstringData: {password: outside-value}\n",
    )
    .unwrap();
    let repo = outer.path().join("repo/app");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("kustomization.yaml"),
        "namespace: shop-prod\nresources:\n  - ../../secret.yaml\n",
    )
    .unwrap();
    let (code, report, stderr) = scan_in(&outer.path().join("repo"), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let text = report.to_string();
    assert!(
        !text.contains("outside-value") && !text.contains("leaked"),
        "{text}"
    );
    assert_eq!(report["summary"]["objects"], 0);
    assert!(
        messages(&report)
            .iter()
            .any(|m| m.contains("`../../secret.yaml` is outside the scanned tree")),
        "{:?}",
        messages(&report)
    );
}
