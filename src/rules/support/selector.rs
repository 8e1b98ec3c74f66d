//! Kubernetes label selectors (`matchLabels` + `matchExpressions`), also in Cilium's spelling
//! (`k8s:` / `any:` key prefixes).

use crate::model::value::{Map, Value};

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

/// A label key without Cilium's source prefix (`k8s:app` → `app`).
pub fn plain_key(key: &str) -> &str {
    key.strip_prefix("k8s:")
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key)
}

impl Selector {
    /// Parses a selector value; `None` when it is not a mapping.
    pub fn parse(value: &Value) -> Option<Selector> {
        let map = value.as_object()?;
        let mut requirements = Vec::new();
        if let Some(labels) = map.get("matchLabels").and_then(Value::as_object) {
            for (key, value) in labels {
                requirements.push(Requirement {
                    key: plain_key(key).to_string(),
                    operator: Operator::In,
                    values: vec![scalar(value)],
                });
            }
        }
        let expressions = map.get("matchExpressions").and_then(Value::as_array);
        for expression in expressions.into_iter().flatten() {
            let Some(key) = expression.get("key").and_then(Value::as_str) else {
                continue;
            };
            let operator = match expression.get("operator").and_then(Value::as_str) {
                Some("In") => Operator::In,
                Some("NotIn") => Operator::NotIn,
                Some("Exists") => Operator::Exists,
                Some("DoesNotExist") => Operator::DoesNotExist,
                _ => continue,
            };
            let values = expression
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().map(scalar).collect())
                .unwrap_or_default();
            requirements.push(Requirement {
                key: plain_key(key).to_string(),
                operator,
                values,
            });
        }
        Some(Selector { requirements })
    }

    /// An empty selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// True when `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&Map>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.and_then(|l| l.get(&r.key)).map(scalar);
            match r.operator {
                Operator::In => value.is_some_and(|v| r.values.contains(&v)),
                Operator::NotIn => value.is_none_or(|v| !r.values.contains(&v)),
                Operator::Exists => value.is_some(),
                Operator::DoesNotExist => value.is_none(),
            }
        })
    }

    /// The values an `In`/equality requirement allows for the first of `keys` constrained.
    pub fn allowed_values(&self, keys: &[&str]) -> Option<&[String]> {
        self.requirements
            .iter()
            .find(|r| r.operator == Operator::In && keys.contains(&r.key.as_str()))
            .map(|r| r.values.as_slice())
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;

    #[test]
    fn selectors_match_labels() {
        let s = Selector::parse(&doc!({
            "matchLabels": {"k8s:app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]},
                                 {"key": "team", "operator": "Exists"}]
        }))
        .unwrap();
        let labels = doc!({"app": "web", "team": "a"});
        assert!(s.matches(labels.as_object()));
        let labels = doc!({"app": "web", "team": "a", "tier": "db"});
        assert!(!s.matches(labels.as_object()));
        assert!(!s.matches(None));
        assert_eq!(s.allowed_values(&["app"]), Some(&["web".to_string()][..]));
        assert!(Selector::parse(&doc!({})).unwrap().is_empty());
    }
}
