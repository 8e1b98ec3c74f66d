//! Rego policies: the native, conftest and Gatekeeper dialects on one regorus engine.
//!
//! [`Policies::load`] reads the shipped policies (embedded in the binary), `--policy` and
//! `policies:` directories and `--data` files, compiles everything once (a policy that does
//! not compile is an error pointing at its file:line:col) and finds the rules of each dialect.
//! As a [`engine::Evaluator`](crate::engine::Evaluator), each pass over an inventory builds
//! `data.inventory` and `data.tollgate` once (only when some policy refers to
//! `data.inventory`), prepares the engines with them, and every worker thread clones the
//! prepared engines. Each object is converted to a Rego value once and shared by every policy.
//!
//! A policy that fails on one object becomes a warning naming the policy and the object; the
//! rest goes on. An evaluation is stopped after `rego.timeout`, or when it asks for more than a
//! resource limit allows (see [`builtins`]); either is an error (the run is incomplete: exit 2,
//! no DefectDojo push), and a policy that keeps being stopped is skipped for the rest of the
//! pass.
//!
//! Secret values: policies see a Secret's `data`/`stringData` keys with empty values unless
//! `rego.secret_values: true`; then messages and `print()` output (gathered, not written by
//! regorus) are redacted of the values as written and base64-decoded.

pub mod ast;
pub mod builtins;
pub mod conftest;
pub mod data;
pub mod engine;
pub mod gatekeeper;
pub mod metadata;
pub mod native;
mod pass;
pub mod sources;
pub mod testing;
pub mod value;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regorus::Engine;

use crate::config::LoadedConfig;
use crate::engine::{Evaluator, EvaluatorPass};
use crate::error::Error;
use crate::model::kinds::KindSet;
use crate::notice::Notice;
use crate::rules::{Context, RuleInfo};

use self::conftest::{ConftestPackage, Namespaces};
use self::engine::{ModuleSource, Origin, PolicyError, Syntax};
use self::gatekeeper::{Constraint, Template};
use self::native::{LoadedModule, NativePolicy};
use self::pass::Pass;
use self::sources::{FileKind, PolicyFile};
use self::value::to_rego;

/// What the command line says about policies.
#[derive(Debug, Clone)]
pub struct PolicyOptions {
    /// `--policy DIR` (directories or files).
    pub dirs: Vec<PathBuf>,
    /// Load the shipped policies (`--no-default-policies` turns it off).
    pub default_policies: bool,
    /// `--data FILE`: JSON/YAML merged into `data`.
    pub data_files: Vec<PathBuf>,
    /// `--namespace GLOB`; empty means `rego.namespaces` of the configuration.
    pub namespaces: Vec<String>,
    /// `--all-namespaces`.
    pub all_namespaces: bool,
    /// `--rego-v0`: parse every policy file as Rego v0.
    pub rego_v0: bool,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            dirs: Vec::new(),
            default_policies: true,
            data_files: Vec::new(),
            namespaces: Vec::new(),
            all_namespaces: false,
            rego_v0: false,
        }
    }
}

/// A policy, for notices: what it is called and where it is.
#[derive(Debug, Clone)]
struct Unit {
    name: String,
    file: String,
}

/// Every loaded policy, ready to evaluate.
pub struct Policies {
    /// Native and conftest modules with the `--data` documents, prepared.
    main: Option<Engine>,
    /// Packages of the main engine that may read `data.inventory` (themselves or through a
    /// package they refer to).
    inventory_readers: HashSet<String>,
    main_origins: HashMap<String, Origin>,
    natives: Vec<NativePolicy>,
    conftest: Vec<ConftestPackage>,
    templates: Vec<Template>,
    constraints: Vec<Constraint>,
    units: Vec<Unit>,
    timeout: Duration,
    /// `rego.secret_values`: policies see Secret values.
    secret_values: bool,
    load_notices: Mutex<Vec<Notice>>,
    notices: Mutex<Vec<Notice>>,
    /// Rule ids first seen in results (conftest results carrying an `id`).
    dynamic_rules: Mutex<BTreeMap<String, RuleInfo>>,
}

fn diagnostic(e: PolicyError) -> Error {
    Error::Diagnostic(Box::new(e))
}

