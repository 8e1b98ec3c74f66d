//! YAML/JSON documents to JSON values plus a position for every node.
//!
//! Built on `saphyr-parser` events rather than a tree loader so that depth, alias expansion
//! and scalar typing are under our control:
//!
//! - nesting deeper than [`MAX_DEPTH`] is an error, so hostile input cannot overflow the stack
//!   (here, or later when the value is dropped or serialised);
//! - aliases are expanded against a per-file budget of bytes (every node counted at
//!   [`ALIAS_NODE_BYTES`], plus the text of its strings), which stops "billion laughs" and a
//!   1 MiB scalar aliased thousands of times alike;
//! - plain scalars are typed the way Kubernetes reads YAML (go-yaml v2, YAML 1.1): `yes`/`on`
//!   are booleans and `0644` is octal, so `privileged: yes` cannot slip past a rule. Fields the
//!   API defines as strings (labels, annotations, env values, args, image, ConfigMap data…)
//!   keep their text, so `enabled: on` stays `"on"` there;
//! - duplicate keys are errors, as they are for `kubectl` with strict decoding.
//!
//! A broken document does not lose the rest of the file: parsing resumes at the next `---`.

mod builder;
mod scalar;
#[cfg(test)]
mod tests;

use crate::model::value::Value;

use self::builder::Builder;
use crate::model::spans::SpanTree;

/// Deepest nesting accepted; real manifests (CRD schemas included) stay well below.
pub const MAX_DEPTH: usize = 200;
/// Bytes that alias expansion may create per file.
pub const MAX_ALIAS_BYTES: usize = 64 * 1024 * 1024;
/// What one expanded node costs, besides the text of a string: a value and its position.
pub const ALIAS_NODE_BYTES: usize = 64;
/// Bytes of a document that fixing quoted scalars may re-parse, besides twice the document
/// itself: each fix parses the document again, so the work stays bounded. 128 MiB because a
/// real controller-gen CRD file of 1.4 MB (traefik's experimental CRDs) needs about 60 fixes.
const QUOTED_SCALAR_FIX_BYTES: usize = 128 * 1024 * 1024;

/// One YAML document with its value and positions.
#[derive(Debug)]
pub struct Document {
    pub value: Value,
    pub spans: SpanTree,
    /// Index of the document within its file (0-based, counting every document).
    pub index: usize,
    pub start_line: u32,
    pub end_line: u32,
    /// The `# Source: chart/templates/x.yaml` comment Helm writes above rendered documents.
    pub helm_source: Option<String>,
}

/// A syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// Index of the document the error is in.
    pub document: usize,
}

/// Every document that could be read, and the errors met on the way.
#[derive(Debug, Default)]
pub struct ParsedStream {
    pub documents: Vec<Document>,
    pub errors: Vec<SyntaxError>,
}

/// Which documents get their whole value built.
///
/// Most bytes of real repositories are kinds no active rule or policy reads (CRD schemas are
/// 85 % of the benchmark corpus). For those, only `apiVersion`, `kind` and `metadata` are
/// built; the rest is still parsed (syntax errors and duplicate keys are found exactly as in a
/// full build), but no value, string or position is kept.
#[derive(Debug, Clone, Default)]
pub enum KindFilter {
    /// Every document is built whole.
    #[default]
    All,
    /// Only documents of these kinds (and lists) are built whole.
    Only(std::sync::Arc<std::collections::HashSet<String>>),
}

impl KindFilter {
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(kinds: I) -> KindFilter {
        KindFilter::Only(std::sync::Arc::new(
            kinds.into_iter().map(Into::into).collect(),
        ))
    }

    /// True when documents of `kind` are built whole.
    pub fn builds(&self, kind: &str) -> bool {
        match self {
            KindFilter::All => true,
            // A `List` (`ConfigMapList`…) holds objects of any kind in `items`.
            KindFilter::Only(kinds) => kinds.contains(kind) || kind.ends_with("List"),
        }
    }

    fn skims_anything(&self) -> bool {
        matches!(self, KindFilter::Only(_))
    }
}

/// Parses a multi-document YAML (or JSON) text.
///
/// Every `---` at the start of a line begins a document (even inside a block scalar), so the
/// text is cut there and each document parsed on its own: a broken document costs only itself.
pub fn parse_stream(text: &str) -> ParsedStream {
    parse_stream_filtered(text, &KindFilter::All)
}

