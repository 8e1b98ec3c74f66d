//! Orchestration: files → objects → inventory → rules → findings → suppression → sorted.
//!
//! The same [`Evaluation`] runs over files (`tollgate scan`) and over live clusters
//! (`tollgate audit`), so rules, suppression and fingerprints are identical in both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{self, Config, LoadedConfig};
use crate::error::Error;
use crate::finding::{Finding, Location, Severity};
use crate::model::environment::Environments;
use crate::model::image::ImageRef;
use crate::model::image_scan::{self, ImageScan, ImageScans, ScanSource};
use crate::model::inventory::Inventory;
use crate::model::object::{Object, ObjectRef};
use crate::notice::Notice;
use crate::rules::manifest_parse_error;
use crate::rules::{self, Context, Rule, RuleInfo, Violation};
use crate::sink::{harbor, trivy};
use crate::source::files::{self, LoadedFile, STDIN_NAME};
use crate::source::redact;
use crate::source::render::{self, HelmOptions, RenderKind, RenderRequest, Tool};
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

/// Facts from outside the manifests, gathered once before the rules run so that no rule
/// waits on the network per object.
#[derive(Debug, Default)]
pub struct External {
    /// Scan results of the run's images, for `image-scan`.
    pub image_scans: Option<ImageScans>,
    /// Rules that could not be evaluated (their source was unreachable); they report nothing
    /// and the summary says so.
    pub not_evaluated: Vec<String>,
}

/// Where `gather_external` looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExternalSources<'a> {
    /// `--trivy-reports DIR`: offline image scans instead of Harbor.
    pub trivy_reports: Option<&'a Path>,
}

