//! The file pipeline of `tollgate scan`: files (and stdin, rendered charts) → objects →
//! inventory → rules ([`crate::engine`]) → findings → suppression → sorted outcome.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::Error;
use crate::finding::Finding;
use crate::gitops;
use crate::model::inventory::Inventory;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::rules::Rule;
use crate::rules::manifest_parse_error;
use crate::source::files::{self, LoadedFile, STDIN_NAME};
use crate::source::origin;
use crate::source::render::{self, HelmOptions, RenderKind, RenderRequest, Tool};

// The engine, external facts and outcome used to live here; their old paths keep working.
pub use crate::engine::{
    Evaluation, Evaluator, EvaluatorPass, EvaluatorWorker, RuleSet, RunOptions, Setup,
    environments, finish, load_config, sort_findings, suppress, thread_pool,
};
pub use crate::external::{External, ExternalSources, gather_external};
pub use crate::outcome::{CheckedObject, Checks, ScanOutcome, Sources, Stats};

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

/// An `--output` that is a manifest this scan reads would be overwritten by its own report:
/// refused (exit 2) before anything is written. A report of an earlier run lying in the tree
/// (JSON without Kubernetes objects) is no manifest and may be overwritten.
fn refuse_outputs_that_are_inputs(
    outputs: &[PathBuf],
    read: &[files::SourceFile],
    loaded: &[LoadedFile],
) -> Result<(), Error> {
    let outputs: Vec<PathBuf> = outputs
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    if outputs.is_empty() {
        return Ok(());
    }
    for (file, loaded) in read.iter().zip(loaded) {
        let is_manifest = !loaded.objects.is_empty() || !loaded.problems.is_empty();
        if is_manifest && std::fs::canonicalize(&file.path).is_ok_and(|p| outputs.contains(&p)) {
            return Err(Error::usage(format!(
                "--output {} is a manifest this scan reads; write the report somewhere else",
                file.display
            )));
        }
    }
    Ok(())
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
    if options.run.config.is_none() {
        crate::config::one_config_for(&disk_paths, &root)?;
    }
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
    let build_filter = setup.rules.kinds_to_build().filter();
    let mut loaded_files: Vec<LoadedFile> = setup.pool.install(|| {
        all_files
            .par_iter()
            .map(|file| files::load_file_filtered(file, &build_filter))
            .collect()
    });
    refuse_outputs_that_are_inputs(&options.run.outputs, &all_files, &loaded_files)?;
    if read_stdin {
        let name = options.stdin_filename.as_deref().unwrap_or(STDIN_NAME);
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(files::MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io {
                path: PathBuf::from(STDIN_NAME),
                source,
            })?;
        if bytes.len() as u64 > files::MAX_FILE_BYTES {
            return Err(Error::usage(format!(
                "standard input holds more than the {} MiB a manifest may have",
                files::MAX_FILE_BYTES / (1024 * 1024)
            )));
        }
        sources.insert_text(name, Arc::from(String::from_utf8_lossy(&bytes).as_ref()));
        loaded_files.push(files::load_bytes_filtered(name, &bytes, &build_filter));
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
                #[allow(
                    clippy::expect_used,
                    reason = "the tool of every requested render kind was found before the scan"
                )]
                let tool = match request.kind {
                    RenderKind::Helm => helm_tool.as_ref(),
                    RenderKind::Kustomize => kustomize_tool.as_ref(),
                }
                .expect("tools are found before rendering");
                render::render(tool, request, &options.helm, &root)
            })
            .collect()
    });
    // kustomize's rendered objects go back to their source lines after the GitOps model.
    let mut relocations = HashMap::new();
    let mut unmapped = Vec::new();
    for rendered in renders {
        match rendered {
            Ok(rendered) => {
                sources.insert_rendered(
                    &rendered.display,
                    Arc::from(rendered.text.as_str()),
                    &rendered.anchor,
                );
                reported.insert(rendered.display.clone());
                unmapped.extend(
                    rendered.unmapped.into_iter().map(|(object, why)| {
                        (rendered.display.clone(), format!("{object}: {why}"))
                    }),
                );
                relocations.insert(rendered.display.clone(), rendered.relocated);
                loaded_files.push(rendered.loaded);
            }
            Err(notice) => notices.push(notice),
        }
    }

    // The GitOps model (DESIGN §13): build files are instructions, their inputs are not
    // manifests, and objects become the instances the clusters will run.
    let mut objects = Vec::with_capacity(loaded_files.iter().map(|f| f.objects.len()).sum());
    for file in &mut loaded_files {
        // Taken, not appended: the file's own vector is freed now rather than with the file.
        objects.extend(std::mem::take(&mut file.objects));
    }
    let file_displays: Vec<String> = all_files.iter().map(|f| f.display.clone()).collect();
    let dirs: Vec<PathBuf> = disk_paths
        .iter()
        .chain(options.inventory_root.as_ref())
        .cloned()
        .collect();
    let Modelled {
        mut built,
        config_dir,
        notices: model_notices,
    } = model_repository(objects, &file_displays, &dirs, &setup, &root)?;
    notices.extend(model_notices);
    for display in origin::relocate(&mut built.objects, &relocations) {
        sources
            .paths
            .entry(display.clone())
            .or_insert_with(|| root.join(&display));
    }
    // Rendered streams: their objects are reported wherever they now point.
    let streams: HashSet<String> = relocations.into_keys().collect();
    if built.summary.helm_sources > 0 {
        notices.push(Notice::warning(format!(
            "{} Helm source(s) (Argo CD Applications with a chart, HelmReleases, kustomize \
             helmCharts) not looked inside; render charts with --helm",
            built.summary.helm_sources
        )));
    }
    for input in built.inputs.keys() {
        reported.remove(input);
    }

    let mut stats = Stats {
        skipped: built
            .inputs
            .iter()
            .map(|(path, why)| (path.clone(), why.to_string()))
            .collect(),
        gitops: built.summary.clone(),
        unmapped,
        ..Stats::default()
    };
    let mut findings: Vec<(Option<usize>, Finding)> = Vec::new();
    for file in loaded_files {
        if built.inputs.contains_key(&file.display) {
            continue;
        }
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
    }
    let report_on = |o: &Object| {
        o.path().is_some_and(|p| reported.contains(p))
            || o.instance
                .as_ref()
                .and_then(|i| i.via.first())
                .is_some_and(|stream| streams.contains(stream))
    };
    // Rules see the whole inventory of one cluster: every cross-object lookup stays inside it.
    let mut checks = Checks::default();
    let mut not_evaluated = Vec::new();
    let mut namespace_envs = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    let mut file_findings = suppress(findings, &Inventory::default(), &setup.suppressor);
    for (cluster_index, mut objects) in by_cluster(built.objects).into_iter().enumerate() {
        setup.assign_environments(&mut objects);
        let inventory = Inventory::new(objects);
        let secrets = || inventory.of_kind("Secret").filter(|o| report_on(o));
        sources.redact_secrets(secrets());
        sources.redact_generated_secrets(secrets());
        stats.objects += inventory.objects().iter().filter(|o| report_on(o)).count();
        for namespace in inventory.namespace_names() {
            namespaces.insert(namespace.to_string());
            if let Some(env) = inventory.namespace_env(namespace, &setup.environments) {
                namespace_envs.insert(env.to_string());
            }
        }
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
        let evaluated = setup
            .evaluate(&inventory, &report_on, &external)
            .into_iter()
            .map(|(i, f)| (Some(i), f))
            .collect();
        if options.run.record_checks {
            let files = if cluster_index == 0 {
                let mut files: Vec<String> = reported.iter().cloned().collect();
                files.sort();
                files
            } else {
                Vec::new()
            };
            checks.merge(setup.checks(&inventory, &report_on, &external, files));
        }
        file_findings.extend(suppress(evaluated, &inventory, &setup.suppressor));
        not_evaluated.extend(external.not_evaluated);
        let objects = inventory.len();
        crate::engine::drop_in_background(inventory, objects);
    }
    not_evaluated.sort();
    not_evaluated.dedup();
    // What the configuration left unseen: said when there is a configuration to fix.
    if let Some(path) = &setup.loaded.path {
        notices.extend(gitops::unseen::rules_with_nothing_to_check(
            &setup.loaded.config,
            &namespaces,
            &namespace_envs,
            &|rule| setup.rules.is_enabled(rule),
        ));
        notices.extend(gitops::unseen::globs_matching_nothing(
            &setup.loaded.config,
            &files::display_path(path, &root),
            config_dir.as_deref().unwrap_or(""),
            &file_displays,
            &namespaces,
        ));
    }
    if !streams.is_empty() {
        // An instance the tree's model and a render both give is one finding, at one place.
        let mut seen = HashSet::new();
        file_findings.retain(|f| {
            seen.insert((
                f.rule.clone(),
                f.fingerprint.clone(),
                f.location.path().to_string(),
                f.location.line(),
                f.location.column(),
            ))
        });
    }
    setup.notices.extend(notices);
    setup.conclude(
        ScanOutcome {
            findings: file_findings,
            stats,
            sources,
            checks,
            not_evaluated,
            ..ScanOutcome::default()
        },
        options.run.write_baseline.as_deref(),
    )
}

