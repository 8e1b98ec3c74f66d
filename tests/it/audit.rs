//! Live audits against the in-process fake API server (`fakeapi`): discovery, pagination,
//! metadata-only Secrets, every failure mode, and identity with `scan`.

use crate::support;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use fakeapi::{ADMIN_TOKEN, FakeApi, FakeCluster, RecordedRequest, synthetic};
use serde_json::{Value, json};
use support::*;
use tollgate::audit::{AuditOptions, Connection, Target, audit_targets};
use tollgate::finding::{Finding, Severity, object_fingerprint};
use tollgate::model::object::{Object, Origin};
use tollgate::notice::{Notice, NoticeLevel};
use tollgate::report::{self, Format, Report};
use tollgate::scan::{self, RunOptions, ScanOptions, ScanOutcome};
use tollgate::source::cluster::{self, ClusterOptions, Fetched};
use tollgate::source::spans::SpanTree;

fn cluster_options() -> ClusterOptions {
    ClusterOptions {
        request_timeout: Duration::from_secs(10),
        ..ClusterOptions::default()
    }
}

fn audit_options() -> AuditOptions {
    AuditOptions {
        cluster: cluster_options(),
        run: run_options(),
        ..AuditOptions::default()
    }
}

fn run_options() -> RunOptions {
    RunOptions {
        config: Some(CONFIG_FIXTURE.into()),
        jobs: Some(2),
        ..RunOptions::default()
    }
}

fn target(name: &str, api: &FakeApi, token: &str) -> Target {
    let api = api.clone();
    let token = token.to_string();
    Target {
        name: name.to_string(),
        connection: Connection::Custom(Box::new(move || {
            Ok(kube::Client::new(api.router_as(&token), "default"))
        })),
    }
}

/// Reads the fake cluster the way `audit` does.
fn fetch(api: &FakeApi, token: &str, options: &ClusterOptions) -> Fetched {
    tollgate::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = kube::Client::new(api.router_as(token), "default");
        cluster::fetch(&client, "test", options).await
    })
}

fn render(outcome: &ScanOutcome, format: Format) -> String {
    let mut out = Vec::new();
    report::write(
        format,
        &Report {
            outcome,
            color: false,
            fail_on: Some(Severity::Medium),
            sarif_limits: None,
        },
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn keys(fetched: &Fetched) -> Vec<String> {
    fetched
        .objects
        .iter()
        .map(|o| {
            format!(
                "{} {}/{}",
                o.kind,
                o.namespace.as_deref().unwrap_or(""),
                o.name
            )
        })
        .collect()
}

fn messages(notices: &[Notice], level: NoticeLevel) -> Vec<String> {
    notices
        .iter()
        .filter(|n| n.level == level)
        .map(|n| n.to_string())
        .collect()
}

fn lists_of(requests: &[RecordedRequest], path: &str) -> Vec<RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.path == path)
        .cloned()
        .collect()
}

