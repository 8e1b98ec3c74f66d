package tollgate.pdb_missing_test

import rego.v1

import data.tollgate.pdb_missing as policy

deployment(replicas) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "shop-prod"},
	"spec": {
		"replicas": replicas,
		"template": {"metadata": {"labels": {"app": "api", "tier": "backend"}}},
	},
}

pdb(selector) := {"spec": {"maxUnavailable": 1, "selector": selector}}

with_pdbs(pdbs) := {"namespace": {"shop-prod": {"policy/v1": {"PodDisruptionBudget": pdbs}}}}

deny(obj, inventory) := results if {
	results := policy.deny with input as {"object": obj, "environment": "prod"}
		with data.inventory as inventory
}

test_replicated_without_pdb if {
	results := deny(deployment(3), {})
	{r.path | some r in results} == {["spec", "replicas"]}
}

test_single_replica_passes if {
	count(deny(deployment(1), {})) == 0
}

test_pdb_selecting_the_pods_passes if {
	count(deny(deployment(3), with_pdbs({"api": pdb({"matchLabels": {"app": "api"}})}))) == 0
}

test_pdb_with_expressions if {
	selector := {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}]}
	count(deny(deployment(3), with_pdbs({"backend": pdb(selector)}))) == 0
	other := {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["backend"]}]}
	count(deny(deployment(3), with_pdbs({"other": pdb(other)}))) == 1
}

test_pdb_for_other_pods_does_not_count if {
	count(deny(deployment(3), with_pdbs({"web": pdb({"matchLabels": {"app": "web"}})}))) == 1
}

test_autoscaled_workload if {
	obj := json.remove(deployment(0), ["spec/replicas"])
	hpa := {"spec": {"minReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "api"}}}
	inventory := {"namespace": {"shop-prod": {"autoscaling/v2": {"HorizontalPodAutoscaler": {"api": hpa}}}}}
	count(deny(obj, inventory)) == 1
}

test_dev_is_not_checked if {
	count(policy.deny) == 0 with input as {"object": deployment(3), "environment": "dev"}
		with data.inventory as {}
}
