//! Report writing and exit codes, shared by the commands that report findings.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use crate::cli::{ColorChoice, OutputArgs, OutputPlan};
use crate::error::Error;
use crate::outcome::ScanOutcome;
use crate::report::{self, Report};

/// Exit codes: nothing to report, findings at or above `--fail-on`, run not trustworthy.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FINDINGS: u8 = 1;
    pub const ERROR: u8 = 2;
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
            eprintln!("{}", report::printable(&notice.to_string()));
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
        eprintln!("{}", report::printable(&report::human::summary(&report)));
    }
    Ok(if outcome.has_errors() {
        exit::ERROR
    } else if outcome.fails(fail_on) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| Error::Output {
            path: "<stdout>".into(),
            source,
        })
}