#[test]
fn audit_and_scan_agree_on_findings_and_fingerprints_but_the_cluster() {
    let scanned = scan::scan(
        &ScanOptions {
            paths: vec![CLUSTER_FIXTURE.into()],
            run: run_options(),
            ..ScanOptions::default()
        },
        Vec::new(),
    )
    .unwrap();
    let api = fixture_cluster().build();
    let audited = audit_targets(
        &audit_options(),
        vec![target("production", &api, ADMIN_TOKEN)],
        Vec::new(),
    )
    .unwrap();
    assert!(
        audited.notices.is_empty(),
        "unexpected notices: {:?}",
        audited.notices
    );
    assert!(!scanned.findings.is_empty());

    // The same findings on the same nodes, with the same suppressions…
    let identity = |f: &Finding| {
        (
            f.rule.clone(),
            f.object.clone(),
            f.pointer.clone(),
            f.suppressed.as_ref().map(|s| s.reason.clone()),
            f.environment.clone(),
        )
    };
    // Live-only rules read state files do not have (Backups of a Schedule).
    let live_only = |f: &&Finding| f.rule == "velero-backup-stale";
    let from_files: BTreeSet<_> = scanned.findings.iter().map(identity).collect();
    let from_cluster: BTreeSet<_> = audited
        .findings
        .iter()
        .filter(|f| !live_only(f))
        .map(identity)
        .collect();
    assert_eq!(from_files, from_cluster);
    assert!(
        audited.findings.iter().any(|f| live_only(&f)),
        "the fixture's stale Velero backups are reported live"
    );

    // …whose fingerprints differ only by the cluster: recomputing the file fingerprints with
    // the context as cluster gives exactly the audit's. (The node names list items by their
    // key, so the object's value is needed, not only its identity.)
    let values = manifest_values(CLUSTER_FIXTURE);
    let with_cluster: BTreeSet<String> = scanned
        .findings
        .iter()
        .map(|f| {
            let r = f.object.as_ref().expect("object findings");
            let value = values
                .iter()
                .find(|v| {
                    v["kind"] == r.kind.as_str()
                        && v["metadata"]["name"] == r.name.as_str()
                        && v["metadata"]["namespace"].as_str() == r.namespace.as_deref()
                })
                .cloned()
                .unwrap_or_else(|| {
                    json!({"apiVersion": r.api_version, "kind": r.kind,
                    "metadata": {"name": r.name, "namespace": r.namespace}})
                });
            let object = Object::from_value(
                value.into(),
                Origin::Cluster {
                    context: "production".into(),
                    api_path: String::new(),
                },
                SpanTree::default(),
            )
            .unwrap();
            object_fingerprint(&f.rule, &object, &f.pointer)
        })
        .collect();
    let live: BTreeSet<String> = audited
        .findings
        .iter()
        .filter(|f| !live_only(f))
        .map(|f| f.fingerprint.clone())
        .collect();
    assert_eq!(with_cluster, live);
    let files: BTreeSet<String> = scanned
        .findings
        .iter()
        .map(|f| f.fingerprint.clone())
        .collect();
    assert!(files.is_disjoint(&live), "the cluster is part of identity");

    // Live locations name the object in the cluster.
    let paths: Vec<&str> = audited.findings.iter().map(|f| f.location.path()).collect();
    assert!(
        paths.contains(&"k8s://production/shop-prod/Deployment/api"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"k8s://production/_/Namespace/shop-prod"),
        "cluster-scoped objects have `_` for a namespace: {paths:?}"
    );
    assert_eq!(audited.stats.clusters, 1);
}

#[test]
fn secrets_are_read_as_metadata_only_and_never_reported() {
    let api = fixture_cluster().build();
    let fetched = fetch(&api, ADMIN_TOKEN, &cluster_options());
    let secret_requests: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.path.split('/').any(|s| s == "secrets"))
        .collect();
    assert!(!secret_requests.is_empty());
    for request in &secret_requests {
        assert!(
            request.is_metadata_only(),
            "full Secrets requested: {request:?}"
        );
    }
    let secret = fetched
        .objects
        .iter()
        .find(|o| o.kind == "Secret")
        .expect("the Secret is audited");
    assert_eq!(secret.name, "db-credentials");
    assert_eq!(secret.api_version, "v1");
    assert!(secret.value.get("data").is_none());
    assert!(
        secret
            .annotation(cluster::LAST_APPLIED_ANNOTATION)
            .is_none(),
        "the last-applied annotation holds the Secret's values"
    );
    for object in &fetched.objects {
        assert_no_secret_values(&object.value.to_string(), "an audited object");
        assert!(object.value["metadata"].get("managedFields").is_none());
    }

    let audited = audit_targets(
        &audit_options(),
        vec![target("production", &api, ADMIN_TOKEN)],
        Vec::new(),
    )
    .unwrap();
    for format in [Format::Human, Format::Json, Format::Sarif] {
        assert_no_secret_values(&render(&audited, format), &format!("{format:?} report"));
    }
}

#[test]
fn velero_backups_keep_labels_and_status_and_items_get_their_type() {
    let api = fixture_cluster().build();
    let fetched = fetch(&api, ADMIN_TOKEN, &cluster_options());
    let backups: Vec<&Object> = fetched
        .objects
        .iter()
        .filter(|o| o.is("velero.io", "Backup"))
        .collect();
    assert_eq!(backups.len(), 2);
    for backup in &backups {
        assert_eq!(backup.api_version, "velero.io/v1");
        assert_eq!(
            backup.label("velero.io/schedule-name"),
            Some("shop-prod-daily")
        );
        assert!(backup.at("/status/phase").is_some());
        assert_eq!(backup.cluster(), Some("test"));
    }
    let deployment = fetched
        .objects
        .iter()
        .find(|o| o.kind == "Deployment")
        .unwrap();
    // Built-in list items carry no TypeMeta: it comes from discovery.
    assert_eq!(deployment.value["apiVersion"], "apps/v1");
    assert_eq!(deployment.value["kind"], "Deployment");
    assert!(matches!(
        &deployment.origin,
        Origin::Cluster { api_path, .. } if api_path == "/apis/apps/v1/namespaces/shop-prod/deployments/api"
    ));
    let role = fetched
        .objects
        .iter()
        .find(|o| o.kind == "ClusterRole")
        .unwrap();
    assert_eq!(role.namespace, None);
}

