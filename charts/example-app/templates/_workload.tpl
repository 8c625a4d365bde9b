{{/* The pod template, shared by the Deployment and the StatefulSet. Lines marked "breakwater" are all it takes. */}}
{{- define "example-app.podTemplate" -}}
metadata:
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
    # breakwater
    {{- include "breakwater.podLabels" . | nindent 4 }}
  annotations:
    # breakwater
    {{- include "breakwater.podAnnotations" . | nindent 4 }}
spec:
  securityContext:
    runAsNonRoot: true
    fsGroup: 10001             # a spool PersistentVolumeClaim is writable by breakwater's user
    seccompProfile: { type: RuntimeDefault }
  initContainers:
    # breakwater
    {{- include "breakwater.initContainers" . | nindent 4 }}
  containers:
    # breakwater
    {{- include "breakwater.containers" . | nindent 4 }}
    - name: app
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
      ports:
        - name: http
          containerPort: {{ .Values.port }}
      env:
        # breakwater
        {{- include "breakwater.appEnv" . | nindent 8 }}
      readinessProbe:
        httpGet: { path: /healthz, port: http }
      securityContext:
        runAsNonRoot: true
        runAsUser: 10002
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities: { drop: [ALL] }
  volumes:
    # breakwater
    {{- include "breakwater.volumes" . | nindent 4 }}
{{- end }}
