{{/*
Each daemon's CLI arguments (the container's command is ["kubeops"]).  The listener is
always one `--listen=:<port>` argument, so a runner can substitute the port.
*/}}

{{- define "kubeops.args.common" -}}
- --listen=:{{ .values.port }}
- --log-format={{ .values.logFormat }}
- --log-level={{ .values.logLevel }}
- --auth={{ .root.Values.metrics.auth }}
{{- if eq .root.Values.metrics.auth "none" }}
- --allow-unauthenticated
{{- else if eq .root.Values.metrics.auth "token" }}
- --auth-token-file=/etc/kubeops/metrics-token/{{ .root.Values.metrics.tokenSecret.key }}
{{- end }}
{{- end -}}

{{- define "kubeops.args.lease" -}}
- --lease-name={{ include "kubeops.lease" . }}
- --lease-namespace={{ .root.Release.Namespace }}
- --lease-duration={{ .root.Values.leaderElection.leaseDuration }}
{{- end -}}

{{- define "kubeops.args.inspect" -}}
- inspect
- serve
{{ include "kubeops.args.common" . }}
{{- if .values.cron }}
- --cron={{ .values.cron }}
{{- else }}
- --interval={{ .values.interval }}
{{- end }}
- --config=/etc/kubeops/inspect/config.yaml
{{- if .values.history.urlSecret.name }}
- --history-url-file=/etc/kubeops/history/{{ .values.history.urlSecret.key }}
{{- else }}
- --history=sqlite:////var/lib/kubeops/inspect.db
{{- end }}
{{- with .values.history.keep }}
- --keep={{ . }}
{{- end }}
{{- with .values.history.maxAge }}
- --max-age={{ . }}
{{- end }}
{{- with .values.externalURL }}
- --external-url={{ . }}
{{- end }}
{{- if .root.Values.leaderElection.enabled }}
- --leader-elect
- --lease-name={{ include "kubeops.lease" . }}
- --lease-namespace={{ .root.Release.Namespace }}
{{- end }}
{{- end -}}

{{- define "kubeops.args.respond" -}}
- respond
- run
{{ include "kubeops.args.common" . }}
- --rules=/etc/kubeops/respond/rules.yaml
{{- if .values.audit.urlSecret.name }}
- --audit-url-file=/etc/kubeops/audit/{{ .values.audit.urlSecret.key }}
{{- else }}
- --audit-url=sqlite:////var/lib/kubeops/respond-audit.db
{{- end }}
{{- if .values.eventTokenSecret.name }}
- --event-token-file=/etc/kubeops/event-token/{{ .values.eventTokenSecret.key }}
{{- end }}
{{- if .values.dryRun }}
- --dry-run
{{- end }}
{{- if .root.Values.leaderElection.enabled }}
- --leader-elect
{{ include "kubeops.args.lease" . }}
{{- end }}
{{- end -}}

{{/* sync run always elects a leader (two writers must never sync at once). */}}
{{- define "kubeops.args.sync" -}}
- sync
- run
{{ include "kubeops.args.common" . }}
- --workers={{ .values.workers }}
{{ include "kubeops.args.lease" . }}
{{- end -}}

{{- define "kubeops.args.syncAgent" -}}
- sync
- agent
{{ include "kubeops.args.common" . }}
- --hub=/etc/kubeops/hub/{{ .values.hub.kubeconfigSecret.key }}
{{- with .values.hub.context }}
- --hub-context={{ . }}
{{- end }}
- --member={{ required "syncAgent.member: the MemberCluster name of this cluster on the hub" .values.member }}
- --workers={{ .values.workers }}
{{ include "kubeops.args.lease" . }}
{{- end -}}

{{- define "kubeops.args.policyWebhook" -}}
- policy
- webhook
{{ include "kubeops.args.common" . }}
{{- /* each file by name: a configMap volume also holds every file under ..<timestamp>/ */}}
{{- range $file, $_ := .values.policies }}
- --policies=/etc/kubeops/policies/{{ $file }}
{{- end }}
{{- if not .values.builtins }}
- --no-builtins
{{- end }}
- --timeout={{ .values.timeoutSeconds }}
{{- if eq .values.failurePolicy "Ignore" }}
- --fail-open
{{- else }}
- --fail-closed
{{- end }}
- --register
- --configuration-name={{ include "kubeops.webhookConfiguration" . }}
- --service={{ .root.Release.Namespace }}/{{ include "kubeops.fullname" . }}:443
- --webhook-namespace={{ .root.Release.Namespace }}
{{- with .values.namespaceSelector }}
- --namespace-selector={{ . }}
{{- end }}
{{- if .values.tls.secretName }}
- --tls-cert-file=/etc/kubeops/webhook-tls/tls.crt
- --tls-private-key-file=/etc/kubeops/webhook-tls/tls.key
{{- with .values.tls.caKey }}
- --ca-file=/etc/kubeops/webhook-tls/{{ . }}
{{- end }}
{{- else }}
{{- /* the serving pairs go to a private directory under /tmp (an emptyDir) */}}
- --ca-secret={{ include "kubeops.webhookCASecret" . }}
- --cert-validity={{ .values.tls.certValidity }}
{{- end }}
- --shutdown-delay={{ .values.shutdownDelay }}
{{- if .root.Values.leaderElection.enabled }}
- --leader-elect
{{ include "kubeops.args.lease" . }}
{{- end }}
{{- end -}}
