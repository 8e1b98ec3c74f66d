//! `tollgate audit`: the same rules and reports over live clusters, one DefectDojo reimport
//! per cluster.

use std::path::{Path, PathBuf};

use crate::audit::{self, AuditOptions};
use crate::cli::{self, AuditArgs, Cli};
use crate::commands::exit;
use crate::commands::morning;
use crate::commands::output::emit;
use crate::commands::push::{defectdojo_settings, push_and_link, wants_defectdojo};
use crate::commands::run_options;
use crate::drift;
use crate::error::Error;
use crate::scan;
use crate::sink;
use crate::source::cluster::ClusterOptions;

pub(crate) fn run(cli: &Cli, args: &AuditArgs, matches: &clap::ArgMatches) -> Result<u8, Error> {
    let sub = matches
        .subcommand_matches("audit")
        .ok_or_else(|| Error::usage("internal: `audit` dispatched without its arguments"))?;
    let plans = cli::output_plans(sub, &args.output)?;
    let options = AuditOptions {
        contexts: args.contexts.clone(),
        all_contexts: args.all_contexts,
        in_cluster: args.in_cluster,
        kubeconfig: args.kubeconfig.clone(),
        cluster: ClusterOptions {
            namespaces: args.namespaces.clone(),
            include_owned: args.include_owned,
            request_timeout: args.request_timeout,
            concurrency: usize::from(args.api_concurrency),
            ..ClusterOptions::default()
        },
        run: run_options(
            args.config.clone(),
            &args.output,
            &plans,
            args.policies.options(&args.rego_namespaces),
            args.trivy_reports.clone(),
        )?,
        gitops: args.gitops.clone(),
        gitops_clusters: drift::parse_cluster_map(&args.gitops_clusters)?,
    };
    let defectdojo = wants_defectdojo(&args.defectdojo)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    // With --gitops, the configuration is the repository's (as the audit itself reads it).
    let root = match &args.gitops {
        Some(dir) => drift::config_start(dir, &cwd),
        None => cwd,
    };
    let notify = morning::notify_config(&args.output, options.run.config.as_deref(), &root)?;
    let mut outcome = audit::audit(&options, Vec::new())?;
    morning::compare(&mut outcome, &args.output, true);
    let code = emit(&outcome, &plans, &args.output, cli.color)?;
    let mut links = Vec::new();
    let code = if defectdojo {
        push_per_cluster(args, &options, &outcome, &root, &mut links)?.unwrap_or(code)
    } else {
        code
    };
    if let Some(config) = &notify {
        morning::notify(&outcome, config, &links, true);
    }
    Ok(code)
}

/// One reimport per cluster; `Some(exit::ERROR)` when one failed. Collects where each
/// cluster's findings went.
fn push_per_cluster(
    args: &AuditArgs,
    options: &AuditOptions,
    outcome: &crate::outcome::ScanOutcome,
    root: &Path,
    links: &mut Vec<(Option<String>, String)>,
) -> Result<Option<u8>, Error> {
    // One reimport per cluster: each context is its own DefectDojo product (by
    // default), and its test must see exactly that cluster's findings.
    let root = root.to_path_buf();
    let loaded = scan::load_config(options.run.config.as_deref(), &root)?;
    let several = outcome.stats.contexts.len() > 1;
    let mut all_pushed = true;
    for context in &outcome.stats.contexts {
        if outcome.stats.drift_unchecked.contains(context) {
            // A reimport without the drift findings would close last night's as fixed.
            eprintln!(
                "DefectDojo, cluster {context}: not pushed, drift against git was not checked"
            );
            all_pushed = false;
            continue;
        }
        let settings = defectdojo_settings(
            &args.defectdojo,
            &loaded,
            sink::defectdojo::Target {
                kind: sink::defectdojo::RunKind::Audit,
                cluster: Some(context.clone()),
                root: root.clone(),
            },
        )?;
        let mut per_context = args.defectdojo.clone();
        if several {
            let base = per_context
                .options
                .report
                .clone()
                .unwrap_or_else(|| PathBuf::from(sink::defectdojo::DEFAULT_REPORT_FILE));
            per_context.options.report = Some(per_cluster_path(&base, context));
        }
        eprintln!("DefectDojo, cluster {context}:");
        match push_and_link(
            &outcome.for_cluster(context),
            &[],
            &args.output,
            &per_context,
            &settings,
        ) {
            Some(pushed) => links.extend(pushed.test_url.map(|url| (Some(context.clone()), url))),
            None => all_pushed = false,
        }
    }
    Ok((!all_pushed).then_some(exit::ERROR))
}

/// `report.sarif` → `report-<cluster>.sarif`, so that the reports of several clusters do not
/// overwrite each other.
fn per_cluster_path(base: &Path, cluster: &str) -> PathBuf {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tollgate-defectdojo".into());
    let safe: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.with_file_name(format!("{stem}-{safe}.sarif"))
}
