//! The rule engine: which rules run ([`RuleSet`]), what a run sets up before reading any
//! source ([`Setup`]), and one evaluation of the rules over an inventory ([`Evaluation`]).
//!
//! The same [`Evaluation`] runs over files (`tollgate scan`) and over live clusters
//! (`tollgate audit`), so rules, suppression and fingerprints are identical in both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{self, Config, LoadedConfig};
use crate::error::Error;
use crate::external::External;
use crate::finding::{Finding, Severity};
use crate::model::environment::Environments;
use crate::model::inventory::Inventory;
use crate::model::kinds::KindSet;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::outcome::{CheckedObject, Checks, ScanOutcome};
use crate::rules::{self, Context, Rule, RuleInfo, Violation};
use crate::source::files;
use crate::suppress::{Baseline, Suppressor};

/// Frees `value`, which holds `objects` objects' worth of values, on a thread of its own when
/// that is large: returning every node of hundreds of MB to the allocator is a noticeable part
/// of a big run, and nothing after it needs them. Small values are dropped here.
pub(crate) fn drop_in_background<T: Send + 'static>(value: T, objects: usize) {
    if objects < 1000 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("tollgate-free".into())
        .spawn(move || drop(value));
    // Without a thread, the value was moved into the failed closure and is dropped here.
    let _ = spawned;
}

/// Evaluates objects besides the built-in rules (Rego policies).
///
/// One evaluation over an inventory is a *pass*: [`Evaluator::begin`] prepares whatever is
/// computed once per inventory (Rego's `data.inventory`, converted objects), then every worker
/// thread asks the pass for a [`EvaluatorWorker`] with its own mutable state (a clone of the
/// Rego engine) and evaluates its share of the objects with it. `tollgate audit` runs one pass
/// per cluster.
pub trait Evaluator: Send + Sync {
    /// The rules this evaluator may report, for reports and `--select`. Called again after the
    /// passes, so rules first seen while evaluating (ids carried by results) can be added.
    fn rules(&self) -> Vec<RuleInfo>;

    /// Prepares a pass over `ctx.inventory`. `enabled` tells which rule ids will be reported,
    /// so an evaluator can skip the work of disabled ones.
    fn begin<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        enabled: &'a (dyn Fn(&str) -> bool + Sync),
    ) -> Box<dyn EvaluatorPass + 'a>;

    /// Problems met while evaluating (a policy that failed on one object, a timeout), taken
    /// out: each notice is returned once, whatever the number of passes.
    fn notices(&self) -> Vec<Notice> {
        Vec::new()
    }

    /// The kinds the enabled rules of this evaluator may read (evaluate, or look up); a kind
    /// outside every evaluator's and every built-in rule's set is never built whole.
    fn kinds_read(&self, _enabled: &dyn Fn(&str) -> bool) -> KindSet {
        KindSet::All
    }

    /// Whether `rule` of this evaluator examines `object` at all (see [`Rule::applies_to`]).
    fn applies_to(&self, _rule: &str, _object: &Object, _ctx: &Context<'_>) -> bool {
        true
    }
}

/// One evaluator's preparation for one inventory, shared by the worker threads.
pub trait EvaluatorPass: Sync {
    /// Per-thread state. Rayon may ask for a few per thread; it must be cheap.
    fn worker(&self) -> Box<dyn EvaluatorWorker + '_>;
}

/// Evaluates objects on one thread.
pub trait EvaluatorWorker {
    /// Reports `(rule id, violation)` pairs for `object`, the `index`-th of the inventory.
    fn evaluate(&mut self, index: usize, object: &Object, out: &mut Vec<(String, Violation)>);
}

/// Kinds every scan builds whole besides the GitOps instructions
/// ([`crate::gitops::deploy::INSTRUCTION_KINDS`]): Namespaces (environments) and Secrets (their
/// values are masked in reports).
const ALWAYS_BUILT: [&str; 2] = ["Namespace", "Secret"];

/// Which rules run, with what severity.
pub struct RuleSet {
    pub builtin: Vec<&'static dyn Rule>,
    pub evaluators: Vec<Arc<dyn Evaluator>>,
    enabled_external: Option<HashSet<String>>,
    severity: HashMap<String, Severity>,
    disabled: HashSet<String>,
}

