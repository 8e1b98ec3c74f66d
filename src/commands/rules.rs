//! `tollgate rules`: the built-in rules and those of the loaded policies.

use crate::cli::{PolicyArgs, RulesArgs, RulesFormat};
use crate::commands::exit;
use crate::commands::output::write_stdout;
use crate::error::Error;
use crate::rego;
use crate::rules::{self, RuleInfo};
use crate::scan;

pub(crate) fn run(args: &RulesArgs) -> Result<u8, Error> {
    let infos = all_rules(
        args.config.as_deref(),
        &args.policies,
        &args.conftest.namespace,
    )?;
    let infos: Vec<RuleInfo> = match args.profile {
        Some(profile) => {
            let ids = rules::profile_rules(profile.into());
            infos
                .into_iter()
                .filter(|r| ids.contains(&r.id.as_str()))
                .collect()
        }
        None => infos,
    };
    print_rules(&infos, args.format)?;
    Ok(exit::OK)
}

/// Built-in rules, then the rules of the policies the configuration and arguments load.
pub(crate) fn all_rules(
    config: Option<&std::path::Path>,
    policies: &PolicyArgs,
    namespaces: &[String],
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
    let policies = rego::Policies::load(&policies.options(namespaces), &loaded, &root)?;
    infos.extend(policies.rule_infos());
    Ok(infos)
}

fn print_rules(infos: &[RuleInfo], format: RulesFormat) -> Result<(), Error> {
    let text = match format {
        RulesFormat::Json => {
            let mut t = serde_json::to_string_pretty(infos)
                .map_err(|e| Error::usage(format!("cannot write the rules as JSON: {e}")))?;
            t.push('\n');
            t
        }
        // Built-in rules by their one-line summary (the README's table), policies by the
        // first paragraph of their docs.
        RulesFormat::Markdown => rules::docs::markdown_table(infos.iter().map(|r| {
            let summary = match rules::find(&r.id) {
                Some(rule) if r.source == "builtin" => rule.meta().summary,
                _ => r.summary(),
            };
            (r.id.as_str(), r.severity, summary)
        })),
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
