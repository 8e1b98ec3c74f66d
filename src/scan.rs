//! Orchestration: files → objects → inventory → rules → findings → suppression → sorted.
//!
//! The same [`Evaluation`] runs over files (`tollgate scan`) and over live clusters
//! (`tollgate audit`), so rules, suppression and fingerprints are identical in both.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{self, Config, LoadedConfig};
use crate::error::Error;
use crate::finding::{Finding, Severity};
use crate::model::environment::Environments;
use crate::model::inventory::Inventory;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::rules::manifest_parse_error;
use crate::rules::{self, Context, Rule, RuleInfo, Violation};
use crate::source::files::{self, LoadedFile, STDIN_NAME};
use crate::suppress::{Baseline, Suppressor};

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

/// One evaluation of rules over an inventory.
pub struct Evaluation<'a> {
    pub rules: &'a RuleSet,
    pub config: &'a Config,
    pub environments: &'a Environments,
    pub now: jiff::Timestamp,
}

impl Evaluation<'_> {
    /// Runs every rule on every object `report_on` accepts, in parallel. Findings come back
    /// with the index of their object, unsorted and unsuppressed.
    pub fn run(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
    ) -> Vec<(usize, Finding)> {
        let ctx = Context::new(inventory, self.config, self.environments, self.now);
        let enabled = |id: &str| self.rules.is_enabled(id);
        let passes: Vec<Box<dyn EvaluatorPass + '_>> = self
            .rules
            .evaluators
            .iter()
            .map(|e| e.begin(&ctx, &enabled))
            .collect();
        inventory
            .objects()
            .par_iter()
            .enumerate()
            .filter(|(_, object)| report_on(object))
            .map_init(
                || passes.iter().map(|p| p.worker()).collect::<Vec<_>>(),
                |workers, (index, object)| {
                    let mut findings = Vec::new();
                    let mut violations = Vec::new();
                    for rule in &self.rules.builtin {
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
            .collect()
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
    let mut out: Vec<Finding> = findings
        .into_iter()
        .map(|(index, mut finding)| {
            let object = index.map(|i| &inventory.objects()[i]);
            suppressor.apply(&mut finding, object);
            finding
        })
        .collect();
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

/// What a scan needs to know.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Files and directories; `-` is standard input. Empty means the current directory.
    pub paths: Vec<PathBuf>,
    pub config: Option<PathBuf>,
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub jobs: Option<usize>,
    /// Build the inventory from this directory, report only on `paths`.
    pub inventory_root: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
    /// Name standard input is reported as.
    pub stdin_filename: Option<String>,
    /// Which Rego policies run.
    pub policy: crate::rego::PolicyOptions,
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    pub bytes: u64,
}

/// Text of sources that are not files on disk (standard input), for snippets.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    texts: HashMap<String, Arc<str>>,
    paths: HashMap<String, PathBuf>,
}

impl Sources {
    /// The text of a reported path, read from disk when needed.
    pub fn text(&self, display: &str) -> Option<Arc<str>> {
        if let Some(text) = self.texts.get(display) {
            return Some(text.clone());
        }
        let path = self.paths.get(display)?;
        std::fs::read_to_string(path).ok().map(Arc::from)
    }

    pub fn insert_text(&mut self, display: &str, text: Arc<str>) {
        self.texts.insert(display.to_string(), text);
    }
}

/// Everything a run produced, ready for reporters.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    pub rules: Vec<RuleInfo>,
    pub notices: Vec<Notice>,
    pub stats: Stats,
    pub sources: Sources,
}

impl ScanOutcome {
    /// True when the run could not be trusted (exit code 2).
    pub fn has_errors(&self) -> bool {
        self.notices.iter().any(Notice::is_error)
    }

    /// True when an unsuppressed finding is at or above `threshold`.
    pub fn fails(&self, threshold: Option<Severity>) -> bool {
        threshold.is_some_and(|t| {
            self.findings
                .iter()
                .any(|f| f.is_active() && f.severity >= t)
        })
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
    builder
        .build()
        .map_err(|e| Error::usage(format!("cannot start worker threads: {e}")))
}

/// Scans files: the whole pipeline for `tollgate scan`.
pub fn scan(
    options: &ScanOptions,
    evaluators: Vec<Arc<dyn Evaluator>>,
) -> Result<ScanOutcome, Error> {
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: PathBuf::from("."),
        source,
    })?;
    let paths = if options.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        options.paths.clone()
    };
    let read_stdin = paths.iter().any(|p| p.as_os_str() == "-");
    let disk_paths: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .cloned()
        .collect();
    let start = options
        .inventory_root
        .clone()
        .or_else(|| disk_paths.first().cloned())
        .unwrap_or_else(|| PathBuf::from("."));
    let loaded = load_config(options.config.as_deref(), &start)?;
    let environments = environments(&loaded, &root)?;
    let pool = thread_pool(options.jobs)?;
    let threads = pool.current_num_threads();
    // Policies compile before anything is read: one that does not is an error (exit 2).
    let mut evaluators = evaluators;
    if let Some(policies) = crate::rego::load_for_run(&options.policy, &loaded, &root)? {
        evaluators.push(policies);
    }

    let mut notices = Vec::new();
    let baseline = options
        .baseline
        .as_deref()
        .map(Baseline::read)
        .transpose()?;
    let rule_set = RuleSet::new(
        &loaded.config,
        &options.select,
        &options.ignore,
        evaluators,
        &mut notices,
    );

    let reported_files = files::collect(&disk_paths, &root, threads, &mut notices)?;
    let mut all_files = reported_files.clone();
    if let Some(inventory_root) = &options.inventory_root {
        let mut context_notices = Vec::new();
        all_files.extend(files::collect(
            std::slice::from_ref(inventory_root),
            &root,
            threads,
            &mut context_notices,
        )?);
        all_files.sort();
        all_files.dedup_by(|a, b| a.display == b.display);
    }
    let reported: HashSet<String> = reported_files.iter().map(|f| f.display.clone()).collect();

    let mut sources = Sources::default();
    let mut loaded_files: Vec<LoadedFile> =
        pool.install(|| all_files.par_iter().map(files::load_file).collect());
    if read_stdin {
        let name = options.stdin_filename.as_deref().unwrap_or(STDIN_NAME);
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io {
                path: PathBuf::from(STDIN_NAME),
                source,
            })?;
        sources.insert_text(name, Arc::from(String::from_utf8_lossy(&bytes).as_ref()));
        loaded_files.push(files::load_bytes(name, &bytes));
    }
    let mut reported = reported;
    if read_stdin {
        reported.insert(
            options
                .stdin_filename
                .clone()
                .unwrap_or_else(|| STDIN_NAME.into()),
        );
    }
    for file in &all_files {
        sources
            .paths
            .insert(file.display.clone(), file.path.clone());
    }

    let mut stats = Stats::default();
    let mut objects = Vec::new();
    let mut parse_findings = Vec::new();
    for file in loaded_files {
        let is_reported = reported.contains(&file.display);
        if is_reported {
            stats.files += 1;
            stats.documents += file.documents;
            stats.bytes += file.bytes;
            if let Some(notice) = file.notice {
                notices.push(notice);
            }
            for problem in &file.problems {
                if rule_set.is_enabled(manifest_parse_error::ID) {
                    let meta = manifest_parse_error::ManifestParseError.meta();
                    parse_findings.push((
                        None,
                        Finding::on_file(
                            meta.id,
                            rule_set.severity(meta.id, None, meta.severity),
                            problem.message.clone(),
                            meta.remediation.to_string(),
                            &file.display,
                            problem.pos,
                            problem.document,
                        ),
                    ));
                } else {
                    notices.push(
                        Notice::warning(format!("not a valid manifest: {}", problem.message))
                            .at(&file.display, Some(problem.pos.line)),
                    );
                }
            }
        }
        objects.extend(file.objects);
    }
    environments.assign(&mut objects);
    let inventory = Inventory::new(objects);
    stats.objects = inventory
        .objects()
        .iter()
        .filter(|o| o.path().is_some_and(|p| reported.contains(p)))
        .count();

    let now = jiff::Timestamp::now();
    let evaluation = Evaluation {
        rules: &rule_set,
        config: &loaded.config,
        environments: &environments,
        now,
    };
    let report_on = |o: &Object| o.path().is_some_and(|p| reported.contains(p));
    let mut findings: Vec<(Option<usize>, Finding)> = parse_findings;
    findings.extend(
        pool.install(|| evaluation.run(&inventory, &report_on))
            .into_iter()
            .map(|(i, f)| (Some(i), f)),
    );
    for evaluator in &rule_set.evaluators {
        notices.extend(evaluator.notices());
    }
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let suppressor = Suppressor::new(&loaded.config.exemptions, baseline, today, &mut notices);
    let findings = finish(findings, &inventory, &suppressor);
    if let Some(path) = &options.write_baseline {
        Baseline::of(&findings).write(path)?;
    }
    notices.sort();
    notices.dedup();
    Ok(ScanOutcome {
        findings,
        rules: rule_set.infos(),
        notices,
        stats,
        sources,
    })
}
