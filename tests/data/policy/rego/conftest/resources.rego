# Structured results: violation objects with msg and details.
package kubernetes.resources

import data.lib.k8s
import rego.v1

max_memory := units.parse_bytes("2Gi")

violation contains {"msg": msg, "details": {"container": c.name}} if {
	some c in k8s.containers(input)
	not c.resources.limits.memory
	msg := sprintf("container %s has no memory limit", [c.name])
}

violation contains {"msg": msg, "details": {"container": c.name, "limit": c.resources.limits.memory}} if {
	some c in k8s.containers(input)
	units.parse_bytes(c.resources.limits.memory) > max_memory
	msg := sprintf("container %s asks for more than 2Gi of memory (%s)", [c.name, c.resources.limits.memory])
}

warn_cpu contains {"msg": sprintf("container %s has no cpu request", [c.name])} if {
	some c in k8s.containers(input)
	not c.resources.requests.cpu
}
