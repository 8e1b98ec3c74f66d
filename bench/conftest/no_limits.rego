package main

import rego.v1

import data.lib.k8s as lib

deny_no_limits contains msg if {
	some c in lib.containers
	not c.resources.limits.memory
	msg := sprintf("%s: container %s has no memory limit", [lib.name, c.name])
}
