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

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

use crate::model::spans::{SpanNode, SpanTree};

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

/// What the Kubernetes API says a field's scalars are, for the few places where YAML 1.1
/// typing would change a string into something else.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Any,
    /// A map whose values are all strings (labels, annotations, ConfigMap data).
    StringValues,
    /// A list whose items are maps with a string `value` (env, tolerations).
    ItemsWithValue,
    ItemWithValue,
    /// A list of strings (args, command, matchExpressions values).
    StringItems,
    String,
}

impl Field {
    fn child_for_key(self, key: &str, depth: usize) -> Field {
        match self {
            Field::StringValues => return Field::String,
            Field::ItemWithValue if key == "value" => return Field::String,
            _ => {}
        }
        match key {
            "data" | "stringData" | "binaryData" if depth == 1 => Field::StringValues,
            "labels" | "annotations" | "matchLabels" | "nodeSelector" => Field::StringValues,
            "env" | "tolerations" => Field::ItemsWithValue,
            "args" | "command" | "values" => Field::StringItems,
            "image" | "name" | "namespace" | "generateName" | "serviceAccountName" | "hostname"
            | "subdomain" | "key" | "operator" | "secretName" | "claimName"
            | "storageClassName" | "priorityClassName" | "targetRevision" | "apiVersion"
            | "kind" => Field::String,
            _ => Field::Any,
        }
    }

    fn child_for_item(self) -> Field {
        match self {
            Field::ItemsWithValue => Field::ItemWithValue,
            Field::StringItems => Field::String,
            _ => Field::Any,
        }
    }
}

struct Anchored {
    value: Value,
    spans: Vec<SpanNode>,
    /// What expanding an alias to it costs ([`expanded_bytes`]).
    bytes: usize,
}

/// The memory an expanded copy of `value` takes, roughly: [`ALIAS_NODE_BYTES`] per node plus
/// the text of strings and keys.
fn expanded_bytes(value: &Value) -> usize {
    let mut total = 0usize;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        total = total.saturating_add(ALIAS_NODE_BYTES);
        match v {
            Value::String(s) => total = total.saturating_add(s.len()),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (k, item) in map {
                    total = total.saturating_add(k.len());
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    total
}

struct Builder<'a, 'b> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    line_offset: u32,
    anchors: HashMap<usize, Anchored>,
    spans: Vec<SpanNode>,
    budget: &'b mut usize,
    max_line: u32,
    /// Documents emitted so far by this builder.
    emitted: usize,
    /// Problems that do not stop the document (duplicate keys).
    soft_errors: Vec<SyntaxError>,
    /// When set, the body of a document whose kind this filter does not build is skimmed.
    skim_unless: Option<&'b KindFilter>,
    /// The `kind` of the document being built, once its top-level entry was read.
    document_kind: Option<String>,
    /// Skimming met something only a full build handles exactly; the run must be repeated.
    skim_failed: bool,
}

type Step<'a> = (Event<'a>, Span);

impl<'a, 'b> Builder<'a, 'b> {
    fn new(text: &'a str, line_offset: u32, budget: &'b mut usize) -> Self {
        Builder {
            parser: Parser::new_from_str(text),
            line_offset,
            anchors: HashMap::new(),
            spans: Vec::new(),
            budget,
            max_line: 0,
            emitted: 0,
            soft_errors: Vec::new(),
            skim_unless: None,
            document_kind: None,
            skim_failed: false,
        }
    }