/// The package a module declares, read from its text (for shipped modules a user overrides).
/// Packages whose rules may read `data.inventory`: those that name it (or index `data`
/// dynamically), and, transitively, those that refer to such a package.
fn inventory_readers(packages: &[(String, Arc<str>)]) -> HashSet<String> {
    let mut readers: HashSet<String> = packages
        .iter()
        .filter(|(_, text)| gatekeeper::references_inventory(text) || text.contains("data["))
        .map(|(package, _)| package.clone())
        .collect();
    loop {
        let before = readers.len();
        for (package, text) in packages {
            if !readers.contains(package)
                && readers
                    .iter()
                    .any(|reader| text.contains(&format!("data.{reader}")))
            {
                readers.insert(package.clone());
            }
        }
        if readers.len() == before {
            return readers;
        }
    }
}

fn declared_package(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("package "))
        .map(|p| p.trim().to_string())
}

/// Policy files, directories resolved: `--policy`, then `policies:` of the configuration.
pub fn policy_dirs(options: &PolicyOptions, config: &LoadedConfig) -> Vec<PathBuf> {
    let mut dirs = options.dirs.clone();
    let base = config.base_dir().unwrap_or(Path::new("."));
    dirs.extend(config.config.policies.iter().map(|p| base.join(p)));
    dirs
}