impl RuleSet {
    /// The rules left after `rules.disable`, `--ignore` and `--select`.
    pub fn new(
        config: &Config,
        select: &[String],
        ignore: &[String],
        evaluators: Vec<Arc<dyn Evaluator>>,
        notices: &mut Vec<Notice>,
    ) -> RuleSet {
        let known: HashSet<String> = rules::REGISTRY
            .iter()
            .map(|r| r.meta().id.to_string())
            .chain(evaluators.iter().flat_map(|e| e.rules()).map(|r| r.id))
            .collect();
        for (origin, ids) in [
            ("--select", select),
            ("--ignore", ignore),
            ("rules.disable", config.rules.disable.as_slice()),
        ] {
            for id in ids {
                if !known.contains(id) {
                    notices.push(Notice::warning(format!(
                        "{origin} names `{id}`, which is not a rule (see `tollgate rules`)"
                    )));
                }
            }
        }
        for id in config.rules.severity.keys() {
            if !known.contains(id) {
                notices.push(Notice::warning(format!(
                    "rules.severity names `{id}`, which is not a rule (see `tollgate rules`)"
                )));
            }
        }
        let disabled: HashSet<String> =
            config.rules.disable.iter().chain(ignore).cloned().collect();
        let selected: Option<HashSet<String>> =
            (!select.is_empty()).then(|| select.iter().cloned().collect());
        let on =
            |id: &str| !disabled.contains(id) && selected.as_ref().is_none_or(|s| s.contains(id));
        RuleSet {
            builtin: rules::REGISTRY
                .iter()
                .copied()
                .filter(|r| on(r.meta().id))
                .collect(),
            evaluators,
            enabled_external: selected.clone(),
            severity: config
                .rules
                .severity
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            disabled,
        }
    }

    pub fn is_enabled(&self, id: &str) -> bool {
        !self.disabled.contains(id)
            && self
                .enabled_external
                .as_ref()
                .is_none_or(|s| s.contains(id))
    }

    /// The severity findings of `id` get: configured, else the violation's, else the default.
    pub fn severity(&self, id: &str, violation: Option<Severity>, default: Severity) -> Severity {
        self.severity
            .get(id)
            .copied()
            .or(violation)
            .unwrap_or(default)
    }

    /// The kinds built whole when manifests are read: those the enabled rules and policies
    /// read, what the GitOps model reads (its build instructions) and what reports mask
    /// (Secrets). Documents of other kinds keep only `apiVersion`, `kind` and `metadata`.
    pub fn kinds_to_build(&self) -> KindSet {
        let mut kinds = self.kinds_read();
        for evaluator in &self.evaluators {
            kinds.add(&evaluator.kinds_read(&|id| self.is_enabled(id)));
        }
        kinds.union(&KindSet::of(
            crate::gitops::deploy::INSTRUCTION_KINDS
                .iter()
                .copied()
                .chain(ALWAYS_BUILT),
        ))
    }

    /// The kinds any active built-in rule can read: those its [`rules::Scope`] checks (a
    /// workload scope: every kind that runs pods) and those it looks up in the inventory
    /// (`reads`). Rules that read every object's metadata only (`Scope::metadata`) add no kind:
    /// `apiVersion`, `kind` and `metadata` are kept for every object anyway. Rego evaluators
    /// declare theirs apart ([`Evaluator::kinds_read`]).
    pub fn kinds_read(&self) -> KindSet {
        let mut kinds = KindSet::none();
        for rule in &self.builtin {
            rule.meta().scope.add_kinds_read(&mut kinds);
        }
        kinds
    }

