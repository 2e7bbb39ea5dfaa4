"""Per-channel publish leases: one publisher per channel at a time, across processes; a dead
holder's lease is taken over."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import leases
from inventory_pipelines.ledger.schema import channel_leases


def test_a_lease_is_one_holders_until_released(engine: Engine) -> None:
    with engine.connect() as conn:
        assert leases.try_acquire(conn, "shop", "a@x:1:n") is not None
        assert leases.try_acquire(conn, "shop", "b@x:2:n") is None
        assert leases.try_acquire(conn, "woo", "b@x:2:n") is not None  # per channel
        assert leases.try_acquire(conn, "shop", "a@x:1:n") is not None  # renewing is fine
        assert leases.holder_of(conn, "shop").holder == "a@x:1:n"
        leases.release(conn, "shop", "b@x:2:n")  # not b's to release
        assert leases.holder_of(conn, "shop").holder == "a@x:1:n"
        leases.release(conn, "shop", "a@x:1:n")
        assert leases.try_acquire(conn, "shop", "b@x:2:n") is not None


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    with engine.connect() as conn:
        leases.try_acquire(conn, "shop", "a@elsewhere:1:n")
        with conn.begin():
            conn.execute(
                channel_leases.update().values(
                    expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                )
            )
        assert leases.holder_of(conn, "shop") is None
        assert leases.try_acquire(conn, "shop", "b@x:2:n") is not None


def test_a_lease_whose_process_died_on_this_machine_is_taken_at_once(engine: Engine) -> None:
    """A publisher killed (kill -9) holds nothing: no waiting out the ttl on this machine."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    holder = f"publisher@{leases.socket.gethostname()}:{int(dead.stdout)}:n"
    with engine.connect() as conn:
        assert leases.try_acquire(conn, "shop", holder) is not None
        assert leases.try_acquire(conn, "shop", leases.new_holder()) is not None
        # a live holder elsewhere is respected
        leases.try_acquire(conn, "woo", "publisher@another-host:1:n")
        assert leases.try_acquire(conn, "woo", leases.new_holder()) is None


def test_a_second_publisher_waits_for_the_first_and_then_goes(engine: Engine) -> None:
    order: list[str] = []
    first_in = threading.Event()
    go_on = threading.Event()

    def first() -> None:
        with leases.holding(engine, ["shop", "woo"], "first@x:1:n"):
            order.append("first in")
            first_in.set()
            go_on.wait(10)
            order.append("first out")

    def second() -> None:
        first_in.wait(10)
        told: list[str] = []
        with leases.holding(engine, ["woo"], "second@x:2:n",
                            waiting=lambda c, lease: told.append(lease.holder)):  # fmt: skip
            order.append("second in")
        assert told == ["first@x:1:n"]

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait(10)
    time.sleep(0.6)
    assert order == ["first in"]  # the second waits
    go_on.set()
    for thread in threads:
        thread.join(20)
    assert order == ["first in", "first out", "second in"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(channel_leases)).scalar() == 0


def test_a_publisher_that_waits_too_long_is_told_who_holds_the_channel(engine: Engine) -> None:
    with engine.connect() as conn:
        leases.try_acquire(conn, "shop", "sync@ops-laptop:42:n")
    busy = pytest.raises(leases.ChannelBusyError, match=r"shop: being published by sync@ops-")
    with busy, leases.holding(engine, ["shop"], "run@x:1:n", wait=dt.timedelta(seconds=0.3)):
        pass


def test_a_holder_whose_lease_was_taken_stops(engine: Engine) -> None:
    held = leases.Leases(engine, "slow@x:1:n", ttl=dt.timedelta(seconds=30))
    with engine.connect() as conn:
        leases.try_acquire(conn, "shop", "other@x:2:n")
    with pytest.raises(leases.LeaseLostError, match="another publisher took the channel"):
        held.renew("shop")
