"""The API key never appears in an error, a repr or a log line, whatever goes wrong."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rhdesk.api import AuthError, RunningHubClient, RunningHubError

MakeClient = Callable[..., Any]
ENDPOINT = "seedream-v4.5/image-to-image"
URL = "https://cdn.test/x.png"


def scenarios(key: str) -> list[tuple[str, list[Any], Callable[[Any, Path], Awaitable[Any]]]]:
    """(name, scripted replies, call) for every error path; several servers echo the key."""
    echo = f"ApiKey verification failed: {key} 不存在"

    def submit(c: Any, _p: Path) -> Awaitable[Any]:
        return c.submit(ENDPOINT, {"prompt": "hello world"})

    def query(c: Any, _p: Path) -> Awaitable[Any]:
        return c.query("t1")

    def cancel(c: Any, _p: Path) -> Awaitable[Any]:
        return c.cancel("t1")

    def account(c: Any, _p: Path) -> Awaitable[Any]:
        return c.account_status()

    def queue(c: Any, _p: Path) -> Awaitable[Any]:
        return c.queue_status()

    def price(c: Any, _p: Path) -> Awaitable[Any]:
        return c.price_preview(ENDPOINT, {"prompt": "hello world"})

    def upload(c: Any, _p: Path) -> Awaitable[Any]:
        return c.upload(b"\x89PNG\r\n\x1a\nxxxx", "a.png")

    def download(c: Any, p: Path) -> Awaitable[Any]:
        return c.download(URL, p / "d.tmp")

    def reply(body: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=body)

    flat_echo = {"taskId": "", "status": "", "errorCode": "1601", "errorMessage": echo}
    return [
        ("submit echo", [reply(flat_echo)], submit),
        ("submit msg echo", [reply({"errorMessage": f"balance low for {key}"})], submit),
        ("submit envelope echo", [reply({"code": 401, "message": echo, "data": None})], submit),
        ("submit 401", [reply({"code": 401, "message": echo}, 401)], submit),
        ("submit 500", [reply({"msg": echo}, 500)], submit),
        ("submit 429", [reply({"msg": echo}, 429)], submit),
        ("submit garbage", [httpx.Response(200, text=f"<html>{key}</html>")], submit),
        ("submit connect", [httpx.ConnectError("refused")], submit),
        ("submit timeout", [httpx.ReadTimeout("slow")], submit),
        ("submit drop", [httpx.RemoteProtocolError("disconnected")], submit),
        ("query echo", [reply(flat_echo)], query),
        ("query status echo", [reply({"taskId": "t1", "status": key})], query),
        ("query 404", [reply({"message": echo}, 404)], query),
        ("query 503", [reply({"message": echo}, 503)], query),
        ("cancel echo", [reply({"code": 807, "msg": echo})], cancel),
        ("cancel timeout", [httpx.ReadTimeout("slow")], cancel),
        ("account echo", [reply({"code": 802, "msg": echo})], account),
        ("account garbage", [httpx.Response(200, text=key)], account),
        ("queue echo", [reply({"code": 1601, "msg": echo}, 403)], queue),
        ("price echo", [reply({"errorCode": "301", "errorMessage": echo})], price),
        ("upload echo", [reply({"code": 401, "message": echo}, 401)], upload),
        ("upload 809", [reply({"code": 809, "message": echo})], upload),
        ("download 403", [httpx.Response(403, text=key)], download),
        ("download 500", [httpx.Response(500, text=key)], download),
        ("download html", [httpx.Response(200, text=key)], download),
        ("download drop", [httpx.ReadError("reset")], download),
    ]


async def test_key_never_leaks(
    make_client: MakeClient,
    api_key: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    raised: list[RunningHubError] = []
    for name, steps, call in scenarios(api_key):
        h = make_client(*steps, max_retries=1)
        assert api_key not in repr(h.client)
        with pytest.raises(RunningHubError) as info:
            await call(h.client, tmp_path)
        err = info.value
        raised.append(err)
        for text in (str(err), repr(err), err.message, err.server_message, *map(str, err.args)):
            assert api_key not in text, name
    assert len(raised) == len(scenarios(api_key))
    # The echoing servers' words survive, with the key masked.
    assert any("***" in str(err) for err in raised)
    assert caplog.records, "the client logs its requests at debug level"
    assert api_key not in caplog.text


async def test_failed_task_fields_are_masked(make_client: MakeClient, api_key: str) -> None:
    reply = {
        "taskId": "t1",
        "status": "FAILED",
        "errorCode": "1000",
        "errorMessage": f"bad {api_key}",
        "failedReason": {"exception_message": f"key {api_key} rejected"},
    }
    h = make_client(httpx.Response(200, json=reply))
    state = await h.client.query("t1")
    assert api_key not in state.error_message and api_key not in state.failed_reason
    assert api_key not in repr(state)


@pytest.mark.parametrize("bad", ["", "   ", "two words", "ключ-123", "abc\r\ndef"])
def test_malformed_key_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(AuthError) as info:
        RunningHubClient(bad)
    if bad.strip():
        assert bad.strip() not in str(info.value) and bad.strip() not in repr(info.value)


def test_repr_has_no_key(api_key: str) -> None:
    client = RunningHubClient(api_key, "ai")
    assert repr(client) == "RunningHubClient(base_url='https://www.runninghub.ai')"
    assert api_key not in str(vars(client).get("base_url"))
