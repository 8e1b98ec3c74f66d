//! Kinds of objects by API group and kind name, and sets of them: what rules say they look at
//! (see [`crate::rules::Scope`]) and what a run needs to read.

use std::collections::BTreeSet;

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

/// A set of kinds: every kind, or those matching one of a list of [`Kind`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindSet {
    All,
    Only(BTreeSet<Kind>),
}

impl Default for KindSet {
    fn default() -> Self {
        KindSet::Only(BTreeSet::new())
    }
}

impl KindSet {
    /// Whether objects of `kind` in API group `group` are in the set.
    pub fn contains(&self, group: &str, kind: &str) -> bool {
        match self {
            KindSet::All => true,
            KindSet::Only(kinds) => kinds.iter().any(|k| k.matches(group, kind)),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, KindSet::All)
    }

    /// Adds `kinds`; [`Kind::ANY`] makes the set [`KindSet::All`].
    pub fn extend(&mut self, kinds: &[Kind]) {
        if kinds.contains(&Kind::ANY) {
            *self = KindSet::All;
        }
        if let KindSet::Only(set) = self {
            set.extend(kinds.iter().copied());
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
    fn any_makes_the_set_whole() {
        let mut set = KindSet::default();
        set.extend(&[Kind::new("", "Secret")]);
        assert!(set.contains("", "Secret") && !set.contains("", "ConfigMap"));
        set.extend(&[Kind::ANY]);
        assert!(set.is_all() && set.contains("", "ConfigMap"));
        set.extend(&[Kind::new("", "Secret")]);
        assert!(set.is_all());
    }
}
