//! DefectDojo: `--defectdojo` after `scan` and `audit`, and `tollgate push defectdojo`.

use std::path::{Path, PathBuf};

use crate::cli::{self, DefectDojoArgs, DefectDojoOptions, OutputArgs, OutputPlan};
use crate::commands::{exit, print_error};
use crate::config;
use crate::error::Error;
use crate::outcome::ScanOutcome;
use crate::report::Format;
use crate::scan;
use crate::sink;

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

/// DefectDojo settings from the flags, the loaded configuration and the environment.
pub fn defectdojo_settings(
    args: &DefectDojoArgs,
    loaded: &config::LoadedConfig,
    target: sink::defectdojo::Target,
) -> Result<sink::defectdojo::Settings, Error> {
    sink::defectdojo::resolve(
        &overrides(&args.options),
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
    push_and_link(outcome, plans, output, args, settings).is_some()
}

/// A successful push: the DefectDojo test it went to, when the server said.
pub struct Pushed {
    pub test_url: Option<String>,
}

/// [`push_to_defectdojo`], keeping where the findings went (for `--notify`); None when the
/// push failed.
pub fn push_and_link(
    outcome: &ScanOutcome,
    plans: &[OutputPlan],
    output: &OutputArgs,
    args: &DefectDojoArgs,
    settings: &sink::defectdojo::Settings,
) -> Option<Pushed> {
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
            Some(Pushed {
                test_url: result.test().map(|id| settings.test_url(id)),
            })
        }
        Err(failure) => {
            print_error(&failure.error);
            print_kept(failure.kept.as_deref(), failure.push_later);
            None
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
pub(crate) fn push_report_file(args: &cli::PushDefectDojoArgs) -> Result<u8, Error> {
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

/// The library's DefectDojo overrides, from the `--dd-*` flags.
fn overrides(options: &DefectDojoOptions) -> sink::defectdojo::Overrides {
    sink::defectdojo::Overrides {
        url: options.url.clone(),
        product: options.product.clone(),
        engagement: options.engagement.clone(),
        product_type: options.product_type.clone(),
        test_title: options.test_title.clone(),
        version: options.version.clone(),
        branch_tag: options.branch_tag.clone(),
        commit_hash: options.commit_hash.clone(),
        build_id: options.build_id.clone(),
        ca_cert: options.ca_cert.clone(),
        insecure: options.insecure,
    }
}
