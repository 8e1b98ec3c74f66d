# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_default_namespace[msg] {
	input.metadata.namespace == "default"
	msg := sprintf("%s %s is in the default namespace", [input.kind, lib.name])
}
