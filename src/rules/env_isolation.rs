//! `env-isolation`: objects of one environment that reach into another.

use crate::model::kinds::Kind;
use crate::model::value::Value;
use crate::rules::Scope;

use crate::finding::Severity;
use crate::model::environment::label_env;
use crate::model::object::Object;
use crate::model::spans::push_token;
use crate::model::workload::{CONTAINER_FIELDS, pod_spec};
use crate::rules::support::network::{CILIUM_NAMESPACE, CILIUM_NAMESPACE_LABELS};
use crate::rules::support::selector::Selector;
use crate::rules::support::service_dns::service_names;
use crate::rules::{Context, Rule, RuleMeta, Violation};

pub struct EnvIsolation;

/// What it checks besides workloads: the kinds `check` dispatches on (Traefik's routes and
/// services, the Gateway API's routes).
const CHECKED: &[Kind] = &[
    Kind::new("", "ConfigMap"),
    Kind::new("", "Service"),
    Kind::new("traefik.io", "IngressRoute"),
    Kind::new("traefik.io", "IngressRouteTCP"),
    Kind::new("traefik.io", "IngressRouteUDP"),
    Kind::new("traefik.io", "TraefikService"),
    Kind::new("traefik.containo.us", "IngressRoute"),
    Kind::new("traefik.containo.us", "IngressRouteTCP"),
    Kind::new("traefik.containo.us", "IngressRouteUDP"),
    Kind::new("traefik.containo.us", "TraefikService"),
    Kind::new("gateway.networking.k8s.io", "HTTPRoute"),
    Kind::new("gateway.networking.k8s.io", "GRPCRoute"),
    Kind::new("gateway.networking.k8s.io", "TLSRoute"),
    Kind::new("gateway.networking.k8s.io", "TCPRoute"),
    Kind::new("gateway.networking.k8s.io", "UDPRoute"),
    Kind::new("external-secrets.io", "ExternalSecret"),
    Kind::new("networking.k8s.io", "NetworkPolicy"),
    Kind::new("cilium.io", "CiliumNetworkPolicy"),
];

/// What it looks up: Namespaces (environments, selectors) and secret stores.
const LOOKED_UP: &[Kind] = &[
    Kind::new("", "Namespace"),
    Kind::any_group("SecretStore"),
    Kind::any_group("ClusterSecretStore"),
];

static META: RuleMeta = RuleMeta {
    id: "env-isolation",
    title: "Object reaches into another environment",
    summary: "a reference from one environment into another: service DNS names, ExternalName Services, Traefik and Gateway API routes, ExternalSecret stores, NetworkPolicy / CiliumNetworkPolicy ingress sources",
    severity: Severity::High,
    tags: &["environments", "security"],
    remediation: "Point the reference at a namespace, secret store or peer of the object's own environment; if two environments must talk, go through an explicit, reviewed interface (an ingress with authentication) rather than in-cluster names.",
    doc: r#"An object of one environment that refers to another environment:

- a service DNS name `<service>.<namespace>.svc[.cluster.local]` in a container's `env` values,
  `args` or `command`, or in ConfigMap `data` (also inside embedded configuration files), an
  `ExternalName` Service's `externalName` (also the short `<service>.<namespace>`), a Traefik
  `IngressRoute`/`IngressRouteTCP`/`IngressRouteUDP` or `TraefikService` service with a
  `namespace`, or a Gateway API route `backendRef` with a `namespace` — when that namespace
  belongs to another environment;
- an ExternalSecret whose `SecretStore` / `ClusterSecretStore` (`spec.secretStoreRef`, and the
  `sourceRef.storeRef` of single entries) belongs to another environment: the store's own
  `environment`/`env` label when the inventory has the store, else its name against the
  namespace globs (`vault-prod` is `prod` by default);
- a NetworkPolicy whose ingress `from[].namespaceSelector` admits namespaces of another
  environment — selecting the label `environment`/`env`, naming namespaces with
  `kubernetes.io/metadata.name`, or any other labels, matched against the inventory's Namespace
  objects; likewise a CiliumNetworkPolicy's `ingress[].fromEndpoints` with
  `io.kubernetes.pod.namespace` or `io.cilium.k8s.namespace.labels.*`. An empty
  `namespaceSelector: {}` (all namespaces, usually together with a `podSelector` for
  monitoring) is not reported.

The object's environment is the one it belongs to (its own label, its namespace); where it is
placed does not count here (that is `env-placement`). Objects without an environment, and
targets without one (`kube-system`, `monitoring`, `argocd`), never cross. The message says which reference crosses from which environment to
which; the finding points at the reference (for ConfigMaps, at the data key).

### Why

Environments are separated so that development can break things: a development service
calling a production database, a development ExternalSecret reading production credentials
from Vault, or a production namespace admitting development traffic turns a development
incident into a production one, and leaks production data into a less protected place.

### Failing example

```yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
  namespace: shop-dev
data:
  API_URL: http://api.shop-prod.svc.cluster.local:8080
```

### Passing example

```yaml
data:
  API_URL: http://api.shop-dev.svc.cluster.local:8080
```

### Remediation

Use the peer of the object's own environment (`shop-dev`, `vault-dev`); label namespaces with
their environment so that selectors and this rule agree.

### Configuration

- `environments`: which namespaces (and stores) belong to which environment.
"#,
    scope: Scope::workloads().and_kinds(CHECKED).reading(&[LOOKED_UP]),
};

