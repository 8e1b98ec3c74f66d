//! Helpers of the audit tests: fixture manifests as fake cluster contents.

use std::path::Path;

use fakeapi::FakeCluster;
use serde_json::Value;

/// The manifests of the live-audit fixture, scanned as files and served by the fake.
pub const CLUSTER_FIXTURE: &str = "fixtures/audit/cluster";
pub const CONFIG_FIXTURE: &str = "fixtures/audit/tollgate.yaml";
/// A Secret value of the fixture (base64 and decoded): it must never reach any output.
pub const SECRET_VALUES: [&str; 2] = ["aHVudGVyMi10b3Atc2VjcmV0", "hunter2-top-secret"];

/// Every object of the YAML files in `dir`, parsed by tollgate's own loader.
pub fn manifest_values(dir: &str) -> Vec<Value> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|path: &std::path::PathBuf| {
            let bytes = std::fs::read(path).expect("fixture file");
            let name = path.display().to_string();
            tollgate::source::files::load_bytes(&name, &bytes)
                .objects
                .into_iter()
                .map(|o| o.value.to_json())
        })
        .collect()
}

/// A fake cluster holding the fixture's objects.
pub fn fixture_cluster() -> FakeCluster {
    let mut cluster = FakeCluster::new();
    cluster
        .add_all(manifest_values(CLUSTER_FIXTURE))
        .expect("fixture objects are served");
    cluster
}

pub fn assert_no_secret_values(text: &str, what: &str) {
    for value in SECRET_VALUES {
        assert!(!text.contains(value), "{what} contains a Secret value");
    }
}

pub fn exists(path: &str) -> bool {
    Path::new(path).exists()
}
