//! Command-line interface.

use std::path::PathBuf;

use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::finding::Severity;
use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Policy and compliance scanner for Kubernetes platforms",
    long_about = "Checks rendered manifests and live clusters against built-in rules and Rego \
                  policies: backups, secrets, registries, resources, environment isolation and \
                  workload hygiene. Findings point at file:line and go to the terminal, SARIF, \
                  JSON and DefectDojo."
)]
pub struct Cli {
    /// When to use colours on the terminal.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan manifest files and directories ("-" reads standard input).
    Scan(Box<ScanArgs>),
    /// List the rules (built-in and from policies).
    Rules(RulesArgs),
    /// Show the documentation of a rule.
    Explain(ExplainArgs),
    /// Work with Rego policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run Rego unit tests (`test_*` rules, like `opa test`) and Gatekeeper suites
    /// (`suite.yaml`, like `gator verify`). Without DIR, tests the shipped policies.
    Test(PolicyTestArgs),
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// Directories or files with policies and their tests.
    pub paths: Vec<PathBuf>,

    /// JSON or YAML document merged into `data` (repeatable).
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,

    /// Parse every policy file as Rego v0 (OPA before 1.0).
    #[arg(long)]
    pub rego_v0: bool,

    /// Run only the tests whose name matches this regular expression.
    #[arg(long, short = 'r', value_name = "REGEX")]
    pub run: Option<String>,

    /// Time limit of one test.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub timeout: std::time::Duration,
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(text)
}

/// Options that choose the Rego policies of a run.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// Directory or file of Rego policies, ConstraintTemplates and constraints (repeatable;
    /// added to `policies:` of the configuration).
    #[arg(long = "policy", value_name = "DIR")]
    pub policy: Vec<PathBuf>,

    /// Do not load the policies shipped with tollgate.
    #[arg(long)]
    pub no_default_policies: bool,

    /// JSON or YAML document merged into Rego's `data` (repeatable).
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,

    /// conftest namespace (package glob) to evaluate (repeatable; default `rego.namespaces`
    /// of the configuration, else `main`).
    #[arg(long = "namespace", value_name = "GLOB")]
    pub namespace: Vec<String>,

    /// Evaluate the conftest rules of every package.
    #[arg(long)]
    pub all_namespaces: bool,

    /// Parse every policy file as Rego v0 (OPA before 1.0) instead of detecting it.
    #[arg(long)]
    pub rego_v0: bool,
}

impl PolicyArgs {
    pub fn options(&self) -> crate::rego::PolicyOptions {
        crate::rego::PolicyOptions {
            dirs: self.policy.clone(),
            default_policies: !self.no_default_policies,
            data_files: self.data.clone(),
            namespaces: self.namespace.clone(),
            all_namespaces: self.all_namespaces,
            rego_v0: self.rego_v0,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule id, e.g. image-pinned.
    pub rule: String,

    /// Configuration file (for its `policies:`).
    #[arg(long)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub policies: PolicyArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan; "-" reads standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Configuration file (default: tollgate.yaml in the scan root or its parents).
    #[arg(long)]
    pub config: Option<PathBuf>,

    /// Build the inventory from DIR but report only on PATHs (what the pre-commit hook uses).
    #[arg(long, value_name = "DIR")]
    pub inventory_root: Option<PathBuf>,

    /// Name reported for standard input (also used for path-based environments).
    #[arg(long, value_name = "PATH")]
    pub stdin_filename: Option<String>,

    #[command(flatten)]
    pub policies: PolicyArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options every command that reports findings shares.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format; repeat with --output for several reports in one run.
    #[arg(long = "format", short = 'f', value_enum, value_name = "FMT")]
    pub formats: Vec<Format>,

    /// Write the report of the preceding --format to FILE instead of standard output.
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    pub outputs: Vec<PathBuf>,

    /// Exit with 1 when an unsuppressed finding is at or above this severity ("never" to
    /// always exit 0 on findings).
    #[arg(long, value_name = "SEVERITY", default_value = "medium", value_parser = parse_fail_on)]
    pub fail_on: FailOn,

    /// Suppress the findings whose fingerprints this baseline file lists.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the fingerprints of this run's findings to FILE.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Run only these rules (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub select: Vec<String>,

    /// Do not run these rules (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub ignore: Vec<String>,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

/// `--fail-on`: a severity, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailOn(pub Option<Severity>);

fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    match text {
        "never" | "none" => Ok(FailOn(None)),
        other => other.parse::<Severity>().map(|s| FailOn(Some(s))),
    }
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Table)]
    pub format: RulesFormat,

