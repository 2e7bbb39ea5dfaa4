"""The HTTP plumbing the channel connectors share: secrets, Retry-After, the retry loop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from inventory_pipelines.channels.base import (
    ChannelAuthError,
    ChannelThrottledError,
    ChannelUnavailableError,
)
from inventory_pipelines.channels.http import (
    ChannelHTTP,
    RedactQueryParameters,
    RetrySettings,
    Secret,
    Throttled,
    parse_retry_after,
    redact_query_parameters,
)

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
URL = "https://channel.example/stock"

Handler = Callable[[httpx.Request], httpx.Response]


class RecordingSleep:
    """Records the waits asked for, and lets no time pass."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class RecordingPacer:
    """Records what the loop tells its pacing."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def acquire(self) -> None:
        self.events.append("acquire")

    def throttled(self) -> None:
        self.events.append("throttled")

    def succeeded(self) -> None:
        self.events.append("succeeded")


def answers(*steps: int | type[httpx.TransportError] | httpx.Response) -> Handler:
    """A handler that answers each request with the next step (the last one repeats)."""
    remaining = list(steps)

    def handle(request: httpx.Request) -> httpx.Response:
        step = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(step, httpx.Response):
            return step
        if isinstance(step, int):
            return httpx.Response(step, json={})
        raise step("simulated", request=request)

    return handle


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(sleep: RecordingSleep) -> Iterator[Callable[..., ChannelHTTP]]:
    """Build a ChannelHTTP on a handler (closed at the end of the test)."""
    made: list[ChannelHTTP] = []

    def build(handler: Handler, **options: object) -> ChannelHTTP:
        http = ChannelHTTP(
            "test",
            transport=httpx.MockTransport(handler),
            sleep=sleep,
            **options,  # type: ignore[arg-type]
        )
        made.append(http)
        return http

    yield build
    for http in made:
        http.close()


def post(http: ChannelHTTP, **options: object) -> httpx.Response:
    return http.send(
        lambda: httpx.Request("POST", URL, content=b"{}"),
        "POST /stock",
        **options,  # type: ignore[arg-type]
    )


# -- Retry-After ----------------------------------------------------------------------------------


def test_retry_after_in_delta_seconds() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after("0") == 0.0


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=NOW.timestamp()) == 90.0


def test_retry_after_in_the_obsolete_date_forms_is_read_as_gmt() -> None:
    now = datetime(1994, 11, 6, 8, 49, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now=now) == 37.0  # RFC 850
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", now=now) == 37.0  # asctime


def test_retry_after_as_a_date_in_the_past_is_no_wait() -> None:
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(earlier, now=NOW.timestamp()) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "inf", "nan", "1e400", "12 Foo 2026"])
def test_retry_after_that_cannot_be_read_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


# -- secrets --------------------------------------------------------------------------------------


def test_a_secret_never_shows_its_value() -> None:
    secret = Secret("cs_do_not_leak")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret), repr([secret])]
    assert all("cs_do_not_leak" not in text for text in shown)
    assert secret.reveal() == "cs_do_not_leak"
    with pytest.raises(TypeError):
        vars(secret)  # no __dict__ to dump


def test_a_secret_stays_hidden_in_exceptions_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("cs_do_not_leak")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("sending with %s", secret)
    error = ValueError(f"refused {secret}", secret)
    assert "cs_do_not_leak" not in caplog.text + str(error) + repr(error)


def test_query_secrets_are_masked_in_httpx_logs(caplog: pytest.LogCaptureFixture) -> None:
    redact_query_parameters("consumer_secret")
    redact_query_parameters("consumer_secret")
    filters = logging.getLogger("httpx").filters
    assert sum(isinstance(f, RedactQueryParameters) for f in filters) == 1
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").info(
        'HTTP Request: GET %s "%s"', f"{URL}?consumer_key=ck&consumer_secret=cs_leak&page=2", "200"
    )
    assert "cs_leak" not in caplog.text
    assert "consumer_secret=***&page=2" in caplog.text


# -- the retry loop -------------------------------------------------------------------------------


def test_a_success_is_returned_after_one_call(client: Callable[..., ChannelHTTP]) -> None:
    http = client(answers(200))
    assert post(http).status_code == 200
    assert (http.api_calls, http.retries, http.throttled) == (1, 0, 0)


@pytest.mark.parametrize(
    "failure", [503, 500, httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
def test_transient_failures_are_retried_with_backoff(
    client: Callable[..., ChannelHTTP],
    sleep: RecordingSleep,
    failure: int | type[httpx.TransportError],
) -> None:
    http = client(answers(failure, failure, 200))
    assert post(http).status_code == 200
    assert http.api_calls == 3 and http.retries == 2 and len(sleep.calls) == 2


def test_retries_stop_after_max_attempts(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    http = client(answers(httpx.ReadTimeout), retry=RetrySettings(max_attempts=3))
    with pytest.raises(ChannelUnavailableError, match="after 3 attempts") as raised:
        post(http)
    assert "timed out" in str(raised.value) and "ReadTimeout" in str(raised.value)
    assert http.api_calls == 3 and len(sleep.calls) == 2


def test_backoff_is_jittered_exponential_and_capped(client: Callable[..., ChannelHTTP]) -> None:
    http = client(answers(200), retry=RetrySettings(base_delay_s=1.0, max_delay_s=5.0))
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        delays = {http.backoff(failures) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


@pytest.mark.parametrize("failure", [503, 500, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_a_non_idempotent_request_that_may_have_arrived_is_not_retried(
    client: Callable[..., ChannelHTTP],
    sleep: RecordingSleep,
    failure: int | type[httpx.TransportError],
) -> None:
    http = client(answers(failure, 200))
    with pytest.raises(ChannelUnavailableError, match="not retried"):
        post(http, idempotent=False)
    assert http.api_calls == 1 and sleep.calls == []


@pytest.mark.parametrize("refusal", [httpx.ConnectError, httpx.ConnectTimeout, 429])
def test_a_non_idempotent_request_that_never_arrived_is_retried(
    client: Callable[..., ChannelHTTP], refusal: int | type[httpx.TransportError]
) -> None:
    http = client(answers(refusal, 200))
    assert post(http, idempotent=False).status_code == 200
    assert http.api_calls == 2


def test_a_429_waits_its_retry_after_in_seconds(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    http = client(answers(httpx.Response(429, headers={"Retry-After": "7"}), 200))
    assert post(http).status_code == 200
    assert sleep.calls == [7.0] and http.throttled == 1 and http.retries == 0


def test_a_429_waits_its_retry_after_as_an_http_date(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    http = client(answers(httpx.Response(429, headers={"Retry-After": when}), 200))
    assert post(http).status_code == 200
    assert len(sleep.calls) == 1 and 25 <= sleep.calls[0] <= 30


def test_a_429_without_retry_after_takes_the_channels_hint_else_the_backoff(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    http = client(answers(429, 429, 200), retry=RetrySettings(base_delay_s=1.0))
    post(http, wait_hint=lambda response: 2.5)
    assert sleep.calls == [2.5, 2.5]
    sleep.calls.clear()
    http = client(answers(429, 200), retry=RetrySettings(base_delay_s=1.0))
    post(http)
    assert len(sleep.calls) == 1 and 0.5 <= sleep.calls[0] <= 1.0


def test_throttling_stops_after_max_throttle_waits(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    http = client(
        answers(httpx.Response(429, headers={"Retry-After": "2"})),
        retry=RetrySettings(max_throttle_waits=3),
    )
    with pytest.raises(ChannelThrottledError, match="throttled") as raised:
        post(http)
    assert raised.value.retry_after == 2.0
    assert http.api_calls == http.throttled == 4 and sleep.calls == [2.0] * 3


def test_a_retry_after_beyond_the_bound_is_raised_not_waited(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    http = client(answers(httpx.Response(429, headers={"Retry-After": "600"}), 200))
    with pytest.raises(ChannelThrottledError) as raised:
        post(http)
    assert raised.value.retry_after == 600.0
    assert http.api_calls == 1 and sleep.calls == []


def test_a_reader_can_ask_to_wait_and_try_again(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep
) -> None:
    bodies = iter([{"errors": "THROTTLED"}, {"data": 1}])
    http = client(lambda request: httpx.Response(200, json=next(bodies)))

    def read(response: httpx.Response) -> int:
        body = response.json()
        if "errors" in body:
            raise Throttled(0.25)
        return int(body["data"])

    assert http.call(lambda: httpx.Request("POST", URL), "query", read) == 1
    assert sleep.calls == [0.25] and http.throttled == 1


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_raise_at_once(
    client: Callable[..., ChannelHTTP], sleep: RecordingSleep, status: int
) -> None:
    http = client(answers(status))
    with pytest.raises(ChannelAuthError):
        post(http)
    assert http.api_calls == 1 and sleep.calls == []
    assert (
        client(answers(status), refused=())
        .send(lambda: httpx.Request("GET", URL), "GET")
        .status_code
        == status
    )


def test_other_client_errors_are_returned_to_the_caller(
    client: Callable[..., ChannelHTTP],
) -> None:
    http = client(answers(404))
    assert post(http).status_code == 404 and http.api_calls == 1


def test_every_attempt_is_prepared_afresh_and_paced(
    client: Callable[..., ChannelHTTP],
) -> None:
    stamps: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        stamps.append(request.headers["x-attempt"])
        return httpx.Response(429 if len(stamps) == 1 else 503 if len(stamps) == 2 else 200)

    pacer = RecordingPacer()
    http = client(handle, pacer=pacer)
    attempt = iter(range(1, 10))
    http.send(lambda: httpx.Request("GET", URL, headers={"x-attempt": str(next(attempt))}), "GET")
    assert stamps == ["1", "2", "3"]
    assert pacer.events == [
        "acquire",
        "throttled",
        "acquire",
        "succeeded",
        "acquire",
        "succeeded",
    ]


def test_errors_name_the_operation_not_the_url_or_its_secrets(
    client: Callable[..., ChannelHTTP],
) -> None:
    http = client(answers(503), retry=RetrySettings(max_attempts=2))
    secret = Secret("cs_do_not_leak")
    with pytest.raises(ChannelUnavailableError) as raised:
        http.send(
            lambda: httpx.Request("GET", URL, params={"consumer_secret": secret.reveal()}),
            "GET /products",
        )
    assert "GET /products" in str(raised.value)
    assert "cs_do_not_leak" not in str(raised.value)
