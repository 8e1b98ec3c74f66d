//! The `data` documents tollgate builds once per inventory:
//!
//! - `data.inventory`, in Gatekeeper's shape: `cluster[apiVersion][kind][name]` for
//!   cluster-scoped objects, `namespace[ns][apiVersion][kind][name]` for the others (`""` when
//!   a manifest names no namespace). Only built when a policy refers to it. Secrets appear with
//!   their keys but empty values, so that no policy can copy a value into a message.
//! - `data.tollgate`: `environments` (the configured environments with their namespace and
//!   cluster globs, in order) and `namespaces` (every namespace of the inventory with its
//!   `environment`, the distinct `images` its workloads run and their `image_names`, the
//!   repository names without registry, tag or digest), for policies that reason about
//!   environments, or want to skip a namespace cheaply before looking at its objects.

use std::collections::BTreeMap;

use rayon::prelude::*;
use regorus::Value;

use super::value::{Interner, object, to_rego, to_rego_interned};
use crate::model::image::ImageRef;
use crate::model::object::{Object, is_cluster_scoped};
use crate::rules::Context;

/// True for a core `v1/Secret`.
pub fn is_secret(object: &Object) -> bool {
    object.is("", "Secret")
}

/// A Secret's value with every `data`/`stringData` value emptied.
fn without_secret_values(value: &crate::model::value::Value) -> crate::model::value::Value {
    let mut copy = value.clone();
    for field in ["data", "stringData"] {
        if let Some(map) = copy.get_mut(field).and_then(|v| v.as_object_mut()) {
            for v in map.values_mut() {
                *v = crate::model::value::Value::String(Default::default());
            }
        }
    }
    copy
}

/// The values of a Secret (as written, and base64-decoded), longest first, for redaction.
pub fn secret_values(object: &Object) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["data", "stringData"] {
        let Some(map) = object.value.get(field).and_then(|v| v.as_object()) else {
            continue;
        };
        for v in map.values().filter_map(|v| v.as_str()) {
            out.push(v.to_string());
            if field == "data"
                && let Ok(bytes) = data_encoding::BASE64.decode(v.trim().as_bytes())
                && let Ok(text) = String::from_utf8(bytes)
            {
                out.push(text);
            }
        }
    }
    out.retain(|v| v.trim().len() >= 3);
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

/// Replaces every Secret value in `message` with `<redacted>`.
pub fn redact(message: &str, secret_values: &[String]) -> String {
    let mut out = message.to_string();
    for v in secret_values {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}

/// Every object converted once, in inventory order (in parallel), as [`policy_value`] gives it.
pub fn convert_all(objects: &[Object], secret_values: bool) -> Vec<Value> {
    objects
        .par_iter()
        .map(|o| policy_value(o, secret_values))
        .collect()
}

/// [`policy_value`] of the objects `wanted` accepts, by inventory index.
pub fn convert_some(
    objects: &[Object],
    secret_values: bool,
    wanted: impl Fn(&Object) -> bool + Sync,
) -> Vec<Option<Value>> {
    objects
        .par_iter()
        .map_init(Interner::default, |keys, o| {
            wanted(o).then(|| policy_value_interned(o, secret_values, keys))
        })
        .collect()
}

/// What policies see of `object`: a Secret's `data`/`stringData` values are emptied unless
/// `secret_values` (`rego.secret_values: true`), so that no policy output (a message, a
/// transformed value, `print()`) can carry one.
pub fn policy_value(object: &Object, secret_values: bool) -> Value {
    policy_value_interned(object, secret_values, &mut Interner::default())
}

/// [`policy_value`], sharing object keys through `keys`.
fn policy_value_interned(object: &Object, secret_values: bool, keys: &mut Interner) -> Value {
    if is_secret(object) && !secret_values {
        to_rego_interned(&without_secret_values(&object.value), keys)
    } else {
        to_rego_interned(&object.value, keys)
    }
}

// Keys borrowed from the objects: no copy of a namespace, version or kind per object.
type Names<'a> = BTreeMap<&'a str, Value>;
type Kinds<'a> = BTreeMap<&'a str, Names<'a>>;
type Versions<'a> = BTreeMap<&'a str, Kinds<'a>>;

fn nest(versions: Versions<'_>) -> Value {
    Value::from(
        versions
            .into_iter()
            .map(|(v, kinds)| {
                (
                    Value::from(v),
                    Value::from(
                        kinds
                            .into_iter()
                            .map(|(k, names)| {
                                (
                                    Value::from(k),
                                    Value::from(
                                        names
                                            .into_iter()
                                            .map(|(n, o)| (Value::from(n), o))
                                            .collect::<BTreeMap<_, _>>(),
                                    ),
                                )
                            })
                            .collect::<BTreeMap<_, _>>(),
                    ),
                )
            })
            .collect::<BTreeMap<_, _>>(),
    )
}

/// `data.inventory` of `objects`, whose converted values are `converted` (same order).
pub fn inventory<'a>(objects: impl IntoIterator<Item = (&'a Object, &'a Value)>) -> Value {
    let mut cluster: Versions = BTreeMap::new();
    let mut namespaced: BTreeMap<&str, Versions<'_>> = BTreeMap::new();
    for (o, converted) in objects {
        let value = if is_secret(o) {
            to_rego(&without_secret_values(&o.value))
        } else {
            converted.clone()
        };
        let versions = if is_cluster_scoped(&o.api_version, &o.kind) {
            &mut cluster
        } else {
            namespaced
                .entry(o.namespace.as_deref().unwrap_or_default())
                .or_default()
        };
        versions
            .entry(&o.api_version)
            .or_default()
            .entry(&o.kind)
            .or_default()
            .insert(&o.name, value);
    }
    object([
        ("cluster", nest(cluster)),
        (
            "namespace",
            Value::from(
                namespaced
                    .into_iter()
                    .map(|(ns, v)| (Value::from(ns), nest(v)))
                    .collect::<BTreeMap<_, _>>(),
            ),
        ),
    ])
}

