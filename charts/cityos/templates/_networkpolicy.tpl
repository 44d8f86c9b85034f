{{/* NetworkPolicies: who may reach a pod, and where it may go. */}}

{{/* Egress of a service to DNS, Redis, S3 (with s3Access) and the OTel collector: pass (dict "root" $ "svc" $svc). */}}
{{- define "cityos.storeEgress" -}}
{{- $v := .root.Values -}}
- to:
    {{- toYaml $v.networkPolicy.dnsPeers | nindent 4 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- /* Redis */}}
{{- if $v.bundled.valkey.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "cityos.selectorLabels" (dict "root" .root "component" "valkey") | nindent 10 }}
  ports:
    - {port: 6379, protocol: TCP}
{{- else }}
{{- $ports := $v.redis.networkPolicyPorts }}
{{- if not $ports }}
{{- $ports = include "cityos.portsOf" (include "cityos.redisNodes" .root) | fromJsonArray }}
{{- if eq $v.redis.mode "sentinel" }}
{{- /* Sentinels hand out the primary's address; its port is assumed to be 6379 unless networkPolicyPorts says. */}}
{{- $ports = append $ports 6379 | uniq }}
{{- end }}
{{- end }}
- ports:
    {{- range $ports }}
    - {port: {{ . | int }}, protocol: TCP}
    {{- end }}
  {{- with $v.redis.networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- /* S3 */}}
{{- if not .svc.s3Access }}
{{- else if $v.bundled.s3.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "cityos.selectorLabels" (dict "root" .root "component" "s3") | nindent 10 }}
  ports:
    - {port: 8333, protocol: TCP}
{{- else }}
{{- $ports := $v.s3.networkPolicyPorts }}
{{- if not $ports }}
{{- $parts := splitList ":" $v.s3.endpoint }}
{{- $ports = list (ternary (last $parts | int) (ternary 443 80 $v.s3.secure) (gt (len $parts) 1)) }}
{{- end }}
- ports:
    {{- range $ports }}
    - {port: {{ . | int }}, protocol: TCP}
    {{- end }}
  {{- with $v.s3.networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- /* OTel collector */}}
{{- if $v.otelCollectorEndpoint }}
- ports:
    {{- range $v.networkPolicy.otelCollectorPorts }}
    - {port: {{ . | int }}, protocol: TCP}
    {{- end }}
  {{- with $v.networkPolicy.otelCollectorPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "cityos.networkPolicy" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := .svc -}}
{{- $np := $root.Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "cityos.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "cityos.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- /* Callers inside the release: the pods of enabled services named in `callers` (the broker's workers too). */}}
  {{- $from := list }}
  {{- range $svc.callers }}
  {{- if (index $root.Values.services .).enabled }}
  {{- $from = concat $from (include "cityos.componentsOf" (dict "root" $root "name" .) | fromJsonArray) }}
  {{- end }}
  {{- end }}
  {{- if and (eq .component $name) (has $name (include "cityos.initCallees" $root | fromJsonArray)) }}
  {{- /* The init Job creates the first tenant (through the gateway, signing in to identity). */}}
  {{- $from = append $from "init" }}
  {{- end }}
  {{- if not (or $from (eq $name "gateway") $root.Values.serviceMonitor.enabled) }}
  {{- /* Nobody calls it (the broker workers): no ingress at all; kubelet probes are not NetworkPolicy traffic. */}}
  ingress: []
  {{- else }}
  ingress:
    {{- if $from }}
    - from:
        {{- range $from }}
        - podSelector:
            matchLabels:
              {{- include "cityos.selectorLabels" (dict "root" $root "component" .) | nindent 14 }}
        {{- end }}
      ports:
        - {port: {{ $svc.port }}, protocol: TCP}
    {{- end }}
    {{- if eq $name "gateway" }}
    {{- /* Outside traffic enters only through the ingress controller / Gateway API implementation. */}}
    - from:
        {{- toYaml $np.ingressControllerPeers | nindent 8 }}
      ports:
        - {port: {{ $svc.port }}, protocol: TCP}
    {{- end }}
    {{- if $root.Values.serviceMonitor.enabled }}
    - from:
        {{- toYaml $np.monitoringPeers | nindent 8 }}
      ports:
        - {port: {{ $root.Values.serviceMonitor.port }}, protocol: TCP}
    {{- end }}
  {{- end }}
  egress:
    {{- include "cityos.storeEgress" (dict "root" $root "svc" $svc) | nindent 4 }}
    {{- /* The services this one calls: those listing it among their callers. */}}
    {{- range $callee, $csvc := $root.Values.services }}
    {{- if and $csvc.enabled (ne $callee $name) (has $name $csvc.callers) }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "cityos.selectorLabels" (dict "root" $root "component" $callee) | nindent 14 }}
      ports:
        - {port: {{ $csvc.port }}, protocol: TCP}
    {{- end }}
    {{- end }}
    {{- if $svc.internetEgress }}
    - to:
        - ipBlock:
            cidr: {{ $np.internet.cidr }}
            {{- with $np.internet.except }}
            except:
              {{- toYaml . | nindent 14 }}
            {{- end }}
      {{- with $np.internet.ports }}
      ports:
        {{- range . }}
        - {port: {{ . | int }}, protocol: TCP}
        {{- end }}
      {{- end }}
    {{- end }}
{{- end -}}

{{/* A bundled store: reachable from the release's services (S3: those with s3Access) on its port; no egress. */}}
{{- define "cityos.bundledNetworkPolicy" -}}
{{- $root := .root -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "cityos.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "cityos.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ include "cityos.name" $root }}
              app.kubernetes.io/instance: {{ $root.Release.Name }}
            matchExpressions:
              - key: app.kubernetes.io/component
                operator: In
                values:
                  {{- range (include "cityos.workloads" $root | fromJsonArray) }}
                  {{- if or (ne $.component "s3") .svc.s3Access }}
                  - {{ .component }}
                  {{- end }}
                  {{- end }}
      ports:
        - {port: {{ .port }}, protocol: TCP}
  egress: []
{{- end -}}
