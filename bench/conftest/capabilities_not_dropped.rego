# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_capabilities_not_dropped[msg] {
	c := lib.containers[_]
	not drops_all(c)
	msg := sprintf("%s: container %s does not drop all capabilities", [lib.name, c.name])
}

drops_all(c) {
	upper(c.securityContext.capabilities.drop[_]) == "ALL"
}
