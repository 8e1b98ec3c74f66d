package tollgate.adminer_exposed_test

import rego.v1

import data.tollgate.adminer_exposed as policy

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "adminer", "namespace": "shop-prod"},
	"spec": {"template": {
		"metadata": {"labels": {"app": "adminer"}},
		"spec": {"containers": [{"name": "adminer", "image": "harbor.example.com/tools/adminer:4.8.1"}]},
	}},
}

service(type) := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "adminer", "namespace": "shop-prod"},
	"spec": {"type": type, "selector": {"app": "adminer"}},
}

inventory := {"namespace": {"shop-prod": {
	"apps/v1": {"Deployment": {"adminer": deployment}},
	"v1": {"Service": {"adminer": service("ClusterIP")}},
}}}

test_load_balancer_service if {
	results := policy.deny with input as {"object": service("LoadBalancer"), "environment": "prod"}
		with data.inventory as inventory
	{r.path | some r in results} == {["spec", "type"]}
}

test_cluster_ip_service_passes if {
	count(policy.deny) == 0 with input as {"object": service("ClusterIP"), "environment": "prod"}
		with data.inventory as inventory
}

test_dev_is_not_checked if {
	count(policy.deny) == 0 with input as {"object": service("LoadBalancer"), "environment": "dev"}
		with data.inventory as inventory
}

ingress(backend_service) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {"name": "db", "namespace": "shop-prod"},
	"spec": {"rules": [{"host": "db.example.com", "http": {"paths": [{
		"path": "/",
		"pathType": "Prefix",
		"backend": {"service": {"name": backend_service, "port": {"number": 80}}},
	}]}}]},
}

test_ingress_to_adminer if {
	results := policy.deny with input as {"object": ingress("adminer"), "environment": "prod"}
		with data.inventory as inventory
	{r.path | some r in results} == {["spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"]}
}

test_ingress_to_unknown_service_named_adminer if {
	count(policy.deny) == 1 with input as {"object": ingress("adminer-ui"), "environment": "prod"}
		with data.inventory as inventory
}

test_ingress_to_other_service_passes if {
	count(policy.deny) == 0 with input as {"object": ingress("shop"), "environment": "prod"}
		with data.inventory as {"namespace": {"shop-prod": {"v1": {"Service": {"shop": {
			"metadata": {"name": "shop"},
			"spec": {"selector": {"app": "shop"}},
		}}}}}}
}

test_ingress_route_to_adminer if {
	route := {
		"apiVersion": "traefik.io/v1alpha1",
		"kind": "IngressRoute",
		"metadata": {"name": "db", "namespace": "shop-prod"},
		"spec": {"routes": [{"match": "Host(`db`)", "services": [{"name": "adminer", "port": 80}]}]},
	}
	count(policy.deny) == 1 with input as {"object": route, "environment": "prod"}
		with data.inventory as inventory
}

test_namespace_images_spare_the_scan if {
	count(policy.deny) == 0 with input as {"object": service("LoadBalancer"), "environment": "prod"}
		with data.inventory as inventory
		with data.tollgate.namespaces as {"shop-prod": {"image_names": ["web"]}}
	count(policy.deny) == 1 with input as {"object": service("LoadBalancer"), "environment": "prod"}
		with data.inventory as inventory
		with data.tollgate.namespaces as {"shop-prod": {"image_names": ["adminer"]}}
}
