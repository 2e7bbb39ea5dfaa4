"""deploy/docker-compose.yml, deploy/helm/ and deploy/workspace.yaml agree with each other, with
deploy/dagster.yaml and with what the code reads. No Docker engine or cluster here: the files
are read as compose, Helm and Dagster read them, and compared."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config_schema

from inventory_pipelines.channels.factory import KINDS, env_prefix
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.deploy import files
from inventory_pipelines_tests.deploy.chart_schema import VALUES_SCHEMA
from inventory_pipelines_tests.deploy.env_scan import channel_fields, variables_in_package

MODULE = "inventory_pipelines.definitions"
PORT = 4000

#: Variables the code reads that no deployment sets, and why.
NOT_SET_IN_A_DEPLOYMENT = {
    # the local data plane's folder: a deployment sets INVENTORY_DATA_URI (s3://)
    "INVENTORY_DATA_DIR",
    # set by the images (/opt/dagster/dagster_home) and by the Helm chart
    "DAGSTER_HOME",
    # who an operator's CLI command acts as (--actor, $INVENTORY_ACTOR, the OS user): each
    # person's own shell; one shared value would make every approval look like one person's
    "INVENTORY_ACTOR",
    "USER",
    # other names of AWS_ENDPOINT_URL (the data plane reads the first set): one is enough
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT",
}
#: Settings with a value of their own in the files (none secret), per file and service.
COMPOSE_FIXED = {
    "code-location": {
        "INVENTORY_ENV": "prod",
        "INVENTORY_DAGSTER_LOCATION": "inventory_pipelines",
        "DAGSTER_PG_HOST": "postgresql",
        "DAGSTER_PG_PORT": "5432",
    },
    "webhook-receiver": {
        "INVENTORY_ENV": "prod",
        "INVENTORY_DAGSTER_LOCATION": "inventory_pipelines",
        "INVENTORY_DAGSTER_URL": "http://webserver:3000",
    },
}
HELM_FIXED = {"INVENTORY_ENV": "prod", "INVENTORY_DAGSTER_LOCATION": "inventory-pipelines"}
#: The keys of the Compose Specification (compose-spec/compose-spec) this file uses.
COMPOSE_KEYS = {"name", "services", "volumes"}
SERVICE_KEYS = {
    "image", "build", "command", "environment", "ports", "volumes", "healthcheck", "depends_on",
    "restart",
}  # fmt: skip
BUILD_KEYS = {"context", "dockerfile", "target"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period"}
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def _services() -> dict[str, Any]:
    return files.compose()["services"]


def _compose_env(service: str) -> dict[str, Any]:
    return _services()[service]["environment"]


def _helm_env() -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in files.user_deployment()["env"]}


def _required_in_compose(name: str, value: Any) -> bool:
    return value == f"${{{name}:?}}"


def _required_in_helm(entry: dict[str, Any]) -> bool:
    ref = entry.get("valueFrom", {}).get("secretKeyRef")
    return ref is not None and not ref.get("optional", False)


def _helm_image() -> str:
    image = files.user_deployment()["image"]
    return f"{image['repository']}:{image['tag']}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _snake_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {_snake(key): _snake_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_snake_keys(value) for value in node]
    return node


def _instance_rendered_by_the_chart(values: dict[str, Any]) -> dict[str, Any]:
    """The parts of the instance file the chart renders from our values (its templates
    `configmap-instance.yaml`, `_run-coordinator.tpl`, `_concurrency.tpl`: camelCase keys
    become snake_case, nothing else changes)."""
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    concurrency = {k: v for k, v in values["concurrency"].items() if k != "enabled"}
    return {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": daemon["runCoordinator"]["type"],
            "config": _snake_keys(queued),
        },
        "run_monitoring": _snake_keys(daemon["runMonitoring"]),
        "run_retries": _snake_keys(daemon["runRetries"]),
        "concurrency": _snake_keys(concurrency),
    }


def test_compose_helm_and_the_dockerfile_run_the_same_image_module_and_port():
    image = f"inventory-pipelines:{files.project_version()}"
    assert _services()["code-location"]["image"] == image
    assert _services()["webhook-receiver"]["image"] == image
    assert _helm_image() == image
    [receiver] = files.receiver_manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert receiver["image"] == image

    command = _services()["code-location"]["command"]
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-m") + 1] == MODULE
    assert command[command.index("-p") + 1] == str(PORT)
    helm = files.user_deployment()
    assert helm["codeServerArgs"][helm["codeServerArgs"].index("-m") + 1] == MODULE
    assert helm["port"] == PORT
    dockerfile = (files.DEPLOY / "Dockerfile").read_text()
    assert f'"-m", "{MODULE}"' in dockerfile
    assert f'"-p", "{PORT}"' in dockerfile


def test_the_compose_webserver_and_daemon_load_the_code_location_service_named_in_workspace():
    [entry] = files.workspace()["load_from"]
    server = entry["grpc_server"]
    assert server["host"] in _services()
    assert server["host"] == "code-location"
    assert server["port"] == PORT
    assert _compose_env("webhook-receiver")["INVENTORY_DAGSTER_LOCATION"] == server["location_name"]
    for service in ("webserver", "daemon"):
        command = _services()[service]["command"]
        assert command[command.index("-w") + 1] == "workspace.yaml", service
        assert "code-location" in _services()[service]["depends_on"], service


def test_the_odoo_push_on_kubernetes_submits_to_the_code_location_the_chart_names():
    name = files.user_deployment()["name"]
    assert _helm_env()["INVENTORY_DAGSTER_LOCATION"]["value"] == name
    [receiver] = files.receiver_manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {entry["name"]: entry["value"] for entry in receiver["env"]}
    assert env["INVENTORY_DAGSTER_LOCATION"] == name
    assert receiver["envFrom"] == [{"secretRef": {"name": files.SECRET}}]


def test_compose_and_helm_give_the_code_location_the_same_variables_required_alike():
    compose = _compose_env("code-location")
    helm = _helm_env()
    instance_vars = files.instance_env_vars()
    assert instance_vars == {n for n in compose if n.startswith("DAGSTER_PG_")}
    assert set(compose) - instance_vars == set(helm)
    for name in helm:
        assert _required_in_compose(name, compose[name]) == _required_in_helm(helm[name]), name
    assert set(_compose_env("webhook-receiver")) == set(compose) - instance_vars


def test_the_webserver_and_daemon_get_the_instance_variables_and_nothing_else():
    for service in ("webserver", "daemon"):
        assert set(_compose_env(service)) == files.instance_env_vars(), service


def test_no_secret_is_written_in_compose_or_helm():
    # a variable is passed on (no value), interpolated from its own name, or one of the fixed
    for service, fixed in COMPOSE_FIXED.items():
        for name, value in _compose_env(service).items():
            if name in fixed:
                assert value == fixed[name], (service, name)
            elif value is not None:
                assert value.startswith(f"${{{name}:"), (service, name)
    for name, entry in _helm_env().items():
        if name in HELM_FIXED:
            assert entry == {"name": name, "value": HELM_FIXED[name]}, name
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (files.SECRET, name), name
    assert "postgresqlPassword" not in files.helm_values()["postgresql"]
    assert files.helm_values()["generatePostgresqlPasswordSecret"] is False


def test_compose_names_every_field_of_every_shipped_channel_required_as_the_code_requires():
    compose = _compose_env("code-location")
    for channel in load_policy().channels.channels:
        spec = KINDS[channel.kind.value]
        for field in channel_fields(spec):
            name = env_prefix(channel.name) + field
            assert name in compose, name
            assert _required_in_compose(name, compose[name]) == (field in spec.required), name


def test_compose_and_helm_name_every_variable_the_code_reads_but_the_local_ones():
    read = set(variables_in_package()) - NOT_SET_IN_A_DEPLOYMENT
    assert read <= set(_compose_env("code-location"))
    assert read - files.instance_env_vars() <= set(_helm_env())


def test_the_chart_renders_the_queue_retries_monitoring_and_pools_of_dagster_yaml():
    rendered = _instance_rendered_by_the_chart(files.helm_values())
    result = validate_config(dagster_instance_config_schema(), rendered)
    assert result.success, [e.message for e in result.errors]
    deploy = files.instance()
    assert rendered["run_coordinator"]["config"] == deploy["run_coordinator"]["config"]
    for section in ("run_monitoring", "run_retries", "concurrency"):
        assert rendered[section] == deploy[section], section


def test_the_helm_values_use_only_keys_the_chart_knows_with_their_types():
    jsonschema.validate(files.helm_values(), VALUES_SCHEMA)


def test_the_helm_values_use_the_k8s_run_launcher_and_a_non_root_code_location():
    values = files.helm_values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    deployment = files.user_deployment()
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    assert deployment["podSecurityContext"]["runAsUser"] == 10001


def test_the_chart_version_is_the_dagster_uv_lock_pins():
    version = files.locked_version("dagster")
    install = f"helm upgrade --install dagster dagster/dagster --version {version}"
    assert install in (files.DEPLOY / "helm" / "values.yaml").read_text()
    assert install in files.readme_section("Deployment")


def test_the_compose_file_uses_only_keys_of_the_compose_specification():
    document = files.compose()
    assert set(document) - {k for k in document if k.startswith("x-")} <= COMPOSE_KEYS
    for name, service in document["services"].items():
        assert set(service) <= SERVICE_KEYS, name
        assert set(service.get("build", {})) <= BUILD_KEYS, name
        assert set(service.get("healthcheck", {})) <= HEALTHCHECK_KEYS, name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in document["services"], (name, dependency)
            assert condition["condition"] in DEPENDS_ON_CONDITIONS, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in document["volumes"], (name, volume)


def test_the_compose_postgresql_creates_the_ledger_database_the_example_url_names():
    init = (files.DEPLOY / "postgres-init" / "01-ledger-database.sql").read_text()
    assert "CREATE DATABASE inventory_ledger;" in init
    assert "@postgresql:5432/inventory_ledger" in (files.DEPLOY / "docker-compose.yml").read_text()
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in _services()["postgresql"]["volumes"]


def test_the_receiver_service_reaches_the_receiver_pods_on_the_port_it_serves():
    manifests = files.receiver_manifests()
    assert set(manifests) == {"Deployment", "Service"}
    pod = manifests["Deployment"]["spec"]["template"]
    assert manifests["Deployment"]["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
    assert manifests["Service"]["spec"]["selector"] == pod["metadata"]["labels"]
    [container] = pod["spec"]["containers"]
    [port] = container["ports"]
    [service_port] = manifests["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    assert container["command"][-1] == str(port["containerPort"])
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
