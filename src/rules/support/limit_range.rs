//! What the LimitRanges (type `Container`) of a namespace do to a container at admission, as
//! the API server does it: the LimitRange's own defaulting (`default` ← `max`,
//! `defaultRequest` ← `default` ← `min`), then the LimitRanger admission plugin filling in
//! missing limits and requests, then its checks (`min`, `max`, `maxLimitRequestRatio`) and
//! the pod validation that a request never exceeds its limit.

use std::collections::HashMap;

use crate::model::value::Value;

use crate::model::inventory::Inventory;
use crate::model::kinds::Kind;
use crate::model::object::Object;
use crate::model::quantity::quantity_of;
use crate::model::workload::Container;
use crate::rules::Context;

/// What [`LimitRangeDefaults::build`] reads.
pub const READS: &[Kind] = &[Kind::new("", "LimitRange")];

/// The resources LimitRanges are checked for.
const RESOURCES: [&str; 2] = ["cpu", "memory"];

/// One quantity of a LimitRange item: its value and how it was written.
#[derive(Debug, Clone)]
struct Amount {
    value: f64,
    text: String,
}

/// One `type: Container` item of a LimitRange, for one resource, after the API server's
/// defaulting of the LimitRange object.
#[derive(Debug, Clone, Default)]
struct Bounds {
    default_limit: Option<Amount>,
    default_request: Option<Amount>,
    min: Option<Amount>,
    max: Option<Amount>,
    ratio: Option<Amount>,
}

#[derive(Debug, Clone)]
struct Item {
    /// `LimitRange shop-prod/defaults`.
    source: String,
    bounds: HashMap<&'static str, Bounds>,
}

/// Which LimitRange items apply per namespace.
#[derive(Debug, Default)]
pub struct LimitRangeDefaults {
    by_namespace: HashMap<Option<String>, Vec<Item>>,
}

/// Why the API server would reject a container, for a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub resource: &'static str,
    /// `limits` or `requests`: the value of the container the problem is at; `ratio` for the
    /// pair.
    pub section: &'static str,
    /// Reported by `resource-limits` (true) or `resource-requests` (a request below `min`).
    pub about_limits: bool,
    pub message: String,
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Reads `limits[index].<section>.<resource>`, warning (once per build) about a value that is
/// not a quantity.
fn amount(
    ctx: Option<&Context<'_>>,
    lr: &Object,
    index: usize,
    item: &Value,
    section: &str,
    resource: &str,
) -> Option<Amount> {
    let value = item.get(section)?.get(resource)?;
    if value.is_null() {
        return None;
    }
    match quantity_of(value) {
        Some(v) => Some(Amount {
            value: v,
            text: show(value),
        }),
        None => {
            if let Some(ctx) = ctx {
                ctx.warn(
                    lr,
                    &format!("/spec/limits/{index}/{section}/{resource}"),
                    format!(
                        "{}: `{section}.{resource}` is not a quantity ({}); ignored",
                        lr.display(),
                        show(value)
                    ),
                );
            }
            None
        }
    }
}

impl LimitRangeDefaults {
    /// Reads every LimitRange; unparsable quantities are warnings at their line.
    pub fn build(ctx: &Context<'_>) -> Self {
        Self::read(ctx.inventory, Some(ctx))
    }

    fn read(inventory: &Inventory, ctx: Option<&Context<'_>>) -> Self {
        let mut by_namespace: HashMap<Option<String>, Vec<Item>> = HashMap::new();
        for lr in inventory
            .of_kind("LimitRange")
            .filter(|o| o.group().is_empty())
        {
            let limits = lr.at("/spec/limits").and_then(Value::as_array);
            for (index, limit) in limits.into_iter().flatten().enumerate() {
                if limit.get("type").and_then(Value::as_str) != Some("Container") {
                    continue;
                }
                let mut bounds = HashMap::new();
                for resource in RESOURCES {
                    let get = |section: &str| amount(ctx, lr, index, limit, section, resource);
                    let max = get("max");
                    let min = get("min");
                    // The LimitRange's defaulting: default ← max, defaultRequest ← default ← min.
                    let default_limit = get("default").or_else(|| max.clone());
                    let default_request = get("defaultRequest")
                        .or_else(|| default_limit.clone())
                        .or_else(|| min.clone());
                    bounds.insert(
                        resource,
                        Bounds {
                            default_limit,
                            default_request,
                            min,
                            max,
                            ratio: get("maxLimitRequestRatio"),
                        },
                    );
                }
                by_namespace
                    .entry(lr.namespace.as_deref().map(str::to_string))
                    .or_default()
                    .push(Item {
                        source: lr.display(),
                        bounds,
                    });
            }
        }
        LimitRangeDefaults { by_namespace }
    }

