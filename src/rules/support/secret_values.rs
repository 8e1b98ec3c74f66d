//! What a value written into a manifest really is: a credential in clear text, or something
//! that is safe in git (SOPS ciphertext, a reference resolved at deploy time, a public
//! certificate, nothing at all). Shared by `plain-secret` and `secret-in-config`; never
//! returns or formats a value, only a verdict about it.

use std::sync::LazyLock;

use crate::model::value::Value;
use regex::Regex;

use crate::model::object::Object;

/// Why a value is not a credential in clear text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPlain {
    Empty,
    /// SOPS ciphertext (`ENC[AES256_GCM,…]`).
    Encrypted,
    /// Resolved at deploy time: `op://`, vals `ref+…://`, argocd-vault-plugin `<path:…#…>`,
    /// `${VAR}` substitution, Kubernetes `$(VAR)` expansion.
    Reference,
    /// Only public certificates (PEM `CERTIFICATE` blocks), no key.
    PublicCertificate,
}

/// `op://vault/item/field` (1Password CLI `op inject` / the 1Password operator).
#[allow(clippy::expect_used, reason = "a literal pattern")]
static ONE_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"op://[^/\s]+/[^\s]+").expect("valid regex"));
/// `ref+vault://path#key`, `ref+awssecrets://…` (helmfile/vals).
#[allow(clippy::expect_used, reason = "a literal pattern")]
static VALS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ref\+[a-z0-9]+://\S+").expect("valid regex"));
/// argocd-vault-plugin's inline path placeholder `<path:secret/data/x#key>`.
#[allow(clippy::expect_used, reason = "a literal pattern")]
static AVP_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<path:[^<>#\s]+#[^<>\s]+>").expect("valid regex"));
/// argocd-vault-plugin's generic placeholder `<key>`, used with `avp.kubernetes.io/path`.
#[allow(clippy::expect_used, reason = "a literal pattern")]
static AVP_GENERIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^<[A-Za-z0-9_.\-]+>$").expect("valid regex"));
/// `${VAR}` (Flux `postBuild.substitute`, envsubst) and Kubernetes' `$(VAR)` in env values.
#[allow(clippy::expect_used, reason = "a literal pattern")]
static SUBSTITUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{[A-Za-z_][A-Za-z0-9_.:\-=]*\}|\$\([A-Za-z_][A-Za-z0-9_]*\)")
        .expect("valid regex")
});
/// A URL carrying a password: `scheme://user:pass@host`.
#[allow(clippy::expect_used, reason = "a literal pattern")]
static URL_WITH_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]+:([^\s/@]+)@[^\s/@]").expect("valid regex")
});

/// Annotation of argocd-vault-plugin telling which Vault path `<key>` placeholders read.
const AVP_PATH_ANNOTATION: &str = "avp.kubernetes.io/path";

/// True when the document is managed by SOPS: a top-level `sops` block with its metadata.
pub fn is_sops_document(object: &Object) -> bool {
    object
        .value
        .get("sops")
        .and_then(Value::as_object)
        .is_some_and(|sops| {
            ["mac", "version", "lastmodified"]
                .iter()
                .any(|k| sops.contains_key(k))
        })
}

/// True when the text carries a reference that something resolves at deploy time.
pub fn has_reference(text: &str) -> bool {
    ONE_PASSWORD.is_match(text)
        || VALS.is_match(text)
        || AVP_PATH.is_match(text)
        || SUBSTITUTION.is_match(text)
}

/// True for SOPS ciphertext.
fn is_encrypted(text: &str) -> bool {
    let text = text.trim();
    text.starts_with("ENC[") && text.ends_with(']')
}

/// True when the text holds PEM certificates and no private key.
fn is_public_certificate(text: &str) -> bool {
    text.contains("-----BEGIN CERTIFICATE-----") && !has_private_key(text)
}

/// True when the text holds a PEM private key block (RSA, EC, OpenSSH, PKCS#8, encrypted).
pub fn has_private_key(text: &str) -> bool {
    text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----")
}

/// True when the text holds a URL with a literal password (`postgres://app:s3cret@db`).
pub fn has_url_password(text: &str) -> bool {
    URL_WITH_PASSWORD.captures_iter(text).any(|c| {
        let password = c.get(1).map_or("", |m| m.as_str());
        classify_text(password, false).is_none() && !is_masked(password)
    })
}

/// `***`, `xxx`, `<password>`: a documented blank, not a value.
fn is_masked(text: &str) -> bool {
    let t = text.trim();
    (t.len() >= 3 && t.chars().all(|c| c == '*' || c == 'x' || c == 'X'))
        || (t.starts_with('<') && t.ends_with('>'))
}

