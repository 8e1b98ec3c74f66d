package main

import rego.v1

import data.lib.k8s as lib

deny_host_network contains msg if {
	lib.pod_spec.hostNetwork
	msg := sprintf("%s uses the host network", [lib.name])
}
