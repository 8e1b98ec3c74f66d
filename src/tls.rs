//! The process-wide TLS crypto provider: rustls with ring, the only one in the dependency graph
//! (no OpenSSL, no aws-lc-rs).

/// Installs ring as rustls' process-wide provider. Idempotent; call it before building any
/// TLS client (kube, HTTP sinks), also for plain `http://` URLs.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
