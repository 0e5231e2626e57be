# conftest's own first example: Deployments run as non-root and select on app.
package main

import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := "Containers must not run as root"
}

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.selector.matchLabels.app
	msg := "Containers must provide app label for pod selectors"
}
