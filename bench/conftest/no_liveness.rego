# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_no_liveness[msg] {
	c := lib.pod_spec.containers[_]
	not c.livenessProbe
	msg := sprintf("%s: container %s has no liveness probe", [lib.name, c.name])
}
