package kubernetes.probes

import data.lib.k8s
import rego.v1

warn_liveness contains msg if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet"}
	some c in input.spec.template.spec.containers
	not c.livenessProbe
	msg := sprintf("%s: container %s has no livenessProbe", [k8s.name(input), c.name])
}

warn_readiness contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	some c in input.spec.template.spec.containers
	not c.readinessProbe
	msg := sprintf("%s: container %s has no readinessProbe", [k8s.name(input), c.name])
}