#[test]
fn several_contexts_make_one_sorted_report_and_an_unreachable_one_is_an_error() {
    let production = fixture_cluster().build();
    let mut dev = FakeCluster::new();
    dev.add(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop-dev"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
        .unwrap();
    let dev = dev.build();
    let audited = audit_targets(
        &audit_options(),
        vec![
            target("production", &production, ADMIN_TOKEN),
            Target {
                name: "gone".into(),
                connection: Connection::Custom(Box::new(|| Err("connection refused".into()))),
            },
            target("dev-a", &dev, ADMIN_TOKEN),
        ],
        Vec::new(),
    )
    .unwrap();
    let clusters: BTreeSet<&str> = audited
        .findings
        .iter()
        .filter_map(|f| match &f.location {
            tollgate::finding::Location::Cluster { context, .. } => Some(context.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(clusters, BTreeSet::from(["dev-a", "production"]));
    let mut sorted = audited.findings.clone();
    sorted.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert!(
        sorted
            .iter()
            .zip(&audited.findings)
            .all(|(a, b)| a.fingerprint == b.fingerprint)
    );
    // Placement comes from the context name (environments[].clusters).
    let web = audited
        .findings
        .iter()
        .find(|f| f.object.as_ref().is_some_and(|o| o.name == "web"))
        .unwrap();
    assert_eq!(web.environment.as_deref(), Some("dev"));
    let errors = messages(&audited.notices, NoticeLevel::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("gone") && errors[0].contains("connection refused"));
    assert!(audited.has_errors(), "an unreachable cluster means exit 2");
    assert_eq!(audited.stats.clusters, 2);
}

#[test]
fn lists_are_paginated_with_continue_tokens() {
    let mut cluster = FakeCluster::new();
    for i in 0..1203 {
        cluster
            .add(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:04}"), "namespace": format!("ns-{}", i % 7)}}))
            .unwrap();
    }
    let api = cluster.build();
    let fetched = fetch(&api, ADMIN_TOKEN, &cluster_options());
    let names: Vec<String> = keys(&fetched)
        .into_iter()
        .filter(|k| k.starts_with("ConfigMap"))
        .collect();
    assert_eq!(names.len(), 1203);
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 1203);
    let pages = lists_of(&api.requests(), "/api/v1/configmaps");
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|p| p.query.contains("limit=500")));
    assert!(pages[1].query.contains("continue="));
}

#[test]
fn an_expired_continue_token_restarts_the_list() {
    let mut cluster = FakeCluster::new();
    for i in 0..1100 {
        cluster
            .add(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:04}"), "namespace": "shop-prod"}}))
            .unwrap();
    }
    cluster.expire_continues(1);
    let mut options = cluster_options();
    options.concurrency = 1;
    let api = cluster.build();
    let fetched = fetch(&api, ADMIN_TOKEN, &options);
    assert!(fetched.notices.is_empty(), "{:?}", fetched.notices);
    let names: Vec<String> = keys(&fetched)
        .into_iter()
        .filter(|k| k.starts_with("ConfigMap"))
        .collect();
    assert_eq!(names.len(), 1100, "no object lost or doubled");
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 1100);
    assert!(api.requests().iter().any(|r| r.status == 410));
}

#[test]
fn a_list_that_keeps_expiring_is_an_error() {
    let mut cluster = FakeCluster::new();
    for i in 0..600 {
        cluster
            .add(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:04}"), "namespace": "shop-prod"}}))
            .unwrap();
    }
    cluster.expire_continues(usize::MAX);
    let fetched = fetch(&cluster.build(), ADMIN_TOKEN, &cluster_options());
    let errors = messages(&fetched.notices, NoticeLevel::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("configmaps") && errors[0].contains("expired"));
    assert!(fetched.objects.iter().all(|o| o.kind != "ConfigMap"));
}

