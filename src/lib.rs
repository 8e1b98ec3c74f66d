//! tollgate: a fast, parallel policy and compliance scanner for Kubernetes platforms.
//!
//! The pipeline: sources ([`source`]) → objects and inventory ([`model`]) → rules
//! ([`rules`], run by [`engine`], with facts from [`external`]) → findings ([`finding`]) →
//! suppression ([`suppress`]) → outcome ([`outcome`]) → reports ([`report`]) and sinks
//! ([`sink`]). [`scan`] and [`audit`] tie it together for files and clusters; [`commands`]
//! is the command line ([`run`]).
//!
//! Hostile input must never panic the scanner: `expect`/`unwrap` are denied outside tests,
//! and each remaining one carries an `allow` that says why it cannot fail.
#![cfg_attr(not(test), warn(clippy::expect_used, clippy::unwrap_used))]

/// `tollgate audit`: the pipeline over live clusters.
pub mod audit;
/// Command-line arguments (clap); only `commands` uses them.
pub mod cli;
/// One module per command, report writing and exit codes.
pub mod commands;
/// `tollgate.yaml`: loading and validation.
pub mod config;
/// Drift between a GitOps repository and the clusters (`audit --gitops`).
pub mod drift;
/// The rule engine: `RuleSet`, `Setup`, `Evaluation` and the evaluator traits.
pub mod engine;
/// Typed errors.
pub mod error;
/// Facts from outside the manifests (Harbor, Trivy reports), gathered before the rules run.
pub mod external;
/// Findings, severities, locations and fingerprints.
pub mod finding;
/// GitOps repositories as the cluster will see them: kustomize, Argo CD, Flux, clusters.
pub mod gitops;
/// Objects, the inventory, environments, workloads, spans.
pub mod model;
/// Warnings and errors about the run itself.
pub mod notice;
/// What a run produced: findings, rules, notices, statistics, sources, checks.
pub mod outcome;
/// Rego policies (conftest, Gatekeeper) as an evaluator.
pub mod rego;
/// Reporters, one per output format.
pub mod report;
/// The built-in rules and their registry.
pub mod rules;
/// `tollgate scan`: the file pipeline.
pub mod scan;
/// Where results go besides reports (DefectDojo) and where external facts come from (Harbor,
/// Trivy).
pub mod sink;
/// Where documents come from: files, stdin, rendered charts, live clusters.
pub mod source;
/// Suppression: annotations, exemptions, baselines.
pub mod suppress;
/// The TLS crypto provider every HTTP client uses.
pub mod tls;

pub use commands::{
    defectdojo_settings, emit, exit, explain, print_error, push_to_defectdojo, run,
    wants_defectdojo,
};
