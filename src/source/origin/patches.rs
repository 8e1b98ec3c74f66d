//! Patches of the kustomizations between an overlay and a file: which objects they select,
//! and which fields they set (a finding on such a field points at the patch).

use crate::model::value::Value;

use super::project::child_slices;
use crate::gitops::kustomize::Kustomization;
use crate::gitops::paths::join;
use crate::model::object::Object;
use crate::model::spans::{Pos, SpanNode, push_token};
use crate::source::yaml::parse_stream;

/// A patch of a kustomization.
#[derive(Debug, Clone)]
pub(super) struct Patch {
    /// The patch file (display path), or `None` for an inline patch.
    pub(super) file: Option<String>,
    pub(super) inline: Option<String>,
    /// The kustomization and the entry in it (where an inline patch points).
    pub(super) owner: String,
    pub(super) pos: Pos,
    pub(super) target: Option<Selector>,
}

/// A patch's `target:`.
#[derive(Debug, Clone, Default)]
pub(super) struct Selector {
    pub(super) kind: Option<String>,
    pub(super) name: Option<String>,
    /// `key=value` pairs of a `labelSelector` (`None`: one tollgate cannot evaluate).
    pub(super) labels: Option<Vec<(String, String)>>,
}

impl Selector {
    pub(super) fn selects(&self, rendered: &Object, source: &Object) -> bool {
        if self.kind.as_ref().is_some_and(|k| *k != rendered.kind) {
            return false;
        }
        if let Some(name) = &self.name
            && !name_fits(name, &rendered.name, &source.name)
        {
            return false;
        }
        match &self.labels {
            Some(pairs) => pairs
                .iter()
                .all(|(k, v)| rendered.label(k) == Some(v.as_str())),
            None => false,
        }
    }
}

/// A patch's name names the object at the level it applies: the source name with the
/// prefixes and suffixes of the builds below, so it holds the source name and the rendered
/// name holds it.
pub(super) fn name_fits(patch_name: &str, rendered: &str, source: &str) -> bool {
    rendered.contains(patch_name) && patch_name.contains(source)
}

pub(super) fn names_object(
    map: &crate::model::value::Map,
    rendered: &Object,
    source: &Object,
) -> bool {
    let kind = map.get("kind").and_then(Value::as_str);
    let name = map
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    kind == Some(rendered.kind.as_str())
        && name.is_some_and(|n| name_fits(n, &rendered.name, &source.name))
}

/// The patches of a kustomization (its text given, as `parse` read it).
pub(super) fn patches_of(k: &Kustomization, text: &str) -> Vec<Patch> {
    let Some(doc) = parse_stream(text).documents.into_iter().next() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for field in ["patches", "patchesStrategicMerge", "patchesJson6902"] {
        let Some(entries) = doc.value.get(field).and_then(Value::as_array) else {
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            let pos = doc.spans.locate(&doc.value, &format!("/{field}/{i}"));
            let mut patch = Patch {
                file: None,
                inline: None,
                owner: k.path.clone(),
                pos,
                target: None,
            };
            match entry {
                Value::String(s) if s.contains('\n') => patch.inline = Some(s.to_string()),
                Value::String(s) => patch.file = join(&k.dir, s),
                Value::Object(m) => {
                    patch.file = m
                        .get("path")
                        .and_then(Value::as_str)
                        .and_then(|p| join(&k.dir, p));
                    patch.inline = m.get("patch").and_then(Value::as_str).map(str::to_string);
                    patch.target = m.get("target").map(selector);
                }
                _ => continue,
            }
            out.push(patch);
        }
    }
    out
}

pub(super) fn selector(value: &Value) -> Selector {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let labels = match text("labelSelector") {
        None => Some(Vec::new()),
        Some(selector) => selector
            .split(',')
            .map(|pair| {
                let (k, v) = pair.split_once('=')?;
                let v = v.strip_prefix('=').unwrap_or(v);
                (!k.contains(['!', '(', ' '])).then(|| (k.trim().to_string(), v.trim().to_string()))
            })
            .collect(),
    };
    Selector {
        kind: text("kind"),
        name: text("name"),
        labels: if text("annotationSelector").is_some() {
            None
        } else {
            labels
        },
    }
}

