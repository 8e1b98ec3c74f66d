# METADATA
# title: Kubernetes helpers for tollgate policies
# description: |
#   Pod templates, containers, images and label selectors of the usual workload kinds.
#   Policies that import `data.tollgate.lib.kubernetes` need this file: copy it with them.
package tollgate.lib.kubernetes

import rego.v1

# Kinds that run pods.
workload_kinds := {
	"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
	"ReplicationController", "Job", "CronJob",
}

# The pod template of a workload (the object itself for a Pod).
pod_template(obj) := obj if obj.kind == "Pod"

pod_template(obj) := obj.spec.jobTemplate.spec.template if obj.kind == "CronJob"

pod_template(obj) := obj.spec.template if {
	obj.kind in workload_kinds
	not obj.kind in {"Pod", "CronJob"}
}

# Labels of the pods a workload makes.
pod_labels(obj) := object.get(pod_template(obj), ["metadata", "labels"], {})

# Init and app containers of a workload.
containers(obj) := array.concat(
	object.get(pod_template(obj), ["spec", "initContainers"], []),
	object.get(pod_template(obj), ["spec", "containers"], []),
)

# The repository of an image without registry, tag or digest: `adminer` for
# `harbor.example.com/tools/adminer:4.8.1@sha256:…`.
image_name(image) := name if {
	without_digest := split(image, "@")[0]
	parts := split(without_digest, "/")
	last := parts[count(parts) - 1]
	name := split(last, ":")[0]
}

# A LabelSelector (`matchLabels`, `matchExpressions`) selects `labels`. An empty selector
# selects everything, as in policy/v1 PodDisruptionBudgets.
selects(selector, labels) if {
	every key, value in object.get(selector, "matchLabels", {}) {
		labels[key] == value
	}
	every expression in object.get(selector, "matchExpressions", []) {
		holds(expression, labels)
	}
}

holds(expression, labels) if {
	expression.operator == "In"
	labels[expression.key] in expression.values
}

holds(expression, labels) if {
	expression.operator == "NotIn"
	not labels[expression.key] in expression.values
}

holds(expression, labels) if {
	expression.operator == "Exists"
	_ = labels[expression.key]
}

holds(expression, labels) if {
	expression.operator == "DoesNotExist"
	not has_key(labels, expression.key)
}

has_key(obj, key) if _ = obj[key]

# A Service's plain selector (`spec.selector`) selects `labels`; an empty one selects nothing.
service_selects(selector, labels) if {
	count(selector) > 0
	every key, value in selector {
		labels[key] == value
	}
}

# Objects of `kind` in namespace `ns` of data.inventory, any apiVersion.
in_namespace(ns, kind) := [obj |
	some version, name
	obj := data.inventory.namespace[ns][version][kind][name]
]

# The namespace of an object as data.inventory files it ("" when the manifest names none).
namespace_of(obj) := object.get(obj, ["metadata", "namespace"], "")
