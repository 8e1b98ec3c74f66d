//! `tollgate audit`: the same rules, suppression and reports as `scan`, over live clusters.
//!
//! Each target (a kube context, or the in-cluster service account) is read on a tokio runtime,
//! several at once ([`CONTEXTS_AT_ONCE`]); every cluster becomes an inventory of its own, with
//! the context name as the cluster of its findings (fingerprints, `environments[].clusters`
//! placement, `k8s://<context>/…` locations). Each inventory is evaluated on the rayon pool as
//! soon as it has been read, suppressed (annotations are read from its objects) and dropped, so
//! memory holds the objects of the clusters in flight, never raw pages. The findings of all
//! clusters form one sorted report. A cluster that cannot be reached is an error of the run
//! (exit 2) but never stops the audit of the others.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::drift::{self, GitRepository};
use crate::engine::{self, Evaluator, RunOptions, Setup, load_config, suppress};
use crate::error::Error;
use crate::external::{ExternalSources, gather_external};
use crate::model::inventory::Inventory;
use crate::notice::Notice;
use crate::outcome::{Checks, ScanOutcome, Stats};
use crate::rules::{drift_out_of_band, drift_unmanaged};
use crate::source::cluster::{self, ClusterOptions, Fetched};

/// Clusters read at the same time.
pub const CONTEXTS_AT_ONCE: usize = 4;

/// Name of the cluster audited with `--in-cluster` when `--context` does not name it.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// What an audit needs to know.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Contexts to audit; empty means the kubeconfig's current context. With `in_cluster`,
    /// the one name given is the name the cluster is reported as.
    pub contexts: Vec<String>,
    pub all_contexts: bool,
    pub in_cluster: bool,
    /// Kubeconfig file; default `$KUBECONFIG` (merged), else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    pub cluster: ClusterOptions,
    pub run: RunOptions,
    /// `--gitops DIR`: the GitOps repository the clusters are compared with (drift rules).
    pub gitops: Option<PathBuf>,
    /// `--gitops-cluster CONTEXT=CLUSTER`: which cluster of the repository a context is.
    pub gitops_clusters: std::collections::BTreeMap<String, String>,
}

/// How to reach one cluster.
pub enum Connection {
    /// A context of a kubeconfig.
    Kubeconfig {
        kubeconfig: Arc<Kubeconfig>,
        context: String,
    },
    /// The service account of the pod tollgate runs in.
    InCluster,
    /// A client the caller makes (tests use an in-process fake API server). Called on the
    /// audit's runtime, so it may spawn tasks.
    Custom(Box<dyn FnOnce() -> Result<kube::Client, String> + Send>),
}

/// One cluster to audit and the name it is reported as.
pub struct Target {
    pub name: String,
    pub connection: Connection,
}

/// Audits the clusters `options` name: the whole of `tollgate audit`.
pub fn audit(
    options: &AuditOptions,
    evaluators: Vec<Arc<dyn Evaluator>>,
) -> Result<ScanOutcome, Error> {
    let targets = targets(options)?;
    audit_targets(options, targets, evaluators)
}

/// The targets of `--context`, `--all-contexts` and `--in-cluster`.
pub fn targets(options: &AuditOptions) -> Result<Vec<Target>, Error> {
    if options.in_cluster {
        if options.contexts.len() > 1 {
            return Err(Error::usage(
                "with --in-cluster, give at most one --context: the name the cluster is reported as",
            ));
        }
        let name = options
            .contexts
            .first()
            .cloned()
            .unwrap_or_else(|| IN_CLUSTER_NAME.to_string());
        return Ok(vec![Target {
            name,
            connection: Connection::InCluster,
        }]);
    }
    let kubeconfig = match &options.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
            path: path.clone(),
            source,
        })?,
        None => Kubeconfig::read().map_err(|source| Error::DefaultKubeconfig { source })?,
    };
    let mut names: Vec<String> = if options.all_contexts {
        kubeconfig.contexts.iter().map(|c| c.name.clone()).collect()
    } else if !options.contexts.is_empty() {
        options.contexts.clone()
    } else {
        match &kubeconfig.current_context {
            Some(current) if !current.is_empty() => vec![current.clone()],
            _ => {
                return Err(Error::usage(
                    "the kubeconfig has no current context; name one with --context or use --all-contexts",
                ));
            }
        }
    };
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    if names.is_empty() {
        return Err(Error::usage("the kubeconfig has no contexts"));
    }
    let kubeconfig = Arc::new(kubeconfig);
    Ok(names
        .into_iter()
        .map(|name| Target {
            connection: Connection::Kubeconfig {
                kubeconfig: kubeconfig.clone(),
                context: name.clone(),
            },
            name,
        })
        .collect())
}

