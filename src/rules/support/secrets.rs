//! Who produces which Secrets: generators (External Secrets, cert-manager, Sealed Secrets, the
//! Vault Secrets Operator) and database/messaging operators that write credentials for the
//! objects they run.

use std::collections::{HashMap, HashSet};

use crate::model::value::Value;

use crate::model::inventory::Inventory;
use crate::model::kinds::Kind;
use crate::model::object::Object;

/// What [`SecretProducers::build`] reads (a test keeps the operators of
/// `OPERATOR_PREFIXED` in it).
pub const READS: &[Kind] = &[
    Kind::new("", "Secret"),
    Kind::any_group("ExternalSecret"),
    Kind::any_group("ClusterExternalSecret"),
    Kind::any_group("Certificate"),
    Kind::any_group("SealedSecret"),
    Kind::any_group("VaultStaticSecret"),
    Kind::any_group("VaultDynamicSecret"),
    Kind::any_group("VaultPKISecret"),
    Kind::any_group("Ingress"),
    Kind::any_group("KafkaUser"),
    Kind::new("kyverno.io", "ClusterPolicy"),
    Kind::new("kyverno.io", "Policy"),
    Kind::new("postgresql.cnpg.io", "Cluster"),
    Kind::new("ps.percona.com", "PerconaServerMySQL"),
    Kind::new("pxc.percona.com", "PerconaXtraDBCluster"),
    Kind::new("psmdb.percona.com", "PerconaServerMongoDB"),
    Kind::new("pgv2.percona.com", "PerconaPGCluster"),
    Kind::new("mongodbcommunity.mongodb.com", "MongoDBCommunity"),
    Kind::new("elasticsearch.k8s.elastic.co", "Elasticsearch"),
    Kind::new("kibana.k8s.elastic.co", "Kibana"),
    Kind::new("minio.min.io", "Tenant"),
    Kind::new("kafka.strimzi.io", "Kafka"),
    Kind::new("rabbitmq.com", "RabbitmqCluster"),
    Kind::new("clickhouse.altinity.com", "ClickHouseInstallation"),
    Kind::new("dragonflydb.io", "Dragonfly"),
    Kind::new("acid.zalan.do", "postgresql"),
    Kind::new("k8s.keycloak.org", "Keycloak"),
];

/// Operators that write Secrets named after the object they run (`<name>-app`,
/// `<name>-es-elastic-user`, `<name>-cluster-ca-cert`…): `(API group, kind)`.
const OPERATOR_PREFIXED: &[(&str, &str)] = &[
    ("postgresql.cnpg.io", "Cluster"),
    ("ps.percona.com", "PerconaServerMySQL"),
    ("pxc.percona.com", "PerconaXtraDBCluster"),
    ("psmdb.percona.com", "PerconaServerMongoDB"),
    ("pgv2.percona.com", "PerconaPGCluster"),
    ("mongodbcommunity.mongodb.com", "MongoDBCommunity"),
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"),
    ("kibana.k8s.elastic.co", "Kibana"),
    ("minio.min.io", "Tenant"),
    ("kafka.strimzi.io", "Kafka"),
    ("rabbitmq.com", "RabbitmqCluster"),
    ("clickhouse.altinity.com", "ClickHouseInstallation"),
    ("dragonflydb.io", "Dragonfly"),
    ("acid.zalan.do", "postgresql"),
    ("k8s.keycloak.org", "Keycloak"),
];

/// Reflector's annotation: copy this Secret into other namespaces.
const REFLECTOR_AUTO: &str = "reflector.v1.k8s.emberstack.com/reflection-auto-enabled";

/// How an operator names the Secrets it writes for an object.
#[derive(Debug)]
enum NamePattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
}

impl NamePattern {
    fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(exact) => name == exact,
            NamePattern::Prefix(prefix) => name.starts_with(prefix.as_str()),
            NamePattern::Suffix(suffix) => name.ends_with(suffix.as_str()),
        }
    }
}

