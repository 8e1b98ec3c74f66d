use super::*;
use crate::source::files::load_bytes;

/// Writes `files` under a temporary root and builds the model over them.
fn model(files: &[(&str, &str)], clusters: &[ClusterConfig]) -> (tempfile::TempDir, Built) {
    let dir = tempfile::tempdir().unwrap();
    let mut objects = Vec::new();
    let mut displays = Vec::new();
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, text).unwrap();
        if path.ends_with(".yaml") {
            objects.extend(load_bytes(path, text.as_bytes()).objects);
            displays.push(path.to_string());
        }
    }
    let clusters = Clusters::new(clusters, "").unwrap();
    let built = build(
        objects,
        &BuildInput {
            files: &displays,
            root: dir.path(),
            repo_roots: vec![String::new()],
            clusters: &clusters,
        },
    );
    (dir, built)
}

fn find<'a>(built: &'a Built, kind: &str, name: &str) -> Vec<&'a Object> {
    built
        .objects
        .iter()
        .filter(|o| o.kind == kind && o.name == name)
        .collect()
}

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:0.1\n";

#[test]
fn overlays_make_one_instance_each_with_their_namespace_and_images() {
    let (_dir, built) = model(
        &[
            ("base/deploy.yaml", DEPLOY),
            ("base/kustomization.yaml", "resources: [deploy.yaml]\n"),
            (
                "overlays/dev/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop-dev\nresources: [../../base]\n",
            ),
            (
                "overlays/prod/kustomization.yaml",
                "namespace: shop-prod\nnamePrefix: p-\ncommonLabels: {env: prod}\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/web\n    newName: harbor.example.com/acme/web\n    newTag: \"1.4.2\"\n",
            ),
        ],
        &[],
    );
    assert!(built.notices.is_empty(), "{:?}", built.notices);
    assert_eq!(
        built.objects.len(),
        2,
        "the base file is not an instance of itself"
    );
    let dev = &find(&built, "Deployment", "web")[0];
    assert_eq!(dev.namespace.as_deref(), Some("shop-dev"));
    assert_eq!(dev.at("/metadata/namespace").unwrap(), "shop-dev");
    let dev_instance = dev.instance.as_ref().unwrap();
    assert_eq!(
        dev_instance.via,
        ["overlays/dev/kustomization.yaml", "base/kustomization.yaml"]
    );
    let prod = &find(&built, "Deployment", "p-web")[0];
    assert_eq!(prod.namespace.as_deref(), Some("shop-prod"));
    assert_eq!(prod.label("env"), Some("prod"));
    let image = "/spec/template/spec/containers/0/image";
    assert_eq!(prod.at(image).unwrap(), "harbor.example.com/acme/web:1.4.2");
    // The rewritten image is located at the `images:` entry; the rest at the source.
    assert_eq!(
        prod.source_of(image).unwrap().0,
        "overlays/prod/kustomization.yaml"
    );
    assert_eq!(prod.source_of(image).unwrap().1.line, 7);
    assert_eq!(
        prod.source_of("/spec/template/spec/containers/0/name"),
        Some((
            "base/deploy.yaml",
            crate::model::spans::Pos {
                line: 10,
                column: 11
            }
        ))
    );
    assert_eq!(
        prod.source_of("/metadata/namespace").unwrap().0,
        "overlays/prod/kustomization.yaml"
    );
    assert_eq!(
        built.build_files.len(),
        3,
        "build files are instructions: {:?}",
        built.build_files
    );
}

#[test]
fn generators_make_objects_at_their_lines_and_inputs_are_not_manifests() {
    let (_dir, built) = model(
        &[
            (
                "app/kustomization.yaml",
                "namespace: monitoring\nconfigMapGenerator:\n  - name: cfg\n    files: [values.yaml]\n    literals: [DB_HOST=master.postgres-prod.svc]\nsecretGenerator:\n  - name: creds\n    envs: [creds.env]\n",
            ),
            (
                "app/values.yaml",
                "vault:\n  address: https://vault.${X}\n  role: {name: x\n",
            ),
            ("app/creds.env", "# comment\nPASSWORD=hunter2\n"),
        ],
        &[],
    );
    assert!(built.inputs.contains_key("app/values.yaml"));
    assert!(built.inputs.contains_key("app/creds.env"));
    let cfg = &find(&built, "ConfigMap", "cfg")[0];
    assert_eq!(cfg.namespace.as_deref(), Some("monitoring"));
    assert_eq!(cfg.at("/data/DB_HOST").unwrap(), "master.postgres-prod.svc");
    assert_eq!(cfg.source_of("/data/DB_HOST").unwrap().1.line, 5);
    let secret = &find(&built, "Secret", "creds")[0];
    assert_eq!(
        secret.source_of("/data/PASSWORD").unwrap(),
        (
            "app/creds.env",
            crate::model::spans::Pos { line: 2, column: 1 }
        )
    );
    assert!(secret.instance.as_ref().unwrap().generated);
}