/// Looks up what the enabled rules need from outside the manifests, for the objects
/// `report_on` accepts: today the scan results of their images (Harbor, or Trivy reports).
/// Used by `scan` and `audit` alike. A source that cannot be reached is one warning, and its
/// rule is listed in `not_evaluated`; an unreadable `--trivy-reports` directory is an error.
pub fn gather_external(
    loaded: &LoadedConfig,
    rules: &RuleSet,
    inventory: &Inventory,
    report_on: &(dyn Fn(&Object) -> bool + Sync),
    sources: ExternalSources<'_>,
    notices: &mut Vec<Notice>,
) -> Result<External, Error> {
    let mut external = External::default();
    let image_scan_on = rules
        .builtin
        .iter()
        .any(|r| r.meta().id == rules::image_scan::ID);
    let harbor_config = loaded.config.harbor.as_ref();
    if !image_scan_on || (harbor_config.is_none() && sources.trivy_reports.is_none()) {
        return Ok(external);
    }
    let settings = match harbor_config {
        Some(config) => Some(
            harbor::HarborSettings::from_config(config, loaded.base_dir(), &|name| {
                std::env::var(name).ok()
            })
            .map_err(Error::usage)?,
        ),
        None => None,
    };
    let images = image_scan::images_in(inventory, report_on);
    let in_scope = |reference: &ImageRef<'_>| settings.as_ref().is_none_or(|h| h.serves(reference));

    if let Some(dir) = sources.trivy_reports {
        let fail_severity = harbor_config.map_or(Severity::Critical, |h| h.fail_severity);
        let reports = trivy::load_reports(dir, fail_severity, notices)?;
        let mut scans = ImageScans::new(ScanSource::TrivyReports {
            dir: dir.display().to_string(),
        });
        for image in &images {
            let Some(reference) = ImageRef::parse(image) else {
                continue;
            };
            if !in_scope(&reference) {
                continue;
            }
            let scan = match trivy::find(&reports, &reference) {
                Some(found) => ImageScan::Scanned(found.report.clone()),
                None => ImageScan::Missing {
                    reference: image.clone(),
                },
            };
            scans.insert(image, scan);
        }
        external.image_scans = Some(scans);
        return Ok(external);
    }

    let Some(settings) = settings.as_ref() else {
        return Ok(external);
    };
    let mut wanted: HashMap<String, harbor::Artifact> = HashMap::new();
    let mut scans = ImageScans::new(ScanSource::Harbor {
        url: settings.url.clone(),
    });
    for image in &images {
        let Some(reference) = ImageRef::parse(image) else {
            continue;
        };
        if !in_scope(&reference) {
            continue;
        }
        match harbor::Artifact::of(&reference) {
            Some(artifact) => {
                wanted.insert(image.clone(), artifact);
            }
            // `harbor.example.com/api`: no project, so Harbor cannot hold it.
            None => scans.insert(
                image,
                ImageScan::Missing {
                    reference: reference.repository.clone(),
                },
            ),
        }
    }
    let mut artifacts: Vec<harbor::Artifact> = wanted.values().cloned().collect();
    artifacts.sort();
    artifacts.dedup();
    if artifacts.is_empty() {
        external.image_scans = Some(scans);
        return Ok(external);
    }
    match harbor::lookup(settings, &artifacts) {
        Ok(found) => {
            for (image, artifact) in &wanted {
                if let Some(scan) = found.get(artifact) {
                    scans.insert(image, scan.clone());
                }
            }
            external.image_scans = Some(scans);
        }
        Err(why) => {
            notices.push(Notice::warning(format!(
                "{}: not evaluated: {why}",
                rules::image_scan::ID
            )));
            external
                .not_evaluated
                .push(rules::image_scan::ID.to_string());
        }
    }
    Ok(external)
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
        let ctx = Context::new(inventory, self.config, self.environments, self.now)
            .with_image_scans(self.external.image_scans.as_ref());
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

    /// What every rule checked among the objects `report_on` accepts (for JUnit), and the
    /// files read. Computed apart from [`Evaluation::run`], only when a report needs it.
    pub fn checks(
        &self,
        inventory: &Inventory,
        report_on: &(dyn Fn(&Object) -> bool + Sync),
        files: Vec<String>,
    ) -> Checks {
        let ctx = Context::new(inventory, self.config, self.environments, self.now);
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
                (
                    rule.meta().id.to_string(),
                    applicable(&|o: &Object| rule.applies_to(o, &ctx)),
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
        })
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
        self.pool.install(|| evaluation.run(inventory, report_on))
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
        self.notices.sort();
        self.notices.dedup();
        outcome.rules = self.rules.infos();
        outcome.notices = self.notices;
        Ok(outcome)
    }
}

/// What a scan needs to know.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Files and directories; `-` is standard input. Empty means the current directory.
    pub paths: Vec<PathBuf>,
    /// Build the inventory from this directory, report only on `paths`.
    pub inventory_root: Option<PathBuf>,
    /// Name standard input is reported as.
    pub stdin_filename: Option<String>,
    /// Directories to render with `helm template` / `kustomize build` and scan.
    pub renders: Vec<RenderRequest>,
    /// Options of `helm template`.
    pub helm: HelmOptions,
    pub run: RunOptions,
}

impl ScanOptions {
    /// Where the configuration is looked for (and where the repository is): the inventory
    /// root, else the first path, else the current directory.
    pub fn start(&self) -> PathBuf {
        self.inventory_root
            .clone()
            .or_else(|| self.paths.iter().find(|p| p.as_os_str() != "-").cloned())
            .or_else(|| self.renders.first().map(|r| r.dir.clone()))
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Counts for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    pub bytes: u64,
    /// Clusters (kube contexts) audited; 0 for a scan of files.
    pub clusters: usize,
    /// Names of the contexts audited, sorted.
    pub contexts: Vec<String>,
}

/// Text of sources that are not files on disk (standard input, rendered charts), for
/// snippets, and where rendered documents point in the repository.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    texts: HashMap<String, Arc<str>>,
    paths: HashMap<String, PathBuf>,
    /// Lines holding Secret values, masked in every text handed out.
    redactions: HashMap<String, redact::Redactions>,
    /// Virtual path of a rendered stream → the repository file CI annotations point at.
    rendered: HashMap<String, String>,
}

