//! Container defaults that LimitRanges (type `Container`) give each namespace.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::inventory::Inventory;

/// Which resources get a default request or limit, per namespace.
#[derive(Debug, Default)]
pub struct LimitRangeDefaults {
    by_namespace: HashMap<Option<String>, Defaults>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Defaults {
    request_cpu: bool,
    request_memory: bool,
    limit_cpu: bool,
    limit_memory: bool,
}

impl LimitRangeDefaults {
    pub fn build(inventory: &Inventory) -> Self {
        let mut by_namespace: HashMap<Option<String>, Defaults> = HashMap::new();
        for lr in inventory
            .of_kind("LimitRange")
            .filter(|o| o.group().is_empty())
        {
            let limits = lr.at("/spec/limits").and_then(Value::as_array);
            for limit in limits.into_iter().flatten() {
                if limit.get("type").and_then(Value::as_str) != Some("Container") {
                    continue;
                }
                let has = |section: &str, resource: &str| {
                    limit.get(section).and_then(|s| s.get(resource)).is_some()
                };
                let d = by_namespace.entry(lr.namespace.clone()).or_default();
                // The API server uses `default` as the default request when `defaultRequest`
                // is not given.
                d.limit_cpu |= has("default", "cpu");
                d.limit_memory |= has("default", "memory");
                d.request_cpu |= has("defaultRequest", "cpu") || has("default", "cpu");
                d.request_memory |= has("defaultRequest", "memory") || has("default", "memory");
            }
        }
        LimitRangeDefaults { by_namespace }
    }

    fn get(&self, namespace: Option<&str>) -> Defaults {
        self.by_namespace
            .get(&namespace.map(str::to_string))
            .copied()
            .unwrap_or_default()
    }

    /// True when a LimitRange in `namespace` gives containers a default request for `resource`.
    pub fn gives_request(&self, namespace: Option<&str>, resource: &str) -> bool {
        let d = self.get(namespace);
        match resource {
            "cpu" => d.request_cpu,
            "memory" => d.request_memory,
            _ => false,
        }
    }

    /// True when a LimitRange in `namespace` gives containers a default limit for `resource`.
    pub fn gives_limit(&self, namespace: Option<&str>, resource: &str) -> bool {
        let d = self.get(namespace);
        match resource {
            "cpu" => d.limit_cpu,
            "memory" => d.limit_memory,
            _ => false,
        }
    }
}
