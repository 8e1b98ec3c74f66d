# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_node_port[msg] {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("Service %s is a NodePort", [lib.name])
}
