//! `tollgate policy test`: Rego unit tests (`test_*` rules, like `opa test`) and Gatekeeper
//! suites (`suite.yaml` of `kind: Suite`, like `gator verify`), with one result per test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::value::Value as Json;
use regorus::Value;

use super::engine::{self, ModuleSource, Origin, Syntax};
use super::gatekeeper;
use super::sources::{self, FileKind, PolicyFile};
use super::value::{members, str_field, to_rego};
use super::{ast, data};
use crate::error::Error;
use crate::model::object::Object;
use crate::model::spans::SpanTree;
use crate::source::files::load_bytes;

/// What `tollgate policy test` was asked.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Directories or files; none means the shipped policies.
    pub paths: Vec<PathBuf>,
    pub data_files: Vec<PathBuf>,
    pub rego_v0: bool,
    /// Only tests whose name matches.
    pub run: Option<regex::Regex>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Error(String),
    Skip(String),
}

/// One test's result.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// `data.pkg.test_x`, or `suite.yaml: test / case`.
    pub name: String,
    pub file: String,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Runs every test under `options.paths`. A policy that does not compile is an error.
pub fn run(options: &TestOptions, root: &Path) -> Result<Vec<TestResult>, Error> {
    let files = if options.paths.is_empty() {
        sources::shipped()
    } else {
        sources::collect(&options.paths, root)?
    };
    let mut results = rego_tests(&files, options)?;
    for file in files
        .iter()
        .filter(|f| f.kind == FileKind::Manifest && is_suite(&f.text))
    {
        results.extend(run_suite(file, options));
    }
    Ok(results)
}

fn selected(options: &TestOptions, name: &str) -> bool {
    options.run.as_ref().is_none_or(|r| r.is_match(name))
}

fn rego_tests(files: &[PolicyFile], options: &TestOptions) -> Result<Vec<TestResult>, Error> {
    let mut engine = engine::new_engine(options.timeout);
    let mut origins = std::collections::HashMap::new();
    for file in files
        .iter()
        .filter(|f| matches!(f.kind, FileKind::Rego | FileKind::RegoTest))
    {
        let origin = Origin::file(&file.display, file.text.clone());
        let module = ModuleSource {
            name: file.display.clone(),
            text: file.text.to_string(),
            syntax: match (file.shipped, options.rego_v0) {
                (true, _) => Syntax::V1,
                (false, true) => Syntax::V0,
                (false, false) => Syntax::Auto,
            },
            origin: origin.clone(),
        };
        engine::add_module(&mut engine, &module).map_err(|e| Error::Diagnostic(Box::new(e)))?;
        origins.insert(file.display.clone(), origin);
    }
    if origins.is_empty() {
        return Ok(Vec::new());
    }
    for path in &options.data_files {
        engine
            .add_data(to_rego(&sources::data_file(path)?))
            .map_err(|e| Error::usage(format!("--data {}: {e}", path.display())))?;
    }
    engine::finish(&mut engine, &origins).map_err(|e| Error::Diagnostic(Box::new(e)))?;

    let mut tests: Vec<(String, String, bool)> = Vec::new();
    let mut seen = BTreeSet::new();
    for module in engine.get_modules().clone() {
        let package = ast::package(&module);
        let file = module.package.span.source.get_path().clone();
        for declared in ast::declared(&module) {
            if declared.function {
                continue;
            }
            let todo = declared.name.starts_with("todo_test_");
            if !declared.name.starts_with("test_") && !todo {
                continue;
            }
            let path = format!("{}.{}", ast::rule_path(&package), declared.name);
            if seen.insert(path.clone()) && selected(options, &path) {
                tests.push((path, file.clone(), todo));
            }
        }
    }
    let mut results = Vec::new();
    for (name, file, todo) in tests {
        if todo {
            results.push(TestResult {
                name,
                file,
                outcome: Outcome::Skip("todo".into()),
                duration: Duration::ZERO,
            });
            continue;
        }
        engine.set_input(Value::Undefined);
        let started = Instant::now();
        let outcome = match engine.eval_rule(name.clone()) {
            Ok(Value::Bool(true)) => Outcome::Pass,
            Ok(Value::Undefined) => Outcome::Fail("the test is undefined".into()),
            Ok(other) => Outcome::Fail(format!(
                "the test evaluates to {}",
                other.to_json_str().unwrap_or_default()
            )),
            Err(e) => Outcome::Error(engine::summarize(&format!("{e:#}"), &origins)),
        };
        results.push(TestResult {
            name,
            file,
            outcome,
            duration: started.elapsed(),
        });
    }
    Ok(results)
}

/// True for a gator suite file.
pub fn is_suite(text: &str) -> bool {
    text.contains("test.gatekeeper.sh") && text.contains("Suite")
}

fn read_objects(path: &Path) -> Result<(Vec<Object>, Arc<str>, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let display = path.to_string_lossy().replace('\\', "/");
    let loaded = load_bytes(&display, &bytes);
    if let Some(p) = loaded.problems.first() {
        return Err(format!(
            "{display}:{}:{}: {}",
            p.pos.line, p.pos.column, p.message
        ));
    }
    Ok((
        loaded.objects,
        Arc::from(String::from_utf8_lossy(&bytes).as_ref()),
        display,
    ))
}

