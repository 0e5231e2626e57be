package kubernetes.namespaces

import rego.v1

namespaced_kinds := {"Deployment", "Service", "ConfigMap", "Pod", "Ingress", "StatefulSet", "CronJob", "Secret"}

deny_default_namespace contains msg if {
	input.kind in namespaced_kinds
	object.get(input.metadata, "namespace", "default") == "default"
	msg := sprintf("%s %s is in the default namespace", [input.kind, input.metadata.name])
}

deny_name_length contains msg if {
	count(input.metadata.name) > 40
	msg := sprintf("name %s is longer than 40 characters", [input.metadata.name])
}
