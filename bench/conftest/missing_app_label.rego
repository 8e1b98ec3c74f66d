# Rego v0, as older conftest policies are written.
package main

import data.lib.k8s as lib

deny_missing_app_label[msg] {
	lib.pod_spec
	not input.metadata.labels["app.kubernetes.io/name"]
	not input.metadata.labels.app
	msg := sprintf("%s has no app label", [lib.name])
}
