# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_missing_owner[msg] {
	lib.pod_spec
	not input.metadata.labels.owner
	not input.metadata.labels.team
	msg := sprintf("%s has no owner or team label", [lib.name])
}
