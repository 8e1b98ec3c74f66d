//! The compact document tree every object is held in (issue 13).
//!
//! `serde_json::Value` with `preserve_order` costs 80 bytes a node, 112 bytes and a hash-index
//! slot a map entry, and one allocation per key and per string. A fleet keeps every object of
//! a cluster alive at once, so that tree was most of a scan's memory and a fifth of its time in
//! page faults. This tree is 32 bytes a node: map entries are a plain vector in document order
//! (Kubernetes maps are small; lookups scan), keys and short strings live inline (up to 24 bytes,
//! which covers nearly every key and most values), and only maps past [`INDEXED_FROM`] entries
//! carry a sorted index so that hostile or huge maps stay `O(log n)` to search.
//!
//! The API follows `serde_json::Value` (`get`, `pointer`, `as_str`, `as_object`, `Map::insert`
//! …) so rules read the same, and it keeps serde_json's semantics where they show in reports:
//! `Map::remove` swaps like `swap_remove`, map equality ignores order, duplicate keys keep the
//! first position with the last value, and JSON text is serde_json's.

use std::fmt;

use compact_str::CompactString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::model::spans::pointer_tokens;

pub use serde_json::Number;

/// A map key or a string value: inline up to 24 bytes, heap-allocated past that.
pub type Text = CompactString;

/// Maps with at least this many entries keep a sorted index for lookups.
const INDEXED_FROM: usize = 24;

/// A JSON value (the data model of YAML documents and of API objects).
#[derive(Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Text),
    Array(Vec<Value>),
    Object(Map),
}

static NULL: Value = Value::Null;

/// A JSON object whose entries keep document order.
#[derive(Clone, Default)]
pub struct Map {
    entries: Vec<(Text, Value)>,
    /// Entry positions sorted by key; only for maps of [`INDEXED_FROM`] entries or more
    /// (boxed twice so that small maps pay one word for it).
    #[allow(clippy::box_collection)]
    sorted: Option<Box<Vec<u32>>>,
}

impl Value {
    /// The member of an object (`"key"`) or the item of an array (`3`).
    pub fn get<I: ValueIndex>(&self, index: I) -> Option<&Value> {
        index.index_into(self)
    }

    pub fn get_mut<I: ValueIndex>(&mut self, index: I) -> Option<&mut Value> {
        index.index_into_mut(self)
    }

    /// The value at an RFC 6901 JSON pointer (`""` is the whole value).
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        let mut target = self;
        for token in pointer_steps(pointer)? {
            target = target.child_at(target.child_position(&token)?)?;
        }
        Some(target)
    }

    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        let mut target = self;
        for token in pointer_steps(pointer)? {
            let at = target.child_position(&token)?;
            target = target.child_at_mut(at)?;
        }
        Some(target)
    }

    /// Where the child a pointer token names is: a key's entry, or an array position.
    fn child_position(&self, token: &str) -> Option<usize> {
        match self {
            Value::Object(map) => map.get_index_of(token),
            Value::Array(items) => parse_index(token).filter(|&at| at < items.len()),
            _ => None,
        }
    }

    fn child_at(&self, at: usize) -> Option<&Value> {
        match self {
            Value::Object(map) => map.entries.get(at).map(|(_, v)| v),
            Value::Array(items) => items.get(at),
            _ => None,
        }
    }

    fn child_at_mut(&mut self, at: usize) -> Option<&mut Value> {
        match self {
            Value::Object(map) => map.entries.get_mut(at).map(|(_, v)| v),
            Value::Array(items) => items.get_mut(at),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_i64(&self) -> bool {
        self.as_number().is_some_and(Number::is_i64)
    }

    pub fn is_u64(&self) -> bool {
        self.as_number().is_some_and(Number::is_u64)
    }

    /// Takes the value out, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// The same value as a `serde_json::Value`, for reports and HTTP bodies.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// The unescaped tokens of `pointer`; `None` when it is not one (neither empty nor `/…`).
fn pointer_steps(pointer: &str) -> Option<impl Iterator<Item = std::borrow::Cow<'_, str>>> {
    (pointer.is_empty() || pointer.starts_with('/')).then(|| pointer_tokens(pointer))
}

/// An array index in a pointer: digits, no sign, no leading zero (as serde_json reads them).
fn parse_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// What `Value::get` accepts: a key or an array position.
pub trait ValueIndex {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value>;
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value>;
}

impl ValueIndex for usize {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.as_array()?.get(*self)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        value.as_array_mut()?.get_mut(*self)
    }
}

