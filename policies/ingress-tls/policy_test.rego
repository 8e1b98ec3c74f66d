package tollgate.ingress_tls_test

import rego.v1

import data.tollgate.ingress_tls

test_plain_ingress_is_denied if {
	count(ingress_tls.deny) == 1 with input as {"object": {"kind": "Ingress", "metadata": {"name": "a"}, "spec": {}}}
}
