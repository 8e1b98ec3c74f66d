package main

import rego.v1

import data.lib.k8s as lib

deny_latest_tag contains msg if {
	some c in lib.containers
	endswith(c.image, ":latest")
	msg := sprintf("%s: container %s uses the latest tag", [lib.name, c.name])
}
