package kubernetes.labels

import rego.v1

required := {"app.kubernetes.io/name", "app.kubernetes.io/owner"}

warn_missing_labels contains msg if {
	input.metadata
	provided := {label | some label, _ in object.get(input.metadata, "labels", {})}
	missing := required - provided
	count(missing) > 0
	msg := sprintf("%s %s is missing labels: %s", [input.kind, input.metadata.name, concat(", ", sort(missing))])
}

deny_bad_label_value contains msg if {
	some key, value in input.metadata.labels
	not regex.match(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`, value)
	msg := sprintf("label %s has an invalid value %q", [key, value])
}
