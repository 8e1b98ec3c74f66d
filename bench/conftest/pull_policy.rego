# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_pull_policy[msg] {
	c := lib.containers[_]
	not c.imagePullPolicy == "IfNotPresent"
	not contains(c.image, "@sha256:")
	msg := sprintf("%s: container %s pulls mutable images", [lib.name, c.name])
}
