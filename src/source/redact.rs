//! Keeping Secret values out of source snippets.
//!
//! Reporters that quote the source (the human format's snippets, with a line of context on
//! each side) would print a Secret's `data`/`stringData` values whenever a finding sits next to
//! them. The lines those values occupy are masked before any snippet is made: keys stay
//! readable (`password: ***`), values and block-scalar bodies do not.

use std::collections::BTreeMap;

use crate::model::value::Value;

use crate::model::object::{Object, Origin};

/// Lines of a file to mask: line → the 1-based column from which the line is masked.
pub type Redactions = BTreeMap<u32, u32>;

/// What a masked value looks like.
pub const MASK: &str = "***";

/// Adds the lines holding `secret`'s values (a `v1` Secret read from a file) to `out`.
pub fn secret_value_lines(secret: &Object, text: &str, out: &mut Redactions) {
    let Origin::File { end_line, .. } = secret.origin else {
        return;
    };
    if !secret.is("", "Secret") || secret.spans.is_empty() {
        return;
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(top) = secret.value.as_object() else {
        return;
    };
    let mut top_lines: Vec<u32> = top
        .keys()
        .map(|k| secret.locate(&crate::model::spans::pointer([k])).line)
        .collect();
    top_lines.sort_unstable();
    for field in ["data", "stringData"] {
        let Some(map) = top.get(field).and_then(Value::as_object) else {
            continue;
        };
        let field_pos = secret.locate(&crate::model::spans::pointer([field]));
        let block_end = top_lines
            .iter()
            .copied()
            .find(|&l| l > field_pos.line)
            .map_or(end_line, |l| l.saturating_sub(1));
        let first_key = map
            .keys()
            .next()
            .map(|k| secret.locate(&crate::model::spans::pointer([field, k])));
        match first_key {
            // Flow style (`data: {a: b}`) or a value on the field's own line: mask the rest.
            Some(pos) if pos.line == field_pos.line => {
                mask_after_colon(&lines, field_pos.line, field_pos.column, out);
            }
            None => mask_after_colon(&lines, field_pos.line, field_pos.column, out),
            Some(_) => {}
        }
        let key_column = first_key.map_or(u32::MAX, |p| p.column);
        for line in field_pos.line + 1..=block_end {
            let Some(content) = lines.get(line as usize - 1) else {
                break;
            };
            let indent = content.chars().take_while(|c| *c == ' ').count() as u32 + 1;
            if content.trim().is_empty() {
                continue;
            }
            if indent == key_column {
                mask_after_colon(&lines, line, key_column, out);
            } else {
                out.insert(line, indent);
            }
        }
    }
}

/// Adds the places holding the values of a Secret made by a kustomize `secretGenerator` (in
/// the build file, an env file, or a whole input file) to `out`, by path. `text_of` reads a
/// file by its display path.
pub fn generated_secret_lines(
    secret: &Object,
    text_of: &dyn Fn(&str) -> Option<String>,
    out: &mut std::collections::HashMap<String, Redactions>,
) {
    let Some(instance) = secret.instance.as_deref() else {
        return;
    };
    if !instance.generated || !secret.is("", "Secret") {
        return;
    }
    for (pointer, path, pos) in &instance.produced {
        let Some(key) = pointer.strip_prefix("/data/") else {
            continue;
        };
        let Some(text) = text_of(path) else { continue };
        let entry = out.entry(path.clone()).or_default();
        let line = text
            .lines()
            .nth(pos.line.saturating_sub(1) as usize)
            .unwrap_or("");
        let key = key.replace("~1", "/").replace("~0", "~");
        match line.find('=') {
            // `KEY=value` (a literal or an env file line): the value goes.
            Some(eq) if line[..eq].trim_end().ends_with(key.as_str()) => {
                entry.insert(pos.line, line[..=eq].chars().count() as u32 + 1);
            }
            // A whole file is the value.
            _ => {
                for n in 1..=text.lines().count() as u32 {
                    entry.insert(n, 1);
                }
            }
        }
    }
}

/// Masks a line from just after the `:` that follows `column`.
fn mask_after_colon(lines: &[&str], line: u32, column: u32, out: &mut Redactions) {
    let Some(content) = lines.get(line as usize - 1) else {
        return;
    };
    let from = content
        .char_indices()
        .skip(column.saturating_sub(1) as usize)
        .find(|(_, c)| *c == ':')
        .map(|(byte, _)| content[..byte].chars().count() as u32 + 2);
    if let Some(from) = from {
        out.insert(line, from);
    }
}

/// `text` with the masked lines' tails replaced by [`MASK`].
pub fn apply(text: &str, redactions: &Redactions) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let Some(&column) = redactions.get(&(i as u32 + 1)) else {
            out.push_str(line);
            continue;
        };
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let keep: String = body
            .chars()
            .take(column.saturating_sub(1) as usize)
            .collect();
        out.push_str(keep.trim_end());
        if keep.chars().count() < body.chars().count() {
            out.push(' ');
            out.push_str(MASK);
        }
        out.push_str(ending);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::files::load_bytes;

    fn redacted(text: &str) -> String {
        let loaded = load_bytes("s.yaml", text.as_bytes());
        let mut r = Redactions::new();
        for object in &loaded.objects {
            secret_value_lines(object, text, &mut r);
        }
        apply(text, &r)
    }

    #[test]
    fn masks_values_and_block_scalars_but_keeps_keys() {
        let text = "apiVersion: v1\ndata:\n  password: aHVudGVyMg==\n  tls.key: |\n    -----BEGIN KEY-----\n    abc: def\n\n  user: YQ==\nkind: Secret\nmetadata:\n  name: s\nstringData: {token: hunter2}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  password: shown\n";
        let out = redacted(text);
        assert!(!out.contains("aHVudGVyMg"), "{out}");
        assert!(!out.contains("BEGIN KEY"), "{out}");
        assert!(!out.contains("abc"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("  password: ***\n"), "{out}");
        assert!(out.contains("  user: ***\n"), "{out}");
        assert!(out.contains("stringData: ***\n"), "{out}");
        assert!(
            out.contains("kind: Secret\nmetadata:\n  name: s\n"),
            "{out}"
        );
        // Not a Secret: left alone.
        assert!(out.contains("password: shown"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
    }

    #[test]
    fn masks_list_items() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: a}\n  stringData:\n    key: value-one\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let out = redacted(text);
        assert!(!out.contains("value-one"), "{out}");
        assert!(out.contains("    key: ***\n- apiVersion: v1\n"), "{out}");
    }
}
