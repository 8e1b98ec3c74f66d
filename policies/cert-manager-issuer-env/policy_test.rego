package tollgate.cert_manager_issuer_env_test

import rego.v1

import data.tollgate.cert_manager_issuer_env as policy

certificate(issuer_name) := {
	"apiVersion": "cert-manager.io/v1",
	"kind": "Certificate",
	"metadata": {"name": "shop", "namespace": "shop-prod"},
	"spec": {
		"secretName": "shop-tls",
		"dnsNames": ["shop.example.com"],
		"issuerRef": {"kind": "ClusterIssuer", "name": issuer_name},
	},
}

internal_certificate(issuer_name) := object.union(
	certificate(issuer_name),
	{"spec": {"dnsNames": ["webhook", "webhook.shop-prod.svc", "webhook.shop-prod.svc.cluster.local"]}},
)

inventory := {"cluster": {"cert-manager.io/v1": {"ClusterIssuer": {
	"acme": {"spec": {"acme": {"server": "https://acme-staging-v02.api.letsencrypt.org/directory"}}},
	"public": {"spec": {"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory"}}},
	"ca-root": {"spec": {"selfSigned": {}}},
}}}}

test_staging_issuer_from_the_inventory if {
	results := policy.deny with input as {"object": certificate("acme"), "environment": "prod"}
		with data.inventory as inventory
	count(results) == 1
	some r in results
	contains(r.msg, "ACME staging issuer")
	r.path == ["spec", "issuerRef", "name"]
}

test_production_issuer_passes if {
	count(policy.deny) == 0 with input as {"object": certificate("public"), "environment": "prod"}
		with data.inventory as inventory
}

test_self_signed_issuer if {
	count(policy.deny) == 1 with input as {"object": certificate("ca-root"), "environment": "prod"}
		with data.inventory as inventory
}

test_ca_bootstrap_certificate_passes if {
	ca := object.union(certificate("ca-root"), {"spec": {"isCA": true}})
	count(policy.deny) == 0 with input as {"object": ca, "environment": "prod"}
		with data.inventory as inventory
}

test_unknown_issuer_judged_by_name if {
	count(policy.deny) == 1 with input as {"object": certificate("letsencrypt-staging"), "environment": "prod"}
		with data.inventory as {}
	count(policy.deny) == 0 with input as {"object": certificate("letsencrypt"), "environment": "prod"}
		with data.inventory as {}
}

test_dev_may_use_staging if {
	count(policy.deny) == 0 with input as {"object": certificate("acme"), "environment": "dev"}
		with data.inventory as inventory
}

test_ingress_annotation if {
	ingress := {
		"apiVersion": "networking.k8s.io/v1",
		"kind": "Ingress",
		"metadata": {
			"name": "shop",
			"namespace": "shop-prod",
			"annotations": {"cert-manager.io/cluster-issuer": "acme"},
		},
	}
	results := policy.deny with input as {"object": ingress, "environment": "prod"}
		with data.inventory as inventory
	{r.path | some r in results} == {["metadata", "annotations", "cert-manager.io/cluster-issuer"]}
}

test_cluster_internal_certificate_passes if {
	count(policy.deny) == 0 with input as {"object": internal_certificate("ca-root"), "environment": "prod"}
		with data.inventory as inventory
}

test_internal_names_served_by_an_ingress_are_reported if {
	served := object.union(inventory, {"namespace": {"shop-prod": {"networking.k8s.io/v1": {"Ingress": {"shop": {
		"metadata": {"name": "shop", "namespace": "shop-prod"},
		"spec": {"tls": [{"secretName": "shop-tls"}]},
	}}}}}})
	results := policy.deny with input as {"object": internal_certificate("ca-root"), "environment": "prod"}
		with data.inventory as served
	count(results) == 1
	some r in results
	contains(r.msg, "used by Ingress shop")
}