    /// For each object of `inventory`, the built-in rules whose scope covers it, chosen once
    /// per API group, kind and origin (file or live).
    fn dispatch(&self, inventory: &Inventory) -> Dispatch {
        let mut slots: HashMap<(&str, &str, bool), usize> = HashMap::new();
        let mut lists: Vec<Vec<&'static dyn Rule>> = Vec::new();
        let of_object = inventory
            .objects()
            .iter()
            .map(|object| {
                let live = object.is_live();
                *slots
                    .entry((object.group(), object.kind.as_str(), live))
                    .or_insert_with(|| {
                        lists.push(
                            self.builtin
                                .iter()
                                .copied()
                                .filter(|r| r.meta().scope.covers(object))
                                .collect(),
                        );
                        lists.len() - 1
                    })
            })
            .collect();
        Dispatch { lists, of_object }
    }

    /// Every rule that runs, as reports describe them, sorted by id.
    pub fn infos(&self) -> Vec<RuleInfo> {
        let mut infos: Vec<RuleInfo> = self
            .builtin
            .iter()
            .map(|r| RuleInfo::from_meta(r.meta()))
            .chain(self.evaluators.iter().flat_map(|e| e.rules()))
            .filter(|r| self.is_enabled(&r.id))
            .map(|mut r| {
                r.severity = self.severity(&r.id, None, r.default_severity);
                r
            })
            .collect();
        infos.sort_by(|a, b| a.id.cmp(&b.id));
        infos.dedup_by(|a, b| a.id == b.id);
        infos
    }
}

/// The built-in rules in scope of each object of an inventory, in registry order.
struct Dispatch {
    lists: Vec<Vec<&'static dyn Rule>>,
    /// Object index → index in `lists`.
    of_object: Vec<usize>,
}

impl Dispatch {
    fn rules_of(&self, index: usize) -> &[&'static dyn Rule] {
        &self.lists[self.of_object[index]]
    }
}

/// One evaluation of rules over an inventory.
pub struct Evaluation<'a> {
    pub rules: &'a RuleSet,
    pub config: &'a Config,
    pub environments: &'a Environments,
    pub now: jiff::Timestamp,
    /// What [`gather_external`] found before the rules run.
    pub external: &'a External,
}