/// One reference from the checked object to another environment.
struct Crossing {
    pointer: String,
    reference: String,
    to: String,
}

struct Checker<'c, 'a> {
    ctx: &'c Context<'a>,
    from: &'c str,
    own_namespace: Option<&'c str>,
    found: Vec<Crossing>,
}

impl Checker<'_, '_> {
    fn namespace_env(&self, namespace: &str) -> Option<&str> {
        if Some(namespace) == self.own_namespace {
            return None;
        }
        self.ctx.namespace_env(namespace)
    }

    fn cross(&mut self, pointer: String, reference: String, to: &str) {
        if to != self.from {
            self.found.push(Crossing {
                pointer,
                reference,
                to: to.to_string(),
            });
        }
    }

    /// Service names in free text (`what` says where the text is).
    fn text(&mut self, pointer: String, what: &str, text: &str) {
        if !text.contains(".svc") {
            return;
        }
        let mut seen: Vec<&str> = Vec::new();
        for name in service_names(text) {
            if seen.contains(&name.host) {
                continue;
            }
            seen.push(name.host);
            let ns = name.namespace.to_ascii_lowercase();
            if let Some(env) = self.namespace_env(&ns).map(str::to_string) {
                self.cross(
                    pointer.clone(),
                    format!("{what} names service `{}` in namespace {ns}", name.host),
                    &env,
                );
            }
        }
    }

    /// A field naming a namespace directly.
    fn namespace_field(&mut self, pointer: String, what: &str, namespace: &str) {
        if let Some(env) = self.namespace_env(namespace).map(str::to_string) {
            self.cross(pointer, format!("{what} names namespace {namespace}"), &env);
        }
    }
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn str_at<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

impl Rule for EnvIsolation {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, object: &Object, ctx: &Context<'_>, out: &mut Vec<Violation>) {
        // The environment the object belongs to; where it is placed is env-placement's business,
        // and a system object (kube-system, monitoring) in a production folder belongs nowhere.
        let Some(from) = object.identity_env.as_deref() else {
            return;
        };
        let mut checker = Checker {
            ctx,
            from,
            own_namespace: object.namespace.as_deref(),
            found: Vec::new(),
        };
        match (object.group(), object.kind.as_str()) {
            ("", "ConfigMap") => config_map(object, &mut checker),
            ("", "Service") => external_name(object, &mut checker),
            ("traefik.io" | "traefik.containo.us", kind) => traefik(object, kind, &mut checker),
            ("gateway.networking.k8s.io", kind) if kind.ends_with("Route") => {
                gateway_route(object, &mut checker)
            }
            ("external-secrets.io", "ExternalSecret") => external_secret(object, &mut checker),
            ("networking.k8s.io", "NetworkPolicy") => network_policy(object, &mut checker),
            ("cilium.io", "CiliumNetworkPolicy") => cilium_policy(object, &mut checker),
            _ => workload(object, &mut checker),
        }
        report(object, from, checker.found, out);
    }
}

/// One violation per node, naming every reference that crosses from it.
fn report(object: &Object, from: &str, found: Vec<Crossing>, out: &mut Vec<Violation>) {
    let mut groups: Vec<(String, Vec<Crossing>)> = Vec::new();
    for crossing in found {
        match groups.iter_mut().find(|(p, _)| *p == crossing.pointer) {
            Some((_, list)) => list.push(crossing),
            None => groups.push((crossing.pointer.clone(), vec![crossing])),
        }
    }
    for (pointer, crossings) in groups {
        let mut targets: Vec<&str> = crossings.iter().map(|c| c.to.as_str()).collect();
        targets.dedup();
        let references: Vec<&str> = crossings.iter().map(|c| c.reference.as_str()).collect();
        out.push(Violation::new(
            pointer,
            format!(
                "{} crosses from environment {from} to {}: {}",
                object.display(),
                targets.join(", "),
                references.join("; ")
            ),
        ));
    }
}