/// Audits `targets`: reads them concurrently, evaluates each cluster as it arrives, and
/// returns one report.
pub fn audit_targets(
    options: &AuditOptions,
    targets: Vec<Target>,
    evaluators: Vec<Arc<dyn Evaluator>>,
) -> Result<ScanOutcome, Error> {
    crate::tls::install_crypto_provider();
    if targets.is_empty() {
        return Err(Error::usage("no cluster to audit"));
    }
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: PathBuf::from("."),
        source,
    })?;
    // With --gitops, the repository's tollgate.yaml (its `clusters:`) governs the audit.
    let config_start = match &options.gitops {
        Some(dir) => drift::config_start(dir, &root),
        None => root.clone(),
    };
    let loaded = load_config(options.run.config.as_deref(), &config_start)?;
    let environments = engine::environments(&loaded, &root)?;
    let mut setup = Setup::new(loaded, environments, &options.run, &root, evaluators)?;
    let mut notices = Vec::new();
    let drift_runs = [drift_unmanaged::ID, drift_out_of_band::ID]
        .iter()
        .any(|id| setup.rules.is_enabled(id));
    let mut repository = match &options.gitops {
        Some(_) if !drift_runs => {
            notices.push(Notice::warning(
                "--gitops: neither drift rule runs (--select, --ignore or rules.disable), so the \
                 repository is not read",
            ));
            None
        }
        Some(dir) => Some(GitRepository::read(
            dir,
            options.gitops_clusters.clone(),
            &setup,
            &root,
            &mut notices,
        )?),
        None => None,
    };
    let servers: std::collections::HashMap<String, Option<String>> = targets
        .iter()
        .map(|t| (t.name.clone(), server_of(&t.connection)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tollgate-kube")
        .build()
        .map_err(|source| Error::Runtime {
            what: "the network runtime",
            source: Box::new(source),
        })?;

    let (sender, receiver) = std::sync::mpsc::channel::<(String, Fetched)>();
    let mut cluster_options = options.cluster.clone();
    // Kinds nothing reads keep their metadata only, as in files.
    cluster_options.build = setup.rules.kinds_to_build().filter();
    // Every target must report; one whose task died (a panic) makes the run incomplete.
    let mut silent: std::collections::BTreeSet<String> =
        targets.iter().map(|t| t.name.clone()).collect();
    runtime.spawn(async move {
        let cluster_options = &cluster_options;
        futures::stream::iter(targets)
            .map(|target| async move {
                let fetched = match connect(target.connection, cluster_options).await {
                    Ok(client) => cluster::fetch(&client, &target.name, cluster_options).await,
                    Err(message) => Fetched {
                        notices: vec![
                            Notice::error(format!("cannot connect: {message}"))
                                .at(&target.name, None),
                        ],
                        ..Fetched::default()
                    },
                };
                (target.name, fetched)
            })
            .buffer_unordered(CONTEXTS_AT_ONCE)
            .for_each(|result| {
                // The receiver only goes away when the audit itself failed.
                let _ = sender.send(result);
                async {}
            })
            .await;
    });

    let mut findings = Vec::new();
    let mut stats = Stats::default();
    let mut checks = Checks::default();
    let mut not_evaluated = Vec::new();
    for (context, fetched) in receiver {
        silent.remove(&context);
        setup.notices.extend(fetched.notices);
        if !fetched.reachable {
            stats.unread.push(context);
            continue;
        }
        stats.clusters += 1;
        stats.contexts.push(context.clone());
        let mut objects = fetched.objects;
        setup.assign_environments(&mut objects);
        let inventory = Inventory::new(objects);
        stats.objects += inventory.len();
        let every = |_: &crate::model::object::Object| true;
        let git = match &mut repository {
            None => None,
            Some(repository) => {
                let server = servers.get(&context).cloned().flatten();
                match repository.side_for(&context, server.as_deref(), &setup, &mut notices) {
                    Ok(side) => Some(side),
                    Err(error) => {
                        stats.drift_unchecked.push(context.clone());
                        notices.push(error);
                        None
                    }
                }
            }
        };
        let mut external = gather_external(
            &setup.loaded,
            &setup.rules,
            &inventory,
            &every,
            ExternalSources {
                trivy_reports: options.run.trivy_reports.as_deref(),
            },
            &mut notices,
        )?;
        external.gitops = git.clone();
        let raw = setup.evaluate(&inventory, &every, &external);
        if options.run.record_checks {
            checks.merge(setup.checks(&inventory, &every, &external, Vec::new()));
        }
        not_evaluated.extend(std::mem::take(&mut external.not_evaluated));
        let indexes: Vec<usize> = raw.iter().map(|(i, _)| *i).collect();
        let live = suppress(
            raw.into_iter().map(|(i, f)| (Some(i), f)).collect(),
            &inventory,
            &setup.suppressor,
        );
        if let Some(git) = &git {
            let pairs: Vec<(usize, &crate::finding::Finding)> =
                indexes.iter().copied().zip(&live).collect();
            let drift = drift_out_of_band::derive(&inventory, &pairs, git, &setup.rules);
            findings.extend(suppress(
                drift.into_iter().map(|(i, f)| (Some(i), f)).collect(),
                &inventory,
                &setup.suppressor,
            ));
        }
        findings.extend(live);
    }
    if let Some(repository) = &repository {
        notices.extend(repository.unread_notices());
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    for context in silent {
        stats.unread.push(context.clone());
        setup.notices.push(
            Notice::error("not audited: reading this cluster stopped without an answer")
                .at(context, None),
        );
    }
    stats.contexts.sort();
    stats.unread.sort();
    stats.drift_unchecked.sort();
    not_evaluated.sort();
    not_evaluated.dedup();
    setup.notices.extend(notices);
    setup.conclude(
        ScanOutcome {
            findings,
            stats,
            checks,
            not_evaluated,
            ..ScanOutcome::default()
        },
        options.run.write_baseline.as_deref(),
    )
}

/// The API server URL of a target, to match Argo CD destinations: the kubeconfig context's
/// cluster server, or Argo CD's in-cluster address.
fn server_of(connection: &Connection) -> Option<String> {
    match connection {
        Connection::InCluster => Some(drift::IN_CLUSTER_SERVER.to_string()),
        Connection::Kubeconfig {
            kubeconfig,
            context,
        } => {
            let cluster = kubeconfig
                .contexts
                .iter()
                .find(|c| &c.name == context)?
                .context
                .as_ref()?
                .cluster
                .clone();
            kubeconfig
                .clusters
                .iter()
                .find(|c| c.name == cluster)?
                .cluster
                .as_ref()?
                .server
                .clone()
        }
        Connection::Custom(_) => None,
    }
}

/// A client for one target, with tollgate's own deadlines and retries instead of kube's
/// (kube retries a 503 up to 15 times with exponential backoff, minutes for one metrics
/// APIService that is down).
async fn connect(connection: Connection, options: &ClusterOptions) -> Result<kube::Client, String> {
    let mut config = match connection {
        Connection::Custom(make) => return make(),
        Connection::InCluster => kube::Config::incluster()
            .map_err(|e| format!("no in-cluster configuration: {}", cluster::chain(&e)))?,
        Connection::Kubeconfig {
            kubeconfig,
            context,
        } => kube::Config::from_custom_kubeconfig(
            (*kubeconfig).clone(),
            &KubeConfigOptions {
                context: Some(context),
                ..KubeConfigOptions::default()
            },
        )
        .await
        .map_err(|e| cluster::chain(&e))?,
    };
    config.default_retry = false;
    config.connect_timeout = Some(options.request_timeout);
    config.read_timeout = Some(options.request_timeout);
    config.reset_reader_on_write = true;
    kube::Client::try_from(config).map_err(|e| cluster::chain(&e))
}
