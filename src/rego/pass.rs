//! One pass of the policies over an inventory: the engines prepared with `data.inventory`
//! and `data.tollgate`, one [`Worker`] per thread, and the notices of failing policies.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use regorus::{Engine, Value};

use crate::engine::{EvaluatorPass, EvaluatorWorker};
use crate::finding::Severity;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::rules::{Context, Violation};

use super::engine::Origin;
use super::value::{members, str_field};
use super::{Policies, builtins, conftest, data, engine, gatekeeper, native, value};

/// Warnings a policy may produce per pass before the rest are only counted.
const NOTICES_PER_POLICY: usize = 5;
/// Timeouts after which a policy is skipped for the rest of the pass.
const TIMEOUTS_BEFORE_SKIPPING: usize = 3;

#[derive(Default)]
struct UnitStats {
    failures: AtomicUsize,
    timeouts: AtomicUsize,
    skipped: AtomicBool,
}

/// One pass over an inventory.
pub(super) struct Pass<'a> {
    policies: &'a Policies,
    ctx: &'a Context<'a>,
    main: Option<Engine>,
    templates: Vec<Option<Engine>>,
    /// Objects converted for `data.inventory` (by inventory index), reused as `input`.
    converted: Option<Vec<Option<Value>>>,
    natives: Vec<usize>,
    /// Conftest packages with their enabled rules.
    conftest: Vec<(usize, Vec<usize>)>,
    constraints: Vec<usize>,
    stats: Vec<UnitStats>,
}

impl<'a> Pass<'a> {
    pub(super) fn new(
        policies: &'a Policies,
        ctx: &'a Context<'a>,
        enabled: &(dyn Fn(&str) -> bool + Sync),
    ) -> Pass<'a> {
        let natives: Vec<usize> = (0..policies.natives.len())
            .filter(|&i| enabled(&policies.natives[i].id))
            .collect();
        let conftest: Vec<(usize, Vec<usize>)> = policies
            .conftest
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    i,
                    (0..p.rules.len())
                        .filter(|&r| enabled(&p.rules[r].id))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, rules)| !rules.is_empty())
            .collect();
        let constraints: Vec<usize> = (0..policies.constraints.len())
            .filter(|&i| enabled(&policies.constraints[i].id))
            .collect();
        let used_templates: BTreeSet<usize> = constraints
            .iter()
            .map(|&c| policies.constraints[c].template)
            .collect();
        let main_used = !natives.is_empty() || !conftest.is_empty();
        let inventory_kinds = policies.inventory_kinds(&natives, &conftest, &used_templates);
        let needs_inventory = !inventory_kinds.is_empty();

        let mut pass = Pass {
            policies,
            ctx,
            main: None,
            templates: vec![None; policies.templates.len()],
            converted: None,
            natives,
            conftest,
            constraints,
            stats: (0..policies.units.len())
                .map(|_| UnitStats::default())
                .collect(),
        };
        let objects = ctx.inventory.objects();
        let wants_main = main_used && policies.main.is_some();
        // `data.tollgate` (images of every workload) is built beside the inventory.
        let (inventory, tollgate_data) = rayon::join(
            || {
                needs_inventory.then(|| {
                    let converted = data::convert_some(objects, policies.secret_values, |o| {
                        inventory_kinds.contains(&o.kind)
                    });
                    let inventory = data::inventory(
                        objects
                            .iter()
                            .zip(&converted)
                            .filter_map(|(o, v)| Some((o, v.as_ref()?))),
                    );
                    (inventory, converted)
                })
            },
            || wants_main.then(|| data::tollgate(ctx)),
        );
        let inventory = inventory.map(|(inventory, converted)| {
            pass.converted = Some(converted);
            inventory
        });
        if let (Some(base), Some(tollgate_data)) = (&policies.main, tollgate_data) {
            let mut main = base.clone();
            let mut extra = vec![("tollgate", tollgate_data)];
            if policies.main_reads_inventory(&pass.natives, &pass.conftest)
                && let Some(inv) = &inventory
            {
                extra.push(("inventory", inv.clone()));
            }
            match main
                .add_data(value::object(extra))
                .map_err(|e| format!("{e:#}"))
                .and_then(|()| engine::prepare(&mut main))
            {
                Ok(()) => pass.main = Some(main),
                Err(e) => pass.policies.push_notice(Notice::error(format!(
                    "Rego policies cannot be prepared for this inventory: {}",
                    engine::summarize(&e, &policies.main_origins)
                ))),
            }
        }
        for &t in &used_templates {
            let template = &policies.templates[t];
            let mut engine = template.engine.clone();
            let prepared = match (&inventory, template.needs_inventory) {
                (Some(inv), true) => engine
                    .add_data(value::object([("inventory", inv.clone())]))
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|()| engine::prepare(&mut engine)),
                _ => Ok(()),
            };
            match prepared {
                Ok(()) => pass.templates[t] = Some(engine),
                Err(e) => pass.policies.push_notice(Notice::error(format!(
                    "ConstraintTemplate {} cannot be prepared: {}",
                    template.name,
                    engine::summarize(&e, &template.origins)
                ))),
            }
        }
        pass
    }

    fn is_idle(&self) -> bool {
        self.natives.is_empty() && self.conftest.is_empty() && self.constraints.is_empty()
    }

    /// Records a failed evaluation of `unit` on `object`.
    fn failed(
        &self,
        unit: usize,
        object: &Object,
        error: &anyhow::Error,
        origins: &HashMap<String, Origin>,
    ) {
        let stats = &self.stats[unit];
        let policy = &self.policies.units[unit];
        let count = stats.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let resource_limit = format!("{error:#}").contains(builtins::RESOURCE_LIMIT);
        let (level_error, text) = if engine::is_timeout(error) || resource_limit {
            let timeouts = stats.timeouts.fetch_add(1, Ordering::Relaxed) + 1;
            let skipping = timeouts >= TIMEOUTS_BEFORE_SKIPPING;
            if skipping {
                stats.skipped.store(true, Ordering::Relaxed);
            }
            let stopped = if resource_limit {
                format!(
                    "was stopped by a resource limit ({})",
                    engine::summarize(&format!("{error:#}"), origins)
                )
            } else {
                format!(
                    "was stopped after the time limit of {} (rego.timeout)",
                    humantime::format_duration(self.policies.timeout)
                )
            };
            // Stopped: its findings are missing, so the run is incomplete (exit 2, no push).
            (
                true,
                format!(
                    "policy `{}` ({}) {stopped} on {}; its findings for that object are \
                     missing{}",
                    policy.name,
                    policy.file,
                    object.display(),
                    if skipping && timeouts == TIMEOUTS_BEFORE_SKIPPING {
                        "; the policy is skipped for the rest of the run"
                    } else {
                        ""
                    }
                ),
            )
        } else {
            let summary = engine::summarize(&format!("{error:#}"), origins);
            let compile = engine::is_compile_class(&summary);
            (
                compile,
                format!(
                    "policy `{}` {} on {}: {summary}",
                    policy.name,
                    if compile {
                        "does not compile"
                    } else {
                        "failed"
                    },
                    object.display()
                ),
            )
        };
        if count > NOTICES_PER_POLICY {
            return;
        }
        let notice = if level_error {
            Notice::error(text)
        } else {
            Notice::warning(text)
        };
        let notice = match &object.origin {
            crate::model::object::Origin::File {
                path, start_line, ..
            } => notice.at(&**path, Some(*start_line)),
            crate::model::object::Origin::Cluster { .. } => notice.at(object.live_uri(), None),
        };
        self.policies.push_notice(notice);
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        for (unit, stats) in self.stats.iter().enumerate() {
            let failures = stats.failures.load(Ordering::Relaxed);
            if failures > NOTICES_PER_POLICY {
                let policy = &self.policies.units[unit];
                self.policies.push_notice(Notice::warning(format!(
                    "policy `{}` ({}) failed on {} more objects",
                    policy.name,
                    policy.file,
                    failures - NOTICES_PER_POLICY
                )));
            }
        }
        // The converted objects and the engines holding `data.inventory` are freed off the
        // critical path: on a 100k fleet that took 80 ms at the end of the evaluation, with
        // nothing else left to run on the other core.
        let objects = self.converted.as_ref().map_or(0, Vec::len);
        let heavy = (
            self.converted.take(),
            self.main.take(),
            std::mem::take(&mut self.templates),
        );
        crate::engine::drop_in_background(heavy, objects);
    }
}

