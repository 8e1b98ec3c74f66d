package main

import rego.v1

import data.lib.k8s as lib

deny_host_ipc contains msg if {
	lib.pod_spec.hostIPC
	msg := sprintf("%s shares the host IPC namespace", [lib.name])
}