    fn items(&self, namespace: Option<&str>) -> &[Item] {
        self.by_namespace
            .get(&namespace.map(str::to_string))
            .map_or(&[], Vec::as_slice)
    }

    /// The first item giving a default for `resource`, and that default.
    fn default_of(
        &self,
        namespace: Option<&str>,
        resource: &str,
        pick: impl Fn(&Bounds) -> Option<&Amount>,
    ) -> Option<(&Amount, &str)> {
        self.items(namespace).iter().find_map(|item| {
            item.bounds
                .get(resource)
                .and_then(&pick)
                .map(|a| (a, item.source.as_str()))
        })
    }

    /// True when a LimitRange in `namespace` gives containers a default request for `resource`.
    pub fn gives_request(&self, namespace: Option<&str>, resource: &str) -> bool {
        self.default_of(namespace, resource, |b| b.default_request.as_ref())
            .is_some()
    }

    /// True when a LimitRange in `namespace` gives containers a default limit for `resource`.
    pub fn gives_limit(&self, namespace: Option<&str>, resource: &str) -> bool {
        self.default_of(namespace, resource, |b| b.default_limit.as_ref())
            .is_some()
    }

    /// Why the API server would reject `container` in `namespace` once its LimitRanges applied,
    /// one entry per problem.
    pub fn rejections(&self, namespace: Option<&str>, container: &Container<'_>) -> Vec<Rejection> {
        // Without a namespace it is unknown where the container lands: a LimitRange without
        // one (from another folder, another repository) says nothing about it.
        if namespace.is_none() {
            return Vec::new();
        }
        let items = self.items(namespace);
        if items.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for resource in RESOURCES {
            let explicit = |section: &str| {
                container
                    .resource(section, resource)
                    .filter(|v| !v.is_null())
                    .and_then(|v| quantity_of(v).map(|q| (q, show(v))))
            };
            let (limit, request) = (explicit("limits"), explicit("requests"));
            // Pod defaulting copies an explicit limit into a missing request, before admission.
            let request = request.or_else(|| limit.clone());
            let inherited_limit =
                self.default_of(namespace, resource, |b| b.default_limit.as_ref());
            let inherited_request =
                self.default_of(namespace, resource, |b| b.default_request.as_ref());
            let effective_limit = limit
                .clone()
                .map(|(v, t)| (v, t, None))
                .or_else(|| inherited_limit.map(|(a, src)| (a.value, a.text.clone(), Some(src))));
            let effective_request = request
                .clone()
                .map(|(v, t)| (v, t, None))
                .or_else(|| inherited_request.map(|(a, src)| (a.value, a.text.clone(), Some(src))));

            if let (Some((l, lt, Some(src))), Some((r, rt, None))) =
                (&effective_limit, &effective_request)
                && r > l
            {
                out.push(Rejection {
                    resource,
                    section: "requests",
                    about_limits: true,
                    message: format!(
                        "requests {resource} {rt} but inherits the default {resource} limit {lt} from {src}: a limit below its request, which the API server rejects (set a limit, or lower the request)"
                    ),
                });
                // The other checks would only repeat the same pod's rejection.
                continue;
            }
            for item in items {
                let Some(bounds) = item.bounds.get(resource) else {
                    continue;
                };
                let src = &item.source;
                let from = |inherited: Option<&str>| {
                    inherited.map_or(String::new(), |s| format!(" (inherited from {s})"))
                };
                if let Some(min) = &bounds.min {
                    match &effective_request {
                        Some((r, rt, inh)) if *r < min.value => out.push(Rejection {
                            resource,
                            section: "requests",
                            about_limits: false,
                            message: format!(
                                "requests {resource} {rt}{}, below the minimum {} of {src}, which the API server rejects",
                                from(*inh),
                                min.text
                            ),
                        }),
                        _ => {}
                    }
                }
                if let Some(max) = &bounds.max {
                    match &effective_limit {
                        Some((l, lt, inh)) if *l > max.value => out.push(Rejection {
                            resource,
                            section: "limits",
                            about_limits: true,
                            message: format!(
                                "has a {resource} limit of {lt}{}, above the maximum {} of {src}, which the API server rejects",
                                from(*inh),
                                max.text
                            ),
                        }),
                        _ => {}
                    }
                }
                if let (Some(ratio), Some((l, lt, _)), Some((r, rt, _))) =
                    (&bounds.ratio, &effective_limit, &effective_request)
                    && *r > 0.0
                    && l / r > ratio.value
                {
                    out.push(Rejection {
                        resource,
                        section: "ratio",
                        about_limits: true,
                        message: format!(
                            "has a {resource} limit of {lt} for a request of {rt}, a ratio above the maxLimitRequestRatio {} of {src}, which the API server rejects",
                            ratio.text
                        ),
                    });
                }
            }
        }
        out
    }
}

