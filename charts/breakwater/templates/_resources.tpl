{{/*
Everything besides the pod: the config ConfigMap, and when enabled the PodMonitor, the
PrometheusRule and the Grafana dashboard ConfigMap. Put `{{ include "breakwater.resources" . }}`
in one template file of your chart.
*/}}
{{- define "breakwater.resources" -}}
{{- $bw := .Values.breakwater -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "breakwater.fullname" . }}
  labels:
    {{- include "breakwater.labels" . | nindent 4 }}
data:
  config.yaml: |
    {{- include "breakwater.configYaml" . | nindent 4 }}
{{- if $bw.monitoring.podMonitor.enabled }}
---
{{ include "breakwater.podMonitor" . }}
{{- end }}
{{- if $bw.monitoring.prometheusRule.enabled }}
---
{{ include "breakwater.prometheusRule" . }}
{{- end }}
{{- if $bw.monitoring.dashboard.enabled }}
---
{{ include "breakwater.dashboard" . }}
{{- end }}
{{- end }}

{{- define "breakwater.labels" -}}
app.kubernetes.io/name: breakwater
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* A Prometheus Operator PodMonitor for this release's pods. */}}
{{- define "breakwater.podMonitor" -}}
{{- $pm := .Values.breakwater.monitoring.podMonitor -}}
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ include "breakwater.fullname" . }}
  labels:
    {{- include "breakwater.labels" . | nindent 4 }}
    {{- with $pm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "breakwater.podLabels" . | nindent 6 }}
  podMetricsEndpoints:
    - port: bw-admin
      path: /metrics
      interval: {{ $pm.interval }}
{{- end }}