    fn error_at(&self, span: &Span, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: span.start.line() as u32 + self.line_offset,
            column: span.start.col() as u32 + 1,
            message: message.into(),
            document: 0,
        }
    }

    fn next(&mut self) -> Result<Step<'a>, SyntaxError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                // Block collections end with an empty span where the next token starts.
                let is_content = !span.is_empty()
                    && !matches!(
                        event,
                        Event::StreamStart
                            | Event::StreamEnd
                            | Event::DocumentStart(_)
                            | Event::DocumentEnd
                    );
                if is_content {
                    // An end at column 0 of a later line means the content ended the line before.
                    let end = span.end;
                    let last = if end.col() == 0 && end.line() > span.start.line() {
                        end.line() - 1
                    } else {
                        end.line()
                    };
                    self.max_line = self.max_line.max(last as u32 + self.line_offset);
                }
                Ok((event, span))
            }
            Some(Err(e)) => Err(SyntaxError {
                line: e.marker().line() as u32 + self.line_offset,
                column: e.marker().col() as u32 + 1,
                message: e.info().to_string(),
                document: 0,
            }),
            None => Err(SyntaxError {
                line: self.max_line.max(1),
                column: 1,
                message: "unexpected end of input".into(),
                document: 0,
            }),
        }
    }

    fn run(&mut self, emit: &mut dyn FnMut(Document)) -> Result<(), SyntaxError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => continue,
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    self.spans = Vec::new();
                    self.document_kind = None;
                    let (first, first_span) = self.next()?;
                    let start_line = first_span.start.line() as u32 + self.line_offset;
                    let value = self.node(first, first_span, 0, Field::Any)?;
                    let (end, end_span) = self.next()?;
                    if !matches!(end, Event::DocumentEnd) {
                        return Err(self.error_at(&end_span, "expected the end of the document"));
                    }
                    emit(Document {
                        value,
                        spans: SpanTree::from_nodes(std::mem::take(&mut self.spans)),
                        index: 0,
                        start_line,
                        end_line: self.max_line.max(start_line),
                        helm_source: None,
                    });
                    self.emitted += 1;
                }
                _ => return Err(self.error_at(&span, "unexpected event outside a document")),
            }
        }
    }

    fn push_span(&mut self, span: &Span) -> usize {
        self.spans.push(SpanNode {
            line: span.start.line() as u32 + self.line_offset,
            column: span.start.col() as u32 + 1,
            len: 1,
        });
        self.spans.len() - 1
    }

    fn close_span(&mut self, at: usize) {
        self.spans[at].len = (self.spans.len() - at) as u32;
    }

    fn node(
        &mut self,
        event: Event<'a>,
        span: Span,
        depth: usize,
        field: Field,
    ) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error_at(
                &span,
                format!("nesting deeper than {MAX_DEPTH} levels is not supported"),
            ));
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let at = self.push_span(&span);
                let value = resolve_scalar(&text, style, tag.as_deref(), field);
                self.close_span(at);
                self.remember(anchor, &value, at);
                Ok(value)
            }
            Event::SequenceStart(anchor, _) => {
                let at = self.push_span(&span);
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1, field.child_for_item())?);
                }
                items.shrink_to_fit();
                self.close_span(at);
                let value = Value::Array(items);
                self.remember(anchor, &value, at);
                Ok(value)
            }
            Event::MappingStart(anchor, _) => {
                let at = self.push_span(&span);
                let value = self.mapping(depth, field, at)?;
                self.close_span(at);
                self.remember(anchor, &value, at);
                Ok(value)
            }
            Event::Alias(id) => self.alias(id, &span),
            _ => Err(self.error_at(&span, "unexpected YAML event")),
        }
    }

    fn mapping(&mut self, depth: usize, field: Field, at: usize) -> Result<Value, SyntaxError> {
        // Entries are collected first so the map is allocated at its final size.
        let mut entries: Vec<(String, Value)> = Vec::new();
        // Where each entry's nodes start in `self.spans`.
        let mut entry_starts: Vec<usize> = Vec::new();
        let mut merges: Vec<(Value, Vec<SpanNode>)> = Vec::new();
        // Small maps are checked for duplicates by scanning; big ones (hostile input, huge
        // ConfigMaps) through a set, so the check stays linear.
        let mut seen: Option<std::collections::HashSet<String>> = None;
        // Top-level entries skimmed (not built) because nothing reads this document's kind.
        let mut skimmed_keys: Vec<String> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            let key = match event {
                Event::MappingEnd => break,
                Event::Scalar(text, ..) => {
                    // The scanner's buffer has room to spare; a key lives as long as the run.
                    let mut key = text.into_owned();
                    key.shrink_to_fit();
                    key
                }
                Event::Alias(id) => match self.anchors.get(&id).map(|a| &a.value) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) if !v.is_array() && !v.is_object() => v.to_string(),
                    _ => return Err(self.error_at(&key_span, "mapping keys must be scalars")),
                },
                _ => return Err(self.error_at(&key_span, "mapping keys must be scalars")),
            };
            let (value_event, value_span) = self.next()?;
            if depth == 0 && self.skims_entry(&key) {
                if skimmed_keys.contains(&key) || entries.iter().any(|(k, _)| *k == key) {
                    return Err(self.give_up_skimming(&key_span));
                }
                self.skim(value_event, value_span, depth + 1)?;
                skimmed_keys.push(key);
                continue;
            }
            if depth == 0 && skimmed_keys.contains(&key) {
                return Err(self.give_up_skimming(&key_span));
            }
            if key == "<<" {
                // YAML 1.1 merge key: its entries are added after the explicit ones.
                let start = self.spans.len();
                let merged = self.node(value_event, value_span, depth + 1, Field::Any)?;
                let spans = self.spans.split_off(start);
                merges.push((merged, spans));
                continue;
            }
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key.clone()),
                None if entries.len() >= 16 => {
                    let mut set: std::collections::HashSet<String> =
                        entries.iter().map(|(k, _)| k.clone()).collect();
                    let duplicate = !set.insert(key.clone());
                    seen = Some(set);
                    duplicate
                }
                None => entries.iter().any(|(k, _)| *k == key),
            };
            if duplicate {
                // Reported, but the document is kept with the last value, as Kubernetes'
                // non-strict decoding does, so the other rules still see it.
                let mut error = self.error_at(&key_span, format!("duplicate key `{key}`"));
                error.document = self.emitted;
                self.soft_errors.push(error);
                if let Some(k) = entries.iter().position(|(existing, _)| *existing == key) {
                    let start = entry_starts[k];
                    let end = entry_starts.get(k + 1).copied().unwrap_or(self.spans.len());
                    self.spans.drain(start..end);
                    entries.remove(k);
                    entry_starts.remove(k);
                    for later in &mut entry_starts[k..] {
                        *later -= end - start;
                    }
                }
            }
            let child_field = field.child_for_key(&key, depth + 1);
            // The entry's position is its key's: a finding on `resources` points at `resources:`.
            let entry_at = self.spans.len();
            entry_starts.push(entry_at);
            let value = self.node(value_event, value_span, depth + 1, child_field)?;
            self.spans[entry_at].line = key_span.start.line() as u32 + self.line_offset;
            self.spans[entry_at].column = key_span.start.col() as u32 + 1;
            if depth == 0
                && key == "kind"
                && let Value::String(kind) = &value
            {
                self.document_kind = Some(kind.clone());
            }
            entries.push((key, value));
        }
        let mut map: Map<String, Value> = entries.into_iter().collect();
        for (merged, spans) in merges {
            self.apply_merge(&mut map, merged, spans, at)?;
        }
        Ok(Value::Object(map))
    }

    /// True when the top-level entry `key` of the current document is skimmed: its kind is
    /// known, and not one the filter builds. Identity and metadata are always built.
    fn skims_entry(&self, key: &str) -> bool {
        let (Some(filter), Some(kind)) = (self.skim_unless, self.document_kind.as_deref()) else {
            return false;
        };
        !matches!(key, "apiVersion" | "kind" | "metadata") && !filter.builds(kind)
    }

    /// Marks the run as needing a full build; the error is never reported.
    fn give_up_skimming(&mut self, span: &Span) -> SyntaxError {
        self.skim_failed = true;
        self.error_at(span, "skimming stopped")
    }

    /// Reads the events of one node without building anything. Whatever a full build would
    /// treat specially (anchors, aliases, tags on collections, merge keys, duplicate keys,
    /// nesting beyond [`MAX_DEPTH`]) stops the skim, and the document is built whole.
    fn skim(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.give_up_skimming(&span));
        }
        match event {
            Event::Scalar(_, _, 0, _) => Ok(()),
            Event::SequenceStart(0, _) => loop {
                let (event, span) = self.next()?;
                if matches!(event, Event::SequenceEnd) {
                    return Ok(());
                }
                self.skim(event, span, depth + 1)?;
            },
            Event::MappingStart(0, _) => {
                let mut keys: Vec<std::borrow::Cow<'a, str>> = Vec::new();
                let mut seen: Option<std::collections::HashSet<std::borrow::Cow<'a, str>>> = None;
                loop {
                    let (event, key_span) = self.next()?;
                    let key = match event {
                        Event::MappingEnd => return Ok(()),
                        Event::Scalar(text, _, 0, _) if text != "<<" => text,
                        _ => return Err(self.give_up_skimming(&key_span)),
                    };
                    let duplicate = match &mut seen {
                        Some(set) => !set.insert(key.clone()),
                        None if keys.len() >= 16 => {
                            let mut set: std::collections::HashSet<_> = keys.drain(..).collect();
                            let duplicate = !set.insert(key.clone());
                            seen = Some(set);
                            duplicate
                        }
                        None => {
                            let duplicate = keys.contains(&key);
                            keys.push(key);
                            duplicate
                        }
                    };
                    if duplicate {
                        return Err(self.give_up_skimming(&key_span));
                    }
                    let (value, value_span) = self.next()?;
                    self.skim(value, value_span, depth + 1)?;
                }
            }
            _ => Err(self.give_up_skimming(&span)),
        }
    }

    fn apply_merge(
        &mut self,
        map: &mut Map<String, Value>,
        merged: Value,
        spans: Vec<SpanNode>,
        at: usize,
    ) -> Result<(), SyntaxError> {
        let sources: Vec<(Value, Vec<SpanNode>)> = match merged {
            Value::Object(_) => vec![(merged, spans)],
            Value::Array(items) => {
                let tree = SpanTree::from_nodes(spans);
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let sub = tree.child_nodes(0, i).to_vec();
                        (item, sub)
                    })
                    .collect()
            }
            _ => {
                let node = self.spans[at];
                return Err(SyntaxError {
                    line: node.line,
                    column: node.column,
                    message: "a merge key (`<<`) needs a mapping or a list of mappings".into(),
                    document: 0,
                });
            }
        };
        for (source, source_spans) in sources {
            let Value::Object(entries) = source else {
                continue;
            };
            let tree = SpanTree::from_nodes(source_spans);
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if map.contains_key(&key) {
                    continue;
                }
                self.spans.extend_from_slice(tree.child_nodes(0, i));
                map.insert(key, value);
            }
        }
        Ok(())
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<Value, SyntaxError> {
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(self.error_at(span, "alias to an unknown anchor"));
        };
        let cost = anchored.bytes;
        if cost > *self.budget {
            return Err(self.error_at(
                span,
                format!(
                    "alias expansion exceeds {} MiB (a YAML alias bomb?); file not scanned further",
                    MAX_ALIAS_BYTES / (1024 * 1024)
                ),
            ));
        }
        *self.budget -= cost;
        let value = anchored.value.clone();
        let mut nodes = anchored.spans.clone();
        // The alias itself is where the reader looks; nested nodes keep the anchor's positions.
        nodes[0].line = span.start.line() as u32 + self.line_offset;
        nodes[0].column = span.start.col() as u32 + 1;
        self.spans.extend(nodes);
        Ok(value)
    }

    fn remember(&mut self, anchor: usize, value: &Value, at: usize) {
        if anchor == 0 {
            return;
        }
        let spans = self.spans[at..].to_vec();
        self.anchors.insert(
            anchor,
            Anchored {
                bytes: expanded_bytes(value),
                value: value.clone(),
                spans,
            },
        );
    }
}

