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
pub mod report;
pub mod rules;
pub mod scan;
pub mod source;
pub mod suppress;
pub mod tls;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use clap::{CommandFactory, FromArgMatches};

use crate::audit::AuditOptions;
use crate::cli::{Cli, ColorChoice, Command, OutputArgs, OutputPlan, RulesFormat};
use crate::error::Error;
use crate::report::Report;
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
                config: args.config.clone(),
                select: args.output.select.clone(),
                ignore: args.output.ignore.clone(),
                jobs: args.output.jobs,
                inventory_root: args.inventory_root.clone(),
                baseline: args.output.baseline.clone(),
                write_baseline: args.output.write_baseline.clone(),
                stdin_filename: args.stdin_filename.clone(),
            };
            let outcome = scan::scan(&options, Vec::new())?;
            emit(&outcome, &plans, &args.output, cli.color)
        }
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
                config: args.config.clone(),
                select: args.output.select.clone(),
                ignore: args.output.ignore.clone(),
                jobs: args.output.jobs,
                baseline: args.output.baseline.clone(),
                write_baseline: args.output.write_baseline.clone(),
            };
            let outcome = audit::audit(&options, Vec::new())?;
            emit(&outcome, &plans, &args.output, cli.color)
        }
        Command::Rules(args) => {
            let infos: Vec<RuleInfo> = rules::REGISTRY
                .iter()
                .map(|r| RuleInfo::from_meta(r.meta()))
                .collect();
            print_rules(&infos, args.format)?;
            Ok(exit::OK)
        }
        Command::Explain { rule } => {
            let Some(found) = rules::find(rule) else {
                return Err(Error::usage(format!(
                    "no rule `{rule}`; `tollgate rules` lists them"
                )));
            };
            let info = RuleInfo::from_meta(found.meta());
            write_stdout(explain(&info).as_bytes())?;
            Ok(exit::OK)
        }
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
    for plan in plans {
        let report = Report {
            outcome,
            color: plan.path.is_none() && stdout_color,
            fail_on,
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
    if plans.iter().all(|p| p.path.is_some()) {
        // Reports went to files: say what happened on the terminal anyway.
        let report = Report {
            outcome,
            color: false,
            fail_on,
        };
        for notice in &outcome.notices {
            eprintln!("{notice}");
        }
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
