"""The keys of the official Dagster Helm chart's values that deploy/helm/values.yaml relies on.

The chart's own `values.schema.json` could not be vendored (the dagster-io/dagster repository is
too large to fetch here), so this is the part of it our values use, written from the chart's
sources in dagster-io/dagster, `helm/dagster/`:

- `values.schema.json` (commit bdb8547f): the top-level keys, `Image`, `UserDeployment`,
  `UserDeployments`, `RunLauncher` / `K8sRunLauncherConfig`, `Daemon`, `RunCoordinator` /
  `QueuedRunCoordinatorConfig`, `TagConcurrencyLimit`, `PostgreSQL`, `Global`, `Telemetry`;
- `schema/schema/charts/dagster/subschema/concurrency.py` and `daemon.py` (`RunRetries`) for the
  keys that schema version predates (`concurrency`, `runRetries.retryOnAssetOrOpFailure`);
- `templates/configmap-instance.yaml` for the `runMonitoring` keys the chart renders.

Every object is closed (`additionalProperties: false`): a misspelt key, or one the chart does
not know, fails instead of being ignored by Helm. `required` is left out on purpose: a values
file overrides the chart's defaults, which provide the rest.
"""

from __future__ import annotations

from typing import Any

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
OBJECT = {"type": "object"}  # a Kubernetes object the chart passes through


