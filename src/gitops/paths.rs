//! Display paths (relative to the scan root, `/`-separated) of the files build instructions
//! name.

/// `dir` joined with the relative `target`, `.` and `..` resolved lexically. `None` for an
/// absolute target or one that leaves the scanned tree above the root.
pub fn join(dir: &str, target: &str) -> Option<String> {
    let target = target.trim();
    if target.starts_with('/') || target.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = if dir.is_empty() || dir == "." {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    let absolute = dir.starts_with('/');
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.is_empty() || (absolute && parts.len() == 1) {
                    return None;
                }
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// True for a kustomize resource that names a remote base (a URL, a git address).
pub fn is_remote(target: &str) -> bool {
    target.contains("://")
        || target.starts_with("git@")
        || target.starts_with("github.com/")
        || target.starts_with("gitlab.com/")
        || target.starts_with("bitbucket.org/")
        || target.contains("?ref=")
        || target.contains(".git//")
}

/// True when the display path `path` is inside the directory `dir` (`""`: the root).
pub fn is_inside(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The directory part of a display path (`""` at the root).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_kustomize() {
        assert_eq!(
            join("apps/web/overlays/prod", "../../base").unwrap(),
            "apps/web/base"
        );
        assert_eq!(join("", "./a.yaml").unwrap(), "a.yaml");
        assert_eq!(join("a", "..").unwrap(), "");
        assert_eq!(join("", "../x"), None);
        assert!(is_remote("https://github.com/acme/x//base?ref=v1"));
        assert!(is_remote("github.com/acme/x/base?ref=v1"));
        assert!(!is_remote("../base"));
        assert!(is_inside("a/b.yaml", "a") && !is_inside("ab/c", "a") && is_inside("x", ""));
    }
}
