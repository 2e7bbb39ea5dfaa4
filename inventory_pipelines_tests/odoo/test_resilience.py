"""Retries, backoff and the circuit breaker: first on their own, then through the client."""

from __future__ import annotations

import httpx
import pytest

from inventory_pipelines.odoo import (
    OdooCircuitOpenError,
    OdooUnavailableError,
    OdooUserError,
)
from inventory_pipelines.odoo.resilience import (
    BreakerState,
    CircuitBreaker,
    Resilience,
    RetryPolicy,
    is_idempotent,
)
from inventory_pipelines.odoo.transports import parse_retry_after
from inventory_pipelines_tests.odoo.conftest import (
    ClientFactory,
    FakeClock,
    FakeOdoo,
    json2_error,
    jsonrpc_error,
    raises,
    status,
)

# --- the pieces on their own ---------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    policy = RetryPolicy(max_attempts=8, backoff_initial_s=0.5, backoff_max_s=8.0)

    ceilings = [policy.backoff_s(attempt, lambda: 1.0) for attempt in range(1, 8)]

    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.backoff_s(3, lambda: 0.25) == 0.5
    assert policy.backoff_s(3, lambda: 0.0) == 0.0


def test_the_breaker_opens_after_the_threshold_of_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_s=30.0, clock=clock.monotonic)

    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_count_of_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_s=30.0, clock=clock.monotonic)

    for _ in range(5):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()

    assert breaker.state is BreakerState.CLOSED


def test_the_breaker_turns_half_open_after_the_reset_and_lets_one_probe_through(
    clock: FakeClock,
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=30.0, clock=clock.monotonic)
    breaker.record_failure()

    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow(), "a second call while the probe is in flight"


def test_a_successful_probe_closes_the_breaker(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_s=30.0, clock=clock.monotonic)
    breaker.record_failure()
    clock.now += 30
    assert breaker.allow()

    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_the_breaker_for_another_reset_period(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=5, reset_s=30.0, clock=clock.monotonic)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 30
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.seconds_until_probe() == 30.0


def resilience(clock: FakeClock, max_attempts: int = 4, threshold: int = 100) -> Resilience:
    return Resilience(
        RetryPolicy(max_attempts, 0.5, 8.0),
        CircuitBreaker(threshold, 30.0, clock=clock.monotonic),
        sleep=clock.sleep,
        random=lambda: 1.0,
    )


