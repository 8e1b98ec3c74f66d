//! Live clusters: connecting with kube-rs, discovering every listable resource type, listing
//! objects page by page, and turning them into [`Object`]s with [`Origin::Cluster`].
//!
//! Decisions a reader of `tollgate audit` output should know:
//!
//! - Discovery is aggregated (`/api`, `/apis` with the `apidiscovery.k8s.io/v2` `Accept`), falling
//!   back to legacy discovery when that fails *or returns no groups* (a server that ignores the
//!   header answers with a document kube parses as an empty list). A group that cannot be
//!   discovered (an APIService down: 503, or `Stale`) is a warning, never a failure.
//! - Only the preferred version of each group is listed, and only types that support `list`.
//!   Noisy, derived types are skipped ([`SKIPPED_TYPES`]); so are Pods, ReplicaSets and Jobs that
//!   a controller owns (unless `include_owned`): rules report on the object a person changes.
//! - Secrets are listed as metadata only (`PartialObjectMetadataList`): their values never leave
//!   the API server. `metadata.managedFields` and the
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation are dropped from every object:
//!   they double its size, no rule reads them, and the annotation of a Secret applied with
//!   kubectl holds its values.
//! - Lists are paginated (`limit` 500), restarted from the beginning when a continue token
//!   expires (410), every request has a deadline, and transient failures (timeouts, 429, 5xx,
//!   connection errors) are retried twice. A type the identity may not list (403) or that
//!   disappeared (404) is a warning; any other failure of a type is an error of the run.

use std::error::Error as StdError;
use std::time::Duration;

use crate::model::value::Value;
use futures::StreamExt;
use kube::Client;
use kube::api::ListParams;
use serde::Deserialize;

use crate::model::object::Object;
use crate::notice::Notice;
use crate::sink::http::encode_segment;
use crate::source::yaml::KindFilter;

mod convert;
mod discovery;

use self::convert::{Converted, to_object};
pub use self::discovery::discover;

/// Types not listed: events and leases churn and describe nothing a person configures,
/// Endpoints/EndpointSlices and ControllerRevisions are derived from other objects, metrics
/// are measurements, and ComponentStatus is deprecated.
pub const SKIPPED_TYPES: &[(&str, &str)] = &[
    ("", "events"),
    ("events.k8s.io", "events"),
    ("coordination.k8s.io", "leases"),
    ("", "endpoints"),
    ("discovery.k8s.io", "endpointslices"),
    ("apps", "controllerrevisions"),
    ("", "componentstatuses"),
    ("metrics.k8s.io", "*"),
];

/// Kinds skipped when a controller owns them: the owner is what a person changes.
const OWNED_KINDS: &[(&str, &str)] = &[("", "Pod"), ("apps", "ReplicaSet"), ("batch", "Job")];

/// Annotation `kubectl apply` keeps a copy of the applied object in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

const ACCEPT_AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

/// How objects are read from a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Only these namespaces (and their Namespace objects, ClusterRoles and
    /// ClusterRoleBindings); empty means every namespace and every cluster-scoped type.
    pub namespaces: Vec<String>,
    /// Keep Pods, ReplicaSets and Jobs that a controller owns.
    pub include_owned: bool,
    /// Deadline of one request.
    pub request_timeout: Duration,
    /// Requests in flight at once against one cluster.
    pub concurrency: usize,
    /// Items per list page.
    pub page_size: u32,
    /// Kinds kept whole; objects of other kinds keep `apiVersion`, `kind` and `metadata`, as
    /// files of kinds no rule or policy reads do.
    pub build: KindFilter,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            namespaces: Vec::new(),
            include_owned: false,
            request_timeout: Duration::from_secs(30),
            concurrency: 8,
            page_size: 500,
            build: KindFilter::All,
        }
    }
}