impl Sources {
    /// The text of a reported path, read from disk when needed.
    /// Secret values are masked (`password: ***`), so snippets never show them.
    pub fn text(&self, display: &str) -> Option<Arc<str>> {
        let text = match self.texts.get(display) {
            Some(text) => text.clone(),
            None => {
                let path = self.paths.get(display)?;
                Arc::from(std::fs::read_to_string(path).ok()?)
            }
        };
        match self.redactions.get(display) {
            Some(redactions) if !redactions.is_empty() => {
                Some(Arc::from(redact::apply(&text, redactions)))
            }
            _ => Some(text),
        }
    }

    /// Masks the values of the Secrets read from files among `objects`.
    pub fn redact_secrets<'a>(&mut self, objects: impl Iterator<Item = &'a Object>) {
        let mut by_path: HashMap<&str, Vec<&Object>> = HashMap::new();
        for secret in objects {
            if let Some(path) = secret.path() {
                by_path.entry(path).or_default().push(secret);
            }
        }
        for (path, secrets) in by_path {
            let text = match self.texts.get(path) {
                Some(text) => Some(text.to_string()),
                None => self
                    .paths
                    .get(path)
                    .and_then(|p| std::fs::read_to_string(p).ok()),
            };
            let Some(text) = text else {
                continue;
            };
            let entry = self.redactions.entry(path.to_string()).or_default();
            for secret in secrets {
                redact::secret_value_lines(secret, &text, entry);
            }
        }
    }

    pub fn insert_text(&mut self, display: &str, text: Arc<str>) {
        self.texts.insert(display.to_string(), text);
    }

    /// Records a rendered stream: its virtual path, text, and the file (`Chart.yaml`, the
    /// kustomization) that stands for it where a real file is needed.
    pub fn insert_rendered(&mut self, display: &str, text: Arc<str>, anchor: &str) {
        self.insert_text(display, text);
        self.rendered
            .insert(display.to_string(), anchor.to_string());
    }

    /// For a rendered stream's virtual path, the repository file that stands for it.
    pub fn rendered_anchor(&self, display: &str) -> Option<&str> {
        self.rendered.get(display).map(String::as_str)
    }
}

/// An object a rule may have checked, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedObject {
    pub object: ObjectRef,
    /// File (relative to the scan root) or `k8s://` URI.
    pub path: String,
    /// First line of the object in its file.
    pub line: Option<u32>,
}

/// What the rules checked, for reports that list passes as well as failures (JUnit). Empty
/// unless [`ScanOptions::record_checks`] asked for it.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// The reported objects, ordered by path and line.
    pub objects: Vec<CheckedObject>,
    /// The files read and reported on (file-level rules check these).
    pub files: Vec<String>,
    /// Rule id → indexes into `objects` of the objects it checked.
    pub by_rule: BTreeMap<String, Vec<u32>>,
}

impl Checks {
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.files.is_empty() && self.by_rule.is_empty()
    }

    /// Adds another inventory's checks (another cluster's), keeping objects ordered by place
    /// whatever order the inventories came in.
    pub fn merge(&mut self, other: Checks) {
        let offset = self.objects.len() as u32;
        self.objects.extend(other.objects);
        for (rule, indexes) in other.by_rule {
            self.by_rule
                .entry(rule)
                .or_default()
                .extend(indexes.into_iter().map(|i| i + offset));
        }
        self.files.extend(other.files);
        self.files.sort();
        self.files.dedup();
        let mut order: Vec<usize> = (0..self.objects.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.objects[a], &self.objects[b]);
            (&a.path, a.line, &a.object).cmp(&(&b.path, b.line, &b.object))
        });
        let mut new_index = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new as u32;
        }
        let mut objects: Vec<Option<CheckedObject>> = std::mem::take(&mut self.objects)
            .into_iter()
            .map(Some)
            .collect();
        self.objects = order
            .iter()
            .filter_map(|&old| objects[old].take())
            .collect();
        for indexes in self.by_rule.values_mut() {
            for i in indexes.iter_mut() {
                *i = new_index[*i as usize];
            }
            indexes.sort_unstable();
        }
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
    /// What each rule checked; empty unless [`ScanOptions::record_checks`].
    pub checks: Checks,
    /// Rules that could not be evaluated this run (`image-scan` with Harbor unreachable).
    pub not_evaluated: Vec<String>,
}