/// Why `text` (already decoded) is not a credential in clear text, or None when it may be one.
/// `avp` is true when the object asks argocd-vault-plugin to fill `<key>` placeholders.
pub fn classify_text(text: &str, avp: bool) -> Option<NotPlain> {
    if text.trim().is_empty() {
        return Some(NotPlain::Empty);
    }
    if is_encrypted(text) {
        return Some(NotPlain::Encrypted);
    }
    if has_reference(text) || (avp && AVP_GENERIC.is_match(text.trim())) {
        return Some(NotPlain::Reference);
    }
    if is_public_certificate(text) {
        return Some(NotPlain::PublicCertificate);
    }
    None
}

/// True when the object asks argocd-vault-plugin to replace `<key>` placeholders.
pub fn uses_avp(object: &Object) -> bool {
    object.annotation(AVP_PATH_ANNOTATION).is_some()
}

/// Why the Secret value under `field` (`data` or `stringData`) is not a credential in clear
/// text. `data` values are base64: both the raw text (a `${VAR}` Flux substitutes before
/// decoding) and the decoded text are looked at.
pub fn classify_secret_value(field: &str, value: &Value, avp: bool) -> Option<NotPlain> {
    let text = match value {
        Value::Null => return Some(NotPlain::Empty),
        Value::String(s) => s.as_str(),
        // A number or boolean in stringData is still a literal value.
        _ => return None,
    };
    if let Some(verdict) = classify_text(text, avp) {
        return Some(verdict);
    }
    if field == "data" {
        let compact: String = text.split_whitespace().collect();
        if let Ok(bytes) = data_encoding::BASE64.decode(compact.as_bytes()) {
            return classify_text(&String::from_utf8_lossy(&bytes), avp);
        }
    }
    None
}

/// The decoded text of a Secret value, for content checks (PEM keys). None when not decodable.
pub fn decoded(field: &str, value: &Value) -> Option<String> {
    let text = value.as_str()?;
    if field != "data" {
        return Some(text.to_string());
    }
    let compact: String = text.split_whitespace().collect();
    let bytes = data_encoding::BASE64.decode(compact.as_bytes()).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parts of a name, split on `_`, `-`, `.` and lower-to-upper case changes, upper-cased:
/// `dbPassword` → `DB`, `PASSWORD`.
fn name_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.' | '/') {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_uppercase());
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Words that make a name a credential's name wherever they appear in it.
const CREDENTIAL_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PWD",
    "TOKEN",
    "SECRET",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
];

/// A last word that says the value is about a credential, not the credential itself:
/// `PASSWORD_FILE`, `TOKEN_URL`, `SECRET_NAME`, `AWS_ACCESS_KEY_ID`, `TOKEN_TTL`.
const DESCRIBING_WORDS: &[&str] = &[
    "FILE",
    "PATH",
    "DIR",
    "URL",
    "URI",
    "ENDPOINT",
    "NAME",
    "REF",
    "ID",
    "TTL",
    "TIMEOUT",
    "EXPIRY",
    "LENGTH",
    "TYPE",
    "HEADER",
    "KEY",
    "KEYS",
    "ENABLED",
    "MODE",
    "POLICY",
    "ROLE",
    "USER",
    "USERNAME",
    "SIZE",
    "LIFETIME",
    "DURATION",
    "REFRESH",
    "MOUNT",
    "HOST",
    "PORT",
    "SHARES",
    "THRESHOLD",
    "COUNT",
    "VERSION",
    "PREFIX",
    "SUFFIX",
    "FORMAT",
    "PROVIDER",
    "STORE",
    "NAMESPACE",
    "REGION",
    "ALGORITHM",
    "LABEL",
    "ANNOTATION",
    "FIELD",
    "PATTERN",
    "REGEX",
];

/// Words before a final `KEY` that make it the name of a key, not a key: `LABEL_KEY`,
/// `instanceLabelKey`, `statusListKey`, `PUBLIC_KEY`, `CACHE_KEY`.
const KEY_NAMING_WORDS: &[&str] = &[
    "PUBLIC",
    "CACHE",
    "SORT",
    "PARTITION",
    "ROUTING",
    "PRIMARY",
    "FOREIGN",
    "LABEL",
    "ANNOTATION",
    "LIST",
    "STATUS",
    "INSTANCE",
    "HASH",
    "LOOKUP",
    "MAP",
    "GROUP",
    "NAME",
    "TAG",
    "FIELD",
    "INDEX",
    "SHARD",
    "HEADER",
    "QUERY",
    "PARAM",
    "METADATA",
    "CONFIG",
    "IDEMPOTENCY",
    "MATCH",
];

