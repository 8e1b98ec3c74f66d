//! OPA `# METADATA` comment blocks, read from the Rego text (regorus has no
//! `rego.metadata`, and comments are not in its AST).
//!
//! ```rego
//! # METADATA
//! # title: Ingress without TLS
//! # description: |
//! #   An Ingress that serves plain HTTP…
//! # custom:
//! #   id: ingress-tls
//! #   severity: high
//! #   remediation: Add a `tls` section.
//! package tollgate.ingress_tls
//! ```

use serde::Deserialize;

/// The annotations tollgate reads; others (authors, schemas, related_resources…) are accepted
/// and ignored.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Annotations {
    pub scope: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

impl Annotations {
    /// Whether `custom` has `key` at all (an empty list says "none", absence says nothing).
    pub fn custom_has(&self, key: &str) -> bool {
        self.custom.contains_key(key)
    }

    pub fn custom_str(&self, key: &str) -> Option<&str> {
        self.custom.get(key)?.as_str()
    }

    pub fn custom_list(&self, key: &str) -> Vec<String> {
        match self.custom.get(key) {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

/// What a block annotates: the statement after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Package,
    Rule(String),
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub annotations: Annotations,
    /// Line of the `# METADATA` comment.
    pub line: u32,
    pub target: Target,
}

impl Block {
    /// True for blocks that describe the whole package.
    pub fn is_package_scoped(&self) -> bool {
        match self.annotations.scope.as_deref() {
            Some("package") | Some("subpackages") => true,
            Some(_) => false,
            None => self.target == Target::Package,
        }
    }
}

/// A block whose YAML does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockError {
    pub line: u32,
    pub message: String,
}

/// Every `# METADATA` block of a module, in order.
pub fn blocks(text: &str) -> Result<Vec<Block>, BlockError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim();
        let is_header = trimmed
            .strip_prefix('#')
            .is_some_and(|rest| rest.trim() == "METADATA");
        if !is_header {
            i += 1;
            continue;
        }
        let header_line = i as u32 + 1;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            let Some(rest) = lines[i].trim_start().strip_prefix('#') else {
                break;
            };
            body.push(rest);
            i += 1;
        }
        let indent = body
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let yaml: String = body
            .iter()
            .map(|l| l.get(indent..).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let annotations: Annotations = if yaml.trim().is_empty() {
            Annotations::default()
        } else {
            yaml_serde::from_str(&yaml).map_err(|e| BlockError {
                line: header_line + e.location().map(|l| l.line() as u32).unwrap_or(1),
                message: format!("invalid METADATA block: {e}"),
            })?
        };
        let target = lines[i..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .map(|l| {
                if l.starts_with("package ") {
                    Target::Package
                } else {
                    let name: String = l
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        Target::Other
                    } else {
                        Target::Rule(name)
                    }
                }
            })
            .unwrap_or(Target::Other);
        out.push(Block {
            annotations,
            line: header_line,
            target,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_and_rule_blocks() {
        let text = "# METADATA\n# title: Ingress without TLS\n# description: |\n#   First.\n#\n#   Second.\n# custom:\n#   id: ingress-tls\n#   severity: high\npackage tollgate.ingress_tls\n\n# METADATA\n# title: deny\ndeny contains 1 if true\n";
        let blocks = blocks(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].target, Target::Package);
        assert!(blocks[0].is_package_scoped());
        assert_eq!(
            blocks[0].annotations.title.as_deref(),
            Some("Ingress without TLS")
        );
        assert_eq!(
            blocks[0].annotations.description.as_deref(),
            Some("First.\n\nSecond.\n")
        );
        assert_eq!(blocks[0].annotations.custom_str("id"), Some("ingress-tls"));
        assert_eq!(blocks[1].target, Target::Rule("deny".into()));
        assert!(!blocks[1].is_package_scoped());
    }

    #[test]
    fn broken_yaml_points_at_its_line() {
        let err = blocks("package x\n# METADATA\n# title: [unclosed\n").unwrap_err();
        assert!(err.line >= 3, "{err:?}");
        assert!(err.message.contains("METADATA"));
    }
}