/// The object an AdmissionReview reviews, with the review to give the template.
fn admission_review(object: &Object) -> Result<(Object, Value), String> {
    let request = object
        .value
        .get("request")
        .ok_or("the AdmissionReview has no request")?;
    let reviewed = request
        .get("object")
        .filter(|o| !o.is_null())
        .or_else(|| request.get("oldObject").filter(|o| !o.is_null()))
        .ok_or("the AdmissionReview request has no object or oldObject")?;
    let reviewed = Object::from_value(reviewed.clone(), object.origin.clone(), SpanTree::default())
        .ok_or("the reviewed object has no apiVersion and kind")?;
    let mut review = request.clone();
    if let Some(map) = review.as_object_mut()
        && !map.contains_key("namespace")
        && let Some(ns) = &reviewed.namespace
    {
        map.insert("namespace", Json::from(ns.as_str()));
    }
    Ok((reviewed, to_rego(&review)))
}

/// gator's `violations`: a count, `yes` (at least one) or `no` (none); default `yes`.
fn check_assertion(assertion: &Json, messages: &[String]) -> Result<(), String> {
    let pattern = match assertion.get("message").and_then(Json::as_str) {
        Some(p) => Some(regex::Regex::new(p).map_err(|e| format!("invalid message regex: {e}"))?),
        None => None,
    };
    let matching = messages
        .iter()
        .filter(|m| pattern.as_ref().is_none_or(|p| p.is_match(m)))
        .count();
    let about = match assertion.get("message").and_then(Json::as_str) {
        Some(p) => format!(" matching {p:?}"),
        None => String::new(),
    };
    let ok = match assertion.get("violations") {
        None => matching > 0,
        // YAML 1.1 (Kubernetes') reads `yes`/`no` as booleans.
        Some(Json::String(s)) if s == "yes" => matching > 0,
        Some(Json::Bool(true)) => matching > 0,
        Some(Json::String(s)) if s == "no" => matching == 0,
        Some(Json::Bool(false)) => matching == 0,
        Some(Json::Number(n)) => n.as_u64() == Some(matching as u64),
        Some(other) => return Err(format!("invalid assertion `violations: {other}`")),
    };
    if ok {
        Ok(())
    } else {
        let want = match assertion.get("violations") {
            None => "yes".to_string(),
            Some(Json::String(s)) => s.to_string(),
            Some(Json::Bool(true)) => "yes".into(),
            Some(Json::Bool(false)) => "no".into(),
            Some(other) => other.to_string(),
        };
        Err(format!(
            "got {matching} violations{about}, want {want}; messages: {messages:?}"
        ))
    }
}

fn run_suite(file: &PolicyFile, options: &TestOptions) -> Vec<TestResult> {
    let mut results = Vec::new();
    let Some(path) = &file.path else {
        return results;
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let parsed = crate::source::yaml::parse_stream(&file.text);
    let error = |name: String, message: String| TestResult {
        name,
        file: file.display.clone(),
        outcome: Outcome::Error(message),
        duration: Duration::ZERO,
    };
    for doc in parsed.documents {
        if doc.value.get("kind").and_then(Json::as_str) != Some("Suite") {
            continue;
        }
        let suite_skipped = doc.value.get("skip").and_then(Json::as_bool) == Some(true);
        for test in doc
            .value
            .get("tests")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let test_name = test.get("name").and_then(Json::as_str).unwrap_or("test");
            let prefix = format!("{}: {test_name}", file.display);
            let cases: Vec<&Json> = test
                .get("cases")
                .and_then(Json::as_array)
                .map(|c| c.iter().collect())
                .unwrap_or_default();
            let case_name = |c: &Json| {
                c.get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("case")
                    .to_string()
            };
            if suite_skipped || test.get("skip").and_then(Json::as_bool) == Some(true) {
                for c in &cases {
                    results.push(TestResult {
                        name: format!("{prefix} / {}", case_name(c)),
                        file: file.display.clone(),
                        outcome: Outcome::Skip("skip: true".into()),
                        duration: Duration::ZERO,
                    });
                }
                continue;
            }
            if test.get("invalid").and_then(Json::as_bool) == Some(true) {
                if selected(options, &prefix) {
                    results.push(TestResult {
                        name: prefix.clone(),
                        file: file.display.clone(),
                        outcome: Outcome::Skip(
                            "constraint schema validation (invalid: true) is not checked".into(),
                        ),
                        duration: Duration::ZERO,
                    });
                }
                continue;
            }
            let prepared = prepare_test(test, dir, options.timeout);
            for c in cases {
                let name = format!("{prefix} / {}", case_name(c));
                if !selected(options, &name) {
                    continue;
                }
                if c.get("skip").and_then(Json::as_bool) == Some(true) {
                    results.push(TestResult {
                        name,
                        file: file.display.clone(),
                        outcome: Outcome::Skip("skip: true".into()),
                        duration: Duration::ZERO,
                    });
                    continue;
                }
                let (template, constraint) = match &prepared {
                    Ok(p) => p,
                    Err(e) if e.starts_with(NO_REGO) => {
                        results.push(TestResult {
                            name,
                            file: file.display.clone(),
                            outcome: Outcome::Skip(e.clone()),
                            duration: Duration::ZERO,
                        });
                        continue;
                    }
                    Err(e) => {
                        results.push(error(name, e.clone()));
                        continue;
                    }
                };
                let started = Instant::now();
                let outcome = match run_case(c, dir, template, constraint) {
                    Ok(messages) => {
                        let assertions: Vec<&Json> = c
                            .get("assertions")
                            .and_then(Json::as_array)
                            .map(|a| a.iter().collect())
                            .unwrap_or_default();
                        if assertions.is_empty() {
                            Outcome::Error("the case has no assertions".into())
                        } else {
                            match assertions
                                .iter()
                                .map(|a| check_assertion(a, &messages))
                                .find_map(Result::err)
                            {
                                Some(reason) => Outcome::Fail(reason),
                                None => Outcome::Pass,
                            }
                        }
                    }
                    Err(e) => Outcome::Error(e),
                };
                results.push(TestResult {
                    name,
                    file: file.display.clone(),
                    outcome,
                    duration: started.elapsed(),
                });
            }
        }
    }
    results
}

