//! Every registered rule has fixtures under `fixtures/rules/<id>/`:
//!
//! - `fail.yaml` or `fail/` — manifests scanned as files; each finding of the rule sits on a line
//!   marked `# expect: <id>` (several ids: `# expect: a, b`; a line with two findings of the
//!   same rule repeats the id) and each mark has its finding;
//! - `pass.yaml` or `pass/` — manifests where the rule stays silent;
//! - optionally `live-fail.yaml` / `live-pass.yaml` — objects loaded as if read from a cluster
//!   (`Origin::Cluster` with context `live-fixture`, no line positions), as `tollgate audit`
//!   sees them. Live findings have no lines, so marks count per object: each
//!   `# expect: <id>` inside an object's document (by convention on its `kind:` line) means one
//!   finding on that object. `live-pass.yaml` must stay silent;
//! - optionally `tollgate.yaml`, the configuration of every run above, and a `trivy-reports/`
//!   directory, given as `--trivy-reports`.
//!
//! A rule must mark at least one finding in `fail` or `live-fail`; a live-only rule keeps a
//! `fail` fixture without marks, which checks that it is silent on files. Every run uses the
//! same "now", [`FIXTURE_NOW`], so that time-based rules can be given Backups of known age.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use tollgate::drift::{GitRepository, GitSide};
use tollgate::model::inventory::Inventory;
use tollgate::model::object::Origin;
use tollgate::rules::{REGISTRY, drift_out_of_band};
use tollgate::scan::{
    Evaluation, External, RuleSet, RunOptions, ScanOptions, Setup, environments, load_config, scan,
};
use tollgate::source::files::load_bytes;
use tollgate::source::spans::SpanTree;

/// "Now" of every fixture run.
const FIXTURE_NOW: &str = "2025-06-01T12:00:00Z";

fn fixture_now() -> jiff::Timestamp {
    FIXTURE_NOW.parse().unwrap()
}

fn fixture(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.yaml")), dir.join(name)]
        .into_iter()
        .find(|p| p.exists())
}

fn run(rule: &str, path: &Path) -> BTreeMap<(String, u32), usize> {
    run_with(rule, path, "trivy-reports")
}

/// [`run`], with the Trivy reports of the rule's fixture directory `reports`, if it has one.
fn run_with(rule: &str, path: &Path, reports: &str) -> BTreeMap<(String, u32), usize> {
    let trivy_reports = Path::new("fixtures/rules").join(rule).join(reports);
    let options = ScanOptions {
        paths: vec![path.to_path_buf()],
        run: RunOptions {
            select: vec![rule.to_string()],
            now: Some(fixture_now()),
            trivy_reports: trivy_reports.is_dir().then_some(trivy_reports),
            ..Default::default()
        },
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

/// The rule ids a line's `# expect: a, b` mark names, once per mention.
fn marked_ids(line: &str) -> Vec<&str> {
    match line.split_once("# expect: ") {
        Some((_, ids)) => ids.split(',').map(str::trim).collect(),
        None => Vec::new(),
    }
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
            for id in marked_ids(line) {
                if id == rule {
                    *marks.entry((display.clone(), i as u32 + 1)).or_insert(0) += 1;
                }
            }
        }
    }
    marks
}

/// Per-object findings of `rule` over a live fixture, and the per-object marks.
type PerObject = BTreeMap<String, usize>;

fn run_live(rule: &str, path: &Path) -> (PerObject, PerObject) {
    let text = std::fs::read_to_string(path).unwrap();
    let loaded = load_bytes(&path.to_string_lossy(), text.as_bytes());
    assert!(
        loaded.problems.is_empty(),
        "{}: {:?}",
        path.display(),
        loaded.problems
    );
    let mut objects = loaded.objects;

    let mut expected = PerObject::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        for _ in marked_ids(line).into_iter().filter(|id| *id == rule) {
            let owner = objects.iter().find(|o| match &o.origin {
                Origin::File {
                    start_line,
                    end_line,
                    ..
                } => (*start_line..=*end_line).contains(&line_no),
                Origin::Cluster { .. } => false,
            });
            let owner = owner
                .unwrap_or_else(|| panic!("{}:{line_no}: mark outside any object", path.display()));
            *expected.entry(owner.display()).or_insert(0) += 1;
        }
    }

    for object in &mut objects {
        object.origin = Origin::Cluster {
            context: "live-fixture".into(),
            api_path: String::new(),
        };
        object.spans = SpanTree::default();
    }
    let dir = path.parent().unwrap();
    let loaded_config = load_config(None, dir).unwrap();
    let envs = environments(&loaded_config, &std::env::current_dir().unwrap()).unwrap();
    envs.assign(&mut objects);
    let inventory = Inventory::new(objects);
    let mut notices = Vec::new();
    // Drift rules compare the live objects with the GitOps repository `gitops/` next to the
    // fixture, and with every other rule's findings.
    let gitops = dir.join("gitops");
    let git = gitops.is_dir().then(|| git_side(&gitops));
    let select = if git.is_some() {
        Vec::new()
    } else {
        vec![rule.to_string()]
    };
    let rules = RuleSet::new(
        &loaded_config.config,
        &select,
        &[],
        Vec::new(),
        &mut notices,
    );
    let external = External {
        gitops: git.clone(),
        ..External::default()
    };
    let evaluation = Evaluation {
        rules: &rules,
        config: &loaded_config.config,
        environments: &envs,
        now: fixture_now(),
        external: &external,
    };
    let mut findings = evaluation.run(&inventory, &|_| true);
    if let Some(git) = &git {
        let pairs: Vec<(usize, &tollgate::finding::Finding)> =
            findings.iter().map(|(i, f)| (*i, f)).collect();
        let derived = drift_out_of_band::derive(&inventory, &pairs, git, &rules);
        findings.extend(derived);
    }
    let mut found = PerObject::new();
    for (_, finding) in findings {
        if finding.rule == rule {
            let object = finding.object.expect("live findings are on objects");
            *found.entry(object.display()).or_insert(0) += 1;
        }
    }
    (expected, found)
}

