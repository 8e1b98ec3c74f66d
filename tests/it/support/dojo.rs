//! A DefectDojo 3.2 stand-in for the tests, built from the recorded exchanges in
//! `tests/defectdojo/recordings/`: `POST /api/v2/reimport-scan/` checks the `Token` scheme, the
//! multipart fields and the SARIF the way the real server does (same checks, same error bodies),
//! keeps the findings of each Test (keyed by product, engagement and test title), matches them
//! by `unique_id_from_tool` as the SARIF parser derives it, closes the missing ones, and answers
//! with the recorded body shape and statistics computed like DefectDojo's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

const RECORDINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/defectdojo/recordings");

/// A recorded answer: its status and body.
pub fn recording(name: &str) -> (StatusCode, Value) {
    let headers = std::fs::read_to_string(format!("{RECORDINGS}/{name}.response.headers"))
        .unwrap_or_else(|e| panic!("recording {name}: {e}"));
    let code: u16 = headers
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = std::fs::read_to_string(format!("{RECORDINGS}/{name}.response.json")).unwrap();
    (
        StatusCode::from_u16(code).unwrap(),
        serde_json::from_str(&body).unwrap(),
    )
}

/// One request as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// Every text field, in order (repeated fields such as `tags` appear repeatedly).
    pub fields: Vec<(String, String)>,
    pub file_name: Option<String>,
    pub file: Vec<u8>,
}

impl Seen {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A finding as DefectDojo stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DojoFinding {
    pub title: String,
    pub severity: &'static str,
    pub file_path: Option<String>,
    pub line: Option<u64>,
    pub mitigation: Option<String>,
    /// Built like the SARIF parser's: message, snippet, rule name and descriptions.
    pub description: String,
    /// The rule's tags and the result's, de-duplicated.
    pub tags: Vec<String>,
    pub false_p: bool,
    pub active: bool,
    pub is_mitigated: bool,
}

/// A Test and its findings by `unique_id_from_tool`.
#[derive(Debug, Clone)]
pub struct DojoTest {
    pub id: u64,
    pub test_type: String,
    pub findings: BTreeMap<String, DojoFinding>,
    pub version: String,
    pub branch_tag: String,
    pub commit_hash: String,
    pub build_id: String,
}

/// What the server answers instead of processing (a recorded error, a slow answer).
#[derive(Debug, Clone)]
pub enum Forced {
    Recording(String),
    Status(StatusCode, String, &'static str),
}

#[derive(Default)]
struct Inner {
    seen: Vec<Seen>,
    tests: BTreeMap<(String, String, String), DojoTest>,
    next_test: u64,
    forced: Option<Forced>,
    /// How many more requests get the forced answer (None: all).
    forced_left: Option<usize>,
    delay: Option<Duration>,
}

#[derive(Clone)]
pub struct Dojo {
    pub token: String,
    inner: Arc<Mutex<Inner>>,
}

impl Dojo {
    pub fn new(token: &str) -> Dojo {
        Dojo {
            token: token.to_string(),
            inner: Arc::new(Mutex::new(Inner {
                next_test: 1,
                ..Default::default()
            })),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v2/reimport-scan/", post(reimport))
            .with_state(self.clone())
    }

    pub fn force(&self, forced: Option<Forced>) {
        let mut inner = self.inner.lock().unwrap();
        inner.forced = forced;
        inner.forced_left = None;
    }

    /// The forced answer for the next `times` requests only.
    pub fn force_times(&self, forced: Forced, times: usize) {
        let mut inner = self.inner.lock().unwrap();
        inner.forced = Some(forced);
        inner.forced_left = Some(times);
    }

    pub fn delay(&self, delay: Option<Duration>) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().seen.len()
    }