/// [`parse_stream`], building only the identity and metadata of documents whose kind `filter`
/// does not build.
pub fn parse_stream_filtered(text: &str, filter: &KindFilter) -> ParsedStream {
    let helm_sources = helm_source_comments(text);
    let mut out = ParsedStream::default();
    let mut budget = MAX_ALIAS_BYTES;
    let mut doc_index = 0usize;
    for (range, line_offset) in segments(text) {
        let segment = &text[range];
        // Kubernetes' YAML decoder accepts quoted scalars whose continuation lines are indented
        // less than their key (controller-gen writes CRDs like that); saphyr does not. Indenting
        // those lines further changes neither the value nor any line number: fix, parse again.
        let mut patched: Option<String> = None;
        let budget_before = budget;
        let mut reparse_budget = QUOTED_SCALAR_FIX_BYTES.saturating_add(2 * segment.len());
        let mut skim = filter.skims_anything();
        for attempt in 0.. {
            let current = patched.as_deref().unwrap_or(segment);
            let mut builder = Builder::new(current, line_offset, &mut budget);
            if skim {
                builder.skim_unless = Some(filter);
            }
            let mut documents = Vec::new();
            let result = builder.run(&mut |doc| documents.push(doc));
            if builder.skim_failed {
                // Something skimming does not reproduce exactly (anchors, aliases, merge keys,
                // a duplicate key, very deep nesting): this document is built whole instead.
                skim = false;
                budget = budget_before;
                continue;
            }
            if let Err(e) = &result
                && e.message == QUOTED_SCALAR_INDENTATION
                && attempt < MAX_QUOTED_SCALAR_FIXES
                && reparse_budget >= current.len()
                && let Some(fixed) = indent_quoted_scalar(current, e.line - line_offset, e.column)
            {
                reparse_budget -= current.len();
                patched = Some(fixed);
                budget = budget_before;
                continue;
            }
            let base = doc_index;
            for mut doc in documents {
                doc.index = doc_index;
                doc_index += 1;
                doc.helm_source = helm_source_for(&helm_sources, doc.start_line);
                if !doc.value.is_null() {
                    out.documents.push(doc);
                }
            }
            for mut soft in builder.soft_errors.drain(..) {
                soft.document += base;
                out.errors.push(soft);
            }
            if let Err(mut error) = result {
                error.document = doc_index;
                doc_index += 1;
                out.errors.push(error);
            }
            break;
        }
    }
    out
}

const QUOTED_SCALAR_INDENTATION: &str = "invalid indentation in quoted scalar";
/// Quoted scalars fixed per document at most; CRDs with hundreds of them are not seen.
const MAX_QUOTED_SCALAR_FIXES: usize = 256;

/// Byte ranges of the documents of `text` and the number of lines before each.
fn segments(text: &str) -> Vec<(std::ops::Range<usize>, u32)> {
    let mut starts = vec![(0usize, 0u32)];
    let mut offset = 0usize;
    // Directive lines (`%YAML 1.1`) belong to the document their `---` starts.
    let mut directives_from: Option<(usize, u32)> = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with('%') {
            directives_from.get_or_insert((offset, i as u32));
        } else if is_document_separator(line) {
            let start = directives_from.unwrap_or((offset, i as u32));
            if start.0 > 0 {
                starts.push(start);
            }
            directives_from = None;
        } else if directives_from.is_some() && !line.trim().is_empty() && !line.starts_with('#') {
            directives_from = None;
        }
        offset += line.len();
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &(start, lines))| {
            let end = starts.get(k + 1).map_or(text.len(), |next| next.0);
            (start..end, lines)
        })
        .collect()
}

/// Indents the continuation lines of the quoted scalar starting at `line`:`column` (1-based)
/// to the column of its opening quote. None when nothing can be changed.
fn indent_quoted_scalar(text: &str, line: u32, column: u32) -> Option<String> {
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum::<usize>();
    let quote_at = line_start
        + text[line_start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)?
            .0;
    let quote = text[quote_at..].chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let need = column as usize; // the quote's 0-based column + 1
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(&text[..=quote_at]);
    let body = &text[quote_at + 1..];
    let mut rest = body.char_indices().peekable();
    let mut copied_to = 0usize;
    let mut changed = false;
    while let Some((i, c)) = rest.next() {
        match c {
            '\\' if quote == '"' => {
                rest.next();
            }
            '\'' if quote == '\'' => {
                if rest.peek().is_some_and(|&(_, n)| n == '\'') {
                    rest.next();
                } else {
                    out.push_str(&body[copied_to..]);
                    return changed.then_some(out);
                }
            }
            '"' if quote == '"' => {
                out.push_str(&body[copied_to..]);
                return changed.then_some(out);
            }
            '\n' => {
                let next = i + 1;
                let indent = body[next..].bytes().take_while(|&b| b == b' ').count();
                if indent < need && !body[next..].starts_with(['\n', '\r']) {
                    out.push_str(&body[copied_to..next]);
                    out.extend(std::iter::repeat_n(' ', need - indent));
                    copied_to = next;
                    changed = true;
                }
            }
            _ => {}
        }
    }
    None
}

fn is_document_separator(line: &str) -> bool {
    let rest = match line.strip_prefix("---") {
        Some(rest) => rest,
        None => return false,
    };
    rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n'])
}

/// `(line, path)` of every `# Source: …` comment, in order.
fn helm_source_comments(text: &str) -> Vec<(u32, String)> {
    if !text.contains("# Source: ") {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            l.strip_prefix("# Source: ")
                .map(|p| (i as u32 + 1, p.trim().to_string()))
        })
        .collect()
}

fn helm_source_for(sources: &[(u32, String)], doc_start: u32) -> Option<String> {
    // Helm writes the comment right after `---` and before the document's first line.
    let idx = sources.partition_point(|(line, _)| *line < doc_start);
    let (line, path) = sources.get(idx.checked_sub(1)?)?;
    // Only if no other document content sits in between: the comment is in the few lines above.
    (doc_start - line <= 2).then(|| path.clone())
}
