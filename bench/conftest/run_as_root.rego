package main

import rego.v1

import data.lib.k8s as lib

deny_run_as_root contains msg if {
	not lib.pod_spec.securityContext.runAsNonRoot
	some c in lib.containers
	not c.securityContext.runAsNonRoot
	msg := sprintf("%s: container %s may run as root", [lib.name, c.name])
}
