//! Conversions between the document values of objects and regorus values.
//!
//! Each object is converted once per evaluation pass and shared (regorus values are
//! reference-counted) by every policy, `data.inventory` and every input that embeds it.

use std::collections::BTreeMap;

use regorus::Value;

use crate::model::value::Value as Doc;

/// A regorus value with the same content as `value`.
pub fn to_rego(value: &Doc) -> Value {
    to_rego_interned(value, &mut Interner::default())
}

/// Strings already converted, shared by every value converted with the same interner:
/// thousands of objects repeat `apiVersion`, `metadata`, `name`, `IfNotPresent`… and each
/// would otherwise hold its own copy for the whole run. Long strings (certificates, scripts)
/// are rarely repeated and are not kept here.
///
/// Small trees (labels, selectors, resources, ports, security contexts) are shared the same
/// way: a fleet repeats them thousands of times, and each converted map is a sorted vector
/// that `data.inventory` keeps for the whole pass.
#[derive(Default)]
pub struct Interner {
    strings: std::collections::HashSet<std::sync::Arc<str>>,
    /// Converted small trees by [`small_tree_hash`]; equal hashes are told apart by [`same_tree`].
    trees: std::collections::HashMap<u64, Vec<Value>>,
}

/// Maps and arrays of at most this many nodes in all are shared.
const SHARED_TREE_MAX_NODES: usize = 24;

/// Strings longer than this are converted without interning.
const INTERNED_MAX_BYTES: usize = 64;

impl Interner {
    fn string(&mut self, text: &str) -> Value {
        if text.len() > INTERNED_MAX_BYTES {
            return Value::from(text);
        }
        if let Some(interned) = self.strings.get(text) {
            return Value::String(interned.clone());
        }
        let shared: std::sync::Arc<str> = std::sync::Arc::from(text);
        self.strings.insert(shared.clone());
        Value::String(shared)
    }
}

/// [`to_rego`], with short strings and keys taken from (and added to) `keys`.
pub fn to_rego_interned(value: &Doc, keys: &mut Interner) -> Value {
    match value {
        Doc::Null => Value::Null,
        Doc::Bool(b) => Value::Bool(*b),
        Doc::Number(n) => number(n),
        Doc::String(s) => keys.string(s),
        Doc::Array(_) | Doc::Object(_) => match small_tree_hash(value) {
            Some(hash) => keys.shared_tree(hash, value),
            None => convert_collection(value, keys),
        },
    }
}

fn number(n: &crate::model::value::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::from(i)
    } else if let Some(u) = n.as_u64() {
        Value::from(u)
    } else {
        Value::from(n.as_f64().unwrap_or(0.0))
    }
}

/// A map or an array, converted (its members through `keys`).
fn convert_collection(value: &Doc, keys: &mut Interner) -> Value {
    match value {
        Doc::Array(items) => Value::from(
            items
                .iter()
                .map(|item| to_rego_interned(item, keys))
                .collect::<Vec<_>>(),
        ),
        Doc::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (keys.string(k), to_rego_interned(v, keys)))
                .collect::<BTreeMap<_, _>>(),
        ),
        scalar => to_rego_interned(scalar, keys),
    }
}

impl Interner {
    /// The shared conversion of the small tree `value`, whose [`small_tree_hash`] is `hash`.
    fn shared_tree(&mut self, hash: u64, value: &Doc) -> Value {
        if let Some(seen) = self.trees.get(&hash)
            && let Some(shared) = seen.iter().find(|v| same_tree(value, v))
        {
            return shared.clone();
        }
        let converted = convert_collection(value, self);
        self.trees.entry(hash).or_default().push(converted.clone());
        converted
    }
}

/// A hash of a small tree (a map or array of at most [`SHARED_TREE_MAX_NODES`] nodes in all,
/// scalars and small collections); `None` for anything larger. Maps hash the same in any key
/// order, as Rego objects compare.
fn small_tree_hash(value: &Doc) -> Option<u64> {
    let mut budget = SHARED_TREE_MAX_NODES;
    match value {
        Doc::Array(_) | Doc::Object(_) => tree_hash(value, &mut budget),
        _ => None,
    }
}

/// [`small_tree_hash`] of any node, spending one unit of `budget` per node.
fn tree_hash(value: &Doc, budget: &mut usize) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    *budget = budget.checked_sub(1)?;
    let mut hasher = std::hash::DefaultHasher::new();
    match value {
        Doc::Null => 0u8.hash(&mut hasher),
        Doc::Bool(b) => (1u8, b).hash(&mut hasher),
        Doc::Number(n) => {
            (2u8, n.as_i64(), n.as_u64(), n.as_f64().map(f64::to_bits)).hash(&mut hasher)
        }
        Doc::String(s) => (3u8, s.as_str()).hash(&mut hasher),
        Doc::Object(map) => {
            // Order-independent: the entries' hashes are summed.
            let mut entries = 0u64;
            for (k, v) in map {
                let mut entry = std::hash::DefaultHasher::new();
                (k.as_str(), tree_hash(v, budget)?).hash(&mut entry);
                entries = entries.wrapping_add(entry.finish());
            }
            (4u8, map.len(), entries).hash(&mut hasher);
        }
        Doc::Array(items) => {
            5u8.hash(&mut hasher);
            for v in items {
                tree_hash(v, budget)?.hash(&mut hasher);
            }
        }
    }
    Some(hasher.finish())
}

