//! Environments (prod, staging, dev…): which one an object belongs to, and where it is placed.
//!
//! Identity, first that applies: the object's own `environment`/`env` label; its Namespace
//! object's label; its namespace name against the namespace globs; for a cluster-scoped object,
//! its name against the same globs. Placement: the file path against the path globs, or the
//! cluster context against the cluster globs.

use std::collections::HashMap;

use crate::model::value::{Map, Text};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::config::EnvironmentConfig;
use crate::model::object::{Object, Origin, is_cluster_scoped};

/// Labels that name an environment, in order of preference.
pub const ENV_LABELS: [&str; 2] = ["environment", "env"];

#[derive(Debug)]
struct Matcher {
    name: String,
    /// The patterns, for policies that match names themselves (Rego's `data.tollgate`).
    namespace_patterns: Vec<String>,
    cluster_patterns: Vec<String>,
    namespaces: GlobSet,
    paths: GlobSet,
    clusters: GlobSet,
}

/// The configured environments (or the defaults), first match wins.
#[derive(Debug)]
pub struct Environments {
    matchers: Vec<Matcher>,
    /// Path of the config's directory relative to the scan root (`""` or `dir/`): path globs
    /// are written relative to the repository that holds `tollgate.yaml`.
    path_prefix: String,
}

fn globset(patterns: &[String], literal_separator: bool) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        builder.add(
            GlobBuilder::new(p)
                .literal_separator(literal_separator)
                .build()?,
        );
    }
    builder.build()
}

impl Environments {
    /// The environments of the configuration; the defaults when none are configured.
    pub fn new(configured: &[EnvironmentConfig]) -> Result<Self, globset::Error> {
        let defaults;
        let defs: &[EnvironmentConfig] = if configured.is_empty() {
            defaults = Self::default_definitions();
            &defaults
        } else {
            configured
        };
        let matchers = defs
            .iter()
            .map(|d| {
                Ok(Matcher {
                    name: d.name.clone(),
                    namespace_patterns: d.namespaces.clone(),
                    cluster_patterns: d.clusters.clone(),
                    namespaces: globset(&d.namespaces, false)?,
                    paths: globset(&d.paths, true)?,
                    clusters: globset(&d.clusters, false)?,
                })
            })
            .collect::<Result<_, globset::Error>>()?;
        Ok(Environments {
            matchers,
            path_prefix: String::new(),
        })
    }

    fn default_definitions() -> Vec<EnvironmentConfig> {
        let def = |name: &str, namespaces: &[&str]| EnvironmentConfig {
            name: name.to_string(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            paths: Vec::new(),
            clusters: Vec::new(),
        };
        vec![
            def("prod", &["*-prod", "*-production", "prod-*"]),
            def("staging", &["*-staging", "*-stage"]),
            def("dev", &["*-dev", "*-development", "dev-*", "*-test"]),
        ]
    }

    /// Sets where path globs are anchored, relative to the scan root.
    pub fn with_path_prefix(mut self, prefix: &str) -> Self {
        let mut prefix = prefix.trim_end_matches('/').to_string();
        if !prefix.is_empty() && prefix != "." {
            prefix.push('/');
        } else {
            prefix.clear();
        }
        self.path_prefix = prefix;
        self
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.matchers.iter().map(|m| m.name.as_str())
    }

    /// `(name, namespace globs, cluster globs)` of every environment, in order.
    pub fn definitions(&self) -> impl Iterator<Item = (&str, &[String], &[String])> {
        self.matchers.iter().map(|m| {
            (
                m.name.as_str(),
                m.namespace_patterns.as_slice(),
                m.cluster_patterns.as_slice(),
            )
        })
    }

    /// True when namespaces take the environment of the folders or clusters their objects
    /// are placed in: no environment names its namespaces by glob (a repository that defines
    /// environments by folder only). With namespace globs, a namespace none matches is a
    /// platform namespace (kube-system, monitoring, velero) and has no environment.
    pub fn places_namespaces(&self) -> bool {
        self.matchers
            .iter()
            .all(|m| m.namespace_patterns.is_empty())
    }

    pub fn for_namespace(&self, namespace: &str) -> Option<&str> {
        self.matchers
            .iter()
            .find(|m| m.namespaces.is_match(namespace))
            .map(|m| m.name.as_str())
    }

    pub fn for_path(&self, path: &str) -> Option<&str> {
        let relative = path.strip_prefix(self.path_prefix.as_str())?;
        self.matchers
            .iter()
            .find(|m| m.paths.is_match(relative))
            .map(|m| m.name.as_str())
    }

    pub fn for_cluster(&self, context: &str) -> Option<&str> {
        self.matchers
            .iter()
            .find(|m| m.clusters.is_match(context))
            .map(|m| m.name.as_str())
    }

    /// Fills `identity_env` and `placement_env` of every object. One inventory's objects:
    /// Namespace objects are looked up among them. Objects are done in parallel, on the
    /// current rayon pool (runs call [`crate::engine::Setup::assign_environments`]): on a fleet,
    /// glob matching every path was a serial tenth of a second between parsing and the rules.
    pub fn assign(&self, objects: &mut [Object]) {
        objects.par_iter_mut().for_each(|object| {
            object.placement_env = self.placement(object).map(Text::from);
        });
        let mut namespace_envs: HashMap<String, String> = objects
            .iter()
            .filter(|o| o.kind == "Namespace" && o.group().is_empty())
            .filter_map(|o| Some((o.name.to_string(), label_env(o.labels()?)?.to_string())))
            .collect();
        // A namespace no label and no glob decides takes the environment its instances are
        // placed in (DESIGN §13), when they agree.
        if self.places_namespaces() {
            for (namespace, env) in placed_namespace_envs(objects) {
                namespace_envs.entry(namespace).or_insert(env);
            }
        }
        objects.par_iter_mut().for_each(|object| {
            object.identity_env = self.identity(object, &namespace_envs);
        });
    }

    /// Where an object is placed: the first of its build files (outermost first) and its own
    /// file that a path glob matches, else its cluster.
    fn placement(&self, object: &Object) -> Option<&str> {
        match &object.origin {
            Origin::File { path, .. } => {
                let via = object.instance.as_ref().map(|i| i.via.as_slice());
                via.into_iter()
                    .flatten()
                    .map(String::as_str)
                    .chain(std::iter::once(&**path))
                    .find_map(|p| self.for_path(p))
                    .or_else(|| self.for_cluster(object.gitops_cluster()?))
            }
            Origin::Cluster { context, .. } => self.for_cluster(context),
        }
    }

    /// The environment of a namespace, using the labels of Namespace objects when known.
    pub fn of_namespace<'a>(
        &'a self,
        namespace: &str,
        namespace_labels: Option<&'a Map>,
    ) -> Option<&'a str> {
        namespace_labels
            .and_then(label_env)
            .or_else(|| self.for_namespace(namespace))
    }

    fn identity(&self, object: &Object, namespace_envs: &HashMap<String, String>) -> Option<Text> {
        if let Some(env) = object.labels().and_then(label_env) {
            return Some(Text::from(env));
        }
        if let Some(ns) = &object.namespace {
            if let Some(env) = namespace_envs.get(ns.as_str()) {
                return Some(Text::from(env.as_str()));
            }
            return self.for_namespace(ns).map(Text::from);
        }
        // A namespaced object without a namespace never takes an environment from its own
        // name (`exporter-prod` is a tool, not a place).
        if object.kind == "Namespace" || is_cluster_scoped(&object.api_version, &object.kind) {
            if let Some(env) = namespace_envs
                .get(object.name.as_str())
                .filter(|_| object.kind == "Namespace")
            {
                return Some(Text::from(env.as_str()));
            }
            return self.for_namespace(&object.name).map(Text::from);
        }
        None
    }
}

