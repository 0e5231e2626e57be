# exception rules: conftest skips a check that an exception names.
package kubernetes.services

import rego.v1

deny_nodeport contains msg if {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("Service %s must not be a NodePort", [input.metadata.name])
}

deny_loadbalancer contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s must not be a LoadBalancer", [input.metadata.name])
}

exception contains rules if {
	input.kind == "Service"
	input.metadata.annotations["policy.example.com/allow-nodeport"] == "true"
	rules := ["nodeport"]
}