/// A listable resource type found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl ApiType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// ClusterRoles and ClusterRoleBindings.
    fn is_cluster_rbac(&self) -> bool {
        self.group == "rbac.authorization.k8s.io"
            && matches!(self.plural.as_str(), "clusterroles" | "clusterrolebindings")
    }

    /// `secrets`, `backups.velero.io` (as kubectl names resources).
    pub fn display(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", encode_segment(&self.version))
        } else {
            format!(
                "/apis/{}/{}",
                encode_segment(&self.group),
                encode_segment(&self.version)
            )
        }
    }

    /// The list path, in one namespace or across all. Every segment is percent-encoded: names
    /// come from the command line and from the server, and none may change the path.
    fn list_path(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!(
                "{}/namespaces/{}/{}",
                self.group_version_path(),
                encode_segment(ns),
                encode_segment(&self.plural)
            ),
            None => format!(
                "{}/{}",
                self.group_version_path(),
                encode_segment(&self.plural)
            ),
        }
    }

    fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{}", self.list_path(namespace), encode_segment(name))
    }

    /// Secrets are read as metadata only.
    pub fn metadata_only(&self) -> bool {
        self.group.is_empty() && self.plural == "secrets"
    }

    fn is_skipped(&self) -> bool {
        SKIPPED_TYPES
            .iter()
            .any(|(g, p)| *g == self.group && (*p == "*" || *p == self.plural))
    }
}

/// What was read from one cluster.
#[derive(Debug, Default)]
pub struct Fetched {
    pub objects: Vec<Object>,
    pub notices: Vec<Notice>,
    /// Resource types listed.
    pub types: usize,
    /// Objects left out because a controller owns them.
    pub skipped_owned: usize,
    /// False when the cluster could not be read at all (discovery failed).
    pub reachable: bool,
}

/// Why `namespace` is not a namespace name (a DNS-1123 label: at most 63 lowercase letters,
/// digits and `-`, starting and ending with a letter or digit), or `None` when it is one.
pub fn invalid_namespace(namespace: &str) -> Option<String> {
    let valid = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    (!valid).then(|| {
        format!(
            "`{}` is not a namespace name (at most 63 lowercase letters, digits and `-`, \
             starting and ending with a letter or digit)",
            namespace.escape_debug()
        )
    })
}

/// Reads every listable object of the cluster behind `client`, reported as `context`.
pub async fn fetch(client: &Client, context: &str, options: &ClusterOptions) -> Fetched {
    let mut fetched = Fetched::default();
    let invalid: Vec<String> = options
        .namespaces
        .iter()
        .filter_map(|ns| invalid_namespace(ns))
        .collect();
    if !invalid.is_empty() {
        // Asking for something else than what was asked would be a wrong answer.
        for reason in invalid {
            fetched
                .notices
                .push(Notice::error(format!("cannot audit: {reason}")).at(context, None));
        }
        return fetched;
    }
    let types = match discover(client, options, &mut fetched.notices).await {
        Ok(types) => types,
        Err(e) => {
            fetched.notices.push(
                Notice::error(format!("cannot audit this cluster: {}", e.describe()))
                    .at(context, None),
            );
            for notice in &mut fetched.notices {
                notice.path.get_or_insert_with(|| context.to_string());
            }
            return fetched;
        }
    };
    fetched.reachable = true;
    let wanted: Vec<ApiType> = types.into_iter().filter(|t| !t.is_skipped()).collect();
    let mut jobs = Vec::new();
    for api_type in &wanted {
        if options.namespaces.is_empty() {
            jobs.push(Job::List(api_type.clone(), None));
        } else if api_type.namespaced {
            for ns in &options.namespaces {
                jobs.push(Job::List(api_type.clone(), Some(ns.clone())));
            }
        } else if api_type.group.is_empty() && api_type.plural == "namespaces" {
            for ns in &options.namespaces {
                jobs.push(Job::Get(api_type.clone(), ns.clone()));
            }
        } else if api_type.is_cluster_rbac() {
            // ClusterRoles and their bindings decide what the namespaces' ServiceAccounts may
            // do (Secret access, whether a token is needed at all).
            jobs.push(Job::List(api_type.clone(), None));
        }
    }
    fetched.types = wanted.len();
    let reader = Reader {
        client,
        context,
        options,
    };
    // `buffered` keeps the order of the jobs, so the inventory is the same on every run.
    let mut results = futures::stream::iter(jobs)
        .map(|job| reader.run(job))
        .buffered(options.concurrency.max(1));
    // Forbidden types, grouped by scope: one warning line per scope, not one per type.
    let mut forbidden: Vec<(String, Vec<String>)> = Vec::new();
    while let Some(result) = results.next().await {
        match result {
            Ok(listed) => {
                fetched.skipped_owned += listed.skipped_owned;
                fetched.objects.extend(listed.objects);
            }
            Err(Failure::Forbidden { what, scope }) => {
                match forbidden.iter_mut().find(|(s, _)| *s == scope) {
                    Some((_, types)) => types.push(what),
                    None => forbidden.push((scope, vec![what])),
                }
            }
            Err(Failure::Other(notice)) => fetched.notices.push(notice.at(context, None)),
        }
    }
    for (scope, types) in forbidden {
        fetched.notices.push(
            Notice::warning(format!(
                "not audited: {} in {scope}, forbidden",
                types.join(", ")
            ))
            .at(context, None),
        );
    }
    for notice in &mut fetched.notices {
        notice.path.get_or_insert_with(|| context.to_string());
    }
    fetched
}

