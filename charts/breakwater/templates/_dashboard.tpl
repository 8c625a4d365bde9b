{{/*
The Grafana dashboard, as a ConfigMap that Grafana's dashboard sidecar loads (the label in
.Values.breakwater.monitoring.dashboard.labels, grafana_dashboard: "1" by default).

breakwater.dashboardModel is the dashboard in YAML; breakwater.dashboard turns it into JSON
(toPrettyJson, so the JSON is always well-formed), numbering the panels and pointing every panel
and query at the `datasource` variable. Grafana's legend templates ({{dependency}}) are escaped
for Helm as {{`{{ ... }}`}}. Queries filter on the namespace, pod and dependency variables
(the breakwater_cdc_* families have no dependency label).
*/}}
{{- define "breakwater.dashboardModel" -}}
{{- $pr := .Values.breakwater.monitoring.prometheusRule -}}
uid: breakwater
title: breakwater
description: 'breakwater sidecars: circuit breakers, calls, fallbacks, health, the Kafka spool and the CDC consumer (README.md, "Metrics").'
tags: [breakwater]
editable: true
graphTooltip: 1
schemaVersion: 39
version: 1
refresh: 30s
time: { from: now-3h, to: now }
timepicker: {}
timezone: browser
fiscalYearStartMonth: 0
liveNow: false
links: []
annotations:
  list:
    - builtIn: 1
      datasource: { type: grafana, uid: "-- Grafana --" }
      enable: true
      hide: true
      iconColor: rgba(0, 211, 255, 1)
      name: Annotations & Alerts
      type: dashboard
templating:
  list:
    - name: datasource
      label: Data source
      type: datasource
      query: prometheus
      current: {}
      hide: 0
      includeAll: false
      multi: false
      options: []
      refresh: 1
      regex: ""
      skipUrlSync: false
    - name: namespace
      label: Namespace
      type: query
      datasource: { type: prometheus, uid: "${datasource}" }
      definition: label_values(breakwater_breaker_state, namespace)
      query: { qryType: 1, query: "label_values(breakwater_breaker_state, namespace)", refId: PrometheusVariableQueryEditor-VariableQuery }
      current: {}
      hide: 0
      includeAll: false
      multi: false
      options: []
      refresh: 2
      regex: ""
      skipUrlSync: false
      sort: 1
    - name: pod
      label: Pod
      type: query
      datasource: { type: prometheus, uid: "${datasource}" }
      definition: 'label_values(breakwater_breaker_state{namespace=~"$namespace"}, pod)'
      query: { qryType: 1, query: 'label_values(breakwater_breaker_state{namespace=~"$namespace"}, pod)', refId: PrometheusVariableQueryEditor-VariableQuery }
      current: {}
      hide: 0
      includeAll: true
      allValue: ".*"
      multi: true
      options: []
      refresh: 2
      regex: ""
      skipUrlSync: false
      sort: 1
    - name: dependency
      label: Dependency
      type: query
      datasource: { type: prometheus, uid: "${datasource}" }
      definition: 'label_values(breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod"}, dependency)'
      query: { qryType: 1, query: 'label_values(breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod"}, dependency)', refId: PrometheusVariableQueryEditor-VariableQuery }
      current: {}
      hide: 0
      includeAll: true
      allValue: ".*"
      multi: true
      options: []
      refresh: 2
      regex: ""
      skipUrlSync: false
      sort: 1
