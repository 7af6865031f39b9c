"""submit / query / cancel / account / queue / price: reply shapes, tolerance, error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rhdesk.api import (
    AuthError,
    BadParameterError,
    BalanceError,
    ConcurrencyLimitError,
    ContentRefusedError,
    OutcomeUnknownError,
    ProtocolError,
    RunningHubError,
    ServerBusyError,
    SubmitReplyUnreadableError,
    TaskFailedError,
    TaskNotFoundError,
    TaskStatus,
)

ENDPOINT = "seedream-v4.5/image-to-image"
BODY = {
    "prompt": "Replace the background with a snowy mountain path at night",
    "width": 2048,
    "height": 2048,
    "imageUrls": ["https://cdn.test/input.png"],
    "sequentialImageGeneration": "disabled",
    "maxImages": 1,
}
# The `make_client` fixture (conftest.py): (*steps, **client_kwargs) -> Harness.
MakeClient = Callable[..., Any]


def task_reply(**overrides: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "taskId": "2013508786110730241",
        "status": "RUNNING",
        "errorCode": "",
        "errorMessage": "",
        "results": None,
        "clientId": "c0ffee",
        "promptTips": "{}",
    }
    reply.update(overrides)
    return reply


def ok(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# -- submit ----------------------------------------------------------------------------------------


async def test_submit_sends_bearer_json_and_returns_task(make_client: MakeClient) -> None:
    h = make_client(ok(task_reply()))
    state = await h.client.submit(ENDPOINT, BODY)
    assert state.task_id == "2013508786110730241"
    assert state.status is TaskStatus.RUNNING
    assert state.results == ()
    (request,) = h.requests
    assert request.method == "POST"
    assert str(request.url) == f"https://rh.test/openapi/v2/{ENDPOINT}"
    assert request.headers["Authorization"] == f"Bearer {h.api_key}"
    assert request.headers["User-Agent"].startswith("rhdesk/")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == BODY


async def test_submit_tolerates_lower_case_numbers_and_extra_fields(
    make_client: MakeClient,
) -> None:
    h = make_client(ok(task_reply(taskId=12345, status="queued", brandNew={"x": 1})))
    state = await h.client.submit(ENDPOINT, BODY)
    assert state.task_id == "12345"
    assert state.status is TaskStatus.QUEUED
    assert state.raw["brandNew"] == {"x": 1}


@pytest.mark.parametrize("status", [None, "", "SOMETHING_NEW"])
async def test_submit_with_unreadable_status_keeps_the_task_id(
    make_client: MakeClient, status: str | None
) -> None:
    h = make_client(ok(task_reply(status=status)))
    state = await h.client.submit(ENDPOINT, BODY)
    assert state.task_id == "2013508786110730241"
    assert state.status is TaskStatus.CREATE
    assert not state.status.is_final


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("1520", "concurrency limit", ConcurrencyLimitError),
        ("416", "wallet balance too low", BalanceError),
        ("1601", "ApiKey verification failed", AuthError),
        ("301", "bad parameter width", BadParameterError),
        ("1505", "real person detected", ContentRefusedError),
        ("1011", "model busy", ServerBusyError),
        ("1003", "slow down", ServerBusyError),
        ("1014", "needs enterprise key", AuthError),
        ("1000", "unknown error", TaskFailedError),
        ("", "insufficient balance", BalanceError),
        ("9999", "something new", RunningHubError),
    ],
)
async def test_submit_error_codes_map_to_errors(
    make_client: MakeClient, code: str, message: str, expected: type[RunningHubError]
) -> None:
    h = make_client(ok(task_reply(taskId="", status="", errorCode=code, errorMessage=message)))
    with pytest.raises(expected) as info:
        await h.client.submit(ENDPOINT, BODY)
    assert type(info.value) is expected
    assert info.value.code == (code or None)
    assert info.value.server_message == message
    assert len(h.requests) == 1, "a refused submit is never repeated by the client"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"code": 416, "msg": "余额不足", "data": None}, BalanceError),
        (
            {"code": 401, "message": "ApiKey verification failed: API Key不存在", "data": None},
            AuthError,
        ),
        ({"code": "421", "message": "concurrency", "data": None}, ConcurrencyLimitError),
    ],
)
async def test_submit_envelope_shaped_failures(
    make_client: MakeClient, reply: dict[str, Any], expected: type[RunningHubError]
) -> None:
    h = make_client(ok(reply))
    with pytest.raises(expected):
        await h.client.submit(ENDPOINT, BODY)


async def test_submit_envelope_wrapping_a_task_is_unwrapped(make_client: MakeClient) -> None:
    h = make_client(ok({"code": 0, "msg": "success", "data": task_reply(status="CREATE")}))
    state = await h.client.submit(ENDPOINT, BODY)
    assert state.task_id == "2013508786110730241"
    assert state.status is TaskStatus.CREATE


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"<html>gateway</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json=task_reply(taskId="")),
        httpx.Response(200, json=task_reply(taskId={"id": 1})),
        httpx.Response(200, json={"code": "zero?", "data": None}),
    ],
)
async def test_submit_garbage_is_a_protocol_error_that_may_have_started_a_task(
    make_client: MakeClient, response: httpx.Response
) -> None:
    h = make_client(response)
    with pytest.raises(ProtocolError) as info:
        await h.client.submit(ENDPOINT, BODY)
    assert isinstance(info.value, SubmitReplyUnreadableError)
    assert isinstance(info.value, OutcomeUnknownError)
    assert info.value.retryable is False
    assert len(h.requests) == 1


@pytest.mark.parametrize("endpoint", ["../uc/openapi/x", "https://evil.test/x", "", "a//b", "a b"])
async def test_submit_refuses_odd_endpoints(make_client: MakeClient, endpoint: str) -> None:
    h = make_client(ok(task_reply()))
    with pytest.raises(ValueError):
        await h.client.submit(endpoint, BODY)
    assert h.requests == []


# -- query ------------------------------------------------------------------------------------------


async def test_query_success_with_results_and_usage(make_client: MakeClient) -> None:
    reply = task_reply(
        status="success",
        results=[
            {"url": "https://cdn.test/a.jpg", "outputType": "jpg"},
            {"url": "https://cdn.test/b.png", "outputType": "png", "nodeId": 9, "text": None},
            {"text": "a caption", "outputType": "txt"},
        ],
        usage={
            "thirdPartyConsumeMoney": "0.20",
            "consumeMoney": "0.2",
            "consumeCoins": "20",
            "taskCostTime": "37",
        },
        failedReason=None,
    )
    h = make_client(ok(reply))
    state = await h.client.query("2013508786110730241")
    assert state.status is TaskStatus.SUCCESS and state.status.is_final
    assert [r.url for r in state.results] == [
        "https://cdn.test/a.jpg",
        "https://cdn.test/b.png",
        "",
    ]
    assert state.results[1].node_id == "9"
    assert state.results[2].text == "a caption"
    assert state.usage is not None
    assert state.usage.consume_money == pytest.approx(0.2)
    assert state.usage.consume_coins == 20
    assert state.usage.task_cost_time == 37
    (request,) = h.requests
    assert request.url.path == "/openapi/v2/query"
    assert request.headers["Authorization"] == f"Bearer {h.api_key}"
    assert json.loads(request.content) == {"taskId": "2013508786110730241"}


@pytest.mark.parametrize(
    ("status", "expected", "final"),
    [
        ("CREATE", TaskStatus.CREATE, False),
        ("queued", TaskStatus.QUEUED, False),
        ("Running", TaskStatus.RUNNING, False),
        ("CANCEL", TaskStatus.CANCEL, True),
        ("cancelled", TaskStatus.CANCEL, True),
    ],
)
async def test_query_status_variants(
    make_client: MakeClient, status: str, expected: TaskStatus, final: bool
) -> None:
    h = make_client(ok(task_reply(status=status, usage=None, results=None)))
    state = await h.client.query("t1")
    assert state.status is expected
    assert state.status.is_final is final
    assert state.usage is None and state.results == ()


async def test_query_failed_task_is_returned_not_raised(make_client: MakeClient) -> None:
    reply = task_reply(
        status="FAILED",
        errorCode="1000",
        errorMessage="unknown error",
        failedReason={"node_name": "seedream", "exception_message": "upstream timeout"},
        usage={"consumeMoney": None, "consumeCoins": "0"},
    )
    h = make_client(ok(reply))
    state = await h.client.query("t1")
    assert state.status is TaskStatus.FAILED
    assert state.error_code == "1000"
    assert state.error_message == "unknown error"
    assert state.failed_reason == "upstream timeout"
    assert state.usage is not None and state.usage.consume_money is None


async def test_query_failed_reason_as_text(make_client: MakeClient) -> None:
    h = make_client(ok(task_reply(status="failed", errorCode="1505", failedReason="refused")))
    state = await h.client.query("t1")
    assert state.status is TaskStatus.FAILED
    assert state.failed_reason == "refused"
    assert state.error_code == "1505"


@pytest.mark.parametrize(
    "reply",
    [
        task_reply(taskId="", status="", errorCode="1007", errorMessage="task not found"),
        task_reply(taskId="abc", status="", errorCode="1007", errorMessage="task not found"),
        task_reply(taskId="", status=""),
        task_reply(taskId=None, status=None),
        {"code": 807, "msg": "task not found", "data": None},
    ],
)
async def test_query_unknown_task(make_client: MakeClient, reply: dict[str, Any]) -> None:
    h = make_client(ok(reply))
    with pytest.raises(TaskNotFoundError):
        await h.client.query("abc")
    assert len(h.requests) == 1


async def test_query_bad_key_is_an_auth_error_not_not_found(make_client: MakeClient) -> None:
    h = make_client(ok(task_reply(taskId="", status="", errorCode="1601", errorMessage="bad key")))
    with pytest.raises(AuthError):
        await h.client.query("abc")


async def test_query_unknown_status_is_an_error_not_a_hang(make_client: MakeClient) -> None:
    h = make_client(ok(task_reply(status="EXPLODED")))
    with pytest.raises(ProtocolError, match="EXPLODED"):
        await h.client.query("t1")
    # Garbage is retried like any unreadable reply, then reported.
    assert len(h.requests) == 5
    assert len(h.sleeps) == 4


async def test_query_retries_5xx_then_succeeds(make_client: MakeClient) -> None:
    h = make_client(
        httpx.Response(502, text="bad gateway"),
        httpx.Response(500, json={"code": 500, "msg": "unknown"}),
        ok(task_reply(status="SUCCESS", results=[{"url": "https://cdn.test/x.png"}])),
    )
    state = await h.client.query("t1")
    assert state.status is TaskStatus.SUCCESS
    assert len(h.requests) == 3
    assert len(h.sleeps) == 2
    assert 0.0 <= h.sleeps[0] <= 0.5 and 0.0 <= h.sleeps[1] <= 1.0


async def test_query_retries_garbage_then_succeeds(make_client: MakeClient) -> None:
    h = make_client(
        httpx.Response(200, content=b"{not json"),
        httpx.Response(200, json={"taskId": "t1", "status": 3, "results": "nope"}),
        ok(task_reply(taskId="t1")),
    )
    state = await h.client.query("t1")
    assert state.task_id == "t1"
    assert len(h.requests) == 3


async def test_query_retries_timeouts_and_drops(make_client: MakeClient) -> None:
    h = make_client(
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("refused"),
        ok(task_reply()),
    )
    state = await h.client.query("t1")
    assert state.status is TaskStatus.RUNNING
    assert len(h.requests) == 4


async def test_query_gives_up_with_server_busy_after_max_retries(make_client: MakeClient) -> None:
    h = make_client(httpx.Response(503, text="busy"), max_retries=2)
    with pytest.raises(ServerBusyError) as info:
        await h.client.query("t1")
    assert info.value.http_status == 503
    assert len(h.requests) == 3


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(401, text="no"), AuthError),
        (httpx.Response(403, json={"code": 1601, "message": "key failed"}), AuthError),
        (httpx.Response(404, text="not here"), RunningHubError),
        (httpx.Response(400, json={"errorCode": "301", "errorMessage": "bad"}), BadParameterError),
    ],
)
async def test_query_other_4xx_are_not_retried(
    make_client: MakeClient, response: httpx.Response, expected: type[RunningHubError]
) -> None:
    h = make_client(response)
    with pytest.raises(expected) as info:
        await h.client.query("t1")
    assert info.value.http_status == response.status_code
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    "results",
    ["https://cdn.test/x.png", [["https://cdn.test/x.png"]], [{"url": 5}], [{"outputType": "x"}]],
)
async def test_query_malformed_results_are_protocol_errors(
    make_client: MakeClient, results: Any
) -> None:
    h = make_client(ok(task_reply(status="SUCCESS", results=results)), max_retries=0)
    with pytest.raises(ProtocolError):
        await h.client.query("t1")


async def test_query_refuses_empty_task_id(make_client: MakeClient) -> None:
    h = make_client(ok(task_reply()))
    with pytest.raises(ValueError):
        await h.client.query("  ")
    assert h.requests == []


# -- cancel -----------------------------------------------------------------------------------------


async def test_cancel_carries_key_in_body_and_no_bearer(make_client: MakeClient) -> None:
    h = make_client(ok({"code": 0, "msg": "success", "data": None}))
    assert await h.client.cancel("t1") is None
    (request,) = h.requests
    assert request.url.path == "/task/openapi/cancel"
    assert "Authorization" not in request.headers
    assert json.loads(request.content) == {"apiKey": h.api_key, "taskId": "t1"}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"code": 807, "msg": "APIKEY_TASK_NOT_FOUND", "data": None}, TaskNotFoundError),
        ({"code": "423", "message": "task not found"}, TaskNotFoundError),
        ({"code": 802, "msg": "APIKEY_UNAUTHORIZED", "data": None}, AuthError),
        ({"code": 804, "msg": "APIKEY_TASK_IS_RUNNING", "data": None}, RunningHubError),
    ],
)
async def test_cancel_maps_envelope_codes(
    make_client: MakeClient, reply: dict[str, Any], expected: type[RunningHubError]
) -> None:
    h = make_client(ok(reply))
    with pytest.raises(expected):
        await h.client.cancel("t1")
    assert len(h.requests) == 1


async def test_cancel_is_not_repeated_after_sending(make_client: MakeClient) -> None:
    h = make_client(httpx.ReadTimeout("slow"), ok({"code": 0, "msg": "success"}))
    with pytest.raises(OutcomeUnknownError):
        await h.client.cancel("t1")
    assert len(h.requests) == 1


# -- account, queue, price --------------------------------------------------------------------------


async def test_account_status_parses_strings(make_client: MakeClient) -> None:
    reply = {
        "code": 0,
        "msg": "success",
        "data": {
            "remainCoins": "177814",
            "currentTaskCounts": "0",
            "remainMoney": None,
            "currency": None,
            "apiType": "NORMAL",
            "somethingElse": True,
        },
    }
    h = make_client(ok(reply))
    status = await h.client.account_status()
    assert status.remain_coins == 177814
    assert status.current_task_counts == 0
    assert status.remain_money is None and status.currency is None
    assert status.api_type == "NORMAL"
    (request,) = h.requests
    assert request.url.path == "/uc/openapi/accountStatus"
    assert json.loads(request.content) == {"apikey": h.api_key}
    assert "Authorization" not in request.headers


async def test_account_status_with_money_and_null_data(make_client: MakeClient) -> None:
    h = make_client(
        ok({"code": "0", "message": "success", "data": {"remainMoney": "12.5", "currency": "CNY"}})
    )
    status = await h.client.account_status()
    assert status.remain_money == 12.5 and status.currency == "CNY"
    h = make_client(ok({"code": 0, "msg": "success", "data": None}))
    status = await h.client.account_status()
    assert status.remain_coins is None and status.api_type is None


async def test_account_status_bad_key(make_client: MakeClient) -> None:
    h = make_client(ok({"code": 802, "msg": "APIKEY_UNAUTHORIZED", "data": None}))
    with pytest.raises(AuthError, match="not authorised or has expired"):
        await h.client.account_status()


async def test_queue_status(make_client: MakeClient) -> None:
    reply = {
        "code": 0,
        "msg": "success",
        "data": {
            "apiKeyType": "PERSONAL",
            "concurrentLimit": 3,
            "runningCount": "1",
            "queuedCount": "2",
        },
    }
    h = make_client(ok(reply))
    status = await h.client.queue_status()
    assert (status.api_key_type, status.concurrent_limit) == ("PERSONAL", 3)
    assert (status.running_count, status.queued_count) == (1, 2)
    (request,) = h.requests
    assert request.method == "GET"
    assert request.url.path == "/openapi/v2/queue/status"
    assert request.headers["Authorization"] == f"Bearer {h.api_key}"


async def test_queue_status_rejects_non_object_data(make_client: MakeClient) -> None:
    h = make_client(ok({"code": 0, "msg": "success", "data": [1, 2]}), max_retries=0)
    with pytest.raises(ProtocolError):
        await h.client.queue_status()


@pytest.mark.parametrize(
    "reply",
    [
        {"estimatedPrice": "0.20", "currency": "CNY", "priceText": "¥0.20", "extra": 1},
        {
            "code": 0,
            "msg": "success",
            "data": {"estimatedPrice": 0.2, "currency": "CNY", "priceText": "¥0.20"},
        },
    ],
)
async def test_price_preview_flat_or_enveloped(
    make_client: MakeClient, reply: dict[str, Any]
) -> None:
    h = make_client(ok(reply))
    preview = await h.client.price_preview(ENDPOINT, BODY)
    assert preview.estimated_price == pytest.approx(0.2)
    assert preview.currency == "CNY" and preview.price_text == "¥0.20"
    (request,) = h.requests
    assert request.url.path == f"/openapi/v2/price-preview/{ENDPOINT}"
    assert json.loads(request.content) == BODY


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"code": 301, "msg": "bad width", "data": None}, BadParameterError),
        ({"errorCode": "1601", "errorMessage": "bad key"}, AuthError),
    ],
)
async def test_price_preview_errors(
    make_client: MakeClient, reply: dict[str, Any], expected: type[RunningHubError]
) -> None:
    h = make_client(ok(reply))
    with pytest.raises(expected):
        await h.client.price_preview(ENDPOINT, BODY)
