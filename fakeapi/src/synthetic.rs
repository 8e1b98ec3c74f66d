//! A synthetic cluster of any size for the benchmark: namespaces of products in prod and dev,
//! each with a mix of workloads, their owned ReplicaSets and Pods, services, config, secrets
//! and RBAC, sized like real objects (labels, annotations, last-applied configuration).

use serde_json::{Value, json};

const KINDS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "Pod",
    "Pod",
    "Service",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "StatefulSet",
    "CronJob",
    "NetworkPolicy",
    "Role",
    "RoleBinding",
];

/// `objects` objects (Namespaces included) spread over `namespaces` namespaces.
pub fn objects(objects: usize, namespaces: usize) -> Vec<Value> {
    let namespaces = namespaces.max(1);
    let mut out = Vec::with_capacity(objects);
    let names: Vec<String> = (0..namespaces)
        .map(|i| {
            let env = if i.is_multiple_of(3) { "dev" } else { "prod" };
            format!("product{i:03}-{env}")
        })
        .collect();
    for name in names.iter().take(objects) {
        out.push(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
        }));
    }
    let mut n = 0usize;
    while out.len() < objects {
        let namespace = &names[n % namespaces];
        let kind = KINDS[(n / namespaces) % KINDS.len()];
        out.push(object(kind, namespace, n));
        n += 1;
    }
    out
}

fn container(name: &str, image: &str, limits: bool) -> Value {
    let mut resources = json!({"requests": {"cpu": "100m", "memory": "128Mi"}});
    if limits {
        resources["limits"] = json!({"cpu": "500m", "memory": "256Mi"});
    }
    json!({
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}
        ],
        "resources": resources,
        "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
    })
}

fn pod_spec(n: usize) -> Value {
    let image = if n.is_multiple_of(5) {
        "docker.io/library/nginx:latest".to_string()
    } else {
        format!("harbor.example.com/shop/api:1.{}.{}", n % 20, n % 7)
    };
    json!({
        "serviceAccountName": "app",
        "containers": [container("app", &image, !n.is_multiple_of(4)), container("sidecar", "harbor.example.com/infra/envoy:1.31.2", true)],
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30, "securityContext": {"fsGroup": 1000}
    })
}

fn object(kind: &str, namespace: &str, n: usize) -> Value {
    let name = format!("{}-{n}", kind.to_ascii_lowercase());
    let labels = json!({
        "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace,
        "app.kubernetes.io/managed-by": "argocd", "app.kubernetes.io/version": "1.2.3"
    });
    let mut metadata = json!({"name": name, "namespace": namespace, "labels": labels});
    let owned = |kind: &str, owner: &str| json!([{"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": "00000000-0000-4000-8000-000000000000", "controller": true, "blockOwnerDeletion": true}]);
    let (api_version, body) = match kind {
        "Deployment" => (
            "apps/v1",
            json!({"spec": {
                "replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": pod_spec(n)}
            }, "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3}}),
        ),
        "StatefulSet" => (
            "apps/v1",
            json!({"spec": {
                "replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": pod_spec(n)},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]
            }}),
        ),
        "ReplicaSet" => {
            metadata["ownerReferences"] = owned("Deployment", "deployment-0");
            (
                "apps/v1",
                json!({"spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                    "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": pod_spec(n)}}}),
            )
        }
        "Pod" => {
            metadata["ownerReferences"] = owned("ReplicaSet", "replicaset-0");
            (
                "v1",
                json!({"spec": pod_spec(n), "status": {"phase": "Running", "podIP": "10.42.0.7"}}),
            )
        }
        "CronJob" => (
            "batch/v1",
            json!({"spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec(n)}}}}}),
        ),
        "Service" => (
            "v1",
            json!({"spec": {"type": "ClusterIP", "clusterIP": "10.43.0.10", "selector": {"app.kubernetes.io/name": name},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
        ),
        "ConfigMap" => (
            "v1",
            json!({"data": {"app.yaml": format!("server:\n  port: 8080\nupstream: http://api.{namespace}.svc.cluster.local:8080\n"), "LOG_LEVEL": "info"}}),
        ),
        "Secret" => (
            "v1",
            json!({"type": "Opaque", "data": {"password": "c3VwZXItc2VjcmV0LXZhbHVl", "url": "cG9zdGdyZXM6Ly91c2VyOnBhc3NAZGIvYXBw"}}),
        ),
        "ServiceAccount" => ("v1", json!({"automountServiceAccountToken": false})),
        "PersistentVolumeClaim" => (
            "v1",
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "longhorn", "resources": {"requests": {"storage": "5Gi"}}}}),
        ),
        "NetworkPolicy" => (
            "networking.k8s.io/v1",
            json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        ),
        "Role" => (
            "rbac.authorization.k8s.io/v1",
            json!({"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}),
        ),
        _ => (
            "rbac.authorization.k8s.io/v1",
            json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "role-0"},
                "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": namespace}]}),
        ),
    };
    let mut value = json!({"apiVersion": api_version, "kind": kind, "metadata": metadata});
    if let (Some(target), Some(fields)) = (value.as_object_mut(), body.as_object()) {
        for (k, v) in fields {
            target.insert(k.clone(), v.clone());
        }
    }
    // kubectl apply keeps a copy of the applied object in an annotation, doubling its size.
    let applied = value.to_string();
    value["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": applied});
    value
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_are_exact() {
        let objects = super::objects(1000, 30);
        assert_eq!(objects.len(), 1000);
        let namespaces = objects.iter().filter(|o| o["kind"] == "Namespace").count();
        assert_eq!(namespaces, 30);
    }
}
