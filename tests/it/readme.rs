//! The README stays true: its rule table lists every registered rule, and its two set-up
//! commands are the ones CI and newcomers use.

use tollgate::rules::REGISTRY;

const README: &str = include_str!("../../README.md");

#[test]
fn readme_lists_every_rule() {
    for rule in REGISTRY {
        let id = rule.meta().id;
        assert!(
            README.contains(&format!("| `{id}` |")),
            "README's rule table lacks `{id}`"
        );
    }
}

#[test]
fn readme_lists_every_shipped_policy() {
    let output = crate::common::tollgate()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    let rules: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for rule in rules.as_array().unwrap() {
        let id = rule["id"].as_str().unwrap();
        assert!(
            README.contains(&format!("| `{id}` |")),
            "README's rule tables lack `{id}`"
        );
    }
}

#[test]
fn readme_commands_are_the_ones_ci_runs() {
    assert!(README.contains("cargo run --release -- scan fixtures/demo"));
    assert!(README.contains("cargo nextest run "));
    let ci = include_str!("../../.ci/run");
    assert!(
        ci.contains("cargo nextest run"),
        ".ci/run must run the README's test command"
    );
    assert!(std::path::Path::new("fixtures/demo/tollgate.yaml").exists());
}
