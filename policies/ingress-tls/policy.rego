# METADATA
# title: Ingress without TLS
# description: |
#   An `Ingress` without `spec.tls` (and without Traefik's `router.tls` annotation), an
#   `Ingress` host that no `spec.tls` entry covers, or a Traefik `IngressRoute` without
#   `spec.tls`: traffic to it travels in plain HTTP.
#
#   ### Why
#
#   Without TLS, credentials, session cookies and personal data cross the network readable
#   and modifiable by anyone on the path. Browsers mark such sites as not secure, and HSTS
#   cannot protect them. cert-manager makes certificates free, so there is no reason left.
#
#   A route that only redirects HTTP to HTTPS (every route uses a middleware whose name
#   contains `redirect`) is not reported.
#
#   ### Failing example
#
#   ```yaml
#   apiVersion: networking.k8s.io/v1
#   kind: Ingress
#   metadata:
#     name: shop
#     namespace: shop-prod
#   spec:
#     rules:
#       - host: shop.example.com
#         http:
#           paths:
#             - path: /
#               pathType: Prefix
#               backend: {service: {name: shop, port: {number: 80}}}
#   ```
#
#   ### Passing example
#
#   ```yaml
#   apiVersion: networking.k8s.io/v1
#   kind: Ingress
#   metadata:
#     name: shop
#     namespace: shop-prod
#     annotations:
#       cert-manager.io/cluster-issuer: letsencrypt-prod
#   spec:
#     tls:
#       - hosts: [shop.example.com]
#         secretName: shop-tls
#     rules:
#       - host: shop.example.com
#         http:
#           paths:
#             - path: /
#               pathType: Prefix
#               backend: {service: {name: shop, port: {number: 80}}}
#   ```
#
#   ### Remediation
#
#   Add a `spec.tls` entry listing every host, with a certificate Secret (cert-manager
#   creates it from the `cert-manager.io/cluster-issuer` annotation). For a Traefik
#   `IngressRoute`, add `spec.tls` (`certResolver` or `secretName`). If TLS ends before the
#   cluster (a load balancer terminates it), suppress the finding with
#   `ignore.tollgate.dev/ingress-tls: "<reason>"`.
# custom:
#   id: ingress-tls
#   kinds: [Ingress, IngressRoute]
#   severity: medium
#   remediation: Add spec.tls covering every host (cert-manager can issue the certificate).
#   tags: [network, tls]
package tollgate.ingress_tls

import rego.v1

obj := input.object

is_ingress if {
	obj.kind == "Ingress"
	obj.apiVersion in {"networking.k8s.io/v1", "networking.k8s.io/v1beta1", "extensions/v1beta1"}
}

is_ingress_route if {
	obj.kind == "IngressRoute"
	startswith(obj.apiVersion, "traefik.")
}

# Traefik terminates TLS for an Ingress with this annotation (with its default certificate).
traefik_tls if {
	annotation := obj.metadata.annotations["traefik.ingress.kubernetes.io/router.tls"]
	lower(annotation) == "true"
}

deny contains {"msg": msg, "path": ["spec"]} if {
	is_ingress
	not obj.spec.tls
	not traefik_tls
	msg := sprintf("Ingress %s serves plain HTTP: it has no spec.tls", [obj.metadata.name])
}

deny contains {"msg": msg, "path": ["spec", "rules", i, "host"]} if {
	is_ingress
	obj.spec.tls
	some i, rule in obj.spec.rules
	not covered(rule.host)
	msg := sprintf(
		"Ingress %s: host %s is in no spec.tls entry, so it is served over plain HTTP",
		[obj.metadata.name, rule.host],
	)
}

# A tls entry without hosts covers every host.
covered(host) if {
	some entry in obj.spec.tls
	not entry.hosts
}

covered(host) if {
	some entry in obj.spec.tls
	some pattern in entry.hosts
	host_matches(pattern, host)
}

host_matches(pattern, host) if pattern == host

host_matches(pattern, host) if {
	startswith(pattern, "*.")
	endswith(host, substring(pattern, 1, -1))
	count(split(host, ".")) == count(split(pattern, "."))
}

deny contains {"msg": msg, "path": ["spec"]} if {
	is_ingress_route
	not obj.spec.tls
	not redirect_only
	msg := sprintf("IngressRoute %s has no spec.tls: Traefik serves it over plain HTTP", [obj.metadata.name])
}

# Every route only redirects (to HTTPS) through a middleware named like it.
redirect_only if {
	count(obj.spec.routes) > 0
	every route in obj.spec.routes {
		some middleware in route.middlewares
		contains(lower(middleware.name), "redirect")
	}
}
