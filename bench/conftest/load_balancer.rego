# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_load_balancer[msg] {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s is a LoadBalancer", [lib.name])
}
