//! `--format junit`: JUnit XML, as GitLab (`artifacts:reports:junit`) and Jenkins (`junit`
//! step) read it.
//!
//! ```text
//! <testsuites name="tollgate" tests=… failures=… errors="0" skipped=… time="0">
//!   <testsuite name="image-pinned" tests=… failures=… errors="0" skipped=… time="0">
//!     <testcase classname="image-pinned" name="Deployment shop-prod/api (clusters/prod/api.yaml)"
//!               file="clusters/prod/api.yaml" time="0">
//!       <failure type="high" message="container `api` … (+1 more)">clusters/prod/api.yaml:18:16 …</failure>
//!     </testcase>
//! ```
//!
//! - one `testsuite` per rule that ran, named by its id (also the test cases' `classname`);
//! - one `testcase` per object the rule checked (the objects of its
//!   [`crate::rules::Scope`] that [`crate::rules::Rule::applies_to`] accepts, recorded by the
//!   scan), named by the object and its file; file-level rules
//!   (`manifest-parse-error`) have one per file read. An object with findings the scan did not
//!   record as checked (a report built without records) still gets its test case;
//! - a test case fails (`failure`, `type` = the highest severity) when it has an unsuppressed
//!   finding; every finding of the rule on that object is listed in the failure's text, with
//!   position and remediation; a test case whose findings are all suppressed is `skipped` with
//!   the reason;
//! - `time` is always 0 and there are no timestamps or host names, so that reports of the same
//!   input are identical.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use crate::finding::{Finding, Location, Severity};
use crate::model::object::ObjectRef;
use crate::report::Report;

/// One test case under construction.
struct Case<'a> {
    name: String,
    file: Option<&'a str>,
    order: (&'a str, u32),
    findings: Vec<&'a Finding>,
}

type CaseKey<'a> = (&'a str, Option<&'a ObjectRef>);

/// One suite: its cases and where each key is.
#[derive(Default)]
struct Suite<'a> {
    cases: Vec<Case<'a>>,
    index: HashMap<CaseKey<'a>, usize>,
}

impl<'a> Suite<'a> {
    fn case(&mut self, key: CaseKey<'a>, line: u32) -> &mut Case<'a> {
        let (path, object) = key;
        let n = *self.index.entry(key).or_insert_with(|| {
            self.cases.push(Case {
                name: match object {
                    Some(o) => format!("{} ({path})", o.display()),
                    None => path.to_string(),
                },
                file: (!path.contains("://")).then_some(path),
                order: (path, line),
                findings: Vec::new(),
            });
            self.cases.len() - 1
        });
        &mut self.cases[n]
    }
}

fn suites<'a>(report: &Report<'a>) -> BTreeMap<&'a str, Suite<'a>> {
    let outcome = report.outcome;
    let checks = &outcome.checks;
    let mut suites: BTreeMap<&'a str, Suite<'a>> = BTreeMap::new();
    for rule in &outcome.rules {
        let suite = suites.entry(rule.id.as_str()).or_default();
        if rule.id == crate::rules::manifest_parse_error::ID {
            for file in &checks.files {
                suite.case((file.as_str(), None), 0);
            }
        }
        for &n in checks.by_rule.get(&rule.id).into_iter().flatten() {
            if let Some(checked) = checks.objects.get(n as usize) {
                suite.case(
                    (checked.path.as_str(), Some(&checked.object)),
                    checked.line.unwrap_or(0),
                );
            }
        }
    }
    for finding in &outcome.findings {
        let suite = suites.entry(finding.rule.as_str()).or_default();
        let line = finding.location.line().unwrap_or(0);
        suite
            .case((finding.location.path(), finding.object.as_ref()), line)
            .findings
            .push(finding);
    }
    for suite in suites.values_mut() {
        suite.cases.sort_by(|a, b| a.order.cmp(&b.order));
    }
    suites
}

