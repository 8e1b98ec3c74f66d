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
	ref := obj.spec.issuerRef
	kind := object.get(ref, "kind", "Issuer")
	reason := unsuitable(kind, ref.name)
	msg := sprintf(
		"Certificate %s in %s uses %s %s, %s",
		[obj.metadata.name, input.environment, kind, ref.name, reason],
	)
}

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
