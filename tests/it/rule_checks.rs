//! `Rule::applies_to` must accept every object its rule reports on: JUnit reports list the
//! objects a rule checked, and a finding on an object the rule claims not to check would be a
//! failing test case that was never counted as a test. Checked on every rule's fixtures.

use std::path::Path;

use tollgate::rules::REGISTRY;
use tollgate::scan::{RunOptions, ScanOptions, scan};

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
