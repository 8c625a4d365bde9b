{{/* Pod template annotations: roll the pods when the config changes; let Prometheus find /metrics. */}}
{{- define "breakwater.podAnnotations" -}}
checksum/breakwater-config: {{ include "breakwater.configYaml" . | sha256sum }}
{{- if .Values.breakwater.prometheusAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.breakwater.adminPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* Pod template labels: what the PodMonitor selects (not for a workload's selector). */}}
{{- define "breakwater.podLabels" -}}
breakwater.dev/sidecar: "true"
breakwater.dev/release: {{ .Release.Name | quote }}
{{- end }}

{{/* Under the pod's volumes: the config, the spool (unless a StatefulSet claim template provides it), /tmp. */}}
{{- define "breakwater.volumes" -}}
{{- $spool := .Values.breakwater.spool -}}
- name: breakwater-config
  configMap:
    name: {{ include "breakwater.fullname" . }}
{{- if eq $spool.persistence "emptyDir" }}
- name: breakwater-spool
  emptyDir:
    {{- toYaml $spool.emptyDir | nindent 4 }}
{{- else if eq $spool.persistence "existingClaim" }}
- name: breakwater-spool
  persistentVolumeClaim:
    claimName: {{ required "breakwater.spool.existingClaim: the name of a PersistentVolumeClaim, with spool.persistence: existingClaim" $spool.existingClaim }}
{{- else if ne $spool.persistence "claimTemplate" }}
{{- fail (printf "breakwater.spool.persistence must be emptyDir, existingClaim or claimTemplate, found %q" $spool.persistence) }}
{{- end }}
- name: breakwater-tmp
  emptyDir: { sizeLimit: 64Mi }
{{- end }}

{{/* Under a StatefulSet's volumeClaimTemplates, with spool.persistence: claimTemplate. */}}
{{- define "breakwater.volumeClaimTemplates" -}}
{{- $spool := .Values.breakwater.spool -}}
{{- if eq $spool.persistence "claimTemplate" -}}
- metadata:
    name: breakwater-spool
  spec:
    accessModes: {{ toYaml $spool.claimTemplate.accessModes | nindent 6 }}
    {{- with $spool.claimTemplate.storageClassName }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ $spool.claimTemplate.size }}
{{- end -}}
{{- end }}

{{/* Under the application container's env: one variable per entry of appEnv, pointing at breakwater. */}}
{{- define "breakwater.appEnv" -}}
{{- $deps := .Values.breakwater.config.dependencies | default dict -}}
{{- range $name, $var := .Values.breakwater.appEnv }}
{{- $dep := get $deps $name -}}
{{- if not $dep }}
{{- fail (printf "breakwater.appEnv.%s: no dependency %q in breakwater.config.dependencies" $name $name) }}
{{- end }}
- name: {{ $var }}
  value: {{ include "breakwater.endpoint" (dict "name" $name "dep" $dep) | quote }}
{{- end }}
{{- end }}