def closed(**properties: Any) -> dict[str, Any]:
    """An object with only these keys."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


IMAGE = closed(
    repository=STRING,
    tag={"type": ["string", "integer", "null"]},
    pullPolicy={"enum": ["Always", "IfNotPresent", "Never"]},
)

ENV_VAR = closed(name=STRING, value=STRING, valueFrom=OBJECT)

USER_DEPLOYMENT = closed(
    name=STRING,
    image=IMAGE,
    dagsterApiGrpcArgs={"type": "array", "items": STRING},
    codeServerArgs={"type": "array", "items": STRING},
    includeConfigInLaunchedRuns=closed(enabled=BOOLEAN),
    deploymentNamespace=STRING,
    port=INTEGER,
    env={"anyOf": [{"type": "object"}, {"type": "array", "items": ENV_VAR}]},
    envConfigMaps={"type": "array"},
    envSecrets={"type": "array"},
    annotations=OBJECT,
    nodeSelector=OBJECT,
    affinity=OBJECT,
    tolerations={"type": "array"},
    podSecurityContext=OBJECT,
    securityContext=OBJECT,
    resources=OBJECT,
    livenessProbe=OBJECT,
    readinessProbe=OBJECT,
    startupProbe=OBJECT,
    labels=OBJECT,
    volumeMounts={"type": "array"},
    volumes={"type": "array"},
    schedulerName=STRING,
    initContainers={"type": "array"},
    sidecarContainers={"type": "array"},
)

K8S_RUN_LAUNCHER = closed(
    image={"anyOf": [IMAGE, {"type": "null"}]},
    imagePullPolicy={"enum": ["Always", "IfNotPresent", "Never"]},
    jobNamespace={"type": ["string", "null"]},
    loadInclusterConfig=BOOLEAN,
    kubeconfigFile={"type": ["string", "null"]},
    envConfigMaps={"type": "array"},
    envSecrets={"type": "array"},
    envVars={"type": "array", "items": STRING},
    volumeMounts={"type": "array"},
    volumes={"type": "array"},
    labels={"type": ["object", "null"]},
    failPodOnRunFailure={"type": ["boolean", "null"]},
    resources={"type": ["object", "null"]},
    schedulerName={"type": ["string", "null"]},
    securityContext={"type": ["object", "null"]},
    runK8sConfig={"type": ["object", "null"]},
)

TAG_CONCURRENCY_LIMIT = closed(
    key=STRING, value={"type": ["string", "object", "null"]}, limit=INTEGER
)

QUEUED_RUN_COORDINATOR = closed(
    maxConcurrentRuns={"type": ["integer", "object", "null"]},
    tagConcurrencyLimits={"type": ["array", "null"], "items": TAG_CONCURRENCY_LIMIT},
    dequeueIntervalSeconds={"type": ["integer", "object", "null"]},
    dequeueNumWorkers={"type": ["integer", "object", "null"]},
    dequeueUseThreads={"type": ["boolean", "null"]},
    blockOpConcurrencyLimitedRuns={"type": ["object", "null"]},
)

DAEMON = closed(
    enabled=BOOLEAN,
    image=IMAGE,
    runCoordinator=closed(
        enabled=BOOLEAN,
        type={"enum": ["QueuedRunCoordinator", "CustomRunCoordinator"]},
        config=closed(queuedRunCoordinator=QUEUED_RUN_COORDINATOR, customRunCoordinator=OBJECT),
    ),
    runMonitoring=closed(
        enabled=BOOLEAN,
        startTimeoutSeconds=INTEGER,
        cancelTimeoutSeconds=INTEGER,
        maxResumeRunAttempts=INTEGER,
        pollIntervalSeconds=INTEGER,
        freeSlotsAfterRunEndSeconds=INTEGER,
    ),
    runRetries=closed(enabled=BOOLEAN, maxRetries=INTEGER, retryOnAssetOrOpFailure=BOOLEAN),
    heartbeatTolerance=INTEGER,
    env={"anyOf": [{"type": "object"}, {"type": "array"}]},
    envConfigMaps={"type": "array"},
    envSecrets={"type": "array"},
    resources=OBJECT,
    podSecurityContext=OBJECT,
    securityContext=OBJECT,
)

CONCURRENCY = closed(
    enabled=BOOLEAN,
    pools=closed(
        defaultLimit={"type": ["integer", "null"]},
        granularity={"enum": ["run", "op", None]},
        opGranularityRunBuffer={"type": ["integer", "null"]},
    ),
    runs=closed(
        maxConcurrentRuns={"type": ["integer", "null"]},
        tagConcurrencyLimits={"type": "array", "items": TAG_CONCURRENCY_LIMIT},
    ),
)

VALUES_SCHEMA: dict[str, Any] = closed(
    **{
        "dagsterWebserver": OBJECT,
        "dagster-user-deployments": closed(
            enabled=BOOLEAN,
            enableSubchart=BOOLEAN,
            imagePullSecrets={"type": "array"},
            deployments={"type": "array", "items": USER_DEPLOYMENT},
        ),
        "postgresql": closed(
            image=IMAGE,
            enabled=BOOLEAN,
            postgresqlHost=STRING,
            postgresqlUsername=STRING,
            postgresqlPassword=STRING,
            postgresqlDatabase=STRING,
            postgresqlParams=OBJECT,
            postgresqlScheme=STRING,
            service=closed(port=INTEGER),
        ),
        "generatePostgresqlPasswordSecret": BOOLEAN,
        "generateCeleryConfigSecret": BOOLEAN,
        "rabbitmq": OBJECT,
        "redis": OBJECT,
        "flower": OBJECT,
        "ingress": OBJECT,
        "imagePullSecrets": {"type": "array"},
        "computeLogManager": OBJECT,
        "scheduler": OBJECT,
        "runLauncher": closed(
            type={"enum": ["CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"]},
            config=closed(
                k8sRunLauncher=K8S_RUN_LAUNCHER,
                celeryK8sRunLauncher=OBJECT,
                customRunLauncher=OBJECT,
            ),
        ),
        "pythonLogs": OBJECT,
        "dagsterDaemon": DAEMON,
        "busybox": OBJECT,
        "migrate": OBJECT,
        "telemetry": closed(enabled=BOOLEAN),
        "serviceAccount": OBJECT,
        "global": closed(
            postgresqlSecretName=STRING,
            dagsterHome=STRING,
            serviceAccountName=STRING,
            celeryConfigSecretName=STRING,
        ),
        "retention": OBJECT,
        "concurrency": CONCURRENCY,
        "additionalInstanceConfig": OBJECT,
    }
)
