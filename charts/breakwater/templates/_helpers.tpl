{{/*
Internal helpers. Every public template takes the parent chart's root context (`.`) and reads
its settings from `.Values.breakwater` (this chart's values.yaml merged with the parent's).
*/}}

{{- define "breakwater.fullname" -}}
{{- printf "%s-breakwater" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* "true" when the sidecar runs as a native sidecar (an init container with restartPolicy: Always). */}}
{{- define "breakwater.native" -}}
{{- $mode := toString .Values.breakwater.nativeSidecar -}}
{{- if eq $mode "auto" -}}
{{- semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version | toString -}}
{{- else if or (eq $mode "true") (eq $mode "false") -}}
{{- $mode -}}
{{- else -}}
{{- fail (printf "breakwater.nativeSidecar must be auto, true or false, found %q" $mode) -}}
{{- end -}}
{{- end }}

{{/* The effective configuration: values' config with admin.listen and spool.dir filled in. */}}
{{- define "breakwater.configYaml" -}}
{{- $bw := .Values.breakwater -}}
{{- $cfg := deepCopy $bw.config -}}
{{- $admin := get $cfg "admin" | default dict -}}
{{- $_ := set $admin "listen" (printf "0.0.0.0:%v" $bw.adminPort) -}}
{{- $_ := set $cfg "admin" $admin -}}
{{- $spool := get $cfg "spool" | default dict -}}
{{- $_ := set $spool "dir" $bw.spool.mountPath -}}
{{- $_ := set $cfg "spool" $spool -}}
{{- toYaml $cfg -}}
{{- end }}

{{/* The local endpoint a dependency's listener offers, as the application's client wants it. */}}
{{- define "breakwater.endpoint" -}}
{{- $dep := .dep -}}
{{- $listen := required (printf "breakwater.config.dependencies.%s.listen is required" .name) $dep.listen -}}
{{- $proto := $dep.protocol -}}
{{- if or (eq $proto "clickhouse-http") (eq $proto "neo4j-http") -}}
http://{{ $listen }}
{{- else if eq $proto "redis" -}}
redis://{{ $listen }}
{{- else if eq $proto "bolt" -}}
bolt://{{ $listen }}
{{- else -}}
{{ $listen }}
{{- end -}}
{{- end }}

{{- define "breakwater.image" -}}
{{- $img := .Values.breakwater.image -}}
{{- printf "%s:%s" $img.repository (toString $img.tag) -}}
{{- end }}
