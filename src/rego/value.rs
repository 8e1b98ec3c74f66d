//! Conversions between the document values of objects and regorus values.
//!
//! Each object is converted once per evaluation pass and shared (regorus values are
//! reference-counted) by every policy, `data.inventory` and every input that embeds it.

use std::collections::BTreeMap;

use regorus::Value;

use crate::model::value::Value as Doc;

/// A regorus value with the same content as `value`.
pub fn to_rego(value: &Doc) -> Value {
    to_rego_interned(value, &mut StringInterner::default())
}

/// Strings already converted, shared by every value converted with the same interner:
/// thousands of objects repeat `apiVersion`, `metadata`, `name`, `IfNotPresent`… and each
/// would otherwise hold its own copy for the whole run. Long strings (certificates, scripts)
/// are rarely repeated and are not kept here.
#[derive(Default)]
pub struct StringInterner {
    strings: std::collections::HashSet<std::sync::Arc<str>>,
}

/// Strings longer than this are converted without interning.
const INTERNED_MAX_BYTES: usize = 64;

impl StringInterner {
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
pub fn to_rego_interned(value: &Doc, keys: &mut StringInterner) -> Value {
    match value {
        Doc::Null => Value::Null,
        Doc::Bool(b) => Value::Bool(*b),
        Doc::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Doc::String(s) => keys.string(s),
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
    fn interned_conversions_share_short_strings_and_equal_plain_ones() {
        let long = "x".repeat(100);
        let a = crate::doc!({"metadata": {"name": "api"}, "note": long});
        let b = crate::doc!({"metadata": {"name": "api"}, "note": long});
        let mut strings = StringInterner::default();
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