impl Evaluation<'_> {
    /// Runs every rule on every object `report_on` accepts, in parallel. Findings come back
    /// with the index of their object, unsorted and unsuppressed.
    pub fn run(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
    ) -> Vec<(usize, Finding)> {
        self.run_with_warnings(inventory, report_on).0
    }

    /// [`Evaluation::run`], with the warnings rules raised about input they could not fully
    /// understand (file:line of the object).
    pub fn run_with_warnings(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
    ) -> (Vec<(usize, Finding)>, Vec<Notice>) {
        let ctx = Context::new(inventory, self.config, self.environments, self.now)
            .with_image_scans(self.external.image_scans.as_ref())
            .with_gitops(self.external.gitops.as_deref());
        let enabled = |id: &str| self.rules.is_enabled(id);
        let passes: Vec<Box<dyn EvaluatorPass + '_>> = self
            .rules
            .evaluators
            .iter()
            .map(|e| e.begin(&ctx, &enabled))
            .collect();
        let dispatch = self.rules.dispatch(inventory);
        let findings = inventory
            .objects()
            .par_iter()
            .enumerate()
            .filter(|(_, object)| report_on(object))
            .map_init(
                || passes.iter().map(|p| p.worker()).collect::<Vec<_>>(),
                |workers, (index, object)| {
                    let mut findings = Vec::new();
                    let mut violations = Vec::new();
                    for rule in dispatch.rules_of(index) {
                        rule.check(object, &ctx, &mut violations);
                        let meta = rule.meta();
                        for v in violations.drain(..) {
                            findings.push((
                                index,
                                self.finding(meta.id, meta.severity, meta.remediation, object, v),
                            ));
                        }
                    }
                    let mut external = Vec::new();
                    for worker in workers.iter_mut() {
                        worker.evaluate(index, object, &mut external);
                    }
                    for (rule, v) in external {
                        if self.rules.is_enabled(&rule) {
                            let default = v.severity.unwrap_or(Severity::Medium);
                            findings.push((index, self.finding(&rule, default, "", object, v)));
                        }
                    }
                    findings
                },
            )
            .flatten_iter()
            .collect();
        (findings, ctx.take_warnings())
    }

    /// What every rule checked among the objects `report_on` accepts (for JUnit), and the
    /// files read. Computed apart from [`Evaluation::run`], only when a report needs it.
    pub fn checks(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
        files: Vec<String>,
    ) -> Checks {
        let ctx = Context::new(inventory, self.config, self.environments, self.now)
            .with_gitops(self.external.gitops.as_deref());
        let mut reported: Vec<usize> = (0..inventory.len())
            .filter(|&i| report_on(&inventory.objects()[i]))
            .collect();
        let place = |i: usize| {
            let o = &inventory.objects()[i];
            let line = match &o.origin {
                crate::model::object::Origin::File { start_line, .. } => *start_line,
                crate::model::object::Origin::Cluster { .. } => 0,
            };
            (o.path().map_or_else(|| o.live_uri(), str::to_string), line)
        };
        let mut keyed: Vec<((String, u32), usize)> =
            reported.drain(..).map(|i| (place(i), i)).collect();
        keyed.sort();
        let order: Vec<usize> = keyed.iter().map(|(_, i)| *i).collect();
        let objects: Vec<CheckedObject> = keyed
            .into_iter()
            .map(|((path, line), i)| CheckedObject {
                object: inventory.objects()[i].reference(),
                path,
                line: (line > 0).then_some(line),
            })
            .collect();
        let applicable = |applies: &(dyn Fn(&Object) -> bool + Sync)| -> Vec<u32> {
            order
                .iter()
                .enumerate()
                .filter(|(_, i)| applies(&inventory.objects()[**i]))
                .map(|(n, _)| n as u32)
                .collect()
        };
        let mut by_rule: BTreeMap<String, Vec<u32>> = self
            .rules
            .builtin
            .par_iter()
            .map(|rule| {
                let scope = &rule.meta().scope;
                (
                    rule.meta().id.to_string(),
                    applicable(&|o: &Object| scope.covers(o) && rule.applies_to(o, &ctx)),
                )
            })
            .collect();
        for evaluator in &self.rules.evaluators {
            for info in evaluator.rules() {
                if self.rules.is_enabled(&info.id) && !by_rule.contains_key(&info.id) {
                    let ids = applicable(&|o: &Object| evaluator.applies_to(&info.id, o, &ctx));
                    by_rule.insert(info.id, ids);
                }
            }
        }
        Checks {
            objects,
            files,
            by_rule,
        }
    }

    fn finding(
        &self,
        rule: &str,
        default: Severity,
        remediation: &str,
        object: &Object,
        violation: Violation,
    ) -> Finding {
        Finding::on_object(
            rule,
            self.rules.severity(rule, violation.severity, default),
            violation.message,
            violation
                .remediation
                .unwrap_or_else(|| remediation.to_string()),
            object,
            &violation.pointer,
        )
    }
}

/// Suppresses and sorts findings; they come from `inventory`'s objects (by index).
pub fn finish(
    findings: Vec<(Option<usize>, Finding)>,
    inventory: &Inventory,
    suppressor: &Suppressor,
) -> Vec<Finding> {
    let mut out = suppress(findings, inventory, suppressor);
    sort_findings(&mut out);
    out
}

/// Applies suppression to findings made on `inventory`'s objects (by index). Annotations are
/// read from the objects, so this runs before the inventory is dropped.
pub fn suppress(
    findings: Vec<(Option<usize>, Finding)>,
    inventory: &Inventory,
    suppressor: &Suppressor,
) -> Vec<Finding> {
    findings
        .into_iter()
        .map(|(index, mut finding)| {
            let object = index.map(|i| &inventory.objects()[i]);
            suppressor.apply(&mut finding, object);
            finding
        })
        .collect()
}

/// The order of every report.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Everything a run sets up before reading any source, shared by `scan` and `audit`: the
/// configuration, environments, rules, suppression, worker threads and the fixed "now".
pub struct Setup {
    pub loaded: LoadedConfig,
    pub environments: Environments,
    pub rules: RuleSet,
    pub suppressor: Suppressor,
    pub pool: rayon::ThreadPool,
    pub now: jiff::Timestamp,
    pub notices: Vec<Notice>,
    /// Warnings rules raised while evaluating (see [`crate::rules::Context::warn`]).
    rule_warnings: std::sync::Mutex<Vec<Notice>>,
}

