//! Kubernetes service DNS names in free text: `<service>.<namespace>.svc[.cluster.local]`,
//! in URLs, connection strings and embedded configuration files.

/// A service DNS name found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceName<'a> {
    /// The name as written, from the service label to `.svc` or `.svc.cluster.local`.
    pub host: &'a str,
    pub namespace: &'a str,
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Start of the DNS label that ends at `end` (exclusive), when it is a valid label.
fn label_start(bytes: &[u8], end: usize) -> Option<usize> {
    let mut start = end;
    while start > 0 && is_label_char(bytes[start - 1]) {
        start -= 1;
    }
    let label = &bytes[start..end];
    let valid = !label.is_empty()
        && label.len() <= 63
        && label[0] != b'-'
        && label[label.len() - 1] != b'-';
    valid.then_some(start)
}

/// Every `<service>.<namespace>.svc[.cluster.local]` in `text`, in order.
pub fn service_names(text: &str) -> Vec<ServiceName<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (dot, _) in text.match_indices(".svc") {
        let mut end = dot + 4;
        if bytes
            .get(end)
            .is_some_and(|&b| is_label_char(b) || b == b'_')
        {
            continue; // `.svcfoo`, not the `svc` label
        }
        const CLUSTER: &str = ".cluster.local";
        if text[end..].starts_with(CLUSTER)
            && !bytes
                .get(end + CLUSTER.len())
                .is_some_and(|&b| is_label_char(b))
        {
            end += CLUSTER.len();
        }
        let Some(ns_start) = label_start(bytes, dot) else {
            continue;
        };
        if ns_start == 0 || bytes[ns_start - 1] != b'.' {
            continue;
        }
        let Some(service_start) = label_start(bytes, ns_start - 1) else {
            continue;
        };
        out.push(ServiceName {
            host: &text[service_start..end],
            namespace: &text[ns_start..dot],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(&str, &str)> {
        service_names(text)
            .into_iter()
            .map(|n| (n.host, n.namespace))
            .collect()
    }

    #[test]
    fn finds_service_names_in_urls_and_config() {
        assert_eq!(
            names("http://api.shop-prod.svc.cluster.local:8080/v1"),
            [("api.shop-prod.svc.cluster.local", "shop-prod")]
        );
        assert_eq!(
            names("redis://cache.shop-dev.svc:6379/0"),
            [("cache.shop-dev.svc", "shop-dev")]
        );
        assert_eq!(
            names(
                "upstreams:\n  - http://a.x.svc:80\n  - postgres://u@db-rw.pay-prod.svc.cluster.local./app"
            ),
            [
                ("a.x.svc", "x"),
                ("db-rw.pay-prod.svc.cluster.local", "pay-prod")
            ]
        );
        assert_eq!(
            names("web-0.web.shop-prod.svc"),
            [("web.shop-prod.svc", "shop-prod")]
        );
    }

    #[test]
    fn ignores_lookalikes() {
        assert!(names("see service.svc and x.svcfoo and .svc").is_empty());
        assert!(names("api.-bad.svc").is_empty());
        assert!(names("shop-prod.svc").is_empty());
    }
}