impl ValueIndex for str {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.as_object()?.get(self)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        value.as_object_mut()?.get_mut(self)
    }
}

impl ValueIndex for String {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.as_str().index_into(value)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.as_str().index_into_mut(value)
    }
}

impl ValueIndex for Text {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.as_str().index_into(value)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.as_str().index_into_mut(value)
    }
}

impl<T: ValueIndex + ?Sized> ValueIndex for &T {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        (**self).index_into(value)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        (**self).index_into_mut(value)
    }
}

impl<I: ValueIndex> std::ops::Index<I> for Value {
    type Output = Value;
    /// `null` when the member or item is missing, as in serde_json.
    fn index(&self, index: I) -> &Value {
        index.index_into(self).unwrap_or(&NULL)
    }
}

impl Map {
    pub fn new() -> Self {
        Map::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Map {
            entries: Vec::with_capacity(capacity),
            sorted: None,
        }
    }

    /// A map of `entries` in their order. A repeated key keeps its first position and its
    /// last value, as inserting them one by one would.
    pub fn from_entries(mut entries: Vec<(Text, Value)>) -> Self {
        if entries.len() < INDEXED_FROM {
            if has_duplicate_small(&entries) {
                // Inserted one by one: few entries, so the quadratic lookups cost nothing.
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    map.insert(key, value);
                }
                map.entries.shrink_to_fit();
                return map;
            }
            entries.shrink_to_fit();
            return Map {
                entries,
                sorted: None,
            };
        }
        let mut order: Vec<u32> = (0..entries.len() as u32).collect();
        // Stable: equal keys stay in document order, so the first is the one kept.
        order.sort_by(|a, b| entries[*a as usize].0.cmp(&entries[*b as usize].0));
        let duplicate = order
            .windows(2)
            .any(|w| entries[w[0] as usize].0 == entries[w[1] as usize].0);
        if duplicate {
            return Map::dedup_large(entries, &order);
        }
        entries.shrink_to_fit();
        Map {
            entries,
            sorted: Some(Box::new(order)),
        }
    }

    /// A map of `entries` whose keys are known to be distinct (the YAML builder checks them
    /// as it reads, to report duplicates).
    pub fn from_unique_entries(entries: Vec<(Text, Value)>) -> Self {
        debug_assert!(entries.len() >= INDEXED_FROM || !has_duplicate_small(&entries));
        let mut map = Map {
            entries,
            sorted: None,
        };
        map.reindex();
        map
    }

    /// Slow path of [`Map::from_entries`] for large maps with repeated keys.
    fn dedup_large(entries: Vec<(Text, Value)>, order: &[u32]) -> Self {
        // For each run of equal keys, the first position gets the last value.
        let mut keep = vec![true; entries.len()];
        let mut last_of_first: Vec<Option<u32>> = vec![None; entries.len()];
        let mut run = 0;
        while run < order.len() {
            let mut end = run + 1;
            while end < order.len()
                && entries[order[end] as usize].0 == entries[order[run] as usize].0
            {
                keep[order[end] as usize] = false;
                end += 1;
            }
            if end - run > 1 {
                last_of_first[order[run] as usize] = Some(order[end - 1]);
            }
            run = end;
        }
        let mut slots: Vec<Option<(Text, Value)>> = entries.into_iter().map(Some).collect();
        let mut out = Vec::with_capacity(keep.iter().filter(|k| **k).count());
        for i in 0..slots.len() {
            if !keep[i] {
                continue;
            }
            let Some((key, mut value)) = slots[i].take() else {
                continue;
            };
            if let Some(last) = last_of_first[i]
                && let Some((_, later)) = slots[last as usize].take()
            {
                value = later;
            }
            out.push((key, value));
        }
        Map::from_entries(out)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Position of `key` among the entries.
    pub fn get_index_of(&self, key: &str) -> Option<usize> {
        match &self.sorted {
            Some(order) => order
                .binary_search_by(|at| self.entries[*at as usize].0.as_str().cmp(key))
                .ok()
                .map(|found| order[found] as usize),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.get_index_of(key).map(|at| &self.entries[at].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.get_index_of(key).map(|at| &mut self.entries[at].1)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&Text, &Value)> {
        self.get_index_of(key)
            .map(|at| (&self.entries[at].0, &self.entries[at].1))
    }

    pub fn get_index(&self, at: usize) -> Option<(&Text, &Value)> {
        self.entries.get(at).map(|(k, v)| (k, v))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get_index_of(key).is_some()
    }

    /// Sets `key`; an existing key keeps its position and gives back its old value.
    pub fn insert(&mut self, key: impl Into<Text>, value: Value) -> Option<Value> {
        let key = key.into();
        if let Some(at) = self.get_index_of(&key) {
            return Some(std::mem::replace(&mut self.entries[at].1, value));
        }
        self.push_new(key, value);
        None
    }

    /// Appends an entry whose key is not in the map, keeping the index in step.
    fn push_new(&mut self, key: Text, value: Value) {
        let at = self.entries.len() as u32;
        if let Some(order) = &mut self.sorted {
            let entries = &self.entries;
            let slot = order
                .binary_search_by(|i| entries[*i as usize].0.as_str().cmp(key.as_str()))
                .unwrap_or_else(|slot| slot);
            order.insert(slot, at);
            self.entries.push((key, value));
        } else {
            self.entries.push((key, value));
            if self.entries.len() >= INDEXED_FROM {
                self.reindex();
            }
        }
    }

    /// Drops `key`'s slot from the index (before its entry is removed).
    fn unindex(&mut self, key: &str) {
        if let Some(order) = &mut self.sorted {
            let entries = &self.entries;
            if let Ok(slot) = order.binary_search_by(|i| entries[*i as usize].0.as_str().cmp(key)) {
                order.remove(slot);
            }
        }
    }

    /// Removes `key` by moving the last entry into its place (serde_json's `remove` with
    /// `preserve_order`).
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.swap_remove(key)
    }

    pub fn swap_remove(&mut self, key: &str) -> Option<Value> {
        let at = self.get_index_of(key)?;
        self.unindex(key);
        let moved = self.entries.len() as u32 - 1;
        let (_, value) = self.entries.swap_remove(at);
        if let Some(order) = &mut self.sorted {
            if let Some(slot) = order.iter_mut().find(|i| **i == moved) {
                *slot = at as u32;
            }
            if self.entries.len() < INDEXED_FROM {
                self.sorted = None;
            }
        }
        Some(value)
    }

    /// Removes `key` and keeps the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let at = self.get_index_of(key)?;
        self.unindex(key);
        let (_, value) = self.entries.remove(at);
        if let Some(order) = &mut self.sorted {
            for i in order.iter_mut().filter(|i| **i as usize > at) {
                *i -= 1;
            }
            if self.entries.len() < INDEXED_FROM {
                self.sorted = None;
            }
        }
        Some(value)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Text, &mut Value) -> bool) {
        let before = self.entries.len();
        self.entries.retain_mut(|(k, v)| keep(k, v));
        if self.entries.len() != before {
            self.reindex();
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.sorted = None;
    }

    /// The slot of `key`; nothing is added until `or_insert` asks for it.
    pub fn entry(&mut self, key: impl Into<Text>) -> Entry<'_> {
        let key = key.into();
        let slot = match self.get_index_of(&key) {
            Some(at) => Slot::Occupied(at),
            None => Slot::Vacant(key),
        };
        Entry { map: self, slot }
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut {
            inner: self.entries.iter_mut(),
        }
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Text> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Rebuilds the sorted index after the key set changed.
    fn reindex(&mut self) {
        if self.entries.len() < INDEXED_FROM {
            self.sorted = None;
            return;
        }
        let entries = &self.entries;
        let mut order: Vec<u32> = (0..entries.len() as u32).collect();
        order.sort_by(|a, b| entries[*a as usize].0.cmp(&entries[*b as usize].0));
        self.sorted = Some(Box::new(order));
    }
}

