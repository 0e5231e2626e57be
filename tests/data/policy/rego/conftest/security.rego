package kubernetes.security

import data.lib.k8s
import rego.v1

dangerous_caps := {"SYS_ADMIN", "NET_ADMIN", "ALL"}

deny_privileged contains msg if {
	some c in k8s.containers(input)
	c.securityContext.privileged == true
	msg := sprintf("%s: container %s is privileged", [k8s.name(input), c.name])
}

deny_capabilities contains msg if {
	some c in k8s.containers(input)
	some cap in c.securityContext.capabilities.add
	upper(cap) in dangerous_caps
	msg := sprintf("%s: container %s adds capability %s", [k8s.name(input), c.name, cap])
}

deny_host_path contains msg if {
	some v in k8s.pod_spec(input).volumes
	v.hostPath
	msg := sprintf("%s: volume %s mounts the host path %s", [k8s.name(input), v.name, v.hostPath.path])
}

warn_read_only_root contains msg if {
	some c in k8s.containers(input)
	not c.securityContext.readOnlyRootFilesystem
	msg := sprintf("%s: container %s has a writable root filesystem", [k8s.name(input), c.name])
}

deny_drop_all contains msg if {
	input.kind == "Pod"
	not every_container_drops_all
	msg := "every container of a Pod must drop ALL capabilities"
}

every_container_drops_all if {
	every c in input.spec.containers {
		"ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
	}
}
