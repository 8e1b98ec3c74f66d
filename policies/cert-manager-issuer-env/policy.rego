# METADATA
# title: Production certificate from a staging or self-signed issuer
# description: |
#   A cert-manager `Certificate`, or an `Ingress` with a `cert-manager.io/cluster-issuer` or
#   `cert-manager.io/issuer` annotation, in a production environment whose issuer is Let's
#   Encrypt staging or self-signed. The issuer is looked up in the inventory (an ACME server
#   URL containing `staging`, or `spec.selfSigned`); when it is not there, its name decides
#   (`letsencrypt-staging`, `selfsigned-issuer`). A `Certificate` with `isCA: true` (the
#   usual bootstrap of a private CA) is not reported.
#
#   Only certificates that serve traffic from outside the cluster matter, since only
#   outside clients (browsers, partners) refuse a certificate they cannot trust:
#
#   - an `Ingress` asking cert-manager for its certificate (the annotations above) always
#     serves outside traffic;
#   - a `Certificate` counts when its `secretName` is used by an `Ingress` (`spec.tls[]`), a
#     Gateway API `Gateway` listener (`tls.certificateRefs[]`, same namespace or naming it) or
#     a Traefik `IngressRoute`/`IngressRouteTCP` (`spec.tls.secretName`) of its namespace, or
#     when one of its `dnsNames` (or its `commonName`) is not cluster-internal.
#
#   Cluster-internal names are `*.svc`, `*.svc.<domain>`, `*.cluster.local` and bare names
#   without a dot (`webhook`, `localhost`). A self-signed or private CA chain for admission
#   webhooks, operators and mTLS inside the cluster (`webhook.cert-manager.svc`,
#   `*.db.svc.cluster.local`, certificates with only `uris` or `ipAddresses`) is correct there
#   and is not reported.
#
#   ### Why
#
#   Staging and self-signed certificates are not trusted by browsers or clients: a production
#   site behind one shows certificate errors, and users learn to click through warnings.
#   It usually happens when a manifest is promoted from a dev overlay without switching the
#   issuer.
#
#   ### Failing example
#
#   ```yaml
#   apiVersion: cert-manager.io/v1
#   kind: Certificate
#   metadata:
#     name: shop
#     namespace: shop-prod
#   spec:
#     secretName: shop-tls
#     dnsNames: [shop.example.com]
#     issuerRef:
#       kind: ClusterIssuer
#       name: letsencrypt-staging
#   ```
#
#   ### Passing example
#
#   ```yaml
#   apiVersion: cert-manager.io/v1
#   kind: Certificate
#   metadata:
#     name: shop
#     namespace: shop-prod
#   spec:
#     secretName: shop-tls
#     dnsNames: [shop.example.com]
#     issuerRef:
#       kind: ClusterIssuer
#       name: letsencrypt-prod
#   ```
#
#   ### Remediation
#
#   Point `issuerRef` (or the annotation) at the production issuer, e.g. a ClusterIssuer
#   with `server: https://acme-v02.api.letsencrypt.org/directory`.
#
#   ### Configuration
#
#   Production environments are `prod`, `production` and `prd` (see
#   `policies/lib/environment.rego`); which namespaces belong to them comes from
#   `environments:` in tollgate.yaml.
# custom:
#   id: cert-manager-issuer-env
#   kinds: [Certificate, Ingress]
#   inventory_kinds: [Ingress, Gateway, IngressRoute, IngressRouteTCP, ClusterIssuer, Issuer]
#   severity: high
#   remediation: Use the production issuer for certificates of production environments.
#   tags: [tls, cert-manager, environments]
package tollgate.cert_manager_issuer_env

import rego.v1

import data.tollgate.lib.environment

obj := input.object

namespace := object.get(obj, ["metadata", "namespace"], "")

deny contains {"msg": msg, "path": ["spec", "issuerRef", "name"]} if {
	environment.is_production(input.environment)
	obj.kind == "Certificate"
	startswith(obj.apiVersion, "cert-manager.io/")
	not obj.spec.isCA == true
	exposure := externally_served
	ref := obj.spec.issuerRef
	kind := object.get(ref, "kind", "Issuer")
	reason := unsuitable(kind, ref.name)
	msg := sprintf(
		"Certificate %s in %s uses %s %s, %s, and it is served outside the cluster (%s)",
		[obj.metadata.name, input.environment, kind, ref.name, reason, exposure],
	)
}

secret_name := obj.spec.secretName

# How the Certificate reaches clients outside the cluster; undefined when it does not.
externally_served := sprintf("its Secret %s is used by Ingress %s", [secret_name, name]) if {
	some version, name
	ingress := data.inventory.namespace[namespace][version].Ingress[name]
	ingress.spec.tls[_].secretName == secret_name
} else := sprintf("its Secret %s is used by Gateway %s/%s", [secret_name, gw_ns, name]) if {
	some gw_ns, version, name
	startswith(version, "gateway.networking.k8s.io/")
	gateway := data.inventory.namespace[gw_ns][version].Gateway[name]
	ref := gateway.spec.listeners[_].tls.certificateRefs[_]
	ref.name == secret_name
	object.get(ref, "namespace", gw_ns) == namespace
} else := sprintf("its Secret %s is used by %s %s", [secret_name, kind, name]) if {
	some version, kind, name
	traefik_route_kinds[kind]
	route := data.inventory.namespace[namespace][version][kind][name]
	route.spec.tls.secretName == secret_name
} else := sprintf("it names %s", [name]) if {
	some name in certificate_names
	not cluster_internal(name)
}

traefik_route_kinds := {"IngressRoute", "IngressRouteTCP"}

certificate_names contains name if some name in object.get(obj.spec, "dnsNames", [])

certificate_names contains obj.spec.commonName if obj.spec.commonName

# Names that only resolve inside the cluster.
cluster_internal(name) if endswith(name, ".svc")

cluster_internal(name) if contains(name, ".svc.")

cluster_internal(name) if endswith(name, ".cluster.local")

cluster_internal(name) if not contains(name, ".")

annotation_kinds := {
	"cert-manager.io/cluster-issuer": "ClusterIssuer",
	"cert-manager.io/issuer": "Issuer",
}

deny contains {"msg": msg, "path": ["metadata", "annotations", key]} if {
	environment.is_production(input.environment)
	obj.kind == "Ingress"
	some key, kind in annotation_kinds
	name := obj.metadata.annotations[key]
	reason := unsuitable(kind, name)
	msg := sprintf(
		"Ingress %s in %s gets its certificate from %s %s, %s",
		[obj.metadata.name, input.environment, kind, name, reason],
	)
}

# Why the issuer of `kind` called `name` does not suit production, when it does not.
unsuitable(kind, name) := reason if {
	issuer := find_issuer(kind, name)
	reason := issuer_problem(issuer)
} else := reason if {
	not find_issuer(kind, name)
	regex.match(`(?i)staging|self-?signed`, name)
	reason := "which by its name is a staging or self-signed issuer"
}

find_issuer("ClusterIssuer", name) := issuer if {
	some version
	issuer := data.inventory.cluster[version].ClusterIssuer[name]
}

find_issuer("Issuer", name) := issuer if {
	some version
	issuer := data.inventory.namespace[namespace][version].Issuer[name]
}

issuer_problem(issuer) := "a self-signed issuer" if issuer.spec.selfSigned

issuer_problem(issuer) := sprintf("an ACME staging issuer (%s)", [issuer.spec.acme.server]) if {
	contains(issuer.spec.acme.server, "staging")
}
