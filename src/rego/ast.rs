//! What tollgate reads from parsed Rego modules: package paths, rule names, function calls.
//!
//! regorus checks syntax when a module is added but leaves two mistakes for evaluation time
//! that OPA rejects at compile time: calls to functions that do not exist (an unsupported
//! builtin, a typo) and recursive functions, which overflow the stack and abort the process.
//! [`check_modules`] finds both before anything is evaluated. The AST is regorus' unstable
//! API, which is why the crate is pinned to one version.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regorus::Value;
use regorus::unstable::{Expr, Literal, Module, Query, Ref, Rule, RuleHead, Span};

/// Functions tollgate adds to regorus' builtins (see `builtins.rs`).
pub type ExtraBuiltins<'a> = &'a [&'a str];

fn name_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Components of a reference made of names and string keys only (`a.b["c-d"]`).
pub fn ref_path(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Var { value, .. } => Some(vec![name_of(value)?]),
        Expr::RefDot { refr, field, .. } => {
            let mut path = ref_path(refr)?;
            path.push(name_of(&field.1)?);
            Some(path)
        }
        Expr::RefBrack { refr, index, .. } => match index.as_ref() {
            Expr::String { value, .. } | Expr::RawString { value, .. } => {
                let mut path = ref_path(refr)?;
                path.push(name_of(value)?);
                Some(path)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The leading name of a reference (`deny` of `deny[msg]`).
fn root_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var { value, .. } => name_of(value),
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => root_name(refr),
        _ => None,
    }
}

/// The longest leading part of a reference made of names and string keys.
fn static_prefix(expr: &Expr) -> Vec<String> {
    match expr {
        Expr::Var { value, .. } => name_of(value).into_iter().collect(),
        Expr::RefDot { refr, field, .. } => {
            let mut path = static_prefix(refr);
            if path.len() == depth(refr) {
                path.extend(name_of(&field.1));
            }
            path
        }
        Expr::RefBrack { refr, index, .. } => {
            let mut path = static_prefix(refr);
            if path.len() == depth(refr)
                && let Expr::String { value, .. } | Expr::RawString { value, .. } = index.as_ref()
            {
                path.extend(name_of(value));
            }
            path
        }
        _ => Vec::new(),
    }
}

/// The span of a reference's first name (`crypto` of `crypto.sha256`).
fn start_span(expr: &Expr) -> &Span {
    match expr {
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => start_span(refr),
        other => other.span(),
    }
}

fn depth(expr: &Expr) -> usize {
    match expr {
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => depth(refr) + 1,
        _ => 1,
    }
}

/// A Rego path for evaluation: `data.a.b["c-d"]`.
pub fn rule_path(components: &[String]) -> String {
    let mut out = String::from("data");
    for c in components {
        let identifier = c
            .chars()
            .next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if identifier {
            out.push('.');
            out.push_str(c);
        } else {
            out.push_str(&format!("[{}]", serde_json::Value::from(c.as_str())));
        }
    }
    out
}

/// The package of a module, without the leading `data`.
pub fn package(module: &Module) -> Vec<String> {
    let mut path = static_prefix(&module.package.refr);
    if path.first().is_some_and(|p| p == "data") {
        path.remove(0);
    }
    path
}

/// A rule or function a module declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The leading name (`deny` for `deny contains msg if …` and `deny[msg] { … }`).
    pub name: String,
    pub function: bool,
    pub line: u32,
}

/// Every rule and function `module` declares, in source order.
pub fn declared(module: &Module) -> Vec<Declared> {
    let mut out = Vec::new();
    for rule in &module.policy {
        let (refr, function, span) = match rule.as_ref() {
            Rule::Spec { head, span, .. } => match head {
                RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => (refr, false, span),
                RuleHead::Func { refr, .. } => (refr, true, span),
            },
            Rule::Default {
                refr, args, span, ..
            } => (refr, !args.is_empty(), span),
        };
        if let Some(name) = root_name(refr) {
            out.push(Declared {
                name,
                function,
                line: span.line,
            });
        }
    }
    out
}

/// A mistake in a module that OPA would reject at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleProblem {
    /// The name the module was added under.
    pub source: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl ModuleProblem {
    fn at(span: &Span, message: String) -> ModuleProblem {
        ModuleProblem {
            source: span.source.get_path().clone(),
            line: span.line,
            column: span.col,
            message,
        }
    }
}

struct Resolver {
    package: Vec<String>,
    /// Import alias → imported path without `data`.
    imports: HashMap<String, Vec<String>>,
}

impl Resolver {
    fn new(module: &Module) -> Resolver {
        let mut imports = HashMap::new();
        for import in &module.imports {
            let Some(path) = ref_path(&import.refr) else {
                continue;
            };
            if path.first().map(String::as_str) != Some("data") || path.len() < 2 {
                continue;
            }
            let alias = match &import.r#as {
                Some(span) => span.text().to_string(),
                None => path[path.len() - 1].clone(),
            };
            imports.insert(alias, path[1..].to_vec());
        }
        Resolver {
            package: package(module),
            imports,
        }
    }

    /// Candidate full paths (without `data`) a call of `path` may name, most likely first.
    fn candidates(&self, path: &[String]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        if path.first().map(String::as_str) == Some("data") {
            out.push(path[1..].to_vec());
            return out;
        }
        if let Some(imported) = path.first().and_then(|p| self.imports.get(p)) {
            let mut full = imported.clone();
            full.extend_from_slice(&path[1..]);
            out.push(full);
        }
        let mut local = self.package.clone();
        local.extend_from_slice(path);
        out.push(local);
        out
    }
}

