//! Services tollgate talks to over HTTP: DefectDojo (where findings go) and Harbor (where
//! image scan results come from), plus offline Trivy reports standing in for Harbor, and the
//! channels a run's summary is sent to (`notify`).

pub mod defectdojo;
pub mod dojo_findings;
pub mod harbor;
pub mod http;
pub mod notify;
pub mod trivy;
