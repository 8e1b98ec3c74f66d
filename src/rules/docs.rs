//! Rule tables of the README and `docs/`, written from the registry.
//!
//! A document holds a generated table between two markers:
//!
//! ```text
//! <!-- rules-table: all -->             every built-in rule, in registry order
//! <!-- rules-table: plain-secret env-placement -->   these rules, in this order
//! | id | severity | what it reports |
//! …
//! <!-- /rules-table -->
//! ```
//!
//! [`rewrite_tables`] rewrites what is between them; a test fails when a document differs
//! from its rewrite (`TOLLGATE_BLESS=1` writes it).

use crate::finding::Severity;
use crate::rules::{REGISTRY, RuleMeta, find};

const OPEN: &str = "<!-- rules-table:";
const CLOSE: &str = "<!-- /rules-table -->";

/// A Markdown table of rules: id, default severity and one line of what it reports.
pub fn markdown_table<'a>(rows: impl IntoIterator<Item = (&'a str, Severity, &'a str)>) -> String {
    let mut table = String::from("| id | severity | what it reports |\n|---|---|---|\n");
    for (id, severity, summary) in rows {
        table.push_str(&format!(
            "| `{id}` | {severity} | {} |\n",
            summary.replace('\n', " ").replace('|', "\\|")
        ));
    }
    table
}

/// The table of built-in rules, all of them or those named.
fn table_of(metas: &[&'static RuleMeta]) -> String {
    markdown_table(metas.iter().map(|m| (m.id, m.severity, m.summary)))
}

/// `text` with every generated table rewritten from the registry; an error names a marker
/// without its end or a rule that does not exist.
pub fn rewrite_tables(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let marker_end = rest[start..]
            .find("-->")
            .map(|i| start + i + 3)
            .ok_or("a rules-table marker is not closed")?;
        let names = rest[start + OPEN.len()..marker_end - 3].trim();
        let metas: Vec<&'static RuleMeta> = if names == "all" {
            REGISTRY.iter().map(|r| r.meta()).collect()
        } else {
            names
                .split_whitespace()
                .map(|id| {
                    find(id)
                        .map(|r| r.meta())
                        .ok_or(format!("rules-table names `{id}`, which is not a rule"))
                })
                .collect::<Result<_, _>>()?
        };
        let end = rest[marker_end..]
            .find(CLOSE)
            .map(|i| marker_end + i)
            .ok_or(format!("`{OPEN} {names} -->` has no `{CLOSE}`"))?;
        out.push_str(&rest[..marker_end]);
        out.push('\n');
        out.push_str(&table_of(&metas));
        rest = &rest[end..];
        out.push_str(&rest[..CLOSE.len()]);
        rest = &rest[CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_rewritten_between_their_markers() {
        let text =
            "intro\n<!-- rules-table: env-placement -->\nstale\n<!-- /rules-table -->\nafter\n";
        let out = rewrite_tables(text).unwrap();
        assert!(out.starts_with("intro\n<!-- rules-table: env-placement -->\n| id |"));
        assert!(out.contains("| `env-placement` | high | an object whose own environment"));
        assert!(out.ends_with("|\n<!-- /rules-table -->\nafter\n"));
        assert!(!out.contains("stale"));
        assert_eq!(rewrite_tables(&out).unwrap(), out);
        assert!(
            rewrite_tables("<!-- rules-table: no-such-rule -->\n<!-- /rules-table -->").is_err()
        );
        assert!(rewrite_tables("<!-- rules-table: all -->\n").is_err());
    }
}
