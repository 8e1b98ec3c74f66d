# METADATA
# title: Production workload without a PodDisruptionBudget
# description: |
#   A `Deployment` or `StatefulSet` in a production environment that runs more than one
#   replica (`spec.replicas`, or `minReplicas` of a HorizontalPodAutoscaler that scales it)
#   while no `PodDisruptionBudget` of its namespace selects its pods.
#
#   ### Why
#
#   Node drains (K3s upgrades, kured reboots, autoscaler scale-downs) evict pods without
#   looking at the application. Without a PodDisruptionBudget every replica may be evicted at
#   once, and a service that was built to stay up with two replicas goes down anyway.
#
#   ### Failing example
#
#   ```yaml
#   apiVersion: apps/v1
#   kind: Deployment
#   metadata:
#     name: api
#     namespace: shop-prod
#   spec:
#     replicas: 3
#     selector: {matchLabels: {app: api}}
#     template:
#       metadata: {labels: {app: api}}
#       spec:
#         containers: [{name: api, image: harbor.example.com/shop/api:1.4.2}]
#   ```
#
#   ### Passing example
#
#   ```yaml
#   apiVersion: policy/v1
#   kind: PodDisruptionBudget
#   metadata:
#     name: api
#     namespace: shop-prod
#   spec:
#     maxUnavailable: 1
#     selector: {matchLabels: {app: api}}
#   ```
#
#   (beside the Deployment above)
#
#   ### Remediation
#
#   Add a PodDisruptionBudget with `maxUnavailable: 1` (or `minAvailable`) whose selector
#   matches the workload's pod labels.
#
#   ### Configuration
#
#   Production environments are `prod`, `production` and `prd` (see
#   `policies/lib/environment.rego`).
# custom:
#   id: pdb-missing
#   kinds: [Deployment, StatefulSet]
#   inventory_kinds: [PodDisruptionBudget, HorizontalPodAutoscaler]
#   severity: medium
#   remediation: Add a PodDisruptionBudget (maxUnavailable 1) selecting the workload's pods.
#   tags: [availability, environments]
package tollgate.pdb_missing

import rego.v1

import data.tollgate.lib.environment
import data.tollgate.lib.kubernetes

obj := input.object

namespace := kubernetes.namespace_of(obj)

replicas := obj.spec.replicas

# Replicas an autoscaler keeps at least.
autoscaled_minimum := max([min_replicas |
	some hpa in kubernetes.in_namespace(namespace, "HorizontalPodAutoscaler")
	hpa.spec.scaleTargetRef.kind == obj.kind
	hpa.spec.scaleTargetRef.name == obj.metadata.name
	min_replicas := object.get(hpa.spec, "minReplicas", 1)
])

labels := kubernetes.pod_labels(obj)

# A PodDisruptionBudget selects the pods: the one named like the workload first (the usual
# convention, one lookup), else any of the namespace.
protected := true if {
	some version
	pdb := data.inventory.namespace[namespace][version].PodDisruptionBudget[obj.metadata.name]
	kubernetes.selects(object.get(pdb.spec, "selector", {}), labels)
} else := true if {
	some version, name
	pdb := data.inventory.namespace[namespace][version].PodDisruptionBudget[name]
	kubernetes.selects(object.get(pdb.spec, "selector", {}), labels)
}

deny contains {"msg": msg, "path": ["spec", "replicas"]} if {
	environment.is_production(input.environment)
	obj.kind in {"Deployment", "StatefulSet"}
	replicas > 1
	not protected
	msg := sprintf(
		"%s %s runs %d replicas in %s but no PodDisruptionBudget selects its pods",
		[obj.kind, obj.metadata.name, replicas, input.environment],
	)
}

deny contains {"msg": msg, "path": ["spec"]} if {
	environment.is_production(input.environment)
	obj.kind in {"Deployment", "StatefulSet"}
	not replicas
	autoscaled_minimum > 1
	not protected
	msg := sprintf(
		"%s %s runs at least %d replicas (HorizontalPodAutoscaler) in %s but no PodDisruptionBudget selects its pods",
		[obj.kind, obj.metadata.name, autoscaled_minimum, input.environment],
	)
}