impl ScanOutcome {
    /// The part of an audit's outcome about one cluster: its findings, and the notices about
    /// it or about the whole run (for a per-cluster DefectDojo reimport).
    pub fn for_cluster(&self, context: &str) -> ScanOutcome {
        ScanOutcome {
            findings: self
                .findings
                .iter()
                .filter(
                    |f| matches!(&f.location, Location::Cluster { context: c, .. } if c == context),
                )
                .cloned()
                .collect(),
            rules: self.rules.clone(),
            notices: self
                .notices
                .iter()
                .filter(|n| n.path.as_deref().is_none_or(|p| p == context))
                .cloned()
                .collect(),
            stats: Stats {
                clusters: 1,
                contexts: vec![context.to_string()],
                ..Stats::default()
            },
            not_evaluated: self.not_evaluated.clone(),
            ..ScanOutcome::default()
        }
    }

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
    // Without paths, the current directory, unless only rendered charts are scanned.
    let paths = if options.paths.is_empty() && options.renders.is_empty() {
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
    let loaded = load_config(options.run.config.as_deref(), &options.start())?;
    let environments = environments(&loaded, &root)?;
    // A missing renderer is a setup problem: say so before scanning anything.
    let helm_tool = options
        .renders
        .iter()
        .any(|r| r.kind == RenderKind::Helm)
        .then(Tool::helm)
        .transpose()?;
    let kustomize_tool = options
        .renders
        .iter()
        .any(|r| r.kind == RenderKind::Kustomize)
        .then(Tool::kustomize)
        .transpose()?;
    let mut setup = Setup::new(loaded, environments, &options.run, &root, evaluators)?;
    let threads = setup.pool.current_num_threads();
    let mut notices = Vec::new();

    let mut reported_files = files::collect(&disk_paths, &root, threads, &mut notices)?;
    let mut all_files = reported_files.clone();
    if let Some(inventory_root) = &options.inventory_root {
        let mut context_notices = Vec::new();
        let context = files::collect(
            std::slice::from_ref(inventory_root),
            &root,
            threads,
            &mut context_notices,
        )?;
        // A named file inside the inventory root that its walk leaves out (a Helm template,
        // a kustomize patch, an ignored file) is not a manifest there either: the pre-commit
        // hook passes every changed YAML file, and must report what a full scan reports.
        let root_display = files::display_path(inventory_root, &root);
        let walked: HashSet<&str> = context.iter().map(|f| f.display.as_str()).collect();
        reported_files.retain(|f| {
            walked.contains(f.display.as_str()) || !is_under(&f.display, &root_display)
        });
        all_files = reported_files.clone();
        all_files.extend(context);
        all_files.sort();
        all_files.dedup_by(|a, b| a.display == b.display);
    }
    let mut reported: HashSet<String> = reported_files.iter().map(|f| f.display.clone()).collect();

    let mut sources = Sources::default();
    let mut loaded_files: Vec<LoadedFile> = setup
        .pool
        .install(|| all_files.par_iter().map(files::load_file).collect());
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
        reported.insert(name.to_string());
    }
    for file in &all_files {
        sources
            .paths
            .insert(file.display.clone(), file.path.clone());
    }
    let renders: Vec<Result<render::Rendered, Notice>> = setup.pool.install(|| {
        options
            .renders
            .par_iter()
            .map(|request| {
                let tool = match request.kind {
                    RenderKind::Helm => helm_tool.as_ref(),
                    RenderKind::Kustomize => kustomize_tool.as_ref(),
                }
                .expect("tools are found before rendering");
                render::render(tool, request, &options.helm, &root)
            })
            .collect()
    });
    for rendered in renders {
        match rendered {
            Ok(rendered) => {
                sources.insert_rendered(
                    &rendered.display,
                    Arc::from(rendered.text.as_str()),
                    &rendered.anchor,
                );
                reported.insert(rendered.display.clone());
                loaded_files.push(rendered.loaded);
            }
            Err(notice) => notices.push(notice),
        }
    }

