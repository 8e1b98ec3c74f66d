//! Where policies come from: the shipped `policies/` embedded in the binary, `--policy` and
//! `policies:` directories (or single files), and `--data` files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::model::value::{Map, Value};
use crate::source::files::display_path;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/shipped.rs"));
}

/// Prefix of the display path of shipped policies.
pub const SHIPPED_PREFIX: &str = "shipped:policies/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A Rego module.
    Rego,
    /// A Rego module of unit tests (`*_test.rego`): only `tollgate policy test` loads it.
    RegoTest,
    /// YAML or JSON that may hold ConstraintTemplates, constraints or gator suites.
    Manifest,
}

/// One policy file.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    /// Path relative to the working directory, or `shipped:policies/…`.
    pub display: String,
    pub text: Arc<str>,
    pub kind: FileKind,
    pub shipped: bool,
    /// Where it is on disk (none for shipped policies).
    pub path: Option<PathBuf>,
}

fn kind_of(name: &str) -> Option<FileKind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("_test.rego") {
        Some(FileKind::RegoTest)
    } else if lower.ends_with(".rego") {
        Some(FileKind::Rego)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
        Some(FileKind::Manifest)
    } else {
        None
    }
}

/// The policies embedded in the binary.
pub fn shipped() -> Vec<PolicyFile> {
    embedded::SHIPPED
        .iter()
        .filter_map(|(path, text)| {
            Some(PolicyFile {
                display: format!("{SHIPPED_PREFIX}{path}"),
                text: Arc::from(*text),
                kind: kind_of(path)?,
                shipped: true,
                path: None,
            })
        })
        .collect()
}

fn read(path: &Path, root: &Path) -> Result<Option<PolicyFile>, Error> {
    let Some(kind) = path.file_name().and_then(|n| n.to_str()).and_then(kind_of) else {
        return Ok(None);
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(PolicyFile {
        display: display_path(path, root),
        text: Arc::from(text.as_ref()),
        kind,
        shipped: false,
        path: Some(path.to_path_buf()),
    }))
}

/// The policy files under `paths` (directories are walked, honouring `.gitignore`), sorted.
pub fn collect(paths: &[PathBuf], root: &Path) -> Result<Vec<PolicyFile>, Error> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_file() {
            out.extend(read(path, root)?);
            continue;
        }
        let mut found = Vec::new();
        for entry in ignore::WalkBuilder::new(path).build() {
            let entry = entry.map_err(|e| Error::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            if entry.file_type().is_some_and(|t| t.is_file()) {
                found.push(entry.into_path());
            }
        }
        found.sort();
        for file in found {
            out.extend(read(&file, root)?);
        }
    }
    out.dedup_by(|a, b| a.display == b.display);
    Ok(out)
}

/// Reads a `--data` file (JSON or YAML) into a JSON object.
pub fn data_file(path: &Path) -> Result<Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = crate::source::yaml::parse_stream(&text);
    if let Some(e) = parsed.errors.first() {
        return Err(Error::usage(format!(
            "--data {}:{}:{}: {}",
            path.display(),
            e.line,
            e.column,
            e.message
        )));
    }
    let mut merged = Map::new();
    for doc in parsed.documents {
        match doc.value {
            Value::Object(map) => merged.extend(map),
            Value::Null => {}
            _ => {
                return Err(Error::usage(format!(
                    "--data {}: the document must be an object (its keys go under `data`)",
                    path.display()
                )));
            }
        }
    }
    Ok(Value::Object(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policies_are_embedded() {
        let files = shipped();
        assert!(
            files
                .iter()
                .any(|f| f.display == "shipped:policies/ingress-tls/policy.rego"
                    && f.kind == FileKind::Rego)
        );
        assert!(files.iter().any(|f| f.kind == FileKind::RegoTest));
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(kind_of("a_test.rego"), Some(FileKind::RegoTest));
        assert_eq!(kind_of("a.rego"), Some(FileKind::Rego));
        assert_eq!(kind_of("t.YAML"), Some(FileKind::Manifest));
        assert_eq!(kind_of("README.md"), None);
    }
}
