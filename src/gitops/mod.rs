//! GitOps repositories as the cluster will see them (DESIGN §13).
//!
//! Files become *instances*: kustomize build files are followed from their roots (and from
//! the folders Argo CD Applications and Flux Kustomizations deploy), and each way an object
//! reaches a cluster is an [`Object`] of its own with the namespace, name, labels and images
//! the build gives it. The value keeps the source's shape (scalars replaced or added), so the
//! source spans stay valid and findings point at the source line, or at the build-file line
//! that produced the value ([`Instance::produced`]). A file no build instruction includes is
//! one instance of itself, unchanged.
//!
//! Not modelled: patches (their files are inputs, their changes are not applied), name
//! references rewritten by `namePrefix`/`nameSuffix`, generator hash suffixes, replacements,
//! `postBuild` substitution (stays text), Helm rendering (counted, `--helm` renders).

pub mod deploy;
pub mod kustomize;
pub mod paths;
pub mod unseen;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::config::ClusterConfig;
use crate::gitops::deploy::{Deploy, Deploys, NamespaceMode};
use crate::gitops::kustomize::Kustomization;
use crate::gitops::paths::{is_inside, is_remote, join, parent};
use crate::model::object::{Instance, Object, is_cluster_scoped};
use crate::notice::Notice;

/// The `clusters:` of the configuration, path globs anchored at the config's folder.
#[derive(Debug, Default)]
pub struct Clusters {
    names: Vec<String>,
    paths: Vec<GlobSet>,
    destinations: Vec<Vec<String>>,
    path_prefix: String,
}

impl Clusters {
    /// `path_prefix` is the config's folder relative to the scan root (`""` or `dir/`).
    pub fn new(config: &[ClusterConfig], path_prefix: &str) -> Result<Clusters, globset::Error> {
        let mut clusters = Clusters {
            path_prefix: normalize_prefix(path_prefix),
            ..Clusters::default()
        };
        for c in config {
            let mut builder = GlobSetBuilder::new();
            for p in &c.paths {
                builder.add(GlobBuilder::new(p).literal_separator(true).build()?);
            }
            clusters.names.push(c.name.clone());
            clusters.paths.push(builder.build()?);
            clusters.destinations.push(c.destinations.clone());
        }
        Ok(clusters)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The cluster whose `paths` hold the file or folder `display`.
    pub fn for_path(&self, display: &str) -> Option<&str> {
        let relative = display.strip_prefix(self.path_prefix.as_str())?;
        self.paths
            .iter()
            .position(|g| g.is_match(relative))
            .map(|i| self.names[i].as_str())
    }

    /// The cluster an Argo CD destination (server URL or name) means.
    pub fn for_destination(&self, destination: &str) -> Option<&str> {
        let trimmed = destination.trim_end_matches('/');
        self.destinations
            .iter()
            .position(|d| d.iter().any(|x| x.trim_end_matches('/') == trimmed))
            .or_else(|| self.names.iter().position(|n| n == destination))
            .map(|i| self.names[i].as_str())
    }

    /// `(name, first destination that is a URL)` of every cluster, for ApplicationSets.
    fn servers(&self) -> Vec<(String, Option<String>)> {
        self.names
            .iter()
            .zip(&self.destinations)
            .map(|(n, d)| (n.clone(), d.iter().find(|x| x.contains("://")).cloned()))
            .collect()
    }
}

fn normalize_prefix(prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() || prefix == "." {
        String::new()
    } else {
        format!("{prefix}/")
    }
}

/// What the model needs besides the objects.
pub struct BuildInput<'a> {
    /// Every file read, by display path (relative to the scan root).
    pub files: &'a [String],
    /// The scan root: display paths are relative to it.
    pub root: &'a Path,
    /// Folders (display paths) Argo CD / Flux paths are resolved against, in order: the
    /// repository roots (scan roots, the config's folder).
    pub repo_roots: Vec<String>,
    pub clusters: &'a Clusters,
}

/// Counts for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub build_files: usize,
    pub deploys: usize,
    /// Instances made by a build (objects whose namespace, images… a build set).
    pub instances: usize,
    pub generated: usize,
    pub helm_sources: usize,
    pub remote_bases: usize,
}

