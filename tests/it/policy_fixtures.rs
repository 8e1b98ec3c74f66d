//! Every shipped policy (`policies/<id>/`) has fixtures beside it, as examples users copy:
//! `fixtures/fail.yaml`, where each finding of the policy sits on a line marked
//! `# expect: <id>` and each mark has its finding, and `fixtures/pass.yaml`, where the policy
//! stays silent. A `tollgate.yaml` beside them configures the run.

use std::collections::BTreeMap;
use std::path::Path;

use tollgate::rego::{PolicyOptions, sources};
use tollgate::scan::{RunOptions, ScanOptions, scan};

fn run(rule: &str, path: &Path) -> BTreeMap<(String, u32), usize> {
    let options = ScanOptions {
        paths: vec![path.to_path_buf()],
        run: RunOptions {
            select: vec![rule.to_string()],
            policy: PolicyOptions::default(),
            ..Default::default()
        },
        ..Default::default()
    };
    let outcome = scan(&options, Vec::new()).unwrap_or_else(|e| panic!("{rule}: {e}"));
    assert!(
        outcome.notices.iter().all(|n| !n.is_error()),
        "{rule}: {:?}",
        outcome.notices
    );
    let mut found = BTreeMap::new();
    for f in outcome.findings.iter().filter(|f| f.rule == rule) {
        *found
            .entry((
                f.location.path().to_string(),
                f.location.line().unwrap_or(0),
            ))
            .or_insert(0) += 1;
    }
    found
}

fn expectations(rule: &str, path: &Path) -> BTreeMap<(String, u32), usize> {
    let text = std::fs::read_to_string(path).unwrap();
    let display = path.to_string_lossy().replace('\\', "/");
    let mut marks = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some((_, ids)) = line.split_once("# expect: ") else {
            continue;
        };
        for id in ids.split(',').map(str::trim) {
            if id == rule {
                *marks.entry((display.clone(), i as u32 + 1)).or_insert(0) += 1;
            }
        }
    }
    marks
}

#[test]
fn every_shipped_policy_fires_exactly_where_its_fixtures_say() {
    let shipped: Vec<String> = sources::shipped()
        .into_iter()
        .filter(|f| f.display.ends_with("/policy.rego"))
        .map(|f| {
            f.display
                .trim_start_matches(sources::SHIPPED_PREFIX)
                .trim_end_matches("/policy.rego")
                .to_string()
        })
        .collect();
    assert!(shipped.len() >= 5, "{shipped:?}");
    let mut problems = Vec::new();
    for id in &shipped {
        let dir = Path::new("policies").join(id).join("fixtures");
        let (fail, pass) = (dir.join("fail.yaml"), dir.join("pass.yaml"));
        if !fail.exists() || !pass.exists() {
            problems.push(format!(
                "{id}: missing {}/fail.yaml or pass.yaml",
                dir.display()
            ));
            continue;
        }
        let expected = expectations(id, &fail);
        if expected.is_empty() {
            problems.push(format!(
                "{id}: {} marks no `# expect: {id}` line",
                fail.display()
            ));
        }
        let found = run(id, &fail);
        if found != expected {
            problems.push(format!(
                "{id}: findings differ from the marks\n  expected {expected:?}\n  found    {found:?}"
            ));
        }
        let silent = run(id, &pass);
        if !silent.is_empty() {
            problems.push(format!(
                "{id}: {} must not fire, but did at {silent:?}",
                pass.display()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
