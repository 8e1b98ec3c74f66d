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
    by_name: HashMap<(String, Option<String>, String), Vec<usize>>,
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
        for (i, o) in inventory.objects.iter().enumerate() {
            inventory.by_kind.entry(o.kind.clone()).or_default().push(i);
            if let Some(ns) = &o.namespace {
                inventory
                    .by_namespace
                    .entry(ns.clone())
                    .or_default()
                    .push(i);
            }
            inventory
                .by_name
                .entry((o.kind.clone(), o.namespace.clone(), o.name.clone()))
                .or_default()
                .push(i);
            if o.kind == "Namespace" && o.group().is_empty() {
                inventory
                    .namespace_objects
                    .entry(o.name.clone())
                    .or_insert(i);
            }
        }
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
        let key = (
            kind.to_string(),
            namespace.map(str::to_string),
            name.to_string(),
        );
        self.pick(self.by_name.get(&key))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

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
