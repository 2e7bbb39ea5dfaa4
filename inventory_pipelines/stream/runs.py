"""The fast run a push submits, and who submits it (the Dagster webserver's GraphQL API).

The run is the job ``refresh_changed_skus`` (``defs/stream/jobs.py``) over the hinted SKUs, on
every channel in one run (the channel partition range from the first to the last channel of
``channels.yml``), tagged as the fast path, exactly as a sensor's run request would make it.
This package imports nothing of Dagster's: it talks to the webserver through
``dagster_graphql``'s client, as any other program would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

FAST_JOB = "refresh_changed_skus"
TRIGGER = "odoo_push"
#: where ``refresh_changed_skus`` lives: the code location of workspace.yaml, the repository
#: ``load_from_defs_folder`` makes
DEFAULT_LOCATION = "inventory_pipelines"
DEFAULT_REPOSITORY = "__repository__"


@dataclass(frozen=True)
class FastRun:
    """A fast refresh of `skus` on every channel of `channels` (in ``channels.yml`` order)."""

    skus: tuple[str, ...]
    channels: tuple[str, ...]
    job_name: str = FAST_JOB
    #: what saw the change: Odoo's push, or the change sensor handing its critical SKUs over
    trigger: str = TRIGGER

    def __post_init__(self) -> None:
        if not self.skus:
            raise ValueError("a fast run needs at least one SKU")
        if not self.channels:
            raise ValueError("a fast run needs the channels of channels.yml")

    @property
    def run_config(self) -> dict[str, Any]:
        """The SKU scope every asset of the run reads and upserts."""
        return {"resources": {"sku_scope": {"config": {"skus": list(self.skus)}}}}

    @property
    def tags(self) -> dict[str, str]:
        """Fast path, over every channel partition at once."""
        return {
            "inventory/fast_path": "true",
            "inventory/trigger": self.trigger,
            "dagster/asset_partition_range_start": self.channels[0],
            "dagster/asset_partition_range_end": self.channels[-1],
        }


class RunSubmitter(Protocol):
    """Hands a fast run to Dagster; returns its run id, raises when it could not."""

    def submit(self, run: FastRun) -> str:
        """Submit `run`."""
        ...


class GraphQLRunSubmitter:
    """Submits through the webserver's GraphQL API (``dagster_graphql.DagsterGraphQLClient``).

    `url` is the webserver's base URL (``INVENTORY_DAGSTER_URL``, e.g.
    ``http://127.0.0.1:3000`` or ``https://dagster.example.com/prefix``). The run goes through
    the instance's run coordinator like one launched from the UI: queued behind the
    deployment's limits, or launched at once.
    """

    def __init__(
        self,
        url: str,
        *,
        location: str = DEFAULT_LOCATION,
        repository: str = DEFAULT_REPOSITORY,
        timeout_s: int = 10,
    ) -> None:
        # imported here, when a receiver starts, not by whoever only reads this module
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"the Dagster webserver URL must be http(s)://host[:port], not {url!r}"
            )
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.location = location
        self.repository = repository
        self._client = DagsterGraphQLClient(
            parts.hostname,
            port_number=parts.port,
            use_https=parts.scheme == "https",
            timeout=timeout_s,
            path_prefix=parts.path.rstrip("/"),
        )

    def __repr__(self) -> str:
        return f"GraphQLRunSubmitter({self.url!r}, location={self.location!r})"

    def submit(self, run: FastRun) -> str:
        """Launch the run; its id. Raises ``DagsterGraphQLClientError`` when refused."""
        return self._client.submit_job_execution(
            run.job_name,
            repository_location_name=self.location,
            repository_name=self.repository,
            run_config=run.run_config,
            tags=run.tags,
        )