/// Secrets that something other than a plain manifest produces, per namespace.
#[derive(Debug, Default)]
pub struct SecretProducers {
    /// Namespace (`""` for none) → secret name → the generator that writes it.
    generated: HashMap<String, HashMap<String, String>>,
    /// Generators that write a name into every (selected) namespace.
    everywhere: HashMap<String, String>,
    /// Every generated name, whatever the namespace (for objects without a namespace).
    generated_names: HashMap<String, String>,
    /// Namespace (`""` for none) → `(name pattern, operator object)` for operator-written
    /// Secrets.
    operator_prefixes: HashMap<String, Vec<(NamePattern, String)>>,
    /// Namespace (`""` for none) → names of the Secret objects in the inventory.
    secrets: HashMap<String, HashSet<String>>,
    /// Names of the Secret objects in the inventory, whatever the namespace.
    secret_names: HashSet<String>,
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer)?.as_str().filter(|s| !s.is_empty())
}

/// `kubernetes.io/service-account-token` Secrets, Helm release storage and other Secrets whose
/// type or labels say a controller writes them.
pub fn is_controller_written(secret: &Object) -> Option<&'static str> {
    let kind = secret
        .value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind == "kubernetes.io/service-account-token" {
        return Some("a service-account token");
    }
    if kind == "helm.sh/release.v1" || secret.label("owner") == Some("helm") {
        return Some("Helm release storage");
    }
    let keys = secret
        .labels()
        .into_iter()
        .chain(secret.annotations())
        .flat_map(|m| m.keys());
    for key in keys {
        if key.starts_with("reconcile.external-secrets.io/") {
            return Some("External Secrets");
        }
        if key == "cert-manager.io/certificate-name" {
            return Some("cert-manager");
        }
        if key == "sealedsecrets.bitnami.com/managed" {
            return Some("Sealed Secrets");
        }
        if key.starts_with("generate.kyverno.io/") {
            return Some("a Kyverno generate rule");
        }
        if key == "reflector.v1.k8s.emberstack.com/reflected-from" {
            return Some("Reflector");
        }
    }
    None
}