#[test]
fn a_forbidden_type_is_a_warning_and_the_audit_goes_on() {
    let mut cluster = fixture_cluster();
    cluster.user(
        "viewer-token",
        "system:serviceaccount:tollgate:viewer",
        &[("", "secrets")],
    );
    let api = cluster.build();
    let audited = audit_targets(
        &audit_options(),
        vec![target("production", &api, "viewer-token")],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(
        audited
            .notices
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["warning: production: not audited: secrets in all namespaces, forbidden"]
    );
    assert!(!audited.has_errors());
    assert!(!audited.findings.is_empty());
    let forbidden: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert_eq!(forbidden.len(), 1, "a 403 is not retried: {forbidden:?}");
}

#[test]
fn forbidden_types_are_reported_together_per_scope() {
    let mut cluster = fixture_cluster();
    cluster.user(
        "viewer-token",
        "viewer",
        &[
            ("", "secrets"),
            ("velero.io", "backups"),
            ("rbac.authorization.k8s.io", "clusterroles"),
        ],
    );
    let fetched = fetch(&cluster.build(), "viewer-token", &cluster_options());
    assert_eq!(
        messages(&fetched.notices, NoticeLevel::Warning),
        [
            "warning: test: not audited: secrets, backups.velero.io in all namespaces, forbidden",
            "warning: test: not audited: clusterroles.rbac.authorization.k8s.io in the cluster, forbidden",
        ]
    );
    assert!(fetched.objects.iter().any(|o| o.kind == "Schedule"));
}

#[test]
fn an_unknown_token_is_an_error_for_that_context() {
    let api = fixture_cluster().build();
    let fetched = fetch(&api, "stolen-token", &cluster_options());
    assert!(!fetched.reachable);
    let errors = messages(&fetched.notices, NoticeLevel::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("401"), "{}", errors[0]);
}

#[test]
fn an_unavailable_group_is_a_warning_with_aggregated_and_legacy_discovery() {
    for aggregated in [true, false] {
        let mut cluster = fixture_cluster();
        cluster
            .aggregated_discovery(aggregated)
            .broken_group("velero.io");
        let fetched = fetch(&cluster.build(), ADMIN_TOKEN, &cluster_options());
        let warnings = messages(&fetched.notices, NoticeLevel::Warning);
        assert_eq!(warnings.len(), 1, "aggregated={aggregated}: {warnings:?}");
        assert!(warnings[0].contains("velero.io/v1"), "{}", warnings[0]);
        assert!(messages(&fetched.notices, NoticeLevel::Error).is_empty());
        assert!(fetched.objects.iter().any(|o| o.kind == "Deployment"));
        assert!(fetched.objects.iter().all(|o| o.group() != "velero.io"));
    }
}

#[test]
fn legacy_discovery_is_used_when_the_server_ignores_aggregated_discovery() {
    let aggregated = fetch(&fixture_cluster().build(), ADMIN_TOKEN, &cluster_options());
    let mut cluster = fixture_cluster();
    cluster.aggregated_discovery(false);
    let api = cluster.build();
    let legacy = fetch(&api, ADMIN_TOKEN, &cluster_options());
    assert!(legacy.notices.is_empty(), "{:?}", legacy.notices);
    assert_eq!(keys(&aggregated), keys(&legacy));
    assert_eq!(aggregated.types, legacy.types);
    let requests = api.requests();
    assert!(requests.iter().any(|r| r.path == "/apis/apps/v1"));
    // Only preferred versions are listed.
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/apis/autoscaling/v2/horizontalpodautoscalers")
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/apis/autoscaling/v1"))
    );
}

#[test]
fn a_type_gone_since_discovery_is_a_warning() {
    let mut cluster = fixture_cluster();
    cluster.vanished("velero.io", "schedules");
    let fetched = fetch(&cluster.build(), ADMIN_TOKEN, &cluster_options());
    let warnings = messages(&fetched.notices, NoticeLevel::Warning);
    assert_eq!(
        warnings,
        [
            "warning: test: not audited: schedules.velero.io in all namespaces, not found (removed since discovery?)"
        ]
    );
    assert!(fetched.objects.iter().any(|o| o.kind == "Backup"));
}

#[test]
fn a_slow_type_times_out_without_stalling_the_audit() {
    let mut cluster = fixture_cluster();
    cluster.slow("", "configmaps", Duration::from_secs(30));
    let mut options = cluster_options();
    options.request_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let fetched = fetch(&cluster.build(), ADMIN_TOKEN, &options);
    assert!(started.elapsed() < Duration::from_secs(10));
    let errors = messages(&fetched.notices, NoticeLevel::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("configmaps") && errors[0].contains("no answer within 300ms"),
        "{}",
        errors[0]
    );
    assert!(fetched.objects.iter().any(|o| o.kind == "Deployment"));
}