/// Types a scalar as Kubernetes' YAML decoder (go-yaml v2, YAML 1.1) does.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, field: Field) -> Value {
    if let Some(tag) = tag
        && tag.handle == "tag:yaml.org,2002:"
    {
        return match tag.suffix.as_str() {
            "str" => Value::String(text.to_string()),
            "null" => Value::Null,
            "bool" => yaml11_bool(text).map_or_else(|| Value::String(text.into()), Value::Bool),
            "int" | "float" => {
                yaml11_number(text).map_or_else(|| Value::String(text.into()), Value::Number)
            }
            _ => Value::String(text.to_string()),
        };
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::String(text.to_string());
    }
    let typed = resolve_plain(text);
    if field == Field::String && !matches!(typed, Value::String(_)) && !text.is_empty() {
        // A string field keeps what the user wrote: `value: on` is "on", not true.
        return Value::String(text.to_string());
    }
    typed
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Some(b) = yaml11_bool(text) {
        return Value::Bool(b);
    }
    let first = text.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.'))
        && let Some(n) = yaml11_number(text)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn yaml11_bool(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

fn yaml11_number(text: &str) -> Option<Number> {
    let cleaned: String;
    let plain = if text.contains('_') {
        cleaned = text.replace('_', "");
        cleaned.as_str()
    } else {
        text
    };
    let (negative, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, plain),
    };
    if digits.is_empty() {
        return None;
    }
    let radix_value = if let Some(hex) = digits.strip_prefix("0x") {
        Some(u64::from_str_radix(hex, 16).ok()?)
    } else if let Some(bin) = digits.strip_prefix("0b") {
        Some(u64::from_str_radix(bin, 2).ok()?)
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        // YAML 1.1 octal, e.g. `defaultMode: 0644` is 420.
        Some(u64::from_str_radix(&digits[1..], 8).ok()?)
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()
    } else {
        None
    };
    if let Some(v) = radix_value {
        return Some(if negative {
            match i64::try_from(v) {
                Ok(v) => Number::from(-v),
                Err(_) => Number::from_f64(-(v as f64))?,
            }
        } else {
            Number::from(v)
        });
    }
    if is_yaml_float(digits) {
        let f: f64 = plain.parse().ok()?;
        return Number::from_f64(f);
    }
    None
}

