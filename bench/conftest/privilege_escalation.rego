package main

import rego.v1

import data.lib.k8s as lib

deny_privilege_escalation contains msg if {
	some c in lib.containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s: container %s may escalate privileges", [lib.name, c.name])
}
