//! Sending the message: Telegram's Bot API and webhooks, with retries, `retry_after` and
//! tokens that never show.

use std::time::Duration;

use serde_json::{Value, json};

use crate::sink::http;

use super::{
    ATTEMPTS, MAX_RETRY_AFTER, NotifyConfig, Summary, TIMEOUT, TelegramConfig, WebhookConfig,
};

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
pub(super) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_string()
}

pub(super) async fn send_telegram(
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

pub(super) async fn send_webhook(
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
