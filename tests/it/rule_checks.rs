//! `Rule::applies_to` must accept every object its rule reports on: JUnit reports list the
//! objects a rule checked, and a finding on an object the rule claims not to check would be a
//! failing test case that was never counted as a test. Checked on every rule's fixtures.
//!
//! Likewise a rule must be silent outside its declared [`tollgate::rules::Scope`]: the engine
//! never gives it those objects, so a finding there would be lost. Every rule is run directly
//! on every object of every fixture and of the demo, as files and as live objects.

use std::path::{Path, PathBuf};

use tollgate::config::Config;
use tollgate::model::inventory::Inventory;
use tollgate::model::object::{Object, Origin};
use tollgate::rules::{Context, REGISTRY};
use tollgate::scan::{RunOptions, ScanOptions, environments, load_config, scan};
use tollgate::source::files::load_bytes;
use tollgate::source::spans::SpanTree;

/// Every YAML file of the rule fixtures and of the demo, parsed.
fn fixture_objects() -> Vec<(PathBuf, Vec<Object>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["fixtures/rules", "fixtures/demo"] {
        for entry in ignore::WalkBuilder::new(root.join(dir))
            .hidden(false)
            .build()
        {
            let path = entry.unwrap().into_path();
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let objects = load_bytes(&path.to_string_lossy(), &bytes).objects;
            out.push((path, objects));
        }
    }
    out
}

fn as_live(objects: &[Object]) -> Vec<Object> {
    let mut live = objects.to_vec();
    for object in &mut live {
        object.origin = Origin::Cluster {
            context: "live-fixture".into(),
            api_path: String::new(),
        };
        object.spans = SpanTree::default();
    }
    live
}

#[test]
fn every_rule_is_silent_outside_its_scope() {
    let fixtures = fixture_objects();
    assert!(fixtures.len() > 100, "{} fixture files", fixtures.len());
    let now: jiff::Timestamp = "2025-06-01T12:00:00Z".parse().unwrap();
    let cwd = std::env::current_dir().unwrap();
    for rule in REGISTRY {
        let meta = rule.meta();
        // The rule's own configuration turns on what is off by default (required envs…).
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/rules")
            .join(meta.id);
        let loaded = load_config(None, &dir).unwrap();
        let config: &Config = &loaded.config;
        let envs = environments(&loaded, &cwd).unwrap();
        for (path, objects) in &fixtures {
            for mut objects in [objects.clone(), as_live(objects)] {
                envs.assign(&mut objects);
                let inventory = Inventory::new(objects);
                let ctx = Context::new(&inventory, config, &envs, now);
                for object in inventory.objects() {
                    if meta.scope.covers(object) {
                        continue;
                    }
                    let mut out = Vec::new();
                    rule.check(object, &ctx, &mut out);
                    assert!(
                        out.is_empty(),
                        "{}: reports on {} ({}), outside its scope: {:?}",
                        meta.id,
                        object.display(),
                        path.display(),
                        out
                    );
                }
            }
        }
    }
}

#[test]
fn every_finding_is_on_an_object_its_rule_checked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    for rule in REGISTRY {
        let id = rule.meta().id;
        for name in ["fail", "pass"] {
            let Some(path) = [
                root.join(id).join(format!("{name}.yaml")),
                root.join(id).join(name),
            ]
            .into_iter()
            .find(|p| p.exists()) else {
                continue;
            };
            let options = ScanOptions {
                paths: vec![path.clone()],
                run: RunOptions {
                    select: vec![id.to_string()],
                    record_checks: true,
                    ..Default::default()
                },
                ..Default::default()
            };
            let outcome = scan(&options, Vec::new()).unwrap();
            let checks = &outcome.checks;
            let checked = checks.by_rule.get(id).cloned().unwrap_or_default();
            for finding in outcome.findings.iter().filter(|f| f.rule == id) {
                let Some(object) = &finding.object else {
                    assert!(
                        checks.files.iter().any(|f| f == finding.location.path()),
                        "{id}: file-level finding on a file not recorded: {}",
                        finding.location.path()
                    );
                    continue;
                };
                let found = checked.iter().any(|&n| {
                    let c = &checks.objects[n as usize];
                    &c.object == object && c.path == finding.location.path()
                });
                assert!(
                    found,
                    "{id}: finding on {} in {} but applies_to rejects it",
                    object.display(),
                    finding.location.path()
                );
            }
            // Without the option, nothing is recorded.
            let quiet = scan(
                &ScanOptions {
                    run: RunOptions {
                        record_checks: false,
                        ..options.run
                    },
                    ..options
                },
                Vec::new(),
            )
            .unwrap();
            assert!(quiet.checks.is_empty());
        }
    }
}