/// The GitOps model over the objects read from files (DESIGN §13), with what it says about
/// the build: shared by `scan` and `audit --gitops`, so both see the same instances.
pub(crate) struct Modelled {
    pub built: gitops::Built,
    /// The configuration's folder as a display path (`""` for the scan root).
    pub config_dir: Option<String>,
    pub notices: Vec<Notice>,
}

/// Turns the objects of `file_displays` (read under the directories `dirs`) into the
/// instances the clusters run: kustomize, Argo CD, Flux and `clusters:` (DESIGN §13).
pub(crate) fn model_repository(
    objects: Vec<Object>,
    file_displays: &[String],
    dirs: &[PathBuf],
    setup: &Setup,
    root: &std::path::Path,
) -> Result<Modelled, Error> {
    let mut notices = Vec::new();
    let config_dir = setup
        .loaded
        .base_dir()
        .map(|dir| repo_display(&files::display_path(dir, root)));
    let clusters = gitops::Clusters::new(
        &setup.loaded.config.clusters,
        config_dir.as_deref().unwrap_or(""),
    )
    .map_err(|e| Error::usage(format!("invalid cluster path glob: {e}")))?;
    let mut repo_roots: Vec<String> = config_dir.iter().cloned().collect();
    repo_roots.extend(
        dirs.iter()
            .filter(|p| p.is_dir())
            .map(|p| repo_display(&files::display_path(p, root))),
    );
    repo_roots.push(String::new());
    repo_roots.dedup();
    let mut built = setup.pool.install(|| {
        gitops::build(
            objects,
            &gitops::BuildInput {
                files: file_displays,
                root,
                repo_roots,
                clusters: &clusters,
            },
        )
    });
    notices.append(&mut built.notices);
    if clusters.is_empty()
        && let Some(notice) = gitops::unseen::unnamed_clusters(file_displays)
    {
        notices.push(notice);
    }
    Ok(Modelled {
        built,
        config_dir,
        notices,
    })
}

/// A display path as the GitOps model writes folders: `""` for the scan root.
fn repo_display(display: &str) -> String {
    if display == "." {
        String::new()
    } else {
        display.to_string()
    }
}

/// The instances grouped by cluster (`clusters:`), in the order of cluster names; objects no
/// cluster claims (all of them, without `clusters:`) form the first group.
pub(crate) fn by_cluster(objects: Vec<Object>) -> Vec<Vec<Object>> {
    if objects.iter().all(|o| o.gitops_cluster().is_none()) {
        return vec![objects];
    }
    let mut sizes: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for object in &objects {
        *sizes.entry(object.gitops_cluster()).or_default() += 1;
    }
    // Each group is allocated at its final size: a group can be most of a large fleet.
    let names: Vec<Option<String>> = sizes.keys().map(|c| c.map(str::to_string)).collect();
    let mut groups: Vec<Vec<Object>> = sizes.values().map(|n| Vec::with_capacity(*n)).collect();
    for object in objects {
        let slot = names
            .binary_search_by(|name| name.as_deref().cmp(&object.gitops_cluster()))
            .unwrap_or_default();
        groups[slot].push(object);
    }
    groups
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
