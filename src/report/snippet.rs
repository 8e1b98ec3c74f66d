//! Source snippets for the human report: the few lines around a finding, cut from a file whose
//! line starts are indexed once (a file with thousands of findings renders in linear time, not
//! by re-scanning the file per finding), with Secret values masked and terminal controls made
//! visible.
//!
//! Masking here is line based, on top of the masking of parsed Secrets
//! ([`crate::source::redact`]): it must also hold for a document that did not parse, whose
//! values the parser never located. In a document whose `kind` looks like a Secret, the
//! values of `data`/`stringData` (and of a `last-applied-configuration` annotation, which
//! holds the whole object) are masked, keys kept. A parse-error snippet never shows a
//! `data`/`stringData` value of any document, since its `kind` may be what failed to parse.

use std::sync::{Arc, LazyLock};

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
use regex::Regex;

use crate::report::printable;
use crate::source::redact::MASK;

/// Lines of context kept on each side of a finding's line: more than the handler shows, so
/// the snippet renders exactly as it would from the whole file.
const WINDOW_CONTEXT: usize = 2;

// The patterns below are literals, compiled by the unit tests: they cannot fail at run time.

/// A `kind:` naming a Secret (YAML or JSON, possibly a list item or one-line JSON).
#[allow(clippy::expect_used, reason = "a literal pattern")]
static SECRET_KIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"["']?\bkind["']?\s*:\s*["']?[A-Za-z0-9]*Secret\b"#).expect("valid regex")
});
/// A key whose value holds Secret values: YAML block key or JSON member.
#[allow(clippy::expect_used, reason = "a literal pattern")]
static VALUE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s*)(?:-\s+)?["']?(data|stringData)["']?\s*:"#).expect("valid regex")
});
/// The same key anywhere on a line (one-line JSON, flow mappings).
#[allow(clippy::expect_used, reason = "a literal pattern")]
static INLINE_VALUE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["']?\b(?:data|stringData)["']?\s*:"#).expect("valid regex"));
#[allow(clippy::expect_used, reason = "a literal pattern")]
static LAST_APPLIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\s*)["']?kubectl\.kubernetes\.io/last-applied-configuration["']?\s*:"#)
        .expect("valid regex")
});

/// One file prepared for snippets.
pub struct SnippetFile {
    text: Arc<str>,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
    /// Per line: the byte offset from which the line is masked in any snippet.
    secret_mask: Vec<Option<usize>>,
    /// Per line: the byte offset from which the line is masked in a parse-error snippet.
    data_mask: Vec<Option<usize>>,
}

