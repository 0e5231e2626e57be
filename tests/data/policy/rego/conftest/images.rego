package main

import data.lib.k8s
import rego.v1

deny_latest_tag contains msg if {
	some c in k8s.containers(input)
	endswith(c.image, ":latest")
	msg := sprintf("%s: container %s uses the latest tag", [k8s.name(input), c.name])
}

deny_latest_tag contains msg if {
	some c in k8s.containers(input)
	not contains(c.image, ":")
	not contains(c.image, "@")
	msg := sprintf("%s: container %s has no tag", [k8s.name(input), c.name])
}

warn_registry contains msg if {
	some c in k8s.containers(input)
	not startswith(c.image, "registry.example.com/")
	msg := sprintf("%s: image %q is not from registry.example.com", [k8s.name(input), c.image])
}
