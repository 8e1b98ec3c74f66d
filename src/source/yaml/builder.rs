//! The event builder: turns `saphyr-parser` events into values and positions, expanding
//! aliases within budget and skimming the bodies of documents no rule reads.

use std::collections::HashMap;

use crate::model::value::{Map, Text, Value};
use saphyr_parser::{Event, Parser, Span};

use super::scalar::{Field, resolve_scalar};
use super::{ALIAS_NODE_BYTES, Document, KindFilter, MAX_ALIAS_BYTES, MAX_DEPTH, SyntaxError};
use crate::model::spans::{SpanNode, SpanTree};

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

pub(super) struct Builder<'a, 'b> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    line_offset: u32,
    anchors: HashMap<usize, Anchored>,
    spans: Vec<SpanNode>,
    budget: &'b mut usize,
    max_line: u32,
    /// Documents emitted so far by this builder.
    emitted: usize,
    /// Problems that do not stop the document (duplicate keys).
    pub(super) soft_errors: Vec<SyntaxError>,
    /// When set, the body of a document whose kind this filter does not build is skimmed.
    pub(super) skim_unless: Option<&'b KindFilter>,
    /// The `kind` of the document being built, once its top-level entry was read.
    document_kind: Option<String>,
    /// Skimming met something only a full build handles exactly; the run must be repeated.
    pub(super) skim_failed: bool,
    /// Scratch vectors for the entries, entry starts and items of the collections being
    /// built, one per nesting level in use: each collection is copied out at its final size,
    /// so building allocates neither growing vectors nor their slack.
    scratch_entries: Vec<Vec<(Text, Value)>>,
    scratch_starts: Vec<Vec<usize>>,
    scratch_items: Vec<Vec<Value>>,
}

type Step<'a> = (Event<'a>, Span);

/// Scratch vectors up to this capacity are kept for the next collection; a bigger one (a huge
/// ConfigMap, hostile input) is freed rather than held until the end of the file.
const SCRATCH_KEPT_CAPACITY: usize = 1024;

/// Returns a scratch vector, emptied, to its pool.
fn recycle<T>(pool: &mut Vec<Vec<T>>, mut scratch: Vec<T>) {
    scratch.clear();
    if scratch.capacity() <= SCRATCH_KEPT_CAPACITY {
        pool.push(scratch);
    }
}

impl<'a, 'b> Builder<'a, 'b> {
    pub(super) fn new(text: &'a str, line_offset: u32, budget: &'b mut usize) -> Self {
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
            scratch_entries: Vec::new(),
            scratch_starts: Vec::new(),
            scratch_items: Vec::new(),
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

    pub(super) fn run(&mut self, emit: &mut dyn FnMut(Document)) -> Result<(), SyntaxError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing => continue,
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    // One buffer for the whole stream; each document keeps an exact-size copy,
                    // not a vector grown by doubling (a fifth of the parse heap on fleets).
                    self.spans.clear();
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
                        spans: SpanTree::from_nodes(self.spans.to_vec()),
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
                let mut scratch = self.scratch_items.pop().unwrap_or_default();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    scratch.push(self.node(event, span, depth + 1, field.child_for_item())?);
                }
                // Not `mem::take`: the copy is exact-size, the scratch keeps its capacity.
                let mut items = Vec::with_capacity(scratch.len());
                items.append(&mut scratch);
                recycle(&mut self.scratch_items, scratch);
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
        let mut entries = self.scratch_entries.pop().unwrap_or_default();
        // Where each entry's nodes start in `self.spans`.
        let mut entry_starts = self.scratch_starts.pop().unwrap_or_default();
        let mut merges: Vec<(Value, Vec<SpanNode>)> = Vec::new();
        // Small maps are checked for duplicates by scanning; big ones (hostile input, huge
        // ConfigMaps) through a set, so the check stays linear.
        let mut seen: Option<std::collections::HashSet<Text>> = None;
        // Top-level entries skimmed (not built) because nothing reads this document's kind.
        let mut skimmed_keys: Vec<Text> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            let key = match event {
                Event::MappingEnd => break,
                // Copied at its exact size: the scanner's buffer has room to spare, and a key
                // lives as long as the run.
                Event::Scalar(text, ..) => Text::from(&*text),
                Event::Alias(id) => match self.anchors.get(&id).map(|a| &a.value) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) if !v.is_array() && !v.is_object() => Text::from(v.to_string()),
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
                    let mut set: std::collections::HashSet<Text> =
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
            if depth == 0 && key == "kind" {
                if self.skim_unless.is_some() && !skimmed_keys.is_empty() {
                    // A second `kind` after a skim: what was skimmed may be of a kind read.
                    return Err(self.give_up_skimming(&key_span));
                }
                if let Value::String(kind) = &value {
                    self.document_kind = Some(kind.to_string());
                }
            }
            entries.push((key, value));
        }
        // Copied out at its exact size (the scratch vector keeps its capacity for the next
        // map); repeated keys were resolved above.
        let mut exact = Vec::with_capacity(entries.len());
        exact.append(&mut entries);
        let mut map = Map::from_unique_entries(exact);
        recycle(&mut self.scratch_entries, entries);
        recycle(&mut self.scratch_starts, entry_starts);
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
        map: &mut Map,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_scratch_is_empty_and_oversized_scratch_is_freed() {
        let mut pool: Vec<Vec<u32>> = Vec::new();
        recycle(&mut pool, vec![1, 2, 3]);
        assert_eq!(pool.len(), 1);
        assert!(pool[0].is_empty());
        recycle(&mut pool, Vec::with_capacity(SCRATCH_KEPT_CAPACITY + 1));
        assert_eq!(pool.len(), 1);
    }
}
