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

use serde::{Deserialize, Deserializer};

mod deliver;
mod message;

pub use deliver::*;
pub use message::*;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::notice::Notice;
    use crate::report::previous::Changes;
    use crate::report::testdata;
    use serde_json::Value;
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