fn key(path: &[String]) -> String {
    path.join("\u{1f}")
}

/// Calls `visit` with the callee path and span of every function call under `expr`.
fn calls_in_expr(expr: &Expr, visit: &mut dyn FnMut(Vec<String>, &Span)) {
    match expr {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for item in items {
                calls_in_expr(item, visit);
            }
        }
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                calls_in_expr(k, visit);
                calls_in_expr(v, visit);
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            calls_in_expr(term, visit);
            calls_in_query(query, visit);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            calls_in_expr(key, visit);
            calls_in_expr(value, visit);
            calls_in_query(query, visit);
        }
        Expr::Call { fcn, params, .. } => {
            if let Some(path) = ref_path(fcn) {
                visit(path, start_span(fcn));
            }
            for p in params {
                calls_in_expr(p, visit);
            }
        }
        Expr::UnaryExpr { expr, .. } => calls_in_expr(expr, visit),
        Expr::RefDot { refr, .. } => calls_in_expr(refr, visit),
        Expr::RefBrack { refr, index, .. } => {
            calls_in_expr(refr, visit);
            calls_in_expr(index, visit);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            calls_in_expr(lhs, visit);
            calls_in_expr(rhs, visit);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(k) = key {
                calls_in_expr(k, visit);
            }
            calls_in_expr(value, visit);
            calls_in_expr(collection, visit);
        }
    }
}

fn calls_in_query(query: &Ref<Query>, visit: &mut dyn FnMut(Vec<String>, &Span)) {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(k) = key {
                    calls_in_expr(k, visit);
                }
                calls_in_expr(value, visit);
                calls_in_expr(collection, visit);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => {
                calls_in_expr(expr, visit)
            }
            Literal::Every { domain, query, .. } => {
                calls_in_expr(domain, visit);
                calls_in_query(query, visit);
            }
        }
        for with in &stmt.with_mods {
            calls_in_expr(&with.r#as, visit);
        }
    }
}

fn calls_in_rule(rule: &Rule, visit: &mut dyn FnMut(Vec<String>, &Span)) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { assign, .. } | RuleHead::Func { assign, .. } => {
                    if let Some(a) = assign {
                        calls_in_expr(&a.value, visit);
                    }
                }
                RuleHead::Set { key, .. } => {
                    if let Some(k) = key {
                        calls_in_expr(k, visit);
                    }
                }
            }
            for body in bodies {
                if let Some(a) = &body.assign {
                    calls_in_expr(&a.value, visit);
                }
                calls_in_query(&body.query, visit);
            }
        }
        Rule::Default { value, .. } => calls_in_expr(value, visit),
    }
}

