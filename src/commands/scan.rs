//! `tollgate scan`: the file pipeline, its reports, and the optional DefectDojo push.

use crate::cli::{self, Cli, ScanArgs};
use crate::commands::exit;
use crate::commands::morning;
use crate::commands::output::emit;
use crate::commands::push::{defectdojo_settings, push_and_link, wants_defectdojo};
use crate::commands::run_options;
use crate::error::Error;
use crate::scan::{self, ScanOptions};
use crate::sink;

pub(crate) fn run(cli: &Cli, args: &ScanArgs, matches: &clap::ArgMatches) -> Result<u8, Error> {
    let sub = matches
        .subcommand_matches("scan")
        .ok_or_else(|| Error::usage("internal: `scan` dispatched without its arguments"))?;
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
        )?,
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
    let notify = morning::notify_config(
        &args.output,
        options.run.config.as_deref(),
        &options.start(),
    )?;
    let mut outcome = scan::scan(&options, Vec::new())?;
    if args.verbose {
        for (path, reason) in &outcome.stats.skipped {
            eprintln!("skipped {path}: {reason}");
        }
        for (stream, why) in &outcome.stats.unmapped {
            eprintln!("reported at {stream}, not at its source: {why}");
        }
    }
    morning::compare(&mut outcome, &args.output, false);
    let mut code = emit(&outcome, &plans, &args.output, cli.color)?;
    let mut links = Vec::new();
    if let Some(settings) = defectdojo {
        match push_and_link(&outcome, &plans, &args.output, &args.defectdojo, &settings) {
            Some(pushed) => links.extend(pushed.test_url.map(|url| (None, url))),
            None => code = exit::ERROR,
        }
    }
    if let Some(config) = &notify {
        morning::notify(&outcome, config, &links, false);
    }
    Ok(code)
}
