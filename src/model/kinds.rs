//! Kinds and sets of kinds: what rules check and read (see [`crate::rules::Scope`]), so that
//! the rest is never built.

use std::collections::BTreeSet;

use crate::source::yaml::KindFilter;

/// An API group (empty for the core group) and a kind; `*` in either matches any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind {
    pub group: &'static str,
    pub kind: &'static str,
}

impl Kind {
    /// Every kind of every group.
    pub const ANY: Kind = Kind::new("*", "*");

    pub const fn new(group: &'static str, kind: &'static str) -> Kind {
        Kind { group, kind }
    }

    /// A kind by name in whatever group (for lookups that do not check the group).
    pub const fn any_group(kind: &'static str) -> Kind {
        Kind::new("*", kind)
    }

    /// Every kind of an API group.
    pub const fn all_of(group: &'static str) -> Kind {
        Kind::new(group, "*")
    }

    pub fn matches(&self, group: &str, kind: &str) -> bool {
        (self.group == "*" || self.group == group) && (self.kind == "*" || self.kind == kind)
    }
}

/// Kinds, by name (any API group), or every kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindSet {
    All,
    Only(BTreeSet<String>),
}

impl Default for KindSet {
    fn default() -> Self {
        KindSet::none()
    }
}

impl KindSet {
    pub fn none() -> KindSet {
        KindSet::Only(BTreeSet::new())
    }

    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(kinds: I) -> KindSet {
        KindSet::Only(kinds.into_iter().map(Into::into).collect())
    }

    /// `Some(kinds)` is those kinds; `None` (nothing declared) is every kind.
    pub fn declared(kinds: Option<&BTreeSet<String>>) -> KindSet {
        kinds.map_or(KindSet::All, |k| KindSet::Only(k.clone()))
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, KindSet::Only(k) if k.is_empty())
    }

    pub fn contains(&self, kind: &str) -> bool {
        match self {
            KindSet::All => true,
            KindSet::Only(kinds) => kinds.contains(kind),
        }
    }

    pub fn add(&mut self, other: &KindSet) {
        match (&mut *self, other) {
            (KindSet::All, _) => {}
            (_, KindSet::All) => *self = KindSet::All,
            (KindSet::Only(mine), KindSet::Only(theirs)) => mine.extend(theirs.iter().cloned()),
        }
    }

    pub fn union(mut self, other: &KindSet) -> KindSet {
        self.add(other);
        self
    }

    /// The parser filter that builds exactly these kinds whole.
    pub fn filter(&self) -> KindFilter {
        match self {
            KindSet::All => KindFilter::All,
            KindSet::Only(kinds) => KindFilter::only(kinds.iter().cloned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_any_group_or_kind() {
        assert!(Kind::new("apps", "Deployment").matches("apps", "Deployment"));
        assert!(!Kind::new("apps", "Deployment").matches("extensions", "Deployment"));
        assert!(Kind::any_group("Certificate").matches("cert-manager.io", "Certificate"));
        assert!(Kind::all_of("traefik.io").matches("traefik.io", "IngressRoute"));
        assert!(!Kind::all_of("traefik.io").matches("", "Service"));
    }

    #[test]
    fn union_with_all_is_all_and_only_sets_merge() {
        let mut set = KindSet::of(["Deployment"]);
        set.add(&KindSet::of(["Service"]));
        assert!(set.contains("Service") && set.contains("Deployment") && !set.contains("Pod"));
        assert!(!set.filter().builds("Pod") && set.filter().builds("Service"));
        assert_eq!(set.clone().union(&KindSet::All), KindSet::All);
        assert!(KindSet::none().is_empty() && !KindSet::All.is_empty());
        assert!(KindSet::All.filter().builds("Anything"));
    }
}
