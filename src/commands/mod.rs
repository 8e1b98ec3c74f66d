//! The command line: parse, dispatch to one module per command, print errors. Only this
//! layer and [`crate::cli`] know clap.

pub mod audit;
pub mod explain;
mod morning;
pub mod output;
pub mod policy_test;
pub mod push;
pub mod rules;
pub mod scan;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, OutputArgs, OutputPlan, PolicyCommand, PushTarget};
use crate::error::Error;
use crate::report::Format;
use crate::{rego, tls};

pub use explain::explain;
pub use output::{emit, exit};
pub use push::{defectdojo_settings, push_to_defectdojo, wants_defectdojo};

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
    if handler
        .render_report(&mut text, &Deduplicated::new(error))
        .is_err()
    {
        text = format!("error: {error}\n");
    }
    let _ = io::stderr().write_all(text.as_bytes());
}

/// An error as [`print_error`] shows it: itself, then the causes that say something new.
/// Many errors (kube's kubeconfig errors, io wrappers) repeat their source in their own
/// message; those repeats are left out, as `cluster::chain` does for cluster errors.
#[derive(Debug)]
struct Deduplicated<'a> {
    error: &'a Error,
    causes: Option<Box<Cause>>,
}

/// One cause of the chain, by its text.
#[derive(Debug)]
struct Cause {
    text: String,
    next: Option<Box<Cause>>,
}

impl<'a> Deduplicated<'a> {
    fn new(error: &'a Error) -> Deduplicated<'a> {
        let mut shown = error.to_string();
        let mut texts = Vec::new();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.contains(&text) {
                shown = text.clone();
                texts.push(text);
            }
            source = cause.source();
        }
        let causes = texts
            .into_iter()
            .rev()
            .fold(None, |next, text| Some(Box::new(Cause { text, next })));
        Deduplicated { error, causes }
    }
}

impl std::fmt::Display for Deduplicated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Deduplicated<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.causes.as_deref().map(|cause| cause as _)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.next.as_deref().map(|cause| cause as _)
    }
}

impl miette::Diagnostic for Deduplicated<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.error.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.error.severity()
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.error.help()
    }
    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.error.url()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.error.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.error.labels()
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        self.error.related()
    }
}

fn dispatch(cli: &Cli, matches: &clap::ArgMatches) -> Result<u8, Error> {
    match &cli.command {
        Command::Scan(args) => scan::run(cli, args, matches),
        Command::Push(args) => match &args.target {
            PushTarget::Defectdojo(push) => push::push_report_file(push),
        },
        Command::Audit(args) => audit::run(cli, args, matches),
        Command::Rules(args) => rules::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Policy {
            command: PolicyCommand::Test(args),
        } => policy_test::policy_test(args),
    }
}

/// The options `scan` and `audit` share, from their arguments.
pub(crate) fn run_options(
    config: Option<PathBuf>,
    output: &OutputArgs,
    plans: &[OutputPlan],
    policy: rego::PolicyOptions,
    trivy_reports: Option<PathBuf>,
) -> Result<crate::engine::RunOptions, Error> {
    Ok(crate::engine::RunOptions {
        config,
        select: profile_selection(output)?,
        ignore: output.ignore.clone(),
        jobs: output.jobs,
        baseline: output.baseline.clone(),
        write_baseline: output.write_baseline.clone(),
        policy,
        trivy_reports,
        record_checks: plans.iter().any(|p| p.format == Format::Junit),
        now: None,
        outputs: plans.iter().filter_map(|p| p.path.clone()).collect(),
    })
}

/// `--select` narrowed to a `--profile`: the profile's rules (and `manifest-parse-error`, so
/// that an unreadable file is not a silent pass), or those of `--select` among them.
fn profile_selection(output: &OutputArgs) -> Result<Vec<String>, Error> {
    let Some(profile) = output.profile else {
        return Ok(output.select.clone());
    };
    let mut ids = crate::rules::profile_rules(profile.into());
    ids.push("manifest-parse-error");
    if output.select.is_empty() {
        return Ok(ids.into_iter().map(str::to_string).collect());
    }
    let both: Vec<String> = output
        .select
        .iter()
        .filter(|id| ids.contains(&id.as_str()))
        .cloned()
        .collect();
    if both.is_empty() {
        return Err(Error::usage(format!(
            "none of the --select rules is in --profile {}",
            output
                .profile
                .and_then(|p| clap::ValueEnum::to_possible_value(&p))
                .map_or_else(String::new, |v| v.get_name().to_string())
        )));
    }
    Ok(both)
}
