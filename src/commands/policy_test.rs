//! `tollgate policy test`: Rego unit tests and Gatekeeper suites.

use crate::cli;
use crate::commands::exit;
use crate::commands::output::write_stdout;
use crate::error::Error;
use crate::rego;

/// `tollgate policy test`: one line per test, a summary, exit 1 when any fails.
pub(crate) fn policy_test(args: &cli::PolicyTestArgs) -> Result<u8, Error> {
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
