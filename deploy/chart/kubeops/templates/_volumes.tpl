{{/*
Each daemon's volumes as a list of {name, mountPath, readOnly, source}: the root
filesystem is read-only, so anything written goes to an emptyDir.
*/}}

{{/* /tmp: temporary files, and the webhook's generated serving certificates. */}}
{{- define "kubeops.volumes.common" -}}
- name: tmp
  mountPath: /tmp
  readOnly: false
  source: {emptyDir: {}}
{{- if eq .root.Values.metrics.auth "token" }}
- name: metrics-token
  mountPath: /etc/kubeops/metrics-token
  readOnly: true
  source: {secret: {secretName: {{ required "metrics.tokenSecret.name: the Secret holding the bearer token of --auth token" .root.Values.metrics.tokenSecret.name }}}}
{{- end }}
{{- end -}}

{{- define "kubeops.volumes.inspect" -}}
{{ include "kubeops.volumes.common" . }}
- name: data
  mountPath: /var/lib/kubeops
  readOnly: false
  source: {emptyDir: {}}
- name: config
  mountPath: /etc/kubeops/inspect
  readOnly: true
  source: {configMap: {name: {{ include "kubeops.fullname" . }}}}
{{- with .values.history.urlSecret.name }}
- name: history
  mountPath: /etc/kubeops/history
  readOnly: true
  source: {secret: {secretName: {{ . }}}}
{{- end }}
{{- end -}}

{{- define "kubeops.volumes.respond" -}}
{{ include "kubeops.volumes.common" . }}
- name: data
  mountPath: /var/lib/kubeops
  readOnly: false
  source: {emptyDir: {}}
- name: rules
  mountPath: /etc/kubeops/respond
  readOnly: true
  source: {configMap: {name: {{ .values.existingConfigMap | default (include "kubeops.fullname" .) }}}}
{{- with .values.audit.urlSecret.name }}
- name: audit
  mountPath: /etc/kubeops/audit
  readOnly: true
  source: {secret: {secretName: {{ . }}}}
{{- end }}
{{- with .values.eventTokenSecret.name }}
- name: event-token
  mountPath: /etc/kubeops/event-token
  readOnly: true
  source: {secret: {secretName: {{ . }}}}
{{- end }}
{{- end -}}

{{- define "kubeops.volumes.sync" -}}
{{ include "kubeops.volumes.common" . }}
{{- end -}}

{{- define "kubeops.volumes.syncAgent" -}}
{{ include "kubeops.volumes.common" . }}
- name: hub
  mountPath: /etc/kubeops/hub
  readOnly: true
  source: {secret: {secretName: {{ required "syncAgent.hub.kubeconfigSecret.name: the Secret holding the hub's kubeconfig for this member's agent" .values.hub.kubeconfigSecret.name }}}}
{{- end -}}

{{- define "kubeops.volumes.policyWebhook" -}}
{{ include "kubeops.volumes.common" . }}
{{- if .values.policies }}
- name: policies
  mountPath: /etc/kubeops/policies
  readOnly: true
  source: {configMap: {name: {{ include "kubeops.fullname" . }}}}
{{- end }}
{{- if .values.tls.secretName }}
- name: tls
  mountPath: /etc/kubeops/webhook-tls
  readOnly: true
  source: {secret: {secretName: {{ .values.tls.secretName }}}}
{{- end }}
{{- end -}}
