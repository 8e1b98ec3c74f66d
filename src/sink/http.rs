//! HTTP plumbing shared by the DefectDojo and Harbor clients: reqwest on rustls (ring) with
//! timeouts and private CAs, bounded retries with exponential backoff, and errors that say
//! what went wrong on the way (no answer in time, refused connection, TLS, closed connection).
//!
//! Nothing a server sends can exhaust the machine or leak a credential: answers are read up to
//! [`MAX_RESPONSE_BYTES`] (an endless body is an error, not gigabytes in memory); redirects are
//! never followed (a 302 turns a POST into a GET whose 2xx would look like success, and the
//! credentials must not follow to wherever it points); and [`scrub`] takes credentials out of
//! every text built from an answer (a server that echoes the `Authorization` header).
//!
//! The rest of tollgate is synchronous (rayon); the clients are async inside and run on a
//! small current-thread tokio runtime created where they are needed ([`runtime`]).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

/// Longest wait between two attempts, whatever the backoff says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Largest answer read. DefectDojo's import result and a Harbor artifact or vulnerability
/// list are far smaller; anything bigger is a broken or hostile server.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What replaces a credential in a text.
pub const SCRUBBED: &str = "***";

/// How a client reaches its server.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions<'a> {
    /// Time limit of a whole request (connect, send, answer).
    pub timeout: Duration,
    /// PEM bundle of CAs trusted besides the system's (a private CA).
    pub ca_cert: Option<&'a Path>,
    /// Accept any certificate. Only ever from an explicit command-line flag.
    pub insecure: bool,
}

/// Builds a client on rustls with the ring provider.
pub fn client(options: &ClientOptions<'_>) -> Result<reqwest::Client, String> {
    crate::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.timeout.min(Duration::from_secs(10)));
    if let Some(path) = options.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA certificate {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{} holds no PEM certificate", path.display()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if options.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

/// A current-thread tokio runtime for one batch of requests. Call the synchronous entry points
/// that use it from outside any async runtime; async callers use the `*_async` functions.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Bounded retries with exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Retry {
    /// Wait before retry number `retry` (0-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }
}

/// True for answers worth asking again: the server or a proxy in front of it failed, or asked
/// to come back later. Client errors (400, 401, 403, 404, 413, 415) never change on a retry.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status)
}

/// What went wrong before an answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the time limit.
    Timeout,
    /// No connection (refused, unreachable, unknown host).
    Connect,
    /// The TLS handshake failed (unknown CA, wrong host name, expired certificate).
    Tls,
    /// The server closed the connection before answering.
    Closed,
    /// The answer was larger than [`MAX_RESPONSE_BYTES`].
    TooLarge,
    Other,
}

impl TransportKind {
    /// Failures that may go away on their own. A certificate or an endless answer does not.
    pub fn is_retryable(self) -> bool {
        !matches!(self, TransportKind::Tls | TransportKind::TooLarge)
    }
}

/// A request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportKind,
    pub message: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Describes a reqwest error by what the user can act on. `timeout` is the configured limit.
pub fn classify(error: &reqwest::Error, timeout: Duration) -> TransportError {
    let detail = root_cause(error);
    let (kind, message) = if error.is_timeout() {
        (
            TransportKind::Timeout,
            format!(
                "no answer within {} (timeout)",
                humantime::format_duration(timeout)
            ),
        )
    } else if let Some(tls) = tls_cause(error) {
        (TransportKind::Tls, format!("TLS handshake failed: {tls}"))
    } else if error.is_connect() {
        (TransportKind::Connect, format!("cannot connect: {detail}"))
    } else if is_closed(error) {
        (
            TransportKind::Closed,
            format!("the server closed the connection without answering ({detail})"),
        )
    } else {
        (TransportKind::Other, detail)
    };
    TransportError { kind, message }
}

/// Every error of a chain, outermost first. An `io::Error` hides its payload from `source()`
/// (it skips to the payload's source), so the payload is visited explicitly.
fn causes<'a>(error: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        out.push(e);
        current = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
        if out.len() > 32 {
            break;
        }
    }
    out
}

/// The innermost message of an error chain (the OS error, the rustls error…).
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    causes(error)
        .last()
        .map_or_else(|| error.to_string(), |e| e.to_string())
}

/// The whole chain, `outer: inner: innermost`, without repeats.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in causes(error) {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// The rustls error somewhere in the chain.
fn tls_cause(error: &(dyn StdError + 'static)) -> Option<String> {
    causes(error)
        .into_iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>().map(|tls| tls.to_string()))
}

fn is_closed(error: &(dyn StdError + 'static)) -> bool {
    causes(error).into_iter().any(|e| {
        let kind_says = e.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::BrokenPipe
            )
        });
        let text = e.to_string();
        kind_says || text.contains("connection closed") || text.contains("connection reset")
    })
}

/// The end of an exchange: an answer (any status), or none.
#[derive(Debug)]
pub enum Exchange {
    Answer {
        status: reqwest::StatusCode,
        /// True when the server said the body is JSON.
        json: bool,
        body: Vec<u8>,
        /// Where a redirect pointed (never followed).
        location: Option<String>,
    },
    NoAnswer(TransportError),
}

