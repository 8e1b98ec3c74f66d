# METADATA
# title: Ingress without TLS
# custom:
#   id: ingress-tls
#   severity: medium
package tollgate.ingress_tls

import rego.v1

deny contains {"msg": msg, "path": ["spec"]} if {
	input.object.kind == "Ingress"
	not input.object.spec.tls
	msg := sprintf("Ingress %s has no TLS", [input.object.metadata.name])
}
