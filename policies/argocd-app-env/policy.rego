# METADATA
# title: Argo CD Application deploying into another environment
# description: |
#   An Argo CD `Application` whose name or project says one environment (by the namespace
#   globs, `shop-prod`, or a part equal to an environment's name, `prod-eu-shop`) while its
#   destination namespace or cluster belongs to another. The destination namespace's
#   environment comes from its Namespace object's label when the inventory has it, else from
#   the namespace globs; the destination cluster's (`name` or `server`) from the cluster
#   globs of `environments:`.
#
#   ### Why
#
#   Applications are usually copied from one environment to the next. A copy that keeps the
#   old destination deploys dev builds into production, or points a production app at a dev
#   cluster; Argo CD syncs it without asking.
#
#   ### Failing example
#
#   ```yaml
#   apiVersion: argoproj.io/v1alpha1
#   kind: Application
#   metadata:
#     name: shop-dev
#     namespace: argocd
#   spec:
#     project: shop
#     destination:
#       server: https://kubernetes.default.svc
#       namespace: shop-prod
#   ```
#
#   ### Passing example
#
#   ```yaml
#   apiVersion: argoproj.io/v1alpha1
#   kind: Application
#   metadata:
#     name: shop-dev
#     namespace: argocd
#   spec:
#     project: shop
#     destination:
#       server: https://kubernetes.default.svc
#       namespace: shop-dev
#   ```
#
#   ### Remediation
#
#   Fix the destination (or the name/project, if they are what is wrong). Argo CD
#   `AppProject`s with `destinations` restricted per environment prevent it for good.
#
#   ### Configuration
#
#   Reads `environments:` of tollgate.yaml (namespace and cluster globs, in order).
# custom:
#   id: argocd-app-env
#   kinds: [Application]
#   severity: high
#   remediation: Make the destination namespace and cluster belong to the environment the Application is for.
#   tags: [argocd, gitops, environments]
package tollgate.argocd_app_env

import rego.v1

import data.tollgate.lib.environment

obj := input.object

is_application if {
	obj.kind == "Application"
	startswith(obj.apiVersion, "argoproj.io/")
}

# Environments the Application claims, with what claims it.
claims contains [env, sprintf("name %s", [obj.metadata.name])] if {
	env := environment.of_name(obj.metadata.name)
}

claims contains [env, sprintf("project %s", [obj.spec.project])] if {
	env := environment.of_name(obj.spec.project)
}

# Environments of the destination, with the path of the field that says it.
destinations contains [env, ["spec", "destination", "namespace"], sprintf("namespace %s", [ns])] if {
	ns := obj.spec.destination.namespace
	env := environment.of_namespace(ns)
}

destinations contains [env, ["spec", "destination", field], sprintf("cluster %s", [cluster])] if {
	some field in ["name", "server"]
	cluster := obj.spec.destination[field]
	env := environment.of_cluster(cluster)
}

deny contains {"msg": msg, "path": path} if {
	is_application
	some [claimed, claimant] in claims
	some [actual, path, target] in destinations
	claimed != actual
	msg := sprintf(
		"Application %s: its %s says %s, but it deploys to %s of %s",
		[obj.metadata.name, claimant, claimed, target, actual],
	)
}