/// Sends the request `make` builds, again after a backoff while the failure may go away by
/// itself (see [`is_retryable_status`], [`TransportKind::is_retryable`]). Returns the last
/// exchange and the number of attempts. `service` names the server in progress messages.
pub async fn send(
    make: impl Fn() -> reqwest::RequestBuilder,
    retry: Retry,
    timeout: Duration,
    service: &str,
) -> (Exchange, u32) {
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let exchange = match make().send().await {
            Ok(response) => {
                let status = response.status();
                let header = |name| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let json =
                    header(reqwest::header::CONTENT_TYPE).is_some_and(|v| v.contains("json"));
                let location = header(reqwest::header::LOCATION);
                match read_capped(response, timeout).await {
                    Ok(body) => Exchange::Answer {
                        status,
                        json,
                        body,
                        location,
                    },
                    Err(error) => Exchange::NoAnswer(error),
                }
            }
            Err(error) => Exchange::NoAnswer(classify(&error, timeout)),
        };
        let failure = match &exchange {
            Exchange::Answer { status, .. } if is_retryable_status(status.as_u16()) => {
                status.to_string()
            }
            Exchange::NoAnswer(error) if error.kind.is_retryable() => error.message.clone(),
            _ => return (exchange, attempt),
        };
        if attempt > retry.retries {
            return (exchange, attempt);
        }
        let delay = retry.delay(attempt - 1);
        eprintln!(
            "{service}: attempt {attempt} failed ({failure}); retrying in {}",
            humantime::format_duration(delay)
        );
        tokio::time::sleep(delay).await;
    }
}

/// The body of `response`, at most [`MAX_RESPONSE_BYTES`]: a longer one is an error, whatever
/// `Content-Length` claimed.
async fn read_capped(
    mut response: reqwest::Response,
    timeout: Duration,
) -> Result<Vec<u8>, TransportError> {
    let too_large = || TransportError {
        kind: TransportKind::TooLarge,
        message: format!(
            "the answer is larger than {} MiB; not read",
            MAX_RESPONSE_BYTES / (1024 * 1024)
        ),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, timeout))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `text` without any of `secrets` (a token, a password, a user name, a basic-auth header
/// value) nor anything that looks like an `Authorization` header value. For every text built
/// from a server's answer before it is shown or stored: a server or proxy may echo the request.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = secrets
        .iter()
        .map(|s| s.trim())
        .filter(|s| s.len() >= 3)
        .collect();
    // Longest first: a password inside a longer secret must not leave the rest readable.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        out = out.replace(secret, SCRUBBED);
    }
    AUTHORIZATION_VALUE
        .replace_all(&out, |c: &regex::Captures<'_>| {
            let credential = &c["credential"];
            // "Token expired" is English; a credential has digits or symbols, or is long.
            let looks_secret =
                credential.len() >= 20 || credential.bytes().any(|b| !b.is_ascii_alphabetic());
            if looks_secret {
                format!("{} {SCRUBBED}", &c["scheme"])
            } else {
                c[0].to_string()
            }
        })
        .into_owned()
}

/// An `Authorization` header value: scheme, then credentials.
#[allow(
    clippy::expect_used,
    reason = "a literal pattern, compiled by the unit tests"
)]
static AUTHORIZATION_VALUE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)\b(?P<scheme>Token|Bearer|Basic)\s+(?P<credential>[A-Za-z0-9+/=._~-]{6,})",
    )
    .expect("valid regex")
});

/// Percent-encodes one URL path segment (everything but RFC 3986 unreserved characters).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let retry = Retry {
            retries: 5,
            backoff: Duration::from_millis(500),
        };
        assert_eq!(retry.delay(0), Duration::from_millis(500));
        assert_eq!(retry.delay(2), Duration::from_secs(2));
        assert_eq!(retry.delay(40), MAX_BACKOFF);
    }

    #[test]
    fn only_server_side_statuses_are_retried() {
        for status in [500, 502, 503, 504, 429, 408] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 415] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn credentials_are_scrubbed_from_texts() {
        let text = "echo: Authorization: Token 0123456789abcdef, user robot$ci pw s3cr3t-pw, \
                    Basic cm9ib3QkY2k6czNjcjN0LXB3, Bearer eyJhbGciOi.x.y";
        let clean = scrub(text, &["0123456789abcdef", "robot$ci", "s3cr3t-pw"]);
        for secret in [
            "0123456789abcdef",
            "robot$ci",
            "s3cr3t-pw",
            "cm9ib3Qk",
            "eyJhbGci",
        ] {
            assert!(!clean.contains(secret), "{clean}");
        }
        assert!(
            clean.contains("Token ***") && clean.contains("Basic ***"),
            "{clean}"
        );
        assert_eq!(scrub("Token expired", &[]), "Token expired");
        assert_eq!(scrub("Invalid token.", &[]), "Invalid token.");
    }

    #[test]
    fn segments_are_encoded_and_double_encoding_escapes_the_percent() {
        assert_eq!(encode_segment("team/api"), "team%2Fapi");
        assert_eq!(encode_segment(&encode_segment("team/api")), "team%252Fapi");
        assert_eq!(encode_segment("1.4.2_rc-1"), "1.4.2_rc-1");
    }
}