/// Why a case of a CEL-only template is skipped.
const NO_REGO: &str = "the template has no Rego for admission.k8s.gatekeeper.sh";

fn prepare_test(
    test: &Json,
    dir: &Path,
    timeout: Duration,
) -> Result<(gatekeeper::Template, gatekeeper::Constraint), String> {
    let template_path = test
        .get("template")
        .and_then(Json::as_str)
        .ok_or("the test names no template")?;
    let (objects, text, display) = read_objects(&dir.join(template_path))?;
    let template_object = objects
        .iter()
        .find(|o| gatekeeper::is_template(o))
        .ok_or_else(|| format!("{display} holds no ConstraintTemplate"))?;
    let template = gatekeeper::compile_template(template_object, &display, &text, timeout)
        .map_err(|e| format!("{e}"))?
        .ok_or_else(|| format!("{NO_REGO}: {display} (CEL only)"))?;
    let constraint_path = test
        .get("constraint")
        .and_then(Json::as_str)
        .ok_or("the test names no constraint")?;
    let (objects, _, display) = read_objects(&dir.join(constraint_path))?;
    let constraint_object = objects
        .first()
        .ok_or_else(|| format!("{display} holds no object"))?;
    if constraint_object.kind != template.kind {
        return Err(format!(
            "{display}: constraint kind {} is not the template's kind {}",
            constraint_object.kind, template.kind
        ));
    }
    let templates = vec![template];
    let constraint = gatekeeper::constraint(constraint_object, 0, &templates, &display);
    #[allow(
        clippy::expect_used,
        reason = "`templates` was built with one element above"
    )]
    let template = templates.into_iter().next().expect("one template");
    Ok((template, constraint))
}

/// The violation messages of one case.
fn run_case(
    case: &Json,
    dir: &Path,
    template: &gatekeeper::Template,
    constraint: &gatekeeper::Constraint,
) -> Result<Vec<String>, String> {
    let object_path = case
        .get("object")
        .and_then(Json::as_str)
        .ok_or("the case names no object")?;
    let (objects, _, display) = read_objects(&dir.join(object_path))?;
    if objects.len() != 1 {
        return Err(format!(
            "{display} defines {} objects, not 1",
            objects.len()
        ));
    }
    let mut inventory_objects = Vec::new();
    for p in case
        .get("inventory")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
    {
        inventory_objects.extend(read_objects(&dir.join(p))?.0);
    }
    let object = &objects[0];
    let (reviewed, review) =
        if object.kind == "AdmissionReview" && object.group() == "admission.k8s.io" {
            admission_review(object)?
        } else {
            let value = to_rego(&object.value);
            (object.clone(), gatekeeper::review(value, object))
        };
    let namespace = reviewed.namespace.as_deref().and_then(|ns| {
        inventory_objects
            .iter()
            .find(|o| o.is("", "Namespace") && o.name == ns)
    });
    if !constraint.matcher.matches(&reviewed, namespace) {
        return Ok(Vec::new());
    }
    let mut engine = template.engine.clone();
    if template.needs_inventory {
        let converted = data::convert_all(&inventory_objects, false);
        let inventory = data::inventory(inventory_objects.iter().zip(&converted));
        engine
            .add_data(super::value::object([("inventory", inventory)]))
            .map_err(|e| e.to_string())?;
    }
    engine.set_input(gatekeeper::input(review, &constraint.parameters));
    let result = engine
        .eval_rule(template.violation.clone())
        .map_err(|e| engine::summarize(&format!("{e:#}"), &template.origins))?;
    Ok(members(&result)
        .into_iter()
        .map(|m| {
            str_field(m, "msg")
                .map(str::to_string)
                .unwrap_or_else(|| super::value::display(m))
        })
        .collect())
}