impl Rejection {
    /// JSON pointer of the node the problem is at, under the container at `container`.
    pub fn pointer(&self, container: &str) -> String {
        match self.section {
            "ratio" => format!("{container}/resources"),
            section => format!("{container}/resources/{section}/{}", self.resource),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;
    use crate::model::workload::pod_spec;

    fn object(v: Value) -> Object {
        Object::from_value(
            v,
            Origin::Cluster {
                context: "t".into(),
                api_path: String::new(),
            },
            SpanTree::default(),
        )
        .unwrap()
    }

    fn rejections(limits: Value, resources: Value) -> Vec<String> {
        let inventory = Inventory::new(vec![object(doc!({
            "apiVersion": "v1", "kind": "LimitRange",
            "metadata": {"name": "lr", "namespace": "a"},
            "spec": {"limits": [limits]}}))]);
        let defaults = LimitRangeDefaults::read(&inventory, None);
        let pod = object(doc!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {"containers": [{"name": "c", "resources": resources}]}}));
        let spec = pod_spec(&pod).unwrap();
        let container = &spec.containers()[0];
        defaults
            .rejections(Some("a"), container)
            .into_iter()
            .map(|r| r.message)
            .collect()
    }

    #[test]
    fn request_above_the_inherited_default_limit_is_rejected() {
        let found = rejections(
            doc!({"type": "Container", "default": {"memory": "512Mi"}}),
            doc!({"requests": {"memory": "1Gi"}}),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("inherits the default memory limit 512Mi"));
        assert!(
            rejections(
                doc!({"type": "Container", "default": {"memory": "512Mi"}}),
                doc!({"requests": {"memory": "256Mi"}}),
            )
            .is_empty()
        );
        // `max` becomes the default limit when `default` is absent.
        assert_eq!(
            rejections(
                doc!({"type": "Container", "max": {"cpu": "1"}}),
                doc!({"requests": {"cpu": "2"}}),
            )
            .len(),
            1
        );
    }

    #[test]
    fn min_max_and_ratio() {
        let lr = doc!({"type": "Container", "min": {"memory": "64Mi"}, "max": {"memory": "2Gi"},
                        "maxLimitRequestRatio": {"cpu": "4"}});
        let found = rejections(
            lr.clone(),
            doc!({"requests": {"memory": "32Mi", "cpu": "100m"},
                                                    "limits": {"memory": "4Gi", "cpu": "1"}}),
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().any(|m| m.contains("below the minimum 64Mi")));
        assert!(found.iter().any(|m| m.contains("above the maximum 2Gi")));
        assert!(found.iter().any(|m| m.contains("maxLimitRequestRatio 4")));
        let fine = rejections(
            lr,
            doc!({"requests": {"memory": "128Mi", "cpu": "500m"},
                                          "limits": {"memory": "1Gi", "cpu": "1"}}),
        );
        assert!(fine.is_empty(), "{fine:?}");
    }
}
