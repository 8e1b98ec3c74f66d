package main

import rego.v1

import data.lib.k8s as lib

deny_privileged contains msg if {
	some c in lib.containers
	c.securityContext.privileged
	msg := sprintf("%s: container %s is privileged", [lib.name, c.name])
}