impl SnippetFile {
    pub fn new(text: Arc<str>) -> SnippetFile {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1)
                .filter(|&i| i < text.len()),
        );
        if text.is_empty() {
            starts.clear();
        }
        let mut masks = Masks {
            text: &text,
            starts: &starts,
            secret: vec![None; starts.len()],
            data: vec![None; starts.len()],
        };
        masks.find();
        let (secret_mask, data_mask) = (masks.secret, masks.data);
        SnippetFile {
            text,
            starts,
            secret_mask,
            data_mask,
        }
    }

    fn line(&self, index: usize) -> &str {
        line_of(&self.text, &self.starts, index)
    }

    /// The lines around `line`:`column` (1-based, column in characters) as a small source,
    /// and the span from that position to the end of the line's content. A position past the
    /// end (an error at end of file) is the last line. `parse_error` masks every
    /// `data`/`stringData` value, whatever the document's kind.
    pub fn window(
        &self,
        name: &str,
        line: u32,
        column: u32,
        parse_error: bool,
    ) -> Option<(Window, SourceSpan)> {
        let count = self.starts.len();
        if count == 0 || line == 0 {
            return None;
        }
        let (index, column) = if line as usize > count {
            (count - 1, u32::MAX)
        } else {
            (line as usize - 1, column)
        };
        let first = index.saturating_sub(WINDOW_CONTEXT);
        let last = (index + WINDOW_CONTEXT).min(count - 1);
        let mut text = String::new();
        let mut span = SourceSpan::new(0.into(), 0);
        for i in first..=last {
            let raw = self.line(i);
            let content = raw.trim_end_matches(['\n', '\r']);
            let ending = &raw[content.len()..];
            let shown = self.masked(i, content, parse_error);
            if i == index {
                let start = shown
                    .char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(shown.len(), |(b, _)| b);
                let rest = shown[start..].trim_end();
                // Keep comments out of the underline.
                let rest = match rest.find(" #") {
                    Some(i) => rest[..i].trim_end(),
                    None => rest,
                };
                let offset = text.len() + printable(&shown[..start]).len();
                span = SourceSpan::new(offset.into(), printable(rest).len());
            }
            text.push_str(&printable(&shown));
            text.push_str(ending);
        }
        Some((
            Window {
                name: printable(name).into_owned(),
                text,
                first_line: first,
            },
            span,
        ))
    }

    fn masked<'a>(
        &self,
        i: usize,
        content: &'a str,
        parse_error: bool,
    ) -> std::borrow::Cow<'a, str> {
        let from = if parse_error {
            self.data_mask[i]
        } else {
            self.secret_mask[i]
        };
        match from {
            Some(from) if from < content.len() => format!("{}{MASK}", &content[..from]).into(),
            _ => content.into(),
        }
    }
}

fn line_of<'t>(text: &'t str, starts: &[usize], index: usize) -> &'t str {
    let end = starts.get(index + 1).copied().unwrap_or(text.len());
    &text[starts[index]..end]
}

/// Per line, where masking starts: in every snippet (`secret`), in parse-error snippets
/// (`data`).
struct Masks<'a> {
    text: &'a str,
    starts: &'a [usize],
    secret: Vec<Option<usize>>,
    data: Vec<Option<usize>>,
}

impl<'a> Masks<'a> {
    fn line(&self, index: usize) -> &'a str {
        line_of(self.text, self.starts, index)
    }

    fn find(&mut self) {
        let count = self.starts.len();
        let mut doc_start = 0;
        while doc_start < count {
            let doc_end = (doc_start + 1..count)
                .find(|&i| is_document_separator(self.line(i)))
                .unwrap_or(count);
            self.mask_document(doc_start, doc_end);
            doc_start = doc_end;
        }
    }

    /// Masks lines `start..end` (one YAML document, or a whole JSON file).
    fn mask_document(&mut self, start: usize, end: usize) {
        let secret_like = (start..end).any(|i| {
            let line = self.line(i);
            line.contains("Secret") && SECRET_KIND.is_match(line)
        });
        // Indentation of the key whose more indented lines are values.
        let mut block: Option<(usize, bool)> = None;
        for i in start..end {
            let line = self.line(i).trim_end_matches(['\n', '\r']);
            let indent = line.len() - line.trim_start().len();
            let content = line.trim_start();
            if let Some((key_indent, secret_only)) = block {
                if content.is_empty() {
                    continue;
                }
                if indent > key_indent {
                    let from = value_start(line).unwrap_or(indent);
                    self.set(i, line, from, secret_like, secret_only);
                    continue;
                }
                block = None;
            }
            if let Some(key) = VALUE_KEY.captures(line) {
                let key_end = key.get(0).map_or(0, |m| m.end());
                self.set(i, line, after_spaces(line, key_end), secret_like, false);
                block = Some((key[1].len(), false));
            } else if secret_like && let Some(key) = LAST_APPLIED.captures(line) {
                let key_end = key.get(0).map_or(0, |m| m.end());
                self.set(i, line, after_spaces(line, key_end), true, true);
                block = Some((key[1].len(), true));
            } else if line.contains("ata")
                && let Some(m) = INLINE_VALUE_KEY.find(line)
            {
                self.set(i, line, after_spaces(line, m.end()), secret_like, false);
            }
        }
    }

    /// Masks line `i` (whose content is `line`) from byte `from`, in every snippet when
    /// `secret` (a Secret-like document), and in parse-error snippets unless `secret_only`.
    fn set(&mut self, i: usize, line: &str, from: usize, secret: bool, secret_only: bool) {
        if from >= line.len() || line[from..].trim().is_empty() {
            return;
        }
        if secret {
            self.secret[i] = Some(from);
        }
        if secret || !secret_only {
            self.data[i] = Some(from);
        }
    }
}

