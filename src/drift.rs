//! Drift between a GitOps repository and the clusters it deploys (`tollgate audit --gitops`,
//! DESIGN §14).
//!
//! The repository is read with the same model as `tollgate scan` (files → kustomize, Argo CD
//! and Flux builds → *instances*, each in the cluster `clusters:` places it, see
//! [`crate::scan::model_repository`]). Each audited kube context is matched with one cluster
//! of the repository ([`GitRepository::cluster_of`]): an explicit `--gitops-cluster
//! CONTEXT=CLUSTER`, else the `clusters:` entry named like the context, else the one whose
//! `destinations` hold the context name or its API server URL (Argo CD destinations are
//! exactly those). A repository without `clusters:` is one cluster, compared with every
//! context.
//!
//! The instances of that cluster become a [`GitSide`]: an index by kind, namespace and name,
//! the namespaces git deploys into, and the findings every rule makes on the instances (the
//! same rules, configuration and Rego policies as the live objects). The drift rules read it:
//! `drift-unmanaged` from the rule context ([`crate::rules::Context::gitops`]), and
//! `drift-out-of-band` after the other rules ran on the live objects
//! ([`crate::rules::drift_out_of_band::derive`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::engine::Setup;
use crate::error::Error;
use crate::external::External;
use crate::finding::{Finding, keyed_path};
use crate::gitops::kustomize;
use crate::gitops::paths::is_remote;
use crate::model::inventory::Inventory;
use crate::model::object::Object;
use crate::notice::Notice;
use crate::scan::{Modelled, by_cluster, model_repository};
use crate::source::files::{self, LoadedFile};

/// Argo CD's in-cluster destination: the API server seen from inside the cluster.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// The GitOps repository of an audit, read once, its instances grouped by cluster.
#[derive(Debug)]
pub struct GitRepository {
    /// The directory as given (`--gitops DIR`), for messages.
    pub dir: String,
    /// Instances by cluster of `clusters:`; `None` holds the objects no cluster claims (every
    /// object, without `clusters:`).
    groups: BTreeMap<Option<String>, Vec<Object>>,
    /// `(name, destinations)` of each `clusters:` entry.
    clusters: Vec<(String, Vec<String>)>,
    /// `--gitops-cluster CONTEXT=CLUSTER`.
    explicit: BTreeMap<String, String>,
    /// Git sides already evaluated, by cluster.
    sides: HashMap<Option<String>, Arc<GitSide>>,
    /// Files that could not be read, with the cluster whose folder holds them (`None`: no
    /// cluster's, so any cluster may deploy them).
    unread: Vec<(Option<String>, Notice)>,
    /// kustomize build files that pull remote bases or Helm charts: what they deploy is not
    /// all in the repository.
    partial_builds: HashSet<String>,
    /// Clusters some context was matched with.
    matched: BTreeSet<Option<String>>,
}