impl Policies {
    /// Loads the policies a run uses.
    pub fn load(
        options: &PolicyOptions,
        config: &LoadedConfig,
        root: &Path,
    ) -> Result<Policies, Error> {
        let mut files = sources::collect(&policy_dirs(options, config), root)?;
        if options.default_policies {
            files.extend(sources::shipped());
        }
        let namespaces = if options.namespaces.is_empty() {
            config.config.rego.namespaces.clone()
        } else {
            options.namespaces.clone()
        };
        let namespaces =
            Namespaces::new(&namespaces, options.all_namespaces).map_err(Error::usage)?;
        let data = options
            .data_files
            .iter()
            .map(|p| sources::data_file(p).map(|d| (p.clone(), d)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut policies = Self::build(
            &files,
            &data,
            &namespaces,
            options.rego_v0,
            config.config.rego.timeout.0,
        )?;
        policies.secret_values = config.config.rego.secret_values;
        Ok(policies)
    }

    /// Compiles `files` (policy modules and manifests) with `data` documents.
    pub fn build(
        files: &[PolicyFile],
        data: &[(PathBuf, crate::model::value::Value)],
        namespaces: &Namespaces,
        rego_v0: bool,
        timeout: Duration,
    ) -> Result<Policies, Error> {
        let mut notices = Vec::new();
        let mut engine = engine::new_engine(timeout);
        let mut origins = HashMap::new();
        let mut texts: HashMap<String, Arc<str>> = HashMap::new();
        let mut user_packages = BTreeSet::new();
        let modules: Vec<&PolicyFile> = files.iter().filter(|f| f.kind == FileKind::Rego).collect();
        for file in modules.iter().filter(|f| !f.shipped) {
            user_packages.extend(declared_package(&file.text));
        }
        let mut package_texts: Vec<(String, Arc<str>)> = Vec::new();
        for file in &modules {
            if file.shipped
                && declared_package(&file.text).is_some_and(|p| user_packages.contains(&p))
            {
                notices.push(Notice::warning(format!(
                    "{} is replaced by a policy of the same package in the policy directories",
                    file.display
                )));
                continue;
            }
            let origin = Origin::file(&file.display, file.text.clone());
            let module = ModuleSource {
                name: file.display.clone(),
                text: file.text.to_string(),
                syntax: match (file.shipped, rego_v0) {
                    (true, _) => Syntax::V1,
                    (false, true) => Syntax::V0,
                    (false, false) => Syntax::Auto,
                },
                origin: origin.clone(),
            };
            engine::add_module(&mut engine, &module).map_err(diagnostic)?;
            if let Some(package) = declared_package(&file.text) {
                package_texts.push((package, file.text.clone()));
            }
            origins.insert(file.display.clone(), origin);
            texts.insert(file.display.clone(), file.text.clone());
        }
        for (path, document) in data {
            if let Some(reserved) = ["inventory", "tollgate"]
                .iter()
                .find(|k| document.get(**k).is_some())
            {
                return Err(Error::usage(format!(
                    "--data {} defines `data.{reserved}`, which tollgate builds itself",
                    path.display()
                )));
            }
            engine
                .add_data(to_rego(document))
                .map_err(|e| Error::usage(format!("--data {}: {e}", path.display())))?;
        }
        let has_modules = !origins.is_empty();
        let (natives, conftest) = if has_modules {
            engine::finish(&mut engine, &origins).map_err(diagnostic)?;
            let parsed = engine.get_modules().clone();
            let loaded: Vec<LoadedModule<'_>> = parsed
                .iter()
                .filter_map(|m| {
                    let name = m.package.span.source.get_path();
                    Some(LoadedModule {
                        package: ast::package(m),
                        declared: ast::declared(m),
                        origin: origins.get(name)?,
                        text: texts.get(name)?,
                    })
                })
                .collect();
            let natives = native::discover(&mut engine, &loaded).map_err(diagnostic)?;
            let mut conftest =
                conftest::discover(&mut engine, &loaded, namespaces).map_err(diagnostic)?;
            if !conftest.is_empty() {
                for (i, package) in conftest.iter_mut().enumerate() {
                    let module = conftest::aggregate_module(package, i);
                    let origin = Origin::file(&module.name, Arc::from(module.text.as_str()));
                    engine::add_module(&mut engine, &module).map_err(diagnostic)?;
                    origins.insert(module.name.clone(), origin);
                }
                engine::prepare(&mut engine)
                    .map_err(|e| diagnostic(engine::policy_error(&e, &origins)))?;
            }
            (natives, conftest)
        } else {
            (Vec::new(), Vec::new())
        };

        let manifests: Vec<(String, Arc<str>)> = files
            .iter()
            .filter(|f| f.kind == FileKind::Manifest)
            .map(|f| (f.display.clone(), f.text.clone()))
            .collect();
        let loaded = gatekeeper::load(&manifests, timeout).map_err(diagnostic)?;
        notices.extend(loaded.notices);

        let builtin: BTreeSet<&str> = crate::rules::REGISTRY.iter().map(|r| r.meta().id).collect();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for info in natives.iter().map(|n| &n.info).chain(
            conftest
                .iter()
                .flat_map(|p| p.rules.iter().map(|r| &r.info)),
        ) {
            if builtin.contains(info.id.as_str()) {
                notices.push(Notice::warning(format!(
                    "policy {} uses the id `{}` of a built-in rule; both report under it",
                    info.source, info.id
                )));
            }
            if let Some(other) = seen.insert(info.id.clone(), info.source.clone())
                && other != info.source
            {
                notices.push(Notice::warning(format!(
                    "rule id `{}` is used by {} and {}",
                    info.id, other, info.source
                )));
            }
        }

        let mut units = Vec::new();
        for n in &natives {
            units.push(Unit {
                name: n.id.clone(),
                file: n.info.source.clone(),
            });
        }
        for p in &conftest {
            units.push(Unit {
                name: format!("package {}", p.name),
                file: p.rules[0].info.source.clone(),
            });
        }
        for c in &loaded.constraints {
            units.push(Unit {
                name: c.id.clone(),
                file: c.info.source.clone(),
            });
        }
        Ok(Policies {
            main: has_modules.then_some(engine),
            inventory_readers: inventory_readers(&package_texts),
            main_origins: origins,
            natives,
            conftest,
            templates: loaded.templates,
            constraints: loaded.constraints,
            units,
            timeout,
            secret_values: false,
            load_notices: Mutex::new(notices),
            notices: Mutex::new(Vec::new()),
            dynamic_rules: Mutex::new(BTreeMap::new()),
        })
    }

    /// True when no policy reports anything.
    /// Whether an enabled policy of the main engine may read `data.inventory`.
    fn main_reads_inventory(&self, natives: &[usize], conftest: &[(usize, Vec<usize>)]) -> bool {
        natives.iter().any(|&i| {
            self.inventory_readers
                .contains(&self.natives[i].package.join("."))
        }) || conftest
            .iter()
            .any(|(p, _)| self.inventory_readers.contains(&self.conftest[*p].name))
    }

    /// The kinds `data.inventory` must hold for these enabled policies: what native policies
    /// declare in `custom.inventory_kinds`, every kind for one that reads the inventory
    /// without saying, and nothing when none reads it.
    fn inventory_kinds(
        &self,
        natives: &[usize],
        conftest: &[(usize, Vec<usize>)],
        templates: &BTreeSet<usize>,
    ) -> KindSet {
        let mut kinds = KindSet::none();
        for &i in natives {
            let policy = &self.natives[i];
            if self.inventory_readers.contains(&policy.package.join(".")) {
                kinds.add(&KindSet::declared(policy.inventory_kinds.as_ref()));
            }
        }
        let conftest_reads = conftest
            .iter()
            .any(|(p, _)| self.inventory_readers.contains(&self.conftest[*p].name));
        if conftest_reads || templates.iter().any(|&t| self.templates[t].needs_inventory) {
            kinds = KindSet::All;
        }
        kinds
    }

    /// Every kind an enabled policy may read: the kinds policies are evaluated on and the
    /// kinds of `data.inventory`. A kind outside it can be skimmed by the parser.
    pub fn kinds_read(&self, enabled: &dyn Fn(&str) -> bool) -> KindSet {
        let natives: Vec<usize> = (0..self.natives.len())
            .filter(|&i| enabled(&self.natives[i].id))
            .collect();
        let conftest: Vec<(usize, Vec<usize>)> = self
            .conftest
            .iter()
            .enumerate()
            .filter(|(_, p)| p.rules.iter().any(|r| enabled(&r.id)))
            .map(|(i, p)| (i, (0..p.rules.len()).collect()))
            .collect();
        let constraints: Vec<usize> = (0..self.constraints.len())
            .filter(|&i| enabled(&self.constraints[i].id))
            .collect();
        let templates: BTreeSet<usize> = constraints
            .iter()
            .map(|&c| self.constraints[c].template)
            .collect();
        let mut kinds = self.inventory_kinds(&natives, &conftest, &templates);
        if !natives.is_empty() || !conftest.is_empty() {
            // `data.tollgate.namespaces[ns].images` lists what the namespace's workloads run.
            kinds.add(&KindSet::of(
                crate::model::workload::WORKLOAD_KINDS
                    .iter()
                    .map(|k| k.kind),
            ));
        }
        for &i in &natives {
            kinds.add(&KindSet::declared(self.natives[i].kinds.as_ref()));
        }
        for (p, _) in &conftest {
            kinds.add(&KindSet::declared(self.conftest[*p].kinds.as_ref()));
        }
        for &c in &constraints {
            kinds.add(&self.constraints[c].matcher.kinds_matched());
        }
        kinds
    }

    pub fn is_empty(&self) -> bool {
        self.natives.is_empty() && self.conftest.is_empty() && self.constraints.is_empty()
    }

    /// The rules of every loaded policy.
    pub fn rule_infos(&self) -> Vec<RuleInfo> {
        let mut infos: Vec<RuleInfo> = self
            .natives
            .iter()
            .map(|n| n.info.clone())
            .chain(
                self.conftest
                    .iter()
                    .flat_map(|p| p.rules.iter().map(|r| r.info.clone())),
            )
            .chain(self.constraints.iter().map(|c| c.info.clone()))
            .chain(
                self.dynamic_rules
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned(),
            )
            .collect();
        infos.sort_by(|a, b| a.id.cmp(&b.id));
        infos.dedup_by(|a, b| a.id == b.id);
        infos
    }

    fn conftest_unit(&self, package: usize) -> usize {
        self.natives.len() + package
    }

    fn constraint_unit(&self, constraint: usize) -> usize {
        self.natives.len() + self.conftest.len() + constraint
    }
}

impl Evaluator for Policies {
    fn rules(&self) -> Vec<RuleInfo> {
        self.rule_infos()
    }

    fn begin<'a>(
        &'a self,
        ctx: &'a Context<'a>,
        enabled: &'a (dyn Fn(&str) -> bool + Sync),
    ) -> Box<dyn EvaluatorPass + 'a> {
        Box::new(Pass::new(self, ctx, enabled))
    }

