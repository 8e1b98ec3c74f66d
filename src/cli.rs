//! Command-line interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::finding::Severity;
use crate::model::pod_security::Level;
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
    /// Audit live clusters (kube contexts or the in-cluster service account), read-only.
    Audit(Box<AuditArgs>),
    /// List the rules (built-in and from policies).
    Rules(RulesArgs),
    /// Show the documentation of a rule.
    Explain(ExplainArgs),
    /// Work with Rego policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Send an existing report somewhere.
    Push(Box<PushArgs>),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(subcommand)]
    pub target: PushTarget,
}

#[derive(Debug, Subcommand)]
pub enum PushTarget {
    /// Reimport a SARIF report into DefectDojo (what `--defectdojo` does after a run).
    Defectdojo(PushDefectDojoArgs),
}

#[derive(Debug, Args)]
pub struct PushDefectDojoArgs {
    /// The SARIF report (`tollgate scan --format sarif --output REPORT.sarif`).
    #[arg(value_name = "REPORT.sarif")]
    pub report: PathBuf,

    /// Configuration file (default: tollgate.yaml in the current directory or its parents).
    #[arg(long)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub options: DefectDojoOptions,
}

/// `--defectdojo` and its settings; `scan` and `audit` flatten it.
#[derive(Debug, Clone, Default, Args)]
pub struct DefectDojoArgs {
    /// Reimport this run's SARIF report into DefectDojo (token from $DEFECTDOJO_TOKEN, or the
    /// variable named by defectdojo.token_env).
    #[arg(long, help_heading = "DefectDojo")]
    pub defectdojo: bool,

    #[command(flatten)]
    pub options: DefectDojoOptions,
}

/// DefectDojo settings that override the `defectdojo:` block of the configuration. There is
/// deliberately no flag for the token: it comes from the environment only.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "DefectDojo")]
pub struct DefectDojoOptions {
    /// DefectDojo base URL (e.g. https://defectdojo.example.com).
    #[arg(long = "dd-url", id = "dd_url", value_name = "URL")]
    pub url: Option<String>,

    /// Product ("asset") the findings belong to; placeholders {cluster}, {repo}, {branch}.
    #[arg(
        long = "dd-product",
        id = "dd_product",
        alias = "product",
        value_name = "NAME"
    )]
    pub product: Option<String>,

    /// Engagement inside the product.
    #[arg(
        long = "dd-engagement",
        id = "dd_engagement",
        alias = "engagement",
        value_name = "NAME"
    )]
    pub engagement: Option<String>,

    /// Product type ("organization"), used when the product has to be created.
    #[arg(long = "dd-product-type", id = "dd_product_type", value_name = "NAME")]
    pub product_type: Option<String>,

    /// Title of the test that every run reimports into; keep it constant.
    #[arg(long = "dd-test-title", id = "dd_test_title", value_name = "TITLE")]
    pub test_title: Option<String>,

    /// Version recorded on the test (default: `git describe`).
    #[arg(long = "dd-version", id = "dd_version", value_name = "VERSION")]
    pub version: Option<String>,

    /// Branch or tag recorded on the test (default: from CI variables or git).
    #[arg(long = "dd-branch-tag", id = "dd_branch_tag", value_name = "REF")]
    pub branch_tag: Option<String>,

    /// Commit recorded on the test (default: from CI variables or git).
    #[arg(long = "dd-commit-hash", id = "dd_commit_hash", value_name = "SHA")]
    pub commit_hash: Option<String>,

    /// Build id recorded on the test (default: the CI pipeline or run id).
    #[arg(long = "dd-build-id", id = "dd_build_id", value_name = "ID")]
    pub build_id: Option<String>,

    /// PEM file of the CA that signed DefectDojo's certificate.
    #[arg(long = "dd-ca-cert", id = "dd_ca_cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify DefectDojo's TLS certificate (never do this outside a lab).
    #[arg(long = "dd-insecure", id = "dd_insecure")]
    pub insecure: bool,

    /// Where the pushed SARIF report is kept (default: the --output of a sarif report, else
    /// tollgate-defectdojo.sarif in the current directory).
    #[arg(long = "dd-report", id = "dd_report", value_name = "FILE")]
    pub report: Option<PathBuf>,
}

impl DefectDojoOptions {
    /// The long names of the flags given, for "needs --defectdojo" errors.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        for (set, name) in [
            (self.url.is_some(), "--dd-url"),
            (self.product.is_some(), "--dd-product"),
            (self.engagement.is_some(), "--dd-engagement"),
            (self.product_type.is_some(), "--dd-product-type"),
            (self.test_title.is_some(), "--dd-test-title"),
            (self.version.is_some(), "--dd-version"),
            (self.branch_tag.is_some(), "--dd-branch-tag"),
            (self.commit_hash.is_some(), "--dd-commit-hash"),
            (self.build_id.is_some(), "--dd-build-id"),
            (self.ca_cert.is_some(), "--dd-ca-cert"),
            (self.insecure, "--dd-insecure"),
            (self.report.is_some(), "--dd-report"),
        ] {
            if set {
                given.push(name);
            }
        }
        given
    }
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

    /// Evaluate the conftest rules of every package.
    #[arg(long)]
    pub all_namespaces: bool,

    /// Parse every policy file as Rego v0 (OPA before 1.0) instead of detecting it.
    #[arg(long)]
    pub rego_v0: bool,
}