/// The environment each namespace's objects are placed in, for namespaces whose placed
/// objects all agree (a Namespace object counts for its own name).
pub fn placed_namespace_envs(objects: &[Object]) -> HashMap<String, String> {
    // Borrowed while counting: this runs over every object of an inventory.
    let mut placed: HashMap<&str, Option<&str>> = HashMap::new();
    for object in objects {
        let Some(env) = object.placement_env.as_deref() else {
            continue;
        };
        let namespace = if object.kind == "Namespace" && object.group().is_empty() {
            object.name.as_str()
        } else {
            match &object.namespace {
                Some(ns) => ns.as_str(),
                None => continue,
            }
        };
        placed
            .entry(namespace)
            .and_modify(|seen| {
                if *seen != Some(env) {
                    *seen = None;
                }
            })
            .or_insert(Some(env));
    }
    placed
        .into_iter()
        .filter_map(|(ns, env)| Some((ns.to_string(), env?.to_string())))
        .collect()
}

/// The environment named by `environment`/`env` labels.
pub fn label_env(labels: &Map) -> Option<&str> {
    ENV_LABELS
        .iter()
        .find_map(|key| labels.get(key)?.as_str())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::model::spans::SpanTree;
    use crate::model::value::Value;

    fn object(value: Value, path: &str) -> Object {
        Object::from_value(
            value,
            Origin::File {
                path: path.into(),
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
    fn defaults_cover_the_usual_namespace_names() {
        let envs = Environments::new(&[]).unwrap();
        assert_eq!(envs.for_namespace("shop-prod"), Some("prod"));
        assert_eq!(envs.for_namespace("prod-shop"), Some("prod"));
        assert_eq!(envs.for_namespace("shop-staging"), Some("staging"));
        assert_eq!(envs.for_namespace("shop-test"), Some("dev"));
        assert_eq!(envs.for_namespace("kube-system"), None);
        assert_eq!(envs.for_namespace("velero"), None);
    }

    #[test]
    fn identity_prefers_labels_then_namespace_object_then_globs() {
        let envs = Environments::new(&[EnvironmentConfig {
            name: "prod".into(),
            namespaces: vec!["*-prod".into()],
            paths: vec!["clusters/production/**".into()],
            clusters: vec!["production".into()],
        }])
        .unwrap()
        .with_path_prefix("repo");
        let mut objects = vec![
            object(
                doc!({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "payments", "labels": {"environment": "prod"}}}),
                "repo/clusters/production/ns.yaml",
            ),
            object(
                doc!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "a", "namespace": "payments"}}),
                "repo/other/a.yaml",
            ),
            object(
                doc!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "b", "namespace": "shop-prod", "labels": {"env": "dev"}}}),
                "repo/clusters/production/b.yaml",
            ),
            object(
                doc!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "c", "namespace": "shop-prod"}}),
                "clusters/production/c.yaml",
            ),
        ];
        envs.assign(&mut objects);
        assert_eq!(objects[0].identity_env.as_deref(), Some("prod"));
        assert_eq!(objects[0].placement_env.as_deref(), Some("prod"));
        assert_eq!(objects[1].identity_env.as_deref(), Some("prod"));
        assert_eq!(objects[1].placement_env, None);
        assert_eq!(objects[2].identity_env.as_deref(), Some("dev"));
        assert_eq!(objects[3].identity_env.as_deref(), Some("prod"));
        // Outside the config's directory, path globs do not apply.
        assert_eq!(objects[3].placement_env, None);
    }
}
