# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_ingress_without_tls[msg] {
	input.kind == "Ingress"
	not input.spec.tls
	msg := sprintf("Ingress %s has no TLS", [lib.name])
}