/// `--namespace GLOB`: the conftest packages to evaluate. Separate from [`PolicyArgs`]
/// because `audit` has a `--namespace` of its own (Kubernetes namespaces).
#[derive(Debug, Args, Clone, Default)]
pub struct ConftestNamespaceArgs {
    /// conftest namespace (package glob) to evaluate (repeatable; default `rego.namespaces`
    /// of the configuration, else `main`).
    #[arg(long = "namespace", value_name = "GLOB")]
    pub namespace: Vec<String>,
}

impl PolicyArgs {
    /// The policy options, with the conftest namespaces given on the command line.
    pub fn options(&self, namespaces: &[String]) -> crate::rego::PolicyOptions {
        crate::rego::PolicyOptions {
            dirs: self.policy.clone(),
            default_policies: !self.no_default_policies,
            data_files: self.data.clone(),
            namespaces: namespaces.to_vec(),
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

    #[command(flatten)]
    pub conftest: ConftestNamespaceArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan; "-" reads standard input. Default: the current
    /// directory, unless --helm or --kustomize is given.
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

    /// Check images against these `trivy image --format json` reports instead of asking
    /// Harbor (offline `image-scan`).
    #[arg(long, value_name = "DIR")]
    pub trivy_reports: Option<PathBuf>,

    /// List the files skipped (inputs of builds: patches, generator files, values files) and
    /// why, on standard error.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    #[command(flatten)]
    pub policies: PolicyArgs,

    #[command(flatten)]
    pub conftest: ConftestNamespaceArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub defectdojo: DefectDojoArgs,

    // Last: its help heading applies to the options after it.
    #[command(flatten)]
    pub render: RenderArgs,
}

/// Rendering charts and kustomizations before scanning them.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Rendering")]
pub struct RenderArgs {
    /// Render the Helm chart in CHART_DIR with `helm template` and scan the result
    /// (repeatable). Findings are reported at `CHART_DIR/(helm template)` and name the template.
    #[arg(long, value_name = "CHART_DIR")]
    pub helm: Vec<PathBuf>,

    /// Values file for --helm (repeatable, in order).
    #[arg(long = "values", value_name = "FILE", requires = "helm")]
    pub values: Vec<PathBuf>,

    /// Value for --helm, as `helm template --set` takes it (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "helm")]
    pub set: Vec<String>,

    /// Release name for --helm (default: the chart directory's name).
    #[arg(long, value_name = "NAME", requires = "helm")]
    pub release: Option<String>,

    /// Release namespace for --helm; objects that name none are placed in it.
    #[arg(long, value_name = "NS", requires = "helm")]
    pub release_namespace: Option<String>,

    /// Render DIR with `kustomize build` (or `kubectl kustomize`) and scan the result
    /// (repeatable). Findings point at the source lines kustomize's origin annotations name
    /// (else at `DIR/(kustomize build)`; --verbose says why).
    #[arg(long, value_name = "DIR")]
    pub kustomize: Vec<PathBuf>,
}

impl RenderArgs {
    /// The directories to render, Helm charts first, each in command-line order.
    pub fn requests(&self) -> Vec<crate::source::render::RenderRequest> {
        use crate::source::render::{RenderKind, RenderRequest};
        let mut requests: Vec<RenderRequest> = Vec::new();
        let all = self
            .helm
            .iter()
            .map(|d| (RenderKind::Helm, d))
            .chain(self.kustomize.iter().map(|d| (RenderKind::Kustomize, d)));
        for (kind, dir) in all {
            let request = RenderRequest {
                kind,
                dir: dir.clone(),
            };
            if !requests.contains(&request) {
                requests.push(request);
            }
        }
        requests
    }

    pub fn helm_options(&self) -> crate::source::render::HelmOptions {
        crate::source::render::HelmOptions {
            values: self.values.clone(),
            set: self.set.clone(),
            release: self.release.clone(),
            namespace: self.release_namespace.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Kube context to audit (repeat for several; default: the current context). With
    /// --in-cluster, the name the cluster is reported as (default "in-cluster").
    #[arg(long = "context", value_name = "NAME")]
    pub contexts: Vec<String>,

    /// Audit every context of the kubeconfig.
    #[arg(long, conflicts_with_all = ["contexts", "in_cluster"])]
    pub all_contexts: bool,

    /// Use the service account of the pod tollgate runs in (the nightly CronJob).
    #[arg(long, conflicts_with = "kubeconfig")]
    pub in_cluster: bool,

    /// Kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Audit only these namespaces (comma-separated or repeated); cluster-scoped types other
    /// than the Namespaces themselves are then not read.
    #[arg(
        long = "namespace",
        short = 'n',
        value_delimiter = ',',
        value_name = "NS"
    )]
    pub namespaces: Vec<String>,

    /// Also audit Pods, ReplicaSets and Jobs that a controller owns.
    #[arg(long)]
    pub include_owned: bool,

    /// Compare the clusters with this GitOps repository (drift rules `drift-unmanaged`,
    /// `drift-out-of-band`); its tollgate.yaml is the audit's configuration.
    #[arg(long, value_name = "DIR")]
    pub gitops: Option<PathBuf>,

    /// Which cluster of the repository's `clusters:` a context is, when neither its name nor
    /// its API server says (repeatable).
    #[arg(
        long = "gitops-cluster",
        value_name = "CONTEXT=CLUSTER",
        requires = "gitops"
    )]
    pub gitops_clusters: Vec<String>,

