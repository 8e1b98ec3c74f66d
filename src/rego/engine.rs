//! The regorus engine as tollgate uses it: modules added with the right Rego syntax (v0 or
//! v1, per module), tollgate's extra builtins, OPA's lenient builtin errors, a time limit per
//! evaluation, and errors turned into diagnostics that point at the policy's file:line:col
//! (also inside the YAML of a ConstraintTemplate).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use miette::{Diagnostic, NamedSource, SourceSpan};
use regorus::Engine;
use regorus::utils::limits::ExecutionTimerConfig;

use super::{ast, builtins};

/// Which Rego syntax a module is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// v1 when it parses as v1, else v0 (OPA 0.x policies, gatekeeper-library).
    Auto,
    V0,
    V1,
}

/// Where a module's Rego text sits: its own file, or a block inside a YAML file.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Display path of the file.
    pub file: String,
    /// The whole file, for snippets.
    pub file_text: Arc<str>,
    /// Line of the file (1-based) holding the module's first line.
    pub first_line: u32,
    /// Columns the module is indented by inside the file.
    pub indent: u32,
}

impl Origin {
    pub fn file(display: &str, text: Arc<str>) -> Origin {
        Origin {
            file: display.to_string(),
            file_text: text,
            first_line: 1,
            indent: 0,
        }
    }
}

/// A module to add to an engine.
#[derive(Debug, Clone)]
pub struct ModuleSource {
    /// Unique name regorus knows the module by (appears in its errors).
    pub name: String,
    pub text: String,
    pub syntax: Syntax,
    pub origin: Origin,
}

/// A policy that does not compile: exit code 2, pointing at file:line:col.
#[derive(Debug, Clone, thiserror::Error, Diagnostic)]
#[error("policy {file}:{line}:{column}: {message}")]
#[diagnostic(code(tollgate::policy))]
pub struct PolicyError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[source_code]
    source_code: Option<Arc<NamedSource<String>>>,
    #[label("{message}")]
    span: Option<SourceSpan>,
}

fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let within: usize = l
                .chars()
                .take(column.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return offset + within.min(l.trim_end_matches(['\n', '\r']).len());
        }
        offset += l.len();
    }
    text.len()
}

impl PolicyError {
    /// An error at `line:column` of a module (1-based), placed in its file.
    pub fn in_module(origin: &Origin, line: u32, column: u32, message: impl Into<String>) -> Self {
        let line_in_file = origin.first_line + line.max(1) - 1;
        let column_in_file = column.max(1) + origin.indent;
        Self::in_file(origin, line_in_file, column_in_file, message)
    }

    /// An error at `line:column` of the file (1-based).
    pub fn in_file(origin: &Origin, line: u32, column: u32, message: impl Into<String>) -> Self {
        let message = message.into();
        let text = origin.file_text.to_string();
        let offset = offset_of(&text, line, column);
        let length = text[offset..]
            .find(['\n', ' ', '(', ')', '[', ']', '{', '}', ','])
            .unwrap_or(text.len() - offset)
            .max(usize::from(offset < text.len()));
        PolicyError {
            file: origin.file.clone(),
            line,
            column,
            message,
            source_code: Some(Arc::new(NamedSource::new(origin.file.clone(), text))),
            span: Some(SourceSpan::new(offset.into(), length)),
        }
    }

    /// An error about a file as a whole.
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        PolicyError {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: message.into(),
            source_code: None,
            span: None,
        }
    }
}

/// A location and message parsed from a regorus error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub name: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

#[allow(
    clippy::expect_used,
    reason = "a literal pattern, compiled by every test run"
)]
fn location_pattern() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"-->\s*(.+):(\d+):(\d+)").expect("valid pattern"))
}

/// regorus errors read `--> file:line:col`, a caret snippet, then `error: message`.
pub fn locate(error_text: &str) -> Option<Located> {
    let captures = location_pattern().captures(error_text)?;
    let message = error_text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("error: "))
        .unwrap_or("")
        .trim()
        .to_string();
    Some(Located {
        name: captures[1].to_string(),
        line: captures[2].parse().ok()?,
        column: captures[3].parse().ok()?,
        message,
    })
}

