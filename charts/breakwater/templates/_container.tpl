{{/*
The breakwater container. Use "breakwater.initContainers" and "breakwater.containers" in a pod
spec rather than this template directly: they place it according to nativeSidecar.
*/}}
{{- define "breakwater.container" -}}
{{- $bw := .Values.breakwater -}}
{{- $native := eq (include "breakwater.native" .) "true" -}}
- name: breakwater
  image: {{ include "breakwater.image" . | quote }}
  imagePullPolicy: {{ $bw.image.pullPolicy }}
  {{- if $native }}
  # A native sidecar: it starts before the application, which waits for its startup probe,
  # and it is stopped after the application exited.
  restartPolicy: Always
  {{- end }}
  args: [start, --config, /etc/breakwater/config.yaml]
  ports:
    - name: bw-admin
      containerPort: {{ $bw.adminPort }}
      protocol: TCP
  {{- with $bw.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $bw.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  startupProbe:
    httpGet: { path: /startupz, port: bw-admin }
    {{- toYaml $bw.probes.startup | nindent 4 }}
  readinessProbe:
    httpGet: { path: /readyz, port: bw-admin }
    {{- toYaml $bw.probes.readiness | nindent 4 }}
  livenessProbe:
    httpGet: { path: /livez, port: bw-admin }
    {{- toYaml $bw.probes.liveness | nindent 4 }}
  {{- if not $native }}
  lifecycle:
    # The kubelet starts the next container only when this hook returns: the application
    # starts after the startup gate passed, as with a native sidecar.
    postStart:
      exec:
        command: [node, /app/dist/src/cli/main.js, await-startup, --admin, {{ printf "127.0.0.1:%v" $bw.adminPort | quote }}, --timeout, {{ printf "%ds" (mul $bw.probes.startup.periodSeconds $bw.probes.startup.failureThreshold) | quote }}]
    # Keep serving while the application drains; SIGTERM comes after this.
    preStop:
      exec:
        command: [sleep, {{ $bw.preStopSleepSeconds | quote }}]
  {{- end }}
  resources:
    {{- toYaml $bw.resources | nindent 4 }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities: { drop: [ALL] }
    seccompProfile: { type: RuntimeDefault }
  volumeMounts:
    - name: breakwater-config
      mountPath: /etc/breakwater
      readOnly: true
    - name: breakwater-spool
      mountPath: {{ $bw.spool.mountPath }}
    - name: breakwater-tmp
      mountPath: /tmp
{{- end }}

{{/* Under the pod's initContainers: the sidecar when it runs native, else nothing. */}}
{{- define "breakwater.initContainers" -}}
{{- if eq (include "breakwater.native" .) "true" -}}
{{ include "breakwater.container" . }}
{{- end -}}
{{- end }}

{{/* First under the pod's containers: the sidecar when it runs as a plain container, else nothing. */}}
{{- define "breakwater.containers" -}}
{{- if ne (include "breakwater.native" .) "true" -}}
{{ include "breakwater.container" . }}
{{- end -}}
{{- end }}
