//! What DefectDojo answers: the statistics of a reimport, and errors explained (the three
//! shapes of 400 bodies, authentication, transport) with a hint where one helps.

use miette::Diagnostic;
use serde::Deserialize;
use serde_json::Value;

use crate::sink::http::{TransportError, TransportKind};

use super::Settings;

/// One counter block of DefectDojo's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub active: u64,
    pub verified: u64,
    pub duplicate: u64,
    pub false_p: u64,
    pub out_of_scope: u64,
    pub is_mitigated: u64,
    pub risk_accepted: u64,
    pub total: u64,
}

/// Counters per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BySeverity {
    pub critical: Counters,
    pub high: Counters,
    pub medium: Counters,
    pub low: Counters,
    pub info: Counters,
    pub total: Counters,
}

impl BySeverity {
    pub(super) fn severities(&self) -> [(&'static str, &Counters); 5] {
        [
            ("critical", &self.critical),
            ("high", &self.high),
            ("medium", &self.medium),
            ("low", &self.low),
            ("info", &self.info),
        ]
    }

    /// `3 (1 critical, 2 medium)`
    pub(super) fn describe(&self) -> String {
        let parts: Vec<String> = self
            .severities()
            .iter()
            .filter(|(_, c)| c.total > 0)
            .map(|(name, c)| format!("{} {name}", c.total))
            .collect();
        if parts.is_empty() {
            self.total.total.to_string()
        } else {
            format!("{} ({})", self.total.total, parts.join(", "))
        }
    }
}

/// What a reimport changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Delta {
    pub created: BySeverity,
    pub closed: BySeverity,
    pub reactivated: BySeverity,
    pub untouched: BySeverity,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Statistics {
    pub before: Option<BySeverity>,
    /// Absent when the reimport created the test (it was a first import).
    pub delta: Option<Delta>,
    pub after: Option<BySeverity>,
}

/// DefectDojo's answer to a successful (re)import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImportResult {
    pub test_id: Option<u64>,
    pub test: Option<u64>,
    pub engagement_id: Option<u64>,
    pub product_id: Option<u64>,
    pub statistics: Statistics,
    pub deduplication_complete: Option<bool>,
}

impl ImportResult {
    pub fn test(&self) -> Option<u64> {
        self.test_id.or(self.test)
    }

    /// The lines printed after a push.
    pub fn summary(&self, settings: &Settings) -> String {
        let mut text = match self.test() {
            Some(id) => format!("DefectDojo: test {id} ({})", settings.describe()),
            None => format!("DefectDojo: {}", settings.describe()),
        };
        let stats = &self.statistics;
        match (&stats.delta, &stats.after) {
            (Some(delta), _) => text.push_str(&format!(
                "\n  created {}, closed {}, reactivated {}, untouched {}",
                delta.created.describe(),
                delta.closed.describe(),
                delta.reactivated.describe(),
                delta.untouched.describe()
            )),
            (None, Some(after)) => {
                text.push_str(&format!("\n  new test: created {}", after.describe()))
            }
            (None, None) => text.push_str("\n  (the server sent no statistics)"),
        }
        if let Some(after) = &stats.after {
            text.push_str(&format!(
                "\n  now {} active, {} mitigated, {} false positive",
                after.total.active, after.total.is_mitigated, after.total.false_p
            ));
        }
        if let Some(id) = self.test() {
            text.push_str(&format!("\n  {}", settings.test_url(id)));
        }
        text
    }
}

/// A push that did not succeed.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum PushError {
    /// DefectDojo answered, but not with success.
    #[error("DefectDojo refused the report: {status}: {message}{}", attempts_note(*attempts))]
    #[diagnostic(code(tollgate::defectdojo))]
    Refused {
        status: String,
        message: String,
        #[help]
        hint: Option<String>,
        attempts: u32,
    },
    /// No answer.
    #[error("DefectDojo at {url} did not answer: {error}{}", attempts_note(*attempts))]
    #[diagnostic(code(tollgate::defectdojo))]
    Unreachable {
        url: String,
        error: TransportError,
        #[help]
        hint: Option<String>,
        attempts: u32,
    },
    /// A success status with a body that is no import result.
    #[error("DefectDojo answered {status} with something that is not an import result: {message}")]
    #[diagnostic(code(tollgate::defectdojo))]
    Unexpected { status: String, message: String },
    /// Nothing was sent (bad CA file, report that DefectDojo would reject).
    #[error("{0}")]
    #[diagnostic(code(tollgate::defectdojo))]
    Setup(String),
}