/// Walks a strategic-merge patch alongside the rendered and the source value.
pub(super) struct PatchWalk<'a> {
    pub(super) path: &'a str,
    pub(super) inline: bool,
    pub(super) entry: Pos,
    pub(super) out: &'a mut Vec<(String, String, Pos)>,
}

impl PatchWalk<'_> {
    pub(super) fn pos(&self, nodes: &[SpanNode]) -> Pos {
        match nodes.first() {
            Some(n) if !self.inline => Pos {
                line: n.line,
                column: n.column,
            },
            _ => self.entry,
        }
    }

    /// Records the fields of `patch` (at `pointer`) that the rendered value has.
    pub(super) fn fields(
        &mut self,
        patch: &Value,
        nodes: &[SpanNode],
        rendered: Option<&Value>,
        source: Option<&Value>,
        pointer: &mut String,
    ) {
        let Some(rendered) = rendered else {
            return;
        };
        let top = pointer.is_empty();
        match (patch, source) {
            (Value::Object(map), Some(Value::Object(_))) | (Value::Object(map), None)
                if source.is_some() || top =>
            {
                let children = child_slices(nodes);
                for (i, (key, child)) in map.iter().enumerate() {
                    if key.starts_with('$')
                        || (top && matches!(key.as_str(), "apiVersion" | "kind"))
                    {
                        continue;
                    }
                    if pointer == "/metadata" && matches!(key.as_str(), "name" | "namespace") {
                        continue;
                    }
                    let len = pointer.len();
                    push_token(pointer, key);
                    let child_nodes = children.get(i).copied().unwrap_or(&[]);
                    self.fields(
                        child,
                        child_nodes,
                        rendered.get(key),
                        source.and_then(|s| s.get(key)),
                        pointer,
                    );
                    pointer.truncate(len);
                }
            }
            (Value::Array(items), Some(Value::Array(source_items)))
                if items.iter().all(|i| named(i).is_some()) =>
            {
                let children = child_slices(nodes);
                for (i, item) in items.iter().enumerate() {
                    let name = named(item);
                    let Some(at) = rendered
                        .as_array()
                        .and_then(|r| r.iter().position(|x| named(x) == name))
                    else {
                        continue;
                    };
                    let len = pointer.len();
                    push_token(pointer, &at.to_string());
                    let in_source = source_items.iter().find(|x| named(x) == name);
                    let child_nodes = children.get(i).copied().unwrap_or(&[]);
                    if in_source.is_some() {
                        self.fields(item, child_nodes, rendered.get(at), in_source, pointer);
                    } else {
                        self.all(item, child_nodes, pointer);
                    }
                    pointer.truncate(len);
                }
            }
            // A scalar, a list replaced whole, or a subtree the source does not have.
            _ => self.all(patch, nodes, pointer),
        }
    }

    /// Records `patch` and every node under it.
    pub(super) fn all(&mut self, patch: &Value, nodes: &[SpanNode], pointer: &mut String) {
        if pointer.is_empty() {
            return;
        }
        let pos = self.pos(nodes);
        self.out.push((pointer.clone(), self.path.to_string(), pos));
        let children = child_slices(nodes);
        let entries: Vec<(String, &Value)> = match patch {
            Value::Object(map) => map.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => return,
        };
        for (i, (key, child)) in entries.into_iter().enumerate() {
            let len = pointer.len();
            push_token(pointer, &key);
            self.all(child, children.get(i).copied().unwrap_or(&[]), pointer);
            pointer.truncate(len);
        }
    }
}

/// The `name` of a list item, when it has one (containers, volumes, env entries).
pub(super) fn named(item: &Value) -> Option<&str> {
    item.get("name")?.as_str()
}
