{{/*
Alerting rules for breakwater's metrics (README.md, "Metrics"), thresholds from
.Values.breakwater.monitoring.prometheusRule.

- Series are aggregated by (namespace, pod, ...): the target labels both of the chart's scrape
  routes give (the PodMonitor; the prometheus.io annotations with the usual kubernetes-pods job),
  so an alert names the pod and the thing, not the scrape job.
- Counters with labels appear at their first increment (prom-client), with a value of 1 or more:
  increase() cannot see that first step. "(x unless x offset W) or increase(x[W])" counts a
  series that is new within the window by its value, an older one by its increase (resets
  included). So a pod Prometheus only starts scraping reports its earlier counts for W.
- `{{ $labels.x }}` and `{{ $value }}` are Prometheus' templates: escaped for Helm as
  {{`{{ ... }}`}}.

breakwater.alertGroups: the list under a PrometheusRule's spec.groups (also the `groups:` of a
plain Prometheus rule file).
*/}}
{{- define "breakwater.alertGroups" -}}
{{- $bw := .Values.breakwater -}}
{{- $pr := $bw.monitoring.prometheusRule -}}
{{- $port := $bw.adminPort -}}
{{- $notReadyFor := $pr.notReadyFor | default "5m" -}}
{{- $cdcNotRunningFor := $pr.cdcNotRunningFor | default "5m" -}}
{{- $spoolFullFor := $pr.spoolFullFor | default "2m" -}}
{{- $window := $pr.countWindow | default "10m" -}}
{{- $flaps := $pr.flappingOpens | int64 -}}
{{- $lag := $pr.cdcLagMessages | int64 -}}
{{- $pct := round (mulf $pr.spoolFullRatio 100) 2 -}}
- name: breakwater
  rules:
    - alert: BreakwaterBreakerOpen
      # open and half_open alternate while the dependency stays down (every openFor a trial
      # call fails): "not closed" is what lasts.
      expr: |-
        max by (namespace, pod, dependency) (
          breakwater_breaker_state{state=~"open|half_open|forced_open"}
        ) == 1
      for: {{ $pr.breakerOpenFor }}
      labels:
        severity: warning
      annotations:
        summary: >-
          {{`Circuit breaker of {{ $labels.dependency }} not closed for`}} {{ $pr.breakerOpenFor }}
        description: >-
          {{`The circuit breaker of dependency {{ $labels.dependency }} in pod {{ $labels.namespace }}/{{ $labels.pod }}`}}
          has been open, half-open or forced open for more than {{ $pr.breakerOpenFor }}: calls to it are
          rejected and answered by its fallbacks (cache, static, spool or fail).
          Check the dependency and the network path to it, breakwater's logs, and `/status` on the
          admin port ({{ $port }}): the breaker's state, its recent failures and whether it was forced open
          {{`(POST /breakers/{{ $labels.dependency }}/reset on the admin port clears a forced state).`}}
    - alert: BreakwaterBreakerFlapping
      # closed -> open only: a dependency that stays down cycles open -> half_open -> open, which
      # BreakwaterBreakerOpen reports.
      expr: |-
        sum by (namespace, pod, dependency) (
            (
              breakwater_breaker_transitions_total{from="closed", to="open"}
              unless
              breakwater_breaker_transitions_total{from="closed", to="open"} offset {{ $pr.flappingWindow }}
            )
          or
            increase(breakwater_breaker_transitions_total{from="closed", to="open"}[{{ $pr.flappingWindow }}])
        ) >= {{ $flaps }}
      labels:
        severity: warning
      annotations:
        summary: >-
          {{`Circuit breaker of {{ $labels.dependency }} is flapping`}}
        description: >-
          {{`The circuit breaker of dependency {{ $labels.dependency }} in pod {{ $labels.namespace }}/{{ $labels.pod }}`}}
          {{`opened {{ printf "%.0f" $value }} times`}} (closed to open) in the last {{ $pr.flappingWindow }}
          (alert at {{ $flaps }}): the dependency fails intermittently, and every opening sends calls
          to the fallbacks for a while. Check the dependency's errors and latency (slow calls count
          as failures past breaker.slowCall), its timeout and breaker settings, and `/status` on the
          admin port ({{ $port }}) for the breaker's recent failures.
    - alert: BreakwaterRequiredDependencyUnhealthy
      expr: |-
        min by (namespace, pod, dependency) (breakwater_dependency_healthy) == 0
        and on (namespace, pod, dependency)
        max by (namespace, pod, dependency) (breakwater_dependency_required) == 1
      for: {{ $pr.unhealthyFor }}
      labels:
        severity: critical
      annotations:
        summary: >-
          {{`Required dependency {{ $labels.dependency }} unhealthy for`}} {{ $pr.unhealthyFor }}
        description: >-
          {{`The health check of {{ $labels.dependency }}, a required dependency, has failed for more than`}}
          {{ $pr.unhealthyFor }} {{`in pod {{ $labels.namespace }}/{{ $labels.pod }}`}}: the pod is not ready
          (out of its Service's endpoints) while it lasts. Check that the dependency is up and
          reachable from the pod (DNS, network policy, credentials), and `/status` on the admin
          port ({{ $port }}) for the health check's target and last error.
    - alert: BreakwaterNotReady
      expr: |-
        max by (namespace, pod) (breakwater_ready) == 0
      for: {{ $notReadyFor }}
      labels:
        severity: warning
      annotations:
        summary: >-
          {{`breakwater in {{ $labels.namespace }}/{{ $labels.pod }} not ready for`}} {{ $notReadyFor }}
        description: >-
          {{`The breakwater sidecar in pod {{ $labels.namespace }}/{{ $labels.pod }} has answered /readyz with 503`}}
          for more than {{ $notReadyFor }}: the pod gets no traffic from its Service. `/status` on
          the admin port ({{ $port }}) lists the reasons (startup still waiting, a required
          dependency unhealthy or its breaker open, the CDC consumer not running, stuck or lagging
          past cdc.maxLag).
- name: breakwater-spool
  rules:
    - alert: BreakwaterSpoolFilling
      # Each spooling dependency has its own spool, bounded by spool.maxBytes (the same for all:
      # max by pod works whether breakwater_spool_max_bytes carries a dependency label or not).
      expr: |-
        max by (namespace, pod, dependency) (breakwater_spool_depth_bytes)
        > on (namespace, pod) group_left ()
        ({{ $pr.spoolFullRatio }} * max by (namespace, pod) (breakwater_spool_max_bytes))
      for: {{ $spoolFullFor }}
      labels:
        severity: warning
      annotations:
        summary: >-
          {{`Spool of {{ $labels.dependency }} over`}} {{ $pct }}% of spool.maxBytes
        description: >-
          {{`The spool of {{ $labels.dependency }} in pod {{ $labels.namespace }}/{{ $labels.pod }} holds {{ $value | humanize1024 }}B,`}}
          over {{ $pct }}% of spool.maxBytes: records accepted while the
          dependency was unavailable are not being forwarded fast enough. When it is full, new
          records are refused (BreakwaterSpoolRejecting). Check that the dependency is back (its
          breaker and health), the spool's replay in `/status` on the admin port ({{ $port }}),
          breakwater_spool_oldest_record_age_seconds, and the spool volume's size.
    - alert: BreakwaterSpoolRejecting
      expr: |-
        sum by (namespace, pod, dependency, reason) (
            (
              breakwater_spool_rejected_total
              unless
              breakwater_spool_rejected_total offset {{ $window }}
            )
          or
            increase(breakwater_spool_rejected_total[{{ $window }}])
        ) > 0
      labels:
        severity: critical
      annotations:
        summary: >-
          {{`Spool of {{ $labels.dependency }} rejecting records ({{ $labels.reason }})`}}
        description: >-
          {{`The spool of {{ $labels.dependency }} in pod {{ $labels.namespace }}/{{ $labels.pod }} rejected records with reason {{ $labels.reason }}`}}
          in the last {{ $window }}. full, too_large, idempotent, transactional, io, malformed: the
          records were not spooled and the producer got an error (full: spool.maxBytes reached;
          idempotent or transactional producers cannot be spooled). Any other reason is Kafka's
          error on replay: the records had been acknowledged to the producer and are kept in
          rejected.log next to the spool, to be handled by hand. Check the logs and `/status` on
          the admin port ({{ $port }}).
- name: breakwater-cdc
  rules:
    - alert: BreakwaterCdcLagHigh
      expr: |-
        max by (namespace, pod, topic, partition) (breakwater_cdc_lag) > {{ $lag }}
      for: {{ $pr.cdcLagFor }}
      labels:
        severity: warning
      annotations:
        summary: >-
          {{`CDC partition {{ $labels.topic }}/{{ $labels.partition }} is {{ printf "%.0f" $value }} messages behind`}}
        description: >-
          {{`Partition {{ $labels.partition }} of {{ $labels.topic }}, consumed by pod {{ $labels.namespace }}/{{ $labels.pod }}, has been more than`}}
          {{ $lag }} messages behind for more than {{ $pr.cdcLagFor }}: ClickHouse's copy of the
          table is stale. Check breakwater_cdc_paused (writes waiting for ClickHouse), the
          ClickHouse dependency's breaker and health, write failures in the logs, and the cdc
          section of `/status` on the admin port ({{ $port }}).
    - alert: BreakwaterCdcNotRunning
      expr: |-
        max by (namespace, pod) (breakwater_cdc_running) == 0
      for: {{ $cdcNotRunningFor }}
      labels:
        severity: critical
      annotations:
        summary: >-
          {{`CDC consumer in {{ $labels.namespace }}/{{ $labels.pod }} not running`}}
        description: >-
          {{`The CDC consumer in pod {{ $labels.namespace }}/{{ $labels.pod }} has not been consuming in its group for more than`}}
          {{ $cdcNotRunningFor }} (starting, restarting or failed): change events are not written to
          ClickHouse and the pod is not ready. The cdc section and the reasons in `/status` on the
          admin port ({{ $port }}) say why; check Kafka (brokers, the consumer group) and the
          ClickHouse tables it writes.
    - alert: BreakwaterCdcDeadLettered
      expr: |-
        sum by (namespace, pod, topic, reason) (
            (
              breakwater_cdc_dead_lettered_total
              unless
              breakwater_cdc_dead_lettered_total offset {{ $window }}
            )
          or
            increase(breakwater_cdc_dead_lettered_total[{{ $window }}])
        ) > 0
      labels:
        severity: warning
      annotations:
        summary: >-
          {{`CDC messages of {{ $labels.topic }} dead-lettered ({{ $labels.reason }})`}}
        description: >-
          {{`Pod {{ $labels.namespace }}/{{ $labels.pod }} sent change events of {{ $labels.topic }} to the dead-letter topic with reason {{ $labels.reason }}`}}
          in the last {{ $window }}: their rows are missing in ClickHouse. The dead-letter topic
          (cdc.deadLetterTopic) holds the messages and their error; fix the table mapping or the
          data and publish them again. The logs and the cdc section of `/status` on the admin
          port ({{ $port }}) show the details.
{{- end }}

{{/* A Prometheus Operator PrometheusRule with breakwater.alertGroups. */}}
{{- define "breakwater.prometheusRule" -}}
{{- $pr := .Values.breakwater.monitoring.prometheusRule -}}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "breakwater.fullname" . }}
  labels:
    {{- include "breakwater.labels" . | nindent 4 }}
    {{- with $pr.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    {{- include "breakwater.alertGroups" . | nindent 4 }}
{{- end }}
