//! Findings: what a rule reports, where, and how it is identified across runs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::object::{Object, ObjectRef, Origin};
use crate::model::spans::Pos;

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The CVSS-like score GitHub and DefectDojo read from `security-severity`.
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
            Severity::Info => "0.0",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected critical, high, medium, low or info)"
            )),
        }
    }
}

/// Where a finding is: a place in a file, or an object in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File {
        /// Path relative to the scan root, with `/` separators.
        path: String,
        line: u32,
        column: u32,
    },
    Cluster {
        context: String,
        /// `k8s://<context>/<namespace>/<kind>/<name>` (`_` for cluster-scoped objects).
        uri: String,
    },
}

impl Location {
    pub fn path(&self) -> &str {
        match self {
            Location::File { path, .. } => path,
            Location::Cluster { uri, .. } => uri,
        }
    }

    pub fn line(&self) -> Option<u32> {
        match self {
            Location::File { line, .. } => Some(*line),
            Location::Cluster { .. } => None,
        }
    }

    pub fn column(&self) -> Option<u32> {
        match self {
            Location::File { column, .. } => Some(*column),
            Location::Cluster { .. } => None,
        }
    }
}

/// Why a finding does not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub reason: String,
    pub source: SuppressionSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionSource {
    Annotation,
    Exemption,
    Baseline,
}

impl SuppressionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionSource::Annotation => "annotation",
            SuppressionSource::Exemption => "exemption",
            SuppressionSource::Baseline => "baseline",
        }
    }
}

/// One reported problem.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub remediation: String,
    /// None for findings about a whole file (a parse error).
    pub object: Option<ObjectRef>,
    pub environment: Option<String>,
    pub location: Location,
    /// JSON pointer of the node the finding is about, inside the object.
    pub pointer: String,
    pub fingerprint: String,
    pub suppressed: Option<Suppression>,
    /// The chart template a rendered document came from (`# Source:`).
    pub helm_source: Option<String>,
}

impl Finding {
    /// A finding on `object` at `pointer`.
    pub fn on_object(
        rule: &str,
        severity: Severity,
        message: String,
        remediation: String,
        object: &Object,
        pointer: &str,
    ) -> Finding {
        let location = match &object.origin {
            Origin::File { path, .. } => {
                let Pos { line, column } = object.locate(pointer);
                Location::File {
                    path: path.clone(),
                    line,
                    column,
                }
            }
            Origin::Cluster { context, .. } => Location::Cluster {
                context: context.clone(),
                uri: object.live_uri(),
            },
        };
        Finding {
            rule: rule.to_string(),
            severity,
            message,
            remediation,
            object: Some(object.reference()),
            environment: object.environment().map(str::to_string),
            location,
            pointer: pointer.to_string(),
            fingerprint: object_fingerprint(rule, object, pointer),
            suppressed: None,
            helm_source: object.helm_source.clone(),
        }
    }

    /// A finding about a file rather than an object (it could not be read as objects).
    pub fn on_file(
        rule: &str,
        severity: Severity,
        message: String,
        remediation: String,
        path: &str,
        pos: Pos,
        document: usize,
    ) -> Finding {
        Finding {
            rule: rule.to_string(),
            severity,
            message,
            remediation,
            object: None,
            environment: None,
            location: Location::File {
                path: path.to_string(),
                line: pos.line.max(1),
                column: pos.column.max(1),
            },
            pointer: String::new(),
            fingerprint: fingerprint(&[rule, "file", path, &document.to_string()]),
            suppressed: None,
            helm_source: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.suppressed.is_none()
    }

    /// Order of every report: by file and position, then rule; live findings by object.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.location.path(),
            self.location.line().unwrap_or(0),
            self.location.column().unwrap_or(0),
            self.rule.as_str(),
            self.pointer.as_str(),
            self.fingerprint.as_str(),
        )
    }
}

/// The stable identity of a finding on an object: rule, object identity, node; never a line.
///
/// The API group stands for the apiVersion so that a version bump of the same object
/// (`v1beta1` → `v1`), or a cluster serving another version than the manifest, keeps it.
pub fn object_fingerprint(rule: &str, object: &Object, pointer: &str) -> String {
    let cluster = match &object.origin {
        Origin::Cluster { context, .. } => context.as_str(),
        Origin::File { .. } => "",
    };
    fingerprint(&[
        rule,
        object.group(),
        &object.kind,
        object.namespace.as_deref().unwrap_or(""),
        &object.name,
        cluster,
        pointer,
    ])
}

fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_parses_and_orders() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!(Severity::Critical > Severity::Medium);
        assert!("urgent".parse::<Severity>().is_err());
    }
}
