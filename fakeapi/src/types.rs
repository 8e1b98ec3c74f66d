//! Resource types the fake server advertises: the built-in ones of a K3s cluster and the CRDs of
//! the platform tollgate audits (Velero, External Secrets, cert-manager, CloudNativePG).

/// One listable (or not) resource type, as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The resource name in paths: `deployments`.
    pub plural: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    /// Built-in types serve list items without `apiVersion`/`kind`, as a real API server does;
    /// custom resources keep them.
    pub builtin: bool,
}

const READ_WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceType {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            namespaced,
            verbs: READ_WRITE.iter().map(|v| v.to_string()).collect(),
            short_names: Vec::new(),
            builtin: true,
        }
    }

    /// A built-in type.
    pub fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self::new(group, version, kind, plural, namespaced)
    }

    /// A custom resource type (items keep `apiVersion`/`kind`).
    pub fn crd(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            builtin: false,
            ..Self::new(group, version, kind, plural, namespaced)
        }
    }

    pub fn with_verbs(mut self, verbs: &[&str]) -> Self {
        self.verbs = verbs.iter().map(|v| v.to_string()).collect();
        self
    }

    pub fn with_short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|v| v.to_string()).collect();
        self
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    pub fn can(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// The path prefix of the type's group version: `/api/v1`, `/apis/apps/v1`.
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
}

/// The built-in types of a recent K3s cluster, preferred versions first within a group.
pub fn builtin_types() -> Vec<ResourceType> {
    let b = ResourceType::builtin;
    vec![
        b("", "v1", "Namespace", "namespaces", false).with_short_names(&["ns"]),
        b("", "v1", "Node", "nodes", false).with_short_names(&["no"]),
        b("", "v1", "Pod", "pods", true).with_short_names(&["po"]),
        b("", "v1", "Service", "services", true).with_short_names(&["svc"]),
        b("", "v1", "ConfigMap", "configmaps", true).with_short_names(&["cm"]),
        b("", "v1", "Secret", "secrets", true),
        b("", "v1", "ServiceAccount", "serviceaccounts", true).with_short_names(&["sa"]),
        b(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        )
        .with_short_names(&["pvc"]),
        b("", "v1", "PersistentVolume", "persistentvolumes", false).with_short_names(&["pv"]),
        b("", "v1", "Event", "events", true).with_short_names(&["ev"]),
        b("", "v1", "Endpoints", "endpoints", true).with_short_names(&["ep"]),
        b("", "v1", "LimitRange", "limitranges", true).with_short_names(&["limits"]),
        b("", "v1", "ResourceQuota", "resourcequotas", true).with_short_names(&["quota"]),
        b(
            "",
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            true,
        )
        .with_short_names(&["rc"]),
        b("", "v1", "Binding", "bindings", true).with_verbs(&["create"]),
        b("", "v1", "ComponentStatus", "componentstatuses", false).with_verbs(&["get", "list"]),
        b("apps", "v1", "Deployment", "deployments", true).with_short_names(&["deploy"]),
        b("apps", "v1", "StatefulSet", "statefulsets", true).with_short_names(&["sts"]),
        b("apps", "v1", "DaemonSet", "daemonsets", true).with_short_names(&["ds"]),
        b("apps", "v1", "ReplicaSet", "replicasets", true).with_short_names(&["rs"]),
        b(
            "apps",
            "v1",
            "ControllerRevision",
            "controllerrevisions",
            true,
        ),
        b("batch", "v1", "Job", "jobs", true),
        b("batch", "v1", "CronJob", "cronjobs", true).with_short_names(&["cj"]),
        b(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .with_short_names(&["hpa"]),
        b(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .with_short_names(&["hpa"]),
        b(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        )
        .with_short_names(&["netpol"]),
        b("networking.k8s.io", "v1", "Ingress", "ingresses", true).with_short_names(&["ing"]),
        b(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            false,
        ),
        b(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        )
        .with_short_names(&["pdb"]),
        b("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        b(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        b(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            false,
        )
        .with_short_names(&["sc"]),
        b("coordination.k8s.io", "v1", "Lease", "leases", true),
        b(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
        ),
        b("events.k8s.io", "v1", "Event", "events", true).with_short_names(&["ev"]),
        b(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            false,
        )
        .with_verbs(&["create"]),
        b(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .with_short_names(&["crd", "crds"]),
        b("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", true).with_verbs(&["get", "list"]),
        b("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", false).with_verbs(&["get", "list"]),
    ]
}

/// The custom resources of the platform: Velero, External Secrets, cert-manager, CloudNativePG.
pub fn platform_crds() -> Vec<ResourceType> {
    let c = ResourceType::crd;
    vec![
        c("velero.io", "v1", "Backup", "backups", true),
        c("velero.io", "v1", "Schedule", "schedules", true),
        c(
            "velero.io",
            "v1",
            "BackupStorageLocation",
            "backupstoragelocations",
            true,
        )
        .with_short_names(&["bsl"]),
        c(
            "external-secrets.io",
            "v1",
            "ExternalSecret",
            "externalsecrets",
            true,
        )
        .with_short_names(&["es"]),
        c(
            "external-secrets.io",
            "v1",
            "SecretStore",
            "secretstores",
            true,
        )
        .with_short_names(&["ss"]),
        c(
            "external-secrets.io",
            "v1",
            "ClusterSecretStore",
            "clustersecretstores",
            false,
        )
        .with_short_names(&["css"]),
        c("cert-manager.io", "v1", "Certificate", "certificates", true)
            .with_short_names(&["cert", "certs"]),
        c("cert-manager.io", "v1", "Issuer", "issuers", true),
        c(
            "cert-manager.io",
            "v1",
            "ClusterIssuer",
            "clusterissuers",
            false,
        ),
        c("postgresql.cnpg.io", "v1", "Cluster", "clusters", true),
        c(
            "postgresql.cnpg.io",
            "v1",
            "ScheduledBackup",
            "scheduledbackups",
            true,
        ),
    ]
}
