{{/*
Names and labels every object shares.  A daemon is one of: inspect, respond, sync,
sync-agent, policy-webhook; its values block is the camelCase of that name.
*/}}

{{/* The values key of a daemon: sync-agent -> syncAgent, policy-webhook -> policyWebhook. */}}
{{- define "kubeops.key" -}}
{{- . | camelcase | untitle -}}
{{- end -}}

{{/* <release>-kubeops-<daemon>: the Deployment, ServiceAccount, Service and roles. */}}
{{- define "kubeops.fullname" -}}
{{- printf "%s-kubeops-%s" .root.Release.Name .daemon | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubeops.selectorLabels" -}}
app.kubernetes.io/name: kubeops
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .daemon }}
{{- end -}}

{{- define "kubeops.labels" -}}
{{ include "kubeops.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* Metadata of a namespaced object of a daemon: name, namespace, labels. */}}
{{- define "kubeops.metadata" -}}
name: {{ include "kubeops.fullname" . }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "kubeops.labels" . | nindent 2 }}
{{- end -}}

{{- define "kubeops.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/* The Lease a daemon's replicas compete for. */}}
{{- define "kubeops.lease" -}}
{{- include "kubeops.fullname" . -}}
{{- end -}}

{{/* Whether ServiceMonitors (or PrometheusRules) are rendered: asked for, or the API is there. */}}
{{- define "kubeops.monitoring" -}}
{{- if or .enabled (and (kindIs "invalid" .enabled) (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/*
Checks of `kubeops inspect` that read Secrets (their subject or needs are secrets, or
every object): disabled in the chart's inspect config unless inspect.readSecrets.
tests/deploy/test_chart.py keeps this list equal to the catalog's.
*/}}
{{- define "kubeops.inspect.secretChecks" -}}
- config-certificate-expiry
- config-missing-secret
- config-unused-secret
- deprecated-api-version
{{- end -}}
