//! `tollgate explain RULE`: a rule's documentation.

use crate::cli::ExplainArgs;
use crate::commands::exit;
use crate::commands::output::write_stdout;
use crate::commands::rules::all_rules;
use crate::error::Error;
use crate::rules::RuleInfo;
use crate::suppress;

pub(crate) fn run(args: &ExplainArgs) -> Result<u8, Error> {
    let infos = all_rules(
        args.config.as_deref(),
        &args.policies,
        &args.conftest.namespace,
    )?;
    let Some(info) = infos.iter().find(|r| r.id == args.rule) else {
        return Err(Error::usage(format!(
            "no rule `{}`; `tollgate rules` lists them",
            args.rule
        )));
    };
    write_stdout(explain(info).as_bytes())?;
    Ok(exit::OK)
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
