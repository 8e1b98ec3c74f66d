//! Container image references: `[registry/]repository[:tag][@digest]`.

/// A parsed image reference. The registry of an image without a host is `docker.io`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry host, lowercase (`docker.io` when none is written).
    pub registry: String,
    /// Repository path, as written (`library/` added for Docker Hub official images).
    pub repository: String,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Parses an image reference; None for templated or empty values (`{{ .Values.image }}`,
    /// `${IMAGE}`), which are not images yet.
    pub fn parse(image: &'a str) -> Option<ImageRef<'a>> {
        let image = image.trim();
        if image.is_empty() || image.contains("{{") || image.contains("${") || image.contains(' ') {
            return None;
        }
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (image, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
            _ => registry,
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        Some(ImageRef {
            registry,
            repository,
            tag: tag.filter(|t| !t.is_empty()),
            digest: digest.filter(|d| !d.is_empty()),
        })
    }

    /// True when the reference pins content by a sha256 digest.
    pub fn has_sha256_digest(&self) -> bool {
        self.digest.is_some_and(|d| d.starts_with("sha256:"))
    }

    /// True when an allowlist entry (`host` or `host/project`) admits this image.
    pub fn allowed_by(&self, entry: &str) -> bool {
        let entry = entry.trim().trim_end_matches('/');
        let (host, project) = match entry.split_once('/') {
            Some((host, project)) => (host, Some(project)),
            None => (entry, None),
        };
        if !host.eq_ignore_ascii_case(&self.registry) {
            return false;
        }
        match project {
            None => true,
            Some(project) => self
                .repository
                .strip_prefix(project)
                .is_some_and(|rest| rest.starts_with('/')),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag),
            ("docker.io", "library/nginx", None)
        );
        let r = ImageRef::parse("harbor.example.com/shop/api:1.2@sha256:abc").unwrap();
        assert_eq!(r.registry, "harbor.example.com");
        assert_eq!(r.repository, "shop/api");
        assert_eq!(r.tag, Some("1.2"));
        assert_eq!(r.digest, Some("sha256:abc"));
        assert!(r.has_sha256_digest());
        let r = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!((r.registry.as_str(), r.tag), ("localhost:5000", None));
        let r = ImageRef::parse("bitnami/redis:7.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "bitnami/redis")
        );
        assert!(ImageRef::parse("{{ .Values.image }}").is_none());
    }

    #[test]
    fn allowlist_entries_match_host_or_project() {
        let r = ImageRef::parse("harbor.example.com/shop/api:1").unwrap();
        assert!(r.allowed_by("harbor.example.com"));
        assert!(r.allowed_by("HARBOR.example.com/shop"));
        assert!(!r.allowed_by("harbor.example.com/sho"));
        assert!(!r.allowed_by("harbor.example.org"));
        assert!(
            ImageRef::parse("nginx")
                .unwrap()
                .allowed_by("docker.io/library")
        );
    }
}
