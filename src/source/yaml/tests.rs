//! Tests of YAML parsing through the public API (typing, positions, errors, skimming).

use super::*;
use crate::doc;

fn one(text: &str) -> Document {
    let mut parsed = parse_stream(text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    parsed.documents.remove(0)
}

#[test]
fn kubernetes_yaml11_typing() {
    let doc = one(
        "a: yes\nb: off\nc: 0644\nd: '0644'\ne: 1_000\nf: 1.5\ng: ~\nh: 0x1F\ni: 1e3\nj: 1.2.3\nk: -7\n",
    );
    assert_eq!(
        doc.value,
        doc!({"a": true, "b": false, "c": 420, "d": "0644", "e": 1000, "f": 1.5, "g": null,
               "h": 31, "i": 1000.0, "j": "1.2.3", "k": -7})
    );
}

#[test]
fn string_fields_keep_their_text() {
    let doc = one(
        "metadata:\n  labels:\n    enabled: on\n    version: 1.10\nspec:\n  containers:\n  - name: 007\n    image: yes\n    args: [on, 0644]\n    env:\n    - name: X\n      value: yes\n    securityContext:\n      privileged: yes\n",
    );
    let c = &doc.value["spec"]["containers"][0];
    assert_eq!(doc.value["metadata"]["labels"]["enabled"], "on");
    assert_eq!(doc.value["metadata"]["labels"]["version"], "1.10");
    assert_eq!(c["name"], "007");
    assert_eq!(c["image"], "yes");
    assert_eq!(c["args"], doc!(["on", "0644"]));
    assert_eq!(c["env"][0]["value"], "yes");
    assert_eq!(c["securityContext"]["privileged"], true);
}

#[test]
fn config_map_data_is_string_but_only_at_top_level() {
    let doc = one("data:\n  flag: yes\nspec:\n  data:\n    flag: yes\n");
    assert_eq!(doc.value["data"]["flag"], "yes");
    assert_eq!(doc.value["spec"]["data"]["flag"], true);
}

#[test]
fn positions_point_at_keys() {
    let doc = one("kind: Pod\nspec:\n  containers:\n    - name: a\n      image: nginx\n");
    let at = |p: &str| doc.spans.locate(&doc.value, p);
    assert_eq!(at(""), (1, 1));
    assert_eq!(at("/spec"), (2, 1));
    assert_eq!(at("/spec/containers/0"), (4, 7));
    assert_eq!(at("/spec/containers/0/image"), (5, 7));
    // Missing nodes resolve to the deepest existing ancestor.
    assert_eq!(at("/spec/containers/0/resources/limits"), (4, 7));
}

#[test]
fn multi_documents_and_errors_resume_at_next_separator() {
    let parsed = parse_stream("a: 1\n---\nb: [\n---\nc: 3\n");
    assert_eq!(parsed.documents.len(), 2);
    assert_eq!(parsed.documents[0].value, doc!({"a": 1}));
    assert_eq!(parsed.documents[1].value, doc!({"c": 3}));
    assert_eq!(parsed.documents[1].start_line, 5);
    assert_eq!(parsed.documents[1].index, 2);
    assert_eq!(parsed.errors.len(), 1);
    assert!(parsed.errors[0].line >= 3, "{:?}", parsed.errors);
}

#[test]
fn quoted_scalars_indented_less_than_their_key_are_accepted() {
    // Shape of controller-gen CRDs (e.g. Gateway API), which Kubernetes reads fine.
    let text = "spec:\n  rules:\n    - message: m\n      rule: 'self.all(p1, p1.kind\n    == p2.kind || p1.name\n    == '''')'\n      other: \"a\n    b\"\n  after: 1\n";
    let doc = one(text);
    assert_eq!(
        doc.value["spec"]["rules"][0]["rule"],
        "self.all(p1, p1.kind == p2.kind || p1.name == '')"
    );
    assert_eq!(doc.value["spec"]["rules"][0]["other"], "a b");
    assert_eq!(doc.spans.locate(&doc.value, "/spec/after"), (9, 3));
}

#[test]
fn duplicate_keys_are_errors_but_the_document_is_kept() {
    let parsed = parse_stream("x: 0\n---\na: {p: 1}\nb: 2\na: [3, 4]\nc: 5\n");
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].line, 5);
    assert_eq!(parsed.errors[0].document, 1);
    assert!(parsed.errors[0].message.contains("duplicate key `a`"));
    let doc = &parsed.documents[1];
    assert_eq!(doc.value, doc!({"b": 2, "a": [3, 4], "c": 5}));
    assert_eq!(doc.spans.locate(&doc.value, "/a/1"), (5, 8));
    assert_eq!(doc.spans.locate(&doc.value, "/c"), (6, 1));
    assert_eq!(doc.spans.locate(&doc.value, "/b"), (4, 1));
}

#[test]
fn alias_bomb_is_stopped() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let parsed = parse_stream(&text);
    assert!(parsed.errors[0].message.contains("alias expansion"));
}

