//! A small fake Kubernetes API server for tollgate's tests and benchmark.
//!
//! It serves what a read-only auditor uses, with the shapes of a real API server (see
//! `docs/audit.md` and the notes it is based on): `/version`, legacy and aggregated discovery,
//! paginated lists with opaque continue tokens (items of built-in types without
//! `apiVersion`/`kind`), metadata-only lists (`PartialObjectMetadataList`), single gets, bearer
//! tokens (401 without one), and `kind: Status` errors. Knobs make it misbehave the way real
//! clusters do: a token that may not list some resources (403), a group whose APIService is down
//! (503, `Stale` in aggregated discovery), a type advertised but gone (404), continue tokens that
//! expire (410), a slow resource, and a server that ignores the aggregated discovery `Accept`.
//!
//! Use it in-process with [`FakeApi::router`] (`kube::Client::new(router, "default")`), or over
//! HTTPS on `127.0.0.1:0` with [`HttpsServer::start`] and a generated [`Kubeconfig`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

mod https;
mod serve;
pub mod synthetic;
mod types;

pub use https::{HttpsServer, Kubeconfig};
pub use types::{ResourceType, builtin_types, platform_crds};

/// The token of the user that may read everything.
pub const ADMIN_TOKEN: &str = "admin-token";

/// The resource version every list reports (the fake never changes).
const RESOURCE_VERSION: u64 = 1000;

/// What a token may do.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    /// `(group, plural)` pairs this user may not list or get.
    pub denied: HashSet<(String, String)>,
}

/// One request the server received, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub accept: String,
    pub status: u16,
}

impl RecordedRequest {
    /// True when the request asked for metadata only (`PartialObjectMetadata[List]`).
    pub fn is_metadata_only(&self) -> bool {
        self.accept.contains("as=PartialObjectMetadata")
    }
}

/// The objects of one resource type, ordered like a real server (`namespace/name`).
#[derive(Debug, Default)]
struct Store {
    objects: BTreeMap<String, Arc<Value>>,
}

/// Everything the server serves, built before serving.
#[derive(Debug)]
pub struct FakeCluster {
    types: Vec<ResourceType>,
    stores: Vec<Store>,
    users: HashMap<String, User>,
    aggregated: bool,
    broken_groups: HashSet<String>,
    vanished: HashSet<(String, String)>,
    slow: HashMap<(String, String), Duration>,
    expire_continues: usize,
    git_version: String,
    next_uid: u64,
}

impl Default for FakeCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeCluster {
    /// A cluster with the built-in types and the platform CRDs, no objects, and one user
    /// ([`ADMIN_TOKEN`]) who may read everything.
    pub fn new() -> Self {
        let mut types = builtin_types();
        types.extend(platform_crds());
        Self::with_types(types)
    }

    /// A cluster serving exactly `types`.
    pub fn with_types(types: Vec<ResourceType>) -> Self {
        let stores = types.iter().map(|_| Store::default()).collect();
        let mut cluster = FakeCluster {
            types,
            stores,
            users: HashMap::new(),
            aggregated: true,
            broken_groups: HashSet::new(),
            vanished: HashSet::new(),
            slow: HashMap::new(),
            expire_continues: 0,
            git_version: "v1.33.4+k3s1".to_string(),
            next_uid: 1,
        };
        cluster.user(ADMIN_TOKEN, "admin", &[]);
        cluster
    }

    /// Adds a token for a user who may not list or get the `(group, plural)` resources given.
    pub fn user(&mut self, token: &str, name: &str, denied: &[(&str, &str)]) -> &mut Self {
        self.users.insert(
            token.to_string(),
            User {
                name: name.to_string(),
                denied: denied
                    .iter()
                    .map(|(g, p)| (g.to_string(), p.to_string()))
                    .collect(),
            },
        );
        self
    }

    /// Whether `/api` and `/apis` honour the aggregated discovery `Accept` (default: yes). A
    /// server that does not answers with the legacy documents, as older servers and many mocks do.
    pub fn aggregated_discovery(&mut self, on: bool) -> &mut Self {
        self.aggregated = on;
        self
    }

    /// Makes an API group unavailable (its APIService is down): 503 on its paths, `Stale` in
    /// aggregated discovery.
    pub fn broken_group(&mut self, group: &str) -> &mut Self {
        self.broken_groups.insert(group.to_string());
        self
    }

    /// A type still advertised by discovery whose lists answer 404 (its CRD was just deleted).
    pub fn vanished(&mut self, group: &str, plural: &str) -> &mut Self {
        self.vanished
            .insert((group.to_string(), plural.to_string()));
        self
    }

    /// Delays every request for a resource.
    pub fn slow(&mut self, group: &str, plural: &str, delay: Duration) -> &mut Self {
        self.slow
            .insert((group.to_string(), plural.to_string()), delay);
        self
    }

    /// The next `n` requests carrying a continue token answer 410 Expired, as when the
    /// server compacted its storage during a paginated list.
    pub fn expire_continues(&mut self, n: usize) -> &mut Self {
        self.expire_continues = n;
        self
    }