class Script:
    """An attempt function that raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def transient(**kwargs) -> OdooUnavailableError:
    return OdooUnavailableError("HTTP 503", **kwargs)


def test_transient_failures_are_retried_with_growing_waits(clock: FakeClock) -> None:
    attempt = Script(transient(), transient(), transient())

    result = resilience(clock).call(attempt, model="m", method="read", idempotent=True)

    assert result == "ok"
    assert attempt.attempts == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_retries_stop_at_max_attempts(clock: FakeClock) -> None:
    attempt = Script(*(transient() for _ in range(10)))

    with pytest.raises(OdooUnavailableError):
        resilience(clock, max_attempts=3).call(attempt, model="m", method="read", idempotent=True)

    assert attempt.attempts == 3


def test_business_errors_are_not_retried(clock: FakeClock) -> None:
    attempt = Script(OdooUserError("no"))

    with pytest.raises(OdooUserError):
        resilience(clock).call(attempt, model="m", method="read", idempotent=True)

    assert attempt.attempts == 1


def test_a_write_that_may_have_reached_the_server_is_not_retried(clock: FakeClock) -> None:
    attempt = Script(transient(request_sent=True))

    with pytest.raises(OdooUnavailableError):
        resilience(clock).call(attempt, model="m", method="create", idempotent=False)

    assert attempt.attempts == 1


def test_a_write_that_never_left_is_retried(clock: FakeClock) -> None:
    attempt = Script(transient(request_sent=False))

    assert resilience(clock).call(attempt, model="m", method="create", idempotent=False) == "ok"
    assert attempt.attempts == 2


def test_retry_after_is_honoured(clock: FakeClock) -> None:
    attempt = Script(transient(retry_after=5.0))

    resilience(clock).call(attempt, model="m", method="read", idempotent=True)

    assert clock.sleeps == [5.0]


def test_a_retry_after_beyond_the_longest_backoff_gives_the_failure_back(clock: FakeClock) -> None:
    attempt = Script(transient(retry_after=120.0))

    with pytest.raises(OdooUnavailableError):
        resilience(clock).call(attempt, model="m", method="read", idempotent=True)

    assert attempt.attempts == 1
    assert clock.sleeps == []


def test_an_open_breaker_refuses_calls_without_attempting_them(clock: FakeClock) -> None:
    caller = resilience(clock, max_attempts=1, threshold=2)
    for _ in range(2):
        with pytest.raises(OdooUnavailableError):
            caller.call(Script(transient()), model="m", method="read", idempotent=True)

    attempt = Script()
    with pytest.raises(OdooCircuitOpenError) as info:
        caller.call(attempt, model="m", method="read", idempotent=True)

    assert attempt.attempts == 0
    assert info.value.request_sent is False


def test_the_retry_loop_stops_when_the_breaker_opens(clock: FakeClock) -> None:
    attempt = Script(*(transient() for _ in range(10)))

    with pytest.raises(OdooUnavailableError):
        resilience(clock, max_attempts=10, threshold=3).call(
            attempt, model="m", method="read", idempotent=True
        )

    assert attempt.attempts == 3


@pytest.mark.parametrize(
    "method", ["search_read", "read", "search_count", "fields_get", "formatted_read_group"]
)
def test_reads_are_idempotent(method: str) -> None:
    assert is_idempotent(method)


@pytest.mark.parametrize("method", ["create", "write", "unlink", "action_confirm", "frobnicate"])
def test_writes_and_unknown_methods_are_not_idempotent(method: str) -> None:
    assert not is_idempotent(method)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- through the client ------------------------------------------------------------------


def ready(fake: FakeOdoo, make_client: ClientFactory, **config):
    """A client with its session (version, uid) established, and an `ok` search_read."""
    fake.on("stock.quant", "search_read", lambda args, kwargs: [{"id": 1}])
    fake.on("sale.order", "create", lambda args, kwargs: 42)
    client = make_client(**config)
    assert client.uid == 2
    return client


def object_requests(fake: FakeOdoo) -> int:
    return len(fake.requests) - 2  # version and authenticate


def read(client) -> list:
    return client.call("stock.quant", "search_read", [[]], {"fields": ["id"]})


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc", "json2"])
def test_a_read_survives_503s_with_backoff(
    fake: FakeOdoo, make_client: ClientFactory, clock: FakeClock, protocol: str
) -> None:
    fake.major = 19
    client = ready(fake, make_client, protocol=protocol)
    fake.inject(status(503), status(502))

    assert read(client) == [{"id": 1}]
    assert object_requests(fake) == 3
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    "failure",
    [raises(httpx.ReadTimeout), raises(httpx.ConnectError), raises(httpx.RemoteProtocolError)],
)
def test_a_read_survives_transport_failures(
    fake: FakeOdoo, make_client: ClientFactory, failure
) -> None:
    client = ready(fake, make_client)
    fake.inject(failure)

    assert read(client) == [{"id": 1}]
    assert object_requests(fake) == 2


def test_the_server_retry_after_sets_the_wait(
    fake: FakeOdoo, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = ready(fake, make_client)
    fake.inject(status(429, headers={"Retry-After": "3"}))

    read(client)

    assert clock.sleeps == [3.0]


def test_a_json2_lock_error_is_retried(fake: FakeOdoo, make_client: ClientFactory) -> None:
    fake.major = 19
    client = ready(fake, make_client, protocol="json2")
    fake.inject(json2_error(409, "odoo.exceptions.ConcurrencyError", "could not serialize"))

    assert read(client) == [{"id": 1}]


def test_a_business_error_is_sent_once(fake: FakeOdoo, make_client: ClientFactory) -> None:
    client = ready(fake, make_client)
    fake.inject(jsonrpc_error("odoo.exceptions.UserError", "no"))

    with pytest.raises(OdooUserError):
        read(client)
    assert object_requests(fake) == 1


def test_a_500_with_an_odoo_body_is_not_retried(fake: FakeOdoo, make_client: ClientFactory) -> None:
    fake.major = 19
    client = ready(fake, make_client, protocol="json2")
    fake.inject(json2_error(500, "builtins.ZeroDivisionError", "division by zero"))

    with pytest.raises(Exception, match="division by zero"):
        read(client)
    assert object_requests(fake) == 1


@pytest.mark.parametrize("failure", [raises(httpx.ReadTimeout), status(503), status(502)])
def test_a_create_is_not_retried_once_it_may_have_reached_odoo(
    fake: FakeOdoo, make_client: ClientFactory, failure
) -> None:
    client = ready(fake, make_client)
    fake.inject(failure)

    with pytest.raises(OdooUnavailableError):
        client.call("sale.order", "create", [[{"partner_id": 1}]])
    assert object_requests(fake) == 1


def test_a_create_is_retried_after_a_connect_error(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    client = ready(fake, make_client)
    fake.inject(raises(httpx.ConnectError))

    assert client.call("sale.order", "create", [[{"partner_id": 1}]]) == 42
    assert object_requests(fake) == 2


def test_an_outage_sends_a_bounded_number_of_requests(
    fake: FakeOdoo, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = ready(fake, make_client, max_attempts=4, breaker_failure_threshold=5)
    fake.inject(*(raises(httpx.ConnectError) for _ in range(1000)))

    errors = []
    for _ in range(50):
        with pytest.raises(OdooUnavailableError) as info:
            read(client)
        errors.append(info.value)

    # 4 attempts for the first call, 1 more trips the breaker; the rest are refused at once.
    assert object_requests(fake) == 5
    assert all(isinstance(e, OdooCircuitOpenError) for e in errors[2:])


def test_after_the_reset_one_probe_goes_and_its_success_closes_the_breaker(
    fake: FakeOdoo, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = ready(fake, make_client, max_attempts=1, breaker_failure_threshold=2)
    fake.inject(*(status(503) for _ in range(3)))
    for _ in range(2):
        with pytest.raises(OdooUnavailableError):
            read(client)
    assert client.breaker.state is BreakerState.OPEN

    clock.now += 30.0
    with pytest.raises(OdooUnavailableError):
        read(client)  # the probe, still failing
    assert client.breaker.state is BreakerState.OPEN
    with pytest.raises(OdooCircuitOpenError):
        read(client)
    sent = object_requests(fake)

    clock.now += 30.0
    assert read(client) == [{"id": 1}]  # the probe succeeds
    assert client.breaker.state is BreakerState.CLOSED
    assert read(client) == [{"id": 1}]
    assert object_requests(fake) == sent + 2
