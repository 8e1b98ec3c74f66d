package main

import rego.v1

import data.lib.k8s as lib

deny_no_requests contains msg if {
	some c in lib.containers
	not c.resources.requests.memory
	msg := sprintf("%s: container %s has no memory request", [lib.name, c.name])
}