    /// Adds a type (a CRD) after construction.
    pub fn add_type(&mut self, resource: ResourceType) -> &mut Self {
        self.types.push(resource);
        self.stores.push(Store::default());
        self
    }

    /// Adds an object (with `apiVersion`, `kind` and `metadata.name`) to the type that serves
    /// it. The server adds `uid`, `resourceVersion`, `creationTimestamp` and `managedFields`
    /// like a real one, and a namespaced object without a namespace goes to `default`.
    pub fn add(&mut self, mut value: Value) -> Result<&mut Self, String> {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or("object without apiVersion")?
            .to_string();
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .ok_or("object without kind")?
            .to_string();
        let index = self
            .types
            .iter()
            .position(|t| t.api_version() == api_version && t.kind == kind)
            .or_else(|| {
                // Another version of the same group and kind (a manifest at v1beta1).
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                self.types
                    .iter()
                    .position(|t| t.group == group && t.kind == kind)
            })
            .ok_or_else(|| format!("no resource type serves {api_version} {kind}"))?;
        let resource = &self.types[index];
        let uid = self.next_uid;
        self.next_uid += 1;
        let metadata = value
            .as_object_mut()
            .ok_or("object is not a mapping")?
            .entry("metadata")
            .or_insert_with(|| json!({}));
        let metadata = metadata
            .as_object_mut()
            .ok_or("metadata is not a mapping")?;
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .ok_or("object without metadata.name")?
            .to_string();
        let key = if resource.namespaced {
            let namespace = metadata
                .entry("namespace")
                .or_insert_with(|| json!("default"))
                .as_str()
                .unwrap_or("default")
                .to_string();
            format!("{namespace}/{name}")
        } else {
            metadata.remove("namespace");
            name
        };
        add_server_fields(metadata, uid, &resource.api_version());
        let object = value.as_object_mut().expect("checked above");
        if resource.builtin {
            // The real server leaves TypeMeta out of list items of built-in types.
            object.remove("apiVersion");
            object.remove("kind");
        } else {
            object.insert("apiVersion".into(), json!(resource.api_version()));
        }
        self.stores[index].objects.insert(key, Arc::new(value));
        Ok(self)
    }

    /// Adds every object, failing on the first one no type serves.
    pub fn add_all(
        &mut self,
        values: impl IntoIterator<Item = Value>,
    ) -> Result<&mut Self, String> {
        for value in values {
            self.add(value)?;
        }
        Ok(self)
    }

    /// Number of objects served.
    pub fn len(&self) -> usize {
        self.stores.iter().map(|s| s.objects.len()).sum()
    }

    /// Size of every stored object as JSON, what listing them all transfers.
    pub fn stored_bytes(&self) -> usize {
        self.stores
            .iter()
            .flat_map(|s| s.objects.values())
            .map(|o| serde_json::to_vec(o.as_ref()).map_or(0, |v| v.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Freezes the cluster for serving.
    pub fn build(self) -> FakeApi {
        FakeApi {
            inner: Arc::new(Inner {
                expire_continues: AtomicUsize::new(self.expire_continues),
                cluster: self,
                log: Mutex::new(Vec::new()),
            }),
        }
    }
}

fn add_server_fields(metadata: &mut Map<String, Value>, uid: u64, api_version: &str) {
    metadata
        .entry("uid")
        .or_insert_with(|| json!(format!("00000000-0000-4000-8000-{uid:012x}")));
    metadata
        .entry("resourceVersion")
        .or_insert_with(|| json!((100 + uid).to_string()));
    metadata
        .entry("creationTimestamp")
        .or_insert_with(|| json!("2025-01-01T00:00:00Z"));
    metadata.entry("managedFields").or_insert_with(|| {
        json!([{
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "apiVersion": api_version,
            "time": "2025-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}, "f:labels": {".": {}}}, "f:spec": {}}
        }])
    });
}

struct Inner {
    cluster: FakeCluster,
    expire_continues: AtomicUsize,
    log: Mutex<Vec<RecordedRequest>>,
}

/// A fake API server ready to serve; cheap to clone.
#[derive(Clone)]
pub struct FakeApi {
    inner: Arc<Inner>,
}

impl FakeApi {
    /// The server as an axum router, for `kube::Client::new(router, "default")`. Requests must
    /// carry a bearer token, as with a real server; see [`FakeApi::router_as`].
    pub fn router(&self) -> axum::Router {
        serve::router(self.clone(), None)
    }

    /// The router, adding `Authorization: Bearer <token>` to requests that have none: what a
    /// kube `Client` built from a kubeconfig would send.
    pub fn router_as(&self, token: &str) -> axum::Router {
        serve::router(self.clone(), Some(token.to_string()))
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self, request: RecordedRequest) {
        self.inner
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
    }

    fn cluster(&self) -> &FakeCluster {
        &self.inner.cluster
    }

    /// Takes one pending 410 for a continue token, if any are left.
    fn take_expiry(&self) -> bool {
        self.inner
            .expire_continues
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}