#[test]
fn objects_owned_by_controllers_are_skipped_unless_asked() {
    let mut cluster = FakeCluster::new();
    cluster.add_all(synthetic::objects(300, 5)).unwrap();
    let api = cluster.build();
    let fetched = fetch(&api, ADMIN_TOKEN, &cluster_options());
    assert!(fetched.skipped_owned > 0);
    assert!(
        fetched
            .objects
            .iter()
            .all(|o| o.kind != "Pod" && o.kind != "ReplicaSet")
    );
    let mut options = cluster_options();
    options.include_owned = true;
    let all = fetch(&api, ADMIN_TOKEN, &options);
    assert_eq!(all.skipped_owned, 0);
    assert_eq!(
        all.objects.len(),
        fetched.objects.len() + fetched.skipped_owned
    );
    assert_eq!(all.objects.len(), 300);
}

#[test]
fn noisy_types_are_not_listed() {
    let mut cluster = fixture_cluster();
    cluster
        .add(json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "shop-prod"}}))
        .unwrap()
        .add(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "namespace": "kube-system"}}))
        .unwrap();
    let api = cluster.build();
    let fetched = fetch(&api, ADMIN_TOKEN, &cluster_options());
    assert!(
        fetched
            .objects
            .iter()
            .all(|o| o.kind != "Event" && o.kind != "Lease")
    );
    let requests = api.requests();
    for path in [
        "/api/v1/events",
        "/apis/coordination.k8s.io/v1/leases",
        "/apis/metrics.k8s.io/v1beta1/pods",
    ] {
        assert!(
            !requests.iter().any(|r| r.path == path),
            "{path} was listed"
        );
    }
    assert!(requests.iter().all(|r| r.method == "GET"), "read-only");
}

#[test]
fn namespaces_restrict_what_is_read() {
    let api = fixture_cluster().build();
    let mut options = cluster_options();
    options.namespaces = vec!["shop-prod".into()];
    let fetched = fetch(&api, ADMIN_TOKEN, &options);
    assert!(fetched.notices.is_empty(), "{:?}", fetched.notices);
    let namespaces: BTreeSet<Option<&str>> = fetched
        .objects
        .iter()
        .map(|o| o.namespace.as_deref())
        .collect();
    assert_eq!(namespaces, BTreeSet::from([None, Some("shop-prod")]));
    let cluster_scoped: Vec<String> = fetched
        .objects
        .iter()
        .filter(|o| o.namespace.is_none())
        .map(|o| format!("{} {}", o.kind, o.name))
        .collect();
    // ClusterRoles and their bindings are read too: they decide what the namespace's
    // ServiceAccounts may do.
    assert!(cluster_scoped.contains(&"Namespace shop-prod".to_string()));
    assert!(
        fetched
            .objects
            .iter()
            .filter(|o| o.namespace.is_none())
            .all(|o| o.kind == "Namespace" || o.kind.starts_with("ClusterRole")),
        "{cluster_scoped:?}"
    );
    assert!(cluster_scoped.iter().any(|o| o.starts_with("ClusterRole ")));
    let secret_lists = lists_of(&api.requests(), "/api/v1/namespaces/shop-prod/secrets");
    assert_eq!(secret_lists.len(), 1);
    assert!(secret_lists[0].is_metadata_only());
    assert!(
        api.requests()
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/") || r.path.starts_with("/apis/apps/"))
            .filter(|r| r.path.split('/').count() > 4)
            .all(|r| r.path.contains("/namespaces/shop-prod")),
        "{:?}",
        api.requests()
    );
}

#[test]
fn annotations_and_exemptions_suppress_live_findings() {
    let api = fixture_cluster().build();
    let audited = audit_targets(
        &audit_options(),
        vec![target("production", &api, ADMIN_TOKEN)],
        Vec::new(),
    )
    .unwrap();
    let suppressed: Vec<&Finding> = audited
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].rule, "image-registry");
    assert_eq!(
        suppressed[0].object.as_ref().map(|o| o.name.as_str()),
        Some("cache")
    );
    let json: Value = serde_json::from_str(&render(&audited, Format::Json)).unwrap();
    assert_eq!(json["summary"]["clusters"], 1);
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["cluster"] == "production" && f["line"].is_null())
    );
}
