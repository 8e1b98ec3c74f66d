//! Pod Security Standards levels and versions, and what a namespace's Pod Security admission
//! labels (`pod-security.kubernetes.io/<mode>[-version]`) say about it.
//!
//! Label values are read the way the admission plugin reads them: an `enforce` level it cannot
//! parse counts as `restricted` (the plugin fails closed), a version it cannot parse, or
//! `latest`, or one newer than tollgate knows, counts as the latest version.

use std::fmt;

use crate::model::value::{Map, Value};
use serde::Deserialize;

/// A Pod Security Standards level, from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    pub fn parse(value: &str) -> Option<Level> {
        match value.trim() {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes minor version of the standards (`v1.25` is 25); [`Version::LATEST`] is what
/// the current documentation defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32);

impl Version {
    pub const LATEST: Version = Version(u32::MAX);

    /// `v1.25`/`1.25` → 25; `latest`, anything unparseable or a major other than 1 → latest.
    pub fn parse(value: &str) -> Version {
        let value = value.trim();
        let minor = value
            .strip_prefix('v')
            .unwrap_or(value)
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u32>().ok());
        minor.map_or(Version::LATEST, Version)
    }

    /// True when the standards of this version include what was added in `v1.<minor>`.
    pub fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }
}

/// The Pod Security admission modes, in the order messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Warn,
    Audit,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Enforce, Mode::Warn, Mode::Audit];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
        }
    }
}

/// One mode's label on a namespace: the level (as written and as understood) and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeLabel {
    pub mode: Mode,
    pub level: Level,
    /// The label value as written (differs from `level` when it could not be parsed).
    pub written: String,
    pub version: Version,
    /// The `-version` label as written, when there is one.
    pub written_version: Option<String>,
}

impl ModeLabel {
    /// `enforce=restricted`, `enforce=baseline, enforce-version=v1.28`.
    pub fn describe(&self) -> String {
        let mut out = format!("{}={}", self.mode.as_str(), self.written);
        if let Some(version) = &self.written_version {
            out.push_str(&format!(", {}-version={version}", self.mode.as_str()));
        }
        out
    }
}

/// Label key prefix of Pod Security admission.
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";

/// The Pod Security admission label of `mode` among a namespace's labels.
pub fn mode_label(labels: &Map, mode: Mode) -> Option<ModeLabel> {
    let written = labels
        .get(&format!("{LABEL_PREFIX}{}", mode.as_str()))?
        .as_str()?
        .trim()
        .to_string();
    // Admission fails closed on an unreadable enforce level; warn and audit do the same.
    let level = Level::parse(&written).unwrap_or(Level::Restricted);
    let written_version = labels
        .get(&format!("{LABEL_PREFIX}{}-version", mode.as_str()))
        .and_then(Value::as_str)
        .map(|v| v.trim().to_string());
    let version = written_version
        .as_deref()
        .map_or(Version::LATEST, Version::parse);
    Some(ModeLabel {
        mode,
        level,
        written,
        version,
        written_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;

    #[test]
    fn versions() {
        assert_eq!(Version::parse("v1.25"), Version(25));
        assert_eq!(Version::parse("1.8"), Version(8));
        assert_eq!(Version::parse("latest"), Version::LATEST);
        assert_eq!(Version::parse("v2.0"), Version::LATEST);
        assert!(Version::LATEST.at_least(31));
        assert!(!Version(24).at_least(25));
    }

    #[test]
    fn labels() {
        let labels = doc!({
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/enforce-version": "v1.28",
            "pod-security.kubernetes.io/warn": "strict",
        });
        let labels = labels.as_object().unwrap();
        let enforce = mode_label(labels, Mode::Enforce).unwrap();
        assert_eq!(
            (enforce.level, enforce.version),
            (Level::Baseline, Version(28))
        );
        assert_eq!(
            enforce.describe(),
            "enforce=baseline, enforce-version=v1.28"
        );
        let warn = mode_label(labels, Mode::Warn).unwrap();
        assert_eq!(
            (warn.level, warn.version),
            (Level::Restricted, Version::LATEST)
        );
        assert_eq!(mode_label(labels, Mode::Audit), None);
    }
}
