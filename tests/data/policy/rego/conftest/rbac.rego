package kubernetes.rbac

import rego.v1

deny_wildcard_verbs contains msg if {
	input.kind in {"Role", "ClusterRole"}
	some rule in input.rules
	"*" in rule.verbs
	msg := sprintf("%s %s grants every verb on %s", [input.kind, input.metadata.name, concat(",", rule.resources)])
}

deny_secrets_read contains msg if {
	input.kind == "ClusterRole"
	some rule in input.rules
	"secrets" in rule.resources
	some verb in rule.verbs
	verb in {"get", "list", "watch"}
	msg := sprintf("ClusterRole %s can %s secrets cluster-wide", [input.metadata.name, verb])
}

warn_cluster_admin contains msg if {
	input.kind == "ClusterRoleBinding"
	input.roleRef.name == "cluster-admin"
	some subject in input.subjects
	msg := sprintf("%s binds cluster-admin to %s %s", [input.metadata.name, subject.kind, subject.name])
}
