//! Request handling: authentication, discovery, lists, gets and errors.

use std::ops::Bound;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::{FakeApi, RESOURCE_VERSION, RecordedRequest, ResourceType, User};

const AGGREGATED_MIME: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

#[derive(Clone)]
struct App {
    api: FakeApi,
    implicit_token: Option<String>,
}

pub(crate) fn router(api: FakeApi, implicit_token: Option<String>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(App {
        api,
        implicit_token,
    })
}

async fn handle(State(app): State<App>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or(app.implicit_token.clone());
    let response = respond(&app.api, &method, &path, &query, &accept, token.as_deref()).await;
    app.api.record(RecordedRequest {
        method: method.to_string(),
        path,
        query,
        accept,
        status: response.status().as_u16(),
    });
    response
}

/// A parsed request for objects.
struct Target<'a> {
    resource_index: usize,
    resource: &'a ResourceType,
    namespace: Option<String>,
    name: Option<String>,
}

async fn respond(
    api: &FakeApi,
    method: &Method,
    path: &str,
    query: &str,
    accept: &str,
    token: Option<&str>,
) -> Response {
    let cluster = api.cluster();
    let Some(user) = token.and_then(|t| cluster.users.get(t)) else {
        return status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            None,
        );
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let aggregated = cluster.aggregated && accept.contains("as=APIGroupDiscoveryList");
    match segments.as_slice() {
        ["version"] => json_response(json!({
            "major": "1", "minor": "33", "gitVersion": cluster.git_version,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.4", "compiler": "gc",
            "platform": "linux/amd64"
        })),
        ["api"] if aggregated => aggregated_response(core_discovery(api)),
        ["api"] => json_response(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
        })),
        ["apis"] if aggregated => aggregated_response(groups_discovery(api)),
        ["apis"] => json_response(group_list(api)),
        ["api", "v1"] => json_response(resource_list(api, "", "v1")),
        ["apis", group] => match group_document(api, group) {
            Some(_) if cluster.broken_groups.contains(*group) => unavailable(),
            Some(doc) => json_response(doc),
            None => not_found_path(),
        },
        ["apis", group, version] => {
            if !has_group_version(api, group, version) {
                not_found_path()
            } else if cluster.broken_groups.contains(*group) {
                unavailable()
            } else {
                json_response(resource_list(api, group, version))
            }
        }
        ["api", "v1", rest @ ..] => objects(api, user, method, "", "v1", rest, query, accept).await,
        ["apis", group, version, rest @ ..] => {
            if cluster.broken_groups.contains(*group) && has_group_version(api, group, version) {
                return unavailable();
            }
            objects(api, user, method, group, version, rest, query, accept).await
        }
        _ => not_found_path(),
    }
}

fn has_group_version(api: &FakeApi, group: &str, version: &str) -> bool {
    api.cluster()
        .types
        .iter()
        .any(|t| t.group == group && t.version == version)
}

/// Versions of each group, in the order the types list them (preferred first).
fn groups(api: &FakeApi) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in &api.cluster().types {
        if t.group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) => {
                if !versions.contains(&t.version) {
                    versions.push(t.version.clone());
                }
            }
            None => out.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    out
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": entries, "preferredVersion": entries[0]})
}

