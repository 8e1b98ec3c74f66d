package main

import rego.v1

import data.lib.k8s as lib

deny_writable_root contains msg if {
	some c in lib.containers
	not c.securityContext.readOnlyRootFilesystem
	msg := sprintf("%s: container %s has a writable root filesystem", [lib.name, c.name])
}