    /// Configuration file (default: tollgate.yaml in the current directory or its parents).
    #[arg(long)]
    pub config: Option<PathBuf>,

    /// Deadline of each API request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// API requests in flight at once against one cluster.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub api_concurrency: u16,

    /// Check images against these `trivy image --format json` reports instead of asking
    /// Harbor (offline `image-scan`).
    #[arg(long, value_name = "DIR")]
    pub trivy_reports: Option<PathBuf>,

    #[command(flatten)]
    pub policies: PolicyArgs,

    /// conftest namespace (package glob) to evaluate (repeatable; `--namespace` of `scan`).
    #[arg(long = "rego-namespace", value_name = "GLOB")]
    pub rego_namespaces: Vec<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub defectdojo: DefectDojoArgs,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

/// Options every command that reports findings shares.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format; repeat with --output for several reports in one run.
    #[arg(long = "format", short = 'f', value_enum, value_name = "FMT")]
    pub formats: Vec<FormatArg>,

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

    /// Run only the rules of a Pod Security Standards level (restricted includes baseline),
    /// and `manifest-parse-error`; combined with --select, the rules in both.
    #[arg(long, value_enum, value_name = "PROFILE")]
    pub profile: Option<ProfileArg>,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Write every result to SARIF files, past what GitHub code scanning accepts (25,000
    /// results, 10 MB gzipped; by default the most severe are kept). For DefectDojo and
    /// other consumers that must see everything.
    #[arg(long)]
    pub no_sarif_limits: bool,

    /// Compare with an earlier tollgate report (JSON or SARIF): findings become new or
    /// unchanged, and the report's findings that are gone are listed as fixed. A missing file
    /// (the first run) is a warning.
    #[arg(long, value_name = "REPORT")]
    pub previous: Option<PathBuf>,

    /// After the run, send its summary to every channel under `notify:` in tollgate.yaml
    /// (Telegram, webhook). A failed notification is a warning; it never changes the exit code.
    #[arg(long)]
    pub notify: bool,
}

/// `--format`: the command line's names of the report formats ([`Format`], which knows no
/// clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Diagnostics with source snippets, grouped by file (the default).
    Human,
    /// tollgate's own JSON document, described field by field in `report::json`.
    Json,
    /// SARIF 2.1.0 for code scanning and DefectDojo.
    Sarif,
    /// GitLab Code Quality (`artifacts:reports:codequality`).
    Gitlab,
    /// JUnit XML: one test suite per rule, one test case per object it checked.
    Junit,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// One self-contained HTML page: charts, heatmap, a filterable table.
    Html,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Format {
        match arg {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Gitlab => Format::Gitlab,
            FormatArg::Junit => Format::Junit,
            FormatArg::Github => Format::Github,
            FormatArg::Html => Format::Html,
        }
    }
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

/// `--profile`: a Pod Security Standards level's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// host namespaces, privileged, capabilities, hostPath, host ports, AppArmor, SELinux,
    /// /proc mount, seccomp, sysctls, HostProcess.
    PssBaseline,
    /// Baseline plus volume types, privilege escalation, non-root, seccomp required,
    /// capabilities dropped.
    PssRestricted,
}

impl From<ProfileArg> for Level {
    fn from(arg: ProfileArg) -> Level {
        match arg {
            ProfileArg::PssBaseline => Level::Baseline,
            ProfileArg::PssRestricted => Level::Restricted,
        }
    }
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = RulesFormat::Table)]
    pub format: RulesFormat,

    /// List only the rules of a Pod Security Standards level (restricted includes baseline).
    #[arg(long, value_enum, value_name = "PROFILE")]
    pub profile: Option<ProfileArg>,

    /// Configuration file (for its `policies:`).
    #[arg(long)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub policies: PolicyArgs,

    #[command(flatten)]
    pub conftest: ConftestNamespaceArgs,
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
            pending = Some(args.formats[n].into());
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
    let mut seen: Vec<PathBuf> = Vec::new();
    for path in plans.iter().filter_map(|p| p.path.as_ref()) {
        // The same file for two reports: the second would overwrite the first.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let key = std::fs::canonicalize(&absolute).unwrap_or(absolute);
        if seen.contains(&key) {
            return Err(Error::usage(format!(
                "--output {} is given for two reports; give each report its own file",
                path.display()
            )));
        }
        seen.push(key);
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
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn two_reports_on_stdout_are_refused() {
        assert!(plans(&["--format", "json", "--format", "sarif"]).is_err());
    }
}
