//! Secret values never reach any report, not even through a snippet's context lines.

/// Two plain Secrets in a List, `kubectl get -o yaml` style: the second Secret's first line
/// directly follows the first one's values, and its `data` follows `apiVersion`.
const SECRETS: &str = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata:
    name: first
    namespace: shop-prod
  stringData:
    password: first-value-in-git
- apiVersion: v1
  data:
    token: c2Vjb25kLXZhbHVlLWluLWdpdA==
  kind: Secret
  metadata:
    name: second
    namespace: shop-prod
";

#[test]
fn no_report_format_shows_a_secret_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secrets.yaml"), SECRETS).unwrap();
    for format in ["human", "json", "sarif", "html"] {
        let output = crate::common::tollgate()
            .current_dir(dir.path())
            .args([
                "scan",
                "secrets.yaml",
                "--format",
                format,
                "--color",
                "never",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("plain-secret"), "{format}: {text}");
        for value in ["first-value-in-git", "c2Vjb25kLXZhbHVlLWluLWdpdA=="] {
            assert!(!text.contains(value), "{format} shows `{value}`:\n{text}");
        }
        if format == "human" {
            assert!(text.contains("password: ***"), "{text}");
            assert!(
                text.contains("Secret shop-prod/second holds key `token`"),
                "{text}"
            );
        }
    }
}