/// What every run that evaluates rules is told, whatever it reads (files or clusters).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Configuration file; found from the scan root (or the current directory) when `None`.
    pub config: Option<PathBuf>,
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub jobs: Option<usize>,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
    /// Which Rego policies run.
    pub policy: crate::rego::PolicyOptions,
    /// `trivy image --format json` reports for an offline `image-scan`.
    pub trivy_reports: Option<PathBuf>,
    /// Record what every rule checked ([`ScanOutcome::checks`]), for JUnit reports.
    pub record_checks: bool,
    /// "Now" for time-based rules and exemption expiry; the real clock when `None` (tests fix
    /// it).
    pub now: Option<jiff::Timestamp>,
    /// Report files the run writes: none may be a manifest the scan reads.
    pub outputs: Vec<PathBuf>,
}

impl Setup {
    /// `root` is where relative policy paths start.
    pub fn new(
        loaded: LoadedConfig,
        environments: Environments,
        options: &RunOptions,
        root: &Path,
        evaluators: Vec<Arc<dyn Evaluator>>,
    ) -> Result<Setup, Error> {
        // Policies compile before anything is read: one that does not is an error (exit 2).
        let mut evaluators = evaluators;
        if let Some(policies) = crate::rego::load_for_run(&options.policy, &loaded, root)? {
            evaluators.push(policies);
        }
        let pool = thread_pool(options.jobs)?;
        let mut notices = Vec::new();
        let baseline = options
            .baseline
            .as_deref()
            .map(Baseline::read)
            .transpose()?;
        let rules = RuleSet::new(
            &loaded.config,
            &options.select,
            &options.ignore,
            evaluators,
            &mut notices,
        );
        let now = options.now.unwrap_or_else(jiff::Timestamp::now);
        let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let suppressor = Suppressor::new(&loaded.config.exemptions, baseline, today, &mut notices);
        Ok(Setup {
            loaded,
            environments,
            rules,
            suppressor,
            pool,
            now,
            notices,
            rule_warnings: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Fills the environments of one inventory's objects ([`Environments::assign`]) on the
    /// run's worker threads (`--jobs`), not rayon's global pool.
    pub fn assign_environments(&self, objects: &mut [Object]) {
        self.pool.install(|| self.environments.assign(objects));
    }

    /// Runs every rule over the objects of `inventory` that `report_on` accepts, on the worker
    /// threads; findings are unsorted and unsuppressed, with the index of their object.
    pub fn evaluate(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
        external: &External,
    ) -> Vec<(usize, Finding)> {
        let evaluation = self.evaluation(external);
        let (findings, warnings) = self
            .pool
            .install(|| evaluation.run_with_warnings(inventory, report_on));
        self.rule_warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(warnings);
        findings
    }

    /// What every rule checked, for JUnit reports; `files` are the files read.
    pub fn checks(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
        external: &External,
        files: Vec<String>,
    ) -> Checks {
        let evaluation = self.evaluation(external);
        self.pool
            .install(|| evaluation.checks(inventory, report_on, files))
    }

    fn evaluation<'a>(&'a self, external: &'a External) -> Evaluation<'a> {
        Evaluation {
            rules: &self.rules,
            config: &self.loaded.config,
            environments: &self.environments,
            now: self.now,
            external,
        }
    }

    /// Sorts the (already suppressed) findings, writes the baseline when asked and gathers
    /// the notices: the outcome every reporter renders.
    /// `outcome` carries the findings, stats, sources, checks and rules not evaluated; rules
    /// and notices are filled in here.
    pub fn conclude(
        mut self,
        mut outcome: ScanOutcome,
        write_baseline: Option<&Path>,
    ) -> Result<ScanOutcome, Error> {
        sort_findings(&mut outcome.findings);
        for evaluator in &self.rules.evaluators {
            self.notices.extend(evaluator.notices());
        }
        if let Some(path) = write_baseline {
            Baseline::of(&outcome.findings).write(&path.to_path_buf())?;
        }
        self.notices.append(&mut outcome.notices);
        let warnings = std::mem::take(
            self.rule_warnings
                .get_mut()
                .unwrap_or_else(|e| e.into_inner()),
        );
        self.notices.extend(warnings);
        self.notices.sort();
        self.notices.dedup();
        outcome.rules = self.rules.infos();
        outcome.notices = self.notices;
        Ok(outcome)
    }
}

/// Loads the configuration: `--config`, else `tollgate.yaml` from `start` upwards.
pub fn load_config(explicit: Option<&Path>, start: &Path) -> Result<LoadedConfig, Error> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => config::discover(start),
    };
    match path {
        Some(path) => Ok(LoadedConfig {
            config: config::load(&path)?,
            path: Some(path),
        }),
        None => Ok(LoadedConfig::default()),
    }
}

/// Environments of a configuration, with path globs anchored at the config's directory.
pub fn environments(loaded: &LoadedConfig, root: &Path) -> Result<Environments, Error> {
    let envs = Environments::new(&loaded.config.environments)
        .map_err(|e| Error::usage(format!("invalid environment glob: {e}")))?;
    Ok(match loaded.base_dir() {
        Some(dir) => envs.with_path_prefix(&files::display_path(dir, root)),
        None => envs,
    })
}

/// A rayon pool with `jobs` threads and stacks deep enough for any accepted document.
pub fn thread_pool(jobs: Option<usize>) -> Result<rayon::ThreadPool, Error> {
    let mut builder = rayon::ThreadPoolBuilder::new().stack_size(16 * 1024 * 1024);
    if let Some(jobs) = jobs {
        builder = builder.num_threads(jobs.max(1));
    }
    builder.build().map_err(|source| Error::Runtime {
        what: "worker threads",
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_set(select: &[&str]) -> RuleSet {
        let select: Vec<String> = select.iter().map(|s| s.to_string()).collect();
        RuleSet::new(
            &Config::default(),
            &select,
            &[],
            Vec::new(),
            &mut Vec::new(),
        )
    }

    #[test]
    fn kinds_read_are_those_of_the_active_rules() {
        let all = rule_set(&[]).kinds_read();
        assert_ne!(all, KindSet::All, "metadata-only rules read no kind whole");
        for kind in [
            "Deployment",
            "CronJob",
            "Namespace",
            "Secret",
            "ConfigMap",
            "LimitRange",
            "Backup",
            "NetworkPolicy",
            "ClusterRole",
            "ClusterSecretStore",
            "HTTPRoute",
        ] {
            assert!(all.contains(kind), "{kind}");
        }
        assert!(!all.contains("Widget") && !all.contains("Endpoints"));

        let probes = rule_set(&["liveness-probe"]).kinds_read();
        assert!(probes.contains("CronJob") && probes.contains("DeploymentConfig"));
        assert!(!probes.contains("Secret") && !probes.contains("LimitRange"));

        let stale = rule_set(&["velero-backup-stale"]).kinds_read();
        assert!(stale.contains("Schedule") && stale.contains("Backup"));
        assert!(!stale.contains("Deployment"));

        assert!(rule_set(&["env-placement"]).kinds_read().is_empty());
    }

    #[test]
    fn policies_that_declare_nothing_read_every_kind() {
        struct Everything;
        impl Evaluator for Everything {
            fn rules(&self) -> Vec<RuleInfo> {
                Vec::new()
            }
            fn begin<'a>(
                &'a self,
                _ctx: &'a Context<'a>,
                _enabled: &'a (dyn Fn(&str) -> bool + Sync),
            ) -> Box<dyn EvaluatorPass + 'a> {
                unreachable!("not evaluated")
            }
        }
        let rules = RuleSet::new(
            &Config::default(),
            &["liveness-probe".to_string()],
            &[],
            vec![Arc::new(Everything)],
            &mut Vec::new(),
        );
        assert_eq!(rules.kinds_to_build(), KindSet::All);
        assert_ne!(rules.kinds_read(), KindSet::All, "built-in rules only");
    }
}