/// `^(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's float syntax (sign removed).
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
        if int_digits == 0 && frac_digits == 0 {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Document {
        let mut parsed = parse_stream(text);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.documents.remove(0)
    }

    #[test]
    fn kubernetes_yaml11_typing() {
        let doc = one(
            "a: yes\nb: off\nc: 0644\nd: '0644'\ne: 1_000\nf: 1.5\ng: ~\nh: 0x1F\ni: 1e3\nj: 1.2.3\nk: -7\n",
        );
        assert_eq!(
            doc.value,
            json!({"a": true, "b": false, "c": 420, "d": "0644", "e": 1000, "f": 1.5, "g": null,
                   "h": 31, "i": 1000.0, "j": "1.2.3", "k": -7})
        );
    }

    #[test]
    fn string_fields_keep_their_text() {
        let doc = one(
            "metadata:\n  labels:\n    enabled: on\n    version: 1.10\nspec:\n  containers:\n  - name: 007\n    image: yes\n    args: [on, 0644]\n    env:\n    - name: X\n      value: yes\n    securityContext:\n      privileged: yes\n",
        );
        let c = &doc.value["spec"]["containers"][0];
        assert_eq!(doc.value["metadata"]["labels"]["enabled"], "on");
        assert_eq!(doc.value["metadata"]["labels"]["version"], "1.10");
        assert_eq!(c["name"], "007");
        assert_eq!(c["image"], "yes");
        assert_eq!(c["args"], json!(["on", "0644"]));
        assert_eq!(c["env"][0]["value"], "yes");
        assert_eq!(c["securityContext"]["privileged"], true);
    }

    #[test]
    fn config_map_data_is_string_but_only_at_top_level() {
        let doc = one("data:\n  flag: yes\nspec:\n  data:\n    flag: yes\n");
        assert_eq!(doc.value["data"]["flag"], "yes");
        assert_eq!(doc.value["spec"]["data"]["flag"], true);
    }

    #[test]
    fn positions_point_at_keys() {
        let doc = one("kind: Pod\nspec:\n  containers:\n    - name: a\n      image: nginx\n");
        let at = |p: &str| doc.spans.locate(&doc.value, p);
        assert_eq!(at(""), (1, 1));
        assert_eq!(at("/spec"), (2, 1));
        assert_eq!(at("/spec/containers/0"), (4, 7));
        assert_eq!(at("/spec/containers/0/image"), (5, 7));
        // Missing nodes resolve to the deepest existing ancestor.
        assert_eq!(at("/spec/containers/0/resources/limits"), (4, 7));
    }

    #[test]
    fn multi_documents_and_errors_resume_at_next_separator() {
        let parsed = parse_stream("a: 1\n---\nb: [\n---\nc: 3\n");
        assert_eq!(parsed.documents.len(), 2);
        assert_eq!(parsed.documents[0].value, json!({"a": 1}));
        assert_eq!(parsed.documents[1].value, json!({"c": 3}));
        assert_eq!(parsed.documents[1].start_line, 5);
        assert_eq!(parsed.documents[1].index, 2);
        assert_eq!(parsed.errors.len(), 1);
        assert!(parsed.errors[0].line >= 3, "{:?}", parsed.errors);
    }

    #[test]
    fn quoted_scalars_indented_less_than_their_key_are_accepted() {
        // Shape of controller-gen CRDs (e.g. Gateway API), which Kubernetes reads fine.
        let text = "spec:\n  rules:\n    - message: m\n      rule: 'self.all(p1, p1.kind\n    == p2.kind || p1.name\n    == '''')'\n      other: \"a\n    b\"\n  after: 1\n";
        let doc = one(text);
        assert_eq!(
            doc.value["spec"]["rules"][0]["rule"],
            "self.all(p1, p1.kind == p2.kind || p1.name == '')"
        );
        assert_eq!(doc.value["spec"]["rules"][0]["other"], "a b");
        assert_eq!(doc.spans.locate(&doc.value, "/spec/after"), (9, 3));
    }

    #[test]
    fn duplicate_keys_are_errors_but_the_document_is_kept() {
        let parsed = parse_stream("x: 0\n---\na: {p: 1}\nb: 2\na: [3, 4]\nc: 5\n");
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 5);
        assert_eq!(parsed.errors[0].document, 1);
        assert!(parsed.errors[0].message.contains("duplicate key `a`"));
        let doc = &parsed.documents[1];
        assert_eq!(doc.value, json!({"b": 2, "a": [3, 4], "c": 5}));
        assert_eq!(doc.spans.locate(&doc.value, "/a/1"), (5, 8));
        assert_eq!(doc.spans.locate(&doc.value, "/c"), (6, 1));
        assert_eq!(doc.spans.locate(&doc.value, "/b"), (4, 1));
    }

    #[test]
    fn alias_bomb_is_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let parsed = parse_stream(&text);
        assert!(parsed.errors[0].message.contains("alias expansion"));
    }

    #[test]
    fn aliases_of_a_large_scalar_count_their_bytes() {
        let big = "x".repeat(1024 * 1024);
        let mut text = format!("a: &a \"{big}\"\nb: [");
        text.push_str(&vec!["*a"; 2000].join(", "));
        text.push_str("]\n");
        let parsed = parse_stream(&text);
        assert!(
            parsed.errors[0].message.contains("alias expansion"),
            "{:?}",
            parsed.errors
        );
        // A few aliases of it are fine.
        let text = format!("a: &a \"{big}\"\nb: [*a, *a, *a]\n");
        assert!(parse_stream(&text).errors.is_empty());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        let parsed = parse_stream(&text);
        assert!(parsed.errors[0].message.contains("nesting deeper"));
        let flow = "[".repeat(10_000);
        assert!(!parse_stream(&flow).errors.is_empty());
    }

    #[test]
    fn merge_keys_and_aliases() {
        let doc = one("base: &b\n  x: 1\n  y: 2\nchild:\n  <<: *b\n  y: 3\n");
        assert_eq!(doc.value["child"], json!({"y": 3, "x": 1}));
        assert_eq!(doc.spans.locate(&doc.value, "/child/y"), (6, 3));
        assert_eq!(doc.spans.locate(&doc.value, "/child/x"), (2, 3));
    }

    #[test]
    fn helm_source_comment_is_kept() {
        let parsed = parse_stream(
            "---\n# Source: app/templates/a.yaml\nkind: A\n---\n# Source: app/templates/b.yaml\nkind: B\n",
        );
        assert_eq!(
            parsed.documents[0].helm_source.as_deref(),
            Some("app/templates/a.yaml")
        );
        assert_eq!(
            parsed.documents[1].helm_source.as_deref(),
            Some("app/templates/b.yaml")
        );
    }

    #[test]
    fn json_documents_parse() {
        let doc = one("{\"kind\": \"Pod\", \"spec\": {\"a\": [1, \"yes\", true]}}");
        assert_eq!(doc.value["spec"]["a"], json!([1, "yes", true]));
    }

    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n  labels: {team: x}\nspec:\n  group: example.com\n  versions: [{name: v1, schema: {x: 1}}]\n";

    #[test]
    fn skimmed_documents_keep_identity_and_metadata_only() {
        let filter = KindFilter::only(["Deployment"]);
        let text = format!(
            "{CRD}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec: {{replicas: 2}}\n"
        );
        let parsed = parse_stream_filtered(&text, &filter);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let crd = &parsed.documents[0];
        assert_eq!(crd.value.get("spec"), None);
        assert_eq!(crd.value["metadata"]["labels"]["team"], "x");
        assert_eq!(
            crd.spans.locate(&crd.value, "/metadata/labels/team"),
            (5, 12)
        );
        assert_eq!((crd.start_line, crd.end_line), (1, 8));
        let deployment = &parsed.documents[1];
        assert_eq!(deployment.value["spec"]["replicas"], 2);
        // The same text built whole is what it always was.
        let whole = parse_stream(&text);
        assert_eq!(whole.documents[0].value["spec"]["group"], "example.com");
        assert_eq!(whole.documents[1].value, deployment.value);
    }

    #[test]
    fn skimming_reports_exactly_what_a_full_build_reports() {
        let filter = KindFilter::only(["Deployment"]);
        let cases = [
            // A syntax error inside the skimmed body.
            format!("{CRD}  bad: [1, 2\n"),
            // Duplicate keys, nested and at the top level.
            format!("{CRD}  group: again\n"),
            format!("{CRD}spec: {{}}\n"),
            // Anchors, aliases and merge keys are built whole.
            "kind: CRD\nmetadata: {name: x}\nspec: {a: &x {p: 1}, b: *x, c: {<<: *x}}\n"
                .to_string(),
            "kind: CRD\nmetadata: &m {name: x}\nspec: {copy: *m}\n".to_string(),
            "kind: CRD\nspec: {b: *missing}\n".to_string(),
            // `kind` after the body: nothing is skimmed.
            "spec: {a: 1, a: 2}\nkind: CRD\n".to_string(),
        ];
        for text in &cases {
            let skimmed = parse_stream_filtered(text, &filter);
            let whole = parse_stream(text);
            assert_eq!(skimmed.errors, whole.errors, "{text}");
            assert_eq!(skimmed.documents.len(), whole.documents.len(), "{text}");
            for (s, w) in skimmed.documents.iter().zip(&whole.documents) {
                assert_eq!(
                    (s.start_line, s.end_line),
                    (w.start_line, w.end_line),
                    "{text}"
                );
                assert_eq!(s.value.get("metadata"), w.value.get("metadata"), "{text}");
            }
        }
        // What skimming could not do exactly was built whole.
        let anchored = parse_stream_filtered(&cases[3], &filter);
        assert_eq!(anchored.documents[0].value["spec"]["c"]["p"], 1);
    }

    #[test]
    fn lists_are_always_built() {
        let filter = KindFilter::only(["Deployment"]);
        let parsed = parse_stream_filtered(
            "apiVersion: v1\nkind: ConfigMapList\nitems: [{kind: ConfigMap}]\n",
            &filter,
        );
        assert_eq!(parsed.documents[0].value["items"][0]["kind"], "ConfigMap");
    }
}
