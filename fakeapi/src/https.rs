//! Serving over HTTPS on `127.0.0.1:0` with a generated CA, and kubeconfigs pointing at it.
//!
//! The serving certificate is a leaf (`CA:FALSE`, serverAuth, SANs `127.0.0.1` and
//! `localhost`) signed by a separate CA: rustls rejects a self-signed CA certificate used as a
//! server certificate. ALPN offers h2 and http/1.1 like a real API server.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio_rustls::TlsAcceptor;

use crate::FakeApi;

/// A fake API server listening on `127.0.0.1` with its own runtime; stops when dropped.
pub struct HttpsServer {
    addr: SocketAddr,
    ca_pem: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpsServer {
    /// Binds `127.0.0.1:0` and serves `api` on a runtime of its own (two worker threads).
    /// Call it outside any async context (the runtime is dropped with the server).
    pub fn start(api: FakeApi) -> io::Result<HttpsServer> {
        Self::start_with_threads(api, 2)
    }

    pub fn start_with_threads(api: FakeApi, threads: usize) -> io::Result<HttpsServer> {
        let (ca_pem, config) = tls_config().map_err(io::Error::other)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("fakeapi")
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let router = api.router();
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(HttpsServer {
            addr,
            ca_pem,
            runtime: Some(runtime),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The CA that signed the serving certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Adds a cluster, a user with `token` and a context, all called `context`, to `kubeconfig`.
    pub fn add_context(&self, kubeconfig: &mut Kubeconfig, context: &str, token: &str) {
        kubeconfig.cluster(context, &self.url(), Some(&self.ca_pem));
        kubeconfig.user(context, token);
        kubeconfig.context(context, context, context);
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn tls_config() -> Result<(String, rustls::ServerConfig), Box<dyn std::error::Error + Send + Sync>>
{
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fakeapi-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(leaf_cert.der().to_vec()),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((ca_cert.pem(), config))
}

/// A kubeconfig built in code and written as JSON (which every kubeconfig reader accepts).
#[derive(Debug, Default, Clone)]
pub struct Kubeconfig {
    clusters: Vec<Value>,
    users: Vec<Value>,
    contexts: Vec<Value>,
    current: Option<String>,
}

impl Kubeconfig {
    pub fn new() -> Self {
        Self::default()
    }

    /// A cluster at `server`; without a CA it skips TLS verification.
    pub fn cluster(&mut self, name: &str, server: &str, ca_pem: Option<&str>) -> &mut Self {
        let cluster = match ca_pem {
            Some(pem) => {
                json!({"server": server, "certificate-authority-data": BASE64.encode(pem)})
            }
            None => json!({"server": server, "insecure-skip-tls-verify": true}),
        };
        self.clusters
            .push(json!({"name": name, "cluster": cluster}));
        self
    }

    pub fn user(&mut self, name: &str, token: &str) -> &mut Self {
        self.users
            .push(json!({"name": name, "user": {"token": token}}));
        self
    }

    /// A context; the first one added is the current context unless [`Kubeconfig::current`].
    pub fn context(&mut self, name: &str, cluster: &str, user: &str) -> &mut Self {
        self.contexts.push(
            json!({"name": name, "context": {"cluster": cluster, "user": user, "namespace": "default"}}),
        );
        if self.current.is_none() {
            self.current = Some(name.to_string());
        }
        self
    }

    pub fn current(&mut self, name: &str) -> &mut Self {
        self.current = Some(name.to_string());
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&json!({
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": self.clusters, "users": self.users, "contexts": self.contexts,
            "current-context": self.current.clone().unwrap_or_default(),
        }))
        .expect("JSON serialises")
    }

    pub fn write(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.to_json())
    }
}
