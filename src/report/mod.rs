//! Reporters: one per output format, all rendering the same sorted findings.

use std::io::{self, Write};

use crate::finding::{Finding, Location, Severity};
use crate::outcome::ScanOutcome;

pub mod github;
pub mod gitlab;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod previous;
pub mod sarif;
mod snippet;
#[cfg(test)]
pub(crate) mod testdata;

/// `text` with the characters a terminal would act on made visible: C0 controls but tab and
/// line feed, a carriage return not followed by a line feed, DEL, C1 controls, and the Unicode
/// bidirectional overrides ("Trojan Source"). A file name or a YAML string must not move the
/// cursor, recolour, retitle or reorder what a CI log shows.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let acts = |c: char, next: Option<char>| match c {
        '\t' | '\n' => false,
        '\r' => next != Some('\n'),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    };
    let mut chars = text.chars().peekable();
    let mut clean = true;
    while let Some(c) = chars.next() {
        if acts(c, chars.peek().copied()) {
            clean = false;
            break;
        }
    }
    if clean {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !acts(c, chars.peek().copied()) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Diagnostics with source snippets, grouped by file (the default).
    Human,
    /// tollgate's own JSON document, described field by field in `report::json`.
    Json,
    /// SARIF 2.1.0 for code scanning and DefectDojo.
    Sarif,
    /// GitLab Code Quality (`artifacts:reports:codequality`).
    Gitlab,
    /// JUnit XML: one test suite per rule, one test case per object it checked.
    Junit,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// One self-contained HTML page: charts, heatmap, a filterable table.
    Html,
}

impl Format {
    /// The format an output file's extension suggests, when `--format` is not given for it.
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".sarif") || name.ends_with(".sarif.json") {
            Some(Format::Sarif)
        } else if name.ends_with(".html") || name.ends_with(".htm") {
            Some(Format::Html)
        } else if name.ends_with(".xml") {
            Some(Format::Junit)
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
    /// What a SARIF file may hold (GitHub code scanning's limits), or no limit.
    pub sarif_limits: Option<sarif::Limits>,
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
        Format::Gitlab => gitlab::write(report, out),
        Format::Junit => junit::write(report, out),
        Format::Github => github::write(report, out),
        Format::Html => html::write(report, out),
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

/// Where a finding is in the repository, for formats that annotate repository files (GitLab
/// Code Quality, GitHub annotations): its file, line and column; for a document rendered
/// from a chart or kustomization (which is no file), the template it came from or else the
/// chart's `Chart.yaml` / the kustomization, without a position; for a live object, its
/// `k8s://` URI.
pub struct RepoLocation<'a> {
    pub path: &'a str,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

pub fn repo_location<'a>(outcome: &'a ScanOutcome, finding: &'a Finding) -> RepoLocation<'a> {
    match &finding.location {
        Location::File { path, line, column } => match outcome.sources.rendered_anchor(path) {
            Some(anchor) => RepoLocation {
                path: finding.helm_source.as_deref().unwrap_or(anchor),
                line: None,
                column: None,
            },
            None => RepoLocation {
                path,
                line: Some(*line),
                column: Some(*column),
            },
        },
        Location::Cluster { uri, .. } => RepoLocation {
            path: uri,
            line: None,
            column: None,
        },
    }
}

/// The version reports carry.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn terminal_controls_are_made_visible() {
        assert_eq!(printable("plain: text\tok\r\n"), "plain: text\tok\r\n");
        assert_eq!(
            printable("a\u{1b}]0;owned\u{7}b\u{9b}c\rd\u{202e}e"),
            "a\\x1b]0;owned\\x07b\\x9bc\\x0dd\\u{202e}e"
        );
    }
}