impl GitRepository {
    /// Reads `dir` with the scan's loader and GitOps model. A file that does not parse (or
    /// cannot be read) may hide declarations, and every live object it declares would look
    /// hand-made: the cluster whose `clusters:` paths hold it is not compared (every cluster,
    /// when no cluster's paths hold it), see [`GitRepository::usable`].
    pub fn read(
        dir: &Path,
        explicit: BTreeMap<String, String>,
        setup: &Setup,
        root: &Path,
        notices: &mut Vec<Notice>,
    ) -> Result<GitRepository, Error> {
        let shown = files::display_path(dir, root);
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "--gitops {shown}: not a directory (give the root of the GitOps repository)"
            )));
        }
        let threads = setup.pool.current_num_threads();
        let mut walk_notices = Vec::new();
        let found = files::collect(&[dir.to_path_buf()], root, threads, &mut walk_notices)?;
        let build_filter = setup.rules.kinds_to_build().filter();
        let mut loaded: Vec<LoadedFile> = setup.pool.install(|| {
            found
                .par_iter()
                .map(|file| files::load_file_filtered(file, &build_filter))
                .collect()
        });
        let mut unread = Vec::new();
        for file in &mut loaded {
            for problem in &file.problems {
                unread.push(
                    Notice::error(format!(
                        "--gitops: not a valid manifest: {}",
                        problem.message
                    ))
                    .at(&file.display, Some(problem.pos.line.max(1))),
                );
            }
            if let Some(notice) = file.notice.take() {
                unread.push(
                    Notice::error(format!("--gitops: not read: {}", notice.message))
                        .at(&file.display, None),
                );
            }
        }
        for mut notice in walk_notices {
            notice.message = format!("--gitops: {}", notice.message);
            // An unreadable directory hides declarations just like an unparseable file.
            if notice.is_error() {
                unread.push(notice);
            } else {
                notices.push(notice);
            }
        }
        let config_dir = setup
            .loaded
            .base_dir()
            .map(|d| files::display_path(d, root))
            .filter(|d| d != ".")
            .unwrap_or_default();
        let by_path = crate::gitops::Clusters::new(&setup.loaded.config.clusters, &config_dir)
            .map_err(|e| Error::usage(format!("invalid cluster path glob: {e}")))?;
        let unread = unread
            .into_iter()
            .map(|notice| {
                let cluster = notice
                    .path
                    .as_deref()
                    .and_then(|p| by_path.for_path(p))
                    .map(str::to_string);
                (cluster, notice)
            })
            .collect();
        let mut objects = Vec::new();
        for file in &mut loaded {
            objects.append(&mut file.objects);
        }
        let displays: Vec<String> = found.iter().map(|f| f.display.clone()).collect();
        let Modelled {
            built,
            notices: model_notices,
            ..
        } = model_repository(objects, &displays, &[dir.to_path_buf()], setup, root)?;
        notices.extend(model_notices.into_iter().map(|mut n| {
            n.message = format!("--gitops: {}", n.message);
            n
        }));
        if built.summary.helm_sources > 0 {
            notices.push(Notice::warning(format!(
                "--gitops: {} Helm source(s) (Argo CD Applications with a chart, HelmReleases, \
                 kustomize helmCharts) not looked inside: what they install is recognised by \
                 its Argo CD, Flux or Helm marks, and not compared with git",
                built.summary.helm_sources
            )));
        }
        let partial_builds = partial_builds(&built.build_files, root);
        // Patches, generator inputs and values files are not declarations.
        let declared: Vec<Object> = built
            .objects
            .into_iter()
            .filter(|o| o.path().is_none_or(|p| !built.inputs.contains_key(p)))
            .collect();
        let mut groups = BTreeMap::new();
        for group in by_cluster(declared) {
            let cluster = group
                .first()
                .and_then(|o| o.gitops_cluster())
                .map(str::to_string);
            groups.insert(cluster, group);
        }
        let clusters = setup
            .loaded
            .config
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.destinations.clone()))
            .collect();
        Ok(GitRepository {
            dir: shown,
            groups,
            clusters,
            explicit,
            sides: HashMap::new(),
            unread,
            partial_builds,
            matched: BTreeSet::new(),
        })
    }

    /// The cluster of the repository that the kube context `context` (API server `server`)
    /// is: `Ok(None)` for a repository without `clusters:`; `Err` with why none matches.
    pub fn cluster_of(
        &self,
        context: &str,
        server: Option<&str>,
    ) -> Result<Option<String>, String> {
        if let Some(cluster) = self.explicit.get(context) {
            return if self.clusters.iter().any(|(name, _)| name == cluster) {
                Ok(Some(cluster.clone()))
            } else {
                Err(format!(
                    "--gitops-cluster {context}={cluster}: `{cluster}` is not a cluster of `clusters:`"
                ))
            };
        }
        if self.clusters.is_empty() {
            return Ok(None);
        }
        if let Some((name, _)) = self.clusters.iter().find(|(name, _)| name == context) {
            return Ok(Some(name.clone()));
        }
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        let wanted: Vec<String> = std::iter::once(context).chain(server).map(trim).collect();
        let by_destination = self.clusters.iter().find(|(_, destinations)| {
            destinations
                .iter()
                .any(|d| wanted.contains(&trim(d.as_str())))
        });
        match by_destination {
            Some((name, _)) => Ok(Some(name.clone())),
            None => Err(format!(
                "no cluster of `clusters:` is named `{context}` or has it{} among its \
                 `destinations`; map it with --gitops-cluster {context}=CLUSTER",
                server.map(|s| format!(" or {s}")).unwrap_or_default()
            )),
        }
    }

    /// `Err` with why `cluster` cannot be compared: files that may declare its objects could
    /// not be read.
    pub fn usable(&self, cluster: Option<&str>) -> Result<(), String> {
        let hiding: Vec<String> = self
            .unread
            .iter()
            .filter(|(holder, _)| holder.is_none() || holder.as_deref() == cluster)
            .filter_map(|(_, notice)| notice.path.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if hiding.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} of its files could not be read ({}), so its declarations are incomplete",
            hiding.len(),
            hiding.join(", ")
        ))
    }

    /// The git side the context `context` (API server `server`) is compared with, or the
    /// error that says why it is not ([`GitRepository::cluster_of`],
    /// [`GitRepository::usable`]). A cluster the repository declares nothing for is a warning
    /// in `notices`: it usually means a wrong mapping.
    pub fn side_for(
        &mut self,
        context: &str,
        server: Option<&str>,
        setup: &Setup,
        notices: &mut Vec<Notice>,
    ) -> Result<Arc<GitSide>, Notice> {
        let not_checked = |why: String| {
            Notice::error(format!(
                "--gitops {}: drift against git is not checked: {why}",
                self.dir
            ))
            .at(context, None)
        };
        let cluster = self.cluster_of(context, server).map_err(not_checked)?;
        self.matched.insert(cluster.clone());
        self.usable(cluster.as_deref()).map_err(not_checked)?;
        let side = self.side(cluster, setup);
        if side.inventory().is_empty() {
            let which = side
                .cluster
                .as_deref()
                .map_or_else(|| "this cluster".to_string(), |c| format!("cluster `{c}`"));
            notices.push(
                Notice::warning(format!(
                    "--gitops {}: the repository declares nothing for {which}; only namespaces \
                     Argo CD or Flux track are compared",
                    self.dir
                ))
                .at(context, None),
            );
        }
        Ok(side)
    }

    /// The problems of the files that could not be read: errors when they hide declarations
    /// of a cluster some context was matched with (or of any cluster), else warnings (another
    /// cluster's files).
    pub fn unread_notices(&self) -> Vec<Notice> {
        let compared = &self.matched;
        self.unread
            .iter()
            .map(|(holder, notice)| {
                let mut notice = notice.clone();
                let hides = match holder {
                    None => !compared.is_empty(),
                    Some(_) => compared.contains(holder),
                };
                if !hides {
                    notice.level = crate::notice::NoticeLevel::Warning;
                }
                notice
            })
            .collect()
    }

    /// The git side of `cluster`: its instances evaluated by every rule of the run, once.
    pub fn side(&mut self, cluster: Option<String>, setup: &Setup) -> Arc<GitSide> {
        if let Some(side) = self.sides.get(&cluster) {
            return side.clone();
        }
        let mut objects = self.groups.remove(&cluster).unwrap_or_default();
        setup.assign_environments(&mut objects);
        let inventory = Inventory::new(objects);
        let every = |_: &Object| true;
        let findings = setup.evaluate(&inventory, &every, &External::default());
        let mut side = GitSide::new(cluster.clone(), inventory, &findings);
        side.mark_partial(&self.partial_builds);
        let side = Arc::new(side);
        self.sides.insert(cluster, side.clone());
        side
    }
}

