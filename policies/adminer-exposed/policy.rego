# METADATA
# title: Adminer reachable from outside in production
# description: |
#   In a production environment, a `Service` of type `LoadBalancer` or `NodePort`, an
#   `Ingress` backend or a Traefik `IngressRoute` service that leads to pods running
#   Adminer (an image named `adminer`). The Service's selector is matched against the pod
#   templates of the namespace's workloads in the inventory; a backend Service that is not
#   in the inventory counts when its name contains `adminer`.
#
#   ### Why
#
#   Adminer is a one-file database administration UI. Reachable from outside the cluster, it
#   hands anyone who guesses or phishes one database password full control over the data,
#   and it has had serious vulnerabilities of its own (SSRF, file disclosure). It belongs
#   behind `kubectl port-forward`, not on the internet.
#
#   ### Failing example
#
#   ```yaml
#   apiVersion: v1
#   kind: Service
#   metadata:
#     name: adminer
#     namespace: shop-prod
#   spec:
#     type: LoadBalancer
#     selector: {app: adminer}
#     ports: [{port: 80, targetPort: 8080}]
#   ```
#
#   ### Passing example
#
#   ```yaml
#   apiVersion: v1
#   kind: Service
#   metadata:
#     name: adminer
#     namespace: shop-prod
#   spec:
#     type: ClusterIP   # reach it with kubectl port-forward svc/adminer 8080:80
#     selector: {app: adminer}
#     ports: [{port: 80, targetPort: 8080}]
#   ```
#
#   ### Remediation
#
#   Remove the Ingress route or make the Service `ClusterIP`, and use
#   `kubectl port-forward` when a person needs the UI; better, do not run Adminer in
#   production at all.
#
#   ### Configuration
#
#   Production environments are `prod`, `production` and `prd` (see
#   `policies/lib/environment.rego`).
# custom:
#   id: adminer-exposed
#   kinds: [Service, Ingress, IngressRoute]
#   inventory_kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, Service]
#   severity: high
#   remediation: Do not expose Adminer; use kubectl port-forward to reach it when needed.
#   tags: [network, databases, environments]
package tollgate.adminer_exposed

import rego.v1

import data.tollgate.lib.environment
import data.tollgate.lib.kubernetes

obj := input.object

namespace := kubernetes.namespace_of(obj)

# Pods of some workload of the namespace that run Adminer, by their labels.
adminer_pod_labels contains labels if {
	some kind in kubernetes.workload_kinds
	some version, name
	workload := data.inventory.namespace[namespace][version][kind][name]
	some container in kubernetes.containers(workload)
	startswith(kubernetes.image_name(container.image), "adminer")
	labels := kubernetes.pod_labels(workload)
}

# Whether the namespace may run Adminer: the image names tollgate lists per namespace
# (data.tollgate.namespaces[ns].image_names) spare looking at every workload for each Service.
namespace_may_run_adminer if not data.tollgate.namespaces[namespace].image_names

namespace_may_run_adminer if {
	strings.any_prefix_match(data.tollgate.namespaces[namespace].image_names, "adminer")
}

# A Service selecting Adminer pods.
leads_to_adminer(service) if {
	namespace_may_run_adminer
	some labels in adminer_pod_labels
	kubernetes.service_selects(object.get(service, ["spec", "selector"], {}), labels)
}

# The Services of the namespace called `name`.
services_named(name) := [service |
	some version
	service := data.inventory.namespace[namespace][version].Service[name]
]

# A Service of the namespace, by name, leading to Adminer; an unknown one by its name.
service_leads_to_adminer(name) if {
	some service in services_named(name)
	leads_to_adminer(service)
}

service_leads_to_adminer(name) if {
	count(services_named(name)) == 0
	contains(lower(name), "adminer")
}

deny contains {"msg": msg, "path": ["spec", "type"]} if {
	environment.is_production(input.environment)
	obj.kind == "Service"
	obj.spec.type in {"LoadBalancer", "NodePort"}
	leads_to_adminer(obj)
	msg := sprintf(
		"Service %s (%s) exposes Adminer outside the cluster in %s",
		[obj.metadata.name, obj.spec.type, input.environment],
	)
}

# Backends of an Ingress: (path to the service name, service name).
backends contains [["spec", "rules", i, "http", "paths", j, "backend", "service", "name"], name] if {
	some i, rule in obj.spec.rules
	some j, p in rule.http.paths
	name := p.backend.service.name
}

backends contains [["spec", "rules", i, "http", "paths", j, "backend", "serviceName"], name] if {
	some i, rule in obj.spec.rules
	some j, p in rule.http.paths
	name := p.backend.serviceName
}

backends contains [["spec", "defaultBackend", "service", "name"], name] if {
	name := obj.spec.defaultBackend.service.name
}

deny contains {"msg": msg, "path": path} if {
	environment.is_production(input.environment)
	obj.kind == "Ingress"
	some [path, name] in backends
	service_leads_to_adminer(name)
	msg := sprintf(
		"Ingress %s routes to Service %s, which runs Adminer, in %s",
		[obj.metadata.name, name, input.environment],
	)
}

deny contains {"msg": msg, "path": ["spec", "routes", i, "services", j, "name"]} if {
	environment.is_production(input.environment)
	obj.kind == "IngressRoute"
	some i, route in obj.spec.routes
	some j, service in route.services
	object.get(service, "kind", "Service") == "Service"
	service_leads_to_adminer(service.name)
	msg := sprintf(
		"IngressRoute %s routes to Service %s, which runs Adminer, in %s",
		[obj.metadata.name, service.name, input.environment],
	)
}