/// Whether a small entry list repeats a key (quadratic, but only under [`INDEXED_FROM`]).
fn has_duplicate_small(entries: &[(Text, Value)]) -> bool {
    entries
        .iter()
        .enumerate()
        .any(|(i, (k, _))| entries[..i].iter().any(|(earlier, _)| earlier == k))
}

/// A slot of a map from [`Map::entry`].
pub struct Entry<'m> {
    map: &'m mut Map,
    slot: Slot,
}

enum Slot {
    Occupied(usize),
    Vacant(Text),
}

impl<'m> Entry<'m> {
    pub fn or_insert(self, default: Value) -> &'m mut Value {
        self.or_insert_with(|| default)
    }

    pub fn or_insert_with(self, default: impl FnOnce() -> Value) -> &'m mut Value {
        let Entry { map, slot } = self;
        let at = match slot {
            Slot::Occupied(at) => at,
            Slot::Vacant(key) => {
                // Appended: the new entry is the last one.
                map.push_new(key, default());
                map.entries.len() - 1
            }
        };
        &mut map.entries[at].1
    }
}

impl PartialEq for Map {
    /// Same keys with equal values, in any order (serde_json's map equality).
    fn eq(&self, other: &Map) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let same_order = self
            .entries
            .iter()
            .zip(&other.entries)
            .all(|((a, _), (b, _))| a == b);
        if same_order {
            return self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|((_, a), (_, b))| a == b);
        }
        self.iter()
            .all(|(k, v)| other.get(k).is_some_and(|theirs| theirs == v))
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

