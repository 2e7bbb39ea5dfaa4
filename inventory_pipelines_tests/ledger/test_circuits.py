"""Each channel's circuit breaker in the ledger: opens after failures in a row, lets one probe
through after its cool-down, closes on a success; every process sees the same state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from inventory_pipelines.ledger import audit, circuits

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def fail(conn: Connection, times: int, at: dt.datetime = T0) -> circuits.Circuit:
    circuit = circuits.get(conn, "shop")
    for n in range(times):
        circuit = circuits.record_failure(conn, "shop", f"HTTP 503 #{n}", now=at)
    return circuit


def test_a_channel_never_seen_is_closed_and_allowed(conn: Connection) -> None:
    circuit = circuits.check(conn, "shop", T0)
    assert circuit.allows and circuit.clean and circuit.describe() == "closed"


def test_failures_below_the_threshold_leave_it_closed_and_a_success_forgets_them(
    conn: Connection,
) -> None:
    circuit = fail(conn, circuits.FAILURES_TO_OPEN - 1)
    assert circuit.state == "closed" and circuit.allows and not circuit.clean
    circuits.record_success(conn, "shop")
    assert circuits.get(conn, "shop").clean
    # a success on a closed circuit writes no audit row
    assert audit.history(conn, entity="channel/shop", action="circuit.closed") == []


def test_it_opens_at_the_threshold_refuses_until_the_cool_down_and_is_audited(
    conn: Connection,
) -> None:
    circuit = fail(conn, circuits.FAILURES_TO_OPEN)
    assert circuit.state == "open" and not circuit.allows
    assert circuit.retry_at == T0 + circuits.COOLDOWN
    assert "open since" in circuit.describe() and "HTTP 503 #2" in circuit.describe()
    assert not circuits.check(conn, "shop", T0 + circuits.COOLDOWN / 2).allows
    (opened,) = audit.history(conn, entity="channel/shop", action="circuit.opened")
    assert opened.after["failures"] == circuits.FAILURES_TO_OPEN
    # other channels are not affected
    assert circuits.check(conn, "woo", T0).allows


def test_after_the_cool_down_exactly_one_caller_probes(conn: Connection) -> None:
    fail(conn, circuits.FAILURES_TO_OPEN)
    later = T0 + circuits.COOLDOWN
    probe = circuits.check(conn, "shop", later)
    assert probe.allows and probe.state == "half_open"
    assert not circuits.check(conn, "shop", later).allows  # the others wait for its answer
    # a prober that died: after PROBE_TIMEOUT another may probe
    assert circuits.check(conn, "shop", later + circuits.PROBE_TIMEOUT).allows


def test_a_probe_that_succeeds_closes_it(conn: Connection) -> None:
    fail(conn, circuits.FAILURES_TO_OPEN)
    assert circuits.check(conn, "shop", T0 + circuits.COOLDOWN).allows
    circuits.record_success(conn, "shop")
    assert circuits.check(conn, "shop", T0 + circuits.COOLDOWN).clean
    (closed,) = audit.history(conn, entity="channel/shop", action="circuit.closed")
    assert closed.before == {"state": "half_open", "failures": circuits.FAILURES_TO_OPEN}


def test_a_probe_that_fails_reopens_it_for_twice_as_long_up_to_the_cap(conn: Connection) -> None:
    fail(conn, circuits.FAILURES_TO_OPEN)
    at = T0
    cooldowns = []
    for _ in range(8):
        at = at + circuits.MAX_COOLDOWN
        assert circuits.check(conn, "shop", at).allows
        circuit = circuits.record_failure(conn, "shop", "still down", now=at)
        assert circuit.state == "open"
        cooldowns.append(circuit.retry_at - at)
    assert cooldowns[0] == 2 * circuits.COOLDOWN
    assert cooldowns[-1] == circuits.MAX_COOLDOWN
    assert cooldowns == sorted(cooldowns)


def test_every_circuit_is_listed(conn: Connection) -> None:
    fail(conn, circuits.FAILURES_TO_OPEN)
    circuits.record_failure(conn, "woo", "timeout", now=T0)
    listed = circuits.all_circuits(conn)
    assert {name: c.state for name, c in listed.items()} == {"shop": "open", "woo": "closed"}
