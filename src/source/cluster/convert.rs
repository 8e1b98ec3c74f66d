//! List items to objects: type from discovery, server-side bookkeeping dropped, metadata only
//! where nothing reads the body.

use crate::model::value::{Map, Text, Value};

use super::{ApiType, LAST_APPLIED_ANNOTATION, OWNED_KINDS};
use crate::model::object::{Object, Origin};
use crate::model::spans::SpanTree;

pub(super) enum Converted {
    Object(Box<Object>),
    Owned,
    Invalid,
}

/// Turns a list item into an object: type from discovery (list items of built-in types have
/// none), server-side bookkeeping dropped, metadata only unless `body`.
pub(super) fn to_object(
    api_type: &ApiType,
    item: Value,
    context: &str,
    include_owned: bool,
    body: bool,
) -> Converted {
    let Value::Object(mut fields) = item else {
        return Converted::Invalid;
    };
    let Some(Value::Object(mut metadata)) = fields.remove("metadata") else {
        return Converted::Invalid;
    };
    metadata.remove("managedFields");
    if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
        annotations.shift_remove(LAST_APPLIED_ANNOTATION);
    }
    if !include_owned
        && OWNED_KINDS
            .iter()
            .any(|(g, k)| *g == api_type.group && *k == api_type.kind)
        && is_controlled(&metadata)
    {
        return Converted::Owned;
    }
    let name = match metadata.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => return Converted::Invalid,
    };
    let namespace = if api_type.namespaced {
        metadata
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty())
            .map(Text::from)
    } else {
        None
    };
    let api_version = api_type.api_version();
    let mut value = Map::with_capacity(fields.len() + 3);
    value.insert("apiVersion", Value::from(api_version.as_str()));
    value.insert("kind", Value::from(api_type.kind.as_str()));
    value.insert("metadata", Value::Object(metadata));
    if body {
        for (key, field) in fields {
            if key != "apiVersion" && key != "kind" {
                value.insert(key, field);
            }
        }
    }
    let api_path = api_type.object_path(namespace.as_deref(), &name);
    Converted::Object(Box::new(Object {
        api_version: api_version.into(),
        kind: api_type.kind.clone().into(),
        namespace,
        name: name.into(),
        value: Value::Object(value),
        origin: Origin::Cluster {
            context: context.to_string(),
            api_path,
        },
        spans: SpanTree::default(),
        helm_source: None,
        identity_env: None,
        placement_env: None,
        instance: None,
    }))
}

pub(super) fn is_controlled(metadata: &Map) -> bool {
    metadata
        .get("ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        })
}
