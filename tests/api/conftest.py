"""Fixtures for the RunningHub client tests: a client on httpx.MockTransport that records every
request and every retry wait, so retries run instantly and their delays can be asserted."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from rhdesk.api import RunningHubClient

# Distinctive, so a leak anywhere is easy to find.
API_KEY = "rhk-SECRET-7f3a9c2e1d5b48a6"
BASE_URL = "https://rh.test"

Step = httpx.Response | Exception | Callable[[httpx.Request], Any]


@dataclass
class Harness:
    client: RunningHubClient
    api_key: str
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


def _scripted(steps: Sequence[Step]) -> Callable[[httpx.Request], Any]:
    """Play `steps` in order, repeating the last one: a Response, an exception, or a handler."""
    position = 0

    def handler(request: httpx.Request) -> Any:
        nonlocal position
        step = steps[min(position, len(steps) - 1)]
        position += 1
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            # A fresh copy: a Response object is consumed by the client that receives it.
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        return step(request)

    return handler


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Harness]]:
    made: list[RunningHubClient] = []

    def factory(*steps: Step, base_url: str = BASE_URL, **kwargs: Any) -> Harness:
        handler = _scripted(steps)
        requests: list[httpx.Request] = []
        sleeps: list[float] = []

        def recording(request: httpx.Request) -> Any:
            requests.append(request)
            return handler(request)

        async def sleep(delay: float) -> None:
            sleeps.append(delay)

        kwargs.setdefault("sleep", sleep)
        kwargs.setdefault("rng", random.Random(7))
        client = RunningHubClient(
            API_KEY, base_url, transport=httpx.MockTransport(recording), **kwargs
        )
        made.append(client)
        return Harness(client=client, api_key=API_KEY, requests=requests, sleeps=sleeps)

    yield factory
    for client in made:
        await client.aclose()