/// The short form of a regorus error: `message (file:line:col)`.
pub fn summarize(error_text: &str, origins: &HashMap<String, Origin>) -> String {
    match locate(error_text) {
        Some(l) => {
            let (file, line, column) = match origins.get(&l.name) {
                Some(o) => (
                    o.file.as_str(),
                    o.first_line + l.line - 1,
                    l.column + o.indent,
                ),
                None => (l.name.as_str(), l.line, l.column),
            };
            format!("{} ({file}:{line}:{column})", l.message)
        }
        None => error_text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown error")
            .to_string(),
    }
}

/// A compile error from a regorus error about one of `origins`' modules.
pub fn policy_error(error_text: &str, origins: &HashMap<String, Origin>) -> PolicyError {
    match locate(error_text) {
        Some(l) => match origins.get(&l.name) {
            Some(origin) => PolicyError::in_module(origin, l.line, l.column, l.message),
            None => PolicyError::whole(&l.name, l.message),
        },
        None => PolicyError::whole("<policies>", summarize(error_text, origins)),
    }
}

/// True for evaluation errors that mean the policy itself is wrong (OPA would not compile
/// it), as opposed to a problem with one object.
pub fn is_compile_class(message: &str) -> bool {
    [
        "is unsafe",
        "could not find function",
        "recursion detected",
        "mismatch in number of arguments",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// True when the error is the time limit.
pub fn is_timeout(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| e.to_string().contains("exceeded time limit"))
}

/// A new engine with tollgate's builtins, OPA's lenient builtin errors and the time limit.
#[allow(
    clippy::expect_used,
    reason = "32 is not zero, and the builtins are added once to a fresh engine (no name clash)"
)]
pub fn new_engine(timeout: Duration) -> Engine {
    let mut engine = Engine::new();
    // OPA makes a failing builtin (`to_number("x")`) undefined instead of an error.
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: timeout,
        check_interval: NonZeroU32::new(32).expect("non-zero"),
    });
    builtins::install(&mut engine).expect("extensions are added once to a new engine");
    engine
}

fn requires_v1_keyword(message: &str) -> bool {
    message.contains("keyword is required")
}

/// Adds `module` with its syntax; `Auto` tries v1, then v0.
pub fn add_module(engine: &mut Engine, module: &ModuleSource) -> Result<(), PolicyError> {
    let origins = HashMap::from([(module.name.clone(), module.origin.clone())]);
    let attempt = |engine: &mut Engine, v0: bool| {
        engine.set_rego_v0(v0);
        let result = engine.add_policy(module.name.clone(), module.text.clone());
        engine.set_rego_v0(false);
        result.map(|_| ()).map_err(|e| format!("{e:#}"))
    };
    match module.syntax {
        Syntax::V0 => attempt(engine, true).map_err(|e| policy_error(&e, &origins)),
        Syntax::V1 => attempt(engine, false).map_err(|e| policy_error(&e, &origins)),
        Syntax::Auto => match attempt(engine, false) {
            Ok(()) => Ok(()),
            Err(v1_error) => match attempt(engine, true) {
                Ok(()) => Ok(()),
                Err(v0_error) => {
                    // Report the error of the syntax the module is written in.
                    let v1_message = locate(&v1_error).map(|l| l.message).unwrap_or_default();
                    let chosen = if requires_v1_keyword(&v1_message) {
                        v0_error
                    } else {
                        v1_error
                    };
                    Err(policy_error(&chosen, &origins))
                }
            },
        },
    }
}

/// Checks the modules of a prepared engine for unknown and recursive functions, then
/// prepares it (analysis and scheduling happen once, before clones are made).
pub fn finish(engine: &mut Engine, origins: &HashMap<String, Origin>) -> Result<(), PolicyError> {
    let modules = engine.get_modules().clone();
    if let Some(problem) = ast::check_modules(&modules, builtins::NAMES)
        .into_iter()
        .next()
    {
        let message = match builtins::REFUSED
            .iter()
            .find(|(name, _)| problem.message.contains(&format!("`{name}`")))
        {
            Some((_, reason)) => reason.to_string(),
            None => problem.message,
        };
        return Err(match origins.get(&problem.source) {
            Some(origin) => PolicyError::in_module(origin, problem.line, problem.column, message),
            None => PolicyError::whole(&problem.source, message),
        });
    }
    prepare(engine).map_err(|e| policy_error(&e, origins))
}

