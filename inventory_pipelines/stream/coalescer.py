"""From hints to fast runs: wait for Odoo's commit, read the quants back, coalesce, submit.

A hint is queued by the receiver in microseconds; everything slow happens here, on one
background thread, never in the request:

1. **Commit wait.** Odoo 17 and 18 send the webhook from inside the transaction that saved the
   quant, so on arrival the change is not readable yet. A hint is read back no sooner than
   ``commit_wait_s`` after it arrived (``automation.yml``: ``push.commit_wait_s``; 0 for an
   Odoo that sends after its commit, 19 and later).
2. **Coalescing.** A batch closes ``window_s`` after its first hint is due: every hint due by
   then is read back with it, in one ``search_read``, and its SKUs go into one run. A second
   hint for a quant already waiting replaces the first (and restarts its wait).
3. **Re-read.** A quant is *committed* when it can be read and shows the quantities the hint
   carries (``quantity``, ``reserved_quantity``: those the rule sends). Its SKU goes into the
   batch's run. A quant that cannot be read yet, or still shows another quantity (the
   transaction has not committed, or rolled back, or a later change already landed), is read
   again after each of ``retry_delays_s`` (0.25, 0.5, 1 s) on its own, without holding up the
   batch. Then it is taken anyway when its SKU is known (from the quant, or from the hint's
   ``product_id``): the run reads Odoo for itself when it starts, so at worst it refreshes a
   SKU that did not change. A quant that never became readable and whose product is unknown
   (deleted, or never committed) is left to the change sensor, and logged.
4. **SKUs handed over.** The change sensor, when this receiver executes runs itself, hands
   its critical SKUs over (``offer_skus``) instead of queueing runs: they were read after
   Odoo's commit already, so they go into the next batch at once, with the hints due by then
   (a change both the push and the sensor saw becomes one run), and none is ever left over:
   more than ``max_skus_per_run`` become several runs.
5. **Submit.** One run per batch, of at most ``max_skus_per_run`` SKUs (``automation.yml``:
   ``change_sensor.fast_path.max_skus_per_run``, the sensor's own cap); more SKUs at once is
   a mass change (an import, a big receipt) that the change sensor routes to the batch, so
   the rest is left to it. A run that cannot be submitted (the webserver down, a refused
   config) is logged and dropped: the change sensor refreshes those SKUs within its next
   ticks. Nothing here ever blocks or fails a webhook; past ``max_waiting`` quants waiting,
   new hints are left to the sensor too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inventory_pipelines.stream.hints import QuantHint
from inventory_pipelines.stream.quants import QuantReader, QuantSeen
from inventory_pipelines.stream.runs import TRIGGER, FastRun, RunSubmitter

log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 0.1
DEFAULT_RETRY_DELAYS_S = (0.25, 0.5, 1.0)
#: quantities are compared at Odoo's precision
QUANTITY_TOLERANCE = 1e-6


@dataclass
class CoalescerStats:
    """Counters since start (for logs and tests)."""

    hints: int = 0
    replaced: int = 0  # a newer hint for a quant still waiting
    batches: int = 0
    reads: int = 0  # quants read back, retries included
    retried: int = 0
    taken_unconfirmed: int = 0  # taken after the retries without seeing the hinted quantity
    left_to_sensor: int = 0
    overflow: int = 0  # hints or SKUs past max_waiting / max_skus_per_run: left to the sensor
    without_sku: int = 0
    read_failures: int = 0
    runs: int = 0
    skus: int = 0
    submit_failures: int = 0


@dataclass
class _Waiting:
    hint: QuantHint
    arrived: float
    due: float
    reads: int = 0


class HintCoalescer:
    """Turns quant hints into fast runs (see the module docstring). Start it, offer hints,
    stop it."""

    def __init__(
        self,
        reader: QuantReader,
        submitter: RunSubmitter,
        channels: Sequence[str],
        *,
        commit_wait_s: float,
        window_s: float = DEFAULT_WINDOW_S,
        retry_delays_s: Sequence[float] = DEFAULT_RETRY_DELAYS_S,
        max_skus_per_run: int = 500,
        max_waiting: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if commit_wait_s < 0 or window_s < 0 or any(d < 0 for d in retry_delays_s):
            raise ValueError("waits cannot be negative")
        self.reader = reader
        self.submitter = submitter
        self.channels = tuple(channels)
        self.commit_wait_s = commit_wait_s
        self.window_s = window_s
        self.retry_delays_s = tuple(retry_delays_s)
        self.max_skus_per_run = max_skus_per_run
        self.max_waiting = max_waiting
        self.stats = CoalescerStats()
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: dict[int, _Waiting] = {}
        self._handed: dict[str, str] = {}  # SKU -> the trigger that handed it over
        #: whether the receiver takes SKUs handed over (it executes the runs itself)
        self.takes_skus = False
        self._busy = False
        self._stopping = False
        self._overflowing = False
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> HintCoalescer:
        """Start the background thread (once)."""
        with self._cond:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._loop, name="odoo-push", daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread; hints still waiting are left to the change sensor."""
        with self._cond:
            self._stopping = True
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            if self._waiting:
                log.info("odoo push: %d hint(s) left to the change sensor", len(self._waiting))
            self.stats.left_to_sensor += len(self._waiting)
            self._waiting.clear()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every hint offered so far is settled (tests, shutdown)."""
        deadline = self._clock() + timeout
        with self._cond:
            while self._waiting or self._handed or self._busy:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    # -- the request side -------------------------------------------------------------------------

    def offer(self, hint: QuantHint) -> None:
        """Queue a hint (called by the receiver: no I/O, never blocks for long)."""
        now = self._clock()
        with self._cond:
            self.stats.hints += 1
            if hint.quant_id in self._waiting:
                self.stats.replaced += 1
            elif len(self._waiting) >= self.max_waiting:
                self.stats.overflow += 1
                if not self._overflowing:
                    self._overflowing = True
                    log.warning(
                        "odoo push: %d quants already wait to be read back; further hints are "
                        "left to the change sensor",
                        len(self._waiting),
                    )
                return
            self._waiting[hint.quant_id] = _Waiting(hint, now, now + self.commit_wait_s)
            self._cond.notify_all()

    def offer_skus(self, skus: Sequence[str], trigger: str) -> None:
        """Queue SKUs whose change was read after Odoo's commit already (the change sensor's
        critical SKUs): they go into the next batch at once."""
        with self._cond:
            for sku in skus:
                self._handed.setdefault(sku, trigger)
            self._cond.notify_all()

    def waiting(self) -> int:
        """How many quants wait to be read back."""
        with self._cond:
            return len(self._waiting)

    # -- the background side ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            batch, handed = taken
            try:
                self._settle(batch, handed)
            except Exception:  # never let one batch stop the path; the sensor has them anyway
                log.exception("odoo push: a batch of %d hint(s) failed", len(batch))
                self.stats.left_to_sensor += len(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _next_batch(self) -> tuple[dict[int, _Waiting], dict[str, str]] | None:
        """Block until a batch closes: ``window_s`` after the earliest due hint, or at once
        for SKUs handed over."""
        with self._cond:
            while True:
                if self._stopping:
                    return None
                if not self._waiting and not self._handed:
                    self._cond.wait()
                    continue
                if not self._handed:
                    closes = min(w.due for w in self._waiting.values()) + self.window_s
                    left = closes - self._clock()
                    if left > 0:
                        self._cond.wait(left)
                        continue
                now = self._clock()
                batch = {q: w for q, w in self._waiting.items() if w.due <= now}
                for quant_id in batch:
                    del self._waiting[quant_id]
                handed, self._handed = self._handed, {}
                self._overflowing = False
                self._busy = True
                return batch, handed

    def _settle(self, batch: dict[int, _Waiting], handed: dict[str, str] | None = None) -> None:
        handed = handed or {}
        self.stats.batches += 1
        seen = None
        if batch:
            try:
                seen = self.reader.quants(batch)
            except Exception as exc:
                self.stats.read_failures += 1
                log.warning(
                    "odoo push: %d quant(s) could not be read back (%s)",
                    len(batch),
                    _one_line(exc),
                )
        self.stats.reads += len(batch)
        ready: set[str] = set()
        again: list[_Waiting] = []
        unconfirmed: list[tuple[_Waiting, QuantSeen | None]] = []
        for quant_id, waiting in batch.items():
            waiting.reads += 1
            quant = seen.get(quant_id) if seen is not None else None
            if quant is not None and _shows(quant, waiting.hint):
                if quant.sku:
                    ready.add(quant.sku)
                else:
                    self.stats.without_sku += 1
                    log.info("odoo push: quant %s has a product without SKU", quant_id)
            elif waiting.reads <= len(self.retry_delays_s):
                again.append(waiting)
            else:
                unconfirmed.append((waiting, quant))
        ready |= self._take_unconfirmed(unconfirmed)
        self._retry(again)
        if handed:
            # SKUs handed over are never left over: as many runs as they need
            triggers = sorted({*handed.values(), *([TRIGGER] if ready else [])})
            skus = sorted(ready | handed.keys())
            for start in range(0, len(skus), self.max_skus_per_run):
                part = skus[start : start + self.max_skus_per_run]
                self._submit(part, len(batch), trigger="+".join(triggers))
        elif ready:
            self._submit(sorted(ready), len(batch))

    def _take_unconfirmed(self, quants: list[tuple[_Waiting, QuantSeen | None]]) -> set[str]:
        """SKUs of quants whose hinted state was never read back: known SKUs are taken."""
        if not quants:
            return set()
        products = {w.hint.product_id for w, q in quants if q is None and w.hint.product_id}
        try:
            skus = self.reader.skus(products) if products else {}
        except Exception as exc:
            log.warning("odoo push: products could not be read (%s)", _one_line(exc))
            skus = {}
        taken: set[str] = set()
        for waiting, quant in quants:
            sku = quant.sku if quant is not None else skus.get(waiting.hint.product_id or 0)
            if sku:
                self.stats.taken_unconfirmed += 1
                taken.add(sku)
            else:
                self.stats.left_to_sensor += 1
                log.info(
                    "odoo push: quant %s not readable after %d read(s): left to the change sensor",
                    waiting.hint.quant_id,
                    waiting.reads,
                )
        return taken

    def _retry(self, quants: list[_Waiting]) -> None:
        if not quants:
            return
        now = self._clock()
        with self._cond:
            for waiting in quants:
                if waiting.hint.quant_id in self._waiting:
                    continue  # a newer hint for it arrived meanwhile: that one counts
                self.stats.retried += 1
                waiting.due = now + self.retry_delays_s[waiting.reads - 1]
                self._waiting[waiting.hint.quant_id] = waiting
            self._cond.notify_all()

    def _submit(self, skus: list[str], hints: int, trigger: str = TRIGGER) -> None:
        part, rest = tuple(skus[: self.max_skus_per_run]), skus[self.max_skus_per_run :]
        if rest:
            self.stats.overflow += len(rest)
            log.info(
                "odoo push: %d SKU(s) changed at once; %d left to the change sensor",
                len(skus),
                len(rest),
            )
        try:
            run_id = self.submitter.submit(FastRun(part, self.channels, trigger=trigger))
        except Exception as exc:
            self.stats.submit_failures += 1
            log.warning(
                "odoo push: the fast run for %d SKU(s) was not submitted (%s); the change "
                "sensor refreshes them",
                len(part),
                _one_line(exc),
            )
            return
        self.stats.runs += 1
        self.stats.skus += len(part)
        log.info("odoo push: run %s for %d SKU(s) (%d hint(s))", run_id, len(part), hints)


def _shows(quant: QuantSeen, hint: QuantHint) -> bool:
    """Whether Odoo's committed quant shows the quantities the hint carries (if it carries
    none, being readable is all it can show)."""
    return all(
        said is None or abs(seen - said) <= QUANTITY_TOLERANCE
        for seen, said in (
            (quant.quantity, hint.quantity),
            (quant.reserved_quantity, hint.reserved_quantity),
        )
    )


def _one_line(exc: BaseException) -> str:
    """An exception as one line for the log: its type, first line and direct cause's type."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
    cause = exc.__cause__
    return f"{text} (caused by {type(cause).__name__})" if cause is not None else text
