"""deploy/Dockerfile, read instruction by instruction (no Docker engine here to build it)."""

from __future__ import annotations

import json
import re
import shlex

from inventory_pipelines_tests.deploy import files

DOCKERFILE = files.DEPLOY / "Dockerfile"
FINAL_STAGES = ("dagster", "code-location")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in joined.splitlines()
        if line.strip()
    ]


def _stages() -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions by its name (`FROM image AS name`)."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            current = []
            stages[arguments.split()[-1]] = current
        current.append((instruction, arguments))
    return stages


def _global_args() -> dict[str, str]:
    args: dict[str, str] = {}
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            break
        if instruction == "ARG":
            name, _, default = arguments.partition("=")
            args[name] = default
    return args


def _exec_form(stage: str, instruction: str) -> list[str]:
    [last] = [a for i, a in _stages()[stage] if i == instruction][-1:]
    return json.loads(last)


def test_both_images_are_python_3_11_slim():
    assert _global_args()["PYTHON_IMAGE"] == "python:3.11-slim"
    for stage in ("deps", *FINAL_STAGES):
        assert _stages()[stage][0][1].startswith("${PYTHON_IMAGE} AS"), stage


def test_both_images_install_exactly_what_uv_lock_pins_without_the_dev_group():
    makefile = (files.ROOT / "Makefile").read_text()
    [uv_version] = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.M)
    runs = [a for i, a in _instructions() if i == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs, "no uv sync"
    for sync in syncs:
        words = shlex.split(sync[sync.index("uv sync") :])
        assert "--frozen" in words and "--no-dev" in words, sync
    installs = [r for r in runs if "pip install" in r]
    assert installs == ["pip install --no-cache-dir --disable-pip-version-check uv==${UV_VERSION}"]
    deps = dict(_stages()["deps"])
    assert deps["ARG"] == f"UV_VERSION={uv_version}"
    copies = [a for i, a in _stages()["deps"] if i == "COPY"]
    assert copies[0] == "pyproject.toml uv.lock ./"
    assert ("COPY", "--from=deps /app/.venv /app/.venv") in _stages()["dagster"]
    assert ("COPY", "--from=build /app /app") in _stages()["code-location"]


def test_both_images_run_as_an_unprivileged_user():
    for stage in FINAL_STAGES:
        users = [a for i, a in _stages()[stage] if i == "USER"]
        assert users, stage
        uid, _, gid = users[-1].partition(":")
        assert uid.isdigit() and int(uid) > 0, stage  # numeric: Kubernetes checks runAsNonRoot
        assert gid.isdigit() and int(gid) > 0, stage
        after_user = _stages()[stage][[i for i, _ in _stages()[stage]].index("USER") :]
        assert not [a for i, a in after_user if i == "RUN"], stage


def test_the_code_location_image_serves_the_definitions_over_grpc_on_4000():
    command = _exec_form("code-location", "CMD")
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-m") + 1] == "inventory_pipelines.definitions"
    assert command[command.index("-p") + 1] == "4000"
    assert command[command.index("-h") + 1] == "0.0.0.0"
    assert ("EXPOSE", "4000") in _stages()["code-location"]
    [healthcheck] = [a for i, a in _stages()["code-location"] if i == "HEALTHCHECK"]
    probe = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert probe == ["dagster", "api", "grpc-health-check", "-p", "4000"]


def test_the_dagster_image_runs_the_webserver_on_the_deploy_instance_and_workspace():
    command = _exec_form("dagster", "CMD")
    assert command[0] == "dagster-webserver"
    assert command[command.index("-w") + 1] == "workspace.yaml"
    stage = _stages()["dagster"]
    assert (
        "COPY",
        "deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/dagster_home/",
    ) in stage
    assert ("WORKDIR", "/opt/dagster/dagster_home") in stage


def test_the_build_context_leaves_out_the_virtualenv_local_data_and_deploy_secrets():
    ignored = (files.ROOT / ".dockerignore").read_text().splitlines()
    for path in (".git", ".venv", ".tools", ".data", ".dagster_home", "deploy/.env"):
        assert path in ignored, path
