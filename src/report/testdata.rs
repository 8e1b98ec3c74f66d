//! One set of findings every reporter is tested on: all severities, a suppressed finding, a
//! parse error without an object, two findings sharing a fingerprint (the same object in two
//! folders), a live finding, a document rendered from a Helm chart, and messages with the
//! characters formats must escape.

use std::sync::Arc;

use crate::finding::{Finding, Location, Severity, Suppression, SuppressionSource};
use crate::model::object::ObjectRef;
use crate::notice::Notice;
use crate::outcome::{CheckedObject, Checks, ScanOutcome, Stats};
use crate::rules::{self, RuleInfo};

fn object(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: match kind {
            "Deployment" | "DaemonSet" => "apps/v1".into(),
            "Ingress" => "networking.k8s.io/v1".into(),
            _ => "v1".into(),
        },
        kind: kind.into(),
        namespace: namespace.map(str::to_string),
        name: name.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    rule: &str,
    severity: Severity,
    message: &str,
    object: Option<ObjectRef>,
    path: &str,
    line: u32,
    column: u32,
    pointer: &str,
    fingerprint: &str,
) -> Finding {
    Finding {
        rule: rule.into(),
        severity,
        message: message.into(),
        remediation: format!("Fix {rule}."),
        environment: object
            .as_ref()
            .and_then(|o| o.namespace.as_deref())
            .and_then(|ns| ns.rsplit('-').next())
            .map(str::to_string),
        object,
        location: Location::File {
            path: path.into(),
            line,
            column,
        },
        pointer: pointer.into(),
        fingerprint: fingerprint.into(),
        suppressed: None,
        helm_source: None,
        change: None,
    }
}

fn extra_rule(id: &str, severity: Severity) -> RuleInfo {
    RuleInfo {
        id: id.into(),
        title: format!("{id} title"),
        severity,
        default_severity: severity,
        tags: vec!["test".into()],
        remediation: format!("Fix {id}."),
        doc: format!("What {id} checks.\n\n### Why\n\nBecause."),
        source: "policies/test.rego".into(),
    }
}

pub const API_PROD: &str = "clusters/prod/api.yaml";
pub const API_COPY: &str = "clusters/prod-copy/api.yaml";
pub const RENDERED: &str = "charts/web/(helm template)";
pub const TEMPLATE: &str = "charts/web/templates/deployment.yaml";
pub const TRICKY_MESSAGE: &str =
    "container `api`: no memory limit, 100% of the node\r\nis reachable";

