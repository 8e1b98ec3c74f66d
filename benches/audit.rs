//! Benchmark of `tollgate audit`: a synthetic cluster served over HTTPS on loopback by the fake
//! API server, audited by the release binary; reports wall time and peak RSS.
//!
//! ```text
//! cargo bench --bench audit                       # 2,000 and 20,000 objects in 300 namespaces
//! cargo bench --bench audit -- --objects 100000   # other sizes (repeatable)
//! cargo bench --bench audit -- --runs 5
//! ```
//!
//! The fake server runs in this process (two threads), the audit in a child process, measured
//! with `/usr/bin/time -v` when present (else wall time only). Objects are sized like real ones
//! (labels, a last-applied annotation, server-added managedFields); a third of them are Pods
//! and ReplicaSets owned by controllers, which the audit lists and then leaves out.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fakeapi::{ADMIN_TOKEN, FakeCluster, HttpsServer, Kubeconfig, synthetic};

const NAMESPACES: usize = 300;

fn main() {
    let mut sizes = Vec::new();
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--objects" => sizes.extend(args.next().and_then(|n| n.parse::<usize>().ok())),
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs),
            _ => {} // cargo bench passes --bench
        }
    }
    if sizes.is_empty() {
        sizes = vec![2_000, 20_000];
    }
    let binary = env!("CARGO_BIN_EXE_tollgate");
    let dir = tempfile::TempDir::new().expect("temporary directory");
    let config = dir.path().join("tollgate.yaml");
    std::fs::write(&config, "# defaults\n").expect("config written");
    let time = Path::new("/usr/bin/time").exists();
    println!(
        "{:>8} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "objects", "served MB", "namespaces", "wall s", "best s", "peak RSS MB"
    );
    for size in sizes {
        let objects = synthetic::objects(size, NAMESPACES);
        let mut cluster = FakeCluster::new();
        cluster
            .add_all(objects)
            .expect("synthetic objects are served");
        let served = served_bytes(&cluster);
        let server = HttpsServer::start_with_threads(cluster.build(), 2).expect("server starts");
        let mut kubeconfig = Kubeconfig::new();
        server.add_context(&mut kubeconfig, "bench", ADMIN_TOKEN);
        let kubeconfig_path = dir.path().join(format!("kubeconfig-{size}"));
        kubeconfig
            .write(&kubeconfig_path)
            .expect("kubeconfig written");

        let mut walls = Vec::new();
        let mut peak_kb = None;
        for _ in 0..runs.max(1) {
            let mut cmd = if time {
                let mut c = Command::new("/usr/bin/time");
                c.arg("-v").arg(binary);
                c
            } else {
                Command::new(binary)
            };
            cmd.args([
                "audit",
                "--context",
                "bench",
                "--fail-on",
                "never",
                "-f",
                "json",
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig_path)
            .arg("--config")
            .arg(&config)
            .arg("-o")
            .arg(dir.path().join("report.json"));
            let started = Instant::now();
            let output = cmd.output().expect("tollgate runs");
            walls.push(started.elapsed());
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "audit failed:\n{stderr}");
            if let Some(kb) = stderr
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("Maximum resident set size (kbytes): ")
                })
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                peak_kb = Some(peak_kb.map_or(kb, |p: u64| p.max(kb)));
            }
        }
        walls.sort();
        let median = walls[walls.len() / 2];
        println!(
            "{:>8} {:>10.1} {:>12} {:>10.2} {:>10.2} {:>10}",
            size,
            served as f64 / 1e6,
            NAMESPACES.min(size),
            secs(median),
            secs(walls[0]),
            peak_kb.map_or("n/a".to_string(), |kb| format!("{:.0}", kb as f64 / 1024.0)),
        );
        drop(server);
    }
}

/// Bytes of JSON the server sends for all objects (full objects, as stored).
fn served_bytes(cluster: &FakeCluster) -> usize {
    cluster.stored_bytes()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
