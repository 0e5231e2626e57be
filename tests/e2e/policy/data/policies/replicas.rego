# A single replica is a warning (conftest style).
package main

import rego.v1

warn contains msg if {
	input.kind == "Deployment"
	input.spec.replicas < 2
	msg := sprintf("%s runs a single replica", [input.metadata.name])
}