    pub fn test(&self, product: &str, engagement: &str, title: &str) -> Option<DojoTest> {
        self.inner
            .lock()
            .unwrap()
            .tests
            .get(&(product.into(), engagement.into(), title.into()))
            .cloned()
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// DRF's field-error shape (rec 33, 34, 42, 43).
fn field_error(field: &str, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({
            field: [message],
            "message": format!("{{'{field}': [ErrorDetail(string='{message}', code='invalid')]}}"),
            "pro": ["Pro comes with support. Try today for free or email us at hello@defectdojo.com"]
        }),
    )
}

/// The importer's shape (rec 37, 45, 49): `{"message": "['…']"}`.
fn message_error(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({
            "message": format!("['{message}']"),
            "pro": ["Pro comes with support. Try today for free or email us at hello@defectdojo.com"]
        }),
    )
}

/// The permission layer's shape (rec 36, 46, 50): a bare list.
fn list_error(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!([message]))
}

async fn reimport(State(dojo): State<Dojo>, headers: HeaderMap, request: Request) -> Response {
    let mut seen = Seen {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ..Default::default()
    };
    let is_multipart = seen
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    if is_multipart {
        match Multipart::from_request(request, &()).await {
            Ok(mut multipart) => {
                while let Ok(Some(field)) = multipart.next_field().await {
                    let name = field.name().unwrap_or("").to_string();
                    let file_name = field.file_name().map(str::to_string);
                    let bytes: Bytes = field.bytes().await.unwrap_or_default();
                    if name == "file" {
                        seen.file_name = file_name;
                        seen.file = bytes.to_vec();
                    } else {
                        seen.fields
                            .push((name, String::from_utf8_lossy(&bytes).into_owned()));
                    }
                }
            }
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    }
    let (forced, delay) = {
        let mut inner = dojo.inner.lock().unwrap();
        inner.seen.push(seen.clone());
        let forced = inner.forced.clone();
        if let Some(left) = inner.forced_left.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                inner.forced = None;
                inner.forced_left = None;
            }
        }
        (forced, inner.delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }

    // Authentication first, as DRF does (rec 30, 31, 32).
    match seen.authorization.as_deref() {
        Some(value) if value.starts_with("Token ") => {
            if value["Token ".len()..] != dojo.token {
                let (status, body) = recording("30-error-bad-token");
                return json_response(status, body);
            }
        }
        _ => {
            let (status, body) = recording("31-error-no-auth-header");
            return json_response(status, body);
        }
    }
    if !is_multipart {
        let (status, body) = recording("44-error-json-body-not-multipart");
        return json_response(status, body);
    }
    match forced {
        Some(Forced::Recording(name)) => {
            let (status, body) = recording(&name);
            return json_response(status, body);
        }
        Some(Forced::Status(status, body, content_type)) => {
            return (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
        }
        None => {}
    }
    process(&dojo, &seen)
}

fn process(dojo: &Dojo, seen: &Seen) -> Response {
    let Some(scan_type) = seen.field("scan_type") else {
        return field_error("scan_type", "This field is required.");
    };
    if scan_type != "SARIF" && scan_type != "Generic Findings Import" {
        return field_error(
            "scan_type",
            &format!("\"{scan_type}\" is not a valid choice."),
        );
    }
    let Some(file_name) = seen.file_name.as_deref() else {
        return field_error("file", "No file was submitted.");
    };
    let extension = file_name.rsplit_once('.').map_or("", |(_, e)| e);
    let allowed = [
        "xml", "csv", "nessus", "json", "jsonl", "html", "js", "zip", "xlsx", "txt", "sarif",
        "fpr", "md", "log", "fvdl",
    ];
    if !allowed.contains(&extension) {
        return field_error(
            "file",
            &format!(
                "File extension \u{201c}{extension}\u{201d} is not allowed. Allowed extensions are: {}.",
                allowed.join(", ")
            ),
        );
    }
    if let Some(date) = seen.field("scan_date") {
        let today = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date()
            .to_string();
        if date > today.as_str() {
            return field_error("scan_date", "The scan_date cannot be in the future!");
        }
    }
    let minimum = match seen.field("minimum_severity").unwrap_or("Info") {
        "Info" => 0,
        "Low" => 1,
        "Medium" => 2,
        "High" => 3,
        "Critical" => 4,
        other => {
            return field_error(
                "minimum_severity",
                &format!("\"{other}\" is not a valid choice."),
            );
        }
    };
    let Some(product) = seen.field("product_name") else {
        return list_error("product_name parameter missing");
    };
    let Some(engagement) = seen.field("engagement_name") else {
        return list_error("engagement_name parameter missing");
    };
    let title = seen.field("test_title").unwrap_or("");
    let auto_create = seen.field("auto_create_context") == Some("true");

    // Parse the report like dojo/tools/sarif/parser.py.
    let log: Value = match serde_json::from_slice(&seen.file) {
        Ok(v) => v,
        Err(e) => return message_error(&e.to_string()),
    };
    let parsed = match parse_sarif(&log) {
        Ok(p) => p,
        Err(SarifProblem::Internal) => {
            let (status, body) = recording("38-error-sarif-missing-tool");
            return json_response(status, body);
        }
        Err(SarifProblem::Bad(message)) => return message_error(&message),
    };
    let findings: Vec<(String, DojoFinding)> = parsed
        .findings
        .into_iter()
        .filter(|(_, f)| severity_rank(f.severity) >= minimum)
        .collect();
    let test_type = format!("{} Scan (SARIF)", parsed.driver);

    let mut inner = dojo.inner.lock().unwrap();
    let key = (
        product.to_string(),
        engagement.to_string(),
        title.to_string(),
    );
    let existing = inner.tests.get(&key).cloned();
    let template = if existing.is_some() {
        "05-reimport-sarif-night2"
    } else {
        "56-reimport-first-time-creates-test"
    };
    let (_, mut body) = recording(template);
    let statistics = match existing {
        None => {
            if !auto_create {
                return list_error(&format!("Product \"{product}\" does not exist"));
            }
            let id = inner.next_test;
            inner.next_test += 1;
            let test = DojoTest {
                id,
                test_type,
                findings: findings.into_iter().collect(),
                version: seen.field("version").unwrap_or("").into(),
                branch_tag: seen.field("branch_tag").unwrap_or("").into(),
                commit_hash: seen.field("commit_hash").unwrap_or("").into(),
                build_id: seen.field("build_id").unwrap_or("").into(),
            };
            let after = counters(test.findings.values());
            inner.tests.insert(key.clone(), test);
            json!({"after": after})
        }
        Some(mut test) => {
            if test.test_type != test_type {
                return message_error(&format!(
                    "Test type mismatch: Test {} has test_type '{}', but the report contains \
                     test_type '{test_type}'. Reimport with matching test_type or create a new test.",
                    test.id, test.test_type
                ));
            }
            let before = counters(test.findings.values());
            let (mut created, mut closed, mut reactivated, mut untouched) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let incoming: HashMap<String, DojoFinding> = findings.into_iter().collect();
            for (uid, finding) in &incoming {
                match test.findings.get_mut(uid) {
                    Some(stored) if stored.is_mitigated => {
                        // Reactivated; the stored fields stay (reimport never updates them).
                        stored.is_mitigated = false;
                        stored.active = !stored.false_p;
                        reactivated.push(stored.clone());
                    }
                    Some(stored) => untouched.push(stored.clone()),
                    None => {
                        test.findings.insert(uid.clone(), finding.clone());
                        created.push(finding.clone());
                    }
                }
            }
            if seen.field("close_old_findings") != Some("false") {
                for (uid, stored) in test.findings.iter_mut() {
                    if !incoming.contains_key(uid) && !stored.is_mitigated {
                        stored.is_mitigated = true;
                        stored.active = false;
                        closed.push(stored.clone());
                    }
                }
            }
            test.version = seen.field("version").unwrap_or("").into();
            test.branch_tag = seen.field("branch_tag").unwrap_or("").into();
            test.commit_hash = seen.field("commit_hash").unwrap_or("").into();
            test.build_id = seen.field("build_id").unwrap_or("").into();
            let after = counters(test.findings.values());
            inner.tests.insert(key.clone(), test);
            json!({
                "before": before,
                "delta": {
                    "created": counters(created.iter()),
                    "closed": counters(closed.iter()),
                    "reactivated": counters(reactivated.iter()),
                    "untouched": counters(untouched.iter()),
                },
                "after": after,
            })
        }
    };
    let test = &inner.tests[&key];
    let object = body.as_object_mut().unwrap();
    for (field, value) in &seen.fields {
        if field != "tags" {
            object.insert(field.clone(), json!(value));
        }
    }
    object.insert("tags".into(), json!(seen.all("tags")));
    object.insert("test".into(), json!(test.id));
    object.insert("test_id".into(), json!(test.id));
    object.insert("statistics".into(), statistics);
    object.insert(
        "deduplication_complete".into(),
        json!(seen.field("deduplication_execution_mode") != Some("async")),
    );
    json_response(StatusCode::CREATED, body)
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "Critical" => 4,
        "High" => 3,
        "Medium" => 2,
        "Low" => 1,
        _ => 0,
    }
}

/// `statistics` blocks: counters per severity and in total.
fn counters<'a>(findings: impl Iterator<Item = &'a DojoFinding>) -> Value {
    let zero = || {
        json!({"active": 0, "verified": 0, "duplicate": 0, "false_p": 0, "out_of_scope": 0,
               "is_mitigated": 0, "risk_accepted": 0, "total": 0})
    };
    let mut block = json!({"info": zero(), "low": zero(), "medium": zero(), "high": zero(),
                           "critical": zero(), "total": zero()});
    for finding in findings {
        for key in [finding.severity.to_ascii_lowercase(), "total".to_string()] {
            let counter = &mut block[&key];
            let mut bump = |name: &str| {
                counter[name] = json!(counter[name].as_u64().unwrap() + 1);
            };
            bump("total");
            if finding.active {
                bump("active");
            }
            if finding.false_p {
                bump("false_p");
            }
            if finding.is_mitigated {
                bump("is_mitigated");
            }
        }
    }
    block
}