impl SecretProducers {
    pub fn build(inventory: &Inventory) -> Self {
        let mut p = SecretProducers::default();
        for es in inventory.of_kind("ExternalSecret") {
            if matches!(es.group(), "external-secrets.io" | "kubernetes-client.io") {
                let name = text(&es.value, "/spec/target/name").unwrap_or(&es.name);
                p.add_generated(es.namespace.as_deref(), name, es);
            }
        }
        for cert in inventory.of_kind("Certificate") {
            if cert.group() == "cert-manager.io"
                && let Some(name) = text(&cert.value, "/spec/secretName")
            {
                p.add_generated(cert.namespace.as_deref(), name, cert);
            }
        }
        for sealed in inventory.of_kind("SealedSecret") {
            if sealed.group() == "bitnami.com" {
                let name =
                    text(&sealed.value, "/spec/template/metadata/name").unwrap_or(&sealed.name);
                p.add_generated(sealed.namespace.as_deref(), name, sealed);
            }
        }
        for kind in ["VaultStaticSecret", "VaultDynamicSecret", "VaultPKISecret"] {
            for vso in inventory.of_kind(kind) {
                if vso.group() == "secrets.hashicorp.com"
                    && let Some(name) = text(&vso.value, "/spec/destination/name")
                {
                    p.add_generated(vso.namespace.as_deref(), name, vso);
                }
            }
        }
        // cert-manager's ingress-shim writes the TLS Secrets of annotated Ingresses.
        for ingress in inventory.of_kind("Ingress") {
            let shim = ingress
                .annotation("cert-manager.io/cluster-issuer")
                .is_some()
                || ingress.annotation("cert-manager.io/issuer").is_some();
            if !shim {
                continue;
            }
            let tls = ingress.at("/spec/tls").and_then(Value::as_array);
            for entry in tls.into_iter().flatten() {
                if let Some(name) = entry.get("secretName").and_then(Value::as_str) {
                    p.add_generated(ingress.namespace.as_deref(), name, ingress);
                }
            }
        }
        for ces in inventory.of_kind("ClusterExternalSecret") {
            if ces.group() != "external-secrets.io" {
                continue;
            }
            let es_name = text(&ces.value, "/spec/externalSecretName").unwrap_or(&ces.name);
            let name = text(&ces.value, "/spec/externalSecretSpec/target/name").unwrap_or(es_name);
            let by_selector = ["/spec/namespaceSelector", "/spec/namespaceSelectors"]
                .iter()
                .any(|p| ces.at(p).is_some_and(|v| !v.is_null()));
            if by_selector {
                p.everywhere
                    .entry(name.to_string())
                    .or_insert_with(|| ces.display());
            }
            let listed = ces.at("/spec/namespaces").and_then(Value::as_array);
            for ns in listed.into_iter().flatten().filter_map(Value::as_str) {
                p.add_generated(Some(ns), name, ces);
            }
        }
        // Kyverno `generate` rules that create Secrets (registry credentials, typically).
        for kind in ["ClusterPolicy", "Policy"] {
            for policy in inventory
                .of_kind(kind)
                .filter(|o| o.group() == "kyverno.io")
            {
                let rules = policy.at("/spec/rules").and_then(Value::as_array);
                for rule in rules.into_iter().flatten() {
                    let Some(generate) = rule.get("generate") else {
                        continue;
                    };
                    if generate.get("kind").and_then(Value::as_str) != Some("Secret") {
                        continue;
                    }
                    let Some(name) = generate.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    if kind == "ClusterPolicy" {
                        p.everywhere
                            .entry(name.to_string())
                            .or_insert_with(|| policy.display());
                    } else {
                        p.add_generated(policy.namespace.as_deref(), name, policy);
                    }
                }
            }
        }
        // Secrets that Reflector copies into other namespaces, as they are or as an
        // ExternalSecret writes them.
        for secret in inventory.of_kind("Secret").filter(|o| o.group().is_empty()) {
            if secret.annotation(REFLECTOR_AUTO) == Some("true") {
                p.everywhere
                    .entry(secret.name.to_string())
                    .or_insert_with(|| secret.display());
            }
        }
        for es in inventory.of_kind("ExternalSecret") {
            let reflected = es
                .at("/spec/target/template/metadata/annotations")
                .and_then(|a| a.get(REFLECTOR_AUTO))
                .and_then(Value::as_str)
                == Some("true");
            if reflected {
                let name = text(&es.value, "/spec/target/name").unwrap_or(&es.name);
                p.everywhere
                    .entry(name.to_string())
                    .or_insert_with(|| es.display());
            }
        }
        for (group, kind) in OPERATOR_PREFIXED {
            for object in inventory.of_kind(kind).filter(|o| o.group() == *group) {
                let entry = p
                    .operator_prefixes
                    .entry(object.namespace.clone().unwrap_or_default().to_string())
                    .or_default();
                let by = object.display();
                entry.push((NamePattern::Prefix(format!("{}-", object.name)), by.clone()));
                match *group {
                    // `<user>.<cluster>.credentials.postgresql.acid.zalan.do`
                    "acid.zalan.do" => entry.push((
                        NamePattern::Suffix(format!(
                            ".{}.credentials.postgresql.acid.zalan.do",
                            object.name
                        )),
                        by.clone(),
                    )),
                    // Percona's system users: `internal-<cluster>`.
                    "pxc.percona.com" | "ps.percona.com" | "psmdb.percona.com" => {
                        entry.push((
                            NamePattern::Prefix(format!("internal-{}", object.name)),
                            by.clone(),
                        ));
                    }
                    _ => {}
                }
                // Percona operators generate the users Secret they are told to use.
                for pointer in ["/spec/secretsName", "/spec/secrets/users"] {
                    if let Some(name) = text(&object.value, pointer) {
                        entry.push((NamePattern::Exact(name.to_string()), by.clone()));
                    }
                }
            }
        }
        // Strimzi's user operator writes a Secret named after each KafkaUser.
        for user in inventory.of_kind("KafkaUser") {
            if user.group() == "kafka.strimzi.io" {
                p.add_generated(user.namespace.as_deref(), &user.name, user);
            }
        }
        for secret in inventory.of_kind("Secret").filter(|s| s.group().is_empty()) {
            p.secret_names.insert(secret.name.to_string());
            p.secrets
                .entry(secret.namespace.clone().unwrap_or_default().to_string())
                .or_default()
                .insert(secret.name.to_string());
        }
        p
    }

    fn add_generated(&mut self, namespace: Option<&str>, name: &str, by: &Object) {
        let by = by.display();
        self.generated_names
            .entry(name.to_string())
            .or_insert_with(|| by.clone());
        self.generated
            .entry(namespace.unwrap_or_default().to_string())
            .or_default()
            .entry(name.to_string())
            .or_insert(by);
    }

