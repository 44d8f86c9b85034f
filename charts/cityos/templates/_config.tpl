{{/* Environment of the services: shared settings and each service's own. */}}

{{/* Settings every service reads (the <release>-config ConfigMap). */}}
{{- define "cityos.commonEnv" -}}
{{- $c := .Values.config -}}
LOG_LEVEL: {{ $c.logLevel | quote }}
LOG_FORMAT: {{ $c.logFormat | quote }}
CITYOS_DEFAULT_TENANT: {{ $c.defaultTenant | quote }}
GRPC_MAX_CONNECTION_AGE: {{ $c.grpc.maxConnectionAge | quote }}
GRPC_MAX_CONNECTION_AGE_GRACE: {{ $c.grpc.maxConnectionAgeGrace | quote }}
{{- with .Values.otelCollectorEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
REDIS_MODE: {{ include "cityos.redisMode" . | quote }}
{{- if not .Values.bundled.valkey.enabled }}
{{- if eq .Values.redis.mode "cluster" }}
REDIS_CLUSTER_NODES: {{ include "cityos.redisNodes" . | quote }}
{{- else if eq .Values.redis.mode "sentinel" }}
REDIS_SENTINEL_NODES: {{ include "cityos.redisNodes" . | quote }}
REDIS_SENTINEL_MASTER: {{ .Values.redis.sentinel.masterName | quote }}
{{- end }}
{{- end }}
S3_ENDPOINT: {{ include "cityos.s3Endpoint" . | quote }}
S3_BUCKET: {{ .Values.s3.bucket | quote }}
S3_SECURE: {{ and .Values.s3.secure (not .Values.bundled.s3.enabled) | quote }}
{{- with .Values.s3.region }}
S3_REGION: {{ . | quote }}
{{- end }}
{{- if .Values.serviceMonitor.enabled }}
METRICS_PORT: {{ .Values.serviceMonitor.port | quote }}
{{- end }}
{{- end -}}

{{/* One workload's own settings: pass (dict "root" $ "name" "broker" "component" "broker" "svc" $svc). */}}
{{- define "cityos.serviceEnv" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $component := .component | default .name -}}
{{- $upper := upper $name -}}
{{- if eq $name "gateway" }}
{{- $g := $root.Values.config.gateway }}
{{- if and (eq $g.authMode "oidc") (not $root.Values.services.identity.enabled) }}
{{- fail "config.gateway.authMode=oidc needs services.identity.enabled (or authMode=open, for development only)" }}
{{- end }}
GATEWAY_HOST: "0.0.0.0"
GATEWAY_PORT: {{ .svc.port | quote }}
GATEWAY_MAX_BODY_BYTES: {{ $g.maxBodyBytes | int64 | quote }}
GATEWAY_REQUEST_TIMEOUT: {{ $g.requestTimeout | quote }}
GATEWAY_CORS_ORIGINS: {{ join "," $g.corsOrigins | quote }}
GATEWAY_AUTH_MODE: {{ $g.authMode | quote }}
GATEWAY_RATE_LIMIT: {{ $g.rateLimit | quote }}
GATEWAY_REVOCATION_POLL: {{ $g.revocationPoll | quote }}
GATEWAY_POLICY_TTL: {{ $g.policyTtl | quote }}
{{- if $root.Values.services.identity.enabled }}
{{- /* Tokens are verified locally: the gateway must expect the issuer and audience identity signs. */}}
IDENTITY_ISSUER: {{ include "cityos.identityIssuer" $root | quote }}
IDENTITY_AUDIENCE: {{ $root.Values.config.identity.audience | quote }}
{{- end }}
{{- else }}
{{ $upper }}_GRPC_HOST: "0.0.0.0"
{{ $upper }}_GRPC_PORT: {{ .svc.port | quote }}
{{- end }}
{{- if eq $name "broker" }}
{{- $b := $root.Values.config.broker }}
{{- /* With workers, the serving brokers leave the notifier and the history recorder to them. */}}
{{- $workers := $root.Values.services.broker.workers.enabled }}
{{- if and $workers (not $b.notifier.enabled) (not $b.history.enabled) }}
{{- fail "services.broker.workers.enabled needs config.broker.notifier.enabled or config.broker.history.enabled: the workers would have nothing to do" }}
{{- end }}
{{- $serving := and $workers (eq $component "broker") }}
BROKER_AUTO_CREATE_TENANTS: {{ $b.autoCreateTenants | quote }}
BROKER_ALLOW_PRIVATE_URLS: {{ $b.allowPrivateUrls | quote }}
BROKER_CONTEXT_FETCH_TIMEOUT: {{ $b.contextFetchTimeout | quote }}
BROKER_CONTEXT_MAX_BYTES: {{ $b.contextMaxBytes | int64 | quote }}
BROKER_DEFAULT_LIMIT: {{ $b.defaultLimit | quote }}
BROKER_MAX_LIMIT: {{ $b.maxLimit | quote }}
BROKER_CHANGES_MAXLEN: {{ $b.changesMaxlen | int64 | quote }}
BROKER_HISTORY_ENABLED: {{ and $b.history.enabled (not $serving) | quote }}
BROKER_HISTORY_RETENTION: {{ $b.history.retention | quote }}
BROKER_HISTORY_ARCHIVE_INTERVAL: {{ $b.history.archiveInterval | quote }}
BROKER_HISTORY_CLAIM_IDLE_MS: {{ $b.history.claimIdleMs | int64 | quote }}
BROKER_TEMPORAL_MAX_INSTANCES: {{ $b.history.maxInstances | int64 | quote }}
BROKER_NOTIFIER: {{ and $b.notifier.enabled (not $serving) | quote }}
BROKER_NOTIFY_TIMEOUT: {{ $b.notifier.timeout | quote }}
BROKER_NOTIFY_MAX_ATTEMPTS: {{ $b.notifier.maxAttempts | quote }}
BROKER_NOTIFY_BACKOFF: {{ $b.notifier.backoff | quote }}
BROKER_NOTIFY_BACKOFF_MAX: {{ $b.notifier.backoffMax | quote }}
BROKER_NOTIFY_CLAIM_IDLE: {{ $b.notifier.claimIdle | quote }}
BROKER_NOTIFY_CONCURRENCY: {{ $b.notifier.concurrency | quote }}
BROKER_NOTIFY_TENANT_REFRESH: {{ $b.notifier.tenantRefresh | quote }}
BROKER_NOTIFY_DEDUP_TTL: {{ $b.notifier.dedupTtl | int64 | quote }}
BROKER_POLICY_TTL: {{ $b.notifier.policyTtl | quote }}
{{- end }}
{{- if eq $name "identity" }}
{{- $i := $root.Values.config.identity }}
IDENTITY_ISSUER: {{ include "cityos.identityIssuer" $root | quote }}
IDENTITY_AUDIENCE: {{ $i.audience | quote }}
IDENTITY_ACCESS_TOKEN_TTL: {{ $i.accessTokenTtl | int64 | quote }}
IDENTITY_REFRESH_TOKEN_TTL: {{ $i.refreshTokenTtl | int64 | quote }}
IDENTITY_KEY_ROTATION_INTERVAL: {{ $i.keyRotationInterval | int64 | quote }}
IDENTITY_LOCKOUT_THRESHOLD: {{ $i.lockoutThreshold | int64 | quote }}
IDENTITY_LOCKOUT_WINDOW: {{ $i.lockoutWindow | int64 | quote }}
IDENTITY_SESSION_TTL: {{ $i.sessionTtl | int64 | quote }}
{{- end }}
{{- /* The address of every enabled service this one calls (it is among the callee's callers). */}}
{{- range $callee, $csvc := $root.Values.services }}
{{- if and $csvc.enabled (ne $callee $name) (has $name $csvc.callers) }}
{{ upper $callee }}_ADDRESS: {{ include "cityos.calleeAddress" (dict "root" $root "caller" $name "name" $callee) | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* A service's own ConfigMap data: its settings plus extraEnv, which may override shared settings (the
service ConfigMap comes last in envFrom) but not the service's own, which would duplicate a key. */}}
{{- define "cityos.serviceConfigData" -}}
{{- $base := include "cityos.serviceEnv" . -}}
{{- $own := fromYaml $base -}}
{{ $base }}
{{- range $k, $v := .svc.extraEnv }}
{{- if hasKey $own $k }}
{{- fail (printf "services.%s.extraEnv.%s is set by the chart itself: use its value under config (see the README)" $.name $k) }}
{{- end }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}
