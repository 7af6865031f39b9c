"""Sites, the URL policy, Retry-After parsing and the backoff ceiling."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from rhdesk.api import (
    SITES,
    InsecureURLError,
    RunningHubClient,
    check_url_allowed,
    resolve_base_url,
)
from rhdesk.api.transport import RETRY_AFTER_CAP, Transport, parse_retry_after


def test_sites() -> None:
    assert SITES == {"cn": "https://www.runninghub.cn", "ai": "https://www.runninghub.ai"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("cn", "https://www.runninghub.cn"),
        (" AI ", "https://www.runninghub.ai"),
        ("http://127.0.0.1:8123/", "http://127.0.0.1:8123"),
        ("https://www.runninghub.ai/", "https://www.runninghub.ai"),
        ("https://proxy.example.com/rh/", "https://proxy.example.com/rh"),
        ("HTTP://localhost:9000", "http://localhost:9000"),
    ],
)
def test_resolve_base_url(given: str, expected: str) -> None:
    assert resolve_base_url(given) == expected


def test_resolve_base_url_refuses_insecure_and_odd_urls() -> None:
    with pytest.raises(InsecureURLError):
        resolve_base_url("http://www.runninghub.cn")
    with pytest.raises(InsecureURLError):
        resolve_base_url("runninghub.cn")
    with pytest.raises(ValueError):
        resolve_base_url("https://rh.test/?a=1")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.runninghub.cn/openapi/v2/query",
        "https://cdn.example.com/x.png?sig=abc",
        "http://127.0.0.1",
        "http://127.0.0.1:8123/x",
        "http://127.9.8.7/x",
        "http://localhost:8000/",
        "http://LOCALHOST/",
        "http://[::1]:9000/x",
    ],
)
def test_allowed_urls(url: str) -> None:
    check_url_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.png",
        "http://10.0.0.1/",
        "http://192.168.1.2:8080/",
        "http://127.0.0.1.evil.example/",
        "http://localhost.evil.example/",
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "ws://127.0.0.1/",
        "example.com/x.png",
        "",
        "https://",
        "http://127.0.0.1:notaport/",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(InsecureURLError):
        check_url_allowed(url)


def test_client_refuses_insecure_base_url() -> None:
    with pytest.raises(InsecureURLError):
        RunningHubClient("key", "http://example.com")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        (" 0.5 ", 0.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("100000", RETRY_AFTER_CAP),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


async def test_backoff_is_full_jitter_under_the_exponential_ceiling() -> None:
    transport = Transport(
        secret="k",
        timeout=5,
        max_retries=4,
        backoff_base=0.5,
        backoff_max=3.0,
        transport=None,
        sleep=None,
        rng=random.Random(3),
    )
    try:
        for attempt in range(8):
            ceiling = min(3.0, 0.5 * 2**attempt)
            delays = [transport.backoff(attempt) for _ in range(200)]
            assert all(0.0 <= d <= ceiling for d in delays)
            # Full jitter spreads over the whole range, not just near the ceiling.
            assert min(delays) < ceiling * 0.2 and max(delays) > ceiling * 0.8
    finally:
        await transport.aclose()
