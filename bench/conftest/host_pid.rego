package main

import rego.v1

import data.lib.k8s as lib

deny_host_pid contains msg if {
	lib.pod_spec.hostPID
	msg := sprintf("%s shares the host PID namespace", [lib.name])
}