fn workload(object: &Object, checker: &mut Checker<'_, '_>) {
    let Some(spec) = pod_spec(object) else {
        return;
    };
    // Raw walk: names and pointers are only built for text that holds a service name.
    for (field, role) in CONTAINER_FIELDS {
        for (c, container) in array(spec.get(field)).iter().enumerate() {
            let who = || {
                let name = str_at(container, "name").unwrap_or("");
                format!("{} `{name}`", role.describe())
            };
            let base = || format!("{}/{field}/{c}", spec.pointer);
            for (i, env) in array(container.get("env")).iter().enumerate() {
                if let Some(value) = str_at(env, "value").filter(|v| v.contains(".svc")) {
                    let name = str_at(env, "name").unwrap_or("");
                    checker.text(
                        format!("{}/env/{i}/value", base()),
                        &format!("env `{name}` of {}", who()),
                        value,
                    );
                }
            }
            for list in ["command", "args"] {
                for (i, arg) in array(container.get(list)).iter().enumerate() {
                    if let Some(text) = arg.as_str().filter(|t| t.contains(".svc")) {
                        checker.text(
                            format!("{}/{list}/{i}", base()),
                            &format!("{list} of {}", who()),
                            text,
                        );
                    }
                }
            }
        }
    }
}

fn config_map(object: &Object, checker: &mut Checker<'_, '_>) {
    let Some(data) = object.at("/data").and_then(Value::as_object) else {
        return;
    };
    for (key, value) in data {
        if let Some(text) = value.as_str().filter(|t| t.contains(".svc")) {
            let mut pointer = "/data".to_string();
            push_token(&mut pointer, key);
            checker.text(pointer, &format!("key `{key}`"), text);
        }
    }
}

fn external_name(object: &Object, checker: &mut Checker<'_, '_>) {
    if object.at("/spec/type").and_then(Value::as_str) != Some("ExternalName") {
        return;
    }
    let Some(name) = object.at("/spec/externalName").and_then(Value::as_str) else {
        return;
    };
    let pointer = "/spec/externalName".to_string();
    if name.contains(".svc") {
        checker.text(pointer, "externalName", name);
        return;
    }
    // The short form `<service>.<namespace>` resolves through the pod's search path.
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let inventory = checker.ctx.inventory;
    if let [_, namespace] = labels.as_slice()
        && (inventory.namespace_object(namespace).is_some()
            || inventory.in_namespace(namespace).next().is_some())
    {
        checker.text(pointer, "externalName", &format!("{name}.svc"));
    }
}

fn traefik(object: &Object, kind: &str, checker: &mut Checker<'_, '_>) {
    let mut services: Vec<(String, &Value)> = Vec::new();
    match kind {
        "IngressRoute" | "IngressRouteTCP" | "IngressRouteUDP" => {
            for (i, route) in array(object.at("/spec/routes")).iter().enumerate() {
                for (j, service) in array(route.get("services")).iter().enumerate() {
                    services.push((format!("/spec/routes/{i}/services/{j}"), service));
                }
            }
        }
        "TraefikService" => {
            for (j, service) in array(object.at("/spec/weighted/services"))
                .iter()
                .enumerate()
            {
                services.push((format!("/spec/weighted/services/{j}"), service));
            }
            if let Some(mirroring) = object.at("/spec/mirroring") {
                services.push(("/spec/mirroring".to_string(), mirroring));
                for (j, mirror) in array(mirroring.get("mirrors")).iter().enumerate() {
                    services.push((format!("/spec/mirroring/mirrors/{j}"), mirror));
                }
            }
        }
        _ => return,
    }
    for (pointer, service) in services {
        if let Some(ns) = str_at(service, "namespace") {
            let name = str_at(service, "name").unwrap_or("");
            checker.namespace_field(
                format!("{pointer}/namespace"),
                &format!("service `{name}`"),
                ns,
            );
        }
    }
}

fn gateway_route(object: &Object, checker: &mut Checker<'_, '_>) {
    for (i, rule) in array(object.at("/spec/rules")).iter().enumerate() {
        for (j, backend) in array(rule.get("backendRefs")).iter().enumerate() {
            if let Some(ns) = str_at(backend, "namespace") {
                let name = str_at(backend, "name").unwrap_or("");
                checker.namespace_field(
                    format!("/spec/rules/{i}/backendRefs/{j}/namespace"),
                    &format!("backendRef `{name}`"),
                    ns,
                );
            }
        }
    }
}

