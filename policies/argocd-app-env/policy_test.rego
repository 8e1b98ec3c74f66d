package tollgate.argocd_app_env_test

import rego.v1

import data.tollgate.argocd_app_env as policy

environments := [
	{"name": "prod", "namespaces": ["*-prod"], "clusters": ["production", "https://prod.*"]},
	{"name": "dev", "namespaces": ["*-dev"], "clusters": ["development-*"]},
]

app(name, project, destination) := {
	"apiVersion": "argoproj.io/v1alpha1",
	"kind": "Application",
	"metadata": {"name": name, "namespace": "argocd"},
	"spec": {"project": project, "destination": destination},
}

deny(application) := results if {
	results := policy.deny with input as {"object": application}
		with data.tollgate.environments as environments
		with data.tollgate.namespaces as {"payments": {"environment": "prod"}}
}

test_dev_app_into_prod_namespace if {
	results := deny(app("shop-dev", "shop", {"namespace": "shop-prod"}))
	{r.path | some r in results} == {["spec", "destination", "namespace"]}
}

test_matching_environments_pass if {
	count(deny(app("shop-dev", "shop", {"namespace": "shop-dev", "name": "development-a"}))) == 0
}

test_project_says_prod_cluster_is_dev if {
	results := deny(app("shop", "shop-prod", {"name": "development-a", "namespace": "shop-prod"}))
	{r.path | some r in results} == {["spec", "destination", "name"]}
}

test_environment_as_a_name_part if {
	count(deny(app("prod.shop", "default", {"namespace": "shop-dev"}))) == 1
}

test_namespace_label_wins_over_globs if {
	count(deny(app("payments-dev", "default", {"namespace": "payments"}))) == 1
}

test_server_url_globs if {
	count(deny(app("shop-dev", "default", {"server": "https://prod.k8s.example.com"}))) == 1
}

test_unknown_environments_are_not_judged if {
	count(deny(app("tools", "default", {"namespace": "monitoring"}))) == 0
}