/// The GitOps repository `dir` as `tollgate audit --gitops` reads it (one cluster).
fn git_side(dir: &Path) -> Arc<GitSide> {
    let root = std::env::current_dir().unwrap();
    let loaded = load_config(None, dir).unwrap();
    let envs = environments(&loaded, &root).unwrap();
    let options = RunOptions {
        now: Some(fixture_now()),
        ..Default::default()
    };
    let setup = Setup::new(loaded, envs, &options, &root, Vec::new()).unwrap();
    let mut notices = Vec::new();
    let mut repository =
        GitRepository::read(dir, Default::default(), &setup, &root, &mut notices).unwrap();
    repository
        .usable(None)
        .unwrap_or_else(|why| panic!("{}: {why}", dir.display()));
    repository.side(None, &setup)
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

        let mut live_marks = 0;
        let live_fail = dir.join("live-fail.yaml");
        if live_fail.exists() {
            let (expected, found) = run_live(id, &live_fail);
            live_marks = expected.len();
            if found != expected {
                problems.push(format!(
                    "{id}: live findings in {} differ from the marks\n  expected {expected:?}\n  found    {found:?}",
                    live_fail.display()
                ));
            }
        }
        let live_pass = dir.join("live-pass.yaml");
        if live_pass.exists() {
            let (_, found) = run_live(id, &live_pass);
            if !found.is_empty() {
                problems.push(format!(
                    "{id}: {} must not fire, but did on {found:?}",
                    live_pass.display()
                ));
            }
        }
        if expected.is_empty() && live_marks == 0 {
            problems.push(format!(
                "{id}: neither {} nor live-fail.yaml marks an `# expect: {id}` line",
                fail.display()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The YAML of a rule doc's `### <section>`: its first fenced block.
fn doc_example<'a>(doc: &'a str, section: &str) -> Option<&'a str> {
    let start = doc.find(&format!("### {section}\n"))?;
    let body = &doc[start..];
    let body = &body[..body[4..].find("\n### ").map_or(body.len(), |i| i + 4)];
    let code = &body[body.find("```")?..];
    let code = &code[code.find('\n')? + 1..];
    Some(&code[..code.find("```")?])
}

/// The documents of an example, split on `---` lines.
fn documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.retain(|d| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

/// The Deployment a workload fragment belongs in: its lines up to the fragment's indentation
/// (2: under `spec`, 4: under `spec.template`, 6: under its pod spec).
fn workload_around(indent: usize) -> &'static str {
    const PREFIX: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\nspec:\n  selector:\n    matchLabels: {app: api}\n";
    match indent {
        2 => PREFIX,
        4 => concat!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\nspec:\n  selector:\n    matchLabels: {app: api}\n",
            "  template:\n    metadata:\n      labels: {app: api}\n"
        ),
        _ => concat!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop-prod\nspec:\n  selector:\n    matchLabels: {app: api}\n",
            "  template:\n    metadata:\n      labels: {app: api}\n    spec:\n"
        ),
    }
}

