//! Sets of kinds: what the active rules and policies read, so that the rest is never built.

use std::collections::BTreeSet;

use crate::source::yaml::KindFilter;

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