#[test]
fn aliases_of_a_large_scalar_count_their_bytes() {
    let big = "x".repeat(1024 * 1024);
    let mut text = format!("a: &a \"{big}\"\nb: [");
    text.push_str(&vec!["*a"; 2000].join(", "));
    text.push_str("]\n");
    let parsed = parse_stream(&text);
    assert!(
        parsed.errors[0].message.contains("alias expansion"),
        "{:?}",
        parsed.errors
    );
    // A few aliases of it are fine.
    let text = format!("a: &a \"{big}\"\nb: [*a, *a, *a]\n");
    assert!(parse_stream(&text).errors.is_empty());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&" ".repeat(i));
        text.push_str("a:\n");
    }
    let parsed = parse_stream(&text);
    assert!(parsed.errors[0].message.contains("nesting deeper"));
    let flow = "[".repeat(10_000);
    assert!(!parse_stream(&flow).errors.is_empty());
}

#[test]
fn merge_keys_and_aliases() {
    let doc = one("base: &b\n  x: 1\n  y: 2\nchild:\n  <<: *b\n  y: 3\n");
    assert_eq!(doc.value["child"], doc!({"y": 3, "x": 1}));
    assert_eq!(doc.spans.locate(&doc.value, "/child/y"), (6, 3));
    assert_eq!(doc.spans.locate(&doc.value, "/child/x"), (2, 3));
}

#[test]
fn helm_source_comment_is_kept() {
    let parsed = parse_stream(
        "---\n# Source: app/templates/a.yaml\nkind: A\n---\n# Source: app/templates/b.yaml\nkind: B\n",
    );
    assert_eq!(
        parsed.documents[0].helm_source.as_deref(),
        Some("app/templates/a.yaml")
    );
    assert_eq!(
        parsed.documents[1].helm_source.as_deref(),
        Some("app/templates/b.yaml")
    );
}

#[test]
fn json_documents_parse() {
    let doc = one("{\"kind\": \"Pod\", \"spec\": {\"a\": [1, \"yes\", true]}}");
    assert_eq!(doc.value["spec"]["a"], doc!([1, "yes", true]));
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n  labels: {team: x}\nspec:\n  group: example.com\n  versions: [{name: v1, schema: {x: 1}}]\n";

#[test]
fn skimmed_documents_keep_identity_and_metadata_only() {
    let filter = KindFilter::only(["Deployment"]);
    let text = format!(
        "{CRD}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec: {{replicas: 2}}\n"
    );
    let parsed = parse_stream_filtered(&text, &filter);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let crd = &parsed.documents[0];
    assert_eq!(crd.value.get("spec"), None);
    assert_eq!(crd.value["metadata"]["labels"]["team"], "x");
    assert_eq!(
        crd.spans.locate(&crd.value, "/metadata/labels/team"),
        (5, 12)
    );
    assert_eq!((crd.start_line, crd.end_line), (1, 8));
    let deployment = &parsed.documents[1];
    assert_eq!(deployment.value["spec"]["replicas"], 2);
    // The same text built whole is what it always was.
    let whole = parse_stream(&text);
    assert_eq!(whole.documents[0].value["spec"]["group"], "example.com");
    assert_eq!(whole.documents[1].value, deployment.value);
}

#[test]
fn skimming_reports_exactly_what_a_full_build_reports() {
    let filter = KindFilter::only(["Deployment"]);
    let cases = [
        // A syntax error inside the skimmed body.
        format!("{CRD}  bad: [1, 2\n"),
        // Duplicate keys, nested and at the top level.
        format!("{CRD}  group: again\n"),
        format!("{CRD}spec: {{}}\n"),
        // Anchors, aliases and merge keys are built whole.
        "kind: CRD\nmetadata: {name: x}\nspec: {a: &x {p: 1}, b: *x, c: {<<: *x}}\n".to_string(),
        "kind: CRD\nmetadata: &m {name: x}\nspec: {copy: *m}\n".to_string(),
        "kind: CRD\nspec: {b: *missing}\n".to_string(),
        // `kind` after the body: nothing is skimmed.
        "spec: {a: 1, a: 2}\nkind: CRD\n".to_string(),
        // A second `kind` after a skimmed body (the last one wins, as in go-yaml).
        "kind: CRD\nmetadata: {name: x}\nspec: {replicas: 2}\nkind: Deployment\n".to_string(),
    ];
    for text in &cases {
        let skimmed = parse_stream_filtered(text, &filter);
        let whole = parse_stream(text);
        assert_eq!(skimmed.errors, whole.errors, "{text}");
        assert_eq!(skimmed.documents.len(), whole.documents.len(), "{text}");
        for (s, w) in skimmed.documents.iter().zip(&whole.documents) {
            assert_eq!(
                (s.start_line, s.end_line),
                (w.start_line, w.end_line),
                "{text}"
            );
            assert_eq!(s.value.get("metadata"), w.value.get("metadata"), "{text}");
        }
    }
    // What skimming could not do exactly was built whole.
    let anchored = parse_stream_filtered(&cases[3], &filter);
    assert_eq!(anchored.documents[0].value["spec"]["c"]["p"], 1);
    let rekinded = parse_stream_filtered(&cases[7], &filter);
    assert_eq!(rekinded.documents[0].value["spec"]["replicas"], 2);
}

#[test]
fn lists_are_always_built() {
    let filter = KindFilter::only(["Deployment"]);
    let parsed = parse_stream_filtered(
        "apiVersion: v1\nkind: ConfigMapList\nitems: [{kind: ConfigMap}]\n",
        &filter,
    );
    assert_eq!(parsed.documents[0].value["items"][0]["kind"], "ConfigMap");
}
