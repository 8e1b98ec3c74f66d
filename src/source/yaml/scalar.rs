//! Scalar typing the way Kubernetes reads YAML (go-yaml v2, YAML 1.1), and the fields
//! the API defines as strings.

use crate::model::value::{Number, Value};
use saphyr_parser::{ScalarStyle, Tag};

/// What the Kubernetes API says a field's scalars are, for the few places where YAML 1.1
/// typing would change a string into something else.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Field {
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
    pub(super) fn child_for_key(self, key: &str, depth: usize) -> Field {
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

    pub(super) fn child_for_item(self) -> Field {
        match self {
            Field::ItemsWithValue => Field::ItemWithValue,
            Field::StringItems => Field::String,
            _ => Field::Any,
        }
    }
}

/// Types a scalar as Kubernetes' YAML decoder (go-yaml v2, YAML 1.1) does.
pub(super) fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    field: Field,
) -> Value {
    if let Some(tag) = tag
        && tag.handle == "tag:yaml.org,2002:"
    {
        return match tag.suffix.as_str() {
            "str" => Value::String(text.into()),
            "null" => Value::Null,
            "bool" => yaml11_bool(text).map_or_else(|| Value::String(text.into()), Value::Bool),
            "int" | "float" => {
                yaml11_number(text).map_or_else(|| Value::String(text.into()), Value::Number)
            }
            _ => Value::String(text.into()),
        };
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::String(text.into());
    }
    let typed = resolve_plain(text);
    if field == Field::String && !matches!(typed, Value::String(_)) && !text.is_empty() {
        // A string field keeps what the user wrote: `value: on` is "on", not true.
        return Value::String(text.into());
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
    Value::String(text.into())
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