struct Parsed {
    driver: String,
    findings: Vec<(String, DojoFinding)>,
}

enum SarifProblem {
    /// The parser's KeyError: DefectDojo answers 500 (rec 38).
    Internal,
    /// A 400 with the importer's message (rec 49).
    Bad(String),
}

fn parse_sarif(log: &Value) -> Result<Parsed, SarifProblem> {
    let runs = log
        .get("runs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut driver = String::new();
    let mut findings = Vec::new();
    for run in &runs {
        let name = run
            .pointer("/tool/driver/name")
            .and_then(Value::as_str)
            .ok_or(SarifProblem::Internal)?;
        if driver.is_empty() {
            driver = name.to_string();
        }
        let rules: HashMap<&str, &Value> = run
            .pointer("/tool/driver/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r.get("id")?.as_str()?, r)))
            .collect();
        for result in run
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if result.get("kind").and_then(Value::as_str).unwrap_or("fail") != "fail" {
                continue;
            }
            let rule = result
                .get("ruleId")
                .and_then(Value::as_str)
                .and_then(|id| rules.get(id).copied());
            let uid = unique_id(result)?;
            let message = result
                .pointer("/message/text")
                .and_then(Value::as_str)
                .unwrap_or("");
            let mut severity = match result
                .get("level")
                .and_then(Value::as_str)
                .or_else(|| rule?.pointer("/defaultConfiguration/level")?.as_str())
            {
                Some("error") => "High",
                Some("note") => "Info",
                _ => "Medium",
            };
            if let Some(score) = rule
                .and_then(|r| r.pointer("/properties/security-severity"))
                .and_then(Value::as_str)
            {
                severity = match score.parse::<f64>() {
                    Ok(s) if s >= 9.0 => "Critical",
                    Ok(s) if s >= 7.0 => "High",
                    Ok(s) if s >= 4.0 => "Medium",
                    Ok(s) if s > 0.0 => "Low",
                    Ok(_) => "Info",
                    Err(_) => "Info",
                };
            }
            let mitigation = result.get("fixes").and_then(Value::as_array).map(|fixes| {
                fixes
                    .iter()
                    .filter_map(|f| f.pointer("/description/text")?.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            let false_p = result
                .get("suppressions")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let locations = result
                .get("locations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_else(|| vec![Value::Null]);
            let mut tags: Vec<String> = Vec::new();
            for tag in [
                rule.and_then(|r| r.pointer("/properties/tags")),
                result.pointer("/properties/tags"),
            ]
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_str)
            {
                if !tags.iter().any(|t| t == tag) {
                    tags.push(tag.to_string());
                }
            }
            for location in &locations {
                let mut description = format!("**Result message:** {message}");
                if let Some(snippet) = location
                    .pointer("/physicalLocation/region/snippet/text")
                    .and_then(Value::as_str)
                {
                    description.push_str(&format!("\n**Snippet:**\n```\n{snippet}\n```"));
                }
                let rule_text = |pointer: &str| {
                    rule.and_then(|r| r.pointer(pointer))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let name = rule_text("/name");
                if !name.is_empty() {
                    description.push_str(&format!("\n**Rule name:** {name}"));
                }
                for (label, pointer) in [
                    ("Rule short description", "/shortDescription/text"),
                    ("Rule full description", "/fullDescription/text"),
                ] {
                    let text = rule_text(pointer);
                    if !text.is_empty() && text != message {
                        description.push_str(&format!("\n**{label}:** {text}"));
                    }
                }
                findings.push((
                    uid.clone().ok_or(SarifProblem::Bad(
                        "the test server needs fingerprints to match findings".into(),
                    ))?,
                    DojoFinding {
                        title: shorten(message, 150),
                        severity,
                        file_path: location
                            .pointer("/physicalLocation/artifactLocation/uri")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        line: location
                            .pointer("/physicalLocation/region/startLine")
                            .and_then(Value::as_u64),
                        mitigation: mitigation.clone(),
                        description,
                        tags: tags.clone(),
                        false_p,
                        active: !false_p,
                        is_mitigated: false,
                    },
                ));
            }
        }
    }
    Ok(Parsed { driver, findings })
}

/// `unique_id_from_tool`: the highest version of the first `fingerprints` method, else the
/// sorted `method:value` pairs of `partialFingerprints`. A key with `/` must end in `/v<int>`
/// (the parser's `int()` fails otherwise, rec 49).
fn unique_id(result: &Value) -> Result<Option<String>, SarifProblem> {
    let split = |key: &str| -> Result<(String, u64), SarifProblem> {
        match key.rsplit_once('/') {
            Some((method, version)) => {
                let number = version.strip_prefix('v').unwrap_or(version);
                number
                    .parse::<u64>()
                    .map(|n| (method.to_string(), n))
                    .map_err(|_| {
                        SarifProblem::Bad(format!(
                            "invalid literal for int() with base 10: '{number}'"
                        ))
                    })
            }
            None => Ok((key.to_string(), 0)),
        }
    };
    if let Some(map) = result.get("fingerprints").and_then(Value::as_object)
        && let Some((first, _)) = map.iter().next()
    {
        let (method, _) = split(first)?;
        let mut best: Option<(u64, &str)> = None;
        for (key, value) in map {
            let (m, version) = split(key)?;
            if m == method && best.is_none_or(|(v, _)| version > v) {
                best = Some((version, value.as_str().unwrap_or("")));
            }
        }
        return Ok(best.map(|(_, v)| v.to_string()));
    }
    if let Some(map) = result.get("partialFingerprints").and_then(Value::as_object) {
        let mut pairs = Vec::new();
        for (key, value) in map {
            let (method, _) = split(key)?;
            pairs.push(format!("{method}:{}", value.as_str().unwrap_or("")));
        }
        pairs.sort();
        return Ok((!pairs.is_empty()).then(|| pairs.join("|")));
    }
    Ok(None)
}

/// Python's `textwrap.shorten(text, width)`: whitespace collapsed, whole words, " [...]".
pub fn shorten(text: &str, width: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let collapsed = words.join(" ");
    if collapsed.chars().count() <= width {
        return collapsed;
    }
    let placeholder = " [...]";
    let mut out = String::new();
    for word in words {
        let candidate = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if candidate.chars().count() + placeholder.len() > width {
            break;
        }
        out = candidate;
    }
    if out.is_empty() {
        placeholder.trim_start().to_string()
    } else {
        out + placeholder
    }
}
