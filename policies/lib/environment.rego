# METADATA
# title: Environment helpers for tollgate policies
# description: |
#   Environments as tollgate sees them (`environments:` of tollgate.yaml, or the defaults:
#   `*-prod` → prod, `*-staging` → staging, `*-dev` → dev…), from `data.tollgate`, which
#   tollgate fills for every scan. Policies that import `data.tollgate.lib.environment` need
#   this file: copy it with them.
package tollgate.lib.environment

import rego.v1

# Environment names that count as production.
production := {"prod", "production", "prd"}

is_production(env) if env in production

# The environment of a namespace: its Namespace object's `environment`/`env` label, else
# the first environment whose namespace globs match its name.
of_namespace(ns) := env if {
	env := data.tollgate.namespaces[ns].environment
	is_string(env)
} else := env if {
	env := first_match(ns, "namespaces")
}

# The environment of a cluster (kube context or Argo CD cluster name) by the cluster globs.
of_cluster(name) := first_match(name, "clusters")

# The environment a name says it belongs to: the namespace globs (`shop-prod`), else a part
# of the name equal to an environment's name (`prod-eu-shop`, `shop.dev.api`).
of_name(name) := env if {
	env := first_match(name, "namespaces")
} else := env if {
	parts := regex.split(`[-_.]`, name)
	envs := [e.name | some e in data.tollgate.environments; e.name in parts]
	env := envs[0]
}

first_match(name, field) := envs[0] if {
	envs := [e.name |
		some e in data.tollgate.environments
		some pattern in object.get(e, field, [])
		glob.match(pattern, null, name)
	]
	count(envs) > 0
}
