//! Positions of a rendered object taken from its source document: the same node where the
//! source has it, else its nearest parent's.

use crate::model::value::Value;

use super::patches::named;
use crate::model::object::Object;
use crate::model::spans::{Pos, SpanNode, SpanTree};

/// The document of `objects` that is the same object as `rendered`: same kind and API group,
/// the longest name the rendered name contains (the same namespace breaks a tie); else the
/// only one of that kind.
pub(super) fn same_object<'a>(objects: &'a [Object], rendered: &Object) -> Option<&'a Object> {
    let same_kind: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind == rendered.kind && o.group() == rendered.group())
        .collect();
    let named = same_kind
        .iter()
        .filter(|o| !o.name.is_empty() && rendered.name.contains(o.name.as_str()))
        .max_by_key(|o| {
            (
                o.name == rendered.name,
                o.name.len(),
                o.namespace == rendered.namespace,
            )
        });
    match named {
        Some(found) => Some(found),
        None if same_kind.len() == 1 => Some(same_kind[0]),
        None => None,
    }
}

/// Every node of a span tree, root first (pre-order).
pub(super) fn all_nodes(spans: &SpanTree) -> Vec<SpanNode> {
    if spans.is_empty() {
        return Vec::new();
    }
    let root = spans.root();
    let mut out = vec![SpanNode {
        line: root.line,
        column: root.column,
        len: 1,
    }];
    for k in 0.. {
        let child = spans.child_nodes(0, k);
        if child.is_empty() {
            break;
        }
        out.extend_from_slice(child);
    }
    out[0].len = out.len() as u32;
    out
}

/// The subtrees of a node's children, in order (`nodes` starts with the node).
pub(super) fn child_slices(nodes: &[SpanNode]) -> Vec<&[SpanNode]> {
    let mut out = Vec::new();
    let Some(first) = nodes.first() else {
        return out;
    };
    let end = (first.len as usize).min(nodes.len());
    let mut i = 1;
    while i < end {
        let len = (nodes[i].len as usize).max(1);
        let stop = (i + len).min(end);
        out.push(&nodes[i..stop]);
        i = stop;
    }
    out
}

/// A span tree for `target` whose nodes carry the positions of the same nodes of `source`
/// (keys by name, named list items by name, others by index); a node `source` lacks takes
/// its parent's position.
pub fn project(target: &Value, source: &Value, spans: &SpanTree) -> SpanTree {
    let nodes = all_nodes(spans);
    let mut out = Vec::new();
    let root = spans.root();
    project_node(target, Some((source, &nodes)), root, &mut out);
    SpanTree::from_nodes(out)
}

pub(super) fn project_node(
    target: &Value,
    source: Option<(&Value, &[SpanNode])>,
    parent: Pos,
    out: &mut Vec<SpanNode>,
) {
    let pos = match source.and_then(|(_, nodes)| nodes.first()) {
        Some(n) => Pos {
            line: n.line,
            column: n.column,
        },
        None => parent,
    };
    let at = out.len();
    out.push(SpanNode {
        line: pos.line,
        column: pos.column,
        len: 1,
    });
    let children = source.map(|(_, nodes)| child_slices(nodes));
    let child_of = |k: usize| children.as_ref().and_then(|c| c.get(k).copied());
    match target {
        Value::Object(map) => {
            for (key, child) in map {
                let found = source.and_then(|(value, _)| {
                    let map = value.as_object()?;
                    let k = map.iter().position(|(other, _)| other == key)?;
                    Some((&map[key.as_str()], child_of(k)?))
                });
                project_node(child, found, pos, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let found = source.and_then(|(value, _)| {
                    let list = value.as_array()?;
                    let k = match named(child) {
                        Some(name) => list.iter().position(|x| named(x) == Some(name))?,
                        None => i,
                    };
                    Some((list.get(k)?, child_of(k)?))
                });
                project_node(child, found, pos, out);
            }
        }
        _ => {}
    }
    out[at].len = (out.len() - at) as u32;
}
