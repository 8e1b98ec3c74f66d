//! Saying what was not seen (DESIGN §13): rules that configuration left with nothing to
//! check, and globs of `tollgate.yaml` that match nothing.

use std::collections::BTreeSet;

use globset::GlobBuilder;

use crate::config::Config;
use crate::notice::Notice;

/// One notice per namespace rule whose configured environments hold none of the scan's
/// namespaces (only when the scan has namespaces at all): `namespaces` are the scan's, and
/// `namespace_envs` the environments they have. `enabled` tells which rules run.
pub fn rules_with_nothing_to_check(
    config: &Config,
    namespaces: &BTreeSet<String>,
    namespace_envs: &BTreeSet<String>,
    enabled: &dyn Fn(&str) -> bool,
) -> Vec<Notice> {
    if namespaces.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (rule, key, wanted) in [
        (
            "velero-backup-coverage",
            "velero.required_envs",
            &config.velero.required_envs,
        ),
        (
            "network-default-deny",
            "network.require_default_deny",
            &config.network.require_default_deny,
        ),
    ] {
        if !enabled(rule) {
            continue;
        }
        if wanted.is_empty() {
            out.push(Notice::warning(format!(
                "{rule}: `{key}` is empty, so no namespace is checked"
            )));
        } else if !wanted.iter().any(|w| namespace_envs.contains(w)) {
            out.push(Notice::warning(format!(
                "{rule}: no namespace is in `{key}` [{}] (give namespaces an environment with \
                 `environments:` namespaces or paths, or an `environment` label)",
                wanted.join(", ")
            )));
        }
    }
    out
}

/// Path globs of `environments:` and `clusters:` that match no file of the scan, and
/// namespace globs of configured environments that match no namespace. `prefix` is the
/// config's folder relative to the scan root; `config_path` names the file in messages.
pub fn globs_matching_nothing(
    config: &Config,
    config_path: &str,
    prefix: &str,
    files: &[String],
    namespaces: &BTreeSet<String>,
) -> Vec<Notice> {
    let mut out = Vec::new();
    let outside = prefix.starts_with('/') || prefix == ".." || prefix.starts_with("../");
    let prefix = if prefix.is_empty() || prefix == "." {
        String::new()
    } else {
        format!("{}/", prefix.trim_end_matches('/'))
    };
    let relative: Vec<&str> = files
        .iter()
        .filter_map(|f| f.strip_prefix(prefix.as_str()))
        .collect();
    let mut path_globs: Vec<(String, &String)> = Vec::new();
    for env in &config.environments {
        for p in &env.paths {
            path_globs.push((format!("environments[{}].paths", env.name), p));
        }
    }
    for cluster in &config.clusters {
        for p in &cluster.paths {
            path_globs.push((format!("clusters[{}].paths", cluster.name), p));
        }
    }
    if outside && !path_globs.is_empty() {
        out.push(
            Notice::warning(
                "the configuration is outside the scanned tree: its path globs are relative to \
                 its folder, so they match none of the scanned files",
            )
            .at(config_path, None),
        );
        return out;
    }
    for (key, pattern) in path_globs {
        let Ok(glob) = GlobBuilder::new(pattern).literal_separator(true).build() else {
            continue;
        };
        let matcher = glob.compile_matcher();
        if !relative.iter().any(|f| matcher.is_match(f)) {
            out.push(
                Notice::warning(format!(
                    "{key}: `{pattern}` matches no scanned file (paths are relative to the folder of the configuration)"
                ))
                .at(config_path, None),
            );
        }
    }
    if !namespaces.is_empty() {
        for env in &config.environments {
            for pattern in &env.namespaces {
                let Ok(glob) = GlobBuilder::new(pattern).build() else {
                    continue;
                };
                let matcher = glob.compile_matcher();
                if !namespaces.iter().any(|n| matcher.is_match(n)) {
                    out.push(
                        Notice::warning(format!(
                            "environments[{}].namespaces: `{pattern}` matches no namespace of the scan",
                            env.name
                        ))
                        .at(config_path, None),
                    );
                }
            }
        }
    }
    out
}

/// When no `clusters:` is configured but the repository has several `clusters/<name>/`
/// folders, a warning that they are checked as one cluster.
pub fn unnamed_clusters(files: &[String]) -> Option<Notice> {
    let mut folders: BTreeSet<String> = BTreeSet::new();
    for file in files {
        let parts: Vec<&str> = file.split('/').collect();
        if let Some(i) = parts.iter().position(|p| *p == "clusters")
            && i + 2 < parts.len()
        {
            folders.insert(parts[..=i + 1].join("/"));
        }
    }
    (folders.len() > 1).then(|| {
        let list: Vec<String> = folders.into_iter().take(5).collect();
        Notice::warning(format!(
            "{} look like several clusters but are checked as one: name them in `clusters:` of \
             tollgate.yaml so that one cluster's backups, stores and policies never satisfy another's",
            list.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_that_match_nothing_are_named() {
        let config =
            crate::config::parse(
                "environments:\n  - name: prod\n    namespaces: ['*-prod']\n    paths: ['./clusters/production/**']\n  - name: dev\n    paths: ['clusters/dev/**']\n",
                std::path::Path::new("tollgate.yaml"),
            )
            .unwrap();
        let files = vec!["repo/clusters/production/a.yaml".to_string()];
        let namespaces: BTreeSet<String> = ["shop-prod".to_string()].into();
        let notices =
            globs_matching_nothing(&config, "repo/tollgate.yaml", "repo", &files, &namespaces);
        let text: Vec<String> = notices.iter().map(|n| n.message.clone()).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(text[0].contains("`clusters/dev/**`"), "{text:?}");
        let outside =
            globs_matching_nothing(&config, "/etc/tollgate.yaml", "/etc", &files, &namespaces);
        assert!(outside[0].message.contains("outside the scanned tree"));
    }
}