/// True when a key or variable name names a credential: it contains `PASSWORD`, `TOKEN`,
/// `SECRET`… or ends in `_KEY` (`API_KEY`, `SECRET_KEY`, `privateKey`), and does not end in a
/// word that makes it about the credential (`PASSWORD_FILE`, `TOKEN_URL`, `KEY_ID`).
pub fn is_credential_name(name: &str) -> bool {
    let parts = name_parts(name);
    let Some(last) = parts.last() else {
        return false;
    };
    if last == "KEY" {
        // `API_KEY`, `ACCESS_KEY`, `privateKey`, `SECRET_KEY`; a bare `KEY` is too vague.
        return parts.len() > 1 && !KEY_NAMING_WORDS.contains(&parts[parts.len() - 2].as_str());
    }
    if DESCRIBING_WORDS.contains(&last.as_str()) {
        return false;
    }
    parts.iter().any(|p| CREDENTIAL_WORDS.contains(&p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;

    #[test]
    fn references_and_ciphertext_are_not_plain() {
        for text in [
            "op://kubernetes/cloudflare/CLOUDFLARE_TUNNEL_ID",
            "ref+vault://secret/data/db#password",
            "ref+awssecrets://prod/db?region=eu-west-1#/password",
            "<path:secret/data/db#password>",
            "postgres://app:<path:kv/data/db#pw>@db:5432/app",
            "${DB_PASSWORD}",
            "$(DB_PASSWORD)",
        ] {
            assert_eq!(
                classify_text(text, false),
                Some(NotPlain::Reference),
                "{text}"
            );
        }
        assert_eq!(
            classify_text("ENC[AES256_GCM,data:J4xD,iv:c,tag:m,type:str]", false),
            Some(NotPlain::Encrypted)
        );
        assert_eq!(classify_text("", false), Some(NotPlain::Empty));
        assert_eq!(classify_text("<password>", true), Some(NotPlain::Reference));
        assert_eq!(classify_text("<password>", false), None);
        assert_eq!(classify_text("hunter2", false), None);
        assert_eq!(classify_text("op is fun", false), None);
    }

    #[test]
    fn data_values_are_decoded() {
        // base64("op://vault/item/field")
        let encoded = doc!("b3A6Ly92YXVsdC9pdGVtL2ZpZWxk");
        assert_eq!(
            classify_secret_value("data", &encoded, false),
            Some(NotPlain::Reference)
        );
        assert_eq!(classify_secret_value("stringData", &encoded, false), None);
        assert_eq!(
            classify_secret_value("data", &doc!("${TOKEN}"), false),
            Some(NotPlain::Reference)
        );
        // base64("123456")
        assert_eq!(
            classify_secret_value("data", &doc!("MTIzNDU2"), false),
            None
        );
    }

    #[test]
    fn certificates_without_keys_are_public() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(
            classify_text(cert, false),
            Some(NotPlain::PublicCertificate)
        );
        let pair =
            format!("{cert}-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----");
        assert_eq!(classify_text(&pair, false), None);
        assert!(has_private_key(&pair));
    }

    #[test]
    fn urls_with_literal_passwords() {
        assert!(has_url_password("postgres://app:s3cret@db:5432/app"));
        assert!(has_url_password("DSN=mysql://root:hunter2@tcp(db)/x"));
        assert!(!has_url_password(
            "postgres://app:${DB_PASSWORD}@db:5432/app"
        ));
        assert!(!has_url_password("postgres://app@db:5432/app"));
        assert!(!has_url_password("https://user:****@example.com"));
        assert!(!has_url_password("http://example.com:8080/a@b"));
    }

    #[test]
    fn credential_names() {
        for name in [
            "DB_PASSWORD",
            "password",
            "dbPassword",
            "GITHUB_TOKEN",
            "client-secret",
            "API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "privateKey",
            "SECRET_KEY_BASE",
            "REDIS_PASSWD",
        ] {
            assert!(is_credential_name(name), "{name}");
        }
        for name in [
            "PASSWORD_FILE",
            "TOKEN_URL",
            "SECRET_NAME",
            "AWS_ACCESS_KEY_ID",
            "KEY",
            "PUBLIC_KEY",
            "TOKEN_TTL",
            "LOG_LEVEL",
            "SECRETS_PATH",
            "CACHE_KEY",
            "VAULT_SECRET_PATH",
            "instanceLabelKey",
            "statusListKey",
            "REPAIR_BROKEN_POD_LABEL_KEY",
            "SECRET_SHARES",
            "passwordPattern",
            "matchKey",
        ] {
            assert!(!is_credential_name(name), "{name}");
        }
    }
}
