# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_no_readiness[msg] {
	c := lib.pod_spec.containers[_]
	not c.readinessProbe
	msg := sprintf("%s: container %s has no readiness probe", [lib.name, c.name])
}