/// `data.tollgate`: environments and the environment of every namespace.
pub fn tollgate(ctx: &Context<'_>) -> Value {
    let strings = |items: &[String]| {
        Value::from(
            items
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let environments = ctx
        .environments
        .definitions()
        .map(|(name, namespaces, clusters)| {
            object([
                ("name", Value::from(name)),
                ("namespaces", strings(namespaces)),
                ("clusters", strings(clusters)),
            ])
        })
        .collect::<Vec<_>>();
    let mut images: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for o in ctx.inventory.objects() {
        if let (Some(ns), Some(spec)) = (&o.namespace, crate::model::workload::pod_spec(o)) {
            let entry = images.entry(ns.as_str()).or_default();
            entry.extend(spec.containers().iter().filter_map(|c| c.image()));
        }
    }
    let namespaces = ctx
        .inventory
        .namespace_names()
        .into_iter()
        .map(|ns| {
            let env = ctx.namespace_env(ns).map_or(Value::Null, Value::from);
            let images = images.get(ns);
            // The last segment of the repository: `adminer` for
            // `harbor.example.com/tools/adminer:4.8.1@sha256:…` (as the Rego library's
            // `image_name`); templated images (`{{ .Values.image }}`) have none.
            let names: std::collections::BTreeSet<String> = images
                .into_iter()
                .flatten()
                .filter_map(|image| ImageRef::parse(image))
                .filter_map(|image| image.repository.rsplit('/').next().map(str::to_string))
                .collect();
            let images = images
                .map(|set| set.iter().map(|i| Value::from(*i)).collect::<Vec<_>>())
                .unwrap_or_default();
            let names = names.into_iter().map(Value::from).collect::<Vec<_>>();
            (
                Value::from(ns),
                object([
                    ("environment", env),
                    ("images", Value::from(images)),
                    ("image_names", Value::from(names)),
                ]),
            )
        })
        .collect::<BTreeMap<_, _>>();
    object([
        ("environments", Value::from(environments)),
        ("namespaces", Value::from(namespaces)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

    fn obj(v: crate::model::value::Value) -> Object {
        Object::from_value(
            v,
            Origin::File {
                path: "a.yaml".into(),
                document: 0,
                item: None,
                start_line: 1,
                end_line: 1,
            },
            SpanTree::default(),
        )
        .unwrap()
    }

    #[test]
    fn gatekeeper_shape_with_secret_values_emptied() {
        let objects = vec![
            obj(doc!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop-prod"}})),
            obj(
                doc!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop-prod"}}),
            ),
            obj(
                doc!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop-prod"}, "data": {"password": "aHVudGVyMg=="}}),
            ),
            obj(doc!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "loose"}})),
        ];
        let converted = convert_all(&objects, true);
        let inv = inventory(objects.iter().zip(&converted));
        assert_eq!(
            inv["cluster"]["v1"]["Namespace"]["shop-prod"]["metadata"]["name"],
            Value::from("shop-prod")
        );
        assert_eq!(
            inv["namespace"]["shop-prod"]["apps/v1"]["Deployment"]["api"]["kind"],
            Value::from("Deployment")
        );
        assert_eq!(
            inv["namespace"]["shop-prod"]["v1"]["Secret"]["s"]["data"]["password"],
            Value::from("")
        );
        assert_eq!(
            inv["namespace"][""]["v1"]["ConfigMap"]["loose"]["kind"],
            Value::from("ConfigMap")
        );
    }

    #[test]
    fn secret_values_are_redacted_decoded_or_not() {
        let secret = obj(doc!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="},
            "stringData": {"token": "abc123"}}));
        let values = secret_values(&secret);
        let message = redact("password is hunter2 (aHVudGVyMg==), token abc123", &values);
        assert_eq!(
            message,
            "password is <redacted> (<redacted>), token <redacted>"
        );
    }
}