fn external_secret(object: &Object, checker: &mut Checker<'_, '_>) {
    let mut refs: Vec<(String, &Value)> = Vec::new();
    if let Some(store) = object.at("/spec/secretStoreRef") {
        refs.push(("/spec/secretStoreRef".to_string(), store));
    }
    for field in ["data", "dataFrom"] {
        let entries = object.at("/spec").and_then(|s| s.get(field));
        for (i, entry) in array(entries).iter().enumerate() {
            if let Some(store) = entry.get("sourceRef").and_then(|s| s.get("storeRef")) {
                refs.push((format!("/spec/{field}/{i}/sourceRef/storeRef"), store));
            }
        }
    }
    for (pointer, store) in refs {
        let Some(name) = str_at(store, "name") else {
            continue;
        };
        let kind = str_at(store, "kind").unwrap_or("SecretStore");
        let namespace = match kind {
            "ClusterSecretStore" => None,
            _ => object.namespace.as_deref(),
        };
        let inventory = checker.ctx.inventory;
        let labelled = inventory
            .find(kind, namespace, name)
            .filter(|s| s.group() == "external-secrets.io")
            .find_map(|s| s.labels().and_then(label_env));
        let env = labelled.or_else(|| checker.ctx.environments.for_namespace(name));
        if let Some(env) = env {
            checker.cross(
                format!("{pointer}/name"),
                format!("it reads from {kind} `{name}` of environment {env}"),
                env,
            );
        }
    }
}

/// Environments a namespace selector admits, with a description of why.
fn selector_envs(
    checker: &Checker<'_, '_>,
    selector: &Selector,
    env_keys: &[&str],
    name_keys: &[&str],
    cilium: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if selector.is_empty() {
        return out;
    }
    if let Some(values) = selector.allowed_values(env_keys) {
        for env in values {
            out.push((
                env.clone(),
                format!("namespaces labelled with environment `{env}`"),
            ));
        }
        return out;
    }
    if let Some(names) = selector.allowed_values(name_keys) {
        for ns in names {
            if let Some(env) = checker.namespace_env(ns) {
                out.push((env.to_string(), format!("namespace {ns}")));
            }
        }
        return out;
    }
    // Any other labels: the Namespace objects of the inventory they select. Cilium selectors
    // without namespace keys select endpoints of the policy's own namespace.
    let namespace_keys_only = selector
        .requirements
        .iter()
        .all(|r| r.key == CILIUM_NAMESPACE || r.key.starts_with(CILIUM_NAMESPACE_LABELS));
    if cilium && !namespace_keys_only {
        return out;
    }
    let inventory = checker.ctx.inventory;
    for namespace in inventory
        .of_kind("Namespace")
        .filter(|o| o.group().is_empty())
    {
        let mut labels = crate::model::value::Map::new();
        let prefix = if cilium { CILIUM_NAMESPACE_LABELS } else { "" };
        for (k, v) in namespace.labels().into_iter().flatten() {
            labels.insert(format!("{prefix}{k}"), v.clone());
        }
        let name_key = if cilium {
            CILIUM_NAMESPACE
        } else {
            "kubernetes.io/metadata.name"
        };
        labels.insert(name_key.to_string(), Value::from(namespace.name.as_str()));
        let matched = selector.matches(Some(&labels));
        if matched && let Some(env) = checker.namespace_env(&namespace.name) {
            out.push((env.to_string(), format!("namespace {}", namespace.name)));
        }
    }
    out
}

fn network_policy(object: &Object, checker: &mut Checker<'_, '_>) {
    for (i, rule) in array(object.at("/spec/ingress")).iter().enumerate() {
        for (j, peer) in array(rule.get("from")).iter().enumerate() {
            let Some(selector) = peer.get("namespaceSelector").and_then(Selector::parse) else {
                continue;
            };
            let admitted = selector_envs(
                checker,
                &selector,
                &["environment", "env"],
                &["kubernetes.io/metadata.name"],
                false,
            );
            for (env, what) in admitted {
                checker.cross(
                    format!("/spec/ingress/{i}/from/{j}/namespaceSelector"),
                    format!("ingress admits {what}"),
                    &env,
                );
            }
        }
    }
}

fn cilium_policy(object: &Object, checker: &mut Checker<'_, '_>) {
    let mut rules: Vec<(String, &Value)> = Vec::new();
    if let Some(spec) = object.at("/spec") {
        rules.push(("/spec".to_string(), spec));
    }
    for (k, spec) in array(object.at("/specs")).iter().enumerate() {
        rules.push((format!("/specs/{k}"), spec));
    }
    let env_keys: Vec<String> = ["environment", "env"]
        .iter()
        .map(|k| format!("{CILIUM_NAMESPACE_LABELS}{k}"))
        .collect();
    let env_keys: Vec<&str> = env_keys.iter().map(String::as_str).collect();
    for (base, rule) in rules {
        for (i, ingress) in array(rule.get("ingress")).iter().enumerate() {
            for (j, endpoints) in array(ingress.get("fromEndpoints")).iter().enumerate() {
                let Some(selector) = Selector::parse(endpoints) else {
                    continue;
                };
                let admitted =
                    selector_envs(checker, &selector, &env_keys, &[CILIUM_NAMESPACE], true);
                for (env, what) in admitted {
                    checker.cross(
                        format!("{base}/ingress/{i}/fromEndpoints/{j}"),
                        format!("ingress admits {what}"),
                        &env,
                    );
                }
            }
        }
    }
}
