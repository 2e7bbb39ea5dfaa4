"""Where things live, from the environment: one place for the CLI and the Dagster resources."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

ENVIRONMENTS = ("local", "staging", "prod")
#: the hosts the `local` environment may talk to: everything else is off the machine
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def environment() -> str:
    """`$INVENTORY_ENV`: local (the sandbox, the default), staging or prod."""
    env = os.environ.get("INVENTORY_ENV", "local")
    if env not in ENVIRONMENTS:
        raise ValueError(f"INVENTORY_ENV={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return env


def data_dir() -> Path:
    """`$INVENTORY_DATA_DIR`: the base folder of the Parquet data plane (default `.data/`)."""
    return Path(os.environ.get("INVENTORY_DATA_DIR", REPO_ROOT / ".data" / "tables"))


def data_uri() -> str:
    """`$INVENTORY_DATA_URI`: where the Parquet data plane lives, a local folder or an object
    storage prefix (`s3://bucket/prefix`); default the folder `data_dir()`.

    On `s3://`, the endpoint is `object_store_endpoint()` and the credentials and region come
    from the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    `AWS_SESSION_TOKEN`, `AWS_REGION` or `AWS_DEFAULT_REGION`), or from the machine's role
    (instance profile, EKS web identity) where none is set.
    """
    return os.environ.get("INVENTORY_DATA_URI") or str(data_dir())


def object_store_endpoint() -> str | None:
    """`$AWS_ENDPOINT_URL_S3`, else `$AWS_ENDPOINT_URL` (else `$AWS_ENDPOINT`, the name the
    object_store library also reads): an S3-compatible endpoint (MinIO, moto, another cloud's
    S3 API); unset means AWS itself. In the `local` environment it must be a loopback URL
    (anything else is refused), so a laptop never writes to a real bucket."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"):
        if os.environ.get(name):
            return os.environ[name]
    return None


def catalog_path() -> Path | str:
    """`$INVENTORY_CATALOG`: the analysts' DuckDB catalog, a file (default beside the data
    plane's local folder) or an object storage key (`s3://bucket/warehouse.duckdb`) it is
    uploaded to after each rebuild."""
    configured = os.environ.get("INVENTORY_CATALOG")
    if configured and "://" in configured:
        return configured
    return Path(configured) if configured else data_dir().parent / "warehouse.duckdb"


def sandbox_env_path() -> Path:
    """Where a running `inventory-sync sandbox up` (or `dev`) leaves its connection variables."""
    return data_dir().parent / "sandbox-env.json"


def write_sandbox_env(env: Mapping[str, str]) -> None:
    """Record the running sandbox's variables (loopback URLs and its documented local keys)."""
    path = sandbox_env_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(env), indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def clear_sandbox_env() -> None:
    """Forget the sandbox's variables once it stops."""
    sandbox_env_path().unlink(missing_ok=True)


def local_env() -> dict[str, str]:
    """The process environment over the running sandbox's variables (local environment only):
    with nothing configured, the local environment talks to the sandbox that is up."""
    path = sandbox_env_path()
    recorded = json.loads(path.read_text()) if path.exists() else {}
    return {**recorded, **os.environ}