/// Escapes text for XML attributes and content, dropping characters XML 1.0 cannot hold.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value; line breaks become character references so that parsers keep
/// them (attribute normalisation would turn them into spaces).
fn attribute(text: &str) -> String {
    escape(text)
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

fn describe(finding: &Finding) -> String {
    let place = match &finding.location {
        Location::File { path, line, column } => format!("{path}:{line}:{column}"),
        Location::Cluster { uri, .. } => uri.clone(),
    };
    let mut text = format!("{place} [{}] {}", finding.severity, finding.message);
    if let Some(template) = &finding.helm_source {
        text.push_str(&format!("\n  rendered from {template}"));
    }
    if !finding.remediation.is_empty() {
        text.push_str(&format!("\n  remediation: {}", finding.remediation));
    }
    if let Some(s) = &finding.suppressed {
        text.push_str(&format!(
            "\n  suppressed by {}: {}",
            s.source.as_str(),
            s.reason
        ));
    }
    text
}

enum Outcome {
    Passed,
    Failed,
    Skipped,
}

fn outcome_of(case: &Case<'_>) -> Outcome {
    if case.findings.iter().any(|f| f.is_active()) {
        Outcome::Failed
    } else if case.findings.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Skipped
    }
}

fn write_case(out: &mut dyn Write, rule: &str, case: &Case<'_>) -> io::Result<()> {
    write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"",
        attribute(rule),
        attribute(&case.name)
    )?;
    if let Some(file) = case.file {
        write!(out, " file=\"{}\"", attribute(file))?;
    }
    write!(out, " time=\"0\"")?;
    let body: Vec<String> = case.findings.iter().map(|f| describe(f)).collect();
    match outcome_of(case) {
        Outcome::Passed => writeln!(out, "/>"),
        Outcome::Failed => {
            let active: Vec<&&Finding> = case.findings.iter().filter(|f| f.is_active()).collect();
            let worst = active
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            let mut message = active[0].message.clone();
            if active.len() > 1 {
                message.push_str(&format!(" (+{} more)", active.len() - 1));
            }
            writeln!(out, ">")?;
            writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                worst,
                attribute(&message),
                escape(&body.join("\n"))
            )?;
            writeln!(out, "    </testcase>")
        }
        Outcome::Skipped => {
            let reason = case
                .findings
                .iter()
                .find_map(|f| f.suppressed.as_ref())
                .map(|s| format!("suppressed by {}: {}", s.source.as_str(), s.reason))
                .unwrap_or_default();
            writeln!(out, ">")?;
            writeln!(
                out,
                "      <skipped message=\"{}\">{}</skipped>",
                attribute(&reason),
                escape(&body.join("\n"))
            )?;
            writeln!(out, "    </testcase>")
        }
    }
}