fn group_list(api: &FakeApi) -> Value {
    let groups: Vec<Value> = groups(api)
        .iter()
        .map(|(g, versions)| group_json(g, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn group_document(api: &FakeApi, group: &str) -> Option<Value> {
    let (name, versions) = groups(api).into_iter().find(|(g, _)| g == group)?;
    let mut doc = group_json(&name, &versions);
    let object = doc.as_object_mut()?;
    object.insert("kind".into(), json!("APIGroup"));
    object.insert("apiVersion".into(), json!("v1"));
    Some(doc)
}

fn resource_list(api: &FakeApi, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for t in api
        .cluster()
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let mut entry = json!({
            "name": t.plural, "singularName": t.singular(), "namespaced": t.namespaced,
            "kind": t.kind, "verbs": t.verbs,
        });
        if !t.short_names.is_empty() {
            entry["shortNames"] = json!(t.short_names);
        }
        resources.push(entry);
        if t.can("list") {
            resources.push(json!({
                "name": format!("{}/status", t.plural), "singularName": "",
                "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn discovery_resources(api: &FakeApi, group: &str, version: &str) -> Vec<Value> {
    api.cluster()
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .map(|t| {
            let kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
            let mut entry = json!({
                "resource": t.plural, "responseKind": kind,
                "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": t.singular(), "verbs": t.verbs,
            });
            if !t.short_names.is_empty() {
                entry["shortNames"] = json!(t.short_names);
            }
            if t.can("list") {
                entry["subresources"] = json!([{
                    "subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]
                }]);
            }
            entry
        })
        .collect()
}

fn core_discovery(api: &FakeApi) -> Value {
    json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
        "items": [{
            "metadata": {"creationTimestamp": null},
            "versions": [{"version": "v1", "resources": discovery_resources(api, "", "v1"), "freshness": "Current"}]
        }]
    })
}

fn groups_discovery(api: &FakeApi) -> Value {
    let items: Vec<Value> = groups(api)
        .iter()
        .map(|(group, versions)| {
            let broken = api.cluster().broken_groups.contains(group);
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    if broken {
                        json!({"version": v, "freshness": "Stale"})
                    } else {
                        json!({"version": v, "resources": discovery_resources(api, group, v), "freshness": "Current"})
                    }
                })
                .collect();
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn parse_target<'a>(
    api: &'a FakeApi,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Option<Target<'a>> {
    // `namespaces` is itself a cluster-scoped resource: `/api/v1/namespaces/x` is the
    // Namespace x, `/api/v1/namespaces/x/pods` the pods in x.
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !ns.is_empty() => {
            (Some(ns.to_string()), *plural, tail.first().copied())
        }
        [plural, tail @ ..] => (None, *plural, tail.first().copied()),
        [] => return None,
    };
    if rest.len() > 4 || (namespace.is_none() && rest.len() > 2) {
        return None; // subresources are not served
    }
    let (resource_index, resource) = api
        .cluster()
        .types
        .iter()
        .enumerate()
        .find(|(_, t)| t.group == group && t.version == version && t.plural == plural)?;
    if namespace.is_some() && !resource.namespaced {
        return None;
    }
    Some(Target {
        resource_index,
        resource,
        namespace,
        name: name.map(str::to_string),
    })
}

#[allow(clippy::too_many_arguments)]
async fn objects(
    api: &FakeApi,
    user: &User,
    method: &Method,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &str,
    accept: &str,
) -> Response {
    let Some(target) = parse_target(api, group, version, rest) else {
        return not_found_path();
    };
    let resource = target.resource;
    let key = (resource.group.clone(), resource.plural.clone());
    if let Some(delay) = api.cluster().slow.get(&key) {
        tokio::time::sleep(*delay).await;
    }
    if api.cluster().vanished.contains(&key) {
        return not_found_path();
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let verb = match (method, &target.name) {
        (&Method::GET, Some(_)) => "get",
        (&Method::GET, None) if param("watch").is_some_and(|w| w == "true" || w == "1") => "watch",
        (&Method::GET, None) => "list",
        _ => "write",
    };
    if !resource.can(verb) {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        );
    }
    if user.denied.contains(&key) {
        let scope = match &target.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let message = format!(
            "{} is forbidden: User \"{}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            resource.plural, user.name, resource.plural, resource.group
        );
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &message,
            Some(json!({"kind": resource.plural, "group": resource.group})),
        );
    }
    let metadata_only = accept.contains("as=PartialObjectMetadata");
    let store = &api.cluster().stores[target.resource_index];
    if let Some(name) = &target.name {
        let key = match &target.namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.clone(),
        };
        return match store.objects.get(&key) {
            Some(object) => {
                let item = if metadata_only {
                    partial(object)
                } else {
                    with_type(resource, object)
                };
                json_response(item)
            }
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("{} \"{name}\" not found", resource.plural),
                Some(json!({"name": name, "kind": resource.plural, "group": resource.group})),
            ),
        };
    }
    let limit = param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let prefix = target
        .namespace
        .as_ref()
        .map(|ns| format!("{ns}/"))
        .unwrap_or_default();
    let mut start = Bound::Included(prefix.clone());
    if let Some(token) = param("continue").filter(|t| !t.is_empty()) {
        let Some(after) = decode_continue(token) else {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "continue key is not valid: illegal base64 data at input byte 0",
                None,
            );
        };
        if api.take_expiry() {
            let body = json!({
                "kind": "Status", "apiVersion": "v1",
                "metadata": {"continue": encode_continue(&after, RESOURCE_VERSION + 1)},
                "status": "Failure", "reason": "Expired", "code": 410,
                "message": "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
            });
            return raw_response(
                StatusCode::GONE,
                "application/json",
                body.to_string().into_bytes(),
            );
        }
        if after >= prefix {
            start = Bound::Excluded(after);
        }
    }
    let mut page = Vec::new();
    let mut last_key = None;
    let mut remaining = 0usize;
    for (key, object) in store.objects.range((start, Bound::Unbounded)) {
        if !key.starts_with(&prefix) {
            break;
        }
        if limit.is_some_and(|l| page.len() >= l) {
            remaining += 1;
            continue;
        }
        page.push(object);
        last_key = Some(key.clone());
    }
    let mut list_meta = json!({"resourceVersion": RESOURCE_VERSION.to_string()});
    if remaining > 0
        && let Some(last) = &last_key
    {
        list_meta["continue"] = json!(encode_continue(last, RESOURCE_VERSION));
        list_meta["remainingItemCount"] = json!(remaining);
    }
    let (kind, api_version) = if metadata_only {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (format!("{}List", resource.kind), resource.api_version())
    };
    // Written by hand so the stored objects are serialised without being cloned.
    let mut body = Vec::with_capacity(256 + page.len() * 1024);
    body.extend_from_slice(
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
            json!(kind),
            json!(api_version),
            list_meta
        )
        .as_bytes(),
    );
    for (i, object) in page.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        if metadata_only {
            serde_json::to_writer(&mut body, &partial(object)).expect("JSON serialises");
        } else {
            serde_json::to_writer(&mut body, object.as_ref()).expect("JSON serialises");
        }
    }
    body.extend_from_slice(b"]}");
    raw_response(StatusCode::OK, "application/json", body)
}

