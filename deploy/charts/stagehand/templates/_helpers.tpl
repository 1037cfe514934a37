{{- define "stagehand.name" -}}stagehand-hub{{- end -}}

{{- define "stagehand.labels" -}}
app.kubernetes.io/name: {{ include "stagehand.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "stagehand.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stagehand.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
