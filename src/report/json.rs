//! `--format json`: tollgate's own report, for scripts.
//!
//! ```text
//! {
//!   "version": 1,                    format version; bumped only on incompatible changes
//!   "tool": {"name": "tollgate", "version": "0.1.0", "fingerprints": "tollgate/v2"},
//!                                    the fingerprint scheme (what `--previous` can match)
//!   "findings": [                    sorted by file, line, column, rule
//!     {
//!       "rule": "image-pinned",      rule id (built-in or policy)
//!       "severity": "medium",        critical | high | medium | low | info (after overrides)
//!       "message": "…",              what is wrong, naming the object; never a Secret value
//!       "remediation": "…",          how to fix it
//!       "file": "clusters/…/a.yaml", path relative to the scan root, or
//!                                    k8s://<context>/<namespace>/<kind>/<name> for live objects
//!       "line": 12, "column": 9,     1-based position of the most specific node; null when live
//!       "pointer": "/spec/…/image",  JSON pointer of that node inside the object
//!       "object": {"apiVersion", "kind", "namespace", "name"}   null for a file-level finding
//!       "environment": "prod",       the object's environment, or null
//!       "cluster": null,             kube context of a live finding
//!       "source": null,              Helm template the document was rendered from (`# Source:`)
//!       "fingerprint": "…",          stable identity (rule + object + pointer, never a line)
//!       "suppressed": null,          or {"reason": "…", "source": "annotation|exemption|baseline"}
//!       "change": "new"              with --previous only: new | unchanged (matched by fingerprint)
//!     }
//!   ],
//!   "summary": {
//!     "files", "documents", "objects",   what was scanned
//!     "clusters",                        clusters audited (0 for a scan of files)
//!     "findings",                        all findings, suppressed included
//!     "active", "suppressed",            split of the above
//!     "bySeverity": {"critical": n, …}   unsuppressed findings per severity
//!     "byRule": {"image-pinned": n, …}   unsuppressed findings per rule
//!     "skipped",                         files not read as manifests (inputs of builds)
//!     "gitops": {"buildFiles", "deploys", "instances", "generated", "helmNotRendered",
//!                "remoteBases"}          what the GitOps model followed (docs/gitops.md)
//!     "notEvaluated": ["image-scan"]     rules that could not run (their source was
//!                                        unreachable); they reported nothing, not a pass
//!   },
//!   "errors": [                      problems of the run itself, not findings
//!     {"level": "warning|error", "message": "…", "path": "…"|null, "line": n|null}
//!   ],
//!   "previous": {                    with --previous only: the report compared with
//!     "file": "last.json", "since": "2026-12-05T02:31:07Z"|null (its modification time;
//!     null when it was not there), "new": n, "unchanged": n, "fixed": n   (unsuppressed)
//!   },
//!   "fixed": [                       with --previous only: its findings that are gone (where
//!     {"rule", "severity", "message", "remediation", "file", "line", "column", "object",
//!      "environment", "cluster", "fingerprint"}     this run looked), same fields as above
//!   ]
//! }
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::finding::{Change, Finding, Location, Severity, Suppression};
use crate::model::object::ObjectRef;
use crate::notice::Notice;
use crate::report::previous::PreviousFinding;
use crate::report::{Report, VERSION};

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    tool: Tool,
    findings: Vec<JsonFinding<'a>>,
    summary: Summary<'a>,
    errors: &'a [Notice],
    /// With `--previous` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<Previous<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed: Option<&'a [PreviousFinding]>,
}

#[derive(Serialize)]
struct Previous<'a> {
    file: &'a str,
    since: Option<&'a str>,
    new: usize,
    unchanged: usize,
    fixed: usize,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
    /// The scheme of the fingerprints, so that `--previous` knows what it compares.
    fingerprints: &'static str,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: Severity,
    message: &'a str,
    remediation: &'a str,
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    pointer: &'a str,
    object: Option<&'a ObjectRef>,
    environment: Option<&'a str>,
    cluster: Option<&'a str>,
    source: Option<&'a str>,
    fingerprint: &'a str,
    suppressed: Option<&'a Suppression>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<Change>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    files: usize,
    documents: usize,
    objects: usize,
    clusters: usize,
    findings: usize,
    active: usize,
    suppressed: usize,
    by_severity: BTreeMap<&'static str, usize>,
    by_rule: BTreeMap<String, usize>,
    not_evaluated: &'a [String],
    /// Files not read as manifests (inputs of builds).
    skipped: usize,
    gitops: Gitops,
}

/// What the GitOps model followed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Gitops {
    build_files: usize,
    deploys: usize,
    instances: usize,
    generated: usize,
    helm_not_rendered: usize,
    remote_bases: usize,
}

fn finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule: &f.rule,
        severity: f.severity,
        message: &f.message,
        remediation: &f.remediation,
        file: f.location.path(),
        line: f.location.line(),
        column: f.location.column(),
        pointer: &f.pointer,
        object: f.object.as_ref(),
        environment: f.environment.as_deref(),
        cluster: match &f.location {
            Location::Cluster { context, .. } => Some(context),
            Location::File { .. } => None,
        },
        source: f.helm_source.as_deref(),
        fingerprint: &f.fingerprint,
        suppressed: f.suppressed.as_ref(),
        change: f.change,
    }
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let findings = report.findings();
    let stats = &report.outcome.stats;
    let active = findings.iter().filter(|f| f.is_active()).count();
    let mut by_rule = BTreeMap::new();
    for f in findings.iter().filter(|f| f.is_active()) {
        *by_rule.entry(f.rule.clone()).or_insert(0) += 1;
    }
    let document = Document {
        version: 1,
        tool: Tool {
            name: "tollgate",
            version: VERSION,
            fingerprints: crate::finding::FINGERPRINT_SCHEME,
        },
        findings: findings.iter().map(finding).collect(),
        summary: Summary {
            files: stats.files,
            documents: stats.documents,
            objects: stats.objects,
            clusters: stats.clusters,
            findings: findings.len(),
            active,
            suppressed: findings.len() - active,
            by_severity: crate::report::counts_by_severity(findings)
                .into_iter()
                .map(|(s, n)| (s.as_str(), n))
                .collect(),
            by_rule,
            not_evaluated: &report.outcome.not_evaluated,
            skipped: stats.skipped.len(),
            gitops: Gitops {
                build_files: stats.gitops.build_files,
                deploys: stats.gitops.deploys,
                instances: stats.gitops.instances,
                generated: stats.gitops.generated,
                helm_not_rendered: stats.gitops.helm_sources,
                remote_bases: stats.gitops.remote_bases,
            },
        },
        errors: &report.outcome.notices,
        previous: report.outcome.changes.as_ref().map(|c| {
            let (new, unchanged) = crate::report::previous::counts(findings);
            Previous {
                file: &c.previous,
                since: c.since.as_deref(),
                new,
                unchanged,
                fixed: c.fixed.len(),
            }
        }),
        fixed: report.outcome.changes.as_ref().map(|c| c.fixed.as_slice()),
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}