pub struct Iter<'m> {
    inner: std::slice::Iter<'m, (Text, Value)>,
}

impl<'m> Iterator for Iter<'m> {
    type Item = (&'m Text, &'m Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

pub struct IterMut<'m> {
    inner: std::slice::IterMut<'m, (Text, Value)>,
}

impl<'m> Iterator for IterMut<'m> {
    type Item = (&'m Text, &'m mut Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (&*k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<'m> IntoIterator for &'m Map {
    type Item = (&'m Text, &'m Value);
    type IntoIter = Iter<'m>;
    fn into_iter(self) -> Iter<'m> {
        self.iter()
    }
}

impl<'m> IntoIterator for &'m mut Map {
    type Item = (&'m Text, &'m mut Value);
    type IntoIter = IterMut<'m>;
    fn into_iter(self) -> IterMut<'m> {
        self.iter_mut()
    }
}

impl IntoIterator for Map {
    type Item = (Text, Value);
    type IntoIter = std::vec::IntoIter<(Text, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<Text>> FromIterator<(K, Value)> for Map {
    fn from_iter<T: IntoIterator<Item = (K, Value)>>(iter: T) -> Self {
        Map::from_entries(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<K: Into<Text>> Extend<(K, Value)> for Map {
    fn extend<T: IntoIterator<Item = (K, Value)>>(&mut self, iter: T) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Number(n) => write!(f, "Number({n})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::Array(items) => {
                f.write_str("Array ")?;
                f.debug_list().entries(items).finish()
            }
            Value::Object(map) => {
                f.write_str("Object ")?;
                fmt::Debug::fmt(map, f)
            }
        }
    }
}

impl fmt::Display for Value {
    /// Compact JSON, as serde_json writes it (`{:#}`: indented).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => map.serialize(serializer),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            out.serialize_entry(k.as_str(), v)?;
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Map, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Object(map) => Ok(map),
            _ => Err(de::Error::custom("expected an object")),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(Text::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(Text::from(v)))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        items.shrink_to_fit();
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = access.next_key::<KeyText>()? {
            let value = access.next_value()?;
            entries.push((key.0, value));
        }
        Ok(Value::Object(Map::from_entries(entries)))
    }
}

/// A map key read straight into inline text (no intermediate `String`).
struct KeyText(Text);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyText, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(Text::from(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(Text::from(s)),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (Text::from(k), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(value: &Value) -> serde_json::Value {
        value.to_json()
    }
}

impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        value.to_json()
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Text::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Text::from(s))
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(Text::from(s.as_str()))
    }
}

impl From<Text> for Value {
    fn from(s: Text) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

macro_rules! from_integer {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(n.into())
            }
        }
    )*};
}
from_integer!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::Object(map)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> FromIterator<T> for Value {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Value {
        Value::Array(iter.into_iter().map(Into::into).collect())
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl PartialEq<serde_json::Value> for Value {
    fn eq(&self, other: &serde_json::Value) -> bool {
        match (self, other) {
            (Value::Null, serde_json::Value::Null) => true,
            (Value::Bool(a), serde_json::Value::Bool(b)) => a == b,
            (Value::Number(a), serde_json::Value::Number(b)) => a == b,
            (Value::String(a), serde_json::Value::String(b)) => a == b,
            (Value::Array(a), serde_json::Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Value::Object(a), serde_json::Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k.as_str()).is_some_and(|theirs| v == theirs))
            }
            _ => false,
        }
    }
}