/// Finds calls to functions that neither the policies nor the engine define, and recursive
/// functions. `extra` are functions tollgate adds to the engine.
pub fn check_modules(modules: &[Ref<Module>], extra: ExtraBuiltins<'_>) -> Vec<ModuleProblem> {
    // Every user function, by full path.
    let mut functions: BTreeMap<String, (String, Span)> = BTreeMap::new();
    let mut function_names: BTreeSet<String> = BTreeSet::new();
    for module in modules {
        let pkg = package(module);
        for rule in &module.policy {
            let (refr, span) = match rule.as_ref() {
                Rule::Spec {
                    head: RuleHead::Func { refr, .. },
                    span,
                    ..
                } => (refr, span),
                Rule::Default {
                    refr, args, span, ..
                } if !args.is_empty() => (refr, span),
                _ => continue,
            };
            let Some(path) = ref_path(refr) else { continue };
            function_names.extend(path.last().cloned());
            let mut full = pkg.clone();
            full.extend(path);
            let display = rule_path(&full);
            functions
                .entry(key(&full))
                .or_insert_with(|| (display, span.clone()));
        }
    }

    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in modules {
        let resolver = Resolver::new(module);
        for rule in &module.policy {
            let caller = match rule.as_ref() {
                Rule::Spec {
                    head: RuleHead::Func { refr, .. },
                    ..
                } => ref_path(refr).map(|p| {
                    let mut full = resolver.package.clone();
                    full.extend(p);
                    key(&full)
                }),
                _ => None,
            };
            calls_in_rule(rule, &mut |path, span| {
                let resolved = resolver
                    .candidates(&path)
                    .into_iter()
                    .map(|c| key(&c))
                    .find(|k| functions.contains_key(k));
                match resolved {
                    Some(callee) => {
                        if let Some(caller) = &caller {
                            edges.entry(caller.clone()).or_default().insert(callee);
                        }
                    }
                    None => {
                        let name = path.join(".");
                        let known = regorus::unstable::BUILTINS.contains_key(name.as_str())
                            || name == "print"
                            || extra.contains(&name.as_str())
                            || path
                                .last()
                                .is_some_and(|last| function_names.contains(last));
                        if !known {
                            problems.push(ModuleProblem::at(
                                span,
                                format!(
                                    "unknown function `{name}`: neither the policies nor the \
                                     Rego engine define it (see policies/COMPATIBILITY.md)"
                                ),
                            ));
                        }
                    }
                }
            });
        }
    }

    // Recursion: OPA rejects any cycle between functions.
    let mut state: HashMap<String, u8> = HashMap::new(); // 1 = on stack, 2 = done
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut HashMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    for node in edges.keys() {
        if state.contains_key(node.as_str()) {
            continue;
        }
        if let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new()) {
            let (display, span) = &functions[&cycle[0]];
            let chain: Vec<&str> = cycle.iter().map(|k| functions[k].0.as_str()).collect();
            problems.push(ModuleProblem::at(
                span,
                format!(
                    "function {display} is recursive ({}); Rego does not allow recursion",
                    chain.join(" → ")
                ),
            ));
            break;
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::Engine;

    fn modules(sources: &[&str]) -> Vec<Ref<Module>> {
        let mut engine = Engine::new();
        for (i, s) in sources.iter().enumerate() {
            engine
                .add_policy(format!("m{i}.rego"), s.to_string())
                .unwrap();
        }
        engine.get_modules().clone()
    }

    #[test]
    fn packages_and_rules() {
        let m = modules(&[
            "package tollgate[\"ingress-tls\"]\nimport rego.v1\ndeny contains 1 if true\nf(x) := x\ndefault allow := false\n",
        ]);
        assert_eq!(package(&m[0]), ["tollgate", "ingress-tls"]);
        assert_eq!(rule_path(&package(&m[0])), "data.tollgate[\"ingress-tls\"]");
        let names: Vec<(String, bool)> = declared(&m[0])
            .into_iter()
            .map(|d| (d.name, d.function))
            .collect();
        assert_eq!(
            names,
            [
                ("deny".to_string(), false),
                ("f".to_string(), true),
                ("allow".to_string(), false)
            ]
        );
    }

    #[test]
    fn unknown_functions_are_reported_with_their_position() {
        let m = modules(&[
            "package a\nimport rego.v1\nimport data.lib.h\nx := crypto.sha256(\"a\")\ny := h.f(1)\nz := count([])\nw := data.lib.h.f(2)\n",
            "package lib.h\nimport rego.v1\nf(x) := x + 1\n",
        ]);
        let problems = check_modules(&m, &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].line, problems[0].column), (4, 6));
        assert!(problems[0].message.contains("crypto.sha256"));
        assert!(check_modules(&m, &["crypto.sha256"]).is_empty());
    }

    #[test]
    fn recursive_functions_are_rejected() {
        let m = modules(&[
            "package a\nimport rego.v1\nf(n) := g(n)\ng(n) := y if { y := f(n + 1) }\nok(n) := h.f(n)\n",
            "package h\nimport rego.v1\nf(n) := n\n",
        ]);
        let problems = check_modules(&m, &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .contains("data.a.f → data.a.g → data.a.f"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn same_name_in_another_package_is_not_recursion() {
        let m = modules(&[
            "package a\nimport rego.v1\nimport data.b\nf(x) := b.f(x)\n",
            "package b\nimport rego.v1\nf(x) := x\n",
        ]);
        assert!(check_modules(&m, &[]).is_empty());
    }
}