/// `---` or `...` at the start of a line: a YAML document boundary.
fn is_document_separator(line: &str) -> bool {
    let line = line.trim_end_matches(['\n', '\r']);
    ["---", "..."].iter().any(|m| {
        line.strip_prefix(m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

/// Where the value of a `key: value` line starts, if it is one.
fn value_start(line: &str) -> Option<usize> {
    let colon = line
        .find(": ")
        .or_else(|| line.ends_with(':').then(|| line.len() - 1))?;
    Some(after_spaces(line, colon + 1))
}

fn after_spaces(line: &str, from: usize) -> usize {
    from + line[from..].len() - line[from..].trim_start().len()
}

/// A few lines of a file, which the report handler sees as the whole source, numbered as in
/// the file.
pub struct Window {
    name: String,
    text: String,
    /// 0-based line number of the window's first line in the file.
    first_line: usize,
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str, line: u32, parse_error: bool) -> String {
        let file = SnippetFile::new(Arc::from(text));
        let (window, _) = file.window("f.yaml", line, 1, parse_error).unwrap();
        window.text
    }

    #[test]
    fn unparsed_secrets_are_masked_line_by_line() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s\ndata:\n  password: aHVudGVyMg==\n  cert: |\n    -----BEGIN\n    c2VjcmV0\nstringData: {token: abc}\n";
        let all = shown(text, 6, false);
        assert!(
            !all.contains("aHVudGVy") && !all.contains("c2VjcmV0"),
            "{all}"
        );
        assert!(
            all.contains("password: ***") && all.contains("cert: ***"),
            "{all}"
        );
        let all = shown(text, 9, false);
        assert!(all.contains("stringData: ***"), "{all}");
    }

    #[test]
    fn parse_error_snippets_never_show_data_values() {
        let text = "apiVersion: v1\nkind: [Secret\ndata:\n  password: aHVudGVyMg==\n";
        assert!(!shown(text, 4, true).contains("aHVudGVy"));
        // A ConfigMap's data is shown in the snippet of an ordinary finding.
        let text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  level: debug\n";
        assert!(shown(text, 4, false).contains("level: debug"));
        assert!(!shown(text, 4, true).contains("debug"));
    }

    #[test]
    fn one_line_json_secrets_are_masked() {
        let text = r#"{"apiVersion": "v1", "kind": "Secret", "data": {"p": "aHVudGVy"}}"#;
        assert!(!shown(text, 1, false).contains("aHVudGVy"));
    }

    #[test]
    fn spans_cover_the_rest_of_the_line_without_comments() {
        let text = "a: 1\n  image: nginx  # pinned later\n";
        let file = SnippetFile::new(Arc::from(text));
        let (window, span) = file.window("f", 2, 3, false).unwrap();
        assert_eq!(
            &window.text[span.offset()..span.offset() + span.len()],
            "image: nginx"
        );
        // Past the end: the last line.
        let (_, span) = file.window("f", 9, 1, false).unwrap();
        assert_eq!(span.len(), 0);
    }

    #[test]
    fn control_characters_are_escaped_and_spans_follow() {
        let text = "name: \u{1b}[2Jx\n";
        let file = SnippetFile::new(Arc::from(text));
        let (window, span) = file.window("f\u{1b}", 1, 7, false).unwrap();
        assert_eq!(window.name, "f\\x1b");
        assert_eq!(
            &window.text[span.offset()..span.offset() + span.len()],
            "\\x1b[2Jx"
        );
    }
}
