"""The retry policies: what a paid submit may repeat, and what a read may."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from rhdesk.api import (
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RequestNeverSentError,
    ServerBusyError,
    TaskStatus,
)

MakeClient = Callable[..., Any]
ENDPOINT = "seedream-v4/text-to-image"
BODY = {"prompt": "a red fox in the snow", "width": 2048, "height": 2048}
TASK = {"taskId": "t-1", "status": "QUEUED", "errorCode": "", "errorMessage": "", "results": None}


def ok() -> httpx.Response:
    return httpx.Response(200, json=TASK)


@pytest.mark.parametrize(
    "never_sent",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectTimeout("timed out"),
        httpx.PoolTimeout("no connection available"),
    ],
)
async def test_submit_retries_when_the_request_never_left(
    make_client: MakeClient, never_sent: Exception
) -> None:
    h = make_client(never_sent, ok())
    state = await h.client.submit(ENDPOINT, BODY)
    assert state.task_id == "t-1"
    assert len(h.requests) == 2
    assert len(h.sleeps) == 1 and 0.0 <= h.sleeps[0] <= 0.5


async def test_submit_gives_up_on_connect_errors_as_never_sent(make_client: MakeClient) -> None:
    h = make_client(httpx.ConnectError("refused"), backoff_base=1.0, backoff_max=3.0)
    with pytest.raises(RequestNeverSentError) as info:
        await h.client.submit(ENDPOINT, BODY)
    assert info.value.retryable
    assert len(h.requests) == 5
    ceilings = [1.0, 2.0, 3.0, 3.0]
    assert all(0.0 <= d <= c for d, c in zip(h.sleeps, ceilings, strict=True))


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadTimeout("The read operation timed out"),
        httpx.WriteTimeout("The write operation timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("Connection reset by peer"),
        httpx.WriteError("Broken pipe"),
    ],
)
async def test_submit_never_repeats_after_the_request_may_have_arrived(
    make_client: MakeClient, lost: Exception
) -> None:
    h = make_client(lost, ok())
    with pytest.raises(OutcomeUnknownError) as info:
        await h.client.submit(ENDPOINT, BODY)
    assert not info.value.retryable
    assert len(h.requests) == 1
    assert h.sleeps == []


async def test_submit_429_honours_retry_after(make_client: MakeClient) -> None:
    h = make_client(
        httpx.Response(429, headers={"Retry-After": "2"}, json={"code": 1003, "msg": "slow"}),
        ok(),
    )
    state = await h.client.submit(ENDPOINT, BODY)
    assert state.status is TaskStatus.QUEUED
    assert h.sleeps == [2.0]
    assert len(h.requests) == 2


async def test_submit_429_with_http_date(make_client: MakeClient) -> None:
    # Whole seconds from now; the parse happens a moment later, hence the tolerance.
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    h = make_client(httpx.Response(429, headers={"Retry-After": when}), ok())
    await h.client.submit(ENDPOINT, BODY)
    assert len(h.sleeps) == 1 and 18.0 <= h.sleeps[0] <= 20.0


async def test_submit_429_without_retry_after_backs_off(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(429), ok())
    await h.client.submit(ENDPOINT, BODY)
    assert len(h.sleeps) == 1 and 0.0 <= h.sleeps[0] <= 0.5


async def test_submit_429_forever_ends_in_server_busy(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(ServerBusyError) as info:
        await h.client.submit(ENDPOINT, BODY)
    assert info.value.http_status == 429
    assert info.value.retry_after == 1.0
    assert len(h.requests) == 5
    assert h.sleeps == [1.0] * 4


async def test_submit_503_with_retry_after_is_retried(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(503, headers={"Retry-After": "3"}), ok())
    await h.client.submit(ENDPOINT, BODY)
    assert h.sleeps == [3.0]
    assert len(h.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_submit_other_5xx_is_server_busy_without_retry(
    make_client: MakeClient, status: int
) -> None:
    h = make_client(httpx.Response(status, text="oops"), ok())
    with pytest.raises(ServerBusyError) as info:
        await h.client.submit(ENDPOINT, BODY)
    assert info.value.http_status == status
    assert len(h.requests) == 1


async def test_retry_after_is_capped(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(429, headers={"Retry-After": "86400"}), ok())
    await h.client.query("t-1")
    assert h.sleeps == [120.0]


async def test_read_timeouts_end_in_network_error_not_outcome_unknown(
    make_client: MakeClient,
) -> None:
    h = make_client(httpx.ReadTimeout("slow"), max_retries=1)
    with pytest.raises(NetworkError) as info:
        await h.client.query("t-1")
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.retryable
    assert len(h.requests) == 2


async def test_max_retries_zero_means_one_attempt(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(200, content=b"garbage"), max_retries=0)
    with pytest.raises(ProtocolError):
        await h.client.query("t-1")
    assert len(h.requests) == 1
    assert h.sleeps == []


async def test_sleep_can_be_swapped_on_the_client(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(503, headers={"Retry-After": "4"}), ok())
    seen: list[float] = []

    async def other_sleep(delay: float) -> None:
        seen.append(delay)

    h.client.sleep = other_sleep
    await h.client.query("t-1")
    assert seen == [4.0] and h.sleeps == []


async def test_default_sleep_really_waits_briefly() -> None:
    # No injected sleep: asyncio.sleep is used, and a tiny Retry-After really waits.
    from rhdesk.api import RunningHubClient

    replies = iter([httpx.Response(429, headers={"Retry-After": "0.01"}), ok()])
    client = RunningHubClient(
        "k", "https://rh.test", transport=httpx.MockTransport(lambda r: next(replies))
    )
    async with client:
        state = await client.query("t-1")
    assert state.task_id == "t-1"
    assert client.closed