/// The instances of a scan, and what was learnt building them.
#[derive(Debug, Default)]
pub struct Built {
    pub objects: Vec<Object>,
    pub notices: Vec<Notice>,
    /// Files that are inputs of a build (patches, generator files, values files), with why:
    /// not manifests.
    pub inputs: BTreeMap<String, &'static str>,
    /// kustomize build files: read as instructions, not objects.
    pub build_files: BTreeSet<String>,
    pub summary: Summary,
}

/// One layer of a build, innermost applied first.
#[derive(Debug, Clone, Copy)]
enum Layer {
    Kustomize(usize),
    Deploy(usize),
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Object(usize),
    Generated(usize, usize),
}

struct Builder<'a> {
    input: &'a BuildInput<'a>,
    kustomizations: Vec<Kustomization>,
    by_path: HashMap<String, usize>,
    objects_by_file: HashMap<String, Vec<usize>>,
    files: Vec<String>,
    placements: Vec<(Source, Vec<Layer>)>,
    consumed_files: HashSet<String>,
    consumed_builds: HashSet<usize>,
    notices: Vec<Notice>,
    remote_bases: usize,
    dir_cache: HashMap<String, Option<usize>>,
}

/// Turns the objects read from files into the instances the clusters will run.
pub fn build(objects: Vec<Object>, input: &BuildInput<'_>) -> Built {
    let mut built = Built::default();
    // A kustomize build file is an instruction, never an object.
    let mut build_paths: BTreeSet<String> = input
        .files
        .iter()
        .filter(|f| kustomize::is_build_file_name(f))
        .cloned()
        .collect();
    build_paths.extend(
        objects
            .iter()
            .filter(|o| kustomize::is_build_file_api(&o.api_version))
            .filter_map(|o| o.path().map(str::to_string)),
    );
    let mut files: Vec<String> = input.files.to_vec();
    files.sort();
    let mut builder = Builder {
        input,
        kustomizations: Vec::new(),
        by_path: HashMap::new(),
        objects_by_file: HashMap::new(),
        files,
        placements: Vec::new(),
        consumed_files: HashSet::new(),
        consumed_builds: HashSet::new(),
        notices: Vec::new(),
        remote_bases: 0,
        dir_cache: HashMap::new(),
    };
    // A file called kustomization.yaml that holds other objects (a Flux Kustomization) is
    // not kustomize's.
    let other_objects: HashSet<&str> = objects
        .iter()
        .filter(|o| !kustomize::is_build_file_api(&o.api_version))
        .filter_map(|o| o.path())
        .filter(|p| build_paths.contains(*p))
        .collect();
    for path in &build_paths {
        if !other_objects.contains(path.as_str()) {
            builder.load_kustomization(path);
        }
    }
    let objects: Vec<Object> = objects
        .into_iter()
        .filter(|o| !kustomize::is_build_file_api(&o.api_version))
        .filter(|o| !o.path().is_some_and(|p| builder.by_path.contains_key(p)))
        .collect();
    for (i, o) in objects.iter().enumerate() {
        if let Some(path) = o.path() {
            builder
                .objects_by_file
                .entry(path.to_string())
                .or_default()
                .push(i);
        }
    }
    let directories = |glob: &str| builder_directories(&builder.files, &input.repo_roots, glob);
    let deploys = Deploys::read(&objects, &input.clusters.servers(), &directories);
    for (file, pos, kind) in &deploys.dynamic_generators {
        builder.notices.push(
            Notice::warning(format!(
                "ApplicationSet `{kind}` generator is not static; its Applications are not followed"
            ))
            .at(file, Some(pos.line)),
        );
    }
    for (d, deploy) in deploys.deploys.iter().enumerate() {
        builder.follow_deploy(d, deploy, &mut built.inputs);
    }
    // kustomize roots: build files nothing includes.
    let included: HashSet<usize> = builder.included_builds();
    for k in 0..builder.kustomizations.len() {
        if !builder.consumed_builds.contains(&k) && !included.contains(&k) {
            builder.expand(k, &mut vec![Layer::Kustomize(k)], &mut Vec::new());
        }
    }
    // Whatever is left (a cycle of bases) is still followed once, from itself.
    for k in 0..builder.kustomizations.len() {
        if !builder.consumed_builds.contains(&k) {
            builder.expand(k, &mut vec![Layer::Kustomize(k)], &mut Vec::new());
        }
    }
    for k in &builder.kustomizations {
        for input_file in &k.inputs {
            built
                .inputs
                .insert(input_file.clone(), "input of a kustomize build");
        }
        built.summary.helm_sources += k.helm_charts;
    }
    built.summary.helm_sources += deploys.helm_sources;
    built.summary.deploys = deploys.deploys.len();
    built.summary.build_files = builder.kustomizations.len();
    built.summary.remote_bases = builder.remote_bases;
    built.build_files = builder
        .kustomizations
        .iter()
        .map(|k| k.path.clone())
        .collect();
    builder.instances(objects, &deploys.deploys, &mut built);
    built.notices.append(&mut builder.notices);
    built
}

