//! The message of a run: a section per cluster (or the repository), counts, changes and the
//! new high and critical findings, as plain text, Telegram HTML and webhook JSON.

use serde::Serialize;
use serde_json::{Value, json};

use crate::finding::{Change, Finding, Location, Severity};
use crate::notice::Notice;
use crate::outcome::ScanOutcome;
use crate::report::previous::Changes;

use super::{MAX_LISTED, NotifyOn, TELEGRAM_LIMIT};

/// One listed finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub rule: String,
    pub severity: Severity,
    pub object: Option<String>,
    pub location: String,
    pub message: String,
}

/// One section: a cluster, or the repository of a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// The cluster (kube context), or None for a scan of files.
    pub cluster: Option<String>,
    /// The cluster could not be read at all.
    pub unread: bool,
    /// Why the section is incomplete (the cluster could not be read), most important first.
    pub problems: Vec<String>,
    pub counts: Vec<(Severity, usize)>,
    pub suppressed: usize,
    /// Without `--previous`, None.
    pub new: Option<usize>,
    pub fixed: Option<usize>,
    /// New high and critical findings, at most [`MAX_LISTED`].
    pub listed: Vec<Listed>,
    /// How many more there were.
    pub more: usize,
    /// The DefectDojo test this section went to.
    pub defectdojo: Option<String>,
}

