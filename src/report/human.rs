//! `--format human`: miette diagnostics with the source snippet and the remediation, grouped
//! by file, then the run's warnings and a summary line. Colour only on a terminal.

use std::fmt;
use std::io::{self, Write};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode, SourceSpan,
};
use owo_colors::OwoColorize;

use crate::finding::{Finding, Location, Severity};
use crate::notice::NoticeLevel;
use crate::report::snippet::{SnippetFile, Window};
use crate::report::{Report, counts_by_severity, printable};
use crate::rules::manifest_parse_error;

/// One finding as a miette diagnostic.
struct FindingDiagnostic {
    message: String,
    rule: String,
    severity: Severity,
    help: Option<String>,
    source: Option<Window>,
    span: Option<SourceSpan>,
    label: String,
}

impl fmt::Debug for FindingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for FindingDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FindingDiagnostic {}

impl Diagnostic for FindingDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("{} [{}]", self.rule, self.severity)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Critical | Severity::High => miette::Severity::Error,
            Severity::Medium => miette::Severity::Warning,
            Severity::Low | Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            span,
        ))))
    }
}

fn diagnostic(finding: &Finding, source: Option<&SnippetFile>) -> FindingDiagnostic {
    let label = match (&finding.object, &finding.environment) {
        (Some(object), Some(env)) => format!("{} ({env})", object.display()),
        (Some(object), None) => object.display(),
        (None, _) => finding.severity.to_string(),
    };
    let mut help = finding.remediation.clone();
    if let Some(template) = &finding.helm_source {
        help = format!("{help}\nrendered from {template}");
    }
    let parse_error = finding.rule == manifest_parse_error::ID;
    let (window, span) = match (&finding.location, source) {
        (Location::File { path, line, column }, Some(file)) => {
            match file.window(path, *line, *column, parse_error) {
                Some((window, span)) => (Some(window), Some(span)),
                None => (None, None),
            }
        }
        _ => (None, None),
    };
    let mut message = finding.message.clone();
    if span.is_none()
        && let Location::File { path, line, column } = &finding.location
    {
        message.push_str(&format!("\n  at {path}:{line}:{column}"));
    }
    FindingDiagnostic {
        message: printable(&message).into_owned(),
        rule: printable(&finding.rule).into_owned(),
        severity: finding.severity,
        help: (!help.is_empty()).then(|| printable(&help).into_owned()),
        source: window,
        span,
        label: printable(&label).into_owned(),
    }
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let theme = if report.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(110)
        .with_context_lines(1)
        .with_links(false);
    let findings = report.findings();
    let mut current_file: Option<&str> = None;
    // Indexed once per file: a file with thousands of findings stays linear.
    let mut source: Option<SnippetFile> = None;
    for finding in findings.iter().filter(|f| f.is_active()) {
        let file = finding.location.path();
        if current_file != Some(file) {
            current_file = Some(file);
            source = match finding.location {
                Location::File { .. } => report.outcome.sources.text(file).map(SnippetFile::new),
                Location::Cluster { .. } => None,
            };
            let file = printable(file);
            if report.color {
                writeln!(out, "{}", file.bold().underline())?;
            } else {
                writeln!(out, "{file}")?;
            }
        }
        let mut rendered = String::new();
        handler
            .render_report(&mut rendered, &diagnostic(finding, source.as_ref()))
            .map_err(io::Error::other)?;
        if let Location::Cluster { uri, .. } = &finding.location
            && !finding.pointer.is_empty()
        {
            rendered.push_str(&printable(&format!("  at {uri} {}\n", finding.pointer)));
        }
        out.write_all(rendered.as_bytes())?;
    }
    let suppressed: Vec<&Finding> = findings.iter().filter(|f| !f.is_active()).collect();
    if !suppressed.is_empty() {
        writeln!(out, "Suppressed:")?;
        for f in &suppressed {
            let Some(s) = f.suppressed.as_ref() else {
                continue;
            };
            let place = match f.location.line() {
                Some(line) => format!("{}:{line}", f.location.path()),
                None => f.location.path().to_string(),
            };
            let line = format!("  {place} {} ({}: {})", f.rule, s.source.as_str(), s.reason);
            writeln!(out, "{}", printable(&line))?;
        }
        writeln!(out)?;
    }
    for notice in &report.outcome.notices {
        let line = printable(&notice.to_string()).into_owned();
        match (report.color, notice.level) {
            (true, NoticeLevel::Error) => writeln!(out, "{}", line.red())?,
            (true, NoticeLevel::Warning) => writeln!(out, "{}", line.yellow())?,
            _ => writeln!(out, "{line}")?,
        }
    }
    writeln!(out, "{}", printable(&summary(report)))
}

/// `3 findings (1 high, 2 medium) in 2 files, 1 suppressed; scanned 12 files, 40 objects.`
pub fn summary(report: &Report<'_>) -> String {
    let findings = report.findings();
    let active: Vec<&Finding> = findings.iter().filter(|f| f.is_active()).collect();
    let stats = &report.outcome.stats;
    let mut text = if active.is_empty() {
        "No findings".to_string()
    } else {
        let by_severity = counts_by_severity(findings)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut places: Vec<&str> = active.iter().map(|f| f.location.path()).collect();
        places.sort_unstable();
        places.dedup();
        let noun = if places.iter().any(|p| p.starts_with("k8s://")) {
            "object"
        } else {
            "file"
        };
        format!(
            "{} finding{} ({by_severity}) in {} {noun}{}",
            active.len(),
            plural(active.len()),
            places.len(),
            plural(places.len())
        )
    };
    let suppressed = findings.len() - active.len();
    if suppressed > 0 {
        text.push_str(&format!(", {suppressed} suppressed"));
    }
    if stats.clusters > 0 {
        text.push_str(&format!(
            "; audited {} object{} in {} cluster{}",
            stats.objects,
            plural(stats.objects),
            stats.clusters,
            plural(stats.clusters)
        ));
    } else {
        text.push_str(&format!(
            "; scanned {} file{}, {} object{}",
            stats.files,
            plural(stats.files),
            stats.objects,
            plural(stats.objects)
        ));
    }
    if !stats.skipped.is_empty() {
        text.push_str(&format!(
            ", {} input{} of builds skipped",
            stats.skipped.len(),
            plural(stats.skipped.len())
        ));
    }
    if let Some(threshold) = report.fail_on {
        let failing = active.iter().filter(|f| f.severity >= threshold).count();
        if failing > 0 {
            text.push_str(&format!(" ({failing} at or above --fail-on {threshold})"));
        }
    }
    for rule in &report.outcome.not_evaluated {
        text.push_str(&format!("; {rule}: not evaluated"));
    }
    if let Some(changes) = &report.outcome.changes {
        text.push_str(&format!(
            "; {}",
            crate::report::previous::describe(findings, changes, &stats.contexts)
        ));
    }
    text.push('.');
    text
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