/// Folders matching an ApplicationSet git-directories glob, relative to a repository root.
fn builder_directories(files: &[String], roots: &[String], glob: &str) -> Vec<String> {
    let Ok(matcher) = GlobBuilder::new(glob.trim_start_matches("./"))
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
    else {
        return Vec::new();
    };
    let mut out = BTreeSet::new();
    for root in roots {
        let prefix = normalize_prefix(root);
        for file in files {
            let Some(relative) = file.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let mut dir = parent(relative);
            while !dir.is_empty() {
                if matcher.is_match(dir) {
                    out.insert(dir.to_string());
                }
                dir = parent(dir);
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out.into_iter().collect()
}

impl Builder<'_> {
    fn read(&self, display: &str) -> Option<String> {
        let path = self.disk_path(display);
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.len() > crate::source::files::MAX_FILE_BYTES {
            return None;
        }
        std::fs::read(&path)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn disk_path(&self, display: &str) -> PathBuf {
        if display.starts_with('/') {
            PathBuf::from(display)
        } else {
            self.input.root.join(display)
        }
    }

    fn load_kustomization(&mut self, path: &str) -> Option<usize> {
        if let Some(&k) = self.by_path.get(path) {
            return Some(k);
        }
        let text = self.read(path)?;
        let read = |p: &str| self.read(p);
        let mut notices = Vec::new();
        let parsed = kustomize::parse(path, &text, &read, &mut notices);
        self.notices.extend(notices);
        let k = parsed?;
        let index = self.kustomizations.len();
        self.kustomizations.push(k);
        self.by_path.insert(path.to_string(), index);
        Some(index)
    }

    /// The build file of a folder, when it has one.
    fn kustomization_in(&mut self, dir: &str) -> Option<usize> {
        if let Some(found) = self.dir_cache.get(dir) {
            return *found;
        }
        let found = kustomize::FILE_NAMES.iter().find_map(|name| {
            let path = join(dir, name)?;
            if let Some(&k) = self.by_path.get(&path) {
                return Some(k);
            }
            self.disk_path(&path)
                .is_file()
                .then(|| self.load_kustomization(&path))
                .flatten()
        });
        self.dir_cache.insert(dir.to_string(), found);
        found
    }

    /// Build files some other build file includes.
    fn included_builds(&mut self) -> HashSet<usize> {
        let mut included = HashSet::new();
        let mut k = 0;
        while k < self.kustomizations.len() {
            let dir = self.kustomizations[k].dir.clone();
            let targets: Vec<String> = self.kustomizations[k]
                .resources
                .iter()
                .chain(&self.kustomizations[k].components)
                .map(|e| e.target.clone())
                .collect();
            for target in targets {
                if is_remote(&target) {
                    continue;
                }
                // A manifest of the scan is no folder: no need to look for a build file in it.
                let Some(path) = join(&dir, &target) else {
                    continue;
                };
                if self.objects_by_file.contains_key(&path) || self.is_scanned_file(&path) {
                    continue;
                }
                if let Some(sub) = self.kustomization_in(&path)
                    && sub != k
                {
                    included.insert(sub);
                }
            }
            k += 1;
        }
        included
    }

    /// Follows build file `k`: its resources, components and generators, each placed under
    /// `layers` (outermost first).
    fn expand(&mut self, k: usize, layers: &mut Vec<Layer>, stack: &mut Vec<usize>) {
        if stack.contains(&k) {
            let chain: Vec<&str> = stack
                .iter()
                .chain(std::iter::once(&k))
                .map(|&i| self.kustomizations[i].path.as_str())
                .collect();
            let last = &self.kustomizations[*stack.last().unwrap_or(&k)];
            self.notices.push(
                Notice::warning(format!("cycle of kustomize bases: {}", chain.join(" → ")))
                    .at(&last.path, None),
            );
            return;
        }
        self.consumed_builds.insert(k);
        stack.push(k);
        let kustomization = self.kustomizations[k].clone();
        // Components apply to everything of the build that includes them.
        let mut component_layers = Vec::new();
        for entry in &kustomization.components {
            if is_remote(&entry.target) {
                self.remote(&kustomization, entry);
                continue;
            }
            match join(&kustomization.dir, &entry.target).and_then(|d| self.kustomization_in(&d)) {
                Some(c) => component_layers.push(c),
                None => self.missing(&kustomization, entry, "component"),
            }
        }
        let outer_len = layers.len();
        for &c in component_layers.iter().rev() {
            layers.push(Layer::Kustomize(c));
        }
        for entry in &kustomization.resources {
            if is_remote(&entry.target) {
                self.remote(&kustomization, entry);
                continue;
            }
            let Some(target) = join(&kustomization.dir, &entry.target) else {
                self.missing(&kustomization, entry, "resource");
                continue;
            };
            if self.objects_by_file.contains_key(&target) || self.is_scanned_file(&target) {
                self.place_file(&target, layers);
            } else if let Some(sub) = self.kustomization_in(&target) {
                layers.push(Layer::Kustomize(sub));
                self.expand(sub, layers, stack);
                layers.pop();
            } else if self.disk_path(&target).is_file() {
                // A file that is not a manifest of the scan (ignored, or unreadable).
                self.consumed_files.insert(target);
            } else {
                self.missing(&kustomization, entry, "resource");
            }
        }
        for &c in &component_layers {
            self.consumed_builds.insert(c);
            let component = self.kustomizations[c].clone();
            for entry in &component.resources {
                if let Some(target) = join(&component.dir, &entry.target)
                    && self.objects_by_file.contains_key(&target)
                {
                    self.place_file(&target, layers);
                }
            }
            for g in 0..component.generators.len() {
                self.placements
                    .push((Source::Generated(c, g), layers.clone()));
            }
        }
        for g in 0..kustomization.generators.len() {
            self.placements
                .push((Source::Generated(k, g), layers.clone()));
        }
        layers.truncate(outer_len);
        stack.pop();
    }

    /// The scanned files inside `dir`, in order (a range of the sorted list).
    fn files_inside(&self, dir: &str) -> Vec<String> {
        if dir.is_empty() {
            return self.files.clone();
        }
        let prefix = format!("{dir}/");
        let start = self.files.partition_point(|f| f.as_str() < prefix.as_str());
        self.files[start..]
            .iter()
            .take_while(|f| f.starts_with(&prefix))
            .filter(|f| is_inside(f, dir))
            .cloned()
            .collect()
    }

    fn is_scanned_file(&self, display: &str) -> bool {
        self.files
            .binary_search_by(|f| f.as_str().cmp(display))
            .is_ok()
    }

    fn place_file(&mut self, display: &str, layers: &[Layer]) {
        self.consumed_files.insert(display.to_string());
        for &i in self.objects_by_file.get(display).into_iter().flatten() {
            self.placements.push((Source::Object(i), layers.to_vec()));
        }
    }

    fn remote(&mut self, k: &Kustomization, entry: &kustomize::Entry) {
        self.remote_bases += 1;
        self.notices.push(
            Notice::warning(format!(
                "remote base `{}` is not fetched; its objects are not checked",
                entry.target
            ))
            .at(&k.path, Some(entry.pos.line)),
        );
    }

    fn missing(&mut self, k: &Kustomization, entry: &kustomize::Entry, what: &str) {
        // Only scanned files are ever read: a target above the scan root is named, not opened.
        let message = if join(&k.dir, &entry.target).is_none() {
            format!(
                "kustomize {what} `{}` is outside the scanned tree and is not read; scan a folder that contains it",
                entry.target
            )
        } else {
            format!(
                "kustomize {what} `{}` does not exist (or is not a manifest or a folder with a kustomization)",
                entry.target
            )
        };
        self.notices
            .push(Notice::warning(message).at(&k.path, Some(entry.pos.line)));
    }

    /// Follows the folder an Application or Flux Kustomization deploys.
    fn follow_deploy(
        &mut self,
        d: usize,
        deploy: &Deploy,
        inputs: &mut BTreeMap<String, &'static str>,
    ) {
        let Some(dir) = self.resolve_repo_path(&deploy.path) else {
            self.notices.push(
                Notice::warning(format!(
                    "{} deploys path `{}`, which is not in the scanned tree; not followed",
                    deploy.what, deploy.path
                ))
                .at(&deploy.file, Some(deploy.path_pos.line)),
            );
            return;
        };
        for file in &deploy.value_files {
            if let Some(path) = join(&dir, file) {
                inputs.insert(path, "Helm values file of an Argo CD Application");
            }
        }
        if deploy.helm {
            // The chart's templates are not manifests; the walk already leaves them out.
            return;
        }
        let mut layers = vec![Layer::Deploy(d)];
        if let Some(k) = self.kustomization_in(&dir) {
            layers.push(Layer::Kustomize(k));
            self.expand(k, &mut layers, &mut Vec::new());
            return;
        }
        // A plain folder: its manifests (and, recursing, the builds of its subfolders).
        let files = self.files_inside(&dir);
        let mut build_dirs: Vec<String> = Vec::new();
        for file in files {
            let folder = parent(&file).to_string();
            let direct = folder == dir;
            if !direct && !deploy.recurse {
                continue;
            }
            if build_dirs
                .iter()
                .any(|b| folder == *b || is_inside(&folder, b))
            {
                continue;
            }
            if !direct && let Some(sub) = self.kustomization_in(&folder) {
                build_dirs.push(folder);
                layers.push(Layer::Kustomize(sub));
                self.expand(sub, &mut layers, &mut Vec::new());
                layers.pop();
                continue;
            }
            if self.objects_by_file.contains_key(&file) {
                self.place_file(&file, &layers);
            }
        }
    }

    /// A repository path of an Application / Flux Kustomization as a display path.
    fn resolve_repo_path(&self, path: &str) -> Option<String> {
        let path = path.trim();
        for root in &self.input.repo_roots {
            let Some(candidate) = join(root, path) else {
                continue;
            };
            if self.disk_path(&candidate).is_dir() {
                return Some(candidate);
            }
        }
        None
    }

    /// Makes the instances: every placement applies its layers (innermost first) to a copy of
    /// its object; objects nothing placed stay as they are.
    fn instances(&mut self, objects: Vec<Object>, deploys: &[Deploy], built: &mut Built) {
        let mut uses = vec![0usize; objects.len()];
        for (source, _) in &self.placements {
            if let Source::Object(i) = source {
                uses[*i] += 1;
            }
        }
        let clusters = self.input.clusters;
        let mut slots: Vec<Option<Object>> = objects.into_iter().map(Some).collect();
        let mut out: Vec<Object> = Vec::with_capacity(slots.len() + self.placements.len());
        // Objects nothing placed keep their place, in file order.
        for (i, slot) in slots.iter_mut().enumerate() {
            if uses[i] > 0 {
                continue;
            }
            let Some(mut object) = slot.take() else {
                continue;
            };
            if let Some(path) = object.path()
                && self.consumed_files.contains(path)
            {
                continue;
            }
            if let Some(cluster) = object.path().and_then(|p| clusters.for_path(p)) {
                object.instance = Some(Box::new(Instance {
                    cluster: Some(cluster.to_string()),
                    ..Instance::default()
                }));
            }
            out.push(object);
        }
        let placements = std::mem::take(&mut self.placements);
        // The last placement of an object takes it; the ones before copy it.
        let takes: Vec<bool> = placements
            .iter()
            .map(|(source, _)| match *source {
                Source::Object(i) => {
                    uses[i] -= 1;
                    uses[i] == 0
                }
                Source::Generated(..) => false,
            })
            .collect();
        // Copies and generated objects are made in parallel, before any object is taken (every
        // copy of an object comes before the placement that takes it); then each instance gets
        // its layers applied in parallel. Order and results are those of one pass in order.
        let kustomizations = &self.kustomizations;
        let mut made: Vec<Option<Object>> = placements
            .par_iter()
            .zip(&takes)
            .map(|((source, _), &takes)| match *source {
                Source::Object(_) if takes => None,
                Source::Object(i) => slots[i].clone(),
                Source::Generated(k, g) => {
                    let k = &kustomizations[k];
                    k.generators[g].object(k)
                }
            })
            .collect();
        for (((source, _), &takes), object) in placements.iter().zip(&takes).zip(&mut made) {
            if let (Source::Object(i), true) = (source, takes) {
                *object = slots[*i].take();
            }
        }
        drop(slots);
        made.par_iter_mut()
            .zip(placements.par_iter())
            .for_each(|(object, (_, layers))| {
                let Some(object) = object.as_mut() else {
                    return;
                };
                let mut via = Vec::new();
                let mut cluster: Option<String> = None;
                for layer in layers.iter().rev() {
                    match *layer {
                        Layer::Kustomize(k) => {
                            let k = &kustomizations[k];
                            k.apply(object);
                            via.push(k.path.clone());
                        }
                        Layer::Deploy(d) => {
                            let deploy = &deploys[d];
                            apply_deploy(deploy, object);
                            via.push(deploy.file.clone());
                            cluster = deploy_cluster(deploy, clusters).or(cluster);
                        }
                    }
                }
                via.reverse();
                via.dedup();
                let cluster = cluster.or_else(|| {
                    via.iter()
                        .map(String::as_str)
                        .chain(object.path())
                        .find_map(|p| clusters.for_path(p))
                        .map(str::to_string)
                });
                let instance = object.instance.get_or_insert_with(Box::default);
                instance.via = via;
                instance.cluster = cluster;
            });
        for ((source, _), object) in placements.iter().zip(made) {
            let Some(object) = object else { continue };
            if matches!(source, Source::Generated(..)) {
                built.summary.generated += 1;
            }
            built.summary.instances += 1;
            out.push(object);
        }
        built.objects = out;
    }
}

fn apply_deploy(deploy: &Deploy, object: &mut Object) {
    let Some((namespace, pos)) = &deploy.namespace else {
        return;
    };
    if is_cluster_scoped(&object.api_version, &object.kind) {
        return;
    }
    if deploy.mode == NamespaceMode::Override || object.namespace.is_none() {
        kustomize::set_namespace(object, namespace, &deploy.file, *pos);
    }
}

/// The cluster a deploy sends objects to: its destination's, else (in-cluster, or Flux) the
/// cluster of the folder the instruction sits in; an unknown destination is a cluster of its
/// own.
fn deploy_cluster(deploy: &Deploy, clusters: &Clusters) -> Option<String> {
    if clusters.is_empty() {
        return None;
    }
    for destination in &deploy.destinations {
        if let Some(c) = clusters.for_destination(destination) {
            return Some(c.to_string());
        }
    }
    let in_cluster = deploy.destinations.is_empty()
        || deploy.destinations.iter().any(|d| {
            d.trim_end_matches('/') == "https://kubernetes.default.svc" || d == "in-cluster"
        });
    if in_cluster {
        clusters.for_path(&deploy.file).map(str::to_string)
    } else {
        deploy.destinations.first().cloned()
    }
}

#[cfg(test)]
mod tests;