impl EvaluatorPass for Pass<'_> {
    fn worker(&self) -> Box<dyn EvaluatorWorker + '_> {
        // print() output is gathered and written redacted (see `write_prints`), not by regorus.
        let gathering = |mut engine: Engine| {
            engine.set_gather_prints(true);
            engine
        };
        Box::new(Worker {
            pass: self,
            main: self.main.clone().map(gathering),
            templates: self
                .templates
                .iter()
                .map(|t| t.clone().map(gathering))
                .collect(),
        })
    }
}

/// One thread's engines.
struct Worker<'p> {
    pass: &'p Pass<'p>,
    main: Option<Engine>,
    templates: Vec<Option<Engine>>,
}

fn evaluate_rule(
    pass: &Pass<'_>,
    engine: &mut Engine,
    path: &str,
    unit: usize,
    object: &Object,
    origins: &HashMap<String, Origin>,
) -> Option<Value> {
    if pass.stats[unit].skipped.load(Ordering::Relaxed) {
        return None;
    }
    match engine.eval_rule(path.to_string()) {
        Ok(v) => Some(v),
        Err(e) => {
            pass.failed(unit, object, &e, origins);
            None
        }
    }
}

impl EvaluatorWorker for Worker<'_> {
    fn evaluate(&mut self, index: usize, object: &Object, out: &mut Vec<(String, Violation)>) {
        let pass = self.pass;
        if pass.is_idle() {
            return;
        }
        let policies = pass.policies;
        let secrets = data::is_secret(object).then(|| data::secret_values(object));
        let mut push = |id: String, mut v: Violation| {
            if let Some(secrets) = &secrets {
                v.message = data::redact(&v.message, secrets);
            }
            out.push((id, v));
        };
        let mut converted: Option<Value> = None;
        let mut value = || {
            converted
                .get_or_insert_with(|| {
                    match pass.converted.as_ref().and_then(|all| all[index].as_ref()) {
                        Some(converted) => converted.clone(),
                        None => data::policy_value(object, policies.secret_values),
                    }
                })
                .clone()
        };

        if let Some(main) = self.main.as_mut() {
            let origins = &policies.main_origins;
            let natives: Vec<usize> = pass
                .natives
                .iter()
                .copied()
                .filter(|&i| policies.natives[i].applies_to(&object.kind))
                .collect();
            if !natives.is_empty() {
                main.set_input(native::input(value(), object));
                for i in natives {
                    let policy = &policies.natives[i];
                    for (rule, severity) in [
                        (&policy.deny, policy.info.severity),
                        (&policy.warn, Severity::Low),
                    ] {
                        let Some(path) = rule else { continue };
                        if let Some(result) = evaluate_rule(pass, main, path, i, object, origins) {
                            for v in native::violations(&result, severity, &policy.info.remediation)
                            {
                                push(policy.id.clone(), v);
                            }
                        }
                    }
                }
            }
            if pass
                .conftest
                .iter()
                .any(|(p, _)| policies.conftest[*p].applies_to(&object.kind))
            {
                main.set_input(value());
                for (p, rules) in &pass.conftest {
                    let package = &policies.conftest[*p];
                    if !package.applies_to(&object.kind) {
                        continue;
                    }
                    let unit = policies.conftest_unit(*p);
                    // All rules of the package in one evaluation (helpers computed once);
                    // rule by rule when that fails, to name the failing rule's error.
                    let together = package
                        .aggregate
                        .as_deref()
                        .filter(|_| !pass.stats[unit].skipped.load(Ordering::Relaxed))
                        .and_then(|path| main.eval_rule(path.to_string()).ok());
                    let result_of = |main: &mut Engine, name: &str, path: &str| match &together {
                        // `[value]`, or `[]` for an undefined rule.
                        Some(all) => match &all[name] {
                            Value::Array(a) => a.iter().next().cloned(),
                            _ => None,
                        },
                        None => evaluate_rule(pass, main, path, unit, object, origins),
                    };
                    let excepted = package
                        .exception
                        .as_deref()
                        .and_then(|path| result_of(main, "exception", path))
                        .map(|v| conftest::excepted(&v))
                        .unwrap_or_default();
                    for &r in rules {
                        let rule = &package.rules[r];
                        if excepted.contains(&rule.exception_name) {
                            continue;
                        }
                        let Some(result) = result_of(main, &rule.name, &rule.path) else {
                            continue;
                        };
                        for member in members(&result) {
                            let v = native::result_violation(
                                member,
                                rule.info.severity,
                                &rule.info.remediation,
                            );
                            let id = match str_field(member, "id") {
                                Some(id) if id != rule.id => {
                                    policies.note_dynamic_rule(id, &rule.info);
                                    id.to_string()
                                }
                                _ => rule.id.clone(),
                            };
                            push(id, v);
                        }
                    }
                }
            }
        }

        if !pass.constraints.is_empty() {
            let namespace = object
                .namespace
                .as_deref()
                .and_then(|ns| pass.ctx.inventory.namespace_object(ns));
            let mut review: Option<Value> = None;
            for &c in &pass.constraints {
                let constraint = &policies.constraints[c];
                if !constraint.matcher.matches(object, namespace) {
                    continue;
                }
                let template = &policies.templates[constraint.template];
                let Some(engine) = self.templates[constraint.template].as_mut() else {
                    continue;
                };
                let review = review
                    .get_or_insert_with(|| gatekeeper::review(value(), object))
                    .clone();
                engine.set_input(gatekeeper::input(review, &constraint.parameters));
                let unit = policies.constraint_unit(c);
                if let Some(result) = evaluate_rule(
                    pass,
                    engine,
                    &template.violation,
                    unit,
                    object,
                    &template.origins,
                ) {
                    for member in members(&result) {
                        push(
                            constraint.id.clone(),
                            native::result_violation(
                                member,
                                constraint.severity,
                                &constraint.info.remediation,
                            ),
                        );
                    }
                }
            }
        }
        let engines = self
            .main
            .iter_mut()
            .chain(self.templates.iter_mut().flatten());
        for engine in engines {
            write_prints(engine, secrets.as_deref());
        }
    }
}

/// Writes what `print()` gathered in `engine` to standard error, as OPA does, with the
/// evaluated object's Secret values redacted and terminal controls made visible.
fn write_prints(engine: &mut Engine, secrets: Option<&[String]>) {
    let Ok(prints) = engine.take_prints() else {
        return;
    };
    for line in prints {
        let line = match secrets {
            Some(secrets) => data::redact(&line, secrets),
            None => line,
        };
        eprintln!("{}", crate::report::printable(&line));
    }
}
