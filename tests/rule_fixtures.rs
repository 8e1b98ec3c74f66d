//! Every registered rule has fixtures under `fixtures/rules/<id>/`: `fail` (a file or a
//! directory) where each finding of the rule sits on a line marked `# expect: <id>` and each
//! mark has its finding, and `pass`, where the rule stays silent. A `tollgate.yaml` beside them
//! configures the run; a `trivy-reports/` directory beside them is given as `--trivy-reports`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tollgate::rules::REGISTRY;
use tollgate::scan::{ScanOptions, scan};

fn fixture(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.yaml")), dir.join(name)]
        .into_iter()
        .find(|p| p.exists())
}

fn run(rule: &str, path: &Path) -> BTreeMap<(String, u32), usize> {
    let trivy_reports = Path::new("fixtures/rules").join(rule).join("trivy-reports");
    let options = ScanOptions {
        paths: vec![path.to_path_buf()],
        select: vec![rule.to_string()],
        trivy_reports: trivy_reports.is_dir().then_some(trivy_reports),
        ..Default::default()
    };
    let outcome = scan(&options, Vec::new()).unwrap_or_else(|e| panic!("{rule}: {e}"));
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

/// `(file, line) → count` of `# expect: a, b` marks naming `rule`.
fn expectations(rule: &str, path: &Path) -> BTreeMap<(String, u32), usize> {
    let files: Vec<PathBuf> = if path.is_dir() {
        ignore::WalkBuilder::new(path)
            .build()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(|e| e.into_path())
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut marks = BTreeMap::new();
    for file in files {
        let text = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&text);
        let display = file.to_string_lossy().replace('\\', "/");
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
    }
    marks
}

#[test]
fn every_rule_fires_exactly_where_its_fixtures_say() {
    let mut problems = Vec::new();
    for rule in REGISTRY {
        let id = rule.meta().id;
        let dir = Path::new("fixtures/rules").join(id);
        let (Some(fail), Some(pass)) = (fixture(&dir, "fail"), fixture(&dir, "pass")) else {
            problems.push(format!(
                "{id}: missing fixtures/rules/{id}/fail(.yaml) or pass(.yaml)"
            ));
            continue;
        };
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
                "{id}: findings in {} differ from the marks\n  expected {expected:?}\n  found    {found:?}",
                fail.display()
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
