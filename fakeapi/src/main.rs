//! `fakeapi`: serves a synthetic cluster over HTTPS on 127.0.0.1 until interrupted, for
//! cross-checks with kubectl and manual benchmarks.
//!
//! ```text
//! fakeapi --kubeconfig FILE [--objects N] [--namespaces N] [--no-aggregated]
//!         [--broken-group GROUP] [--restricted-token TOKEN]
//! ```

use std::path::PathBuf;

use fakeapi::{ADMIN_TOKEN, FakeCluster, HttpsServer, Kubeconfig, synthetic};

fn main() {
    let mut kubeconfig: Option<PathBuf> = None;
    let mut objects = 1000usize;
    let mut namespaces = 30usize;
    let mut cluster = FakeCluster::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--kubeconfig" => kubeconfig = Some(PathBuf::from(value())),
            "--objects" => objects = value().parse().unwrap_or_else(|_| usage("bad --objects")),
            "--namespaces" => {
                namespaces = value()
                    .parse()
                    .unwrap_or_else(|_| usage("bad --namespaces"))
            }
            "--no-aggregated" => {
                cluster.aggregated_discovery(false);
            }
            "--broken-group" => {
                cluster.broken_group(&value());
            }
            "--restricted-token" => {
                cluster.user(&value(), "restricted", &[("", "secrets")]);
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let Some(kubeconfig) = kubeconfig else {
        usage("--kubeconfig is required")
    };
    if let Err(e) = cluster.add_all(synthetic::objects(objects, namespaces)) {
        usage(&e);
    }
    let server = HttpsServer::start(cluster.build()).unwrap_or_else(|e| usage(&e.to_string()));
    let mut config = Kubeconfig::new();
    server.add_context(&mut config, "fake", ADMIN_TOKEN);
    config
        .write(&kubeconfig)
        .unwrap_or_else(|e| usage(&e.to_string()));
    eprintln!(
        "serving {objects} objects at {} (kubeconfig {})",
        server.url(),
        kubeconfig.display()
    );
    loop {
        std::thread::park();
    }
}

fn usage(message: &str) -> ! {
    eprintln!("fakeapi: {message}");
    std::process::exit(2);
}
