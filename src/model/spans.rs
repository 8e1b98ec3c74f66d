//! The span index: JSON pointer → line and column of a node in its file.
//!
//! Stored as the document's nodes in pre-order, each with the size of its subtree, so that a
//! lookup walks down the value and skips sibling subtrees. Twelve bytes a node, no strings:
//! large CRD schemas stay cheap to keep, and lookups only happen for findings.

use crate::model::value::Value;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl PartialEq<(u32, u32)> for Pos {
    fn eq(&self, other: &(u32, u32)) -> bool {
        (self.line, self.column) == *other
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanNode {
    pub line: u32,
    pub column: u32,
    /// Number of nodes in this subtree, itself included.
    pub len: u32,
}

/// Positions of every node of one value, in pre-order (map entries in document order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanTree {
    nodes: Vec<SpanNode>,
}

impl SpanTree {
    pub fn from_nodes(nodes: Vec<SpanNode>) -> Self {
        SpanTree { nodes }
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn root(&self) -> Pos {
        self.nodes
            .first()
            .map(|n| Pos {
                line: n.line,
                column: n.column,
            })
            .unwrap_or_default()
    }

    /// Greatest line of any node: the last line a value starts on.
    pub fn last_line(&self) -> u32 {
        self.nodes.iter().map(|n| n.line).max().unwrap_or(0)
    }

    /// The nodes of the `k`-th child of the node at `at`.
    pub(crate) fn child_nodes(&self, at: usize, k: usize) -> &[SpanNode] {
        match self.child_index(at, k) {
            Some(i) => &self.nodes[i..i + self.nodes[i].len as usize],
            None => &[],
        }
    }

    fn child_index(&self, at: usize, k: usize) -> Option<usize> {
        let end = at + self.nodes.get(at)?.len as usize;
        let mut i = at + 1;
        for _ in 0..k {
            i += self.nodes.get(i)?.len as usize;
        }
        (i < end).then_some(i)
    }

    /// Index of the deepest node on `pointer` that exists in `value`.
    fn deepest(&self, value: &Value, pointer: &str) -> usize {
        let mut at = 0usize;
        let mut current = value;
        if self.nodes.is_empty() {
            return 0;
        }
        for token in pointer_tokens(pointer) {
            let (k, child) = match current {
                // Map entries keep document order, as the nodes do.
                Value::Object(map) => match map.get_index_of(&token) {
                    Some(k) => (k, &map[token.as_ref()]),
                    None => break,
                },
                Value::Array(items) => match token
                    .parse::<usize>()
                    .ok()
                    .and_then(|k| items.get(k).map(|c| (k, c)))
                {
                    Some(found) => found,
                    None => break,
                },
                _ => break,
            };
            match self.child_index(at, k) {
                Some(i) => {
                    at = i;
                    current = child;
                }
                None => break,
            }
        }
        at
    }

    /// Position of the most specific existing node on `pointer`.
    pub fn locate(&self, value: &Value, pointer: &str) -> Pos {
        match self.nodes.get(self.deepest(value, pointer)) {
            Some(n) => Pos {
                line: n.line,
                column: n.column,
            },
            None => Pos::default(),
        }
    }

    /// The span tree of the node at `pointer`, when it exists (`kind: List` items).
    pub fn subtree(&self, value: &Value, pointer: &str) -> SpanTree {
        let at = self.deepest(value, pointer);
        match self.nodes.get(at) {
            Some(n) => SpanTree::from_nodes(self.nodes[at..at + n.len as usize].to_vec()),
            None => SpanTree::default(),
        }
    }
}

/// Tokens of an RFC 6901 JSON pointer, unescaped.
pub fn pointer_tokens(pointer: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    pointer.split('/').skip(1).map(|t| {
        if t.contains('~') {
            std::borrow::Cow::Owned(t.replace("~1", "/").replace("~0", "~"))
        } else {
            std::borrow::Cow::Borrowed(t)
        }
    })
}

/// Appends an escaped token to a JSON pointer.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if token.contains(['~', '/']) {
        pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
    } else {
        pointer.push_str(token);
    }
}

/// Builds a JSON pointer from tokens.
pub fn pointer<I, T>(tokens: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut out = String::new();
    for t in tokens {
        push_token(&mut out, t.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escaping_round_trips() {
        let p = pointer([
            "metadata",
            "annotations",
            "ignore.tollgate.dev/image-pinned",
        ]);
        assert_eq!(p, "/metadata/annotations/ignore.tollgate.dev~1image-pinned");
        let back: Vec<_> = pointer_tokens(&p).collect();
        assert_eq!(back[2], "ignore.tollgate.dev/image-pinned");
    }
}
