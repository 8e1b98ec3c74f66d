//! `tollgate scan`: the file pipeline, its reports, and the optional DefectDojo push.

use crate::cli::{self, Cli, ScanArgs};
use crate::commands::exit;
use crate::commands::output::emit;
use crate::commands::push::{defectdojo_settings, push_to_defectdojo, wants_defectdojo};
use crate::commands::run_options;
use crate::error::Error;
use crate::scan::{self, ScanOptions};
use crate::sink;

pub(crate) fn run(cli: &Cli, args: &ScanArgs, matches: &clap::ArgMatches) -> Result<u8, Error> {
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
    let outcome = scan::scan(&options, Vec::new())?;
    let code = emit(&outcome, &plans, &args.output, cli.color)?;
    match defectdojo {
        Some(settings) => Ok(
            if push_to_defectdojo(&outcome, &plans, &args.output, &args.defectdojo, &settings) {
                code
            } else {
                exit::ERROR
            },
        ),
        None => Ok(code),
    }
}
