//! The integration tests, in one binary (one link instead of one per file). Each module is a
//! former `tests/<name>.rs`; `common` and `support` are the helpers they share.

mod common;
mod support;

mod adversarial;
mod audit;
mod audit_cli;
mod ci_files;
mod cli;
mod cli_reports;
mod defectdojo;
mod demo;
mod drift;
mod gitops;
mod golden;
mod harbor;
mod hostile_servers;
mod html_report;
mod morning;
mod peer_agreement;
mod pod_security;
mod policy_fixtures;
mod pre_commit;
mod readme;
mod real_world_rules;
mod rego;
mod rego_compatibility;
mod render;
mod rule_checks;
mod rule_fixtures;
mod secret_values;
mod unread_kinds;