/// The shared outcome, sorted as `engine::finish` sorts.
pub fn outcome() -> ScanOutcome {
    let api = object("Deployment", Some("shop-prod"), "api");
    let mut findings = vec![
        finding(
            "image-pinned",
            Severity::High,
            "container `api` of Deployment shop-prod/api uses image `api:latest`",
            Some(api.clone()),
            API_PROD,
            18,
            16,
            "/spec/template/spec/containers/0/image",
            "aaaa0000000000000000000000000001",
        ),
        finding(
            "resource-limits",
            Severity::Medium,
            TRICKY_MESSAGE,
            Some(api.clone()),
            API_PROD,
            14,
            9,
            "/spec/template/spec/containers/0",
            "aaaa0000000000000000000000000002",
        ),
        // The same object copied to another folder: same identity, same fingerprint.
        finding(
            "image-pinned",
            Severity::High,
            "container `api` of Deployment shop-prod/api uses image `api:latest`",
            Some(api.clone()),
            API_COPY,
            18,
            16,
            "/spec/template/spec/containers/0/image",
            "aaaa0000000000000000000000000001",
        ),
        finding(
            "plain-secret",
            Severity::Critical,
            "Secret shop-prod/db is committed in plain text <&\"'>",
            Some(object("Secret", Some("shop-prod"), "db")),
            "clusters/prod/secret.yaml",
            1,
            1,
            "",
            "aaaa0000000000000000000000000003",
        ),
        finding(
            "suppression-reason-missing",
            Severity::Low,
            "annotation `ignore.tollgate.dev/image-pinned` gives no reason",
            Some(object("ConfigMap", Some("shop-prod"), "settings")),
            "clusters/prod/settings.yaml",
            6,
            5,
            "/metadata/annotations/ignore.tollgate.dev~1image-pinned",
            "aaaa0000000000000000000000000004",
        ),
        finding(
            "ingress-tls",
            Severity::Info,
            "Ingress shop-prod/web serves plain HTTP",
            Some(object("Ingress", Some("shop-prod"), "web")),
            "clusters/prod/ingress.yaml",
            7,
            3,
            "/spec",
            "aaaa0000000000000000000000000005",
        ),
        finding(
            "manifest-parse-error",
            Severity::High,
            "while parsing a flow sequence, expected ',' or ']'",
            None,
            "clusters/dev/broken.yaml",
            9,
            1,
            "",
            "aaaa0000000000000000000000000006",
        ),
    ];
    let mut suppressed = finding(
        "image-registry",
        Severity::Medium,
        "image `rancher/klipper-lb:v0.4.9` is from docker.io, not an allowed registry",
        Some(object("DaemonSet", Some("kube-system"), "svclb")),
        "clusters/prod/kube-system.yaml",
        20,
        18,
        "/spec/template/spec/containers/0/image",
        "aaaa0000000000000000000000000007",
    );
    suppressed.suppressed = Some(Suppression {
        reason: "k3s ships its system images from docker.io".into(),
        source: SuppressionSource::Exemption,
    });
    findings.push(suppressed);
    let mut rendered = finding(
        "resource-requests",
        Severity::Medium,
        "container `web` of Deployment shop-dev/web has no memory request",
        Some(object("Deployment", Some("shop-dev"), "web")),
        RENDERED,
        30,
        9,
        "/spec/template/spec/containers/0",
        "aaaa0000000000000000000000000008",
    );
    rendered.helm_source = Some(TEMPLATE.into());
    findings.push(rendered);
    findings.push(Finding {
        location: Location::Cluster {
            context: "production".into(),
            uri: "k8s://production/shop-prod/Deployment/api".into(),
        },
        fingerprint: "aaaa0000000000000000000000000009".into(),
        ..finding(
            "image-pinned",
            Severity::High,
            "container `api` of Deployment shop-prod/api uses image `api:latest`",
            Some(api.clone()),
            "",
            0,
            0,
            "/spec/template/spec/containers/0/image",
            "",
        )
    });
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));

    let mut rules: Vec<RuleInfo> = [
        "image-pinned",
        "image-registry",
        "manifest-parse-error",
        "resource-limits",
        "resource-requests",
        "suppression-reason-missing",
    ]
    .iter()
    .map(|id| RuleInfo::from_meta(rules::find(id).expect("built-in rule").meta()))
    .collect();
    rules.push(extra_rule("plain-secret", Severity::Critical));
    rules.push(extra_rule("ingress-tls", Severity::Info));
    rules.sort_by(|a, b| a.id.cmp(&b.id));

    let checked = |kind: &str, ns: &str, name: &str, path: &str, line: u32| CheckedObject {
        object: object(kind, Some(ns), name),
        path: path.into(),
        line: Some(line),
    };
    // Ordered by path and line, as the scan orders them.
    let objects = vec![
        checked("Deployment", "shop-dev", "web", RENDERED, 20),
        checked("Deployment", "shop-prod", "api", API_COPY, 1),
        checked("Deployment", "shop-prod", "api", API_PROD, 1),
        checked(
            "Ingress",
            "shop-prod",
            "web",
            "clusters/prod/ingress.yaml",
            1,
        ),
        checked(
            "DaemonSet",
            "kube-system",
            "svclb",
            "clusters/prod/kube-system.yaml",
            1,
        ),
        checked("Secret", "shop-prod", "db", "clusters/prod/secret.yaml", 1),
        checked(
            "ConfigMap",
            "shop-prod",
            "settings",
            "clusters/prod/settings.yaml",
            1,
        ),
        checked(
            "Deployment",
            "shop-prod",
            "worker",
            "clusters/prod/worker.yaml",
            1,
        ),
    ];
    let workloads = vec![0, 1, 2, 4, 7];
    let checks = Checks {
        objects,
        files: vec![
            RENDERED.into(),
            "clusters/dev/broken.yaml".into(),
            API_COPY.into(),
            API_PROD.into(),
            "clusters/prod/ingress.yaml".into(),
            "clusters/prod/kube-system.yaml".into(),
            "clusters/prod/secret.yaml".into(),
            "clusters/prod/settings.yaml".into(),
            "clusters/prod/worker.yaml".into(),
        ],
        by_rule: [
            ("image-pinned", workloads.clone()),
            ("image-registry", workloads.clone()),
            ("resource-limits", workloads.clone()),
            ("resource-requests", workloads),
            ("manifest-parse-error", vec![]),
            ("suppression-reason-missing", vec![6]),
            ("plain-secret", vec![5]),
            ("ingress-tls", vec![3]),
        ]
        .into_iter()
        .map(|(id, ids)| (id.to_string(), ids))
        .collect(),
    };

    let mut outcome = ScanOutcome {
        findings,
        rules,
        notices: vec![
            Notice::warning("exemption for `image-registry` expired on 2026-01-31, 50% done")
                .at("tollgate.yaml", Some(12)),
        ],
        stats: Stats {
            files: 9,
            documents: 9,
            objects: 8,
            bytes: 4096,
            ..Stats::default()
        },
        checks,
        ..Default::default()
    };
    let text: String = (1..=40).map(|n| format!("line {n}\n")).collect();
    outcome
        .sources
        .insert_rendered(RENDERED, Arc::from(text.as_str()), "charts/web/Chart.yaml");
    outcome
}
