package tollgate.ingress_tls_test

import rego.v1

import data.tollgate.ingress_tls

ingress(spec) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {"name": "shop", "namespace": "shop-prod"},
	"spec": spec,
}

rules := [{"host": "shop.example.com"}, {"host": "api.example.com"}]

test_ingress_without_tls if {
	results := ingress_tls.deny with input as {"object": ingress({"rules": rules})}
	count(results) == 1
	some r in results
	r.path == ["spec"]
}

test_ingress_with_tls_for_every_host if {
	spec := {"rules": rules, "tls": [{"hosts": ["shop.example.com", "api.example.com"], "secretName": "t"}]}
	count(ingress_tls.deny) == 0 with input as {"object": ingress(spec)}
}

test_wildcard_certificate_covers_one_level if {
	spec := {"rules": rules, "tls": [{"hosts": ["*.example.com"]}]}
	count(ingress_tls.deny) == 0 with input as {"object": ingress(spec)}
	deep := {"rules": [{"host": "a.b.example.com"}], "tls": [{"hosts": ["*.example.com"]}]}
	count(ingress_tls.deny) == 1 with input as {"object": ingress(deep)}
}

test_host_missing_from_tls_points_at_the_host if {
	spec := {"rules": rules, "tls": [{"hosts": ["shop.example.com"]}]}
	results := ingress_tls.deny with input as {"object": ingress(spec)}
	{r.path | some r in results} == {["spec", "rules", 1, "host"]}
}

test_traefik_router_tls_annotation if {
	obj := object.union(ingress({"rules": rules}), {"metadata": {
		"name": "shop",
		"annotations": {"traefik.ingress.kubernetes.io/router.tls": "true"},
	}})
	count(ingress_tls.deny) == 0 with input as {"object": obj}
}

route(spec) := {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": "r"}, "spec": spec}

test_ingress_route_without_tls if {
	spec := {"entryPoints": ["web"], "routes": [{"match": "Host(`a`)", "services": [{"name": "a"}]}]}
	count(ingress_tls.deny) == 1 with input as {"object": route(spec)}
}

test_ingress_route_that_only_redirects if {
	spec := {"routes": [{"match": "Host(`a`)", "middlewares": [{"name": "redirect-https"}]}]}
	count(ingress_tls.deny) == 0 with input as {"object": route(spec)}
}

test_ingress_route_with_tls if {
	spec := {"routes": [{"match": "Host(`a`)"}], "tls": {"certResolver": "le"}}
	count(ingress_tls.deny) == 0 with input as {"object": route(spec)}
}

test_other_kinds_are_ignored if {
	count(ingress_tls.deny) == 0 with input as {"object": {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "s"}}}
}