/// Whether the converted `rego` has the content of the small tree `doc`, without converting
/// `doc` again.
fn same_tree(doc: &Doc, rego: &Value) -> bool {
    match (doc, rego) {
        (Doc::Null, Value::Null) => true,
        (Doc::Bool(a), Value::Bool(b)) => a == b,
        (Doc::String(a), Value::String(b)) => a.as_str() == &**b,
        (Doc::Number(n), Value::Number(_)) => number(n) == *rego,
        (Doc::Array(items), Value::Array(converted)) => {
            items.len() == converted.len()
                && items
                    .iter()
                    .zip(converted.iter())
                    .all(|(d, r)| same_tree(d, r))
        }
        (Doc::Object(map), Value::Object(converted)) => {
            if map.len() != converted.len() {
                return false;
            }
            // Both sides in key order: the B-tree's, and the map's sorted (a small tree).
            let mut entries: Vec<(&str, &Doc)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            entries
                .iter()
                .zip(converted.iter())
                .all(|((k, d), (rk, r))| {
                    matches!(rk, Value::String(rk) if **rk == **k) && same_tree(d, r)
                })
        }
        _ => false,
    }
}

/// The JSON form of a regorus value (sets become arrays); `None` for undefined.
pub fn to_json(value: &Value) -> Option<serde_json::Value> {
    if matches!(value, Value::Undefined) {
        return None;
    }
    serde_json::from_str(&value.to_json_str().ok()?).ok()
}

/// An object value from string keys.
pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::from(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The string at `key` of an object value.
pub fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    match &value[key] {
        Value::String(s) => Some(s.as_ref()),
        _ => None,
    }
}

/// The members of a rule's value: a set's or array's items, or the value itself.
pub fn members(value: &Value) -> Vec<&Value> {
    match value {
        Value::Set(set) => set.iter().collect(),
        Value::Array(items) => items.iter().collect(),
        Value::Undefined | Value::Null | Value::Bool(false) => Vec::new(),
        other => vec![other],
    }
}

/// Text of a value for a message: strings as they are, anything else as JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => other.to_json_str().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_matches_regorus_json_parsing() {
        let json = crate::doc!({
            "a": [1, -2, 3.5, "x", null, true, {"b": {}}],
            "big": 18446744073709551615u64,
        });
        let direct = to_rego(&json);
        let parsed = Value::from_json_str(&json.to_string()).unwrap();
        assert_eq!(direct, parsed);
        assert_eq!(to_json(&direct), Some(json.to_json()));
    }

    #[test]
    fn members_of_rule_values() {
        let set = Value::from_json_str(r#"["a", "b"]"#).unwrap();
        assert_eq!(members(&set).len(), 2);
        assert_eq!(members(&Value::from("one")).len(), 1);
        assert!(members(&Value::Undefined).is_empty());
        assert!(members(&Value::Bool(false)).is_empty());
    }

    #[test]
    fn small_trees_are_shared_only_when_equal() {
        let object = |labels: Doc, ports: Doc| crate::doc!({"labels": labels, "ports": ports, "spec": {"replicas": 2, "x": [1]}});
        let a = object(
            crate::doc!({"app": "api", "tier": "web"}),
            crate::doc!([80, 443]),
        );
        // Same labels in another order (equal in Rego), other ports.
        let b = object(
            crate::doc!({"tier": "web", "app": "api"}),
            crate::doc!([80, 8443]),
        );
        let c = object(
            crate::doc!({"app": "api", "tier": 1}),
            crate::doc!([80, 443]),
        );
        let mut shared = Interner::default();
        let converted: Vec<Value> = [&a, &b, &c]
            .iter()
            .map(|v| to_rego_interned(v, &mut shared))
            .collect();
        for (doc, rego) in [&a, &b, &c].iter().zip(&converted) {
            assert_eq!(*rego, to_rego(doc));
        }
        let same = |x: &Value, y: &Value| match (x, y) {
            (Value::Object(x), Value::Object(y)) => std::sync::Arc::ptr_eq(x, y),
            (Value::Array(x), Value::Array(y)) => std::sync::Arc::ptr_eq(x, y),
            _ => false,
        };
        assert!(same(&converted[0]["labels"], &converted[1]["labels"]));
        assert!(!same(&converted[0]["labels"], &converted[2]["labels"]));
        assert!(same(&converted[0]["ports"], &converted[2]["ports"]));
        assert!(!same(&converted[0]["ports"], &converted[1]["ports"]));
        // Small trees of collections are shared too, in any key order…
        assert!(same(&converted[0]["spec"], &converted[1]["spec"]));
        // …but not a tree past the size limit, nor the whole objects (their labels differ).
        assert!(!same(&converted[0], &converted[1]));
        let big = crate::doc!({"items": (0..SHARED_TREE_MAX_NODES).collect::<Vec<_>>()});
        let (x, y) = (
            to_rego_interned(&big, &mut shared),
            to_rego_interned(&big, &mut shared),
        );
        assert_eq!(x, to_rego(&big));
        assert!(!same(&x, &y));
        assert!(!same(&x["items"], &y["items"]));
    }

    #[test]
    fn interned_conversions_share_short_strings_and_equal_plain_ones() {
        let long = "x".repeat(100);
        // `id` differs, so the two objects are not one shared tree.
        let a = crate::doc!({"metadata": {"name": "api"}, "note": long, "id": 1});
        let b = crate::doc!({"metadata": {"name": "api"}, "note": long, "id": 2});
        let mut strings = Interner::default();
        let (ra, rb) = (
            to_rego_interned(&a, &mut strings),
            to_rego_interned(&b, &mut strings),
        );
        assert_eq!(ra, to_rego(&a));
        let name = |v: &Value| match &v["metadata"]["name"] {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert!(std::sync::Arc::ptr_eq(&name(&ra), &name(&rb)));
        let note = |v: &Value| match &v["note"] {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert!(!std::sync::Arc::ptr_eq(&note(&ra), &note(&rb)));
    }
}
