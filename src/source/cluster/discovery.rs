//! Discovery: every listable resource type of a cluster, preferred version of each group,
//! through aggregated discovery where the server has it, else one request per group version.

use futures::StreamExt;
use kube::Client;
use serde::Deserialize;

use super::{
    ACCEPT_AGGREGATED, ApiType, ClusterOptions, FetchError, get_request, request_with_retries,
};
use crate::notice::Notice;
use crate::sink::http::encode_segment;

/// Every listable resource type, preferred version of each group, core first.
pub async fn discover(
    client: &Client,
    options: &ClusterOptions,
    notices: &mut Vec<Notice>,
) -> Result<Vec<ApiType>, FetchError> {
    match discover_aggregated(client, options, notices).await {
        Ok(Some(types)) => return Ok(types),
        Ok(None) => {}
        // Unreachable or unauthorised: legacy discovery would fail the same way, only later.
        Err(e) if e.code().is_none() || e.code() == Some(401) => return Err(e),
        // Other answers (404, 406, 503) may come from a server without aggregated discovery.
        Err(_) => {}
    }
    discover_legacy(client, options, notices).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AggregatedList {
    items: Vec<AggregatedGroup>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AggregatedGroup {
    metadata: AggregatedMeta,
    versions: Vec<AggregatedVersion>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AggregatedMeta {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AggregatedVersion {
    version: String,
    resources: Vec<AggregatedResource>,
    freshness: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct AggregatedResource {
    resource: String,
    response_kind: Option<AggregatedKind>,
    scope: String,
    verbs: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AggregatedKind {
    kind: String,
}

/// `Ok(None)` when the server answered but not with aggregated discovery.
pub(super) async fn discover_aggregated(
    client: &Client,
    options: &ClusterOptions,
    notices: &mut Vec<Notice>,
) -> Result<Option<Vec<ApiType>>, FetchError> {
    let timeout = options.request_timeout;
    let core: AggregatedList = request_with_retries(
        client,
        || get_request("/api", Some(ACCEPT_AGGREGATED)),
        timeout,
    )
    .await?;
    let groups: AggregatedList = request_with_retries(
        client,
        || get_request("/apis", Some(ACCEPT_AGGREGATED)),
        timeout,
    )
    .await?;
    // A server that ignores the Accept header sends APIVersions/APIGroupList, which parse as
    // empty lists here: fall back rather than audit nothing.
    if core.items.iter().all(|g| g.versions.is_empty()) || groups.items.is_empty() {
        return Ok(None);
    }
    let mut types = Vec::new();
    for item in core.items.iter().chain(&groups.items) {
        let group = item.metadata.name.as_str();
        let Some(preferred) = item.versions.first() else {
            continue;
        };
        if !preferred.freshness.is_empty() && preferred.freshness != "Current" {
            notices.push(Notice::warning(format!(
                "not audited: API group {}, discovery is {} (its APIService may be down)",
                group_version(group, &preferred.version),
                preferred.freshness.to_ascii_lowercase()
            )));
            continue;
        }
        for resource in &preferred.resources {
            if resource.resource.contains('/') || !resource.verbs.iter().any(|v| v == "list") {
                continue;
            }
            let Some(kind) = resource
                .response_kind
                .as_ref()
                .filter(|k| !k.kind.is_empty())
            else {
                continue;
            };
            types.push(ApiType {
                group: group.to_string(),
                version: preferred.version.clone(),
                kind: kind.kind.clone(),
                plural: resource.resource.clone(),
                namespaced: resource.scope == "Namespaced",
            });
        }
    }
    Ok(Some(types))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ApiVersions {
    versions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct GroupList {
    groups: Vec<LegacyGroup>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct LegacyGroup {
    name: String,
    versions: Vec<GroupVersionEntry>,
    preferred_version: Option<GroupVersionEntry>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct GroupVersionEntry {
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ResourceList {
    resources: Vec<LegacyResource>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LegacyResource {
    name: String,
    kind: String,
    namespaced: bool,
    verbs: Vec<String>,
}

/// Legacy discovery, one request per group version, tolerating groups that fail (kube's own
/// `Discovery::run` gives up on the first 503).
pub(super) async fn discover_legacy(
    client: &Client,
    options: &ClusterOptions,
    notices: &mut Vec<Notice>,
) -> Result<Vec<ApiType>, FetchError> {
    let timeout = options.request_timeout;
    let core: ApiVersions =
        request_with_retries(client, || get_request("/api", None), timeout).await?;
    let groups: GroupList =
        request_with_retries(client, || get_request("/apis", None), timeout).await?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    if let Some(version) = core.versions.first() {
        wanted.push((String::new(), version.clone()));
    }
    for group in groups.groups {
        let preferred = group
            .preferred_version
            .clone()
            .or_else(|| group.versions.first().cloned());
        if let Some(v) = preferred {
            wanted.push((group.name, v.version));
        }
    }
    let lists: Vec<_> = futures::stream::iter(wanted)
        .map(|(group, version)| async move {
            let path = if group.is_empty() {
                format!("/api/{}", encode_segment(&version))
            } else {
                format!(
                    "/apis/{}/{}",
                    encode_segment(&group),
                    encode_segment(&version)
                )
            };
            let result: Result<ResourceList, FetchError> =
                request_with_retries(client, || get_request(&path, None), timeout).await;
            (group, version, result)
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut types = Vec::new();
    for (group, version, result) in lists {
        let list = match result {
            Ok(list) => list,
            Err(e) if group.is_empty() => return Err(e),
            Err(e) => {
                notices.push(Notice::warning(format!(
                    "not audited: API group {}, discovery failed: {}",
                    group_version(&group, &version),
                    e.describe()
                )));
                continue;
            }
        };
        for resource in list.resources {
            if resource.name.contains('/') || !resource.verbs.iter().any(|v| v == "list") {
                continue;
            }
            types.push(ApiType {
                group: group.clone(),
                version: version.clone(),
                kind: resource.kind,
                plural: resource.name,
                namespaced: resource.namespaced,
            });
        }
    }
    Ok(types)
}

pub(super) fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}