    /// The generator (External Secrets, cert-manager, Sealed Secrets, Vault) that writes the
    /// Secret `name` in `namespace`. Without a namespace (a kustomize base), any namespace.
    pub fn generator_of(&self, namespace: Option<&str>, name: &str) -> Option<&str> {
        self.generated
            .get(namespace.unwrap_or_default())
            .and_then(|names| names.get(name))
            .or_else(|| self.everywhere.get(name))
            .or_else(|| {
                namespace
                    .is_none()
                    .then(|| self.generated_names.get(name))
                    .flatten()
            })
            .map(String::as_str)
    }

    /// The generator that writes the Secret `name` into exactly this namespace (`None`: the
    /// generator has no namespace either), without the fallbacks of [`Self::generator_of`].
    pub fn generator_in(&self, namespace: Option<&str>, name: &str) -> Option<&str> {
        self.generated
            .get(namespace.unwrap_or_default())
            .and_then(|names| names.get(name))
            .map(String::as_str)
    }

    /// Any producer of the Secret: a generator, or an operator that writes it for an object
    /// it runs in the same namespace.
    pub fn producer_of(&self, namespace: Option<&str>, name: &str) -> Option<&str> {
        if let Some(generator) = self.generator_of(namespace, name) {
            return Some(generator);
        }
        let lists: Vec<&Vec<(NamePattern, String)>> = match namespace {
            Some(ns) => self.operator_prefixes.get(ns).into_iter().collect(),
            None => self.operator_prefixes.values().collect(),
        };
        lists
            .into_iter()
            .flatten()
            .find(|(pattern, _)| pattern.matches(name))
            .map(|(_, by)| by.as_str())
    }

    /// True when a Secret called `name` is in the inventory, in `namespace` (any namespace
    /// when `None`).
    pub fn secret_exists(&self, namespace: Option<&str>, name: &str) -> bool {
        match namespace {
            Some(ns) => self
                .secrets
                .get(ns)
                .is_some_and(|names| names.contains(name)),
            None => self.secret_names.contains(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_operator_kind() {
        for (group, kind) in OPERATOR_PREFIXED {
            assert!(READS.contains(&Kind::new(group, kind)), "{group}/{kind}");
        }
    }
    use crate::doc;
    use crate::model::object::Origin;
    use crate::model::spans::SpanTree;

    fn inventory(values: Vec<Value>) -> Inventory {
        Inventory::new(
            values
                .into_iter()
                .map(|v| {
                    Object::from_value(
                        v,
                        Origin::Cluster {
                            context: "t".into(),
                            api_path: String::new(),
                        },
                        SpanTree::default(),
                    )
                    .unwrap()
                })
                .collect(),
        )
    }

    #[test]
    fn generators_and_operators_produce_secrets() {
        let inv = inventory(vec![
            doc!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                   "metadata": {"name": "db", "namespace": "a"}, "spec": {"target": {"name": "db-creds"}}}),
            doc!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                   "metadata": {"name": "api", "namespace": "a"}, "spec": {}}),
            doc!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "web", "namespace": "a"}, "spec": {"secretName": "web-tls"}}),
            doc!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                   "metadata": {"name": "pg", "namespace": "a"}}),
            doc!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
                   "metadata": {"name": "pull"}, "spec": {"namespaceSelector": {"matchLabels": {"x": "y"}}}}),
        ]);
        let p = SecretProducers::build(&inv);
        assert_eq!(
            p.generator_of(Some("a"), "db-creds"),
            Some("ExternalSecret a/db")
        );
        assert_eq!(p.generator_of(Some("b"), "db-creds"), None);
        assert!(p.generator_of(None, "db-creds").is_some());
        assert!(p.generator_of(Some("a"), "db").is_none());
        assert!(p.generator_of(Some("a"), "api").is_some());
        assert!(p.generator_of(Some("a"), "web-tls").is_some());
        assert!(p.generator_of(Some("z"), "pull").is_some());
        assert_eq!(p.producer_of(Some("a"), "pg-app"), Some("Cluster a/pg"));
        assert_eq!(p.generator_of(Some("a"), "pg-app"), None);
        assert_eq!(p.producer_of(Some("b"), "pg-app"), None);
        assert_eq!(p.producer_of(Some("a"), "pgx-app"), None);
        assert_eq!(p.producer_of(Some("a"), "pg"), None);
    }
}