/// A stored object as a single GET returns it: with its type.
fn with_type(resource: &ResourceType, object: &Value) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(resource.api_version()));
    out.insert("kind".into(), json!(resource.kind));
    if let Some(fields) = object.as_object() {
        for (k, v) in fields {
            if k != "apiVersion" && k != "kind" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn partial(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({}))
    })
}

/// The real server's token shape: base64 of `{"v","rv","start"}`.
fn encode_continue(last_key: &str, resource_version: u64) -> String {
    BASE64.encode(
        json!({"v": "meta.k8s.io/v1", "rv": resource_version, "start": format!("{last_key}\u{0}")})
            .to_string(),
    )
}

fn decode_continue(token: &str) -> Option<String> {
    let bytes = BASE64.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let start = value.get("start")?.as_str()?;
    Some(start.trim_end_matches('\u{0}').to_string())
}

fn raw_response(code: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("valid content type"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    headers.insert(
        "Audit-Id",
        HeaderValue::from_static("8a3b7c2e-0000-4000-8000-000000000000"),
    );
    response
}

fn json_response(value: Value) -> Response {
    raw_response(
        StatusCode::OK,
        "application/json",
        value.to_string().into_bytes(),
    )
}

fn aggregated_response(value: Value) -> Response {
    raw_response(
        StatusCode::OK,
        AGGREGATED_MIME,
        value.to_string().into_bytes(),
    )
}

fn status(code: StatusCode, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    raw_response(code, "application/json", body.to_string().into_bytes())
}

fn not_found_path() -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        Some(
            json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
        ),
    )
}

fn unavailable() -> Response {
    status(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "the server is currently unable to handle the request",
        None,
    )
}
