//! tollgate: a fast, parallel policy and compliance scanner for Kubernetes platforms.
//!
//! The pipeline: sources ([`source`]) → objects and inventory ([`model`]) → rules
//! ([`rules`]) → findings ([`finding`]) → suppression ([`suppress`]) → reports ([`report`]).
//! [`scan`] ties it together; [`run`] is the command line.

pub mod audit;
pub mod cli;
pub mod config;
pub mod error;
pub mod finding;
pub mod model;
pub mod notice;
pub mod rego;
pub mod report;
pub mod rules;
pub mod scan;
pub mod sink;
pub mod source;
pub mod suppress;
pub mod tls;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches};

use crate::audit::AuditOptions;
use crate::cli::{
    Cli, ColorChoice, Command, DefectDojoArgs, OutputArgs, OutputPlan, PolicyArgs, PolicyCommand,
    PushTarget, RulesFormat,
};
use crate::error::Error;
use crate::report::{Format, Report};
use crate::rules::RuleInfo;
use crate::scan::{ScanOptions, ScanOutcome};
use crate::source::cluster::ClusterOptions;

/// Exit codes: nothing to report, findings at or above `--fail-on`, run not trustworthy.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FINDINGS: u8 = 1;
    pub const ERROR: u8 = 2;
}

/// Runs the command line and returns the exit code; errors are printed to stderr.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // Every HTTP client (DefectDojo, Harbor, kube) uses rustls with ring.
    tls::install_crypto_provider();
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::ERROR;
        }
    };
    tls::install_crypto_provider();
    match dispatch(&cli, &matches) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => exit::OK,
        Err(e) => {
            print_error(&e);
            exit::ERROR
        }
    }
}

/// Prints an error with its cause chain (and snippet, for configuration errors).
pub fn print_error(error: &Error) {
    let handler = miette::GraphicalReportHandler::new_themed(if io::stderr().is_terminal() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    });
    let mut text = String::new();
    if handler.render_report(&mut text, error).is_err() {
        text = format!("error: {error}\n");
    }
    let _ = io::stderr().write_all(text.as_bytes());
}

fn dispatch(cli: &Cli, matches: &clap::ArgMatches) -> Result<u8, Error> {
    match &cli.command {
        Command::Scan(args) => {
            let sub = matches.subcommand_matches("scan").expect("scan matched");
            let plans = cli::output_plans(sub, &args.output)?;
            let options = ScanOptions {
                paths: args.paths.clone(),
                inventory_root: args.inventory_root.clone(),
                stdin_filename: args.stdin_filename.clone(),
                renders: args.render.requests(),
                helm: args.render.helm_options(),
                run: run_options(
                    args.config.clone(),
                    &args.output,
                    &plans,
                    args.policies.options(&args.conftest.namespace),
                    args.trivy_reports.clone(),
                ),
            };
            // Settle DefectDojo's settings (server, token) before the work, so that a missing
            // token fails in a second rather than after the scan.
            let defectdojo = if wants_defectdojo(&args.defectdojo)? {
                let start = options.start();
                let loaded = scan::load_config(options.run.config.as_deref(), &start)?;
                Some(defectdojo_settings(
                    &args.defectdojo,
                    &loaded,
                    sink::defectdojo::Target {
                        kind: sink::defectdojo::RunKind::Scan,
                        cluster: None,
                        root: start,
                    },
                )?)
            } else {
                None
            };
            let outcome = scan::scan(&options, Vec::new())?;
            let code = emit(&outcome, &plans, &args.output, cli.color)?;
            match defectdojo {
                Some(settings) => Ok(
                    if push_to_defectdojo(
                        &outcome,
                        &plans,
                        &args.output,
                        &args.defectdojo,
                        &settings,
                    ) {
                        code
                    } else {
                        exit::ERROR
                    },
                ),
                None => Ok(code),
            }
        }
        Command::Push(args) => match &args.target {
            PushTarget::Defectdojo(push) => push_report_file(push),
        },
        Command::Audit(args) => {
            let sub = matches.subcommand_matches("audit").expect("audit matched");
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
                ),
            };
            let defectdojo = wants_defectdojo(&args.defectdojo)?;
            let outcome = audit::audit(&options, Vec::new())?;
            let code = emit(&outcome, &plans, &args.output, cli.color)?;
            if !defectdojo {
                return Ok(code);
            }
            // One reimport per cluster: each context is its own DefectDojo product (by
            // default), and its test must see exactly that cluster's findings.
            let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let loaded = scan::load_config(options.run.config.as_deref(), &root)?;
            let several = outcome.stats.contexts.len() > 1;
            let mut all_pushed = true;
            for context in &outcome.stats.contexts {
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
                    let base =
                        per_context.options.report.clone().unwrap_or_else(|| {
                            PathBuf::from(sink::defectdojo::DEFAULT_REPORT_FILE)
                        });
                    per_context.options.report = Some(per_cluster_path(&base, context));
                }
                eprintln!("DefectDojo, cluster {context}:");
                all_pushed &= push_to_defectdojo(
                    &outcome.for_cluster(context),
                    &[],
                    &args.output,
                    &per_context,
                    &settings,
                );
            }
            Ok(if all_pushed { code } else { exit::ERROR })
        }
        Command::Rules(args) => {
            let infos = all_rules(
                args.config.as_deref(),
                &args.policies,
                &args.conftest.namespace,
            )?;
            print_rules(&infos, args.format)?;
            Ok(exit::OK)
        }
        Command::Explain(args) => {
            let infos = all_rules(
                args.config.as_deref(),
                &args.policies,
                &args.conftest.namespace,
            )?;
            let Some(info) = infos.iter().find(|r| r.id == args.rule) else {
                return Err(Error::usage(format!(
                    "no rule `{}`; `tollgate rules` lists them",
                    args.rule
                )));
            };
            write_stdout(explain(info).as_bytes())?;
            Ok(exit::OK)
        }
        Command::Policy {
            command: PolicyCommand::Test(args),
        } => policy_test(args),
    }
}

