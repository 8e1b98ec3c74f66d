//! Pins the behaviour `policies/COMPATIBILITY.md` documents: builtins that behave like OPA
//! (fixtures/rego/compatibility, run as Rego tests) and builtins that are missing, which make
//! a policy fail to compile. When a regorus upgrade adds one, this test says so: update the
//! document.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tollgate::rego::Policies;
use tollgate::rego::conftest::Namespaces;
use tollgate::rego::sources::{FileKind, PolicyFile};
use tollgate::rego::testing::{Outcome, TestOptions};

#[test]
fn documented_behaviour_holds() {
    let results = tollgate::rego::testing::run(
        &TestOptions {
            paths: vec![PathBuf::from("fixtures/rego/compatibility")],
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
        Path::new("."),
    )
    .unwrap();
    assert!(results.len() >= 12, "{results:#?}");
    let failed: Vec<_> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

fn compile(call: &str) -> Result<(), String> {
    let text =
        format!("package main\nimport rego.v1\n\ndeny contains x if {{\n  x := {call}\n}}\n");
    let file = PolicyFile {
        display: "p.rego".into(),
        text: text.as_str().into(),
        kind: FileKind::Rego,
        shipped: false,
        path: None,
    };
    Policies::build(
        &[file],
        &[],
        &Namespaces::new(&["main".into()], false).unwrap(),
        false,
        Duration::from_secs(1),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn missing_builtins_do_not_compile() {
    for call in [
        r#"strings.render_template("{{.a}}", {"a": 1})"#,
        r#"crypto.md5("a")"#,
        r#"crypto.sha1("a")"#,
        r#"crypto.hmac.sha256("a", "k")"#,
        r#"crypto.x509.parse_certificates("a")"#,
        r#"io.jwt.decode("a")"#,
        r#"json.match_schema({}, {})"#,
        r#"json.verify_schema({})"#,
        r#"rego.metadata.rule()"#,
        r#"rego.parse_module("a", "package a")"#,
        r#"net.cidr_merge(["10.0.0.0/8"])"#,
        r#"net.lookup_ip_addr("example.com")"#,
        r#"regex.globs_match("a*", "ab")"#,
        r#"graphql.is_valid("{}", "{}")"#,
        r#"providers.aws.sign_req({}, {}, 0)"#,
    ] {
        let error = compile(call).expect_err(call);
        assert!(
            error.contains("p.rego:5:8") && error.contains("unknown function"),
            "{call}: {error}"
        );
    }
    let error = compile(r#"http.send({"method": "GET", "url": "http://127.0.0.1"})"#).unwrap_err();
    assert!(error.contains("offline"), "{error}");
    // And the ones tollgate adds compile.
    for call in [
        r#"crypto.sha256("a")"#,
        r#"time.add_date(0, 0, 1, 0)"#,
        r#"yaml.unmarshal("a: 1")"#,
    ] {
        compile(call).unwrap_or_else(|e| panic!("{call}: {e}"));
    }
}