impl Section {
    pub(super) fn active(&self) -> usize {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    pub(super) fn counts_text(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        if parts.is_empty() {
            "no findings".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The whole message, before it is rendered for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `scan` or `audit`.
    pub kind: &'static str,
    pub incomplete: bool,
    /// When the previous report was written.
    pub since: Option<String>,
    pub sections: Vec<Section>,
    /// Problems of the run that belong to no cluster.
    pub problems: Vec<String>,
}

impl Summary {
    /// Builds the summary of `outcome`. `defectdojo` maps a cluster (None for a scan) to the
    /// URL of its DefectDojo test.
    pub fn new(
        outcome: &ScanOutcome,
        changes: Option<&Changes>,
        defectdojo: &[(Option<String>, String)],
        audit: bool,
    ) -> Summary {
        let errors: Vec<&Notice> = outcome.notices.iter().filter(|n| n.is_error()).collect();
        let link = |cluster: Option<&str>| {
            defectdojo
                .iter()
                .find(|(c, _)| c.as_deref() == cluster)
                .map(|(_, url)| url.clone())
        };
        let mut sections = Vec::new();
        let mut general = Vec::new();
        if audit {
            // Clusters that could not be read come first, with their errors.
            let unread = &outcome.stats.unread;
            for cluster in unread {
                sections.push(Section {
                    cluster: Some(cluster.clone()),
                    unread: true,
                    problems: errors
                        .iter()
                        .filter(|n| n.path.as_deref() == Some(cluster.as_str()))
                        .map(|n| n.message.clone())
                        .collect(),
                    counts: Vec::new(),
                    suppressed: 0,
                    new: None,
                    fixed: None,
                    listed: Vec::new(),
                    more: 0,
                    defectdojo: None,
                });
            }
            for context in &outcome.stats.contexts {
                let findings: Vec<&Finding> = outcome
                    .findings
                    .iter()
                    .filter(|f| {
                        matches!(&f.location, Location::Cluster { context: c, .. } if c == context)
                    })
                    .collect();
                let fixed = changes.map(|c| {
                    c.fixed
                        .iter()
                        .filter(|f| f.cluster.as_deref() == Some(context))
                        .count()
                });
                let problems = errors
                    .iter()
                    .filter(|n| n.path.as_deref() == Some(context))
                    .map(|n| n.message.clone())
                    .collect();
                sections.push(section(
                    Some(context.clone()),
                    &findings,
                    changes.is_some(),
                    fixed,
                    problems,
                    link(Some(context)),
                ));
            }
            general.extend(
                errors
                    .iter()
                    .filter(|n| {
                        !sections
                            .iter()
                            .any(|s| s.cluster.as_deref() == n.path.as_deref())
                    })
                    .map(|n| n.to_string()),
            );
        } else {
            let findings: Vec<&Finding> = outcome.findings.iter().collect();
            sections.push(section(
                None,
                &findings,
                changes.is_some(),
                changes.map(|c| c.fixed.len()),
                Vec::new(),
                link(None),
            ));
            general.extend(errors.iter().map(|n| n.to_string()));
        }
        Summary {
            kind: if audit { "audit" } else { "scan" },
            incomplete: !errors.is_empty() || !outcome.stats.unread.is_empty(),
            since: changes.and_then(|c| c.since.clone()),
            sections,
            problems: general,
        }
    }

    /// Whether `on` asks for a message about this run.
    pub fn worth_sending(&self, on: NotifyOn) -> bool {
        let new = self
            .sections
            .iter()
            .any(|s| s.new.unwrap_or_else(|| s.active()) > 0);
        match on {
            NotifyOn::Always => true,
            NotifyOn::New => new || self.incomplete,
            NotifyOn::Incomplete => self.incomplete,
        }
    }

    /// The message as lines, each with its plain and its HTML form.
    fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        let title = format!(
            "tollgate {}{}",
            self.kind,
            if self.incomplete { ": INCOMPLETE" } else { "" }
        );
        lines.push(Line::bold(&title));
        for problem in &self.problems {
            lines.push(Line::alert(problem));
        }
        for section in &self.sections {
            let name = section.cluster.as_deref().unwrap_or("repository");
            if section.unread {
                let why = if section.problems.is_empty() {
                    String::new()
                } else {
                    format!(": {}", section.problems.join("; "))
                };
                lines.push(Line::alert(&format!("{name}: could not be read{why}")));
                continue;
            }
            let mut counts = section.counts_text();
            if section.suppressed > 0 {
                counts.push_str(&format!(" ({} suppressed)", section.suppressed));
            }
            lines.push(Line::section(name, &counts));
            for problem in &section.problems {
                lines.push(Line::alert(&format!("{name}: incomplete: {problem}")));
            }
            if let (Some(new), Some(fixed)) = (section.new, section.fixed) {
                let since = self
                    .since
                    .as_deref()
                    .map(|d| format!(" since {d}"))
                    .unwrap_or_else(|| " (no previous report)".into());
                lines.push(Line::plain(&format!("{new} new, {fixed} fixed{since}")));
            }
            for l in &section.listed {
                lines.push(Line::finding(l));
            }
            if section.more > 0 {
                lines.push(Line::plain(&format!(
                    "… and {} more new high/critical",
                    section.more
                )));
            }
            if let Some(url) = &section.defectdojo {
                lines.push(Line::link("DefectDojo", url));
            }
        }
        lines
    }

    /// Plain text (the webhook's `text`).
    pub fn text(&self) -> String {
        self.lines()
            .iter()
            .map(|l| l.plain.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Telegram HTML, never longer than [`TELEGRAM_LIMIT`] characters: finding lines are
    /// dropped from the end (and counted) until it fits; no tag is ever cut.
    pub fn telegram_html(&self) -> String {
        let lines = self.lines();
        let all: Vec<&str> = lines.iter().map(|l| l.html.as_str()).collect();
        let joined = all.join("\n");
        if joined.chars().count() <= TELEGRAM_LIMIT {
            return joined;
        }
        let mut kept: Vec<&Line> = lines.iter().collect();
        let mut dropped = 0usize;
        loop {
            let tail = format!("… {dropped} more lines left out (message limit)");
            let text: String = kept
                .iter()
                .map(|l| l.html.as_str())
                .chain((dropped > 0).then_some(tail.as_str()))
                .collect::<Vec<_>>()
                .join("\n");
            if text.chars().count() <= TELEGRAM_LIMIT {
                return text;
            }
            // Drop the last finding line; when none is left, the last line of any kind
            // (the title always stays).
            match kept.iter().rposition(|l| l.is_finding) {
                Some(i) => {
                    kept.remove(i);
                }
                None if kept.len() > 1 => {
                    kept.pop();
                }
                None => {
                    let mut cut: String =
                        escape(&truncate_chars(&kept[0].plain, TELEGRAM_LIMIT / 2));
                    cut.truncate(cut.len().min(TELEGRAM_LIMIT));
                    return cut;
                }
            }
            dropped += 1;
        }
    }

    /// The webhook's JSON body.
    pub fn webhook_body(&self) -> Value {
        json!({
            "text": self.text(),
            "tool": "tollgate",
            "version": crate::report::VERSION,
            "kind": self.kind,
            "incomplete": self.incomplete,
            "since": self.since,
            "problems": self.problems,
            "sections": self.sections.iter().map(|s| json!({
                "cluster": s.cluster,
                "unread": s.unread,
                "problems": s.problems,
                "bySeverity": s.counts.iter().map(|(sev, n)| (sev.as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "suppressed": s.suppressed,
                "new": s.new,
                "fixed": s.fixed,
                "newHighCritical": s.listed,
                "more": s.more,
                "defectdojo": s.defectdojo,
            })).collect::<Vec<_>>(),
        })
    }
}

pub(super) fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

pub(super) fn section(
    cluster: Option<String>,
    findings: &[&Finding],
    compared: bool,
    fixed: Option<usize>,
    problems: Vec<String>,
    defectdojo: Option<String>,
) -> Section {
    let active: Vec<&Finding> = findings.iter().copied().filter(|f| f.is_active()).collect();
    let counts = Severity::ALL
        .iter()
        .map(|&s| (s, active.iter().filter(|f| f.severity == s).count()))
        .collect();
    pub(super) fn is_new(f: &Finding) -> bool {
        f.change.is_none_or(|c| c == Change::New)
    }
    let mut severe: Vec<&Finding> = active
        .iter()
        .copied()
        .filter(|f| f.severity >= Severity::High && is_new(f))
        .collect();
    // Most severe first; the report's order within a severity.
    severe.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let more = severe.len().saturating_sub(MAX_LISTED);
    let listed = severe
        .iter()
        .take(MAX_LISTED)
        .map(|f| Listed {
            rule: f.rule.clone(),
            severity: f.severity,
            object: f.object.as_ref().map(|o| o.display()),
            location: match &f.location {
                Location::File { path, line, .. } => format!("{path}:{line}"),
                Location::Cluster { uri, .. } => uri.clone(),
            },
            message: f.message.clone(),
        })
        .collect();
    Section {
        cluster,
        unread: false,
        problems,
        counts,
        suppressed: findings.len() - active.len(),
        new: compared.then(|| active.iter().filter(|f| is_new(f)).count()),
        fixed: if compared { fixed } else { None },
        listed,
        more,
        defectdojo,
    }
}

/// Escapes text for Telegram's HTML parse mode (`<`, `>`, `&` and, inside attributes, `"`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

struct Line {
    plain: String,
    html: String,
    is_finding: bool,
}

impl Line {
    pub(super) fn plain(text: &str) -> Line {
        Line {
            plain: text.into(),
            html: escape(text),
            is_finding: false,
        }
    }

    pub(super) fn bold(text: &str) -> Line {
        Line {
            plain: text.into(),
            html: format!("<b>{}</b>", escape(text)),
            is_finding: false,
        }
    }

    pub(super) fn alert(text: &str) -> Line {
        Line {
            plain: format!("⚠ {text}"),
            html: format!("⚠ <b>{}</b>", escape(text)),
            is_finding: false,
        }
    }

    pub(super) fn section(name: &str, rest: &str) -> Line {
        Line {
            plain: format!("\n{name}: {rest}"),
            html: format!("\n<b>{}</b>: {}", escape(name), escape(rest)),
            is_finding: false,
        }
    }

    pub(super) fn finding(l: &Listed) -> Line {
        let object = l.object.as_deref().unwrap_or(&l.location);
        Line {
            plain: format!("• {} {} {}: {}", l.severity, l.rule, object, l.message),
            html: format!(
                "• <b>{}</b> <code>{}</code> {}: {}",
                l.severity,
                escape(&l.rule),
                escape(object),
                escape(&l.message)
            ),
            is_finding: true,
        }
    }

    pub(super) fn link(label: &str, url: &str) -> Line {
        Line {
            plain: format!("{label}: {url}"),
            html: format!("<a href=\"{}\">{}</a>", escape(url), escape(label)),
            is_finding: false,
        }
    }
}
