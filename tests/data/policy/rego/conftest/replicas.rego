package kubernetes.replicas

import rego.v1

deny_single_replica contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	object.get(input.spec, "replicas", 1) < 2
	not input.metadata.annotations["policy.example.com/singleton"]
	msg := sprintf("%s %s runs %d replica(s); at least 2 are required", [input.kind, input.metadata.name, object.get(input.spec, "replicas", 1)])
}

warn_many_replicas contains msg if {
	input.spec.replicas > 10
	msg := sprintf("%s %s runs %v replicas", [input.kind, input.metadata.name, input.spec.replicas])
}