enum Job {
    List(ApiType, Option<String>),
    Get(ApiType, String),
}

/// Why a job read nothing.
enum Failure {
    /// The identity may not list the type (reported together, per scope).
    Forbidden {
        what: String,
        scope: String,
    },
    Other(Notice),
}

#[derive(Default)]
struct Listed {
    objects: Vec<Object>,
    skipped_owned: usize,
}

/// A failed request, classified for the report.
#[derive(Debug)]
pub enum FetchError {
    Kube(kube::Error),
    Timeout(Duration),
    /// The request could not even be built (a name no URL can carry).
    Request(String),
}

impl FetchError {
    fn code(&self) -> Option<u16> {
        match self {
            FetchError::Kube(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    }

    /// Worth another try: deadlines, throttling, server errors and broken connections.
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout(_) => true,
            FetchError::Request(_) => false,
            FetchError::Kube(kube::Error::Api(status)) => status.code == 429 || status.code >= 500,
            FetchError::Kube(kube::Error::SerdeError(_)) => false,
            FetchError::Kube(_) => true,
        }
    }

    /// The error with its cause chain: kube's own messages are often just "client error".
    pub fn describe(&self) -> String {
        match self {
            FetchError::Timeout(after) => {
                format!("no answer within {}", humantime::format_duration(*after))
            }
            FetchError::Request(why) => format!("cannot build the request: {why}"),
            // kube's stand-in when the body was not a `Status`: a proxy, a load balancer or
            // something else that is not an API server answered.
            FetchError::Kube(kube::Error::Api(status))
                if status.reason == "Failed to parse error data" =>
            {
                let body: String = status.message.trim().chars().take(200).collect();
                if body.is_empty() {
                    format!(
                        "HTTP {} without a Kubernetes Status (not an API server?)",
                        status.code
                    )
                } else {
                    format!(
                        "HTTP {} without a Kubernetes Status (not an API server?): {body}",
                        status.code
                    )
                }
            }
            FetchError::Kube(kube::Error::Api(status)) => {
                let message = status.message.trim();
                if message.is_empty() {
                    format!("{} {}", status.code, status.reason)
                } else {
                    format!("{} {}: {message}", status.code, status.reason)
                }
            }
            FetchError::Kube(error) => chain(error),
        }
    }
}

/// `error: cause: cause`, without repeating a cause that its parent already printed.
pub fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

async fn request<T: serde::de::DeserializeOwned>(
    client: &Client,
    request: Result<http::Request<Vec<u8>>, FetchError>,
    timeout: Duration,
) -> Result<T, FetchError> {
    match tokio::time::timeout(timeout, client.request::<T>(request?)).await {
        Ok(result) => result.map_err(FetchError::Kube),
        Err(_) => Err(FetchError::Timeout(timeout)),
    }
}