/// True when `--defectdojo` is given; the `--dd-*` flags without it are a usage error.
pub fn wants_defectdojo(args: &DefectDojoArgs) -> Result<bool, Error> {
    if args.defectdojo {
        return Ok(true);
    }
    let given = args.options.given();
    if given.is_empty() {
        Ok(false)
    } else {
        Err(Error::usage(format!(
            "{} only apply with --defectdojo",
            given.join(", ")
        )))
    }
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

/// DefectDojo settings from the flags, the loaded configuration and the environment.
pub fn defectdojo_settings(
    args: &DefectDojoArgs,
    loaded: &config::LoadedConfig,
    target: sink::defectdojo::Target,
) -> Result<sink::defectdojo::Settings, Error> {
    sink::defectdojo::resolve(
        &args.options,
        loaded.config.defectdojo.as_ref(),
        loaded.base_dir(),
        &target,
        &|name| std::env::var(name).ok(),
    )
}

/// Keeps the run's SARIF report on disk and reimports it into DefectDojo; prints the server's
/// answer, or why it failed and where the report is. False means exit code 2 (the reason is
/// printed already). `scan` and `audit` share it.
pub fn push_to_defectdojo(
    outcome: &ScanOutcome,
    plans: &[OutputPlan],
    output: &OutputArgs,
    args: &DefectDojoArgs,
    settings: &sink::defectdojo::Settings,
) -> bool {
    // The SARIF --output of this run, when there is one, is the same report: keep that. Unless
    // it was cut to GitHub's limits: what is pushed (and kept) is always the whole report.
    let sarif = sink::defectdojo::sarif_bytes(outcome, output.fail_on.0);
    let written = plans
        .iter()
        .find(|p| p.format == Format::Sarif && p.path.is_some())
        .and_then(|p| p.path.clone())
        .filter(|path| std::fs::read(path).ok().as_deref() == Some(sarif.as_slice()));
    let (keep, already_written) = match (&args.options.report, written) {
        (Some(path), _) => (path.clone(), false),
        (None, Some(path)) => (path, true),
        (None, None) => (PathBuf::from(sink::defectdojo::DEFAULT_REPORT_FILE), false),
    };
    match sink::defectdojo::push_run(outcome, &sarif, settings, &keep, already_written) {
        Ok((result, kept)) => {
            eprintln!("{}", result.summary(settings));
            eprintln!("  report: {}", kept.display());
            true
        }
        Err(failure) => {
            print_error(&failure.error);
            print_kept(failure.kept.as_deref(), failure.push_later);
            false
        }
    }
}

fn print_kept(kept: Option<&Path>, push_later: bool) {
    match kept {
        Some(path) if push_later => eprintln!(
            "The report is kept at {}; push it again with `tollgate push defectdojo {}`.",
            path.display(),
            path.display()
        ),
        Some(path) => eprintln!("The report is kept at {}.", path.display()),
        None => eprintln!("The report could not be kept on disk."),
    }
}

/// `tollgate push defectdojo REPORT.sarif`
fn push_report_file(args: &cli::PushDefectDojoArgs) -> Result<u8, Error> {
    if args.options.report.is_some() {
        return Err(Error::usage(
            "--dd-report names where a run keeps its report; `push` sends the report it is given",
        ));
    }
    let bytes = std::fs::read(&args.report).map_err(|source| Error::Io {
        path: args.report.clone(),
        source,
    })?;
    let facts = sink::defectdojo::inspect_sarif(&bytes).map_err(|problem| {
        Error::usage(format!(
            "{} cannot go to DefectDojo: {problem}",
            args.report.display()
        ))
    })?;
    let cwd = PathBuf::from(".");
    let loaded = scan::load_config(args.config.as_deref(), &cwd)?;
    let cluster = match facts.clusters.len() {
        0 => None,
        1 => facts.clusters.first().cloned(),
        _ => {
            return Err(Error::usage(format!(
                "{} holds findings of several clusters ({}); push one report per cluster",
                args.report.display(),
                facts
                    .clusters
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let kind = if cluster.is_some() {
        sink::defectdojo::RunKind::Audit
    } else {
        sink::defectdojo::RunKind::Scan
    };
    let dd_args = DefectDojoArgs {
        defectdojo: true,
        options: args.options.clone(),
    };
    let settings = defectdojo_settings(
        &dd_args,
        &loaded,
        sink::defectdojo::Target {
            kind,
            cluster,
            root: cwd,
        },
    )?;
    let file_name = args
        .report
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sarif"))
        .unwrap_or_else(|| "tollgate.sarif".to_string());
    match sink::defectdojo::push(&bytes, &file_name, &settings) {
        Ok(result) => {
            eprintln!("{}", result.summary(&settings));
            Ok(exit::OK)
        }
        Err(e) => {
            print_error(&Error::Diagnostic(Box::new(e)));
            print_kept(Some(&args.report), true);
            Ok(exit::ERROR)
        }
    }
}

/// Built-in rules, then the rules of the policies the configuration and arguments load.
fn all_rules(
    config: Option<&std::path::Path>,
    policies: &PolicyArgs,
    namespaces: &[String],
) -> Result<Vec<RuleInfo>, Error> {
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let loaded = scan::load_config(config, &root)?;
    let mut infos: Vec<RuleInfo> = rules::REGISTRY
        .iter()
        .map(|r| RuleInfo::from_meta(r.meta()))
        .collect();
    let policies = rego::Policies::load(&policies.options(namespaces), &loaded, &root)?;
    infos.extend(policies.rule_infos());
    Ok(infos)
}

/// `tollgate policy test`: one line per test, a summary, exit 1 when any fails.
fn policy_test(args: &cli::PolicyTestArgs) -> Result<u8, Error> {
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let run = args
        .run
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| Error::usage(format!("--run: {e}")))?;
    let options = rego::testing::TestOptions {
        paths: args.paths.clone(),
        data_files: args.data.clone(),
        rego_v0: args.rego_v0,
        run,
        timeout: args.timeout,
    };
    let results = rego::testing::run(&options, &root)?;
    let mut text = String::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for r in &results {
        let (label, detail) = match &r.outcome {
            rego::testing::Outcome::Pass => {
                passed += 1;
                ("PASS ", None)
            }
            rego::testing::Outcome::Fail(why) => {
                failed += 1;
                ("FAIL ", Some(why))
            }
            rego::testing::Outcome::Error(why) => {
                failed += 1;
                ("ERROR", Some(why))
            }
            rego::testing::Outcome::Skip(why) => {
                skipped += 1;
                ("SKIP ", Some(why))
            }
        };
        if matches!(r.outcome, rego::testing::Outcome::Skip(_)) {
            text.push_str(&format!("{label} {} ({})\n", r.name, r.file));
        } else {
            text.push_str(&format!(
                "{label} {} ({}, {:.1?})\n",
                r.name, r.file, r.duration
            ));
        }
        if let Some(detail) = detail {
            text.push_str(&format!("      {detail}\n"));
        }
    }
    text.push_str(&format!(
        "{}\nPASS: {passed}/{}{}{}\n",
        "-".repeat(72),
        passed + failed,
        if failed > 0 {
            format!(", FAIL: {failed}")
        } else {
            String::new()
        },
        if skipped > 0 {
            format!(", SKIP: {skipped}")
        } else {
            String::new()
        }
    ));
    if results.is_empty() {
        text = "no tests found\n".to_string();
    }
    write_stdout(text.as_bytes())?;
    Ok(if failed > 0 { exit::FINDINGS } else { exit::OK })
}

/// The options `scan` and `audit` share, from their arguments.
fn run_options(
    config: Option<PathBuf>,
    output: &OutputArgs,
    plans: &[OutputPlan],
    policy: rego::PolicyOptions,
    trivy_reports: Option<PathBuf>,
) -> scan::RunOptions {
    scan::RunOptions {
        config,
        select: output.select.clone(),
        ignore: output.ignore.clone(),
        jobs: output.jobs,
        baseline: output.baseline.clone(),
        write_baseline: output.write_baseline.clone(),
        policy,
        trivy_reports,
        record_checks: plans.iter().any(|p| p.format == Format::Junit),
        now: None,
    }
}

/// Writes every planned report and returns the exit code the outcome deserves.
pub fn emit(
    outcome: &ScanOutcome,
    plans: &[OutputPlan],
    args: &OutputArgs,
    color: ColorChoice,
) -> Result<u8, Error> {
    let stdout_color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let fail_on = args.fail_on.0;
    let sarif_limits = (!args.no_sarif_limits).then_some(report::sarif::Limits::GITHUB);
    for plan in plans {
        let report = Report {
            outcome,
            color: plan.path.is_none() && stdout_color,
            fail_on,
            sarif_limits,
        };
        match &plan.path {
            Some(path) => {
                let file = File::create(path).map_err(|source| Error::Output {
                    path: path.clone(),
                    source,
                })?;
                let mut out = BufWriter::new(file);
                report::write(plan.format, &report, &mut out)
                    .and_then(|()| out.flush())
                    .map_err(|source| Error::Output {
                        path: path.clone(),
                        source,
                    })?;
            }
            None => {
                let stdout = io::stdout();
                let mut out = BufWriter::new(stdout.lock());
                report::write(plan.format, &report, &mut out)
                    .and_then(|()| out.flush())
                    .map_err(|source| Error::Output {
                        path: "<stdout>".into(),
                        source,
                    })?;
            }
        }
    }
    // The human report carries the run's warnings and errors; when none goes to standard
    // output, they go to standard error, so that no format hides them.
    let human_on_stdout = plans.iter().any(|p| {
        p.path.is_none() && matches!(p.format, report::Format::Human | report::Format::Github)
    });
    if !human_on_stdout {
        for notice in &outcome.notices {
            eprintln!("{notice}");
        }
    }
    if plans.iter().all(|p| p.path.is_some()) {
        // Reports went to files: say what happened on the terminal anyway.
        let report = Report {
            outcome,
            color: false,
            fail_on,
            sarif_limits,
        };
        eprintln!("{}", report::human::summary(&report));
    }
    Ok(if outcome.has_errors() {
        exit::ERROR
    } else if outcome.fails(fail_on) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| Error::Output {
            path: "<stdout>".into(),
            source,
        })
}

/// `tollgate explain` text.
pub fn explain(info: &RuleInfo) -> String {
    let mut text = format!(
        "{} — {}\n\nSeverity: {}",
        info.id, info.title, info.severity
    );
    if !info.tags.is_empty() {
        text.push_str(&format!(". Tags: {}", info.tags.join(", ")));
    }
    text.push_str(&format!(
        ".\nSuppress on an object with the annotation `{}{}: \"<reason>\"`.\n\n{}\n",
        suppress::IGNORE_ANNOTATION_PREFIX,
        info.id,
        info.doc.trim()
    ));
    text
}

fn print_rules(infos: &[RuleInfo], format: RulesFormat) -> Result<(), Error> {
    let text = match format {
        RulesFormat::Json => {
            let mut t = serde_json::to_string_pretty(infos).expect("rules serialise");
            t.push('\n');
            t
        }
        RulesFormat::Markdown => {
            let mut t = String::from("| id | severity | what it reports |\n|---|---|---|\n");
            for r in infos {
                t.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    r.id,
                    r.severity,
                    r.summary().replace('\n', " ").replace('|', "\\|")
                ));
            }
            t
        }
        RulesFormat::Table => {
            let width = infos.iter().map(|r| r.id.len()).max().unwrap_or(2);
            let mut t = format!("{:width$}  {:8}  TITLE\n", "ID", "SEVERITY");
            for r in infos {
                t.push_str(&format!(
                    "{:width$}  {:8}  {}\n",
                    r.id,
                    r.severity.as_str(),
                    r.title
                ));
            }
            t
        }
    };
    write_stdout(text.as_bytes())
}