/// An example as the files it stands for, `(relative path, text)`. Docs show what matters:
/// - a fragment indented by 2, 4 or 6 spaces is part of a Deployment `shop-prod/api` (under
///   `spec`, its pod template, or its pod spec);
/// - a passing document without `apiVersion` is the failing example's first document having
///   its first field, with its fields replaced; a passing document of a kind the failing
///   example has takes the place of that document; either way the failing example's other
///   documents stay;
/// - a document opening with a `# <path>.yaml` comment is that file of the repository.
fn example_files(example: &str, failing: Option<&str>) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    let context: Vec<String> = failing.map(documents).unwrap_or_default();
    let mut replaced = std::collections::BTreeSet::new();
    for doc in documents(example) {
        let first = doc
            .lines()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .unwrap_or_default();
        let indent = first.len() - first.trim_start().len();
        let path = doc
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .filter(|p| p.ends_with(".yaml"))
            .unwrap_or("example.yaml")
            .to_string();
        let text = if indent > 0 {
            format!("{}{doc}", workload_around(indent))
        } else if failing.is_some() && !doc.lines().any(|l| l.starts_with("apiVersion:")) {
            let key = first.split(':').next().unwrap_or_default().to_string();
            let fields: serde_json::Value = yaml_serde::from_str(&doc).unwrap();
            let base = context
                .iter()
                .position(|d| d.lines().any(|l| l.starts_with(&format!("{key}:"))))
                .unwrap_or_else(|| panic!("no failing document has `{key}`"));
            let mut object: serde_json::Value = yaml_serde::from_str(&context[base]).unwrap();
            for (k, v) in fields.as_object().unwrap() {
                object[k] = v.clone();
            }
            replaced.insert(base);
            serde_json::to_string_pretty(&object).unwrap()
        } else {
            // A passing document of a kind the failing example has takes its place.
            let kind = |d: &str| {
                d.lines()
                    .find_map(|l| l.strip_prefix("kind:"))
                    .map(|k| k.split('#').next().unwrap_or_default().trim().to_string())
            };
            if failing.is_some()
                && let Some(base) = (0..context.len())
                    .find(|i| !replaced.contains(i) && kind(&context[*i]) == kind(&doc))
            {
                replaced.insert(base);
            }
            doc
        };
        files.push((path, text));
    }
    if !replaced.is_empty() {
        for (i, doc) in context.into_iter().enumerate() {
            if !replaced.contains(&i) {
                files.push(("context.yaml".to_string(), doc));
            }
        }
    }
    files
}

/// Every rule doc's failing example fires the rule and its passing example does not (see
/// [`example_files`]), with the configuration of the rule's fixtures; as live objects for
/// live-only rules.
#[test]
fn every_rule_doc_example_does_what_it_says() {
    let mut problems = Vec::new();
    for rule in REGISTRY {
        let meta = rule.meta();
        let id = meta.id;
        let failing = doc_example(meta.doc, "Failing example");
        for (section, fires) in [("Failing example", true), ("Passing example", false)] {
            let Some(yaml) = doc_example(meta.doc, section) else {
                problems.push(format!("{id}: its docs have no YAML under `### {section}`"));
                continue;
            };
            let dir = tempfile::tempdir().unwrap();
            let config = Path::new("fixtures/rules").join(id).join("tollgate.yaml");
            if config.exists() {
                std::fs::copy(&config, dir.path().join("tollgate.yaml")).unwrap();
            }
            let files = example_files(yaml, if fires { None } else { failing });
            for (path, content) in &files {
                // Under a folder of the scan root, as the fixtures' path globs (`*/clusters/…`) expect.
                let path = dir.path().join("example").join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let mut all = std::fs::read_to_string(&path).unwrap_or_default();
                if !all.is_empty() {
                    all.push_str("---\n");
                }
                all.push_str(content);
                if !content.ends_with('\n') {
                    all.push('\n');
                }
                std::fs::write(&path, &all).unwrap();
            }
            let found = if meta.scope.live_only {
                // Live objects, but for the files of `gitops/` (the drift rules' repository).
                let mut live = String::new();
                for (path, content) in &files {
                    match path.strip_prefix("gitops/") {
                        Some(file) => {
                            let file = dir.path().join("gitops").join(file);
                            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                            std::fs::write(file, content).unwrap();
                        }
                        None => live.push_str(&format!("---\n{content}\n")),
                    }
                }
                let path = dir.path().join("live.yaml");
                std::fs::write(&path, &live).unwrap();
                run_live(id, &path).1.values().sum::<usize>()
            } else {
                run_with(id, dir.path(), "doc-trivy-reports")
                    .values()
                    .sum::<usize>()
            };
            if fires && found == 0 {
                problems.push(format!("{id}: its failing example does not fire it"));
            } else if !fires && found > 0 {
                problems.push(format!(
                    "{id}: its passing example fires it {found} time(s)"
                ));
            }
            if std::env::var_os("TOLLGATE_SHOW_EXAMPLES").is_some() {
                for (path, content) in &files {
                    eprintln!("== {id} {section} {path}\n{content}");
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
