//! Reporters: one per output format, all rendering the same sorted findings.

use std::io::{self, Write};

use crate::finding::{Finding, Severity};
use crate::scan::ScanOutcome;

pub mod human;
pub mod json;
pub mod sarif;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Diagnostics with source snippets, grouped by file (the default).
    Human,
    /// tollgate's own JSON document, described field by field in `report::json`.
    Json,
    /// SARIF 2.1.0 for code scanning and DefectDojo.
    Sarif,
}

impl Format {
    /// The format an output file's extension suggests, when `--format` is not given for it.
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".sarif") || name.ends_with(".sarif.json") {
            Some(Format::Sarif)
        } else if name.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// What every reporter gets.
pub struct Report<'a> {
    pub outcome: &'a ScanOutcome,
    /// ANSI colours (only when writing to a terminal).
    pub color: bool,
    /// Threshold of `--fail-on`, for summaries.
    pub fail_on: Option<Severity>,
}

impl Report<'_> {
    pub fn findings(&self) -> &[Finding] {
        &self.outcome.findings
    }
}

/// Renders `report` in `format`.
pub fn write(format: Format, report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => human::write(report, out),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
    }
}

/// Counts of unsuppressed findings per severity, most severe first.
pub fn counts_by_severity(findings: &[Finding]) -> Vec<(Severity, usize)> {
    Severity::ALL
        .iter()
        .map(|&s| {
            (
                s,
                findings
                    .iter()
                    .filter(|f| f.is_active() && f.severity == s)
                    .count(),
            )
        })
        .collect()
}

/// The version reports carry.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
