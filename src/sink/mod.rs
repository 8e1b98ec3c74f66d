//! Services tollgate talks to over HTTP: DefectDojo (where findings go) and Harbor (where
//! image scan results come from), plus offline Trivy reports standing in for Harbor.

pub mod defectdojo;
pub mod harbor;
pub mod http;
pub mod trivy;