/// Key of the correlation: kind, namespace (`""` for none) and name.
type Key = (String, String, String);

/// One cluster as the GitOps repository declares it.
#[derive(Debug, Default)]
pub struct GitSide {
    /// The cluster of `clusters:` (`None`: the repository's only cluster).
    pub cluster: Option<String>,
    inventory: Inventory,
    exact: HashMap<Key, usize>,
    /// Namespaced objects declared without a namespace (applied into whatever namespace the
    /// deployer gives them): `(kind, name)`.
    anywhere: HashMap<(String, String), usize>,
    /// Namespaces git deploys objects into, or declares.
    namespaces: BTreeSet<String>,
    /// Namespaces a build also fills from outside the repository (remote bases, Helm charts):
    /// git does not say everything that is in them.
    partial: BTreeSet<String>,
    /// Git instance → `(rule, node as keyed path)` of each finding on it.
    findings: HashMap<usize, Vec<(String, String)>>,
}

/// Length of the hash suffix kustomize gives generated ConfigMaps and Secrets (`-` and 10).
const GENERATED_SUFFIX: usize = 11;

impl GitSide {
    /// Indexes `inventory` (the instances of one cluster) and the `findings` rules made on it.
    pub fn new(
        cluster: Option<String>,
        inventory: Inventory,
        findings: &[(usize, Finding)],
    ) -> GitSide {
        let mut side = GitSide {
            cluster,
            ..GitSide::default()
        };
        for (index, object) in inventory.objects().iter().enumerate() {
            let namespace = object.namespace.clone().unwrap_or_default();
            // The first declaration wins, in the inventory's (deterministic) order.
            side.exact
                .entry((
                    object.kind.to_string(),
                    namespace.to_string(),
                    object.name.to_string(),
                ))
                .or_insert(index);
            match &object.namespace {
                Some(ns) => {
                    side.namespaces.insert(ns.to_string());
                }
                None => {
                    side.anywhere
                        .entry((object.kind.to_string(), object.name.to_string()))
                        .or_insert(index);
                }
            }
            if object.is("", "Namespace") {
                side.namespaces.insert(object.name.to_string());
            }
        }
        for (index, finding) in findings {
            let Some(object) = inventory.objects().get(*index) else {
                continue;
            };
            side.findings.entry(*index).or_default().push((
                finding.rule.clone(),
                keyed_path(&object.value, &finding.pointer),
            ));
        }
        side.inventory = inventory;
        side
    }

