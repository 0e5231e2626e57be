package kubernetes.ingress

import rego.v1

deny_no_tls contains msg if {
	input.kind == "Ingress"
	count(object.get(input.spec, "tls", [])) == 0
	msg := sprintf("Ingress %s serves without TLS", [input.metadata.name])
}

deny_host contains msg if {
	input.kind == "Ingress"
	some rule in input.spec.rules
	not regex.match(`^[a-z0-9-]+\.example\.com$`, object.get(rule, "host", ""))
	msg := sprintf("Ingress %s: host %q is outside example.com", [input.metadata.name, object.get(rule, "host", "")])
}

warn_path_type contains msg if {
	input.kind == "Ingress"
	some rule in input.spec.rules
	some path in rule.http.paths
	path.pathType == "ImplementationSpecific"
	msg := concat(" ", ["Ingress", input.metadata.name, "uses pathType ImplementationSpecific on", path.path])
}
