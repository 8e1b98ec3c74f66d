//! `--notify`: one message per run where the team already talks (DESIGN §14).
//!
//! The message has a section per cluster (or one for the repository of a scan): a cluster
//! that could not be read comes first, then counts by severity, what changed since
//! `--previous`, the new high and critical findings (at most [`MAX_LISTED`], then "and N
//! more") and a link to DefectDojo when the run pushed there.
//!
//! Channels, under `notify:` in `tollgate.yaml`:
//! - **Telegram**: Bot API `sendMessage` at `{api_url}/bot<token>/sendMessage` with
//!   `parse_mode: HTML` (every text escaped), cut to Telegram's 4096 characters, and a
//!   `429` answer's `parameters.retry_after` honoured;
//! - **webhook**: a JSON body with the message as a Slack-compatible `text` and the facts
//!   as fields, `Authorization: Bearer` from `token_env` when given.
//!
//! A notification that fails is a warning: it never changes the exit code of the check.
//! Tokens come from the environment only and never appear in any output; the webhook URL
//! (Slack's carry a secret in their path) is only ever shown as its host.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::finding::{Change, Finding, Location, Severity};
use crate::notice::Notice;
use crate::outcome::ScanOutcome;
use crate::report::previous::Changes;
use crate::sink::http;

/// New high and critical findings listed per message, before "and N more".
pub const MAX_LISTED: usize = 10;
/// Telegram's limit on a message's text.
pub const TELEGRAM_LIMIT: usize = 4096;
/// Longest `retry_after` worth waiting for; a longer one gives up (the next run will tell).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Attempts per channel.
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(15);

/// When to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    /// After every run.
    Always,
    /// When there are new findings (every finding without `--previous`) or the run is incomplete.
    #[default]
    New,
    /// Only when the run is incomplete (a cluster or source could not be read).
    Incomplete,
}

/// `notify:` in `tollgate.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    pub on: NotifyOn,
    pub telegram: Option<TelegramConfig>,
    pub webhook: Option<WebhookConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    #[serde(default = "default_telegram_token_env")]
    pub token_env: String,
    /// A number in YAML is accepted as well as a string.
    #[serde(deserialize_with = "string_or_number")]
    pub chat_id: String,
    /// The Bot API base; change it for a proxy or a test server.
    #[serde(default = "default_telegram_api")]
    pub api_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Sent as `Authorization: Bearer <value>` when given.
    #[serde(default)]
    pub token_env: Option<String>,
}

fn default_telegram_token_env() -> String {
    "TELEGRAM_BOT_TOKEN".into()
}

fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(i64),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    })
}

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
    fn active(&self) -> usize {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    fn counts_text(&self) -> String {
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

fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn section(
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
    fn is_new(f: &Finding) -> bool {
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
    fn plain(text: &str) -> Line {
        Line {
            plain: text.into(),
            html: escape(text),
            is_finding: false,
        }
    }

    fn bold(text: &str) -> Line {
        Line {
            plain: text.into(),
            html: format!("<b>{}</b>", escape(text)),
            is_finding: false,
        }
    }

    fn alert(text: &str) -> Line {
        Line {
            plain: format!("⚠ {text}"),
            html: format!("⚠ <b>{}</b>", escape(text)),
            is_finding: false,
        }
    }

    fn section(name: &str, rest: &str) -> Line {
        Line {
            plain: format!("\n{name}: {rest}"),
            html: format!("\n<b>{}</b>: {}", escape(name), escape(rest)),
            is_finding: false,
        }
    }

    fn finding(l: &Listed) -> Line {
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

    fn link(label: &str, url: &str) -> Line {
        Line {
            plain: format!("{label}: {url}"),
            html: format!("<a href=\"{}\">{}</a>", escape(url), escape(label)),
            is_finding: false,
        }
    }
}

/// What happened to one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `Telegram chat -100…`, `webhook hooks.example.com`.
    pub channel: String,
    /// None when delivered; otherwise why not (never with a token in it).
    pub failure: Option<String>,
}

/// Sends `summary` to every configured channel. Never fails: each channel's result says
/// what happened. `env` reads the environment (tokens).
pub fn send(
    summary: &Summary,
    config: &NotifyConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    let runtime = match http::runtime() {
        Ok(r) => r,
        Err(e) => {
            return vec![Delivery {
                channel: "notifications".into(),
                failure: Some(format!("cannot start the network runtime: {e}")),
            }];
        }
    };
    let client = match http::client(&http::ClientOptions {
        timeout: TIMEOUT,
        ..http::ClientOptions::default()
    }) {
        Ok(c) => c,
        Err(e) => {
            return vec![Delivery {
                channel: "notifications".into(),
                failure: Some(e),
            }];
        }
    };
    if let Some(telegram) = &config.telegram {
        let channel = format!("Telegram chat {}", telegram.chat_id);
        let failure = match env(&telegram.token_env).filter(|t| !t.is_empty()) {
            None => Some(format!(
                "no bot token: the environment variable {} is not set",
                telegram.token_env
            )),
            Some(token) => runtime
                .block_on(send_telegram(&client, telegram, &token, summary))
                .err()
                .map(|why| why.replace(&token, "<token>")),
        };
        out.push(Delivery { channel, failure });
    }
    if let Some(webhook) = &config.webhook {
        let channel = format!("webhook {}", host_of(&webhook.url));
        let token = webhook
            .token_env
            .as_deref()
            .map(|name| (name, env(name).filter(|t| !t.is_empty())));
        let failure = match token {
            Some((name, None)) => Some(format!(
                "no token: the environment variable {name} is not set"
            )),
            _ => {
                let token = token.and_then(|(_, t)| t);
                runtime
                    .block_on(send_webhook(&client, webhook, token.as_deref(), summary))
                    .err()
                    .map(|why| {
                        let why = why.replace(&webhook.url, &host_of(&webhook.url));
                        match &token {
                            Some(t) => why.replace(t.as_str(), "<token>"),
                            None => why,
                        }
                    })
            }
        };
        out.push(Delivery { channel, failure });
    }
    out
}

/// `https://hooks.example.com/services/T/B/secret` → `hooks.example.com`.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_string()
}

async fn send_telegram(
    client: &reqwest::Client,
    config: &TelegramConfig,
    token: &str,
    summary: &Summary,
) -> Result<(), String> {
    let url = format!(
        "{}/bot{token}/sendMessage",
        config.api_url.trim_end_matches('/')
    );
    let body = json!({
        "chat_id": config.chat_id,
        "text": summary.telegram_html(),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
    });
    let mut attempt = 0;
    loop {
        attempt += 1;
        let response = client.post(&url).json(&body).send().await;
        let (status, answer) = match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let answer: Value = r.json().await.unwrap_or(Value::Null);
                (status, answer)
            }
            Err(e) => {
                let why = http::classify(&e.without_url(), TIMEOUT).message;
                if attempt >= ATTEMPTS {
                    return Err(why);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if (200..300).contains(&status) && answer.get("ok") != Some(&Value::Bool(false)) {
            return Ok(());
        }
        let description = answer
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}"));
        let wait = match status {
            429 => answer
                .pointer("/parameters/retry_after")
                .and_then(Value::as_u64)
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(1)),
            500..=599 => Duration::from_secs(1),
            _ => return Err(format!("Telegram answered {status}: {description}")),
        };
        if attempt >= ATTEMPTS || wait > MAX_RETRY_AFTER {
            return Err(format!(
                "Telegram answered {status}: {description} (gave up after {attempt} attempt{})",
                if attempt == 1 { "" } else { "s" }
            ));
        }
        tokio::time::sleep(wait).await;
    }
}

async fn send_webhook(
    client: &reqwest::Client,
    config: &WebhookConfig,
    token: Option<&str>,
    summary: &Summary,
) -> Result<(), String> {
    let body = summary.webhook_body();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut request = client.post(&config.url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let (status, retry_after) = match request.send().await {
            Ok(r) => {
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                (r.status().as_u16(), retry_after)
            }
            Err(e) => {
                let why = http::classify(&e.without_url(), TIMEOUT).message;
                if attempt >= ATTEMPTS {
                    return Err(why);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if (200..300).contains(&status) {
            return Ok(());
        }
        if !http::is_retryable_status(status) {
            return Err(format!("the webhook answered {status}"));
        }
        let wait = retry_after.unwrap_or(Duration::from_secs(1));
        if attempt >= ATTEMPTS || wait > MAX_RETRY_AFTER {
            return Err(format!(
                "the webhook answered {status} (gave up after {attempt} attempts)"
            ));
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A request as the loopback server received it.
    #[derive(Debug, Clone)]
    struct Received {
        request_line: String,
        headers: Vec<(String, String)>,
        body: Value,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Answers each connection with the next scripted (status, extra headers, body) and
    /// records what it received.
    fn server(
        script: Vec<(u16, &'static str, &'static str)>,
    ) -> (String, Arc<Mutex<Vec<Received>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for (status, headers, body) in script {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut received_headers = Vec::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (n, v) = line.split_once(':').unwrap();
                    if n.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap();
                    }
                    received_headers.push((n.to_string(), v.trim().to_string()));
                }
                let mut bytes = vec![0; length];
                reader.read_exact(&mut bytes).unwrap();
                record.lock().unwrap().push(Received {
                    request_line: request_line.trim_end().to_string(),
                    headers: received_headers,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                });
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    fn summary() -> Summary {
        let outcome = testdata::outcome();
        Summary::new(&outcome, None, &[], false)
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const TOKEN: &str = "123456:AAbbCCddSECRET";

    fn telegram(url: &str) -> NotifyConfig {
        NotifyConfig {
            on: NotifyOn::Always,
            telegram: Some(TelegramConfig {
                token_env: "TG".into(),
                chat_id: "-1001".into(),
                api_url: url.into(),
            }),
            webhook: None,
        }
    }

    #[test]
    fn telegram_gets_escaped_html_and_429_is_waited_out() {
        let (url, seen) = server(vec![
            (
                429,
                "",
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#,
            ),
            (200, "", r#"{"ok":true,"result":{"message_id":7}}"#),
        ]);
        let started = std::time::Instant::now();
        let deliveries = send(&summary(), &telegram(&url), &env(&[("TG", TOKEN)]));
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].failure, None, "{deliveries:?}");
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "retry_after honoured"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[1].request_line,
            format!("POST /bot{TOKEN}/sendMessage HTTP/1.1")
        );
        assert_eq!(seen[1].body["chat_id"], "-1001");
        assert_eq!(seen[1].body["parse_mode"], "HTML");
        let text = seen[1].body["text"].as_str().unwrap();
        assert!(text.starts_with("<b>tollgate scan</b>"), "{text}");
        // Backticks and angle brackets of messages arrive escaped, tags only where meant.
        let stripped = text
            .replace("<b>", "")
            .replace("</b>", "")
            .replace("<code>", "")
            .replace("</code>", "");
        assert!(!stripped.contains('<') && !stripped.contains('>'), "{text}");
    }

    #[test]
    fn failures_are_reported_without_the_token() {
        let (url, _) = server(vec![(
            401,
            "",
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        )]);
        let deliveries = send(&summary(), &telegram(&url), &env(&[("TG", TOKEN)]));
        let why = deliveries[0].failure.clone().unwrap();
        assert!(why.contains("401") && why.contains("Unauthorized"), "{why}");
        assert!(!why.contains(TOKEN));
        // Nobody listening: the transport error carries no URL, hence no token.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let deliveries = send(
            &summary(),
            &telegram(&format!("http://127.0.0.1:{port}")),
            &env(&[("TG", TOKEN)]),
        );
        let why = deliveries[0].failure.clone().unwrap();
        assert!(!why.contains(TOKEN) && !why.contains("SECRET"), "{why}");
        // No token at all.
        let deliveries = send(&summary(), &telegram(&url), &env(&[]));
        assert!(deliveries[0].failure.as_deref().unwrap().contains("TG"));
    }

    #[test]
    fn webhooks_get_json_with_a_slack_text_and_the_bearer_token() {
        let (url, seen) = server(vec![(503, "retry-after: 0\r\n", "{}"), (200, "", "{}")]);
        let config = NotifyConfig {
            on: NotifyOn::Always,
            telegram: None,
            webhook: Some(WebhookConfig {
                url: format!("{url}/services/T0/B0/secretpath"),
                token_env: Some("HOOK".into()),
            }),
        };
        let deliveries = send(&summary(), &config, &env(&[("HOOK", "hook-token")]));
        assert_eq!(deliveries[0].failure, None);
        assert!(!deliveries[0].channel.contains("secretpath"));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].header("authorization"), Some("Bearer hook-token"));
        assert!(
            seen[1].body["text"]
                .as_str()
                .unwrap()
                .starts_with("tollgate scan")
        );
        assert_eq!(seen[1].body["kind"], "scan");
        assert!(seen[1].body["sections"][0]["bySeverity"]["high"].is_number());
    }

    #[test]
    fn long_messages_fit_telegram_and_lists_are_capped() {
        let mut outcome = testdata::outcome();
        let template = outcome
            .findings
            .iter()
            .find(|f| f.severity >= Severity::High && f.is_active())
            .unwrap()
            .clone();
        for i in 0..300 {
            let mut f = template.clone();
            f.message = format!("<{i}> {}", "x".repeat(300));
            f.fingerprint = format!("fp{i}");
            outcome.findings.push(f);
        }
        let summary = Summary::new(&outcome, None, &[], false);
        assert_eq!(summary.sections[0].listed.len(), MAX_LISTED);
        assert!(summary.sections[0].more > 250);
        let html = summary.telegram_html();
        assert!(
            html.chars().count() <= TELEGRAM_LIMIT,
            "{}",
            html.chars().count()
        );
        assert!(html.contains("more"));
        assert_eq!(html.matches("<b>").count(), html.matches("</b>").count());
    }

    #[test]
    fn an_unread_cluster_comes_first_and_makes_the_run_incomplete() {
        let mut outcome = testdata::outcome();
        outcome.stats.contexts = vec!["production".into()];
        outcome.stats.unread = vec!["staging".into()];
        outcome.stats.clusters = 1;
        outcome
            .notices
            .push(Notice::error("cannot connect: connection refused").at("staging", None));
        let summary = Summary::new(
            &outcome,
            None,
            &[(
                Some("production".into()),
                "https://dd.example/test/4".into(),
            )],
            true,
        );
        assert!(summary.incomplete);
        let text = summary.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("staging: could not be read"), "{text}");
        assert!(text.contains("DefectDojo: https://dd.example/test/4"));
        assert!(summary.worth_sending(NotifyOn::Incomplete));
        let quiet = Summary::new(&testdata::outcome(), Some(&Changes::default()), &[], false);
        // Compared against a report holding none of them: all new.
        assert!(quiet.worth_sending(NotifyOn::New));
        assert!(!quiet.worth_sending(NotifyOn::Incomplete));
    }

    #[test]
    fn config_reads_the_documented_keys() {
        let config: NotifyConfig = yaml_serde::from_str(
            "on: incomplete\ntelegram:\n  chat_id: -1001234567890\nwebhook:\n  url: https://h/x\n",
        )
        .unwrap();
        assert_eq!(config.on, NotifyOn::Incomplete);
        let telegram = config.telegram.unwrap();
        assert_eq!(telegram.chat_id, "-1001234567890");
        assert_eq!(telegram.token_env, "TELEGRAM_BOT_TOKEN");
        assert_eq!(telegram.api_url, "https://api.telegram.org");
        assert!(yaml_serde::from_str::<NotifyConfig>("slack: {}\n").is_err());
        assert_eq!(
            host_of("https://user:pw@hooks.example.com:8443/a/b?c"),
            "hooks.example.com:8443"
        );
    }
}