/// Builds a [`Value`] with `serde_json::json!` syntax.
#[macro_export]
macro_rules! doc {
    ($($json:tt)+) => {
        $crate::model::value::Value::from(::serde_json::json!($($json)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_four_words() {
        assert!(std::mem::size_of::<Value>() <= 32);
    }

    #[test]
    fn pointer_reads_like_serde_json() {
        let value = doc!({"a": {"b/c": [1, {"d": "x"}]}, "~": true});
        assert_eq!(value.pointer("/a/b~1c/1/d"), Some(&Value::from("x")));
        assert_eq!(value.pointer("/~0"), Some(&Value::Bool(true)));
        assert_eq!(value.pointer("/a/b~1c/01"), None);
        assert_eq!(value.pointer(""), Some(&value));
        assert_eq!(value.pointer("a"), None);
    }

    #[test]
    fn large_maps_are_indexed_and_keep_order() {
        let entries: Vec<(Text, Value)> = (0..100)
            .rev()
            .map(|i| (Text::from(format!("k{i}")), Value::from(i)))
            .collect();
        let mut map = Map::from_entries(entries);
        assert!(map.sorted.is_some());
        assert_eq!(map.get("k7"), Some(&Value::from(7)));
        assert_eq!(map.keys().next().map(Text::as_str), Some("k99"));
        map.insert("k7", Value::Null);
        assert_eq!(map.get_index_of("k7"), Some(92));
        assert_eq!(map.remove("k99"), Some(Value::from(99)));
        // swap_remove: the last entry (`k0`) took the first place.
        assert_eq!(map.keys().next().map(Text::as_str), Some("k0"));
        assert_eq!(map.get("k0"), Some(&Value::from(0)));
        assert!(!map.contains_key("k99"));
    }

    /// Random inserts and removals give the same order and contents as serde_json's map with
    /// `preserve_order`, below and above the size where the index starts.
    #[test]
    fn edits_match_serde_json_maps() {
        let mut seed = 0x2545_f491_u64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for keys in [8u64, 40, 200] {
            let mut ours = Map::new();
            let mut theirs = serde_json::Map::new();
            for step in 0..4000 {
                let key = format!("k{}", next(keys));
                match next(4) {
                    0 => {
                        ours.remove(&key);
                        theirs.remove(&key);
                    }
                    1 => {
                        ours.shift_remove(&key);
                        theirs.shift_remove(&key);
                    }
                    _ => {
                        ours.insert(key.clone(), Value::from(step));
                        theirs.insert(key, serde_json::Value::from(step));
                    }
                }
                let probe = format!("k{}", next(keys));
                assert_eq!(
                    ours.get(&probe).map(Value::to_json).as_ref(),
                    theirs.get(&probe)
                );
            }
            let ours: Vec<_> = ours
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_json()))
                .collect();
            let theirs: Vec<_> = theirs.into_iter().collect();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn an_entry_adds_nothing_until_it_is_filled() {
        let mut map = Map::new();
        map.insert("a", Value::from(1));
        let _ = map.entry("b");
        assert_eq!(map.len(), 1);
        *map.entry("b").or_insert(Value::from(2)) = Value::from(3);
        assert_eq!(map.entry("a").or_insert(Value::Null), &Value::from(1));
        assert_eq!(map.keys().map(Text::as_str).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(map.get("b"), Some(&Value::from(3)));
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        for size in [3, 40] {
            let mut entries: Vec<(Text, Value)> = (0..size)
                .map(|i| (Text::from(format!("k{i}")), Value::from(i)))
                .collect();
            entries.push((Text::from("k1"), Value::from("last")));
            let map = Map::from_entries(entries);
            assert_eq!(map.len(), size);
            assert_eq!(map.get_index_of("k1"), Some(1));
            assert_eq!(map.get("k1"), Some(&Value::from("last")));
        }
    }

    #[test]
    fn maps_equal_in_any_order_and_json_round_trips() {
        let a = doc!({"x": 1, "y": [true, null, 2.5]});
        let b = doc!({"y": [true, null, 2.5], "x": 1});
        assert_eq!(a, b);
        let text = a.to_string();
        assert_eq!(text, r#"{"x":1,"y":[true,null,2.5]}"#);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        assert_eq!(serde_json::Value::from(&a).to_string(), text);
    }
}