fn counts(cases: &[Case<'_>]) -> (usize, usize, usize) {
    let mut failures = 0;
    let mut skipped = 0;
    for case in cases {
        match outcome_of(case) {
            Outcome::Failed => failures += 1,
            Outcome::Skipped => skipped += 1,
            Outcome::Passed => {}
        }
    }
    (cases.len(), failures, skipped)
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let suites = suites(report);
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for suite in suites.values() {
        let (t, f, s) = counts(&suite.cases);
        tests += t;
        failures += f;
        skipped += s;
    }
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"tollgate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"0\">"
    )?;
    for (rule, suite) in &suites {
        let (t, f, s) = counts(&suite.cases);
        writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"0\" \
             skipped=\"{s}\" time=\"0\">",
            attribute(rule)
        )?;
        for case in &suite.cases {
            write_case(out, rule, case)?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    fn render(outcome: &crate::outcome::ScanOutcome) -> String {
        let report = Report {
            outcome,
            color: false,
            fail_on: None,
            sarif_limits: None,
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The `<testsuite>` element of `rule`, up to its end tag.
    fn suite<'a>(xml: &'a str, rule: &str) -> &'a str {
        let start = xml
            .find(&format!("<testsuite name=\"{rule}\""))
            .unwrap_or_else(|| panic!("no suite {rule}"));
        let end = start + xml[start..].find("</testsuite>").unwrap();
        &xml[start..end]
    }

    #[test]
    fn one_suite_per_rule_one_case_per_checked_object() {
        let outcome = testdata::outcome();
        let xml = render(&outcome);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
        assert_eq!(xml.matches("<testsuite ").count(), outcome.rules.len());

        // Five workloads checked, two of them failing (the api in two folders); the live
        // finding adds a case of its own.
        let pinned = suite(&xml, "image-pinned");
        assert!(
            pinned.contains("tests=\"6\" failures=\"3\" errors=\"0\" skipped=\"0\""),
            "{pinned}"
        );
        assert_eq!(pinned.matches("<testcase ").count(), 6);
        assert!(pinned.contains(
            "<testcase classname=\"image-pinned\" name=\"Deployment shop-prod/worker (clusters/prod/worker.yaml)\" file=\"clusters/prod/worker.yaml\" time=\"0\"/>"
        ));
        assert!(pinned.contains(&format!(
            "name=\"Deployment shop-prod/api ({})\" file=\"{}\" time=\"0\">\n      <failure type=\"high\"",
            testdata::API_COPY,
            testdata::API_COPY
        )));
        // Live objects have no file attribute.
        assert!(pinned.contains(
            "name=\"Deployment shop-prod/api (k8s://production/shop-prod/Deployment/api)\" time=\"0\">"
        ));

        // A suppressed finding makes its case skipped, with the reason.
        let registry = suite(&xml, "image-registry");
        assert!(
            registry.contains("tests=\"5\" failures=\"0\" errors=\"0\" skipped=\"1\""),
            "{registry}"
        );
        assert!(registry.contains(
            "<skipped message=\"suppressed by exemption: k3s ships its system images from docker.io\">"
        ));

        // File-level rule: one case per file read.
        let parse = suite(&xml, "manifest-parse-error");
        assert_eq!(
            parse.matches("<testcase ").count(),
            outcome.checks.files.len()
        );
        assert!(parse.contains("failures=\"1\""));
        assert!(
            parse.contains("name=\"clusters/dev/broken.yaml\" file=\"clusters/dev/broken.yaml\"")
        );

        // Rendered documents name the template in the failure text.
        let requests = suite(&xml, "resource-requests");
        assert!(requests.contains(&format!("rendered from {}", testdata::TEMPLATE)));

        // Totals add up.
        let tests: usize = xml.match_indices("<testcase ").count();
        assert!(xml.contains(&format!("<testsuites name=\"tollgate\" tests=\"{tests}\"")));
    }

    #[test]
    fn text_is_escaped() {
        let outcome = testdata::outcome();
        let xml = render(&outcome);
        let secret = suite(&xml, "plain-secret");
        assert!(secret.contains(
            "message=\"Secret shop-prod/db is committed in plain text &lt;&amp;&quot;&apos;&gt;\""
        ));
        let limits = suite(&xml, "resource-limits");
        assert!(limits.contains(
            "message=\"container `api`: no memory limit, 100% of the node&#13;&#10;is reachable\""
        ));
        assert_eq!(escape("a\u{1}b\u{1b}[0m"), "ab[0m");
    }

    #[test]
    fn several_findings_on_one_object_are_one_failure() {
        let mut outcome = testdata::outcome();
        let mut second = outcome
            .findings
            .iter()
            .find(|f| f.rule == "resource-limits")
            .unwrap()
            .clone();
        second.message = "container `sidecar` has no memory limit".into();
        second.severity = Severity::High;
        second.fingerprint = "other".into();
        outcome.findings.push(second);
        let xml = render(&outcome);
        let limits = suite(&xml, "resource-limits");
        assert_eq!(limits.matches("<failure ").count(), 1);
        assert!(limits.contains("<failure type=\"high\""));
        assert!(limits.contains("(+1 more)"));
        assert!(limits.contains("container `sidecar` has no memory limit"));
    }

    #[test]
    fn without_records_failing_objects_are_still_listed() {
        let mut outcome = testdata::outcome();
        outcome.checks = Default::default();
        let xml = render(&outcome);
        let pinned = suite(&xml, "image-pinned");
        assert!(pinned.contains("tests=\"3\" failures=\"3\""), "{pinned}");
    }
}