    fn kinds_read(&self, enabled: &dyn Fn(&str) -> bool) -> KindSet {
        Policies::kinds_read(self, enabled)
    }

    fn notices(&self) -> Vec<Notice> {
        let mut out: Vec<Notice> =
            std::mem::take(&mut *self.load_notices.lock().unwrap_or_else(|e| e.into_inner()));
        out.extend(std::mem::take(
            &mut *self.notices.lock().unwrap_or_else(|e| e.into_inner()),
        ));
        out
    }
}

impl Policies {
    fn push_notice(&self, notice: Notice) {
        self.notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notice);
    }
}

impl Policies {
    fn note_dynamic_rule(&self, id: &str, like: &RuleInfo) {
        let mut rules = self.dynamic_rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.entry(id.to_string()).or_insert_with(|| RuleInfo {
            id: id.to_string(),
            ..like.clone()
        });
    }
}

/// Loads the policies of a run, or nothing when there are none.
pub fn load_for_run(
    options: &PolicyOptions,
    config: &LoadedConfig,
    root: &Path,
) -> Result<Option<Arc<Policies>>, Error> {
    let policies = Policies::load(options, config, root)?;
    Ok((!policies.is_empty() || !policies.load_notices_empty()).then(|| Arc::new(policies)))
}

impl Policies {
    fn load_notices_empty(&self) -> bool {
        self.load_notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}