/// Runs regorus' analysis now rather than at the first evaluation.
pub fn prepare(engine: &mut Engine) -> Result<(), String> {
    engine
        .eval_query("true".to_string(), false)
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(text: &str, syntax: Syntax) -> ModuleSource {
        ModuleSource {
            name: "p.rego".into(),
            text: text.into(),
            syntax,
            origin: Origin::file("policies/p.rego", Arc::from(text)),
        }
    }

    #[test]
    fn auto_syntax_accepts_v0_and_v1() {
        let mut engine = new_engine(Duration::from_secs(1));
        add_module(
            &mut engine,
            &module("package a\ndeny[msg] { msg := \"x\" }\n", Syntax::Auto),
        )
        .unwrap();
        let mut engine = new_engine(Duration::from_secs(1));
        add_module(
            &mut engine,
            &module(
                "package b\nimport rego.v1\ndeny contains msg if { msg := \"x\" }\n",
                Syntax::Auto,
            ),
        )
        .unwrap();
    }

    #[test]
    fn syntax_errors_point_into_the_file() {
        let mut engine = new_engine(Duration::from_secs(1));
        let e = add_module(
            &mut engine,
            &module(
                "package a\nimport rego.v1\ndeny contains m if {\n  m := \n}\n",
                Syntax::Auto,
            ),
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("policies/p.rego", 4));
        // A v0 module with a mistake reports the v0 error, not "`if` is required".
        let e = add_module(
            &mut engine,
            &module("package a\ndeny[m] {\n  m := \n}\n", Syntax::Auto),
        )
        .unwrap_err();
        assert!(!e.message.contains("keyword is required"), "{}", e.message);
        assert_eq!(e.line, 2);
    }

    #[test]
    fn errors_inside_yaml_are_offset() {
        let yaml = "spec:\n  rego: |\n    package a\n    deny[m] {\n      m := \n    }\n";
        let origin = Origin {
            file: "t.yaml".into(),
            file_text: Arc::from(yaml),
            first_line: 3,
            indent: 4,
        };
        let e = PolicyError::in_module(&origin, 3, 5, "bad");
        assert_eq!((e.line, e.column), (5, 9));
    }

    #[test]
    fn recursive_and_refused_functions_do_not_compile() {
        let mut engine = new_engine(Duration::from_secs(1));
        let m = module(
            "package a\nimport rego.v1\nf(n) := y if { y := f(n) }\n",
            Syntax::Auto,
        );
        add_module(&mut engine, &m).unwrap();
        let origins = HashMap::from([(m.name.clone(), m.origin.clone())]);
        let e = finish(&mut engine, &origins).unwrap_err();
        assert!(e.message.contains("recursive"), "{}", e.message);
        assert_eq!(e.line, 3);

        let mut engine = new_engine(Duration::from_secs(1));
        let m = module(
            "package a\nimport rego.v1\nx := http.send({\"url\": \"http://x\"})\n",
            Syntax::Auto,
        );
        add_module(&mut engine, &m).unwrap();
        let origins = HashMap::from([(m.name.clone(), m.origin.clone())]);
        let e = finish(&mut engine, &origins).unwrap_err();
        assert!(e.message.contains("offline"), "{}", e.message);
    }

    #[test]
    fn runaway_evaluation_stops_at_the_limit() {
        let mut engine = new_engine(Duration::from_millis(50));
        add_module(
            &mut engine,
            &module(
                "package a\nimport rego.v1\nx := count([i | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)])\n",
                Syntax::Auto,
            ),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let e = engine.eval_rule("data.a.x".into()).unwrap_err();
        assert!(is_timeout(&e), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
