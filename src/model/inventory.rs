//! All objects of one scan (or one cluster), indexed so that rules look things up instead of
//! walking every object.

use std::collections::{BTreeSet, HashMap};

use crate::model::environment::{Environments, placed_namespace_envs};
use crate::model::object::Object;

#[derive(Debug, Default)]
pub struct Inventory {
    objects: Vec<Object>,
    by_kind: HashMap<String, Vec<usize>>,
    by_namespace: HashMap<String, Vec<usize>>,
    /// `(hash of kind, namespace and name, index)`, sorted: [`Inventory::find`] searches the
    /// hash and then compares the fields, so the index holds no copy of any name.
    by_name: Vec<(u64, u32)>,
    namespace_objects: HashMap<String, usize>,
    /// Environments of namespaces from where their objects are placed (DESIGN §13).
    placed_envs: HashMap<String, String>,
}

impl Inventory {
    /// Indexes `objects`; their order is kept (it is the order findings are made in).
    pub fn new(objects: Vec<Object>) -> Self {
        let mut inventory = Inventory {
            objects,
            ..Default::default()
        };
        inventory.placed_envs = placed_namespace_envs(&inventory.objects);
        let mut by_name = Vec::with_capacity(inventory.objects.len());
        for (i, o) in inventory.objects.iter().enumerate() {
            push_index(&mut inventory.by_kind, &o.kind, i);
            if let Some(ns) = &o.namespace {
                push_index(&mut inventory.by_namespace, ns, i);
            }
            by_name.push((
                name_hash(&o.kind, o.namespace.as_deref(), &o.name),
                i as u32,
            ));
            if o.kind == "Namespace" && o.group().is_empty() {
                inventory
                    .namespace_objects
                    .entry(o.name.to_string())
                    .or_insert(i);
            }
        }
        // Unstable is enough: the pairs are distinct, and equal hashes end up by index.
        by_name.sort_unstable();
        inventory.by_name = by_name;
        inventory
    }

    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn pick<'a>(
        &'a self,
        indexes: Option<&'a Vec<usize>>,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        indexes.into_iter().flatten().map(|&i| &self.objects[i])
    }

    /// The position of `object` in [`Inventory::objects`], when it is one of this inventory's
    /// objects (identity, not equality: two definitions of the same object differ).
    pub fn index_of(&self, object: &Object) -> Option<usize> {
        let size = std::mem::size_of::<Object>();
        let base = self.objects.as_ptr() as usize;
        let offset = (object as *const Object as usize).checked_sub(base)?;
        let index = offset / size;
        (offset % size == 0 && index < self.objects.len()).then_some(index)
    }

    /// Objects of a kind (any API group: filter with [`Object::is`] when it matters).
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Object> + 'a {
        self.pick(self.by_kind.get(kind))
    }

    /// Namespaced objects in `namespace`.
    pub fn in_namespace<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a Object> + 'a {
        self.pick(self.by_namespace.get(namespace))
    }

    /// Objects with this kind, namespace and name (several when defined in several files).
    pub fn find<'a>(
        &'a self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        let hash = name_hash(kind, namespace, name);
        let start = self.by_name.partition_point(|(h, _)| *h < hash);
        let found: Vec<&'a Object> = self.by_name[start..]
            .iter()
            .take_while(|(h, _)| *h == hash)
            .map(|(_, i)| &self.objects[*i as usize])
            .filter(|o| o.kind == kind && o.namespace.as_deref() == namespace && o.name == name)
            .collect();
        found.into_iter()
    }

    /// The Namespace object called `name`, when the inventory has one.
    pub fn namespace_object(&self, name: &str) -> Option<&Object> {
        self.namespace_objects.get(name).map(|&i| &self.objects[i])
    }

    /// Every namespace that has objects or a Namespace object, sorted.
    pub fn namespace_names(&self) -> BTreeSet<&str> {
        self.by_namespace
            .keys()
            .chain(self.namespace_objects.keys())
            .map(String::as_str)
            .collect()
    }

    /// The environment of a namespace: its Namespace object's label, else the name globs, else
    /// where its objects are placed.
    pub fn namespace_env<'a>(&'a self, namespace: &str, envs: &'a Environments) -> Option<&'a str> {
        let labels = self.namespace_object(namespace).and_then(Object::labels);
        envs.of_namespace(namespace, labels).or_else(|| {
            envs.places_namespaces()
                .then(|| self.placed_envs.get(namespace).map(String::as_str))
                .flatten()
        })
    }
}

/// Adds `index` under `key` (copying the key only the first time it is seen).
fn push_index(map: &mut HashMap<String, Vec<usize>>, key: &str, index: usize) {
    match map.get_mut(key) {
        Some(indexes) => indexes.push(index),
        None => {
            map.insert(key.to_string(), vec![index]);
        }
    }
}

/// A hash of an object's kind, namespace and name that is the same in every run (SipHash with
/// fixed keys), so the index order never depends on the process.
fn name_hash(kind: &str, namespace: Option<&str>, name: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one((kind, namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

    #[test]
    fn find_tells_namespaces_and_kinds_apart_and_keeps_order() {
        let object = |kind: &str, namespace: Option<&str>, name: &str, file: &str| {
            let mut value = doc!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
            if let Some(ns) = namespace {
                value
                    .pointer_mut("/metadata")
                    .and_then(crate::model::value::Value::as_object_mut)
                    .unwrap()
                    .insert("namespace", ns.into());
            }
            Object::from_value(
                value,
                Origin::Cluster {
                    context: "t".into(),
                    api_path: file.into(),
                },
                SpanTree::default(),
            )
            .unwrap()
        };
        let inventory = Inventory::new(vec![
            object("ConfigMap", Some("a"), "x", "1"),
            object("Secret", Some("a"), "x", "2"),
            object("ConfigMap", Some("b"), "x", "3"),
            object("ConfigMap", Some("a"), "x", "4"),
            object("Namespace", None, "x", "5"),
        ]);
        let found = |kind, ns, name| -> Vec<String> {
            inventory
                .find(kind, ns, name)
                .map(|o| match &o.origin {
                    Origin::Cluster { api_path, .. } => api_path.clone(),
                    Origin::File { path, .. } => path.to_string(),
                })
                .collect()
        };
        assert_eq!(found("ConfigMap", Some("a"), "x"), ["1", "4"]);
        assert_eq!(found("ConfigMap", Some("b"), "x"), ["3"]);
        assert_eq!(found("Secret", Some("a"), "x"), ["2"]);
        assert_eq!(found("Namespace", None, "x"), ["5"]);
        assert!(found("ConfigMap", None, "x").is_empty());
        assert!(found("ConfigMap", Some("a"), "y").is_empty());
    }

    #[test]
    fn index_of_is_identity_not_equality() {
        let object = |name: &str| {
            Object::from_value(
                doc!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
                Origin::Cluster {
                    context: "t".into(),
                    api_path: String::new(),
                },
                SpanTree::default(),
            )
            .unwrap()
        };
        let inventory = Inventory::new(vec![object("a"), object("b")]);
        assert_eq!(inventory.index_of(&inventory.objects()[1]), Some(1));
        let copy = inventory.objects()[1].clone();
        assert_eq!(inventory.index_of(&copy), None);
    }
}
