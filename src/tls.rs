//! TLS set-up shared by every HTTP client (DefectDojo, Harbor, Kubernetes).
//!
//! rustls with the **ring** provider is the only crypto backend in the binary (no aws-lc-rs,
//! no OpenSSL). reqwest is built with `rustls-no-provider` and kube with `ring`, so the
//! process-wide provider has to be installed once before any client is built.

/// Installs ring as rustls' process-wide crypto provider. Idempotent: a second call (or a
/// provider installed by someone else first) is not an error.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    #[test]
    fn installing_twice_leaves_ring_in_place() {
        super::install_crypto_provider();
        super::install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