pub(super) fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// The server's explanation from an error body, whichever of DefectDojo's three shapes it has
/// (field errors, `{"message": "['…']"}`, a bare list), or DRF's `{"detail": …}`, or the
/// title of a proxy's HTML page.
pub fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return plain_text_message(&text);
    };
    match &value {
        Value::Array(items) => join_messages(items),
        Value::Object(map) => {
            if let Some(detail) = map.get("detail").and_then(Value::as_str) {
                return detail.to_string();
            }
            let fields: Vec<String> = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "message" | "pro" | "detail"))
                .map(|(k, v)| match v {
                    Value::Array(items) => format!("{k}: {}", join_messages(items)),
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect();
            if !fields.is_empty() {
                return fields.join("; ");
            }
            match map.get("message") {
                Some(Value::String(message)) => python_list_text(message),
                Some(other) => other.to_string(),
                None => text.trim().to_string(),
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn join_messages(items: &[Value]) -> String {
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// DefectDojo puts importer errors in `message` as a Python list repr: `"['text']"` or
/// `"[\"text with 'quotes'\"]"`.
pub(super) fn python_list_text(message: &str) -> String {
    let trimmed = message.trim();
    let Some(inner) = trimmed.strip_prefix('[').and_then(|m| m.strip_suffix(']')) else {
        return trimmed.to_string();
    };
    let inner = inner.trim();
    for quote in ['\'', '"'] {
        if let Some(text) = inner
            .strip_prefix(quote)
            .and_then(|m| m.strip_suffix(quote))
        {
            let separator = format!("{quote}, {quote}");
            return text.split(&separator).collect::<Vec<_>>().join("; ");
        }
    }
    trimmed.to_string()
}

/// A proxy's error page (`<title>413 Request Entity Too Large</title>`) or plain text.
pub(super) fn plain_text_message(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>"))
        && start + 7 <= end
    {
        return text[start + 7..end].trim().to_string();
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut line: String = line.chars().take(200).collect();
    if line.is_empty() {
        line = "(empty body)".into();
    }
    line
}

/// What the user can do about a refusal.
pub(super) fn hint(status: u16, message: &str, settings: &Settings, size: usize) -> Option<String> {
    let env = &settings.token_env;
    Some(match status {
        401 | 403 if message.contains("Invalid token") => format!(
            "DefectDojo does not know the token in ${env}; copy the API v2 key of the importing \
             user (profile menu → API v2 Key)"
        ),
        401 | 403 if message.contains("credentials were not provided") => format!(
            "the request reached DefectDojo without a usable `Authorization: Token …` header; \
             check ${env} and any proxy in front of DefectDojo that may drop or rewrite the header"
        ),
        401 | 403 => format!(
            "the user of the token needs the API_Importer (or Writer) role on product \"{}\"; \
             creating a missing product or product type needs more rights",
            settings.product
        ),
        404 => format!(
            "no import API at {}; --dd-url must be DefectDojo's base URL",
            settings.endpoint()
        ),
        413 => format!(
            "the report ({} KiB) is larger than the server or a proxy in front of it accepts; \
             raise the proxy's body limit (nginx: client_max_body_size) or DD_SCAN_FILE_MAX_SIZE",
            size.div_ceil(1024)
        ),
        415 => "the server did not take the multipart upload; a proxy may be rewriting the request"
            .to_string(),
        400 if message.contains("Test type mismatch") => format!(
            "test \"{}\" holds another tool's findings; use another --dd-test-title",
            settings.test_title
        ),
        400 if message.contains("conflict with the supplied product type") => format!(
            "product \"{}\" exists under another product type; set --dd-product-type to it",
            settings.product
        ),
        500..=599 => "DefectDojo failed while processing the report; its logs say why".to_string(),
        _ => return None,
    })
}

pub(super) fn transport_hint(error: &TransportError) -> Option<String> {
    match error.kind {
        TransportKind::Tls => Some(
            "if DefectDojo's certificate comes from a private CA, give it with --dd-ca-cert FILE \
             (or defectdojo.ca_cert)"
                .into(),
        ),
        TransportKind::Timeout => Some(
            "large reports take DefectDojo a while; raise defectdojo.timeout if the server is \
             just slow"
                .into(),
        ),
        TransportKind::Connect => Some("check --dd-url and that DefectDojo is running".into()),
        TransportKind::TooLarge => Some(
            "the server sent an answer far larger than an import result; check --dd-url".into(),
        ),
        TransportKind::Closed | TransportKind::Other => None,
    }
}
