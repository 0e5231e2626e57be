{{/*
Each daemon's least privilege, read off its code (docs/decisions.md, "The chart's RBAC").
"kubeops.<daemon>.clusterRules" gives the ClusterRole's rules, "kubeops.<daemon>.roles"
a map namespace -> rules of the Roles it needs.  No wildcard anywhere; Secrets only where
a daemon reads them; names (resourceNames) wherever the verb allows one.
*/}}

{{/* Leader election (controller/leader_election.py): get, create and update one Lease. */}}
{{- define "kubeops.rules.lease" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [{{ include "kubeops.lease" . }}]
  verbs: [get, update]
{{- end -}}

{{/* --auth kubernetes (controller/serving): a TokenReview and a SubjectAccessReview per caller. */}}
{{- define "kubeops.rules.delegation" -}}
{{- if eq .root.Values.metrics.auth "kubernetes" }}
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
{{- end }}
{{- end -}}

{{- define "kubeops.rules.extra" -}}
{{- with .values.rbac.extraClusterRules }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* inspect serve: LIST of every resource its enabled checks need (inspect/snapshot.py). */}}
{{- define "kubeops.inspect.clusterRules" -}}
- apiGroups: [""]
  resources: [configmaps, events, limitranges, namespaces, nodes, persistentvolumeclaims, persistentvolumes, pods, resourcequotas, serviceaccounts, services]
  verbs: [list]
{{- if .values.readSecrets }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [list]
{{- end }}
- apiGroups: [apps]
  resources: [daemonsets, deployments, replicasets, statefulsets]
  verbs: [list]
- apiGroups: [batch]
  resources: [cronjobs, jobs]
  verbs: [list]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [list]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list]
- apiGroups: [networking.k8s.io]
  resources: [ingressclasses, ingresses, networkpolicies]
  verbs: [list]
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [list]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterrolebindings, clusterroles, rolebindings, roles]
  verbs: [list]
- apiGroups: [metrics.k8s.io]
  resources: [nodes, pods]
  verbs: [list]
# the API server's apiserver_requested_deprecated_apis (check deprecated-api-requests)
- nonResourceURLs: [/metrics]
  verbs: [get]
{{- include "kubeops.rules.delegation" . }}
{{- include "kubeops.rules.extra" . }}
{{- end -}}

{{- define "kubeops.inspect.roles" -}}
{{- if .root.Values.leaderElection.enabled }}
{{ .root.Release.Namespace }}:
  {{- include "kubeops.rules.lease" . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
respond run: watch what the default rules' sources watch (Pods, for the derived
CrashLoop state), record an Event (recordEvent), and keep the ledger, watermark and
kill switch ConfigMaps in limits.namespace (the release namespace).  Rules with other
sources or actions need rbac.extraClusterRules.
*/}}
{{- define "kubeops.respond.clusterRules" -}}
{{- if .values.rbac.defaultRules }}
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
{{- include "kubeops.rules.delegation" . }}
{{- include "kubeops.rules.extra" . }}
{{- end -}}

{{- define "kubeops.respond.roles" -}}
{{ .root.Release.Namespace }}:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update, delete]
{{- if .root.Values.leaderElection.enabled }}
{{- include "kubeops.rules.lease" . | nindent 0 }}
{{- end }}
{{- end -}}

{{/*
sync run on the hub: what the controller uses of kubeops.sync.install.controller_rules()
(the test keeps it a subset): read policies and members, patch their status, keep
SyncWork, create work namespaces; `get` of the member kubeconfig Secrets (by name, one
per member: members.connect) in sync.memberNamespace; its Lease in the release namespace.
*/}}
{{- define "kubeops.sync.clusterRules" -}}
# policies only through informers; a member is also read by name (members.py)
- apiGroups: [sync.kubeops.io]
  resources: [clustersyncpolicies]
  verbs: [list, watch]
- apiGroups: [sync.kubeops.io]
  resources: [memberclusters]
  verbs: [get, list, watch]
- apiGroups: [sync.kubeops.io]
  resources: [clustersyncpolicies/status, memberclusters/status]
  verbs: [patch]
- apiGroups: [sync.kubeops.io]
  resources: [syncworks]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [create]
{{- include "kubeops.rules.delegation" . }}
{{- include "kubeops.rules.extra" . }}
{{- end -}}

{{- define "kubeops.sync.roles" -}}
{{- if eq .values.memberNamespace.name .root.Release.Namespace }}
{{ .root.Release.Namespace }}:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- include "kubeops.rules.lease" . | nindent 0 }}
{{- else }}
{{ .values.memberNamespace.name }}:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{ .root.Release.Namespace }}:
{{- include "kubeops.rules.lease" . | nindent 0 }}
{{- end }}
{{- end -}}

{{/*
sync agent on a member: read and write the kinds its policies sync (syncAgent.rbac.resources;
`kubeops sync rbac POLICY --agent` prints them), get and create namespaces, and its Lease.
*/}}
{{- define "kubeops.syncAgent.clusterRules" -}}
{{- range .values.rbac.resources }}
- apiGroups: [{{ .apiGroup | quote }}]
  resources: {{ toYaml .resources | nindent 4 }}
  verbs: [get, list, watch, create, patch, update, delete]
{{- end }}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, create]
{{- include "kubeops.rules.delegation" . }}
{{- include "kubeops.rules.extra" . }}
{{- end -}}

{{- define "kubeops.syncAgent.roles" -}}
{{ .root.Release.Namespace }}:
{{- include "kubeops.rules.lease" . | nindent 0 }}
{{- end -}}

{{/*
policy webhook: the caches policies look up (policy/cluster.py: Namespaces,
ResourceQuotas, LimitRanges), SubjectAccessReviews for their authorize(), and its own
ValidatingWebhookConfiguration, which the chart creates empty so the daemon needs no
create: only patch (server-side apply is one PATCH) by name.  The generated CA lives in one Secret
of the release namespace (create cannot be limited to a name; get/update are).
*/}}
{{- define "kubeops.policyWebhook.clusterRules" -}}
- apiGroups: [""]
  resources: [limitranges, namespaces, resourcequotas]
  verbs: [list, watch]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  resourceNames: [{{ include "kubeops.webhookConfiguration" . }}]
  verbs: [patch]
{{- if eq .root.Values.metrics.auth "kubernetes" }}
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
{{- end }}
{{- include "kubeops.rules.extra" . }}
{{- end -}}

{{- define "kubeops.policyWebhook.roles" -}}
{{- $lease := .root.Values.leaderElection.enabled -}}
{{- $ca := not .values.tls.secretName -}}
{{- if or $lease $ca }}
{{ .root.Release.Namespace }}:
{{- if $lease }}
{{- include "kubeops.rules.lease" . | nindent 0 }}
{{- end }}
{{- if $ca }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [{{ include "kubeops.webhookCASecret" . }}]
  verbs: [get, update]
{{- end }}
{{- end }}
{{- end -}}

{{- define "kubeops.webhookConfiguration" -}}
{{- printf "%s-kubeops-policy" .root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubeops.webhookCASecret" -}}
{{- printf "%s-ca" (include "kubeops.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
