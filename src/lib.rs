//! tollgate: a fast, parallel policy and compliance scanner for Kubernetes platforms.
//!
//! The pipeline: sources ([`source`]) → objects and inventory ([`model`]) → rules
//! ([`rules`]) → findings ([`finding`]) → suppression ([`suppress`]) → reports ([`report`]).
//! [`scan`] ties it together; [`run`] is the command line.

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
pub mod source;
pub mod suppress;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{
    Cli, ColorChoice, Command, OutputArgs, OutputPlan, PolicyArgs, PolicyCommand, RulesFormat,
};
use crate::error::Error;
use crate::report::Report;
use crate::rules::RuleInfo;
use crate::scan::{ScanOptions, ScanOutcome};

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
                policy: args.policies.options(),
            };
            let outcome = scan::scan(&options, Vec::new())?;
            emit(&outcome, &plans, &args.output, cli.color)
        }
        Command::Rules(args) => {
            let infos = all_rules(args.config.as_deref(), &args.policies)?;
            print_rules(&infos, args.format)?;
            Ok(exit::OK)
        }
        Command::Explain(args) => {
            let infos = all_rules(args.config.as_deref(), &args.policies)?;
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

/// Built-in rules, then the rules of the policies the configuration and arguments load.
fn all_rules(
    config: Option<&std::path::Path>,
    policies: &PolicyArgs,
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
    let policies = rego::Policies::load(&policies.options(), &loaded, &root)?;
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