/// [`request`], tried again after a short pause when the failure is transient.
async fn request_with_retries<T: serde::de::DeserializeOwned>(
    client: &Client,
    build: impl Fn() -> Result<http::Request<Vec<u8>>, FetchError>,
    timeout: Duration,
) -> Result<T, FetchError> {
    let mut attempt = 1;
    loop {
        match request(client, build(), timeout).await {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn get_request(path: &str, accept: Option<&str>) -> Result<http::Request<Vec<u8>>, FetchError> {
    let mut builder = http::Request::get(path);
    if let Some(accept) = accept {
        builder = builder.header(http::header::ACCEPT, accept);
    }
    builder
        .body(Vec::new())
        .map_err(|e| FetchError::Request(format!("{path}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Lists

#[derive(Deserialize, Default)]
#[serde(default)]
struct Page {
    metadata: PageMeta,
    items: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageMeta {
    #[serde(rename = "continue")]
    next: Option<String>,
}

/// Attempts per request for transient failures, and restarts of a list whose continue token
/// expired.
const ATTEMPTS: u32 = 3;
const RESTARTS: u32 = 3;

struct Reader<'a> {
    client: &'a Client,
    context: &'a str,
    options: &'a ClusterOptions,
}

impl Reader<'_> {
    async fn run(&self, job: Job) -> Result<Listed, Failure> {
        let (api_type, scope, result) = match job {
            Job::List(api_type, namespace) => {
                let scope = match &namespace {
                    Some(ns) => format!("namespace {ns}"),
                    None if api_type.namespaced => "all namespaces".to_string(),
                    None => "the cluster".to_string(),
                };
                let result = self.list(&api_type, namespace.as_deref()).await;
                (api_type, scope, result)
            }
            Job::Get(api_type, name) => {
                let result = self.get(&api_type, &name).await;
                let scope = format!("{} {name}", api_type.kind);
                (api_type, scope, result)
            }
        };
        result.map_err(|e| {
            let what = api_type.display();
            Failure::Other(match e.code() {
                Some(403) => return Failure::Forbidden { what, scope },
                Some(404) => Notice::warning(format!(
                    "not audited: {what} in {scope}, not found (removed since discovery?)"
                )),
                Some(410) => Notice::error(format!(
                    "not audited: {what} in {scope}, the list expired {RESTARTS} times while paging"
                )),
                _ => Notice::error(format!("not audited: {what} in {scope}: {}", e.describe())),
            })
        })
    }

    async fn send_with_retries<T: serde::de::DeserializeOwned>(
        &self,
        build: impl Fn() -> Result<http::Request<Vec<u8>>, FetchError>,
    ) -> Result<T, FetchError> {
        request_with_retries(self.client, build, self.options.request_timeout).await
    }

    async fn list(
        &self,
        api_type: &ApiType,
        namespace: Option<&str>,
    ) -> Result<Listed, FetchError> {
        let path = api_type.list_path(namespace);
        let request = kube::core::Request::new(path);
        let mut restarts = 0;
        'restart: loop {
            let mut listed = Listed::default();
            let mut next: Option<String> = None;
            loop {
                let mut params = ListParams::default().limit(self.options.page_size);
                if let Some(token) = &next {
                    params = params.continue_token(token);
                }
                let page: Result<Page, FetchError> = self
                    .send_with_retries(|| {
                        let built = if api_type.metadata_only() {
                            request.list_metadata(&params)
                        } else {
                            request.list(&params)
                        };
                        built.map_err(|e| FetchError::Request(e.to_string()))
                    })
                    .await;
                let page = match page {
                    Err(e) if e.code() == Some(410) && restarts < RESTARTS => {
                        // kube does not restart lists; a consistent list means starting over.
                        restarts += 1;
                        continue 'restart;
                    }
                    other => other?,
                };
                // Each page is converted and dropped before the next one is requested.
                for item in page.items {
                    match self.convert(api_type, item) {
                        Converted::Object(object) => listed.objects.push(*object),
                        Converted::Owned => listed.skipped_owned += 1,
                        Converted::Invalid => {}
                    }
                }
                match page.metadata.next.filter(|t| !t.is_empty()) {
                    Some(token) => next = Some(token),
                    None => return Ok(listed),
                }
            }
        }
    }

    async fn get(&self, api_type: &ApiType, name: &str) -> Result<Listed, FetchError> {
        let path = api_type.object_path(None, name);
        let item: Value = self.send_with_retries(|| get_request(&path, None)).await?;
        let mut listed = Listed::default();
        if let Converted::Object(object) = self.convert(api_type, item) {
            listed.objects.push(*object);
        }
        Ok(listed)
    }

    fn convert(&self, api_type: &ApiType, item: Value) -> Converted {
        let body = !api_type.metadata_only() && self.options.build.builds(&api_type.kind);
        to_object(
            api_type,
            item,
            self.context,
            self.options.include_owned,
            body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;

    fn secrets() -> ApiType {
        ApiType {
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            plural: "secrets".into(),
            namespaced: true,
        }
    }

    #[test]
    fn names_are_checked_and_path_segments_encoded() {
        assert!(invalid_namespace("shop-prod").is_none());
        for bad in ["shop prod", "", "Shop", "-a", "a/b", "..", &"a".repeat(64)] {
            assert!(invalid_namespace(bad).is_some(), "{bad}");
        }
        assert_eq!(
            secrets().object_path(Some("a b"), "x/y"),
            "/api/v1/namespaces/a%20b/secrets/x%2Fy"
        );
        let built = get_request("/api/v1/namespaces/a b/pods", None);
        assert!(matches!(built, Err(FetchError::Request(_))));
    }

    #[test]
    fn items_get_their_type_and_lose_bookkeeping() {
        let pods = ApiType {
            kind: "Pod".into(),
            plural: "pods".into(),
            ..secrets()
        };
        let item = doc!({"metadata": {"name": "p", "namespace": "shop",
            "managedFields": [{}],
            "annotations": {LAST_APPLIED_ANNOTATION: "{}", "keep": "me"}},
            "spec": {"containers": []}});
        let Converted::Object(object) = to_object(&pods, item, "prod", false, true) else {
            panic!("converted")
        };
        assert_eq!(object.api_version, "v1");
        assert_eq!(object.kind, "Pod");
        assert_eq!(object.namespace.as_deref(), Some("shop"));
        assert_eq!(object.value["kind"], "Pod");
        assert!(object.value["metadata"].get("managedFields").is_none());
        assert_eq!(
            object.value["metadata"]["annotations"],
            doc!({"keep": "me"})
        );
        assert!(object.value.get("spec").is_some());
        assert_eq!(object.live_uri(), "k8s://prod/shop/Pod/p");
    }

    #[test]
    fn metadata_only_types_keep_nothing_but_metadata() {
        let item = doc!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "db", "namespace": "shop"}, "data": {"password": "c2VjcmV0"}});
        let Converted::Object(object) = to_object(&secrets(), item, "prod", false, false) else {
            panic!("converted")
        };
        assert_eq!(
            object.value,
            doc!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop"}})
        );
    }

    #[test]
    fn controlled_pods_are_skipped_unless_asked() {
        let pods = ApiType {
            kind: "Pod".into(),
            plural: "pods".into(),
            ..secrets()
        };
        let item = doc!({"metadata": {"name": "p", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "controller": true}]}});
        assert!(matches!(
            to_object(&pods, item.clone(), "prod", false, true),
            Converted::Owned
        ));
        assert!(matches!(
            to_object(&pods, item, "prod", true, true),
            Converted::Object(_)
        ));
    }

    #[test]
    fn noisy_types_are_skipped() {
        let t = |group: &str, plural: &str| ApiType {
            group: group.into(),
            plural: plural.into(),
            ..secrets()
        };
        assert!(t("", "events").is_skipped());
        assert!(t("metrics.k8s.io", "pods").is_skipped());
        assert!(!t("", "pods").is_skipped());
        assert!(!t("apps", "replicasets").is_skipped());
    }
}