    let mut stats = Stats::default();
    let mut objects = Vec::new();
    let mut findings: Vec<(Option<usize>, Finding)> = Vec::new();
    for file in loaded_files {
        if reported.contains(&file.display) {
            stats.files += 1;
            stats.documents += file.documents;
            stats.bytes += file.bytes;
            if let Some(notice) = file.notice {
                notices.push(notice);
            }
            for problem in &file.problems {
                if setup.rules.is_enabled(manifest_parse_error::ID) {
                    let meta = manifest_parse_error::ManifestParseError.meta();
                    findings.push((
                        None,
                        Finding::on_file(
                            meta.id,
                            setup.rules.severity(meta.id, None, meta.severity),
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
    setup.environments.assign(&mut objects);
    let inventory = Inventory::new(objects);
    let report_on = |o: &Object| o.path().is_some_and(|p| reported.contains(p));
    sources.redact_secrets(inventory.of_kind("Secret").filter(|o| report_on(o)));
    stats.objects = inventory.objects().iter().filter(|o| report_on(o)).count();

    let external = gather_external(
        &setup.loaded,
        &setup.rules,
        &inventory,
        &report_on,
        ExternalSources {
            trivy_reports: options.run.trivy_reports.as_deref(),
        },
        &mut notices,
    )?;
    findings.extend(
        setup
            .evaluate(&inventory, &report_on, &external)
            .into_iter()
            .map(|(i, f)| (Some(i), f)),
    );
    let checks = if options.run.record_checks {
        let mut files: Vec<String> = reported.iter().cloned().collect();
        files.sort();
        setup.checks(&inventory, &report_on, &external, files)
    } else {
        Checks::default()
    };
    let findings = suppress(findings, &inventory, &setup.suppressor);
    drop_in_background(inventory);
    setup.notices.extend(notices);
    setup.conclude(
        ScanOutcome {
            findings,
            stats,
            sources,
            checks,
            not_evaluated: external.not_evaluated,
            ..ScanOutcome::default()
        },
        options.run.write_baseline.as_deref(),
    )
}

/// Frees a large inventory on another thread: returning every node of hundreds of MB of values
/// to the allocator takes a noticeable part of a big scan, and the reports need none of it.
fn drop_in_background(inventory: Inventory) {
    if inventory.len() < 1000 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("tollgate-free".into())
        .spawn(move || drop(inventory));
    // Without a thread, the inventory was moved into the failed closure and is dropped here.
    let _ = spawned;
}

/// True when the display path `path` is `dir` or inside it (`.` holds every relative path).
fn is_under(path: &str, dir: &str) -> bool {
    if dir == "." {
        return !path.starts_with('/');
    }
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::is_under;

    #[test]
    fn paths_under_a_directory() {
        assert!(is_under("charts/web/templates/a.yaml", "."));
        assert!(!is_under("/elsewhere/a.yaml", "."));
        assert!(is_under("charts/web/a.yaml", "charts"));
        assert!(is_under("charts", "charts"));
        assert!(!is_under("charts-old/a.yaml", "charts"));
    }
}
