{{/* Names, labels, images and shared environment of the City OS chart. */}}

{{- define "cityos.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name; service objects append "-<service>", so keep room for it. */}}
{{- define "cityos.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cityos.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select one component of this release: pass (dict "root" $ "component" "broker"). */}}
{{- define "cityos.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cityos.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cityos.labels" -}}
helm.sh/chart: {{ include "cityos.chart" .root }}
{{ include "cityos.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: cityos
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Image reference of a service: pass (dict "root" $ "name" "broker" "svc" $svc). */}}
{{- define "cityos.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := .svc.imageRepository | default (printf "%s/%s%s" $img.registry $img.namePrefix .name) -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* In-cluster address host:port of an enabled service (its ClusterIP Service: one address, any pod). */}}
{{- define "cityos.address" -}}
{{- $svc := index .root.Values.services .name -}}
{{- printf "%s-%s:%v" (include "cityos.fullname" .root) .name $svc.port -}}
{{- end -}}

{{/* gRPC target of a service's headless Service: every ready pod, for a client that balances over them. */}}
{{- define "cityos.headlessAddress" -}}
{{- $svc := index .root.Values.services .name -}}
{{- printf "dns:///%s-%s-headless.%s.svc.%s:%v" (include "cityos.fullname" .root) .name .root.Release.Namespace .root.Values.clusterDomain $svc.port -}}
{{- end -}}

{{/*
Callers whose client spreads its calls over every address a name resolves to (gRPC round_robin), per
callee. They get the callee's headless Service; every other caller keeps the ClusterIP Service, because a
pick_first channel on a headless name would always dial the first pod DNS lists. A service whose client
starts balancing is added here (the gateway: cityos_gateway.server, ROUND_ROBIN on the broker channel).
*/}}
{{- define "cityos.balancedCallers" -}}
{"broker": ["gateway"]}
{{- end -}}

{{/* The <CALLEE>_ADDRESS a caller gets: pass (dict "root" $ "caller" "gateway" "name" "broker"). */}}
{{- define "cityos.calleeAddress" -}}
{{- $balanced := get (include "cityos.balancedCallers" . | fromJson) .name | default (list) -}}
{{- $svc := index .root.Values.services .name -}}
{{- if and (ne $svc.protocol "http") (has .caller $balanced) -}}
{{- include "cityos.headlessAddress" . -}}
{{- else -}}
{{- include "cityos.address" . -}}
{{- end -}}
{{- end -}}

{{/*
The workloads of the release as a JSON list of {name, component, svc}: one per enabled service (component =
name) and, with services.broker.workers.enabled, the broker workers (component broker-worker): the broker's
image, port and egress with the worker's own replicas, resources, autoscaling, budget and scheduling.
*/}}
{{- define "cityos.workloads" -}}
{{- $out := list -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $out = append $out (dict "name" $name "component" $name "svc" $svc) -}}
{{- if and (eq $name "broker") $svc.workers.enabled -}}
{{- $own := omit $svc.workers "enabled" -}}
{{- $shared := pick $svc "enabled" "protocol" "port" "internetEgress" "s3Access" "extraEnv" "secretEnv" "imageRepository" -}}
{{- /* Nobody calls a worker: it serves gRPC only for its health probes. */ -}}
{{- $worker := merge (dict "callers" list) $own $shared -}}
{{- $out = append $out (dict "name" $name "component" "broker-worker" "svc" $worker) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Components running a service's code, as a JSON list: the service, plus broker-worker for the broker. */}}
{{- define "cityos.componentsOf" -}}
{{- $svc := index .root.Values.services .name -}}
{{- if and (eq .name "broker") $svc.workers.enabled -}}
["broker","broker-worker"]
{{- else -}}
{{- list .name | toJson -}}
{{- end -}}
{{- end -}}

{{- define "cityos.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "cityos.fullname" .)) -}}
{{- end -}}

{{- define "cityos.identitySecretName" -}}
{{- .Values.config.identity.existingSecret | default (printf "%s-identity" (include "cityos.fullname" .)) -}}
{{- end -}}

{{/* IDENTITY_ISSUER: explicit, else https:// + the Ingress host, else + the first HTTPRoute hostname. */}}
{{- define "cityos.identityIssuer" -}}
{{- $v := .Values -}}
{{- if $v.config.identity.issuer -}}
{{- $v.config.identity.issuer | trimSuffix "/" -}}
{{- else if $v.ingress.enabled -}}
{{- printf "https://%s" $v.ingress.host -}}
{{- else if and $v.httpRoute.enabled $v.httpRoute.hostnames -}}
{{- printf "https://%s" (first $v.httpRoute.hostnames) -}}
{{- else -}}
{{- fail "config.identity.issuer is required when neither ingress nor httpRoute (with hostnames) exposes the gateway: it is the gateway's public origin, e.g. https://api.city.example.jp (or http://127.0.0.1:8080 for a port-forwarded trial)" -}}
{{- end -}}
{{- end -}}

{{- define "cityos.s3SecretName" -}}
{{- .Values.s3.existingSecret | default (printf "%s-s3" (include "cityos.fullname" .)) -}}
{{- end -}}

{{/* True when a Redis password is configured (inline, existing Secret, or none). */}}
{{- define "cityos.redisHasPassword" -}}
{{- if or .Values.redis.existingSecret .Values.redis.password -}}true{{- end -}}
{{- end -}}

{{/* Redis host:port list for the current mode (the bundled Valkey when enabled). */}}
{{- define "cityos.redisNodes" -}}
{{- $r := .Values.redis -}}
{{- if .Values.bundled.valkey.enabled -}}
{{- printf "%s-valkey:6379" (include "cityos.fullname" .) -}}
{{- else if eq $r.mode "cluster" -}}
{{- join "," $r.cluster.nodes -}}
{{- else if eq $r.mode "sentinel" -}}
{{- join "," $r.sentinel.nodes -}}
{{- else -}}
{{- printf "%s:%v" (required "redis.standalone.host is required (or enable bundled.valkey)" $r.standalone.host) $r.standalone.port -}}
{{- end -}}
{{- end -}}

{{/* REDIS_URL; $(REDIS_PASSWORD) is expanded by the kubelet from the env var defined before it. */}}
{{- define "cityos.redisUrl" -}}
{{- $r := .Values.redis -}}
{{- $scheme := ternary "rediss" "redis" (and $r.tls (not .Values.bundled.valkey.enabled)) -}}
{{- $auth := "" -}}
{{- if include "cityos.redisHasPassword" . -}}
{{- $auth = printf "%s:$(REDIS_PASSWORD)@" $r.username -}}
{{- end -}}
{{- $first := first (splitList "," (include "cityos.redisNodes" .)) -}}
{{- if and (eq $r.mode "sentinel") (not .Values.bundled.valkey.enabled) -}}
{{- /* Sentinel: the host is the primary's name, resolved through REDIS_SENTINEL_NODES. */ -}}
{{- printf "%s://%s%s/%v" $scheme $auth $r.sentinel.masterName $r.standalone.db -}}
{{- else if and (eq $r.mode "cluster") (not .Values.bundled.valkey.enabled) -}}
{{- printf "%s://%s%s" $scheme $auth $first -}}
{{- else -}}
{{- printf "%s://%s%s/%v" $scheme $auth $first $r.standalone.db -}}
{{- end -}}
{{- end -}}

{{- define "cityos.redisMode" -}}
{{- ternary "standalone" .Values.redis.mode .Values.bundled.valkey.enabled -}}
{{- end -}}

{{- define "cityos.s3Endpoint" -}}
{{- if .Values.bundled.s3.enabled -}}
{{- printf "%s-s3:8333" (include "cityos.fullname" .) -}}
{{- else -}}
{{- required "s3.endpoint is required (or enable bundled.s3)" .Values.s3.endpoint -}}
{{- end -}}
{{- end -}}

{{/* Ports of host:port addresses in a comma list, as a JSON list of unique integers. */}}
{{- define "cityos.portsOf" -}}
{{- $ports := list -}}
{{- range splitList "," . -}}
{{- $ports = append $ports (last (splitList ":" .) | int) -}}
{{- end -}}
{{- toJson (uniq $ports) -}}
{{- end -}}

{{/* Pod security context shared by every pod of the chart. */}}
{{- define "cityos.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context shared by every container of the chart. */}}
{{- define "cityos.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* True when the init Job is rendered: it needs the broker, and with identity also the gateway. */}}
{{- define "cityos.initJobEnabled" -}}
{{- $s := .Values.services -}}
{{- if and .Values.initJob.enabled $s.broker.enabled (or (not $s.identity.enabled) $s.gateway.enabled) -}}true{{- end -}}
{{- end -}}

{{/* The services the init Job calls, as a JSON list: the gateway and identity, or the broker alone. */}}
{{- define "cityos.initCallees" -}}
{{- if not (include "cityos.initJobEnabled" .) -}}[]
{{- else if .Values.services.identity.enabled -}}["gateway","identity"]
{{- else -}}["broker"]
{{- end -}}
{{- end -}}