    /// The instances.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// Whether git deploys objects into `namespace` (or declares the Namespace) and says all
    /// of what goes there (no remote base or Helm chart of a build fills it too).
    pub fn deploys_into(&self, namespace: &str) -> bool {
        self.namespaces.contains(namespace) && !self.partial.contains(namespace)
    }

    /// Marks the namespaces of instances built by `builds` (build files with remote bases or
    /// Helm charts) as only partly declared.
    pub fn mark_partial(&mut self, builds: &HashSet<String>) {
        if builds.is_empty() {
            return;
        }
        for object in self.inventory.objects() {
            let (Some(namespace), Some(instance)) = (&object.namespace, &object.instance) else {
                continue;
            };
            if instance.via.iter().any(|build| builds.contains(build)) {
                self.partial.insert(namespace.to_string());
            }
        }
    }

    /// The git instance the live object `live` is, by kind, namespace and name. A namespaced
    /// instance without a namespace stands for any; a generated ConfigMap or Secret matches
    /// its live name with kustomize's hash suffix (`app-config-7f8k2m9c4b`).
    pub fn declaration_index(&self, live: &Object) -> Option<usize> {
        let namespace = live.namespace.as_deref().unwrap_or_default().to_string();
        let key = (
            live.kind.to_string(),
            namespace.clone(),
            live.name.to_string(),
        );
        if let Some(&index) = self.exact.get(&key) {
            return Some(index);
        }
        if live.namespace.is_some()
            && let Some(&index) = self
                .anywhere
                .get(&(live.kind.to_string(), live.name.to_string()))
        {
            return Some(index);
        }
        if matches!(live.kind.as_str(), "ConfigMap" | "Secret")
            && live.name.len() > GENERATED_SUFFIX
            && live
                .name
                .is_char_boundary(live.name.len() - GENERATED_SUFFIX)
        {
            let (base, suffix) = live.name.split_at(live.name.len() - GENERATED_SUFFIX);
            let hashed = suffix.starts_with('-')
                && suffix[1..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if hashed {
                let key = (live.kind.to_string(), namespace, base.to_string());
                let generated = |&index: &usize| {
                    self.inventory.objects()[index]
                        .instance
                        .as_ref()
                        .is_some_and(|i| i.generated)
                };
                return self.exact.get(&key).copied().filter(generated);
            }
        }
        None
    }

    /// The git instance of `live`, see [`GitSide::declaration_index`].
    pub fn declaration(&self, live: &Object) -> Option<&Object> {
        self.declaration_index(live)
            .map(|i| &self.inventory.objects()[i])
    }

    /// Whether rule `rule` reports the git instance `index` at the node `node` (a keyed path),
    /// or at a node containing it or inside it: the same problem, placed a level up or down
    /// because the API server filled in defaults (`securityContext: {}`) git leaves out.
    pub fn reports(&self, index: usize, rule: &str, node: &str) -> bool {
        self.findings.get(&index).is_some_and(|found| {
            found
                .iter()
                .any(|(r, n)| r == rule && (contains(n, node) || contains(node, n)))
        })
    }
}

/// The kustomize build files among `build_files` (display paths) that pull remote bases or
/// components, or inflate Helm charts.
fn partial_builds(build_files: &BTreeSet<String>, root: &Path) -> HashSet<String> {
    let read = |display: &str| {
        let path = if display.starts_with('/') {
            PathBuf::from(display)
        } else {
            root.join(display)
        };
        match files::read_capped(&path).ok()? {
            files::Capped::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            files::Capped::TooBig => None,
        }
    };
    build_files
        .iter()
        .filter(|path| {
            let Some(text) = read(path) else {
                return false;
            };
            // Its problems were reported when the model read it.
            let mut ignored = Vec::new();
            kustomize::parse(path, &text, &read, &mut ignored).is_some_and(|k| {
                k.helm_charts > 0
                    || k.resources
                        .iter()
                        .chain(&k.components)
                        .any(|e| is_remote(&e.target))
            })
        })
        .cloned()
        .collect()
}

/// True when the keyed path `outer` is `inner` or one of its ancestors.
fn contains(outer: &str, inner: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('['))
}

