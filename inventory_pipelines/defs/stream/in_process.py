"""Fast runs executed in the webhook receiver's own process: no queue, no new process.

A run handed to the instance's run coordinator waits for the queue's next pass, then for a
new process to import Dagster and load this code location before its first step: 3 to 4 s
of a push's latency on 2 cores (``make bench BENCH_ARGS=stream_latency`` breaks it down),
more than the steps themselves. The receiver has loaded both already, so with
``push.runs_in: receiver`` (``automation.yml``, the default) it executes the run itself.

It is a run of the instance like any other: created with this code location's origin (the UI
lists it under ``refresh_changed_skus`` and can re-execute it; the run-status sensors, the
failure alert and the requeue of failed refreshes, see it), its events in the event log,
its steps under the same pools (the publish step still takes ``channel_publishing``, so it
never publishes beside another run's publish). Runs execute one at a time, on the push
path's own thread: hints that arrive meanwhile wait in the coalescer and go into the next
run together, which is the back-pressure a burst needs.

What it gives up: the run coordinator's queue (a fast-path run outranks every queued run
anyway) and the run launcher. Run monitoring that checks a launcher's workers (the
Kubernetes launcher's) would take these runs for lost workers and resume them elsewhere, so
the executor refuses to start on such an instance: use ``push.runs_in: instance`` there.
A run the receiver was executing when it stopped is marked failed when it starts again (the
requeue sensor then runs its SKUs again).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import create_execution_plan, execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from inventory_pipelines import settings
from inventory_pipelines.stream.runs import DEFAULT_LOCATION, DEFAULT_REPOSITORY, FastRun

log = logging.getLogger(__name__)

DEFINITIONS_MODULE = "inventory_pipelines.definitions"
#: which receiver executed a run: ``receiver@<host>``
RUNNER_TAG = "inventory/runner"
UNFINISHED = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)


class ReceiverRunsUnsafeError(RuntimeError):
    """The instance would take runs executed in the receiver for lost workers."""


class InProcessRunExecutor:
    """Executes each fast run in this process, as a run of `instance` (see the module
    docstring); ``submit`` returns when the run is over, with its id."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        *,
        location: str = DEFAULT_LOCATION,
        repository: str = DEFAULT_REPOSITORY,
    ) -> None:
        launcher = instance.run_launcher
        if instance.run_monitoring_enabled and launcher.supports_check_run_worker_health:
            raise ReceiverRunsUnsafeError(
                f"push.runs_in: receiver cannot run beside run monitoring with "
                f"{type(launcher).__name__}, which would take the receiver's runs for lost "
                "workers; set push.runs_in: instance in automation.yml"
            )
        self.instance = instance
        self.runner = f"receiver@{socket.gethostname()}"
        target = LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=DEFINITIONS_MODULE,
            working_directory=str(settings.REPO_ROOT),
        )
        self._origin = RemoteRepositoryOrigin(
            ManagedGrpcPythonEnvCodeLocationOrigin(target, location_name=location), repository
        )
        self._repository = ReconstructableRepository.for_module(
            DEFINITIONS_MODULE, "defs", working_directory=str(settings.REPO_ROOT)
        )
        self._jobs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"InProcessRunExecutor({self.runner!r})"

    def warm(self, job_name: str) -> None:
        """Load the code location and the job now, not on the first push."""
        self._job(job_name)

    def _job(self, job_name: str):
        if job_name not in self._jobs:
            self._jobs[job_name] = self._repository.get_reconstructable_job(job_name)
            self._jobs[job_name].get_definition()
        return self._jobs[job_name]

    def fail_unfinished(self) -> list[str]:
        """Mark failed the runs this host's receiver left unfinished (it stopped mid-run)."""
        runs = self.instance.get_runs(
            filters=dg.RunsFilter(statuses=list(UNFINISHED), tags={RUNNER_TAG: self.runner})
        )
        for run in runs:
            self.instance.report_run_failed(
                run, f"{self.runner} stopped while it executed this run"
            )
        return [run.run_id for run in runs]

    def submit(self, run: FastRun) -> str:
        """Execute `run`; its run id. Raises only when the run could not be created."""
        with self._lock:
            job = self._job(run.job_name)
            job_def = job.get_definition()
            tags = {**job_def.run_tags, **run.tags, RUNNER_TAG: self.runner}
            plan = create_execution_plan(
                job, run_config=run.run_config, instance_ref=self.instance.get_ref(), tags=tags
            )
            dagster_run = self.instance.create_run_for_job(
                job_def=job_def,
                execution_plan=plan,
                run_config=run.run_config,
                tags=tags,
                remote_job_origin=RemoteJobOrigin(self._origin, run.job_name),
                job_code_origin=job.get_python_origin(),
            )
            result = execute_run(job, dagster_run, self.instance)
            if not result.success:
                log.warning("odoo push: run %s failed (see the UI)", dagster_run.run_id)
            return dagster_run.run_id


def receiver_executor(job_name: str) -> InProcessRunExecutor:
    """The executor for `inventory-sync webhooks serve` on ``$DAGSTER_HOME``'s instance: runs
    left unfinished by this host's last receiver marked failed, the job loaded."""
    executor = InProcessRunExecutor(dg.DagsterInstance.get())
    for run_id in executor.fail_unfinished():
        log.warning("odoo push: run %s was left unfinished by the last receiver: failed", run_id)
    executor.warm(job_name)
    return executor
