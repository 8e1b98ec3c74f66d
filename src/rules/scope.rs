//! What a rule looks at, declared in its [`RuleMeta`](crate::rules::RuleMeta): the objects it
//! reports on (the engine gives it only those, choosing the rules once per kind) and the
//! kinds it reads through the inventory besides them.
//!
//! ```text
//! scope: Scope::workloads().reading(&[pod_security::READS]),
//! scope: Scope::kinds(&[Kind::new("", "Secret")]).reading(&[secrets::READS]),
//! scope: Scope::kinds(&[Kind::new("velero.io", "Schedule")]).live_only(),
//! ```

use crate::model::kinds::{Kind, KindSet};
use crate::model::object::Object;
use crate::model::workload::{WORKLOAD_KINDS, pod_spec_pointer};

/// The objects a rule checks and the kinds it reads. A rule's `check` must report nothing on
/// an object outside its scope (a test runs every rule on every fixture to hold that).
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Every object, of which the rule reads only `metadata` (labels, annotations, names) and
    /// where it was found: such a rule adds no kind to [`Scope::add_kinds_read`].
    pub metadata: bool,
    /// Objects of the kinds that run pods ([`WORKLOAD_KINDS`]).
    pub workloads: bool,
    /// Objects of these kinds ([`Kind::ANY`]: every object).
    pub kinds: &'static [Kind],
    /// Only objects read from a live cluster (`tollgate audit`).
    pub live_only: bool,
    /// Kinds the rule looks up in the inventory besides the object it checks (a support
    /// module's `READS`, a rule's own list). Knowing only that objects exist in a namespace
    /// (their kind, namespace and name) is not reading them.
    pub reads: &'static [&'static [Kind]],
}

impl Scope {
    /// Every object, all of it.
    pub const fn any() -> Scope {
        Scope::kinds(&[Kind::ANY])
    }

    /// Every object, of which the rule reads only the metadata.
    pub const fn metadata() -> Scope {
        Scope {
            metadata: true,
            ..Scope::files()
        }
    }

    /// No object: the rule reports on files (`manifest-parse-error`).
    pub const fn files() -> Scope {
        Scope::kinds(&[])
    }

    /// Workloads: objects of the kinds that run pods.
    pub const fn workloads() -> Scope {
        Scope {
            metadata: false,
            workloads: true,
            kinds: &[],
            live_only: false,
            reads: &[],
        }
    }

    /// Objects of these kinds.
    pub const fn kinds(kinds: &'static [Kind]) -> Scope {
        Scope {
            metadata: false,
            workloads: false,
            kinds,
            live_only: false,
            reads: &[],
        }
    }

    /// Workloads, and objects of these kinds too.
    pub const fn and_kinds(self, kinds: &'static [Kind]) -> Scope {
        Scope { kinds, ..self }
    }

    /// Only objects read from a live cluster.
    pub const fn live_only(self) -> Scope {
        Scope {
            live_only: true,
            ..self
        }
    }

    /// The kinds the rule reads through the inventory.
    pub const fn reading(self, reads: &'static [&'static [Kind]]) -> Scope {
        Scope { reads, ..self }
    }

    /// Whether objects of this API group and kind are in scope (from a file or not).
    pub fn covers_kind(&self, group: &str, kind: &str) -> bool {
        self.metadata
            || (self.workloads && pod_spec_pointer(group, kind).is_some())
            || self.kinds.iter().any(|k| k.matches(group, kind))
    }

    /// Whether `object` is in scope.
    pub fn covers(&self, object: &Object) -> bool {
        (!self.live_only || object.is_live()) && self.covers_kind(object.group(), &object.kind)
    }

    /// Adds to `set` the kinds whose objects this scope checks or reads beyond their metadata,
    /// by name (a [`KindSet`] does not tell API groups apart; a `*` kind makes it every kind).
    pub fn add_kinds_read(&self, set: &mut KindSet) {
        let mut add = |kinds: &[Kind]| {
            for kind in kinds {
                let named = if kind.kind == "*" {
                    KindSet::All
                } else {
                    KindSet::of([kind.kind])
                };
                set.add(&named);
            }
        };
        if self.workloads {
            add(WORKLOAD_KINDS);
        }
        add(self.kinds);
        for kinds in self.reads {
            add(kinds);
        }
    }
}

/// What [`crate::rules::Context::namespace_env`] reads: Namespace objects (their labels).
pub const NAMESPACES: &[Kind] = &[Kind::new("", "Namespace")];