    /// Configuration file (for its `policies:`).
    #[arg(long)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub policies: PolicyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Table,
    Markdown,
    Json,
}

/// Where one report goes: a file, or standard output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPlan {
    pub format: Format,
    pub path: Option<PathBuf>,
}

/// Pairs each `--output` with the `--format` before it, in command-line order. An output
/// without a format takes it from its extension (`.sarif`, `.json`), else `human`; a format
/// without an output goes to standard output, which only one report may use.
pub fn output_plans(matches: &ArgMatches, args: &OutputArgs) -> Result<Vec<OutputPlan>, Error> {
    let format_at: Vec<usize> = matches
        .indices_of("formats")
        .map(|i| i.collect())
        .unwrap_or_default();
    let output_at: Vec<usize> = matches
        .indices_of("outputs")
        .map(|i| i.collect())
        .unwrap_or_default();
    let mut events: Vec<(usize, bool, usize)> = format_at
        .iter()
        .enumerate()
        .map(|(n, &at)| (at, true, n))
        .chain(output_at.iter().enumerate().map(|(n, &at)| (at, false, n)))
        .collect();
    events.sort();
    let mut plans = Vec::new();
    let mut pending: Option<Format> = None;
    for (_, is_format, n) in events {
        if is_format {
            if let Some(previous) = pending.take() {
                plans.push(OutputPlan {
                    format: previous,
                    path: None,
                });
            }
            pending = Some(args.formats[n]);
        } else {
            let path = args.outputs[n].clone();
            let format = pending
                .take()
                .or_else(|| Format::from_extension(&path))
                .unwrap_or(Format::Human);
            plans.push(OutputPlan {
                format,
                path: Some(path),
            });
        }
    }
    if let Some(format) = pending {
        plans.push(OutputPlan { format, path: None });
    }
    if plans.is_empty() {
        plans.push(OutputPlan {
            format: Format::Human,
            path: None,
        });
    }
    if plans.iter().filter(|p| p.path.is_none()).count() > 1 {
        return Err(Error::usage(
            "more than one --format would go to standard output; give all but one an --output FILE",
        ));
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn plans(args: &[&str]) -> Result<Vec<OutputPlan>, Error> {
        let matches = Cli::command()
            .try_get_matches_from(["tollgate", "scan"].iter().chain(args))
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let Command::Scan(scan) = cli.command else {
            unreachable!()
        };
        output_plans(matches.subcommand_matches("scan").unwrap(), &scan.output)
    }

    #[test]
    fn formats_pair_with_the_following_output() {
        let p = plans(&[
            "--format", "sarif", "--output", "a.sarif", "--format", "human", "--format", "json",
            "-o", "r.json",
        ])
        .unwrap();
        assert_eq!(
            p,
            vec![
                OutputPlan {
                    format: Format::Sarif,
                    path: Some("a.sarif".into())
                },
                OutputPlan {
                    format: Format::Human,
                    path: None
                },
                OutputPlan {
                    format: Format::Json,
                    path: Some("r.json".into())
                },
            ]
        );
    }

    #[test]
    fn outputs_alone_take_the_format_of_their_extension() {
        let p = plans(&["-o", "x.sarif"]).unwrap();
        assert_eq!(p[0].format, Format::Sarif);
        assert_eq!(
            plans(&[]).unwrap(),
            vec![OutputPlan {
                format: Format::Human,
                path: None
            }]
        );
    }

    #[test]
    fn two_reports_on_stdout_are_refused() {
        assert!(plans(&["--format", "json", "--format", "sarif"]).is_err());
    }
}
