{{/*
Objects of one workload. Every template takes (dict "root" $ "name" "<service>" "component" "<workload>"
"svc" <its values>): objects are named and labelled by the component, the image and settings come from the
service. templates/services.yaml calls them for each entry of cityos.workloads (the enabled services, and
the broker workers).
*/}}

{{- define "cityos.deployment" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $fullname := include "cityos.fullname" $root -}}
{{- $portName := ternary "http" "grpc" (eq $svc.protocol "http") -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "cityos.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 25%
  template:
    metadata:
      labels:
        {{- include "cityos.labels" . | nindent 8 }}
      annotations:
        {{- /* Roll the pods when their settings change. */}}
        checksum/config: {{ printf "%s%s" (include "cityos.commonEnv" $root) (include "cityos.serviceConfigData" .) | sha256sum }}
        {{- $i := $root.Values.config.identity }}
        checksum/secrets: {{ list $root.Values.redis.password $root.Values.redis.existingSecret $root.Values.s3.secretKey $root.Values.s3.existingSecret $i.existingSecret $i.keyEncryptionSecret $i.bootstrapAdminPassword | toJson | sha256sum }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $fullname }}-{{ .component }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $root.Values.pods.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "cityos.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- if $root.Values.pods.topologySpread }}
      topologySpreadConstraints:
        {{- range list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: {{ $root.Values.pods.topologySpreadMaxSkew }}
          topologyKey: {{ . }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "cityos.selectorLabels" $ | nindent 14 }}
        {{- end }}
      {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "cityos.image" . | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            - name: {{ $portName }}
              containerPort: {{ $svc.port }}
              protocol: TCP
            {{- if $root.Values.serviceMonitor.enabled }}
            - name: metrics
              containerPort: {{ $root.Values.serviceMonitor.port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-config
            - configMapRef:
                name: {{ $fullname }}-{{ .component }}
          env:
            {{- if include "cityos.redisHasPassword" $root }}
            - name: REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "cityos.redisSecretName" $root }}
                  key: {{ $root.Values.redis.existingSecretPasswordKey }}
            {{- end }}
            - name: REDIS_URL
              value: {{ include "cityos.redisUrl" $root | quote }}
            {{- if $svc.s3Access }}
            - name: S3_ACCESS_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "cityos.s3SecretName" $root }}
                  key: {{ $root.Values.s3.existingSecretAccessKeyKey }}
            - name: S3_SECRET_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "cityos.s3SecretName" $root }}
                  key: {{ $root.Values.s3.existingSecretSecretKeyKey }}
            {{- end }}
            {{- if eq .name "identity" }}
            {{- $i := $root.Values.config.identity }}
            - name: IDENTITY_KEY_ENCRYPTION_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ include "cityos.identitySecretName" $root }}
                  key: {{ $i.existingSecretKeyEncryptionKey }}
            - name: IDENTITY_BOOTSTRAP_ADMIN_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "cityos.identitySecretName" $root }}
                  key: {{ $i.existingSecretBootstrapAdminPasswordKey }}
            {{- end }}
            {{- $chartSecrets := list "REDIS_PASSWORD" "REDIS_URL" "S3_ACCESS_KEY" "S3_SECRET_KEY" "IDENTITY_KEY_ENCRYPTION_SECRET" "IDENTITY_BOOTSTRAP_ADMIN_PASSWORD" }}
            {{- range $envName, $ref := $svc.secretEnv }}
            {{- if has $envName $chartSecrets }}
            {{- fail (printf "services.%s.secretEnv.%s is set by the chart itself: use the existingSecret values of redis, s3 or config.identity" $.name $envName) }}
            {{- end }}
            - name: {{ $envName }}
              valueFrom:
                secretKeyRef:
                  name: {{ $ref.secretName }}
                  key: {{ $ref.key }}
            {{- end }}
          {{- if eq $svc.protocol "http" }}
          startupProbe:
            httpGet: {path: /healthz, port: {{ $portName }}}
            periodSeconds: 2
            failureThreshold: 30
          readinessProbe:
            httpGet: {path: /readyz, port: {{ $portName }}}
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            httpGet: {path: /healthz, port: {{ $portName }}}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          {{- else }}
          {{- /* Native gRPC probes ask grpc.health.v1, which every server registers. */}}
          startupProbe:
            grpc: {port: {{ $svc.port }}}
            periodSeconds: 2
            failureThreshold: 30
          readinessProbe:
            grpc: {port: {{ $svc.port }}}
            periodSeconds: 5
            failureThreshold: 2
          livenessProbe:
            grpc: {port: {{ $svc.port }}}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          {{- end }}
          lifecycle:
            {{- /* Keep serving while endpoints and load balancers drop the pod; SIGTERM follows. */}}
            preStop:
              exec:
                command: ["sleep", "{{ $root.Values.pods.preStopSleepSeconds }}"]
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- include "cityos.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.pods.tmpSizeLimit }}
{{- end -}}

{{- define "cityos.service" -}}
{{- $portName := ternary "http" "grpc" (eq .svc.protocol "http") -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "cityos.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "cityos.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ $portName }}
      port: {{ .svc.port }}
      targetPort: {{ $portName }}
      protocol: TCP
      appProtocol: {{ ternary "http" "kubernetes.io/h2c" (eq .svc.protocol "http") }}
    {{- if .root.Values.serviceMonitor.enabled }}
    - name: metrics
      port: {{ .root.Values.serviceMonitor.port }}
      targetPort: metrics
      protocol: TCP
    {{- end }}
{{- end -}}

{{/*
A gRPC service's headless Service: DNS answers with the address of every ready pod (publishNotReadyAddresses
false), so a round_robin client (dns:///<name>:<port>) spreads its calls over all of them. No metrics port:
the ServiceMonitor selects by component and scrapes each pod once, through the ClusterIP Service.
*/}}
{{- define "cityos.headlessService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "cityos.fullname" .root }}-{{ .name }}-headless
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "cityos.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .svc.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
{{- end -}}

{{/* Metrics-only headless Service of a workload nobody calls (the broker workers), for the ServiceMonitor. */}}
{{- define "cityos.metricsService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "cityos.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "cityos.selectorLabels" . | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .root.Values.serviceMonitor.port }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{- define "cityos.hpa" -}}
{{- $a := .svc.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "cityos.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "cityos.fullname" .root }}-{{ .component }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- if $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- end }}
    {{- if $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $a.targetMemoryUtilizationPercentage }}
    {{- end }}
    {{- with $a.metrics }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "cityos.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "cityos.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .svc.pdb.minAvailable) }}
  minAvailable: {{ .svc.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .svc.pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "cityos.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "cityos.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "cityos.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "cityos.labels" . | nindent 4 }}
{{- /* No service talks to the Kubernetes API. */}}
automountServiceAccountToken: false
{{- end -}}