panels:
  - type: row
    title: Breakers and calls
    collapsed: false
    gridPos: { h: 1, w: 24, x: 0, "y": 0 }
    panels: []
  - type: state-timeline
    title: Breaker state
    description: The state of each circuit breaker (pod, dependency). half_open alternates with open while a dependency stays down; forced_open and disabled are set on the admin port (POST /breakers/...).
    gridPos: { h: 8, w: 24, x: 0, "y": 1 }
    fieldConfig:
      defaults:
        color: { mode: thresholds }
        thresholds: { mode: absolute, steps: [{ color: green, value: null }] }
        mappings:
          - type: value
            options:
              "0": { text: closed, color: green, index: 0 }
              "1": { text: disabled, color: blue, index: 1 }
              "2": { text: half_open, color: yellow, index: 2 }
              "3": { text: forced_open, color: purple, index: 3 }
              "4": { text: open, color: red, index: 4 }
        custom: { fillOpacity: 80, lineWidth: 0, hideFrom: { legend: false, tooltip: false, viz: false } }
      overrides: []
    options:
      mergeValues: true
      showValue: never
      alignValue: left
      rowHeight: 0.9
      legend: { showLegend: false, displayMode: list, placement: bottom }
      tooltip: { mode: single, sort: none }
    targets:
      - refId: A
        # 1 for the current state, 0 for the others: max picks the current state's code.
        expr: |-
          max by (pod, dependency) (
              breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency", state="closed"} * 0
            or
              breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency", state="disabled"} * 1
            or
              breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency", state="half_open"} * 2
            or
              breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency", state="forced_open"} * 3
            or
              breakwater_breaker_state{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency", state="open"} * 4
          )
        legendFormat: {{`'{{dependency}} ({{pod}})'`}}
  - type: timeseries
    title: Calls by outcome
    description: 'Calls per second by outcome: success; failure (counts against the breaker); slow (a success slower than breaker.slowCall); ignored (a caller error or a client that left); rejected (not permitted: breaker open, half-open full, bulkhead full).'
    gridPos: { h: 8, w: 12, x: 0, "y": 9 }
    fieldConfig:
      defaults:
        unit: reqps
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false, stacking: { mode: none, group: A } }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (dependency, outcome) (rate(breakwater_calls_total{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval]))'
        legendFormat: {{`'{{dependency}} {{outcome}}'`}}
  - type: timeseries
    title: Call latency
    description: Time from forwarding until the response ended or failed, p50/p90/p99 over the selected pods (rejected calls are not observed).
    gridPos: { h: 8, w: 12, x: 12, "y": 9 }
    fieldConfig:
      defaults:
        unit: s
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 0, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'histogram_quantile(0.5, sum by (dependency, le) (rate(breakwater_call_duration_seconds_bucket{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval])))'
        legendFormat: {{`'{{dependency}} p50'`}}
      - refId: B
        expr: 'histogram_quantile(0.9, sum by (dependency, le) (rate(breakwater_call_duration_seconds_bucket{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval])))'
        legendFormat: {{`'{{dependency}} p90'`}}
      - refId: C
        expr: 'histogram_quantile(0.99, sum by (dependency, le) (rate(breakwater_call_duration_seconds_bucket{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval])))'
        legendFormat: {{`'{{dependency}} p99'`}}
  - type: timeseries
    title: Fallbacks by kind
    description: Responses served by a fallback instead of the dependency (cache, static, fail, spool).
    gridPos: { h: 8, w: 12, x: 0, "y": 17 }
    fieldConfig:
      defaults:
        unit: reqps
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (dependency, kind) (rate(breakwater_fallbacks_total{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval]))'
        legendFormat: {{`'{{dependency}} {{kind}}'`}}
  - type: timeseries
    title: Breaker transitions
    description: Circuit breaker state transitions, by the state entered.
    gridPos: { h: 8, w: 12, x: 12, "y": 17 }
    fieldConfig:
      defaults:
        unit: short
        min: 0
        decimals: 0
        custom: { drawStyle: bars, lineWidth: 1, fillOpacity: 60, showPoints: never, stacking: { mode: normal, group: A } }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (dependency, to) (increase(breakwater_breaker_transitions_total{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval]))'
        legendFormat: {{`'{{dependency}} to {{to}}'`}}
  - type: row
    title: Health and readiness
    collapsed: false
    gridPos: { h: 1, w: 24, x: 0, "y": 25 }
    panels: []
  - type: state-timeline
    title: Dependency health
    description: The active health check of each dependency. A failing required dependency makes the pod not ready.
    gridPos: { h: 8, w: 12, x: 0, "y": 26 }
    fieldConfig:
      defaults:
        color: { mode: thresholds }
        thresholds: { mode: absolute, steps: [{ color: green, value: null }] }
        mappings:
          - type: value
            options:
              "0": { text: unhealthy, color: red, index: 0 }
              "1": { text: healthy, color: green, index: 1 }
        custom: { fillOpacity: 80, lineWidth: 0 }
      overrides: []
    options:
      mergeValues: true
      showValue: never
      alignValue: left
      rowHeight: 0.9
      legend: { showLegend: false, displayMode: list, placement: bottom }
      tooltip: { mode: single, sort: none }
    targets:
      - refId: A
        expr: 'min by (pod, dependency) (breakwater_dependency_healthy{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"})'
        legendFormat: {{`'{{dependency}} ({{pod}})'`}}
  - type: state-timeline
    title: Readiness
    description: breakwater's /readyz per pod; /status on the admin port lists the reasons when not ready.
    gridPos: { h: 8, w: 12, x: 12, "y": 26 }
    fieldConfig:
      defaults:
        color: { mode: thresholds }
        thresholds: { mode: absolute, steps: [{ color: green, value: null }] }
        mappings:
          - type: value
            options:
              "0": { text: not ready, color: red, index: 0 }
              "1": { text: ready, color: green, index: 1 }
        custom: { fillOpacity: 80, lineWidth: 0 }
      overrides: []
    options:
      mergeValues: true
      showValue: never
      alignValue: left
      rowHeight: 0.9
      legend: { showLegend: false, displayMode: list, placement: bottom }
      tooltip: { mode: single, sort: none }
    targets:
      - refId: A
        expr: 'min by (pod) (breakwater_ready{namespace=~"$namespace", pod=~"$pod"})'
        legendFormat: {{`'{{pod}}'`}}
  - type: row
    title: Spool
    collapsed: false
    gridPos: { h: 1, w: 24, x: 0, "y": 34 }
    panels: []
  - type: timeseries
    title: Spool size vs spool.maxBytes
    description: Bytes of each spool on disk not yet forwarded, against spool.maxBytes (full, new records are refused).
    gridPos: { h: 8, w: 6, x: 0, "y": 35 }
    fieldConfig:
      defaults:
        unit: bytes
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false }
      overrides:
        - matcher: { id: byName, options: spool.maxBytes }
          properties:
            - { id: color, value: { mode: fixed, fixedColor: red } }
            - { id: custom.lineStyle, value: { fill: dash, dash: [10, 10] } }
            - { id: custom.fillOpacity, value: 0 }
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (pod, dependency) (breakwater_spool_depth_bytes{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"})'
        legendFormat: {{`'{{dependency}} ({{pod}})'`}}
      - refId: B
        expr: 'max(breakwater_spool_max_bytes{namespace=~"$namespace", pod=~"$pod"})'
        legendFormat: spool.maxBytes
  - type: timeseries
    title: Spool records
    description: Records in the spool not yet forwarded.
    gridPos: { h: 8, w: 6, x: 6, "y": 35 }
    fieldConfig:
      defaults:
        unit: short
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (pod, dependency) (breakwater_spool_depth{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"})'
        legendFormat: {{`'{{dependency}} ({{pod}})'`}}
  - type: timeseries
    title: Oldest spooled record
    description: Age of the oldest record waiting in the spool; 0 when empty.
    gridPos: { h: 8, w: 6, x: 12, "y": 35 }
    fieldConfig:
      defaults:
        unit: s
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'max by (pod, dependency) (breakwater_spool_oldest_record_age_seconds{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"})'
        legendFormat: {{`'{{dependency}} ({{pod}})'`}}
  - type: timeseries
    title: Spool rejections
    description: Records not spooled (full, too_large, idempotent, transactional, io, malformed) or refused by Kafka on replay (by error name; kept in rejected.log).
    gridPos: { h: 8, w: 6, x: 18, "y": 35 }
    fieldConfig:
      defaults:
        unit: 'suffix: rec/s'
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (dependency, reason) (rate(breakwater_spool_rejected_total{namespace=~"$namespace", pod=~"$pod", dependency=~"$dependency"}[$__rate_interval]))'
        legendFormat: {{`'{{dependency}} {{reason}}'`}}
  - type: row
    title: CDC
    collapsed: false
    gridPos: { h: 1, w: 24, x: 0, "y": 43 }
    panels: []
  - type: timeseries
    title: CDC lag
    description: Messages in each partition a pod owns not yet written to ClickHouse (high watermark minus committed offset). The line is the alert's threshold.
    gridPos: { h: 8, w: 12, x: 0, "y": 44 }
    fieldConfig:
      defaults:
        unit: short
        min: 0
        thresholds: { mode: absolute, steps: [{ color: green, value: null }, { color: red, value: {{ $pr.cdcLagMessages | int64 }} }] }
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false, thresholdsStyle: { mode: line } }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (pod, topic, partition) (breakwater_cdc_lag{namespace=~"$namespace", pod=~"$pod"})'
        legendFormat: {{`'{{topic}}/{{partition}} ({{pod}})'`}}
  - type: timeseries
    title: CDC event age
    description: 'End-to-end freshness: from the commit in PostgreSQL until the row was written to ClickHouse and its offset committed.'
    gridPos: { h: 8, w: 12, x: 12, "y": 44 }
    fieldConfig:
      defaults:
        unit: s
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 0, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'histogram_quantile(0.5, sum by (le) (rate(breakwater_cdc_event_age_seconds_bucket{namespace=~"$namespace", pod=~"$pod"}[$__rate_interval])))'
        legendFormat: p50
      - refId: B
        expr: 'histogram_quantile(0.99, sum by (le) (rate(breakwater_cdc_event_age_seconds_bucket{namespace=~"$namespace", pod=~"$pod"}[$__rate_interval])))'
        legendFormat: p99
  - type: timeseries
    title: Rows written
    description: Rows ClickHouse acknowledged, by table.
    gridPos: { h: 8, w: 8, x: 0, "y": 52 }
    fieldConfig:
      defaults:
        unit: 'suffix: rows/s'
        min: 0
        custom: { drawStyle: line, lineWidth: 1, fillOpacity: 10, showPoints: never, spanNulls: false }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (table) (rate(breakwater_cdc_rows_written_total{namespace=~"$namespace", pod=~"$pod"}[$__rate_interval]))'
        legendFormat: {{`'{{table}}'`}}
  - type: timeseries
    title: Dead-lettered messages
    description: Messages sent to the dead-letter topic (cdc.deadLetterTopic), by source topic and reason. Their rows are missing in ClickHouse.
    gridPos: { h: 8, w: 8, x: 8, "y": 52 }
    fieldConfig:
      defaults:
        unit: 'suffix: msg/s'
        min: 0
        color: { mode: fixed, fixedColor: red }
        custom: { drawStyle: bars, lineWidth: 1, fillOpacity: 60, showPoints: never, stacking: { mode: normal, group: A } }
      overrides: []
    options:
      legend: { showLegend: true, displayMode: list, placement: bottom }
      tooltip: { mode: multi, sort: desc }
    targets:
      - refId: A
        expr: 'sum by (topic, reason) (rate(breakwater_cdc_dead_lettered_total{namespace=~"$namespace", pod=~"$pod"}[$__rate_interval]))'
        legendFormat: {{`'{{topic}} {{reason}}'`}}
  - type: state-timeline
    title: CDC consumer
    description: 'running: the consumer is in its group and consuming. paused: writes wait for ClickHouse (breaker open or writes failing).'
    gridPos: { h: 8, w: 8, x: 16, "y": 52 }
    fieldConfig:
      defaults:
        color: { mode: thresholds }
        thresholds: { mode: absolute, steps: [{ color: green, value: null }] }
        custom: { fillOpacity: 80, lineWidth: 0 }
      overrides:
        - matcher: { id: byFrameRefID, options: A }
          properties:
            - id: mappings
              value:
                - type: value
                  options:
                    "0": { text: not running, color: red, index: 0 }
                    "1": { text: running, color: green, index: 1 }
        - matcher: { id: byFrameRefID, options: B }
          properties:
            - id: mappings
              value:
                - type: value
                  options:
                    "0": { text: consuming, color: green, index: 0 }
                    "1": { text: paused, color: orange, index: 1 }
    options:
      mergeValues: true
      showValue: never
      alignValue: left
      rowHeight: 0.9
      legend: { showLegend: false, displayMode: list, placement: bottom }
      tooltip: { mode: single, sort: none }
    targets:
      - refId: A
        expr: 'min by (pod) (breakwater_cdc_running{namespace=~"$namespace", pod=~"$pod"})'
        legendFormat: {{`'running ({{pod}})'`}}
      - refId: B
        expr: 'max by (pod) (breakwater_cdc_paused{namespace=~"$namespace", pod=~"$pod"})'
        legendFormat: {{`'paused ({{pod}})'`}}
{{- end }}

{{/* The dashboard ConfigMap. */}}
{{- define "breakwater.dashboard" -}}
{{- $db := .Values.breakwater.monitoring.dashboard -}}
{{- $model := include "breakwater.dashboardModel" . | fromYaml -}}
{{- if hasKey $model "Error" -}}
{{- fail (printf "breakwater.dashboardModel is not valid YAML: %s" (get $model "Error")) -}}
{{- end -}}
{{- $ds := dict "type" "prometheus" "uid" "${datasource}" -}}
{{- range $i, $p := $model.panels -}}
{{- $_ := set $p "id" (add1 $i) -}}
{{- if ne $p.type "row" -}}
{{- $_ := set $p "datasource" $ds -}}
{{- range $p.targets -}}
{{- $_ := set . "datasource" $ds -}}
{{- $_ := set . "editorMode" "code" -}}
{{- $_ := set . "range" true -}}
{{- end -}}
{{- end -}}
{{- end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "breakwater.fullname" . }}-dashboard
  labels:
    {{- include "breakwater.labels" . | nindent 4 }}
    {{- with $db.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $db.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  breakwater.json: |-
    {{- $model | toPrettyJson | nindent 4 }}
{{- end }}
