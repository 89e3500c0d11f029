{{/* Resource names: the release name, then the component. */}}
{{- define "pictor.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pictor.labels" -}}
app.kubernetes.io/name: pictor
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "pictor.selector" -}}
app.kubernetes.io/name: pictor
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* image: the component's image reference. */}}
{{- define "pictor.image" -}}
{{- $i := .root.Values.image -}}
{{- if $i.digest -}}
{{ printf "%spictor/%s@%s" $i.registry .component $i.digest }}
{{- else -}}
{{ printf "%spictor/%s:%s" $i.registry .component $i.tag }}
{{- end -}}
{{- end -}}

{{/* Pod and container security, as the images run: uid 65532, nothing writable but mounts. */}}
{{- define "pictor.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pictor.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