#[test]
fn bad_input_is_a_warning_with_its_line_and_the_rest_carries_on() {
    let (_dir, built) = model(
        &[
            (
                "a/kustomization.yaml",
                "resources:\n  - missing.yaml\n  - ../b\n  - https://github.com/acme/x//base?ref=v1\n  - ok.yaml\n",
            ),
            (
                "a/ok.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n",
            ),
            ("b/kustomization.yaml", "resources: [../a]\n"),
        ],
        &[],
    );
    let text: Vec<String> = built.notices.iter().map(|n| n.to_string()).collect();
    assert!(
        text.iter()
            .any(|n| n.contains("a/kustomization.yaml:2") && n.contains("missing.yaml")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|n| n.contains("a/kustomization.yaml:4") && n.contains("remote base")),
        "{text:?}"
    );
    assert!(text.iter().any(|n| n.contains("cycle")), "{text:?}");
    assert_eq!(built.summary.remote_bases, 1);
    assert!(!find(&built, "ConfigMap", "ok").is_empty());
}

#[test]
fn argo_and_flux_deploy_folders_into_their_clusters() {
    let clusters = vec![
        ClusterConfig {
            name: "production".into(),
            paths: vec!["clusters/production/**".into()],
            destinations: vec!["https://prod.example.com:6443".into()],
        },
        ClusterConfig {
            name: "staging".into(),
            paths: vec!["clusters/staging/**".into()],
            destinations: vec!["staging".into()],
        },
    ];
    let (_dir, built) = model(
        &[
            (
                "clusters/production/apps.yaml",
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  source: {repoURL: x, path: apps/shop}\n  destination: {server: https://prod.example.com:6443, namespace: shop-prod}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: chart, namespace: argocd}\nspec:\n  source: {repoURL: x, chart: redis}\n  destination: {name: in-cluster, namespace: redis}\n",
            ),
            (
                "clusters/staging/flux.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: shop, namespace: flux-system}\nspec:\n  path: ./apps/shop\n  targetNamespace: shop-staging\n",
            ),
            (
                "apps/shop/pvc.yaml",
                "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: keep}\n",
            ),
        ],
        &clusters,
    );
    assert!(built.notices.is_empty(), "{:?}", built.notices);
    let pvcs = find(&built, "PersistentVolumeClaim", "data");
    let placed: Vec<(Option<&str>, Option<&str>)> = pvcs
        .iter()
        .map(|o| (o.gitops_cluster(), o.namespace.as_deref()))
        .collect();
    assert_eq!(
        placed,
        [
            (Some("production"), Some("keep")),
            (Some("staging"), Some("shop-staging"))
        ]
    );
    assert_eq!(built.summary.helm_sources, 1);
    // The Applications themselves are objects of the cluster of their folder.
    assert_eq!(
        find(&built, "Application", "shop")[0].gitops_cluster(),
        Some("production")
    );
}

#[test]
fn application_sets_expand_their_static_generators() {
    let (_dir, built) = model(
        &[
            (
                "argo/set.yaml",
                "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: apps}\nspec:\n  generators:\n    - git:\n        repoURL: x\n        directories: [{path: 'apps/*'}]\n  template:\n    metadata: {name: '{{path.basename}}'}\n    spec:\n      source: {repoURL: x, path: '{{path}}'}\n      destination: {server: https://kubernetes.default.svc, namespace: '{{path.basename}}-prod'}\n",
            ),
            (
                "apps/a/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            ),
            (
                "apps/b/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            ),
        ],
        &[],
    );
    assert_eq!(
        find(&built, "ConfigMap", "a")[0].namespace.as_deref(),
        Some("a-prod")
    );
    assert_eq!(
        find(&built, "ConfigMap", "b")[0].namespace.as_deref(),
        Some("b-prod")
    );
}

#[test]
fn masks_generated_secret_values_where_they_are_written() {
    let k = "secretGenerator:\n  - name: creds\n    literals:\n      - password=hunter2\n    files: [tls.key]\n";
    let mut notices = Vec::new();
    let built = crate::gitops::kustomize::parse(
        "kustomization.yaml",
        k,
        &|p| (p == "tls.key").then(|| "BEGIN\nsecret\n".to_string()),
        &mut notices,
    )
    .unwrap();
    let secret = built.generators[0].object(&built).unwrap();
    let mut out = std::collections::HashMap::new();
    let text_of = |p: &str| match p {
        "kustomization.yaml" => Some(k.to_string()),
        "tls.key" => Some("BEGIN\nsecret\n".to_string()),
        _ => None,
    };
    crate::source::redact::generated_secret_lines(&secret, &text_of, &mut out);
    let masked = crate::source::redact::apply(k, &out["kustomization.yaml"]);
    assert!(masked.contains("      - password= ***\n"), "{masked}");
    assert!(!crate::source::redact::apply("BEGIN\nsecret\n", &out["tls.key"]).contains("secret"));
}