/// Reads `CONTEXT=CLUSTER` pairs of `--gitops-cluster`.
pub fn parse_cluster_map(pairs: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((context, cluster)) if !context.is_empty() && !cluster.is_empty() => {
                map.insert(context.to_string(), cluster.to_string());
            }
            _ => {
                return Err(Error::usage(format!(
                    "--gitops-cluster {pair}: expected CONTEXT=CLUSTER"
                )));
            }
        }
    }
    Ok(map)
}

/// Where the audit's configuration is looked for with `--gitops DIR`: the repository (its
/// `tollgate.yaml` names the clusters), else the current directory.
pub fn config_start(gitops: &Path, cwd: &Path) -> PathBuf {
    if crate::config::discover(gitops).is_some() {
        gitops.to_path_buf()
    } else {
        cwd.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_of_keyed_paths() {
        assert!(contains("/spec", "/spec/template"));
        assert!(contains(
            "/spec/template/spec/containers[name=app]",
            "/spec/template/spec/containers[name=app]/securityContext"
        ));
        assert!(contains("/spec/containers", "/spec/containers[name=a]"));
        assert!(!contains(
            "/spec/containers[name=a]",
            "/spec/containers[name=ab]"
        ));
        assert!(!contains("/spec/template", "/spec/templates"));
    }

    fn repository(clusters: &[(&str, &[&str])], explicit: &[(&str, &str)]) -> GitRepository {
        GitRepository {
            dir: "gitops".into(),
            groups: BTreeMap::new(),
            clusters: clusters
                .iter()
                .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
                .collect(),
            explicit: explicit
                .iter()
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .collect(),
            sides: HashMap::new(),
            unread: Vec::new(),
            partial_builds: HashSet::new(),
            matched: BTreeSet::new(),
        }
    }

    #[test]
    fn an_unread_file_makes_its_cluster_incomplete() {
        let mut repo = repository(&[("production", &[]), ("dev-a", &[])], &[]);
        let broken = |path: &str| Notice::error("--gitops: not a valid manifest").at(path, Some(3));
        repo.unread = vec![(Some("dev-a".into()), broken("clusters/dev-a/x.yaml"))];
        assert!(repo.usable(Some("production")).is_ok());
        let why = repo.usable(Some("dev-a")).unwrap_err();
        assert!(why.contains("clusters/dev-a/x.yaml"), "{why}");
        repo.matched = BTreeSet::from([Some("production".to_string())]);
        assert!(!repo.unread_notices()[0].is_error());
        repo.matched = BTreeSet::from([Some("dev-a".to_string())]);
        assert!(repo.unread_notices()[0].is_error());
        // A file in no cluster's folder may be deployed anywhere.
        repo.unread = vec![(None, broken("apps/base/x.yaml"))];
        assert!(repo.usable(Some("production")).is_err());
        repo.matched = BTreeSet::from([Some("production".to_string())]);
        assert!(repo.unread_notices()[0].is_error());
    }

    #[test]
    fn contexts_are_matched_by_mapping_name_destination_or_server() {
        let repo = repository(
            &[
                (
                    "production",
                    &["https://prod.k3s.internal:6443/", "prod-argo"],
                ),
                ("staging", &[IN_CLUSTER_SERVER]),
            ],
            &[("admin@lab", "staging")],
        );
        assert_eq!(
            repo.cluster_of("production", None),
            Ok(Some("production".into()))
        );
        assert_eq!(
            repo.cluster_of("prod-argo", None),
            Ok(Some("production".into()))
        );
        assert_eq!(
            repo.cluster_of("k3s-prod", Some("https://prod.k3s.internal:6443")),
            Ok(Some("production".into()))
        );
        assert_eq!(
            repo.cluster_of("in-cluster", Some(IN_CLUSTER_SERVER)),
            Ok(Some("staging".into()))
        );
        assert_eq!(
            repo.cluster_of("admin@lab", None),
            Ok(Some("staging".into()))
        );
        assert!(
            repo.cluster_of("elsewhere", Some("https://x:6443"))
                .is_err()
        );
        let wrong = repository(&[("production", &[])], &[("a", "nope")]);
        assert!(wrong.cluster_of("a", None).unwrap_err().contains("`nope`"));
        // Without `clusters:`, the repository is the one cluster of every context.
        assert_eq!(repository(&[], &[]).cluster_of("any", None), Ok(None));
    }

    #[test]
    fn cluster_map_pairs() {
        let map = parse_cluster_map(&["admin@prod=production".into()]).unwrap();
        assert_eq!(map["admin@prod"], "production");
        assert!(parse_cluster_map(&["production".into()]).is_err());
        assert!(parse_cluster_map(&["=x".into()]).is_err());
    }
}
