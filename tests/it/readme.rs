//! The README stays true: its rule table lists every registered rule, and its two set-up
//! commands are the ones CI and newcomers use. Its rule table and those of `docs/` are what
//! the registry generates (`TOLLGATE_BLESS=1` rewrites them).

use std::path::Path;

use tollgate::rules::REGISTRY;
use tollgate::rules::docs::rewrite_tables;

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

/// Documents with generated rule tables, relative to the crate.
fn documents() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
}

#[test]
fn rule_tables_are_what_the_registry_generates() {
    let bless = std::env::var_os("TOLLGATE_BLESS").is_some();
    let mut tables = 0;
    for path in documents() {
        let text = std::fs::read_to_string(&path).unwrap();
        tables += text.matches("<!-- rules-table:").count();
        let generated = rewrite_tables(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if generated == text {
            continue;
        }
        if bless {
            std::fs::write(&path, generated).unwrap();
            continue;
        }
        let line = text
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(0, |n| n + 1);
        panic!(
            "{}: its rule table differs from the registry's at line {line}; rewrite it with TOLLGATE_BLESS=1 cargo nextest run --test it readme",
            path.display()
        );
    }
    assert!(
        tables >= 3,
        "README and docs/*-rules.md hold generated tables"
    );
}

#[test]
fn the_markdown_of_tollgate_rules_is_the_readme_table() {
    let output = crate::common::tollgate()
        .args(["rules", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let markdown = String::from_utf8(output.stdout).unwrap();
    let start = README.find("<!-- rules-table: all -->\n").unwrap() + 26;
    let end = README.find("<!-- /rules-table -->").unwrap();
    assert!(
        markdown.starts_with(&README[start..end]),
        "`tollgate rules --format markdown` starts with the README's table of built-in rules"
    );
}
